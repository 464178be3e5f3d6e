"""Trust: which packs run, and no pool or association value is ever run as code.

- ``ROMANASN_PLUGINS=a,b`` loads only those packs and ``-p no:NAME`` blocks
  one, both before it is imported; ``romanasn plugins --json`` shows which
  are active.
- Pool values, ECSV headers, YAML and ASDF association files are data: a
  value written like code stays text, a YAML ``!!python`` tag is refused or
  read as plain data, an ASDF tag of an extension that is not installed is
  read as plain data and imports nothing.
"""

import json
import sys
import warnings
from pathlib import Path

import pytest

from romanasn import PoolError, generate, load_asn, read_pool, write_asn
from romanasn.asdfheader import HeaderError, load_tree
from romanasn.cli import main
from romanasn.errors import AsnError
from romanasn.plugins.manager import get_plugin_manager
from romanasn.records import Association, Member, Product
from romanasn.testing import exposure_rows, manager_with, pool_table

DISTS = Path(__file__).parent / "data" / "dists"
DATA = Path(__file__).parent / "data"
VISIT = "0000101001001001001"


@pytest.fixture
def dists(monkeypatch):
    monkeypatch.delenv("ROMANASN_PLUGINS", raising=False)
    monkeypatch.delenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    for name in ("ok", "dup", "broken"):
        monkeypatch.syspath_prepend(str(DISTS / name))
    for module in ("fake_ok", "fake_dup", "fake_broken"):
        monkeypatch.delitem(sys.modules, module, raising=False)


def _plugins_json(capsys, argv):
    status = main(argv)
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    return status, rows


# -- which packs run ------------------------------------------------------------------------


def test_the_allow_list_loads_only_the_packs_named(dists, capsys, monkeypatch):
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok")
    status, rows = _plugins_json(capsys, ["plugins", "--json"])
    assert status == 0
    assert rows["romanasn-fake-ok"]["status"] == "active"
    assert rows["romanasn-fake-dup"]["status"] == "blocked"
    assert rows["romanasn-fake-broken"]["status"] == "blocked"
    assert all(row["status"] in ("active", "blocked") for row in rows.values())
    assert [name for name, row in rows.items() if row["status"] == "active"] == ["romanasn", "romanasn-fake-ok"]
    assert "fake_dup" not in sys.modules and "fake_broken" not in sys.modules  # never imported


def test_the_allow_list_accepts_any_spelling_of_a_distribution_name(dists, capsys, monkeypatch):
    monkeypatch.setenv("ROMANASN_PLUGINS", "Romanasn_Fake.OK,")
    _, rows = _plugins_json(capsys, ["plugins", "--json"])
    assert rows["romanasn-fake-ok"]["status"] == "active"


def test_the_allow_list_ignores_spaces_around_names(dists, capsys, monkeypatch):
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-broken, romanasn-fake-ok ")
    _, rows = _plugins_json(capsys, ["plugins", "--json"])
    assert rows["romanasn-fake-ok"]["status"] == "active"


def test_a_blocked_pack_is_never_imported(dists, capsys, monkeypatch):
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok,romanasn-fake-broken")
    status, rows = _plugins_json(capsys, ["-p", "no:romanasn-fake-broken", "plugins", "--json"])
    assert status == 0
    assert rows["romanasn-fake-broken"]["status"] == "blocked"
    assert "fake_broken" not in sys.modules


def test_plugins_json_shows_a_failed_pack_with_its_error(dists, capsys, monkeypatch):
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok,romanasn-fake-broken")
    status, rows = _plugins_json(capsys, ["plugins", "--json"])
    assert status == 1
    broken = rows["romanasn-fake-broken"]
    assert (broken["status"], broken["version"]) == ("failed", "2.1")
    assert "romanasn_module_that_does_not_exist" in broken["error"]


def test_autoload_off_loads_no_pack(dists, capsys, monkeypatch):
    monkeypatch.setenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", "1")
    _, rows = _plugins_json(capsys, ["plugins", "--json"])
    assert list(rows) == ["romanasn"]


def test_an_allow_list_naming_a_pack_that_is_not_installed_is_an_error(dists, monkeypatch):
    from romanasn import PluginError

    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-ok,romanasn-fake-okk")
    pm = get_plugin_manager()
    with pytest.raises(PluginError, match="romanasn-fake-okk"):
        pm.check()


# -- values are data ---------------------------------------------------------------------------

_CODE = [
    "__import__('os').system('touch {canary}')",
    "!!python/object/apply:os.system ['touch {canary}']",
    "{{{{ ''.__class__.__mro__[1].__subclasses__() }}}}",
    "$(touch {canary}); `touch {canary}`",
    "'; import os; os.system('touch {canary}') #",
]


