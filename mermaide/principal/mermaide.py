"""``"mermaide"``: the world model plus a MAML-trained policy conditioned on it (MERMAIDE,
Banerjee et al., TMLR 2024).

``meta_train`` first fits the recurrent world model of the agent by maximum likelihood on
episodes played against the training population (``world_model.pretrain_world_model``, as
``"model"`` does; those steps count towards the budget; a game with nothing to model is
refused), then meta-learns the policy with MAML (``maml.train_maml``) over agents as tasks,
the policy reading the observation concatenated with the world model's features
(``world_model.WorldModelEncoder``: the GRU's hidden state and its predicted distribution of
the agent's action).

What is learnt where:

* Pre-trained, then fixed: the whole world model (embedding, GRU, read-out), by maximum
  likelihood before meta-training; nothing of it is meta-learnt, and its GRU is never
  adapted.
* Meta-learnt (the outer Adam steps on the query loss): the policy's initialisation theta,
  and with ``learn_adapt_lr`` / ``learn_baseline`` the inner loop's step size and baseline.
* Adapted per task, by one procedure at meta-training and at K-shot adaptation (MAML's
  inner loop with the world-model encoder as a ``maml.AdaptiveEncoder``): on the task's K
  support episodes (played with theta and the pre-trained world model), (1) with
  ``fine_tune_model`` the world model's read-out is fine-tuned (``world_model.
  fine_tuned_heads``: the same Adam steps, lr and anchor to the pre-trained read-out, from
  ``world_model.fine_tune_config``), then (2) ``adapt_steps`` policy-gradient steps of size
  ``adapt_lr`` take theta to theta_i on the support episodes read with the fine-tuned
  features. At meta-training the query episodes are played and scored with theta_i and the
  fine-tuned features (first order in the fine-tune: the outer loss does not differentiate
  through it); ``adapt(env, K)`` writes both into the principal, which then acts with them.
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
from mermaide.principal.maml import (
    MAMLConfig,
    MetaLearner,
    maml_adapt,
    meta_batch_games,
    task_source,
    train_maml,
)
from mermaide.principal.monitor import Progress, TrainingMonitor
from mermaide.principal.toolkit import (
    ActionSpace,
    Policy,
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
    modelled_agent_actions,
    pretrain_world_model,
)


@dataclass
class MermaideConfig(WorldModelFields, MAMLConfig):
    """``MAMLConfig`` (policy, outer and inner loop) plus the world model's fields."""


class Mermaide:
    """``"mermaide"``: ``make("mermaide", shots=1, model_episodes=256, ...)`` (any
    ``MermaideConfig`` field as keyword)."""

    name = "mermaide"

    def __init__(self, config: Any = None, **overrides: Any):
        self.config: MermaideConfig = config_from(MermaideConfig, config, overrides)
        self.rng = np.random.default_rng(self.config.seed)
        self.world_model: AgentWorldModel | None = None
        self.learner: MetaLearner | None = None
        self.obs_dim = 0
        self.allowed: Any = None  # the game's action mask for the next act, when it gives one

    @property
    def policy(self) -> Policy | None:
        """The policy it acts with (the meta-learnt initialisation, or after ``adapt`` the
        adapted one), as every learned principal exposes it."""
        return None if self.learner is None else self.learner.policy

    def _ready(self) -> tuple[AgentWorldModel, MetaLearner]:
        if self.learner is None or self.world_model is None:
            raise RuntimeError(f"{self.name!r} has no policy yet: call meta_train or load first")
        return self.world_model, self.learner

    @staticmethod
    def _build(model: AgentWorldModel, space: ActionSpace, c: MermaideConfig) -> MetaLearner:
        policy = Policy.build(WorldModelEncoder(model, fine_tune=c.fine_tune_model), space,
                              c.policy, c.hidden_size, c.history)
        return MetaLearner(policy, c)

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int, *, progress: Progress = True, logger: Logger | None = None
                   ) -> None:
        """Fit the world model (on a first call, or on a game with other spaces), then
        meta-train the policy with MAML on the rest of about ``steps`` env steps.
        ``progress`` and ``logger``: the bar and the SB3 logger of both phases
        (``monitor.TrainingMonitor``)."""
        probe, key, obs_dim, space = probe_game(env_fn, steps, seed)
        n_actions = modelled_agent_actions(env_fn, self.name, seed)
        self.rng = np.random.default_rng(seed)
        used = 0
        # A bar of its own is closed at the end, or by tqdm when an error drops the monitor.
        monitor = TrainingMonitor(steps, progress, logger, self.name)
        if self.learner is None or (obs_dim, space) != (self.obs_dim,
                                                        self.learner.policy.space):
            torch.manual_seed(seed)
            model, used = pretrain_world_model(env_fn, population, self.config, seed,
                                               n_actions, space.space, steps, monitor)
            self.world_model, self.obs_dim = model, obs_dim
            self.learner = self._build(model, space, self.config)
        support, query = meta_batch_games(env_fn, key, probe.spec, self.config)
        draw = task_source(support, population, probe, key, self.config.meta_batch, self.rng)
        try:
            train_maml(self.learner, support, query, draw, steps - used, self.rng, monitor)
        finally:
            for env in (support, query, probe):
                env.close()
            monitor.close()

    def adapt(self, env: gym.Env, episodes: int) -> None:
        """Play K episodes of the new agent, then the meta-training inner loop on them
        (``maml.maml_adapt``): the world model's read-out fine-tuned (``fine_tune_model``),
        then the policy's ``adapt_steps`` on the fine-tuned features."""
        check_int("episodes", episodes, 0)
        if episodes:
            learner = self._ready()[1]
            maml_adapt(learner, learner.policy.play(env, episodes, self.rng))


    def begin_episode(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the episode's first step (``info["action_mask"]``)."""
        self.allowed = info.get("action_mask")

    def after_step(self, info: dict[str, Any]) -> None:
        """Read the game's action mask of the next step."""
        self.allowed = info.get("action_mask")

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, Any]:
        return self._ready()[1].policy.act(obs, state, self.config.greedy, self.rng, self.allowed)

    def save(self, path: str) -> None:
        model, learner = self._ready()
        save_checkpoint(path, self.name, {
            "config": dataclasses.asdict(self.config), "obs_dim": self.obs_dim,
            "action_space": learner.policy.space.describe(),
            "policy": learner.policy.net.state_dict(), "inner": learner.inner.state_dict(),
            "world_model": model.state_dict(), "n_agent_actions": model.n_actions,
            "rng": generator_state(self.rng)})

    def load(self, path: str) -> None:
        """Replace this principal by the one saved at ``path``; a bad file raises
        ``CheckpointError`` and changes nothing (everything is built before any is kept)."""
        saved = load_checkpoint(path, self.name)
        with reading_checkpoint(path):
            config = MermaideConfig(**saved["config"])
            obs_dim = check_int("obs_dim", saved["obs_dim"], 1)
            space = ActionSpace.from_description(saved["action_space"])
            model = AgentWorldModel(obs_dim, saved["n_agent_actions"], config.world_model, space)
            model.load_state_dict(saved["world_model"])
            learner = self._build(model, space, config)
            learner.policy.net.load_state_dict(saved["policy"])
            learner.inner.load_state_dict(saved["inner"])
            rng = generator_from(saved["rng"])
        self.config, self.world_model, self.learner = config, model, learner
        self.obs_dim, self.rng = obs_dim, rng
