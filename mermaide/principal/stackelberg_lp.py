"""``"stackelberg-lp"``: the exact Stackelberg baseline of the matrix games.

Every episode, at its first ``act``, the principal reads the game off the observation: its
own payoffs A (always shown) and the agent's payoffs B as it observes them, which the game
shows only with ``principal_observes="actions+payoffs"`` (plus N(0, observation_noise^2)
noise, drawn once per episode). It solves the strong Stackelberg equilibrium of (A,
B observed) with ``mermaide.envs.solve`` (one linear program per agent action, ties broken in
the principal's favour) and commits to the equilibrium strategy, never requesting a bonus. In
the repeated game it commits to that same strategy every round: the action is computed once
per episode and carried in ``state``.

Why it measures what a noise level allows without learning noise: at observation_noise 0 the
observed game is the game, so the commitment is the equilibrium and the return is exactly the
equilibrium value (the most any commitment earns without bonuses, against the exact
follower). At noise > 0 it is the return of the map "observation -> equilibrium commitment"
executed without error: the ceiling of a learned principal whose only shortfall is learning
noise, so a learned principal's gap minus this baseline's is what learning costs at that
noise level. It is not a bound on every principal: the equilibrium commitment sits on the
follower's indifference boundary, and a principal that commits inside the best-response
region, hedging against the noise, can do better at noise > 0; a principal that averages the
observations of K adaptation episodes (each reset draws fresh noise) sees B less noisily.

What it reads (the layout of ``RepeatedStackelbergCore``, m x n games): A from
``obs[2n + m + 3 : 2n + m + 3 + mn]``, B from the last mn entries, both row-major. The
game's size (m, n) comes from the reset ``info["game"].shape`` of one probe episode in
``meta_train`` (only its shape: the payoffs it uses are the observed ones), and what the
observation shows from its length. The action is encoded for the game's action space: the
``Box`` of ``action_type="weights"`` (x itself) or ``"logits"`` (l = 1 + log(x / max x) / 10,
clipped to [-1, 1]: exact down to x_i / max x = e^-20), with the "no bonus" score highest;
or the ``Discrete`` menu of a ``CommitmentGrid``, whose entries (read with its public
``commitment``) rarely hold the equilibrium strategy: there it plays the menu's own strong
Stackelberg commitment on the observed payoffs, the bonus-free entry that earns most (agent
payoffs within ``tie_tolerance`` of the best are ties, broken in the principal's favour), as
rounding the equilibrium to the nearest entry can flip the follower's response.

``meta_train`` learns nothing: it reads the layout above and refuses a game that hides B or
has another action space. ``adapt`` does nothing: the commitment is solved afresh from each
episode's observation, so this baseline stays the value of one observation of B. ``save`` /
``load`` write the config and the layout as JSON (the heuristics' convention).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from mermaide.checks import (
    check_choice,
    check_int,
    check_number,
    other_principal,
    reading_checkpoint,
)
from mermaide.envs import LOGIT_SCALE, OBSERVES_PAYOFFS, MatrixGame, solve
from mermaide.principal.base import EnvFn, TaskDistribution

# What the observation's length tells of principal_observes, by the entries after A.
_SHOWN = {0: "actions", 1: "actions+rewards"}
ACTION_KINDS = ("weights", "logits", "menu")


@dataclass(frozen=True)
class StackelbergLPConfig:
    """The baseline's one parameter."""

    tie_tolerance: float = 1e-6  # CommitmentGrid menus: agent payoffs this close to the best tie

    def __post_init__(self) -> None:
        check_number("tie_tolerance", self.tie_tolerance, low=0.0)


