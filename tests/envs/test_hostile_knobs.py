"""Property tests: hostile knob values for every registered game, and the agent's side of the
bonus rules.

* Every numeric knob of every ``Mermaide/`` game (read from its constructor's signature, at
  collection time, so a game added to the registry is covered) refuses NaN, infinities,
  strings, lists, bools, complex numbers, huge and negative integers with a ``ValueError``
  naming the knob, or accepts the value and plays a valid episode; never an
  ``OverflowError`` or ``TypeError``. Every knob that is a choice among names refuses
  whatever is not a string (a list, an array, a number) the same way.
* Every parameter of every registered learner, given through ``agent_kwargs`` to a game's
  Gymnasium and vector forms, is refused when the env is made with a ``ValueError`` naming
  the learner and the parameter, or accepted and played.
* Bandit-v0 and RepeatedStackelberg-v0: a bonus is applied only while budget is left, charged
  exactly once at ``intervention_cost``, never beyond ``intervention_budget``; the agent
  receives its base reward plus the bonus exactly when the bonus was applied and it took the
  bonus action; the principal receives its value minus the cost.
"""

import inspect
import math
import re
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mermaide  # noqa: F401  (registers the games)
from mermaide.agents import AgentSpec
from mermaide.agents.base import learner_names, learner_parameters
from mermaide.envs.games import MatrixGame


def knobs_typed(pattern):
    """(env id, knob) for every knob of every registered mermaide game whose annotation
    matches ``pattern``."""
    found = []
    for env_id in sorted(i for i in gym.registry if i.startswith("Mermaide/")):
        signature = inspect.signature(load_env_creator(gym.registry[env_id].entry_point))
        for parameter in signature.parameters.values():
            if re.search(pattern, str(parameter.annotation)):
                found.append((env_id, parameter.name))
    return found


def numeric_knobs():
    """(env id, knob) for every knob typed int or float of every registered mermaide game."""
    return knobs_typed(r"\b(int|float)\b")


def choice_knobs():
    """(env id, knob) for every knob typed ``str`` alone: a choice among names."""
    return knobs_typed(r"^str$")


# What a careless or hostile caller passes for a number. Integers are small or huge, not in
# between: a mid-sized one (rows=10_000) is a legitimate, memory-hungry game, not bad input.
HOSTILE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, True, False, "x", "", "1", [1], [1.0, 2.0],
                     (), {}, 1j, 10**30, -10**30, 2**63, -1, -1.0, -0.5, 0, 0.0]),
    st.floats(min_value=-1e6, max_value=1e6),
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not math.isfinite(x)),
    st.integers(min_value=-5, max_value=5),
    st.text(max_size=3),
    st.lists(st.floats(allow_nan=True), max_size=2),
)


def plays_a_valid_episode(env):
    """A few seeded steps of random actions: finite rewards, observations in the space."""
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.action_space.seed(0)
    for _ in range(3):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert np.isfinite(reward)
        if terminated or truncated:
            break


@pytest.mark.parametrize(("env_id", "knob"), numeric_knobs())
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(value=HOSTILE)
# Always tried, whatever the draw: the values the issue names.
@example(value=math.nan)
@example(value=math.inf)
@example(value="x")
@example(value=[1])
@example(value=True)
@example(value=10**30)
@example(value=-1)
@example(value=np.int64(2**62))  # a step count whose episode length overflows numpy's int64
@example(value=sys.float_info.min)  # a temperature whose q / tau overflows
def test_a_hostile_knob_is_refused_by_name_or_plays(env_id, knob, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gymnasium's checker warns on odd spaces: not ours
        try:
            env = gym.make(env_id, **{knob: value})
        except ValueError as error:
            assert knob in str(error), f"{knob}={value!r}: {error}"
            return
        try:
            plays_a_valid_episode(env)
        finally:
            env.close()


@pytest.mark.parametrize(("env_id", "knob"), choice_knobs())
@pytest.mark.parametrize("value", [[1], ["weights"], np.array(3), np.array(["weights"]), 3, 1.5,
                                   True, None, b"weights", {}])
def test_a_choice_knob_refuses_what_is_not_a_name_by_name(env_id, knob, value):
    # A list or an array used to reach a dict lookup first: "unhashable type: 'list'".
    with pytest.raises(ValueError, match=f"^{knob} must be one of "):
        gym.make(env_id, **{knob: value})


def learner_parameter_cases():
    """(learner, parameter) for every parameter of every registered learner."""
    return [(learner, parameter) for learner in learner_names()
            for parameter in learner_parameters(learner) or ()]


LEARNER_HOSTILE = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, True, "x", "", [1], [1.0, 2.0], [[1.0]],
                     (), {}, None, 1j, 10**30, -10**30, -1, 0, 0.0, 2.0, np.array([0.5, 0.5]),
                     (0.0, 1.0), (1.0, 0.0), (0.0, math.nan), ("a", "b"), "beta", "gaussian"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(-2.0, 2.0), max_size=3),
)
# The forms a learner parameter reaches: the Gymnasium env (one agent) and the vector env (two,
# so that a per-agent array has two entries).
FORMS = {"gymnasium": lambda **knobs: gym.make("Mermaide/Bandit-v0", horizon=3, **knobs),
         "vector": lambda **knobs: gym.make_vec("Mermaide/Bandit-v0", num_envs=2, horizon=3,
                                                vectorization_mode="vector_entry_point",
                                                **knobs)}


