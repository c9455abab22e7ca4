"""Turn finished runs into ``results.json``, ``results.md`` and PNG plots.

Scores are per task, then averaged over tasks (one number per training seed); the tables give
the mean over seeds with a 95% confidence interval from Student's t over seeds (each seed is
a full meta-train + evaluation). With a single seed the interval is not defined and shown as
"n/a". The cost-effectiveness column, return per intervention, is each seed's score divided
by its mean interventions used ("-" where no seed intervened).

Paired comparisons (the suite's ``comparisons``, pairs [A, B]): every run meets the same
held-out tasks, so for each task the difference of A's and B's mean return is taken, each
principal's per-task return being the mean over its scored episodes and over the training
seeds both principals ran; the table gives the mean of those differences over the tasks with
the 95% t-interval over tasks (n = tasks), and ``comparisons.png`` draws them as a forest
plot. Pairs naming a principal without finished runs are skipped, with a note.

Games with a reference value (the matrix games' equilibrium value) get a "gap to equilibrium
value" column, reference minus return, and, when the ``GAP_BASELINE`` principal ran too, a
"gap to stackelberg-lp" column: each seed's gap minus that baseline's gap at the same variant,
shot count and training seed (the two met the same tasks from the same seeds), mean over
those seeds ± 95% t-interval. The baseline plays the exact equilibrium of what it observes,
so this column is what learning costs at that noise level; the baseline's own row reads 0.

Suites that sweep the horizon (``[sweep] horizon = [...]``) of a game with a reference value
get a "Final regret" table and ``regret.png``: the gap to the reference, which for
``Mermaide/IncentiveBandit-v0`` (reference ``benchmark_value`` per round times the horizon) is
the principal's regret against max_a (theta_a - tau_a) over the episode, realised (the draws'
noise included); the table gives it per principal and variant, mean over seeds ± 95%
t-interval, and the plot draws it against T on log-log axes (a symmetric-log y axis, linear
within ±1, so that a regret of 0 or below, the oracle's, stays on the plot), one line per
principal and K, one panel per value of the other swept knobs.

Every file is written atomically (``mermaide.bench.store``).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from mermaide.bench.store import atomic_path, write_json, write_text
from mermaide.bench.suite import NO_TASKS, Suite

METRICS = (
    ("returns", "principal return"),
    ("target_rates", "target-action rate"),
    ("interventions", "interventions used"),
    ("costs", "cost"),
)
PER_INTERVENTION = "return_per_intervention"  # the cost-effectiveness column
GAP_BASELINE = "stackelberg-lp"  # the principal whose gap the "gap to ..." column subtracts
REGRET_KNOB = "horizon"  # the swept knob that the regret table and plot put on their T axis


def mean_ci(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean and half-width of the 95% t-interval (NaN with fewer than two values)."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return math.nan, math.nan
    if array.size < 2:
        return float(array.mean()), math.nan
    half = stats.t.ppf(0.975, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size)
    return float(array.mean()), float(half)


def per_seed_score(shot: dict[str, list[Any]], metric: str) -> float:
    """Mean over tasks of the per-task mean of a metric (DESIGN.md: score per task first)."""
    values = np.asarray(shot[metric], dtype=np.float64)
    tasks = np.asarray(shot["tasks"])
    return float(np.mean([values[tasks == t].mean() for t in np.unique(tasks)]))


def per_seed_return_per_intervention(shot: dict[str, list[Any]]) -> float:
    """A seed's return per intervention: its score over its mean interventions used (NaN
    when it used none, or when the game does not report interventions)."""
    used = per_seed_score(shot, "interventions")
    if not math.isfinite(used) or used <= 0:
        return math.nan
    return per_seed_score(shot, "returns") / used


def per_seed_gap(shot: dict[str, list[Any]]) -> float | None:
    """Mean over tasks of (reference value - return), where the game has a reference."""
    references = shot.get("reference_values") or []
    if not references or any(r is None for r in references):
        return None
    gap = {"returns": (np.asarray(references) - np.asarray(shot["returns"])).tolist(),
           "tasks": shot["tasks"]}
    return per_seed_score(gap, "returns")


def aggregate(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """{variant: {principal: {shots: {metric: (mean, ci)}}}} plus curves and heat maps."""
    table: dict[str, Any] = defaultdict(lambda: defaultdict(dict))
    scores: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list))
    gaps: dict[tuple[str, str, str], dict[int, float]] = defaultdict(dict)
    for run in results:
        variant = _label(run["variant"])
        for shots, shot in run["shots"].items():
            bucket = scores[(variant, run["principal"], shots)]
            for metric, _ in METRICS:
                bucket[metric].append(per_seed_score(shot, metric))
            bucket[PER_INTERVENTION].append(per_seed_return_per_intervention(shot))
            gap = per_seed_gap(shot)
            if gap is not None:
                bucket["gap"].append(gap)
                gaps[(variant, run["principal"], shots)][run["seed"]] = gap
    for (variant, principal, shots), by_seed in gaps.items():
        baseline = gaps.get((variant, GAP_BASELINE, shots), {})
        paired = sorted(set(by_seed) & set(baseline))
        if paired:
            scores[(variant, principal, shots)]["gap_to_baseline"] = [
                by_seed[seed] - baseline[seed] for seed in paired]
    for (variant, principal, shots), bucket in scores.items():
        table[variant][principal][shots] = {
            metric: (*mean_ci([v for v in values if math.isfinite(v)]), len(values))
            for metric, values in bucket.items()}
    return {variant: dict(rows) for variant, rows in table.items()}


def _label(variant: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in variant.items()) or "default"


def _fmt(mean: float, ci: float) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f} ± {ci:.3f}" if not math.isnan(ci) else f"{mean:.3f} ± n/a"


def task_returns(shot: dict[str, Any]) -> np.ndarray:
    """A run's per-task mean returns at one shot count, task t at index t."""
    if shot.get("task_returns") is not None:
        return np.asarray(shot["task_returns"], dtype=np.float64)
    values, tasks = np.asarray(shot["returns"], dtype=np.float64), np.asarray(shot["tasks"])
    return np.array([values[tasks == t].mean() for t in np.unique(tasks)])


