"""The Stackelberg POMDP's economic-design games (``mermaide.envs.message_games`` and their
core in ``mermaide.envs.stackelberg_pomdp``): exact optima, exact expectations over types and
messages, the followers' response replayed, the commitment per message profile, the forms."""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test, seed_test

import mermaide  # noqa: F401  (registers the ids)
from mermaide.envs import (
    StackelbergPOMDPParallelEnv,
    preset_values,
    stackelberg_pomdp_aec,
    stackelberg_pomdp_parallel,
)
from mermaide.envs.message_games import (
    MESSAGE_GAMES,
    PI_PRIORS,
    PI_VALUES,
    MessageGame,
    message_game,
    message_game_values,
)
from mermaide.envs.stackelberg_pomdp import MessagePOMDPParallelEnv
from mermaide.principal import make

ENV_ID = "Mermaide/StackelbergPOMDP-v0"


def play(env: Any, table: np.ndarray, seed: int = 0) -> tuple[list[float], list[dict]]:
    """A whole episode committing to ``table[signal]`` at every signal."""
    obs, _ = env.reset(seed=seed)
    rewards, infos, done = [], [], False
    while not done:
        obs, reward, done, truncated, info = env.step(table[obs["signal"]].astype(np.float32))
        assert not truncated
        rewards.append(reward)
        infos.append(info)
    return rewards, infos


def random_strategies(game: MessageGame, rng: np.random.Generator) -> list[np.ndarray]:
    return [rng.dirichlet(np.ones(game.messages), size=(1, k)) for k in game.types]


def random_commitments(game: MessageGame, rng: np.random.Generator) -> np.ndarray:
    if game.name == "simple-allocation":
        return rng.dirichlet(np.ones(3), size=(1, game.signals))
    return rng.random((1, game.signals, 4))


# --- the games and their exact values ---------------------------------------------------------


@pytest.mark.parametrize("messages", [1, 2, 3, 4])
def test_simple_allocation_is_worth_one_item_per_message_up_to_three(messages):
    values = message_game_values(message_game("simple-allocation", messages))
    assert values.mixed == pytest.approx(min(messages, 3) / 3)
    assert values.pure == values.mixed


def spm_outcome(order: tuple[int, int], p1: float, p2: float, v: tuple[float, float]
                ) -> tuple[float, list[float]]:
    """The posted-price mechanism by hand: (allocated value - best value, buyer utilities)."""
    first, second = order
    utilities = [0.0, 0.0]
    if v[first] - p1 > 0:
        utilities[first] = v[first] - p1
        return v[first] - max(v), utilities
    if v[second] - p2 > 0:
        utilities[second] = v[second] - p2
        return v[second] - max(v), utilities
    return -max(v), utilities


def test_the_posted_price_mechanism_is_scored_as_by_hand():
    game = message_game("spm-pi", 1)
    rng = np.random.default_rng(0)
    for action in [*rng.random((50, 4)), [0.5, 0.5, 0.2, 0.0], [0.0, 1.0, 0.4, 0.2]]:
        leader, followers = game.payoffs(np.array(action)[None, None])
        order = (1, 0) if action[1] > action[0] else (0, 1)  # buyer 0 first on ties
        for t, (k0, k1) in enumerate(itertools.product(range(2), range(2))):
            value, utilities = spm_outcome(order, action[2], action[3],
                                           (PI_VALUES[0][k0], PI_VALUES[1][k1]))
            assert leader[0, 0, t] == pytest.approx(value)
            assert followers[0, :, 0, t] == pytest.approx(utilities)


def test_the_message_free_mechanism_loses_exactly_006_on_any_price_grid():
    """The representative prices find the best message-free mechanism: a fine grid of prices
    finds nothing better (buyer 1 first below 0.4, then buyer 0 below 0.2)."""
    assert message_game_values(message_game("spm-pi", 1)).mixed == pytest.approx(-0.06)
    game = message_game("spm-pi", 1)
    prices = np.linspace(0.0, 1.0, 41)
    grid = np.array([[s, 1 - s, p1, p2] for s in (0.0, 1.0) for p1 in prices for p2 in prices])
    leader, _ = game.payoffs(grid[:, None])
    assert (leader[:, 0] @ game.joint_prior()).max() == pytest.approx(-0.06)


