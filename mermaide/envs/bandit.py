"""The bandit game ``Mermaide/Bandit-v0``: a principal steers a bandit-learning agent with
costly bonuses (MERMAIDE, Banerjee et al., TMLR 2024).

``BanditKnobs`` is the game's knob signature, written once for all its forms. One
``BanditCore`` simulates B games at once with (B, K) numpy arrays; ``BanditEnv`` is its B=1
Gymnasium form, ``BanditVectorEnv`` its native ``gym.make_vec`` form (B = num_envs) and
``BanditParallelEnv`` its PettingZoo form with the agent as a second player (``parallel_env()``
and, AEC, ``env()``, as PettingZoo's own game modules have them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

from mermaide.agents import make as make_learner
from mermaide.agents.base import Learner, is_learner_name, learner_names
from mermaide.agents.population import AgentBatch, AgentPopulation, AgentSpec, LearnerFamily
from mermaide.checks import check_int, check_number, check_size
from mermaide.envs.games import check_learner_params
from mermaide.envs.knobs import (
    NUM_ENVS,
    OBSERVES_ACTIONS,
    OBSERVES_REWARDS,
    BudgetLedger,
    Knobs,
    knob_signature,
    misreport_actions,
)
from mermaide.envs.parallel import (
    TwoPlayerParallelEnv,
    aec_env,
    checked_agent_actions,
    task_learner,
    valid_action,
)
from mermaide.envs.vector import LockstepVectorEnv

AgentSource = str | AgentSpec | AgentPopulation
OBSERVES = (OBSERVES_ACTIONS, OBSERVES_REWARDS)
BERNOULLI = "bernoulli"


@dataclass(frozen=True, kw_only=True)
class BanditKnobs(Knobs):
    """Every knob of ``Mermaide/Bandit-v0``: the shared ones and the game's own, validated once
    for all its forms (see ``BanditEnv``'s Arguments)."""

    OBSERVES: ClassVar[tuple[str, ...]] = OBSERVES

    n_arms: int = 10
    horizon: int = 200
    agent: AgentSource = "ucb"
    agent_kwargs: Mapping[str, Any] | None = None
    bonus: float = 1.0
    reward_noise: float | str = 0.1

    def __post_init__(self) -> None:
        check_size("n_arms", self.n_arms, 2)
        check_int("horizon", self.horizon, 1)
        check_number("bonus", self.bonus, low=0.0, low_open=True)
        check_reward_noise(self.reward_noise)
        super().__post_init__()

    def source(self, batch: int = 1) -> AgentSpec | AgentPopulation:
        """The agents to draw from (``agent_source`` of the agent knobs), for a form that plays
        ``batch`` games at once."""
        return agent_source(self.agent, self.agent_kwargs, self.n_arms, batch)


def check_reward_noise(reward_noise: float | str) -> None:
    """The ``reward_noise`` knob of the bandit games: a std >= 0 of Gaussian noise on the
    arms' rewards, or ``BERNOULLI`` (each reward a coin with the arm's mean)."""
    if reward_noise != BERNOULLI:
        if isinstance(reward_noise, str):
            raise ValueError(f"reward_noise must be a std >= 0 or {BERNOULLI!r}, got "
                             f"{reward_noise!r}")
        check_number("reward_noise", reward_noise, low=0.0)


def agent_source(agent: AgentSource, agent_kwargs: Mapping[str, Any] | None,
                 n_arms: int, batch: int = 1) -> AgentSpec | AgentPopulation:
    """Normalise the ``agent`` argument: a learner name becomes a one-family population whose
    payoffs and target are drawn afresh at each reset (its ``batch`` agents, one per game of
    the form, are one learner: a per-agent parameter array has ``batch`` entries)."""
    if isinstance(agent, str):
        if not is_learner_name(agent):
            raise ValueError(f"agent must be a registered learner ({', '.join(learner_names())}) "
                             f"or \"sb3:<Algorithm>\", an AgentSpec or an AgentPopulation, got "
                             f"{agent!r}")
        # Built once here, so that a bad parameter fails when the env is made, not at the
        # first reset (where the population first builds the learner).
        check_learner_params(agent, agent_kwargs or {}, argument="agent_kwargs", drawn=True,
                             batch=(batch, n_arms))
        return AgentPopulation((LearnerFamily(agent, dict(agent_kwargs or {})),), n_arms=n_arms,
                               name=agent)
    if agent_kwargs:
        raise ValueError(f"agent_kwargs apply only when agent is a learner name, got "
                         f"agent={agent!r} with agent_kwargs={agent_kwargs!r}")
    if isinstance(agent, AgentSpec):
        if agent.n_arms != n_arms:
            raise ValueError(f"agent has {agent.n_arms} arms but n_arms={n_arms}")
        return agent
    if isinstance(agent, AgentPopulation):
        if agent.n_arms != n_arms:
            raise ValueError(f"agent population {agent.name!r} has {agent.n_arms} arms but "
                             f"n_arms={n_arms}")
        return agent
    raise ValueError(f"agent must be a learner name, an AgentSpec or an AgentPopulation, got "
                     f"{agent!r}")


def draw_spec(source: AgentSpec | AgentPopulation, rng: np.random.Generator) -> AgentSpec:
    return source if isinstance(source, AgentSpec) else source.sample(rng)


def episode_spec(options: Mapping[str, Any], source: AgentSpec | AgentPopulation, n_arms: int,
                 rng: np.random.Generator) -> AgentSpec:
    """The agent of the episode a single form resets: the reset option ``"agent"`` (an
    ``AgentSpec`` over ``n_arms`` arms), else one drawn from ``source``."""
    spec = options.get("agent")
    if spec is None:
        return draw_spec(source, rng)
    if not isinstance(spec, AgentSpec) or spec.n_arms != n_arms:
        raise ValueError(f"options['agent'] must be an AgentSpec over {n_arms} arms, got "
                         f"{spec!r}")
    return spec


class BanditCore:
    """B bandit games advanced together; no Python work per agent in ``step``.

    Observation layout (float32, ``obs_dim`` = 3K + 3, or 3K + 4 when rewards are visible):

    ========================  ==================================================================
    ``[0, K)``                one-hot of the agent's last action as observed (noisy); 0 at t=0
    ``[K, 2K + 1)``           one-hot of the principal's last action (0 = none); 0 at t=0
    ``2K + 1``                fraction of the horizon left, 1 - t / T
    ``2K + 2``                fraction of the intervention budget left (1 when unlimited)
    ``[2K + 3, 3K + 3)``      one-hot of the principal's own target arm (its goal, which it
                              knows; the agent's payoffs and learning rule stay hidden)
    ``3K + 3`` (if visible)   the agent's last received reward, plus N(0, noise^2)
    ========================  ==================================================================
    """

    def __init__(self, n_arms: int, horizon: int, batch: int, knobs: Knobs, bonus: float,
                 reward_noise: float | str, external_agent: bool = False):
        # external_agent: the agents' actions come from outside (``step(..., agent_actions)``),
        # e.g. another player of a PettingZoo game; no built-in learner is created.
        self.external_agent = external_agent
        self.n_arms, self.horizon, self.batch = n_arms, horizon, batch
        self.knobs, self.bonus, self.reward_noise = knobs, bonus, reward_noise
        self._bernoulli = reward_noise == BERNOULLI
        self._noise_std = 0.0 if self._bernoulli else float(reward_noise)
        self.rewards_visible = knobs.principal_observes == OBSERVES_REWARDS
        self.obs_dim = 3 * n_arms + 3 + int(self.rewards_visible)
        self.ledger = BudgetLedger(batch, knobs.intervention_budget)
        self._rows = np.arange(batch)
        # Row offsets into the flattened (B, K) and (B, D) arrays: single-index gathers and
        # scatters on flat views cost far less than two-index fancy indexing.
        self._arm_offsets = self._rows * n_arms
        self._obs_offsets = self._rows * self.obs_dim
        self._obs_principal_offsets = self._obs_offsets + n_arms
        self._time_column = 2 * n_arms + 1
        # [value if False, value if True]: cost and bonus of a boolean mask by lookup.
        self._cost_values = np.array([0.0, knobs.intervention_cost])
        self._bonus_values = np.array([0.0, bonus])
        # Constants as 0-d arrays: numpy converts a Python scalar operand at every call.
        self._zero, self._one = np.array(0), np.array(1)
        self._noise_scale = np.array(self._noise_std)
        self.t = 0
        self.specs: list[AgentSpec] = []

    @classmethod
    def from_knobs(cls, knobs: BanditKnobs, batch: int, external_agent: bool = False
                   ) -> BanditCore:
        return cls(knobs.n_arms, knobs.horizon, batch, knobs, float(knobs.bonus),
                   knobs.reward_noise, external_agent=external_agent)

    @property
    def budget_used(self) -> np.ndarray:
        """(B,) interventions applied so far this episode (a fresh array after every step)."""
        return self.ledger.used

    def observation_space(self) -> spaces.Box:
        low = np.zeros(self.obs_dim, dtype=np.float32)
        high = np.ones(self.obs_dim, dtype=np.float32)
        if self.rewards_visible:
            # Rewards are noisy and unbounded: allow every finite float32 (no clipping).
            largest = np.finfo(np.float32).max
            low[-1], high[-1] = -largest, largest
        return spaces.Box(low, high, dtype=np.float32)

    def reset(self, specs: Sequence[AgentSpec] | AgentBatch, rng: np.random.Generator
              ) -> np.ndarray:
        """Start B fresh agents described by ``specs`` (B ``AgentSpec``, or one ``AgentBatch``
        of B agents, which large B should prefer: no Python object per agent); returns the
        first observations (B, D)."""
        if len(specs) != self.batch:
            raise ValueError(f"specs must hold {self.batch} agents, got {len(specs)}")
        agents = specs if isinstance(specs, AgentBatch) else AgentBatch.from_specs(specs)
        if agents.n_arms != self.n_arms:
            raise ValueError(f"specs must describe agents over {self.n_arms} arms, got "
                             f"{agents.n_arms}")
        self.specs = [] if isinstance(specs, AgentBatch) else list(specs)
        self.agent_rewards = agents.rewards
        self.principal_rewards = np.asarray(agents.principal_rewards)  # never None here
        self._flat_agent_rewards = self.agent_rewards.reshape(-1)
        self._flat_principal_rewards = self.principal_rewards.reshape(-1)
        self.targets = agents.targets
        self._groups: list[tuple[Learner, np.ndarray | slice]] = []
        for kind, params, indices in ([] if self.external_agent else agents.groups):
            learner = make_learner(kind, **params)
            learner.reset(len(indices), self.n_arms, rng)
            whole = len(indices) == self.batch
            self._groups.append((learner, slice(None) if whole else indices))
        self._full_information = any(g[0].feedback == "full" for g in self._groups)
        self.ledger.reset()
        self.t = 0
        self.target_hits = np.zeros(self.batch, dtype=np.int64)
        self.episode_cost = np.zeros(self.batch)
        # What every step's observation starts from: its entries that do not change within
        # the episode (an unlimited budget's fraction, the target's one-hot), zeros elsewhere.
        start = np.zeros((self.batch, self.obs_dim), dtype=np.float32)
        if self.ledger.unlimited:
            start[:, 2 * self.n_arms + 2] = 1.0
        start[self._rows, 2 * self.n_arms + 3 + self.targets] = 1.0
        self._obs_start = start
        obs = start.copy()
        obs[:, 2 * self.n_arms + 1] = 1.0
        obs[:, 2 * self.n_arms + 2] = 1.0
        return obs

    def _agent_actions(self, rng: np.random.Generator) -> np.ndarray:
        if len(self._groups) == 1:
            return self._groups[0][0].act(rng)
        actions = np.empty(self.batch, dtype=np.int64)
        for learner, index in self._groups:
            actions[index] = learner.act(rng)
        return actions

    def _draw_rewards(self, actions: np.ndarray, flat: np.ndarray, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray | None]:
        """Base rewards of the chosen arms (B,), and of every arm (B, K) if a learner needs them.

        ``flat``: the chosen arms as indices into the flattened (B, K) reward matrix.
        """
        if self._full_information:
            if self._bernoulli:
                payoffs = (rng.random(self.agent_rewards.shape) < self.agent_rewards) * 1.0
            else:
                payoffs = self.agent_rewards + self._noise_std * rng.standard_normal(
                    self.agent_rewards.shape)
            return payoffs.reshape(-1)[flat], payoffs
        means = self._flat_agent_rewards[flat]
        if self._bernoulli:
            return (rng.random(self.batch) < means) * 1.0, None
        if self._noise_std == 0.0:
            return means, None
        return means + self._noise_scale * rng.standard_normal(self.batch), None

    def step(self, principal_actions: np.ndarray, rng: np.random.Generator,
             agent_actions: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        """Advance all B games one step. ``principal_actions``: (B,) ints in [0, K].

        ``agent_actions`` (B,) is required when the core was built with ``external_agent``
        (and refused otherwise): the external agents choose and learn on their own, from the
        ``agent_reward`` in the returned info.
        """
        # At B=1 every numpy call costs about a microsecond whatever its size, so this method
        # makes as few as it can (flat indices, lookups, 0-d constants, no work for knobs that
        # are off); the arithmetic is the documented one, draw for draw.
        if (agent_actions is None) == self.external_agent:
            raise ValueError("agent_actions must be given exactly when external_agent=True")
        applied, refused = self.ledger.spend(principal_actions > self._zero)
        # Looked up, not multiplied: bool * float goes through numpy's slow casting path.
        cost = self._cost_values.take(applied)
        groups = self._groups
        if agent_actions is not None:
            actions = checked_agent_actions(agent_actions, self.batch, self.n_arms)
        elif len(groups) == 1:
            actions = groups[0][0].act(rng)
        else:
            actions = self._agent_actions(rng)
        flat = self._arm_offsets + actions
        rewards, payoffs = self._draw_rewards(actions, flat, rng)
        # An arm is never -1, so without a budget (applied = requested) the mask is implied.
        hit_bonus = actions == principal_actions - self._one
        if not self.ledger.unlimited:
            hit_bonus = hit_bonus & applied
        rewards = rewards + self._bonus_values.take(hit_bonus)
        if payoffs is not None:
            payoffs[self._rows[applied], principal_actions[applied] - 1] += self.bonus
        if len(groups) == 1:
            groups[0][0].update(actions, rewards, payoffs)
        elif groups:
            for learner, index in groups:
                learner.update(actions[index], rewards[index],
                               None if payoffs is None else payoffs[index])
        self.t += 1
        principal_reward = self._flat_principal_rewards[flat] - cost
        hits = actions == self.targets
        # Rebound, not updated in place: in-place arithmetic on small 1-D arrays costs twice
        # as much in numpy, and a fresh array may be handed out without a copy.
        self.target_hits = self.target_hits + hits
        self.episode_cost = self.episode_cost + cost

        noise = self.knobs.observation_noise
        observed = misreport_actions(actions, self.n_arms, noise, rng)
        k = self.n_arms
        # A fresh copy of the episode's fixed entries, returned as is (no copy at the end).
        obs = self._obs_start.copy()
        flat_obs = obs.reshape(-1)
        flat_obs[self._obs_offsets + observed] = 1.0
        flat_obs[self._obs_principal_offsets + principal_actions] = 1.0
        obs[:, self._time_column] = 1.0 - self.t / self.horizon
        if not self.ledger.unlimited:
            obs[:, 2 * k + 2] = self.ledger.fraction_left()
        if self.rewards_visible:
            obs[:, 3 * k + 3] = rewards + (noise * rng.standard_normal(self.batch) if noise
                                           else 0.0)
        info = {
            "agent_action": actions,
            "observed_action": observed,
            "target_action": self.targets,
            "target_hit": hits,
            "intervened": applied,
            "refused": refused,
            "interventions_used": self.ledger.used,  # a fresh array every step
            "cost": cost,
            "agent_reward": rewards,
        }
        done = self.t >= self.horizon
        info["action_mask"] = self.action_mask()
        if done:
            info["target_rate"] = self.target_hits / self.horizon
            info["episode_cost"] = self.episode_cost
        return obs, principal_reward, done, info

    def action_mask(self) -> np.ndarray:
        """(B, K + 1) bool: the actions that can still have an effect (sb3-contrib's
        MaskablePPO convention). Doing nothing always can; a bonus only while budget is left
        (beyond it, it is refused and changes nothing)."""
        mask = np.ones((self.batch, self.n_arms + 1), dtype=bool)
        mask[:, 1:] = self.ledger.allows()[:, None]
        return mask


class BanditEnv(gym.Env[np.ndarray, np.int64]):
    """A principal pays costly bonuses to steer a learning bandit agent towards its target arm.

    ## Description
    Each episode an agent is drawn: a learner (UCB, epsilon-greedy, Thompson sampling, ...),
    its base reward for each of K arms, and the principal's target arm a* (not the agent's own
    best arm). For T steps the principal may put a bonus on one arm; the agent, which never
    sees the bonus in advance, picks an arm with its learning rule, receives its base reward
    (noisy) plus the bonus if it picked the bonus arm, and learns from it. The principal wants
    the agent on a* while spending as little as possible.

    ## Action Space
    ``Discrete(n_arms + 1)``: 0 = do nothing; i >= 1 = put the bonus on arm i - 1 this step.

    ## Observation Space
    ``Box`` of shape (3K + 3,), or (3K + 4,) with ``principal_observes="actions+rewards"``:
    the noisy one-hot of the agent's last action, the one-hot of the principal's last action,
    the fraction of time left, the fraction of budget left, the one-hot of the principal's own
    target arm, and (when visible) the agent's last received reward plus Gaussian noise of std
    ``observation_noise``. See ``BanditCore``.

    ## Rewards
    ``r_p[agent action] - cost``: r_p is 1 on the target arm and 0 elsewhere unless the
    agent's ``AgentSpec`` says otherwise; cost is ``intervention_cost`` when an intervention
    was applied this step. A refused intervention (budget spent) is neither applied nor charged.

    ## Starting State
    A fresh agent (no experience) from ``agent``; all-zero action one-hots, time and budget
    fractions 1. ``reset(options={"agent": spec})`` plays a given ``AgentSpec`` this episode.

    ## Episode End
    Terminates after ``horizon`` steps (time left is observed, so the game is Markov in it).

    ## Arguments
    n_arms (>= 2, default 10), horizon (>= 1, default 200), agent (learner name, AgentSpec or
    AgentPopulation; default "ucb"), agent_kwargs (learner parameters, with a name),
    intervention_budget (None = unlimited), intervention_cost (>= 0, default 0.1), bonus (> 0,
    default 1.0), observation_noise ([0, 1], default 0), reward_noise (std >= 0 or
    "bernoulli", default 0.1), principal_observes ("actions" or "actions+rewards").

    ## Info
    Every step: ``agent_action`` (true), ``observed_action``, ``target_action``,
    ``target_hit``, ``intervened`` (applied), ``refused``, ``interventions_used``, ``cost``,
    ``agent_reward``, ``action_mask``; on the last step also ``target_rate`` and
    ``episode_cost``. ``reset`` returns the episode's ``agent`` (an AgentSpec),
    ``target_action`` and ``action_mask`` in info. ``action_mask`` ((K + 1,) bool, sb3-contrib's
    ``MaskablePPO`` convention, also from the ``action_masks()`` method) marks the actions that
    can still have an effect: doing nothing always, a bonus only while budget is left.

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    @knob_signature(BanditKnobs)
    def __init__(self, **knobs: Any):
        self.knobs = BanditKnobs(**knobs)
        self.agent = self.knobs.source()
        self.core = BanditCore.from_knobs(self.knobs, 1)
        self.n_arms, self.horizon = self.knobs.n_arms, self.knobs.horizon
        self.action_space = spaces.Discrete(self.n_arms + 1)
        self.observation_space = self.core.observation_space()
        self._principal_actions = np.zeros(1, dtype=np.int64)
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        spec = episode_spec(options or {}, self.agent, self.n_arms, self.np_random)
        obs = self.core.reset([spec], self.np_random)
        self._needs_reset = False
        return obs[0], {"agent": spec, "target_action": spec.target,
                        "action_mask": self.action_masks()}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended")
        # A plain in-range int is checked in Python; anything else goes through the one
        # (slower) rule of every form, which refuses a bool (True would play a bonus).
        if type(action) is not int or not 0 <= action <= self.n_arms:
            if not valid_action(self.action_space, action):
                raise ValueError(f"action must be an int in [0, {self.n_arms}], got {action!r} "
                                 f"({type(action).__name__})")
        principal_actions = self._principal_actions
        principal_actions[0] = action
        rng = self._np_random  # set by reset(), which _needs_reset guarantees was called
        assert rng is not None
        obs, reward, done, info = self.core.step(principal_actions, rng)
        self._needs_reset = done
        mask = info.pop("action_mask")
        # B=1: item() of each (1,) array is its one value as a Python scalar.
        step_info = {key: value.item() for key, value in info.items()}
        step_info["action_mask"] = mask[0]
        return obs[0], reward.item(), done, False, step_info

    def action_masks(self) -> np.ndarray:
        """(K + 1,) bool: the actions that can still have an effect now (sb3-contrib's
        ``MaskablePPO`` reads this method): 0 always, a bonus while budget is left."""
        return self.core.action_mask()[0]


class BanditVectorEnv(LockstepVectorEnv):
    """``num_envs`` bandit games in one ``BanditCore``: the native ``gym.make_vec`` form.

    All sub-environments share the horizon, so they end together; the next ``step`` after the
    end resets them all (Gymnasium's next-step autoreset) and returns the first observations
    with zero rewards. Each sub-environment draws its own agent at every reset.
    """

    @knob_signature(BanditKnobs, NUM_ENVS)
    def __init__(self, num_envs: int = 1, **knobs: Any):
        check_size("num_envs", num_envs)
        self.knobs = BanditKnobs(**knobs)
        self.n_arms, self.horizon = self.knobs.n_arms, self.knobs.horizon
        self.agent = self.knobs.source(num_envs)
        self.core = BanditCore.from_knobs(self.knobs, num_envs)
        self._set_spaces(num_envs, spaces.Discrete(self.n_arms + 1),
                         self.core.observation_space())

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self._reset_generator(seed)
        specs = (options or {}).get("agents")
        if specs is None:
            specs = [draw_spec(self.agent, self.np_random) for _ in range(self.num_envs)]
        obs = self.core.reset(specs, self.np_random)
        return obs, {"target_action": self.core.targets.copy(),
                     "action_mask": self.core.action_mask()}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        if not valid_action(self.single_action_space, actions, self.num_envs):
            raise ValueError(f"actions must be {self.num_envs} ints in [0, {self.n_arms}], got "
                             f"{actions!r}")
        actions = np.asarray(actions, dtype=np.int64)
        return self._lockstep_step(lambda: self.core.step(actions, self.np_random))


# --- the PettingZoo form: the principal and the agent as two players -------------------------


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

    @knob_signature(BanditKnobs)
    def __init__(self, **knobs: Any):
        self.knobs = BanditKnobs(**knobs)
        core = BanditCore.from_knobs(self.knobs, 1, external_agent=True)
        n_arms, horizon = self.knobs.n_arms, self.knobs.horizon
        super().__init__(
            core, name="mermaide_bandit_v0", principal_action_space=spaces.Discrete(n_arms + 1),
            n_agent_actions=n_arms, horizon=horizon,
            principal_info_keys=("observed_action", "target_action", "intervened", "refused",
                                 "interventions_used", "cost"))
        self.agent = self.knobs.source()
        self.n_arms = n_arms
        self.agent_spec: AgentSpec | None = None

    def _reset_core(self, options: Mapping[str, Any], rng: np.random.Generator
                    ) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """``options={"agent": spec}`` plays a given ``AgentSpec``; other options are ignored."""
        spec = episode_spec(options, self.agent, self.n_arms, rng)
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
        return task_learner(self.agent_spec)


def parallel_env(**knobs: Any) -> BanditParallelEnv:
    """The bandit game as a ``pettingzoo.ParallelEnv``; knobs as ``BanditEnv``."""
    return BanditParallelEnv(**knobs)


def env(**knobs: Any) -> AECEnv[str, np.ndarray, Any]:
    """The bandit game as a PettingZoo AEC env: principal, then agent, within each step."""
    return aec_env(parallel_env(**knobs))


# PettingZoo's names for a game module's forms (raw_env: the unwrapped class, parallel here), and
# the names mermaide.envs exports.
raw_env = BanditParallelEnv
bandit_parallel, bandit_aec = parallel_env, env
