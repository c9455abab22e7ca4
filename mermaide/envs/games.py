"""Matrix games as tasks: ``MatrixGame`` (one game and its agent) and ``GamePopulation`` (a
seeded distribution of them), with named presets and the classic 2x2 games.

A ``MatrixGame`` fixes everything that makes an agent *this* agent across its episodes: the
principal's payoff matrix A (m x n), the agent's payoff matrix B (m x n) (rows: the
principal's actions, columns: the agent's), and how the agent responds in the repeated game:
``"follower"`` (the exact best response to the current commitment, the Stackelberg follower)
or a learner kind from ``mermaide.agents`` with its parameters.

A ``GamePopulation`` draws random games with a given size and correlation rho between A and
B, or one of the named classic games, and an agent from a weighted mixture of ``Follower``
and ``LearnerFamily`` components. Random payoffs use a Gaussian copula: with Z1, Z2 standard
normal (m, n) matrices,

    A = Phi(Z1),   B = Phi(rho * Z1 + sqrt(1 - rho^2) * Z2),

so every entry is uniform on [0, 1] and rho = 1 makes the players' interests identical,
rho = -1 opposed (a constant-sum game). The classic games are stored in [0, 1] too (each
player's textbook matrix mapped affinely so its worst payoff is 0 and best is 1, which changes
no equilibrium) so that a population can mix them with random games and the bandit learners'
reward ranges hold. ``BayesianGamePopulation`` is the other kind of population: fixed principal
payoffs and a few agent types (a Bayesian Stackelberg game). Presets
(``game_population(name)``): ``"train"`` and ``"test-ood"`` (different payoff distributions),
``"security"`` (a Bayesian security game with two attacker types), and one preset per classic
game.

>>> from mermaide.envs.games import game_population
>>> game = game_population("train").sample(np.random.default_rng(0))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

from mermaide.agents.base import is_learner_name, learner_names, learner_parameters
from mermaide.agents.base import make as make_learner
from mermaide.agents.population import Choice, LearnerFamily, Uniform
from mermaide.registry import Registry

# The agent that sees the principal's current commitment and best-responds to it exactly: the
# follower of a Stackelberg game. Every other agent kind is a learner from mermaide.agents.
FOLLOWER = "follower"


def freeze_task(task: Any, **arrays: np.ndarray) -> None:
    """Store a frozen task record's checked ``arrays`` read-only, and its ``params`` as a
    dict of its own: a task is the same agent in every episode, so nothing that holds it may
    change it in place."""
    for name, array in arrays.items():
        array.setflags(write=False)
        object.__setattr__(task, name, array)
    object.__setattr__(task, "params", dict(task.params))


def check_payoffs(A: Any, B: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a bimatrix game; return (A, B) as float64 (m, n) arrays.

    Raises ``ValueError`` naming the matrix and what is wrong (shape, non-finite entries,
    sizes that do not match).
    """
    arrays = []
    for name, matrix in (("A", A), ("B", B)):
        try:
            array = np.array(matrix, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a numeric (m, n) matrix, got {matrix!r}") from None
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 2:
            raise ValueError(f"{name} must be a 2-D (m, n) matrix with m >= 1 principal actions "
                             f"(rows) and n >= 2 agent actions (columns), got shape "
                             f"{array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} must have finite entries (no NaN or inf), got {matrix!r}")
        arrays.append(array)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(f"A and B must have the same shape (m, n), got A {arrays[0].shape} "
                         f"and B {arrays[1].shape}")
    return arrays[0], arrays[1]


def check_learner_params(learner: str, params: Mapping[str, Any], argument: str = "params",
                         drawn: bool = False, batch: tuple[int, int] | None = None) -> None:
    """Build the learner with ``params`` so that a bad parameter fails when the game or env is
    made, not at the first reset; the ValueError names ``argument``, the learner and the
    parameter. ``drawn``: the params are a ``LearnerFamily``'s, so a parameter may be drawn per
    episode (``Uniform``, ``Choice``): it is checked at each end of its range or each of its
    values. ``batch``: (B, K), the agents of one kind the env plays at once and their number of
    actions; the learner is also reset with them, so that a per-agent array of the wrong size
    fails here too (its size is checked only against B, at reset)."""
    where = f"{argument} for learner {learner!r}"
    known = learner_parameters(learner)
    unknown = [name for name in params if known is not None and name not in known]
    if unknown:
        raise ValueError(f"{where}: unknown parameter {unknown[0]!r}; known parameters: "
                         f"{', '.join(known or ()) or 'none'}")
    if drawn and batch is not None:
        # A family's array is one value per agent of the batch, whether or not the learner
        # reads it (``AgentBatch`` refuses another shape at the first reset).
        for name, value in params.items():
            if isinstance(value, np.ndarray) and value.shape != (batch[0],):
                raise ValueError(f"{where}: {name} must be a scalar or an array of shape "
                                 f"({batch[0]},), got shape {value.shape}")
    candidates = {name: _candidates(value) if drawn else (value,)
                  for name, value in params.items()}
    first = {name: values[0] for name, values in candidates.items()}
    # One build with every parameter at its first value, then one per further value of each
    # drawn parameter (the learners check each parameter on its own, not in combination).
    trials = [first] + [{**first, name: value} for name, values in candidates.items()
                        for value in values[1:]]
    for trial in trials:
        try:
            built = make_learner(learner, **trial)
            # Not a prefix family's (known is None: "sb3:..."), whose reset loads a model.
            if batch is not None and known is not None:
                built.reset(batch[0], batch[1], np.random.default_rng(0))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None


def _candidates(value: Any) -> tuple[Any, ...]:
    if isinstance(value, Uniform):
        return (value.low, value.high)
    if isinstance(value, Choice):
        return tuple(value.values)
    return (value,)


@dataclass(frozen=True, eq=False)
class MatrixGame:
    """One game: payoffs A (principal) and B (agent), both (m, n), and the agent's kind.

    ``learner``: ``"follower"`` (exact best response to the current commitment) or a learner
    name from ``mermaide.agents`` (used by the repeated game; the one-round game always plays
    the follower). ``params``: the learner's parameters.
    """

    A: np.ndarray
    B: np.ndarray
    learner: str = FOLLOWER
    params: Mapping[str, Any] = field(default_factory=dict)
    name: str = "custom"

    def __post_init__(self) -> None:
        A, B = check_payoffs(self.A, self.B)
        if self.learner != FOLLOWER and not is_learner_name(self.learner):
            raise ValueError(f"learner must be {FOLLOWER!r}, a registered learner "
                             f"({', '.join(learner_names())}) or \"sb3:<Algorithm>\", got "
                             f"{self.learner!r}")
        if self.learner == FOLLOWER and self.params:
            raise ValueError(f"the follower takes no params, got {dict(self.params)!r}")
        if self.learner != FOLLOWER:
            check_learner_params(self.learner, self.params)
        freeze_task(self, A=A, B=B)

    @property
    def shape(self) -> tuple[int, int]:
        """(m, n): the principal's and the agent's number of actions."""
        return (int(self.A.shape[0]), int(self.A.shape[1]))


@dataclass(frozen=True)
class Follower:
    """A population component: the exact follower (best response to the current commitment)."""

    weight: float = 1.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"weight must be > 0, got {self.weight!r}")


