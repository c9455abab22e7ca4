"""Benchmark suites are data: a TOML file names the game, its knobs, the training and test
populations, the principals, seeds, budgets and shots. This module loads and validates them.

A suite file (the shipped ones are package data, ``mermaide/bench/suites/*.toml``)::

    name = "bandit-ood"                  # letters, digits, ".", "_", "-": the default
                                         # output folder, benchmarks/results/<name>
    env = "Mermaide/Bandit-v0"           # a registered Gymnasium id
    task_argument = "agent"              # the env argument that receives the tasks (a
                                         # population), and the reset option that fixes one:
                                         # "agent" (bandit), "game" (matrix games)
    principals = ["none", "reinforce", "mermaide"]  # registry names,
                                         # "package.module:Class" or aliases
    seeds = [0, 1, 2]                    # distinct integers in [0, 2**32 - 1]
    shots = [0, 1]
    comparisons = [["mermaide", "none"]] # optional: paired per-task differences (A - B)
                                         # reported at every shot count; names from principals

    [env_kwargs]                          # the game's knobs (not task_argument's: the
    horizon = 200                         # populations give it)

    [populations]                         # where tasks come from (optional: without it, or
                                          # with kind = "none", the game has no tasks: the env
                                          # is made from env_kwargs alone and every run meets
                                          # that one game, e.g. a sweep's preset)
    kind = "agents"                       # "agents" (AgentPopulation) or "games" (GamePopulation)
    train = "train"
    test = "test-ood"
    n_arms = 10                           # optional: passed to the population preset
    train_size = 15                       # optional: meta-train on a fixed set of this many
                                          # training tasks (drawn once with task_seed) instead
                                          # of the endless population (the paper's 15 agents)

    [evaluation]
    tasks = 20                            # held-out tasks: one set per suite, the same for
                                          # every principal and seed (paired comparisons)
    task_seed = 0                         # the seed of that set (and of the training set)
    episodes = 2                          # scored episodes per task (after adaptation)
    train_steps = 20000                   # environment steps of meta-training
    curve_points = 4                      # points of the training curve

    [sweep]                               # optional: one run set per value of a knob
    observation_noise = [0.0, 0.2]

    [profiles.paper]                      # overrides of the top level and [evaluation]
    seeds = [0, 1, 2, 3, 4]
    evaluation = { tasks = 50, train_steps = 400000 }

    [principal_kwargs.reinforce]          # constructor arguments per principal (or alias)
    hidden_size = 64

    [aliases]                             # optional: a principal under another name, so that
    reinforce-small = "reinforce"         # it can run twice with other arguments
                                          # ([principal_kwargs.reinforce-small])

    [reference]                           # optional: the gap column's reference value
    key = "equilibrium_value"             # the reset-info key of the per-round value
    rounds = "horizon"                    # scored rounds per episode: an env attribute (1
                                          # when the env has none) or an integer

    [heatmap]                             # optional: the paper's behaviour heat map
    population = "figure5"                # an agents preset: its payoffs and target
    learner = "ucb"                       # the rows' learner (default "ucb") ...
    parameter = "beta"                    # ... and the parameter that varies (default "beta")
    betas = [-1.0, 0.0, 1.0]              # that parameter's values, one row each
    episodes = 20
"""

from __future__ import annotations

import copy
import dataclasses
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mermaide.agents import is_learner_name, learner_names
from mermaide.agents.base import learner_parameters
from mermaide.checks import check_int, check_number, check_seed, check_size
from mermaide.registry import Registry

# The shipped suites travel inside the package (package data), so an installed mermaide finds
# them from any folder; a ``benchmarks/<name>.toml`` in the current folder overrides by name.
SUITES_DIR = Path(__file__).resolve().parent / "suites"
PROFILES = ("quick", "paper")
# The population kind of a game without tasks (a suite without ``[populations]``).
NO_TASKS = "none"
# A suite's name: it names the default output folder, benchmarks/results/<name>, so it is a
# plain folder name (no path separator to climb out of that folder with).
SUITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# A suite's ``populations.kind`` -> the factory of its named populations (imported on use).
POPULATION_FACTORIES: Registry[Callable[..., Any]] = Registry("population kind")
POPULATION_FACTORIES.register("agents", "mermaide.agents:population")
POPULATION_FACTORIES.register("games", "mermaide.envs.stackelberg:game_population")


class SuiteError(ValueError):
    """A suite that cannot run: its message is one line naming the suite file, the key and
    the value, and what is allowed. Raised before any run starts (the command line exits
    with status 2)."""


