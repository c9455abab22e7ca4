"""The one-round game Mermaide/Stackelberg-v0: its Gymnasium form (API, rules, knobs, the
docs section) and its PettingZoo AEC form (principal commits, agent answers)."""

import inspect
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, seed_test

import mermaide
from mermaide.agents import Uniform
from mermaide.envs import stackelberg_aec
from mermaide.envs.equilibrium import solve
from mermaide.envs.games import (
    GamePopulation,
    MatrixGame,
    classic_game,
    game_population,
    game_population_names,
)
from mermaide.envs.stackelberg import StackelbergEnv

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming ("player_0") and on equal observation sizes does not fit a
    # principal-agent game, whose two players are different by design.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes")


# --- the Gymnasium form -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"game": "commitment"},
        {"game": "test-ood", "principal_observes": "actions+payoffs", "observation_noise": 0.3,
         "intervention_budget": 1},
        {"game": (np.arange(6.0).reshape(2, 3), np.ones((2, 3))), "action_type": "logits",
         "principal_observes": "actions+rewards"},
        {"game": GamePopulation((4, 2), Uniform(-1.0, 1.0)), "tie_break": "adversarial"},
    ],
)
def test_check_env(kwargs):
    check_env(StackelbergEnv(**kwargs), skip_render_check=True)


def test_registered():
    gym.register_envs(mermaide)
    env = gym.make("Mermaide/Stackelberg-v0")
    assert env.action_space.shape == (3 + 3 + 1,)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["equilibrium_value"] == pytest.approx(solve(info["game"].A,
                                                            info["game"].B).value)
    obs, _, terminated, truncated, info = env.step(env.action_space.sample())
    assert terminated and not truncated and env.observation_space.contains(obs)


def rollout(env, seed, episodes=30):
    rng = np.random.default_rng(0)
    trace = []
    env.reset(seed=seed)
    for _ in range(episodes):
        obs, _ = env.reset()
        obs2, reward, _, _, info = env.step(rng.random(env.action_space.shape,
                                                       dtype=np.float32))
        trace.append(np.concatenate([obs, obs2, [reward, info["agent_action"],
                                                 info["observed_action"]]]))
    return np.array(trace)


def test_same_seed_same_trajectory():
    kwargs = dict(game="train", principal_observes="actions+payoffs", observation_noise=0.2,
                  intervention_budget=1)
    a = rollout(gym.make("Mermaide/Stackelberg-v0", **kwargs), 5)
    b = rollout(gym.make("Mermaide/Stackelberg-v0", **kwargs), 5)
    c = rollout(gym.make("Mermaide/Stackelberg-v0", **kwargs), 6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_committing_to_the_solution_earns_the_equilibrium_value():
    env = StackelbergEnv(game="test-ood")
    rng = np.random.default_rng(0)
    for game in game_population("test-ood").sample_many(20, rng):
        _, info = env.reset(seed=0, options={"game": game})
        solution = solve(game.A, game.B)
        assert info["equilibrium_value"] == pytest.approx(solution.value, abs=1e-9)
        _, reward, _, _, info = env.step(env.encode_action(solution.strategy))
        assert info["agent_action"] == solution.response
        assert reward == pytest.approx(solution.value, abs=1e-6)
        assert info["principal_value"] == pytest.approx(info["equilibrium_value"], abs=1e-6)


def test_no_commitment_beats_the_equilibrium_without_bonuses():
    env = StackelbergEnv(game=GamePopulation((3, 4), Uniform(-1.0, 1.0)))
    env.action_space.seed(0)
    for seed in range(300):
        env.reset(seed=seed)
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert info["cost"] == 0.0 and not info["intervened"]
        assert reward <= info["equilibrium_value"] + 1e-9
        x = info["strategy"]
        game_b = info["agent_payoffs"]
        assert game_b[info["agent_action"]] == pytest.approx(game_b.max())
        assert x.sum() == pytest.approx(1.0)


def test_tie_break_conventions_in_the_commitment_game(commitment_matrices):
    game = MatrixGame(*commitment_matrices)
    half = np.array([0.5, 0.5])
    for tie_break, response, value in (("principal", 1, 3.5), ("adversarial", 0, 1.5)):
        env = StackelbergEnv(game=game, tie_break=tie_break)
        env.reset(seed=0)
        _, reward, _, _, info = env.step(env.encode_action(half))
        assert (info["agent_action"], reward) == (response, pytest.approx(value))
    # Under the weak convention the principal approaches the value from inside the region.
    env = StackelbergEnv(game=game, tie_break="adversarial")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.encode_action([0.499, 0.501]))
    assert info["agent_action"] == 1 and reward == pytest.approx(3.499)


def test_bonus_steers_the_agent_and_is_charged(commitment_matrices):
    game = MatrixGame(*commitment_matrices)
    env = StackelbergEnv(game=game, intervention_budget=1, intervention_cost=0.25, bonus=2.0)
    env.reset(seed=0)
    # Committing to row 0 makes the agent play column 0; a bonus on column 1 flips it.
    _, reward, _, _, info = env.step(env.encode_action([1.0, 0.0], bonus_action=1))
    assert info["intervened"] and info["agent_action"] == 1 and info["cost"] == 0.25
    assert reward == pytest.approx(4.0 - 0.25) and info["principal_value"] == 4.0
    default = StackelbergEnv(game=game)  # budget 0: refused, not charged
    default.reset(seed=0)
    _, reward, _, _, info = default.step(default.encode_action([1.0, 0.0], bonus_action=1))
    assert info["refused"] and not info["intervened"] and info["cost"] == 0.0
    assert info["agent_action"] == 0 and reward == 2.0