AgentFamily = Follower | LearnerFamily


def checked_agents(agents: Any) -> tuple[AgentFamily, ...]:
    """A population's agent mixture as a tuple, refused unless non-empty and all components."""
    agents = tuple(agents)
    if not agents or not all(isinstance(a, (Follower, LearnerFamily)) for a in agents):
        raise ValueError(f"agents must be a non-empty tuple of Follower / LearnerFamily, got "
                         f"{agents!r}")
    return agents


def sample_many(population: Any, count: int, rng: np.random.Generator) -> list[MatrixGame]:
    """``count`` independent draws of ``population.sample(rng)`` (either kind of population)."""
    if isinstance(count, bool) or int(count) != count or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    return [population.sample(rng) for _ in range(count)]


def _normalised(matrix: list[list[float]]) -> np.ndarray:
    array = np.array(matrix, dtype=np.float64)
    return (array - array.min()) / (array.max() - array.min())


# Textbook payoffs (principal = row player). ``classic_game`` returns them mapped to [0, 1].
CLASSIC_GAMES: dict[str, tuple[list[list[float]], list[list[float]]]] = {
    # The standard example in which commitment pays: row 0 strictly dominates for the
    # principal, so the only Nash equilibrium is (0, 0) worth 2; committing to (1/2, 1/2)
    # makes the agent (ties in the principal's favour) play column 1, worth 3.5.
    "commitment": ([[2.0, 4.0], [1.0, 3.0]], [[1.0, 0.0], [0.0, 1.0]]),
    # Zero-sum: the principal wants to match, the agent to mismatch; value 0, no pure Nash.
    "matching-pennies": ([[1.0, -1.0], [-1.0, 1.0]], [[-1.0, 1.0], [1.0, -1.0]]),
    # Actions (cooperate, defect); defecting dominates for both, commitment does not help.
    "prisoners-dilemma": ([[3.0, 0.0], [5.0, 1.0]], [[3.0, 5.0], [0.0, 1.0]]),
    # Two pure Nash equilibria, (0, 0) preferred by the principal and (1, 1) by the agent.
    "battle-of-the-sexes": ([[2.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 2.0]]),
}


