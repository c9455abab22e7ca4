"""Heuristic schedules spend exactly what they should."""

import numpy as np
import pytest

from mermaide.principal import evaluate, make, run_episode

from .conftest import (
    HORIZON,
    actions_on,
    bandit,
    obs_dim,
    random_observations,
    steering_population,
)

BUDGET = 5


def intervention_steps(principal, env_fn):
    """The steps at which an intervention was applied in one episode."""
    env = env_fn()
    obs, info = env.reset(seed=0)
    principal.begin_episode(info)
    state, applied, t, done = None, [], 0, False
    while not done:
        action, state = principal.act(obs, state)
        obs, _, done, _, info = env.step(action)
        if info["intervened"]:
            applied.append(t)
        t += 1
    return applied, info


def test_front_loaded_spends_the_budget_at_the_start():
    applied, info = intervention_steps(make("front-loaded", steps=HORIZON),
                                       bandit(intervention_budget=BUDGET))
    assert applied == list(range(BUDGET))
    assert info["episode_cost"] == pytest.approx(BUDGET * 0.05)


def test_periodic_spends_the_budget_evenly():
    period = HORIZON // BUDGET
    applied, _ = intervention_steps(make("periodic", period=period),
                                       bandit(intervention_budget=BUDGET))
    assert applied == list(range(0, HORIZON, period))
    assert len(applied) == BUDGET
    assert np.all(np.diff(applied) == period)


def test_none_spends_nothing_and_pays_nothing():
    stats = evaluate(make("none"), bandit(intervention_budget=BUDGET)(), episodes=3, seed=0)
    np.testing.assert_array_equal(stats.interventions, 0)
    np.testing.assert_array_equal(stats.costs, 0)


def test_heuristics_push_the_target_arm():
    # With the bonus on the target every step the agent mostly plays the target.
    _, rate, used, _ = run_episode(make("always"), bandit()(), seed=0)
    assert used == HORIZON and rate > 0.8


def test_random_intervenes_at_its_rate():
    stats = evaluate(make("random", probability=0.25), bandit()(), episodes=20, seed=0)
    assert stats.mean_interventions == pytest.approx(0.25 * HORIZON, rel=0.2)


def test_target_arm_needs_the_reset_info():
    with pytest.raises(ValueError, match="begin_episode"):
        make("always").act(np.zeros(obs_dim(), dtype=np.float32), None)


@pytest.mark.parametrize("name, bad", [("periodic", dict(period=0)),
                                       ("front-loaded", dict(steps=-1)),
                                       ("random", dict(probability=1.5)),
                                       ("always", dict(arm="uniform"))])