@dataclass(frozen=True)
class GameLayout:
    """What ``meta_train`` reads of a game: its size, the observation's length, and how a
    commitment becomes an action (``action`` one of ``ACTION_KINDS``; with ``"menu"``, the
    bonus-free entries of a ``CommitmentGrid`` as (action, strategy) pairs). Plain data."""

    m: int
    n: int
    obs_dim: int
    action: str
    menu: tuple[tuple[int, tuple[float, ...]], ...] = ()

    def __post_init__(self) -> None:
        # A layout read back from a file is checked as a whole here: sizes that disagree
        # would only fail at the first act, far from the file that caused them.
        check_choice("action", self.action, ACTION_KINDS)
        check_int("m", self.m, 1)
        check_int("n", self.n, 1)
        expected = 2 * self.n + self.m + 4 + 2 * self.m * self.n
        if self.obs_dim != expected:
            raise ValueError(f"obs_dim must be {expected} for a {self.m}x{self.n} game that "
                             f"shows the agent's payoffs, got {self.obs_dim!r}")
        for k, x in self.menu:
            if len(x) != self.m:
                raise ValueError(f"menu entry {k} must be a strategy of length {self.m}, got "
                                 f"{len(x)} entries")

    @property
    def a_slice(self) -> slice:
        start = 2 * self.n + self.m + 3
        return slice(start, start + self.m * self.n)

    @property
    def b_slice(self) -> slice:
        return slice(self.obs_dim - self.m * self.n, self.obs_dim)

    def to_dict(self) -> dict[str, Any]:
        return {"m": self.m, "n": self.n, "obs_dim": self.obs_dim, "action": self.action,
                "menu": [[k, list(x)] for k, x in self.menu]}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> GameLayout:
        return GameLayout(int(data["m"]), int(data["n"]), int(data["obs_dim"]),
                          str(data["action"]),
                          tuple((int(k), tuple(float(v) for v in x)) for k, x in data["menu"]))


def read_layout(env: gym.Env, seed: int) -> GameLayout:
    """The layout of a matrix game whose observation shows the agent's payoffs, read from one
    reset (seeded) and the env's spaces; a ValueError for any other game."""
    _, info = env.reset(seed=seed)
    game = info.get("game")
    if not isinstance(game, MatrixGame):
        raise ValueError(f"env must be a matrix game (Mermaide/Stackelberg-v0 or "
                         f"Mermaide/RepeatedStackelberg-v0, whose reset info names its game), "
                         f"got {env!r}")
    m, n = game.shape
    obs_space = env.observation_space
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise ValueError(f"observation_space must be a flat Box, got {obs_space}")
    obs_dim = int(obs_space.shape[0])
    shown = obs_dim - (2 * n + m + 3 + m * n)
    if shown != 1 + m * n:
        seen = _SHOWN.get(shown, f"unknown ({obs_dim} observation entries)")
        raise ValueError(f"'stackelberg-lp' solves the game it observes, so it needs the agent's "
                         f"payoffs in the observation: make the game with "
                         f"principal_observes={OBSERVES_PAYOFFS!r}, got "
                         f"principal_observes={seen!r}")
    space = env.action_space
    if isinstance(space, gym.spaces.Box) and space.shape == (m + n + 1,):
        if np.all(space.low == 0.0) and np.all(space.high == 1.0):
            return GameLayout(m, n, obs_dim, "weights")
        if np.all(space.low == -1.0) and np.all(space.high == 1.0):
            return GameLayout(m, n, obs_dim, "logits")
    elif isinstance(space, gym.spaces.Discrete):
        try:
            commitment = env.get_wrapper_attr("commitment")
        except AttributeError:
            commitment = None
        if callable(commitment):
            entries = [(k, commitment(k)) for k in range(int(space.start),
                                                         int(space.start + space.n))]
            menu = tuple((k, tuple(float(v) for v in x)) for k, (x, bonus) in entries
                         if bonus is None)
            return GameLayout(m, n, obs_dim, "menu", menu)
    raise ValueError(f"action_space must be a Box of shape ({m + n + 1},) in [0, 1] "
                     f"(action_type='weights') or in [-1, 1] (action_type='logits'), or the "
                     f"Discrete menu of a CommitmentGrid, got action_space={space}")


