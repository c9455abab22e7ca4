"""``"maml"``: the functional inner loop is exact, its task-batched form (what meta-training
runs) equals one inner loop per task, and the principal round-trips and adapts."""

import copy

import numpy as np
import pytest
import torch

from mermaide.principal import make
from mermaide.principal.maml import (
    MAMLConfig,
    adapted_policy,
    inner_loop,
    maml_adapt,
    meta_loss,
    task_inner_loop,
)
from mermaide.principal.toolkit import (
    LossBatch,
    PolicyNet,
    VectorGame,
    policy_gradient_loss,
    task_losses,
)

from .conftest import actions_on, bandit, obs_dim, random_observations, steering_population


def random_batch(tasks, episodes=3, horizon=6, features=5, n_actions=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(tasks, episodes, horizon, features, generator=g),
            torch.randint(n_actions, (tasks, episodes, horizon), generator=g),
            torch.randn(tasks, episodes, horizon, generator=g),
            torch.ones(tasks, episodes, horizon))


@pytest.mark.parametrize("kind", ["gru", "mlp"])
def test_inner_loop_equals_sgd_on_the_module(kind):
    torch.manual_seed(0)
    policy = PolicyNet(5, 4, kind, 8, history=2)
    inputs, actions, advantages, mask = (t[0] for t in random_batch(1))
    params = {k: v.detach().clone() for k, v in policy.named_parameters()}
    adapted = inner_loop(policy, params, inputs, actions, advantages, mask, lr=0.3, steps=2,
                         entropy_coef=0.01, first_order=False)
    reference = copy.deepcopy(policy)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.3)
    for _ in range(2):
        loss = policy_gradient_loss(reference, dict(reference.named_parameters()),
                                    LossBatch(inputs, actions, advantages, mask), 0.01)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for name, value in reference.named_parameters():
        torch.testing.assert_close(adapted[name], value)


def test_second_order_meta_gradients_differ_from_first_order_ones():
    """Through the inner loop (second order) the outer gradient gains the curvature term
    that ``first_order=True`` drops: finite both ways, and not the same."""
    torch.manual_seed(0)
    policy = PolicyNet(5, 4, "gru", 8)
    inputs, actions, advantages, mask = random_batch(3)
    batch = LossBatch(inputs, actions, advantages, mask)
    theta = dict(policy.named_parameters())

    def outer(first_order):
        adapted = task_inner_loop(policy, theta, batch, 0.5, 1, 0.0, first_order)
        return torch.autograd.grad(task_losses(policy, adapted, batch, 0.0).mean(),
                                   list(theta.values()))

    second, first = outer(False), outer(True)
    assert all(torch.isfinite(g).all() for g in second + first)
    assert any(not torch.allclose(a, b) for a, b in zip(second, first, strict=True))


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    principal = make("maml", hidden_size=16, meta_batch=4, query_episodes=2, adapt_lr=0.1)
    principal.meta_train(bandit(), steering_population(), 3_000, seed=0)
    return principal


def test_save_load_gives_identical_actions(trained, tmp_path):
    path = str(tmp_path / "maml.pt")
    trained.save(path)
    loaded = make("maml")
    loaded.load(path)
    assert loaded.config == trained.config
    observations = random_observations(20)
    assert actions_on(loaded, observations) == actions_on(trained, observations)


def test_adapt_runs_the_inner_loop(trained):
    twin = copy.deepcopy(trained)
    before = {k: v.clone() for k, v in twin.policy.net.state_dict().items()}
    twin.adapt(bandit()(), 0)
    assert all(torch.equal(v, before[k]) for k, v in twin.policy.net.state_dict().items())
    env = bandit()()
    env.reset(seed=0)
    twin.adapt(env, 1)
    assert any(not torch.equal(v, before[k]) for k, v in twin.policy.net.state_dict().items())


def test_first_order_option_trains():
    principal = make("maml", hidden_size=8, meta_batch=2, query_episodes=1, first_order=True)
    principal.meta_train(bandit(), steering_population(), 300, seed=0)
    assert principal.act(np.zeros(obs_dim(), dtype=np.float32), None)[0] in range(4)


def test_config_is_validated():
    with pytest.raises(ValueError, match="meta_batch"):
        MAMLConfig(meta_batch=0)


def test_learnt_inner_loop_options_are_validated():
    with pytest.raises(ValueError, match="adapt_lr must be > 0 with learn_adapt_lr"):
        MAMLConfig(adapt_lr=0.0, learn_adapt_lr=True)
    with pytest.raises(ValueError, match="support_credit must be True or False"):
        MAMLConfig(support_credit=1)


