"""The Stackelberg solver, the game populations and the one-round game Mermaide/Stackelberg-v0."""

import inspect
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy.optimize import linprog

import mermaide
from mermaide.agents import LearnerFamily, Uniform
from mermaide.envs.games import (
    CLASSIC_GAMES,
    Follower,
    GamePopulation,
    MatrixGame,
    classic_game,
    game_population,
    game_population_names,
)
from mermaide.envs.stackelberg import (
    StackelbergEnv,
    best_response,
    equilibrium_values,
    pure_nash_equilibria,
    solve,
)

COMMITMENT_A = [[2.0, 4.0], [1.0, 3.0]]
COMMITMENT_B = [[1.0, 0.0], [0.0, 1.0]]


# --- the solver ------------------------------------------------------------------------------


def test_commitment_beats_nash_in_the_standard_example():
    solution = solve(COMMITMENT_A, COMMITMENT_B)
    np.testing.assert_allclose(solution.strategy, [0.5, 0.5], atol=1e-9)
    assert solution.response == 1
    assert solution.value == pytest.approx(3.5)
    assert solution.pure_nash == ((0, 0),)
    assert solution.nash_value == 2.0 and solution.nash_value_worst == 2.0
    assert solution.commitment_gain == pytest.approx(1.5)
    assert solution.value > solution.nash_value


def maximin_value(A):
    """Independent LP: max_x min_j x @ A[:, j] over the simplex, variables (x, v)."""
    m, n = A.shape
    c = np.zeros(m + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A.T, np.ones((n, 1))])  # v - x @ A[:, j] <= 0
    A_eq = np.hstack([np.ones((1, m)), np.zeros((1, 1))])
    result = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=[1.0],
                     bounds=[(0, None)] * m + [(None, None)], method="highs")
    assert result.status == 0
    return -result.fun


@pytest.mark.parametrize("seed", range(12))
def test_zero_sum_value_is_the_minimax_value(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 6), rng.integers(2, 6)
    A = rng.normal(size=(m, n))
    solution = solve(A, -A)
    assert solution.value == pytest.approx(maximin_value(A), abs=1e-7)


def test_matching_pennies_has_value_one_half_and_no_pure_nash():
    game = classic_game("matching-pennies")
    solution = solve(game.A, game.B)
    assert solution.value == pytest.approx(0.5)
    np.testing.assert_allclose(solution.strategy, [0.5, 0.5], atol=1e-9)
    assert solution.pure_nash == () and solution.nash_value is None
    assert solution.commitment_gain is None


def strong_response_values(A, B, strategies):
    """The principal's value at each sampled strategy (k, m) when the agent best-responds with
    ties in the principal's favour."""
    agent = strategies @ B
    principal = strategies @ A
    responses = best_response(agent, principal, "principal", tolerance=1e-12)
    return principal[np.arange(len(strategies)), responses]


def all_programs_value(A, B):
    """Independent reference: solve all n programs, no shortcuts."""
    m, n = A.shape
    best = -np.inf
    for j in range(n):
        others = np.arange(n) != j
        result = linprog(-A[:, j], A_ub=(B[:, others] - B[:, [j]]).T, b_ub=np.zeros(n - 1),
                         A_eq=np.ones((1, m)), b_eq=[1.0], bounds=(0, None), method="highs")
        if result.status == 0:
            best = max(best, -result.fun)
    return best


@pytest.mark.parametrize("seed", range(25))
def test_random_games_solution_is_feasible_optimal_and_beats_pure_nash(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 6), rng.integers(2, 6)
    A, B = rng.random((m, n)), rng.random((m, n))
    if seed % 5 == 0:  # integer payoffs: many ties, the degenerate cases
        A, B = rng.integers(0, 3, (m, n)) * 1.0, rng.integers(0, 3, (m, n)) * 1.0
    solution = solve(A, B)
    x, j = solution.strategy, solution.response
    assert np.all(x >= 0) and x.sum() == pytest.approx(1.0)
    assert x @ B[:, j] >= (x @ B).max() - 1e-9  # the response is a best response to x
    assert solution.value == pytest.approx(x @ A[:, j])
    assert solution.value == pytest.approx(all_programs_value(A, B), abs=1e-8)
    samples = np.vstack([np.eye(m), rng.dirichlet(np.ones(m), size=3000),
                         rng.dirichlet(np.full(m, 0.2), size=3000)])
    assert strong_response_values(A, B, samples).max() <= solution.value + 1e-9
    if solution.nash_value is not None:
        assert solution.value >= solution.nash_value - 1e-12


