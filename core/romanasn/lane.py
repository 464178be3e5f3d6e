"""The columnar fast lane: grouping, names and association files as columns, not objects.

When no pack implements a per-association hook, the engine plans and writes
every association from arrays (numpy and Arrow): the selected rows are
factorised on their key columns and sorted into groups (:class:`Groups`:
rows and offsets), product names are computed from a rule's name template
(:class:`Template`) over its key columns, and the members and the file of a
block of associations are assembled as Arrow string columns
(:class:`Files`), the same bytes :func:`romanasn.asnfile.dumps` writes. No
Python object is made per row; per association, only the file's bytes (a view
of an Arrow buffer) are handed to the writer.
"""

from __future__ import annotations

import os
import re
from json.encoder import encode_basestring_ascii as _json_text
from collections.abc import Sequence
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from romanasn import asnfile
from romanasn.encoder import encode_json
from romanasn.naming import NAME_BYTES, member_filename, name_token, parse_template, template_conversion as conversion, unsafe_reason
from romanasn.plugins.types import PoolView
from romanasn.records import NO_DEGRADED, SOME_DEGRADED

__all__ = ["Files", "Groups", "Template", "Texts", "degraded_reasons", "factorize", "group_rows", "join", "unsafe_names"]


# -- columns ---------------------------------------------------------------------------------------


ARROW, CODES = "romanasn.lane:arrow", "romanasn.lane:codes"


def arrow_column(view: PoolView, name: str) -> pa.Array:
    """A pool column as an Arrow array (masked cells null), made once per run (until :func:`planned`)."""

    def make(table: Any) -> pa.Array:
        column = table[name]
        mask = np.ma.getmaskarray(column)
        data = np.asarray(column.data if hasattr(column, "mask") else column)
        try:
            made = pa.array(data, mask=mask if mask.any() else None)
        except (pa.ArrowException, TypeError, ValueError):  # mixed Python objects: one cell at a time
            made = pa.array(view.column(name))
        if pa.types.is_null(made.type) and data.dtype == object:  # a text column without rows
            made = made.cast(pa.string())
        return made.combine_chunks() if isinstance(made, pa.ChunkedArray) else made

    return view.derived((ARROW, name), make)


def factorize(values: pa.Array) -> tuple[np.ndarray, pa.Array | list]:
    """A code per value (equal values, equal codes; null its own) and each code's value (an
    Arrow array; a list for values Arrow cannot hash, compared by Python's equality)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if _mostly_distinct_texts(values):  # sorting beats hashing when the hash table outgrows the caches
        return _ranked(values, _dense(values) - 1)
    try:
        encoded = pc.dictionary_encode(values, null_encoding="encode")
    except pa.ArrowNotImplementedError:
        index: dict = {}
        codes = [index.setdefault(value, len(index)) for value in values.to_pylist()]
        return np.asarray(codes, dtype=np.int64), list(index)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary


def _ranked(values: pa.Array, codes: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """:func:`factorize`'s answer when the codes are the values' dense ranks (from 0)."""
    first = np.empty(int(codes.max()) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return codes, values.take(pa.array(first))


def _mostly_distinct_texts(values: pa.Array) -> bool:
    """Whether ``values`` are many texts, most of them distinct (judged on the first 4,096)."""
    return (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)) and len(values) > 1 << 16 \
        and len(pc.unique(values[:4096])) > 2048


def as_list(values: pa.Array | list) -> list:
    """Values (an Arrow array or a list) as a list."""
    return values if isinstance(values, list) else values.to_pylist()


def _taken(values: pa.Array | list, positions: np.ndarray) -> pa.Array | list:
    if isinstance(values, list):
        return [values[i] for i in positions.tolist()]
    return values.take(pa.array(positions))


def column_codes(view: PoolView, name: str) -> tuple[np.ndarray, pa.Array | list]:
    """A pool column factorised (:func:`factorize`), once per run (until :func:`planned`)."""

    def make(table: Any) -> tuple[np.ndarray, pa.Array | list]:
        values = arrow_column(view, name)
        if name == "filename" and not values.null_count and _mostly_distinct_texts(values):  # one sort for both
            return _ranked(values, _dense_ranks(values, filename_order(view)) - 1)
        return factorize(values)

    return view.derived((CODES, name), make)


def planned(view: PoolView) -> None:
    """Let go of what only planning needs: the columns' codes and Arrow copies (but those files are made from)."""
    kept = {"filename", "asn_candidate", *(column for column, _ in _CHECKS)}
    view.forget(lambda key: type(key) is tuple and (key[0] == CODES or key[0] == ARROW and key[1] not in kept))