@pytest.mark.parametrize("fmt", ["json", "yaml", "asdf"])
def test_pool_values_that_look_like_code_stay_text(tmp_path, monkeypatch, fmt):
    canary = tmp_path / "canary"
    values = [code.format(canary=canary) for code in _CODE]
    rows = []
    for exposure, value in enumerate(values, 1):
        rows += exposure_rows(VISIT, exposure, detectors=[1], target=value, exposerr="", program_category=value,
                              asn_candidate=value, note=value)
    pool_path = tmp_path / "pool.ecsv"
    from romanasn import write_pool

    write_pool(pool_table(rows), pool_path)
    table = read_pool(pool_path)
    assert list(table["target"]) == values and list(table["note"]) == values
    monkeypatch.syspath_prepend(str(DISTS / "ok"))
    import fake_ok

    result = generate(table, plugin_manager=manager_with((fake_ok, "romanasn-fake-ok")))
    carried = [a.members[0].extra["asn_candidate"] for a in result.associations]
    assert sorted(carried) == sorted(values)
    for association, value in zip(result.associations, carried):
        path = write_asn(association, tmp_path / f"{association.product_name}_asn.{fmt}")
        again = load_asn(path)
        assert again.members[0].extra["asn_candidate"] == value
    assert not canary.exists()


def test_an_ecsv_header_with_a_python_tag_is_refused(tmp_path):
    canary = tmp_path / "canary"
    text = (DATA / "pool_canonical.ecsv").read_text()
    header = f"# meta: !!python/object/apply:os.system ['touch {canary}']\n"
    evil = tmp_path / "evil.ecsv"
    evil.write_text(text.replace("# datatype:", header + "# datatype:", 1))
    with pytest.raises(PoolError, match=f"{evil}: bad ECSV header"):
        read_pool(evil)
    assert not canary.exists()


def _association_yaml(payload):
    return ("asn_type: image2\nasn_rule: x\n"
            f"payload: {payload}\n"
            "products:\n- name: p\n  members:\n  - {expname: a.asdf, exptype: science}\n")


@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {canary}']",
    "!!python/name:os.system",
    "!!python/object/new:subprocess.Popen [['touch', '{canary}']]",
])
def test_a_yaml_association_is_loaded_safely(tmp_path, capsys, payload):
    canary = tmp_path / "canary"
    path = tmp_path / "evil_asn.yaml"
    path.write_text(_association_yaml(payload.format(canary=canary)))
    with pytest.raises(AsnError, match="evil_asn.yaml: cannot read yaml association"):
        load_asn(path)
    assert main(["validate", str(path)]) == 1
    assert "evil_asn.yaml" in capsys.readouterr().err
    assert not canary.exists()


_ASDF = """#ASDF 1.0.0
#ASDF_STANDARD 1.5.0
%YAML 1.1
%TAG ! tag:stsci.edu:asdf/
--- !core/asdf-1.1.0
asdf_library: !core/software-1.0.0 {{author: x, homepage: x, name: asdf, version: 3.0.0}}
history:
  extensions:
  - !core/extension_metadata-1.0.0
    extension_class: romanasn_evil_extension.EvilExtension
    extension_uri: asdf://evil.example.org/extensions/evil-1.0.0
    package: !core/software-1.0.0 {{name: romanasn_evil_extension, version: 6.6.6}}
asn_type: image2
asn_rule: x
payload: {payload}
products:
- name: p
  members:
  - {{expname: a.asdf, exptype: science}}
...
"""


@pytest.mark.parametrize("payload", [
    "!<asdf://evil.example.org/tags/payload-1.0.0> {{cmd: 'touch {canary}'}}",
    "!!python/object/apply:os.system ['touch {canary}']",
])
def test_an_asdf_association_runs_no_extension_that_is_not_installed(tmp_path, payload):
    canary = tmp_path / "canary"
    path = tmp_path / "evil_asn.asdf"
    path.write_text(_ASDF.format(payload=payload.format(canary=canary)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # asdf warns that the tag and the extension are unknown
        association = load_asn(path)
    assert association.product_name == "p"
    assert "touch" in json.dumps(association.extra["payload"])  # plain data, never called
    assert "romanasn_evil_extension" not in sys.modules
    assert not canary.exists()


def test_an_exposure_header_with_a_python_tag_runs_nothing(tmp_path):
    canary = tmp_path / "canary"
    path = tmp_path / "exposure.asdf"
    path.write_text(_ASDF.format(payload=f"!!python/object/apply:os.system ['touch {canary}']"))
    try:
        tree = load_tree(path)
    except HeaderError:
        pass
    else:
        assert tree["payload"] == [f"touch {canary}"]
    assert not canary.exists()


def test_a_json_association_is_data(tmp_path):
    canary = tmp_path / "canary"
    association = Association(products=[Product("p", [Member("a.asdf")])],
                              target=f"__import__('os').system('touch {canary}')")
    path = write_asn(association, tmp_path / "x_asn.json")
    assert load_asn(path).target == association.target
    assert not canary.exists()
