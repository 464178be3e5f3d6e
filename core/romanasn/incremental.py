"""``generate --update`` from a database pool: only the groups the changed rows fall in are re-planned.

Rules group rows by key columns, and a row's verdicts do not depend on the
other rows, so a change to the pool changes only the associations whose
key one of the changed rows has (now, or before the change), and those
whose companions it joins. An update:

1. reads from ``pool_history`` the rows changed since the change number the
   folder reflects, as they are and as they were (:meth:`PoolDB.touched`);
2. for each set of rules sharing key columns, takes the keys of the changed
   rows each rule selects, and reads through the key indexes every row with
   those keys (and, for a rule with companions, those joining them, until
   no new key comes): whole groups, and nothing else;
3. plans those rows with the engine as they are (the associations to
   write) and, when a row was changed or removed, as they were (the
   associations they replace; when rows were only added, every group the
   pool held is still made, under the same name since a product name
   follows from the group's key: the rule-pack contract
   ``docs/continuous.md`` states);
4. writes only the files whose bytes changed, keeping each ``asn_id`` (read
   from the file it replaces; new ones count on from the folder's highest),
   removes (``prune``) or lists as stale the associations no longer made,
   and records the changes to the manifest as one small file per program
   changed (:func:`romanasn.output.delta_name`), folded into the program's
   shard once they grow past half of it.

The files written are those a full run from the grown pool would write,
association for association. Nothing reads the whole folder, its manifest,
or the programs changed: the cost follows the size of the change and of
the groups it falls in. :func:`update` says None when it does not apply (a
folder not made from a database pool, a database without history, a format
other than JSON), or when the rows changed are most of their programs' rows
and the folder is small beside them (a burst of new programs' files into a
young folder: re-planning the programs whole reads about as many rows and
skips the key lookups and patch plans, and lists a small folder);
:func:`romanasn.output.generate_to` then re-plans the changed programs.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter, defaultdict
from json.encoder import encode_basestring_ascii as _string
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
import orjson
from astropy.table import vstack
from attrs import evolve, frozen

from romanasn import output
from romanasn.encoder import Encoder, check_file, extension
from romanasn.engine import FIRST_ASN_ID, Plan, Result, paused_gc, plan, select_rules
from romanasn.errors import AsnError, PoolError, RuleError
from romanasn.folder import Folder
from romanasn.pool import read_pool
from romanasn.pooldb import PoolDB
from romanasn.records import NO_DEGRADED, SOME_DEGRADED
from romanasn.plugins.types import RunConfig

log = logging.getLogger("romanasn.incremental")

__all__ = ["last_report", "update"]

_ATTEMPTS = 5  # reads of the pool that a concurrent writer may cut short
_WHOLE = 1.5  # programs holding at most this many rows per row changed are re-planned whole ...
_LISTED = 10  # ... when the folder (which that way lists) holds at most this many files per row changed
_COMPACT = 64  # a program's manifest changes kept apart from its shard at most
# an association file of one product as the encoder writes it: its members, one after the other
_EXPNAME = b'"expname": '
_FIRST = b"\n" + b" " * 20 + _EXPNAME  # a member's first line, up to its name
_ASN_ID = b'\n    "asn_id": '
_MEMBERS = b'"members": ['
_OPEN = b"\n" + b" " * 16 + b"{"  # a member's opening line
_END = b"\n" + b" " * 12 + b"]\n" + b" " * 8 + b"}\n" + b" " * 4 + b"]\n}\n"
_STATUS = {degraded: b'"degraded_status": ' + _string(text).encode()  # the line of each state
           for degraded, text in ((False, NO_DEGRADED), (True, SOME_DEGRADED))}
_EXPOSERR = b"\n" + b" " * 20 + b'"exposerr": '
_POOL_SEQ = b'\n  "pool_seq": '  # the key in the run report (indented by 2)
_TAIL = 1 << 20  # bytes of the run report read at a time, from its end


def update(target: str, out: str | os.PathLike, *, plugin_manager: Any, config: RunConfig,
           rules: Iterable[str] | None = None, skip_rules: Iterable[str] = (), format: str = "json",
           prune: bool = False, member_dir: str | os.PathLike | None = None, inputs: Iterable[str] = (),
           columns: Iterable[Any] = (), events: bool = False) -> output.Outcome | None:
    """Update the associations in ``out`` to the database pool ``target`` (see the module's
    docstring); None when this way does not apply, or re-planning the changed programs whole costs less."""
    out = Path(out)
    report = last_report(out)
    if report is None or format != "json" or report["manifest"].get("format") != format:
        return None
    since, columns = report["pool_seq"], list(columns)
    held = sum(report["manifest"]["shards"].values())  # the folder's associations
    entries = [entry for entry in select_rules(plugin_manager.rules(), rules, skip_rules)
               if all(config.options.get(name) not in (None, "") for name in entry.rule.needs)]
    with paused_gc():
        read = _read(target, columns, since, held, entries, out, set(report["manifest"].get("stale", [])),
                     plugin_manager, config)
        if read is None:
            return None
        return _write(out, report, read, plugin_manager, config, entries, prune, member_dir, inputs, events)


def last_report(out: Path) -> dict | None:
    """What an update needs of the folder's run report (its entries from ``pool_seq`` on: the
    manifest, the events), when it is of a run from a database pool with a sharded manifest.

    A full run's report lists every file it wrote before ``pool_seq``: only the end of the file
    after it is read and parsed (a top-level key alone starts a line indented by two spaces).
    """
    try:
        with open(out / output.RUN_REPORT, "rb") as stream:
            end, pieces, at = stream.seek(0, os.SEEK_END), [b""], -1
            while at < 0 and end:
                start = max(0, end - _TAIL)
                stream.seek(start)
                pieces.insert(0, stream.read(end - start))
                at, end = (pieces[0] + pieces[1][:len(_POOL_SEQ)]).rfind(_POOL_SEQ), start
        report = orjson.loads(b"{" + b"".join(pieces)[at + 1:]) if at >= 0 else None
    except (OSError, ValueError):
        return None
    manifest = report.get("manifest") if isinstance(report, dict) else None
    if not isinstance(manifest, dict) or manifest.get("version") != output.SHARDED_VERSION \
            or not isinstance(report.get("pool_seq"), int):
        return None
    return report


# -- reading the groups touched ----------------------------------------------------------------------


class _Read:
    """The rows an update plans: for each set of rules (:class:`_Scope`), the rows as they are and as they were."""

    def __init__(self, seq: int, now: Any, then: Any, touched: dict, scopes: list) -> None:
        self.seq, self.now, self.then, self.touched, self.scopes = seq, now, then, touched, scopes


class _Scope:
    """A set of rules, the file names of the rows planned for them as they are (``now``) and as
    they were (``then``); ``patches``: their plan of the added rows alone, when each
    association it makes is its group's file with these members added (:func:`_patchable`)."""

    def __init__(self, rules: list, now: set[str], then: set[str], patches: Plan | None = None) -> None:
        self.rules, self.now, self.then, self.patches = rules, now, then, patches


