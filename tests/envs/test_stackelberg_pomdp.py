"""The Stackelberg POMDP (``mermaide.envs.stackelberg_pomdp``): the presets' exact values, the
follower's multiplicative-weights response replayed in closed form, the enforced commitment,
the reward phase against the learnt strategy, and every form's conformance tests."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test, parallel_seed_test, seed_test

import mermaide  # noqa: F401  (registers the ids)
from mermaide.envs import (
    ActorObservation,
    MatrixGame,
    StackelbergPOMDPEnv,
    StackelbergPOMDPVectorEnv,
    preset_values,
    solve,
    stackelberg_pomdp_aec,
    stackelberg_pomdp_parallel,
)
from mermaide.envs.stackelberg_pomdp import POMDP_GAMES, pomdp_game, pure_commitment

pytestmark = pytest.mark.filterwarnings(
    # PettingZoo's advice on naming and on equal observations does not fit a leader-follower
    # game, whose two players are different by design.
    "ignore:We recommend agents to be named", "ignore:Agents have different observation",
    "ignore:Observations are different shapes", "ignore:Observation is not a NumPy array",
    # check_env on the ActorObservation wrapper, on purpose.
    "ignore:.*is different from the unwrapped version")

ENV_ID = "Mermaide/StackelbergPOMDP-v0"


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def episode(env: Any, actions: Any, seed: int = 0) -> tuple[list[float], list[dict]]:
    """Play a whole episode; ``actions(t)`` gives the leader's action of game t."""
    env.reset(seed=seed)
    rewards, infos, done, t = [], [], False, 0
    while not done:
        _, reward, done, truncated, info = env.step(actions(t))
        assert not truncated
        rewards.append(reward)
        infos.append(info)
        t += 1
    return rewards, infos


# --- the presets and their exact values -----------------------------------------------------


def test_preset_values_are_the_exact_mixed_and_pure_commitment_values():
    # Conitzer's game (payoffs / 3): commitment to (1/2, 1/2) is worth 2.5, the best pure one
    # (row 1) 2, Nash (row 0 dominates) 1.
    conitzer = preset_values("conitzer")
    assert conitzer.mixed == pytest.approx(2.5 / 3)
    np.testing.assert_allclose(conitzer.mixed_strategy, [0.5, 0.5], atol=1e-9)
    assert (conitzer.pure, conitzer.pure_action) == (pytest.approx(2 / 3), 1)
    assert solve(*POMDP_GAMES["conitzer"]).value == pytest.approx(2.5)
    assert solve(*POMDP_GAMES["conitzer"]).nash_value == pytest.approx(1.0)
    # The common-interest game: its best cell needs no mixing.
    common = preset_values("zhang2020-game-1")
    assert (common.mixed, common.pure, common.pure_action) == (1.0, 1.0, 2)
    # The other: row 0 is worth 20 of 30, mixing (1/4, 3/4, 0) 27.5.
    other = preset_values("zhang2020-game-2")
    assert other.mixed == pytest.approx(27.5 / 30)
    np.testing.assert_allclose(other.mixed_strategy, [0.25, 0.75, 0.0], atol=1e-9)
    assert (other.pure, other.pure_action) == (pytest.approx(20 / 30), 0)
    # The repository's game 4: the follower's column 1 is dominant, so leading gains nothing.
    control = preset_values("brero-game-4")
    assert (control.mixed, control.pure, control.pure_action) == (1 / 3, 1 / 3, 0)
    assert solve(*POMDP_GAMES["brero-game-4"]).nash_value == pytest.approx(1.0)
    for name in POMDP_GAMES:
        game = pomdp_game(name)
        assert max(game.A.max(), game.B.max()) == 1.0
        assert preset_values(name).mixed >= preset_values(name).pure


def test_pure_commitment_breaks_the_followers_ties_for_the_leader():
    # Row 0 leaves the follower indifferent: it plays the column better for the leader (1).
    A, B = [[0.0, 1.0], [0.5, 0.5]], [[1.0, 1.0], [0.0, 1.0]]
    assert pure_commitment(A, B) == (0, 1.0)
    assert preset_values(MatrixGame(A, B)).pure == 1.0


# --- the follower's response ----------------------------------------------------------------

RANDOM_GAME = MatrixGame(np.random.default_rng(5).random((3, 4)),
                         np.random.default_rng(6).random((3, 4)))


