"""Property-based check of the bandit game's rules under random knobs and action sequences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mermaide.agents import learner_names
from mermaide.envs import BanditEnv


@st.composite
def games(draw):
    n_arms = draw(st.integers(2, 6))
    horizon = draw(st.integers(1, 40))
    knobs = dict(
        n_arms=n_arms,
        horizon=horizon,
        agent=draw(st.sampled_from(learner_names())),
        intervention_budget=draw(st.one_of(st.none(), st.integers(0, 12))),
        intervention_cost=draw(st.floats(0.0, 2.0)),
        bonus=draw(st.floats(0.01, 3.0)),
        observation_noise=draw(st.floats(0.0, 1.0)),
        reward_noise=draw(st.one_of(st.just("bernoulli"), st.floats(0.0, 1.0))),
        principal_observes=draw(st.sampled_from(["actions", "actions+rewards"])),
    )
    actions = draw(st.lists(st.integers(0, n_arms), min_size=horizon, max_size=horizon))
    return knobs, actions, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=150, deadline=None)
@given(games())
def test_game_rules_hold(game):
    knobs, actions, seed = game
    env = BanditEnv(**knobs)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    budget = knobs["intervention_budget"]
    used, charged, steps = 0, 0.0, 0
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        assert env.observation_space.contains(obs)
        if action == 0:
            assert not info["intervened"] and not info["refused"]
        else:
            assert info["intervened"] != info["refused"]
            assert info["refused"] == (budget is not None and used >= budget)
        used += info["intervened"]
        assert info["interventions_used"] == used
        assert budget is None or used <= budget
        expected_cost = knobs["intervention_cost"] if info["intervened"] else 0.0
        assert info["cost"] == pytest.approx(expected_cost)
        charged += info["cost"]
        target_hit = info["agent_action"] == info["target_action"]
        assert reward == pytest.approx(float(target_hit) - expected_cost)
        assert not truncated
        if terminated:
            break
    assert steps == knobs["horizon"] and terminated
    assert info["episode_cost"] == pytest.approx(charged)
    assert 0.0 <= info["target_rate"] <= 1.0
    assert np.isfinite(obs).all()
