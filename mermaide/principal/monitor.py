"""What a learned principal's ``meta_train`` shows and logs while it trains.

The training loops (``reinforce.train_reinforce``, ``maml.train_maml``,
``world_model.pretrain_world_model``) call one ``TrainingMonitor`` once per update with the
env steps the update played, the episodes it learnt from and its scalars. The monitor

* advances a tqdm bar in env steps, with the running mean return in its postfix: a bar it opens
  and closes itself (``progress=True``), one the caller owns and keeps open (a tqdm instance;
  the harness passes its own across a run's chunks), or none (``progress=False``);
* records into a Stable-Baselines3 ``Logger`` (e.g. ``stable_baselines3.common.logger.configure(
  folder, ["csv", "tensorboard"])``) and dumps it at the env-step count, in SB3's keys:
  ``rollout/ep_rew_mean`` and ``rollout/ep_len_mean`` (over the last ``STATS_WINDOW``
  episodes, as SB3's ``stats_window_size``), ``time/total_timesteps``, ``time/fps``,
  ``time/time_elapsed`` and the loop's own scalars (``train/loss``, ...).

A logger's step axis goes on across ``meta_train`` calls: a principal trained in chunks into one
logger writes one curve. Nothing here draws a random number, so a loop trains to the same
numbers with or without a bar or a logger.
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import TypeAlias

import numpy as np
from stable_baselines3.common.logger import Logger
from tqdm import tqdm as Bar  # the base class of every tqdm bar (plain, auto, notebook)
from tqdm.auto import tqdm

from mermaide.principal.toolkit import Episodes

# What ``meta_train(..., progress=...)`` takes: a bar of its own (True), none, or the caller's.
Progress: TypeAlias = bool | Bar
STATS_WINDOW = 100  # episodes the running means are over (SB3's default stats_window_size)

# The last env step dumped into each logger, where the next monitor of that logger goes on.
_LOGGED_STEPS: weakref.WeakKeyDictionary[Logger, int] = weakref.WeakKeyDictionary()


class TrainingMonitor:
    """The bar and the log of one ``meta_train`` call of about ``total`` env steps. ``progress``:
    True (a bar of its own, named ``desc``), False (none) or a tqdm the caller owns; ``logger``:
    an SB3 ``Logger`` or None. Use it as a context manager, so that its own bar is closed."""

    def __init__(self, total: int, progress: Progress = True, logger: Logger | None = None,
                 desc: str | None = None):
        if not isinstance(progress, Progress):
            raise ValueError(f"progress must be a bool or a tqdm bar, got {progress!r}")
        if not (logger is None or isinstance(logger, Logger)):
            raise ValueError(f"logger must be a stable_baselines3 Logger or None, got {logger!r}")
        self.owns_bar = progress is True
        self.bar: Bar | None = (tqdm(total=total, desc=desc, unit="step") if progress is True
                                else progress if isinstance(progress, Bar) else None)
        self.logger = logger
        self.start = 0 if logger is None else _LOGGED_STEPS.get(logger, 0)
        self.steps = 0
        self.returns: deque[float] = deque(maxlen=STATS_WINDOW)
        self.lengths: deque[float] = deque(maxlen=STATS_WINDOW)
        self.started = time.perf_counter()

    def update(self, steps: int, episodes: Episodes | None = None,
               scalars: Mapping[str, float] | None = None) -> None:
        """One update: ``steps`` env steps played, the ``episodes`` whose returns are the
        learning curve (None: an update without any, as the world model's fit) and further
        ``scalars`` under their logger keys (e.g. ``{"train/loss": 0.3}``)."""
        self.steps += steps
        if episodes is not None:
            self.returns.extend((episodes.rewards * episodes.mask).sum(1).tolist())
            self.lengths.extend(episodes.mask.sum(1).tolist())
        if self.bar is not None:
            if self.returns:
                self.bar.set_postfix(ep_rew_mean=f"{np.mean(self.returns):.4g}", refresh=False)
            if self.owns_bar and self.bar.n + steps > self.bar.total:
                # A loop stops at the first whole batch past its budget: the bar ends at 100%.
                self.bar.total = self.bar.n + steps
            self.bar.update(steps)
        if self.logger is not None:
            self._dump(self.logger, scalars or {})

    def _dump(self, logger: Logger, scalars: Mapping[str, float]) -> None:
        step = self.start + self.steps
        elapsed = time.perf_counter() - self.started
        if self.returns:
            logger.record("rollout/ep_rew_mean", float(np.mean(self.returns)))
            logger.record("rollout/ep_len_mean", float(np.mean(self.lengths)))
        for key, value in scalars.items():
            logger.record(key, float(value))
        # As SB3 does: the step axis and the clock are not TensorBoard scalars of their own.
        logger.record("time/fps", int(self.steps / max(elapsed, 1e-9)))
        logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
        logger.record("time/total_timesteps", step, exclude="tensorboard")
        logger.dump(step)
        _LOGGED_STEPS[logger] = step

    def close(self) -> None:
        """Close the bar if the monitor opened it (a caller's bar stays open)."""
        if self.owns_bar and self.bar is not None:
            self.bar.close()

    def __enter__(self) -> TrainingMonitor:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
