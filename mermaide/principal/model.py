"""``"model"``: agent modelling without meta-learning.

A recurrent world model (``world_model.AgentWorldModel``, a GRU) reads the interaction history
(the principal's interventions, the observed agent actions, time and budget left and, when
visible, the agent's rewards: everything in the principal's observation) and predicts the
agent's next action. It is fitted by maximum likelihood on ``model_episodes`` episodes played
against the training population with a random intervention behaviour; those steps count
towards ``meta_train``'s budget. The policy then reads the observation concatenated with the
world model's features (its hidden state and predicted next-action distribution) and is
trained with REINFORCE across the population (``reinforce.py``), without meta-learning.

``adapt`` fine-tunes the world model on the K episodes (anchored to its pre-trained weights,
``world_model.fine_tune_config``) when ``fine_tune_model``, then takes the REINFORCE
adaptation steps of part 1 on the same episodes.

The world-model machinery (``WorldModelFields``, ``WorldModelEncoder``,
``WorldModelPrincipal``) is shared with ``"mermaide"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from mermaide.agents.population import AgentPopulation, AgentSpec
from mermaide.envs.knobs import check_int, check_number
from mermaide.principal.base import EnvFn, TaskDistribution
from mermaide.principal.reinforce import Encoder, Episodes, Reinforce, ReinforceConfig
from mermaide.principal.world_model import (
    AgentWorldModel,
    Trajectories,
    WorldModelConfig,
    collect_trajectories,
    fine_tune_config,
    fit_world_model,
    random_behaviour,
)


@dataclass
class WorldModelFields:
    """The world-model part of a principal's config (mixed into ``ModelConfig`` and
    ``MermaideConfig``)."""

    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)  # GRU and its fit
    model_episodes: int = 256          # episodes of data the world model is fitted on
    model_intervene_prob: float = 0.5  # how often the data-collecting principal intervenes
    fine_tune_model: bool = True       # adapt fine-tunes the world model on the K episodes

    def __post_init__(self) -> None:
        if isinstance(self.world_model, dict):
            self.world_model = WorldModelConfig(**self.world_model)
        if not isinstance(self.world_model, WorldModelConfig):
            raise ValueError(f"world_model must be a WorldModelConfig or a dict, got "
                             f"{self.world_model!r}")
        check_int("model_episodes", self.model_episodes, 2)
        check_number("model_intervene_prob", self.model_intervene_prob, low=0.0, high=1.0)
        super().__post_init__()  # type: ignore[misc]


@dataclass
class ModelConfig(WorldModelFields, ReinforceConfig):
    """``ReinforceConfig`` (the policy learner) plus the world model's fields."""


class WorldModelEncoder:
    """Policy inputs = the observation concatenated with the world model's features."""

    def __init__(self, model: AgentWorldModel):
        self.model = model
        self.output_size = model.obs_dim + model.feature_size

    def step(self, obs: Tensor, state: Any) -> tuple[Tensor, Any]:
        features, h = self.model.features(obs, state)
        return torch.cat([obs, features], dim=-1), h

    def sequence(self, obs: Tensor) -> Tensor:
        h: Tensor | None = None
        steps = []
        for t in range(obs.shape[1]):
            x, h = self.step(obs[:, t], h)
            steps.append(x)
        return torch.stack(steps, dim=1)


def trajectories_of(episodes: Episodes, n_agent_actions: int) -> Trajectories:
    """The world model's view of played episodes (they must share one length)."""
    if not np.all(episodes.mask == 1.0):
        raise ValueError("episodes must all have the same length to fine-tune the world model")
    if np.any(episodes.agent_actions < 0):
        raise ValueError("the game must report info['observed_action'] to fit a world model")
    return Trajectories(episodes.obs, episodes.actions, episodes.agent_actions, n_agent_actions)


class WorldModelPrincipal(Reinforce):
    """A principal whose policy reads a world model's features (``"model"``, ``"mermaide"``)."""

    world_model: AgentWorldModel | None = None

    def _make_encoder(self, obs_dim: int, n_actions: int) -> Encoder:
        if self.world_model is None:
            raise RuntimeError("the world model must exist before the policy is built")
        return WorldModelEncoder(self.world_model)

    def _before_policy_training(self, env_fn: EnvFn, population: TaskDistribution | None,
                                steps: int, seed: int) -> int:
        """Collect data with a random intervention behaviour and fit the world model on it;
        returns the env steps that took."""
        c = self.config
        # The world model's collector plays the bandit family's agents; matrix games (tasks
        # named "game") would need their own collector, and in the one-round game the world
        # model could not even see the commitment the agent answers.
        if not (population is None or isinstance(population, (AgentPopulation, AgentSpec))):
            raise ValueError(f"{self.name!r} fits its world model on bandit agents: population "
                             f"must be an AgentPopulation, an AgentSpec or None, got "
                             f"{type(population).__name__}")
        data = collect_trajectories(env_fn, population, c.model_episodes, seed,
                                    random_behaviour(self.n_actions - 1, c.model_intervene_prob))
        self.world_model = AgentWorldModel(self.obs_dim, data.n_actions or 2, c.world_model)
        self.model_losses = fit_world_model(self.world_model, data, c.world_model, seed)
        return len(data) * data.horizon

    def fine_tune(self, episodes: Episodes) -> None:
        """Anchored maximum-likelihood fine-tune of the world model on one agent's episodes."""
        if self.world_model is None:
            raise RuntimeError("no world model: call meta_train or load first")
        data = trajectories_of(episodes, self.world_model.n_actions)
        fit_world_model(self.world_model, data, fine_tune_config(self.world_model.config),
                        seed=int(self.rng.integers(2**31)))

    def _state(self) -> dict[str, Any]:
        state = super()._state()
        assert self.world_model is not None
        state["world_model"] = self.world_model.state_dict()
        state["n_agent_actions"] = self.world_model.n_actions
        return state

    def _restore(self, saved: dict[str, Any]) -> None:
        config = self.config_class(**saved["config"])
        self.world_model = AgentWorldModel(saved["obs_dim"], saved["n_agent_actions"],
                                           config.world_model)
        self.world_model.load_state_dict(saved["world_model"])
        super()._restore(saved)


class AgentModel(WorldModelPrincipal):
    """``"model"``: ``make("model", policy="gru", model_episodes=256, ...)`` (any
    ``ModelConfig`` field as keyword)."""

    name = "model"
    config_class = ModelConfig

    def _adapt_on(self, played: Episodes) -> None:
        """Fine-tune the world model on the K episodes, then the REINFORCE steps."""
        if self.config.fine_tune_model:
            self.fine_tune(played)
        super()._adapt_on(played)
