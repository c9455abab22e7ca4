"""``Mermaide/StackelbergMarkov-v0``: the one-state game is the bimatrix game, its soft answer
approaches the Stackelberg value as tau falls, and the model pays what the game pays. What it
shares with ``Mermaide/IncentiveMDP-v0`` (the soft-optimal follower, every form plays the same
game) is tested on both in ``test_bilevel_forms.py``."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import mermaide  # noqa: F401  (registers the games)
from mermaide.bilevel import DTYPE, soft_value_iteration, upper_value
from mermaide.envs import MarkovGame, StackelbergMarkovEnv, solve

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
