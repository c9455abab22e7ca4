"""``Mermaide/StackelbergMarkov-v0``: the follower's answer is the soft-optimal policy of the MDP
the commitment induces, the one-state game is the bimatrix game, and every form plays the
same game."""

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
from mermaide.bilevel import DTYPE, soft_value_iteration, upper_value, value_penalty
from mermaide.envs import (
    MarkovGame,
    StackelbergMarkovEnv,
    StackelbergMarkovVectorEnv,
    solve,
    stackelberg_markov_parallel,
)
from mermaide.principal import evaluate, make

ENV_ID = "Mermaide/StackelbergMarkov-v0"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_check_env_passes_without_a_warning():
    for knobs in ({}, {"game": (np.eye(2), 1.0 - np.eye(2))}, {"n_states": 1}):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_env(StackelbergMarkovEnv(**knobs), skip_render_check=True)


def test_one_state_game_is_the_bimatrix_game(commitment_matrices):
    A, B = (np.array(m) / 4.0 for m in commitment_matrices)
    env = gym.make(ENV_ID, game=(A, B), tau=0.05)
    _, info = env.reset(seed=0)
    assert info["equilibrium_value"] == pytest.approx(solve(A, B).value)
    x = np.array([0.3, 0.7])
    _, reward, terminated, truncated, step_info = env.step(x.astype(np.float32))
    response = torch.softmax(torch.tensor(x @ B / 0.05), -1).numpy()
    assert reward == pytest.approx(float(x @ A @ response), rel=1e-5)
    assert terminated and not truncated
    np.testing.assert_allclose(step_info["policy"][0], response, rtol=1e-5)


def test_the_soft_answer_approaches_the_stackelberg_value_as_tau_falls(commitment_matrices):
    """Committing just inside the equilibrium's best-response region earns the leader the
    equilibrium value in the limit tau -> 0."""
    A, B = (np.array(m) / 4.0 for m in commitment_matrices)
    solution = solve(A, B)
    assert solution.response == 1  # x1 >= x0 makes the agent answer 1
    x = solution.strategy + np.array([-0.01, 0.01])  # into the region of response 1
    gaps = []
    for tau in (0.1, 0.01, 0.001):
        env = StackelbergMarkovEnv(game=(A, B), tau=tau)
        env.reset()
        gaps.append(abs(env.step(x.astype(np.float32))[1] - solution.value))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.01


def test_the_model_is_public_through_wrappers_and_pays_what_the_game_pays():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    model = env.get_wrapper_attr("bilevel_model")()
    logits = torch.tensor(np.random.default_rng(0).normal(size=(3, 2)), dtype=DTYPE)
    _, reward, _, _, info = env.step(model.action(logits))
    mdp = model.lower(logits)
    answer = soft_value_iteration(mdp).policy
    assert float(upper_value(model, logits, answer)) == pytest.approx(reward, rel=1e-5)
    np.testing.assert_allclose(info["strategy"], torch.softmax(logits, -1).numpy(), rtol=1e-6)


@settings(max_examples=20, deadline=None)
@given(weights=st.lists(st.floats(0.0, 1.0, width=32), min_size=6, max_size=6),
       instance=st.integers(0, 50))
def test_the_follower_is_soft_optimal_and_the_value_bounded(weights, instance):
    env = StackelbergMarkovEnv(instance=instance)
    env.reset()
    _, reward, _, _, info = env.step(np.array(weights, dtype=np.float32))
    policy = torch.tensor(info["policy"])
    np.testing.assert_allclose(policy.sum(-1).numpy(), 1.0, rtol=1e-12)
    strategy = torch.tensor(info["strategy"])
    np.testing.assert_allclose(strategy.sum(-1).numpy(), 1.0, rtol=1e-12)
    game = env.game
    assert game.leader_payoffs.min() - 1e-9 <= reward <= game.leader_payoffs.max() + 1e-9
    # The numpy follower against the torch model's penalty: log-strategy logits play x.
    mdp = env.bilevel_model().lower(torch.log(strategy))
    assert abs(float(value_penalty(mdp, policy))) < 1e-8
    assert info["follower_gap"] == 0.0


