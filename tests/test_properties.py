"""Properties of generate over generated pools (hypothesis), with the three WFI packs.

For any pool of imaging, spectral and calibration exposures:

- every row a rule selects (its ``select`` constraints, then its own and
  other packs' constraints) is a member of exactly the associations its keys
  say: the rule's associations partition its rows by key, and companions are
  exactly the rows sharing the ``on`` values;
- no member appears twice in a product and no association is empty;
- the output does not depend on the order of the rows;
- every association file validates against ``schemas/asn.schema.json``
  (checked by jsonschema itself, not only by the fast compiled check);
- a pool written and read back gives the same associations.

Pools are small and examples few (50) so the suite stays fast.
"""

import io
import tempfile
from collections import defaultdict
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from romanasn_wfi_calibration import plugin as calibration
from romanasn_wfi_imaging import plugin as imaging
from romanasn_wfi_spectral import plugin as spectral

from romanasn import MemberSpec, Rule, RunConfig, asnfile, generate, hookimpl, isin, read_pool, write_pool
from romanasn.naming import member_filename
from romanasn.output import run_report
from romanasn.testing import exposure_rows, manager_with, pool_table

SETTINGS = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

VISITS = [f"{program:05d}01{pass_:03d}001001{visit:03d}"
          for program in (1, 2) for pass_ in (1, 2) for visit in (1, 2)]
KINDS = [("WFI_IMAGE", "F158"), ("WFI_IMAGE", "F062"), ("WFI_SPECTRAL", "GRISM"), ("WFI_SPECTRAL", "PRISM"),
         ("WFI_IM_DARK", "DARK"), ("WFI_SP_DARK", "DARK"), ("WFI_FLAT", "F158"), ("WFI_WFSC", "F158"),
         ("WFI_LOLO", "F087")]


def _parity_keys(table, rows, config):
    """Two keys per row, in its program (associations never cross one): its detector's parity and
    ``all`` (a row in several associations)."""
    detectors, programs = table["detector"], table["program"]
    for i in rows:
        yield int(i), (int(programs[i]), "odd" if int(str(detectors[i])[3:]) % 2 else "even")
        yield int(i), (int(programs[i]), "all")


class _Parity:
    """A pack whose rule groups through a key function, one row joining two associations."""

    __version__ = "0.0"

    @hookimpl
    def romanasn_rules(self):
        return [Rule(name="parity", asn_type="image3", level=3, select=[isin("exposure_type", "WFI_IMAGE")],
                     group_by=("program", "parity"), keys=_parity_keys, member=MemberSpec("science", "cal"),
                     product_name=lambda group, config:
                     f"r{group.key['program']:05d}_{config.data_release_id}_{group.key['parity']}")]


def _manager():
    return manager_with((imaging, "romanasn-wfi-imaging"), (spectral, "romanasn-wfi-spectral"),
                        (calibration, "romanasn-wfi-calibration"), (_Parity(), "romanasn-parity"))


exposures = st.fixed_dictionaries({
    "visit": st.sampled_from(VISITS),
    "exposure": st.integers(1, 5),
    "kind": st.sampled_from(KINDS),
    "detectors": st.sets(st.integers(1, 4), min_size=1, max_size=3),
    "ma_table_name": st.sampled_from(["", "IMG_16", "DARK_1"]),
    "exposerr": st.sampled_from(["", "", "GUIDING_LOST"]),
    "suffix": st.sampled_from(["uncal", "cal"]),
})
pools = st.lists(exposures, min_size=1, max_size=8, unique_by=lambda e: (e["visit"], e["exposure"]))
configs = st.builds(lambda drop, drid: RunConfig(data_release_id=drid, pool_name="pool",
                                                 options={"drop_degraded": drop}),
                    st.booleans(), st.sampled_from(["p", "dr01"]))


def _table(spec):
    rows = []
    for e in spec:
        kind, element = e["kind"]
        rows += exposure_rows(e["visit"], e["exposure"], kind, element, detectors=sorted(e["detectors"]),
                              suffix=e["suffix"], ma_table_name=e["ma_table_name"], exposerr=e["exposerr"])
    return pool_table(rows)


def _passing(constraints, table):
    mask = np.ones(len(table), dtype=bool)
    for constraint in constraints:
        mask &= np.asarray(constraint.test(table), dtype=bool)
    return mask


def _expected(entry, table, pm, config):
    """The rule's rows by key, computed here from the rule's definition; and which rows pass the packs' vetoes."""
    rule = entry.rule
    matching = [found.item for found in pm.match_constraints(rule, config)]
    rows = np.flatnonzero(_passing(list(rule.select) + list(rule.constraints) + matching, table))
    groups = defaultdict(set)
    if rule.keys is None:
        for i in rows.tolist():
            groups[tuple(table[name][i].item() if hasattr(table[name][i], "item") else table[name][i]
                         for name in rule.group_by)].add(i)
    else:
        for i, key in rule.keys(table, rows, config):
            groups[tuple(key)].add(i)
    return groups, matching


