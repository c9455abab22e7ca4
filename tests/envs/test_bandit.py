"""Mermaide/Bandit-v0: its Gymnasium and vector forms (API compliance, game rules, knobs,
determinism, the rules under random knobs and actions) and its PettingZoo forms."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.utils import parallel_to_aec

import mermaide
from mermaide.agents import AgentSpec, learner_names, population
from mermaide.envs import BanditEnv, BanditVectorEnv, bandit_aec, bandit_parallel

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming ("player_0") and on equal observation sizes does not fit a
    # principal-agent game, whose two players are different by design.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes")

REWARDS = np.array([0.2, 0.9, 0.5, 0.1])


def spec(learner="greedy", target=2, **params):
    return AgentSpec(learner, params, REWARDS, target)


def test_registered_and_register_envs_idiom():
    gym.register_envs(mermaide)
    env = gym.make("Mermaide/Bandit-v0")
    assert env.unwrapped.n_arms == 10 and env.unwrapped.horizon == 200
    assert env.action_space == gym.spaces.Discrete(11)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, _reward, _terminated, _truncated, info = env.step(env.action_space.sample())
    assert env.observation_space.contains(obs)
    assert {"agent_action", "target_action", "intervened", "interventions_used",
            "cost"} <= set(info)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"agent": population("test-ood"), "principal_observes": "actions+rewards",
          "intervention_budget": 5, "observation_noise": 0.2, "reward_noise": "bernoulli"}],
)
def test_check_env(kwargs):
    check_env(BanditEnv(**kwargs), skip_render_check=True)


def rollout(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    trace = [np.concatenate([obs, [0.0, -1]])]
    for a in actions:
        obs, reward, _terminated, _, info = env.step(a)
        trace.append(np.concatenate([obs, [reward, info["agent_action"]]]))
    return np.array(trace)


def test_same_seed_same_trajectory():
    kwargs = dict(horizon=50, agent=population("test-ood"), observation_noise=0.3,
                  principal_observes="actions+rewards")
    actions = np.random.default_rng(0).integers(0, 11, size=50)
    a = rollout(gym.make("Mermaide/Bandit-v0", **kwargs), 7, actions)
    b = rollout(gym.make("Mermaide/Bandit-v0", **kwargs), 7, actions)
    c = rollout(gym.make("Mermaide/Bandit-v0", **kwargs), 8, actions)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_episode_ends_at_horizon_with_summary():
    env = BanditEnv(n_arms=4, horizon=30, agent=spec())
    env.reset(seed=1)
    hits = 0
    for t in range(30):
        _, _, terminated, truncated, info = env.step(0)
        hits += info["target_hit"]
        assert terminated == (t == 29) and not truncated
    assert info["target_rate"] == pytest.approx(hits / 30)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_reward_is_target_indicator_minus_cost():
    env = BanditEnv(n_arms=4, horizon=100, agent=spec(), intervention_cost=0.25)
    env.reset(seed=2)
    for t in range(100):
        action = 3 if t % 2 else 0  # bonus on arm 2 every other step
        _, reward, _, _, info = env.step(action)
        expected = float(info["agent_action"] == 2) - (0.25 if info["intervened"] else 0.0)
        assert reward == pytest.approx(expected)
        assert info["cost"] == (0.25 if action else 0.0)


def test_budget_refuses_and_does_not_charge():
    env = BanditEnv(n_arms=4, horizon=20, agent=spec(), intervention_budget=3,
                    intervention_cost=0.5)
    obs, _ = env.reset(seed=3)
    assert obs[2 * 4 + 2] == 1.0
    for t in range(20):
        obs, _, _, _, info = env.step(1)
        assert info["intervened"] == (t < 3) and info["refused"] == (t >= 3)
        assert info["cost"] == (0.5 if t < 3 else 0.0)
        assert info["interventions_used"] == min(t + 1, 3)
    assert obs[2 * 4 + 2] == 0.0
    assert info["episode_cost"] == pytest.approx(1.5)


def test_bonus_steers_a_greedy_agent():
    """A UCB agent on arms (0.2, 0.9, 0.5, 0.1) settles on arm 1; paying a bonus of 1 on the
    target arm 2 makes it the agent's best arm, so the target rate rises."""
    def target_rate(action):
        env = BanditEnv(n_arms=4, horizon=100, agent=spec("ucb", beta=0.3), reward_noise=0.0)
        env.reset(seed=4)
        for _ in range(100):
            _, _, _, _, info = env.step(action)
        return info["target_rate"]

    assert target_rate(0) < 0.1
    assert target_rate(3) > 0.9


