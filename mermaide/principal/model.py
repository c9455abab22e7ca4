"""``"model"``: agent modelling without meta-learning.

A recurrent world model of the agent (``world_model.AgentWorldModel``, a GRU) reads the
interaction history (everything in the principal's observation) and, with the principal's
action at this step, predicts the agent's action at this step. ``meta_train`` fits it by
maximum likelihood on ``model_episodes`` episodes played against the training population with
an exploring behaviour (those steps count towards the budget;
``world_model.pretrain_world_model``; a game with nothing to model is refused), then trains a
policy that reads the observation concatenated with the world model's features
(``world_model.WorldModelEncoder``) with plain REINFORCE across the population
(``reinforce.train_reinforce``).

``adapt`` fine-tunes the world model's read-out on the K episodes (anchored to its
pre-trained weights, ``world_model.fine_tune``) when ``fine_tune_model``, then takes the
REINFORCE adaptation steps (``reinforce.reinforce_adapt``) on the same episodes. (Unlike
``"mermaide"``, the policy never saw fine-tuned features in training.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.logger import Logger

from mermaide.checks import check_int, reading_checkpoint
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.monitor import Progress, TrainingMonitor
from mermaide.principal.reinforce import ReinforceConfig, reinforce_adapt, train_reinforce
from mermaide.principal.toolkit import (
    ActionSpace,
    Policy,
    VectorGame,
    config_from,
    generator_from,
    generator_state,
    load_checkpoint,
    probe_game,
    save_checkpoint,
)
from mermaide.principal.world_model import (
    AgentWorldModel,
    WorldModelEncoder,
    WorldModelFields,
    fine_tune,
    modelled_agent_actions,
    pretrain_world_model,
)


@dataclass
class ModelConfig(WorldModelFields, ReinforceConfig):
    """``ReinforceConfig`` (the policy learner) plus the world model's fields."""


class AgentModel:
    """``"model"``: ``make("model", policy="gru", model_episodes=256, ...)`` (any
    ``ModelConfig`` field as keyword)."""

    name = "model"

    def __init__(self, config: Any = None, **overrides: Any):
        self.config: ModelConfig = config_from(ModelConfig, config, overrides)
        self.rng = np.random.default_rng(self.config.seed)
        self.world_model: AgentWorldModel | None = None
        self.policy: Policy | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.obs_dim = 0
        self.allowed: Any = None  # the game's action mask for the next act, when it gives one

    def _ready(self) -> tuple[AgentWorldModel, Policy]:
        if self.policy is None or self.world_model is None:
            raise RuntimeError(f"{self.name!r} has no policy yet: call meta_train or load first")
        return self.world_model, self.policy

    @staticmethod
    def _build(model: AgentWorldModel, space: ActionSpace, c: ModelConfig) -> Policy:
        return Policy.build(WorldModelEncoder(model), space, c.policy, c.hidden_size, c.history,
                            c.critic)

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int, *, progress: Progress = True, logger: Logger | None = None
                   ) -> None:
        """Fit the world model (on a first call, or on a game with other spaces), then train
        the policy with REINFORCE on the rest of about ``steps`` env steps. ``progress`` and
        ``logger``: the bar and the SB3 logger of both phases (``monitor.TrainingMonitor``)."""
        probe, key, obs_dim, space = probe_game(env_fn, steps, seed)
        n_actions = modelled_agent_actions(env_fn, self.name, seed)
        self.rng = np.random.default_rng(seed)
        c = self.config
        used = 0
        # A bar of its own is closed at the end, or by tqdm when an error drops the monitor.
        monitor = TrainingMonitor(steps, progress, logger, self.name)
        if self.policy is None or (obs_dim, space) != (self.obs_dim, self.policy.space):
            torch.manual_seed(seed)
            model, used = pretrain_world_model(env_fn, population, c, seed, n_actions,
                                               space.space, steps, monitor)
            self.world_model, self.obs_dim = model, obs_dim
            self.policy = self._build(model, space, c)
            self.optimizer = None
        if self.optimizer is None:
            assert self.policy is not None
            self.optimizer = torch.optim.Adam(self.policy.net.parameters(), lr=c.lr)
        game = VectorGame.make(env_fn, c.episodes_per_batch, key, probe.spec)
        probe.close()
        try:
            train_reinforce(self.policy, self.optimizer, game, population, steps - used,
                            self.rng, c, monitor)
        finally:
            game.close()
            monitor.close()

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """Fine-tune the world model on the K episodes, then the REINFORCE steps."""
        check_int("episodes", episodes, 0)
        if episodes:
            model, policy = self._ready()
            played = policy.play(env, episodes, self.rng)
            if self.config.fine_tune_model:
                fine_tune(model, played)
            reinforce_adapt(policy, played, self.config)


    def begin_episode(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the episode's first step (``info["action_mask"]``)."""
        self.allowed = info.get("action_mask")

    def after_step(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the next step."""
        self.allowed = info.get("action_mask")

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, Any]:
        return self._ready()[1].act(obs, state, self.config.greedy, self.rng, self.allowed)

    def save(self, path: str) -> None:
        model, policy = self._ready()
        save_checkpoint(path, self.name, {
            "config": dataclasses.asdict(self.config), "obs_dim": self.obs_dim,
            "action_space": policy.space.describe(), "policy": policy.net.state_dict(),
            "world_model": model.state_dict(), "n_agent_actions": model.n_actions,
            "rng": generator_state(self.rng)})

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path``; a bad file raises
        ``CheckpointError`` and changes nothing (everything is built before any is kept)."""
        saved = load_checkpoint(path, self.name)
        with reading_checkpoint(path):
            config = ModelConfig(**saved["config"])
            obs_dim = check_int("obs_dim", saved["obs_dim"], 1)
            space = ActionSpace.from_description(saved["action_space"])
            model = AgentWorldModel(obs_dim, saved["n_agent_actions"], config.world_model, space)
            model.load_state_dict(saved["world_model"])
            policy = self._build(model, space, config)
            policy.net.load_state_dict(saved["policy"])
            rng = generator_from(saved["rng"])
        self.config, self.world_model, self.policy, self.obs_dim = config, model, policy, obs_dim
        self.optimizer = None
        self.rng = rng
