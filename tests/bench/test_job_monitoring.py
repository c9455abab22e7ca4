"""The harness and ``meta_train``'s optional keywords: a learned principal's learning curve goes
to its run's folder, worker runs are silent, ``run_job(progress=True)`` passes the run's own bar
to every chunk, and a principal written to the bare protocol still trains."""

import csv

import torch
from stable_baselines3.common.logger import Logger
from tqdm import tqdm

from mermaide.bench import jobs_of, run_suite, suite_from_dict
from mermaide.bench.job import run_job
from mermaide.bench.store import log_path, run_path
from tests.bench.test_harness import TINY
from tests.bench.third_party import FrontLoader

THIRD_PARTY = "tests.bench.third_party:FrontLoader"
RECORDER = "tests.bench.test_job_monitoring:KeywordRecorder"
# 2 chunks of 120 steps: 2 batches of 4 episodes of 15 steps each.
SMALL = {**TINY, "seeds": [0], "evaluation": {**TINY["evaluation"], "train_steps": 240}}


class KeywordRecorder(FrontLoader):
    """Keeps the monitoring keywords of every meta_train call (run in this process)."""

    calls: list = []

    def meta_train(self, env_fn, population, steps, seed, *, progress=True, logger=None):
        KeywordRecorder.calls.append((progress, logger))


def test_the_learning_curve_is_written_to_the_runs_folder(tmp_path, capfd):
    torch.set_num_threads(1)
    suite = suite_from_dict({**SMALL, "principals": ["reinforce", THIRD_PARTY],
                             "principal_kwargs": {"reinforce": {
                                 "hidden_size": 8, "episodes_per_batch": 4, "greedy": False}}})
    assert run_suite(suite, tmp_path, workers=1, progress=False)["done"] == 2
    assert capfd.readouterr().err == ""  # no bar inside the harness's runs
    learned, third_party = jobs_of(suite)
    assert run_path(tmp_path, third_party).exists()  # trained without the keywords
    assert not log_path(tmp_path, third_party).exists()
    with open(log_path(tmp_path, learned) / "progress.csv") as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(row["time/total_timesteps"]) for row in rows]
    assert steps == [60, 120, 180, 240]  # one curve over both chunks
    assert all(row["rollout/ep_rew_mean"] for row in rows)


def test_run_job_passes_its_own_bar_and_a_logger(tmp_path):
    suite = suite_from_dict({**SMALL, "principals": [RECORDER]})
    (job,) = jobs_of(suite)
    KeywordRecorder.calls = []
    run_job(job, tmp_path / "logs", progress=True)
    (bar, logger), second = KeywordRecorder.calls
    assert isinstance(bar, tqdm) and isinstance(logger, Logger) and second == (bar, logger)
    assert (tmp_path / "logs" / "progress.csv").exists()
    KeywordRecorder.calls = []
    run_job(job)
    assert KeywordRecorder.calls == [(False, None)] * 2
