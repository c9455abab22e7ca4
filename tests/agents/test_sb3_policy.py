"""An SB3 policy as an agent: "sb3:<Algorithm>" in make, AgentSpec, LearnerFamily and the games."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, PPO

import mermaide
from mermaide.agents import (
    AgentPopulation,
    AgentSpec,
    LearnerFamily,
    SB3Policy,
    is_learner_name,
    make,
)
from mermaide.agents.sb3_policy import load_model
from mermaide.envs import (
    as_agent_env,
    as_principal_env,
    bandit_parallel,
    repeated_stackelberg_parallel,
)
from mermaide.envs.games import classic_game
from tests.sb3_training import HORIZON, SPEC, no_bonus, trained_agent

gym.register_envs(mermaide)

# The agent's best arm is 2; the principal's target is arm 0.
SPEC_REWARDS = list(SPEC.rewards)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A PPO agent trained inside the two-player bandit game against a principal that never
    pays a bonus, saved to a file."""
    path = tmp_path_factory.mktemp("sb3") / "agent.zip"
    trained_agent("no_bonus").save(path)
    return path


def sb3_spec(path: Path, **params) -> AgentSpec:
    return AgentSpec("sb3:PPO", {"path": str(path), "horizon": HORIZON, **params}, SPEC_REWARDS,
                     target=0)


def best_arm_rate(env: gym.Env, episodes: int = 10) -> float:
    env.reset(seed=0)
    picks = []
    for _ in range(episodes):
        done = False
        while not done:
            _, _, done, _, info = env.step(0)  # the principal never intervenes
            picks.append(info["agent_action"] == 2)
        env.reset()
    return float(np.mean(picks))


def test_sb3_names_are_learner_names_through_the_prefix_registry(trained: Path) -> None:
    assert is_learner_name("sb3:PPO") and is_learner_name("sb3:DQN")
    assert not is_learner_name("ppo")
    learner = make("sb3:PPO", path=str(trained), horizon=HORIZON)
    assert isinstance(learner, SB3Policy) and learner.feedback == "bandit"
    LearnerFamily("sb3:PPO", {"path": str(trained), "horizon": HORIZON})  # accepted
    with pytest.raises(KeyError, match="sb3:<name>"):
        make("nope")


