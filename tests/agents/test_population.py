"""Agent populations: seeded, disjoint train / out-of-distribution splits, targets; and
AgentBatch, B agents as columns, drawn by AgentPopulation.sample_batch or built from specs,
and played by the bandit core exactly as the same agents given as AgentSpec objects."""

import numpy as np
import pytest

from mermaide.agents import (
    AgentBatch,
    AgentPopulation,
    AgentSpec,
    Choice,
    LearnerFamily,
    Uniform,
    population,
    population_names,
)
from mermaide.envs import BanditCore, Knobs


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


# --- AgentBatch -------------------------------------------------------------------------------


def kinds_of(batch: AgentBatch) -> np.ndarray:
    kinds = np.empty(len(batch), dtype=object)
    for kind, _, indices in batch.groups:
        kinds[indices] = kind
    return kinds


def test_sample_batch_draws_the_populations_distribution() -> None:
    mix = AgentPopulation((LearnerFamily("ucb", {"beta": Uniform(0.2, 0.4)}, weight=3.0),
                           LearnerFamily("epsilon_greedy", {"epsilon": Choice((0.1, 0.3))}),
                           LearnerFamily("thompson", {"prior": Choice(("beta", "gaussian"))})),
                          n_arms=6)
    batch = mix.sample_batch(20_000, np.random.default_rng(0))
    kinds = kinds_of(batch)
    assert np.mean(kinds == "ucb") == pytest.approx(0.6, abs=0.02)
    assert np.mean(kinds == "thompson") == pytest.approx(0.2, abs=0.02)
    for kind, params, indices in batch.groups:
        if kind == "ucb":
            assert params["beta"].shape == indices.shape
            assert 0.2 <= params["beta"].min() and params["beta"].max() <= 0.4
        elif kind == "epsilon_greedy":
            assert set(np.unique(params["epsilon"])) == {0.1, 0.3}
        else:  # a string choice splits the family into one group per value
            assert params["prior"] in ("beta", "gaussian")
    priors = [p["prior"] for k, p, _ in batch.groups if k == "thompson"]
    assert sorted(priors) == ["beta", "gaussian"]
    # Targets: never the agent's own best arm, and uniform over the others.
    assert not np.any(batch.targets == batch.rewards.argmax(axis=1))
    assert np.bincount(batch.targets, minlength=6) / len(batch) == pytest.approx(
        np.full(6, 1 / 6), abs=0.015)
    assert np.all(batch.principal_rewards[np.arange(len(batch)), batch.targets] == 1.0)
    assert batch.principal_rewards.sum() == len(batch)


def test_a_fixed_target_is_never_the_best_arm_and_fixed_rewards_are_kept() -> None:
    batch = population("train", n_arms=5, target=2).sample_batch(5000, np.random.default_rng(1))
    assert np.all(batch.targets == 2) and not np.any(batch.rewards.argmax(axis=1) == 2)
    fixed = population("figure4")
    batch = fixed.sample_batch(50, np.random.default_rng(1))
    assert np.all(batch.rewards == np.array(fixed.rewards))


def test_same_seed_same_batch() -> None:
    a = population("test-ood").sample_batch(1000, np.random.default_rng(7))
    b = population("test-ood").sample_batch(1000, np.random.default_rng(7))
    c = population("test-ood").sample_batch(1000, np.random.default_rng(8))
    assert np.array_equal(a.rewards, b.rewards) and np.array_equal(a.targets, b.targets)
    assert not np.array_equal(a.rewards, c.rewards)


