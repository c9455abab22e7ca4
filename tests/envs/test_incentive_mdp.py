"""``Mermaide/IncentiveMDP-v0``: the grid's dynamics, the principal pays for what the follower
collects, the budget scales an offer down, and the model pays what the game pays. What it
shares with ``Mermaide/StackelbergMarkov-v0`` (the follower soft-optimal on reward +
incentive, every form plays the same game) is tested on both in ``test_bilevel_forms.py``."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import mermaide  # noqa: F401  (registers the games)
from mermaide.bilevel import (
    DTYPE,
    expected_return,
    soft_value_iteration,
    upper_value,
)
from mermaide.envs import IncentiveGame, IncentiveMDPEnv
from mermaide.envs.incentive_mdp import grid_transitions

ENV_ID = "Mermaide/IncentiveMDP-v0"
SMALL = {"rows": 1, "cols": 2, "instance": 2}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_check_env_passes_without_a_warning():
    for knobs in ({}, SMALL, {"incentive_budget": 0.5, "slip": 0.0}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(IncentiveMDPEnv(**knobs), skip_render_check=True)


def test_the_grid_moves_and_slips():
    P = grid_transitions(2, 2, 0.2)
    np.testing.assert_allclose(P.sum(-1), 1.0)
    # From the top-left cell, "right" reaches cell 1 with 0.8 + 0.2 / 4; "up" bumps the border.
    assert P[0, 3, 1] == pytest.approx(0.85)
    assert P[0, 0, 0] == pytest.approx(0.8 + 0.2 * 2 / 4)


def test_no_incentive_pays_the_principal_its_reward_for_the_free_follower():
    env = IncentiveMDPEnv(**SMALL)
    _, info = env.reset(seed=0)
    game = info["game"]
    _, reward, terminated, _, step_info = env.step(np.zeros(8, dtype=np.float32))
    model = env.bilevel_model()
    zero = model.initial_parameters()
    mdp = model.lower(zero)
    free = soft_value_iteration(mdp).policy
    u = torch.tensor(game.principal_rewards)
    assert reward == pytest.approx(0.1 * float(expected_return(mdp, free, u)), rel=1e-6)
    assert terminated and step_info["incentive_total"] == 0.0


def test_the_principal_pays_for_the_incentives_the_follower_collects():
    x = np.full(8, 0.2, dtype=np.float32)
    paid = {}
    for cost in (0.0, 1.0):
        env = IncentiveMDPEnv(intervention_cost=cost, **SMALL)
        env.reset()
        paid[cost] = env.step(x)[1]
    # Every step of the follower collects 0.2, so the cost is 0.2 per normalised step.
    assert paid[0.0] - paid[1.0] == pytest.approx(0.2, rel=1e-6)


def test_an_offer_beyond_the_budget_is_scaled_down_and_flagged():
    env = IncentiveMDPEnv(incentive_budget=0.8, **SMALL)
    env.reset()
    _, _, _, _, info = env.step(np.full(8, 0.5, dtype=np.float32))
    assert info["refused"] and info["incentive_total"] == pytest.approx(0.8)
    np.testing.assert_allclose(info["incentives"], 0.1)
    env.reset()
    assert not env.step(np.full(8, 0.05, dtype=np.float32))[4]["refused"]


def test_the_model_is_public_through_wrappers_and_pays_what_the_game_pays():
    env = gym.make(ENV_ID, **SMALL)
    env.reset(seed=0)
    model = env.get_wrapper_attr("bilevel_model")()
    x = torch.tensor(np.random.default_rng(0).random((2, 4)), dtype=DTYPE)
    _, reward, _, _, info = env.step(model.action(x))
    answer = soft_value_iteration(model.lower(x)).policy
    assert float(upper_value(model, x, answer)) == pytest.approx(reward, rel=1e-5)
    np.testing.assert_allclose(info["policy"], answer.numpy(), rtol=1e-5)
    assert torch.equal(model.project(torch.full((2, 4), 3.0)), torch.ones(2, 4, dtype=DTYPE))


def test_bad_knobs_games_and_actions_are_refused_by_name():
    for knobs, name in (({"tau": -1.0}, "tau"), ({"gamma": 1.0}, "gamma"),
                        ({"rows": 0}, "rows"), ({"slip": 1.5}, "slip"),
                        ({"max_incentive": 0.0}, "max_incentive"),
                        ({"incentive_budget": 0.0}, "incentive_budget"),
                        ({"intervention_cost": -0.1}, "intervention_cost")):
        with pytest.raises(ValueError, match=name):
            IncentiveMDPEnv(**knobs)
    env = IncentiveMDPEnv(**SMALL)
    env.reset()
    with pytest.raises(ValueError, match="action must be in"):
        env.step(np.full(8, 1.5, dtype=np.float32))
    with pytest.raises(ValueError, match="IncentiveGame of shape"):
        env.reset(options={"game": IncentiveGame.random(2, 2, 0.1, np.random.default_rng(0))})