def _read(target: str, columns: list, since: int, held: int, entries: list, out: Path, stale: set[str], pm: Any,
          config: RunConfig) -> _Read | None:
    """The rows of the groups changed since ``since``, read at one change number (again when a
    writer commits in between); None when re-planning the changed programs whole costs less
    (the folder holding ``held`` associations)."""
    db = PoolDB(target, columns)
    try:
        for _ in range(_ATTEMPTS):
            with db.reading() as conn:
                touched = db.touched(conn, since)
                if touched is None or (touched and _whole_programs_cheaper(db, conn, since, len(touched), held)):
                    return None
                seq, names = db.seq(conn), set(db.column_names(conn))
            if not touched:
                return _Read(seq, None, None, touched, [])
            added = all(old is None for old in touched.values())  # no group lost a row: none to plan as it was
            now = _table(target, columns, touched, seq)
            then = now[:0] if added and now is not None else _table(target, columns, touched, seq, since)
            if now is None or then is None:
                continue
            scopes = []
            with db.reading() as conn:
                for (key, ons), rules in _rule_sets(entries, names).items():
                    if added and "filename" in key and not ons:  # each group a new row alone: none to read
                        scopes.append(_Scope(rules, set(touched), set()))
                        continue
                    patches = _patchable(rules, now, out, stale, pm, config) if added and "filename" not in key \
                        else None  # a group of a file name is a new row's alone: no file to patch
                    scopes.append(_Scope(rules, set(touched), set(), patches) if patches is not None
                                  else _Scope(rules, *_rows(db, conn, rules, key, ons, now, then, touched,
                                                             since if added else None)))
                if db.seq(conn) != seq:
                    continue
            wanted = set().union(*(scope.now for scope in scopes))
            full_now = now if wanted == set(touched) else _joined(now, wanted, _table(
                target, columns, wanted - set(touched), seq))  # the rows changed are read already
            full_then = None if added else _table(target, columns, set().union(*(scope.then for scope in scopes)),
                                                  seq, since)
            if full_now is not None and (added or full_then is not None):
                return _Read(seq, full_now, full_then, touched, scopes)
        raise PoolError(f"{db.label}: the pool changed during each of {_ATTEMPTS} reads; try again")
    finally:
        db.close()