def written(view: PoolView) -> None:
    """Let go of what only making the files needs (but the file names, which the orphans are read from)."""
    view.forget(lambda key: key != (ARROW, "filename"))


def key_codes(view: PoolView, names: Sequence[str], rows: np.ndarray) -> tuple[np.ndarray, list]:
    """A code per row of ``rows`` (equal codes, equal values in every column of ``names``), and
    for each column its value per code."""
    codes, width, per_column = np.zeros(len(rows), dtype=np.int64), 1, []
    for name in names:  # the columns' codes as the digits of one number, factorised at the end
        pool_codes, values = column_codes(view, name)
        more = pool_codes[rows]
        per_column.append((more, values))
        if width > (1 << 62) // max(len(values), 1):  # too many digits: counted anew from 0
            codes, distinct = factorize(pa.array(codes))
            width = len(distinct)
        codes, width = codes * max(len(values), 1) + more, width * max(len(values), 1)
    if len(names) > 1:
        codes = factorize(pa.array(codes))[0]
    first = np.zeros(0, dtype=np.int64)
    if len(rows):
        first = np.full(codes.max() + 1, -1, dtype=np.int64)
        first[codes[::-1]] = np.arange(len(rows) - 1, -1, -1)
    return codes, [_taken(values, more[first]) for more, values in per_column]


# -- groups ----------------------------------------------------------------------------------------


