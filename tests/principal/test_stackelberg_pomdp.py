"""The ``"stackelberg-pomdp"`` leader (PPO with an asymmetric actor-critic) learns the
Stackelberg commitment of the POMDP's presets against multiplicative-weights followers, its
actor never reads a ``critic:`` key, and it runs on the bandit game too."""

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

import mermaide  # noqa: F401  (registers the games)
from mermaide.envs import StackelbergPOMDPVectorEnv, preset_values
from mermaide.principal import evaluate, make, principal_names
from mermaide.principal.stackelberg_pomdp import StackelbergPOMDPConfig

from .conftest import bandit

ENV_ID = "Mermaide/StackelbergPOMDP-v0"
# A follower that learns within a short episode: epsilon * sweeps = 100, so that a commitment
# 0.05 inside the Stackelberg region gets a follower that plays the inducing response with
# probability ~0.96. (Exactly at the Stackelberg strategy MW stays indifferent: the value is
# approached from inside the region, never reached.) 20 sweeps: 41 games per 2x2 episode.
FOLLOWER = dict(epsilon=5.0, response_steps=20)
# Small rollouts (the repository's are ~1,024 episodes): 16 whole episodes per PPO update.
SMALL = dict(episodes_per_batch=16)
STEPS = 15_000


def pomdp(game="conitzer", **knobs):
    return lambda: gym.make(ENV_ID, game=game, **FOLLOWER, **knobs)


def trained(env_fn, steps=STEPS, seed=0, **config):
    principal = make("stackelberg-pomdp", **SMALL, **config)
    principal.meta_train(env_fn, None, steps, seed=seed, progress=False)
    return principal


def score(principal, env_fn):
    """The leader's return: the reward phase's one game against the learnt follower."""
    return evaluate(principal, env_fn(), episodes=1, seed=0).mean_return


def test_it_is_registered():
    assert "stackelberg-pomdp" in principal_names()


def test_the_actor_never_reads_a_critic_key():
    env_fn = pomdp(principal_observes="actions", game="zhang2020-game-2")
    principal = trained(env_fn, steps=2_000)
    assert principal.policy.net.input_size == 3  # the one-hot "signal" only
    assert principal.critic[0].in_features == 3 + 3 + 2 + 1  # + weights, phase, progress
    obs, _ = env_fn().reset(seed=0)
    for signal in range(3):
        seen = {**obs, "signal": np.int64(signal)}
        changed = {**seen, "critic:phase": np.int64(1),
                   "critic:phase_progress": np.array([0.7], np.float32),
                   "critic:follower_weights": np.array([0.9, 0.05, 0.05], np.float32)}
        np.testing.assert_array_equal(principal.act(seen, None)[0],
                                      principal.act(changed, None)[0])
    # ... while the signal, the actor's own key, does reach it.
    assert len({tuple(principal.act({**obs, "signal": np.int64(s)}, None)[0]) for s in range(3)}
               ) > 1


def test_a_rollout_is_one_vector_step_per_time_step(monkeypatch):
    calls = []
    step = StackelbergPOMDPVectorEnv.step

    def counted(self, actions):
        calls.append(len(actions))
        return step(self, actions)

    monkeypatch.setattr(StackelbergPOMDPVectorEnv, "step", counted)
    trained(pomdp(), steps=2 * 16 * 41)  # 2 rollouts of 16 episodes of 41 games
    assert calls == [16] * (2 * 41)


@pytest.mark.parametrize("lr", [3e-4, 0.0])
def test_the_leader_learns_the_mixed_commitment_of_conitzers_game(lr):
    """Measured (seed 0, 15,000 steps, ~5 s): 0.953 of the mixed Stackelberg value (the
    commitment (0.38, 0.62)), above the pure value (0.8 of it). With lr=0 (no learning) the
    untrained mean, weights (0.032, 0.018), commits to (0.64, 0.36), to which the follower
    answers with column 0: 0.258 (at seeds 1 and 2 the mean clips to zero weights, the
    uniform strategy, where MW stays indifferent: 0.600)."""
    env_fn = pomdp()
    value = preset_values("conitzer").mixed
    fraction = score(trained(env_fn, lr=lr), env_fn) / value
    if lr:
        assert fraction >= 0.85, fraction
    else:
        assert fraction < 0.85, fraction


def test_on_zhang_game_2_the_leader_learns_a_mixed_commitment_and_plain_ppo_does_no_better():
    """The issue's test on its "Maintain" game, zhang2020-game-2: the one of Zhang et al.'s two
    3x3 games whose Stackelberg commitment is not a Nash equilibrium (the leader must maintain
    it against the temptation of row 1) and whose mixed value exceeds the pure one; the name
    itself is unconfirmed (see ``POMDP_GAMES``). Measured (30,000 steps, about 15 s each,
    seeds 0, 1, 2): the asymmetric leader 0.909 of the mixed value at every seed, committing to
    (1/2, 1/2, 0), which the weights' box bounds as it reaches it (the pure value is 0.727 of
    it); the plain (symmetric-critic) PPO leader 0.909 too: no better, here not worse."""
    env_fn = pomdp("zhang2020-game-2")
    values = preset_values("zhang2020-game-2")
    learnt = score(trained(env_fn, steps=30_000), env_fn)
    assert learnt >= 0.85 * values.mixed, learnt / values.mixed
    assert learnt > values.pure
    plain = score(trained(env_fn, steps=30_000, asymmetric=False), env_fn)
    assert plain <= learnt + 1e-9, (plain / values.mixed, learnt / values.mixed)


