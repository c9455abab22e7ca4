"""Principals a third party might write, outside mermaide's registry (used by the harness
tests through "tests.bench.third_party:Class")."""

import numpy as np


class FrontLoader:
    """Pays the bonus on its target arm for the first `steps` steps of every episode."""

    def __init__(self, steps: int = 10):
        self.steps = steps

    def meta_train(self, env_fn, population, steps, seed):
        pass

    def adapt(self, env, episodes):
        pass

    def act(self, obs, state):
        t = 0 if state is None else state
        k = (len(obs) - 3) // 3
        target = int(np.argmax(obs[2 * k + 3 : 3 * k + 3]))
        return (target + 1 if t < self.steps else 0), t + 1

    def save(self, path):
        pass

    def load(self, path):
        pass


class Exploding(FrontLoader):
    """Crashes in training: the harness must report it and finish the other runs."""

    def meta_train(self, env_fn, population, steps, seed):
        raise RuntimeError("boom: this principal always fails")
