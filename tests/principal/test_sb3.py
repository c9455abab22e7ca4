"""Stable-Baselines3 algorithms as principals."""

import copy

import numpy as np
import pytest

from mermaide.principal import evaluate, make

from .conftest import UCB_AGENT, bandit, obs_dim, random_observations


@pytest.fixture(scope="module")
def ppo():
    principal = make("ppo", n_steps=256, batch_size=64, learning_rate=3e-3)
    principal.meta_train(bandit(), None, 5_000, seed=0)
    return principal


def test_ppo_beats_none_and_random(ppo):
    env = bandit()()
    learned = evaluate(ppo, env, episodes=10, seed=1).mean_return
    nothing = evaluate(make("none"), env, episodes=10, seed=1).mean_return
    random = evaluate(make("random"), env, episodes=10, seed=1).mean_return
    assert learned > nothing + 10.0
    assert learned > random + 10.0


def test_save_load_gives_identical_actions(ppo, tmp_path):
    path = str(tmp_path / "ppo.zip")
    ppo.save(path)
    loaded = make("ppo")
    loaded.load(path)
    observations = random_observations(25)
    for obs in observations:
        assert loaded.act(obs, None)[0] == ppo.act(obs, None)[0]


def test_adapt_learns_for_k_episodes_on_a_copy(ppo):
    before = ppo.model.num_timesteps
    stats = evaluate(ppo, bandit()(), episodes=1, seed=0, shots=2, tasks=[UCB_AGENT])
    assert stats.episodes == 1
    assert ppo.model.num_timesteps == before  # evaluate adapts a copy
    twin = copy.deepcopy(ppo)
    env = bandit()()
    env.reset(seed=0)
    twin.adapt(env, 2)
    assert twin.model.num_timesteps == before + 2 * 30
    twin.adapt(env, 0)
    assert twin.model.num_timesteps == before + 2 * 30


def test_other_algorithms_by_name():
    principal = make("sb3:A2C")
    principal.meta_train(bandit(), None, 100, seed=0)
    action, state = principal.act(np.zeros(obs_dim(), dtype=np.float32), None)
    assert 0 <= action <= 3 and state is None


def test_recurrent_ppo_keeps_its_state():
    principal = make("sb3:RecurrentPPO", n_steps=32, batch_size=32,
                     policy_kwargs=dict(lstm_hidden_size=8))
    principal.meta_train(bandit(), None, 64, seed=0)
    stats = evaluate(principal, bandit()(), episodes=1, seed=0)
    assert stats.episodes == 1
    _, state = principal.act(np.zeros(obs_dim(), dtype=np.float32), None)
    assert state is not None


def test_meta_train_again_continues_learning():
    principal = make("sb3:A2C")
    principal.meta_train(bandit(), None, 50, seed=0)
    model = principal.model
    principal.meta_train(bandit(), None, 50, seed=1)
    assert principal.model is model and model.num_timesteps >= 100