class StackelbergLP:
    """The exact strong-Stackelberg commitment on the observed game (module docstring)."""

    name = "stackelberg-lp"

    def __init__(self, tie_tolerance: float = 1e-6):
        self.config = StackelbergLPConfig(tie_tolerance)
        self.layout: GameLayout | None = None
        self._menu = np.zeros((0, 0))

    def _set_layout(self, layout: GameLayout | None) -> None:
        self.layout = layout
        self._menu = (np.array([x for _, x in layout.menu], dtype=np.float64)
                      if layout is not None and layout.menu else np.zeros((0, 0)))

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """Nothing to learn: reads the game's layout from one ``env_fn()`` reset with
        ``seed`` (refusing a game that hides the agent's payoffs or has another action
        space); ``population`` and ``steps`` are unused."""
        check_int("steps", steps, 0)
        check_int("seed", seed, 0)
        env = env_fn()
        try:
            self._set_layout(read_layout(env, seed))
        finally:
            env.close()

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """Nothing to adapt: every episode's commitment is solved from that episode's own
        observation."""
        check_int("episodes", episodes, 0)

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, Any]:
        """The episode's commitment: solved at the first round (``state=None``) and carried in
        ``state``, so that the repeated game plays it every round."""
        if state is not None:
            return state, state
        layout = self.layout
        if layout is None:
            raise ValueError(f"{self.name!r} does not know the game's layout yet: call "
                             f"meta_train(env_fn, population, steps, seed) first (it reads "
                             f"the game's size, what it observes and its action space)")
        seen = np.asarray(obs, dtype=np.float64)
        if seen.shape != (layout.obs_dim,):
            raise ValueError(f"obs must have shape ({layout.obs_dim},) (the {layout.m}x"
                             f"{layout.n} game meta_train read), got shape {seen.shape}")
        A = seen[layout.a_slice].reshape(layout.m, layout.n)
        B = seen[layout.b_slice].reshape(layout.m, layout.n)
        action = self.action_for(A, B)
        return action, action

    def action_for(self, A: np.ndarray, B: np.ndarray) -> Any:
        """The action committing to the strong Stackelberg strategy of (A, B), without bonus."""
        layout = self.layout
        assert layout is not None
        if layout.action == "menu":
            agent, principal = self._menu @ B, self._menu @ A  # (K, n) each
            ties = agent >= agent.max(axis=1, keepdims=True) - self.config.tie_tolerance
            values = np.where(ties, principal, -np.inf).max(axis=1)
            return layout.menu[int(np.argmax(values))][0]
        x = solve(A, B).strategy
        if layout.action == "weights":
            params, low = x, 0.0
        else:
            # The largest logit at the top of the box keeps the most of the e^-20 range.
            params = np.clip(1.0 + np.log(np.maximum(x / x.max(), 1e-300)) / LOGIT_SCALE,
                             -1.0, 1.0)
            low = -1.0
        scores = np.full(layout.n + 1, low)
        scores[0] = 1.0  # score 0 highest: no intervention
        return np.concatenate([params, scores]).astype(np.float32)

    def save(self, path: str) -> None:
        with open(path, "w") as file:
            json.dump({"principal": self.name, "config": dataclasses.asdict(self.config),
                       "layout": None if self.layout is None else self.layout.to_dict()},
                      file)

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path`` (JSON); a bad file raises
        ``CheckpointError`` and changes nothing."""
        with reading_checkpoint(path):
            with open(path, encoding="utf-8") as file:
                saved = json.load(file)
            if not isinstance(saved, dict) or saved.get("principal") != self.name:
                found = (saved.get("principal") if isinstance(saved, dict)
                         else type(saved).__name__)
                raise other_principal(path, found, self.name)
            config = StackelbergLPConfig(**saved["config"])
            layout = None if saved["layout"] is None else GameLayout.from_dict(saved["layout"])
        # GameLayout.from_dict has checked the layout, so setting it cannot fail half-way.
        self.config = config
        self._set_layout(layout)
