"""The world model matters: ``"mermaide"`` with its world model fitted beats the same principal
with an unfitted one (``world_model.epochs=0``: the same episodes collected and counted, the
fit skipped, so its features are those of a freshly initialised model), on the held-out
likelihood of the agents' actions and on the return it earns from held-out agents."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import mermaide  # noqa: F401  (registers the games)
from mermaide.agents import population
from mermaide.principal import evaluate, make
from mermaide.principal.world_model import (
    action_log_likelihood,
    collect_trajectories,
    exploring_behaviour,
)

K, T = 5, 30
SEEDS = (0, 1, 2)
STEPS = 250_000
# A budget at which MAML learns to steer these agents at all: with intervention_cost 0.05
# neither twin learns more than doing nothing in 250k steps (4.27 = "none"), so the
# comparison is made without a cost, where steering pays from the start.
CONFIG = dict(hidden_size=32, meta_batch=16, query_episodes=8, adapt_lr=0.05, lr=0.03,
              model_episodes=256)


def bandit():
    return gym.make("Mermaide/Bandit-v0", n_arms=K, horizon=T, intervention_cost=0.0)


@pytest.fixture(scope="module")
def twins():
    """(seed, fitted) -> a meta-trained "mermaide"."""
    torch.set_num_threads(1)
    trained = {}
    for seed in SEEDS:
        for fitted in (True, False):
            principal = make("mermaide", **CONFIG, world_model=dict(
                hidden_size=32, lr=1e-2, epochs=10 if fitted else 0))
            principal.meta_train(bandit, population("train", n_arms=K), STEPS, seed=seed,
                                 progress=False)
            trained[seed, fitted] = principal
    return trained


def test_the_fitted_world_model_predicts_held_out_agents_better(twins):
    held_out = collect_trajectories(bandit, population("train", n_arms=K), 200, seed=99,
                                    behaviour=exploring_behaviour(bandit().action_space, 0.5))
    for seed in SEEDS:
        fitted = action_log_likelihood(twins[seed, True].world_model, held_out)
        unfitted = action_log_likelihood(twins[seed, False].world_model, held_out)
        # Measured: about -1.0 against -1.61 (uniform over 5 arms is -1.609).
        assert fitted > unfitted + 0.3, (seed, fitted, unfitted)


@pytest.mark.xfail(strict=True, reason=(
    "finding: the fitted world model does not raise mermaide's return here. Measured with "
    "paired episodes (evaluate's task_seeds), 1-shot mean return on 24 held-out agents: "
    "fitted 13.19 against unfitted 11.10 (seed 0), 14.58 against 14.81 (seed 1); the fitted "
    "twin's gains in seeds 0 / 1 / 2 are +2.08 / -0.23 / -5.27, mean -1.14"))
def test_the_fitted_world_model_raises_the_return_on_held_out_agents(twins):
    tasks = population("train", n_arms=K).sample_many(24, np.random.default_rng(1234))
    returns = {key: evaluate(principal, bandit(), episodes=2, seed=0, shots=1,
                             tasks=tasks).mean_return for key, principal in twins.items()}
    gains = [returns[seed, True] - returns[seed, False] for seed in SEEDS]
    assert np.mean(gains) > 0.5, returns