def _whole_programs_cheaper(db: PoolDB, conn: Any, since: int, changed: int, held: int) -> bool:
    """Whether re-planning the changed programs whole costs less than going group by group: the
    ``changed`` rows are most of their programs' rows (the programs hold at most ``_WHOLE`` rows
    per row changed, as after a burst of new programs' files), so that way reads about as many
    rows with no key lookups, and the folder it lists holds at most ``_LISTED`` associations
    per row changed (``held``)."""
    if held > changed * _LISTED:
        return False
    limit = int(changed * _WHOLE) + 1
    return db.program_rows(conn, since, limit) < limit


def _table(target: str, columns: list, filenames: Iterable[str], seq: int, as_of: int | None = None) -> Any:
    """The typed rows of ``filenames`` (as they were at ``as_of``), None when the pool has moved past ``seq``."""
    table = read_pool(target, columns=columns, filenames=filenames, as_of=as_of)
    return table if table.meta["romanasn"]["seq"] == seq else None


def _joined(now: Any, wanted: set[str], more: Any) -> Any:
    """The rows of ``now`` in ``wanted`` and the rows ``more``, in file-name order as
    :func:`~romanasn.pool.read_pool` gives them (None when ``more`` is: the pool moved on)."""
    if more is None:
        return None
    table = vstack([_sub(now, wanted), more], join_type="exact", metadata_conflicts="silent")
    table.meta = now.meta
    table.sort("filename")
    return table


def _rule_sets(entries: list, names: set[str]) -> dict[tuple, list]:
    """The rules by (key columns, companion join columns): the rules whose groups are read together."""
    sets: dict[tuple, list] = defaultdict(list)
    for entry in entries:
        rule = entry.rule
        key = tuple(name for name in rule.group_by if name in names) or ("program",)
        sets[key, tuple(companion.on for companion in rule.companions)].append(entry)
    return sets