def test_the_leader_learns_the_pure_commitment():
    """Pure commitments: the leader reaches the pure-commitment value, committing to the best
    row with probability > 0.9 (an untrained policy gives each row 1/3, and its arbitrary mode
    happens to be the best row at some seeds, hence the probability check)."""
    env_fn = pomdp("zhang2020-game-2", commitment="pure")
    values = preset_values("zhang2020-game-2")
    principal = trained(env_fn)
    assert score(principal, env_fn) == pytest.approx(values.pure, abs=1e-9)
    obs, _ = env_fn().reset(seed=0)
    inputs = principal.policy.encoder.sequence(torch.from_numpy(principal.layout.single(obs)))
    with torch.no_grad():
        logits, _ = principal.policy.net(inputs[None, None])
    assert float(torch.softmax(logits[0, 0], -1)[values.pure_action]) > 0.9


def test_the_asymmetric_critic_learns_faster_than_the_symmetric_one():
    """The issue's comparison, at 15,000 steps on Conitzer's game (fractions of the mixed
    value, seeds 0, 1, 2): asymmetric 0.953, 0.942, 0.944; symmetric (the critic reads the
    actor's input only, plain PPO) 0.935, 0.903, 0.892. Both reach 0.85 of the value; the
    asymmetric leader gets further in this budget at every seed. (At 40,000 steps both are
    near 0.95: 0.964, 0.954, 0.958 against 0.952, 0.947, 0.947; the gap is speed, small.)"""
    env_fn = pomdp()
    value = preset_values("conitzer").mixed
    fractions = {asymmetric: np.array([score(trained(env_fn, seed=seed, asymmetric=asymmetric),
                                             env_fn) / value for seed in (0, 1, 2)])
                 for asymmetric in (True, False)}
    assert (fractions[True] >= 0.85).all() and (fractions[False] >= 0.85).all(), fractions
    assert (fractions[True] > fractions[False]).all(), fractions


def test_it_runs_on_the_bandit_game():
    """A Box observation: no critic keys, so the critic reads the actor's input. Measured
    (6,000 steps, ~3 s): 24.8 against 2.8 for no intervention."""
    principal = trained(bandit(), steps=6_000)
    assert principal.layout.critic_size == 0
    learned = evaluate(principal, bandit()(), episodes=5, seed=1).mean_return
    nothing = evaluate(make("none"), bandit()(), episodes=5, seed=1).mean_return
    assert learned > nothing + 10.0


def test_save_load_gives_identical_actions(tmp_path):
    env_fn = pomdp("zhang2020-game-2", principal_observes="actions")
    principal = trained(env_fn, steps=1_000)
    path = str(tmp_path / "leader.pt")
    principal.save(path)
    loaded = make("stackelberg-pomdp")
    loaded.load(path)
    assert loaded.config == principal.config and loaded.layout == principal.layout
    obs, _ = env_fn().reset(seed=0)
    for signal in range(3):
        seen = {**obs, "signal": np.int64(signal)}
        np.testing.assert_array_equal(loaded.act(seen, None)[0], principal.act(seen, None)[0])
    for a, b in zip(loaded.critic.state_dict().values(), principal.critic.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="not a 'reinforce' one"):
        make("reinforce").load(path)


def test_adapt_zero_shot_changes_nothing_and_k_shot_updates():
    env_fn = pomdp()
    principal = trained(env_fn, steps=1_000)
    before = copy.deepcopy(principal.policy.net.state_dict())
    principal.adapt(env_fn(), 0)
    assert all(torch.equal(v, before[k]) for k, v in principal.policy.net.state_dict().items())
    twin = copy.deepcopy(principal)
    env = env_fn()
    env.reset(seed=0)
    twin.adapt(env, 1)
    assert any(not torch.equal(v, before[k]) for k, v in twin.policy.net.state_dict().items())
    # K-shot scoring (on a game with tasks: the POMDP's reset info names none) adapts a copy.
    on_bandit = trained(bandit(), steps=500)
    before = copy.deepcopy(on_bandit.policy.net.state_dict())
    stats = evaluate(on_bandit, bandit()(), episodes=1, seed=0, shots=1, tasks=2)
    assert stats.episodes == 2 and np.isfinite(stats.returns).all()
    assert all(torch.equal(v, before[k]) for k, v in on_bandit.policy.net.state_dict().items())


def test_meta_train_again_continues_training():
    principal = trained(pomdp(), steps=500)
    policy, optimizer = principal.policy, principal.optimizer
    before = copy.deepcopy(policy.net.state_dict())
    principal.meta_train(pomdp(), None, 500, seed=1, progress=False)
    assert principal.policy is policy and principal.optimizer is optimizer
    assert any(not torch.equal(v, before[k]) for k, v in policy.net.state_dict().items())


@pytest.mark.parametrize("bad, message", [
    (dict(lr=-1.0), "lr must be >= 0, got -1.0"),
    (dict(gamma=1.5), "gamma must be"),
    (dict(batch_size=0), "batch_size must be an integer >= 1, got 0"),
    (dict(clip_range=0.0), "clip_range must be > 0, got 0.0"),
    (dict(asymmetric="yes"), "asymmetric must be"),
    (dict(adapt_updates=-1), "adapt_updates must be an integer >= 0, got -1"),
])
def test_config_is_validated(bad, message):
    with pytest.raises(ValueError, match=message):
        StackelbergPOMDPConfig(**bad)


def test_unknown_fields_and_untrained_use_are_refused():
    with pytest.raises(ValueError, match="unknown StackelbergPOMDPConfig field"):
        make("stackelberg-pomdp", learning_rate=0.1)
    with pytest.raises(RuntimeError, match="call meta_train or load first"):
        make("stackelberg-pomdp").act(np.zeros(3), None)
