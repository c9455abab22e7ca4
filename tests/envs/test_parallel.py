"""What the PettingZoo forms share (``mermaide.envs.parallel``): the module's example, the agent's
own view, the episode's end for both players, and the checks of player names and actions."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo import ParallelEnv

from mermaide.envs import bandit_parallel, repeated_stackelberg_parallel
from mermaide.envs.games import classic_game

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming ("player_0") and on equal observation sizes does not fit a
    # principal-agent game, whose two players are different by design.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes")


def test_the_issue_example_runs() -> None:
    env = bandit_parallel(n_arms=10, horizon=200)
    assert isinstance(env, ParallelEnv)
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == {"principal", "agent"} == set(env.agents)
    actions = {a: env.action_space(a).sample() for a in env.agents}
    obs, rewards, terms, truncs, infos = env.step(actions)
    for result in (obs, rewards, terms, truncs, infos):
        assert set(result) == {"principal", "agent"}
    assert env.metadata["name"] == "mermaide_bandit_v0"


def test_the_agent_sees_its_own_action_its_reward_with_the_bonus_and_time_left(
        ucb_agent, play) -> None:
    env = bandit_parallel(n_arms=4, horizon=4, agent=ucb_agent, reward_noise=0.0, bonus=0.5)
    obs, infos = env.reset(seed=1)
    np.testing.assert_array_equal(obs["agent"], [0, 0, 0, 0, 0, 1])
    assert infos["agent"] == {}
    obs, rewards, *_ = play(env, 1, 0)  # bonus on arm 0, agent on arm 0
    np.testing.assert_allclose(obs["agent"], [1, 0, 0, 0, 0.2 + 0.5, 0.75], rtol=1e-6)
    assert rewards["agent"] == pytest.approx(0.7)
    obs, rewards, _, _, infos = play(env, 1, 2)  # bonus on arm 0, agent on arm 2: no bonus
    np.testing.assert_allclose(obs["agent"], [0, 0, 1, 0, 0.4, 0.5], rtol=1e-6)
    assert rewards["agent"] == pytest.approx(0.4)
    assert infos["agent"] == {}
    obs, rewards, *_ = play(env, 0, 1)
    np.testing.assert_allclose(obs["agent"], [0, 1, 0, 0, 0.9, 0.25], rtol=1e-6)


def test_the_agent_view_does_not_depend_on_what_the_principal_is_allowed_to_see(
        ucb_agent, play) -> None:
    views = []
    for extra in ({}, {"observation_noise": 1.0, "principal_observes": "actions+rewards"}):
        env = bandit_parallel(n_arms=4, horizon=10, agent=ucb_agent, reward_noise=0.0, **extra)
        env.reset(seed=3)
        views.append([play(env, t % 5, t % 4)[0]["agent"] for t in range(10)])
    np.testing.assert_array_equal(views[0], views[1])


def test_the_episode_ends_for_both_players_after_the_horizon(play) -> None:
    env = bandit_parallel(n_arms=4, horizon=3)
    env.reset(seed=0)
    for t in range(3):
        assert env.agents == ["principal", "agent"]
        _, _, terms, truncs, _ = play(env, 0, 0)
        assert terms == {"principal": t == 2, "agent": t == 2}
        assert truncs == {"principal": False, "agent": False}
    assert env.agents == []
    assert set(env.game_info) >= {"target_rate", "episode_cost"}
    with pytest.raises(RuntimeError, match="after the episode ended"):
        play(env, 0, 0)


def test_bad_actions_are_refused_with_a_clear_error(play) -> None:
    env = bandit_parallel(n_arms=4, horizon=3)
    with pytest.raises(RuntimeError, match="before reset"):
        play(env, 0, 0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="actions must map each of"):
        env.step({"principal": 0})
    with pytest.raises(ValueError, match="action of 'agent' must be in Discrete\\(4\\)"):
        play(env, 0, 4)
    with pytest.raises(ValueError, match="action of 'principal' must be in Discrete\\(5\\)"):
        play(env, 5, 0)
    with pytest.raises(ValueError, match="agent must be one of"):
        env.action_space("player_0")


def test_a_float64_commitment_is_accepted_and_out_of_range_ones_refused() -> None:
    env = repeated_stackelberg_parallel(game="commitment", horizon=3)
    env.reset(seed=0)
    action = env.encode_action([0.25, 0.75]).astype(np.float64)
    env.step({"principal": action, "agent": 1})
    assert env.game_info["strategy"] == pytest.approx([0.25, 0.75])
    with pytest.raises(ValueError, match="action of 'principal' must be in Box"):
        env.step({"principal": action * 2, "agent": 1})
    with pytest.raises(ValueError, match="action of 'principal' must be in Box"):
        env.step({"principal": action[:3], "agent": 1})
    with pytest.raises(ValueError, match="2x2 MatrixGame"):
        env.reset(options={"game": classic_game("commitment").A})
