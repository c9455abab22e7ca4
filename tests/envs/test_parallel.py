"""The PettingZoo forms: PettingZoo's own conformance tests, the knobs, and what each side sees."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo import ParallelEnv
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test
from pettingzoo.utils import parallel_to_aec

from mermaide.agents import AgentSpec
from mermaide.envs import (
    BanditEnv,
    RepeatedStackelbergEnv,
    bandit_aec,
    bandit_parallel,
    repeated_stackelberg_aec,
    repeated_stackelberg_parallel,
)
from mermaide.envs.games import classic_game

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming ("player_0") and on equal observation sizes does not fit a
    # principal-agent game, whose two players are different by design.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes")

# The agent's base rewards (its best arm is 1) and the principal's target (arm 0).
SPEC = AgentSpec("ucb", {}, [0.2, 0.9, 0.4, 0.1], target=0)

KNOB_SETS = [
    {},
    {"principal_observes": "actions+rewards", "observation_noise": 0.3},
    {"intervention_budget": 3, "intervention_cost": 0.5, "reward_noise": "bernoulli"},
    {"agent": SPEC},
]


def knobs(index: int) -> dict:
    return {"n_arms": 4, "horizon": 25, **KNOB_SETS[index]}


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


@pytest.mark.parametrize("index", range(len(KNOB_SETS)))
def test_pettingzoo_parallel_api_and_seed_tests_pass(index: int) -> None:
    parallel_api_test(bandit_parallel(**knobs(index)), num_cycles=100)
    parallel_seed_test(lambda: bandit_parallel(**knobs(index)), num_cycles=100)


@pytest.mark.parametrize("index", range(len(KNOB_SETS)))
def test_pettingzoo_api_test_passes_on_the_aec_forms(index: int) -> None:
    api_test(parallel_to_aec(bandit_parallel(**knobs(index))), num_cycles=100)
    api_test(bandit_aec(**knobs(index)), num_cycles=100)
    seed_test(lambda: bandit_aec(**knobs(index)), num_cycles=100)


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


def play(env, principal_action: int, agent_action: int):
    return env.step({"principal": principal_action, "agent": agent_action})


def test_the_agent_sees_its_own_action_its_reward_with_the_bonus_and_time_left() -> None:
    env = bandit_parallel(n_arms=4, horizon=4, agent=SPEC, reward_noise=0.0, bonus=0.5)
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


def test_the_agent_view_does_not_depend_on_what_the_principal_is_allowed_to_see() -> None:
    views = []
    for extra in ({}, {"observation_noise": 1.0, "principal_observes": "actions+rewards"}):
        env = bandit_parallel(n_arms=4, horizon=10, agent=SPEC, reward_noise=0.0, **extra)
        env.reset(seed=3)
        views.append([play(env, t % 5, t % 4)[0]["agent"] for t in range(10)])
    np.testing.assert_array_equal(views[0], views[1])


def test_the_principal_sees_what_bandit_env_shows_it() -> None:
    env = bandit_parallel(n_arms=4, horizon=10, agent=SPEC, reward_noise=0.0,
                          principal_observes="actions+rewards")
    reference = BanditEnv(n_arms=4, horizon=10, agent=SPEC, reward_noise=0.0,
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
) -> None:
    env = bandit_parallel(n_arms=4, horizon=50, agent=SPEC, observation_noise=1.0)
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


def test_the_budget_refuses_interventions_and_the_agent_gets_no_bonus_then() -> None:
    env = bandit_parallel(n_arms=4, horizon=5, agent=SPEC, reward_noise=0.0,
                          intervention_budget=1, intervention_cost=0.3)
    env.reset(seed=0)
    _, rewards, _, _, infos = play(env, 1, 0)
    assert infos["principal"]["intervened"] and rewards["agent"] == pytest.approx(1.2)
    assert rewards["principal"] == pytest.approx(0.7)
    _, rewards, _, _, infos = play(env, 1, 0)
    assert infos["principal"]["refused"] and not infos["principal"]["intervened"]
    assert rewards["agent"] == pytest.approx(0.2) and rewards["principal"] == pytest.approx(1.0)


def test_the_episode_ends_for_both_players_after_the_horizon() -> None:
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


def test_bad_actions_are_refused_with_a_clear_error() -> None:
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


def test_reset_options_play_a_given_agent_and_seeds_reproduce_tasks() -> None:
    env = bandit_parallel(n_arms=4, horizon=3)
    _, infos = env.reset(seed=0, options={"agent": SPEC})
    assert env.agent_spec is SPEC and infos["principal"]["target_action"] == 0
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


# --- the repeated Stackelberg game ------------------------------------------------------------

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