def _rows(db: PoolDB, conn: Any, rules: list, key: tuple[str, ...], ons: tuple, now: Any, then: Any,
          touched: Mapping[str, Any], unchanged_since: int | None) -> tuple[set[str], set[str]]:
    """The file names of the rows of every group of ``rules`` a changed row falls in (or its
    companions join), as they are and as they were.

    When rows were only added (``unchanged_since``: the change number before them), the groups'
    other rows (and the rows joining them) are those not changed since: only those are asked for,
    and every row added is planned with them (a rule leaves out the rows it does not select or join)."""
    wanted: dict[tuple[str, ...], set[tuple]] = defaultdict(set)
    for table in (now, then):
        for entry in rules:
            chosen = _passing(entry.rule.select, table)
            wanted[key] |= _values(table, key, chosen)
            for companion in entry.rule.companions:
                joined = _passing(companion.select, table)
                wanted[companion.on] |= _values(table, companion.on, joined) | _values(table, companion.on, chosen)
    found: set[str] = set()
    asked: dict[tuple[str, ...], set[tuple]] = defaultdict(set)
    fields = ["filename", *sorted({*key, *(name for on in ons for name in on)} - {"filename"})] if ons \
        else ["filename"]
    at = {name: place for place, name in enumerate(fields)}
    while any(wanted[names] - asked[names] for names in wanted):
        query = {names: values - asked[names] for names, values in wanted.items() if values - asked[names]}
        for names, values in query.items():
            asked[names] |= values
        rows = db.matching(conn, query, fields, unchanged_since=unchanged_since)
        found.update(row[0] for row in rows)
        if ons:  # the groups of the rows joined in, and what joins them, until nothing new comes
            for row in rows:
                wanted[key].add(tuple(row[at[name]] for name in key))
                for on in ons:
                    wanted[on].add(tuple(row[at[name]] for name in on))
    current = found if unchanged_since is None else found | set(touched)
    previous = (current - set(touched)) | {name for name, old in touched.items() if old is not None}
    return current, previous


def _patchable(rules: list, now: Any, out: Path, stale: set[str], pm: Any, config: RunConfig) -> Plan | None:
    """The plan of the added rows ``now`` alone by ``rules``, when each association it makes is
    its group's file with these members added: the rules make associations of members and
    nothing else drawn from the group's rows (no companions, extras or key functions, and no
    pack's per-association hooks serve them), and each association's
    file is there (its group had rows), holds member names without a folder and is not stale
    (in a program with none); None otherwise."""
    if any(entry.rule.companions or entry.rule.extras or entry.rule.keys or pm.serving(entry.name)
           for entry in rules):
        return None
    run = plan(now, config=config, rules=[entry.name for entry in rules], plugin_manager=pm)
    if {program or "noprogram" for program in run.programs()} & stale:
        return None
    ext = extension("json")
    stems = run.file_stems()
    if not all(_plain_members(out / (stem + ext)) for stem in stems):
        return None
    log.debug("%s: members added to %d files", ", ".join(entry.name for entry in rules), len(stems))
    return run