class Groups:
    """A rule's groups as columns: group ``g`` holds ``rows[offsets[g]:offsets[g + 1]]`` (sorted
    by file name), its key is ``keys[column][g]``; ``companions`` holds, for each of the rule's
    companions, ``(rows, offsets)`` of the rows it joins in (sorted by row)."""

    __slots__ = ("rows", "offsets", "keys", "companions")

    def __init__(self, rows: np.ndarray, offsets: np.ndarray, keys: dict[str, list],
                 companions: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> None:
        self.rows, self.offsets, self.keys, self.companions = rows, offsets, keys, list(companions)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def group_of_rows(self) -> np.ndarray:
        """The group of each entry of ``rows``."""
        return np.repeat(np.arange(len(self)), np.diff(self.offsets))

    @classmethod
    def empty(cls, names: Sequence[str], companions: int = 0) -> "Groups":
        """No group."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, np.zeros(1, dtype=np.int64), {name: [] for name in names}, [(none, np.zeros(1, np.int64))] * companions)


def group_rows(rows: np.ndarray, codes: np.ndarray, keys: dict[str, list], rank: np.ndarray) -> Groups:
    """Rows with their group code (one group per code, its key in ``keys`` by code), each
    group's rows sorted by ``rank`` (file-name order)."""
    if not len(rows):
        return Groups(rows, np.zeros(1, dtype=np.int64), {name: [] for name in keys})
    order = np.argsort(codes * len(rank) + rank[rows])  # by code, then file name (no two rows of one rank)
    rows, codes = rows[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    offsets = np.append(starts, len(rows)).astype(np.int64)
    firsts = codes[starts]
    return Groups(rows, offsets, {name: _taken(values, firsts) for name, values in keys.items()})


def join(view: PoolView, groups: Groups, on: Sequence[str], candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, offsets)``: for each group, the ``candidates`` rows with the same values in the
    ``on`` columns as any of the group's rows, each once, sorted (a hash join)."""
    both = np.concatenate((groups.rows, candidates))
    codes, _ = key_codes(view, on, both)
    mine, theirs = codes[:len(groups.rows)], codes[len(groups.rows):]
    width = int(codes.max()) + 1 if len(codes) else 1
    pairs = _distinct(groups.group_of_rows() * width + mine)
    owners, wanted = pairs // width, pairs % width
    order = np.argsort(theirs, kind="stable")
    sorted_codes = theirs[order]
    start = np.searchsorted(sorted_codes, wanted, "left")
    sizes = np.searchsorted(sorted_codes, wanted, "right") - start
    picked = np.repeat(start - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes) + np.arange(sizes.sum())
    rows_width = len(view)
    joined = _distinct(np.repeat(owners, sizes) * rows_width + candidates[order][picked])
    counts = np.bincount(joined // rows_width, minlength=len(groups))
    return (joined % rows_width).astype(np.int64), np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


# -- product names from templates ----------------------------------------------------------------


class Template:
    """A rule's product name template (see :func:`romanasn.naming.parse_template`), computed as a
    column over the groups' keys."""

    def __init__(self, text: str, columns: Sequence[str]) -> None:
        self.parts = parse_template(text, columns)

    def names(self, keys: dict[str, list], count: int, drid: str) -> pa.Array:
        """The product name of each of ``count`` groups, their keys in ``keys``."""
        pieces: list[pa.Array] = []
        for literal, field, spec in self.parts:
            if literal:
                pieces.append(_column(literal, count))
            if field == "drid":
                pieces.append(_column(name_token(drid), count))
            elif field is not None:
                pieces.append(_converted(keys[field], spec))
        if len(pieces) == 1:
            return pieces[0]
        return pc.binary_join_element_wise(*pieces, "")


def _converted(values: pa.Array | list, spec: str | None) -> pa.Array:
    """Key values converted as a template says, each distinct value once (file names to their
    stems as a column)."""
    if spec == "stem" and isinstance(values, pa.Array) and values.type == pa.string():
        if (ending := _ending(values)) is not None:
            return _stems(values, ending)
        if _every(_suffixed(values)):
            return pc.replace_substring_regex(values, _LEVEL, "")
    codes, distinct = factorize(values if isinstance(values, pa.Array) else pa.array(values))
    convert = conversion(spec)
    texts = pa.array([convert(value) for value in as_list(distinct)], pa.string())
    return texts.take(pa.array(codes))


_SUFFIXED = r"^.+_[A-Za-z0-9]+\.[A-Za-z0-9]+$"  # naming._SUFFIXED: a stem, "_<level>" and ".<ext>"
_LEVEL = r"_[A-Za-z0-9]+(\.[A-Za-z0-9]+)$"  # in such a name, "_<level>.<ext>" (the last "_" on)
_ENDING = re.compile(r"_[A-Za-z0-9]+\.[A-Za-z0-9]+\Z")  # what _LEVEL matches, in Python


def _ending(filenames: pa.Array) -> str | None:
    """The ``_<level>.<ext>`` every file name ends with after some text without a line break, when
    they share one (a mission pool's do: ``x_uncal.asdf``), else None: then each name's stem is
    a slice (:func:`_stems`), found without matching every name against :data:`_LEVEL`."""
    match = _ENDING.search(filenames[0].as_py()) if len(filenames) and not filenames.null_count else None
    if match is None or not _every(pc.ends_with(filenames, ending := match.group())):
        return None
    if pc.min(pc.binary_length(filenames)).as_py() > len(ending) and not (_bytes(filenames)[1] == ord("\n")).any():
        return ending
    return None


def _stems(filenames: pa.Array, ending: str) -> pa.Array:
    """File names (Arrow strings) that all end with ``ending``, without it."""
    return pc.binary_slice(filenames.view(pa.binary()), 0, -len(ending)).view(pa.string())


def _suffixed(filenames: pa.Array) -> pa.Array:
    """Whether each file name has a level suffix (``x_cal.asdf``; matching is cheaper than
    extracting, so names are matched, then rewritten with :data:`_LEVEL`)."""
    return pc.match_substring_regex(filenames, _SUFFIXED)


def _every(mask: pa.Array) -> bool:
    """Whether every value of a boolean column is true (none null)."""
    return pc.all(mask, skip_nulls=False).as_py() is True


_SAFE_BYTES = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.+-"  # the first 62 may start one
_FIRST_BYTES = np.isin(np.arange(256), list(_SAFE_BYTES[:62]))


def unsafe_names(names: pa.Array) -> list[int]:
    """The positions of the names :func:`romanasn.naming.unsafe_reason` refuses."""
    offsets, data = _bytes(names)
    lengths = np.diff(offsets)
    if not names.null_count and lengths.min(initial=1) > 0 and lengths.max(initial=0) <= NAME_BYTES \
            and not data.tobytes().translate(None, _SAFE_BYTES) and _FIRST_BYTES[data[offsets[:-1]]].all() \
            and not ((data[1:] == ord(".")) & (data[:-1] == ord("."))).any():  # each byte safe: none refused
        return []
    return [i for i, name in enumerate(names.to_pylist()) if unsafe_reason(name)]


# -- members and files -----------------------------------------------------------------------------

_OK = {"", "NULL", "NONE", "OK"}
_FALSE = {"", "FALSE", "NULL", "NONE", "0", "NO"}
_CHECKS = (("exposerr", _OK), ("data_problem", _FALSE), ("engineering_quality", _OK))


def degraded_reasons(view: PoolView) -> pa.Array:
    """Per pool row, why the exposure is degraded (null when it is not): ``exposerr`` not empty,
    ``NULL``, ``NONE`` or ``OK``, ``data_problem`` true or a text, ``engineering_quality`` not ``OK``."""

    def make(table: Any) -> pa.Array:
        reasons = pa.nulls(len(table), pa.string())
        for column, fine in _CHECKS:
            if column not in table.colnames:
                continue
            codes, values = factorize(arrow_column(view, column))
            texts = ["" if v is None else str(v).strip() for v in as_list(values)]
            why = pa.array([None if t.upper() in fine else f"{column}: {t}" for t in texts], pa.string())
            reason = why.take(pa.array(codes))
            joined = pc.binary_join_element_wise(reasons, reason, "; ")
            reasons = pc.coalesce(joined, reasons, reason)
        return reasons

    return view.derived("romanasn.lane:degraded", make)


_PLAIN_TEXT = r'^[ !#-\[\]-~]*$'  # printable ASCII but " and \: JSON text is the text in quotes
_MEMBER_START = '\n                {\n                    "expname": '
_MEMBER_EXPTYPE = ',\n                    "exptype": '
_MEMBER_EXPOSERR = ',\n                    "exposerr": '
_MEMBER_CANDIDATE = ',\n                    "asn_candidate": '
_MEMBER_CLOSE = "\n                }"


def json_texts(values: pa.Array) -> pa.Array:
    """Each text as a JSON string (``json.dumps`` with ``ensure_ascii``)."""
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    if _plain(values):
        return quoted
    plain = pc.match_substring_regex(values, _PLAIN_TEXT)
    escaped = pa.array([None if v is None else _json_text(v) for v in values.to_pylist()], pa.string())
    return pc.if_else(plain, quoted, escaped)


def _bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of a column of texts, one after the other (a view of its buffer), and where each
    text starts in them (and the last ends)."""
    if not len(values):
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32 if values.type == pa.string() else np.int64)
    offsets = offsets[values.offset:values.offset + len(values) + 1]
    return offsets - offsets[0], np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]


def _plain(values: pa.Array) -> bool:
    """Whether every text is printable ASCII without ``"`` and ``\\`` (JSON holds it as it is)."""
    data = _bytes(values)[1]
    return not len(data) or bool(data.min() >= 0x20 and data.max() < 0x7F and not (data == ord('"')).any()
                                 and not (data == ord("\\")).any())


def plain_members(view: PoolView, suffix: str | None) -> bool:
    """Whether every member name at the level ``suffix`` names is plain (:func:`_plain`), once per run."""
    return view.derived(("romanasn.lane:plain", suffix), lambda table: _plain(member_names(view, suffix)))


def member_names(view: PoolView, suffix: str | None) -> pa.Array:
    """Each pool row's member file name at the level ``suffix`` names (made once per run)."""
    filenames = arrow_column(view, "filename")
    if suffix is None:
        return filenames

    def make(table: Any) -> pa.Array:
        if (ending := view.derived("romanasn.lane:ending", lambda table: _ending(filenames))) is not None:
            return pc.binary_join_element_wise(_stems(filenames, ending), f"_{suffix}{ending[ending.index('.'):]}", "")
        suffixed = view.derived("romanasn.lane:suffixed", lambda table: _suffixed(filenames))
        names = pc.replace_substring_regex(filenames, _LEVEL, "_" + suffix.replace("\\", "\\\\") + r"\1")
        if _every(suffixed):
            return names
        other = pa.array([member_filename(f, suffix) for f in filenames.to_pylist()], pa.string())
        return pc.if_else(suffixed, names, other)

    return view.derived(("romanasn.lane:members", suffix), make)


def _tail_codes(view: PoolView) -> tuple[np.ndarray, list[tuple[str | None, Any]]]:
    """Each pool row's code of what its members hold besides name and type: ``(reason it is
    degraded, asn_candidate)``, and each code's pair (made once per run)."""

    def make(table: Any) -> tuple[np.ndarray, list]:
        reasons, reason_values = factorize(degraded_reasons(view))
        if "asn_candidate" in table.colnames:
            candidates, candidate_values = column_codes(view, "asn_candidate")
        else:
            candidates, candidate_values = np.zeros(len(table), dtype=np.int64), [None]
        width = max(len(candidate_values), 1)
        codes, pairs = factorize(pa.array(reasons * width + candidates))
        reason_values, candidate_values = as_list(reason_values), as_list(candidate_values)
        return codes, [(reason_values[p // width], candidate_values[p % width]) for p in as_list(pairs)]

    return view.derived("romanasn.lane:tails", make)


def _tail(exptype: str, reason: str | None, candidate: Any) -> str:
    """A member's text after its name's opening quote and name."""
    text = '"' + _MEMBER_EXPTYPE + _json_text(exptype)
    if reason is not None:
        text += _MEMBER_EXPOSERR + _json_text(reason)
    if candidate:
        text += _MEMBER_CANDIDATE + encode_json(asnfile._plain(candidate, "asn_candidate"), 4, 5)
    return text + _MEMBER_CLOSE


def name_ranks(view: PoolView, suffix: str | None) -> np.ndarray:
    """Each pool row's member name's dense rank among the member names at the level ``suffix``
    names (equal names, equal ranks; in name order), made once per run."""

    def make(table: Any) -> np.ndarray:
        names = member_names(view, suffix)
        dense = _dense_ranks(names, filename_order(view))
        return dense if dense is not None else _dense(names)

    return view.derived(("romanasn.lane:name-ranks", suffix), make)


def _dense(values: pa.Array) -> np.ndarray:
    """Each value's dense rank (equal values, equal ranks; in order)."""
    return pc.rank(values, tiebreaker="dense").to_numpy().astype(np.int64)


def _dense_ranks(values: pa.Array, order: np.ndarray) -> np.ndarray | None:
    """Each value's dense rank (from 1) found without sorting, when ``order`` (the rows in file-name
    order) sorts the values too (member names that differ from the file names only in the level
    suffix); None when it does not."""
    ordered = values.take(pa.array(order))
    if len(ordered) > 1 and pc.any(pc.less(ordered[1:], ordered[:-1])).as_py():
        return None
    steps = np.ones(len(ordered), dtype=np.int64)
    steps[1:] = pc.not_equal(ordered[1:], ordered[:-1]).to_numpy(zero_copy_only=False)
    dense = np.empty(len(ordered), dtype=np.int64)
    dense[order] = np.cumsum(steps)
    return dense


class Files:
    """The association files of one rule, a block of groups at a time, as a column of texts.

    Holds the rule's member entries, one per member of each group in file order
    (``owner``, ``rows``, ``spec``: spec 0 is the rule's member, ``k`` its ``k``-th companion);
    ``head(group, program, degraded status)`` gives the top-level text of a file before and
    after ``asn_id``, asked once per program and degraded status, or per group when the rule
    has extras.
    """

    def __init__(self, view: PoolView, rule: Any, groups: Groups, names: pa.Array,
                 programs: tuple[np.ndarray, list[str]], head: Callable[[int, str, str], tuple[str, str]],
                 prefix: str | None) -> None:
        self.view, self.rule, self.names, self.head = view, rule, names, head
        self.programs, self.program_ids = programs
        self._heads: dict[int, tuple[str, str]] = {}
        self.per_group = rule.extras is not None
        self.specs = [rule.member] + [c.member for c in rule.companions]
        entries = [(groups.group_of_rows(), groups.rows, np.zeros(len(groups.rows), np.int64))]
        for k, (rows, offsets) in enumerate(groups.companions, start=1):
            owner = np.repeat(np.arange(len(groups)), np.diff(offsets))
            entries.append((owner, rows, np.full(len(rows), k, np.int64)))
        owner, rows, spec = (np.concatenate(parts) for parts in zip(*entries))
        # Sorted by group, member name, spec, then file name (the rule's rows) or row (companions);
        # of equal names in one group the members of the first spec stay, the last of them.
        if len({member.suffix for member in self.specs}) == 1:
            named = name_ranks(view, rule.member.suffix)[rows]
        else:  # the entries' names ranked among themselves, not every pool row's at each level
            named = _dense(self._expnames(rows, spec, None))
        rank = np.where(spec == 0, filename_rank(view)[rows], rows) + spec * len(view)  # spec, then name or row
        order = np.lexsort((rank, owner * (int(named.max(initial=0)) + 1) + named))
        owner, spec, rows, named = owner[order], spec[order], rows[order], named[order]
        same_name = np.zeros(len(order), dtype=bool)
        same_name[1:] = (owner[1:] == owner[:-1]) & (named[1:] == named[:-1])
        run = np.maximum.accumulate(np.where(same_name, 0, np.arange(len(order))))  # first entry of each name
        last_of_spec = np.ones(len(order), dtype=bool)
        last_of_spec[:-1] = ~(same_name[1:] & (spec[1:] == spec[:-1]))
        kept = np.flatnonzero(last_of_spec & (spec == spec[run]))
        # and each group's members in order: the rule's by name, then each companion's by name
        if len(self.specs) > 1:
            kept = kept[np.lexsort((np.arange(len(kept)), spec[kept], owner[kept]))]
        self.owner, self.rows, self.spec = owner[kept], rows[kept], spec[kept]
        self.expnames = self._expnames(self.rows, self.spec, prefix)
        self.offsets = np.concatenate(([0], np.cumsum(np.bincount(self.owner, minlength=len(groups))))).astype(np.int64)
        tail_codes, pairs = _tail_codes(view)
        self.tails = pa.array([_tail(member.exptype, *pair) for member in self.specs for pair in pairs], pa.string())
        self.tail_of = self.spec * len(pairs) + tail_codes[self.rows]
        self.plain = _plain(self.names) and (prefix is None or _plain(pa.array([prefix]))) and all(
            plain_members(view, member.suffix) for member in self.specs)
        has_reason = pc.is_valid(degraded_reasons(view).take(pa.array(self.rows))).to_numpy(zero_copy_only=False)
        self.degraded = np.add.reduceat(has_reason, self.offsets[:-1]) > 0 if len(self.rows) else np.zeros(0, bool)

    def _expnames(self, rows: np.ndarray, spec: np.ndarray, prefix: str | None) -> pa.Array:
        """The member name of each entry."""
        names = pa.nulls(len(rows), pa.string())
        for k, member in enumerate(self.specs):
            mine = spec == k
            if mine.any():
                made = member_names(self.view, member.suffix).take(pa.array(rows[mine]))
                names = made if mine.all() else pc.replace_with_mask(names, pa.array(mine), made)
        if prefix is not None:
            names = pc.binary_join_element_wise(os.path.join(prefix, ""), names, "")
        return names

    def _head(self, group: int, combo: int) -> tuple[str, str]:
        """The top-level text of a group's file before and after ``asn_id``, made once per program
        and degraded status (per group when the rule has extras)."""
        head = self._heads.get(combo)
        if head is None:
            degraded = SOME_DEGRADED if self.degraded[group] else NO_DEGRADED
            head = self.head(group, self.program_ids[self.programs[group]], degraded)
            if not self.per_group:
                self._heads[combo] = head
        return head

    def blocks(self, groups: int, members: int) -> Iterator[tuple[int, int]]:
        """``(start, stop)`` of consecutive blocks of at most ``groups`` groups holding at most
        ``members`` members (or a single group)."""
        start, count = 0, len(self.offsets) - 1
        while start < count:
            fit = int(np.searchsorted(self.offsets, self.offsets[start] + members, "right")) - 1
            stop = min(start + groups, count, max(fit, start + 1))
            yield start, stop
            start = stop

    def block(self, start: int, stop: int, ids: np.ndarray) -> pa.Array:
        """The file texts of groups ``start`` to ``stop`` (``ids``: every group's id number)."""
        low, high = int(self.offsets[start]), int(self.offsets[stop])
        tails = self.tails.take(pa.array(self.tail_of[low:high]))
        if self.plain:
            members = [_MEMBER_START + '"', self.expnames[low:high], tails]
            names = pc.binary_join_element_wise('"', self.names[start:stop], '"', "")
        else:
            members = [_MEMBER_START, json_texts(self.expnames[low:high]), pc.utf8_slice_codeunits(tails, 1)]
            names = json_texts(self.names[start:stop])
        bounds = self.offsets[start:stop + 1] - low
        if (np.diff(bounds) != 1).any():  # else each file's one member goes in as it is
            texts = pa.ListArray.from_arrays(pa.array(bounds, pa.int32()), pc.binary_join_element_wise(*members, ""))
            members = [pc.binary_join(texts, ",")]
        groups = np.arange(start, stop)
        degraded = self.degraded[start:stop]
        combos = groups if self.per_group else self.programs[start:stop] * 2 + degraded
        _, firsts, inverse = np.unique(combos, return_index=True, return_inverse=True)
        heads = [self._head(g, combo) for g, combo in zip(groups[firsts].tolist(), combos[firsts].tolist())]
        which = pa.array(inverse.ravel())
        before = _chosen(["{" + head[0] + '\n    "asn_id": "a' for head in heads], which)
        after = _chosen(['",' + head[1] + '\n    "products": [\n        {\n            "name": ' for head in heads], which)
        return pc.binary_join_element_wise(
            *before, pa.array(ids[start:stop]).cast(pa.string()), *after, names, ',\n            "members": [',
            *members, "\n            ]\n        }\n    ]\n}\n", "")


def _chosen(texts: list[str], which: pa.Array) -> list[str | pa.Array]:
    """The texts ``texts[which[i]]``, as pieces to join: what they all start and end with, once,
    and between them what differs, per text (a head's degraded status, not the whole head)."""
    if len(texts) == 1:
        return texts
    start = os.path.commonprefix(texts)
    end = os.path.commonprefix([text[len(start):][::-1] for text in texts])[::-1]
    return [start, pa.array([text[len(start):len(text) - len(end)] for text in texts], pa.string()).take(which), end]


def _column(text: str, count: int) -> pa.Array:
    return pa.array([text], pa.string()).take(pa.array(np.zeros(count, dtype=np.int64)))


def filename_order(view: PoolView) -> np.ndarray:
    """The rows in file-name order (equal names in row order)."""
    return view.derived("filename_order", lambda table: pc.sort_indices(arrow_column(view, "filename")).to_numpy())


def filename_rank(view: PoolView) -> np.ndarray:
    """Each row's position in file-name order."""

    def make(table: Any) -> np.ndarray:
        order = filename_order(view)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank

    return view.derived("filename_rank", make)


class Texts(Sequence):
    """Texts kept as an Arrow column, each made a Python string only when asked for (a million
    file names as a list take twice the memory)."""

    def __init__(self, values: pa.Array) -> None:
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.values[index].to_pylist()
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self.values[index].as_py()

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), 1 << 16):
            yield from self.values[start:start + (1 << 16)].to_pylist()

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented


def views(texts: pa.Array) -> Iterator[memoryview]:
    """Each text (or binary) of a column as bytes (UTF-8; a view of the column's buffer)."""
    if texts.type == pa.string():
        texts = texts.cast(pa.large_string())
    elif texts.type == pa.binary():
        texts = texts.cast(pa.large_binary())
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + len(texts) + 1]
    data = memoryview(texts.buffers()[2])
    bounds = offsets.tolist()
    for start, stop in zip(bounds, bounds[1:]):
        yield data[start:stop]
