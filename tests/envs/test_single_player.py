"""Single-player views: Gymnasium's checker, every kind of fixed side, SB3 PPO learning to be
the agent inside the bandit game, and the one-step views of the one-round Stackelberg game."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from mermaide.agents import AgentSpec, make
from mermaide.envs import (
    StackelbergEnv,
    as_agent_env,
    as_principal_env,
    repeated_stackelberg_parallel,
    stackelberg_aec,
)
from mermaide.envs.games import classic_game
from tests.sb3_training import bonus_on_arm_0, game, no_bonus, trained_agent

pytestmark = pytest.mark.filterwarnings("ignore:.*Not able to test alternative render modes")


class CountingPrincipal:
    """A principal with the Principal seam's ``act(obs, state) -> (action, state)``: pays the
    bonus on the target every other step, counting steps in its state."""

    def act(self, obs, state):
        state = 0 if state is None else state + 1
        return (1 if state % 2 == 0 else 0), state


@pytest.mark.parametrize("principal", [no_bonus, CountingPrincipal(), "ucb"])
def test_the_agent_view_passes_gymnasiums_and_sb3s_checkers(principal) -> None:
    check_env(as_agent_env(game(), principal))
    sb3_check_env(as_agent_env(game(), principal))


@pytest.mark.parametrize("agent", [None, "thompson", make("exp3"), lambda obs, rng: 2])
def test_the_principal_view_passes_gymnasiums_and_sb3s_checkers(agent) -> None:
    check_env(as_principal_env(game(principal_observes="actions+rewards"), agent))
    sb3_check_env(as_principal_env(game(principal_observes="actions+rewards"), agent))


def late_target_rate(env, principal_action: int, episodes: int = 10) -> float:
    """How often the agent picks the target in the second half of its episodes."""
    env.reset(seed=0)
    hits = []
    for _ in range(episodes):
        done = False
        episode = []
        while not done:
            _, _, done, _, info = env.step(principal_action)
            episode.append(info["target_hit"])
        hits += episode[len(episode) // 2:]
        env.reset()
    return float(np.mean(hits))


def test_the_principal_view_plays_the_spec_learner_which_learns_from_the_bonus() -> None:
    env = as_principal_env(game(horizon=100))
    # Left alone, the epsilon-greedy agent settles on its best arm, not on the target...
    assert late_target_rate(env, 0) < 0.2
    # ...while a bonus of 1 on the target (0.1 + 1 > 0.9) moves it there once it has tried it.
    assert late_target_rate(env, 1) > 0.8


def test_a_principal_objects_state_starts_afresh_each_episode() -> None:
    env = as_agent_env(game(horizon=4, reward_noise=0.0), CountingPrincipal())
    for _ in range(2):
        env.reset(seed=0)
        interventions = [env.step(0)[4]["intervened"] for _ in range(4)]
        assert interventions == [True, False, True, False]


def test_a_fixed_learner_learns_online_from_its_own_reward() -> None:
    # Played as the agent, UCB must end up on its best arm (2) when nobody pays a bonus.
    env = as_principal_env(game(horizon=200, reward_noise=0.0), "ucb")
    env.reset(seed=0)
    actions = [env.step(0)[4]["agent_action"] for _ in range(200)]
    assert np.mean(np.array(actions[-100:]) == 2) > 0.9


def test_the_views_are_reproducible_from_the_seed() -> None:
    def trajectory(seed: int) -> list[int]:
        env = as_principal_env(game(observation_noise=0.2), "thompson")
        env.reset(seed=seed)
        return [env.step(t % 4)[4]["agent_action"] for t in range(20)]

    assert trajectory(3) == trajectory(3)
    assert trajectory(3) != trajectory(4)


def test_bad_fixed_sides_and_actions_are_refused() -> None:
    with pytest.raises(ValueError, match="the fixed side must be a callable"):
        as_agent_env(game(), 42)
    with pytest.raises(ValueError, match="the fixed side must be a callable"):
        as_agent_env(game(), None)  # only the agent side has a default (the spec's learner)
    with pytest.raises(ValueError, match="bandit-feedback learner"):
        as_principal_env(game(), "hedge")
    env = as_principal_env(game(agent=AgentSpec("hedge", {}, [0.1, 0.5, 0.9], target=0)))
    with pytest.raises(ValueError, match="bandit-feedback learner"):
        env.reset(seed=0)  # the episode's own learner is known only once it is drawn
    with pytest.raises(ValueError, match="env must be a two-player game"):
        as_agent_env(object(), no_bonus)
    env = as_agent_env(game(), no_bonus)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be in Discrete\\(3\\)"):
        env.step(3)


# --- SB3 PPO learns to be the agent (the behaviour test) ------------------------------

def arm_rates(model: PPO, principal, episodes: int = 20) -> np.ndarray:
    """How often the trained agent picks each arm, sampling from its policy."""
    env = as_agent_env(game(), principal)
    counts = np.zeros(3)
    obs, _ = env.reset(seed=123)
    for _ in range(episodes):
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=False)
            obs, _, done, _, info = env.step(action)
            counts[info["agent_action"]] += 1
        obs, _ = env.reset()
    return counts / counts.sum()


def test_ppo_trained_as_the_agent_learns_to_prefer_its_best_arm() -> None:
    before = arm_rates(PPO("MlpPolicy", as_agent_env(game(), no_bonus), seed=0, device="cpu"),
                       no_bonus)
    rates = arm_rates(trained_agent("no_bonus"), no_bonus)
    chance = 1 / 3
    assert before[2] < chance + 0.1  # an untrained policy is near chance
    assert rates[2] > 0.7 > chance + 0.3


def test_ppo_trained_against_a_large_bonus_on_another_arm_prefers_that_arm() -> None:
    # The principal pays a bonus of 1 on arm 0 every step: 0.1 + 1 beats the best arm's 0.9.
    rates = arm_rates(trained_agent("bonus_on_arm_0"), bonus_on_arm_0)
    assert rates[0] > 0.7
    assert rates[0] > rates[2]


# --- the repeated Stackelberg game ------------------------------------------------------------


def test_both_views_of_the_repeated_stackelberg_game_pass_gymnasiums_checker() -> None:
    game = repeated_stackelberg_parallel(game="commitment", agent="hedge", horizon=10)
    commit_to_row_0 = game.encode_action([1.0, 0.0])
    check_env(as_agent_env(game, lambda obs, rng: commit_to_row_0))
    check_env(as_principal_env(repeated_stackelberg_parallel(game="commitment", agent="exp3",
                                                             horizon=10)))


def test_the_stackelberg_principal_view_plays_the_games_learner() -> None:
    # Against commitment to row 0, where B = [1, 0], Exp3 must learn to answer with action 0.
    env = as_principal_env(repeated_stackelberg_parallel(game="commitment", agent="exp3",
                                                         horizon=300))
    env.reset(seed=0)
    commit_to_row_0 = env.env.encode_action([1.0, 0.0])
    actions = [env.step(commit_to_row_0)[4]["agent_action"] for _ in range(300)]
    assert np.mean(np.array(actions[-100:]) == 0) > 0.8


def test_the_follower_cannot_be_the_fixed_agent_of_the_simultaneous_game() -> None:
    env = as_principal_env(repeated_stackelberg_parallel(game="commitment", agent="follower"))
    with pytest.raises(ValueError, match="cannot play the simultaneous two-player form"):
        env.reset(seed=0)
    with pytest.raises(ValueError, match="a learner can only play a Discrete action space"):
        as_agent_env(repeated_stackelberg_parallel(), "ucb")


def test_an_sb3_principal_with_continuous_commitments_can_be_the_fixed_side() -> None:
    def principal_view():
        return as_principal_env(repeated_stackelberg_parallel(game="commitment", agent="hedge",
                                                              horizon=10))

    principal = PPO("MlpPolicy", principal_view(), seed=0, device="cpu")  # Box actions
    check_env(as_agent_env(repeated_stackelberg_parallel(game="commitment", horizon=10),
                           principal))

    def commitments(seed: int) -> list:
        env = as_agent_env(repeated_stackelberg_parallel(game="commitment", horizon=10),
                           principal)
        env.reset(seed=seed)
        return [env.step(0)[4]["strategy"][0] for _ in range(10)]

    assert commitments(1) == commitments(1) != commitments(2)
    with pytest.raises(ValueError, match="trained on observations of shape"):
        as_agent_env(game(), principal)


def principal_results(model: PPO, episodes: int = 10) -> tuple[float, float]:
    """(target rate, mean episode return) of a principal model against a fixed UCB agent."""
    env = as_principal_env(game(), "ucb")
    obs, _ = env.reset(seed=123)
    hits, total = [], 0.0
    for _ in range(episodes):
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=False)
            obs, reward, done, _, info = env.step(action)
            hits.append(info["target_hit"])
            total += reward
        obs, _ = env.reset()
    return float(np.mean(hits)), total / episodes


def test_ppo_trained_as_the_principal_learns_to_steer_a_fixed_ucb_agent() -> None:
    torch.set_num_threads(1)
    model = PPO("MlpPolicy", as_principal_env(game(), "ucb"), n_steps=256, batch_size=64,
                seed=0, device="cpu")
    rate_before, return_before = principal_results(model)
    model.learn(4096)
    rate, episode_return = principal_results(model)
    # Left alone, UCB settles on its best arm 2; paying the bonus on the target arm 0 (cost
    # 0.1 for a reward of 1 when the agent takes it) is what the principal must learn.
    assert rate_before < 0.2
    assert rate > rate_before + 0.25
    assert episode_return > return_before + 5.0


# --- the one-round Stackelberg game: one step per episode -------------------------------------


COMMITMENT = classic_game("commitment")  # B = identity: the follower plays the likelier row


def random_commitment(obs, rng):
    return stackelberg_aec(game="commitment").unwrapped.encode_action(rng.dirichlet([1, 1]))


def exact_follower(obs, rng):
    return int(np.argmax(obs[:2] @ COMMITMENT.B + obs[2:]))


def test_both_views_pass_gymnasiums_checker_and_last_one_step() -> None:
    agent_view = as_agent_env(stackelberg_aec(game="commitment"), random_commitment)
    principal_view = as_principal_env(stackelberg_aec(game="commitment"), exact_follower)
    for view in (agent_view, principal_view):
        check_env(view, skip_render_check=True)
    obs, _ = agent_view.reset(seed=0)
    assert obs[:2].sum() == pytest.approx(1.0)  # the fixed principal has already committed
    _, reward, terminated, truncated, info = agent_view.step(0)
    assert terminated and not truncated and info["agent_action"] == 0
    assert reward == pytest.approx(obs[:2] @ COMMITMENT.B[:, 0])
    with pytest.raises(RuntimeError, match="before reset"):
        agent_view.step(0)


def test_the_principal_view_against_the_exact_follower_replays_the_gymnasium_form() -> None:
    view = as_principal_env(stackelberg_aec(game="commitment"), exact_follower)
    gym_env = StackelbergEnv(game="commitment")
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = gym_env.encode_action(rng.dirichlet([1, 1]))
        view.reset(seed=1)
        gym_env.reset(seed=1)
        _, reward, terminated, _, info = view.step(action)
        _, gym_reward, _, _, gym_info = gym_env.step(action)
        assert terminated and reward == pytest.approx(gym_reward)
        assert info["agent_action"] == gym_info["agent_action"]


def test_the_principal_view_needs_an_agent_policy() -> None:
    with pytest.raises(ValueError, match="agent_policy is required"):
        as_principal_env(stackelberg_aec())


def test_ppo_trained_as_the_follower_learns_to_best_respond() -> None:
    # The principal commits to a random x each round; the follower's best answer is the row x
    # favours. Untrained PPO answers it about half the time; after 4,096 rounds, nearly always.
    def best_response_rate(model: PPO, rounds: int = 300) -> float:
        view = as_agent_env(stackelberg_aec(game="commitment"), random_commitment)
        obs, _ = view.reset(seed=123)
        hits = 0
        for _ in range(rounds):
            action, _ = model.predict(obs, deterministic=True)
            hits += int(action) == exact_follower(obs, None)
            obs, _ = view.reset()
        return hits / rounds

    torch.manual_seed(0)
    view = as_agent_env(stackelberg_aec(game="commitment"), random_commitment)
    model = PPO("MlpPolicy", view, n_steps=256, batch_size=64, seed=0, device="cpu")
    before = best_response_rate(model)
    model.learn(4096)
    after = best_response_rate(model)
    assert before < 0.7 and after > 0.9, (before, after)
