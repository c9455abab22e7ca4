"""The repeated Stackelberg game ``Mermaide/RepeatedStackelberg-v0``: a principal commits to a
mixed strategy round after round against a learning agent, and may pay for bonuses on the
agent's actions.

The simulation is ``RepeatedStackelbergCore`` (B games in (B, m, n) arrays, defined with the
solver in ``mermaide.envs.stackelberg`` because the one-round game is its T = 1 case);
``RepeatedStackelbergEnv`` is its B = 1 Gymnasium form and ``RepeatedStackelbergVectorEnv`` its
native ``gym.make_vec`` form (B = num_envs).
"""

from __future__ import annotations

from typing import Any

from mermaide.envs.knobs import OBSERVES_ACTIONS
from mermaide.envs.stackelberg import (
    GameSource,
    MatrixGameEnv,
    MatrixGameVectorEnv,
    RepeatedStackelbergCore,
)

__all__ = ["RepeatedStackelbergCore", "RepeatedStackelbergEnv", "RepeatedStackelbergVectorEnv"]


class RepeatedStackelbergEnv(MatrixGameEnv):
    """T rounds of a Stackelberg matrix game against a learning agent.

    ## Description
    Each episode a game is drawn: payoffs A (principal) and B (agent), both m x n, and the
    agent's kind: the exact ``"follower"`` (best response to the current commitment), or a
    learner from ``mermaide.agents`` over its n actions: ``best_response`` (fictitious play
    with ``memory="mean"``, best response to the last round with ``"last"``), ``hedge`` and
    ``exp3`` (no-regret), ``epsilon_greedy``, ``ucb``, ... Each round the principal commits to
    a mixed strategy x and may request a costed bonus on one agent action. The agent's payoff
    for action j this round is ``x @ B[:, j]`` (+ the bonus on the bonus action): payoffs are
    expected over x, the principal's action is not sampled. The follower sees the commitment
    and best-responds; a learner acts from what it has learnt, then learns from this round's
    payoffs (full-information learners the whole vector, bandit learners their own entry).

    ## Action Space
    ``Box`` of shape (m + n + 1,), as in ``StackelbergEnv``: m strategy weights in [0, 1]
    (``action_type="weights"``, x = w / sum(w), all zero = uniform) or logits l in [-1, 1]
    (``"logits"``, x = softmax(10 l)), then n + 1 intervention scores whose argmax is 0 = no
    bonus or j + 1 = a bonus on agent action j. ``env.encode_action(x, bonus_action)`` builds one.

    ## Observation Space
    ``Box`` laid out in ``RepeatedStackelbergCore``: one-hot of the last response as observed
    (flipped to a random other action with probability ``observation_noise``), the last
    commitment, the one-hot of the last intervention, the fractions of time and budget left,
    the principal's own A, and, as ``principal_observes`` allows, the agent's last payoff
    received and its matrix B (+ Gaussian noise of std ``observation_noise``).

    ## Rewards
    Each round ``x @ A[:, j] - cost`` for the agent's action j; cost is ``intervention_cost``
    when a bonus was applied. A refused intervention (budget spent) is neither applied nor
    charged.

    ## Starting State
    A fresh agent (no experience) in a game from ``game``; the first three observation blocks
    are 0. ``reset(options={"game": MatrixGame(...)})`` plays a given game.

    ## Episode End
    Terminates after ``horizon`` rounds (time left is observed).

    ## Arguments
    game (population preset name, default "train"; a MatrixGame, a GamePopulation, a
    BayesianGamePopulation or a pair (A, B)), horizon (>= 1, default 100), agent (None = as the
    game says; a learner name or "follower" overrides it), agent_kwargs (the learner's
    parameters, with agent), action_type ("weights" or "logits"), intervention_budget (None =
    unlimited, default), intervention_cost (>= 0, default 0.1), bonus (> 0, default 1.0),
    observation_noise ([0, 1], default 0), principal_observes ("actions", "actions+rewards" or
    "actions+payoffs"), tie_break ("principal" or "adversarial", for the follower),
    tie_tolerance (default 1e-6).

    ## Info
    As ``StackelbergEnv`` every round: ``agent_action``, ``observed_action``, ``intervened``,
    ``refused``, ``interventions_used``, ``cost``, ``agent_reward``, ``agent_payoffs``,
    ``principal_value``, ``equilibrium_value``, ``strategy``, ``bonus_action``; on the last
    round also ``average_value`` (mean principal value over the episode, before costs) and
    ``episode_cost``.

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
        tie_break: str = "principal",
        tie_tolerance: float = 1e-6,
    ):
        super().__init__(game, horizon, agent, agent_kwargs, action_type, intervention_budget,
                         intervention_cost, bonus, observation_noise, principal_observes,
                         tie_break, tie_tolerance)


class RepeatedStackelbergVectorEnv(MatrixGameVectorEnv):
    """``num_envs`` repeated Stackelberg games in one core (``gym.make_vec`` form of
    ``RepeatedStackelbergEnv``, same arguments)."""

    def __init__(
        self,
        num_envs: int = 1,
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
        tie_break: str = "principal",
        tie_tolerance: float = 1e-6,
    ):
        super().__init__(num_envs, game, horizon, agent, agent_kwargs, action_type,
                         intervention_budget, intervention_cost, bonus, observation_noise,
                         principal_observes, tie_break, tie_tolerance)