def classic_game(name: str, learner: str = FOLLOWER,
                 params: Mapping[str, Any] | None = None) -> MatrixGame:
    """A named classic game with both matrices mapped affinely to [0, 1]."""
    try:
        A, B = CLASSIC_GAMES[name]
    except KeyError:
        raise ValueError(f"game must be one of {sorted(CLASSIC_GAMES)}, got {name!r}") from None
    return MatrixGame(_normalised(A), _normalised(B), learner, dict(params or {}), name=name)


Correlation = float | Uniform | Choice


@dataclass(frozen=True)
class GamePopulation:
    """A seeded distribution over ``MatrixGame``.

    size: (m, n) of the random games. correlation: rho in [-1, 1] between the players'
    payoffs, fixed or a ``Uniform`` / ``Choice`` drawn per game. classics: names of classic
    games mixed in, each drawn with probability ``classic_weight / len(classics)`` (classic
    games are 2x2, so size must be (2, 2) when any are given). agents: the weighted mixture
    the agent's kind is drawn from (``Follower`` or ``LearnerFamily`` components).
    """

    size: tuple[int, int] = (3, 3)
    correlation: Correlation = 0.0
    classics: tuple[str, ...] = ()
    classic_weight: float = 0.0
    agents: tuple[AgentFamily, ...] = (Follower(),)
    name: str = "custom"

    def __post_init__(self) -> None:
        size = tuple(self.size)
        if (len(size) != 2 or any(isinstance(s, bool) or int(s) != s for s in size)
                or size[0] < 1 or size[1] < 2):
            raise ValueError(f"size must be (m, n) integers with m >= 1 and n >= 2, got "
                             f"{self.size!r}")
        object.__setattr__(self, "size", (int(size[0]), int(size[1])))
        _check_correlation(self.correlation)
        object.__setattr__(self, "classics", tuple(self.classics))
        for classic in self.classics:
            if classic not in CLASSIC_GAMES:
                raise ValueError(f"classics must name games in {sorted(CLASSIC_GAMES)}, got "
                                 f"{classic!r}")
        if not (np.isfinite(self.classic_weight) and 0.0 <= self.classic_weight <= 1.0):
            raise ValueError(f"classic_weight must be in [0, 1], got {self.classic_weight!r}")
        if self.classic_weight > 0 and not self.classics:
            raise ValueError(f"classic_weight={self.classic_weight!r} needs classics to draw, "
                             f"got none")
        if self.classics and self.size != (2, 2):
            raise ValueError(f"classic games are 2x2, so size must be (2, 2) when classics are "
                             f"given, got size={self.size!r}")
        object.__setattr__(self, "agents", checked_agents(self.agents))

    def sample(self, rng: np.random.Generator) -> MatrixGame:
        """Draw one game and its agent."""
        learner, params = _draw_agent(self.agents, rng)
        if self.classics and rng.random() < self.classic_weight:
            classic = self.classics[int(rng.integers(len(self.classics)))]
            return classic_game(classic, learner, params)
        rho = self.correlation
        rho = float(rho.sample(rng)) if isinstance(rho, (Uniform, Choice)) else float(rho)
        z1 = rng.standard_normal(self.size)
        z2 = rng.standard_normal(self.size)
        A = ndtr(z1)
        B = ndtr(rho * z1 + np.sqrt(1.0 - rho * rho) * z2)
        return MatrixGame(A, B, learner, params, name=f"{self.name}:rho={rho:.3f}")

    def sample_many(self, count: int, rng: np.random.Generator) -> list[MatrixGame]:
        """Draw ``count`` games independently."""
        return sample_many(self, count, rng)

    def with_size(self, m: int, n: int) -> GamePopulation:
        """The same population over (m, n) random games (not for populations of classics)."""
        if self.classics and (m, n) != (2, 2):
            raise ValueError(f"population {self.name!r} mixes in 2x2 classic games, so its size "
                             f"cannot be ({m}, {n})")
        return dataclasses.replace(self, size=(m, n))

    def with_agents(self, *agents: AgentFamily) -> GamePopulation:
        """The same payoff distribution with another agent mixture."""
        return dataclasses.replace(self, agents=tuple(agents))