def test_bad_parameters_are_refused(name, bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        make(name, **bad)


def test_save_load_round_trip(tmp_path):
    path = str(tmp_path / "periodic.json")
    make("periodic", period=7, offset=2, arm=0).save(path)
    loaded = make("periodic")
    loaded.load(path)
    assert (loaded.period, loaded.offset, loaded.arm) == (7, 2, 0)


# --- tuned schedules --------------------------------------------------------------------------

TUNED = [("front-loaded-tuned", "front-loaded"), ("periodic-tuned", "periodic")]


def tuned_on_training_agents(name, steps=3000, seed=7, **kwargs):
    tuned = make(name, **kwargs)
    tuned.meta_train(bandit(intervention_budget=BUDGET), steering_population(), steps, seed)
    return tuned


def test_tuned_grids_come_from_the_game():
    # Horizon 30, budget 5: the candidates spend 1..5 interventions.
    front = tuned_on_training_agents("front-loaded-tuned")
    assert [row["params"] for row in front.scores] == [{"steps": m} for m in range(1, 6)]
    periodic = tuned_on_training_agents("periodic-tuned")
    assert [row["params"] for row in periodic.scores] == [
        {"period": p, "offset": o} for p in (30, 15, 10, 7, 6) for o in (0, p // 2)]
    # No budget: the horizon caps the interventions; 3 candidates.
    unlimited = make("front-loaded-tuned", candidates=3)
    unlimited.meta_train(bandit(), steering_population(), 3000, 0)
    assert [row["params"]["steps"] for row in unlimited.scores] == [10, 20, 30]


@pytest.mark.parametrize("name, schedule", TUNED)
def test_tuned_schedule_picks_the_best_candidate_on_training_agents(name, schedule):
    steps, seed = 3000, 7
    tuned = tuned_on_training_agents(name, steps, seed)
    grid = [row["params"] for row in tuned.scores]
    # By hand, as the docstring says: one probe episode, the rest split equally; the same
    # training tasks and evaluation seed for every candidate.
    episodes = (steps - HORIZON) // (HORIZON * len(grid))
    rng = np.random.default_rng(seed)
    population = steering_population()
    tasks = [population.sample(rng) for _ in range(episodes)]
    by_hand = [evaluate(make(schedule, **params), bandit(intervention_budget=BUDGET)(), 1, seed,
                        tasks=tasks).mean_return for params in grid]
    assert len(set(np.round(by_hand, 9))) > 1  # the choice means something
    assert [row["mean_return"] for row in tuned.scores] == pytest.approx(by_hand, abs=1e-9)
    assert all(row["episodes"] == episodes for row in tuned.scores)
    assert HORIZON * (1 + len(grid) * episodes) <= steps
    assert tuned.chosen == grid[int(np.argmax(by_hand))]
    assert tuned.schedule.params() == {**tuned.chosen, "arm": "target"}


@pytest.mark.parametrize("name, schedule", TUNED)
def test_tuned_schedule_is_seeded(name, schedule):
    first, again = tuned_on_training_agents(name, seed=3), tuned_on_training_agents(name, seed=3)
    assert first.scores == again.scores and first.chosen == again.chosen
    other = tuned_on_training_agents(name, seed=4)
    assert [r["mean_return"] for r in other.scores] != [r["mean_return"] for r in first.scores]
    # A second call on the same grid pools its episodes with the first's.
    episodes = first.scores[0]["episodes"]
    first.meta_train(bandit(intervention_budget=BUDGET), steering_population(), 3000, 4)
    assert all(row["episodes"] == 2 * episodes for row in first.scores)


@pytest.mark.parametrize("name, schedule", TUNED)
def test_tuned_schedule_save_load_round_trip(tmp_path, name, schedule):
    tuned = tuned_on_training_agents(name)
    path = str(tmp_path / f"{name}.json")
    tuned.save(path)
    loaded = make(name)
    assert loaded.chosen is None
    loaded.load(path)
    assert loaded.chosen == tuned.chosen and loaded.scores == tuned.scores
    for principal in (tuned, loaded):
        principal.begin_episode({"target_action": 1})
    observations = random_observations(HORIZON)
    assert actions_on(loaded, observations) == actions_on(tuned, observations)
    # An explicit grid round-trips too.
    explicit = make(name, grid=[3, 4] if name == "front-loaded-tuned" else [[6, 1], 5])
    explicit.save(path)
    again = make(name)
    again.load(path)
    assert again.params() == explicit.params()


@pytest.mark.parametrize("name, schedule", TUNED)
def test_tuned_schedule_refuses_a_budget_below_one_episode_per_candidate(name, schedule):
    candidates = 5 if name == "front-loaded-tuned" else 10
    needed = HORIZON * (1 + candidates)
    with pytest.raises(ValueError, match=rf"steps must be >= {needed} .*got {needed - 1}"):
        tuned_on_training_agents(name, steps=needed - 1)
    tuned_on_training_agents(name, steps=needed)  # exactly one episode each is enough


def test_tuned_schedule_with_an_explicit_grid():
    tuned = tuned_on_training_agents("front-loaded-tuned", grid=[0, 5])
    assert [row["params"]["steps"] for row in tuned.scores] == [0, 5]
    assert tuned.chosen == {"steps": 5}  # steering pays on these agents
    with pytest.raises(ValueError, match=r"grid\[1\] must be an integer >= 0, got -1"):
        make("front-loaded-tuned", grid=[2, -1])
    with pytest.raises(ValueError, match=r"grid\[0\] period must be an integer >= 1, got 0"):
        make("periodic-tuned", grid=[[0, 1]])
    with pytest.raises(ValueError, match="candidates must be an integer >= 1, got 0"):
        make("periodic-tuned", candidates=0)