def test_observation_layout_and_noise():
    game = MatrixGame(np.arange(6.0).reshape(2, 3) / 10, np.arange(6.0).reshape(2, 3)[::-1] / 10)
    env = StackelbergEnv(game=game, principal_observes="actions+payoffs")
    obs, _ = env.reset(seed=0)
    m, n = 2, 3
    start = 2 * n + m + 3
    assert obs.shape == (start + m * n + 1 + m * n,)
    np.testing.assert_array_equal(obs[: 2 * n + m + 1], 0.0)
    np.testing.assert_array_equal(obs[2 * n + m + 1:start], 1.0)
    np.testing.assert_allclose(obs[start:start + m * n], game.A.ravel(), rtol=1e-6)
    np.testing.assert_allclose(obs[-m * n:], game.B.ravel(), rtol=1e-6)
    obs, _, _, _, info = env.step(env.encode_action([0.25, 0.75], bonus_action=2))
    assert obs[info["observed_action"]] == 1.0 and obs[:n].sum() == 1.0
    np.testing.assert_allclose(obs[n:n + m], [0.25, 0.75])
    assert obs[n + m + 3] == 1.0 and obs[n + m:2 * n + m + 1].sum() == 1.0  # bonus request
    assert obs[2 * n + m + 1] == 0.0  # no time left
    assert obs[start + m * n] == pytest.approx(info["agent_reward"])

    noisy = StackelbergEnv(game=game, principal_observes="actions+payoffs",
                           observation_noise=0.5)
    seen = np.array([noisy.reset(seed=s)[0][-m * n:] for s in range(400)])
    assert np.std(seen - game.B.ravel()) == pytest.approx(0.5, rel=0.1)
    flips = []
    for s in range(400):
        noisy.reset(seed=s)
        obs, _, _, _, info = noisy.step(noisy.encode_action([0.5, 0.5]))
        assert obs[info["observed_action"]] == 1.0 and obs[:n].sum() == 1.0
        flips.append(info["observed_action"] != info["agent_action"])
    assert np.mean(flips) == pytest.approx(0.5, abs=0.08)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tie_break": "agent-wins"}, "tie_break"),
        ({"tie_tolerance": -1.0}, "tie_tolerance"),
        ({"action_type": "probabilities"}, "action_type"),
        ({"bonus": 0.0}, "bonus"),
        ({"intervention_cost": -0.1}, "intervention_cost"),
        ({"intervention_budget": -1}, "intervention_budget"),
        ({"observation_noise": 1.5}, "observation_noise"),
        ({"principal_observes": "everything"}, "principal_observes"),
        ({"game": "nope"}, "unknown game population"),
        ({"game": 3}, "game must be"),
    ],
)
def test_bad_knobs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StackelbergEnv(**kwargs)


def test_bad_actions_and_options_raise():
    env = StackelbergEnv(game="commitment")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.encode_action([1.0, 0.0]))
    env.reset(seed=0)
    for bad in (np.zeros(4), np.full(5, 2.0), np.array([np.nan, 0, 0, 0, 1]), "a"):
        with pytest.raises(ValueError, match="action must be"):
            env.step(bad)
    with pytest.raises(ValueError, match="options\\['game'\\]"):
        env.reset(options={"game": MatrixGame(np.eye(3), np.eye(3))})
    with pytest.raises(ValueError, match="strategy"):
        env.encode_action([-1.0, 2.0])
    with pytest.raises(ValueError, match="bonus_action"):
        env.encode_action([1.0, 0.0], bonus_action=2)


def test_one_round_agent_is_always_the_follower(commitment_matrices):
    game = MatrixGame(*commitment_matrices, learner="hedge", params={"eta": 0.1})
    env = StackelbergEnv(game=game)
    _, info = env.reset(seed=0)
    assert info["game"].learner == "follower"
    _, reward, _, _, _ = env.step(env.encode_action([0.5, 0.5]))
    assert reward == pytest.approx(3.5)


def test_logits_and_all_zero_weights():
    env = StackelbergEnv(game="commitment", action_type="logits")
    env.reset(seed=0)
    info = env.step(env.encode_action([0.25, 0.75]))[4]
    np.testing.assert_allclose(info["strategy"], [0.25, 0.75], rtol=1e-6)
    env = StackelbergEnv(game="commitment")
    env.reset(seed=0)
    info = env.step(np.zeros(5, dtype=np.float32))[4]
    np.testing.assert_array_equal(info["strategy"], [0.5, 0.5])
    assert info["bonus_action"] == -1


def readme_section():
    """docs/games.md's Stackelberg section."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "games.md").read_text()
    return text.split("## Stackelberg games", 1)[1].split("\n## ", 1)[0]


def test_readme_section_runs_and_lists_every_argument():
    from mermaide.envs.repeated_stackelberg import RepeatedStackelbergEnv

    text = readme_section()
    namespace: dict = {}  # the blocks run in order, as in one session
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(compile(block, "README", "exec"), namespace)
    for env_id, env_class in (("Stackelberg-v0", StackelbergEnv),
                              ("RepeatedStackelberg-v0", RepeatedStackelbergEnv)):
        table = text.split(f"### Knobs of `Mermaide/{env_id}`", 1)[1].split("\n\n")[1]
        listed = set(re.findall(r"^\| `(\w+)` \|", table, re.M))
        assert listed == set(inspect.signature(env_class).parameters)
    table = text.split("### Game populations", 1)[1].split("\n\n")[2]
    assert set(re.findall(r"^\| `([^`]+)` \|", table, re.M)) == set(game_population_names())


# --- the PettingZoo AEC form ------------------------------------------------------------------


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
