"""``CommitmentGrid``: the matrix games with a finite menu of commitments."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mermaide  # noqa: F401  (registers the games)
from mermaide.envs import CommitmentGrid, simplex_grid


def test_simplex_grid_holds_every_commitment_in_steps_of_one_over_resolution():
    grid = simplex_grid(3, 10)
    assert grid.shape == (66, 3)
    assert np.allclose(grid.sum(1), 1.0)
    assert np.allclose(grid * 10, np.round(grid * 10))
    assert len({tuple(x) for x in grid}) == 66
    with pytest.raises(ValueError, match="resolution"):
        simplex_grid(3, 0)


@pytest.mark.parametrize("env_id", ["Mermaide/Stackelberg-v0", "Mermaide/RepeatedStackelberg-v0"])
def test_passes_gymnasiums_checker(env_id):
    with warnings.catch_warnings():  # "is different from the unwrapped version": it is meant to
        warnings.simplefilter("ignore", UserWarning)
        check_env(CommitmentGrid(gym.make(env_id), resolution=4), skip_render_check=True)


def test_action_k_plays_grid_commitment_k_with_its_intervention():
    A = np.array([[1.0, 0.0], [0.0, 1.0]])
    B = np.array([[0.0, 1.0], [1.0, 0.0]])
    env = CommitmentGrid(gym.make("Mermaide/Stackelberg-v0", game=(A, B),
                                  intervention_budget=1, intervention_cost=0.25), resolution=4)
    assert env.interventions and env.choices == 3
    assert env.action_space == gym.spaces.Discrete(5 * 3)
    for action in range(env.action_space.n):
        x, bonus = env.commitment(action)
        env.reset(seed=0)
        _, reward, _, _, info = env.step(action)
        assert np.allclose(info["strategy"], x)
        assert info["bonus_action"] == (-1 if bonus is None else bonus)
        j = info["agent_action"]
        assert reward == pytest.approx(x @ A[:, j] - (0.25 if bonus is not None else 0.0))


def test_budget_zero_leaves_interventions_out_and_bad_input_is_refused():
    env = CommitmentGrid(gym.make("Mermaide/Stackelberg-v0"), resolution=10)
    assert env.action_space == gym.spaces.Discrete(66)
    env.reset(seed=0)
    for bad in (66, -1, 1.0, True, np.bool_(True), np.array(2.0), "3"):
        with pytest.raises(ValueError, match="action must be an integer in"):
            env.step(bad)
    with pytest.raises(ValueError, match="action_type='weights'"):
        CommitmentGrid(gym.make("Mermaide/Stackelberg-v0", action_type="logits"))
    with pytest.raises(ValueError, match="matrix game"):
        CommitmentGrid(gym.make("Mermaide/Bandit-v0"))
    with pytest.raises(ValueError, match="interventions"):
        CommitmentGrid(gym.make("Mermaide/Stackelberg-v0"), interventions="yes")
