"""The economic-design games of the Stackelberg POMDP (Brero et al., arXiv 2210.03852; code
GlcBrero/StackelbergPOMDP, ``envs/simple_allocation.py``, ``envs/spm.py`` and ``games.py``):
followers with private types send messages, the leader (a mechanism) sees the message profile
and acts on it.

A ``MessageGame`` has F followers; follower f has ``types[f]`` types drawn independently from
its prior and sends one of ``messages`` messages. A *signal* is a message profile (S =
messages ** F of them, follower 0's message the most significant digit); the leader commits to
one action per signal. ``MessageGame.payoffs`` maps a batch of commitments (N, S, d) to the
leader's payoff (N, S, T) and the followers' (N, F, S, T) at every signal and joint type
profile (T of them, follower 0's type the most significant digit), so that everything the
Stackelberg POMDP needs (the followers' expected utility of each message, the leader's
expected payoff) is an exact expectation over types and messages, not a sample.

The presets:

* ``"simple-allocation"``: one follower whose type is one of 3 items, uniformly; the leader
  allocates an item (``Discrete(3)``, or a mixed strategy over them) from the message; both
  earn 1 when the item is the follower's type. With m messages the best mechanism is worth
  ``min(m, 3) / 3``.
* ``"spm-pi"``: the two-buyer sequential posted-price mechanism of the paper's "PI" setting
  (after Agrawal et al. 2020): one item; buyer 0 values it 0.2 with probability 0.8 and 1 with
  0.2, buyer 1 values it 0 or 0.4 with probability 1/2 each. The leader's action at a signal
  is ``(score_0, score_1, price_first, price_second)`` in [0, 1]^4: it visits the buyer with the
  higher score first (buyer 0 on ties), who buys at ``price_first`` when its value exceeds it;
  otherwise the other buyer is offered ``price_second``. A buyer's utility is value minus price
  when it buys, 0 otherwise; the leader's reward is the allocated value minus the best possible
  one, ``max(v_0, v_1)`` (so at most 0). Without messages (m = 1) the best mechanism loses 0.06
  (visit buyer 1 first at a price below 0.4, then buyer 0 below 0.2); with m >= 2 messages
  the efficient allocation is reachable (a truthful buyer 0 reporting a high value is offered
  the item at a price in (0.2, 1), otherwise buyer 1 first, then buyer 0), so the optimum is 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mermaide.checks import check_choice, check_size

__all__ = [
    "MESSAGE_GAMES",
    "MessageGame",
    "MessageGameValues",
    "message_game",
    "message_game_values",
]

# The default number of messages of each preset: as many as the allocation game's types (a
# truthful report is possible) and the paper's two messages of the PI setting.
MESSAGE_GAMES: dict[str, int] = {"simple-allocation": 3, "spm-pi": 2}
STRATEGY, MECHANISM = "strategy", "mechanism"

# spm-pi's values and priors (games.py's PISetting with EPSILON = 0.2).
PI_VALUES = (np.array([0.2, 1.0]), np.array([0.0, 0.4]))
PI_PRIORS = (np.array([0.8, 0.2]), np.array([0.5, 0.5]))
# Prices that stand for every price between two values (and 0 and 1 at the ends): a buyer's
# choice depends on a price only through which values exceed it, so the best message-free
# mechanism is found among these.
PI_PRICES = (0.0, 0.1, 0.3, 0.7, 1.0)


@dataclass(frozen=True)
class MessageGame:
    """A Bayesian mechanism-design game (see the module docstring).

    ``action`` is ``"strategy"`` when the leader's action at a signal is a mixed strategy over
    ``action_dim`` alternatives (``Box`` weights or ``Discrete`` pure commitments, as in the
    matrix games) and ``"mechanism"`` when it is a vector in [0, 1]^action_dim read by the
    mechanism itself. ``payoffs(commitments)`` with commitments (N, S, action_dim) returns
    ``(leader (N, S, T), followers (N, F, S, T))``.
    """

    name: str
    priors: tuple[np.ndarray, ...]
    messages: int
    action: str
    action_dim: int
    payoffs: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] = field(repr=False)

    @property
    def followers(self) -> int:
        return len(self.priors)

    @property
    def types(self) -> tuple[int, ...]:
        return tuple(len(prior) for prior in self.priors)

    @property
    def signals(self) -> int:
        return self.messages ** self.followers

    def joint_prior(self) -> np.ndarray:
        """(T,) the probability of each joint type profile."""
        prior = np.ones(1)
        for marginal in self.priors:
            prior = np.outer(prior, marginal).reshape(-1)
        return prior

    def profile_probabilities(self, strategies: list[np.ndarray]) -> np.ndarray:
        """(N, S, T): the probability of each (message profile, type profile) when follower f
        of type k sends message j with probability ``strategies[f][:, k, j]``."""
        batch = strategies[0].shape[0]
        joint = np.ones((batch, 1, 1))
        for strategy in strategies:  # (N, types_f, messages)
            joint = np.einsum("nst,nkj->nsjtk", joint, strategy)
            joint = joint.reshape(batch, joint.shape[1] * self.messages, -1)
        return joint * self.joint_prior()

    def follower_utilities(self, followers: np.ndarray, strategies: list[np.ndarray]
                           ) -> list[np.ndarray]:
        """Follower f's expected utility (N, types_f, messages) of each message for each of its
        types, over the others' types (their priors) and messages (their strategies)."""
        batch, F, m = followers.shape[0], self.followers, self.messages
        utilities = []
        for f in range(F):
            # (N, m, ..., m, T_0, ..., T_{F-1}): message and type axes one per follower.
            tensor = followers[:, f].reshape(batch, *([m] * F), *self.types)
            for g in range(F):
                if g == f:
                    continue
                others = strategies[g] * self.priors[g][None, :, None]  # (N, T_g, m)
                shape = [batch] + [1] * (2 * F)
                shape[1 + g], shape[1 + F + g] = m, self.types[g]
                tensor = tensor * np.moveaxis(others, 1, 2).reshape(shape)
            keep = (1 + f, 1 + F + f)
            summed = tensor.sum(axis=tuple(a for a in range(1, 1 + 2 * F) if a not in keep))
            utilities.append(np.moveaxis(summed, 1, 2))  # (N, T_f, m)
        return utilities

    def leader_value(self, commitments: np.ndarray, strategies: list[np.ndarray]) -> np.ndarray:
        """(N,) the leader's expected payoff of ``commitments`` against the strategies."""
        leader, _ = self.payoffs(commitments)
        return np.einsum("nst,nst->n", leader, self.profile_probabilities(strategies))