def test_bad_sb3_parameters_are_refused_clearly(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs path="):
        make("sb3:PPO", horizon=HORIZON)
    with pytest.raises(ValueError, match="needs horizon="):
        make("sb3:PPO", path=str(trained))
    with pytest.raises(ValueError, match="algorithm must name a stable-baselines3 algorithm"):
        make("sb3:NotAnAlgorithm", path=str(trained), horizon=HORIZON)
    with pytest.raises(ValueError, match="no such file"):
        make("sb3:PPO", path=str(tmp_path / "missing.zip"), horizon=HORIZON)
    with pytest.raises(ValueError, match="horizon must be a number >= 1"):
        make("sb3:PPO", path=str(trained), horizon=0).reset(1, 3, np.random.default_rng(0))
    learner = make("sb3:PPO", path=str(trained), horizon=HORIZON)
    with pytest.raises(ValueError, match="a game with 4 actions needs shape \\(6,\\)"):
        learner.reset(2, 4, np.random.default_rng(0))


def test_the_learner_feeds_the_policy_what_the_two_player_game_shows_the_agent(
        trained: Path) -> None:
    env = bandit_parallel(n_arms=3, horizon=HORIZON,
                          agent=AgentSpec("ucb", {}, SPEC_REWARDS, target=0))
    obs, _ = env.reset(seed=0)
    learner = make("sb3:PPO", path=str(trained), horizon=HORIZON, deterministic=True)
    learner.reset(1, 3, np.random.default_rng(0))
    policy = learner.model.policy
    for t in range(HORIZON):
        np.testing.assert_array_equal(learner.observation()[0], obs["agent"])
        # The policy's most likely action on the game's observation of the agent...
        with torch.no_grad():
            probabilities = policy.get_distribution(
                policy.obs_to_tensor(obs["agent"][None])[0]).distribution.probs
        # ...is what the learner plays after living through the same history.
        assert learner.act(np.random.default_rng(t))[0] == int(probabilities.argmax())
        action = [2, 0, 1][t % 3]  # off-policy actions, so the history is not trivial
        obs, rewards, *_ = env.step({"principal": t % 4, "agent": action})
        learner.update(np.array([action]), np.array([rewards["agent"]]))


def test_an_sb3_agent_spec_plays_inside_the_gymnasium_bandit_like_the_trained_policy(
        trained: Path) -> None:
    env = gym.make("Mermaide/Bandit-v0", n_arms=3, horizon=HORIZON, agent=sb3_spec(trained))
    # Chance is 1/3; the trained policy picks its best arm almost always.
    assert best_arm_rate(env) > 0.8
    greedy = gym.make("Mermaide/Bandit-v0", n_arms=3, horizon=HORIZON,
                      agent=sb3_spec(trained, deterministic=True))
    assert best_arm_rate(greedy) > 0.95


def test_sb3_agents_are_seeded_by_the_game(trained: Path) -> None:
    def actions(seed: int) -> list[int]:
        env = gym.make("Mermaide/Bandit-v0", n_arms=3, horizon=HORIZON, agent=sb3_spec(trained))
        env.reset(seed=seed)
        return [env.step(0)[4]["agent_action"] for _ in range(HORIZON)]

    assert actions(5) == actions(5)


def test_sb3_agents_join_populations_and_vector_envs(trained: Path) -> None:
    mixed = AgentPopulation(
        (LearnerFamily("sb3:PPO", {"path": str(trained), "horizon": HORIZON}),
         LearnerFamily("ucb", {"beta": 0.5})),
        n_arms=3, rewards=tuple(SPEC_REWARDS), target=0)
    env = gym.make_vec("Mermaide/Bandit-v0", num_envs=8, vectorization_mode="vector_entry_point",
                       n_arms=3, horizon=HORIZON, agent=mixed)
    env.reset(seed=0)
    kinds = np.array([spec.learner for spec in env.unwrapped.core.specs])
    assert set(kinds) == {"sb3:PPO", "ucb"}
    picks = np.array([env.step(np.zeros(8, dtype=np.int64))[4]["agent_action"]
                      for _ in range(HORIZON)])
    assert np.mean(picks[:, kinds == "sb3:PPO"] == 2) > 0.8


def test_models_are_loaded_once_per_file_version(trained: Path, tmp_path: Path) -> None:
    assert load_model("PPO", trained) is load_model("PPO", str(trained)[:-len(".zip")])
    copy = tmp_path / "copy.zip"
    copy.write_bytes(trained.read_bytes())
    first = load_model("PPO", copy)
    os.utime(copy, ns=(0, os.stat(copy).st_mtime_ns + 10**9))
    assert load_model("PPO", copy) is not first


def test_a_loaded_model_can_be_the_fixed_agent_of_the_principal_view(trained: Path) -> None:
    env = as_principal_env(bandit_parallel(n_arms=3, horizon=HORIZON,
                                           agent=AgentSpec("ucb", {}, SPEC_REWARDS, target=0)),
                           PPO.load(trained, device="cpu"))
    assert best_arm_rate(env) > 0.8


def test_value_based_models_act_greedily(tmp_path: Path) -> None:
    env = as_agent_env(bandit_parallel(n_arms=3, horizon=HORIZON), no_bonus)
    DQN("MlpPolicy", env, seed=0, device="cpu").save(tmp_path / "dqn.zip")
    learner = make("sb3:DQN", path=str(tmp_path / "dqn.zip"), horizon=HORIZON)
    learner.reset(4, 3, np.random.default_rng(0))
    learner.update(np.array([0, 1, 2, 0]), np.array([0.5, -1.0, 2.0, 0.0]))
    expected, _ = learner.model.predict(learner.observation(), deterministic=True)
    for seed in range(3):
        np.testing.assert_array_equal(learner.act(np.random.default_rng(seed)), expected)


def test_an_sb3_agent_plays_the_repeated_stackelberg_game(tmp_path: Path) -> None:
    # Trained as the agent against commitment to row 0 (where B = [1, 0]), saved, then named
    # as the learner of a MatrixGame in the Gymnasium form of the game.
    torch.set_num_threads(1)
    game = repeated_stackelberg_parallel(game="commitment", agent="hedge", horizon=HORIZON)
    row_0 = game.encode_action([1.0, 0.0])
    model = PPO("MlpPolicy", as_agent_env(game, lambda obs, rng: row_0), n_steps=256,
                batch_size=64, seed=0, device="cpu")
    model.learn(2048)
    model.save(tmp_path / "stackelberg_agent.zip")
    matrix_game = classic_game("commitment", learner="sb3:PPO",
                               params={"path": str(tmp_path / "stackelberg_agent.zip"),
                                       "horizon": HORIZON})
    env = gym.make("Mermaide/RepeatedStackelberg-v0", game=matrix_game, horizon=HORIZON)
    env.reset(seed=0)
    actions = [env.step(row_0)[4]["agent_action"] for _ in range(HORIZON)]
    assert np.mean(np.array(actions) == 0) > 0.8  # chance is 1/2
