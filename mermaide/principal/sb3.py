"""Any stable-baselines3 algorithm as a principal: ``"ppo"``, ``"sb3:A2C"``, ``"sb3:DQN"``,
``"sb3:RecurrentPPO"`` (the sb3-contrib algorithms when sb3-contrib is installed).

``meta_train`` builds the algorithm on one env (drawing a fresh agent from the population at
every reset) and calls ``learn(steps)``. ``adapt(env, K)`` continues learning on the new agent
for exactly K episodes: an on-policy algorithm is rebuilt with a rollout of K episodes (so it
takes one update on them, not a rollout of ``n_steps`` that would run past K episodes) and
the trained parameters are copied in; an off-policy one just learns for K episodes' steps.
``act`` is ``predict(..., deterministic=True)``; a recurrent policy's LSTM state is the state.
"""

from __future__ import annotations

import inspect
import io
import json
import zipfile
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from mermaide.agents.sb3_policy import algorithm_class
from mermaide.checks import check_int
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.evaluation import PopulationTasks, task_key
from mermaide.principal.toolkit import check_steps_seed


class _EpisodeLength(gym.Wrapper):
    """Remembers the length of the last finished episode (adapt needs K episodes' steps)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.last_length = 0
        self._steps = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._steps = 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        result = self.env.step(action)
        self._steps += 1
        if result[2] or result[3]:
            self.last_length = self._steps
        return result


class SB3Principal:
    """``SB3Principal("PPO", policy="MlpPolicy", **algorithm_kwargs)``; ``seed`` and
    ``verbose`` are set by the principal."""

    def __init__(self, algorithm: str = "PPO", policy: str | None = None,
                 **algorithm_kwargs: Any):
        self.algorithm = algorithm
        self.cls = algorithm_class(algorithm)
        self.policy = policy or ("MlpLstmPolicy" if "Recurrent" in algorithm else "MlpPolicy")
        for reserved in ("seed", "verbose", "env"):
            if reserved in algorithm_kwargs:
                raise ValueError(f"{reserved!r} is set by the principal, not in "
                                 f"algorithm_kwargs (got {algorithm_kwargs[reserved]!r})")
        self.algorithm_kwargs = algorithm_kwargs
        self.model: BaseAlgorithm | None = None
        self.episode_length = 0
        self.seed = 0

    @property
    def recurrent(self) -> bool:
        return "Recurrent" in self.cls.__name__

    def _model(self) -> BaseAlgorithm:
        if self.model is None:
            raise RuntimeError(f"sb3:{self.algorithm} has no model yet: call meta_train or load")
        return self.model

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None:
        """Learn for ``steps`` steps; called again, it continues learning the same model."""
        check_steps_seed(steps, seed)
        env = env_fn()
        if population is not None:
            env = PopulationTasks(env, population, task_key(env.reset(seed=seed)[1]))
        lengths = _EpisodeLength(env)
        lengths.reset(seed=seed)
        if self.model is None:
            self.seed = seed
            self.model = self.cls(self.policy, lengths, seed=seed, verbose=0,
                                  **self.algorithm_kwargs)
            self.model.learn(total_timesteps=steps)
        else:
            self.model.set_env(lengths)
            self.model.learn(total_timesteps=steps, reset_num_timesteps=False)
        self.episode_length = lengths.last_length or self.episode_length

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """Continue learning on ``env`` (one agent) for ``episodes`` episodes."""
        check_int("episodes", episodes, 0)
        if episodes == 0:
            return
        model = self._model()
        steps = episodes * max(self.episode_length, 1)
        if isinstance(model, OnPolicyAlgorithm):
            # SB3's on-policy updates need at least 2 samples (PPO asserts it): K one-step
            # episodes of a one-round game with K = 1 play 2 steps.
            steps = max(steps, 2)
            kwargs = dict(self.algorithm_kwargs, n_steps=steps)
            if "batch_size" in inspect.signature(self.cls).parameters:
                kwargs["batch_size"] = min(int(kwargs.get("batch_size", 64)), steps)
            parameters, trained_steps = model.get_parameters(), model.num_timesteps
            model = self.cls(self.policy, env, seed=self.seed, verbose=0, **kwargs)
            model.set_parameters(parameters)
            model.num_timesteps = trained_steps
        else:
            model.set_env(env)
        model.learn(total_timesteps=steps, reset_num_timesteps=False)
        self.model = model

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, Any]:
        model = self._model()
        if self.recurrent:
            action, state = model.predict(obs, state=state,
                                          episode_start=np.array([state is None]),
                                          deterministic=True)
        else:
            action, state = model.predict(obs, deterministic=True)
        # Discrete actions come back as 0-d arrays: hand the env a plain int.
        return (int(action) if np.ndim(action) == 0 else action), state

    def __deepcopy__(self, memo: dict[int, Any]) -> SB3Principal:
        """A copy through SB3's own save/load (its models hold non-leaf tensors that
        ``copy.deepcopy`` refuses); ``evaluate`` adapts such copies, never the original."""
        twin = SB3Principal(self.algorithm, self.policy, **self.algorithm_kwargs)
        twin.episode_length, twin.seed = self.episode_length, self.seed
        if self.model is not None:
            buffer = io.BytesIO()
            self.model.save(buffer)
            buffer.seek(0)
            twin.model = self.cls.load(buffer)
        return twin

    def save(self, path: str) -> None:
        """One zip: SB3's own archive plus our metadata."""
        buffer = io.BytesIO()
        self._model().save(buffer)
        meta = {"principal": "sb3", "algorithm": self.algorithm, "policy": self.policy,
                "episode_length": self.episode_length, "seed": self.seed}
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("sb3.zip", buffer.getvalue())
            archive.writestr("mermaide.json", json.dumps(meta))

    def load(self, path: str) -> None:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("mermaide.json"))
            model_bytes = archive.read("sb3.zip")
        if meta.get("principal") != "sb3":
            raise ValueError(f"{path!r} does not hold an SB3 principal")
        self.algorithm, self.policy = meta["algorithm"], meta["policy"]
        self.cls = algorithm_class(self.algorithm)
        self.episode_length, self.seed = meta["episode_length"], meta["seed"]
        self.model = self.cls.load(io.BytesIO(model_bytes))


def ppo(**kwargs: Any) -> SB3Principal:
    """``"ppo"``: stable-baselines3's PPO."""
    return SB3Principal("PPO", **kwargs)
