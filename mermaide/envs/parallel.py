"""PettingZoo forms of the games: the principal and the agent as two separate players.

In the Gymnasium forms the agent is a built-in learner inside the environment. Here it is a
player of its own, so any external learner (an SB3 algorithm, a MARL library, a human) can
play it, and the principal's side stays exactly what it is in the Gymnasium form.

>>> from mermaide.envs import bandit_parallel, repeated_stackelberg_parallel
>>> env = bandit_parallel(n_arms=10, horizon=200)
>>> obs, infos = env.reset(seed=0)
>>> actions = {a: env.action_space(a).sample() for a in env.agents}
>>> obs, rewards, terms, truncs, infos = env.step(actions)

Games: ``bandit_parallel`` (``Mermaide/Bandit-v0``) and ``repeated_stackelberg_parallel``
(``Mermaide/RepeatedStackelberg-v0``), each with the knobs of its Gymnasium form;
``bandit_aec`` / ``repeated_stackelberg_aec`` are the AEC forms (``parallel_to_aec`` plus
PettingZoo's order check). The one-round game ``Mermaide/Stackelberg-v0`` is sequential (the
agent answers the commitment it has seen), so it is an AEC env only: ``stackelberg_aec``.
``mermaide.envs.single_player`` turns either side of a parallel form into a Gymnasium
env against a fixed policy on the other side. Each game's class docstring says exactly what
each player sees.
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
from pettingzoo.utils import parallel_to_aec, wrappers

from mermaide.agents.observation import AgentObservation, agent_observation_space
from mermaide.agents.population import AgentSpec
from mermaide.checks import check_int
from mermaide.envs.bandit import (
    AgentSource,
    BanditCore,
    _validated_knobs,
    agent_source,
    draw_spec,
)
from mermaide.envs.games import FOLLOWER, MatrixGame
from mermaide.envs.knobs import OBSERVES_ACTIONS
from mermaide.envs.stackelberg import (
    GameSource,
    RepeatedStackelbergCore,
    decode_actions,
    draw_game,
    encode_action,
    game_source,
    source_shape,
    validated_knobs,
)
from mermaide.envs.stackelberg import action_space as stackelberg_action_space

PRINCIPAL, AGENT = "principal", "agent"
PLAYERS = (PRINCIPAL, AGENT)


class TwoPlayerParallelEnv(ParallelEnv[str, np.ndarray, Any], abc.ABC):
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

    render_mode = None

    def __init__(self, core: Any, *, name: str, principal_action_space: spaces.Space[Any],
                 n_agent_actions: int, horizon: int, principal_info_keys: Sequence[str]):
        self.metadata = {"name": name, "render_modes": [], "is_parallelizable": True}
        self.possible_agents = list(PLAYERS)
        self.core, self.horizon, self.n_agent_actions = core, horizon, n_agent_actions
        self._principal_info_keys = tuple(principal_info_keys)
        # Built once: PettingZoo requires the same space object on every call (seeding).
        self._observation_spaces: dict[str, spaces.Space[Any]] = {
            PRINCIPAL: core.observation_space(), AGENT: agent_observation_space(n_agent_actions)}
        self._action_spaces: dict[str, spaces.Space[Any]] = {
            PRINCIPAL: principal_action_space, AGENT: spaces.Discrete(n_agent_actions)}
        self._view = AgentObservation(1, n_agent_actions, horizon)
        self.np_random: np.random.Generator | None = None
        self.agents: list[str] = []
        self.game_info: dict[str, Any] = {}

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

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._observation_spaces[self._check_player(agent)]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._action_spaces[self._check_player(agent)]

    @staticmethod
    def _check_player(agent: str) -> str:
        if agent not in PLAYERS:
            raise ValueError(f"agent must be one of {PLAYERS}, got {agent!r}")
        return agent

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        principal_obs, principal_info, self.game_info = self._reset_core(options or {},
                                                                         self.np_random)
        self._view.reset()
        self.agents = list(PLAYERS)
        observations = {PRINCIPAL: principal_obs, AGENT: self._view.observation()[0]}
        return observations, {PRINCIPAL: principal_info, AGENT: {}}

    def step(self, actions: Mapping[str, Any]) -> tuple[
            dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool],
            dict[str, dict[str, Any]]]:
        if not self.agents or self.np_random is None:
            raise RuntimeError("step() called before reset() or after the episode ended")
        if not isinstance(actions, Mapping) or set(actions) != set(PLAYERS):
            raise ValueError(f"actions must map each of {PLAYERS} to its action, got "
                             f"{actions!r}")
        for player in PLAYERS:
            if not valid_action(self._action_spaces[player], actions[player]):
                raise ValueError(f"action of {player!r} must be in "
                                 f"{self._action_spaces[player]}, got {actions[player]!r} "
                                 f"({type(actions[player]).__name__})")
        agent_action = np.array([actions[AGENT]], dtype=np.int64)
        obs, principal_reward, done, info = self._step_core(actions[PRINCIPAL], agent_action,
                                                            self.np_random)
        agent_reward = info["agent_reward"]
        self._view.record(agent_action, agent_reward)
        # B = 1: per-agent entries become Python scalars, vectors (e.g. payoffs) arrays.
        self.game_info = {key: value[0].item() if value.ndim == 1 else value[0].copy()
                          for key, value in info.items()}
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

    def render(self) -> None:
        gymnasium.logger.warn("the mermaide games have no rendering; nothing was drawn")
        return None


def valid_action(space: spaces.Space[Any], action: Any) -> bool:
    """``space.contains``, but a Box takes any real array of its shape within its bounds
    (float64 included: Box.contains would refuse what a policy in float64 outputs)."""
    if not isinstance(space, spaces.Box):
        return space.contains(action)
    array = np.asarray(action)
    return bool(array.shape == space.shape and np.issubdtype(array.dtype, np.number)
                and not np.issubdtype(array.dtype, np.complexfloating)
                and np.all(np.isfinite(array)) and np.all(array >= space.low)
                and np.all(array <= space.high))


class BanditParallelEnv(TwoPlayerParallelEnv):
    """The bandit game with the principal and the agent as two players (``bandit_parallel``).

    ## Description
    The game of ``Mermaide/Bandit-v0`` (see ``BanditEnv``), but the agent is a player: at
    each step the principal chooses whether and where to put a bonus, and at the same time
    (neither sees the other's current choice) the agent picks an arm. The agent receives its
    noisy base reward for the arm plus the bonus if the principal put it on that arm.

    ## Action Space
    ``"principal"``: ``Discrete(n_arms + 1)``, 0 = do nothing, i >= 1 = bonus on arm i - 1.
    ``"agent"``: ``Discrete(n_arms)``, the arm it picks.

    ## Observation Space
    ``"principal"``: exactly ``BanditEnv``'s observation (see ``BanditCore``): the agent's
    last action as observed (wrong with probability ``observation_noise``), the principal's
    own last action, time and budget left, and, only with
    ``principal_observes="actions+rewards"``, the agent's last received reward plus Gaussian
    noise of std ``observation_noise``.
    ``"agent"``: ``Box`` of shape (n_arms + 2,), see ``mermaide.agents.observation``: one-hot
    of its own last arm, the reward it received for it (bonus included, no noise added), and
    the fraction of time left. It never sees the principal's actions, its payoffs or its
    budget; a bonus shows only in the reward.

    ## Rewards
    ``"principal"``: ``r_p[agent's arm] - cost``, as in ``BanditEnv``.
    ``"agent"``: its base reward for the arm (noised by ``reward_noise``) plus the bonus when
    the principal's applied intervention was on that arm.

    ## Starting State
    An agent task (its base rewards and the principal's target) is drawn from ``agent``;
    ``reset(options={"agent": spec})`` plays a given ``AgentSpec``. The learner named in the
    spec does not play here (the ``"agent"`` player does); it is what
    ``as_principal_env(env)`` plays when no agent policy is given.

    ## Episode End
    Both players terminate after ``horizon`` steps; there is no truncation.

    ## Arguments
    The knobs of ``BanditEnv``, with the same defaults and checks: n_arms, horizon, agent,
    agent_kwargs, intervention_budget, intervention_cost, bonus, observation_noise,
    reward_noise, principal_observes.

    ## Info
    ``reset``: the principal gets ``target_action``; the agent nothing. ``step``: the
    principal gets ``observed_action``, ``target_action``, ``intervened``, ``refused``,
    ``interventions_used`` and ``cost``; the agent nothing. ``env.game_info`` holds the whole
    step info of ``BanditEnv`` (true agent action and reward, ``target_hit``, and at the end
    ``target_rate`` and ``episode_cost``), and after ``reset`` the episode's ``agent`` spec,
    for harnesses; it is part of neither player's view.

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        n_arms: int = 10,
        horizon: int = 200,
        agent: AgentSource = "ucb",
        agent_kwargs: Mapping[str, Any] | None = None,
        intervention_budget: int | None = None,
        intervention_cost: float = 0.1,
        bonus: float = 1.0,
        observation_noise: float = 0.0,
        reward_noise: float | str = 0.1,
        principal_observes: str = OBSERVES_ACTIONS,
    ):
        knobs = _validated_knobs(n_arms, horizon, intervention_budget, intervention_cost, bonus,
                                 observation_noise, reward_noise, principal_observes)
        self.knobs = knobs
        core = BanditCore(n_arms, horizon, 1, knobs, float(bonus), reward_noise,
                          external_agent=True)
        super().__init__(
            core, name="mermaide_bandit_v0", principal_action_space=spaces.Discrete(n_arms + 1),
            n_agent_actions=n_arms, horizon=horizon,
            principal_info_keys=("observed_action", "target_action", "intervened", "refused",
                                 "interventions_used", "cost"))
        self.agent = agent_source(agent, agent_kwargs, n_arms)
        self.n_arms = n_arms
        self.agent_spec: AgentSpec | None = None

    def _reset_core(self, options: Mapping[str, Any], rng: np.random.Generator
                    ) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """``options={"agent": spec}`` plays a given ``AgentSpec``; other options are ignored."""
        spec = options.get("agent")
        if spec is None:
            spec = draw_spec(self.agent, rng)
        elif not isinstance(spec, AgentSpec) or spec.n_arms != self.n_arms:
            raise ValueError(f"options['agent'] must be an AgentSpec over {self.n_arms} arms, "
                             f"got {spec!r}")
        self.agent_spec = spec
        obs = self.core.reset([spec], rng)
        return obs[0], {"target_action": spec.target}, {"agent": spec,
                                                        "target_action": spec.target}

    def _step_core(self, principal_action: Any, agent_actions: np.ndarray,
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        return self.core.step(np.array([principal_action], dtype=np.int64), rng,
                              agent_actions=agent_actions)

    def episode_learner(self) -> tuple[str, dict[str, Any]]:
        if self.agent_spec is None:
            raise RuntimeError("episode_learner() called before reset()")
        return self.agent_spec.learner, dict(self.agent_spec.params)


def bandit_parallel(**knobs: Any) -> BanditParallelEnv:
    """The bandit game as a ``pettingzoo.ParallelEnv``; knobs as ``BanditEnv``."""
    return BanditParallelEnv(**knobs)


def bandit_aec(**knobs: Any) -> AECEnv[str, np.ndarray, Any]:
    """The bandit game as a PettingZoo AEC env: principal, then agent, within each step."""
    return wrappers.OrderEnforcingWrapper(parallel_to_aec(bandit_parallel(**knobs)))


class RepeatedStackelbergParallelEnv(TwoPlayerParallelEnv):
    """The repeated Stackelberg game with the principal and the agent as two players
    (``repeated_stackelberg_parallel``).

    ## Description
    The game of ``Mermaide/RepeatedStackelberg-v0`` (see ``RepeatedStackelbergEnv``), but the
    agent is a player: each round the principal commits to a mixed strategy x over its m
    actions and may request a costed bonus on one agent action, and at the same time (without
    seeing this round's commitment) the agent picks one of its n actions j. The agent receives
    ``x @ B[:, j]`` plus the bonus if it was on j; payoffs are expected over x. Because the
    agent moves simultaneously, it is a *learning* agent here, as the repeated game's learners
    are; the exact follower, which sees the current commitment, is not a player of this form.

    ## Action Space
    ``"principal"``: ``Box`` of shape (m + n + 1,), exactly ``RepeatedStackelbergEnv``'s (m
    strategy weights or logits, then n + 1 intervention scores); ``env.encode_action(x,
    bonus_action)`` builds one. ``"agent"``: ``Discrete(n)``.

    ## Observation Space
    ``"principal"``: exactly ``RepeatedStackelbergEnv``'s (see ``RepeatedStackelbergCore``):
    the agent's last action as observed (wrong with probability ``observation_noise``), its
    own last commitment and intervention, time and budget left, its own payoffs A, and as
    ``principal_observes`` allows the agent's last payoff and its matrix B (+ Gaussian noise
    of std ``observation_noise``). ``"agent"``: ``Box`` of shape (n + 2,), see
    ``mermaide.agents.observation``: one-hot of its own last action, the payoff it received
    (bonus included, no noise added) and the fraction of time left. It sees neither matrix nor
    the principal's commitments; they show only in its payoffs.

    ## Rewards
    ``"principal"``: ``x @ A[:, j] - cost``. ``"agent"``: ``x @ B[:, j]`` + the bonus when the
    applied intervention was on j.

    ## Starting State
    A game from ``game``; ``reset(options={"game": MatrixGame(...)})`` plays a given one. The
    learner the game names is what ``as_principal_env(env)`` plays when no agent policy is
    given (a game whose agent is the follower needs an agent policy there).

    ## Episode End
    Both players terminate after ``horizon`` rounds; there is no truncation.

    ## Arguments
    The knobs of ``RepeatedStackelbergEnv`` with the same defaults and checks: game, horizon,
    agent, agent_kwargs, action_type, intervention_budget, intervention_cost, bonus,
    observation_noise, principal_observes; not tie_break and tie_tolerance, which only the
    follower uses.

    ## Info
    ``step``: the principal gets ``observed_action``, ``intervened``, ``refused``,
    ``interventions_used``, ``cost``, ``strategy`` (its decoded x) and ``bonus_action``; the
    agent nothing. ``env.game_info`` holds the whole step info of ``RepeatedStackelbergEnv``
    (true agent action and payoffs, ``principal_value``, ``equilibrium_value``, and at the end
    ``average_value`` and ``episode_cost``), and after ``reset`` the episode's ``game`` and
    ``equilibrium_value``, for harnesses; it is part of neither player's view.

    ## Version History
    * v0: initial version.
    """

    def __init__(
        self,
        game: GameSource = "train",
        horizon: int = 100,
        agent: str | None = None,
        agent_kwargs: dict[str, Any] | None = None,
        action_type: str = "weights",
        intervention_budget: int | None = None,
        intervention_cost: float = 0.1,
        bonus: float = 1.0,
        observation_noise: float = 0.0,
        principal_observes: str = OBSERVES_ACTIONS,
    ):
        check_int("horizon", horizon, 1)
        knobs = validated_knobs(intervention_budget, intervention_cost, bonus,
                                observation_noise, principal_observes, action_type,
                                "principal", 0.0)
        self.knobs, self.action_type = knobs, action_type
        self.game = game_source(game, agent, agent_kwargs)
        self.m, self.n = source_shape(self.game)
        core = RepeatedStackelbergCore((self.m, self.n), horizon, 1, knobs, float(bonus),
                                       external_agent=True)
        super().__init__(
            core, name="mermaide_repeated_stackelberg_v0",
            principal_action_space=stackelberg_action_space(self.m, self.n, action_type),
            n_agent_actions=self.n, horizon=horizon,
            principal_info_keys=("observed_action", "intervened", "refused",
                                 "interventions_used", "cost", "strategy", "bonus_action"))
        self.matrix_game: MatrixGame | None = None

    def encode_action(self, strategy: Any, bonus_action: int | None = None) -> np.ndarray:
        """The principal's action committing to ``strategy`` (m,), bonus on ``bonus_action``."""
        return encode_action(strategy, self.n, bonus_action, self.action_type)

    def _reset_core(self, options: Mapping[str, Any], rng: np.random.Generator
                    ) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """``options={"game": MatrixGame(...)}`` plays a given game; others are ignored."""
        game = options.get("game")
        if game is None:
            game = draw_game(self.game, rng)
        elif not isinstance(game, MatrixGame) or game.shape != (self.m, self.n):
            raise ValueError(f"options['game'] must be a {self.m}x{self.n} MatrixGame, got "
                             f"{game!r}")
        self.matrix_game = game
        obs = self.core.reset([game], rng)
        return obs[0], {}, {"game": game,
                            "equilibrium_value": float(self.core.equilibrium_values[0])}

    def _step_core(self, principal_action: Any, agent_actions: np.ndarray,
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        strategies, bonus_actions = decode_actions(
            np.asarray(principal_action, dtype=np.float64)[None], self.m, self.action_type)
        obs, reward, done, info = self.core.step(strategies, bonus_actions, rng,
                                                 agent_actions=agent_actions)
        info["strategy"], info["bonus_action"] = strategies, bonus_actions
        return obs, reward, done, info

    def episode_learner(self) -> tuple[str, dict[str, Any]]:
        if self.matrix_game is None:
            raise RuntimeError("episode_learner() called before reset()")
        if self.matrix_game.learner == FOLLOWER:
            raise ValueError(f"this episode's agent is the {FOLLOWER!r}, which sees the current "
                             f"commitment and so cannot play the simultaneous two-player form; "
                             f"give an agent policy, or a game whose agent is a learner "
                             f"(agent='hedge', ...)")
        return self.matrix_game.learner, dict(self.matrix_game.params)


def repeated_stackelberg_parallel(**knobs: Any) -> RepeatedStackelbergParallelEnv:
    """The repeated Stackelberg game as a ``pettingzoo.ParallelEnv``; knobs as
    ``RepeatedStackelbergEnv`` (without the follower's tie_break and tie_tolerance)."""
    return RepeatedStackelbergParallelEnv(**knobs)


def repeated_stackelberg_aec(**knobs: Any) -> AECEnv[str, np.ndarray, Any]:
    """The repeated Stackelberg game as a PettingZoo AEC env."""
    return wrappers.OrderEnforcingWrapper(
        parallel_to_aec(repeated_stackelberg_parallel(**knobs)))


class StackelbergAECEnv(AECEnv[str, np.ndarray, Any]):
    """The one-round Stackelberg game with the principal and the agent as two players, in
    PettingZoo's AEC form (``stackelberg_aec``): the principal moves, then the agent.

    ## Description
    The game of ``Mermaide/Stackelberg-v0`` (see ``StackelbergEnv``) with the agent played from
    outside. A round is two turns. First the principal commits to a mixed strategy x over its
    m actions and may post a costed bonus on one agent action; then the agent, having seen the
    commitment and the posted bonus, answers with one of its n actions j. This is why the game
    has an AEC form and no parallel one: the follower moves *after* the commitment, which
    PettingZoo's parallel API (both players at once) cannot express. An agent that answers
    ``argmax(x @ B + bonus)`` is the exact follower of the Gymnasium form; any other answer
    is the external learner's own.

    ## Action Space
    ``"principal"``: ``Box`` of shape (m + n + 1,), exactly ``StackelbergEnv``'s (m strategy
    weights or logits, then n + 1 intervention scores); ``env.unwrapped.encode_action(x,
    bonus_action)`` builds one. ``"agent"``: ``Discrete(n)``.

    ## Observation Space
    ``"principal"``: exactly ``StackelbergEnv``'s: at its turn what it sees at reset (its own
    payoffs A, and the agent's matrix B with ``principal_observes="actions+payoffs"``), after
    the round the (noisy) observed answer and the rest of the Gymnasium form's observation.
    ``"agent"``: ``Box`` of shape (m + n,): the commitment x, then the posted bonus on each of
    its actions (``bonus`` on the one the principal chose if the budget allows it, 0
    elsewhere); all zeros before the principal has moved. It never sees A or B: its payoffs
    show in its reward.

    ## Rewards
    Both at the end of the round: ``"principal"`` ``x @ A[:, j] - cost``, ``"agent"``
    ``x @ B[:, j]`` plus the bonus when it was posted on j. 0 after the principal's turn.

    ## Starting State
    A game from ``game``; ``reset(options={"game": MatrixGame(...)})`` plays a given one (its
    ``learner`` is ignored: the agent is the external player).

    ## Episode End
    Both players terminate after the agent's answer; there is no truncation.

    ## Arguments
    The knobs of ``StackelbergEnv`` with the same defaults and checks: game, action_type,
    intervention_budget (default 0), intervention_cost, bonus, observation_noise,
    principal_observes; not tie_break and tie_tolerance, which only the exact follower uses.

    ## Info
    After the round the principal gets ``observed_action``, ``intervened``, ``refused``,
    ``interventions_used``, ``cost``, ``strategy`` (its decoded x) and ``bonus_action``; the
    agent nothing. ``env.unwrapped.game_info`` holds the Gymnasium form's whole step info (true
    answer, payoffs, ``principal_value``, ``equilibrium_value``, ...), and after ``reset`` the
    episode's ``game`` and ``equilibrium_value``, for harnesses.

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"name": "mermaide_stackelberg_v0", "render_modes": [],
                                "is_parallelizable": False}
    render_mode = None

    def __init__(
        self,
        game: GameSource = "train",
        action_type: str = "weights",
        intervention_budget: int | None = 0,
        intervention_cost: float = 0.1,
        bonus: float = 1.0,
        observation_noise: float = 0.0,
        principal_observes: str = OBSERVES_ACTIONS,
    ):
        super().__init__()
        knobs = validated_knobs(intervention_budget, intervention_cost, bonus,
                                observation_noise, principal_observes, action_type,
                                "principal", 0.0)
        self.knobs, self.action_type, self.bonus = knobs, action_type, float(bonus)
        self.game = game_source(game, None, None)
        self.m, self.n = source_shape(self.game)
        self.core = RepeatedStackelbergCore((self.m, self.n), 1, 1, knobs, self.bonus,
                                            external_agent=True)
        self.possible_agents = list(PLAYERS)
        self._observation_spaces: dict[str, spaces.Space[Any]] = {
            PRINCIPAL: self.core.observation_space(),
            AGENT: spaces.Box(0.0, max(1.0, self.bonus), shape=(self.m + self.n,),
                              dtype=np.float32)}
        self._action_spaces: dict[str, spaces.Space[Any]] = {
            PRINCIPAL: stackelberg_action_space(self.m, self.n, action_type),
            AGENT: spaces.Discrete(self.n)}
        self.np_random: np.random.Generator | None = None
        self.agents: list[str] = []
        self.game_info: dict[str, Any] = {}

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self._observation_spaces[TwoPlayerParallelEnv._check_player(agent)]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self._action_spaces[TwoPlayerParallelEnv._check_player(agent)]

    def encode_action(self, strategy: Any, bonus_action: int | None = None) -> np.ndarray:
        """The principal's action committing to ``strategy`` (m,), bonus on ``bonus_action``."""
        return encode_action(strategy, self.n, bonus_action, self.action_type)

    def observe(self, agent: str) -> np.ndarray:
        # A copy: observe() may be called many times per turn, and a caller that writes into
        # what it got must not change what the next call returns.
        return self._observations[TwoPlayerParallelEnv._check_player(agent)].copy()

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if seed is not None or self.np_random is None:
            self.np_random, _ = seeding.np_random(seed)
        game = (options or {}).get("game")
        if game is None:
            game = draw_game(self.game, self.np_random)
        elif not isinstance(game, MatrixGame) or game.shape != (self.m, self.n):
            raise ValueError(f"options['game'] must be a {self.m}x{self.n} MatrixGame, got "
                             f"{game!r}")
        principal_obs = self.core.reset([game], self.np_random)[0]
        self.game_info = {"game": game,
                          "equilibrium_value": float(self.core.equilibrium_values[0])}
        self.agents = list(PLAYERS)
        self._observations = {PRINCIPAL: principal_obs,
                              AGENT: np.zeros(self.m + self.n, dtype=np.float32)}
        self._commitment: tuple[np.ndarray, np.ndarray] | None = None
        self.rewards = dict.fromkeys(PLAYERS, 0.0)
        self._cumulative_rewards = dict.fromkeys(PLAYERS, 0.0)
        self.terminations = dict.fromkeys(PLAYERS, False)
        self.truncations = dict.fromkeys(PLAYERS, False)
        self.infos: dict[str, dict[str, Any]] = {PRINCIPAL: {}, AGENT: {}}
        self.agent_selection = PRINCIPAL

    def step(self, action: Any) -> None:
        if not self.agents:
            raise RuntimeError("step() called before reset() or after the episode ended")
        player = self.agent_selection
        if self.terminations[player] or self.truncations[player]:
            self._was_dead_step(action)
            return
        if not valid_action(self._action_spaces[player], action):
            raise ValueError(f"action of {player!r} must be in {self._action_spaces[player]}, "
                             f"got {action!r} ({type(action).__name__})")
        self._cumulative_rewards[player] = 0.0
        if player == PRINCIPAL:
            self._commit(action)
            self._clear_rewards()
            self.agent_selection = AGENT
        else:
            self._answer(int(action))
            self.agent_selection = PRINCIPAL
        self._accumulate_rewards()

    def _commit(self, action: Any) -> None:
        strategies, bonus_actions = decode_actions(
            np.asarray(action, dtype=np.float64)[None], self.m, self.action_type)
        self._commitment = (strategies, bonus_actions)
        # The bonus the agent is shown is the one the round will apply: the ledger refuses a
        # request only when the budget is spent, which it checks the same way at the answer.
        ledger = self.core.ledger
        posted = np.zeros(self.n, dtype=np.float32)
        if bonus_actions[0] >= 0 and ledger.used[0] < ledger.limit:
            posted[bonus_actions[0]] = self.bonus
        self._observations[AGENT] = np.concatenate([strategies[0].astype(np.float32), posted])

    def _answer(self, agent_action: int) -> None:
        assert self._commitment is not None and self.np_random is not None
        strategies, bonus_actions = self._commitment
        obs, principal_reward, _, info = self.core.step(
            strategies, bonus_actions, self.np_random,
            agent_actions=np.array([agent_action], dtype=np.int64))
        info["strategy"], info["bonus_action"] = strategies, bonus_actions
        self.game_info = {key: value[0].item() if value.ndim == 1 else value[0].copy()
                          for key, value in info.items()}
        self._observations[PRINCIPAL] = obs[0]
        self.rewards = {PRINCIPAL: float(principal_reward[0]),
                        AGENT: float(info["agent_reward"][0])}
        self.terminations = dict.fromkeys(PLAYERS, True)
        self.infos = {PRINCIPAL: {key: self.game_info[key] for key in (
            "observed_action", "intervened", "refused", "interventions_used", "cost",
            "strategy", "bonus_action")}, AGENT: {}}

    def render(self) -> None:
        gymnasium.logger.warn("the mermaide games have no rendering; nothing was drawn")
        return None


def stackelberg_aec(**knobs: Any) -> AECEnv[str, np.ndarray, Any]:
    """The one-round Stackelberg game as a PettingZoo AEC env (the principal commits, then the
    agent answers); knobs as ``StackelbergEnv`` (without the follower's tie_break and
    tie_tolerance). ``env.unwrapped`` is the ``StackelbergAECEnv``."""
    return wrappers.OrderEnforcingWrapper(StackelbergAECEnv(**knobs))
