"""K-shot adaptation steps the right way: for every learned principal, ``adapt(env, K)`` on K
episodes of one agent raises the advantage-weighted log-likelihood of the actions it took in
those very episodes (the objective whose gradient REINFORCE and MAML's inner loop follow), on
each of several held-out agents. A mutation that makes ``adapt`` ascend the loss lowers it.

The episodes ``adapt`` learns from are replayed exactly: a twin of the principal (same weights,
same generator state) plays K episodes on a twin of the env (same seed) without adapting.
"""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from mermaide.agents import population
from mermaide.principal import FixedTask, make
from mermaide.principal.toolkit import action_log_probs, loss_batch, reinforce_advantages

K = 5
N_ARMS, HORIZON = 3, 20
TRAIN = population("train", n_arms=N_ARMS, target=1)
# Briefly trained (so that the policy is neither uniform nor saturated) and with a visible
# adaptation step; the world model's fine-tune is off so that the encoder stays the same and
# only the policy's step is measured (its anchoring has its own tests).
CONFIGS = {
    "reinforce": {"episodes_per_batch": 16, "adapt_lr": 0.1},
    "maml": {"meta_batch": 4, "shots": K, "query_episodes": 2, "adapt_lr": 0.1},
    "model": {"episodes_per_batch": 16, "adapt_lr": 0.1, "model_episodes": 32,
              "fine_tune_model": False},
    "mermaide": {"meta_batch": 4, "shots": K, "query_episodes": 2, "adapt_lr": 0.1,
                 "model_episodes": 32, "fine_tune_model": False},
}
TRAIN_STEPS = 4_000


def game():
    return gym.make("Mermaide/Bandit-v0", n_arms=N_ARMS, horizon=HORIZON,
                    intervention_budget=6, intervention_cost=0.05)


def weighted_log_likelihood(policy, episodes):
    """Mean over the episodes' steps of A_t * log pi(a_t | h_t), A the normalised
    rewards-to-go minus the per-step mean over the K episodes (as the updates use them)."""
    advantages = reinforce_advantages(episodes, 1.0, True)
    batch = loss_batch(episodes, policy.encoder, advantages)
    with torch.no_grad():
        chosen, _ = action_log_probs(policy.net, policy.parameters(), batch.inputs,
                                     batch.actions, batch.action_masks)
    return float((chosen * batch.advantages * batch.mask).sum() / batch.mask.sum())


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_adapt_climbs_the_objective_of_its_own_episodes(name):
    principal = make(name, **CONFIGS[name])
    principal.meta_train(game, TRAIN, TRAIN_STEPS, seed=0, progress=False)
    rng = np.random.default_rng(99)
    gains = []
    for agent in (TRAIN.sample(rng) for _ in range(4)):
        adapted, twin = copy.deepcopy(principal), copy.deepcopy(principal)
        env, twin_env = FixedTask(game(), agent, "agent"), FixedTask(game(), agent, "agent")
        env.reset(seed=5)
        twin_env.reset(seed=5)
        episodes = twin.policy.play(twin_env, K, twin.rng)
        adapted.adapt(env, K)
        assert not np.array_equal(episodes.rewards, np.zeros_like(episodes.rewards))
        before = weighted_log_likelihood(principal.policy, episodes)
        after = weighted_log_likelihood(adapted.policy, episodes)
        gains.append(after - before)
    assert min(gains) > 0.0, gains