def _plain_members(path: Path) -> bool:
    """Whether ``path`` is an association file whose first member's name has no folder."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(1 << 16)
    except OSError:
        return False
    at = head.find(_EXPNAME)
    line = head[at:head.find(b"\n", at)] if at >= 0 else b"/"
    return b"/" not in line and b"\\\\" not in line


def _passing(constraints: Iterable[Any], table: Any) -> np.ndarray:
    mask = np.ones(len(table), dtype=bool)
    for constraint in constraints:
        mask &= np.asarray(constraint.test(table), dtype=bool)
    return mask


def _values(table: Any, names: tuple[str, ...], mask: np.ndarray) -> set[tuple]:
    """The value tuples of ``names`` in the rows of ``table`` where ``mask`` holds (masked: None)."""
    if not mask.any():
        return set()
    columns = [table[name][mask].tolist() for name in names]
    return {tuple(_plain(value) for value in values) for values in set(zip(*columns))}


def _plain(value: Any) -> Any:
    """A cell as the database holds it (text columns hold NULL where a pool has empty text)."""
    return None if value == "" else value


# -- planning and writing ----------------------------------------------------------------------------


def _sub(table: Any, filenames: set[str]) -> Any:
    names = np.asarray(table["filename"]).tolist()
    return table[np.fromiter(map(filenames.__contains__, names), bool, len(names))]


def _write(out: Path, report: dict, read: _Read, pm: Any, config: RunConfig, entries: list, prune: bool,
           member_dir: Any, inputs: Iterable[str], events: bool) -> output.Outcome:
    ext = extension("json")
    plans, replaced, vetoes, skipped = [], set(), [], ()
    touched_now = set(read.touched) & set(np.asarray(read.now["filename"]).tolist() if read.now is not None else ())
    orphans = set(touched_now)
    for scope in read.scopes:
        names = [entry.name for entry in scope.rules]
        planned = scope.patches if scope.patches is not None else plan(
            _sub(read.now, scope.now), config=config, rules=names, plugin_manager=pm)
        plans.append((planned, scope.patches is not None))
        skipped = tuple(planned.skipped) or skipped
        if read.then is not None:
            replaced.update(stem + ext for stem in plan(_sub(read.then, scope.then), config=config, rules=names,
                                                          plugin_manager=pm).file_stems())
        vetoes += [veto for *_, veto in planned.veto_list() if veto.filename in read.touched]
        orphans -= (touched_now & scope.now) - set(planned.orphans())
    made = _made(plans, ext)
    folder = Folder(out, listing=False)
    output._guard(folder.open)
    try:
        outcome, ids, changes, gone, manifest = _put(folder, out, report, made, replaced - set(made), prune,
                                                     member_dir)
        ordered = sorted(made, key=lambda name: int(ids[name][1:]))
        result = Result(associations=_Planned([made[name].plan for name in ordered]),
                        file_stems=[name[:-len(ext)] for name in ordered], rules=tuple(entries),
                        skipped=tuple(skipped), vetoes=tuple(vetoes), orphans=tuple(sorted(orphans)),
                        counts=dict(Counter(made[name].rule for name in ordered)),
                        pool_rows=len(read.now) if read.now is not None else 0)
        outcome.result = result
        outcome.files = ordered
        run = output.run_report(result, pm, config, inputs)
        run.update(format="json", files=outcome.files, pool_seq=read.seq, manifest=manifest)
        if events:
            outcome.run_id = os.urandom(16).hex()
            outcome.events = output._events(outcome, changes, gone, out)
            run["run_id"], run["events"] = outcome.run_id, outcome.events
        run["update"] = {"added": len(outcome.added), "changed": len(outcome.changed),
                         "unchanged": len(outcome.unchanged), "stale": outcome.stale, "removed": outcome.removed,
                         "programs": sorted({e.program or "noprogram" for e in [*changes.values(), *gone.values()]})}
        observe = None
        if pm.wants_written():
            written = [(a, out / name) for a, name in zip(result.associations, outcome.files)
                       if name not in set(outcome.unchanged)]
            observe = lambda: [pm.association_written(a, path, config) for a, path in written]  # noqa: E731
        folder.commit(output.RUN_REPORT, [orjson.dumps(run, option=orjson.OPT_INDENT_2) + b"\n"], then=observe)
    except BaseException as exc:
        folder.abort()
        output._reraise(exc, out)
    return outcome


@frozen
class _Made:
    """An association an update makes: the plan making it and its place among the plan's
    :meth:`~romanasn.engine.Plan.keys`, its rule and product name, and whether its file is the
    group's file with its members added (``patch``)."""

    plan: Plan
    place: int
    rule: str
    product: str
    patch: bool


def _made(plans: list[tuple[Plan, bool]], ext: str) -> dict[str, _Made]:
    """The associations of ``plans`` (each with whether it patches files) by file name."""
    made: dict[str, _Made] = {}
    for run, patch in plans:
        for place, ((product, rule, _, _), stem) in enumerate(zip(run.keys(), run.key_stems())):
            name = stem + ext
            if name in made:
                raise RuleError(f"two associations would be written to {stem!r}: rules {made[name].rule!r}"
                                f" and {rule!r}")
            made[name] = _Made(run, place, rule, product, patch)
    return made


