"""The tabular bilevel mathematics: values in closed form, the two penalties (>= 0, 0 at
pi*_x, gradients in x equal to finite differences), and the sampled estimates."""

import numpy as np
import pytest
import torch

from mermaide.bilevel import (
    TabularMDP,
    Trajectories,
    bellman_penalty,
    entropy,
    expected_return,
    occupancy,
    policy_values,
    q_values,
    regularised_value,
    sample_episodes,
    soft_q_estimate,
    soft_value_iteration,
    surrogate,
    value_penalty,
)

S, A, GAMMA, TAU = 3, 2, 0.8, 0.3


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def tables(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    base = torch.tensor(rng.random((S, A)))
    logits = torch.tensor(rng.normal(size=(S, A, S)))
    weights = torch.tensor(rng.normal(size=(S, A, S)))
    rho = torch.tensor(rng.dirichlet(np.ones(S)))
    return base, logits, weights, rho


def mdp_at(x: torch.Tensor, seed: int = 0) -> TabularMDP:
    """An MDP whose rewards (base + x) and transitions (softmax(logits + x_s * weights)) both
    depend on x (S, A)."""
    base, logits, weights, rho = tables(seed)
    transitions = torch.softmax(logits + x[..., None] * weights, dim=-1)
    return TabularMDP(base + x, transitions, rho, GAMMA, TAU)


def random_policy(rng: np.random.Generator) -> torch.Tensor:
    return torch.softmax(torch.tensor(rng.normal(size=(S, A)) * 2.0), dim=-1)


def test_soft_value_iteration_is_the_fixed_point():
    mdp = mdp_at(torch.zeros(S, A))
    solution = soft_value_iteration(mdp)
    # V* is the regularised value of pi*, and pi* = softmax(Q^pi* / tau).
    assert torch.allclose(policy_values(mdp, solution.policy), solution.values, atol=1e-10)
    assert torch.allclose(torch.softmax(q_values(mdp, solution.policy) / TAU, -1),
                          solution.policy, atol=1e-10)


def test_occupancy_and_values_agree():
    mdp = mdp_at(torch.zeros(S, A))
    pi = random_policy(np.random.default_rng(1))
    d = occupancy(mdp, pi)
    assert float(d.sum()) == pytest.approx(1.0 / (1.0 - GAMMA))
    regularised = mdp.rewards + TAU * entropy(pi)[:, None]
    assert float(expected_return(mdp, pi, regularised)) == pytest.approx(
        float(regularised_value(mdp, pi)))


@pytest.mark.parametrize("penalty", [value_penalty, bellman_penalty])
def test_penalties_are_nonnegative_and_zero_at_the_optimum(penalty):
    rng = np.random.default_rng(2)
    for seed in range(5):
        x = torch.tensor(rng.normal(size=(S, A)))
        mdp = mdp_at(x, seed)
        values = [float(penalty(mdp, random_policy(rng))) for _ in range(20)]
        assert min(values) >= -1e-10
        assert max(values) > 1e-3  # random policies are not optimal
        optimal = soft_value_iteration(mdp).policy
        assert abs(float(penalty(mdp, optimal))) < 1e-8


def test_batched_values_match_one_by_one():
    mdps = [mdp_at(torch.zeros(S, A), seed) for seed in range(3)]
    batch = TabularMDP(torch.stack([m.rewards for m in mdps]),
                       torch.stack([m.transitions for m in mdps]),
                       torch.stack([m.initial for m in mdps]), GAMMA, TAU)
    pi = random_policy(np.random.default_rng(3))
    together = regularised_value(batch, pi.expand(3, S, A))
    alone = torch.stack([regularised_value(m, pi) for m in mdps])
    assert torch.allclose(together, alone)
    assert torch.allclose(soft_value_iteration(batch).values,
                          torch.stack([soft_value_iteration(m).values for m in mdps]))


@pytest.mark.parametrize("name", ["value", "bellman"])
def test_penalty_gradient_in_x_matches_finite_differences(name):
    rng = np.random.default_rng(4)
    pi = random_policy(rng)
    x0 = torch.tensor(rng.normal(size=(S, A)) * 0.5)

    def penalty(x: torch.Tensor) -> torch.Tensor:
        mdp = mdp_at(x)
        return value_penalty(mdp, pi) if name == "value" else bellman_penalty(mdp, pi)

    x = x0.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(penalty(x), x)
    h = 1e-5
    numeric = torch.zeros_like(x0)
    for index in np.ndindex(S, A):
        step = torch.zeros_like(x0)
        step[index] = h
        numeric[index] = (penalty(x0 + step) - penalty(x0 - step)) / (2 * h)
    assert torch.allclose(gradient, numeric, atol=1e-6), (gradient, numeric)


def test_one_state_optimum_is_the_softmax_of_rewards():
    r = torch.tensor([[0.2, 0.5, 0.1]], dtype=torch.float64)
    mdp = TabularMDP(r, torch.ones(1, 3, 1, dtype=torch.float64),
                     torch.ones(1, dtype=torch.float64), 0.5, 0.1)
    assert torch.allclose(soft_value_iteration(mdp).policy, torch.softmax(r / 0.1, -1))


def test_bad_mdps_are_refused_by_name():
    mdp = mdp_at(torch.zeros(S, A))
    with pytest.raises(ValueError, match="gamma"):
        TabularMDP(mdp.rewards, mdp.transitions, mdp.initial, 1.0, TAU)
    with pytest.raises(ValueError, match="tau"):
        TabularMDP(mdp.rewards, mdp.transitions, mdp.initial, GAMMA, 0.0)
    with pytest.raises(ValueError, match="transitions"):
        TabularMDP(mdp.rewards, mdp.transitions[:, :, :2], mdp.initial, GAMMA, TAU)


def test_sampled_surrogate_estimates_the_value_and_its_gradient():
    """With many episodes the surrogate's value and its gradients in x (rewards and
    dynamics) and in the policy logits approach the closed-form ones."""
    rng = np.random.default_rng(5)
    x = torch.zeros(S, A, requires_grad=True, dtype=torch.float64)
    logits = torch.tensor(rng.normal(size=(S, A)), requires_grad=True)
    mdp, pi = mdp_at(x), torch.softmax(logits, -1)
    exact = regularised_value(mdp, pi)
    exact_grads = torch.autograd.grad(exact, (x, logits), retain_graph=True)
    episodes = sample_episodes(mdp, pi, 20000, 60, np.random.default_rng(6))
    assert isinstance(episodes, Trajectories) and episodes.horizon == 60
    estimate = surrogate(mdp, pi, mdp.rewards, episodes, regularised=True)
    grads = torch.autograd.grad(estimate, (x, logits))
    assert float(estimate.detach()) == pytest.approx(float(exact.detach()), abs=0.05)
    for got, want in zip(grads, exact_grads, strict=True):
        assert float((got - want).abs().max()) < 0.15 * float(want.abs().max()) + 0.05


def test_sampling_is_seeded():
    mdp = mdp_at(torch.zeros(S, A))
    pi = random_policy(np.random.default_rng(7))
    one = sample_episodes(mdp, pi, 8, 10, np.random.default_rng(0))
    two = sample_episodes(mdp, pi, 8, 10, np.random.default_rng(0))
    assert np.array_equal(one.states, two.states) and np.array_equal(one.actions, two.actions)


def test_soft_q_estimate_approaches_q_values_from_every_pair():
    mdp = mdp_at(torch.zeros(S, A))
    # A policy that almost never takes some actions: their Q is estimated all the same.
    pi = torch.softmax(torch.tensor([[6.0, -6.0], [-6.0, 6.0], [0.0, 0.0]]), -1).double()
    estimate = soft_q_estimate(mdp, pi, 4000, 60, np.random.default_rng(8))
    assert torch.allclose(estimate, q_values(mdp, pi), atol=0.05)
    again = soft_q_estimate(mdp, pi, 4000, 60, np.random.default_rng(8))
    assert torch.equal(estimate, again)
    with pytest.raises(ValueError, match="one MDP"):
        batch = TabularMDP(mdp.rewards[None], mdp.transitions[None], mdp.initial[None], GAMMA,
                           TAU)
        soft_q_estimate(batch, pi[None], 4, 10, np.random.default_rng(0))


def test_soft_q_estimate_shares_the_continuations_of_a_states_actions():
    """Common random numbers: in one state every action's rollouts continue alike, so that
    the differences between actions, what softmax(Q / tau) reads, are exact from one
    rollout."""
    r = torch.tensor([[0.2, 0.5, 0.1]], dtype=torch.float64)
    mdp = TabularMDP(r, torch.ones(1, 3, 1, dtype=torch.float64),
                     torch.ones(1, dtype=torch.float64), 0.9, 0.05)
    pi = torch.tensor([[0.1, 0.3, 0.6]], dtype=torch.float64)
    estimate = soft_q_estimate(mdp, pi, 1, 40, np.random.default_rng(9))
    assert torch.allclose(estimate - estimate[:, :1], r - r[:, :1], atol=1e-12)