def test_observation_noise_misreports_actions():
    rates = {}
    for noise in (0.0, 0.3, 1.0):
        env = BanditEnv(n_arms=4, horizon=2000, agent=spec("epsilon_greedy", epsilon=0.5),
                        observation_noise=noise)
        env.reset(seed=5)
        wrong = 0
        for _ in range(2000):
            obs, _, _, _, info = env.step(0)
            wrong += info["observed_action"] != info["agent_action"]
            assert obs[info["observed_action"]] == 1.0 and obs[:4].sum() == 1.0
        rates[noise] = wrong / 2000
    assert rates[0.0] == 0.0 and rates[1.0] == 1.0
    assert rates[0.3] == pytest.approx(0.3, abs=0.04)


def test_rewards_visible_only_when_asked():
    hidden = BanditEnv(n_arms=4, agent=spec())
    visible = BanditEnv(n_arms=4, agent=spec(), principal_observes="actions+rewards")
    assert hidden.observation_space.shape == (15,) and visible.observation_space.shape == (16,)
    visible.reset(seed=6)
    obs, _, _, _, info = visible.step(3)
    assert obs[-1] == pytest.approx(info["agent_reward"], abs=1e-6)


def test_bernoulli_rewards_plus_bonus():
    env = BanditEnv(n_arms=4, horizon=200, agent=spec("epsilon_greedy", epsilon=1.0),
                    reward_noise="bernoulli", bonus=0.5)
    env.reset(seed=7)
    for _ in range(200):
        _, _, _, _, info = env.step(2)
        base = info["agent_reward"] - (0.5 if info["agent_action"] == 1 else 0.0)
        assert base in (0.0, 1.0)