@dataclass(frozen=True, eq=False)
class BayesianGamePopulation:
    """A Bayesian Stackelberg game as a population: the principal's payoffs A are fixed and
    known, the agent's payoffs are one of a few *types* B_k, drawn with probabilities
    ``type_weights`` (uniform when None), plus independent noise U[-noise, noise] on every
    entry, so that no two drawn games are the same. Unlike ``GamePopulation`` (payoffs drawn
    afresh, a response reveals little), one response to a well-chosen commitment here tells
    the types apart: the setting of one-shot adaptation. Same interface as
    ``GamePopulation`` (``sample``, ``sample_many``, ``size``, ``with_agents``)."""

    A: np.ndarray
    types: tuple[np.ndarray, ...]
    type_weights: tuple[float, ...] | None = None
    noise: float = 0.0
    agents: tuple[AgentFamily, ...] = (Follower(),)
    name: str = "bayesian"

    def __post_init__(self) -> None:
        if not isinstance(self.types, (tuple, list)) or not self.types:
            raise ValueError(f"types must be a non-empty sequence of (m, n) agent payoff "
                             f"matrices, got {self.types!r}")
        checked = [check_payoffs(self.A, B) for B in self.types]
        A = checked[0][0]
        A.setflags(write=False)
        types = tuple(B for _, B in checked)
        for B in types:
            B.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "types", types)
        if self.type_weights is not None:
            weights = tuple(float(w) for w in self.type_weights)
            if len(weights) != len(types) or not all(np.isfinite(w) and w > 0 for w in weights):
                raise ValueError(f"type_weights must be {len(types)} positive numbers (one per "
                                 f"type), got {self.type_weights!r}")
            object.__setattr__(self, "type_weights", weights)
        if (isinstance(self.noise, bool) or not isinstance(self.noise, (int, float, np.number))
                or not (np.isfinite(self.noise) and self.noise >= 0)):
            raise ValueError(f"noise must be a number >= 0, got {self.noise!r}")
        object.__setattr__(self, "agents", checked_agents(self.agents))

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.A.shape[0]), int(self.A.shape[1]))

    def sample(self, rng: np.random.Generator) -> MatrixGame:
        """Draw a type, its noise and an agent kind."""
        learner, params = _draw_agent(self.agents, rng)
        p = None if self.type_weights is None else np.array(self.type_weights) / sum(
            self.type_weights)
        kind = int(rng.choice(len(self.types), p=p))
        B = self.types[kind] + rng.uniform(-self.noise, self.noise, size=self.size)
        return MatrixGame(self.A, B, learner, params, name=f"{self.name}:type={kind}")

    def sample_many(self, count: int, rng: np.random.Generator) -> list[MatrixGame]:
        """Draw ``count`` games independently."""
        return sample_many(self, count, rng)

    def with_size(self, m: int, n: int) -> BayesianGamePopulation:
        if (m, n) != self.size:
            raise ValueError(f"population {self.name!r} has fixed {self.size[0]}x{self.size[1]} "
                             f"payoffs, so its size cannot be ({m}, {n})")
        return self

    def with_agents(self, *agents: AgentFamily) -> BayesianGamePopulation:
        """The same payoffs with another agent mixture."""
        return dataclasses.replace(self, agents=tuple(agents))


def _draw_agent(agents: tuple[AgentFamily, ...], rng: np.random.Generator
                ) -> tuple[str, dict[str, Any]]:
    """An agent kind and its parameters from a weighted mixture of families."""
    weights = np.array([a.weight for a in agents])
    family = agents[int(rng.choice(len(agents), p=weights / weights.sum()))]
    if isinstance(family, Follower):
        return FOLLOWER, {}
    return family.kind, {k: v.sample(rng) if isinstance(v, (Uniform, Choice)) else v
                         for k, v in family.params.items()}