@pytest.mark.parametrize("shape", [(1, 2), (2, 2), (3, 3), (2, 5), (5, 3), (4, 4), (7, 7)])
def test_batched_equilibrium_values_equal_the_solver(shape):
    rng = np.random.default_rng(sum(shape))
    games = 40
    A, B = rng.random((games, *shape)), rng.random((games, *shape))
    A[:10], B[:10] = rng.integers(0, 3, (2, 10, *shape))  # degenerate: many ties
    B[10:15] = -A[10:15]  # zero-sum
    B[15:18] = 0.0  # an indifferent agent
    expected = [solve(A[g], B[g]).value for g in range(games)]
    np.testing.assert_allclose(equilibrium_values(A, B), expected, rtol=0, atol=1e-9)


def test_batched_equilibrium_values_refuse_bad_matrices():
    with pytest.raises(ValueError, match="shape \\(G, m, n\\)"):
        equilibrium_values(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="shape \\(G, m, n\\)"):
        equilibrium_values(np.zeros((1, 2, 2)), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="finite"):
        equilibrium_values(np.full((1, 2, 2), np.nan), np.zeros((1, 2, 2)))


def test_indifferent_agent_gives_the_principal_its_best_cell():
    A = np.array([[0.1, 0.7, 0.3], [0.9, 0.2, 0.4]])
    solution = solve(A, np.zeros((2, 3)))
    assert solution.value == 0.9 and solution.response == 0
    np.testing.assert_array_equal(solution.strategy, [0.0, 1.0])


def test_classic_games_nash_structure():
    assert pure_nash_equilibria(*CLASSIC_GAMES["battle-of-the-sexes"]) == [(0, 0), (1, 1)]
    assert pure_nash_equilibria(*CLASSIC_GAMES["prisoners-dilemma"]) == [(1, 1)]
    dilemma = solve(*CLASSIC_GAMES["prisoners-dilemma"])
    assert dilemma.commitment_gain == pytest.approx(0.0)  # defecting dominates: no gain
    sexes = solve(*CLASSIC_GAMES["battle-of-the-sexes"])
    assert sexes.value == 2.0 and sexes.nash_value == 2.0 and sexes.nash_value_worst == 1.0


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


def test_best_response_tie_breaks():
    agent = np.array([[1.0, 1.0, 0.5], [1.0, 1.0 - 1e-8, 0.0]])
    principal = np.array([[0.2, 0.9, 1.0], [0.2, 0.9, 1.0]])
    np.testing.assert_array_equal(best_response(agent, principal, "principal"), [1, 1])
    np.testing.assert_array_equal(best_response(agent, principal, "adversarial"), [0, 0])
    np.testing.assert_array_equal(best_response(agent, principal, "principal", 0.0), [1, 0])


# --- games and populations -------------------------------------------------------------------


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
    with pytest.raises(ValueError, match="do not fit learner 'hedge'"):
        MatrixGame(np.eye(2), np.eye(2), learner="hedge", params={"beta": 1.0})
    with pytest.raises(ValueError, match="unknown game population"):
        game_population("nope")
    with pytest.raises(ValueError, match="game must be one of"):
        classic_game("chess")
    with pytest.raises(ValueError, match="weight"):
        Follower(weight=0.0)
    with pytest.raises(ValueError, match="size cannot be"):
        game_population("classics", size=(3, 3))


# --- the one-round game ----------------------------------------------------------------------


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


def test_tie_break_conventions_in_the_commitment_game():
    game = MatrixGame(COMMITMENT_A, COMMITMENT_B)
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


def test_bonus_steers_the_agent_and_is_charged():
    game = MatrixGame(COMMITMENT_A, COMMITMENT_B)
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


def test_one_round_agent_is_always_the_follower():
    game = MatrixGame(COMMITMENT_A, COMMITMENT_B, learner="hedge", params={"eta": 0.1})
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


def test_population_agents_can_be_learner_families():
    population = GamePopulation((2, 3), 0.0, agents=(LearnerFamily("exp3", {"gamma": 0.1}),))
    game = population.sample(np.random.default_rng(0))
    assert game.learner == "exp3" and game.params == {"gamma": 0.1}


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
