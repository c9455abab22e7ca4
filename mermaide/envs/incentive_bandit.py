"""The principal-agent bandit game with payments ``Mermaide/IncentiveBandit-v0`` (Dogan, Shen &
Aswani 2023, arXiv 2304.07407; Scheid et al., ICML 2024, arXiv 2403.03811).

``IncentiveBanditKnobs`` is the game's knob signature, written once for all its forms. One
``IncentiveBanditCore`` simulates B games at once with (B, K) numpy arrays;
``IncentiveBanditEnv`` is its B=1 Gymnasium form, ``IncentiveBanditVectorEnv`` its native
``gym.make_vec`` form and ``IncentiveBanditParallelEnv`` its PettingZoo form with the agent as a
second player (``parallel_env()`` and, AEC, ``env()``).

A task is an ``IncentiveTask``: the agent (the perfect-knowledge ``"oracle"`` agent of the
papers, or a learner of ``mermaide.agents``), its mean rewards s and the principal's mean
rewards theta. ``encode_transfers`` turns a transfer vector into an action of any of the three
action types: the theory principals use it to speak every form of the game.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

from mermaide.agents import make as make_learner
from mermaide.agents.base import Learner, is_learner_name, learner_names
from mermaide.agents.population import AgentBatch, AgentPopulation, AgentSpec, group_specs
from mermaide.checks import check_bool, check_choice, check_int, check_number, check_size
from mermaide.envs.bandit import BERNOULLI, agent_source, check_reward_noise
from mermaide.envs.games import freeze_task
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
    check_action,
    checked_agent_actions,
    task_learner,
    valid_action,
)
from mermaide.envs.vector import LockstepVectorEnv, single_info

ORACLE = "oracle"
ACTION_TYPES = ("vector", "single", "discrete")
# Two utilities closer than this are a tie for the perfect-knowledge agent: the oracle
# principal pays exactly tau, and s_a + tau_a is max s only up to the rounding of a float32
# action (its spacing near 1 is 1.2e-7).
TIE_TOLERANCE = 1e-6
AgentSource = str | AgentSpec | AgentPopulation


@dataclass(frozen=True, eq=False)
class IncentiveTask:
    """One instance of the game: who the agent is (``learner``: ``"oracle"``, the
    perfect-knowledge agent, or a learner name with its ``params``), its mean rewards
    ``agent_means`` s (K,) and the principal's mean rewards ``principal_means`` theta (K,)."""

    learner: str
    agent_means: np.ndarray
    principal_means: np.ndarray
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.learner != ORACLE and not is_learner_name(self.learner):
            raise ValueError(f"learner must be {ORACLE!r} or a registered learner "
                             f"({', '.join(learner_names())}), got {self.learner!r}")
        s = np.array(self.agent_means, dtype=np.float64)
        theta = np.array(self.principal_means, dtype=np.float64)
        if s.ndim != 1 or s.shape[0] < 2 or not np.all(np.isfinite(s)):
            raise ValueError(f"agent_means must be a finite vector of length >= 2, got "
                             f"{self.agent_means!r}")
        if theta.shape != s.shape or not np.all(np.isfinite(theta)):
            raise ValueError(f"principal_means must be a finite vector of length {s.shape[0]},"
                             f" got {self.principal_means!r}")
        freeze_task(self, agent_means=s, principal_means=theta)

    @classmethod
    def from_spec(cls, spec: AgentSpec) -> IncentiveTask:
        """A population's agent: its learner, s = its base rewards, theta = the principal's
        rewards of the spec (1 on its target and 0 elsewhere unless the spec says otherwise)."""
        return cls(spec.learner, spec.rewards, np.asarray(spec.principal_rewards), spec.params)

    @property
    def n_arms(self) -> int:
        return int(self.agent_means.shape[0])

    @property
    def minimal_incentives(self) -> np.ndarray:
        """(K,) tau_a = max_b s_b - s_a: the least transfer on a that makes a the agent's best."""
        return self.agent_means.max() - self.agent_means

    @property
    def benchmark_arm(self) -> int:
        """argmax_a theta_a - tau_a (ties: the lowest arm)."""
        return int(np.argmax(self.principal_means - self.minimal_incentives))

    @property
    def benchmark_value(self) -> float:
        """max_a theta_a - tau_a: the per-round value of the papers' regret benchmark."""
        return float(np.max(self.principal_means - self.minimal_incentives))

    @property
    def target(self) -> int:
        """The principal's own best arm, argmax theta (what the heuristics put a bonus on)."""
        return int(np.argmax(self.principal_means))


