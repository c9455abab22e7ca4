"""README.md and docs/ must match the code: every Python block runs, the knob and learner tables
state the constructors' names, defaults and allowed ranges, the name tables list what is
registered, the package map lists every module, and every link lands on a file and heading."""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import math
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from mermaide import agents
from mermaide.agents import learner_names, population, population_names
from mermaide.bench.suite import available_suites, suite_from_dict
from mermaide.envs import (
    BanditEnv,
    IncentiveBanditEnv,
    IncentiveMDPEnv,
    RepeatedStackelbergEnv,
    StackelbergEnv,
    StackelbergMarkovEnv,
    StackelbergPOMDPEnv,
)
from mermaide.envs.games import classic_game, game_population, game_population_names
from mermaide.envs.message_games import message_game
from mermaide.principal import check_principal, evaluate, principal_names

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]


def read(page: str) -> str:
    return (ROOT / page).read_text()


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def section(page: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher level (lines
    in code blocks are not headings)."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = read(page).splitlines()
    assert heading in lines, f"{page} has no heading {heading!r}"
    body, fenced = [], False
    for line in lines[lines.index(heading) + 1:]:
        fenced ^= line.startswith("```")
        if not fenced and re.match(rf"#{{1,{level}}} ", line):
            break
        body.append(line)
    return "\n".join(body) + "\n"


def table(page: str, heading: str) -> list[dict[str, str]]:
    """The first table under a heading, one dict per row keyed by the header's cells."""
    first = next(chunk.strip() for chunk in section(page, heading).split("\n\n")
                 if chunk.strip().startswith("|"))
    header, _, *rows = first.split("\n")

    def cells(row: str) -> list[str]:
        return [cell.strip() for cell in re.split(r"(?<=\s)\|(?=\s)", row.strip().strip("|"))]

    keys = cells(header)
    return [dict(zip(keys, cells(row), strict=True)) for row in rows]


def first_column(rows: list[dict[str, str]]) -> list[str]:
    names = [re.fullmatch(r"`([^`]+)`", next(iter(row.values()))) for row in rows]
    assert all(names), "every first cell is one backticked name"
    return [name.group(1) for name in names if name]


# --- every Python block runs ------------------------------------------------------------------


@functools.cache
def run_blocks(page: str) -> dict[str, Any]:
    """A page's Python blocks run top to bottom in one namespace, as a reader would paste
    them, in a scratch folder (some save models). Cached: later checks read the namespace."""
    namespace: dict[str, Any] = {}
    with contextlib.chdir(tempfile.mkdtemp(prefix="mermaide-docs-")):
        for index, block in enumerate(blocks(read(page), "python")):
            exec(compile(block, f"{page} (python block {index + 1})", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(read(p), "python")])
def test_python_blocks_run(page):
    run_blocks(page)


def test_every_page_is_checked():
    """The pages with Python blocks are the ones a newcomer runs; the others hold none."""
    assert {"README.md", "docs/games.md", "docs/agents.md", "docs/two-player.md",
            "docs/principals.md"} <= {p for p in PAGES if blocks(read(p), "python")}


def test_own_principals_from_the_docs_work():
    namespace = run_blocks("docs/principals.md")
    my_principal = namespace["MyPrincipal"](steps=5)
    check_principal(my_principal)
    stats = evaluate(my_principal, gym.make("Mermaide/Bandit-v0", horizon=20), episodes=2,
                     seed=0)
    assert np.all(stats.interventions == 5)
    check_principal(namespace["EveryOther"]())


def test_suite_format_example_loads():
    (example,) = blocks(read("docs/harness.md"), "toml")
    for profile in ("quick", "paper"):
        suite_from_dict(tomllib.loads(example), profile)
    shipped = first_column(table("docs/harness.md", "## Suites are data"))
    assert sorted(shipped) == available_suites()


# --- the knob tables: names, defaults and allowed ranges ------------------------------------

KNOB_TABLES = {
    "Mermaide/Bandit-v0": BanditEnv,
    "Mermaide/Stackelberg-v0": StackelbergEnv,
    "Mermaide/RepeatedStackelberg-v0": RepeatedStackelbergEnv,
    "Mermaide/StackelbergPOMDP-v0": StackelbergPOMDPEnv,
    "Mermaide/IncentiveBandit-v0": IncentiveBanditEnv,
    "Mermaide/StackelbergMarkov-v0": StackelbergMarkovEnv,
    "Mermaide/IncentiveMDP-v0": IncentiveMDPEnv,
}


def knob_rows(env_id: str) -> list[dict[str, str]]:
    return table("docs/games.md", f"### Knobs of `{env_id}`")


def documented_default(cell: str) -> Any:
    return ast.literal_eval(cell.replace("`", ""))


# Values a table's "allowed" cell names in words, and one instance of each.
NAMED_VALUES = {
    "`True`": lambda: True,
    "`False`": lambda: False,
    "`AgentSpec`": lambda: population("train").sample(np.random.default_rng(0)),
    "`AgentPopulation`": lambda: population("test-ood"),
    "`MatrixGame`": lambda: classic_game("commitment"),
    "`MessageGame`": lambda: message_game("spm-pi", 3),
    "`GamePopulation`": lambda: game_population("train"),
    "`BayesianGamePopulation`": lambda: game_population("security"),
    "a pair `(A, B)`": lambda: (np.eye(2), 1.0 - np.eye(2)),
    "a dict": lambda: {},
}
BAD_NAME = "no-such-name"


def allowed_values(cell: str) -> tuple[list[Any], list[Any], list[Any]]:
    """What an "allowed" cell promises: (values accepted, values refused with a ValueError
    naming the argument, names refused with a ValueError naming the bad name). Every part of
    the cell must be understood, so that a new kind of range cannot go unchecked."""
    accept: list[Any] = []
    refuse: list[Any] = []
    refuse_name: list[Any] = []
    rest = cell

    def take(pattern: str) -> list[re.Match[str]]:
        nonlocal rest
        found = list(re.finditer(pattern, rest))
        rest = re.sub(pattern, " ", rest)
        return found

    for match in take(r"integer >= (-?\d+)"):
        low = int(match.group(1))
        accept += [low, low + 1]
        refuse += [low - 1, low + 0.5]
    for match in take(r"(?:in )?([\[(])(-?[\d.]+), (-?[\d.]+)([\])])"):
        low, high = float(match.group(2)), float(match.group(3))
        accept.append((low + high) / 2)
        (refuse if match.group(1) == "(" else accept).append(low)
        (refuse if match.group(4) == ")" else accept).append(high)
        refuse += [low - 1e-9, high + 1e-9]
    for match in take(r"(?:std )?(>=|>) (-?[\d.]+)"):
        low = float(match.group(2))
        accept.append(low + 1.0)
        (accept if match.group(1) == ">=" else refuse).append(low)
        refuse.append(low - 1e-9)
    for _ in take(r"any real"):
        accept += [-1.5, 2.0]
        refuse.append(math.nan)
    for _ in take(r"a pair \(low, high\) with high > low"):
        accept.append((0.0, 2.0))
        refuse.append((1.0, 0.0))
    for match in take(r'`"([^"`]+)"`'):
        accept.append(match.group(1))
        refuse.append(BAD_NAME)
    for _ in take(r"`None`"):
        accept.append(None)
    for _ in take(r"(?:a )?learner name"):
        accept += learner_names()
        refuse_name.append(BAD_NAME)
    for _ in take(r"preset name \(below\)"):
        accept += game_population_names()
        refuse_name.append(BAD_NAME)
    for words, value in NAMED_VALUES.items():
        for _ in take(re.escape(words)):
            accept.append(value())
    leftover = re.sub(r"\b(or|and)\b|\((strong|weak)\)|[,;\s]", "", rest)
    assert not leftover, f"cannot check the allowed values {cell!r} (left: {leftover!r})"
    assert accept, f"{cell!r} promises nothing"
    if refuse_name:  # a bad name is refused as a bad name, whatever else the cell allows
        refuse = [value for value in refuse if value != BAD_NAME]
    return accept, refuse, refuse_name


def assert_refused(build, name: str, value: Any, named: str) -> None:
    with pytest.raises(ValueError) as error:
        build(**{name: value})
    assert named in str(error.value), f"{name}={value!r}: {error.value}"


@pytest.mark.parametrize("env_id", KNOB_TABLES)
def test_every_knob_is_documented(env_id):
    documented = first_column(knob_rows(env_id))
    parameters = set(inspect.signature(KNOB_TABLES[env_id]).parameters)
    assert len(documented) == len(set(documented))
    assert set(documented) == parameters


@pytest.mark.parametrize("env_id", KNOB_TABLES)
def test_knob_defaults_are_the_constructors(env_id):
    parameters = inspect.signature(KNOB_TABLES[env_id]).parameters
    for name, row in zip(first_column(knob_rows(env_id)), knob_rows(env_id), strict=True):
        assert documented_default(row["default"]) == parameters[name].default, name


@pytest.mark.parametrize("env_id", KNOB_TABLES)
def test_knob_ranges_are_the_constructors(env_id):
    """Every value the table allows is accepted; just outside it, a ValueError names the knob."""
    env_class = KNOB_TABLES[env_id]
    for name, row in zip(first_column(knob_rows(env_id)), knob_rows(env_id), strict=True):
        accept, refuse, refuse_name = allowed_values(row["allowed"])
        for value in accept:
            env_class(**{name: value}).close()
        for value in refuse:
            assert_refused(env_class, name, value, name)
        for value in refuse_name:
            assert_refused(env_class, name, value, value)


# --- the learner tables -------------------------------------------------------------------


def learner_parameters(cell: str) -> dict[str, tuple[str, str]]:
    """`name` allowed (default); ... -> {name: (allowed, default)}."""
    parsed = {}
    for chunk in cell.split("; "):
        match = re.fullmatch(r"`(\w+)` (.*) \((.*)\)", chunk)
        assert match, f"cannot read the parameter {chunk!r}"
        parsed[match.group(1)] = (match.group(2), match.group(3))
    return parsed


def learner_rows() -> list[dict[str, str]]:
    return table("docs/agents.md", "## Learners")


def test_every_learner_is_documented():
    assert sorted(first_column(learner_rows())) == learner_names()
    assert sorted(first_column(table("README.md", "## Learners"))) == learner_names()


@pytest.mark.parametrize("name", learner_names())
def test_learner_parameters_are_the_constructors(name):
    """Names, defaults and ranges of each learner's parameters, and its feedback kind."""
    row = dict(zip(first_column(learner_rows()), learner_rows(), strict=True))[name]
    learner_class = type(agents.make(name))
    parameters = dict(inspect.signature(learner_class).parameters)
    documented = learner_parameters(row['parameters: allowed (default), separated by ";"'])
    assert set(documented) == set(parameters)
    assert row["feedback"] == learner_class.feedback

    def build(**params: Any) -> None:
        agents.make(name, **params).reset(batch=1, n_actions=3, rng=np.random.default_rng(0))

    for parameter, (allowed, default) in documented.items():
        assert documented_default(default) == parameters[parameter].default, parameter
        accept, refuse, refuse_name = allowed_values(allowed)
        assert not refuse_name
        for value in accept:
            build(**{parameter: value})
        for value in refuse:
            assert_refused(build, parameter, value, parameter)


# --- the other name tables ----------------------------------------------------------------


def test_every_principal_is_listed():
    assert sorted(first_column(table("README.md", "## Principals"))) == sorted(principal_names())


def test_principal_reference_names_registered_principals():
    """The registry listing shows principal_names(); the tables name only registered ones."""
    (listing,) = [b for b in blocks(section("docs/principals.md", "## Registry"), "python")]
    shown = ast.literal_eval(" ".join(re.findall(r"^#\s*(.*)$", listing, re.M)[:2]))
    assert shown == principal_names()
    known = {*principal_names(), "sb3:<Algo>"}
    for heading in ("## The baselines", "## Agent modelling and meta-learning"):
        rows = table("docs/principals.md", heading)
        named = {n for row in rows for n in re.findall(r'`"([^"]+)"`', next(iter(row.values())))}
        assert named and named <= known, named - known


def test_every_population_preset_is_documented():
    assert sorted(first_column(table("docs/agents.md", "### Populations"))) == population_names()
    games = first_column(table("docs/games.md", "### Game populations"))
    assert sorted(games) == game_population_names()


def test_every_game_is_listed():
    registered = sorted(k for k in gym.registry if k.startswith("Mermaide/"))
    assert sorted(first_column(table("README.md", "## Games"))) == registered
    assert sorted(first_column(table("docs/games.md", "## Environments"))) == registered


# --- the map, the links, the headline numbers ---------------------------------------------


def mapped_paths() -> list[str]:
    """The paths the README's "Where things live" block names, from its indentation."""
    (tree,) = blocks(section("README.md", "## Where things live"), "text")
    stack: list[tuple[int, str]] = []
    paths = []
    for line in tree.splitlines():
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        prefix = "".join(folder for _, folder in stack)
        names = re.match(r"((?:[\w.*/-]+\.(?:py|toml)|[\w./-]+/)(?: [\w.*-]+\.py)*)", line.strip())
        assert names, f"the map's line {line!r} names no path"
        for name in names.group(1).split():
            paths.append(prefix + name)
        if names.group(1).endswith("/"):
            stack.append((indent, names.group(1)))
    return paths


def test_package_map_lists_every_module():
    listed = mapped_paths()
    for path in listed:
        assert list(ROOT.glob(path.rstrip("/"))), f"the map names {path}, which does not exist"
    # A sub-package's __init__.py goes with its folder.
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "mermaide").rglob("*.py")
               if p.name != "__init__.py" or p.parent == ROOT / "mermaide"}
    covered = {str(p.relative_to(ROOT)) for path in listed for p in ROOT.glob(path)}
    assert modules <= covered, f"the map misses {sorted(modules - covered)}"


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES)
def test_links_land(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", read(page)):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        path = (ROOT / page).parent / file if file else ROOT / page
        assert path.exists(), f"{page} links to {target}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.*)$", path.read_text(), flags=re.M)
            assert anchor in {slug(h) for h in headings}, f"{page}: no heading #{anchor}"


def test_readme_is_short_and_links_every_page():
    readme = read("README.md")
    assert len(readme.splitlines()) < 250
    for page in PAGES[1:]:
        assert f"]({page})" in readme, f"README does not link {page}"


def test_headline_numbers_come_from_the_docs():
    """The README's headline table reports numbers; each is stated in the docs it cites."""
    docs = "".join(read(p) for p in PAGES[1:])
    headline = section("README.md", "## Headline results")
    for number in re.findall(r"\d+\.\d+", headline):
        assert number in docs, f"README's headline {number} is not in docs/"