def paired_comparisons(suite: Suite, results: Sequence[dict[str, Any]]
                       ) -> tuple[list[dict[str, Any]], list[str]]:
    """The suite's comparisons (see the module docstring): one row per (variant, pair, shot
    count), and notes on the pairs that could not be compared."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    ran = {run["principal"] for run in results}
    variants = sorted({_label(run["variant"]) for run in results})
    for a, b in suite.comparisons:
        missing = [name for name in dict.fromkeys((a, b)) if name not in ran]
        if missing:
            notes.append(f"{a} − {b} skipped: no finished runs of {', '.join(missing)} in "
                         f"this report")
            continue
        for variant in variants:
            for shots in map(str, suite.shots):
                def runs_of(name: str, shots: str = shots, variant: str = variant
                            ) -> dict[int, dict[str, Any]]:
                    return {run["seed"]: run for run in results if run["principal"] == name
                            and _label(run["variant"]) == variant and shots in run["shots"]}

                runs_a, runs_b = runs_of(a), runs_of(b)
                seeds = sorted(set(runs_a) & set(runs_b))
                label = f"{a} − {b}" + (f" [{variant}]" if len(variants) > 1 else "")
                if not seeds:
                    notes.append(f"{label} at K={shots} skipped: no training seed with runs "
                                 f"of both")
                    continue
                task_sets = {json.dumps(run.get("test_tasks"))
                             for run in [*(runs_a[s] for s in seeds), *(runs_b[s] for s in seeds)]}
                if len(task_sets) > 1:
                    notes.append(f"{label} at K={shots} skipped: the runs met different "
                                 f"held-out tasks (run files from another task_seed?)")
                    continue
                mean_a = np.mean([task_returns(runs_a[s]["shots"][shots]) for s in seeds], 0)
                mean_b = np.mean([task_returns(runs_b[s]["shots"][shots]) for s in seeds], 0)
                differences = mean_a - mean_b
                mean, half = mean_ci(differences)
                rows.append({"a": a, "b": b, "variant": variant, "shots": int(shots),
                             "label": label, "mean": mean, "ci": half,
                             "low": mean - half, "high": mean + half,
                             "tasks": int(differences.size), "seeds": seeds,
                             "a_better": int(np.sum(differences > 0)),
                             "b_better": int(np.sum(differences < 0)),
                             "differences": differences.tolist()})
    return rows, notes


def _interval(low: float, high: float) -> str:
    return "n/a" if math.isnan(low) or math.isnan(high) else f"[{low:.3f}, {high:.3f}]"


def comparisons_markdown(rows: Sequence[dict[str, Any]], notes: Sequence[str]) -> list[str]:
    if not rows and not notes:
        return []
    lines = ["## Paired comparisons", "",
             "Per held-out task: A's mean return minus B's (each averaged over the task's "
             "scored episodes and the training seeds both ran); mean over tasks ± half-width "
             "of the 95% t-interval over tasks. Positive: A did better.", ""]
    if rows:
        header = ["A − B", "K-shot", "mean difference", "95% interval",
                  "tasks A better / B better", "seeds"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in rows:
            lines.append(
                f"| {row['label']} | {row['shots']} | {_fmt(row['mean'], row['ci'])} | "
                f"{_interval(row['low'], row['high'])} | {row['a_better']} / "
                f"{row['b_better']} of {row['tasks']} | {len(row['seeds'])} |")
        lines.append("")
    lines += [f"- {note}" for note in notes]
    if notes:
        lines.append("")
    return lines


def tuned_markdown(suite: Suite, results: Sequence[dict[str, Any]]) -> list[str]:
    """The parameters the tuned schedules chose on the training agents, per seed."""
    lines = []
    for principal in suite.principals:
        chosen = [(run["seed"], run["chosen"]) for run in results
                  if run["principal"] == principal and run.get("chosen")]
        if chosen:
            picks = "; ".join(
                f"seed {seed}: " + ", ".join(f"{k}={v}" for k, v in params.items())
                for seed, params in sorted(chosen, key=lambda pair: pair[0]))
            lines.append(f"- `{principal}`: {picks}")
    if not lines:
        return []
    return ["Tuned schedules (parameters chosen on training agents only):", "", *lines, ""]


def curve_tail_markdown(suite: Suite, results: Sequence[dict[str, Any]]) -> list[str]:
    """The last two points of each principal's learning curve (0-shot return on the curve's
    held-out tasks, mean over seeds with its 95% interval), and their difference: whether the
    curve had flattened by the end of training. Only principals whose curve moves at all (a
    fixed schedule's is flat by construction) and has two points."""
    rows = []
    for principal in suite.principals:
        for variant in sorted({_label(run["variant"]) for run in results}):
            runs = [r for r in results
                    if r["principal"] == principal and _label(r["variant"]) == variant]
            if not runs or len(runs[0]["curve"]) < 2:
                continue
            curve = np.array([[p["return"] for p in r["curve"]] for r in runs])
            if np.ptp(curve, axis=1).max() == 0.0:
                continue
            steps = [p["steps"] for p in runs[0]["curve"][-2:]]
            before, last = curve[:, -2], curve[:, -1]
            label = principal if variant == "default" else f"{principal} [{variant}]"
            rows.append(f"| {label} | {steps[0]:,}: {_fmt(*mean_ci(before))} | "
                        f"{steps[1]:,}: {_fmt(*mean_ci(last))} | "
                        f"{_fmt(*mean_ci(last - before))} |")
    if not rows:
        return []
    return ["Learning curves, last two points (0-shot return on the curve tasks at that many "
            "meta-training steps; the last column is the change between them, paired by seed: "
            "an interval holding 0 says the curve had flattened):", "",
            "| principal | second-last point | last point | change |", "|---|---|---|---|",
            *rows, ""]


def markdown(suite: Suite, table: dict[str, Any], plots: Sequence[str],
             failed: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]],
             comparisons: tuple[Sequence[dict[str, Any]], Sequence[str]] = ((), ())) -> str:
    seeds = sorted({run["seed"] for run in results})
    lines = [f"# {suite.name} ({suite.profile} profile)", ""]
    if suite.description:
        lines += [suite.description.strip(), ""]
    trained_on = f"`{suite.train_population}`" if suite.train_size is None else (
        f"a fixed set of {suite.train_size} agents from `{suite.train_population}`")
    tested = (
        f"trained on {trained_on}, tested on {suite.evaluation.tasks} held-out tasks from "
        f"`{suite.test_population}` (one set, task seed {suite.evaluation.task_seed}, the same "
        f"for every principal and seed; {suite.evaluation.episodes} scored episodes each, after"
        f" K adaptation episodes)") if suite.population_kind != NO_TASKS else (
        f"a game without tasks: trained and scored on that game itself "
        f"({suite.evaluation.tasks} x {suite.evaluation.episodes} scored episodes, after K "
        f"adaptation episodes)")
    lines += [
        f"Game `{suite.env}` with {dict(suite.env_kwargs)}; {tested}; "
        f"{suite.evaluation.train_steps} meta-training steps; seeds {seeds}.",
        "Each cell: mean over training seeds ± half-width of the 95% t-interval; each seed's "
        "score is the mean over tasks of the per-task mean. Return per intervention: each "
        "seed's return over its interventions used (\"-\": none used).",
        "",
    ]
    cells = [cell for rows in table.values() for shots in rows.values()
             for cell in shots.values()]
    has_gap = any("gap" in cell for cell in cells)
    has_baseline = any("gap_to_baseline" in cell for cell in cells)
    for variant, rows in table.items():
        if len(table) > 1 or variant != "default":
            lines += [f"## {variant}", ""]
        header = ["principal", "K-shot", *(name for _, name in METRICS),
                  "return per intervention"]
        if has_gap:
            header.append("gap to equilibrium value")
        if has_baseline:
            header.append(f"gap to {GAP_BASELINE}")
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for principal in suite.principals:
            for shots in sorted(rows.get(principal, {}), key=int):
                cell = rows[principal][shots]
                values = [_fmt(*cell[metric][:2]) for metric, _ in METRICS]
                per = cell.get(PER_INTERVENTION, (math.nan, math.nan))
                values.append("-" if math.isnan(per[0]) else _fmt(*per[:2]))
                if has_gap:
                    values.append(_fmt(*cell["gap"][:2]) if "gap" in cell else "n/a")
                if has_baseline:
                    values.append(_fmt(*cell["gap_to_baseline"][:2])
                                  if "gap_to_baseline" in cell else "n/a")
                lines.append(f"| {principal} | {shots} | " + " | ".join(values) + " |")
        lines.append("")
    lines += regret_markdown(suite, table)
    lines += comparisons_markdown(*comparisons)
    lines += curve_tail_markdown(suite, results)
    lines += tuned_markdown(suite, results)
    timing = defaultdict(list)
    for run in results:
        timing[run["principal"]].append(run["train_seconds"] + run["eval_seconds"])
    lines += ["Wall time per run (s, mean over runs): " + ", ".join(
        f"{p} {np.mean(t):.0f}" for p, t in timing.items()), ""]
    if failed:
        lines += ["## Failed runs", ""]
        for outcome in failed:
            lines += [f"### {outcome['job']}", "", "```", outcome["error"].strip(), "```", ""]
    for plot in plots:
        lines += [f"![{plot}]({plot})", ""]
    return "\n".join(lines)