@pytest.mark.parametrize("game", ["conitzer", "zhang2020-game-2", RANDOM_GAME])
@pytest.mark.parametrize("epsilon", [0.05, 0.5, 3.0])
def test_the_mw_response_is_softmax_of_epsilon_t_u_after_t_sweeps(game, epsilon):
    env = StackelbergPOMDPEnv(game=game, epsilon=epsilon, response_steps=6, reward_steps=2)
    x = np.random.default_rng(1).random(env.m)
    _, infos = episode(env, lambda t: env.encode_action(x))
    u = (x / x.sum()) @ env.game.B
    n = env.n
    for t, info in enumerate(infos):
        # follower_strategy is p before game t: t // n sweeps are done (all 6 in the reward
        # phase).
        sweeps = min(t // n, 6)
        np.testing.assert_allclose(info["follower_strategy"], softmax(epsilon * sweeps * u),
                                   rtol=1e-6, atol=1e-9)
        assert info["reward_phase"] == (t >= 6 * n)


def test_the_quantal_follower_plays_the_logit_response_after_one_sweep():
    env = StackelbergPOMDPEnv(game="zhang2020-game-2", follower="quantal", temperature=0.1,
                              response_steps=3)
    x = np.array([0.2, 0.5, 0.3])
    _, infos = episode(env, lambda t: env.encode_action(x))
    np.testing.assert_allclose(infos[0]["follower_strategy"], np.full(3, 1 / 3))
    played = infos[0]["commitment"]  # x as the float32 action carries it
    np.testing.assert_allclose(played, x, rtol=1e-6)
    for info in infos[3:]:
        np.testing.assert_allclose(info["follower_strategy"],
                                   softmax(played @ env.game.B / 0.1), rtol=1e-9)


@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0])
def test_the_q_learning_follower_plays_boltzmann_over_its_constant_step_values(alpha):
    env = StackelbergPOMDPEnv(game="zhang2020-game-2", follower="q_learning", alpha=alpha,
                              temperature=0.2, response_steps=4)
    x = np.array([0.2, 0.5, 0.3])
    _, infos = episode(env, lambda t: env.encode_action(x))
    u = infos[0]["commitment"] @ env.game.B
    n = env.n
    for t, info in enumerate(infos):
        sweeps = min(t // n, 4)
        # From Q = 0 with the same u every sweep: Q = u * (1 - (1 - alpha)^sweeps).
        q = u * (1 - (1 - alpha) ** sweeps)
        np.testing.assert_allclose(info["follower_strategy"], softmax(q / 0.2), rtol=1e-9)


@pytest.mark.parametrize("knobs", [
    {"follower": "q_learning", "alpha": 0.7, "temperature": 0.01},
    {"epsilon": 5.0},
    {"principal_observes": "actions", "observation_noise": 0.3, "game": "zhang2020-game-2"},
    {"follower": "quantal", "temperature": 0.01, "commitment": "pure"},
])
def test_the_followers_strategy_stays_a_distribution(knobs):
    env = StackelbergPOMDPEnv(response_steps=20, reward_steps=5, on_deviation="replace",
                              **knobs)
    env.action_space.seed(0)
    env.reset(seed=3)
    done = False
    while not done:
        obs, _, done, _, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        for p in (info["follower_strategy"], obs["critic:follower_weights"]):
            assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-6)


# --- the commitment -------------------------------------------------------------------------


def test_the_first_strategy_is_the_commitment_for_the_whole_episode():
    env = StackelbergPOMDPEnv(game="zhang2020-game-2", response_steps=4, reward_steps=3)
    env.action_space.seed(1)
    actions = [env.action_space.sample() for _ in range(env.horizon)]
    _, infos = episode(env, lambda t: actions[t])
    first = actions[0] / actions[0].sum()
    for t, info in enumerate(infos):
        np.testing.assert_allclose(info["commitment"], first, rtol=1e-6)
        assert info["deviated"] == (t > 0)  # random Box samples always differ
    # Playing the same commitment again is no deviation.
    _, infos = episode(env, lambda t: actions[0])
    assert not any(info["deviated"] for info in infos)


def test_a_deviation_is_refused_when_asked():
    env = StackelbergPOMDPEnv(on_deviation="raise", response_steps=2)
    env.reset(seed=0)
    env.step(env.encode_action([0.3, 0.7]))
    env.step(env.encode_action([0.3, 0.7]))
    with pytest.raises(ValueError, match=r"must keep its commitment.*committed to"):
        env.step(env.encode_action([0.7, 0.3]))


