"""``"mermaide"``: the world model plus a MAML-trained policy conditioned on it (MERMAIDE,
Banerjee et al., TMLR 2024).

``meta_train`` first fits the recurrent world model of the agent (``world_model.py``) by
maximum likelihood on episodes played against the training population (as ``"model"`` does;
those steps count towards the budget), then meta-learns the policy with MAML (``maml.py``)
over agents as tasks, the policy reading the observation concatenated with the world model's
features (hidden state and predicted next-action distribution). ``adapt(env, K)`` fine-tunes
the world model on the K episodes (anchored to its pre-trained weights; ``fine_tune_model``)
and runs MAML's inner loop on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mermaide.principal.maml import MAML, MAMLConfig
from mermaide.principal.model import WorldModelFields, WorldModelPrincipal
from mermaide.principal.reinforce import Episodes


@dataclass
class MermaideConfig(WorldModelFields, MAMLConfig):
    """``MAMLConfig`` (policy, outer and inner loop) plus the world model's fields."""


class Mermaide(WorldModelPrincipal, MAML):
    """``"mermaide"``: ``make("mermaide", shots=1, model_episodes=256, ...)`` (any
    ``MermaideConfig`` field as keyword)."""

    name = "mermaide"
    config_class = MermaideConfig

    def _adapt_on(self, played: Episodes) -> None:
        """Fine-tune the world model on the K episodes, then MAML's inner loop."""
        if self.config.fine_tune_model:
            self.fine_tune(played)
        super()._adapt_on(played)
