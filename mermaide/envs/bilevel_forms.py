"""What the two bilevel games (``Mermaide/StackelbergMarkov-v0``, ``Mermaide/IncentiveMDP-v0``)
share: one batched core over a game's ``BilevelFamily``, and its Gymnasium, native vector and
PettingZoo parallel forms. Each game's module subclasses these forms with its own docstring and
knob signature; its game record (payoff or reward tables on an MDP's dynamics) is checked and
stacked by ``set_game_tables``, ``check_reset_game`` and ``stack_tables``, its knobs gamma
and tau by ``check_follower_knobs``. The games compute in numpy (``soft_optimal_policy`` and
the linear solves below) so that playing them never imports torch; ``mermaide.bilevel`` holds
the same mathematics in torch for white-box principals, and a game's ``bilevel_model()`` (its
``BilevelFamily.problem``) is the one place that imports it.

An episode is one commitment: the principal plays x (a flat Box action), the follower answers
with pi*_x, the exact solution of its entropy-regularised MDP M_tau(x) (soft value iteration
to 1e-10), and the principal is paid its normalised value (1 - gamma) E[sum_t gamma^t
upper(s_t, a_t)] under that answer. The expectation is exact (no sampled trajectory), so
the one-step reward is a deterministic function of x, which every model-free principal of
the package can optimise as it is, and a white-box principal can read the game's model
through the forms' public ``bilevel_model()``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from mermaide.checks import check_number, check_size
from mermaide.envs.knobs import Knobs
from mermaide.envs.parallel import (
    AGENT,
    PLAYERS,
    PRINCIPAL,
    TwoPlayerSpaces,
    check_action,
    check_joint_actions,
    valid_action,
)
from mermaide.envs.vector import LockstepVectorEnv, StepResult, single_info

if TYPE_CHECKING:
    from mermaide.bilevel import BilevelProblem

# How close the games' follower is to pi*_x: soft value iteration's sup-norm stopping rule.
SOLVER_TOLERANCE = 1e-10
# The tables of a game record that hold probabilities (each row summing to 1).
PROBABILITY_TABLES = ("transitions", "initial")


def check_follower_knobs(gamma: float, tau: float) -> None:
    """The follower's discount gamma in [0, 1) and entropy temperature tau > 0."""
    check_number("gamma", gamma, low=0.0, high=1.0)
    if gamma >= 1.0:
        raise ValueError(f"gamma must be in [0, 1), got {gamma!r}")
    check_number("tau", tau, low=0.0, low_open=True)


def set_game_tables(game: Any, names: Sequence[str], layout: Sequence[str],
                    shapes: Callable[..., Sequence[tuple[int, ...]]]) -> None:
    """Check and store the tables of a frozen game record as float64 arrays: each of ``names``
    finite and real; the first of the shape that ``layout`` names (e.g. ("S", "m", "n")), the
    others of the shapes ``shapes(*first.shape)`` gives, in order; the ``PROBABILITY_TABLES``
    among them non-negative with rows summing to 1."""
    tables = {}
    for name in names:
        raw = np.asarray(getattr(game, name))
        if raw.dtype.kind not in "iuf" or not np.all(np.isfinite(raw)):
            raise ValueError(f"{name} must be an array of finite real numbers, got "
                             f"{getattr(game, name)!r}")
        tables[name] = raw.astype(np.float64)
        object.__setattr__(game, name, tables[name])
    first, *others = names
    table = tables[first]
    if table.ndim != len(layout) or min(table.shape) < 1:
        raise ValueError(f"{first} must have shape ({', '.join(layout)}), got shape "
                         f"{table.shape}")
    for name, shape in zip(others, shapes(*table.shape), strict=True):
        if tables[name].shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got shape "
                             f"{tables[name].shape}")
    for name in PROBABILITY_TABLES:
        table = tables[name]
        if np.any(table < 0) or not np.allclose(table.sum(axis=-1), 1.0, atol=1e-9):
            raise ValueError(f"{name} must hold probabilities summing to 1, got {table!r}")


