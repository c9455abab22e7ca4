"""One shape for every game: each game's knobs written once (a ``Knobs`` subclass) and shared by
its forms, one validator, PettingZoo's module names, and no import circle among the games."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import mermaide  # noqa: F401  (registers the games)
from mermaide.envs import bandit, repeated_stackelberg, stackelberg
from mermaide.envs.bandit import BanditKnobs
from mermaide.envs.games import MatrixGame
from mermaide.envs.knobs import OBSERVES_PAYOFFS, Knobs
from mermaide.envs.parallel import FOLLOWER_KNOBS
from mermaide.envs.repeated_stackelberg import RepeatedStackelbergCore, RepeatedStackelbergKnobs
from mermaide.envs.stackelberg import StackelbergKnobs

GAMES = [
    (BanditKnobs, bandit.BanditEnv, bandit.BanditVectorEnv, bandit.BanditParallelEnv, ()),
    (StackelbergKnobs, stackelberg.StackelbergEnv, stackelberg.StackelbergVectorEnv,
     stackelberg.StackelbergAECEnv, FOLLOWER_KNOBS),
    (RepeatedStackelbergKnobs, repeated_stackelberg.RepeatedStackelbergEnv,
     repeated_stackelberg.RepeatedStackelbergVectorEnv,
     repeated_stackelberg.RepeatedStackelbergParallelEnv, FOLLOWER_KNOBS),
]


def knob_names(form: type) -> list[str]:
    return list(inspect.signature(form).parameters)


@pytest.mark.parametrize("knobs_class,single,vector,two_player,follower_only", GAMES)
def test_every_form_of_a_game_takes_the_knobs_of_its_dataclass(
        knobs_class, single, vector, two_player, follower_only) -> None:
    names = [f.name for f in dataclasses.fields(knobs_class) if f.init]
    assert set(knob_names(single)) == set(names)
    assert knob_names(vector) == ["num_envs", *knob_names(single)]
    assert knob_names(two_player) == [n for n in knob_names(single) if n not in follower_only]
    defaults = {f.name: f.default for f in dataclasses.fields(knobs_class) if f.init}
    assert {name: p.default for name, p in inspect.signature(single).parameters.items()} \
        == defaults
    assert single().knobs == knobs_class()


@pytest.mark.parametrize("knobs_class,single,vector,two_player,follower_only", GAMES)
def test_the_knobs_refuse_bad_values_the_same_way_in_every_form(
        knobs_class, single, vector, two_player, follower_only) -> None:
    for form in (knobs_class, single, vector, two_player):
        with pytest.raises(ValueError, match="intervention_cost"):
            form(intervention_cost=-1.0)
        with pytest.raises(ValueError, match="bonus"):
            form(bonus=0.0)
    for name in follower_only:
        with pytest.raises(TypeError, match=name):
            two_player(**{name: getattr(knobs_class(), name)})


def test_one_validator_checks_visibility_against_what_each_game_allows() -> None:
    assert Knobs(principal_observes=OBSERVES_PAYOFFS).principal_observes == OBSERVES_PAYOFFS
    assert RepeatedStackelbergKnobs(principal_observes=OBSERVES_PAYOFFS).principal_observes \
        == OBSERVES_PAYOFFS
    with pytest.raises(ValueError, match="principal_observes"):
        BanditKnobs(principal_observes=OBSERVES_PAYOFFS)
    with pytest.raises(ValueError, match="principal_observes"):
        Knobs(principal_observes="everything")


def test_the_one_round_game_fixes_its_horizon_and_agent() -> None:
    knobs = StackelbergKnobs()
    assert (knobs.horizon, knobs.agent, knobs.intervention_budget) == (1, None, 0)
    with pytest.raises(TypeError, match="horizon"):
        StackelbergKnobs(horizon=5)  # type: ignore[call-arg]


@pytest.mark.parametrize("module,names", [
    (bandit, ("env", "parallel_env", "raw_env")),
    (repeated_stackelberg, ("env", "parallel_env", "raw_env")),
    (stackelberg, ("env", "raw_env")),
])
def test_each_game_module_has_pettingzoo_s_names(module, names) -> None:
    for name in names:
        assert callable(getattr(module, name)), name
    game = module.env()
    game.reset(seed=0)
    assert game.unwrapped.metadata["name"].startswith("mermaide_")


@pytest.mark.parametrize("env_id,module", [
    ("Mermaide/Bandit-v0", "mermaide.envs.bandit"),
    ("Mermaide/Stackelberg-v0", "mermaide.envs.stackelberg"),
    ("Mermaide/RepeatedStackelberg-v0", "mermaide.envs.repeated_stackelberg"),
])
def test_each_registration_points_into_its_game_s_module(env_id: str, module: str) -> None:
    spec = gym.spec(env_id)
    for entry_point in (spec.entry_point, spec.vector_entry_point):
        assert isinstance(entry_point, str) and entry_point.startswith(module + ":")
        name = entry_point.split(":")[1]
        assert inspect.isclass(getattr(importlib.import_module(module), name))


def test_the_core_reports_the_budget_through_public_attributes() -> None:
    core = RepeatedStackelbergCore((2, 2), 3, 2, Knobs(intervention_budget=1), 1.0)
    rng = np.random.default_rng(0)
    core.reset([MatrixGame(np.eye(2), np.eye(2))] * 2, rng)
    np.testing.assert_array_equal(core.can_intervene(), [True, True])
    core.step(np.full((2, 2), 0.5), np.array([0, -1]), rng)
    np.testing.assert_array_equal(core.budget_used, [1, 0])
    np.testing.assert_array_equal(core.can_intervene(), [False, True])


def test_the_games_import_each_other_without_a_circle() -> None:
    package = Path(importlib.import_module("mermaide.envs").__file__).parent
    graph: dict[str, set[str]] = {}
    for path in package.glob("*.py"):
        if path.stem == "__init__":
            continue
        tree = ast.parse(path.read_text())
        graph[path.stem] = {node.module.rsplit(".", 1)[1] for node in ast.walk(tree)
                            if isinstance(node, ast.ImportFrom) and node.module
                            and node.module.startswith("mermaide.envs.")}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import circle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for imported in graph.get(module, ()):
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


@pytest.mark.parametrize("budget", [float("inf"), float("nan"), "10", [3], True, -1, 2.5])
@pytest.mark.parametrize("game", ["Mermaide/Bandit-v0", "Mermaide/RepeatedStackelberg-v0"])
def test_a_bad_budget_is_refused_naming_the_knob(game, budget):
    with pytest.raises(ValueError, match="intervention_budget must be None or an integer >= 0"):
        gym.make(game, intervention_budget=budget)
