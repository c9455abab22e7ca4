"""Matrix games and game populations: the classic games, the payoff checks, seeded populations
and their presets, ``BayesianGamePopulation`` (fixed principal payoffs, agent types) and the
"security" preset built on it."""

import gymnasium as gym
import numpy as np
import pytest

import mermaide  # noqa: F401  (registers the games)
from mermaide.agents import LearnerFamily, Uniform
from mermaide.envs import BayesianGamePopulation, security_game
from mermaide.envs.equilibrium import solve
from mermaide.envs.games import (
    CLASSIC_GAMES,
    Follower,
    GamePopulation,
    MatrixGame,
    classic_game,
    game_population,
    game_population_names,
)
from mermaide.envs.stackelberg import StackelbergEnv


@pytest.mark.parametrize("name", sorted(CLASSIC_GAMES))
def test_classic_games_are_normalised_without_changing_the_equilibrium(name):
    game = classic_game(name)
    assert game.A.min() == 0.0 and game.A.max() == 1.0
    assert game.B.min() == 0.0 and game.B.max() == 1.0
    textbook, normalised = solve(*CLASSIC_GAMES[name]), solve(game.A, game.B)
    np.testing.assert_allclose(normalised.strategy, textbook.strategy, atol=1e-9)
    assert normalised.response == textbook.response
    A = np.array(CLASSIC_GAMES[name][0])
    assert normalised.value == pytest.approx((textbook.value - A.min()) / (A.max() - A.min()))


@pytest.mark.parametrize(
    ("A", "B", "match"),
    [
        ([1.0, 2.0], [[1.0, 2.0]], "A must be a 2-D"),
        ([[1.0], [2.0]], [[1.0], [2.0]], "n >= 2"),
        ([[1.0, np.nan]], [[1.0, 2.0]], "A must have finite"),
        ([[1.0, 2.0]], [[np.inf, 2.0]], "B must have finite"),
        ([[1.0, 2.0]], [[1.0, 2.0, 3.0]], "same shape"),
        (np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), "A must be a 2-D"),
        ([["a", "b"]], [[1.0, 2.0]], "A must be a numeric"),
    ],
)
def test_bad_matrices_raise(A, B, match):
    with pytest.raises(ValueError, match=match):
        solve(A, B)
    with pytest.raises(ValueError, match=match):
        MatrixGame(A, B)
    with pytest.raises(ValueError, match=match):
        StackelbergEnv(game=(A, B))


def test_population_is_seeded_and_in_unit_interval():
    population = game_population("train")
    a = population.sample_many(20, np.random.default_rng(3))
    b = population.sample_many(20, np.random.default_rng(3))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.A, y.A)
        np.testing.assert_array_equal(x.B, y.B)
        assert (x.learner, x.params) == (y.learner, y.params)
        assert x.shape == (3, 3) and 0 <= x.A.min() and x.B.max() <= 1
    assert {g.learner for g in a} == {"follower", "best_response", "hedge"}


@pytest.mark.parametrize("rho", [-0.9, 0.0, 0.9])
def test_population_correlation(rho):
    games = GamePopulation((4, 4), rho).sample_many(300, np.random.default_rng(0))
    A = np.concatenate([g.A.ravel() for g in games])
    B = np.concatenate([g.B.ravel() for g in games])
    # The copula maps Pearson rho to the uniform scale's correlation (6/pi) asin(rho/2).
    expected = 6 / np.pi * np.arcsin(rho / 2)
    assert np.corrcoef(A, B)[0, 1] == pytest.approx(expected, abs=0.05)


def test_train_and_test_splits_differ_in_payoffs():
    rng = np.random.default_rng(1)
    train = game_population("train").sample_many(200, rng)
    test = game_population("test-ood").sample_many(200, rng)

    def correlation(games):
        return np.corrcoef(np.concatenate([g.A.ravel() for g in games]),
                           np.concatenate([g.B.ravel() for g in games]))[0, 1]

    assert correlation(train) > 0.2 and correlation(test) < -0.4


