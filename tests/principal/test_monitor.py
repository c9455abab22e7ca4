"""``meta_train``'s bar and learning-curve log (``mermaide.principal.monitor``): every learned
principal writes SB3's ``progress.csv`` and TensorBoard events, is silent with
``progress=False``, and trains to the same numbers with or without a bar or a logger."""

import csv
import io

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.logger import configure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tqdm import tqdm

import mermaide  # noqa: F401  (registers the games)
from mermaide.agents import population
from mermaide.principal import make
from mermaide.principal.base import monitor_keywords
from tests.bench.third_party import FrontLoader

CONFIGS = {
    "reinforce": {"hidden_size": 8, "episodes_per_batch": 4},
    "maml": {"hidden_size": 8, "meta_batch": 2},
    "model": {"hidden_size": 8, "episodes_per_batch": 4, "model_episodes": 8},
    "mermaide": {"hidden_size": 8, "meta_batch": 2, "model_episodes": 8},
}
STEPS = 400
TRAIN = population("train", n_arms=3)


def env_fn():
    return gym.make("Mermaide/Bandit-v0", n_arms=3, horizon=10)


def trained(name, seed=0, principal=None, **monitoring):
    principal = make(name, **CONFIGS[name]) if principal is None else principal
    principal.meta_train(env_fn, TRAIN, STEPS, seed, **monitoring)
    return principal


def curve(folder):
    with open(folder / "progress.csv") as handle:
        return list(csv.DictReader(handle))


def learnt(principal):
    """Everything meta_train learns (policy, world model, MAML's inner parameters), by name."""
    tensors = dict(principal.policy.net.state_dict())
    for part in ("world_model", "learner"):
        module = getattr(principal, part, None)
        module = getattr(module, "inner", module)
        if isinstance(module, torch.nn.Module):
            tensors.update({f"{part}.{k}": v for k, v in module.state_dict().items()})
    return tensors


@pytest.mark.parametrize("name", CONFIGS)
def test_the_learning_curve_goes_to_sb3_csv_and_tensorboard(name, tmp_path):
    logger = configure(str(tmp_path), ["csv", "tensorboard"])
    trained(name, progress=False, logger=logger)
    logger.close()
    rows = curve(tmp_path)
    steps = [int(row["time/total_timesteps"]) for row in rows]
    assert steps == sorted(set(steps)) and steps[-1] >= STEPS
    scored = [row for row in rows if row["rollout/ep_rew_mean"]]
    assert len(scored) >= 3
    assert all(np.isfinite(float(row["rollout/ep_rew_mean"])) and row["train/loss"]
               for row in scored)
    if name in ("model", "mermaide"):  # the world model's fit comes first, with its loss
        assert rows[0]["world_model/loss"] and not rows[0]["rollout/ep_rew_mean"]
    (events,) = tmp_path.glob("events.out.tfevents.*")
    scalars = EventAccumulator(str(events)).Reload().Tags()["scalars"]
    assert {"rollout/ep_rew_mean", "train/loss"} <= set(scalars)
    assert "time/total_timesteps" not in scalars  # it is the step axis, as in SB3


@pytest.mark.parametrize("name", CONFIGS)
def test_progress_false_is_silent_and_the_default_shows_a_bar(name, capfd):
    trained(name, progress=False)
    assert capfd.readouterr() == ("", "")
    trained(name)
    shown = capfd.readouterr().err
    assert f"{name}: 100%" in shown and "ep_rew_mean=" in shown


@pytest.mark.parametrize("name", CONFIGS)
def test_monitoring_does_not_change_the_numbers(name, tmp_path):
    plain = trained(name, progress=False)
    watched = trained(name, progress=tqdm(file=io.StringIO()),
                      logger=configure(str(tmp_path), ["csv", "tensorboard"]))
    a, b = learnt(plain), learnt(watched)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert plain.rng.bit_generator.state == watched.rng.bit_generator.state


def test_a_callers_bar_and_logger_go_on_across_meta_train_calls(tmp_path):
    bar = tqdm(total=2 * STEPS, file=io.StringIO())
    logger = configure(str(tmp_path), ["csv"])
    principal = trained("reinforce", progress=bar, logger=logger)
    trained("reinforce", seed=1, principal=principal, progress=bar, logger=logger)
    assert bar.n >= 2 * STEPS and "ep_rew_mean" in bar.postfix
    bar.close()
    steps = [int(row["time/total_timesteps"]) for row in curve(tmp_path)]
    assert steps == sorted(set(steps)) and steps[-1] >= 2 * STEPS


def test_bad_monitoring_arguments_are_refused():
    with pytest.raises(ValueError, match="progress must be a bool or a tqdm bar, got 'yes'"):
        trained("reinforce", progress="yes")
    with pytest.raises(ValueError, match="logger must be a stable_baselines3 Logger or None"):
        trained("maml", logger="runs/")


def test_monitor_keywords_are_read_from_the_signature():
    class Forwarding(FrontLoader):
        def meta_train(self, env_fn, population, steps, seed, **options):
            pass

    class ProgressOnly(FrontLoader):
        def meta_train(self, env_fn, population, steps, seed, *, progress=True):
            pass

    assert all(monitor_keywords(make(name)) == {"progress", "logger"} for name in CONFIGS)
    assert monitor_keywords(FrontLoader()) == frozenset()
    assert monitor_keywords(Forwarding()) == {"progress", "logger"}
    assert monitor_keywords(ProgressOnly()) == {"progress"}
