"""Agent populations: seeded, disjoint train / out-of-distribution splits, targets."""

import numpy as np
import pytest

from mermaide.agents import (
    AgentPopulation,
    AgentSpec,
    Choice,
    LearnerFamily,
    Uniform,
    population,
    population_names,
)


def test_presets_exist():
    assert {"train", "test-ood", "test-id", "figure4", "figure5"} <= set(population_names())


def test_target_is_never_the_agents_best_arm():
    rng = np.random.default_rng(0)
    for name in ("train", "test-ood"):
        for spec in population(name).sample_many(300, rng):
            assert spec.target != spec.best_arm
            assert spec.principal_rewards[spec.target] == 1.0
            assert spec.principal_rewards.sum() == 1.0


def test_train_and_test_ood_differ_in_learners():
    rng = np.random.default_rng(1)
    train = population("train").sample_many(400, rng)
    test = population("test-ood").sample_many(400, rng)
    train_kinds = {s.learner for s in train}
    test_kinds = {s.learner for s in test}
    assert train_kinds == {"ucb", "epsilon_greedy"}
    assert test_kinds == {"ucb", "thompson", "softmax", "exp3"}
    # The only shared kind, UCB, is optimistic in training and pessimistic at test.
    assert min(s.params["beta"] for s in train if s.learner == "ucb") >= 0.0
    assert max(s.params["beta"] for s in test if s.learner == "ucb") < 0.0


def test_same_seed_same_agents():
    a = population("test-ood").sample_many(20, np.random.default_rng(5))
    b = population("test-ood").sample_many(20, np.random.default_rng(5))
    for x, y in zip(a, b, strict=True):
        assert x.learner == y.learner and x.params == y.params and x.target == y.target
        np.testing.assert_array_equal(x.rewards, y.rewards)


def test_paper_figure_presets():
    rng = np.random.default_rng(2)
    fig4 = population("figure4").sample(rng)
    assert fig4.best_arm == 8 and fig4.target == 6
    assert fig4.rewards[8] - fig4.rewards[6] == pytest.approx(0.02)
    fig5 = population("figure5").sample(rng)
    assert fig5.best_arm == 8 and fig5.target == 6
    assert fig5.rewards[8] - fig5.rewards[6] == pytest.approx(0.24)


def test_custom_population_and_arm_count():
    custom = AgentPopulation(
        (LearnerFamily("softmax", {"temperature": Uniform(0.1, 0.2)}, weight=3.0),
         LearnerFamily("thompson", {"prior": Choice(("beta",))})),
        n_arms=4,
    )
    specs = custom.sample_many(200, np.random.default_rng(3))
    assert all(s.n_arms == 4 for s in specs)
    share = np.mean([s.learner == "softmax" for s in specs])
    assert 0.65 < share < 0.85  # weight 3 : 1
    assert all(0.1 <= s.params["temperature"] <= 0.2 for s in specs if s.learner == "softmax")
    assert population("train", n_arms=5).sample(np.random.default_rng(0)).n_arms == 5


def test_bad_population_input():
    with pytest.raises(KeyError, match="known populations"):
        population("nope")
    with pytest.raises(ValueError, match="kind must be a registered learner"):
        LearnerFamily("ucbb")
    with pytest.raises(ValueError, match="weight must be > 0"):
        LearnerFamily("ucb", weight=0.0)
    with pytest.raises(ValueError, match="families must hold at least one"):
        AgentPopulation(())
    with pytest.raises(ValueError, match="n_arms=5 does not match"):
        population("figure4", n_arms=5)
    with pytest.raises(ValueError, match="target must be an arm index in \\[0, 2\\], got 3"):
        AgentSpec("ucb", {}, np.array([0.1, 0.2, 0.3]), 3)
    with pytest.raises(ValueError, match="rewards must be a finite vector"):
        AgentSpec("ucb", {}, np.array([0.1, np.nan]), 0)


def test_fixed_target_is_never_the_best_arm():
    train = population("train", target=6)
    specs = train.sample_many(500, np.random.default_rng(4))
    assert all(s.target == 6 and s.best_arm != 6 for s in specs)
    # Payoffs stay uniform on [0, 1] per arm (the swap only relabels arms).
    rewards = np.array([s.rewards for s in specs])
    assert 0.4 < rewards[:, 6].mean() < 0.55 and 0.45 < rewards.mean() < 0.55
    with pytest.raises(ValueError, match="target must be an arm index in \\[0, 9\\], got 10"):
        population("train", target=10)
    with pytest.raises(ValueError, match="target=8 is the best arm"):
        population("figure5", target=8)
