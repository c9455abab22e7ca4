"""``Mermaide/IncentiveMDP-v0``: the follower answers the incentives with the soft-optimal
policy on reward + incentive, the principal pays for what the follower collects, the budget
scales an offer down, and every form plays the same game."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test, parallel_seed_test

import mermaide  # noqa: F401  (registers the games)
from mermaide.bilevel import (
    DTYPE,
    expected_return,
    occupancy,
    soft_value_iteration,
    upper_value,
    value_penalty,
)
from mermaide.envs import (
    IncentiveGame,
    IncentiveMDPEnv,
    IncentiveMDPVectorEnv,
    incentive_mdp_parallel,
)
from mermaide.envs.incentive_mdp import grid_transitions
from mermaide.principal import evaluate, make

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


@settings(max_examples=20, deadline=None)
@given(offer=st.lists(st.floats(0.0, 1.0, width=32), min_size=36, max_size=36),
       instance=st.integers(0, 50))
def test_the_follower_is_soft_optimal_on_reward_plus_incentive(offer, instance):
    env = IncentiveMDPEnv(instance=instance)
    env.reset()
    x = np.array(offer, dtype=np.float32)
    _, reward, _, _, info = env.step(x)
    policy = torch.tensor(info["policy"])
    np.testing.assert_allclose(policy.sum(-1).numpy(), 1.0, rtol=1e-12)
    game = env.game
    # The numpy follower against the torch model's penalty.
    mdp = env.bilevel_model().lower(torch.tensor(x, dtype=DTYPE).reshape(9, 4))
    assert abs(float(value_penalty(mdp, policy))) < 1e-8
    # The principal's value lies between its worst and best cell reward, less what it paid.
    paid = 0.1 * float((occupancy(mdp, policy) * mdp.rewards).sum()) - 0.1 * float(
        (occupancy(mdp, policy) * torch.tensor(game.follower_rewards)).sum())
    assert game.principal_rewards.min() - paid - 1e-9 <= reward
    assert reward <= game.principal_rewards.max() - paid + 1e-9


def test_make_vec_plays_like_single_envs_and_takes_games():
    vector = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", **SMALL)
    assert isinstance(vector.unwrapped, IncentiveMDPVectorEnv)
    games = [IncentiveGame.random(1, 2, 0.1, np.random.default_rng(i)) for i in range(3)]
    actions = np.random.default_rng(1).random((3, 8)).astype(np.float32)
    obs, _ = vector.reset(seed=0, options={"games": games})
    _, rewards, terminated, _, _ = vector.step(actions)
    assert terminated.all()
    for i, game in enumerate(games):
        single = IncentiveMDPEnv(**SMALL)
        single_obs, _ = single.reset(options={"game": game})
        np.testing.assert_array_equal(obs[i], single_obs)
        assert rewards[i] == pytest.approx(single.step(actions[i])[1], rel=1e-12)


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


def test_pettingzoo_parallel_api_and_seed_tests_pass():
    parallel_api_test(incentive_mdp_parallel(**SMALL), num_cycles=20)
    parallel_seed_test(lambda: incentive_mdp_parallel(**SMALL), num_cycles=20)


def test_an_agent_answering_the_soft_optimum_is_the_built_in_follower():
    env = incentive_mdp_parallel(**SMALL)
    single = IncentiveMDPEnv(**SMALL)
    single.reset()
    x = np.array([0.1, 0.1, 0.1, 0.0, 0.0, 0.0, 0.0, 0.3], dtype=np.float32)
    _, reward, _, _, info = single.step(x)
    env.reset(seed=0)
    env.step({"principal": x, "agent": np.zeros(8, np.float32)})
    _, rewards, *_ = env.step({"principal": x, "agent": info["policy"].ravel()
                               .astype(np.float32)})
    assert rewards["principal"] == pytest.approx(reward, abs=1e-6)
    assert env.game_info["follower_gap"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name, kwargs", [
    ("reinforce", {"policy": "mlp", "episodes_per_batch": 32}),
    ("ppo", {"n_steps": 32, "batch_size": 16}),
])
def test_model_free_principals_train_and_play_unchanged(name, kwargs):
    principal = make(name, **kwargs)
    principal.meta_train(lambda: gym.make(ENV_ID, **SMALL), None, 256, 0)
    stats = evaluate(principal, gym.make(ENV_ID, **SMALL), episodes=2, seed=0)
    assert np.all(np.isfinite(stats.returns))