def _regret_panels(suite: Suite) -> list[tuple[str, dict[str, Any]]]:
    """(panel title, the other swept knobs' values) for each combination of the swept knobs
    other than ``REGRET_KNOB``: one panel of the regret plot each."""
    others = [(knob, values) for knob, values in suite.sweep.items() if knob != REGRET_KNOB]
    panels: list[dict[str, Any]] = [{}]
    for knob, values in others:
        panels = [{**panel, knob: value} for panel in panels for value in values]
    return [(_label(panel), panel) for panel in panels]


def _regret_cell(suite: Suite, table: dict[str, Any], panel: dict[str, Any], horizon: Any,
                 principal: str, shots: int) -> dict[str, Any]:
    # Variant labels follow the sweep's order of knobs (``plan.jobs_of``).
    variant = {knob: panel.get(knob, horizon) for knob in suite.sweep}
    return table.get(_label(variant), {}).get(principal, {}).get(str(shots), {})


def regret_markdown(suite: Suite, table: dict[str, Any]) -> list[str]:
    """The "Final regret" table (see the module docstring): one row per principal and K, one
    column per variant, the gap to the reference mean ± 95% t-interval over seeds."""
    if REGRET_KNOB not in suite.sweep:
        return []
    columns = [(title, panel, horizon) for title, panel in _regret_panels(suite)
               for horizon in suite.sweep[REGRET_KNOB]]
    rows = []
    for principal in suite.principals:
        for shots in suite.shots:
            cells = [_regret_cell(suite, table, panel, horizon, principal, shots)
                     for _, panel, horizon in columns]
            if any("gap" in cell for cell in cells):
                rows.append(f"| {principal} | {shots} | " + " | ".join(
                    _fmt(*cell["gap"][:2]) if "gap" in cell else "n/a" for cell in cells)
                    + " |")
    if not rows:
        return []
    header = ["principal", "K-shot", *(
        f"T={horizon}" + (f" [{title}]" if title != "default" else "")
        for title, _, horizon in columns)]
    return ["## Final regret", "",
            "The reference minus the return over an episode of T rounds (for the incentive "
            "bandit: the regret against max_a (theta_a - tau_a), realised); mean over seeds "
            "± half-width of the 95% t-interval.", "",
            "| " + " | ".join(header) + " |", "|" + "---|" * len(header), *rows, ""]


