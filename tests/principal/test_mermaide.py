"""``"mermaide"``: world model + meta-learned policy steers held-out agents after one shot."""

import numpy as np
import pytest
import torch

from mermaide.principal import evaluate, make
from mermaide.principal.mermaide import MermaideConfig

from .conftest import actions_on, bandit, obs_dim, random_observations, steering_population

SMALL = dict(hidden_size=16, meta_batch=4, query_episodes=2, adapt_lr=0.05, model_episodes=256,
             world_model=dict(hidden_size=32, epochs=10))


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    principal = make("mermaide", **SMALL)
    principal.meta_train(bandit(), steering_population(), 16_000, seed=0)
    return principal


def test_one_shot_beats_none_and_random_on_held_out_agents(trained):
    tasks = steering_population().sample_many(6, np.random.default_rng(99))
    env = bandit()()
    scores = {name: evaluate(p, env, episodes=2, seed=1, shots=1, tasks=tasks).mean_return
              for name, p in (("mermaide", trained), ("none", make("none")),
                              ("random", make("random")))}
    assert scores["mermaide"] > scores["none"] + 5.0, scores
    assert scores["mermaide"] > scores["random"] + 5.0, scores


def test_save_load_gives_identical_actions(trained, tmp_path):
    path = str(tmp_path / "mermaide.pt")
    trained.save(path)
    loaded = make("mermaide")
    loaded.load(path)
    assert loaded.config == trained.config
    observations = random_observations(20)
    assert actions_on(loaded, observations) == actions_on(trained, observations)


def test_rewards_visible_and_partial_information_both_run():
    for observes in ("actions", "actions+rewards"):
        principal = make("mermaide", hidden_size=8, meta_batch=2, query_episodes=1,
                         model_episodes=32, world_model=dict(hidden_size=8, epochs=1))
        principal.meta_train(bandit(principal_observes=observes), steering_population(), 1_500,
                             seed=0)
        assert principal.world_model.obs_dim == obs_dim(principal_observes=observes)
        stats = evaluate(principal, bandit(principal_observes=observes)(), episodes=1, seed=0,
                         shots=1, tasks=1)
        assert stats.episodes == 1


def test_config_merges_maml_and_world_model_fields():
    config = MermaideConfig(shots=2, model_episodes=64)
    assert config.shots == 2 and config.world_model.hidden_size > 0
