"""What the two bilevel games share (``mermaide.envs.bilevel_forms``), checked on both
``Mermaide/StackelbergMarkov-v0`` and ``Mermaide/IncentiveMDP-v0``: the built-in follower is
the soft optimum of the game's white-box model, every form plays the same game, PettingZoo's
own tests pass, an agent answering the soft optimum is the built-in follower, and the
model-free principals train on the Gymnasium form unchanged."""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test, parallel_seed_test

import mermaide  # noqa: F401  (registers the games)
from mermaide.bilevel import DTYPE, occupancy, soft_value_iteration, value_penalty
from mermaide.envs import (
    IncentiveGame,
    IncentiveMDPEnv,
    IncentiveMDPVectorEnv,
    MarkovGame,
    StackelbergMarkovEnv,
    StackelbergMarkovVectorEnv,
    incentive_mdp_parallel,
    stackelberg_markov_parallel,
)
from mermaide.principal import evaluate, make


def commitment_logits(info: dict[str, Any], action: np.ndarray) -> torch.Tensor:
    """The Stackelberg Markov model's x for a played action: log-strategy logits play the
    decoded strategy, whose rows are distributions."""
    strategy = torch.tensor(info["strategy"])
    np.testing.assert_allclose(strategy.sum(-1).numpy(), 1.0, rtol=1e-12)
    return torch.log(strategy)


def leader_value_range(env: Any, mdp: Any, policy: torch.Tensor) -> tuple[float, float]:
    """The leader's value lies between its worst and best stage payoff."""
    payoffs = env.game.leader_payoffs
    return payoffs.min(), payoffs.max()


def offered_incentives(info: dict[str, Any], action: np.ndarray) -> torch.Tensor:
    """The incentive model's x for a played action: the offer per (state, move)."""
    return torch.tensor(action, dtype=DTYPE).reshape(-1, 4)


def principal_value_range(env: Any, mdp: Any, policy: torch.Tensor) -> tuple[float, float]:
    """The principal's value lies between its worst and best cell reward, less what it paid
    (the follower's reward with the incentives less its own, at unit cost, normalised)."""
    game = env.game
    visits = occupancy(mdp, policy)
    paid = 0.1 * float((visits * mdp.rewards).sum()) - 0.1 * float(
        (visits * torch.tensor(game.follower_rewards)).sum())
    return game.principal_rewards.min() - paid, game.principal_rewards.max() - paid


@dataclass(frozen=True)
class Game:
    """One bilevel game's forms, small knobs for them, a game of the knobs' shape from a
    generator, a commitment to play, and how to read its model's x and value range."""

    env_id: str
    knobs: dict[str, Any]
    single: type
    vector: type
    parallel: Callable[..., Any]
    draw: Callable[[np.random.Generator], Any]
    commitment: list[float]
    model_x: Callable[[dict[str, Any], np.ndarray], torch.Tensor]
    value_range: Callable[[Any, Any, torch.Tensor], tuple[float, float]]


GAMES = [
    pytest.param(Game("Mermaide/StackelbergMarkov-v0", {}, StackelbergMarkovEnv,
                      StackelbergMarkovVectorEnv, stackelberg_markov_parallel,
                      lambda rng: MarkovGame.random(3, 2, 2, rng),
                      [0.2, 0.8, 0.5, 0.5, 1.0, 0.0], commitment_logits, leader_value_range),
                 id="stackelberg-markov"),
    pytest.param(Game("Mermaide/IncentiveMDP-v0", {"rows": 1, "cols": 2, "instance": 2},
                      IncentiveMDPEnv, IncentiveMDPVectorEnv, incentive_mdp_parallel,
                      lambda rng: IncentiveGame.random(1, 2, 0.1, rng),
                      [0.1, 0.1, 0.1, 0.0, 0.0, 0.0, 0.0, 0.3], offered_incentives,
                      principal_value_range),
                 id="incentive-mdp"),
]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.mark.parametrize("game", GAMES)
@settings(max_examples=20, deadline=None)
@given(data=st.data(), instance=st.integers(0, 50))
def test_the_follower_is_soft_optimal_and_the_value_bounded(game, data, instance):
    env = game.single(instance=instance)
    env.reset()
    size = env.action_space.shape[0]
    action = np.array(data.draw(st.lists(st.floats(0.0, 1.0, width=32), min_size=size,
                                         max_size=size)), dtype=np.float32)
    _, reward, _, _, info = env.step(action)
    policy = torch.tensor(info["policy"])
    np.testing.assert_allclose(policy.sum(-1).numpy(), 1.0, rtol=1e-12)
    # The numpy follower against the torch model's penalty.
    mdp = env.bilevel_model().lower(game.model_x(info, action))
    assert abs(float(value_penalty(mdp, policy))) < 1e-8
    assert info["follower_gap"] == 0.0
    low, high = game.value_range(env, mdp, policy)
    assert low - 1e-9 <= reward <= high + 1e-9