def test_presets_include_the_classics():
    names = game_population_names()
    assert {"train", "test-ood", "classics", *CLASSIC_GAMES} <= set(names)
    game = game_population("commitment").sample(np.random.default_rng(0))
    assert game.name == "commitment" and game.learner == "follower"
    drawn = {g.name for g in game_population("classics").sample_many(60,
                                                                    np.random.default_rng(0))}
    assert drawn == set(CLASSIC_GAMES)
    assert game_population("train", size=(2, 5)).sample(np.random.default_rng(0)).shape == (2, 5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": (0, 3)}, "size"),
        ({"size": (3, 1)}, "size"),
        ({"correlation": 1.5}, "correlation"),
        ({"correlation": Uniform(-2.0, 0.0)}, "correlation"),
        ({"size": (3, 3), "classics": ("commitment",)}, "size must be"),
        ({"size": (2, 2), "classics": ("chess",)}, "classics"),
        ({"classic_weight": 0.5}, "classics to draw"),
        ({"size": (2, 2), "classics": ("commitment",), "classic_weight": 2.0}, "classic_weight"),
        ({"agents": ()}, "agents"),
        ({"agents": ("hedge",)}, "agents"),
    ],
)
def test_bad_population_knobs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GamePopulation(**kwargs)


def test_bad_games_and_names_raise():
    with pytest.raises(ValueError, match="learner"):
        MatrixGame(np.eye(2), np.eye(2), learner="oracle")
    with pytest.raises(ValueError, match="params"):
        MatrixGame(np.eye(2), np.eye(2), params={"eta": 1.0})
    with pytest.raises(ValueError, match="eta must be"):
        MatrixGame(np.eye(2), np.eye(2), learner="hedge", params={"eta": 0.0})
    with pytest.raises(ValueError, match="params for learner 'hedge': unknown parameter 'beta'"):
        MatrixGame(np.eye(2), np.eye(2), learner="hedge", params={"beta": 1.0})
    with pytest.raises(ValueError, match="unknown game population"):
        game_population("nope")
    with pytest.raises(ValueError, match="game must be one of"):
        classic_game("chess")
    with pytest.raises(ValueError, match="weight"):
        Follower(weight=0.0)
    with pytest.raises(ValueError, match="size cannot be"):
        game_population("classics", size=(3, 3))


def test_population_agents_can_be_learner_families():
    population = GamePopulation((2, 3), 0.0, agents=(LearnerFamily("exp3", {"gamma": 0.1}),))
    game = population.sample(np.random.default_rng(0))
    assert game.learner == "exp3" and game.params == {"gamma": 0.1}


def test_bayesian_population_draws_types_with_bounded_noise():
    A, B0 = security_game((0.9, 0.4), (0.1, 0.2))
    _, B1 = security_game((0.4, 0.9), (0.1, 0.2))
    population = BayesianGamePopulation(A, (B0, B1), type_weights=(3.0, 1.0), noise=0.02)
    games = population.sample_many(400, np.random.default_rng(0))
    kinds = np.array([int(g.name.rsplit("=", 1)[1]) for g in games])
    assert 0.65 < np.mean(kinds == 0) < 0.85  # weights 3:1
    for game, kind in zip(games, kinds, strict=True):
        assert np.array_equal(game.A, A)
        noise = game.B - (B0, B1)[kind]
        assert np.all(np.abs(noise) <= 0.02) and np.any(noise != 0)
    assert population.size == (2, 2)
    with pytest.raises(ValueError, match="type_weights"):
        BayesianGamePopulation(A, (B0, B1), type_weights=(1.0,))
    with pytest.raises(ValueError, match="noise"):
        BayesianGamePopulation(A, (B0,), noise=-0.1)
    with pytest.raises(ValueError, match="same shape"):
        BayesianGamePopulation(A, (np.zeros((3, 3)),))
    with pytest.raises(ValueError, match="size cannot be"):
        population.with_size(3, 3)


def test_security_preset_one_response_tells_the_types_apart():
    """What makes the preset a one-shot problem: the commitment best against one type is
    poor against the other, and at it the two types attack different targets."""
    population = game_population("security")
    games = population.sample_many(200, np.random.default_rng(1))
    kinds = np.array([g.name.endswith("1") for g in games])
    solutions = [solve(g.A, g.B) for g in games]
    coverage = np.array([s.strategy[0] for s in solutions])
    assert np.all(np.abs(coverage[~kinds] - 0.73) < 0.05)
    assert np.all(np.abs(coverage[kinds] - 0.27) < 0.05)
    probe = np.array([0.7, 0.3])
    responses = np.array([np.argmax(probe @ g.B) for g in games])
    # The noise moves a few type-0 attackers across their indifference point (0.73).
    assert np.mean(responses[~kinds] == 0) > 0.9 and np.all(responses[kinds] == 1)
    env = gym.make("Mermaide/Stackelberg-v0", game="security")
    assert isinstance(env.reset(seed=0)[1]["game"], MatrixGame)
