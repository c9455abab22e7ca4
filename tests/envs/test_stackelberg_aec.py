"""The one-round Stackelberg game in PettingZoo's AEC form: principal commits, agent answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, seed_test
from stable_baselines3 import PPO

from mermaide.envs import (
    StackelbergEnv,
    as_agent_env,
    as_principal_env,
    game_population,
    stackelberg_aec,
)
from mermaide.envs.games import MatrixGame, classic_game

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming ("player_0") and on equal observation sizes does not fit a
    # principal-agent game, whose two players are different by design.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes",
    "ignore:.*Not able to test alternative render modes")

KNOB_SETS = [
    {},
    {"game": "commitment", "intervention_budget": None, "action_type": "logits"},
    {"principal_observes": "actions+payoffs", "observation_noise": 0.2,
     "intervention_budget": 1, "bonus": 2.0},
]


@pytest.mark.parametrize("knobs", KNOB_SETS)
def test_pettingzoo_api_and_seed_tests_pass(knobs: dict) -> None:
    api_test(stackelberg_aec(**knobs), num_cycles=30)
    seed_test(lambda: stackelberg_aec(**knobs), num_cycles=30)


def play_round(env, game: MatrixGame, action: np.ndarray, answer=None, seed: int = 0):
    """One round; the agent answers ``answer(observation)`` (default: the exact follower)."""
    env.reset(seed=seed, options={"game": game})
    assert env.agent_selection == "principal"
    assert np.all(env.observe("agent") == 0.0)
    env.step(action)
    assert env.agent_selection == "agent"
    assert env.rewards == {"principal": 0.0, "agent": 0.0}
    seen = env.observe("agent").copy()
    m = game.shape[0]
    if answer is None:
        answer = lambda obs: int(np.argmax(obs[:m] @ game.B + obs[m:]))  # noqa: E731
    env.step(answer(seen))
    return seen, dict(env.rewards), dict(env.terminations), env.infos["principal"]


@pytest.mark.parametrize("budget", [0, 1])
def test_an_agent_answering_the_best_response_replays_the_gymnasium_form(budget: int) -> None:
    # What the agent sees is enough to be the exact follower: answering argmax(x @ B + posted
    # bonus) gives the principal what Stackelberg-v0 gives it, on games with no ties.
    games = game_population("train").sample_many(10, np.random.default_rng(4))
    rng = np.random.default_rng(5)
    aec = stackelberg_aec(intervention_budget=budget, intervention_cost=0.3)
    gym_env = StackelbergEnv(intervention_budget=budget, intervention_cost=0.3)
    for game in games:
        x = rng.dirichlet(np.ones(3))
        bonus_action = int(rng.integers(3))
        action = gym_env.encode_action(x, bonus_action)
        seen, rewards, terminations, info = play_round(aec, game, action)
        np.testing.assert_allclose(seen[:3], x, atol=1e-6)
        assert list(seen[3:]) == [1.0 * budget if j == bonus_action else 0.0 for j in range(3)]
        gym_env.reset(seed=0, options={"game": game})
        _, reward, terminated, _, gym_info = gym_env.step(action)
        assert terminations == {"principal": True, "agent": True} and terminated
        assert rewards["principal"] == pytest.approx(reward)
        assert rewards["agent"] == pytest.approx(gym_info["agent_reward"])
        assert info["observed_action"] == gym_info["agent_action"]
        assert info["intervened"] == bool(budget) and info["refused"] == (not budget)
        assert info["cost"] == pytest.approx(0.3 * budget)


def test_any_answer_is_paid_at_its_own_payoffs() -> None:
    # The commitment game: committing to (1/2, 1/2) makes the follower indifferent; answering
    # 1 gives the principal its equilibrium value, answering 0 less.
    game = classic_game("commitment")
    env = stackelberg_aec(game="commitment")
    action = env.unwrapped.encode_action([0.5, 0.5])
    for answer in (0, 1):
        _, rewards, _, info = play_round(env, game, action, answer=lambda obs, j=answer: j)
        assert rewards["principal"] == pytest.approx(0.5 * game.A[0, answer]
                                                     + 0.5 * game.A[1, answer])
        assert rewards["agent"] == pytest.approx(0.5 * game.B[0, answer]
                                                 + 0.5 * game.B[1, answer])
        assert info["observed_action"] == answer
    assert env.unwrapped.game_info["equilibrium_value"] == pytest.approx(rewards["principal"])


def test_the_agent_never_sees_the_payoff_matrices() -> None:
    env = stackelberg_aec(principal_observes="actions+payoffs")
    env.reset(seed=0)
    assert env.observation_space("agent").shape == (3 + 3,)
    assert env.observation_space("principal").shape[0] > 2 * 3 * 3  # A and B are the principal's


@pytest.mark.parametrize("bad", [{"intervention_cost": -1.0}, {"bonus": 0.0},
                                 {"action_type": "probabilities"}, {"game": "no-such-game"},
                                 {"principal_observes": "everything"},
                                 {"observation_noise": 2.0}])
def test_the_knobs_are_checked_as_in_the_gymnasium_form(bad: dict) -> None:
    errors = []
    for make in (StackelbergEnv, stackelberg_aec):
        with pytest.raises(ValueError) as caught:
            make(**bad)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_bad_actions_and_options_are_refused_with_a_clear_error() -> None:
    env = stackelberg_aec()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action of 'principal' must be in"):
        env.step(np.full(7, 2.0, dtype=np.float32))
    env.step(env.unwrapped.encode_action([1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="action of 'agent' must be in"):
        env.step(3)
    with pytest.raises(ValueError, match=r"options\['game'\] must be a 3x3 MatrixGame"):
        env.reset(options={"game": classic_game("commitment")})


# --- single-player views: one step per episode -------------------------------------------------

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
