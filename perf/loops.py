"""The per-agent Python loop that ``perf.py`` compares the batched core against.

This is the game written the way a user would write it without batching: one object per
agent holding (K,) numpy arrays, and a Python loop over the agents at every step. Each
learner repeats the update rule of its batched twin in ``mermaide/agents`` (same formulas,
same tie-breaking by a random priority per agent), so the comparison is between the same
learner logic run two ways, not between two algorithms. The game part of the loop is the
bandit step of ``BanditCore`` with its default knobs (unlimited budget, Gaussian reward noise,
a bonus on the principal's arm); it skips the observation and info bookkeeping that the
batched core does, which only favours the loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_TIE_SCALE = 1e-9
_UNTRIED = 1e12


def _priority(n_arms: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n_arms) * _TIE_SCALE


def _categorical(probabilities: np.ndarray, rng: np.random.Generator) -> int:
    cumulative = np.cumsum(probabilities)
    return min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")),
               len(probabilities) - 1)


class LoopUCB:
    feedback = "bandit"

    def __init__(self, n_arms: int, rng: np.random.Generator, beta: float = 1.0):
        self.beta, self.t = beta, 0
        self.counts, self.means = np.zeros(n_arms), np.zeros(n_arms)
        self.priority = _priority(n_arms, rng)

    def act(self, rng: np.random.Generator) -> int:
        if (self.counts == 0).any():
            index = np.where(self.counts == 0, _UNTRIED * (1.0 + self.priority), 0.0)
        else:
            bonus = np.sqrt(math.log(max(self.t, 1)) / self.counts)
            index = self.means + self.beta * bonus
        return int(np.argmax(index + self.priority))

    def update(self, action: int, reward: float, payoffs: np.ndarray | None) -> None:
        self.t += 1
        self.counts[action] += 1.0
        self.means[action] += (reward - self.means[action]) / self.counts[action]


class LoopEpsilonGreedy:
    feedback = "bandit"

    def __init__(self, n_arms: int, rng: np.random.Generator, epsilon: float = 0.1):
        self.epsilon, self.t = epsilon, 0
        self.counts, self.means = np.zeros(n_arms), np.zeros(n_arms)
        self.priority = _priority(n_arms, rng)

    def act(self, rng: np.random.Generator) -> int:
        explore = rng.random() < self.epsilon
        random_action = int(rng.integers(len(self.means)))
        return random_action if explore else int(np.argmax(self.means + self.priority))

    def update(self, action: int, reward: float, payoffs: np.ndarray | None) -> None:
        self.t += 1
        self.counts[action] += 1.0
        self.means[action] += (reward - self.means[action]) / self.counts[action]


class LoopGreedy(LoopEpsilonGreedy):
    def __init__(self, n_arms: int, rng: np.random.Generator):
        super().__init__(n_arms, rng, epsilon=0.0)


class LoopThompson:
    feedback = "bandit"

    def __init__(self, n_arms: int, rng: np.random.Generator):
        self.successes, self.failures = np.ones(n_arms), np.ones(n_arms)
        self.priority = _priority(n_arms, rng)

    def act(self, rng: np.random.Generator) -> int:
        return int(np.argmax(rng.beta(self.successes, self.failures) + self.priority))

    def update(self, action: int, reward: float, payoffs: np.ndarray | None) -> None:
        success = min(max(reward, 0.0), 1.0)
        self.successes[action] += success
        self.failures[action] += 1.0 - success


class LoopSoftmax:
    feedback = "bandit"

    def __init__(self, n_arms: int, rng: np.random.Generator, temperature: float = 0.1):
        self.temperature = temperature
        self.counts, self.means = np.zeros(n_arms), np.zeros(n_arms)

    def probabilities(self) -> np.ndarray:
        logits = self.means / self.temperature
        weights = np.exp(logits - logits.max())
        return weights / weights.sum()

    def act(self, rng: np.random.Generator) -> int:
        return _categorical(self.probabilities(), rng)

    def update(self, action: int, reward: float, payoffs: np.ndarray | None) -> None:
        self.counts[action] += 1.0
        self.means[action] += (reward - self.means[action]) / self.counts[action]


class LoopExp3:
    feedback = "bandit"

    def __init__(self, n_arms: int, rng: np.random.Generator, gamma: float = 0.1):
        self.gamma, self.log_weights = gamma, np.zeros(n_arms)
        self.last = np.full(n_arms, 1.0 / n_arms)

    def probabilities(self) -> np.ndarray:
        weights = np.exp(self.log_weights - self.log_weights.max())
        return (1.0 - self.gamma) * weights / weights.sum() + self.gamma / len(weights)

    def act(self, rng: np.random.Generator) -> int:
        self.last = self.probabilities()
        return _categorical(self.last, rng)

    def update(self, action: int, reward: float, payoffs: np.ndarray | None) -> None:
        estimate = reward / self.last[action]
        self.log_weights[action] += self.gamma * estimate / len(self.log_weights)


class LoopHedge:
    feedback = "full"

    def __init__(self, n_arms: int, rng: np.random.Generator, eta: float = 0.1):
        self.eta, self.log_weights = eta, np.zeros(n_arms)

    def probabilities(self) -> np.ndarray:
        weights = np.exp(self.log_weights - self.log_weights.max())
        return weights / weights.sum()

    def act(self, rng: np.random.Generator) -> int:
        return _categorical(self.probabilities(), rng)

    def update(self, action: int, reward: float, payoffs: np.ndarray | None) -> None:
        assert payoffs is not None
        self.log_weights += self.eta * payoffs


class LoopBestResponse:
    feedback = "full"

    def __init__(self, n_arms: int, rng: np.random.Generator):
        self.counts, self.means = 0.0, np.zeros(n_arms)
        self.priority = _priority(n_arms, rng)

    def act(self, rng: np.random.Generator) -> int:
        return int(np.argmax(self.means + self.priority))

    def update(self, action: int, reward: float, payoffs: np.ndarray | None) -> None:
        assert payoffs is not None
        self.counts += 1.0
        self.means += (payoffs - self.means) / self.counts


LOOP_LEARNERS: dict[str, Callable[[int, np.random.Generator], object]] = {
    "ucb": LoopUCB,
    "epsilon_greedy": LoopEpsilonGreedy,
    "greedy": LoopGreedy,
    "thompson": LoopThompson,
    "softmax": LoopSoftmax,
    "exp3": LoopExp3,
    "hedge": LoopHedge,
    "best_response": LoopBestResponse,
}


def run_loop_episode(kind: str, rewards: np.ndarray, targets: np.ndarray,
                     principal_actions: np.ndarray, rng: np.random.Generator,
                     reward_noise: float = 0.1, bonus: float = 1.0,
                     intervention_cost: float = 0.1) -> float:
    """Play ``len(principal_actions)`` steps of B games, one agent at a time.

    rewards: (B, K) base rewards; targets: (B,); principal_actions: (T, B) ints in [0, K].
    Returns the principal's total reward (so that the work cannot be optimised away).
    """
    n_agents, n_arms = rewards.shape
    agents = [LOOP_LEARNERS[kind](n_arms, rng) for _ in range(n_agents)]
    total = 0.0
    for step_actions in principal_actions:
        for i, agent in enumerate(agents):
            principal_action = int(step_actions[i])
            action = agent.act(rng)  # type: ignore[attr-defined]
            payoffs = None
            if agent.feedback == "full":  # type: ignore[attr-defined]
                payoffs = rewards[i] + reward_noise * rng.standard_normal(n_arms)
                reward = float(payoffs[action])
            else:
                reward = float(rewards[i, action]) + reward_noise * rng.standard_normal()
            if principal_action > 0:
                total -= intervention_cost
                if action == principal_action - 1:
                    reward += bonus
                if payoffs is not None:
                    payoffs[principal_action - 1] += bonus
            agent.update(action, reward, payoffs)  # type: ignore[attr-defined]
            total += float(action == targets[i])
    return total
