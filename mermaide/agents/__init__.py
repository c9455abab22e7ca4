"""The learners a principal steers, with one batched interface, and populations of them."""

from mermaide.agents import (  # noqa: F401  (importing registers the learners)
    best_response,
    exp3,
    greedy,
    hedge,
    q_learning,
    quantal,
    sb3_policy,
    softmax,
    thompson,
    ucb,
)
from mermaide.agents.base import (
    Learner,
    is_learner_name,
    learner_names,
    make,
    register_learner,
    register_learner_prefix,
)
from mermaide.agents.best_response import BestResponse
from mermaide.agents.exp3 import Exp3
from mermaide.agents.greedy import EpsilonGreedy, Greedy
from mermaide.agents.hedge import Hedge
from mermaide.agents.observation import AgentObservation, agent_observation_space
from mermaide.agents.population import (
    AgentBatch,
    AgentPopulation,
    AgentSpec,
    Choice,
    LearnerFamily,
    Uniform,
    population,
    population_names,
    register_population,
)
from mermaide.agents.q_learning import QLearning
from mermaide.agents.quantal import QuantalResponse
from mermaide.agents.sb3_policy import SB3Policy
from mermaide.agents.softmax import Softmax
from mermaide.agents.thompson import ThompsonSampling
from mermaide.agents.ucb import UCB

__all__ = [
    "UCB",
    "AgentBatch",
    "AgentObservation",
    "AgentPopulation",
    "AgentSpec",
    "BestResponse",
    "Choice",
    "EpsilonGreedy",
    "Exp3",
    "Greedy",
    "Hedge",
    "Learner",
    "LearnerFamily",
    "QLearning",
    "QuantalResponse",
    "SB3Policy",
    "Softmax",
    "ThompsonSampling",
    "Uniform",
    "agent_observation_space",
    "is_learner_name",
    "learner_names",
    "make",
    "population",
    "population_names",
    "register_learner",
    "register_learner_prefix",
    "register_population",
]
