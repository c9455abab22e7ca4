"""``python -m mermaide.bench`` / ``mermaide-bench``: run a benchmark suite and write its report."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mermaide.bench.backends import BACKENDS
from mermaide.bench.runner import run_suite
from mermaide.bench.suite import PROFILES, SuiteError, available_suites, load_suite

RESULTS_DIR = Path("benchmarks") / "results"


def _csv(kind: type) -> Callable[[str], list[object]]:
    def parse(text: str) -> list[object]:
        try:
            return [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {kind.__name__}, got {text!r}") from None

    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mermaide-bench",
        description="Meta-train principals on a training population and evaluate them 0-shot "
                    "and K-shot on held-out agents; writes results.json, results.md and plots.")
    p.add_argument("--suite", default="bandit-ood",
                   help=f"a suite name ({', '.join(available_suites())}) or a .toml file")
    p.add_argument("--principals", type=_csv(str),
                   help="comma-separated registry names or package.module:Class "
                        "(default: the suite's)")
    p.add_argument("--seeds", type=_csv(int), help="comma-separated seeds (default: the suite's)")
    p.add_argument("--shots", type=_csv(int), help="comma-separated K, e.g. 0,1,5")
    p.add_argument("--profile", choices=PROFILES, default="quick",
                   help="quick: minutes on a laptop; paper: the committed reproduction")
    p.add_argument("--workers", type=_positive_int, default=2,
                   help="parallel runs (processes)")
    p.add_argument("--out", type=Path,
                   help="output folder (default: benchmarks/results/<suite>[-paper])")
    p.add_argument("--backend", choices=tuple(BACKENDS), default="local",
                   help="local processes, or Ray tasks (a local Ray instance, or the cluster "
                        "at RAY_ADDRESS)")
    p.add_argument("--resume", action="store_true",
                   help="skip runs already finished with the same configuration")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true",
                   help="a bad suite raises with its traceback instead of one line")
    return p


def _refused(error: ValueError, debug: bool) -> int:
    """A bad suite: one line on stderr and exit status 2 (``--debug``: the traceback)."""
    if debug:
        raise error
    print(f"mermaide-bench: {error}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # "package.module:Class" principals of the user's own, in the current folder, import as
    # they would under ``python -m``; worker processes inherit this path.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        suite = load_suite(args.suite, args.profile).with_overrides(
            args.principals, args.seeds, args.shots)
    except ValueError as error:
        return _refused(error, args.debug)
    default_name = suite.name if args.profile == "quick" else f"{suite.name}-{args.profile}"
    out = args.out if args.out is not None else RESULTS_DIR / default_name
    try:
        # run_suite checks the suite (building its env, populations and principals once)
        # before any run; only that check raises a SuiteError.
        summary = run_suite(suite, out, workers=args.workers, backend=args.backend,
                            resume=args.resume, progress=not args.no_progress)
    except SuiteError as error:
        return _refused(error, args.debug)
    print(f"{summary['done']} runs done, {summary['skipped']} skipped (resumed), "
          f"{len(summary['failed'])} failed; report: {out / 'results.md'}")
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