def security_game(valuations: Any, defender_uncovered: Any, defender_covered: float = 0.9,
                  attacker_covered: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) of a security game: the defender (principal) covers one of the targets (rows),
    the attacker (agent) attacks one (columns). A covered attack pays the defender
    ``defender_covered`` and the attacker ``attacker_covered``; an uncovered attack on target
    j pays ``defender_uncovered[j]`` and ``valuations[j]``."""
    values = np.asarray(valuations, dtype=np.float64)
    losses = np.asarray(defender_uncovered, dtype=np.float64)
    if values.ndim != 1 or values.shape != losses.shape or len(values) < 2:
        raise ValueError(f"valuations and defender_uncovered must be vectors of the same length "
                         f">= 2 (one entry per target), got {valuations!r} and "
                         f"{defender_uncovered!r}")
    covered = np.eye(len(values), dtype=bool)
    return (np.where(covered, defender_covered, losses[None, :]),
            np.where(covered, attacker_covered, values[None, :]))


def _check_correlation(rho: Correlation) -> None:
    if isinstance(rho, Uniform):
        values: tuple[Any, ...] = (rho.low, rho.high)
    elif isinstance(rho, Choice):
        values = rho.values
    else:
        values = (rho,)
    for value in values:
        if (isinstance(value, bool) or not isinstance(value, (int, float, np.number))
                or not -1.0 <= float(value) <= 1.0):
            raise ValueError(f"correlation must be in [-1, 1] (a number, Uniform or Choice), got "
                             f"{rho!r}")


# --- named presets ---------------------------------------------------------------------------

# Either kind of population: what the games accept as a source of tasks.
GameDistribution = GamePopulation | BayesianGamePopulation

_PRESETS: Registry[Callable[[], GameDistribution]] = Registry("game population")


def register_game_population(name: str) -> Callable[[Callable[[], GameDistribution]],
                                                      Callable[[], GameDistribution]]:
    """Decorator: register a zero-argument factory as a named game population preset."""

    def decorator(factory: Callable[[], GameDistribution]) -> Callable[[], GameDistribution]:
        _PRESETS.register(name, factory)
        return factory

    return decorator


def game_population_names() -> list[str]:
    return _PRESETS.names()


def game_population(name: str, size: tuple[int, int] | None = None) -> GameDistribution:
    """A named preset, optionally over another size (m, n); an unknown name raises
    ``mermaide.registry.UnknownNameError`` listing the known ones."""
    preset = _PRESETS.get(name)()
    return preset if size is None else preset.with_size(*size)


# The agents of the train and test splits: the split is in the payoffs, not in the agents, so
# that a principal's test score measures adaptation to new payoffs.
_AGENTS: tuple[AgentFamily, ...] = (
    Follower(weight=2.0),
    LearnerFamily("best_response", {"memory": "mean"}),
    LearnerFamily("hedge", {"eta": Uniform(0.5, 2.0)}),
)


@register_game_population("train")
def _train() -> GamePopulation:
    """3x3 games with aligned-to-independent interests, rho ~ U[0, 0.8]."""
    return GamePopulation((3, 3), Uniform(0.0, 0.8), agents=_AGENTS, name="train")


@register_game_population("test-ood")
def _test_ood() -> GamePopulation:
    """3x3 games with opposed interests never seen in training, rho ~ U[-0.9, -0.3]."""
    return GamePopulation((3, 3), Uniform(-0.9, -0.3), agents=_AGENTS, name="test-ood")


@register_game_population("classics")
def _classics() -> GamePopulation:
    """The four classic 2x2 games, equally likely, with the follower."""
    return GamePopulation((2, 2), classics=tuple(CLASSIC_GAMES), classic_weight=1.0,
                          name="classics")


# The attacker types of the "security" preset: each values another target most (target 0 or
# 2), so the best commitment differs by type, and at the commitment that is best against the
# first type the second type attacks another target: one response tells them apart.
SECURITY_TYPES = ((0.9, 0.4), (0.4, 0.9))
SECURITY_LOSSES = (0.1, 0.2)
SECURITY_NOISE = 0.02


@register_game_population("security")
def _security() -> GameDistribution:
    """A Bayesian security game: the defender covers one of 3 targets; the attacker, the
    follower, is one of 2 types (valuations (0.9, 0.5, 0.4) or (0.5, 0.4, 0.9), each +-0.03
    uniform noise on its payoffs)."""
    pairs = [security_game(v, SECURITY_LOSSES) for v in SECURITY_TYPES]
    return BayesianGamePopulation(pairs[0][0], tuple(B for _, B in pairs),
                                  noise=SECURITY_NOISE, name="security")


def _register_classic(name: str) -> None:
    @register_game_population(name)
    def _preset() -> GamePopulation:
        return GamePopulation((2, 2), classics=(name,), classic_weight=1.0, name=name)

    _preset.__doc__ = f"Always the classic game {name!r}, with the follower."


for _name in CLASSIC_GAMES:
    _register_classic(_name)