def draw_task(agent: str | AgentSpec | AgentPopulation, agent_kwargs: Mapping[str, Any],
              n_arms: int, rng: np.random.Generator) -> IncentiveTask:
    """The task of an episode: s and theta drawn uniformly from [0, 1]^K for ``"oracle"`` and
    a learner name; a population's (or a fixed spec's) own payoffs otherwise."""
    if isinstance(agent, AgentSpec):
        return IncentiveTask.from_spec(agent)
    if isinstance(agent, AgentPopulation):
        return IncentiveTask.from_spec(agent.sample(rng))
    s = rng.uniform(0.0, 1.0, size=n_arms)
    theta = rng.uniform(0.0, 1.0, size=n_arms)
    return IncentiveTask(agent, s, theta, agent_kwargs)


def checked_task(task: Any, n_arms: int, where: str) -> IncentiveTask:
    """A reset option's task: an ``IncentiveTask`` or an ``AgentSpec`` over ``n_arms`` arms."""
    if isinstance(task, AgentSpec):
        task = IncentiveTask.from_spec(task)
    if not isinstance(task, IncentiveTask) or task.n_arms != n_arms:
        raise ValueError(f"{where} must be an IncentiveTask or an AgentSpec over {n_arms} arms, "
                         f"got {task!r}")
    return task


def episode_task(options: Mapping[str, Any], source: AgentSource,
                 agent_kwargs: Mapping[str, Any] | None, n_arms: int,
                 rng: np.random.Generator) -> IncentiveTask:
    """The task of the episode a single form resets: the reset option ``"agent"`` (an
    ``IncentiveTask`` or an ``AgentSpec`` over ``n_arms`` arms), else one drawn from
    ``source``."""
    task = options.get("agent")
    if task is None:
        task = draw_task(source, agent_kwargs or {}, n_arms, rng)
    return checked_task(task, n_arms, "options['agent']")


@dataclass(frozen=True, kw_only=True)
class IncentiveBanditKnobs(Knobs):
    """Every knob of ``Mermaide/IncentiveBandit-v0``: the shared ones and the game's own,
    validated once for all its forms (see ``IncentiveBanditEnv``'s Arguments)."""

    OBSERVES: ClassVar[tuple[str, ...]] = (OBSERVES_ACTIONS, OBSERVES_REWARDS)

    n_arms: int = 10
    horizon: int = 1000
    agent: AgentSource = ORACLE
    agent_kwargs: Mapping[str, Any] | None = None
    action_type: str = "vector"
    max_transfer: float = 1.0
    n_levels: int = 10
    transfer_budget: float | None = None
    perfect_knowledge: bool = False
    reward_noise: float | str = 0.1
    # The papers charge nothing but the transfers themselves.
    intervention_cost: float = 0.0

    def __post_init__(self) -> None:
        check_size("n_arms", self.n_arms, 2)
        check_int("horizon", self.horizon, 1)
        check_choice("action_type", self.action_type, ACTION_TYPES)
        check_number("max_transfer", self.max_transfer, low=0.0, low_open=True)
        check_size("n_levels", self.n_levels)
        if self.transfer_budget is not None:
            check_number("transfer_budget", self.transfer_budget, low=0.0)
        check_bool("perfect_knowledge", self.perfect_knowledge)
        check_reward_noise(self.reward_noise)
        super().__post_init__()

    def source(self, batch: int = 1) -> AgentSource:
        """The agents to draw from: ``"oracle"``, a learner name (its parameters checked now,
        for a form that plays ``batch`` games at once), an ``AgentSpec`` or an
        ``AgentPopulation``."""
        if self.agent == ORACLE:
            if self.agent_kwargs:
                raise ValueError(f"agent_kwargs apply only to a learner, got agent={ORACLE!r} "
                                 f"with agent_kwargs={self.agent_kwargs!r}")
            return ORACLE
        source = agent_source(self.agent, self.agent_kwargs, self.n_arms, batch)
        return self.agent if isinstance(self.agent, str) else source

    def action_space(self) -> spaces.Space[Any]:
        """The principal's action space (see ``IncentiveBanditEnv``'s Action Space)."""
        k, top = self.n_arms, float(self.max_transfer)
        if self.action_type == "vector":
            return spaces.Box(0.0, top, shape=(k,), dtype=np.float32)
        if self.action_type == "single":
            return spaces.Box(np.array([0.0, 0.0], dtype=np.float32),
                              np.array([k, top], dtype=np.float32), dtype=np.float32)
        return spaces.Discrete(1 + k * self.n_levels)