@pytest.mark.parametrize(("learner", "parameter"), learner_parameter_cases())
@pytest.mark.parametrize("form", FORMS)
@settings(max_examples=25, deadline=None)
@given(value=LEARNER_HOSTILE)
@example(value="x")
@example(value=math.nan)
@example(value=[1])  # a per-agent array of one entry: the vector form has two agents
@example(value=[0.5, 0.5, 0.5])
def test_a_hostile_learner_parameter_is_refused_at_make_naming_it_or_plays(learner, parameter,
                                                                          form, value):
    try:
        env = FORMS[form](agent=learner, agent_kwargs={parameter: value})
    except ValueError as error:
        assert str(error).startswith(f"agent_kwargs for learner {learner!r}: "), str(error)
        assert parameter in str(error), f"{parameter}={value!r}: {error}"
        return
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(3):
        _, reward, _, _, _ = env.step(env.action_space.sample())
        assert np.all(np.isfinite(reward))


# --- the agent's side of the bonus ------------------------------------------------------------

BUDGETS = st.one_of(st.none(), st.integers(min_value=0, max_value=4))
COSTS = st.floats(min_value=0.0, max_value=2.0)
BONUSES = st.floats(min_value=0.01, max_value=3.0)


@settings(max_examples=40, deadline=None)
@given(budget=BUDGETS, cost=COSTS, bonus=BONUSES, seed=st.integers(0, 2**16),
       actions=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=8),
       rewards=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=3, max_size=3))
def test_the_bandit_pays_the_agent_exactly_the_applied_bonus(budget, cost, bonus, seed,
                                                             actions, rewards):
    spec = AgentSpec("ucb", {"beta": 0.5}, np.array(rewards), target=1)
    env = gym.make("Mermaide/Bandit-v0", n_arms=3, horizon=len(actions), agent=spec,
                   intervention_budget=budget, intervention_cost=cost, bonus=bonus,
                   reward_noise=0.0)
    env.reset(seed=seed)
    used = 0
    for action in actions:
        _, reward, _, _, info = env.step(action)
        applied = action > 0 and (budget is None or used < budget)
        used += applied
        arm = info["agent_action"]
        assert info["intervened"] == applied
        assert info["refused"] == (action > 0 and not applied)
        assert info["interventions_used"] == used and (budget is None or used <= budget)
        assert info["cost"] == (cost if applied else 0.0)
        paid = bonus if applied and action - 1 == arm else 0.0
        # reward_noise=0: what the agent observes is its base reward plus the bonus, if any.
        assert info["agent_reward"] == pytest.approx(rewards[arm] + paid, abs=1e-12)
        assert reward == pytest.approx(spec.principal_rewards[arm] - info["cost"], abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(budget=BUDGETS, cost=COSTS, bonus=BONUSES, seed=st.integers(0, 2**16),
       agent=st.sampled_from(["follower", "hedge", "best_response"]),
       rounds=st.lists(st.tuples(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=2),
                                 st.integers(min_value=-1, max_value=1)),
                       min_size=1, max_size=6))
def test_the_repeated_stackelberg_game_pays_the_agent_exactly_the_applied_bonus(
        budget, cost, bonus, seed, agent, rounds):
    rng = np.random.default_rng(seed)
    game = MatrixGame(rng.random((2, 2)), rng.random((2, 2)))
    env = gym.make("Mermaide/RepeatedStackelberg-v0", game=game, horizon=len(rounds),
                   agent=agent, intervention_budget=budget, intervention_cost=cost,
                   bonus=bonus)
    env.reset(seed=seed)
    used = 0
    for weights, bonus_action in rounds:
        requested = bonus_action >= 0
        action = env.unwrapped.encode_action(np.asarray(weights),
                                             bonus_action if requested else None)
        _, reward, _, _, info = env.step(action)
        applied = requested and (budget is None or used < budget)
        used += applied
        j, x = info["agent_action"], np.asarray(info["strategy"])
        assert info["intervened"] == applied
        assert info["refused"] == (requested and not applied)
        assert info["interventions_used"] == used and (budget is None or used <= budget)
        assert info["cost"] == (cost if applied else 0.0)
        # Payoffs are expected over the commitment x; the bonus is on the bonus action only.
        bonus_vector = np.zeros(2)
        if applied:
            bonus_vector[bonus_action] = bonus
        np.testing.assert_allclose(info["agent_payoffs"], x @ game.B + bonus_vector,
                                   atol=1e-12)
        assert info["agent_reward"] == pytest.approx(x @ game.B[:, j] + bonus_vector[j],
                                                     abs=1e-12)
        assert info["principal_value"] == pytest.approx(x @ game.A[:, j], abs=1e-12)
        assert reward == pytest.approx(info["principal_value"] - info["cost"], abs=1e-12)
