"""The ``Principal`` seam: one protocol, one registry, one evaluation function.

A principal is whatever steers an agent through a Gymnasium game: a fixed heuristic, a
model-free learner, a meta-learner. All of them expose the same five verbs

* ``meta_train(env_fn, population, steps, seed)``: learn across agents drawn from
  ``population`` (a plain learner just trains on the env; ``population=None`` lets the env
  draw its own agents), for about ``steps`` environment steps. It may take two optional
  keywords, as the learned principals do: ``progress`` (True: a tqdm bar of the env steps
  with the running mean return; False: none; or a tqdm bar that the caller owns) and
  ``logger`` (a Stable-Baselines3 ``Logger`` that receives the learning curve in SB3's keys,
  ``mermaide.principal.monitor``). A principal without them is not passed them: the harness
  reads ``meta_train``'s signature first;
* ``adapt(env, episodes)``: K-shot adaptation on one new agent (the env plays the same task
  every episode); ``episodes=0`` is zero-shot and leaves the principal unchanged;
* ``act(obs, state) -> (action, state)``: ``state=None`` starts an episode, as in SB3's
  ``predict``; recurrent principals carry their memory in ``state``;
* ``save(path)`` / ``load(path)``;

and may define two optional hooks, which ``evaluate`` (and the harness) call when they exist:
``begin_episode(info)`` with the reset ``info`` before the first ``act`` of every episode (a
heuristic reads the episode's ``info["target_action"]`` there), and ``after_step(info)`` with
each step's ``info`` before the next ``act`` (the learned principals read the game's
``info["action_mask"]`` from both, so that they never pick an action that can have no
effect). A principal without them is not told.

``make(name, **kwargs)`` builds a registered principal, or a third party's one from
``"package.module:ClassName"``; ``mermaide.principal.evaluate`` is the one scoring function
used by the tests, the harness and users (the K-shot protocol of DESIGN.md).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

EnvFn = Callable[[], gym.Env]


@runtime_checkable
class TaskDistribution(Protocol):
    """What a principal needs of a population: seeded draws of tasks (e.g. ``AgentSpec``).

    A population may also offer ``sample_many(n, rng) -> list`` and ``sample_batch(n, rng)``
    (an ``AgentBatch``); the learned principals use them to draw a whole batch of tasks with
    array calls when they are there."""

    def sample(self, rng: np.random.Generator) -> Any: ...


@runtime_checkable
class Principal(Protocol):
    """The principal seam. See the module docstring for the meaning of each verb."""

    def meta_train(self, env_fn: EnvFn, population: TaskDistribution | None, steps: int,
                   seed: int) -> None: ...

    def adapt(self, env: gym.Env, episodes: int) -> None: ...

    def act(self, obs: np.ndarray, state: Any) -> tuple[Any, Any]: ...

    def save(self, path: str) -> None: ...

    def load(self, path: str) -> None: ...


REQUIRED_METHODS = ("meta_train", "adapt", "act", "save", "load")
# The optional keywords of meta_train (see the module docstring).
MONITOR_KEYWORDS = ("progress", "logger")


def check_principal(principal: object) -> None:
    """Reject an object that does not satisfy ``Principal``, naming the missing methods."""
    missing = [name for name in REQUIRED_METHODS if not callable(getattr(principal, name, None))]
    if missing:
        raise TypeError(
            f"{type(principal).__name__} is not a Principal: missing method(s) "
            f"{', '.join(missing)} (a Principal needs {', '.join(REQUIRED_METHODS)})"
        )


def monitor_keywords(principal: Principal) -> frozenset[str]:
    """Which of ``MONITOR_KEYWORDS`` the principal's ``meta_train`` accepts, read from its
    signature (once per principal: a caller keeps the answer): none for a principal written
    to the bare protocol, all for one that takes ``**kwargs``."""
    try:
        parameters = inspect.signature(principal.meta_train).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature (a builtin)
        return frozenset()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return frozenset(MONITOR_KEYWORDS)
    return frozenset(p.name for p in parameters if p.name in MONITOR_KEYWORDS
                     and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


# --- registry ---------------------------------------------------------------------------------

# name -> "module:attribute" (imported on first use, so that importing mermaide.principal does
# not pull in torch or stable-baselines3) or a factory.
_REGISTRY: dict[str, str | Callable[..., Any]] = {}
# "prefix:rest" names, e.g. "sb3:A2C": prefix -> factory(rest, **kwargs).
_PREFIXES: dict[str, str | Callable[..., Any]] = {}


def register_principal(name: str, entry_point: str | Callable[..., Any]) -> None:
    """Register a principal under ``name``: a ``"module:Class"`` string or a factory."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"name must be a non-empty string without ':', got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"principal name {name!r} is already registered")
    _REGISTRY[name] = entry_point


def register_prefix(prefix: str, entry_point: str | Callable[..., Any]) -> None:
    """Register a family of names ``"prefix:rest"``; the factory receives ``rest`` first."""
    if prefix in _PREFIXES:
        raise ValueError(f"principal prefix {prefix!r} is already registered")
    _PREFIXES[prefix] = entry_point


def principal_names() -> list[str]:
    """Registered names (prefix families shown as ``"prefix:<...>"``)."""
    return sorted(_REGISTRY) + [f"{p}:<...>" for p in sorted(_PREFIXES)]


def _resolve(entry_point: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(entry_point):
        return entry_point
    module_name, _, attribute = entry_point.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r} for principal "
                         f"{entry_point!r}: {error}") from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r} "
                         f"(principal {entry_point!r})") from None


def make(name: str, **kwargs: Any) -> Any:
    """Build a principal by registered name, ``"prefix:rest"`` (e.g. ``"sb3:A2C"``) or
    ``"package.module:ClassName"``; the result is checked against ``Principal``."""
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")
    prefix, colon, rest = name.partition(":")
    if name in _REGISTRY:
        principal = _resolve(_REGISTRY[name])(**kwargs)
    elif colon and prefix in _PREFIXES:
        principal = _resolve(_PREFIXES[prefix])(rest, **kwargs)
    elif colon and rest:
        factory = _resolve(name)
        if inspect.isclass(factory):
            check_principal(factory)
        principal = factory(**kwargs)
    else:
        raise ValueError(f"unknown principal {name!r}; known principals: "
                         f"{', '.join(principal_names())}; or pass 'package.module:ClassName'")
    check_principal(principal)
    return principal