def play(core: BanditCore, agents, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    trace = [core.reset(agents, rng)]
    actions_rng = np.random.default_rng(seed + 1)
    done = False
    while not done:
        obs, reward, done, info = core.step(actions_rng.integers(core.n_arms + 1,
                                                                 size=core.batch), rng)
        trace += [obs, reward[:, None], info["agent_action"][:, None]]
    return np.concatenate(trace, axis=1)


def test_the_core_plays_a_batch_exactly_as_the_same_specs() -> None:
    specs = population("test-ood", n_arms=4).sample_many(64, np.random.default_rng(2))
    make_core = lambda: BanditCore(4, 30, 64, Knobs(intervention_budget=5), 1.0, 0.1)  # noqa: E731
    np.testing.assert_array_equal(play(make_core(), specs, 3),
                                  play(make_core(), AgentBatch.from_specs(specs), 3))


def test_the_core_plays_a_sampled_batch() -> None:
    batch = population("train", n_arms=4).sample_batch(256, np.random.default_rng(4))
    trace = play(BanditCore(4, 20, 256, Knobs(), 1.0, 0.1), batch, 5)
    assert trace.shape[0] == 256 and np.all(np.isfinite(trace))
    with pytest.raises(ValueError, match="specs must hold 128 agents, got 256"):
        BanditCore(4, 20, 128, Knobs(), 1.0, 0.1).reset(batch, np.random.default_rng(0))
    with pytest.raises(ValueError, match="agents over 5 arms, got 4"):
        BanditCore(5, 20, 256, Knobs(), 1.0, 0.1).reset(batch, np.random.default_rng(0))


def test_a_batch_uses_its_arrays_without_copying_or_changing_them() -> None:
    rewards = np.random.default_rng(0).random((10, 3))
    batch = AgentBatch((("ucb", {}, np.arange(10)),), rewards, rewards.argmin(axis=1))
    assert np.shares_memory(batch.rewards, rewards)
    assert rewards.flags.writeable and not batch.rewards.flags.writeable


@pytest.mark.parametrize("bad, message", [
    ({"groups": (("ucb", {}, np.arange(9)),)}, "cover each of the 10 agents exactly once"),
    ({"groups": (("no-such", {}, np.arange(10)),)}, "groups name learner kinds"),
    ({"groups": (("ucb", {"beta": np.ones(3)}, np.arange(10)),)},
     "parameter 'beta' of group 'ucb' must have one value per agent"),
    ({"targets": np.full(10, 3)}, r"targets must be 10 ints in \[0, 2\]"),
    ({"rewards": np.ones((10, 1))}, "rewards must be a finite"),
    ({"principal_rewards": np.ones((10, 2))}, "principal_rewards must be a finite"),
])
def test_bad_batches_are_refused_with_a_clear_error(bad: dict, message: str) -> None:
    fields = {"groups": (("ucb", {}, np.arange(10)),), "rewards": np.ones((10, 3)),
              "targets": np.zeros(10, dtype=np.int64), **bad}
    with pytest.raises(ValueError, match=message):
        AgentBatch(**fields)


def test_bad_sample_batch_sizes_and_mixed_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        population("train").sample_batch(0, np.random.default_rng(0))
    specs = [AgentSpec("ucb", {}, [0.1, 0.9], 0), AgentSpec("ucb", {}, [0.1, 0.9, 0.5], 0)]
    with pytest.raises(ValueError, match=r"same number of arms, got \[2, 3\]"):
        AgentBatch.from_specs(specs)


def test_take_gives_the_agents_at_the_index_with_their_parameters() -> None:
    batch = population("train", n_arms=5).sample_batch(7, np.random.default_rng(0))
    index = np.array([3, 3, 0, 6, 1, 1, 1])
    taken = batch.take(index)
    np.testing.assert_array_equal(taken.rewards, batch.rewards[index])
    np.testing.assert_array_equal(taken.targets, batch.targets[index])
    np.testing.assert_array_equal(taken.principal_rewards, batch.principal_rewards[index])

    def per_agent(b: AgentBatch) -> list[tuple[str, dict]]:
        rows: list = [None] * len(b)
        for kind, params, indices in b.groups:
            for j, i in enumerate(indices):
                rows[i] = (kind, {k: v[j] if isinstance(v, np.ndarray) else v
                                  for k, v in params.items()})
        return rows

    assert per_agent(taken) == [per_agent(batch)[i] for i in index]
    with pytest.raises(ValueError, match="index"):
        batch.take(np.array([7]))