def decode_actions(actions: np.ndarray, action_type: str, n_arms: int, max_transfer: float,
                   n_levels: int) -> np.ndarray:
    """B actions (as the action space holds them) -> (B, K) offered transfers."""
    batch = actions.shape[0]
    if action_type == "vector":
        return np.clip(np.asarray(actions, dtype=np.float64), 0.0, max_transfer)
    transfers = np.zeros((batch, n_arms))
    rows = np.arange(batch)
    if action_type == "single":
        arms = np.minimum(np.floor(actions[:, 0]).astype(np.int64), n_arms - 1)
        transfers[rows, arms] = np.clip(actions[:, 1], 0.0, max_transfer)
        return transfers
    offer = actions > 0
    index = np.maximum(actions - 1, 0)
    arms, level = index % n_arms, index // n_arms
    transfers[rows, arms] = np.where(offer, max_transfer * (n_levels - level) / n_levels, 0.0)
    return transfers


def encode_transfers(transfers: np.ndarray, action_type: str, max_transfer: float,
                     n_levels: int) -> Any:
    """The action that offers ``transfers`` (K,) (or as close as the action type can): the
    vector itself; for ``"single"`` the largest entry's arm and amount; for ``"discrete"`` the
    grid amount at or just above the largest entry (0 = nothing when every entry is 0)."""
    transfers = np.clip(np.asarray(transfers, dtype=np.float64), 0.0, max_transfer)
    if action_type == "vector":
        return transfers.astype(np.float32)
    arm = int(np.argmax(transfers))
    amount = float(transfers[arm])
    if action_type == "single":
        return np.array([arm, amount], dtype=np.float32)
    if amount <= 0.0:
        return 0
    n_arms = transfers.shape[0]
    # Level j pays max * (L - j) / L: the smallest grid amount >= amount (a hair of rounding
    # slack, so that an amount on the grid stays on its own level).
    steps = math.ceil(amount / max_transfer * n_levels - 1e-9)
    return 1 + (n_levels - max(steps, 1)) * n_arms + arm


