"""Any stable-baselines3 algorithm as a principal: ``"ppo"``, ``"sb3:A2C"``, ``"sb3:DQN"``,
``"sb3:RecurrentPPO"`` (the sb3-contrib algorithms when sb3-contrib is installed).

``meta_train`` builds the algorithm on one env (drawing a fresh agent from the population at
every reset) and calls ``learn(steps)``. ``adapt(env, K)`` continues learning on the new agent
for exactly K episodes: an on-policy algorithm is rebuilt with a rollout of K episodes (so it
takes one update on them, not a rollout of ``n_steps`` that would run past K episodes) and
the trained parameters are copied in; an off-policy one just learns for K episodes' steps.
``act`` is ``predict(..., deterministic=True)``; a recurrent policy's LSTM state is the state.
``save`` writes the policy's and optimiser's parameters, the spaces and a JSON of the
constructor arguments (``toolkit.save_checkpoint``), not SB3's zip: loading it unpickles
nothing, where SB3's ``load`` unpickles parts of its zip (a trusted-source format).
"""

from __future__ import annotations

import inspect
import io
import json
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from mermaide.agents.sb3_policy import algorithm_class
from mermaide.checks import check_int, reading_checkpoint
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.evaluation import PopulationTasks, task_key
from mermaide.principal.toolkit import check_steps_seed, load_checkpoint, save_checkpoint


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
        """One file of tensors and plain data (``toolkit.save_checkpoint``): the policy's
        and its optimiser's parameters, the spaces, and a JSON of the constructor arguments.
        Not SB3's zip, whose ``load`` unpickles (cloudpickle) and so can run code."""
        model = self._model()
        constructor = {"algorithm": self.algorithm, "policy": self.policy,
                       "algorithm_kwargs": self.algorithm_kwargs}
        try:
            constructor_json = json.dumps(constructor, default=_class_to_json)
        except TypeError as error:
            raise ValueError(f"sb3:{self.algorithm} can save only JSON constructor arguments "
                             f"(and torch.nn / torch.optim classes): {error}") from error
        save_checkpoint(path, "sb3", {
            "constructor": constructor_json,
            "observation_space": space_to_data(model.observation_space),
            "action_space": space_to_data(model.action_space),
            "parameters": model.get_parameters(), "num_timesteps": int(model.num_timesteps),
            "episode_length": self.episode_length, "seed": self.seed})

    def load(self, path: str) -> None:
        """Replace this principal by the one ``save`` wrote to ``path``, with no unpickling
        (``torch.load(weights_only=True)`` and ``json.loads``); a bad file raises
        ``CheckpointError`` and changes nothing."""
        saved = load_checkpoint(path, "sb3")
        with reading_checkpoint(path):
            constructor = json.loads(saved["constructor"], object_hook=_class_from_json)
            loaded = SB3Principal(constructor["algorithm"], constructor["policy"],
                                  **constructor["algorithm_kwargs"])
            loaded.seed = check_int("seed", saved["seed"], 0)
            loaded.episode_length = check_int("episode_length", saved["episode_length"], 0)
            # The algorithm is built through its public constructor on an env that only
            # carries the stored spaces (it is never stepped: learning sets a real env first);
            # the parameters then replace the fresh ones.
            spaces_only = SpacesOnly(space_from_data(saved["observation_space"]),
                                     space_from_data(saved["action_space"]))
            model = loaded.cls(loaded.policy, env=spaces_only, seed=loaded.seed, verbose=0,
                               **loaded.algorithm_kwargs)
            parameters = saved["parameters"]
            # set_parameters reads a string as the path of an SB3 zip: only a dict will do.
            if not isinstance(parameters, dict):
                raise ValueError(f"parameters must be a dict of state dicts, got "
                                 f"{type(parameters).__name__}")
            model.set_parameters(parameters, exact_match=True)
            model.num_timesteps = check_int("num_timesteps", saved["num_timesteps"], 0)
            loaded.model = model
        self.__dict__.update(loaded.__dict__)


class SpacesOnly(gym.Env[Any, Any]):
    """An env that has spaces and nothing else: what an SB3 algorithm needs to be built."""

    def __init__(self, observation_space: gym.Space[Any], action_space: gym.Space[Any]):
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        raise RuntimeError("a loaded SB3 principal's model has no env until one is set")

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        raise RuntimeError("a loaded SB3 principal's model has no env until one is set")


# --- plain data for what a checkpoint stores ---------------------------------------------------


def _class_to_json(value: Any) -> dict[str, str]:
    """A torch.nn or torch.optim class (``policy_kwargs=dict(activation_fn=nn.Tanh)``) as
    its name: loading looks the name up in that module, and imports nothing else."""
    if isinstance(value, type):
        name = value.__name__
        for key, module, base in _CLASS_MODULES:
            if issubclass(value, base) and getattr(module, name, None) is value:
                return {key: name}
    raise TypeError(f"{value!r} is not JSON serialisable")


def _class_from_json(data: dict[str, Any]) -> Any:
    if len(data) == 1:
        for key, module, base in _CLASS_MODULES:
            if key in data:
                found = getattr(module, str(data[key]), None)
                if not (isinstance(found, type) and issubclass(found, base)):
                    raise ValueError(f"{data[key]!r} is not a class of {key}")
                return found
    return data


_CLASS_MODULES = (("torch.nn", torch.nn, torch.nn.Module),
                  ("torch.optim", torch.optim, torch.optim.Optimizer))


def space_to_data(space: gym.Space) -> dict[str, Any]:
    """A Gymnasium space as tensors and plain data (what ``space_from_data`` reads back)."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "low": torch.from_numpy(np.array(space.low)),
                "high": torch.from_numpy(np.array(space.high)), "dtype": str(space.dtype)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {key: space_to_data(sub)
                                           for key, sub in space.spaces.items()}}
    raise ValueError(f"sb3 principals save Discrete, Box, MultiDiscrete, MultiBinary and Dict "
                     f"spaces, got {space}")


def space_from_data(data: dict[str, Any]) -> gym.Space:
    kind = data["type"]
    if kind == "Discrete":
        return spaces.Discrete(check_int("n", data["n"], 1), start=int(data["start"]))
    if kind == "Box":
        low, high = data["low"], data["high"]
        if not (isinstance(low, torch.Tensor) and isinstance(high, torch.Tensor)):
            raise ValueError(f"a Box's low and high must be tensors, got {type(low).__name__}")
        return spaces.Box(low.numpy(), high.numpy(), dtype=np.dtype(data["dtype"]))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(data["nvec"])
    if kind == "MultiBinary":
        return spaces.MultiBinary(data["n"])
    if kind == "Dict":
        return spaces.Dict({key: space_from_data(sub) for key, sub in data["spaces"].items()})
    raise ValueError(f"unknown space type {kind!r}")


def ppo(**kwargs: Any) -> SB3Principal:
    """``"ppo"``: stable-baselines3's PPO."""
    return SB3Principal("PPO", **kwargs)