@pytest.mark.parametrize("messages", [2, 3])
def test_messages_make_the_efficient_allocation_an_equilibrium(messages):
    values = message_game_values(message_game("spm-pi", messages))
    assert values.mixed == 0.0
    assert values.reports[0] == (0, 1)  # buyer 0 reports its type


@pytest.mark.parametrize("name", list(MESSAGE_GAMES))
def test_expected_utilities_and_values_sum_over_type_and_message_profiles(name):
    """The exact expectations against a brute-force sum over every profile."""
    game = message_game(name)
    rng = np.random.default_rng(1)
    for _ in range(5):
        strategies, commitments = random_strategies(game, rng), random_commitments(game, rng)
        leader, followers = game.payoffs(commitments)
        utilities = game.follower_utilities(followers, strategies)
        expected = [np.zeros((k, game.messages)) for k in game.types]
        value = 0.0
        profiles = itertools.product(*(itertools.product(range(k), range(game.messages))
                                       for k in game.types))
        for profile in profiles:
            types = [k for k, _ in profile]
            messages = [j for _, j in profile]
            s = int(np.ravel_multi_index(messages, [game.messages] * game.followers))
            t = int(np.ravel_multi_index(types, game.types))
            chance = [game.priors[f][k] * strategies[f][0, k, j]
                      for f, (k, j) in enumerate(profile)]
            value += np.prod(chance) * leader[0, s, t]
            for f, (k, j) in enumerate(profile):
                others = np.prod([c for g, c in enumerate(chance) if g != f])
                expected[f][k, j] += others * followers[0, f, s, t]
        assert game.leader_value(commitments, strategies)[0] == pytest.approx(value)
        for f in range(game.followers):
            np.testing.assert_allclose(utilities[f][0], expected[f], atol=1e-12)
        assert game.profile_probabilities(strategies).sum() == pytest.approx(1.0)
    assert PI_PRIORS[0] @ PI_VALUES[0] == pytest.approx(0.36)


# --- the episode ------------------------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.5, 3.0])
def test_the_allocation_follower_replays_softmax_of_epsilon_t_u(epsilon):
    """One follower: its utilities do not move with its own strategy, so after t sweeps each
    type's weights are softmax(epsilon * t * u) exactly."""
    rng = np.random.default_rng(2)
    table = rng.dirichlet(np.ones(3), size=3)  # (signals = messages, items)
    env = gym.make(ENV_ID, game="simple-allocation", epsilon=epsilon, response_steps=7)
    _, infos = play(env, table)
    played = table.astype(np.float32).astype(np.float64)  # the action as the env reads it
    u = (played / played.sum(axis=1, keepdims=True)).T  # type k, message j: P(item k | j)
    for sweeps in range(8):
        logits = epsilon * sweeps * u
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(infos[3 * sweeps]["follower_strategy"], expected.reshape(-1),
                                   atol=1e-12)


@pytest.mark.parametrize("name", list(MESSAGE_GAMES))
def test_the_optimal_mechanism_teaches_truthful_reports_and_earns_the_optimum(name):
    values = preset_values(name)
    env = gym.make(ENV_ID, game=name, epsilon=20.0, response_steps=40, reward_steps=2)
    rewards, infos = play(env, values.commitments)
    signals = message_game(name).signals
    assert rewards[:40 * signals] == [0.0] * (40 * signals)
    assert infos[-1]["reward_phase_mean"] == pytest.approx(values.mixed, abs=1e-4)
    assert sum(rewards) == pytest.approx(2 * infos[-1]["reward_phase_mean"])