def test_a_pure_commitment_masks_the_other_actions():
    env = StackelbergPOMDPEnv(game="zhang2020-game-2", commitment="pure", response_steps=2)
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["action_mask"], [True, True, True])
    _, _, _, _, info = env.step(2)
    np.testing.assert_array_equal(info["action_mask"], [False, False, True])
    _, _, _, _, info = env.step(0)
    assert info["deviated"] and info["commitment"].tolist() == [0.0, 0.0, 1.0]


def test_a_reactive_leader_commits_once_per_observed_follower_action():
    env = StackelbergPOMDPEnv(game="zhang2020-game-2", principal_observes="actions",
                              observation_noise=0.2, response_steps=10, reward_steps=30)
    assert env.observation_space["signal"].n == 3
    env.action_space.seed(2)
    _, infos = episode(env, lambda t: env.action_space.sample(), seed=4)
    first: dict[int, np.ndarray] = {}
    flipped = 0
    for t, info in enumerate(infos):
        signal = info["signal"]
        first.setdefault(signal, info["commitment"])
        np.testing.assert_array_equal(info["commitment"], first[signal])
        if t < 30:  # response game t queries follower action t % 3
            assert info["follower_action"] == t % 3
            flipped += signal != t % 3
            assert info["follower_reward"] == pytest.approx(
                info["commitment"] @ env.game.B[:, t % 3])
        else:  # reward games: the leader reacts to an action drawn from the learnt strategy
            j = info["follower_action"]
            assert info["reward_phase"] and 0 <= j < 3
            assert info["leader_value"] == pytest.approx(info["commitment"] @ env.game.A[:, j])
    assert set(first) == {0, 1, 2} and 0 < flipped < 20


# --- the reward phase -----------------------------------------------------------------------


def test_the_reward_phase_pays_the_expected_payoff_against_the_learnt_strategy():
    env = StackelbergPOMDPEnv(game="zhang2020-game-2", epsilon=0.7, response_steps=9,
                              reward_steps=4)
    x = np.array([0.3, 0.6, 0.1])
    rewards, infos = episode(env, lambda t: env.encode_action(x))
    x = infos[0]["commitment"]  # as the float32 action carries it
    learnt = softmax(0.7 * 9 * (x @ env.game.B))
    response_games = 9 * 3
    assert rewards[:response_games] == [0.0] * response_games
    for reward, info in zip(rewards[response_games:], infos[response_games:], strict=True):
        assert reward == pytest.approx(x @ env.game.A @ learnt, rel=1e-9)
        assert info["follower_action"] == -1
    assert infos[-1]["reward_phase_mean"] == pytest.approx(x @ env.game.A @ learnt, rel=1e-9)
    assert len(rewards) == env.horizon == response_games + 4


@pytest.mark.parametrize("game, inducing", [
    # (1/2 - d, 1/2 + d) makes column 1 the follower's strict best response, worth 2.5 - d.
    ("conitzer", [0.49, 0.51]),
    # (1/4 + d, 3/4 - d, 0) makes column 0 strict, worth 27.5 - 10 d.
    ("zhang2020-game-2", [0.26, 0.74, 0.0]),
])
def test_committing_near_the_stackelberg_strategy_earns_the_stackelberg_value(game, inducing):
    values = preset_values(game)
    far = StackelbergPOMDPEnv(game=game, epsilon=1.0, response_steps=3000)
    rewards, infos = episode(far, lambda t: far.encode_action(inducing))
    assert infos[-1]["reward_phase_mean"] == pytest.approx(values.mixed, abs=0.01)
    assert infos[-1]["reward_phase_mean"] > values.pure + 0.1
    # Exactly at the Stackelberg strategy the follower is indifferent, and multiplicative
    # weights break the tie by staying uniform, not in the leader's favour: the POMDP's value
    # is a supremum that commitments close to x* approach.
    rewards, infos = episode(far, lambda t: far.encode_action(values.mixed_strategy))
    u = values.mixed_strategy @ far.game.B
    tied = np.isclose(u, u.max())
    assert tied.sum() == 2
    np.testing.assert_allclose(infos[-1]["follower_strategy"], tied / tied.sum(), atol=1e-6)
    assert rewards[-1] == pytest.approx(values.mixed_strategy @ far.game.A @ (tied / 2), abs=1e-6)
    assert rewards[-1] < values.mixed - 0.2


