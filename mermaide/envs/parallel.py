"""What the PettingZoo forms of the games share: the principal and the agent as two separate
players.

In the Gymnasium forms the agent is a built-in learner inside the environment. In the PettingZoo
forms it is a player of its own, so any external learner (an SB3 algorithm, a MARL library, a
human) can play it, and the principal's side stays exactly what it is in the Gymnasium form.
Each game's module holds its own PettingZoo form, with PettingZoo's ``env()`` (AEC) and, for
the simultaneous games, ``parallel_env()``; ``mermaide.envs`` exports them by game name:

>>> from mermaide.envs import bandit_parallel, repeated_stackelberg_parallel
>>> env = bandit_parallel(n_arms=10, horizon=200)
>>> obs, infos = env.reset(seed=0)
>>> actions = {a: env.action_space(a).sample() for a in env.agents}
>>> obs, rewards, terms, truncs, infos = env.step(actions)

Games: ``bandit_parallel`` (``Mermaide/Bandit-v0``, ``mermaide.envs.bandit``) and
``repeated_stackelberg_parallel`` (``Mermaide/RepeatedStackelberg-v0``,
``mermaide.envs.repeated_stackelberg``), each with the knobs of its Gymnasium form;
``bandit_aec`` / ``repeated_stackelberg_aec`` are the AEC forms (``aec_env``: PettingZoo's
``parallel_to_aec`` plus its order check). The one-round game ``Mermaide/Stackelberg-v0`` is
sequential (the agent answers the commitment it has seen), so it is an AEC env only:
``stackelberg_aec`` (``mermaide.envs.stackelberg``). ``mermaide.envs.single_player`` turns
either side of a two-player form into a Gymnasium env against a fixed policy on the other
side. Each game's class docstring says exactly what each player sees.

Here: the player names, ``TwoPlayerSpaces`` (what every two-player form holds of its players,
parallel or AEC), ``TwoPlayerParallelEnv`` (the parallel forms' base over a batched core),
``aec_env`` (their AEC forms), ``task_learner`` (an episode's built-in learner), the check of a
player name, ``valid_action``, the one rule for an action that every form of every game uses,
and ``check_action`` / ``check_joint_actions``, its one refusal; ``checked_agent_actions``,
what a batched core takes from an external agent.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import wrappers
from pettingzoo.utils.conversions import parallel_to_aec_wrapper

from mermaide.agents.observation import AgentObservation, agent_observation_space
from mermaide.envs.vector import single_info

PRINCIPAL, AGENT = "principal", "agent"
PLAYERS = (PRINCIPAL, AGENT)
# Knobs of the Gymnasium forms that only their built-in exact follower uses: refused here.
FOLLOWER_KNOBS = ("tie_break", "tie_tolerance")
# The numpy dtype kinds an action may have: signed and unsigned integers for a Discrete, and
# floats too for a Box; never "b" (bool) or "c" (complex).
INTEGER_KINDS, REAL_KINDS = "iu", "iuf"


class TwoPlayerSpaces:
    """What every two-player form, parallel or AEC, holds of its players: their spaces, the
    generator that ``reset(seed)`` seeds, the players still in the episode and the harness's
    ``game_info``; PettingZoo's ``observation_space(agent)`` / ``action_space(agent)`` over
    them, and no rendering."""

    render_mode = None

    def _set_players(self, observation_spaces: Mapping[str, spaces.Space[Any]],
                     action_spaces: Mapping[str, spaces.Space[Any]]) -> None:
        """Before the first reset: the spaces of each of ``PLAYERS``, built once (PettingZoo
        requires the same space object on every call, for seeding)."""
        self.possible_agents = list(PLAYERS)
        self._observation_spaces = {player: observation_spaces[player] for player in PLAYERS}
        self._action_spaces = {player: action_spaces[player] for player in PLAYERS}
        self.np_random: np.random.Generator | None = None
        self.agents: list[str] = []
        self.game_info: dict[str, Any] = {}

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._observation_spaces[check_player(agent)]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._action_spaces[check_player(agent)]

    def _seed(self, seed: int | None) -> np.random.Generator:
        """The episode's generator: seeded afresh by ``reset(seed=...)`` (and at the first
        reset), kept as it is by ``reset()``, as PettingZoo's seed test wants."""
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        return self.np_random

    def render(self) -> None:
        gymnasium.logger.warn("the mermaide games have no rendering; nothing was drawn")
        return None