def test_the_basic_pomdp_records_one_sweep_then_plays_the_response_phase_at_once():
    values = preset_values("simple-allocation")
    hidden = gym.make(ENV_ID, game="simple-allocation", epsilon=20.0, response_steps=40,
                      hide_response_phase=True)
    rewards, infos = play(hidden, values.commitments)
    _, shown = play(gym.make(ENV_ID, game="simple-allocation", epsilon=20.0, response_steps=40),
                    values.commitments)
    assert len(rewards) == 6 and rewards[:3] == [0.0] * 3
    assert [info["reward_phase"] for info in infos] == [False] * 3 + [True] * 3
    np.testing.assert_allclose(infos[-1]["follower_strategy"], shown[-1]["follower_strategy"])
    assert infos[-1]["reward_phase_mean"] == pytest.approx(values.mixed, abs=1e-6)


def test_a_reward_sweep_pays_the_expected_value_against_the_learnt_strategies():
    game = message_game("spm-pi")
    rng = np.random.default_rng(3)
    table = rng.random((game.signals, 4))
    env = gym.make(ENV_ID, game="spm-pi", epsilon=2.0, response_steps=5)
    rewards, infos = play(env, table)
    learnt = infos[-1]["follower_strategy"].reshape(2, 2, 2)
    expected = game.leader_value(table[None], [learnt[:1], learnt[1:]])[0]
    assert sum(rewards[-game.signals:]) == pytest.approx(expected)
    assert infos[-1]["reward_phase_mean"] == pytest.approx(expected)


def test_the_commitment_is_kept_per_message_profile():
    env = gym.make(ENV_ID, game="spm-pi", response_steps=2)
    obs, _ = env.reset(seed=0)
    first = {}
    rng = np.random.default_rng(4)
    done = False
    while not done:
        action = rng.random(4).astype(np.float32)
        signal = int(obs["signal"])
        obs, _, done, _, info = env.step(action)
        if signal in first:
            assert info["deviated"]
            np.testing.assert_allclose(info["commitment"], first[signal])
        else:
            assert not info["deviated"]
            first[signal] = action
    assert sorted(first) == [0, 1, 2, 3]
    strict = gym.make(ENV_ID, game="spm-pi", on_deviation="raise")
    strict.reset(seed=0)
    for _ in range(4):
        strict.step(np.full(4, 0.5, dtype=np.float32))
    with pytest.raises(ValueError, match="keep its commitment"):
        strict.step(np.full(4, 0.25, dtype=np.float32))


@pytest.mark.parametrize("knobs", [dict(game="simple-allocation"),
                                   dict(game=message_game("simple-allocation", 2),
                                        commitment="pure"),
                                   dict(game=message_game("spm-pi", 3), follower="quantal")])
def test_check_env_and_make_vec_play_like_single_envs(knobs):
    check_env(gym.make(ENV_ID, response_steps=3, **knobs).unwrapped, skip_render_check=True)
    vector = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point",
                          response_steps=3, **knobs)
    single = gym.make(ENV_ID, response_steps=3, **knobs)
    obs, _ = vector.reset(seed=0)
    single_obs, _ = single.reset(seed=0)
    single.action_space.seed(5)
    done = False
    while not done:
        action = single.action_space.sample()
        obs, rewards, terminated, _, _ = vector.step(np.stack([action, action]))
        single_obs, reward, done, _, _ = single.step(action)
        assert rewards[0] == rewards[1] == pytest.approx(reward)
        for key, value in single_obs.items():
            np.testing.assert_allclose(obs[key][0], value)
        assert terminated.all() == done




@pytest.mark.parametrize("knobs", [dict(game="simple-allocation"),
                                   dict(game="simple-allocation", commitment="pure"),
                                   dict(game="spm-pi", hide_response_phase=True),
                                   dict(game=message_game("spm-pi", 3), follower="quantal")])
def test_pettingzoo_parallel_api_and_seed_tests_pass(knobs):
    def make():
        return stackelberg_pomdp_parallel(response_steps=3, reward_steps=2, **knobs)

    assert isinstance(make(), MessagePOMDPParallelEnv)
    parallel_api_test(make(), num_cycles=50)
    parallel_seed_test(make, num_cycles=50)
    seed_test(lambda: stackelberg_pomdp_aec(response_steps=3, reward_steps=2, **knobs),
              num_cycles=50)


