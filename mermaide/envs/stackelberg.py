"""The one-round Stackelberg game ``Mermaide/Stackelberg-v0``: the principal commits to a mixed
strategy once, the agent best-responds.

The game is the T = 1 case of the repeated game's batched core
(``mermaide.envs.repeated_stackelberg.RepeatedStackelbergCore``) against the exact follower,
which makes it exactly the game that ``mermaide.envs.equilibrium.solve`` solves.
``StackelbergKnobs`` is its knob signature, written once for all its forms; ``StackelbergEnv``
is its Gymnasium form, ``StackelbergVectorEnv`` its native ``gym.make_vec`` form and
``StackelbergAECEnv`` its PettingZoo form with the agent as a second player (``env()``; AEC
only, since the agent answers the commitment it has seen).

The solver's names (``solve``, ``StackelbergSolution``, ...) and the game populations are
re-exported here, where the README and the benchmarks import them from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from mermaide.envs.equilibrium import (
    StackelbergSolution,
    best_response,
    equilibrium_values,
    pure_nash_equilibria,
    solve,
)
from mermaide.envs.games import (
    CLASSIC_GAMES,
    GamePopulation,
    MatrixGame,
    classic_game,
    game_population,
    game_population_names,
)
from mermaide.envs.knobs import NUM_ENVS, knob_signature
from mermaide.envs.parallel import (
    AGENT,
    FOLLOWER_KNOBS,
    PLAYERS,
    PRINCIPAL,
    TwoPlayerSpaces,
    check_action,
    check_player,
    dead_action_message,
)
from mermaide.envs.repeated_stackelberg import (
    MatrixGameEnv,
    MatrixGameVectorEnv,
    RepeatedStackelbergCore,
    RepeatedStackelbergKnobs,
    action_space,
    decode_actions,
    draw_game,
    encode_action,
    game_source,
    source_shape,
)
from mermaide.envs.vector import single_info

__all__ = [
    "CLASSIC_GAMES",
    "GamePopulation",
    "MatrixGame",
    "RepeatedStackelbergCore",
    "StackelbergAECEnv",
    "StackelbergEnv",
    "StackelbergKnobs",
    "StackelbergSolution",
    "StackelbergVectorEnv",
    "best_response",
    "classic_game",
    "env",
    "equilibrium_values",
    "game_population",
    "game_population_names",
    "pure_nash_equilibria",
    "raw_env",
    "solve",
]


@dataclass(frozen=True, kw_only=True)
class StackelbergKnobs(RepeatedStackelbergKnobs):
    """Every knob of ``Mermaide/Stackelberg-v0``: the repeated game's, played for one round
    (``horizon`` 1) against the exact follower (``agent`` as the game says, which the
    one-round game overrides), and by default no intervention budget (commitment is the only
    lever). ``horizon``, ``agent`` and ``agent_kwargs`` are fixed, not knobs."""

    horizon: int = field(default=1, init=False)
    agent: str | None = field(default=None, init=False)
    agent_kwargs: dict[str, Any] | None = field(default=None, init=False)
    intervention_budget: int | None = 0


# --- the Gymnasium forms ---------------------------------------------------------------------


class StackelbergEnv(MatrixGameEnv):
    """One round of a Stackelberg matrix game: the principal commits, the agent best-responds.

    ## Description
    Each episode a game is drawn (payoffs A for the principal, B for the agent, both m x n).
    The principal commits to a mixed strategy x over its m actions and may request a costed
    bonus on one agent action; the agent sees the commitment and plays a best response to
    ``x @ B`` (+ the bonus), ties broken by ``tie_break``. Payoffs are expected over x (the
    principal's action is not sampled), so the best the principal can do without bonuses is
    exactly the strong Stackelberg equilibrium value from ``solve(A, B)``. The agent is always
    this exact follower here, whatever learner a game names (that is for the repeated game).

    ## Action Space
    ``Box`` of shape (m + n + 1,), float32. The first m entries parametrise x: with
    ``action_type="weights"`` (default) weights in [0, 1], x = w / sum(w) (all zero =
    uniform); with ``"logits"`` logits l in [-1, 1], x = softmax(10 l). The last n + 1 entries
    are intervention scores: their argmax (first on ties) is 0 = no bonus, j + 1 = a bonus on
    agent action j. ``env.encode_action(x, bonus_action)`` builds an action.

    ## Observation Space
    ``Box`` as laid out in ``RepeatedStackelbergCore``: the observed response one-hot, the last
    commitment, the last intervention one-hot, time and budget left, the principal's own A,
    and with ``principal_observes="actions+rewards"`` the agent's payoff received, with
    ``"actions+payoffs"`` also the agent's matrix B plus N(0, observation_noise^2) noise. At
    reset the first three blocks are 0.

    ## Rewards
    ``x @ A[:, j] - cost`` for the agent's response j; cost is ``intervention_cost`` when a
    bonus was applied. A refused intervention (budget spent) is neither applied nor charged.

    ## Starting State
    A game from ``game``; ``reset(options={"game": MatrixGame(...)})`` plays a given one.

    ## Episode End
    Terminates after the single round.

    ## Arguments
    game (population preset name, default "train"; a MatrixGame, a GamePopulation, a
    BayesianGamePopulation or a pair (A, B)), action_type ("weights" or "logits"),
    intervention_budget (default 0: commitment is the only lever; None = unlimited),
    intervention_cost (>= 0, default 0.1), bonus (> 0, default 1.0), observation_noise ([0, 1],
    default 0: flip probability of the observed response and std of the noise on observed
    payoffs), principal_observes ("actions", "actions+rewards" or "actions+payoffs"), tie_break
    ("principal" = strong, default, or "adversarial" = weak), tie_tolerance (agent payoffs this
    close to the best are ties, default 1e-6).

    ## Info
    ``reset``: ``game`` (the MatrixGame) and ``equilibrium_value``. ``step``:
    ``agent_action`` (true response), ``observed_action`` (after the flip noise),
    ``intervened``, ``refused``, ``interventions_used``, ``cost``, ``agent_reward``,
    ``agent_payoffs`` (n,), ``principal_value`` (x @ A[:, j], before cost),
    ``equilibrium_value`` (the game's strong Stackelberg value), ``average_value``,
    ``episode_cost``, ``strategy`` (the decoded x) and ``bonus_action`` (-1 = none).

    ## Version History
    * v0: initial version.
    """

    follower_only = True

    @knob_signature(StackelbergKnobs)
    def __init__(self, **knobs: Any):
        super().__init__(StackelbergKnobs(**knobs))


class StackelbergVectorEnv(MatrixGameVectorEnv):
    """``num_envs`` one-round Stackelberg games at once (``gym.make_vec`` form of
    ``StackelbergEnv``, same arguments). Every step ends the round, so steps alternate between
    playing and Gymnasium's next-step autoreset."""

    follower_only = True

    @knob_signature(StackelbergKnobs, NUM_ENVS)
    def __init__(self, num_envs: int = 1, **knobs: Any):
        super().__init__(num_envs, StackelbergKnobs(**knobs))


# --- the PettingZoo form: the principal and the agent as two players -------------------------


class StackelbergAECEnv(TwoPlayerSpaces, AECEnv[str, np.ndarray, Any]):
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

    @knob_signature(StackelbergKnobs, without=FOLLOWER_KNOBS)
    def __init__(self, **knobs: Any):
        super().__init__()
        self.knobs = StackelbergKnobs(**knobs)
        self.action_type, self.bonus = self.knobs.action_type, float(self.knobs.bonus)
        self.game = game_source(self.knobs.game, None, None)
        self.m, self.n = source_shape(self.game)
        self.core = RepeatedStackelbergCore.from_knobs(self.knobs, (self.m, self.n), 1,
                                                       external_agent=True)
        self._set_players(
            {PRINCIPAL: self.core.observation_space(),
             AGENT: spaces.Box(0.0, max(1.0, self.bonus), shape=(self.m + self.n,),
                               dtype=np.float32)},
            {PRINCIPAL: action_space(self.m, self.n, self.action_type),
             AGENT: spaces.Discrete(self.n)})

    def encode_action(self, strategy: Any, bonus_action: int | None = None) -> np.ndarray:
        """The principal's action committing to ``strategy`` (m,), bonus on ``bonus_action``."""
        return encode_action(strategy, self.n, bonus_action, self.action_type)

    def observe(self, agent: str) -> np.ndarray:
        # A copy: observe() may be called many times per turn, and a caller that writes into
        # what it got must not change what the next call returns.
        return self._observations[check_player(agent)].copy()

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        rng = self._seed(seed)
        game = (options or {}).get("game")
        if game is None:
            game = draw_game(self.game, rng)
        elif not isinstance(game, MatrixGame) or game.shape != (self.m, self.n):
            raise ValueError(f"options['game'] must be a {self.m}x{self.n} MatrixGame, got "
                             f"{game!r}")
        principal_obs = self.core.reset([game], rng)[0]
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
            # PettingZoo's own refusal of a real action here names no player.
            if action is not None:
                raise ValueError(dead_action_message(player, action))
            self._was_dead_step(action)
            return
        check_action(self._action_spaces[player], action, f"action of {player!r}")
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
        posted = np.zeros(self.n, dtype=np.float32)
        if bonus_actions[0] >= 0 and self.core.can_intervene()[0]:
            posted[bonus_actions[0]] = self.bonus
        self._observations[AGENT] = np.concatenate([strategies[0].astype(np.float32), posted])

    def _answer(self, agent_action: int) -> None:
        assert self._commitment is not None and self.np_random is not None
        strategies, bonus_actions = self._commitment
        obs, principal_reward, _, info = self.core.step(
            strategies, bonus_actions, self.np_random,
            agent_actions=np.array([agent_action], dtype=np.int64))
        info["strategy"], info["bonus_action"] = strategies, bonus_actions
        self.game_info = single_info(info)
        self._observations[PRINCIPAL] = obs[0]
        self.rewards = {PRINCIPAL: float(principal_reward[0]),
                        AGENT: float(info["agent_reward"][0])}
        self.terminations = dict.fromkeys(PLAYERS, True)
        self.infos = {PRINCIPAL: {key: self.game_info[key] for key in (
            "observed_action", "intervened", "refused", "interventions_used", "cost",
            "strategy", "bonus_action")}, AGENT: {}}


def env(**knobs: Any) -> AECEnv[str, np.ndarray, Any]:
    """The one-round Stackelberg game as a PettingZoo AEC env (the principal commits, then the
    agent answers); knobs as ``StackelbergEnv`` (without the follower's tie_break and
    tie_tolerance). ``env.unwrapped`` is the ``StackelbergAECEnv``."""
    return wrappers.OrderEnforcingWrapper(StackelbergAECEnv(**knobs))


# PettingZoo's names for a game module's forms, and the name mermaide.envs exports.
raw_env = StackelbergAECEnv
stackelberg_aec = env
