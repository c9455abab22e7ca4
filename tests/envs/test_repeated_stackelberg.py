"""Mermaide/RepeatedStackelberg-v0 and its batched core: API, rules, knobs, learning agents;
and its PettingZoo forms."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.utils import parallel_to_aec

import mermaide
from mermaide.envs import repeated_stackelberg_aec, repeated_stackelberg_parallel
from mermaide.envs.equilibrium import solve
from mermaide.envs.games import GamePopulation, MatrixGame, classic_game, game_population
from mermaide.envs.knobs import Knobs
from mermaide.envs.repeated_stackelberg import RepeatedStackelbergCore, RepeatedStackelbergEnv

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming ("player_0") and on equal observation sizes does not fit a
    # principal-agent game, whose two players are different by design.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes")

A3 = np.array([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3]])
B3 = np.array([[0.1, 0.7, 0.4], [0.6, 0.2, 0.5]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"game": "classics", "agent": "hedge", "agent_kwargs": {"eta": 1.0}, "horizon": 20},
        {"game": "test-ood", "agent": "exp3", "principal_observes": "actions+rewards",
         "observation_noise": 0.2, "intervention_budget": 5},
        {"game": (A3, B3), "principal_observes": "actions+payoffs", "observation_noise": 0.1,
         "action_type": "logits", "agent": "epsilon_greedy", "agent_kwargs": {"epsilon": 0.1}},
        {"game": "train", "agent": "follower", "tie_break": "adversarial", "horizon": 5},
    ],
)
def test_check_env(kwargs):
    check_env(RepeatedStackelbergEnv(**kwargs), skip_render_check=True)


def test_registered_with_defaults():
    gym.register_envs(mermaide)
    env = gym.make("Mermaide/RepeatedStackelberg-v0")
    assert env.unwrapped.horizon == 100 and env.unwrapped.knobs.intervention_budget is None
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert info["equilibrium_value"] == pytest.approx(
        solve(info["game"].A, info["game"].B).value, abs=1e-9)


def rollout(env, seed, steps):
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=seed)
    trace = [np.concatenate([obs, [0.0, -1, -1]])]
    for _ in range(steps):
        obs, reward, _, _, info = env.step(rng.random(env.action_space.shape, dtype=np.float32))
        trace.append(np.concatenate([obs, [reward, info["agent_action"],
                                           info["observed_action"]]]))
    return np.array(trace)


@pytest.mark.parametrize("agent", [None, "exp3", "hedge", "thompson"])
def test_same_seed_same_trajectory(agent):
    kwargs = dict(game="train", agent=agent, horizon=40, observation_noise=0.3,
                  principal_observes="actions+payoffs", intervention_budget=10)
    a = rollout(gym.make("Mermaide/RepeatedStackelberg-v0", **kwargs), 11, 40)
    b = rollout(gym.make("Mermaide/RepeatedStackelberg-v0", **kwargs), 11, 40)
    c = rollout(gym.make("Mermaide/RepeatedStackelberg-v0", **kwargs), 12, 40)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(("agent", "kwargs", "settle"),
                         [("follower", {}, 0), ("best_response", {"memory": "mean"}, 1),
                          ("best_response", {"memory": "last"}, 1)])
def test_agents_converge_to_the_best_response_to_a_fixed_commitment(agent, kwargs, settle):
    x = np.array([0.3, 0.7])
    target = int(np.argmax(x @ B3))  # payoffs (0.45, 0.35, 0.47): action 2, by a margin of 0.02
    for seed in range(5):
        env = RepeatedStackelbergEnv(game=(A3, B3), agent=agent, agent_kwargs=kwargs or None)
        env.reset(seed=seed)
        actions = [env.step(env.encode_action(x))[4]["agent_action"] for _ in range(100)]
        assert all(a == target for a in actions[settle:]), (seed, actions)


def test_hedge_agent_converges_to_the_best_response():
    # Payoffs (0.6, 0.2, 0.5): after t rounds the other actions weigh e^(-eta 0.1 t) at most.
    rates = []
    for seed in range(5):
        env = RepeatedStackelbergEnv(game=(A3, B3), agent="hedge", agent_kwargs={"eta": 2.0})
        env.reset(seed=seed)
        actions = np.array([env.step(env.encode_action([0.0, 1.0]))[4]["agent_action"]
                            for _ in range(100)])
        rates.append((np.mean(actions[:10] == 0), np.mean(actions[50:] == 0)))
    early, late = np.mean(rates, axis=0)
    assert early < 0.8 and late > 0.98


def test_epsilon_greedy_agent_mostly_best_responds():
    x = np.array([0.0, 1.0])
    env = RepeatedStackelbergEnv(game=(A3, B3), agent="epsilon_greedy",
                                 agent_kwargs={"epsilon": 0.1}, horizon=300)
    env.reset(seed=0)
    actions = np.array([env.step(env.encode_action(x))[4]["agent_action"] for _ in range(300)])
    assert np.mean(actions[100:] == 0) > 0.85


def test_committing_near_the_equilibrium_steers_fictitious_play():
    game = classic_game("commitment", "best_response", {"memory": "mean"})
    solution = solve(game.A, game.B)
    env = RepeatedStackelbergEnv(game=game, horizon=50)
    _, info = env.reset(seed=0)
    # Just inside the region where column 1 is the strict best response: the learner's own
    # tie-break is not the principal's, so the exact solution point would be a coin toss.
    x = solution.strategy + np.array([-0.01, 0.01])
    values = [env.step(env.encode_action(x))[4]["principal_value"] for _ in range(50)]
    assert np.mean(values[1:]) == pytest.approx(info["equilibrium_value"], abs=0.01)
    assert info["equilibrium_value"] == pytest.approx(5 / 6)


def test_episode_end_summary_and_reset_required():
    env = RepeatedStackelbergEnv(game=(A3, B3), horizon=25, intervention_budget=3,
                                 intervention_cost=0.2)
    env.reset(seed=0)
    values, costs = [], []
    for t in range(25):
        _, reward, terminated, truncated, info = env.step(
            env.encode_action([0.5, 0.5], bonus_action=t % 3))
        values.append(info["principal_value"])
        costs.append(info["cost"])
        assert reward == pytest.approx(info["principal_value"] - info["cost"])
        assert terminated == (t == 24) and not truncated
    assert info["average_value"] == pytest.approx(np.mean(values))
    assert info["episode_cost"] == pytest.approx(0.6) == pytest.approx(sum(costs))
    assert info["interventions_used"] == 3
    with pytest.raises(RuntimeError, match="reset"):
        env.step(env.encode_action([0.5, 0.5]))


@st.composite
def episodes(draw):
    m, n = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    horizon = draw(st.integers(1, 30))
    unit = st.floats(0.0, 1.0, allow_nan=False)
    knobs = dict(
        game=(np.array(draw(st.lists(unit, min_size=m * n, max_size=m * n))).reshape(m, n),
              np.array(draw(st.lists(unit, min_size=m * n, max_size=m * n))).reshape(m, n)),
        horizon=horizon,
        agent=draw(st.sampled_from(["follower", "best_response", "hedge", "exp3", "ucb",
                                    "epsilon_greedy", "thompson", "softmax"])),
        intervention_budget=draw(st.one_of(st.none(), st.integers(0, 12))),
        intervention_cost=draw(st.floats(0.0, 2.0)),
        bonus=draw(st.floats(0.01, 3.0)),
        observation_noise=draw(st.floats(0.0, 1.0)),
        principal_observes=draw(st.sampled_from(["actions", "actions+rewards",
                                                 "actions+payoffs"])),
        tie_break=draw(st.sampled_from(["principal", "adversarial"])),
    )
    actions = draw(st.lists(st.lists(unit, min_size=m + n + 1, max_size=m + n + 1),
                            min_size=horizon, max_size=horizon))
    return knobs, actions, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=120, deadline=None)
@given(episodes())
def test_game_rules_hold(episode):
    knobs, actions, seed = episode
    env = RepeatedStackelbergEnv(**knobs)
    A, B = knobs["game"]
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    budget = knobs["intervention_budget"]
    equilibrium_value = solve(A, B).value
    used = 0
    for raw in actions:
        action = np.array(raw, dtype=np.float32)
        obs, reward, _, _, info = env.step(action)
        assert env.observation_space.contains(obs)
        x, bonus_action = info["strategy"], info["bonus_action"]
        requested = bonus_action >= 0
        allowed = budget is None or used < budget
        assert info["intervened"] == (requested and allowed)
        assert info["refused"] == (requested and not allowed)
        used += info["intervened"]
        assert info["interventions_used"] == used and (budget is None or used <= budget)
        assert info["cost"] == (knobs["intervention_cost"] if info["intervened"] else 0.0)
        j = info["agent_action"]
        payoffs = x @ B + (knobs["bonus"] * (np.arange(B.shape[1]) == bonus_action)
                           if info["intervened"] else 0.0)
        np.testing.assert_allclose(info["agent_payoffs"], payoffs, atol=1e-12)
        assert info["agent_reward"] == pytest.approx(payoffs[j])
        assert info["principal_value"] == pytest.approx(x @ A[:, j])
        assert reward == pytest.approx(info["principal_value"] - info["cost"])
        # solve() is a HiGHS LP, exact to its feasibility tolerance (1e-7); the env reports the
        # vertex enumeration of equilibrium_values: on near-tied payoffs they differ by a few 1e-9.
        assert info["equilibrium_value"] == pytest.approx(equilibrium_value, abs=1e-7)
        if knobs["agent"] == "follower":
            assert payoffs[j] >= payoffs.max() - 1e-6
        if knobs["observation_noise"] == 0.0:
            assert info["observed_action"] == j


def test_bad_knobs_raise():
    with pytest.raises(ValueError, match="horizon"):
        RepeatedStackelbergEnv(horizon=0)
    with pytest.raises(ValueError, match="agent_kwargs"):
        RepeatedStackelbergEnv(agent_kwargs={"eta": 1.0})
    with pytest.raises(ValueError, match="agent must be 'follower', a registered learner"):
        RepeatedStackelbergEnv(agent="oracle")
    with pytest.raises(ValueError, match="agent must be"):
        RepeatedStackelbergEnv(game=(A3, B3), agent="oracle")
    with pytest.raises(ValueError, match="follower takes no agent_kwargs"):
        RepeatedStackelbergEnv(agent="follower", agent_kwargs={"eta": 1.0})
    with pytest.raises(ValueError, match="eta must be"):
        RepeatedStackelbergEnv(agent="hedge", agent_kwargs={"eta": -1.0})
    with pytest.raises(ValueError, match="B must have finite"):
        RepeatedStackelbergEnv(game=(A3, B3 * np.nan))
    with pytest.raises(ValueError, match="same shape"):
        RepeatedStackelbergEnv(game=(A3, B3.T))
    with pytest.raises(ValueError, match="intervention_cost"):
        RepeatedStackelbergEnv(intervention_cost=float("nan"))


def core_for(games, horizon=20, external=False, noise=0.0):
    core = RepeatedStackelbergCore(games[0].shape, horizon, len(games),
                                   Knobs(observation_noise=noise), 1.0, external_agent=external)
    return core


def test_batched_core_matches_single_games():
    """Deterministic agents: B games in one core play exactly as each game alone."""
    rng = np.random.default_rng(0)
    population = game_population("train", size=(3, 4))
    games = [
        MatrixGame(g.A, g.B, kind, params)
        for g, (kind, params) in zip(
            population.sample_many(6, rng),
            [("follower", {}), ("best_response", {"memory": "mean"}), ("follower", {}),
             ("best_response", {"memory": "last"}), ("best_response", {"memory": "mean"}),
             ("follower", {})],
            strict=True)
    ]
    strategies = rng.dirichlet(np.ones(3), size=(20, 6))
    bonuses = rng.integers(-1, 4, size=(20, 6))
    batched = core_for(games)
    batched.reset(games, np.random.default_rng(1))
    together = [batched.step(strategies[t], bonuses[t], np.random.default_rng(t))
                for t in range(20)]
    for i, game in enumerate(games):
        single = core_for([game])
        single.reset([game], np.random.default_rng(1))
        for t in range(20):
            obs, reward, _, info = single.step(strategies[t, [i]], bonuses[t, [i]],
                                               np.random.default_rng(t))
            if game.learner == "follower":  # learners' random tie-break orders differ
                assert info["agent_action"][0] == together[t][3]["agent_action"][i]
                np.testing.assert_array_equal(obs[0], together[t][0][i])
                assert reward[0] == together[t][1][i]


def test_core_steps_hundreds_of_mixed_agents_and_flips_observations():
    population = GamePopulation((3, 3), 0.0).with_agents(*game_population("train").agents)
    games = population.sample_many(600, np.random.default_rng(0))
    core = core_for(games, horizon=3, noise=0.3)
    core.reset(games, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    strategies = rng.dirichlet(np.ones(3), size=600)
    _, _, _, info = core.step(strategies, np.full(600, -1), rng)
    assert np.mean(info["observed_action"] != info["agent_action"]) == pytest.approx(0.3,
                                                                                     abs=0.06)
    followers = np.array([g.learner == "follower" for g in games])
    payoffs = info["agent_payoffs"]
    chosen = payoffs[np.arange(600), info["agent_action"]]
    np.testing.assert_array_equal(chosen[followers], payoffs[followers].max(axis=1))


def test_external_agent_actions():
    games = [MatrixGame(A3, B3), MatrixGame(B3, A3)]
    core = core_for(games, external=True)
    core.reset(games, np.random.default_rng(0))
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="agent_actions"):
        core.step(x, np.array([-1, -1]), np.random.default_rng(0))
    _, reward, _, info = core.step(x, np.array([-1, 2]), np.random.default_rng(0),
                                   agent_actions=np.array([1, 2]))
    np.testing.assert_array_equal(info["agent_action"], [1, 2])
    np.testing.assert_allclose(reward, [A3[0, 1], B3[1, 2] - 0.1])
    np.testing.assert_allclose(info["agent_reward"], [B3[0, 1], A3[1, 2] + 1.0])
    internal = core_for(games)
    internal.reset(games, np.random.default_rng(0))
    with pytest.raises(ValueError, match="agent_actions"):
        internal.step(x, np.array([-1, -1]), np.random.default_rng(0),
                      agent_actions=np.array([0, 0]))


def test_core_refuses_games_of_the_wrong_size():
    core = core_for([MatrixGame(A3, B3)])
    with pytest.raises(ValueError, match="2x3"):
        core.reset([MatrixGame(np.eye(2), np.eye(2))], np.random.default_rng(0))
    with pytest.raises(ValueError, match="games must hold 1"):
        core.reset([MatrixGame(A3, B3)] * 2, np.random.default_rng(0))


@pytest.mark.parametrize("env_id", ["Mermaide/Stackelberg-v0",
                                    "Mermaide/RepeatedStackelberg-v0"])
def test_native_vector_env(env_id):
    def run(seed):
        envs = gym.make_vec(env_id, num_envs=5, vectorization_mode="vector_entry_point",
                            observation_noise=0.2, principal_observes="actions+payoffs")
        envs.action_space.seed(0)
        obs, info = envs.reset(seed=seed)
        assert obs.shape == (5, *envs.single_observation_space.shape)
        assert envs.observation_space.contains(obs) and info["equilibrium_value"].shape == (5,)
        trace = [obs.ravel()]
        horizon = envs.unwrapped.horizon
        for t in range(horizon + 2):
            obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
            assert envs.observation_space.contains(obs) and not truncated.any()
            assert terminated.all() == (t == horizon - 1 or (horizon == 1 and t == 2))
            if t == horizon:  # next-step autoreset: zero rewards, first observations
                np.testing.assert_array_equal(reward, 0.0)
            else:
                assert info["agent_payoffs"].shape == (5, envs.unwrapped.n)
            trace.append(np.concatenate([obs.ravel(), reward]))
        return np.concatenate(trace)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_vector_env_plays_like_single_envs():
    from mermaide.envs.stackelberg import StackelbergEnv, StackelbergVectorEnv

    games = game_population("test-ood").sample_many(6, np.random.default_rng(0))
    vector = StackelbergVectorEnv(num_envs=6, intervention_budget=1)
    vector.reset(seed=0, options={"games": games})
    actions = np.random.default_rng(1).random((6, 7), dtype=np.float32)
    _, rewards, _, _, info = vector.step(actions)
    for i, game in enumerate(games):
        single = StackelbergEnv(intervention_budget=1)
        single.reset(seed=0, options={"game": game})
        _, reward, _, _, single_info = single.step(actions[i])
        assert reward == rewards[i] and single_info["agent_action"] == info["agent_action"][i]
    with pytest.raises(ValueError, match="action must be an array of shape \\(6, 7\\)"):
        vector.step(actions[:3])
    with pytest.raises(ValueError, match="options\\['games'\\]"):
        vector.reset(options={"games": games[:2]})
    with pytest.raises(ValueError, match="seed must be an int"):
        vector.reset(seed=[1, 2])
    with pytest.raises(ValueError, match="num_envs"):
        StackelbergVectorEnv(num_envs=0)


# --- the PettingZoo forms ---------------------------------------------------------------------


STACKELBERG_KNOB_SETS = [
    {},
    {"principal_observes": "actions+payoffs", "observation_noise": 0.2, "action_type": "logits"},
    {"game": "commitment", "agent": "hedge", "intervention_budget": 2},
]


@pytest.mark.parametrize("extra", STACKELBERG_KNOB_SETS)
def test_pettingzoo_tests_pass_on_the_repeated_stackelberg_forms(extra: dict) -> None:
    def make_parallel():
        return repeated_stackelberg_parallel(horizon=20, **extra)

    parallel_api_test(make_parallel(), num_cycles=50)
    parallel_seed_test(make_parallel, num_cycles=50)
    api_test(parallel_to_aec(make_parallel()), num_cycles=50)
    api_test(repeated_stackelberg_aec(horizon=20, **extra), num_cycles=50)
    seed_test(lambda: repeated_stackelberg_aec(horizon=20, **extra), num_cycles=50)


BAD_STACKELBERG_KNOBS = [
    {"horizon": 0},
    {"game": "no-such-game"},
    {"action_type": "probabilities"},
    {"intervention_budget": -1},
    {"intervention_cost": -1.0},
    {"bonus": -1.0},
    {"observation_noise": 2.0},
    {"principal_observes": "everything"},
    {"agent": "no-such-learner"},
]


@pytest.mark.parametrize("bad", BAD_STACKELBERG_KNOBS)
def test_stackelberg_knobs_are_checked_as_in_the_gymnasium_form(bad: dict) -> None:
    errors = []
    for make in (RepeatedStackelbergEnv, repeated_stackelberg_parallel):
        with pytest.raises((ValueError, KeyError)) as caught:
            make(**bad)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_stackelberg_players_see_their_own_side_of_the_game() -> None:
    game = classic_game("commitment", learner="hedge")
    knobs = {"game": game, "horizon": 4, "principal_observes": "actions+payoffs"}
    env = repeated_stackelberg_parallel(**knobs)
    reference = RepeatedStackelbergEnv(**knobs)
    assert env.observation_space("principal") == reference.observation_space
    assert env.action_space("principal") == reference.action_space
    assert env.action_space("agent").n == 2
    obs, infos = env.reset(seed=0)
    assert infos == {"principal": {}, "agent": {}}
    # The textbook value 3.5, with A's payoffs [1, 4] mapped to [0, 1].
    assert env.game_info["equilibrium_value"] == pytest.approx((3.5 - 1) / 3)
    x = np.array([0.5, 0.5])
    obs, rewards, _, _, infos = env.step({"principal": env.encode_action(x, bonus_action=0),
                                          "agent": 0})
    m, n = 2, 2
    # The agent: its action, the payoff x @ B[:, 0] plus the bonus of 1, and time left.
    received = float(x @ game.B[:, 0]) + 1.0
    np.testing.assert_allclose(obs["agent"], [1, 0, received, 0.75], rtol=1e-6)
    assert rewards["agent"] == pytest.approx(received)
    # The principal: x @ A[:, 0] minus the cost, and an observation laid out as the core's.
    assert rewards["principal"] == pytest.approx(float(x @ game.A[:, 0]) - 0.1)
    p = obs["principal"]
    np.testing.assert_array_equal(p[:n], [1, 0])                   # the agent's action
    np.testing.assert_allclose(p[n:n + m], x)                      # its own commitment
    np.testing.assert_array_equal(p[n + m:2 * n + m + 1], [0, 1, 0])  # bonus on action 0
    start = 2 * n + m + 3
    np.testing.assert_allclose(p[start:start + m * n], game.A.ravel(), rtol=1e-6)
    assert p[start + m * n] == pytest.approx(received)             # visible agent payoff
    np.testing.assert_allclose(p[start + m * n + 1:], game.B.ravel(), rtol=1e-6)
    assert set(infos["principal"]) == {"observed_action", "intervened", "refused",
                                       "interventions_used", "cost", "strategy",
                                       "bonus_action"}
    assert infos["agent"] == {}
    assert env.game_info["agent_action"] == 0
