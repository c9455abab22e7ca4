"""The batched learner interface and the learner registry.

Every learner holds the state of B independent agents over K actions as (B, K) numpy arrays
and advances all of them with a handful of vectorised operations: there is no Python loop
over agents anywhere in a learner. A single environment is simply the B=1 case.

Parameters (``beta``, ``epsilon``, ...) may be scalars or arrays of shape (B,), so one learner
object can hold a batch of agents of the same kind with different parameters, which is what a
population of agents needs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar, cast, runtime_checkable

import numpy as np

from mermaide.checks import check_numbers
from mermaide.registry import Registry

Feedback = Literal["bandit", "full"]


@runtime_checkable
class Learner(Protocol):
    """A batch of B learning agents choosing among K actions.

    ``feedback`` says what a learner needs after each step: ``"bandit"`` learners use only the
    reward of the action they took; ``"full"`` learners also need ``payoffs``, the (B, K)
    rewards every action would have earned this step (a game passes them only to learners
    that ask, because drawing them costs time).
    """

    feedback: Feedback

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        """Start B fresh agents over K actions; ``rng`` draws any per-agent random state."""
        ...

    def act(self, rng: np.random.Generator) -> np.ndarray:
        """Choose one action per agent: an int array of shape (B,)."""
        ...

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        """Learn from the actions taken (B,), the rewards received (B,) and, for full-feedback
        learners, the payoffs of every action (B, K). The actions are ints in [0, K), as
        ``act`` returns them (they are trusted, not checked, in this hot path)."""
        ...


# The learners by name; families named by a prefix and a free suffix, e.g. "sb3:PPO" for any
# saved stable-baselines3 model, whose factory receives the whole name, then the parameters.
_LEARNERS: Registry[Callable[..., Learner]] = Registry("learner")

L = TypeVar("L")


def register_learner(name: str) -> Callable[[L], L]:
    """Class decorator: make a learner available as ``mermaide.agents.make(name, ...)``."""

    def decorator(cls: L) -> L:
        _LEARNERS.register(name, cast(Callable[..., Learner], cls))
        return cls

    return decorator


def register_learner_prefix(prefix: str, factory: Callable[..., Learner]) -> None:
    """Make every name ``prefix + suffix`` buildable as ``factory(name, **params)``."""
    _LEARNERS.register_prefix(prefix, factory)


def learner_names() -> list[str]:
    """The registered learner names, sorted (prefix families not included)."""
    return _LEARNERS.names(families=False)


def is_learner_name(name: str) -> bool:
    """Whether ``make(name, ...)`` knows the name: a registered learner or a prefix family."""
    return name in _LEARNERS


def make(name: str, **params: object) -> Learner:
    """Build a learner by name, e.g. ``make("ucb", beta=0.5)`` or
    ``make("sb3:PPO", path="agent.zip", horizon=200)``; an unknown name raises
    ``mermaide.registry.UnknownNameError`` (a ``KeyError``) listing the known ones."""
    factory, rest = _LEARNERS.lookup(name)
    return factory(**params) if rest is None else factory(name, **params)


def learner_parameters(name: str) -> tuple[str, ...] | None:
    """The parameter names of a registered learner, read from its constructor (no learner
    is built); None for a prefix family (e.g. "sb3:...", whose parameters depend on what the
    path holds) and for an unknown name."""
    if name not in _LEARNERS:
        return None
    factory, rest = _LEARNERS.lookup(name)
    return None if rest is not None else tuple(inspect.signature(factory).parameters)


# --- helpers shared by the learners -------------------------------------------------------

# Ties between equal action values are broken by a per-agent random priority drawn at reset:
# adding priority * _TIE_SCALE keeps argmax exact for any real difference in value while
# costing nothing per step (no random draw per step, unlike a random tie-break).
_TIE_SCALE = 1e-9


def tie_break_priority(batch: int, n_actions: int, rng: np.random.Generator) -> np.ndarray:
    """(B, K) small distinct offsets: a random strict order of the actions for each agent."""
    ranks = rng.random((batch, n_actions)).argsort(axis=1).argsort(axis=1)
    priority = ranks.astype(np.float64)
    del ranks  # at large B the (B, K) temporaries, not the state, set the memory peak
    priority *= _TIE_SCALE
    return priority


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """(B, K) logits -> (B, K) probabilities, each row exp(logits) normalised (shifted by the
    row's maximum first, so that large logits do not overflow)."""
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def sample_categorical(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of a (B, K) probability matrix; returns (B,) ints."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random((probabilities.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((u >= cumulative).sum(axis=1), probabilities.shape[1] - 1)


def explore_uniformly(greedy: np.ndarray, rate: np.ndarray, n_actions: int,
                      rng: np.random.Generator) -> np.ndarray:
    """Epsilon-greedy play: each agent's ``greedy`` action (B,), replaced (in place) by a
    uniform one with probability ``rate`` (B,). The draws, in this order: one uniform per
    agent, then one action per agent."""
    explore = rng.random(rate.shape[0]) < rate
    random_actions = rng.integers(n_actions, size=rate.shape[0])
    np.copyto(greedy, random_actions, where=explore)
    return greedy


def batch_param(
    name: str,
    value: float | np.ndarray,
    batch: int,
    *,
    low: float = -np.inf,
    high: float = np.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> np.ndarray:
    """Validate a scalar or (B,) parameter and return it as a (B, 1) float column.

    Raises ``ValueError`` naming the parameter, the value and the allowed range
    (``mermaide.checks.check_numbers``).
    """
    array = check_numbers(name, value, batch, low, high, low_open, high_open)
    return np.broadcast_to(array, (batch,)).reshape(batch, 1).copy()


def check_batch_args(batch: int, n_actions: int) -> None:
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if int(n_actions) != n_actions or n_actions < 2:
        raise ValueError(f"n_actions must be an integer >= 2, got {n_actions!r}")


# A 0-d array: numpy converts a Python scalar operand at every call, which counts at B=1.
_ONE = np.array(1.0)


class RunningMeans:
    """Per-agent, per-action sample means and counts, the estimate most learners act on.

    Bandit feedback updates only the taken action; full feedback updates every action.
    ``counts`` and ``means`` are updated in place (never rebound), so views of them stay valid.
    """

    def __init__(self, batch: int, n_actions: int, initial_value: np.ndarray | float = 0.0):
        self.counts = np.zeros((batch, n_actions))
        self.means = np.zeros((batch, n_actions)) + initial_value
        # Flat views and row offsets: one-index gathers/scatters on the flat arrays cost a
        # fraction of two-index fancy indexing, at B=1 as at B=100,000.
        self._offsets = np.arange(batch) * n_actions
        self._bind_views()

    def _bind_views(self) -> None:
        self._flat_counts = self.counts.reshape(-1)
        self._flat_means = self.means.reshape(-1)

    # A copy or a pickle of a view is an array of its own: copied as they are, the flat views
    # would take the updates and ``counts``/``means`` would never move again (a deep-copied
    # agent, e.g. for planning by simulation, would silently stop learning). So the views are
    # left out of the state and bound afresh to the copied arrays.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_flat_counts"], state["_flat_means"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind_views()

    def update_taken(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        flat = self._offsets + actions
        n = self._flat_counts[flat] + _ONE
        self._flat_counts[flat] = n
        mean = self._flat_means[flat]
        self._flat_means[flat] = mean + (rewards - mean) / n

    def update_all(self, payoffs: np.ndarray) -> None:
        self.counts += 1.0
        self.means += (payoffs - self.means) / self.counts
