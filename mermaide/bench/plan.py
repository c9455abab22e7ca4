"""What a suite runs: one ``Job`` per (sweep variant, principal, seed), and what determines each
job's numbers (its configuration and that configuration's hash, by which a finished run is
recognised on resume)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from mermaide.bench.suite import Suite


@dataclass(frozen=True)
class Job:
    """One (variant, principal, seed) run of a suite."""

    suite: Suite
    principal: str
    seed: int
    variant: tuple[tuple[str, Any], ...] = ()

    @property
    def variant_label(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.variant) or "default"

    @property
    def key(self) -> str:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.principal)
        prefix = re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.variant_label)
        return f"{prefix}__{name}__seed{self.seed}"

    def config(self) -> dict[str, Any]:
        """Everything that determines this job's numbers."""
        suite = self.suite.to_dict()
        # What only names the runs or shapes the report (comparisons), or where the suite
        # was read from, is left out; so are the other principals' arguments (this job's own
        # are its "principal_kwargs" below): adding a principal to a suite re-runs nothing.
        for key in ("principals", "seeds", "sweep", "description", "comparisons", "aliases",
                    "source", "principal_kwargs"):
            suite.pop(key)
        # Left out at its default, so that runs stored before the key existed keep their hash.
        if suite["reference"] is None:
            suite.pop("reference")
        aliased = {"runs": self.suite.entry_point(self.principal)} if (
            self.principal in self.suite.aliases) else {}
        return {
            "suite": suite,
            "principal": self.principal,
            **aliased,
            "principal_kwargs": dict(self.suite.principal_kwargs.get(self.principal, {})),
            "seed": self.seed,
            "variant": dict(self.variant),
        }

    def config_hash(self) -> str:
        blob = json.dumps(self.config(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def variants_of(suite: Suite) -> list[tuple[tuple[str, Any], ...]]:
    """Every combination of the sweep's knob values, as ((knob, value), ...)."""
    variants: list[tuple[tuple[str, Any], ...]] = [()]
    for knob, values in suite.sweep.items():
        variants = [(*v, (knob, value)) for v in variants for value in values]
    return variants


def jobs_of(suite: Suite) -> list[Job]:
    """The suite's jobs: every sweep variant x principal x seed, in that order."""
    return [Job(suite, principal, seed, variant) for variant in variants_of(suite)
            for principal in suite.principals for seed in suite.seeds]
