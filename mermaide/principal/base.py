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

import inspect
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from mermaide.registry import Registry

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
# not pull in torch or stable-baselines3) or a factory; "prefix:rest" families (e.g. "sb3:A2C",
# whose factory receives rest first); any other "package.module:ClassName" is imported.
_PRINCIPALS: Registry[Callable[..., Any]] = Registry(
    "principal", import_paths=True, hint="; or pass 'package.module:ClassName'",
    placeholder="<...>")


def register_principal(name: str, entry_point: str | Callable[..., Any]) -> None:
    """Register a principal under ``name``: a ``"module:Class"`` string or a factory."""
    _PRINCIPALS.register(name, entry_point)


def register_prefix(prefix: str, entry_point: str | Callable[..., Any]) -> None:
    """Register a family of names ``"prefix:rest"``; the factory receives ``rest`` first."""
    _PRINCIPALS.register_prefix(f"{prefix}:", entry_point)


def principal_names() -> list[str]:
    """Registered names (prefix families shown as ``"prefix:<...>"``)."""
    return _PRINCIPALS.names()


def make(name: str, **kwargs: Any) -> Any:
    """Build a principal by registered name, ``"prefix:rest"`` (e.g. ``"sb3:A2C"``) or
    ``"package.module:ClassName"``; the result is checked against ``Principal``. An unknown
    name raises ``mermaide.registry.UnknownNameError`` (a ``ValueError``) listing the known
    ones."""
    factory, rest = _PRINCIPALS.lookup(name)
    if rest is not None:
        principal = factory(rest, **kwargs)
    else:
        if ":" in name and inspect.isclass(factory):  # a third party's class: check it first
            check_principal(factory)
        principal = factory(**kwargs)
    check_principal(principal)
    return principal
