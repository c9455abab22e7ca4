"""``CommitmentGrid`` (the matrix games with a finite menu of commitments) and
``BayesianGamePopulation`` (fixed principal payoffs, agent types), with the "security"
preset they were built for."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mermaide  # noqa: F401  (registers the games)
from mermaide.envs import BayesianGamePopulation, CommitmentGrid, security_game, simplex_grid
from mermaide.envs.games import MatrixGame, game_population
from mermaide.envs.stackelberg import solve


def test_simplex_grid_holds_every_commitment_in_steps_of_one_over_resolution():
    grid = simplex_grid(3, 10)
    assert grid.shape == (66, 3)
    assert np.allclose(grid.sum(1), 1.0)
    assert np.allclose(grid * 10, np.round(grid * 10))
    assert len({tuple(x) for x in grid}) == 66
    with pytest.raises(ValueError, match="resolution"):
        simplex_grid(3, 0)


@pytest.mark.parametrize("env_id", ["Mermaide/Stackelberg-v0", "Mermaide/RepeatedStackelberg-v0"])
def test_passes_gymnasiums_checker(env_id):
    with warnings.catch_warnings():  # "is different from the unwrapped version": it is meant to
        warnings.simplefilter("ignore", UserWarning)
        check_env(CommitmentGrid(gym.make(env_id), resolution=4), skip_render_check=True)


def test_action_k_plays_grid_commitment_k_with_its_intervention():
    A = np.array([[1.0, 0.0], [0.0, 1.0]])
    B = np.array([[0.0, 1.0], [1.0, 0.0]])
    env = CommitmentGrid(gym.make("Mermaide/Stackelberg-v0", game=(A, B),
                                  intervention_budget=1, intervention_cost=0.25), resolution=4)
    assert env.interventions and env.choices == 3
    assert env.action_space == gym.spaces.Discrete(5 * 3)
    for action in range(env.action_space.n):
        x, bonus = env.commitment(action)
        env.reset(seed=0)
        _, reward, _, _, info = env.step(action)
        assert np.allclose(info["strategy"], x)
        assert info["bonus_action"] == (-1 if bonus is None else bonus)
        j = info["agent_action"]
        assert reward == pytest.approx(x @ A[:, j] - (0.25 if bonus is not None else 0.0))


def test_budget_zero_leaves_interventions_out_and_bad_input_is_refused():
    env = CommitmentGrid(gym.make("Mermaide/Stackelberg-v0"), resolution=10)
    assert env.action_space == gym.spaces.Discrete(66)
    env.reset(seed=0)
    for bad in (66, -1, 1.0, True, np.bool_(True), np.array(2.0), "3"):
        with pytest.raises(ValueError, match="action must be an integer in"):
            env.step(bad)
    with pytest.raises(ValueError, match="action_type='weights'"):
        CommitmentGrid(gym.make("Mermaide/Stackelberg-v0", action_type="logits"))
    with pytest.raises(ValueError, match="matrix game"):
        CommitmentGrid(gym.make("Mermaide/Bandit-v0"))
    with pytest.raises(ValueError, match="interventions"):
        CommitmentGrid(gym.make("Mermaide/Stackelberg-v0"), interventions="yes")


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