def test_the_best_pure_commitment_earns_the_pure_value():
    values = preset_values("zhang2020-game-2")
    env = StackelbergPOMDPEnv(game="zhang2020-game-2", commitment="pure", epsilon=1.0,
                              response_steps=100)
    _, infos = episode(env, lambda t: values.pure_action)
    assert infos[-1]["reward_phase_mean"] == pytest.approx(values.pure, abs=1e-6)


def test_the_basic_pomdp_plays_the_response_phase_inside_the_first_step():
    knobs = {"game": "zhang2020-game-2", "epsilon": 0.4, "response_steps": 12,
             "reward_steps": 3}
    visible = StackelbergPOMDPEnv(**knobs)
    hidden = StackelbergPOMDPEnv(hide_response_phase=True, **knobs)
    assert hidden.horizon == 3 and visible.horizon == 12 * 3 + 3
    x = [0.1, 0.6, 0.3]
    seen, seen_infos = episode(visible, lambda t: visible.encode_action(x))
    basic, basic_infos = episode(hidden, lambda t: hidden.encode_action(x))
    np.testing.assert_allclose(basic, seen[-3:], rtol=1e-12)
    np.testing.assert_allclose(basic_infos[0]["follower_strategy"],
                               seen_infos[-1]["follower_strategy"], rtol=1e-12)
    obs, _ = hidden.reset(seed=0)
    assert obs["critic:phase"] == 1


# --- the rules as properties, on random games, knobs and leaders -----------------------------


@st.composite
def pomdp_episodes(draw):
    m, n = draw(st.integers(2, 4)), draw(st.integers(2, 4))
    unit = st.floats(0.0, 1.0, allow_nan=False)
    A, B = (np.array(draw(st.lists(unit, min_size=m * n, max_size=m * n))).reshape(m, n)
            for _ in range(2))
    observes = draw(st.sampled_from(["nothing", "actions"]))
    knobs = dict(
        game=(A, B),
        follower=draw(st.sampled_from(["mw", "quantal", "q_learning"])),
        epsilon=draw(st.floats(0.01, 20.0)),
        temperature=draw(st.floats(0.01, 1.0)),
        alpha=draw(st.floats(0.01, 1.0)),
        response_steps=draw(st.integers(0, 6)),
        reward_steps=draw(st.integers(1, 5)),
        commitment=draw(st.sampled_from(["mixed", "pure"])),
        principal_observes=observes,
        observation_noise=draw(st.floats(0.0, 1.0)),
        hide_response_phase=observes == "nothing" and draw(st.booleans()),
    )
    return knobs, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=80, deadline=None)
@given(pomdp_episodes())
def test_the_rules_hold_for_any_game_follower_and_leader(case):
    """Whatever the leader plays: the follower's strategy stays a distribution and moves only in
    the response phase; the commitment at each signal never changes within the episode; the
    response phase pays 0 and the reward phase the leader's payoff against the strategy the
    follower learnt (expected, or against the action it reacts to)."""
    knobs, seed = case
    env = StackelbergPOMDPEnv(**knobs)
    A = env.game.A
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    commitments: dict[int, np.ndarray] = {}
    learnt = None
    done = False
    while not done:
        obs, reward, done, truncated, info = env.step(env.action_space.sample())
        assert not truncated and env.observation_space.contains(obs)
        p = info["follower_strategy"]
        for q in (p, obs["critic:follower_weights"]):
            assert np.all(q >= 0) and q.sum() == pytest.approx(1.0, abs=1e-6)
        x = commitments.setdefault(int(info["signal"]), info["commitment"])
        np.testing.assert_array_equal(info["commitment"], x)
        if not info["reward_phase"]:
            assert reward == 0.0
            continue
        if learnt is None:
            learnt = p
        np.testing.assert_array_equal(p, learnt)
        j = info["follower_action"]
        assert reward == pytest.approx(x @ A @ p if j < 0 else x @ A[:, j], abs=1e-12)
    assert learnt is not None


# --- the knobs --------------------------------------------------------------------------------


