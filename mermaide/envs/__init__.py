"""The games. Importing this module registers every ``Mermaide/...`` environment id."""

from gymnasium.envs.registration import register, registry

from mermaide.envs.bandit import BanditCore, BanditEnv, BanditVectorEnv
from mermaide.envs.knobs import Knobs
from mermaide.envs.parallel import (
    BanditParallelEnv,
    TwoPlayerParallelEnv,
    bandit_aec,
    bandit_parallel,
)
from mermaide.envs.single_player import SinglePlayerEnv, as_agent_env, as_principal_env

_ENVIRONMENTS = [
    dict(
        id="Mermaide/Bandit-v0",
        entry_point="mermaide.envs.bandit:BanditEnv",
        vector_entry_point="mermaide.envs.bandit:BanditVectorEnv",
    ),
]

for _spec in _ENVIRONMENTS:
    if _spec["id"] not in registry:
        register(**_spec)

__all__ = [
    "BanditCore",
    "BanditEnv",
    "BanditParallelEnv",
    "BanditVectorEnv",
    "Knobs",
    "SinglePlayerEnv",
    "TwoPlayerParallelEnv",
    "as_agent_env",
    "as_principal_env",
    "bandit_aec",
    "bandit_parallel",
]
