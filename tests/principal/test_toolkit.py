"""The shared toolkit: learned principals collect experience on the batched games (one
vectorised step call per time step for N tasks), seed for seed; a third party's env without
a vector entry point still trains (SyncVectorEnv); ``principal/`` reads no private names."""

import ast
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import TransformReward

import mermaide
from mermaide.agents import AgentBatch, AgentSpec
from mermaide.envs.bandit import BanditEnv, BanditVectorEnv
from mermaide.principal import evaluate, make
from mermaide.principal.toolkit import (
    ActorColumns,
    Episodes,
    GRULayer,
    ObservationLayout,
    VectorGame,
    reinforce_advantages,
)

from .conftest import HORIZON, bandit, steering_population


@pytest.fixture
def step_calls(monkeypatch):
    """Every step call of the bandit game's vector and single forms, with its batch size."""
    calls = {"vector": [], "single": 0}
    vector_step, single_step = BanditVectorEnv.step, BanditEnv.step

    def counted_vector(self, actions):
        calls["vector"].append(len(actions))
        return vector_step(self, actions)

    def counted_single(self, action):
        calls["single"] += 1
        return single_step(self, action)

    monkeypatch.setattr(BanditVectorEnv, "step", counted_vector)
    monkeypatch.setattr(BanditEnv, "step", counted_single)
    return calls


def test_reinforce_makes_one_vector_step_call_per_time_step(step_calls):
    principal = make("reinforce", hidden_size=8, episodes_per_batch=8)
    principal.meta_train(bandit(), steering_population(), 3 * 8 * HORIZON, seed=0)
    assert step_calls["vector"] == [8] * (3 * HORIZON)  # 3 batches of 8 episodes
    assert step_calls["single"] == 0


def test_maml_makes_one_vector_step_call_per_time_step_of_each_rollout(step_calls):
    principal = make("maml", hidden_size=8, meta_batch=4, shots=2, query_episodes=3)
    principal.meta_train(bandit(), steering_population(), 1, seed=0)  # one outer step
    # Support: 4 tasks x 2 shots in one rollout; query: 4 tasks x 3 episodes in another.
    assert step_calls["vector"] == [8] * HORIZON + [12] * HORIZON
    assert step_calls["single"] == 0


def test_mermaide_collects_its_world_model_data_batched_too(step_calls):
    principal = make("mermaide", hidden_size=8, meta_batch=2, query_episodes=1,
                     model_episodes=20, world_model={"hidden_size": 8, "epochs": 1})
    principal.meta_train(bandit(), steering_population(), 20 * HORIZON + 1, seed=0)
    assert step_calls["vector"][:HORIZON] == [20] * HORIZON  # the world model's 20 episodes
    assert step_calls["vector"][HORIZON:] == [2] * HORIZON + [2] * HORIZON
    # One step of one env, no experience: world_model.modelled_agent_actions checks that the
    # game reports the agent's observed action before any data is collected.
    assert step_calls["single"] == 1


@pytest.mark.parametrize("name, kwargs", [
    ("reinforce", dict(hidden_size=8, episodes_per_batch=4)),
    ("maml", dict(hidden_size=8, meta_batch=2, query_episodes=2)),
    ("model", dict(hidden_size=8, episodes_per_batch=4, model_episodes=8,
                   world_model={"hidden_size": 8, "epochs": 1})),
])
def test_meta_training_is_seed_deterministic(name, kwargs):
    def trained(seed):
        principal = make(name, **kwargs)
        principal.meta_train(bandit(), steering_population(), 600, seed=seed)
        return torch.cat([v.flatten() for v in principal.policy.net.state_dict().values()])

    first = trained(0)
    torch.testing.assert_close(trained(0), first, rtol=0, atol=0)
    assert not torch.equal(trained(1), first)


def wrapped_bandit():
    # A wrapper the native vector env cannot reproduce: the principal must fall back to
    # SyncVectorEnv over env_fn.
    return TransformReward(bandit()(), lambda r: r)


