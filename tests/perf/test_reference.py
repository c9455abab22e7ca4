"""The reference path of ``make perf`` (``perf/reference.py``) plays the same game as the
batched path, and the training functions there are the principals' own ``meta_train``."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import mermaide  # noqa: F401  (registers the environments)
from mermaide.agents import population
from mermaide.principal import make
from mermaide.principal.toolkit import VectorGame

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "perf"))
from reference import (
    ROLLOUT_INFO,
    LoopGame,
    loop_game,
    maml_training,
    mermaide_training,
    reinforce_training,
)

ARMS, HORIZON = 5, 25
KWARGS = {"n_arms": ARMS, "horizon": HORIZON, "intervention_budget": 5,
          "intervention_cost": 0.05}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def env_fn() -> gym.Env:
    return gym.make("Mermaide/Bandit-v0", **KWARGS)


def spec():
    return population("train", n_arms=ARMS).sample(np.random.default_rng(1))


def play_both(n: int, seed: int = 7) -> list[tuple[tuple, tuple]]:
    """Both games on one fixed agent and the same principal actions: per time step the
    (obs, reward, terminated, truncated, info) of each, the resets first."""
    vector = VectorGame.make(env_fn, n, "agent")
    loop = LoopGame.make(env_fn, n, "agent", info_keys=None)  # every info entry stacked
    steps = [(vector.reset([spec()] * n, seed), loop.reset([spec()] * n, seed))]
    for actions in np.random.default_rng(0).integers(ARMS + 1, size=(HORIZON, n)):
        steps.append((vector.env.step(actions), loop.env.step(actions)))
    vector.close()
    loop.close()
    return steps


def test_one_sub_game_plays_exactly_the_vector_game():
    # One sub-game, one seed: the single env and the native vector env draw the same stream.
    steps = play_both(1)
    for (v_obs, _), (l_obs, _) in steps[:1]:
        np.testing.assert_array_equal(v_obs, l_obs)
    for v, lp in steps[1:]:
        np.testing.assert_array_equal(v[0], lp[0])
        np.testing.assert_allclose(np.asarray(v[1], float), lp[1], atol=1e-6)
        np.testing.assert_array_equal(v[2], lp[2])
        np.testing.assert_array_equal(v[4]["observed_action"], lp[4]["observed_action"])
        np.testing.assert_array_equal(v[4]["action_mask"], lp[4]["action_mask"])
    assert steps[-1][0][2].all() and steps[-1][1][2].all()  # both end at the horizon


def test_several_sub_games_give_the_same_shapes_and_keys():
    steps = play_both(3)
    (v_obs, v_info), (l_obs, l_info) = steps[0]
    assert v_obs.shape == l_obs.shape == (3, v_obs.shape[1]) and l_obs.dtype == np.float32
    assert set(v_info) <= set(l_info)
    for v, lp in steps[1:]:
        for v_part, l_part in zip(v[:4], lp[:4], strict=True):
            assert np.shape(v_part) == np.shape(l_part)
        assert set(v[4]) == set(lp[4])
        for key in v[4]:
            assert np.shape(v[4][key]) == np.shape(lp[4][key]), key


def test_loop_game_stacks_what_the_rollout_reads_by_default():
    game = LoopGame.make(env_fn, 2)
    game.reset(seed=0)
    info = game.env.step(np.zeros(2, dtype=np.int64))[4]
    assert set(info) == set(ROLLOUT_INFO)
    assert info["observed_action"].shape == (2,) and info["action_mask"].shape == (2, ARMS + 1)
    game.close()


def test_loop_game_refuses_an_agent_batch_and_a_wrong_count():
    game = LoopGame.make(env_fn, 2)
    with pytest.raises(ValueError, match="AgentBatch"):
        game.reset(population("train", n_arms=ARMS).sample_batch(2, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="2 tasks"):
        game.reset([spec()])
    drawn = game.draw(population("train", n_arms=ARMS), 2, np.random.default_rng(0))
    assert isinstance(drawn, list) and len(drawn) == 2
    game.close()


def test_train_reinforce_on_a_loop_game_runs_and_counts_its_steps():
    training = reinforce_training(env_fn, population("train", n_arms=ARMS), 0,
                                  {"episodes_per_batch": 4}, loop_game)
    before = {k: v.clone() for k, v in training.policy.net.state_dict().items()}
    played = training.run(200)
    training.close()
    assert played == 2 * 4 * HORIZON  # whole batches of 4 episodes until >= 200 steps
    assert any(not torch.equal(v, before[k])
               for k, v in training.policy.net.state_dict().items())


CASES = {
    "reinforce": (reinforce_training, {"episodes_per_batch": 2}),
    "maml": (maml_training, {"meta_batch": 2, "query_episodes": 2}),
    "mermaide": (mermaide_training, {"meta_batch": 2, "query_episodes": 2,
                                     "model_episodes": 4,
                                     "world_model": {"hidden_size": 8, "epochs": 1}}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_batched_training_is_the_principals_own_meta_train(name):
    # With VectorGame.make for the game, the set-up of reference.py is meta_train's: the same
    # seed gives the same policy parameters.
    build, config = CASES[name]
    steps, pop = 4 * HORIZON * 3, population("train", n_arms=ARMS)
    principal = make(name, **config)
    principal.meta_train(env_fn, pop, steps, seed=3)
    training = build(env_fn, pop, 3, config, VectorGame.make)
    used = 4 * HORIZON if name == "mermaide" else 0  # the world model's data
    training.run(steps - used)
    training.close()
    for key, value in principal.policy.net.state_dict().items():
        torch.testing.assert_close(training.policy.net.state_dict()[key], value)