@pytest.mark.parametrize("game", GAMES)
@pytest.mark.parametrize("tau", [1e-6, sys.float_info.min])
def test_a_vanishing_temperature_gives_the_best_response(game, tau):
    """tau -> 0 is the best response: the follower's policy stays a distribution, all its mass
    on the actions of maximal Q*, in the game and in the torch model alike (q / tau used to
    overflow at tau = 2.2e-308: NaN values and a solver that never stopped)."""
    env = game.single(tau=tau, **game.knobs)
    env.reset(seed=0)
    action = np.asarray(game.commitment, dtype=np.float32)
    _, reward, _, _, info = env.step(action)
    policy = info["policy"]
    assert np.isfinite(reward) and np.all(np.isfinite(policy))
    np.testing.assert_allclose(policy.sum(-1), 1.0, rtol=1e-12)
    solution = soft_value_iteration(env.bilevel_model().lower(game.model_x(info, action)))
    np.testing.assert_allclose(policy, solution.policy.numpy(), atol=1e-9)
    q = solution.q.numpy()
    best = q >= q.max(axis=-1, keepdims=True) - 1e-12
    np.testing.assert_allclose((policy * best).sum(-1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("game", GAMES)
def test_make_vec_plays_like_single_envs_and_takes_games(game):
    vector = gym.make_vec(game.env_id, num_envs=3, vectorization_mode="vector_entry_point",
                          **game.knobs)
    assert isinstance(vector.unwrapped, game.vector)
    games = [game.draw(np.random.default_rng(i)) for i in range(3)]
    size = vector.single_action_space.shape[0]
    actions = np.random.default_rng(1).random((3, size)).astype(np.float32)
    obs, _ = vector.reset(seed=0, options={"games": games})
    _, rewards, terminated, _, _ = vector.step(actions)
    assert terminated.all()
    for i, played in enumerate(games):
        single = game.single(**game.knobs)
        single_obs, _ = single.reset(options={"game": played})
        np.testing.assert_array_equal(obs[i], single_obs)
        assert rewards[i] == pytest.approx(single.step(actions[i])[1], rel=1e-12)
    _, rewards, terminated, _, _ = vector.step(actions)  # next-step autoreset
    assert not terminated.any() and np.all(rewards == 0.0)


@pytest.mark.parametrize("game", GAMES)
def test_pettingzoo_parallel_api_and_seed_tests_pass(game):
    parallel_api_test(game.parallel(**game.knobs), num_cycles=20)
    parallel_seed_test(lambda: game.parallel(**game.knobs), num_cycles=20)


@pytest.mark.parametrize("game", GAMES)
def test_an_agent_answering_the_soft_optimum_is_the_built_in_follower(game):
    env = game.parallel(**game.knobs)
    single = game.single(**game.knobs)
    single.reset()
    x = np.array(game.commitment, dtype=np.float32)
    _, reward, _, _, info = single.step(x)
    env.reset(seed=0)
    agent_dim = env.action_space("agent").shape
    obs, rewards, *_ = env.step({"principal": x, "agent": np.zeros(agent_dim, np.float32)})
    assert rewards == {"principal": 0.0, "agent": 0.0} and obs["agent"][0] == 1.0
    answer = info["policy"].ravel().astype(np.float32)
    _, rewards, terms, _, _ = env.step({"principal": x, "agent": answer})
    assert all(terms.values()) and not env.agents
    assert rewards["principal"] == pytest.approx(reward, abs=1e-6)
    assert env.game_info["follower_gap"] == pytest.approx(0.0, abs=1e-6)
    env.reset(seed=0)
    env.step({"principal": x, "agent": answer})
    env.step({"principal": x, "agent": np.ones(agent_dim, np.float32)})
    assert env.game_info["follower_gap"] > 1e-3


@pytest.mark.parametrize("game", GAMES)
@pytest.mark.parametrize("name, kwargs", [
    ("reinforce", {"policy": "mlp", "episodes_per_batch": 32}),
    ("ppo", {"n_steps": 32, "batch_size": 16}),
    ("maml", {"hidden_size": 8, "meta_batch": 2, "query_episodes": 1}),
])
def test_model_free_principals_train_and_play_unchanged(game, name, kwargs):
    principal = make(name, **kwargs)
    principal.meta_train(lambda: gym.make(game.env_id, **game.knobs), None, 256, 0)
    stats = evaluate(principal, gym.make(game.env_id, **game.knobs), episodes=2, seed=0)
    assert np.all(np.isfinite(stats.returns))


@pytest.mark.parametrize("game", GAMES)
def test_mermaide_refuses_a_follower_without_actions_to_model(game):
    """The follower answers with a policy table, not an action per step: the world model of
    ``mermaide`` has nothing to predict, and says so before any training."""
    with pytest.raises(ValueError, match=r"nothing to model.*agent_action_space"):
        make("mermaide").meta_train(lambda: gym.make(game.env_id, **game.knobs), None, 256, 0)