@pytest.mark.parametrize("name", list(MESSAGE_GAMES))
def test_the_pettingzoo_form_plays_the_gymnasium_episode_with_the_leader_alone(name):
    knobs = dict(game=name, epsilon=5.0, response_steps=4, reward_steps=2)
    parallel = stackelberg_pomdp_parallel(**knobs)
    single = gym.make(ENV_ID, **knobs)
    assert parallel.possible_agents == ["principal"]
    assert parallel.action_space("principal") == single.action_space
    obs, _ = parallel.reset(seed=0)
    single_obs, _ = single.reset(seed=0)
    assert parallel.game_info["stackelberg_value"] == preset_values(name).mixed
    single.action_space.seed(3)
    done = False
    while not done:
        action = single.action_space.sample()
        obs, rewards, terms, truncs, infos = parallel.step({"principal": action})
        single_obs, reward, done, _, info = single.step(action)
        assert rewards == {"principal": pytest.approx(reward)}
        assert terms == {"principal": done} and truncs == {"principal": False}
        for key, value in single_obs.items():
            np.testing.assert_allclose(obs["principal"][key], value)
        assert set(infos["principal"]) == {"signal", "commitment", "deviated"}
        np.testing.assert_allclose(parallel.game_info["follower_strategy"],
                                   info["follower_strategy"])
    assert parallel.game_info["reward_phase_mean"] == pytest.approx(info["reward_phase_mean"])
    assert parallel.agents == []


def test_the_principal_plays_the_message_games():
    for game in MESSAGE_GAMES:
        principal = make("stackelberg-pomdp", episodes_per_batch=4)
        principal.meta_train(lambda game=game: gym.make(ENV_ID, game=game, response_steps=2),
                             None, 200, 0, progress=False)
        env = gym.make(ENV_ID, game=game, response_steps=2)
        obs, _ = env.reset(seed=0)
        action, _ = principal.act(obs, None)
        assert env.action_space.contains(action)


@pytest.mark.parametrize("knobs, message", [
    (dict(game="no-such-game"), "a MessageGame"),
    (dict(game="spm-pi", principal_observes="actions"), "principal_observes"),
    (dict(game="simple-allocation", observation_noise=0.1), "observation_noise"),
    (dict(game="spm-pi", commitment="pure"), "commitment must be 'mixed'"),
])
def test_what_a_message_game_cannot_take_is_refused(knobs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(ENV_ID, **knobs)


def test_bad_message_counts_are_refused():
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match="messages"):
            message_game("spm-pi", bad)
    with pytest.raises(ValueError, match="game"):
        message_game("conitzer")


def test_bad_mechanisms_and_the_wrong_pettingzoo_form_are_refused():
    env = gym.make(ENV_ID, game="spm-pi")
    env.reset(seed=0)
    for bad in ([0.5, 0.5, 1.5, 0.0], [0.5, 0.5, 0.2], [True, False, True, False]):
        with pytest.raises(ValueError, match="actions must be"):
            env.step(np.array(bad))
    with pytest.raises(ValueError, match="mechanism must be"):
        env.unwrapped.encode_action([0.0, 2.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="message game's PettingZoo form is "
                                         "MessagePOMDPParallelEnv"):
        StackelbergPOMDPParallelEnv(game="simple-allocation")
    with pytest.raises(ValueError, match="game must be a message game"):
        MessagePOMDPParallelEnv(game="conitzer")
    one_player = stackelberg_pomdp_parallel(game="spm-pi")
    with pytest.raises(ValueError, match="agent must be 'principal'"):
        one_player.action_space("agent")
    with pytest.raises(RuntimeError, match="before reset"):
        one_player.step({"principal": np.zeros(4)})
    one_player.reset(seed=0)
    with pytest.raises(ValueError, match="actions must map 'principal'"):
        one_player.step({"principal": np.zeros(4), "agent": 0})
    with pytest.raises(ValueError, match="actions must be"):
        one_player.step({"principal": np.full(4, 2.0)})
