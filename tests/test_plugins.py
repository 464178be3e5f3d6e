"""Plugin discovery, control and the typed hook calls (tiers 1 and 2 of plugin testing)."""

import types
from pathlib import Path

import pytest

from romanasn import PluginError, Rule, RuleError, hookimpl, isin
from romanasn.plugins import hookspec
from romanasn.plugins.manager import get_plugin_manager
from romanasn.plugins.types import RunConfig

DISTS = Path(__file__).parent / "data" / "dists"
FAKES = ["romanasn-fake-ok", "romanasn-fake-broken", "romanasn-fake-badhook", "romanasn-fake-dup",
         "romanasn-fake-raising"]


@pytest.fixture
def dists(monkeypatch):
    """Put the named fake distributions on sys.path."""
    monkeypatch.delenv("ROMANASN_PLUGINS", raising=False)
    monkeypatch.delenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", raising=False)

    def add(*names):
        for name in names:
            monkeypatch.syspath_prepend(str(DISTS / name))

    return add


def _infos(pm):
    return {i.name: i for i in pm.plugin_infos()}


def test_an_entry_point_is_found_loaded_and_named_after_its_distribution(dists):
    dists("ok")
    pm = get_plugin_manager(allow=["romanasn-fake-ok"])
    info = _infos(pm)["romanasn-fake-ok"]
    assert (info.version, info.status) == ("1.0", "active")
    assert [e.name for e in pm.rules()] == ["fake_exposure"]
    assert pm.rules()[0].plugin.label == "romanasn-fake-ok 1.0"
    assert "romanasn_rules" in pm.hooks_of("romanasn-fake-ok")


def test_the_kernel_is_listed_first_and_nothing_loads_without_autoload(dists):
    dists("ok")
    pm = get_plugin_manager(autoload=False)
    assert [i.name for i in pm.plugin_infos()] == ["romanasn"]
    assert pm.rules() == ()


