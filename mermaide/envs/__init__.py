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
from mermaide.envs.incentive_bandit import (
    IncentiveBanditCore,
    IncentiveBanditEnv,
    IncentiveBanditKnobs,
    IncentiveBanditParallelEnv,
    IncentiveBanditVectorEnv,
    IncentiveTask,
    encode_transfers,
    incentive_bandit_aec,
    incentive_bandit_parallel,
)
from mermaide.envs.incentive_mdp import (
    IncentiveGame,
    IncentiveMDPEnv,
    IncentiveMDPParallelEnv,
    IncentiveMDPVectorEnv,
    incentive_mdp_parallel,
)
from mermaide.envs.knobs import OBSERVES_PAYOFFS, Knobs
from mermaide.envs.message_games import (
    MESSAGE_GAMES,
    MessageGame,
    MessageGameValues,
    message_game,
    message_game_values,
)
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
from mermaide.envs.stackelberg_markov import (
    MarkovGame,
    StackelbergMarkovEnv,
    StackelbergMarkovParallelEnv,
    StackelbergMarkovVectorEnv,
    stackelberg_markov_parallel,
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
    dict(
        id="Mermaide/StackelbergMarkov-v0",
        entry_point="mermaide.envs.stackelberg_markov:StackelbergMarkovEnv",
        vector_entry_point="mermaide.envs.stackelberg_markov:StackelbergMarkovVectorEnv",
    ),
    dict(
        id="Mermaide/IncentiveMDP-v0",
        entry_point="mermaide.envs.incentive_mdp:IncentiveMDPEnv",
        vector_entry_point="mermaide.envs.incentive_mdp:IncentiveMDPVectorEnv",
    ),
    dict(
        id="Mermaide/IncentiveBandit-v0",
        entry_point="mermaide.envs.incentive_bandit:IncentiveBanditEnv",
        vector_entry_point="mermaide.envs.incentive_bandit:IncentiveBanditVectorEnv",
    ),
]

for _spec in _ENVIRONMENTS:
    if _spec["id"] not in registry:
        register(**_spec)

__all__ = [
    "CRITIC_PREFIX",
    "LOGIT_SCALE",
    "MESSAGE_GAMES",
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
    "IncentiveBanditCore",
    "IncentiveBanditEnv",
    "IncentiveBanditKnobs",
    "IncentiveBanditParallelEnv",
    "IncentiveBanditVectorEnv",
    "IncentiveGame",
    "IncentiveMDPEnv",
    "IncentiveMDPParallelEnv",
    "IncentiveMDPVectorEnv",
    "IncentiveTask",
    "Knobs",
    "MarkovGame",
    "MatrixGame",
    "MessageGame",
    "MessageGameValues",
    "RepeatedStackelbergCore",
    "RepeatedStackelbergEnv",
    "RepeatedStackelbergKnobs",
    "RepeatedStackelbergParallelEnv",
    "RepeatedStackelbergVectorEnv",
    "SinglePlayerEnv",
    "StackelbergAECEnv",
    "StackelbergEnv",
    "StackelbergKnobs",
    "StackelbergMarkovEnv",
    "StackelbergMarkovParallelEnv",
    "StackelbergMarkovVectorEnv",
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
    "encode_transfers",
    "game_population",
    "incentive_bandit_aec",
    "incentive_bandit_parallel",
    "incentive_mdp_parallel",
    "is_critic_key",
    "message_game",
    "message_game_values",
    "preset_values",
    "repeated_stackelberg_aec",
    "repeated_stackelberg_parallel",
    "security_game",
    "simplex_grid",
    "solve",
    "stackelberg_aec",
    "stackelberg_markov_parallel",
    "stackelberg_pomdp_aec",
    "stackelberg_pomdp_parallel",
]
