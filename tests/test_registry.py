"""The one registry mechanism behind learners, population presets and principals."""

import pickle
import sys

import pytest

from mermaide import agents, principal
from mermaide.registry import Registry, UnknownNameError


def double(x):
    return 2 * x


@pytest.fixture
def lazy_module(tmp_path, monkeypatch):
    """A module on sys.path that nothing has imported yet; removed again afterwards."""
    name = "registry_lazy_entry"
    (tmp_path / f"{name}.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_lazy_entry_points_import_on_first_use(lazy_module):
    registry = Registry("thing")
    registry.register("triple", f"{lazy_module}:triple")
    assert lazy_module not in sys.modules and "triple" in registry
    assert registry.get("triple")(2) == 6
    assert lazy_module in sys.modules
    assert registry.get("triple") is sys.modules[lazy_module].triple


def test_objects_and_entry_points_are_looked_up_alike(lazy_module):
    registry = Registry("thing")
    registry.register("double", double)
    registry.register("triple", f"{lazy_module}:triple")
    assert registry.lookup("double") == (double, None)
    assert registry.lookup("triple")[0](1) == 3
    assert registry.names() == ["double", "triple"]


def test_prefix_families_hand_back_the_rest_of_the_name():
    registry = Registry("thing")
    registry.register("sb3", double)
    registry.register_prefix("sb3:", str.upper)
    registry.register_prefix("sb3:x-", str.lower)
    assert registry.lookup("sb3:PPO") == (str.upper, "PPO")
    assert registry.lookup("sb3:x-A2C") == (str.lower, "A2C")  # the longest prefix wins
    assert registry.lookup("sb3") == (double, None)  # an exact name wins over a family
    assert "sb3:anything" in registry and "sb4:PPO" not in registry and 3 not in registry
    assert registry.names() == ["sb3", "sb3:<name>", "sb3:x-<name>"]
    assert registry.names(families=False) == ["sb3"]
    dotted = Registry("thing", placeholder="<...>")
    dotted.register_prefix("sb3:", str.upper)
    assert dotted.names() == ["sb3:<...>"]
    with pytest.raises(UnknownNameError):
        registry.get("sb3:PPO")  # get() is for exact names only


def test_one_error_type_lists_the_known_names():
    registry = Registry("thing", hint="; or ask nicely")
    registry.register("b", double)
    registry.register("a", double)
    registry.register_prefix("fam:", double)
    expected = "unknown thing 'nope'; known things: a, b, fam:<name>; or ask nicely"
    for lookup in (registry.get, registry.lookup):
        with pytest.raises(UnknownNameError) as caught:
            lookup("nope")
        assert str(caught.value) == expected  # not quoted, as a bare KeyError's would be
        assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    with pytest.raises(UnknownNameError, match=r"unknown thing \['a'\]"):
        registry.lookup(["a"])  # an unhashable non-name is still just unknown
    error = pickle.loads(pickle.dumps(registry.unknown("nope")))  # crosses worker processes
    assert isinstance(error, UnknownNameError) and str(error) == expected


def test_import_paths_only_where_allowed():
    closed, open_ = Registry("thing"), Registry("thing", import_paths=True)
    with pytest.raises(UnknownNameError, match=r"unknown thing 'tests\.test_registry:double'"):
        closed.lookup("tests.test_registry:double")
    assert open_.lookup("tests.test_registry:double") == (double, None)
    assert "tests.test_registry:double" not in open_  # membership never imports
    with pytest.raises(UnknownNameError, match=r"'tests.test_registry:missing' \(module "
                                               r"'tests.test_registry' has no attribute"):
        open_.lookup("tests.test_registry:missing")
    with pytest.raises(UnknownNameError, match="cannot import module 'no_such_module'"):
        open_.lookup("no_such_module:thing")


def test_registration_rules():
    registry = Registry("thing")
    registry.register("a", double)
    with pytest.raises(ValueError, match="thing name 'a' is already registered"):
        registry.register("a", str.upper)
    assert registry.get("a") is double  # the first registration stands
    for bad in ("", "a:b", 3):
        with pytest.raises(ValueError, match="thing name must be a non-empty string without"):
            registry.register(bad, double)
    registry.register_prefix("fam:", double)
    with pytest.raises(ValueError, match="thing prefix 'fam:' is already registered"):
        registry.register_prefix("fam:", double)
    with pytest.raises(ValueError, match="thing prefix must be a non-empty string"):
        registry.register_prefix("", double)
    with pytest.raises(ValueError, match="must read 'module:attribute', got 'no_colon'"):
        registry.register("b", "no_colon")


def test_a_broken_registered_entry_point_is_not_an_unknown_name():
    registry = Registry("thing")
    registry.register("broken", "no_such_module:thing")
    with pytest.raises(ValueError, match="thing 'broken' cannot be loaded: cannot") as caught:
        registry.get("broken")
    assert not isinstance(caught.value, UnknownNameError)


def test_the_package_registries_share_the_error_type():
    for make, name, fragment in (
        (agents.make, "ucbb", "unknown learner 'ucbb'; known learners: .*ucb.*sb3:<name>"),
        (agents.population, "nope", "unknown population 'nope'; known populations: .*train"),
        (principal.make, "nope", "unknown principal 'nope'; known principals: .*sb3:<...>"),
    ):
        with pytest.raises(UnknownNameError, match=fragment):
            make(name)
    assert "sb3:<...>" in principal.principal_names()  # as the README shows it
    assert "sb3:<name>" not in agents.learner_names()
