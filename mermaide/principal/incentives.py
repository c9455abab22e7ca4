"""What the theory principals of ``Mermaide/IncentiveBandit-v0`` share (``"ipa"``,
``"dogan-eps"``, ``"steer-margin"``, ``"oracle"``): how they read the game and speak its actions.

Each of them is one batched algorithm (a ``Run`` over B games, arithmetic on (B, K) arrays)
and a ``Principal`` that plays its B = 1 case through the public interface only:

* ``begin_episode(info)`` reads the reset info's ``n_arms``, ``horizon``, ``action_type``,
  ``max_transfer`` and ``n_levels`` and starts a fresh run (an episode is one game of T rounds,
  what the papers' guarantees are about);
* ``act`` offers the run's transfers, encoded for the game's action type by
  ``mermaide.envs.encode_transfers``;
* ``after_step(info)`` tells the run which arm the principal saw the agent take
  (``info["observed_action"]``), its own gross reward for it, ``info["principal_reward"]
  + info["cost"]`` (its net reward plus what it paid: the draw of theta there), and the
  transfers its action offered as the game applied them (``info["transfers"]``: an action
  type that holds one arm's amount, or a spent budget, offers less than the run asked).

The same runs play a native vector env directly (``Run.offers`` / ``Run.update`` with the
vector env's (N,) infos): the tests measure regret over long horizons that way.
``meta_train`` and ``adapt`` learn nothing (the algorithms learn within each episode);
``save`` / ``load`` write the config with ``toolkit.save_checkpoint`` (plain data, no pickle).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from mermaide.checks import check_int, reading_checkpoint
from mermaide.envs import encode_transfers
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.toolkit import load_checkpoint, save_checkpoint

GAME_KEYS = ("n_arms", "horizon", "action_type", "max_transfer", "n_levels")


@dataclass(frozen=True)
class Game:
    """What a theory principal needs to know of the game (from its reset info)."""

    n_arms: int
    horizon: int
    action_type: str
    max_transfer: float
    n_levels: int

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> Game:
        missing = [key for key in GAME_KEYS if key not in info]
        if missing:
            raise ValueError(f"the reset info must hold {', '.join(GAME_KEYS)} (the "
                             f"Mermaide/IncentiveBandit-v0 reset info does); missing "
                             f"{', '.join(missing)}")
        return cls(int(info["n_arms"]), int(info["horizon"]), str(info["action_type"]),
                   float(info["max_transfer"]), int(info["n_levels"]))

    def action(self, transfers: np.ndarray) -> Any:
        return encode_transfers(transfers, self.action_type, self.max_transfer, self.n_levels)


class Run(Protocol):
    """One batched algorithm over B games of one episode."""

    def offers(self) -> np.ndarray:
        """(B, K) the transfers offered this round."""
        ...

    def update(self, arms: np.ndarray, rewards: np.ndarray, transfers: np.ndarray) -> None:
        """The arms (B,) the principal saw taken, its gross rewards (B,) for them and the
        transfers (B, K) the game applied this round."""
        ...


class IncentivePrincipal:
    """The Principal verbs around a ``Run`` (see the module docstring); a subclass gives
    ``name``, its config class and ``new_run``."""

    name = "incentive"
    config_class: type = object

    def __init__(self, config: Any = None, **overrides: Any):
        if config is None:
            config = self.config_class(**overrides)
        elif isinstance(config, dict):
            config = self.config_class(**{**config, **overrides})
        else:
            config = dataclasses.replace(config, **overrides)
        self.config = config
        self._rng = np.random.default_rng(getattr(config, "seed", 0))
        self.run: Run | None = None
        self.game: Game | None = None

    def new_run(self, batch: int, game: Game, rng: np.random.Generator,
                info: dict[str, Any]) -> Run:
        raise NotImplementedError

    def begin_episode(self, info: dict[str, Any]) -> None:
        self.game = Game.from_info(info)
        self.run = self.new_run(1, self.game, self._rng, info)

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, int]:
        if self.run is None or self.game is None:
            raise ValueError(f"{self.name!r} reads the game from the reset info: call "
                             f"begin_episode(reset_info) before act (evaluate does)")
        t = 0 if state is None else int(state)
        return self.game.action(self.run.offers()[0]), t + 1

    def after_step(self, info: dict[str, Any]) -> None:
        if self.run is not None:
            gross = float(info["principal_reward"]) + float(info["cost"])
            self.run.update(np.array([int(info["observed_action"])]), np.array([gross]),
                            np.asarray(info["transfers"], dtype=np.float64)[None])

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """Nothing to learn across agents: the algorithm learns within each episode."""
        check_int("steps", steps, 0)
        check_int("seed", seed, 0)

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """Nothing to adapt: every episode starts the algorithm afresh."""
        check_int("episodes", episodes, 0)

    def save(self, path: str) -> None:
        save_checkpoint(path, self.name, {"config": dataclasses.asdict(self.config)})

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path`` (its config; a run starts at
        the next episode); a bad file raises ``CheckpointError`` and changes nothing (a new
        principal is built from the file, then adopted)."""
        saved = load_checkpoint(path, self.name)
        with reading_checkpoint(path):
            loaded = type(self)(self.config_class(**saved["config"]))
        self.__dict__.update(loaded.__dict__)


def search_rounds(horizon: int) -> int:
    """ceil(log2 T) (at least 1): the rounds of one binary search to precision 1/T."""
    return max(1, (int(horizon) - 1).bit_length())


def one_arm(game: Game, arms: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """(B, K) transfers: ``amounts`` (B,) on ``arms`` (B,), capped at the game's
    ``max_transfer`` (a margin on top of an estimate may pass it), nothing elsewhere."""
    transfers = np.zeros((arms.shape[0], game.n_arms))
    transfers[np.arange(arms.shape[0]), arms] = np.minimum(amounts, game.max_transfer)
    return transfers


class ArmMeans:
    """Per game and arm, the count and mean of the principal's gross rewards (B, K)."""

    def __init__(self, batch: int, n_arms: int):
        self.counts = np.zeros((batch, n_arms))
        self.sums = np.zeros((batch, n_arms))
        self._rows = np.arange(batch)

    def add(self, arms: np.ndarray, rewards: np.ndarray) -> None:
        self.counts[self._rows, arms] += 1.0
        self.sums[self._rows, arms] += rewards

    def means(self, unseen: float) -> np.ndarray:
        """(B, K) the means, ``unseen`` where an arm has no sample yet."""
        return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1.0), unseen)
