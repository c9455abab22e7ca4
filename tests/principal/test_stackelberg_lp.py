"""The exact Stackelberg-LP baseline: the equilibrium value at noise 0 on one-round and
repeated games, less (and less the more noise) when it observes B through noise, refusals of
games it cannot solve, and save/load."""

import dataclasses
import json
import re

import gymnasium as gym
import numpy as np
import pytest

import mermaide  # noqa: F401  (registers the games)
from mermaide.envs import CommitmentGrid, MatrixGame, game_population, solve
from mermaide.envs.stackelberg import CLASSIC_GAMES, classic_game
from mermaide.principal import check_principal, evaluate, make, run_episode

PAYOFFS = "actions+payoffs"


def stackelberg(**knobs):
    params = dict(principal_observes=PAYOFFS, intervention_budget=0)
    params.update(knobs)
    return lambda: gym.make("Mermaide/Stackelberg-v0", **params)


def trained(env_fn):
    principal = make("stackelberg-lp")
    principal.meta_train(env_fn, None, 0, seed=0)
    return principal


def games(count, size=(3, 3), name="test-ood", seed=0):
    return game_population(name, size).sample_many(count, np.random.default_rng(seed))


def exact_values(game_list):
    return np.array([solve(g.A, g.B).value for g in game_list])


GAME_SETS = {
    "3x3 test-ood": games(8),
    "2x4 train": games(6, (2, 4), "train", seed=1),
    "4x3 test-ood": games(6, (4, 3), seed=2),
    "classics": [classic_game(name) for name in CLASSIC_GAMES],
}


def test_it_is_a_registered_principal():
    principal = make("stackelberg-lp")
    check_principal(principal)


@pytest.mark.parametrize("action_type", ["weights", "logits"])
@pytest.mark.parametrize("label", sorted(GAME_SETS))
def test_without_noise_it_earns_exactly_the_equilibrium_value(label, action_type):
    game_list = GAME_SETS[label]
    m, n = game_list[0].shape
    env_fn = stackelberg(game=game_population("train", (m, n)), action_type=action_type)
    stats = evaluate(trained(env_fn), env_fn(), episodes=1, seed=0, tasks=game_list)
    np.testing.assert_allclose(stats.returns, exact_values(game_list), rtol=0, atol=1e-6)
    assert np.all(stats.interventions == 0)


@pytest.mark.parametrize("learner", ["follower", "hedge"])
def test_in_the_repeated_game_it_commits_to_the_equilibrium_every_round(learner):
    horizon = 5
    env_fn = lambda: gym.make("Mermaide/RepeatedStackelberg-v0", game="test-ood",  # noqa: E731
                              horizon=horizon, principal_observes=PAYOFFS)
    principal = trained(env_fn)
    env = env_fn()
    for game in games(5, seed=3):
        game = dataclasses.replace(game, learner=learner,
                                   params={} if learner == "follower" else {"eta": 0.5})
        obs, _ = env.reset(seed=0, options={"game": game})
        state, strategies, total, done = None, [], 0.0, False
        while not done:
            action, state = principal.act(obs, state)
            obs, reward, done, _, info = env.step(action)
            strategies.append(info["strategy"])
            total += reward
        equilibrium = solve(game.A, game.B)
        np.testing.assert_allclose(strategies, [equilibrium.strategy] * horizon, atol=1e-6)
        if learner == "follower":
            assert total == pytest.approx(horizon * equilibrium.value, abs=1e-6)


def test_on_a_commitment_grid_it_plays_the_best_menu_entry():
    env_fn = lambda: CommitmentGrid(stackelberg(game="test-ood")(), resolution=4)  # noqa: E731
    principal = trained(env_fn)
    env = env_fn()
    for game in games(5, seed=4):
        obs, _ = env.reset(seed=0, options={"game": game})
        action, _ = principal.act(obs, None)
        rewards = []
        for k in range(env.action_space.n):
            env.reset(seed=0, options={"game": game})
            rewards.append(env.step(k)[1])
        assert env.commitment(action)[1] is None
        env.reset(seed=0, options={"game": game})
        assert env.step(action)[1] == pytest.approx(max(rewards), abs=1e-9)