@pytest.mark.parametrize("bad, message", [
    ({"game": "no-such-game"}, r"game must be a preset \(conitzer, .*got 'no-such-game'"),
    ({"game": 3}, "game must be a preset"),
    ({"follower": "ucb"},
     r"follower must be one of \('mw', 'quantal', 'q_learning'\), got 'ucb'"),
    ({"alpha": 0.0}, r"alpha must be in \(0, 1\], got 0.0"),
    ({"alpha": "x"}, r"alpha must be a real number"),
    ({"epsilon": 0.0}, "epsilon must be > 0, got 0.0"),
    ({"epsilon": "big"}, "epsilon must be a real number, got 'big'"),
    ({"temperature": -1.0}, "temperature must be > 0, got -1.0"),
    ({"response_steps": -1}, "response_steps must be an integer >= 0, got -1"),
    ({"reward_steps": 0}, "reward_steps must be an integer >= 1, got 0"),
    ({"reward_steps": 1.5}, "reward_steps must be an integer >= 1, got 1.5"),
    ({"commitment": "both"}, r"commitment must be one of \('mixed', 'pure'\), got 'both'"),
    ({"action_type": "probabilities"}, "action_type must be one of"),
    ({"on_deviation": "ignore"}, r"on_deviation must be one of \('replace', 'raise'\)"),
    ({"hide_response_phase": 1}, "hide_response_phase must be True or False, got 1"),
    ({"observation_noise": 1.5}, r"observation_noise must be in \[0, 1\], got 1.5"),
    ({"principal_observes": "actions+rewards"},
     r"principal_observes must be one of \('nothing', 'actions'\), got 'actions\+rewards'"),
    ({"hide_response_phase": True, "principal_observes": "actions"},
     "hide_response_phase=True needs principal_observes='nothing'"),
])
def test_bad_knobs_are_refused_with_a_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        StackelbergPOMDPEnv(**bad)


def test_knobs_without_a_use_and_bad_actions_are_refused():
    with pytest.raises(TypeError, match="intervention_budget"):
        StackelbergPOMDPEnv(intervention_budget=3)
    env = StackelbergPOMDPEnv()
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(env.encode_action([1, 0]))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be in Box"):
        env.step(np.array([2.0, 0.0]))
    with pytest.raises(ValueError, match="strategy must be a vector of 2"):
        env.encode_action([1.0])
    with pytest.raises(ValueError, match="a pure commitment needs a pure strategy"):
        StackelbergPOMDPEnv(commitment="pure").encode_action([0.5, 0.5])


# --- the forms --------------------------------------------------------------------------------

FORMS = [
    {},
    {"commitment": "pure", "game": "zhang2020-game-1"},
    {"principal_observes": "actions", "observation_noise": 0.2, "action_type": "logits"},
    {"hide_response_phase": True, "follower": "quantal"},
]


@pytest.mark.parametrize("knobs", FORMS)
def test_check_env_passes(knobs):
    check_env(StackelbergPOMDPEnv(response_steps=3, **knobs), skip_render_check=True)
    check_env(ActorObservation(StackelbergPOMDPEnv(response_steps=3, **knobs)),
              skip_render_check=True)


def test_registered_and_the_actor_sees_no_critic_key():
    env = gym.make(ENV_ID)
    assert isinstance(env.unwrapped, StackelbergPOMDPEnv)
    actor = ActorObservation(env)
    obs, info = actor.reset(seed=0)
    assert list(obs) == ["signal"] and list(actor.observation_space.spaces) == ["signal"]
    assert set(env.observation_space.spaces) == {"signal", "critic:phase",
                                                 "critic:phase_progress",
                                                 "critic:follower_weights"}
    assert info["stackelberg_value"] == pytest.approx(2.5 / 3)