class _Planned(output.LazyAssociations):
    """The associations of an update, built when asked for: given the plan of each, in id order."""

    def __init__(self, plans: list[Plan]) -> None:
        counts: Counter = Counter()
        self.places = []  # each plan's associations come in its own id order
        for run in plans:
            self.places.append((run, counts[id(run)]))
            counts[id(run)] += 1

    def __len__(self) -> int:
        return len(self.places)

    def at(self, index: int) -> Any:
        run, position = self.places[index]
        return run.association(position)


def _number(made: dict[str, _Made], ids: Mapping[str, str]) -> None:
    """Give each plan's associations their ids (``ids``, by file name)."""
    by_plan: dict[int, list[tuple[int, int]]] = defaultdict(list)
    plans = {}
    for name, association in made.items():
        by_plan[id(association.plan)].append((int(ids[name][1:]), association.place))
        plans[id(association.plan)] = association.plan
    for key, numbered in by_plan.items():
        numbered.sort()
        plans[key].number(ordered=[place for _, place in numbered], numbers=[number for number, _ in numbered])


def _files(made: Mapping[str, _Made], prefix: str | None, ext: str) -> Iterator[tuple[str, bytes, str]]:
    """``(file name, bytes, program)`` of each association of ``made``'s plans, validated: the
    columnar lane's a block at a time, the object lane's encoded from their records."""
    encoder = Encoder("json", prefix)
    for run in {id(association.plan): association.plan for association in made.values()}.values():
        for block in run.encoded(prefix):
            names = [stem + ext for stem in block.stems.to_pylist()]
            files = block.data()
            with _naming(run, block.rule):
                for name, data in zip(names, files):
                    check_file(data, name)
            yield from zip(names, map(bytes, files), block.programs.to_pylist())
        for _, association, stem in run.stream(columnar=False):
            with _naming(run, association.asn_rule):
                data = encoder.encode(association, stem + ext)
            yield stem + ext, data, association.program


@contextlib.contextmanager
def _naming(run: Plan, rule: str) -> Iterator[None]:
    """An invalid association file's error, naming the rule that made it and its plugin."""
    try:
        yield
    except AsnError as exc:
        raise type(exc)(f"rule {rule!r} of plugin {run.plugin_of(rule).label}: {exc}") from exc


def _put(folder: Folder, out: Path, report: dict, made: dict[str, _Made], replaced: set[str], prune: bool,
         member_dir: Any) -> tuple[output.Outcome, dict, dict, dict, dict]:
    """Hand the files whose bytes changed to the folder (those patching: the members of the
    file they replace added), remove (or mark stale) those no longer made, and write the
    manifest's changes; the outcome, the ids given, the manifest entries made and removed, and
    the run report's new manifest."""
    manifest = dict(report["manifest"])
    highest = manifest.get("highest")
    following = max(FIRST_ASN_ID - 1, int(highest[2][1:]) if highest else 0) + 1
    outcome = output.Outcome(result=None, files=[], written=[])  # type: ignore[arg-type]
    ids, entries, gone, before = {}, {}, {}, {}
    for name in sorted(made):
        before[name] = _old(folder, out, name)
        if before[name] is not None:
            ids[name] = _asn_id(before[name])
    for name in sorted((name for name in made if name not in ids), key=lambda n: (made[n].product, made[n].rule)):
        ids[name], following = f"a{following}", following + 1
    _number(made, ids)
    for name, data, program in _files(made, output.member_prefix(out, member_dir), extension("json")):
        association = made[name]
        if association.patch:
            data = _spliced(before[name], data, out / name)
        entries[name] = output.Entry(ids[name], association.rule, association.product, len(data),
                                     output.digest(data), program=program)
        if before[name] == data:
            outcome.unchanged.append(name)
            continue
        folder.add(name, data)
        (outcome.changed if before[name] is not None else outcome.added).append(name)
    outcome.written = output._Paths(out, outcome.added + outcome.changed, set())
    for name in sorted(replaced):
        data = _old(folder, out, name)
        if data is None:
            continue
        content = orjson.loads(data)
        product = (content.get("products") or [{}])[0].get("name", "")
        entry = output.Entry(content["asn_id"], content["asn_rule"], product, len(data), output.digest(data),
                             program=content.get("program"))
        if prune:
            folder.remove(name)
            gone[name] = entry
            outcome.removed.append(name)
        else:
            entries[name] = evolve(entry, stale=True)
            outcome.stale.append(name)
    if prune and manifest.get("stale"):  # the associations earlier updates left as stale go too
        for name, entry in output.Manifest.load(out, programs=manifest["stale"]).files.items():
            if entry.stale and name not in made and name not in gone:
                if name in folder.existing:
                    folder.remove(name)
                gone[name] = evolve(entry, stale=False)
                outcome.removed.append(name)
    top = max((int(entry.asn_id[1:]), entry) for entry in entries.values()) if entries else None
    if top is not None and (highest is None or top[0] > int(highest[2][1:])):
        manifest["highest"] = [top[1].rule, top[1].product, top[1].asn_id]
    _manifest_changes(folder, out, manifest, entries, gone, outcome, prune)
    outcome.kept = sum(manifest["shards"].values()) - len(entries)
    return outcome, ids, entries, gone, manifest