def test_with_noise_it_earns_less_and_less_the_more_noise():
    game_list = games(30, seed=5)
    exact = exact_values(game_list).mean()
    means = []
    for noise in (0.0, 0.2, 0.4):
        env_fn = stackelberg(game="test-ood", observation_noise=noise)
        stats = evaluate(trained(env_fn), env_fn(), episodes=4, seed=0, tasks=game_list)
        # No bonuses: no commitment beats the equilibrium (ties within the game's 1e-6).
        assert np.all(stats.returns <= exact_values(game_list).repeat(4) + 1e-5)
        means.append(stats.per_task_returns().mean())
    assert means[0] == pytest.approx(exact, abs=1e-6)
    assert exact - 0.02 > means[1] > means[2]


@pytest.mark.parametrize("observes", ["actions", "actions+rewards"])
@pytest.mark.parametrize("env_id", ["Mermaide/Stackelberg-v0", "Mermaide/RepeatedStackelberg-v0"])
def test_it_refuses_games_that_hide_the_agent_payoffs(env_id, observes):
    principal = make("stackelberg-lp")
    with pytest.raises(ValueError, match=re.escape(f"principal_observes='actions+payoffs', got "
                                                   f"principal_observes='{observes}'")):
        principal.meta_train(lambda: gym.make(env_id, principal_observes=observes), None, 0, 0)


def test_it_refuses_to_act_before_reading_a_game():
    env = stackelberg()()
    with pytest.raises(ValueError, match="call meta_train"):
        make("stackelberg-lp").act(env.reset(seed=0)[0], None)


def test_it_refuses_other_action_spaces_and_games():
    rescaled = lambda: gym.wrappers.RescaleAction(stackelberg()(), np.float32(-2), np.float32(2))  # noqa: E731
    with pytest.raises(ValueError, match=r"action_space must be a Box of shape \(7,\) in "
                                         r"\[0, 1\] \(action_type='weights'\) or in \[-1, 1\] "
                                         r"\(action_type='logits'\), or the Discrete menu of a "
                                         r"CommitmentGrid, got action_space=Box\(-2.0, 2.0"):
        make("stackelberg-lp").meta_train(rescaled, None, 0, 0)
    with pytest.raises(ValueError, match="env must be a matrix game"):
        make("stackelberg-lp").meta_train(lambda: gym.make("Mermaide/Bandit-v0"), None, 0, 0)
    with pytest.raises(ValueError, match=r"tie_tolerance must be >= 0, got -1"):
        make("stackelberg-lp", tie_tolerance=-1)


def test_it_refuses_observations_of_another_game():
    principal = trained(stackelberg())
    obs = stackelberg(game=game_population("train", (2, 4)))().reset(seed=0)[0]
    with pytest.raises(ValueError, match=r"obs must have shape \(31,\)"):
        principal.act(obs, None)


def test_adapt_changes_nothing():
    env_fn = stackelberg(game="test-ood", observation_noise=0.2)
    principal = trained(env_fn)
    game = games(1, seed=6)[0]
    zero = evaluate(principal, env_fn(), episodes=3, seed=1, tasks=[game])
    principal.adapt(env_fn(), 2)
    again = evaluate(principal, env_fn(), episodes=3, seed=1, tasks=[game])
    np.testing.assert_array_equal(zero.returns, again.returns)


@pytest.mark.parametrize("grid", [False, True])
def test_save_and_load_keep_its_actions(tmp_path, grid):
    base = stackelberg(game="test-ood", action_type="weights", observation_noise=0.1)
    env_fn = (lambda: CommitmentGrid(base(), resolution=5)) if grid else base
    principal = make("stackelberg-lp", tie_tolerance=1e-7)
    principal.meta_train(env_fn, None, 0, seed=0)
    path = str(tmp_path / "lp.json")
    principal.save(path)
    json.loads(open(path).read())  # plain JSON
    twin = make("stackelberg-lp")
    twin.load(path)
    assert twin.config == principal.config and twin.layout == principal.layout
    env = env_fn()
    for seed in range(3):
        obs = env.reset(seed=seed)[0]
        np.testing.assert_array_equal(twin.act(obs, None)[0], principal.act(obs, None)[0])
    make("none").save(path)
    with pytest.raises(ValueError, match="does not hold a 'stackelberg-lp' principal"):
        twin.load(path)


def test_one_episode_through_run_episode():
    game = MatrixGame(np.array([[1.0, 3.0], [0.0, 2.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    env_fn = stackelberg(game=game)
    total, _, used, _ = run_episode(trained(env_fn), env_fn(), seed=0)
    # Mixing 1/2 on each row makes the agent indifferent; ties go to the principal: 2.5.
    assert total == pytest.approx(2.5, abs=1e-6) and used == 0
