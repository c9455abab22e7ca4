"""README's tables must match the code: every knob and every learner is documented, and the
quick-start snippets run."""

import inspect
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from mermaide.agents import learner_names, population_names
from mermaide.envs import BanditEnv, RepeatedStackelbergEnv, StackelbergEnv

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def table_first_column(heading: str) -> set[str]:
    """Backticked names in the first column of the table under a heading."""
    section = README.split(heading, 1)[1]
    rows = re.findall(r"^\| `([^`]+)` \|", section.split("\n\n|", 1)[-1].split("\n\n", 1)[0],
                      flags=re.M)
    return set(rows)


@pytest.mark.parametrize("heading,env_class", [
    ("### Knobs of `Mermaide/Bandit-v0`", BanditEnv),
    ("### Knobs of `Mermaide/Stackelberg-v0`", StackelbergEnv),
    ("### Knobs of `Mermaide/RepeatedStackelberg-v0`", RepeatedStackelbergEnv),
])
def test_every_knob_is_documented(heading, env_class):
    knobs = set(inspect.signature(env_class.__init__).parameters) - {"self"}
    assert table_first_column(heading) == knobs


def test_every_learner_is_documented():
    assert table_first_column("## Agents") == set(learner_names())


def test_every_population_preset_is_documented():
    assert table_first_column("### Populations") == set(population_names())


def test_python_snippets_run(tmp_path, monkeypatch):
    """The snippets run top to bottom in one namespace, as a reader would paste them (in a
    scratch folder: some save models)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for snippet in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        exec(compile(snippet, "README.md", "exec"), namespace)
    from mermaide.principal import check_principal, evaluate

    my_principal = namespace["MyPrincipal"](steps=5)
    check_principal(my_principal)
    stats = evaluate(my_principal, gym.make("Mermaide/Bandit-v0", horizon=20), episodes=2,
                     seed=0)
    assert np.all(stats.interventions == 5)