def plot_regret(suite: Suite, table: dict[str, Any], out: Path) -> list[str]:
    """Final regret against the horizon T on log-log axes (see the module docstring)."""
    if REGRET_KNOB not in suite.sweep:
        return []
    horizons = list(suite.sweep[REGRET_KNOB])
    panels = _regret_panels(suite)
    plt = _pyplot()

    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2),
                                squeeze=False)
    drawn = False
    for ax, (title, panel) in zip(axes[0], panels, strict=True):
        for principal in suite.principals:
            for shots in suite.shots:
                points = [(horizon, cell["gap"][0], cell["gap"][1]) for horizon in horizons
                          if "gap" in (cell := _regret_cell(suite, table, panel, horizon,
                                                            principal, shots))]
                if not points:
                    continue
                drawn = True
                xs, ys, cis = zip(*points, strict=True)
                label = principal if len(suite.shots) == 1 else f"{principal} (K={shots})"
                ax.errorbar(xs, ys, yerr=[0 if math.isnan(c) else c for c in cis],
                            marker="o", capsize=3, label=label)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set(xlabel="horizon T", ylabel="regret (reference - return)",
               title=f"Regret vs T [{title}]" if title != "default" else "Regret vs T")
    if not drawn:
        plt.close(figure)
        return []
    axes[0, -1].legend(fontsize=7, loc="best")
    _save_figure(figure, out / "regret.png")
    plt.close(figure)
    return ["regret.png"]