class TwoPlayerParallelEnv(TwoPlayerSpaces, ParallelEnv[str, np.ndarray, Any], abc.ABC):
    """A game's batched core, run at B = 1 with its agent played from outside.

    Both players act at once each step; the principal sees the core's observation (which the
    knobs shape), the agent sees ``mermaide.agents.observation`` (its own last action and
    received reward, and the time left). A game subclasses this with three hooks: drawing an
    episode's task and resetting the core (``_reset_core``), one core step
    (``_step_core``, whose info holds the agent's received reward in ``"agent_reward"``) and
    the built-in learner the task names (``episode_learner``).

    ``principal_info_keys``: the entries of the core's step info the principal may read (what
    it did and paid, what it observed); the rest (the agent's true action, its reward, ...)
    is in ``game_info``, for harnesses and the single-player views.
    """

    def __init__(self, core: Any, *, name: str, principal_action_space: spaces.Space[Any],
                 n_agent_actions: int, horizon: int, principal_info_keys: Sequence[str]):
        self.metadata = {"name": name, "render_modes": [], "is_parallelizable": True}
        self.core, self.horizon, self.n_agent_actions = core, horizon, n_agent_actions
        self._principal_info_keys = tuple(principal_info_keys)
        self._set_players(
            {PRINCIPAL: core.observation_space(), AGENT: agent_observation_space(n_agent_actions)},
            {PRINCIPAL: principal_action_space, AGENT: spaces.Discrete(n_agent_actions)})
        self._view = AgentObservation(1, n_agent_actions, horizon)

    # --- the game's hooks ---------------------------------------------------------------------

    @abc.abstractmethod
    def _reset_core(self, options: Mapping[str, Any], rng: np.random.Generator
                    ) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """Draw the episode's task, reset the core: (principal obs (D,), the principal's reset
        info, the harness's reset info)."""

    @abc.abstractmethod
    def _step_core(self, principal_action: Any, agent_actions: np.ndarray,
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        """One core step at B = 1: (obs (1, D), principal reward (1,), done, info)."""

    @abc.abstractmethod
    def episode_learner(self) -> tuple[str, dict[str, Any]]:
        """(learner name, parameters) of the agent this episode's task names."""

    # --- PettingZoo's API ---------------------------------------------------------------------

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        rng = self._seed(seed)
        principal_obs, principal_info, self.game_info = self._reset_core(options or {}, rng)
        self._view.reset()
        self.agents = list(PLAYERS)
        observations = {PRINCIPAL: principal_obs, AGENT: self._view.observation()[0]}
        return observations, {PRINCIPAL: principal_info, AGENT: {}}

    def step(self, actions: Mapping[str, Any]) -> tuple[
            dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool],
            dict[str, dict[str, Any]]]:
        if not self.agents or self.np_random is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        check_joint_actions(actions, self._action_spaces)
        agent_action = np.array([actions[AGENT]], dtype=np.int64)
        obs, principal_reward, done, info = self._step_core(actions[PRINCIPAL], agent_action,
                                                            self.np_random)
        agent_reward = info["agent_reward"]
        self._view.record(agent_action, agent_reward)
        self.game_info = single_info(info)
        observations = {PRINCIPAL: obs[0], AGENT: self._view.observation()[0]}
        rewards = {PRINCIPAL: float(principal_reward[0]), AGENT: float(agent_reward[0])}
        terminations = dict.fromkeys(PLAYERS, bool(done))
        truncations = dict.fromkeys(PLAYERS, False)
        principal_info = {key: self.game_info[key] for key in self._principal_info_keys
                          if key in self.game_info}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, {PRINCIPAL: principal_info,
                                                                   AGENT: {}}


def task_learner(task: Any) -> tuple[str, dict[str, Any]]:
    """(learner name, parameters) of the task an episode plays (anything with ``learner`` and
    ``params``): what ``episode_learner`` gives; a RuntimeError before the first reset (no
    task yet)."""
    if task is None:
        raise RuntimeError("episode_learner() called before reset()")
    return task.learner, dict(task.params)


def check_player(agent: str) -> str:
    """``agent`` if it names one of the two players; a ValueError otherwise."""
    if agent not in PLAYERS:
        raise ValueError(f"agent must be one of {PLAYERS}, got {agent!r}")
    return agent


