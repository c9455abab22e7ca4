"""Heuristic schedules spend exactly what they should."""

import numpy as np
import pytest

from mermaide.principal import evaluate, make, run_episode

from .conftest import HORIZON, bandit, obs_dim

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