class IncentiveBanditCore:
    """B principal-agent bandit games advanced together; arithmetic on (B, K) arrays.

    Observation layout (float32, ``obs_dim`` = 2K + 4, or 2K + 5 when rewards are visible):

    ========================  ==================================================================
    ``[0, K)``                one-hot of the agent's last arm as observed (noisy); 0 at t=0
    ``[K, 2K)``               the transfers offered last round (applied), / ``max_transfer``
    ``2K``                    the principal's own last net reward (theta draw - transfer - cost)
    ``2K + 1``                fraction of the horizon left, 1 - t / T
    ``2K + 2``                fraction of the transfer budget left (1 when unlimited)
    ``2K + 3``                fraction of the intervention budget left (1 when unlimited)
    ``2K + 4`` (if visible)   the agent's last received reward (with the transfer), plus
                              N(0, noise^2)
    ========================  ==================================================================
    """

    def __init__(self, knobs: IncentiveBanditKnobs, batch: int, external_agent: bool = False):
        self.knobs, self.batch, self.external_agent = knobs, batch, external_agent
        self.n_arms, self.horizon = knobs.n_arms, knobs.horizon
        self.max_transfer = float(knobs.max_transfer)
        self._bernoulli = knobs.reward_noise == BERNOULLI
        self._noise_std = 0.0 if self._bernoulli else float(knobs.reward_noise)
        self.rewards_visible = knobs.principal_observes == OBSERVES_REWARDS
        self.obs_dim = 2 * self.n_arms + 4 + int(self.rewards_visible)
        self.ledger = BudgetLedger(batch, knobs.intervention_budget)
        self.transfer_limit = (math.inf if knobs.transfer_budget is None
                               else float(knobs.transfer_budget))
        self._rows = np.arange(batch)
        self.t = 0

    def observation_space(self) -> spaces.Box:
        low = np.zeros(self.obs_dim, dtype=np.float32)
        high = np.ones(self.obs_dim, dtype=np.float32)
        # Rewards are noisy and unbounded: allow every finite float32 there (no clipping).
        largest = np.finfo(np.float32).max
        low[2 * self.n_arms], high[2 * self.n_arms] = -largest, largest
        if self.rewards_visible:
            low[-1], high[-1] = -largest, largest
        return spaces.Box(low, high, dtype=np.float32)

    def reset(self, tasks: Sequence[IncentiveTask] | AgentBatch, rng: np.random.Generator
              ) -> np.ndarray:
        """Start B fresh games (B tasks, or one ``AgentBatch`` of B learners whose
        ``principal_rewards`` are theta); returns the first observations (B, D)."""
        if len(tasks) != self.batch:
            raise ValueError(f"tasks must hold {self.batch} tasks, got {len(tasks)}")
        if isinstance(tasks, AgentBatch):
            if tasks.n_arms != self.n_arms:
                raise ValueError(f"tasks must be over {self.n_arms} arms, got {tasks.n_arms}")
            s, theta = tasks.rewards, np.asarray(tasks.principal_rewards)
            oracle = np.zeros(self.batch, dtype=bool)
            groups = list(tasks.groups)
        else:
            s = np.stack([task.agent_means for task in tasks])
            theta = np.stack([task.principal_means for task in tasks])
            oracle = np.array([task.learner == ORACLE for task in tasks])
            learners = [i for i, task in enumerate(tasks) if task.learner != ORACLE]
            groups = [(kind, params, np.array(learners)[index]) for kind, params, index
                      in group_specs([_Choice(tasks[i]) for i in learners])]
        if self.knobs.perfect_knowledge:
            # Every task's agent is the perfect-knowledge one: its learner does not play.
            oracle, groups = np.ones(self.batch, dtype=bool), []
        self.agent_means, self.principal_means, self.oracle = s, theta, oracle
        self.tau = s.max(axis=1, keepdims=True) - s
        self.benchmark_value = (theta - self.tau).max(axis=1)
        self.targets = theta.argmax(axis=1)
        self._groups: list[tuple[Learner, np.ndarray]] = []
        for kind, params, indices in ([] if self.external_agent else groups):
            learner = make_learner(kind, **params)
            learner.reset(len(indices), self.n_arms, rng)
            self._groups.append((learner, np.asarray(indices)))
        self._full_information = any(g[0].feedback == "full" for g in self._groups)
        self.ledger.reset()
        self.t = 0
        self.transfers_paid = np.zeros(self.batch)
        self.cumulative_regret = np.zeros(self.batch)
        self.episode_cost = np.zeros(self.batch)
        self.target_hits = np.zeros(self.batch, dtype=np.int64)
        obs = np.zeros((self.batch, self.obs_dim), dtype=np.float32)
        obs[:, 2 * self.n_arms + 1:2 * self.n_arms + 4] = 1.0
        return obs

    def oracle_actions(self, transfers: np.ndarray) -> np.ndarray:
        """(B,) the perfect-knowledge agent's arm: argmax s + transfers; ties (within
        ``TIE_TOLERANCE``) go to the arm with the larger transfer, then to the lower arm."""
        utility = self.agent_means + transfers
        best = utility >= utility.max(axis=1, keepdims=True) - TIE_TOLERANCE
        # Among the tied arms the largest transfer wins; argmax takes the first (lowest) arm.
        return np.argmax(np.where(best, transfers, -np.inf), axis=1)

    def _draw(self, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self._bernoulli:
            return (rng.random(means.shape) < means) * 1.0
        if self._noise_std == 0.0:
            return means.copy()
        return means + self._noise_std * rng.standard_normal(means.shape)

    def step(self, offered: np.ndarray, rng: np.random.Generator,
             agent_actions: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        """Advance all B games one round. ``offered``: (B, K) transfers in [0, max_transfer].

        An offer counts as an intervention when any entry is positive; one beyond the
        intervention budget is refused (nothing offered). Each entry is capped at the
        transfer budget left, so the transfers paid never exceed the budget.
        ``agent_actions`` (B,) is required exactly when the core has an ``external_agent``.
        """
        if (agent_actions is None) == self.external_agent:
            raise ValueError("agent_actions must be given exactly when external_agent=True")
        applied, refused = self.ledger.spend(offered.max(axis=1) > 0.0)
        left = self.transfer_limit - self.transfers_paid
        transfers = np.where(applied[:, None], np.minimum(offered, left[:, None]), 0.0)
        if agent_actions is not None:
            actions = checked_agent_actions(agent_actions, self.batch, self.n_arms)
        else:
            actions = self.oracle_actions(transfers)
            for learner, index in self._groups:
                actions[index] = learner.act(rng)
        rows = self._rows
        paid = transfers[rows, actions]
        payoffs: np.ndarray | None = None
        if self._full_information:
            # A full-information learner sees what every arm, transfer included, would have paid.
            payoffs = self._draw(self.agent_means, rng) + transfers
            agent_reward = payoffs[rows, actions]
        else:
            agent_reward = self._draw(self.agent_means[rows, actions], rng) + paid
        for learner, index in self._groups:
            learner.update(actions[index], agent_reward[index],
                           None if payoffs is None else payoffs[index])
        cost = applied * float(self.knobs.intervention_cost)
        principal_reward = self._draw(self.principal_means[rows, actions], rng) - paid - cost
        regret = self.benchmark_value - (self.principal_means[rows, actions] - paid)
        self.t += 1
        self.transfers_paid = self.transfers_paid + paid
        self.cumulative_regret = self.cumulative_regret + regret
        self.episode_cost = self.episode_cost + paid + cost
        hits = actions == self.targets
        self.target_hits = self.target_hits + hits

        noise = self.knobs.observation_noise
        observed = misreport_actions(actions, self.n_arms, noise, rng)
        k = self.n_arms
        obs = np.zeros((self.batch, self.obs_dim), dtype=np.float32)
        obs[rows, observed] = 1.0
        obs[:, k:2 * k] = transfers / self.max_transfer
        obs[:, 2 * k] = principal_reward
        obs[:, 2 * k + 1] = 1.0 - self.t / self.horizon
        obs[:, 2 * k + 2] = (1.0 if self.transfer_limit == math.inf else
                             1.0 - self.transfers_paid / self.transfer_limit
                             if self.transfer_limit > 0 else 0.0)
        obs[:, 2 * k + 3] = self.ledger.fraction_left()
        if self.rewards_visible:
            obs[:, 2 * k + 4] = agent_reward + (noise * rng.standard_normal(self.batch)
                                                if noise else 0.0)
        info: dict[str, np.ndarray] = {
            "agent_action": actions,
            "observed_action": observed,
            "target_action": self.targets,
            "target_hit": hits,
            "transfers": transfers,
            "transfer": paid,
            "principal_reward": principal_reward,
            "regret": regret,
            "cumulative_regret": self.cumulative_regret,
            "transfers_paid": self.transfers_paid,
            "intervened": applied,
            "refused": refused,
            "interventions_used": self.ledger.used,
            "cost": paid + cost,
            "agent_reward": agent_reward,
        }
        done = self.t >= self.horizon
        if done:
            info["target_rate"] = self.target_hits / self.horizon
            info["episode_cost"] = self.episode_cost
        return obs, principal_reward, done, info


@dataclass(frozen=True)
class _Choice:
    """A task's learner and parameters, as ``group_specs`` reads them."""

    task: IncentiveTask

    @property
    def learner(self) -> str:
        return self.task.learner

    @property
    def params(self) -> Mapping[str, Any]:
        return self.task.params


def reset_info(task: IncentiveTask, knobs: IncentiveBanditKnobs) -> dict[str, Any]:
    """What a principal is told at ``reset`` (see ``IncentiveBanditEnv``'s Info)."""
    return {"agent": task, "target_action": task.target,
            "benchmark_value": task.benchmark_value, "n_arms": knobs.n_arms,
            "horizon": knobs.horizon, "action_type": knobs.action_type,
            "max_transfer": float(knobs.max_transfer), "n_levels": knobs.n_levels,
            # How many actions the agent has: what a world model of the agent needs.
            "agent_action_space": spaces.Discrete(knobs.n_arms)}


class IncentiveBanditEnv(gym.Env[np.ndarray, Any]):
    """A principal pays transfers (incentives) to an agent, which picks the arms, so that the
    agent plays the arm that is best for the principal net of what it pays.

    ## Description
    K arms. The agent has mean rewards s in [0, 1]^K, the principal its own mean rewards
    theta in [0, 1]^K; the principal knows neither. Each round the principal offers a
    transfer on one arm or on every arm; the agent picks an arm A; the principal receives a
    noisy draw of theta[A] minus the transfer on A (only the arm taken is paid); the agent
    receives its own noisy reward for A plus that transfer. The perfect-knowledge agent of the
    papers (``agent="oracle"``) plays argmax_a s_a + pi_a; a learner of ``mermaide.agents``
    learns from its received rewards and never sees the offer in advance.

    ## Action Space
    ``action_type="vector"``: ``Box(0, max_transfer, (K,))``, the transfer on every arm
    (Dogan et al.). ``"single"``: ``Box([0, 0], [K, max_transfer])``, the arm floor(x[0])
    (K counts as K - 1) and the amount x[1] (Scheid et al.). ``"discrete"``:
    ``Discrete(1 + K * n_levels)``: 0 = nothing; 1 + j K + a = the amount
    max_transfer * (n_levels - j) / n_levels on arm a, so that actions 1..K pay the full
    ``max_transfer`` on arm action - 1, as Bandit-v0's bonus actions.
    ``encode_transfers`` maps a transfer vector to an action of each type.

    ## Observation Space
    ``Box`` of shape (2K + 4,), or (2K + 5,) with ``principal_observes="actions+rewards"``:
    the noisy one-hot of the agent's last arm, the transfers offered last round (over
    ``max_transfer``), the principal's own last net reward, the fractions of time, transfer
    budget and intervention budget left, and (when visible) the agent's last received reward
    plus Gaussian noise of std ``observation_noise``. See ``IncentiveBanditCore``.

    ## Rewards
    A draw of theta[A] (Gaussian noise of std ``reward_noise``, or Bernoulli) minus the
    transfer paid on A, minus ``intervention_cost`` when a positive offer was applied.

    ## Starting State
    A fresh task from ``agent``: for ``"oracle"`` or a learner name, s and theta drawn
    uniformly from [0, 1]^K; for an ``AgentSpec`` or ``AgentPopulation``, s = its base rewards
    and theta = its principal rewards (1 on its target, 0 elsewhere). A learner starts without
    experience. ``reset(options={"agent": task})`` plays a given ``IncentiveTask`` (or
    ``AgentSpec``) this episode.

    ## Episode End
    Terminates after ``horizon`` rounds (time left is observed).

    ## Arguments
    n_arms (>= 2, default 10), horizon (>= 1, default 1000), agent ("oracle", a learner name,
    AgentSpec or AgentPopulation; default "oracle"), agent_kwargs (learner parameters, with a
    name), action_type ("vector", "single" or "discrete"), max_transfer (> 0, default 1),
    n_levels (>= 1, default 10: the discrete grid), transfer_budget (None = unlimited, or >= 0:
    a cap on the transfers paid per episode), perfect_knowledge (default False; True: the
    perfect-knowledge agent plays every task, whatever learner it names, so that a
    population's payoffs meet the papers' agent), intervention_budget (None, or most rounds with a
    positive offer), intervention_cost (>= 0, default 0), observation_noise ([0, 1], default
    0), reward_noise (std >= 0 or "bernoulli", default 0.1), principal_observes ("actions" or
    "actions+rewards").

    ## Info
    Every step: ``agent_action`` (true), ``observed_action``, ``target_action`` (argmax
    theta), ``target_hit``, ``transfers`` ((K,) offered, as applied), ``transfer`` (paid),
    ``principal_reward`` (the step's reward), ``regret`` (in expectation:
    ``max_a (theta_a - tau_a) - (theta_A - transfer)``, tau_a = max s - s_a) and
    ``cumulative_regret`` (its running sum), ``transfers_paid`` (this episode),
    ``intervened``, ``refused``, ``interventions_used``, ``cost`` (transfer plus
    intervention cost), ``agent_reward``; on the last step also ``target_rate`` and
    ``episode_cost``. ``reset`` returns ``agent`` (the episode's ``IncentiveTask``: its
    ``agent_means`` and ``principal_means`` are the white-box model that only the ``oracle``
    principal reads), ``target_action``, ``benchmark_value`` (max_a theta_a - tau_a),
    ``n_arms``, ``horizon``, ``action_type``, ``max_transfer``, ``n_levels`` and
    ``agent_action_space`` (``Discrete(n_arms)``, the agent's arms).

    ## Version History
    * v0: initial version.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    @knob_signature(IncentiveBanditKnobs)
    def __init__(self, **knobs: Any):
        self.knobs = IncentiveBanditKnobs(**knobs)
        self.agent = self.knobs.source()
        self.core = IncentiveBanditCore(self.knobs, 1)
        self.n_arms, self.horizon = self.knobs.n_arms, self.knobs.horizon
        self.action_space = self.knobs.action_space()
        self.observation_space = self.core.observation_space()
        self.task: IncentiveTask | None = None
        self._needs_reset = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.task = episode_task(options or {}, self.agent, self.knobs.agent_kwargs, self.n_arms,
                                 self.np_random)
        obs = self.core.reset([self.task], self.np_random)
        self._needs_reset = False
        return obs[0], reset_info(self.task, self.knobs)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise RuntimeError("step() called before reset() or after the episode ended")
        check_action(self.action_space, action)
        knobs = self.knobs
        offered = decode_actions(np.asarray(action)[None], knobs.action_type, self.n_arms,
                                 float(knobs.max_transfer), knobs.n_levels)
        rng = self._np_random
        assert rng is not None
        obs, reward, done, info = self.core.step(offered, rng)
        self._needs_reset = done
        return obs[0], reward.item(), done, False, single_info(info)


class IncentiveBanditVectorEnv(LockstepVectorEnv):
    """``num_envs`` games in one ``IncentiveBanditCore``: the native ``gym.make_vec`` form.

    All sub-environments share the horizon, so they end together; the next ``step`` after the
    end resets them all (Gymnasium's next-step autoreset). Each sub-environment draws its own
    task at every reset; ``reset(options={"agents": tasks})`` gives each one (a list of
    ``IncentiveTask`` or ``AgentSpec``, or one ``AgentBatch``). The reset info holds the tasks'
    (N,) ``target_action`` and ``benchmark_value``, ``agent_action_space`` and (N, K)
    ``agent_means`` and ``principal_means`` (the white-box model), step infos the core's
    arrays.
    """

    @knob_signature(IncentiveBanditKnobs, NUM_ENVS)
    def __init__(self, num_envs: int = 1, **knobs: Any):
        check_size("num_envs", num_envs)
        self.knobs = IncentiveBanditKnobs(**knobs)
        self.n_arms, self.horizon = self.knobs.n_arms, self.knobs.horizon
        self.agent = self.knobs.source(num_envs)
        self.core = IncentiveBanditCore(self.knobs, num_envs)
        self._set_spaces(num_envs, self.knobs.action_space(), self.core.observation_space())

    def reset(self, *, seed: int | list[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        self._reset_generator(seed)
        tasks = (options or {}).get("agents")
        if tasks is None:
            tasks = [draw_task(self.agent, self.knobs.agent_kwargs or {}, self.n_arms,
                               self.np_random) for _ in range(self.num_envs)]
        elif not isinstance(tasks, AgentBatch):
            tasks = [checked_task(t, self.n_arms, "options['agents'][i]") for t in tasks]
        obs = self.core.reset(tasks, self.np_random)
        core = self.core
        return obs, {"target_action": core.targets.copy(),
                     "benchmark_value": core.benchmark_value.copy(),
                     "agent_action_space": spaces.Discrete(self.n_arms),
                     "agent_means": core.agent_means.copy(),
                     "principal_means": core.principal_means.copy()}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        if not valid_action(self.single_action_space, actions, self.num_envs):
            raise ValueError(f"actions must be {self.num_envs} actions of "
                             f"{self.single_action_space}, got {actions!r}")
        knobs = self.knobs
        offered = decode_actions(np.asarray(actions), knobs.action_type, self.n_arms,
                                 float(knobs.max_transfer), knobs.n_levels)
        return self._lockstep_step(lambda: self.core.step(offered, self.np_random))


# --- the PettingZoo form: the principal and the agent as two players -------------------------


class IncentiveBanditParallelEnv(TwoPlayerParallelEnv):
    """The principal-agent bandit game with the agent as a player (``incentive_bandit_parallel``).

    ## Description
    The game of ``Mermaide/IncentiveBandit-v0`` (see ``IncentiveBanditEnv``), but the agent
    is a player: each round the principal offers its transfers and at the same time the agent
    picks an arm; the agent receives its noisy reward for the arm plus the transfer on it.

    ## Action Space
    ``"principal"``: as ``IncentiveBanditEnv`` (by ``action_type``). ``"agent"``:
    ``Discrete(n_arms)``.

    ## Observation Space
    ``"principal"``: exactly ``IncentiveBanditEnv``'s observation. ``"agent"``: ``Box`` of
    shape (n_arms + 2,), see ``mermaide.agents.observation``: one-hot of its own last arm, the
    reward it received (transfer included), the fraction of time left.

    ## Rewards
    ``"principal"``: as ``IncentiveBanditEnv``. ``"agent"``: its reward draw for the arm plus
    the transfer on it.

    ## Starting State
    A task is drawn from ``agent`` (``reset(options={"agent": task})`` plays a given one); its
    learner does not play here (the ``"agent"`` player does); it is what
    ``as_principal_env(env)`` plays when no agent policy is given (``"oracle"`` tasks have no
    learner and need an agent policy there).

    ## Episode End
    Both players terminate after ``horizon`` rounds; there is no truncation.

    ## Arguments
    The knobs of ``IncentiveBanditEnv``, with the same defaults and checks.

    ## Info
    ``reset``: the principal gets ``IncentiveBanditEnv``'s reset info less ``agent``; the
    agent nothing. ``step``: the principal gets ``observed_action``, ``target_action``,
    ``transfers``, ``transfer``, ``principal_reward``, ``transfers_paid``, ``intervened``,
    ``refused``, ``interventions_used`` and ``cost``; the agent nothing. ``env.game_info``
    holds the whole step info of ``IncentiveBanditEnv`` (true agent action, regret, ...) and
    after ``reset`` the episode's task, for harnesses; it is part of neither player's view.

    ## Version History
    * v0: initial version.
    """

    @knob_signature(IncentiveBanditKnobs)
    def __init__(self, **knobs: Any):
        self.knobs = IncentiveBanditKnobs(**knobs)
        core = IncentiveBanditCore(self.knobs, 1, external_agent=True)
        super().__init__(
            core, name="mermaide_incentive_bandit_v0",
            principal_action_space=self.knobs.action_space(), n_agent_actions=self.knobs.n_arms,
            horizon=self.knobs.horizon,
            principal_info_keys=("observed_action", "target_action", "transfers", "transfer",
                                 "principal_reward", "transfers_paid", "intervened", "refused",
                                 "interventions_used", "cost"))
        self.agent = self.knobs.source()
        self.n_arms = self.knobs.n_arms
        self.task: IncentiveTask | None = None

    def _reset_core(self, options: Mapping[str, Any], rng: np.random.Generator
                    ) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
        """``options={"agent": task}`` plays a given task; other options are ignored."""
        self.task = episode_task(options, self.agent, self.knobs.agent_kwargs, self.n_arms, rng)
        obs = self.core.reset([self.task], rng)
        info = reset_info(self.task, self.knobs)
        principal_info = {key: value for key, value in info.items() if key != "agent"}
        return obs[0], principal_info, info

    def _step_core(self, principal_action: Any, agent_actions: np.ndarray,
                   rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, bool, dict[str, np.ndarray]]:
        knobs = self.knobs
        offered = decode_actions(np.asarray(principal_action)[None], knobs.action_type,
                                 self.n_arms, float(knobs.max_transfer), knobs.n_levels)
        return self.core.step(offered, rng, agent_actions=agent_actions)

    def episode_learner(self) -> tuple[str, dict[str, Any]]:
        learner, params = task_learner(self.task)
        if learner == ORACLE:
            raise ValueError("the 'oracle' agent is no learner: give as_principal_env an "
                             "agent policy for it")
        return learner, params


def parallel_env(**knobs: Any) -> IncentiveBanditParallelEnv:
    """The game as a ``pettingzoo.ParallelEnv``; knobs as ``IncentiveBanditEnv``."""
    return IncentiveBanditParallelEnv(**knobs)


def env(**knobs: Any) -> AECEnv[str, np.ndarray, Any]:
    """The game as a PettingZoo AEC env: principal, then agent, within each round."""
    return aec_env(parallel_env(**knobs))


# PettingZoo's names for a game module's forms, and the names mermaide.envs exports.
raw_env = IncentiveBanditParallelEnv
incentive_bandit_parallel, incentive_bandit_aec = parallel_env, env