# --- the presets ------------------------------------------------------------------------------


def allocation_payoffs(commitments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Simple allocation: both earn the probability that the allocated item is the type."""
    leader = commitments.astype(np.float64)  # (N, S, 3): P(item k) at signal s = payoff of type k
    return leader, leader[:, None].copy()


def spm_pi_payoffs(commitments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sequential posted-price mechanism at every signal and type profile (T = 4)."""
    a = commitments.astype(np.float64)
    first_is_1 = a[..., 1] > a[..., 0]  # (N, S): buyer 0 first on ties (argmax)
    v0 = np.repeat(PI_VALUES[0], 2)[None, None, :]  # (1, 1, T): type profile (k0, k1)
    v1 = np.tile(PI_VALUES[1], 2)[None, None, :]
    first = first_is_1[..., None]
    v_first, v_second = np.where(first, v1, v0), np.where(first, v0, v1)
    p1, p2 = a[..., 2:3], a[..., 3:4]
    buys_first = v_first - p1 > 0
    buys_second = ~buys_first & (v_second - p2 > 0)
    welfare = np.where(buys_first, v_first, 0.0) + np.where(buys_second, v_second, 0.0)
    leader = welfare - np.maximum(v0, v1)
    u_first = np.where(buys_first, v_first - p1, 0.0)
    u_second = np.where(buys_second, v_second - p2, 0.0)
    u0, u1 = np.where(first, u_second, u_first), np.where(first, u_first, u_second)
    return leader, np.stack([u0, u1], axis=1)


def message_game(name: str, messages: int | None = None) -> MessageGame:
    """The preset ``name`` with ``messages`` messages per follower (None: the preset's
    default, ``MESSAGE_GAMES[name]``)."""
    check_choice("game", name, tuple(MESSAGE_GAMES))
    m = MESSAGE_GAMES[name] if messages is None else check_size("messages", messages)
    if name == "simple-allocation":
        return MessageGame(name, (np.full(3, 1.0 / 3.0),), m, STRATEGY, 3, allocation_payoffs)
    return MessageGame(name, PI_PRIORS, m, MECHANISM, 4, spm_pi_payoffs)


# --- the exact values -------------------------------------------------------------------------


@dataclass(frozen=True)
class MessageGameValues:
    """The best the leader can get, in the played payoffs: ``mixed`` over its action set,
    ``pure`` with deterministic actions (the same in both presets: the allocation game is one
    of common interest and the posted-price mechanism is deterministic), reached by the
    commitments ``commitments`` (S, action_dim) when the followers report by ``reports`` (for
    each follower, its message for each of its types)."""

    mixed: float
    pure: float
    commitments: np.ndarray
    reports: tuple[tuple[int, ...], ...]


def equilibrium_value(game: MessageGame, commitments: np.ndarray
                      ) -> tuple[float, tuple[tuple[int, ...], ...]] | None:
    """The best leader value over the followers' pure reporting profiles that are a Bayes-Nash
    equilibrium under ``commitments`` (S, d) (every type's message a best response to the
    others' reports; ties broken for the leader, the strong Stackelberg convention), and the
    profile; None if there is none."""
    leader, followers = game.payoffs(commitments[None])
    best: tuple[float, tuple[tuple[int, ...], ...]] | None = None
    for reports in itertools.product(*(itertools.product(range(game.messages), repeat=k)
                                       for k in game.types)):
        strategies = [np.eye(game.messages)[list(report)][None] for report in reports]
        utilities = game.follower_utilities(followers, strategies)
        stable = all(
            np.all(utilities[f][0, np.arange(game.types[f]), list(report)]
                   >= utilities[f][0].max(axis=1) - 1e-12)
            for f, report in enumerate(reports))
        if stable:
            value = float(np.einsum("st,st->", leader[0],
                                    game.profile_probabilities(strategies)[0]))
            if best is None or value > best[0] + 1e-12:
                best = (value, reports)
    return best


def message_game_values(game: MessageGame) -> MessageGameValues:
    """The exact optimum of a preset (see the module docstring).

    The allocation game: every deterministic allocation rule (3 ** m of them) against the
    follower's best reports. The PI mechanism without messages: every mechanism built from
    the representative prices ``PI_PRICES`` (a buyer's choice only depends on which values a
    price is below). With m >= 2 messages the leader's reward is at most 0 by definition, and
    the truthful mechanism of the module docstring reaches it as an equilibrium (checked
    here, not assumed)."""
    if game.name == "simple-allocation":
        candidates = [np.eye(3)[list(rule)] for rule in
                      itertools.product(range(3), repeat=game.signals)]
    elif game.messages == 1:
        candidates = [np.array([[s0, s1, p1, p2]], dtype=np.float64)
                      for s0, s1 in ((1.0, 0.0), (0.0, 1.0))
                      for p1 in PI_PRICES for p2 in PI_PRICES]
    else:
        # Buyer 0's message 1 reads "my value is 1": sell to it at 0.5; every other signal
        # visits buyer 1 first at 0.2, then buyer 0 at 0.1.
        table = np.tile([0.0, 1.0, 0.2, 0.1], (game.signals, 1))
        high = np.arange(game.signals) // game.messages == 1
        table[high] = [1.0, 0.0, 0.5, 0.0]
        candidates = [table]
    best: tuple[float, np.ndarray, tuple[tuple[int, ...], ...]] | None = None
    for commitments in candidates:
        found = equilibrium_value(game, commitments)
        if found is not None and (best is None or found[0] > best[0] + 1e-12):
            best = (found[0], commitments, found[1])
    assert best is not None, "every preset has an equilibrium"
    return MessageGameValues(best[0], best[0], best[1], best[2])