def test_autoload_can_be_disabled_by_the_environment(dists, monkeypatch):
    dists("ok")
    monkeypatch.setenv("ROMANASN_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "romanasn-fake-ok" not in _infos(get_plugin_manager())


def test_a_blocked_plugin_is_never_imported(dists):
    dists("broken")
    pm = get_plugin_manager(allow=["romanasn-fake-broken"], block=["romanasn_fake_broken"])
    assert _infos(pm)["romanasn-fake-broken"].status == "blocked"
    pm.check()  # a blocked broken pack is no error: it was never imported


def test_the_allow_list_comes_from_the_environment(dists, monkeypatch):
    dists("ok", "dup")
    monkeypatch.setenv("ROMANASN_PLUGINS", "romanasn-fake-dup")
    infos = _infos(get_plugin_manager())
    assert infos["romanasn-fake-dup"].status == "active"
    assert infos["romanasn-fake-ok"].status == "blocked"


def test_a_plugin_that_fails_to_import_is_named_with_its_version(dists):
    dists("broken")
    pm = get_plugin_manager(allow=["romanasn-fake-broken"])
    info = _infos(pm)["romanasn-fake-broken"]
    assert info.status == "failed" and "romanasn_module_that_does_not_exist" in info.error
    with pytest.raises(PluginError, match=r"romanasn-fake-broken 2\.1 failed to load"):
        pm.check()


def test_a_misspelled_hook_fails_at_start_up_naming_the_plugin(dists):
    dists("badhook")
    pm = get_plugin_manager(allow=["romanasn-fake-badhook"])
    with pytest.raises(PluginError, match=r"romanasn-fake-badhook 0\.3.*romanasn_rulez"):
        pm.check()


def test_duplicate_rule_names_name_both_distributions(dists):
    dists("ok", "dup")
    pm = get_plugin_manager(allow=["romanasn-fake-ok", "romanasn-fake-dup"])
    with pytest.raises(RuleError, match=r"'fake_exposure' is defined by both plugin") as caught:
        pm.rules()
    assert "romanasn-fake-dup 1.5" in str(caught.value) and "romanasn-fake-ok 1.0" in str(caught.value)


def test_an_exception_inside_a_hook_names_the_plugin(dists):
    dists("raising")
    pm = get_plugin_manager(allow=["romanasn-fake-raising"])
    with pytest.raises(PluginError, match=r"romanasn-fake-raising 0\.9 failed in romanasn_rules: "
                                          r"RuntimeError: the rule table is corrupt") as caught:
        pm.rules()
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert any("romanasn-fake-raising" in note for note in caught.value.__cause__.__notes__)


def _plugin(**hooks):
    module = types.ModuleType("plugin")
    for name, function in hooks.items():
        setattr(module, name, hookimpl(function))
    return module


def _rule(name="r1"):
    return Rule(name=name, asn_type="image2", level=2, group_by=("filename",),
                select=[isin("exposure_type", "WFI_IMAGE")], product_name=lambda g, c: "p")


@pytest.mark.parametrize("returned, message", [
    ("not a list", "expected a list"),
    ([{"name": "r1"}], "returned dict, expected Rule"),
])
def test_wrong_return_types_are_refused_naming_the_plugin(returned, message):
    pm = get_plugin_manager(autoload=False, plugins=[(_plugin(romanasn_rules=lambda: returned), "bad-pack")])
    with pytest.raises(PluginError, match=f"bad-pack unknown: .*{message}"):
        pm.rules()


def test_product_names_must_be_one_string_per_group():
    plugin = _plugin(romanasn_rules=lambda: [_rule()],
                     romanasn_product_names=lambda rule, groups: ["only-one"])
    pm = get_plugin_manager(autoload=False, plugins=[(plugin, "namer")])
    with pytest.raises(PluginError, match="one non-empty string per group"):
        pm.product_names(_rule(), [object(), object()], RunConfig())


def test_an_implementation_may_take_a_subset_of_the_arguments():
    seen = []
    plugin = _plugin(romanasn_match_constraints=lambda rule: seen.append(rule.name))
    pm = get_plugin_manager(autoload=False, plugins=[(plugin, "partial")])
    assert pm.match_constraints(_rule("abc"), RunConfig()) == []
    assert seen == ["abc"]


def test_unsafe_file_stems_are_refused():
    plugin = _plugin(romanasn_file_stem=lambda association: "../escape")
    pm = get_plugin_manager(autoload=False, plugins=[(plugin, "evil")])
    from romanasn.records import Association, Member, Product

    asn = Association(products=[Product("x", [Member("a.asdf")])])
    with pytest.raises(PluginError, match="evil unknown: romanasn_file_stem returned '../escape'"):
        pm.file_stem(asn, RunConfig())


def test_finalize_hooks_run_in_turn_and_must_return_associations():
    from romanasn.records import Association, Member, Product

    def dropping(name):
        return _plugin(romanasn_finalize=lambda associations: [a for a in associations if a.product_name != name])

    pm = get_plugin_manager(autoload=False, plugins=[(dropping("a"), "drop-a"), (dropping("c"), "drop-c")])
    made = [Association(products=[Product(n, [Member(f"{n}.asdf")])], asn_rule="r") for n in "abc"]
    assert [a.product_name for a in pm.finalize(made, RunConfig(), ["r"])] == ["b"]
    bad = get_plugin_manager(autoload=False, plugins=[(_plugin(romanasn_finalize=lambda: ["x"]), "bad")])
    with pytest.raises(PluginError, match="bad unknown: romanasn_finalize must return Associations"):
        bad.finalize(made, RunConfig(), ["r"])


def test_every_hook_spec_is_documented_with_its_version():
    specs = [getattr(hookspec, n) for n in dir(hookspec) if n.startswith("romanasn_")]
    assert len(specs) >= 10
    for spec in specs:
        assert spec.__doc__ and ".. versionadded::" in spec.__doc__, spec.__name__
        assert ":return:" in spec.__doc__ or "-> None" in str(spec.__annotations__.get("return")), spec.__name__


# -- the scope of the per-association hooks ----------------------------------------------------------------


def _with_imaging(**hooks):
    """The installed imaging pack beside a pack (``scoping 2.0``) implementing ``hooks``."""
    module = _plugin(**hooks)
    module.__version__ = "2.0"
    return get_plugin_manager(allow=["romanasn-wfi-imaging"], plugins=[(module, "scoping")])


@pytest.mark.parametrize("returned, message", [
    (["wfi_image_visti"], "romanasn_hook_scope names 'wfi_image_visti', which no installed pack defines as a rule;"
                          " did you mean wfi_image_visit"),
    ("wfi_image_visit", "romanasn_hook_scope returned str, expected a list"),
])
def test_a_bad_scope_is_refused_naming_the_plugin(returned, message):
    pm = _with_imaging(romanasn_hook_scope=lambda: returned, romanasn_file_stem=lambda association: None)
    with pytest.raises(PluginError, match=f"^plugin scoping 2.0: {message}"):
        pm.hook_scopes()


def test_per_association_hooks_are_called_for_the_rules_in_their_scope_alone():
    from romanasn.records import Association, Member, Product

    seen = []
    pm = _with_imaging(romanasn_hook_scope=lambda: ["wfi_image_visit"],
                       romanasn_file_stem=lambda association: f"{association.product_name}_mine",
                       romanasn_finalize=lambda associations: seen.append(associations) or associations[:1])
    unscoped = get_plugin_manager(allow=["romanasn-wfi-imaging"], plugins=[(_plugin(
        romanasn_file_stem=lambda association: "every_rule"), "unscoped")])
    assert pm.hook_scopes() == {"scoping": {"wfi_image_visit"}}
    assert unscoped.hook_scopes() == {"unscoped": None}
    made = [Association(products=[Product(n, [Member(f"{n}.asdf")])], asn_rule=rule)
            for n, rule in [("a", "wfi_image_visit"), ("b", "wfi_image_pass"), ("c", "wfi_image_visit")]]
    assert [pm.file_stem(a, RunConfig()) for a in made] == ["a_mine", "b_asn", "c_mine"]
    assert [unscoped.file_stem(a, RunConfig()) for a in made] == ["every_rule"] * 3
    finalized = pm.finalize(made, RunConfig(), ["wfi_image_visit", "wfi_image_pass"])
    assert seen == [[made[0], made[2]]] and finalized == [made[1], made[0]]


def test_a_scoped_finalize_returning_another_rules_association_is_named():
    from attrs import evolve
    from romanasn.records import Association, Member, Product

    pm = _with_imaging(romanasn_hook_scope=lambda: ["wfi_image_visit"],
                       romanasn_finalize=lambda associations: [evolve(a, asn_rule="wfi_image_full") for a in associations])
    made = [Association(products=[Product("a", [Member("a.asdf")])], asn_rule="wfi_image_visit")]
    with pytest.raises(PluginError, match=r"^plugin scoping 2.0: romanasn_finalize must return Associations, of the "
                                          r"rules whose associations it was given \(wfi_image_visit\)"):
        pm.finalize(made, RunConfig(), ["wfi_image_visit", "wfi_image_full"])


# -- hooks a pack adds (romanasn_addhooks) ---------------------------------------------------------------------


def _hooks_module():
    """A module of one hook specification, ``romanasn_fake_outlines`` (as a pack adds its own hooks)."""
    import pluggy

    module = types.ModuleType("fake_hookspec")

    @pluggy.HookspecMarker("romanasn")
    def romanasn_fake_outlines(size):
        """Outlines of ``size``."""

    module.romanasn_fake_outlines = romanasn_fake_outlines
    return module


def _adding(specs):
    adder = _plugin(romanasn_addhooks=lambda pluginmanager: pluginmanager.add_hookspecs(specs))
    adder.__version__ = "1.1"
    return adder


def _drawing(optional=True, name="romanasn_fake_outlines"):
    drawer = types.ModuleType("drawer")
    setattr(drawer, name, hookimpl(optionalhook=optional)(lambda size: [f"square {size}"]))
    drawer.__version__ = "0.5"
    return drawer


@pytest.mark.parametrize("order", ["adder first", "drawer first"])
def test_a_pack_adds_hooks_that_others_implement(order):
    pair = [(_adding(_hooks_module()), "adder"), (_drawing(), "drawer")]
    pm = get_plugin_manager(autoload=False, plugins=pair if order == "adder first" else pair[::-1])
    pm.check()
    assert [(f.item, f.plugin.label) for f in pm.records("romanasn_fake_outlines", str, size=3)] == [
        ("square 3", "drawer 0.5")]
    with pytest.raises(PluginError, match="drawer 0.5: romanasn_fake_outlines returned str, expected int"):
        pm.records("romanasn_fake_outlines", int, size=3)


def test_an_optional_hook_loads_without_the_pack_that_adds_it_but_a_misspelled_one_fails():
    get_plugin_manager(autoload=False, plugins=[(_drawing(), "drawer")]).check()
    for plugins in ([(_drawing(optional=False), "drawer")],
                    [(_adding(_hooks_module()), "adder"), (_drawing(optional=False, name="romanasn_fake_outlinez"),
                                                           "drawer")]):
        with pytest.raises(PluginError, match=r"plugin drawer 0\.5: unknown hook 'romanasn_fake_outline[sz]'"):
            get_plugin_manager(autoload=False, plugins=plugins).check()


def test_a_pack_whose_addhooks_fails_is_marked_failed():
    pm = get_plugin_manager(autoload=False, plugins=[(_adding(None), "adder")])
    info = _infos(pm)["adder"]
    assert info.status == "failed" and info.error.startswith("romanasn_addhooks failed: ")
    assert pm.get_plugin("adder") is None
    with pytest.raises(PluginError, match=r"plugin adder 1\.1 failed to load: romanasn_addhooks failed"):
        pm.check()