def _old(folder: Folder, out: Path, name: str) -> bytes | None:
    """The bytes of the association file ``name`` the folder holds, None when it has none."""
    if name not in folder.existing:
        return None
    with open(os.path.join(out, name), "rb") as stream:
        return stream.read()


def _asn_id(data: bytes) -> str:
    """The ``asn_id`` of an association file, read from its line (a big file's members are not
    parsed); one no file has when it has none."""
    at = data.find(_ASN_ID) + len(_ASN_ID)
    with contextlib.suppress(ValueError):
        if at >= len(_ASN_ID):
            return orjson.loads(data[at:data.find(b"\n", at)].rstrip(b","))
    return "a0"


def _spliced(old: bytes | None, new: bytes, path: Path) -> bytes:
    """The file ``new`` (the association of the rows added to a group) with the members of
    ``old`` (the group's file) put in, in name order, and its ``degraded_status`` that of them all.

    Neither file is parsed: each added member's place among the old members (both in name order)
    is found by a search over the old file's bytes, and the runs of members between are copied once."""
    if old is None:
        raise AsnError(f"{path}: removed while the update ran; run it again")
    (head, start, stop), (old_head, at, end) = _bounds(new, path), _bounds(old, path)
    view, parts, replacing = memoryview(old), [], False  # runs of old members and added members
    while start < stop:
        following = _next_member(new, start + 1, stop)
        name = _name_at(new, start, path)
        place = _place(old, name, at, end, path)
        parts += [view[at:place - 1 if place < end else end]] if place > at else []
        parts.append(memoryview(new)[start:following - 1 if following < stop else stop])
        start, at = following, place
        if place < end and _name_at(old, place, path) == name:  # the member replaced
            replacing, at = True, _next_member(old, place + 1, end)
    parts += [view[at:end]] if at < end else []
    members = b",".join(parts)
    degraded = _EXPOSERR in members if replacing else _STATUS[True] in old_head or _STATUS[True] in head
    head = head.replace(_STATUS[not degraded], _STATUS[degraded], 1)
    return b"".join([head, members, _END])


def _bounds(data: bytes, path: Path) -> tuple[bytes, int, int]:
    """An association file's bytes up to its members, and where its members start and end."""
    start = data.find(_MEMBERS) + len(_MEMBERS)  # found by offsets: a big file is not copied
    if start < len(_MEMBERS) or data.find(_MEMBERS, start) >= 0 or not data.endswith(_END):
        raise _unlike(path)
    return data[:start], start, len(data) - len(_END)