def check_reset_game(game: Any, like: Any, kind: str, names: Sequence[str], low: float,
                     high: float, why: str) -> Any:
    """``game`` if it is a game of ``like``'s type (``kind``: its name with an article) and
    shape whose tables ``names`` lie in [low, high] (``why``: where the bounds come from); a
    ValueError otherwise."""
    if not isinstance(game, type(like)) or game.shape != like.shape:
        raise ValueError(f"game must be {kind} of shape {like.shape}, got {game!r}")
    for name in names:
        table = getattr(game, name)
        if table.min() < low or table.max() > high:
            raise ValueError(f"game's {name} must lie in [{low:g}, {high:g}] ({why}), got "
                             f"values in [{table.min():g}, {table.max():g}]")
    return game


def stack_tables(games: Sequence[Any], names: Sequence[str]) -> tuple[np.ndarray, ...]:
    """The tables ``names`` of a batch of game records, each stacked (B, ...)."""
    return tuple(np.stack([getattr(game, name) for game in games]) for name in names)


@dataclass(frozen=True)
class FollowerMDPs:
    """B follower MDPs M_tau(x) as float64 arrays: rewards (B, S, A), transitions
    (B, S, A, S), initial (B, S); gamma and tau are the family's."""

    rewards: np.ndarray
    transitions: np.ndarray
    initial: np.ndarray


# The games' exact follower in numpy: the same mathematics as mermaide.bilevel's
# soft_value_iteration, policy_values and occupancy, which are torch for autograd; playing a
# game must not import torch.

def _soft_max(q: np.ndarray, tau: float) -> np.ndarray:
    """tau * logsumexp(q / tau) over the last axis, as max(q) + tau * logsumexp((q - max) / tau):
    q / tau itself overflows for a tiny tau (inf - inf = NaN, and the iteration never ends)."""
    top = q.max(axis=-1)
    return top + tau * np.log(np.exp((q - top[..., None]) / tau).sum(axis=-1))


def soft_optimal_policy(mdp: FollowerMDPs, gamma: float, tau: float,
                        tolerance: float = SOLVER_TOLERANCE) -> np.ndarray:
    """pi*_x = softmax(Q* / tau) (B, S, A), by soft value iteration from V = 0 until the
    sup-norm change is below ``tolerance``."""
    values = np.zeros_like(mdp.initial)
    while True:
        q = mdp.rewards + gamma * (mdp.transitions @ values[:, None, :, None])[..., 0]
        new = _soft_max(q, tau)
        change = float(np.abs(new - values).max()) if new.size else 0.0
        if not np.isfinite(change):
            # A contraction on finite tables cannot get here; a NaN would otherwise loop forever.
            raise FloatingPointError(f"soft value iteration diverged (tau={tau!r}, "
                                     f"gamma={gamma!r}): the follower's values are not finite")
        values = new
        if change < tolerance or gamma == 0.0:
            break
    q = mdp.rewards + gamma * (mdp.transitions @ values[:, None, :, None])[..., 0]
    weights = np.exp((q - q.max(axis=-1, keepdims=True)) / tau)
    return weights / weights.sum(axis=-1, keepdims=True)


def _system(mdp: FollowerMDPs, policy: np.ndarray, gamma: float) -> np.ndarray:
    """I - gamma P_pi (B, S, S)."""
    state_transitions = np.einsum("bsa,bsat->bst", policy, mdp.transitions)
    return np.eye(mdp.initial.shape[-1]) - gamma * state_transitions


def regularised_values(mdp: FollowerMDPs, policy: np.ndarray, gamma: float,
                       tau: float) -> np.ndarray:
    """J_x(pi) (B,): rho . V^pi, V^pi from (I - gamma P_pi) V = r_pi + tau H(pi)."""
    entropy = -(policy * np.log(np.where(policy > 0, policy, 1.0))).sum(axis=-1)
    rhs = (policy * mdp.rewards).sum(axis=-1) + tau * entropy
    values = np.linalg.solve(_system(mdp, policy, gamma), rhs[..., None])[..., 0]
    return (mdp.initial * values).sum(axis=-1)


