"""The learning principals play the one-round Stackelberg game (flat Box actions, tasks named
"game"): what they get never exceeds the equilibrium value, and adapting changes them."""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

import mermaide  # noqa: F401  (registers the games)
from mermaide.envs.games import game_population
from mermaide.envs.stackelberg import solve
from mermaide.principal import evaluate, make


def stackelberg():
    return gym.make("Mermaide/Stackelberg-v0", action_type="logits")


@pytest.mark.parametrize("name", ["reinforce", "maml"])
def test_principal_plays_the_matrix_game_below_the_equilibrium_value(name):
    torch.set_num_threads(1)
    extra = dict(meta_batch=4, query_episodes=2) if name == "maml" else {}
    principal = make(name, policy="mlp", hidden_size=16, episodes_per_batch=8, adapt_lr=0.5,
                     **extra)
    population = game_population("train")
    principal.meta_train(stackelberg, population, 300, seed=0)
    games = population.sample_many(4, np.random.default_rng(5))
    stats = evaluate(principal, stackelberg(), episodes=2, seed=0, shots=1, tasks=games)
    values = np.array([solve(g.A, g.B).value for g in games]).repeat(2)
    # No bonuses (budget 0): the strong Stackelberg value is the most any commitment earns.
    assert np.all(stats.returns <= values + 1e-9)
    assert np.all(stats.interventions == 0)
    twin = copy.deepcopy(principal)
    env = stackelberg()
    env.reset(seed=0)
    twin.adapt(env, 1)
    assert any(not torch.equal(a, b) for a, b in zip(twin.policy.net.state_dict().values(),
                                                     principal.policy.net.state_dict().values(),
                                                     strict=True))
    action, _ = principal.act(env.reset(seed=1)[0], None)
    assert env.action_space.contains(action)


def test_ppo_adapts_on_one_step_episodes():
    principal = make("ppo", n_steps=32, batch_size=16)
    population = game_population("train")
    principal.meta_train(stackelberg, population, 64, seed=0)
    games = population.sample_many(2, np.random.default_rng(5))
    stats = evaluate(principal, stackelberg(), episodes=1, seed=0, shots=1, tasks=games)
    assert np.all(stats.returns <= np.array([solve(g.A, g.B).value for g in games]) + 1e-9)


@pytest.mark.parametrize("name", ["model", "mermaide"])
def test_world_model_principals_refuse_the_one_round_game(name):
    """One round: the principal acts once, before any agent action it could model."""
    with pytest.raises(ValueError, match="nothing to model in Mermaide/Stackelberg-v0"):
        make(name).meta_train(stackelberg, game_population("train"), 1000, seed=0)
