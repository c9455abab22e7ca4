"""Agents as tasks: ``AgentSpec`` (one agent) and ``AgentPopulation`` (a distribution of them).

An ``AgentSpec`` fixes everything that makes an agent *this* agent across its episodes: its
learner kind and parameters, its base reward for every arm, and the principal's target arm
(plus the principal's reward for each arm the agent may pick). A meta-learning task is one
spec; an episode restarts the agent's learning state but keeps the spec.

An ``AgentPopulation`` is a seeded distribution over specs: a weighted mixture of learner
families (each a learner kind with parameter distributions), base rewards drawn uniformly from
[0, 1]^K (or fixed), and a target drawn uniformly among the arms that are not the agent's own
best arm (or fixed). Named presets give the train / out-of-distribution test splits:

>>> from mermaide.agents import population
>>> train, test = population("train"), population("test-ood")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mermaide.agents.base import is_learner_name, learner_names
from mermaide.registry import Registry


@dataclass(frozen=True)
class Uniform:
    """A parameter drawn uniformly from [low, high]."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and self.high >= self.low):
            raise ValueError(f"Uniform needs finite low <= high, got ({self.low}, {self.high})")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class Choice:
    """A parameter drawn uniformly from a finite set of values."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.values) == 0:
            raise ValueError("Choice needs at least one value, got none")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]


ParamDistribution = Uniform | Choice | float | int | str | bool


def _sample_param(dist: ParamDistribution, rng: np.random.Generator) -> Any:
    if isinstance(dist, (Uniform, Choice)):
        return dist.sample(rng)
    return dist


@dataclass(frozen=True)
class LearnerFamily:
    """One component of a population: a learner kind and distributions of its parameters."""

    kind: str
    params: Mapping[str, ParamDistribution] = field(default_factory=dict)
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not is_learner_name(self.kind):
            raise ValueError(
                f"kind must be a registered learner ({', '.join(learner_names())}) or "
                f"\"sb3:<Algorithm>\", got {self.kind!r}"
            )
        if not (np.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"weight must be > 0, got {self.weight!r}")


@dataclass(frozen=True, eq=False)
class AgentSpec:
    """One agent: learner kind and parameters, base rewards (K,), the principal's target arm,
    and the principal's reward for each arm the agent picks (default: 1 on the target)."""

    learner: str
    params: Mapping[str, Any]
    rewards: np.ndarray
    target: int
    principal_rewards: np.ndarray | None = None

    def __post_init__(self) -> None:
        rewards = np.array(self.rewards, dtype=np.float64)
        if rewards.ndim != 1 or rewards.shape[0] < 2 or not np.all(np.isfinite(rewards)):
            raise ValueError(
                f"rewards must be a finite vector of length >= 2, got {self.rewards!r}"
            )
        n_arms = rewards.shape[0]
        if int(self.target) != self.target or not 0 <= self.target < n_arms:
            raise ValueError(f"target must be an arm index in [0, {n_arms - 1}], got "
                             f"{self.target!r}")
        if self.principal_rewards is None:
            principal = np.zeros(n_arms)
            principal[self.target] = 1.0
        else:
            principal = np.array(self.principal_rewards, dtype=np.float64)
            if principal.shape != (n_arms,) or not np.all(np.isfinite(principal)):
                raise ValueError(
                    f"principal_rewards must be a finite vector of length {n_arms}, got "
                    f"{self.principal_rewards!r}"
                )
        rewards.setflags(write=False)
        principal.setflags(write=False)
        object.__setattr__(self, "rewards", rewards)
        object.__setattr__(self, "target", int(self.target))
        object.__setattr__(self, "principal_rewards", principal)
        object.__setattr__(self, "params", dict(self.params))

    @property
    def n_arms(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def best_arm(self) -> int:
        """The agent's own best arm by base reward."""
        return int(np.argmax(self.rewards))


@dataclass(frozen=True)
class AgentPopulation:
    """A seeded distribution over ``AgentSpec``: a weighted mixture of learner families.

    ``rewards``: fixed base rewards (length ``n_arms``) for every agent, or None to draw them
    uniformly from [0, 1]^K per agent. ``target``: a fixed target arm, or None to draw it
    uniformly among the arms other than the agent's best arm.
    """

    families: tuple[LearnerFamily, ...]
    n_arms: int = 10
    rewards: tuple[float, ...] | None = None
    target: int | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        if len(self.families) == 0:
            raise ValueError("families must hold at least one LearnerFamily, got none")
        if int(self.n_arms) != self.n_arms or self.n_arms < 2:
            raise ValueError(f"n_arms must be an integer >= 2, got {self.n_arms!r}")
        if self.rewards is not None:
            rewards = tuple(float(r) for r in self.rewards)
            if len(rewards) != self.n_arms or not all(np.isfinite(rewards)):
                raise ValueError(
                    f"rewards must be {self.n_arms} finite numbers, got {self.rewards!r}"
                )
            object.__setattr__(self, "rewards", rewards)
        if self.target is not None and not 0 <= self.target < self.n_arms:
            raise ValueError(f"target must be in [0, {self.n_arms - 1}], got {self.target!r}")

    def sample(self, rng: np.random.Generator) -> AgentSpec:
        """Draw one agent."""
        weights = np.array([f.weight for f in self.families])
        family = self.families[int(rng.choice(len(self.families), p=weights / weights.sum()))]
        params = {name: _sample_param(dist, rng) for name, dist in family.params.items()}
        if self.rewards is None:
            rewards = rng.uniform(0.0, 1.0, size=self.n_arms)
        else:
            rewards = np.array(self.rewards)
        if self.target is None:
            candidates = np.flatnonzero(rewards < rewards.max())
            if candidates.size == 0:
                candidates = np.arange(self.n_arms)
            target = int(rng.choice(candidates))
        else:
            target = self.target
            if self.rewards is None and rewards.argmax() == target:
                # A fixed target must not be the agent's own best arm (there would be nothing
                # to steer): swap its payoff with a uniformly drawn other arm's.
                other = int(rng.integers(self.n_arms - 1))
                other += other >= target
                rewards[[target, other]] = rewards[[other, target]]
        return AgentSpec(family.kind, params, rewards, target)

    def sample_many(self, n: int, rng: np.random.Generator) -> list[AgentSpec]:
        """Draw n agents independently."""
        if int(n) != n or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        return [self.sample(rng) for _ in range(n)]

    def sample_batch(self, n: int, rng: np.random.Generator) -> AgentBatch:
        """Draw n agents independently, as one ``AgentBatch`` (columns, no Python object per
        agent): the same distribution as ``sample_many``, drawn with array calls, so it is a
        different stream of the generator (same seed, same batch, not the same agents as
        ``sample_many``). 100,000 agents take milliseconds instead of seconds."""
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        n, k = int(n), int(self.n_arms)
        weights = np.array([f.weight for f in self.families])
        family_of = rng.choice(len(self.families), size=n, p=weights / weights.sum())
        if self.rewards is None:
            rewards = rng.uniform(0.0, 1.0, size=(n, k))
        else:
            rewards = np.tile(np.array(self.rewards), (n, 1))
        best = rewards.max(axis=1, keepdims=True)
        if self.target is None:
            # Uniform among the arms below the best (all arms when every arm ties): the
            # largest of independent uniform keys over the allowed arms.
            allowed = rewards < best
            allowed[~allowed.any(axis=1)] = True
            targets = np.argmax(np.where(allowed, rng.random((n, k)), -1.0), axis=1)
        else:
            targets = np.full(n, self.target)
            if self.rewards is None:
                # As ``sample``: swap the target's payoff with another arm's where it is best.
                rows = np.flatnonzero(rewards.argmax(axis=1) == self.target)
                others = rng.integers(k - 1, size=rows.size)
                others += others >= self.target
                swapped = rewards[rows, others]
                rewards[rows, others] = rewards[rows, self.target]
                rewards[rows, self.target] = swapped
        groups: list[tuple[str, dict[str, Any], np.ndarray]] = []
        for index, family in enumerate(self.families):
            members = np.flatnonzero(family_of == index)
            if members.size:
                groups += _family_groups(family, members, rng)
        return AgentBatch(tuple(groups), rewards, targets)

    def with_target(self, target: int) -> AgentPopulation:
        """The same population with the principal's target fixed to one arm (the paper's
        setting: one principal, one preferred arm, agents that differ)."""
        if int(target) != target or not 0 <= target < self.n_arms:
            raise ValueError(f"target must be an arm index in [0, {self.n_arms - 1}], got "
                             f"{target!r}")
        if self.rewards is not None and int(np.argmax(self.rewards)) == target:
            raise ValueError(f"target={target} is the best arm of population {self.name!r}'s "
                             f"fixed rewards; choose another arm")
        return dataclasses.replace(self, target=int(target))

    def with_n_arms(self, n_arms: int) -> AgentPopulation:
        """The same population over a different number of arms (random payoffs only)."""
        if self.rewards is not None and len(self.rewards) != n_arms:
            raise ValueError(
                f"n_arms={n_arms} does not match population {self.name!r}, whose fixed "
                f"rewards have {len(self.rewards)} arms"
            )
        return dataclasses.replace(self, n_arms=n_arms)


# --- named presets ---------------------------------------------------------------------------

_PRESETS: Registry[Callable[[], AgentPopulation]] = Registry("population")

# The agents of the paper's behaviour figures (Figures 4 and 5 of MERMAIDE).
FIGURE4_REWARDS = (0.16, 0.11, 0.66, 0.14, 0.20, 0.37, 0.82, 0.10, 0.84, 0.10)
FIGURE5_REWARDS = (0.32, 0.67, 0.13, 0.72, 0.29, 0.18, 0.59, 0.02, 0.83, 0.01)
FIGURE_TARGET = 6


def register_population(name: str) -> Callable[[Callable[[], AgentPopulation]],
                                                 Callable[[], AgentPopulation]]:
    """Decorator: register a zero-argument factory as a named population preset."""

    def decorator(factory: Callable[[], AgentPopulation]) -> Callable[[], AgentPopulation]:
        _PRESETS.register(name, factory)
        return factory

    return decorator


def population_names() -> list[str]:
    return _PRESETS.names()


def population(name: str, n_arms: int | None = None, target: int | None = None
               ) -> AgentPopulation:
    """A named preset, optionally over another number of arms and with a fixed target arm;
    an unknown name raises ``mermaide.registry.UnknownNameError`` listing the known ones."""
    preset = _PRESETS.get(name)()
    if n_arms is not None:
        preset = preset.with_n_arms(n_arms)
    return preset if target is None else preset.with_target(target)


@register_population("train")
def _train() -> AgentPopulation:
    """Optimistic UCB and epsilon-greedy learners: the paper's training agents."""
    return AgentPopulation(
        (
            LearnerFamily("ucb", {"beta": Uniform(0.0, 1.0)}),
            LearnerFamily("epsilon_greedy", {"epsilon": Uniform(0.05, 0.3)}),
        ),
        name="train",
    )


@register_population("test-ood")
def _test_ood() -> AgentPopulation:
    """Learners never seen in training: pessimistic UCB, Thompson sampling, softmax, Exp3."""
    return AgentPopulation(
        (
            LearnerFamily("ucb", {"beta": Uniform(-1.0, -0.05)}),
            LearnerFamily("thompson", {"prior": Choice(("beta", "gaussian"))}),
            LearnerFamily("softmax", {"temperature": Uniform(0.05, 0.3)}),
            LearnerFamily("exp3", {"gamma": Uniform(0.05, 0.3)}),
        ),
        name="test-ood",
    )


@register_population("test-id")
def _test_id() -> AgentPopulation:
    """Held-out agents from the training distribution (in-distribution test split)."""
    return dataclasses.replace(_train(), name="test-id")


@register_population("ucb-all")
def _ucb_all() -> AgentPopulation:
    """UCB agents across optimism and pessimism, beta in [-1, 1]."""
    return AgentPopulation((LearnerFamily("ucb", {"beta": Uniform(-1.0, 1.0)}),), name="ucb-all")


@register_population("figure4")
def _figure4() -> AgentPopulation:
    """The paper's Figure 4 agent: best arm 8 (0.84), target 6 (0.82), a 0.02 gap."""
    return AgentPopulation(
        (LearnerFamily("ucb", {"beta": Uniform(-1.0, 1.0)}),),
        rewards=FIGURE4_REWARDS,
        target=FIGURE_TARGET,
        name="figure4",
    )


@register_population("figure5")
def _figure5() -> AgentPopulation:
    """The paper's Figure 5 agent: best arm 8 (0.83), target 6 (0.59), a 0.24 gap."""
    return AgentPopulation(
        (LearnerFamily("ucb", {"beta": Uniform(-1.0, 1.0)}),),
        rewards=FIGURE5_REWARDS,
        target=FIGURE_TARGET,
        name="figure5",
    )


class LearnerChoice(Protocol):
    """Anything naming a learner and its parameters: an ``AgentSpec``, a ``MatrixGame``."""

    @property
    def learner(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


def _family_groups(family: LearnerFamily, members: np.ndarray, rng: np.random.Generator
                   ) -> list[tuple[str, dict[str, Any], np.ndarray]]:
    """One family's agents as learner groups: numeric parameters drawn as (n,) arrays, and
    one group per combination of non-numeric values (``Choice`` over strings, ...)."""
    numeric: dict[str, Any] = {}
    labels = np.zeros(members.size, dtype=np.int64)
    options: list[tuple[str, tuple[Any, ...], np.ndarray]] = []
    for name, dist in family.params.items():
        if isinstance(dist, Uniform):
            numeric[name] = rng.uniform(dist.low, dist.high, size=members.size)
        elif isinstance(dist, Choice):
            picks = rng.integers(len(dist.values), size=members.size)
            if all(_is_number(v) for v in dist.values):
                numeric[name] = np.array(dist.values, dtype=np.float64)[picks]
            else:
                labels = labels * len(dist.values) + picks
                options.append((name, dist.values, picks))
        else:
            numeric[name] = dist
    groups = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        params = {name: value[rows] if isinstance(value, np.ndarray) else value
                  for name, value in numeric.items()}
        for name, values, picks in options:
            params[name] = values[int(picks[rows[0]])]
        groups.append((family.kind, params, members[rows]))
    return groups


@dataclass(frozen=True, eq=False)
class AgentBatch:
    """B agents as columns: what a batched game needs, without one Python object per agent.

    groups: (learner kind, params, agent indices) triples, one batched learner each; numeric
        params are scalars or arrays with one entry per agent of the group (as
        ``group_specs`` makes them); the indices of all groups partition range(B).
    rewards: (B, K) the agents' base rewards. targets: (B,) the principal's target arms.
    principal_rewards: (B, K) the principal's reward for each arm; None = 1 on the target.

    ``AgentPopulation.sample_batch`` draws one; ``AgentBatch.from_specs`` converts specs.
    100,000 ``AgentSpec`` objects over 10 arms take about 54 MB of Python objects; a batch
    holds the same agents in two (B, K) float arrays and one (B,) int array (17 MB).
    The arrays are used without a copy (as read-only views).
    """

    groups: tuple[tuple[str, Mapping[str, Any], np.ndarray], ...]
    rewards: np.ndarray
    targets: np.ndarray
    principal_rewards: np.ndarray | None = None

    def __post_init__(self) -> None:
        rewards = np.asarray(self.rewards, dtype=np.float64).view()
        if rewards.ndim != 2 or rewards.shape[1] < 2 or not np.all(np.isfinite(rewards)):
            raise ValueError(f"rewards must be a finite (B, K) array with K >= 2, got shape "
                             f"{rewards.shape}")
        batch, n_arms = rewards.shape
        targets = np.asarray(self.targets).view()
        if (targets.shape != (batch,) or not np.issubdtype(targets.dtype, np.integer)
                or (batch and (targets.min() < 0 or targets.max() >= n_arms))):
            raise ValueError(f"targets must be {batch} ints in [0, {n_arms - 1}], got "
                             f"{self.targets!r}")
        if self.principal_rewards is None:
            principal = np.zeros((batch, n_arms))
            principal[np.arange(batch), targets] = 1.0
        else:
            principal = np.asarray(self.principal_rewards, dtype=np.float64).view()
            if principal.shape != (batch, n_arms) or not np.all(np.isfinite(principal)):
                raise ValueError(f"principal_rewards must be a finite ({batch}, {n_arms}) "
                                 f"array, got shape {principal.shape}")
        groups = []
        for kind, params, indices in self.groups:
            if not is_learner_name(kind):
                raise ValueError(f"groups name learner kinds ({', '.join(learner_names())} or "
                                 f"\"sb3:<Algorithm>\"), got {kind!r}")
            indices = np.asarray(indices)
            if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
                raise ValueError(f"the indices of group {kind!r} must be a 1-D int array, got "
                                 f"{indices!r}")
            for name, value in params.items():
                if isinstance(value, np.ndarray) and value.shape != indices.shape:
                    raise ValueError(f"parameter {name!r} of group {kind!r} must have one "
                                     f"value per agent ({indices.size}), got shape "
                                     f"{value.shape}")
            groups.append((kind, dict(params), indices))
        covered = np.sort(np.concatenate([g[2] for g in groups])) if groups else np.zeros(0)
        if not np.array_equal(covered, np.arange(batch)):
            raise ValueError(f"the groups' indices must cover each of the {batch} agents "
                             f"exactly once")
        for array in (rewards, targets, principal):
            array.setflags(write=False)
        object.__setattr__(self, "groups", tuple(groups))
        object.__setattr__(self, "rewards", rewards)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "principal_rewards", principal)

    @classmethod
    def from_specs(cls, specs: Sequence[AgentSpec]) -> AgentBatch:
        """The batch of these specs (agent i is specs[i]); raises if their arms differ."""
        if len(specs) == 0:
            raise ValueError("specs must hold at least one AgentSpec, got none")
        arms = {s.n_arms for s in specs}
        if len(arms) != 1:
            raise ValueError(f"specs must all have the same number of arms, got {sorted(arms)}")
        return cls(tuple(group_specs(specs)), np.stack([s.rewards for s in specs]),
                   np.array([s.target for s in specs]),
                   np.stack([np.asarray(s.principal_rewards) for s in specs]))

    def __len__(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def n_arms(self) -> int:
        return int(self.rewards.shape[1])

    def take(self, index: Sequence[int] | np.ndarray) -> AgentBatch:
        """The agents at ``index`` (repeats allowed: agent j of the result is agent index[j]
        of this batch, with its parameters), with array operations per learner group."""
        index = np.asarray(index)
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer) or (
                index.size and (index.min() < 0 or index.max() >= len(self))):
            raise ValueError(f"index must be a 1-D int array of positions in [0, {len(self)}), "
                             f"got {index!r}")
        group_of = np.empty(len(self), dtype=np.int64)
        position = np.empty(len(self), dtype=np.int64)
        for g, (_, _, members) in enumerate(self.groups):
            group_of[members] = g
            position[members] = np.arange(members.size)
        groups = []
        for g, (kind, params, _) in enumerate(self.groups):
            chosen = np.flatnonzero(group_of[index] == g)
            if chosen.size:
                source = position[index[chosen]]
                groups.append((kind, {k: v[source] if isinstance(v, np.ndarray) else v
                                      for k, v in params.items()}, chosen))
        principal = np.asarray(self.principal_rewards)
        return AgentBatch(tuple(groups), self.rewards[index], self.targets[index],
                          principal[index])


def group_specs(specs: Sequence[LearnerChoice]) -> list[tuple[str, dict[str, Any], np.ndarray]]:
    """Group agents that one batched learner can serve: same kind, same non-numeric parameters.

    Returns (kind, params, indices) per group; numeric parameters are stacked into (n,) arrays
    so heterogeneous betas, epsilons, ... share one learner object.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, spec in enumerate(specs):
        numeric = tuple(sorted(k for k, v in spec.params.items() if _is_number(v)))
        fixed = tuple(sorted((k, repr(v)) for k, v in spec.params.items() if not _is_number(v)))
        groups.setdefault((spec.learner, numeric, fixed), []).append(i)
    result = []
    for (kind, numeric, _), indices in groups.items():
        first = specs[indices[0]].params
        params: dict[str, Any] = {k: v for k, v in first.items() if k not in numeric}
        for k in numeric:
            params[k] = np.array([specs[i].params[k] for i in indices], dtype=np.float64)
        result.append((kind, params, np.array(indices)))
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