def meta_gradients(principal, seed=0):
    """The outer gradient of one meta-batch (games and tasks from a fixed seed)."""
    learner = principal.learner
    rng = np.random.default_rng(seed)
    support = VectorGame.make(bandit(), 2 * learner.config.shots)
    query = VectorGame.make(bandit(), 2 * learner.config.query_episodes)
    support.reset(seed=seed)
    query.reset(seed=seed + 1)
    tasks = [steering_population().sample(np.random.default_rng(seed + i)) for i in range(2)]
    loss, _ = meta_loss(learner, support, query, tasks, rng)
    learnt = [learner.inner.log_lr, learner.inner.baseline]
    params = [*learner.policy.net.parameters(), *learnt]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def test_learnt_step_size_and_baseline_get_meta_gradients_and_support_credit_adds_one():
    config = dict(hidden_size=8, meta_batch=2, query_episodes=2, adapt_lr=0.5)
    plain = make("maml", **config)
    plain.meta_train(bandit(), steering_population(), 200, seed=0)
    learnt = copy.deepcopy(plain)
    learnt.learner.config = MAMLConfig(**{**config, "learn_adapt_lr": True,
                                          "learn_baseline": True})
    *_, lr_grad, baseline_grad = meta_gradients(learnt)
    assert float(lr_grad.abs()) > 0 and float(baseline_grad.abs()) > 0
    *_, lr_grad, baseline_grad = meta_gradients(plain)
    assert float(lr_grad.abs()) == 0 and float(baseline_grad.abs()) == 0
    credited = copy.deepcopy(plain)
    credited.learner.config = MAMLConfig(**{**config, "support_credit": True})
    # Same episodes (same seeds), one more term: the policy's meta-gradient changes.
    assert any(not torch.allclose(a, b) for a, b in zip(meta_gradients(plain)[:-2],
                                                        meta_gradients(credited)[:-2],
                                                        strict=True))


def test_learnt_inner_loop_is_saved_and_used_by_adapt(tmp_path):
    principal = make("maml", hidden_size=8, meta_batch=2, query_episodes=1, adapt_lr=0.5,
                     learn_adapt_lr=True, learn_baseline=True)
    principal.meta_train(bandit(), steering_population(), 300, seed=0)
    with torch.no_grad():
        principal.learner.inner.log_lr.fill_(np.log(3.0))
        principal.learner.inner.baseline.fill_(0.25)
    path = str(tmp_path / "maml.pt")
    principal.save(path)
    loaded = make("maml")
    loaded.load(path)
    assert loaded.learner.inner_lr == pytest.approx(3.0)
    assert float(loaded.learner.inner.baseline.detach()) == pytest.approx(0.25)
    # adapt steps by the learnt rate: twice the rate, twice the (one-step) parameter change.
    env = bandit()()
    env.reset(seed=0)
    played = loaded.learner.policy.play(env, 1, np.random.default_rng(0))
    changes = []
    for rate in (3.0, 6.0):
        twin = copy.deepcopy(loaded)
        with torch.no_grad():
            twin.learner.inner.log_lr.fill_(np.log(rate))
        before = {k: v.clone() for k, v in twin.policy.net.state_dict().items()}
        maml_adapt(twin.learner, played)
        changes.append(torch.cat([(v - before[k]).flatten()
                                  for k, v in twin.policy.net.state_dict().items()]))
    assert torch.allclose(changes[1], 2 * changes[0], atol=1e-5)
    assert float(changes[0].abs().max()) > 0


@pytest.mark.parametrize(("kind", "first_order"), [("gru", False), ("gru", True),
                                                   ("mlp", False)])
def test_the_task_batched_inner_loop_equals_one_inner_loop_per_task(kind, first_order):
    """``task_inner_loop`` (what meta-training runs) gives every task the parameters of its
    own ``inner_loop``, and the same outer gradient as a loop over tasks."""
    torch.manual_seed(0)
    policy = PolicyNet(5, 4, kind, 8, history=2)
    inputs, actions, advantages, mask = random_batch(3)
    masks = torch.rand(*actions.shape, 4) > 0.3
    masks[..., 0] = True
    actions = torch.where(masks.gather(-1, actions[..., None])[..., 0], actions, 0)
    batch = LossBatch(inputs, actions, advantages, mask, masks)
    theta = dict(policy.named_parameters())
    stacked = task_inner_loop(policy, theta, batch, 0.5, 2, 0.01, first_order)
    looped = [inner_loop(policy, theta, inputs[i], actions[i], advantages[i], mask[i], 0.5, 2,
                         0.01, first_order, masks[i]) for i in range(3)]
    for i, one in enumerate(looped):
        for name in one:
            torch.testing.assert_close(stacked[name][i], one[name], rtol=1e-5, atol=1e-6)
    outer = torch.autograd.grad(task_losses(policy, stacked, batch, 0.01).mean(),
                                list(theta.values()))
    reference = torch.autograd.grad(sum(
        policy_gradient_loss(policy, one, LossBatch(inputs[i], actions[i], advantages[i],
                                                    mask[i], masks[i]), 0.01)
        for i, one in enumerate(looped)) / 3, list(theta.values()))
    for a, b in zip(outer, reference, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_acting_with_each_tasks_parameters_equals_its_own_forward_pass():
    torch.manual_seed(0)
    policy = PolicyNet(5, 4, "gru", 8)
    tasks = [PolicyNet(5, 4, "gru", 8) for _ in range(3)]
    params = {name: torch.stack([dict(t.named_parameters())[name].detach() for t in tasks])
              for name, _ in policy.named_parameters()}
    act = adapted_policy(policy, params, per_task=2)
    x = torch.randn(6, 1, 5)
    out, state = act(x, None)
    out2, _ = act(x, state)
    for i, net in enumerate(tasks):
        with torch.no_grad():
            ref, ref_state = net(x[2 * i: 2 * i + 2], None)
            ref2, _ = net(x[2 * i: 2 * i + 2], ref_state)
        torch.testing.assert_close(out[2 * i: 2 * i + 2], ref)
        torch.testing.assert_close(out2[2 * i: 2 * i + 2], ref2)