def valid_action(space: spaces.Space[Any], action: Any, batch: int | None = None) -> bool:
    """Whether ``action`` is an action of ``space`` (with ``batch``: a vector env's ``batch``
    actions stacked, shape ``(batch, *space.shape)``), by the one rule of every form of every
    game (Gymnasium, vector, PettingZoo, single-player views, ``CommitmentGrid``).

    A ``Discrete`` takes integers in range, numpy integers and 0-d integer arrays included
    (as ``Discrete.contains``), and no float, not even 1.0. A ``Box`` takes any real array of
    its shape within its bounds (float64 included: ``Box.contains`` would refuse what a
    policy in float64 outputs). Neither takes a bool or a complex number, scalar or array:
    ``Discrete.contains`` takes True as action 1 (a bool is an int) and a Box would drop the
    imaginary part of 1 + 2j, so either is a caller's bug that would otherwise play.
    """
    if not isinstance(space, (spaces.Discrete, spaces.Box)):
        return batch is None and bool(space.contains(action))
    try:
        array = np.asarray(action)
    except (TypeError, ValueError):  # a ragged nesting of lists: no array at all
        return False
    shape = space.shape if batch is None else (batch, *(space.shape or ()))
    if array.shape != shape:
        return False
    if isinstance(space, spaces.Discrete):
        return bool(array.dtype.kind in INTEGER_KINDS and np.all(array >= space.start)
                    and np.all(array < space.start + space.n))
    return bool(array.dtype.kind in REAL_KINDS and np.all(np.isfinite(array))
                and np.all(array >= space.low) and np.all(array <= space.high))


def check_action(space: spaces.Space[Any], action: Any, what: str = "action") -> None:
    """A ValueError naming ``what`` (the action, or a player's) unless ``valid_action``: the
    one refusal of every form."""
    if not valid_action(space, action):
        raise ValueError(f"{what} must be in {space}, got {action!r} "
                         f"({type(action).__name__})")


def check_joint_actions(actions: Any, action_spaces: Mapping[str, spaces.Space[Any]]) -> None:
    """A ValueError unless ``actions`` maps each of ``PLAYERS`` to an action of its space (a
    simultaneous step of a two-player parallel form)."""
    if not isinstance(actions, Mapping) or set(actions) != set(PLAYERS):
        raise ValueError(f"actions must map each of {PLAYERS} to its action, got {actions!r}")
    for player in PLAYERS:
        check_action(action_spaces[player], actions[player], f"action of {player!r}")


def checked_agent_actions(agent_actions: Any, batch: int, n_actions: int) -> np.ndarray:
    """The (B,) actions of an external agent (the two-player forms' agent) that a batched core
    is handed, refused unless ints in [0, n_actions): they index the core's reward tables,
    where one out of range would silently read another entry."""
    actions = np.asarray(agent_actions)
    if actions.shape != (batch,) or not np.issubdtype(actions.dtype, np.integer) \
            or actions.min() < 0 or actions.max() >= n_actions:
        raise ValueError(f"agent_actions must be {batch} ints in [0, {n_actions - 1}], got "
                         f"{agent_actions!r}")
    return actions


class TwoPlayerAECEnv(parallel_to_aec_wrapper):
    """PettingZoo's ``parallel_to_aec`` of a two-player form, refusing by name a real action
    for a player whose episode has ended.

    PettingZoo's own ``AECEnv._was_dead_step`` refuses it with a ValueError that names no
    player; the conversion wrapper only asserts, after it has already dropped the player's
    pending action, so a bare AssertionError left the env unable to take the ``None`` it
    wanted. Checked here first, the env is unchanged and the next ``step(None)`` works.
    """

    def step(self, action: Any) -> None:
        player = self.agent_selection
        if action is not None and (self.terminations[player] or self.truncations[player]):
            raise ValueError(dead_action_message(player, action))
        super().step(action)


def dead_action_message(player: str, action: Any) -> str:
    """What a real action for a player whose episode has ended is told (every AEC form)."""
    return (f"action of {player!r} must be None: its episode has ended (terminated or "
            f"truncated), got {action!r}")


def aec_env(parallel: ParallelEnv[str, Any, Any]) -> AECEnv[str, Any, Any]:
    """The AEC form of a two-player parallel form: ``TwoPlayerAECEnv`` under PettingZoo's
    order check."""
    return wrappers.OrderEnforcingWrapper(TwoPlayerAECEnv(parallel))