def expected_returns(mdp: FollowerMDPs, policy: np.ndarray, rewards: np.ndarray,
                     gamma: float) -> np.ndarray:
    """E_rho [sum_t gamma^t rewards(s_t, a_t)] (B,) under pi: the discounted visitation
    d = rho^T (I - gamma P_pi)^-1 pi against the table (B, S, A)."""
    system = np.swapaxes(_system(mdp, policy, gamma), -1, -2)
    states = np.linalg.solve(system, mdp.initial[..., None])
    return (states * policy * rewards).sum(axis=(-2, -1))


class BilevelFamily(abc.ABC):
    """One bilevel game's rules for a batch of games: how an action becomes x, the follower's
    M_tau(x) and the leader's rewards as tensors, the observation, and its tasks."""

    knobs: Knobs
    gamma: float
    tau: float
    n_states: int
    n_actions: int  # the follower's

    @abc.abstractmethod
    def __init__(self, **knobs: Any):
        """The rules that the game's knobs (by name, checked here) set."""

    @abc.abstractmethod
    def default_game(self) -> Any:
        """The game the knobs name (played when a reset names none)."""

    @abc.abstractmethod
    def check_game(self, game: Any) -> Any:
        """``game`` if it is a game of this family's shape; a ValueError otherwise."""

    @abc.abstractmethod
    def observation_space(self) -> spaces.Box:
        """The principal's observation space."""

    @abc.abstractmethod
    def action_space(self) -> spaces.Box:
        """The principal's action space (x)."""

    @abc.abstractmethod
    def follower_reward_bounds(self) -> tuple[float, float]:
        """(low, high) of the follower's rewards r_x(s, a) of every game this env plays."""

    @abc.abstractmethod
    def observe(self, games: Sequence[Any]) -> np.ndarray:
        """(B, D) float32: what the principal sees of each game."""

    @abc.abstractmethod
    def decode(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, action dim) actions -> (x as the game's float64 table (B, ...), refused (B,) bool:
        an action the game could not play as asked, e.g. beyond a budget)."""

    @abc.abstractmethod
    def lower(self, games: Sequence[Any], x: np.ndarray) -> FollowerMDPs:
        """The follower's M_tau(x) of each game (a batch of B)."""

    @abc.abstractmethod
    def upper_rewards(self, games: Sequence[Any], x: np.ndarray) -> np.ndarray:
        """(B, S, A): the leader's reward per follower (s, a) under x."""

    @abc.abstractmethod
    def problem(self, game: Any) -> BilevelProblem:
        """The white-box model of one game (``bilevel_model()``): a ``mermaide.bilevel``
        model, imported there so that torch is loaded only for a white-box principal."""

    def reset_info(self, game: Any) -> dict[str, Any]:
        """Extra reset info of one game (the games' own reference values)."""
        return {}

    def step_info(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Extra step info per game of the batch, from the played x (B, ...)."""
        return {}


class BilevelCore:
    """B games of one family: ``reset(games)`` then one ``step(actions)`` per episode."""

    def __init__(self, family: BilevelFamily, batch: int):
        self.family, self.batch = family, batch
        self.games: list[Any] = [family.default_game()] * batch

    def reset(self, games: Sequence[Any] | None = None) -> np.ndarray:
        if games is not None:
            if len(games) != self.batch:
                raise ValueError(f"games must hold {self.batch} games (one per sub-game), got "
                                 f"{len(games)}")
            self.games = [self.family.check_game(game) for game in games]
        return self.family.observe(self.games)

    def evaluate(self, x: np.ndarray, policy: np.ndarray | None = None
                 ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The leader's normalised value (B,) when the follower plays ``policy`` (B, S, A)
        (None: its exact soft-optimal answer pi*_x), and the step info."""
        family = self.family
        gamma, tau = family.gamma, family.tau
        mdp = family.lower(self.games, x)
        optimal = soft_optimal_policy(mdp, gamma, tau)
        answer = optimal if policy is None else policy
        scale = 1.0 - gamma
        leader = scale * expected_returns(mdp, answer, family.upper_rewards(self.games, x),
                                          gamma)
        follower = scale * regularised_values(mdp, answer, gamma, tau)
        best = scale * regularised_values(mdp, optimal, gamma, tau)
        info = {"leader_value": leader, "follower_value": follower,
                "follower_gap": best - follower, "policy": answer.copy(),
                **family.step_info(x)}
        return info["leader_value"], info

    def step(self, actions: np.ndarray, policy: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """(obs (B, D), reward (B,), info) of one commitment per game."""
        x, refused = self.family.decode(np.asarray(actions, dtype=np.float64))
        reward, info = self.evaluate(x, policy)
        info["refused"] = refused
        return self.family.observe(self.games), reward, info


class BilevelEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """The Gymnasium form of a bilevel game (B = 1 of ``BilevelCore``); see each game."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, family: type[BilevelFamily], knobs: Mapping[str, Any]):
        self.family = family(**knobs)
        self.knobs = self.family.knobs
        self.core = BilevelCore(self.family, 1)
        self.observation_space = self.family.observation_space()
        self.action_space = self.family.action_space()
        self._playing = False

    @property
    def game(self) -> Any:
        """The game of the current episode (the knobs' game before the first reset)."""
        return self.core.games[0]

    def bilevel_model(self) -> BilevelProblem:
        """The white-box model of the current episode's game (``mermaide.bilevel``'s
        ``BilevelProblem``): x, the follower's M_tau(x), the leader's rewards, and the
        action that plays x. Reach it through wrappers with
        ``env.get_wrapper_attr("bilevel_model")()``."""
        return self.family.problem(self.game)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        game = (options or {}).get("game")
        obs = self.core.reset(None if game is None else [game])
        self._playing = True
        return obs[0], {"game": self.game, **self.family.reset_info(self.game)}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._playing:
            raise RuntimeError("step() called before reset() or after the episode ended")
        check_action(self.action_space, action)
        obs, reward, info = self.core.step(np.asarray(action)[None])
        self._playing = False
        return (obs[0], float(reward[0]), True, False,
                {**single_info(info), **self.family.reset_info(self.game)})

    def render(self) -> None:
        gymnasium.logger.warn("the mermaide games have no rendering; nothing was drawn")
        return None


class BilevelVectorEnv(LockstepVectorEnv):
    """``num_envs`` commitments at once (``gym.make_vec`` form); reset option
    ``{"games": [...]}`` gives each sub-environment its own game. Every step ends the
    episode, so steps alternate between playing and Gymnasium's next-step autoreset."""

    def __init__(self, num_envs: int, family: type[BilevelFamily], knobs: Mapping[str, Any]):
        check_size("num_envs", num_envs)
        self.family = family(**knobs)
        self.knobs = self.family.knobs
        self.core = BilevelCore(self.family, num_envs)
        self._set_spaces(num_envs, self.family.action_space(), self.family.observation_space())

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self._reset_generator(seed)
        games = (options or {}).get("games")
        obs = self.core.reset(games)
        return obs, {"game": list(self.core.games)}

    def step(self, actions: Any) -> StepResult:
        if self._has_reset and not self._autoreset and not valid_action(
                self.single_action_space, actions, self.num_envs):
            raise ValueError(f"actions must be {self.num_envs} actions of "
                             f"{self.single_action_space}, got {actions!r}")

        def play() -> tuple[np.ndarray, np.ndarray, bool, dict[str, Any]]:
            obs, reward, info = self.core.step(np.asarray(actions))
            return obs, reward, True, dict(info)

        return self._lockstep_step(play)


# --- the PettingZoo form ----------------------------------------------------------------------

COMMIT, ANSWER = 0, 1


class BilevelParallelEnv(TwoPlayerSpaces, ParallelEnv[str, np.ndarray, Any]):
    """A bilevel game with the follower played from outside, in PettingZoo's parallel form:
    two rounds, the principal commits in the first, the agent answers in the second (both
    players act every round, as the parallel API wants; the action of the player whose turn
    it is not is checked and not played)."""

    def __init__(self, family: type[BilevelFamily], knobs: Mapping[str, Any], name: str):
        self.metadata = {"name": name, "render_modes": [], "is_parallelizable": True}
        self.family = family(**knobs)
        self.knobs = self.family.knobs
        self.core = BilevelCore(self.family, 1)
        s, a = self.family.n_states, self.family.n_actions
        # The agent's view: the round, then its MDP M_tau(x) (rewards, transitions, start).
        self._agent_dim = 1 + s * a + s * a * s + s
        reward_low, reward_high = self.family.follower_reward_bounds()
        low = np.concatenate([np.zeros(1), np.full(s * a, min(reward_low, 0.0)),
                              np.zeros(s * a * s + s)])
        high = np.concatenate([np.ones(1), np.full(s * a, max(reward_high, 0.0)),
                               np.ones(s * a * s + s)])
        self._set_players(
            {PRINCIPAL: self.family.observation_space(),
             AGENT: spaces.Box(low.astype(np.float32), high.astype(np.float32),
                               dtype=np.float32)},
            {PRINCIPAL: self.family.action_space(),
             AGENT: spaces.Box(0.0, 1.0, shape=(s * a,), dtype=np.float32)})

    def bilevel_model(self) -> BilevelProblem:
        """The white-box model of the current episode's game (as the Gymnasium form's)."""
        return self.family.problem(self.core.games[0])

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        self._seed(seed)
        game = (options or {}).get("game")
        principal_obs = self.core.reset(None if game is None else [game])[0]
        self.round = COMMIT
        self._x: np.ndarray | None = None
        self.agents = list(PLAYERS)
        game_now = self.core.games[0]
        self.game_info = {"game": game_now, **self.family.reset_info(game_now)}
        return ({PRINCIPAL: principal_obs,
                 AGENT: np.zeros(self._agent_dim, dtype=np.float32)},
                {PRINCIPAL: {}, AGENT: {}})

    def _agent_view(self, mdp: FollowerMDPs) -> np.ndarray:
        parts = [np.ones(1), mdp.rewards[0].ravel(), mdp.transitions[0].ravel(),
                 mdp.initial[0].ravel()]
        return np.concatenate(parts).astype(np.float32)

    def step(self, actions: Mapping[str, Any]) -> tuple[
            dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool],
            dict[str, dict[str, Any]]]:
        if not self.agents:
            raise RuntimeError("step() called before reset() or after the episode ended")
        check_joint_actions(actions, self._action_spaces)
        principal_obs = self.family.observe(self.core.games)[0]
        if self.round == COMMIT:
            x, refused = self.family.decode(
                np.asarray(actions[PRINCIPAL], dtype=np.float64)[None])
            self._x, self._refused = x, refused
            view = self._agent_view(self.family.lower(self.core.games, x))
            self.round = ANSWER
            zero = dict.fromkeys(PLAYERS, 0.0)
            alive = dict.fromkeys(PLAYERS, False)
            return ({PRINCIPAL: principal_obs, AGENT: view}, zero, alive, dict(alive),
                    {PRINCIPAL: {"refused": bool(refused[0])}, AGENT: {}})
        assert self._x is not None
        policy = policy_from_weights(np.asarray(actions[AGENT], dtype=np.float64),
                                     self.family.n_states, self.family.n_actions)
        reward, info = self.core.evaluate(self._x, policy[None])
        info["refused"] = self._refused
        self.game_info = {**single_info(info), **self.family.reset_info(self.core.games[0])}
        self.agents = []
        done = dict.fromkeys(PLAYERS, True)
        rewards = {PRINCIPAL: float(reward[0]), AGENT: float(info["follower_value"][0])}
        principal_info = {key: self.game_info[key] for key in ("leader_value", "refused")}
        return ({PRINCIPAL: principal_obs, AGENT: np.zeros(self._agent_dim, dtype=np.float32)},
                rewards, done, dict.fromkeys(PLAYERS, False),
                {PRINCIPAL: principal_info, AGENT: {}})


def policy_from_weights(weights: np.ndarray, n_states: int, n_actions: int) -> np.ndarray:
    """(S * A,) weights in [0, 1] -> a policy (S, A): each state's weights normalised, a state
    whose weights are all 0 uniform."""
    table = np.asarray(weights, dtype=np.float64).reshape(n_states, n_actions)
    total = table.sum(axis=-1, keepdims=True)
    uniform = np.full_like(table, 1.0 / n_actions)
    policy = np.where(total > 0, table / np.where(total > 0, total, 1.0), uniform)
    return policy
