"""Thompson sampling: sample a plausible mean for every action from the posterior, play the
largest.

Two conjugate models:

* ``prior="beta"`` (Beta-Bernoulli): each action's mean has a Beta(1, 1) prior. A reward r is
  first mapped to [0, 1] by ``reward_range`` = (low, high) and counted as a fractional
  success r' and failure 1 - r' (the standard extension of Bernoulli TS to bounded rewards).
  A reward outside ``reward_range`` is a modelling mismatch of the agent, not an input error:
  it counts as a full success (above) or failure (below).
* ``prior="gaussian"``: each mean has a N(0, prior_std^2) prior and rewards are modelled as
  Gaussian with known ``noise_std``; the posterior is Gaussian.
"""

from __future__ import annotations

import numpy as np

from mermaide.agents.base import (
    batch_param,
    check_batch_args,
    register_learner,
    tie_break_priority,
)
from mermaide.checks import check_choice, check_number

_PRIORS = ("beta", "gaussian")


@register_learner("thompson")
class ThompsonSampling:
    """Batched Thompson sampling with a Beta-Bernoulli or Gaussian model."""

    feedback = "bandit"

    def __init__(
        self,
        prior: str = "beta",
        reward_range: tuple[float, float] = (0.0, 1.0),
        prior_std: float = 1.0,
        noise_std: float = 0.5,
    ):
        check_choice("prior", prior, _PRIORS)
        if not isinstance(reward_range, (tuple, list, np.ndarray)) or len(reward_range) != 2:
            raise ValueError(f"reward_range must be a pair (low, high) of finite numbers with "
                             f"high > low, got {reward_range!r}")
        low = check_number("reward_range[0]", reward_range[0])
        high = check_number("reward_range[1]", reward_range[1])
        if not high > low:
            raise ValueError(f"reward_range must be a pair (low, high) of finite numbers with "
                             f"high > low, got {reward_range!r}")
        batch_param("prior_std", prior_std, np.size(prior_std), low=0.0, low_open=True)
        batch_param("noise_std", noise_std, np.size(noise_std), low=0.0, low_open=True)
        self.prior, self.reward_range = prior, (low, high)
        self.prior_std, self.noise_std = prior_std, noise_std

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        check_batch_args(batch, n_actions)
        self._offsets = np.arange(batch) * n_actions
        self._priority = tie_break_priority(batch, n_actions, rng)
        if self.prior == "beta":
            self._successes = np.ones((batch, n_actions))
            self._failures = np.ones((batch, n_actions))
        else:
            prior_var = batch_param("prior_std", self.prior_std, batch) ** 2
            self._noise_var = batch_param("noise_std", self.noise_std, batch) ** 2
            self._precision = np.ones((batch, n_actions)) / prior_var
            self._weighted_sum = np.zeros((batch, n_actions))

    def posterior_mean(self) -> np.ndarray:
        """(B, K) posterior means of the actions' rewards (in reward_range units for beta)."""
        if self.prior == "beta":
            return self._successes / (self._successes + self._failures)
        return self._weighted_sum / self._precision

    def act(self, rng: np.random.Generator) -> np.ndarray:
        if self.prior == "beta":
            samples = rng.beta(self._successes, self._failures)
        else:
            samples = self.posterior_mean() + rng.standard_normal(self._precision.shape) / np.sqrt(
                self._precision
            )
        return np.argmax(samples + self._priority, axis=1)

    def update(
        self, actions: np.ndarray, rewards: np.ndarray, payoffs: np.ndarray | None = None
    ) -> None:
        # Flat single-index scatters: far cheaper than two-index fancy indexing; written
        # out of place because numpy's in-place arithmetic on small 1-D arrays costs more.
        flat = self._offsets + actions
        if self.prior == "beta":
            low, high = self.reward_range
            # min(max(.)) is np.clip's arithmetic without its Python-level overhead.
            success = np.minimum(np.maximum((rewards - low) / (high - low), 0.0), 1.0)
            successes, failures = self._successes.reshape(-1), self._failures.reshape(-1)
            successes[flat] = successes[flat] + success
            failures[flat] = failures[flat] + (1.0 - success)
        else:
            noise_var = self._noise_var[:, 0]
            precision, weighted = self._precision.reshape(-1), self._weighted_sum.reshape(-1)
            precision[flat] = precision[flat] + 1.0 / noise_var
            weighted[flat] = weighted[flat] + rewards / noise_var