def test_reset_options_fix_the_agent():
    env = BanditEnv(n_arms=4, agent=population("train", n_arms=4))
    fixed = spec(target=3)
    for seed in range(3):
        _, info = env.reset(seed=seed, options={"agent": fixed})
        assert info["agent"] is fixed and info["target_action"] == 3
    with pytest.raises(ValueError, match="options\\['agent'\\]"):
        env.reset(options={"agent": "ucb"})


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"n_arms": 1}, "n_arms must be an integer >= 2, got 1"),
        ({"horizon": 0}, "horizon must be an integer >= 1, got 0"),
        ({"intervention_budget": -1}, "intervention_budget must be None or an integer >= 0"),
        ({"intervention_cost": -1}, "intervention_cost must be >= 0, got -1"),
        ({"bonus": 0.0}, "bonus must be > 0"),
        ({"observation_noise": 1.5}, r"observation_noise must be in \[0, 1\], got 1.5"),
        ({"reward_noise": -0.1}, "reward_noise must be >= 0"),
        ({"reward_noise": "poisson"}, "reward_noise must be a std >= 0 or 'bernoulli'"),
        ({"principal_observes": "everything"}, "principal_observes must be one of"),
        ({"agent": "ucbb"}, "agent must be a registered learner"),
        ({"agent": spec(), "agent_kwargs": {"beta": 1}}, "agent_kwargs apply only"),
        ({"agent": spec(), "n_arms": 5}, "agent has 4 arms but n_arms=5"),
        ({"agent_kwargs": {"beta": float("inf")}}, "beta must be finite"),
    ],
)
def test_bad_knobs_are_named(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        env = BanditEnv(**kwargs)
        env.reset(seed=0)


def test_bad_action_is_refused():
    env = BanditEnv(n_arms=4)
    env.reset(seed=0)
    for action in (-1, 5, 1.5, "1"):
        with pytest.raises(ValueError, match="action must be an int in \\[0, 4\\]"):
            env.step(action)


def test_make_vec_is_native_and_autoresets():
    envs = gym.make_vec("Mermaide/Bandit-v0", num_envs=8, horizon=10)
    assert isinstance(envs.unwrapped, BanditVectorEnv)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (8, 33) and envs.observation_space.contains(obs)
    np.testing.assert_array_equal(obs[np.arange(8), 23 + info["target_action"]], 1.0)
    for t in range(10):
        obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert terminated.all() == (t == 9) and not truncated.any()
    assert info["target_rate"].shape == (8,)
    obs, rewards, terminated, _, _ = envs.step(np.zeros(8, dtype=np.int64))  # next-step reset
    np.testing.assert_array_equal(rewards, 0.0)
    assert not terminated.any() and obs[:, 21].min() == 1.0


def test_vector_env_is_seeded_and_mixes_learners():
    def run(seed):
        envs = BanditVectorEnv(num_envs=16, horizon=20, agent=population("test-ood"))
        envs.reset(seed=seed)
        total = np.zeros(16)
        actions = np.random.default_rng(0).integers(0, 11, size=(20, 16))
        for a in actions:
            _, reward, _, _, _info = envs.step(a)
            total += reward
        return total, {s.learner for s in envs.core.specs}

    (a, kinds), (b, _) = run(3), run(3)
    np.testing.assert_array_equal(a, b)
    assert len(kinds) >= 3


@pytest.mark.parametrize("budget", [None, 0, 3])
def test_action_mask_is_exactly_what_can_still_have_an_effect(budget):
    """A masked action is one the game would refuse (a bonus with no budget left); an
    allowed one is applied. The reset info, every step's info and ``action_masks()`` agree,
    in the single env and in the native vector env."""
    env = gym.make("Mermaide/Bandit-v0", n_arms=4, horizon=12, intervention_budget=budget)
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=0)
    for _ in range(12):
        mask = info["action_mask"]
        np.testing.assert_array_equal(mask, env.unwrapped.action_masks())
        assert mask.shape == (5,) and mask.dtype == bool and mask[0]
        assert np.all(mask[1:] == mask[1])  # the budget is all that decides
        action = int(rng.integers(1, 5))
        _, _, _, _, info = env.step(action)
        assert info["refused"] == (not mask[action])
        assert info["intervened"] == bool(mask[action])
    vector = gym.make_vec("Mermaide/Bandit-v0", num_envs=6, n_arms=4, horizon=12,
                          intervention_budget=budget, vectorization_mode="vector_entry_point")
    _, info = vector.reset(seed=0)
    for _ in range(12):
        mask = info["action_mask"]
        assert mask.shape == (6, 5)
        actions = rng.integers(0, 5, size=6)
        _, _, _, _, info = vector.step(actions)
        chosen = mask[np.arange(6), actions]
        np.testing.assert_array_equal(info["refused"], ~chosen)
        np.testing.assert_array_equal(info["intervened"], chosen & (actions > 0))


# --- the rules under random knobs and action sequences ----------------------------------------


@st.composite
def games(draw):
    n_arms = draw(st.integers(2, 6))
    horizon = draw(st.integers(1, 40))
    knobs = dict(
        n_arms=n_arms,
        horizon=horizon,
        agent=draw(st.sampled_from(learner_names())),
        intervention_budget=draw(st.one_of(st.none(), st.integers(0, 12))),
        intervention_cost=draw(st.floats(0.0, 2.0)),
        bonus=draw(st.floats(0.01, 3.0)),
        observation_noise=draw(st.floats(0.0, 1.0)),
        reward_noise=draw(st.one_of(st.just("bernoulli"), st.floats(0.0, 1.0))),
        principal_observes=draw(st.sampled_from(["actions", "actions+rewards"])),
    )
    actions = draw(st.lists(st.integers(0, n_arms), min_size=horizon, max_size=horizon))
    return knobs, actions, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=150, deadline=None)
