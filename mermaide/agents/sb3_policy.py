"""A saved stable-baselines3 policy as a batched learner: the names ``"sb3:<Algorithm>"``.

This is how an RL-trained agent becomes one of the agents a principal faces: train an SB3
algorithm as the ``"agent"`` player of a two-player game (``mermaide.envs.as_agent_env``),
save it, and name it in an ``AgentSpec`` or a ``LearnerFamily``::

    AgentSpec("sb3:PPO", {"path": "agent.zip", "horizon": 200}, rewards, target)
    LearnerFamily("sb3:PPO", {"path": "agent.zip", "horizon": 200})

Parameters: ``path`` (the saved model; ``.zip`` may be left out), ``horizon`` (the horizon
of the game it plays: its observation holds the fraction of time left, exactly as in the
two-player form, see ``mermaide.agents.observation``), ``deterministic`` (act on the most
likely action instead of sampling; default False, which is how the policy was trained).

The algorithm class is looked up by name in ``stable_baselines3``, then ``sb3_contrib``. The
policy's weights are fixed: ``update`` only records what the agent did and received, which
its next observation shows. Actions of policies with an action distribution (PPO, A2C, TRPO,
MaskablePPO) are sampled from it with the game's generator, so games stay reproducible from
their seed; value-based models (DQN, QR-DQN) and ARS act greedily. Recurrent policies are
refused. Loaded models are cached by (algorithm, file, modification time).

The file is SB3's own zip, and SB3's ``load`` unpickles parts of it (cloudpickle), so a
crafted file runs code when it is loaded: load only models from a source you trust. (A
mermaide principal's checkpoint is another format, read with no unpickling.)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from mermaide.agents.base import Feedback, register_learner_prefix, sample_categorical
from mermaide.agents.observation import AgentObservation, agent_observation_dim
from mermaide.checks import check_bool

PREFIX = "sb3:"
# Where algorithm classes are looked up, in order.
ALGORITHM_MODULES = ("stable_baselines3", "sb3_contrib")

_MODELS: dict[tuple[str, str, int], Any] = {}


def algorithm_class(name: str) -> Any:
    """The SB3 algorithm class called ``name`` (e.g. "PPO", "DQN", "TRPO")."""
    import importlib

    from stable_baselines3.common.base_class import BaseAlgorithm

    for module_name in ALGORITHM_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseAlgorithm):
            return cls
    raise ValueError(f"algorithm must name a stable-baselines3 algorithm class in "
                     f"{' or '.join(ALGORITHM_MODULES)} (e.g. 'PPO', 'A2C', 'DQN'), got {name!r}")


def load_model(algorithm: str, path: str | os.PathLike[str]) -> Any:
    """Load (once per file version) a saved SB3 model of the given algorithm, on the CPU.
    SB3's zip is unpickled: a trusted-source format (module docstring)."""
    file = os.fspath(path)
    if not os.path.isfile(file) and os.path.isfile(file + ".zip"):
        file += ".zip"
    if not os.path.isfile(file):
        raise ValueError(f"path must name a saved stable-baselines3 model, got {path!r} "
                         f"(no such file)")
    file = os.path.realpath(file)
    key = (algorithm, file, os.stat(file).st_mtime_ns)
    model = _MODELS.get(key)
    if model is None:
        model = algorithm_class(algorithm).load(file, device="cpu")
        if hasattr(model.policy, "lstm_actor"):
            raise ValueError(f"recurrent policies cannot play as agents (they need their hidden "
                             f"state carried between steps), got {algorithm!r} from {path!r}")
        _MODELS[key] = model
    return model


def policy_actions(model: Any, observations: np.ndarray, rng: np.random.Generator,
                   deterministic: bool = False) -> np.ndarray:
    """Actions (B,) of an SB3 model (or anything with ``predict``) for observations (B, D).

    Policies with an action distribution are sampled with ``rng`` (not torch's global
    generator), so every draw flows from the caller's seed; others act greedily.
    """
    policy: Any = getattr(model, "policy", None)
    if hasattr(policy, "get_distribution"):
        import torch

        with torch.no_grad():
            tensor, _ = policy.obs_to_tensor(observations)
            distribution = policy.get_distribution(tensor).distribution
        probabilities = getattr(distribution, "probs", None)
        if probabilities is None:
            raise ValueError(f"the model's policy must choose among discrete actions, got a "
                             f"{type(distribution).__name__} distribution")
        probabilities = probabilities.cpu().numpy().astype(np.float64)
        if deterministic:
            return np.argmax(probabilities, axis=1)
        return sample_categorical(probabilities, rng)
    actions, _ = model.predict(observations, deterministic=True)
    return np.asarray(actions, dtype=np.int64).reshape(len(observations))


class SB3Policy:
    """B agents played by one saved SB3 policy (batched: one forward pass per step)."""

    feedback: Feedback = "bandit"

    def __init__(self, algorithm: str, path: str | os.PathLike[str] | None = None,
                 horizon: float | np.ndarray | None = None, deterministic: bool = False):
        if path is None:
            raise ValueError(f"an 'sb3:{algorithm}' agent needs path=<saved model file>")
        if horizon is None:
            raise ValueError(f"an 'sb3:{algorithm}' agent needs horizon=<the game's horizon>: "
                             f"its observation holds the fraction of time left")
        self.algorithm, self.path, self.horizon = algorithm, path, horizon
        self.deterministic = check_bool("deterministic", deterministic)
        self.model = load_model(algorithm, path)

    def reset(self, batch: int, n_actions: int, rng: np.random.Generator) -> None:
        space = self.model.observation_space
        expected = (agent_observation_dim(n_actions),)
        if space.shape != expected or getattr(self.model.action_space, "n", None) != n_actions:
            raise ValueError(
                f"the model in {self.path!r} was trained for observations of shape "
                f"{space.shape} and action space {self.model.action_space}; a game with "
                f"{n_actions} actions needs shape {expected} and Discrete({n_actions})")
        self._view = AgentObservation(batch, n_actions, self.horizon)

    def observation(self) -> np.ndarray:
        """(B, K + 2): what the policy acts on at this step (``mermaide.agents.observation``)."""
        return self._view.observation()

    def act(self, rng: np.random.Generator) -> np.ndarray:
        return policy_actions(self.model, self._view.observation(), rng, self.deterministic)

    def update(self, actions: np.ndarray, rewards: np.ndarray,
               payoffs: np.ndarray | None = None) -> None:
        self._view.record(actions, rewards)


def _make(name: str, **params: Any) -> SB3Policy:
    return SB3Policy(name[len(PREFIX):], **params)


register_learner_prefix(PREFIX, _make)
