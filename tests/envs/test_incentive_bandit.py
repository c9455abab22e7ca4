"""Mermaide/IncentiveBandit-v0: its Gymnasium, vector and PettingZoo forms (API compliance, the
perfect-knowledge agent, transfers charged exactly and within the budget, the regret of the
papers, knob checks)."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import mermaide
from mermaide.agents import AgentSpec, population
from mermaide.envs import (
    IncentiveBanditEnv,
    IncentiveBanditVectorEnv,
    IncentiveTask,
    encode_transfers,
    incentive_bandit_aec,
    incentive_bandit_parallel,
)

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming and on equal observation sizes does not fit a
    # principal-agent game, whose two players are different by design; Gymnasium's advice on
    # symmetric Box actions does not fit transfers, which are >= 0.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes", "ignore:.*symmetric and normalized space")

# s: the agent's best arm is 1 (0.9); theta: the principal prefers arm 0; tau = 0.9 - s.
S = np.array([0.2, 0.9, 0.5])
THETA = np.array([0.9, 0.1, 0.6])
TAU = S.max() - S
TASK = IncentiveTask("oracle", S, THETA)


def offer(arm, amount, k=3):
    transfers = np.zeros(k, dtype=np.float32)
    transfers[arm] = amount
    return transfers


def test_registered_with_a_native_vector_env():
    gym.register_envs(mermaide)
    env = gym.make("Mermaide/IncentiveBandit-v0")
    assert env.unwrapped.n_arms == 10 and env.unwrapped.horizon == 1000
    # What a world model of the agent (the "model" and "mermaide" principals) reads.
    assert env.reset(seed=0)[1]["agent_action_space"] == gym.spaces.Discrete(10)
    vector = gym.make_vec("Mermaide/IncentiveBandit-v0", num_envs=3,
                          vectorization_mode="vector_entry_point", horizon=5, n_arms=3)
    assert isinstance(vector.unwrapped, IncentiveBanditVectorEnv)
    obs, info = vector.reset(seed=0)
    assert obs.shape == (3, 2 * 3 + 4) and info["agent_means"].shape == (3, 3)
    for _ in range(5):
        obs, reward, terminated, truncated, info = vector.step(np.zeros((3, 3), np.float32))
    assert terminated.all() and not truncated.any() and reward.shape == (3,)
    obs, reward, terminated, _, _ = vector.step(np.zeros((3, 3), np.float32))  # autoreset
    assert not terminated.any() and np.all(reward == 0.0)


@pytest.mark.parametrize("kwargs", [
    {},
    {"action_type": "single", "agent": "ucb", "principal_observes": "actions+rewards",
     "transfer_budget": 2.0, "intervention_budget": 5, "observation_noise": 0.2},
    {"action_type": "discrete", "agent": population("test-ood"), "reward_noise": "bernoulli"},
    {"agent": "hedge", "intervention_cost": 0.05},
])
def test_check_env(kwargs):
    check_env(IncentiveBanditEnv(horizon=30, **kwargs), skip_render_check=True)


def test_the_oracle_agent_takes_argmax_of_its_means_plus_transfers():
    env = IncentiveBanditEnv(n_arms=3, horizon=10, reward_noise=0.0)
    env.reset(seed=0, options={"agent": TASK})
    assert env.step(offer(0, 0.0))[4]["agent_action"] == 1  # no transfer: its best arm
    assert env.step(offer(0, TAU[0] - 0.01))[4]["agent_action"] == 1
    # A tie goes to the arm with the larger transfer: exactly tau moves the agent.
    assert env.step(offer(0, TAU[0]))[4]["agent_action"] == 0
    assert env.step(offer(2, TAU[2] + 0.01))[4]["agent_action"] == 2
    both = np.array([0.75, 0.0, 0.45], dtype=np.float32)  # 0.95 on arm 0, 0.95 on arm 2
    assert env.step(both)[4]["agent_action"] == 0


def test_transfers_are_paid_exactly_on_the_arm_taken_and_the_regret_is_the_papers():
    env = IncentiveBanditEnv(n_arms=3, horizon=50, reward_noise=0.0, intervention_cost=0.05)
    _, info = env.reset(seed=1, options={"agent": TASK})
    benchmark = np.max(THETA - TAU)  # arm 0: 0.9 - 0.7 = 0.2; arm 1: 0.1; arm 2: 0.2
    assert info["benchmark_value"] == pytest.approx(benchmark)
    rng = np.random.default_rng(0)
    total, paid_total = 0.0, 0.0
    for _ in range(50):
        action = rng.uniform(0.0, 1.0, size=3).astype(np.float32)
        _, reward, terminated, _, step = env.step(action)
        arm = step["agent_action"]
        paid = float(action[arm])
        assert step["transfer"] == pytest.approx(paid)
        np.testing.assert_allclose(step["transfers"], action, rtol=1e-6)
        # Without reward noise the draws are the means: reward = theta[A] - paid - cost.
        assert reward == pytest.approx(THETA[arm] - paid - 0.05)
        assert step["agent_reward"] == pytest.approx(S[arm] + paid)
        assert step["cost"] == pytest.approx(paid + 0.05)
        assert step["regret"] == pytest.approx(benchmark - (THETA[arm] - paid))
        total += step["regret"]
        paid_total += paid
        assert step["cumulative_regret"] == pytest.approx(total)
        assert step["transfers_paid"] == pytest.approx(paid_total)
    assert terminated and step["episode_cost"] == pytest.approx(paid_total + 50 * 0.05)


def test_the_oracle_principals_payment_has_zero_regret():
    env = IncentiveBanditEnv(n_arms=3, horizon=20)
    _, info = env.reset(seed=2, options={"agent": TASK})
    task = info["agent"]
    arm = task.benchmark_arm
    for _ in range(20):
        step = env.step(offer(arm, task.minimal_incentives[arm]))[4]
        assert step["agent_action"] == arm and step["regret"] == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(budget=st.floats(0.0, 3.0), interventions=st.none() | st.integers(0, 8),
       action_type=st.sampled_from(["vector", "single", "discrete"]),
       agent=st.sampled_from(["oracle", "ucb", "exp3", "hedge"]), seed=st.integers(0, 2**31))
def test_transfers_never_exceed_the_budget(budget, interventions, action_type, agent, seed):
    env = IncentiveBanditEnv(n_arms=4, horizon=25, agent=agent, action_type=action_type,
                             transfer_budget=budget, intervention_budget=interventions)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    paid, used = 0.0, 0
    for _ in range(25):
        obs, _, terminated, _, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        paid += info["transfer"]
        used += info["intervened"]
        assert info["transfers_paid"] == pytest.approx(paid)
        assert paid <= budget + 1e-9
        assert interventions is None or used <= interventions
        assert info["interventions_used"] == used
        assert info["cost"] == pytest.approx(info["transfer"])
    assert terminated and info["episode_cost"] == pytest.approx(paid)


def test_a_refused_offer_is_neither_applied_nor_paid():
    env = IncentiveBanditEnv(n_arms=3, horizon=5, intervention_budget=1, reward_noise=0.0)
    env.reset(seed=0, options={"agent": TASK})
    first = env.step(offer(0, 0.8))[4]
    second = env.step(offer(0, 0.8))[4]
    assert first["intervened"] and first["transfer"] == pytest.approx(0.8)
    assert second["refused"] and not second["intervened"] and second["transfer"] == 0.0
    assert second["agent_action"] == 1  # nothing was offered: the agent's own best arm


@pytest.mark.parametrize("action_type", ["vector", "single", "discrete"])
def test_encode_transfers_speaks_every_action_type(action_type):
    env = IncentiveBanditEnv(n_arms=3, horizon=3, action_type=action_type, n_levels=4,
                             reward_noise=0.0)
    env.reset(seed=0, options={"agent": TASK})
    action = encode_transfers(offer(2, 0.4), action_type, 1.0, 4)
    assert env.action_space.contains(action)
    step = env.step(action)[4]
    expected = 0.5 if action_type == "discrete" else 0.4  # up to the grid's 0.5
    assert step["transfers"][2] == pytest.approx(expected)
    assert step["agent_action"] == 2
    assert encode_transfers(np.zeros(3), "discrete", 1.0, 4) == 0


def test_learners_and_populations_play_with_their_own_payoffs():
    spec = AgentSpec("greedy", {}, S, target=0)
    env = IncentiveBanditEnv(n_arms=3, horizon=5, agent=spec, reward_noise=0.0)
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["agent"].agent_means, S)
    np.testing.assert_array_equal(info["agent"].principal_means, [1.0, 0.0, 0.0])
    env = gym.make("Mermaide/IncentiveBandit-v0", agent="ucb", agent_kwargs={"beta": 0.5})
    _, info = env.reset(seed=3)
    assert info["agent"].learner == "ucb" and info["agent"].params == {"beta": 0.5}


def test_same_seed_same_trajectory():
    def trace(seed):
        env = gym.make("Mermaide/IncentiveBandit-v0", horizon=40, n_arms=4, agent="exp3",
                       observation_noise=0.3, principal_observes="actions+rewards")
        env.reset(seed=seed)
        env.action_space.seed(0)
        return np.array([np.concatenate([obs, [reward]]) for obs, reward, *_ in
                         (env.step(env.action_space.sample()) for _ in range(40))])

    np.testing.assert_array_equal(trace(7), trace(7))
    assert not np.array_equal(trace(7), trace(8))


def test_the_vector_env_plays_what_the_single_env_plays():
    vector = IncentiveBanditVectorEnv(num_envs=2, n_arms=3, horizon=6, reward_noise=0.0)
    vector.reset(seed=0, options={"agents": [TASK, TASK]})
    actions = np.stack([offer(0, TAU[0]), offer(2, 0.1)])
    _, reward, _, _, info = vector.step(actions)
    np.testing.assert_array_equal(info["agent_action"], [0, 1])
    np.testing.assert_allclose(reward, [THETA[0] - TAU[0], THETA[1]])
    np.testing.assert_allclose(info["regret"], [0.0, 0.2 - THETA[1]], atol=1e-6)  # float32 actions


@pytest.mark.parametrize("kwargs, fragment", [
    ({"n_arms": 1}, "n_arms"),
    ({"horizon": 0}, "horizon"),
    ({"action_type": "grid"}, "action_type"),
    ({"max_transfer": 0.0}, "max_transfer"),
    ({"n_levels": 0}, "n_levels"),
    ({"transfer_budget": -1.0}, "transfer_budget"),
    ({"reward_noise": "uniform"}, "reward_noise"),
    ({"intervention_cost": -0.1}, "intervention_cost"),
    ({"observation_noise": 1.5}, "observation_noise"),
    ({"principal_observes": "actions+payoffs"}, "principal_observes"),
    ({"agent": "no-such-learner"}, "no-such-learner"),
    ({"agent": "oracle", "agent_kwargs": {"beta": 1.0}}, "agent_kwargs"),
    ({"agent": "ucb", "agent_kwargs": {"gamma": 1.0}}, "agent_kwargs"),
])
def test_bad_knobs_are_refused_naming_the_knob(kwargs, fragment):
    for form in (IncentiveBanditEnv, IncentiveBanditVectorEnv, incentive_bandit_parallel):
        with pytest.raises(ValueError, match=fragment):
            form(**kwargs)


def test_bad_actions_and_tasks_are_refused():
    env = IncentiveBanditEnv(n_arms=3, horizon=5)
    env.reset(seed=0)
    for bad in (np.array([1.5, 0.0, 0.0]), np.array([-0.1, 0.0, 0.0]), 1, [0.1, 0.2]):
        with pytest.raises(ValueError, match="action must be"):
            env.step(bad)
    with pytest.raises(ValueError, match="options\\['agent'\\]"):
        env.reset(options={"agent": IncentiveTask("oracle", [0.1, 0.2], [0.3, 0.4])})


# --- the PettingZoo forms ---------------------------------------------------------------------


@pytest.fixture(params=["default", "single+rewards", "discrete+budget"])
def two_player_knobs(request) -> dict:
    extra = {
        "default": {},
        "single+rewards": {"action_type": "single", "principal_observes": "actions+rewards",
                           "observation_noise": 0.3},
        "discrete+budget": {"action_type": "discrete", "transfer_budget": 1.5,
                            "reward_noise": "bernoulli"},
    }[request.param]
    return {"n_arms": 4, "horizon": 25, **extra}


def test_pettingzoo_parallel_api_and_seed_tests_pass(two_player_knobs):
    parallel_api_test(incentive_bandit_parallel(**two_player_knobs), num_cycles=100)
    parallel_seed_test(lambda: incentive_bandit_parallel(**two_player_knobs), num_cycles=100)


def test_pettingzoo_api_test_passes_on_the_aec_form(two_player_knobs):
    api_test(incentive_bandit_aec(**two_player_knobs), num_cycles=100)
    seed_test(lambda: incentive_bandit_aec(**two_player_knobs), num_cycles=100)


def test_the_agent_player_receives_its_reward_plus_the_transfer():
    env = incentive_bandit_parallel(n_arms=3, horizon=4, reward_noise=0.0)
    _, infos = env.reset(seed=0, options={"agent": TASK})
    assert "agent" not in infos["principal"] and infos["principal"]["n_arms"] == 3
    _, rewards, _, _, infos = env.step({"principal": offer(2, 0.3), "agent": 2})
    assert rewards["agent"] == pytest.approx(S[2] + 0.3)
    assert rewards["principal"] == pytest.approx(THETA[2] - 0.3)
    assert infos["principal"]["transfer"] == pytest.approx(0.3)
    assert env.game_info["regret"] == pytest.approx(0.2 - (THETA[2] - 0.3))


def test_perfect_knowledge_plays_a_populations_payoffs_with_the_oracle_agent():
    env = IncentiveBanditEnv(n_arms=3, horizon=5, agent=AgentSpec("exp3", {}, S, target=0),
                             perfect_knowledge=True)
    env.reset(seed=0)
    assert [env.step(offer(0, TAU[0]))[4]["agent_action"] for _ in range(5)] == [0] * 5
    vector = IncentiveBanditVectorEnv(num_envs=4, n_arms=3, horizon=5, perfect_knowledge=True)
    batch = population("train", n_arms=3).sample_batch(4, np.random.default_rng(0))
    vector.reset(seed=0, options={"agents": batch})
    info = vector.step(np.zeros((4, 3), np.float32))[4]
    np.testing.assert_array_equal(info["agent_action"], batch.rewards.argmax(axis=1))
