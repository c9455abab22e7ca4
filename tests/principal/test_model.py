"""``"model"``: the world model it fits predicts held-out agents (bandit and repeated
Stackelberg); save/load; adapt fine-tunes the read-out; a game with nothing to model is
refused."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from mermaide.envs.games import game_population
from mermaide.principal import evaluate, make
from mermaide.principal.model import ModelConfig
from mermaide.principal.world_model import (
    action_log_likelihood,
    collect_trajectories,
    marginal_log_likelihood,
    random_behaviour,
)

from .conftest import (
    actions_on,
    bandit,
    check_world_model_on_repeated_stackelberg,
    random_observations,
    repeated_stackelberg,
    steering_population,
)

SMALL = dict(hidden_size=16, episodes_per_batch=16, model_episodes=256,
             world_model=dict(hidden_size=32, epochs=15))


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    principal = make("model", **SMALL)
    principal.meta_train(bandit(), steering_population(), 12_000, seed=0)
    return principal


def test_world_model_beats_marginal_frequencies_on_held_out_agents(trained):
    population = steering_population()
    behaviour = random_behaviour(3, 0.5)
    # The fit's own data came from seed 0; these are other agents (seeds 1 and 2).
    train = collect_trajectories(bandit(), population, 256, seed=1, behaviour=behaviour)
    held_out = collect_trajectories(bandit(), population, 128, seed=2, behaviour=behaviour)
    model_ll = action_log_likelihood(trained.world_model, held_out)
    marginal_ll = marginal_log_likelihood(train, held_out)
    assert model_ll > marginal_ll + 0.1, (model_ll, marginal_ll)


def test_model_steers_held_out_agents(trained):
    tasks = steering_population().sample_many(6, np.random.default_rng(99))
    learned = evaluate(trained, bandit()(), episodes=2, seed=1, tasks=tasks).mean_return
    nothing = evaluate(make("none"), bandit()(), episodes=2, seed=1, tasks=tasks).mean_return
    assert learned > nothing + 5.0


def test_save_load_gives_identical_actions(trained, tmp_path):
    path = str(tmp_path / "model.pt")
    trained.save(path)
    loaded = make("model")
    loaded.load(path)
    assert loaded.config == trained.config
    observations = random_observations(20)
    assert actions_on(loaded, observations) == actions_on(trained, observations)


def test_zero_shot_leaves_it_unchanged_and_k_shot_fine_tunes(trained):
    import copy

    twin = copy.deepcopy(trained)
    before = {k: v.clone() for k, v in twin.world_model.state_dict().items()}
    twin.adapt(bandit()(), 0)
    assert all(torch.equal(v, before[k]) for k, v in twin.world_model.state_dict().items())
    env = bandit()()
    env.reset(seed=0)
    twin.adapt(env, 1)
    changed = {k for k, v in twin.world_model.state_dict().items()
               if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("head.") for k in changed), changed


def test_config_defaults_and_validation():
    config = ModelConfig()
    assert config.world_model.hidden_size > 0 and config.model_episodes > 0
    with pytest.raises(ValueError, match="model_intervene_prob"):
        ModelConfig(model_intervene_prob=2.0)
    with pytest.raises(ValueError, match="steps"):
        make("model", model_episodes=64).meta_train(bandit(), None, 100, seed=0)


def test_meta_trains_and_evaluates_on_the_repeated_stackelberg_game():
    principal = make("model", hidden_size=16, episodes_per_batch=16, model_episodes=256,
                     world_model=dict(hidden_size=32, lr=1e-2, epochs=10))
    check_world_model_on_repeated_stackelberg(principal, 8_000)
    action, _ = principal.act(repeated_stackelberg().reset(seed=0)[0], None)
    assert repeated_stackelberg().action_space.contains(action)


def test_refuses_a_game_with_nothing_to_model():
    with pytest.raises(ValueError, match="'model' has nothing to model in "
                                         "Mermaide/Stackelberg-v0: its episodes last one step"):
        make("model").meta_train(lambda: gym.make("Mermaide/Stackelberg-v0"),
                                 game_population("train"), 1_000, seed=0)
