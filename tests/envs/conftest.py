"""Shared set-up of the game tests: the textbook commitment game, the agent the two-player
bandit tests play against, and one simultaneous step of a two-player form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mermaide.agents import AgentSpec


@pytest.fixture
def commitment_matrices() -> tuple[list[list[float]], list[list[float]]]:
    """(A, B), the principal's and the agent's payoffs of the standard example where committing
    pays: Nash gives the principal 2, committing to (1/2, 1/2) gives it 3.5."""
    return [[2.0, 4.0], [1.0, 3.0]], [[1.0, 0.0], [0.0, 1.0]]


@pytest.fixture
def ucb_agent() -> AgentSpec:
    """A UCB agent over 4 arms: its best arm is 1 (0.9), the principal's target is arm 0."""
    return AgentSpec("ucb", {}, [0.2, 0.9, 0.4, 0.1], target=0)


@pytest.fixture
def play() -> Callable[[Any, Any, Any], tuple]:
    """``play(env, principal_action, agent_action)``: one step of a simultaneous two-player
    form, both players acting at once."""

    def step(env: Any, principal_action: Any, agent_action: Any) -> tuple:
        return env.step({"principal": principal_action, "agent": agent_action})

    return step
