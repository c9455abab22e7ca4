"""The one definition of what an agent playing from outside a game sees."""

from __future__ import annotations

import numpy as np
import pytest

from mermaide.agents import AgentObservation, agent_observation_space


def test_layout_one_hot_of_last_action_received_reward_and_time_left() -> None:
    view = AgentObservation(2, 3, horizon=np.array([4.0, 2.0]))
    space = agent_observation_space(3)
    first = view.observation()
    np.testing.assert_array_equal(first, [[0, 0, 0, 0, 1], [0, 0, 0, 0, 1]])
    view.record(np.array([2, 0]), np.array([1.5, -0.25]))
    np.testing.assert_allclose(view.observation(), [[0, 0, 1, 1.5, 0.75], [1, 0, 0, -0.25, 0.5]])
    view.record(np.array([1, 1]), np.array([0.0, 0.5]))
    view.record(np.array([1, 1]), np.array([0.0, 0.5]))  # past the second agent's horizon
    obs = view.observation()
    np.testing.assert_allclose(obs[:, -1], [0.25, 0.0])
    assert obs.dtype == np.float32 and all(space.contains(row) for row in obs)
    view.reset()
    np.testing.assert_array_equal(view.observation(), first)


def test_observations_are_copies() -> None:
    view = AgentObservation(1, 2, horizon=5)
    obs = view.observation()
    view.record(np.array([1]), np.array([1.0]))
    assert obs[0, 1] == 0.0


@pytest.mark.parametrize("horizon", [0, np.inf, np.array([3.0, 4.0, 5.0])])
def test_bad_horizons_are_refused(horizon) -> None:
    with pytest.raises(ValueError, match="horizon must be a number >= 1"):
        AgentObservation(2, 3, horizon)
