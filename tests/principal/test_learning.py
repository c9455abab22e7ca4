"""The learned principals learn: trained on a small, fixed budget, ``reinforce``, ``maml`` and
``mermaide`` score at least the tuned front-loaded schedule on held-out agents of their
training distribution, in each of 3 seeds; the same principal, same seed, with learning
switched off (``lr=0``: its untrained policy) does not, so the bar is one that learning, and
only learning, clears.

The game: 5 arms, horizon 50, a budget of 10 bonuses at cost 0.05, the paper's training
population (optimistic UCB and epsilon-greedy) steered towards arm 1. The tuned schedule
(front-loaded, its number of bonuses chosen on training agents) is the strongest fixed
schedule here: on the held-out agents 18.3, against 8.3 for no bonus, 12.7 for the tuned
periodic schedule and 7.0 for each principal's untrained policy at seed 0.
"""

import warnings

import gymnasium as gym
import numpy as np
import pytest

from mermaide.agents import population
from mermaide.principal import evaluate, make
from mermaide.principal.toolkit import NearUniformPolicyWarning

N_ARMS, HORIZON, BUDGET = 5, 50, 10
TRAIN = population("train", n_arms=N_ARMS, target=1)
HELD_OUT_TASKS = 40
# Small budgets that the three principals clear in every seed (measured: each reaches the
# tuned schedule's score exactly, its greedy policy front-loading the budget), 3-12 s each.
CONFIGS = {
    "reinforce": ({"episodes_per_batch": 64}, 150_000),
    "maml": ({"meta_batch": 16}, 120_000),
    "mermaide": ({"meta_batch": 16, "model_episodes": 200}, 150_000),
}


def game():
    return gym.make("Mermaide/Bandit-v0", n_arms=N_ARMS, horizon=HORIZON,
                    intervention_budget=BUDGET, intervention_cost=0.05)


def held_out_tasks():
    """Agents of the training distribution that training never meets (their own seed)."""
    rng = np.random.default_rng(12345)
    return [TRAIN.sample(rng) for _ in range(HELD_OUT_TASKS)]


def held_out_score(principal):
    return evaluate(principal, game(), episodes=1, seed=7, tasks=held_out_tasks()).mean_return


@pytest.fixture(scope="module")
def tuned_schedule_score():
    schedule = make("front-loaded-tuned")
    schedule.meta_train(game, TRAIN, 20_000, seed=0)
    return held_out_score(schedule)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_learned_principal_reaches_the_tuned_schedule(name, seed, tuned_schedule_score):
    config, steps = CONFIGS[name]
    learned = make(name, **config)
    learned.meta_train(game, TRAIN, steps, seed=seed)
    untrained = make(name, **config, lr=0.0)
    untrained.meta_train(game, TRAIN, steps, seed=seed)
    nothing = held_out_score(make("none"))
    learned_score, untrained_score = held_out_score(learned), held_out_score(untrained)
    assert learned_score >= tuned_schedule_score - 1e-9, (learned_score, tuned_schedule_score)
    # The bar is not reached by chance: the untrained twin (same seed, same steps) stays
    # well below it, and the tuned schedule is far above doing nothing.
    assert untrained_score < tuned_schedule_score - 3.0, (untrained_score, tuned_schedule_score)
    assert tuned_schedule_score > nothing + 5.0


def test_greedy_act_on_an_untrained_policy_warns():
    """The mode of a near-uniform policy is one arbitrary action played at every step: a
    greedy principal says so instead of passing silently for a fixed schedule."""
    config, steps = CONFIGS["reinforce"]
    untrained = make("reinforce", **config, lr=0.0)
    untrained.meta_train(game, TRAIN, 4_000, seed=0)
    with pytest.warns(NearUniformPolicyWarning, match="near-uniform"):
        held_out_score(untrained)
    sampling = make("reinforce", **config, lr=0.0, greedy=False)
    sampling.meta_train(game, TRAIN, 4_000, seed=0)
    trained = make("reinforce", **config)
    trained.meta_train(game, TRAIN, steps, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NearUniformPolicyWarning)
        held_out_score(sampling)
        held_out_score(trained)
