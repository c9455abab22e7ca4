"""The games. Importing this module registers every ``Mermaide/...`` environment id."""

from typing import Any

from gymnasium.envs.registration import register, registry

from mermaide.envs.bandit import BanditCore, BanditEnv, BanditVectorEnv
from mermaide.envs.knobs import Knobs

_ENVIRONMENTS: list[dict[str, Any]] = [
    dict(
        id="Mermaide/Bandit-v0",
        entry_point="mermaide.envs.bandit:BanditEnv",
        vector_entry_point="mermaide.envs.bandit:BanditVectorEnv",
    ),
]

for _spec in _ENVIRONMENTS:
    if _spec["id"] not in registry:
        register(**_spec)

__all__ = ["BanditCore", "BanditEnv", "BanditVectorEnv", "Knobs"]