@SETTINGS
@given(pools, configs)
def test_each_selected_row_is_in_exactly_the_associations_its_keys_say(spec, config):
    table = _table(spec)
    pm = _manager()
    result = generate(table, plugin_manager=pm, config=config)
    filenames = [str(f) for f in table["filename"]]
    for entry in result.rules:
        rule = entry.rule
        groups, matching = _expected(entry, table, pm, config)
        made = [a for a in result.associations if a.asn_rule == rule.name]
        science = [frozenset(m.expname for m in a.members if m.exptype == rule.member.exptype) for a in made]
        expected = [frozenset(member_filename(filenames[i], rule.member.suffix) for i in rows)
                    for rows in groups.values()]
        assert sorted(map(sorted, science)) == sorted(map(sorted, expected)), rule.name
        assert result.counts[rule.name] == len(groups)
        for companion in rule.companions:
            joinable = np.flatnonzero(_passing(list(companion.select) + matching, table)).tolist()
            by_value = defaultdict(set)
            for j in joinable:
                by_value[tuple(str(table[name][j]) for name in companion.on)].add(j)
            for association, rows in zip(made, _rows_of(made, groups, rule, filenames)):
                values = {tuple(str(table[name][i]) for name in companion.on) for i in rows}
                wanted = {member_filename(filenames[j], companion.member.suffix)
                          for v in values for j in by_value.get(v, ())}
                joined = {m.expname for m in association.members if m.exptype == companion.member.exptype}
                assert joined == wanted - {m.expname for m in association.members
                                           if m.exptype == rule.member.exptype}, rule.name
    taken = {i for entry in result.rules for rows in _expected(entry, table, pm, config)[0].values() for i in rows}
    assert set(result.orphans) == {filenames[i] for i in range(len(table)) if i not in taken}


def _rows_of(made, groups, rule, filenames):
    """For each association, the pool rows of its key (found through its science members)."""
    by_members = {frozenset(member_filename(filenames[i], rule.member.suffix) for i in rows): rows
                  for rows in groups.values()}
    for association in made:
        yield by_members[frozenset(m.expname for m in association.members if m.exptype == rule.member.exptype)]


@SETTINGS
@given(pools, configs)
def test_no_association_is_empty_and_no_member_repeats_and_every_file_validates(spec, config):
    result = generate(_table(spec), plugin_manager=_manager(), config=config)
    checker = jsonschema.Draft202012Validator(asnfile.schema())
    for association in result.associations:
        assert association.products
        for product in association.products:
            names = [m.expname for m in product.members]
            assert names, association.product_name
            assert len(names) == len(set(names)), association.product_name
        for fmt in ("json", "yaml"):
            data = asnfile.load_asn_dict(io.BytesIO(asnfile.dumps(association, fmt)))
            checker.validate(data)
    assert len({a.asn_id for a in result.associations}) == len(result.associations)
    assert len(set(result.file_stems)) == len(result.file_stems)


@SETTINGS
@given(pools, configs, st.randoms(use_true_random=False))
def test_the_output_does_not_depend_on_row_order(spec, config, random):
    table = _table(spec)
    order = list(range(len(table)))
    random.shuffle(order)
    first = generate(table, plugin_manager=_manager(), config=config)
    second = generate(table[order], plugin_manager=_manager(), config=config)
    assert first.associations == second.associations
    assert first.file_stems == second.file_stems
    assert [asnfile.dumps(a, "json") for a in first.associations] == \
        [asnfile.dumps(a, "json") for a in second.associations]
    assert sorted(first.orphans) == sorted(second.orphans)
    assert sorted(first.vetoes, key=repr) == sorted(second.vetoes, key=repr)


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools, configs)
def test_a_pool_written_and_read_back_gives_the_same_associations(spec, config):
    table = _table(spec)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pool.ecsv"
        write_pool(table, path)
        again = read_pool(path)
    assert generate(again, plugin_manager=_manager(), config=config).associations == \
        generate(table, plugin_manager=_manager(), config=config).associations


def test_the_run_report_does_not_depend_on_row_order():
    """One fixed pool with orphans and vetoes (not a property: a failing one would shrink for minutes)."""
    spec = [{"visit": VISITS[0], "exposure": 1, "kind": ("WFI_IMAGE", "F158"), "detectors": {1, 2},
             "ma_table_name": "", "exposerr": "GUIDING_LOST", "suffix": "uncal"},
            {"visit": VISITS[1], "exposure": 2, "kind": ("WFI_IM_DARK", "DARK"), "detectors": {1, 2},
             "ma_table_name": "", "exposerr": "", "suffix": "uncal"}]
    table = _table(spec)
    config = RunConfig(options={"drop_degraded": True})
    reports = []
    for rows in (table, table[::-1]):
        pm = _manager()
        reports.append(run_report(generate(rows, plugin_manager=pm, config=config), pm, config))
    assert reports[0]["vetoes"] and reports[0]["orphans"]
    assert reports[0] == reports[1]