def test_make_vec_plays_like_single_envs_and_takes_games():
    vector = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point")
    assert isinstance(vector.unwrapped, StackelbergMarkovVectorEnv)
    games = [MarkovGame.random(3, 2, 2, np.random.default_rng(i)) for i in range(3)]
    actions = np.random.default_rng(1).random((3, 6)).astype(np.float32)
    obs, _ = vector.reset(seed=0, options={"games": games})
    _, rewards, terminated, _, _ = vector.step(actions)
    assert terminated.all()
    for i, game in enumerate(games):
        single = StackelbergMarkovEnv()
        single_obs, _ = single.reset(options={"game": game})
        np.testing.assert_array_equal(obs[i], single_obs)
        assert rewards[i] == pytest.approx(single.step(actions[i])[1], rel=1e-12)
    _, rewards, terminated, _, _ = vector.step(actions)  # next-step autoreset
    assert not terminated.any() and np.all(rewards == 0.0)


def test_bad_knobs_games_and_actions_are_refused_by_name():
    for knobs, name in (({"tau": 0.0}, "tau"), ({"gamma": 1.0}, "gamma"),
                        ({"n_states": 0}, "n_states"), ({"game": "chess"}, "game"),
                        ({"game": (np.eye(2), np.eye(3))}, "game"),
                        ({"instance": -1}, "instance")):
        with pytest.raises(ValueError, match=name):
            StackelbergMarkovEnv(**knobs)
    env = StackelbergMarkovEnv()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(np.zeros(6, dtype=np.float32))
    env.reset()
    with pytest.raises(ValueError, match="action must be in"):
        env.step(np.full(6, 2.0, dtype=np.float32))
    with pytest.raises(ValueError, match="MarkovGame of shape"):
        env.reset(options={"game": MarkovGame.random(2, 2, 2, np.random.default_rng(0))})
    with pytest.raises(ValueError, match="transitions"):
        MarkovGame(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.full((1, 2, 2, 1), 0.5),
                   np.ones(1))


def test_pettingzoo_parallel_api_and_seed_tests_pass():
    parallel_api_test(stackelberg_markov_parallel(), num_cycles=20)
    parallel_seed_test(lambda: stackelberg_markov_parallel(), num_cycles=20)


def test_an_agent_answering_the_soft_optimum_is_the_built_in_follower():
    env = stackelberg_markov_parallel()
    single = StackelbergMarkovEnv()
    single.reset()
    x = np.array([0.2, 0.8, 0.5, 0.5, 1.0, 0.0], dtype=np.float32)
    _, reward, _, _, info = single.step(x)
    env.reset(seed=0)
    agent_dim = env.action_space("agent").shape
    obs, rewards, *_ = env.step({"principal": x, "agent": np.zeros(agent_dim, np.float32)})
    assert rewards == {"principal": 0.0, "agent": 0.0} and obs["agent"][0] == 1.0
    answer = info["policy"].ravel().astype(np.float32)
    _, rewards, terms, _, _ = env.step({"principal": x, "agent": answer})
    assert all(terms.values()) and not env.agents
    assert rewards["principal"] == pytest.approx(reward, abs=1e-6)
    assert env.game_info["follower_gap"] == pytest.approx(0.0, abs=1e-6)
    env.reset(seed=0)
    env.step({"principal": x, "agent": answer})
    env.step({"principal": x, "agent": np.ones(agent_dim, np.float32)})
    assert env.game_info["follower_gap"] > 1e-3


@pytest.mark.parametrize("name, kwargs", [
    ("reinforce", {"policy": "mlp", "episodes_per_batch": 32}),
    ("ppo", {"n_steps": 32, "batch_size": 16}),
])
def test_model_free_principals_train_and_play_unchanged(name, kwargs):
    principal = make(name, **kwargs)
    principal.meta_train(lambda: gym.make(ENV_ID), None, 256, 0)
    stats = evaluate(principal, gym.make(ENV_ID), episodes=2, seed=0)
    assert np.all(np.isfinite(stats.returns))