class ThirdPartyGame(gym.Env):
    """An unregistered game (no spec at all): pick the hidden arm; 5 steps."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 1.0, (3,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.zeros(3, dtype=np.float32)
        obs[int(action)] = 1.0
        return obs, float(action == 2), self.t >= 5, False, {}


def test_games_without_a_native_vector_form_fall_back_to_sync_vector_env():
    assert VectorGame.make(bandit(), 3).native
    assert not VectorGame.make(wrapped_bandit, 3).native
    assert not VectorGame.make(ThirdPartyGame, 3).native
    limited = lambda: gym.make("Mermaide/Bandit-v0", max_episode_steps=5)  # noqa: E731
    assert not VectorGame.make(limited, 2).native


def test_each_sub_game_plays_its_own_task_on_both_forms():
    specs = [AgentSpec("ucb", {"beta": 0.5}, np.array([0.9, 0.5, 0.2]), target=t)
             for t in (0, 1, 2)]
    target_columns = slice(2 * 3 + 3, 3 * 3 + 3)
    for env_fn in (bandit(), wrapped_bandit):
        game = VectorGame.make(env_fn, 3)
        obs, _ = game.reset(specs, seed=0)
        np.testing.assert_array_equal(obs[:, target_columns].argmax(1), [0, 1, 2])
    native = VectorGame.make(bandit(), 3)
    obs, _ = native.reset(AgentBatch.from_specs(specs), seed=0)
    np.testing.assert_array_equal(obs[:, target_columns].argmax(1), [0, 1, 2])
    with pytest.raises(ValueError, match="tasks must hold 3 tasks"):
        native.reset(specs[:2])


def test_reinforce_learns_through_sync_vector_env_on_a_wrapped_game():
    principal = make("reinforce", hidden_size=16, episodes_per_batch=16)
    principal.meta_train(wrapped_bandit, None, 8_000, seed=0)  # the env plays UCB_AGENT
    learned = evaluate(principal, bandit()(), episodes=5, seed=1).mean_return
    nothing = evaluate(make("none"), bandit()(), episodes=5, seed=1).mean_return
    assert learned > nothing + 10.0


def test_a_third_party_game_trains_and_its_ragged_episodes_are_masked():
    principal = make("reinforce", hidden_size=8, episodes_per_batch=8, greedy=True)
    principal.meta_train(ThirdPartyGame, None, 3_000, seed=0)
    assert evaluate(principal, ThirdPartyGame(), episodes=3, seed=0).mean_return == 5.0


def test_grouped_advantages_equal_each_group_on_its_own():
    rng = np.random.default_rng(0)
    for tasks, per_task, horizon in [(3, 4, 6), (4, 1, 5), (2, 3, 1)]:
        n = tasks * per_task
        mask = np.sort(rng.random((n, horizon)) < 0.8, axis=1)[:, ::-1].astype(np.float32)
        mask[:, 0] = 1.0
        episodes = Episodes(np.zeros((n, horizon, 2), np.float32), np.zeros((n, horizon), int),
                            rng.random((n, horizon)).astype(np.float32), mask,
                            np.zeros((n, horizon), int), np.ones((n, horizon, 3), bool))
        for normalize in (True, False):
            grouped = reinforce_advantages(episodes, 0.9, normalize, tasks)
            alone = np.concatenate([
                reinforce_advantages(episodes.rows(slice(i * per_task, (i + 1) * per_task)),
                                     0.9, normalize) for i in range(tasks)])
            np.testing.assert_allclose(grouped, alone, atol=1e-6)


def imported_names(package: str):
    """(module path, imported module, name) of every ``from mermaide... import name`` in a
    package of mermaide, and every ``import mermaide...`` (name None)."""
    root = Path(mermaide.__file__).parent / package
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mermaide"):
                for alias in node.names:
                    yield path.name, node.module, alias.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("mermaide"):
                        yield path.name, alias.name, None


@pytest.mark.parametrize("package", ["principal", "bench"])
def test_no_private_names_of_other_packages(package):
    own = f"mermaide.{package}"
    for where, module, name in imported_names(package):
        if module.startswith(own):
            continue
        assert name is None or not name.startswith("_"), (where, module, name)
        if package == "principal" and module.startswith("mermaide.envs"):
            # The principals see the games only through their public interface.
            assert module == "mermaide.envs" and name in mermaide.envs.__all__, (where, name)
    source = "\n".join(p.read_text() for p in (Path(mermaide.__file__).parent / package).glob(
        "*.py"))
    for private in (".core.", "_max_episode_steps", ".unwrapped."):
        assert private not in source, private


@pytest.mark.parametrize("name, kwargs", [
    ("reinforce", dict(hidden_size=8, episodes_per_batch=4, greedy=False)),
    ("maml", dict(hidden_size=8, meta_batch=2, query_episodes=2, greedy=False)),
])
def test_learned_principals_never_pick_a_masked_action(name, kwargs):
    """Untrained (near-uniform, sampling) policies would request a bonus on most steps; with
    the game's mask they never request one the budget would refuse, in training rollouts or
    when scored."""
    principal = make(name, **kwargs)
    game = VectorGame.make(bandit(intervention_budget=2), 16)
    principal.meta_train(bandit(intervention_budget=2), steering_population(), 200, seed=0)
    episodes = principal.policy.rollout(game, np.random.default_rng(0), seed=0)
    chosen = np.take_along_axis(episodes.action_masks, episodes.actions[..., None], -1)
    assert chosen.all() and not episodes.action_masks.all()  # the mask did bite
    assert ((episodes.actions > 0).sum(1) <= 2).all()
    stats = evaluate(principal, bandit(intervention_budget=2)(), episodes=5, seed=0)
    assert (stats.interventions == 2).all()  # it keeps asking until the budget is spent
    refused = 0
    env = bandit(intervention_budget=2)()
    obs, info = env.reset(seed=1)
    principal.begin_episode(info)
    state, done = None, False
    while not done:
        action, state = principal.act(obs, state)
        obs, _, done, _, info = env.step(action)
        principal.after_step(info)
        refused += info["refused"]
    assert refused == 0


# --- Dict observations (the Stackelberg POMDP's actor and "critic:" keys) ---------------------

MIXED = gym.spaces.Dict({
    "critic:state": gym.spaces.Box(0.0, 1.0, (2,), dtype=np.float32),
    "signal": gym.spaces.Discrete(3, start=1),
    "flags": gym.spaces.MultiBinary(2),
    "critic:phase": gym.spaces.Discrete(2),
})


def test_a_dict_observation_flattens_actor_keys_first_as_gymnasium_does():
    layout = ObservationLayout(MIXED)
    assert (layout.actor_size, layout.critic_size, layout.size) == (5, 4, 9)
    MIXED.seed(0)
    samples = [MIXED.sample() for _ in range(4)]
    actor_keys = [k for k in MIXED.spaces if not k.startswith("critic:")]
    critic_keys = [k for k in MIXED.spaces if k.startswith("critic:")]
    for sample in samples:
        expected = np.concatenate([gym.spaces.flatten(MIXED[k], sample[k])
                                   for k in actor_keys + critic_keys]).astype(np.float32)
        np.testing.assert_array_equal(layout.single(sample), expected)
    stacked = {k: np.stack([s[k] for s in samples]) for k in MIXED.spaces}
    flat = layout.batch(stacked)
    np.testing.assert_array_equal(flat, np.stack([layout.single(s) for s in samples]))
    actor = ActorColumns(layout)
    assert actor.output_size == 5
    np.testing.assert_array_equal(actor.sequence(torch.from_numpy(flat)).numpy(), flat[:, :5])
    assert ObservationLayout.from_description(layout.describe()) == layout


def test_a_box_observation_is_all_the_actors():
    layout = ObservationLayout(gym.spaces.Box(0.0, 1.0, (4,), dtype=np.float32))
    assert (layout.actor_size, layout.critic_size) == (4, 0)
    obs = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(layout.batch(obs), obs)
    assert ObservationLayout.from_description(layout.describe()) == layout


def test_unsupported_observation_spaces_are_refused_by_name():
    nested = gym.spaces.Dict({"pair": gym.spaces.Tuple((gym.spaces.Discrete(2),) * 2)})
    with pytest.raises(ValueError, match="observation key 'pair' must be a Box, Discrete or "
                                         "MultiBinary space"):
        ObservationLayout(nested)
    with pytest.raises(ValueError, match="need a Box or a Dict observation space"):
        ObservationLayout(gym.spaces.Discrete(3))


def test_dict_observations_reach_both_vector_forms_flattened():
    """The POMDP's native vector env and SyncVectorEnv over a wrapped one give the same
    flat first observations, one row per sub-game."""
    native_fn = lambda: gym.make("Mermaide/StackelbergPOMDP-v0")  # noqa: E731
    wrapped_fn = lambda: TransformReward(native_fn(), lambda r: r)  # noqa: E731
    layout = ObservationLayout(native_fn().observation_space)
    native = VectorGame.make(native_fn, 3, layout=layout)
    synced = VectorGame.make(wrapped_fn, 3, layout=layout)
    assert native.native and not synced.native
    first, _ = native.reset(seed=0)
    np.testing.assert_array_equal(first, synced.reset(seed=0)[0])
    assert first.shape == (3, layout.size) and first.dtype == np.float32
    np.testing.assert_array_equal(first[:, :layout.actor_size], np.ones((3, 1)))  # the signal


def test_the_gru_layer_is_nn_gru_with_the_same_weights():
    """``GRULayer`` (what every policy and ``task_forward`` run) computes ``nn.GRU``'s
    function of the same weights, from a fresh state and from a given one."""
    torch.manual_seed(0)
    layer = GRULayer(5, 8)
    reference = torch.nn.GRU(5, 8, batch_first=True)
    with torch.no_grad():
        reference.weight_ih_l0.copy_(layer.input_map.weight)
        reference.weight_hh_l0.copy_(layer.hidden_map.weight)
        reference.bias_ih_l0.copy_(layer.input_map.bias)
        reference.bias_hh_l0.copy_(layer.hidden_map.bias)
    x, h0 = torch.randn(3, 7, 5), torch.randn(3, 8)
    for h in (None, h0):
        out, last = layer(x, h)
        torch_out, torch_last = reference(x, None if h is None else h[None])
        torch.testing.assert_close(out, torch_out, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(last, torch_last[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["reinforce", "maml"])
def test_the_generic_learners_read_a_dict_observations_actor_keys_only(name, tmp_path):
    """On a game with a Dict observation (the Stackelberg POMDP) ``reinforce`` and ``maml``
    train, act, adapt and round-trip through save / load; their policy's input is the actor
    keys' width (no ``critic:`` key reaches it)."""
    def env_fn():
        return gym.make("Mermaide/StackelbergPOMDP-v0", game="conitzer", response_steps=2)

    kwargs = {"episodes_per_batch": 4} if name == "reinforce" else {"meta_batch": 2}
    principal = make(name, hidden_size=8, **kwargs)
    principal.meta_train(env_fn, None, 200, seed=0, progress=False)
    layout = ObservationLayout(env_fn().observation_space)
    assert layout.critic_size > 0
    assert principal.policy.net.input_size == layout.actor_size
    env = env_fn()
    obs, _ = env.reset(seed=0)
    action, _ = principal.act(obs, None)
    assert env.action_space.contains(action)
    principal.adapt(env_fn(), 1)
    principal.save(str(tmp_path / "p"))
    twin = make(name)
    twin.load(str(tmp_path / "p"))
    assert twin.act(obs, None)[0] == pytest.approx(principal.act(obs, None)[0])
