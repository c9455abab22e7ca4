"""The Principal protocol, the registry and ``evaluate``."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from mermaide.agents import population
from mermaide.principal import EpisodeStats, check_principal, evaluate, make, principal_names
from mermaide.principal.evaluation import run_episode
from mermaide.principal.heuristics import FrontLoaded

from .conftest import HORIZON, UCB_AGENT, bandit


class Incomplete:
    """Has everything but ``adapt``."""

    def meta_train(self, env_fn, population, steps, seed):
        pass

    def act(self, obs, state):
        return 0, state

    def save(self, path):
        pass

    def load(self, path):
        pass


class ThirdParty(Incomplete):
    """A complete third-party principal: always puts the bonus on arm ``arm``."""

    def __init__(self, arm=1):
        self.arm = arm

    def adapt(self, env, episodes):
        pass

    def act(self, obs, state):
        return self.arm + 1, state


def test_registry_knows_the_baselines():
    names = principal_names()
    for name in ("none", "always", "periodic", "front-loaded", "random", "reinforce", "ppo"):
        assert name in names
    assert isinstance(make("front-loaded", steps=3), FrontLoaded)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown principal 'nope'.*front-loaded.*reinforce"):
        make("nope")


def test_third_party_by_import_path():
    principal = make(f"{__name__}:ThirdParty", arm=2)
    assert principal.arm == 2
    stats = evaluate(principal, bandit()(), episodes=2, seed=0)
    assert stats.mean_interventions == HORIZON


def test_protocol_violation_names_the_missing_method():
    with pytest.raises(TypeError, match=r"missing method.*adapt"):
        make(f"{__name__}:Incomplete")
    with pytest.raises(TypeError, match="adapt"):
        check_principal(Incomplete())
    with pytest.raises(ValueError, match="has no attribute 'Missing'"):
        make(f"{__name__}:Missing")


def test_sb3_prefix_rejects_unknown_algorithms():
    with pytest.raises(ValueError, match="NotAnAlgorithm"):
        make("sb3:NotAnAlgorithm")


def test_evaluate_reports_every_metric_per_episode():
    stats = evaluate(make("front-loaded", steps=4), bandit()(), episodes=3, seed=0)
    assert isinstance(stats, EpisodeStats)
    assert stats.returns.shape == stats.target_rates.shape == stats.costs.shape == (3,)
    np.testing.assert_allclose(stats.interventions, 4)
    np.testing.assert_allclose(stats.costs, 4 * 0.05)
    assert 0.0 <= stats.mean_target_rate <= 1.0


def test_evaluate_is_seeded():
    env_fn = bandit(agent="ucb", agent_kwargs={"beta": 0.3})
    first = evaluate(make("random", probability=0.3), env_fn(), episodes=4, seed=7)
    again = evaluate(make("random", probability=0.3), env_fn(), episodes=4, seed=7)
    other = evaluate(make("random", probability=0.3), env_fn(), episodes=4, seed=8)
    np.testing.assert_array_equal(first.returns, again.returns)
    assert not np.array_equal(first.returns, other.returns)


def test_evaluate_per_task_with_shots():
    env_fn = bandit(agent=population("train", n_arms=3))
    stats = evaluate(make("periodic", period=5), env_fn(), episodes=2, seed=0, shots=1, tasks=3)
    assert stats.episodes == 6
    np.testing.assert_array_equal(stats.tasks, [0, 0, 1, 1, 2, 2])
    assert stats.per_task_returns().shape == (3,)
    fixed = evaluate(make("none"), env_fn(), episodes=2, seed=0, tasks=[UCB_AGENT])
    assert fixed.episodes == 2


class PlaysWithoutLearning(ThirdParty):
    """Plays its adaptation episodes (drawing from the env as learned principals do) and
    learns nothing from them."""

    def adapt(self, env, episodes):
        for _ in range(episodes):
            run_episode(self, env)


@pytest.mark.parametrize("principal", [PlaysWithoutLearning(arm=0), make("none")])
def test_shots_do_not_change_the_scored_episodes_of_a_principal_that_does_not_adapt(principal):
    # Paired K-shot scores: the adaptation episodes draw from their own stream, so a
    # principal whose adapt changes nothing scores the same episodes, draw for draw, at every K.
    env_fn = bandit(agent=population("train", n_arms=3))
    scores = [evaluate(principal, env_fn(), episodes=3, seed=5, shots=k, tasks=4).returns
              for k in (0, 1, 4)]
    np.testing.assert_array_equal(scores[0], scores[1])
    np.testing.assert_array_equal(scores[0], scores[2])
    other_seed = evaluate(principal, env_fn(), episodes=3, seed=6, shots=0, tasks=4).returns
    assert not np.array_equal(scores[0], other_seed)


class OneStepTasks(gym.Env):
    """A one-step game whose task is a number: the reward is the task plus the action."""

    observation_space = spaces.Box(0.0, 1.0, shape=(1,))
    action_space = spaces.Discrete(100)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.task = (options or {}).get("agent", float(self.np_random.integers(10)))
        return np.zeros(1, dtype=np.float32), {"agent": self.task}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), self.task + action, True, False, {}


class Counting(ThirdParty):
    """A stateful principal: its action is the number of adaptation episodes it has played
    plus the number of episodes it has begun since."""

    def __init__(self):
        self.adapted, self.begun = 0, 0

    def adapt(self, env, episodes):
        for _ in range(episodes):
            run_episode(self, env)
        self.adapted += episodes
        self.begun = 0

    def begin_episode(self, info):
        self.begun += 1

    def act(self, obs, state):
        return self.adapted + self.begun - 1, state


def test_evaluate_adapts_a_fresh_copy_per_task_and_reports_per_task_means():
    principal = Counting()
    tasks = [1.0, 5.0, 10.0]
    stats = evaluate(principal, OneStepTasks(), episodes=3, seed=0, shots=2, tasks=tasks)
    # The principal itself is never adapted or played.
    assert (principal.adapted, principal.begun) == (0, 0)
    # Each task's copy starts from the principal as it was (0 adaptation episodes before it)
    # and plays 2 adaptation episodes: a copy shared across tasks would carry 2, 4, ... on.
    np.testing.assert_array_equal(stats.tasks, [0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(stats.returns, [t + 2 + k for t in tasks for k in range(3)])
    # The per-task score is the mean of the task's scored episodes (task + 2 + 1).
    np.testing.assert_array_equal(stats.per_task_returns(), [4.0, 8.0, 13.0])


@pytest.mark.parametrize("bad", [dict(episodes=0), dict(shots=-1), dict(shots=1),
                                 dict(tasks=0), dict(tasks=[]), dict(seed=1.5),
                                 dict(seed="3"), dict(seed=True), dict(seed=-1),
                                 dict(episodes=2.0)])
def test_evaluate_rejects_bad_arguments(bad):
    args = dict(episodes=1, seed=0) | bad
    with pytest.raises(ValueError, match=next(iter(bad))):  # the message names the argument
        evaluate(make("none"), bandit()(), **args)
