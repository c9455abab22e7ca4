"""The learners a principal steers, with one batched interface, and populations of them."""

from mermaide.agents import (  # noqa: F401  (importing registers the learners)
    best_response,
    exp3,
    greedy,
    hedge,
    softmax,
    thompson,
    ucb,
)
from mermaide.agents.base import Learner, learner_names, make, register_learner
from mermaide.agents.best_response import BestResponse
from mermaide.agents.exp3 import Exp3
from mermaide.agents.greedy import EpsilonGreedy, Greedy
from mermaide.agents.hedge import Hedge
from mermaide.agents.population import (
    AgentPopulation,
    AgentSpec,
    Choice,
    LearnerFamily,
    Uniform,
    population,
    population_names,
    register_population,
)
from mermaide.agents.softmax import Softmax
from mermaide.agents.thompson import ThompsonSampling
from mermaide.agents.ucb import UCB

__all__ = [
    "UCB",
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
    "Softmax",
    "ThompsonSampling",
    "Uniform",
    "learner_names",
    "make",
    "population",
    "population_names",
    "register_learner",
    "register_population",
]