@given(games())
def test_game_rules_hold(game):
    knobs, actions, seed = game
    env = BanditEnv(**knobs)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    budget = knobs["intervention_budget"]
    used, charged, steps = 0, 0.0, 0
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        assert env.observation_space.contains(obs)
        if action == 0:
            assert not info["intervened"] and not info["refused"]
        else:
            assert info["intervened"] != info["refused"]
            assert info["refused"] == (budget is not None and used >= budget)
        used += info["intervened"]
        assert info["interventions_used"] == used
        assert budget is None or used <= budget
        expected_cost = knobs["intervention_cost"] if info["intervened"] else 0.0
        assert info["cost"] == pytest.approx(expected_cost)
        charged += info["cost"]
        target_hit = info["agent_action"] == info["target_action"]
        assert reward == pytest.approx(float(target_hit) - expected_cost)
        assert not truncated
        if terminated:
            break
    assert steps == knobs["horizon"] and terminated
    assert info["episode_cost"] == pytest.approx(charged)
    assert 0.0 <= info["target_rate"] <= 1.0
    assert np.isfinite(obs).all()


# --- the PettingZoo forms ---------------------------------------------------------------------


@pytest.fixture(params=["default", "rewards+noise", "budget+bernoulli", "fixed-agent"])
def two_player_knobs(request, ucb_agent) -> dict:
    """The knobs of a 4-arm, horizon-25 two-player game, one set per parameter."""
    extra = {
        "default": {},
        "rewards+noise": {"principal_observes": "actions+rewards", "observation_noise": 0.3},
        "budget+bernoulli": {"intervention_budget": 3, "intervention_cost": 0.5,
                             "reward_noise": "bernoulli"},
        "fixed-agent": {"agent": ucb_agent},
    }[request.param]
    return {"n_arms": 4, "horizon": 25, **extra}


def test_pettingzoo_parallel_api_and_seed_tests_pass(two_player_knobs: dict) -> None:
    parallel_api_test(bandit_parallel(**two_player_knobs), num_cycles=100)
    parallel_seed_test(lambda: bandit_parallel(**two_player_knobs), num_cycles=100)


def test_pettingzoo_api_test_passes_on_the_aec_forms(two_player_knobs: dict) -> None:
    api_test(parallel_to_aec(bandit_parallel(**two_player_knobs)), num_cycles=100)
    api_test(bandit_aec(**two_player_knobs), num_cycles=100)
    seed_test(lambda: bandit_aec(**two_player_knobs), num_cycles=100)


BAD_KNOBS = [
    {"n_arms": 1},
    {"horizon": 0},
    {"intervention_budget": -1},
    {"intervention_cost": -0.1},
    {"bonus": 0.0},
    {"observation_noise": 1.5},
    {"reward_noise": "gaussian"},
    {"principal_observes": "everything"},
    {"agent": "no-such-learner"},
    {"agent": AgentSpec("ucb", {}, [0.1, 0.2, 0.3], target=0)},
]


