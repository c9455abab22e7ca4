"""A job's populations come from the one registry of population kinds."""

import pytest

from mermaide.agents import AgentPopulation
from mermaide.bench.job import POPULATION_FACTORIES, make_population
from mermaide.envs.games import GamePopulation
from mermaide.registry import UnknownNameError


def test_population_kinds_make_their_presets():
    assert POPULATION_FACTORIES.names() == ["agents", "games"]
    assert isinstance(make_population("agents", "train", n_arms=4), AgentPopulation)
    games = make_population("games", "train", size=(2, 3))
    assert isinstance(games, GamePopulation) and games.size == (2, 3)


def test_unknown_population_kind_lists_the_known_ones():
    with pytest.raises(UnknownNameError,
                       match="unknown population kind 'bandits'; known population kinds: "
                             "agents, games"):
        make_population("bandits", "train")
