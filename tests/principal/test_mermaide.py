"""``"mermaide"``: world model + meta-learned policy steers held-out agents after one shot;
the world model's read-out is fine-tuned per task the same way in meta-training's inner loop
and at K-shot adaptation; it plays the repeated Stackelberg game and refuses a game with
nothing to model."""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from mermaide.envs.games import game_population
from mermaide.principal import evaluate, make
from mermaide.principal.maml import AdaptiveEncoder, maml_adapt, meta_loss_and_episodes
from mermaide.principal.mermaide import MermaideConfig
from mermaide.principal.toolkit import VectorGame
from mermaide.principal.world_model import (
    fine_tuned_heads,
)

from .conftest import (
    actions_on,
    bandit,
    check_world_model_on_repeated_stackelberg,
    obs_dim,
    random_observations,
    steering_population,
)

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


def test_meta_training_and_adaptation_fine_tune_the_world_model_alike(trained):
    """Meta-training's inner loop fine-tunes each task's read-out on its support episodes and
    plays the query episodes with it; ``adapt`` on the same episodes gives the same read-out
    (and moves nothing else of the world model)."""
    principal = copy.deepcopy(trained)
    learner, c = principal.learner, principal.config
    encoder = learner.policy.encoder
    assert isinstance(encoder, AdaptiveEncoder)
    calls = []

    def spy(episodes, tasks):
        adapted = type(encoder).adapted(encoder, episodes, tasks)
        calls.append((episodes, tasks, adapted))
        return adapted

    encoder.adapted = spy
    tasks = steering_population().sample_many(c.meta_batch, np.random.default_rng(5))
    support_game = VectorGame.make(bandit(), c.meta_batch * c.shots)
    query_game = VectorGame.make(bandit(), c.meta_batch * c.query_episodes)
    meta_loss_and_episodes(learner, support_game, query_game, tasks, np.random.default_rng(0))
    support_game.close()
    query_game.close()
    (support, count, adapted), = calls
    assert count == c.meta_batch and len(support.obs) == c.meta_batch * c.shots
    model = principal.world_model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for i in range(c.meta_batch):
        one = fine_tuned_heads(model, support.rows(slice(i * c.shots, (i + 1) * c.shots)), 1)
        twin = copy.deepcopy(principal)
        del twin.learner.policy.encoder.adapted  # the twin adapts as the class says
        maml_adapt(twin.learner, support.rows(slice(i * c.shots, (i + 1) * c.shots)))
        for name, value in twin.world_model.head.named_parameters():
            torch.testing.assert_close(adapted.heads[name][i], value)
            torch.testing.assert_close(one[name][0], value)
        for name, value in twin.world_model.state_dict().items():
            assert torch.equal(value, before[name]) == (not name.startswith("head")), name


def test_without_fine_tune_model_nothing_of_the_world_model_adapts():
    principal = make("mermaide", hidden_size=8, meta_batch=2, query_episodes=1,
                     model_episodes=32, world_model=dict(hidden_size=8, epochs=1),
                     fine_tune_model=False)
    principal.meta_train(bandit(), steering_population(), 1_500, seed=0)
    before = copy.deepcopy(principal.world_model.state_dict())
    env = bandit()()
    env.reset(seed=0)
    principal.adapt(env, 1)
    assert all(torch.equal(v, before[k]) for k, v in principal.world_model.state_dict().items())


def test_meta_trains_and_evaluates_on_the_repeated_stackelberg_game():
    principal = make("mermaide", hidden_size=16, meta_batch=4, query_episodes=2,
                     adapt_lr=0.05, model_episodes=256,
                     world_model=dict(hidden_size=32, lr=1e-2, epochs=10))
    check_world_model_on_repeated_stackelberg(principal, 6_000)


def test_refuses_a_game_with_nothing_to_model():
    with pytest.raises(ValueError, match="'mermaide' has nothing to model in "
                                         "Mermaide/Stackelberg-v0: its episodes last one step"):
        make("mermaide").meta_train(lambda: gym.make("Mermaide/Stackelberg-v0"),
                                    game_population("train"), 1_000, seed=0)