@dataclass(frozen=True)
class Evaluation:
    tasks: int = 20  # held-out tasks (agents or games): one set, for every principal and seed
    episodes: int = 2  # scored evaluation episodes per task, after the K adaptation episodes
    train_steps: int = 20_000  # environment steps of meta-training per run
    curve_points: int = 4  # 0-shot evaluations along training, for the learning curve
    curve_tasks: int = 5  # held-out tasks used for each learning-curve point
    task_seed: int = 0  # draws the held-out tasks (and a fixed training set): suite-wide


@dataclass(frozen=True)
class Heatmap:
    population: str = "figure5"  # an agents preset with fixed payoffs and target
    learner: str = "ucb"  # the learner of every row (a registered learner name)
    parameter: str = "beta"  # the learner's parameter that varies from row to row
    betas: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.5, 1.0)  # its values, one row each
    episodes: int = 10  # episodes per beta: the frequency is over these


@dataclass(frozen=True)
class Reference:
    """Where the gap column's reference value comes from: the reset info's ``key`` (a value
    per scored round), times ``rounds``, the scored rounds of an episode: an integer, or the
    name of an env attribute (read as 1 when the env has no such attribute)."""

    key: str = "equilibrium_value"
    rounds: int | str = "horizon"


@dataclass(frozen=True)
class Suite:
    name: str
    env: str
    principals: tuple[str, ...]
    seeds: tuple[int, ...]
    shots: tuple[int, ...]
    population_kind: str
    train_population: str
    test_population: str
    task_argument: str = "agent"
    description: str = ""
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    population_kwargs: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Evaluation = Evaluation()
    principal_kwargs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    heatmap: Heatmap | None = None
    profile: str = "quick"
    sweep: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    comparisons: tuple[tuple[str, str], ...] = ()  # (A, B): the report's paired A - B
    train_size: int | None = None  # a fixed training set of this many tasks (None: endless)
    aliases: Mapping[str, str] = field(default_factory=dict)  # name -> principal it runs
    reference: Reference | None = None  # None: Reference()'s defaults
    source: str = "<dict>"  # the suite file, named by every error; no part of a run's config

    def entry_point(self, principal: str) -> str:
        """What ``principal`` (a name of ``principals``) builds: its alias target, or itself."""
        return self.aliases.get(principal, principal)

    def with_overrides(self, principals: Sequence[str] | None = None,
                       seeds: Sequence[int] | None = None,
                       shots: Sequence[int] | None = None) -> Suite:
        """The same suite with the command line's choices."""
        changes: dict[str, Any] = {}
        if principals is not None:
            changes["principals"] = tuple(principals)
        if seeds is not None:
            changes["seeds"] = tuple(seeds)
        if shots is not None:
            changes["shots"] = tuple(shots)
        suite = dataclasses.replace(self, **changes)
        # Comparisons were checked against the file's principals; those that name a principal
        # the command line left out are skipped by the report, with a note.
        with _naming(self.source):
            _check(suite, filed=False)
        return suite

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def suite_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.exists():
            raise ValueError(f"suite must be a suite name or an existing .toml file, got "
                             f"{name_or_path!r}")
        return path
    # A suite in ./benchmarks (the user's own) wins over the one shipped with mermaide.
    local = Path("benchmarks") / f"{name_or_path}.toml"
    candidate = local if local.exists() else SUITES_DIR / f"{name_or_path}.toml"
    if not candidate.exists():
        raise ValueError(f"suite must be one of {available_suites()} or a .toml path, got "
                         f"{name_or_path!r}")
    return candidate


def available_suites() -> list[str]:
    return sorted({p.stem for d in (Path("benchmarks"), SUITES_DIR) for p in d.glob("*.toml")})