def _pyplot() -> Any:
    """``matplotlib.pyplot`` drawing to files (no display needed). Imported on use: it is
    slow to import, and only a report with runs to plot needs it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(figure: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110, bbox_inches="tight")


def plot_curves(suite: Suite, results: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """Principal return vs meta-training steps (0-shot), and vs adaptation shots."""
    plt = _pyplot()

    written = []
    variants = sorted({_label(run["variant"]) for run in results})
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for principal in suite.principals:
        for variant in variants:
            runs = [r for r in results
                    if r["principal"] == principal and _label(r["variant"]) == variant]
            if not runs:
                continue
            label = principal if len(variants) == 1 else f"{principal} [{variant}]"
            steps = [p["steps"] for p in runs[0]["curve"]]
            curve = np.array([[p["return"] for p in r["curve"]] for r in runs])
            mean = curve.mean(axis=0)
            (line,) = axes[0].plot(steps, mean, marker="o", label=label)
            if len(runs) > 1:
                half = np.array([mean_ci(curve[:, i])[1] for i in range(curve.shape[1])])
                axes[0].fill_between(steps, mean - half, mean + half, alpha=0.15,
                                     color=line.get_color())
            shots = sorted({int(k) for r in runs for k in r["shots"]})
            by_shot = [mean_ci([per_seed_score(r["shots"][str(k)], "returns") for r in runs])
                       for k in shots]
            axes[1].errorbar(shots, [m for m, _ in by_shot],
                             yerr=[0 if math.isnan(c) else c for _, c in by_shot],
                             marker="o", capsize=3, label=label, color=line.get_color())
    axes[0].set(xlabel="meta-training steps", ylabel="principal return (0-shot)",
                title="Learning curves")
    axes[1].set(xlabel="adaptation episodes K", ylabel="principal return (K-shot)",
                title="Adaptation")
    axes[1].legend(fontsize=7, loc="best")
    _save_figure(figure, out / "curves.png")
    plt.close(figure)
    written.append("curves.png")
    return written


def plot_heatmap(suite: Suite, results: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """The paper's behaviour heat map: rows = the learner's parameter (UCB beta), columns =
    t, cell = how often the agent picks the target arm (averaged over seeds), one panel per
    principal."""
    runs = [r for r in results if r.get("heatmap")]
    if not runs:
        return []
    plt = _pyplot()

    principals = [p for p in suite.principals if any(r["principal"] == p for r in runs)]
    figure, axes = plt.subplots(len(principals), 1, figsize=(10, 1.2 + 1.5 * len(principals)),
                                squeeze=False, layout="constrained")
    for ax, principal in zip(axes[:, 0], principals, strict=True):
        maps = [r["heatmap"] for r in runs if r["principal"] == principal]
        frequency = np.mean([m["target_frequency"] for m in maps], axis=0)
        image = ax.imshow(frequency, aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis",
                          interpolation="nearest")
        ax.set_yticks(range(len(maps[0]["betas"])), [f"{b:g}" for b in maps[0]["betas"]])
        ax.set_ylabel(f"{maps[0]['learner']} {maps[0]['parameter']}")
        ax.set_title(f"{principal}: P(agent picks target arm {maps[0]['target']}) "
                     f"[{maps[0]['population']}]", fontsize=9)
    axes[-1, 0].set_xlabel("t")
    figure.colorbar(image, ax=axes[:, 0].tolist(), shrink=0.8, label="frequency over episodes")
    _save_figure(figure, out / "heatmap.png")
    plt.close(figure)
    return ["heatmap.png"]


def plot_gap(suite: Suite, table: dict[str, Any], out: Path) -> list[str]:
    """Gap to the equilibrium value against the swept knob (suites with a reference value)."""
    if len(suite.sweep) != 1:
        return []
    (knob, values), = suite.sweep.items()
    plt = _pyplot()

    figure, ax = plt.subplots(figsize=(6, 4))
    drawn = False
    for principal in suite.principals:
        for shots in suite.shots:
            points = []
            for value in values:
                cell = table.get(f"{knob}={value}", {}).get(principal, {}).get(str(shots), {})
                if "gap" in cell:
                    points.append((value, cell["gap"][0], cell["gap"][1]))
            if points:
                drawn = True
                xs, ys, cis = zip(*points, strict=True)
                ax.errorbar(xs, ys, yerr=[0 if math.isnan(c) else c for c in cis], marker="o",
                            capsize=3, label=f"{principal} (K={shots})")
    if not drawn:
        plt.close(figure)
        return []
    ax.set(xlabel=knob, ylabel="equilibrium value - principal return", title="Gap to the "
           "Stackelberg equilibrium")
    ax.legend(fontsize=7)
    _save_figure(figure, out / "gap.png")
    plt.close(figure)
    return ["gap.png"]


def plot_comparisons(rows: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """A forest plot of the paired comparisons: one row each, the 95% interval as a
    horizontal line, the mean difference as a dot, zero marked."""
    if not rows:
        return []
    plt = _pyplot()

    figure, ax = plt.subplots(figsize=(7, 1.0 + 0.4 * len(rows)))
    ys = np.arange(len(rows))[::-1]
    for y, row in zip(ys, rows, strict=True):
        if not math.isnan(row["ci"]):
            ax.hlines(y, row["low"], row["high"], color="tab:blue", linewidth=2)
        ax.plot(row["mean"], y, "o", color="tab:blue")
    ax.axvline(0.0, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(ys, [f"{row['label']} (K={row['shots']})" for row in rows])
    ax.set(xlabel="per-task difference of mean return (A − B), 95% interval over tasks",
           title="Paired comparisons on the held-out tasks")
    _save_figure(figure, out / "comparisons.png")
    plt.close(figure)
    return ["comparisons.png"]


def write_report(suite: Suite, results: Sequence[dict[str, Any]], out: Path,
                 failed: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Write results.json, results.md and the plots for the finished runs."""
    table = aggregate(results)
    comparisons = paired_comparisons(suite, results)
    plots: list[str] = []
    if results:
        plots += plot_curves(suite, results, out)
        plots += plot_heatmap(suite, results, out)
        plots += plot_gap(suite, table, out)
        plots += plot_regret(suite, table, out)
        plots += plot_comparisons(comparisons[0], out)
    write_json(out / "results.json", {"suite": suite.to_dict(), "runs": list(results),
                                      "failed": list(failed), "comparisons": comparisons[0],
                                      "comparison_notes": comparisons[1]})
    write_text(out / "results.md", markdown(suite, table, plots, failed, results, comparisons))
    return table