@pytest.mark.parametrize("bad", BAD_KNOBS)
def test_the_knobs_are_those_of_the_gymnasium_form_with_the_same_checks(bad: dict) -> None:
    errors = []
    for make in (BanditEnv, bandit_parallel):
        with pytest.raises((ValueError, KeyError)) as caught:
            make(**{"n_arms": 4, **bad})
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_the_principal_sees_what_bandit_env_shows_it(ucb_agent, play) -> None:
    env = bandit_parallel(n_arms=4, horizon=10, agent=ucb_agent, reward_noise=0.0,
                          principal_observes="actions+rewards")
    reference = BanditEnv(n_arms=4, horizon=10, agent=ucb_agent, reward_noise=0.0,
                          principal_observes="actions+rewards")
    obs, infos = env.reset(seed=0)
    assert env.observation_space("principal") == reference.observation_space
    assert env.action_space("principal") == reference.action_space
    assert infos["principal"] == {"target_action": 0}
    obs, rewards, _, _, infos = play(env, 3, 1)  # bonus on arm 2, agent on arm 1
    k = 4
    expected = np.zeros(3 * k + 4, dtype=np.float32)
    expected[1] = 1.0          # the agent's action, observed without noise
    expected[k + 3] = 1.0      # its own action (bonus on arm 2)
    expected[2 * k + 1] = 0.9  # time left
    expected[2 * k + 2] = 1.0  # unlimited budget
    expected[2 * k + 3] = 1.0  # its own target, arm 0
    expected[3 * k + 3] = 0.9  # the agent's received reward, visible with this knob
    np.testing.assert_allclose(obs["principal"], expected, rtol=1e-6)
    assert rewards["principal"] == pytest.approx(0.0 - 0.1)  # not on target, paid the cost
    assert set(infos["principal"]) == {"observed_action", "target_action", "intervened",
                                       "refused", "interventions_used", "cost"}
    obs, rewards, *_ = play(env, 1, 0)  # bonus on the target, agent takes it
    assert rewards["principal"] == pytest.approx(1.0 - 0.1)
    assert env.game_info["agent_action"] == 0 and env.game_info["target_hit"] is True


def test_by_default_the_principal_does_not_see_the_agent_reward_and_noise_hides_its_action(
        ucb_agent, play) -> None:
    env = bandit_parallel(n_arms=4, horizon=50, agent=ucb_agent, observation_noise=1.0)
    obs, _ = env.reset(seed=0)
    assert obs["principal"].shape == (3 * 4 + 3,)
    for t in range(50):
        agent_action = t % 4
        obs, _, _, _, infos = play(env, 0, agent_action)
        seen = int(np.argmax(obs["principal"][:4]))
        # observation_noise = 1: the principal always sees some other arm than the true one.
        assert seen == infos["principal"]["observed_action"] != agent_action
        assert "agent_action" not in infos["principal"]
        assert env.game_info["agent_action"] == agent_action


def test_the_budget_refuses_interventions_and_the_agent_gets_no_bonus_then(ucb_agent, play) -> None:
    env = bandit_parallel(n_arms=4, horizon=5, agent=ucb_agent, reward_noise=0.0,
                          intervention_budget=1, intervention_cost=0.3)
    env.reset(seed=0)
    _, rewards, _, _, infos = play(env, 1, 0)
    assert infos["principal"]["intervened"] and rewards["agent"] == pytest.approx(1.2)
    assert rewards["principal"] == pytest.approx(0.7)
    _, rewards, _, _, infos = play(env, 1, 0)
    assert infos["principal"]["refused"] and not infos["principal"]["intervened"]
    assert rewards["agent"] == pytest.approx(0.2) and rewards["principal"] == pytest.approx(1.0)


def test_reset_options_play_a_given_agent_and_seeds_reproduce_tasks(ucb_agent) -> None:
    env = bandit_parallel(n_arms=4, horizon=3)
    _, infos = env.reset(seed=0, options={"agent": ucb_agent})
    assert env.agent_spec is ucb_agent and infos["principal"]["target_action"] == 0
    with pytest.raises(ValueError, match="AgentSpec over 4 arms"):
        env.reset(options={"agent": AgentSpec("ucb", {}, [0.1, 0.2], target=0)})
    drawn = []
    for _ in range(2):
        env.reset(seed=7)
        drawn.append(env.agent_spec)
    assert drawn[0] is not drawn[1]
    np.testing.assert_array_equal(drawn[0].rewards, drawn[1].rewards)
    env.reset()
    assert not np.array_equal(env.agent_spec.rewards, drawn[0].rewards)
