"""What every game shares: the intervention budget, its cost, observation noise, and how much of
the agent the principal sees. Validated once here so every game refuses bad values the same way.

Each game writes its knob signature once, as a subclass of ``Knobs`` adding its own fields
(keyword-only), which validates them in ``__post_init__`` and then calls this one's; its forms
take the knobs by name and ``knob_signature`` shows them as the forms' signature (what
``inspect.signature`` and the README tables read).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from mermaide.checks import check_number

# What of the agent the principal may see. "actions": only the agent's (noisy) choices, the
# paper's partial-information setting; "actions+rewards": also what the agent received;
# "actions+payoffs": also the agent's payoff matrix (games with payoff matrices only).
OBSERVES_ACTIONS = "actions"
OBSERVES_REWARDS = "actions+rewards"
OBSERVES_PAYOFFS = "actions+payoffs"


@dataclass(frozen=True)
class Knobs:
    """The shared knobs.

    intervention_budget: most interventions per episode; None = unlimited. An intervention
        beyond it is refused: not applied, not charged, and flagged in ``info["refused"]``.
    intervention_cost: charged to the principal per applied intervention (>= 0).
    observation_noise: probability in [0, 1] that the principal sees a wrong agent action (a
        uniformly drawn other action), also the std of Gaussian noise on what it observes of
        the agent's rewards.
    principal_observes: what of the agent is visible (see the OBSERVES_* constants); a game
        allows those in its ``OBSERVES``.
    """

    OBSERVES: ClassVar[tuple[str, ...]] = (OBSERVES_ACTIONS, OBSERVES_REWARDS, OBSERVES_PAYOFFS)

    intervention_budget: int | None = None
    intervention_cost: float = 0.1
    observation_noise: float = 0.0
    principal_observes: str = OBSERVES_ACTIONS

    def __post_init__(self) -> None:
        budget = self.intervention_budget
        # Checked as a real number first: int() of an infinity, a NaN or a list would raise
        # its own error (OverflowError, ValueError, TypeError) that names no knob.
        if budget is not None and (
                isinstance(budget, bool) or not isinstance(budget, (int, float, np.number))
                or not math.isfinite(budget) or int(budget) != budget or budget < 0):
            raise ValueError(f"intervention_budget must be None or an integer >= 0, got "
                             f"{budget!r}")
        check_number("intervention_cost", self.intervention_cost, low=0.0)
        check_number("observation_noise", self.observation_noise, low=0.0, high=1.0)
        self.check_observes(self.OBSERVES)

    def check_observes(self, allowed: Sequence[str]) -> None:
        if self.principal_observes not in allowed:
            raise ValueError(f"principal_observes must be one of {tuple(allowed)}, got "
                             f"{self.principal_observes!r}")

    @property
    def budget_limit(self) -> float:
        return math.inf if self.intervention_budget is None else float(self.intervention_budget)


Init = TypeVar("Init", bound=Callable[..., None])
_SHARED = tuple(f.name for f in dataclasses.fields(Knobs))


def knob_signature(knobs_class: type[Knobs], *leading: inspect.Parameter,
                   without: Sequence[str] = ()) -> Callable[[Init], Init]:
    """Give a form's ``__init__(self, *leading, **knobs)`` the signature of ``knobs_class``:
    ``self``, the ``leading`` parameters, then every knob (the game's own first, then the
    shared ones) by name with its default, less ``without`` (which the form refuses, as Python
    refuses an unknown keyword argument) and the fields a game fixes (``init=False``)."""
    fields = sorted((f for f in dataclasses.fields(knobs_class)
                     if f.init and f.name not in without), key=lambda f: f.name in _SHARED)

    def parameter(field: dataclasses.Field[Any]) -> inspect.Parameter:
        return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY,
                                 default=field.default, annotation=field.type)

    receiver = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    signature = inspect.Signature([receiver, *leading, *map(parameter, fields)])

    def decorate(init: Init) -> Init:
        form_init = init
        if without:
            @functools.wraps(init)
            def refusing(self: Any, *args: Any, **knobs: Any) -> None:
                for name in without:
                    if name in knobs:
                        raise TypeError(f"{type(self).__name__}.__init__() got an unexpected "
                                        f"keyword argument {name!r}")
                init(self, *args, **knobs)

            form_init = refusing  # type: ignore[assignment]
        form_init.__signature__ = signature  # type: ignore[attr-defined]
        return form_init

    return decorate


# The leading parameter of every native vector form.
NUM_ENVS = inspect.Parameter("num_envs", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=1,
                             annotation="int")


class BudgetLedger:
    """Interventions used by B principals this episode; refuses what exceeds the budget."""

    def __init__(self, batch: int, budget: int | None):
        self.limit = math.inf if budget is None else float(budget)
        self.unlimited = budget is None
        self.used = np.zeros(batch, dtype=np.int64)

    def reset(self) -> None:
        self.used = np.zeros(self.used.shape, dtype=np.int64)

    def spend(self, requested: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B,) bool requests -> (applied, refused) masks; applied ones are counted.

        ``used`` is rebound to a new array at every call, never changed in place, so a caller
        may keep (or hand out) the array it read without copying it.
        """
        if self.unlimited:
            # Nothing is ever refused: skip the comparison against an infinite limit.
            self.used = self.used + requested
            return requested, np.zeros(requested.shape, dtype=bool)
        applied = requested & (self.used < self.limit)
        self.used = self.used + applied
        return applied, requested & ~applied

    def allows(self) -> np.ndarray:
        """(B,) bool: whether an intervention requested now would be applied."""
        return self.used < self.limit

    def fraction_left(self) -> np.ndarray:
        if self.limit == math.inf:
            return np.ones(self.used.shape)
        if self.limit == 0:
            return np.zeros(self.used.shape)
        return 1.0 - self.used / self.limit


def misreport_actions(actions: np.ndarray, n_actions: int, probability: float,
                      rng: np.random.Generator) -> np.ndarray:
    """With the given probability per entry, replace an action by a uniformly drawn other one."""
    if probability == 0.0:
        return actions
    flip = rng.random(actions.shape) < probability
    other = (actions + rng.integers(1, n_actions, size=actions.shape)) % n_actions
    return np.where(flip, other, actions)
