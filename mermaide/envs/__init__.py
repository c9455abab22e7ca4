"""The games. Importing this module registers every ``Mermaide/...`` environment id."""

from gymnasium.envs.registration import register, registry

from mermaide.envs.bandit import BanditCore, BanditEnv, BanditVectorEnv
from mermaide.envs.games import GamePopulation, MatrixGame, game_population
from mermaide.envs.knobs import Knobs
from mermaide.envs.repeated_stackelberg import (
    RepeatedStackelbergCore,
    RepeatedStackelbergEnv,
    RepeatedStackelbergVectorEnv,
)
from mermaide.envs.stackelberg import (
    StackelbergEnv,
    StackelbergSolution,
    StackelbergVectorEnv,
    solve,
)

_ENVIRONMENTS = [
    dict(
        id="Mermaide/Bandit-v0",
        entry_point="mermaide.envs.bandit:BanditEnv",
        vector_entry_point="mermaide.envs.bandit:BanditVectorEnv",
    ),
    dict(
        id="Mermaide/Stackelberg-v0",
        entry_point="mermaide.envs.stackelberg:StackelbergEnv",
        vector_entry_point="mermaide.envs.stackelberg:StackelbergVectorEnv",
    ),
    dict(
        id="Mermaide/RepeatedStackelberg-v0",
        entry_point="mermaide.envs.repeated_stackelberg:RepeatedStackelbergEnv",
        vector_entry_point="mermaide.envs.repeated_stackelberg:RepeatedStackelbergVectorEnv",
    ),
]

for _spec in _ENVIRONMENTS:
    if _spec["id"] not in registry:
        register(**_spec)

__all__ = [
    "BanditCore",
    "BanditEnv",
    "BanditVectorEnv",
    "GamePopulation",
    "Knobs",
    "MatrixGame",
    "RepeatedStackelbergCore",
    "RepeatedStackelbergEnv",
    "RepeatedStackelbergVectorEnv",
    "StackelbergEnv",
    "StackelbergSolution",
    "StackelbergVectorEnv",
    "game_population",
    "solve",
]