def test_make_vec_plays_like_single_envs():
    knobs = {"game": "zhang2020-game-2", "response_steps": 5, "reward_steps": 2}
    vector = gym.make_vec(ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", **knobs)
    assert isinstance(vector.unwrapped, StackelbergPOMDPVectorEnv)
    actions = np.random.default_rng(0).random((vector.unwrapped.horizon, 4, 3),
                                              dtype=np.float32)
    obs, _ = vector.reset(seed=7)
    singles = [StackelbergPOMDPEnv(**knobs) for _ in range(4)]
    single_obs = [single.reset(seed=i)[0] for i, single in enumerate(singles)]
    for t in range(vector.unwrapped.horizon):
        assert vector.observation_space.contains(obs)
        for i in range(4):
            for key, value in single_obs[i].items():
                np.testing.assert_allclose(obs[key][i], value)
        obs, rewards, terminated, truncated, info = vector.step(actions[t])
        for i, single in enumerate(singles):
            single_obs[i], reward, done, _, single_info = single.step(actions[t, i])
            assert rewards[i] == pytest.approx(reward, rel=1e-12)
            assert terminated[i] == done and not truncated[i]
            np.testing.assert_allclose(info["commitment"][i], single_info["commitment"])
    assert terminated.all()
    np.testing.assert_allclose(info["reward_phase_mean"],
                               [s.core.reward_sum[0] / 2 for s in singles])
    obs, rewards, terminated, _, _ = vector.step(actions[0])  # next-step autoreset
    np.testing.assert_array_equal(rewards, 0.0)
    assert not terminated.any() and np.all(obs["critic:phase"] == 0)


def test_same_seed_same_episode():
    def run(seed):
        env = StackelbergPOMDPEnv(principal_observes="actions", observation_noise=0.3,
                                  game="zhang2020-game-2", response_steps=5, reward_steps=20)
        env.action_space.seed(seed)
        rewards, infos = episode(env, lambda t: env.action_space.sample(), seed=seed)
        return rewards + [i["signal"] for i in infos] + [i["follower_action"] for i in infos]

    assert run(1) == run(1)
    assert run(1) != run(2)
    vector = StackelbergPOMDPVectorEnv(num_envs=3, principal_observes="actions",
                                       observation_noise=0.5)
    signals = []
    for _ in range(2):
        obs, _ = vector.reset(seed=5)
        trace = [obs["signal"].copy()]
        for _ in range(vector.horizon):
            obs, *_ = vector.step(np.full((3, 2), 0.5, dtype=np.float32))
            trace.append(obs["signal"].copy())
        signals.append(np.concatenate(trace))
    np.testing.assert_array_equal(signals[0], signals[1])
    with pytest.raises(ValueError, match="seed must be an int"):
        vector.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match=r"actions must be an array of shape \(3, 2\)"):
        vector.step(np.zeros((2, 2)))


# --- the PettingZoo form --------------------------------------------------------------------


@pytest.mark.parametrize("knobs", [{}, {"commitment": "pure", "game": "zhang2020-game-2"}])
def test_pettingzoo_parallel_api_and_seed_tests_pass(knobs):
    def make():
        return stackelberg_pomdp_parallel(response_steps=5, reward_steps=3, **knobs)

    parallel_api_test(make(), num_cycles=50)
    parallel_seed_test(make, num_cycles=50)
    seed_test(lambda: stackelberg_pomdp_aec(response_steps=5, reward_steps=3, **knobs),
              num_cycles=50)


def test_the_follower_player_is_paid_and_counted():
    env = stackelberg_pomdp_parallel(game="zhang2020-game-2", response_steps=2, reward_steps=2)
    obs, _ = env.reset(seed=0)
    assert env.game_info["stackelberg_value"] == pytest.approx(27.5 / 30)
    x = np.array([0.2, 0.8, 0.0])
    follower_actions = [0, 1, 1, 1, 2, 0, 1, 0]  # 6 response games, then 2 reward games
    for t, j in enumerate(follower_actions):
        obs, rewards, terms, _, infos = env.step(
            {"principal": env.encode_action(x), "agent": j})
        assert rewards["agent"] == pytest.approx(x @ env.game.B[:, j])
        paid = x @ env.game.A[:, j] if t >= 6 else 0.0
        assert rewards["principal"] == pytest.approx(paid)
        assert set(infos["principal"]) == {"signal", "commitment", "deviated"}
    np.testing.assert_allclose(obs["principal"]["critic:follower_weights"], [2 / 6, 3 / 6, 1 / 6],
                               rtol=1e-6)
    assert terms == {"principal": True, "agent": True} and env.agents == []


def test_the_pettingzoo_form_refuses_what_it_cannot_play():
    with pytest.raises(ValueError, match="principal_observes must be 'nothing' in the two-player"):
        stackelberg_pomdp_parallel(principal_observes="actions")
    with pytest.raises(TypeError, match="hide_response_phase"):
        stackelberg_pomdp_parallel(hide_response_phase=True)
    with pytest.raises(ValueError, match="learns from whole sweeps"):
        stackelberg_pomdp_parallel().episode_learner()