def _place(data: bytes, name: str, low: int, end: int, path: Path) -> int:
    """The offset in ``data`` of the first member from offset ``low`` on whose name is not before
    ``name`` (``end`` when none), members being in name order: steps growing from ``low`` until
    one passes it, then a binary search between the last two (a few steps when the place is near)."""
    high, step, galloping = end, 0, True
    while low < high:
        middle = min(low + step, high - 1) if galloping else (low + high) // 2
        start = _next_member(data, middle, end)
        if start == end or _name_at(data, start, path) >= name:
            high, galloping = middle, False
        else:
            low, step = start + 1, step * 2 + 256
    return _next_member(data, low, end)


def _next_member(data: bytes, offset: int, end: int) -> int:
    """The offset of the first member starting at ``offset`` or after (``end`` when none)."""
    start = data.find(_OPEN, offset, end)
    return end if start < 0 else start


def _name_at(data: bytes, start: int, path: Path) -> str:
    """The name of the member starting at ``start`` (its first field, ``expname``)."""
    at = start + len(_OPEN) + len(_FIRST)
    if data[start + len(_OPEN):at] != _FIRST:
        raise _unlike(path)
    return orjson.loads(data[at:data.find(b"\n", at)].rstrip(b","))


def _unlike(path: Path) -> AsnError:
    return AsnError(f"{path}: not an association of one product as romanasn writes them; remove it"
                    " and run generate --update again")


def _manifest_changes(folder: Folder, out: Path, manifest: dict, entries: Mapping[str, output.Entry],
                      gone: Mapping[str, output.Entry], outcome: Any, prune: bool) -> None:
    """Write each program's changed entries as its next manifest change, folded into its shard
    when the changes grow past half of it (the files of a program left with none removed);
    update the run report's manifest."""
    shards, deltas = dict(manifest["shards"]), {p: list(n) for p, n in manifest.get("deltas", {}).items()}
    stale = set() if prune else set(manifest.get("stale", []))  # a prune removes every stale entry
    by_program: dict[str, dict[str, Any]] = defaultdict(dict)
    for name, entry in entries.items():
        by_program[entry.program or "noprogram"][name] = entry.row()
    for name, entry in gone.items():
        by_program[entry.program or "noprogram"][name] = None
    added = set(outcome.added)
    for program, rows in sorted(by_program.items()):
        shards[program] = shards.get(program, 0) + sum(name in added for name in rows) - sum(
            row is None for row in rows.values())
        if any(row is not None and "stale" in row for row in rows.values()):
            stale.add(program)
        base = out / (output.SHARD_PREFIX + program)
        numbers = deltas.get(program, [])
        changes = [out / output.delta_name(program, n) for n in numbers]
        size = sum(path.stat().st_size for path in changes) if base.exists() else None
        if shards[program] <= 0:
            for path in [base, *changes]:
                if path.name in folder.existing:
                    folder.remove(path.name)
            deltas.pop(program, None)
            stale.discard(program)
        elif size is None or len(numbers) >= _COMPACT or size * 2 > base.stat().st_size:
            merged = orjson.loads(base.read_bytes()) if base.exists() else {}
            for path in changes:
                merged.update(orjson.loads(path.read_bytes()))
            merged.update(rows)
            merged = {name: row for name, row in merged.items() if row is not None}
            folder.add(base.name, output.shard_bytes(merged))
            for path in changes:
                folder.remove(path.name)
            deltas.pop(program, None)
            shards[program] = len(merged)
            if not any("stale" in row for row in merged.values()):
                stale.discard(program)
        else:
            number = max(numbers) + 1 if numbers else 1
            folder.add(output.delta_name(program, number), output.shard_bytes(rows))
            deltas[program] = numbers + [number]
    manifest.update(shards={p: n for p, n in sorted(shards.items()) if n}, stale=sorted(stale),
                    deltas=dict(sorted(deltas.items())))