def load_suite(name_or_path: str, profile: str = "quick") -> Suite:
    """Read a suite file and apply a profile (``quick`` is the file's top level)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    path = suite_path(name_or_path)
    with path.open("rb") as handle:
        try:
            raw = tomllib.load(handle)
        except tomllib.TOMLDecodeError as error:  # its message gives the line and column
            raise SuiteError(f"suite {path}: not valid TOML: {error}") from None
    return suite_from_dict(raw, profile, source=str(path))


@contextmanager
def _naming(source: str) -> Iterator[None]:
    """Refusals inside name the suite file, once, and are ``SuiteError``s."""
    try:
        yield
    except ValueError as error:
        message = str(error)
        if not message.startswith(f"suite {source}"):
            message = f"suite {source}: {message}"
        raise SuiteError(message) from None


def suite_from_dict(raw: Mapping[str, Any], profile: str = "quick",
                    source: str = "<dict>") -> Suite:
    """The suite of a parsed suite file (``source`` names it in every error), with the
    ``profile``'s overrides; everything the file can get wrong without building a game or a
    principal is refused here (``mermaide.bench.job.check_suite`` builds them)."""
    with _naming(source):
        return _suite_from_dict(raw, profile, source)


def _suite_from_dict(raw: Mapping[str, Any], profile: str, source: str) -> Suite:
    data = copy.deepcopy(dict(raw))
    profiles = {name: _table(f"profiles.{name}", overrides) for name, overrides
                in _table("profiles", data.pop("profiles", {})).items()}
    unknown = sorted(set(profiles) - set(PROFILES))
    if unknown:
        raise ValueError(f"profiles.{unknown[0]} is not a profile: a suite's profiles are "
                         f"{list(PROFILES)}")
    if profile != "quick" or "quick" in profiles:
        overrides = profiles.get(profile)
        if overrides is None:
            raise ValueError(f"suite {source} has no profile {profile!r}; it has "
                             f"{['quick', *sorted(profiles)]}")
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
    try:
        populations = _table("populations", data.pop("populations", {"kind": NO_TASKS}))
        if populations.get("kind") == NO_TASKS:
            extra = sorted(set(populations) - {"kind"})
            if extra:
                raise ValueError(f"suite {source}: populations.kind = {NO_TASKS!r} (a game "
                                 f"without tasks) takes no other populations keys, got {extra}")
            populations.update(train="", test="")
        heatmap = data.pop("heatmap", None)
        heatmap = None if heatmap is None else _table("heatmap", heatmap)
        reference = data.pop("reference", None)
        suite = Suite(
            name=_name(data.pop("name")),
            env=_text("env", data.pop("env")),
            principals=_names("principals", data.pop("principals")),
            seeds=_integers("seeds", data.pop("seeds"), check_seed),
            shots=_integers("shots", data.pop("shots"), _shots),
            population_kind=populations.pop("kind", "agents"),
            train_population=populations.pop("train"),
            test_population=populations.pop("test"),
            train_size=_train_size(populations.pop("train_size", None)),
            population_kwargs=populations,
            task_argument=_text("task_argument", data.pop("task_argument", "agent")),
            description=_description(data.pop("description", "")),
            env_kwargs=_table("env_kwargs", data.pop("env_kwargs", {})),
            evaluation=Evaluation(**_table("evaluation", data.pop("evaluation", {}))),
            principal_kwargs={name: _table(f"principal_kwargs.{name}", kwargs) for name, kwargs
                              in _table("principal_kwargs",
                                        data.pop("principal_kwargs", {})).items()},
            heatmap=None if heatmap is None else Heatmap(
                **{**heatmap, "betas": _values("heatmap.betas",
                                               heatmap.get("betas", Heatmap.betas))}),
            sweep={k: _values(f"sweep.{k}", v)
                   for k, v in _table("sweep", data.pop("sweep", {})).items()},
            comparisons=_comparisons(data.pop("comparisons", [])),
            aliases=_table("aliases", data.pop("aliases", {})),
            reference=None if reference is None else Reference(**_table("reference",
                                                                       reference)),
            profile=profile,
            source=source,
        )
    except KeyError as missing:
        raise ValueError(f"suite {source} lacks the required key {missing}") from None
    except TypeError as error:
        raise ValueError(f"suite {source} has an unknown key: {error}") from None
    if data:
        raise ValueError(f"suite {source} has unknown keys {sorted(data)}")
    _check(suite)
    return suite


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _names(key: str, value: Any) -> tuple[str, ...]:
    # A string is refused, not split: principals = "none" would run 'n', 'o', 'n', 'e'.
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{key} must be a list of names, got {value!r}")
    return tuple(_text(f"{key}[{i}]", name) for i, name in enumerate(value))


def _name(value: Any) -> str:
    if not isinstance(value, str) or not SUITE_NAME.fullmatch(value):
        raise ValueError(f"name must be a folder name of letters, digits, '.', '_' and '-' "
                         f"(it names the default output folder), got {value!r}")
    return value


def _description(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"description must be a string, got {value!r}")
    return value


def _integers(key: str, value: Any, check: Callable[[str, Any], int]) -> tuple[int, ...]:
    # Integers only: 0.5 or "3" are refused, not rounded or parsed.
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{key} must be a list of integers >= 0, got {value!r}")
    return tuple(check(f"{key}[{i}]", item) for i, item in enumerate(value))


def _shots(key: str, value: Any) -> int:
    """A number of adaptation episodes: a size, which may be 0."""
    return check_size(key, value, 0)


def _values(key: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{key} must be a list of values, got {value!r}")
    return tuple(value)


def _table(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be a table (a [{key}] section or {{...}}), got "
                         f"{value!r}")
    return dict(value)


def _train_size(value: Any) -> int | None:
    return None if value is None else check_int("populations.train_size", value, 1)


def _comparisons(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"comparisons must be a list of [principal, principal] pairs, got "
                         f"{value!r}")
    pairs = []
    for i, pair in enumerate(value):
        if (isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2
                or not all(isinstance(name, str) for name in pair)):
            raise ValueError(f"comparisons[{i}] must be a pair [principal, principal] of "
                             f"names, got {pair!r}")
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _check(suite: Suite, filed: bool = True) -> None:
    """What the suite can get wrong without building anything; ``filed``: the suite as its
    file has it, not narrowed to some of its principals by the command line."""
    if not suite.principals:
        raise ValueError("principals must name at least one principal, got none")
    _names("principals", suite.principals)
    if len(set(suite.principals)) != len(suite.principals):
        raise ValueError(f"principals must be distinct, got {list(suite.principals)}")
    _integers("seeds", suite.seeds, check_seed)
    _integers("shots", suite.shots, _shots)
    if not suite.seeds:
        raise ValueError("seeds must hold at least one seed, got none")
    if len(set(suite.seeds)) != len(suite.seeds):
        raise ValueError(f"seeds must be distinct, got {list(suite.seeds)}")
    if not suite.shots or min(suite.shots) < 0:
        raise ValueError(f"shots must be integers >= 0, got {list(suite.shots)}")
    if suite.population_kind != NO_TASKS and suite.population_kind not in POPULATION_FACTORIES:
        raise POPULATION_FACTORIES.unknown(suite.population_kind, " (populations.kind)")
    for alias, target in suite.aliases.items():
        if not isinstance(target, str) or not target or target in suite.aliases:
            raise ValueError(f"aliases.{alias} must name a principal (a registry name or "
                             f"\"package.module:Class\", not another alias), got {target!r}")
    if suite.reference is not None:
        rounds = suite.reference.rounds
        if not isinstance(suite.reference.key, str) or not suite.reference.key:
            raise ValueError(f"reference.key must be a reset-info key, got "
                             f"{suite.reference.key!r}")
        if not isinstance(rounds, str):
            check_int("reference.rounds", rounds, 1)
    evaluation = suite.evaluation
    for name in ("tasks", "episodes", "curve_points", "curve_tasks"):
        check_size(f"evaluation.{name}", getattr(evaluation, name), 1)
    check_int("evaluation.train_steps", evaluation.train_steps, 0)
    check_seed("evaluation.task_seed", evaluation.task_seed)
    for key, values in suite.sweep.items():
        if len(values) == 0:
            raise ValueError(f"sweep.{key} must list at least one value, got none")
    if suite.population_kind != NO_TASKS:
        # The populations give the env its tasks through this argument: a value of its own
        # in env_kwargs or a sweep would be replaced without a word.
        for key in ("env_kwargs", "sweep"):
            if suite.task_argument in getattr(suite, key):
                raise ValueError(f"{key}.{suite.task_argument} cannot be set: the suite's "
                                 f"[populations] give the env its {suite.task_argument!r} "
                                 f"(task_argument)")
    if suite.heatmap is not None:
        _check_heatmap(suite.heatmap)
    if filed:
        for name in suite.principal_kwargs:
            if name not in suite.principals and name not in suite.aliases:
                raise ValueError(f"principal_kwargs.{name} names no principal of the suite "
                                 f"(principals {list(suite.principals)} or aliases "
                                 f"{sorted(suite.aliases)})")
        for i, pair in enumerate(suite.comparisons):
            for name in pair:
                if name not in suite.principals:
                    raise ValueError(f"comparisons[{i}] must name two of the suite's "
                                     f"principals {list(suite.principals)}, got {list(pair)} "
                                     f"({name!r} is not one of them)")


def _check_heatmap(heatmap: Heatmap) -> None:
    _text("heatmap.population", heatmap.population)
    if not is_learner_name(heatmap.learner):
        raise ValueError(f"heatmap.learner must be one of {learner_names()}, got "
                         f"{heatmap.learner!r}")
    known = learner_parameters(heatmap.learner)
    if known is not None and heatmap.parameter not in known:
        raise ValueError(f"heatmap.parameter must be a parameter of {heatmap.learner!r} "
                         f"({', '.join(known)}), got {heatmap.parameter!r}")
    if not heatmap.betas:
        raise ValueError("heatmap.betas must list at least one value, got none")
    for i, beta in enumerate(heatmap.betas):
        check_number(f"heatmap.betas[{i}]", beta)
    check_size("heatmap.episodes", heatmap.episodes, 1)
