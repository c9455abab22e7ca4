"""``"maml"``: the functional inner loop is exact, vmaps over tasks, and the principal
round-trips and adapts."""

import copy

import numpy as np
import pytest
import torch

from mermaide.principal import make
from mermaide.principal.maml import MAMLConfig, inner_loop
from mermaide.principal.reinforce import LossBatch, PolicyNet, policy_gradient_loss

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


def test_vmap_over_tasks_matches_a_loop_and_second_order_differs_from_first():
    torch.manual_seed(0)
    policy = PolicyNet(5, 4, "gru", 8)
    batch = random_batch(3)
    theta = dict(policy.named_parameters())

    def outer(first_order):
        adapt = torch.func.vmap(
            lambda p, *b: inner_loop(policy, p, *b, 0.5, 1, 0.0, first_order),
            in_dims=(None, 0, 0, 0, 0))
        adapted = adapt(theta, *batch)
        looped = [inner_loop(policy, theta, *(t[i] for t in batch), 0.5, 1, 0.0, first_order)
                  for i in range(3)]
        for i, one in enumerate(looped):
            for name in one:
                torch.testing.assert_close(adapted[name][i], one[name])
        losses = torch.func.vmap(
            lambda p, *b: policy_gradient_loss(policy, p, LossBatch(*b), 0.0))(adapted, *batch)
        return torch.autograd.grad(losses.mean(), list(theta.values()))

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
    before = {k: v.clone() for k, v in twin.policy.state_dict().items()}
    twin.adapt(bandit()(), 0)
    assert all(torch.equal(v, before[k]) for k, v in twin.policy.state_dict().items())
    env = bandit()()
    env.reset(seed=0)
    twin.adapt(env, 1)
    assert any(not torch.equal(v, before[k]) for k, v in twin.policy.state_dict().items())


def test_first_order_option_trains():
    principal = make("maml", hidden_size=8, meta_batch=2, query_episodes=1, first_order=True)
    principal.meta_train(bandit(), steering_population(), 300, seed=0)
    assert principal.act(np.zeros(obs_dim(), dtype=np.float32), None)[0] in range(4)


def test_config_is_validated():
    with pytest.raises(ValueError, match="meta_batch"):
        MAMLConfig(meta_batch=0)
