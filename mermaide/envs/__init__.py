"""The games. Importing this module registers every ``Mermaide/...`` environment id."""

from typing import Any

from gymnasium.envs.registration import register, registry

from mermaide.envs.bandit import (
    BanditCore,
    BanditEnv,
    BanditKnobs,
    BanditParallelEnv,
    BanditVectorEnv,
    bandit_aec,
    bandit_parallel,
)
from mermaide.envs.commitment_grid import CommitmentGrid, simplex_grid
from mermaide.envs.equilibrium import StackelbergSolution, solve
from mermaide.envs.games import (
    BayesianGamePopulation,
    GamePopulation,
    MatrixGame,
    game_population,
    security_game,
)
from mermaide.envs.knobs import OBSERVES_PAYOFFS, Knobs
from mermaide.envs.parallel import TwoPlayerParallelEnv
from mermaide.envs.repeated_stackelberg import (
    LOGIT_SCALE,
    RepeatedStackelbergCore,
    RepeatedStackelbergEnv,
    RepeatedStackelbergKnobs,
    RepeatedStackelbergParallelEnv,
    RepeatedStackelbergVectorEnv,
    repeated_stackelberg_aec,
    repeated_stackelberg_parallel,
)
from mermaide.envs.single_player import (
    SinglePlayerEnv,
    TurnSinglePlayerEnv,
    as_agent_env,
    as_principal_env,
)
from mermaide.envs.stackelberg import (
    StackelbergAECEnv,
    StackelbergEnv,
    StackelbergKnobs,
    StackelbergVectorEnv,
    stackelberg_aec,
)
from mermaide.envs.stackelberg_pomdp import (
    CRITIC_PREFIX,
    POMDP_GAMES,
    ActorObservation,
    StackelbergPOMDPCore,
    StackelbergPOMDPEnv,
    StackelbergPOMDPKnobs,
    StackelbergPOMDPParallelEnv,
    StackelbergPOMDPVectorEnv,
    is_critic_key,
    preset_values,
    stackelberg_pomdp_aec,
    stackelberg_pomdp_parallel,
)

_ENVIRONMENTS: list[dict[str, Any]] = [
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
    dict(
        id="Mermaide/StackelbergPOMDP-v0",
        entry_point="mermaide.envs.stackelberg_pomdp:StackelbergPOMDPEnv",
        vector_entry_point="mermaide.envs.stackelberg_pomdp:StackelbergPOMDPVectorEnv",
    ),
]

for _spec in _ENVIRONMENTS:
    if _spec["id"] not in registry:
        register(**_spec)

__all__ = [
    "CRITIC_PREFIX",
    "LOGIT_SCALE",
    "OBSERVES_PAYOFFS",
    "POMDP_GAMES",
    "ActorObservation",
    "BanditCore",
    "BanditEnv",
    "BanditKnobs",
    "BanditParallelEnv",
    "BanditVectorEnv",
    "BayesianGamePopulation",
    "CommitmentGrid",
    "GamePopulation",
    "Knobs",
    "MatrixGame",
    "RepeatedStackelbergCore",
    "RepeatedStackelbergEnv",
    "RepeatedStackelbergKnobs",
    "RepeatedStackelbergParallelEnv",
    "RepeatedStackelbergVectorEnv",
    "SinglePlayerEnv",
    "StackelbergAECEnv",
    "StackelbergEnv",
    "StackelbergKnobs",
    "StackelbergPOMDPCore",
    "StackelbergPOMDPEnv",
    "StackelbergPOMDPKnobs",
    "StackelbergPOMDPParallelEnv",
    "StackelbergPOMDPVectorEnv",
    "StackelbergSolution",
    "StackelbergVectorEnv",
    "TurnSinglePlayerEnv",
    "TwoPlayerParallelEnv",
    "as_agent_env",
    "as_principal_env",
    "bandit_aec",
    "bandit_parallel",
    "game_population",
    "is_critic_key",
    "preset_values",
    "repeated_stackelberg_aec",
    "repeated_stackelberg_parallel",
    "security_game",
    "simplex_grid",
    "solve",
    "stackelberg_aec",
    "stackelberg_pomdp_aec",
    "stackelberg_pomdp_parallel",
]
