"""Turn finished runs into ``results.json``, ``results.md`` and PNG plots.

Scores are per task, then averaged over tasks (one number per training seed); the tables give
the mean over seeds with a 95% confidence interval from Student's t over seeds (each seed is
a full meta-train + evaluation). With a single seed the interval is not defined and shown as
"n/a".
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from mermaide.bench.runner import write_json_atomic
from mermaide.bench.suite import Suite

METRICS = (
    ("returns", "principal return"),
    ("target_rates", "target-action rate"),
    ("interventions", "interventions used"),
    ("costs", "cost"),
)


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
    for run in results:
        variant = _label(run["variant"])
        for shots, shot in run["shots"].items():
            bucket = scores[(variant, run["principal"], shots)]
            for metric, _ in METRICS:
                bucket[metric].append(per_seed_score(shot, metric))
            gap = per_seed_gap(shot)
            if gap is not None:
                bucket["gap"].append(gap)
    for (variant, principal, shots), bucket in scores.items():
        table[variant][principal][shots] = {
            metric: (*mean_ci(values), len(values)) for metric, values in bucket.items()}
    return {variant: dict(rows) for variant, rows in table.items()}


def _label(variant: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in variant.items()) or "default"


def _fmt(mean: float, ci: float) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f} ± {ci:.3f}" if not math.isnan(ci) else f"{mean:.3f} ± n/a"


def markdown(suite: Suite, table: dict[str, Any], plots: Sequence[str],
             failed: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]]) -> str:
    seeds = sorted({run["seed"] for run in results})
    lines = [f"# {suite.name} ({suite.profile} profile)", ""]
    if suite.description:
        lines += [suite.description.strip(), ""]
    lines += [
        f"Game `{suite.env}` with {dict(suite.env_kwargs)}; trained on `{suite.train_population}`"
        f", tested on {suite.evaluation.tasks} held-out tasks from `{suite.test_population}`"
        f" ({suite.evaluation.episodes} scored episodes each, after K adaptation episodes);"
        f" {suite.evaluation.train_steps} meta-training steps; seeds {seeds}.",
        "Each cell: mean over training seeds ± half-width of the 95% t-interval; each seed's "
        "score is the mean over tasks of the per-task mean.",
        "",
    ]
    has_gap = any("gap" in cell for rows in table.values() for shots in rows.values()
                  for cell in shots.values())
    for variant, rows in table.items():
        if len(table) > 1 or variant != "default":
            lines += [f"## {variant}", ""]
        header = ["principal", "K-shot", *(name for _, name in METRICS)]
        if has_gap:
            header.append("gap to equilibrium value")
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for principal in suite.principals:
            for shots in sorted(rows.get(principal, {}), key=int):
                cell = rows[principal][shots]
                values = [_fmt(*cell[metric][:2]) for metric, _ in METRICS]
                if has_gap:
                    values.append(_fmt(*cell["gap"][:2]) if "gap" in cell else "n/a")
                lines.append(f"| {principal} | {shots} | " + " | ".join(values) + " |")
        lines.append("")
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


def _save_figure(figure: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")
    figure.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def plot_curves(suite: Suite, results: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """Principal return vs meta-training steps (0-shot), and vs adaptation shots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    """The paper's behaviour heat map: rows = UCB beta, columns = t, cell = how often the
    agent picks the target arm (averaged over seeds), one panel per principal."""
    runs = [r for r in results if r.get("heatmap")]
    if not runs:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    principals = [p for p in suite.principals if any(r["principal"] == p for r in runs)]
    figure, axes = plt.subplots(len(principals), 1, figsize=(10, 1.2 + 1.5 * len(principals)),
                                squeeze=False, layout="constrained")
    for ax, principal in zip(axes[:, 0], principals, strict=True):
        maps = [r["heatmap"] for r in runs if r["principal"] == principal]
        frequency = np.mean([m["target_frequency"] for m in maps], axis=0)
        image = ax.imshow(frequency, aspect="auto", vmin=0.0, vmax=1.0, cmap="viridis",
                          interpolation="nearest")
        ax.set_yticks(range(len(maps[0]["betas"])), [f"{b:g}" for b in maps[0]["betas"]])
        ax.set_ylabel("UCB beta")
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


def write_report(suite: Suite, results: Sequence[dict[str, Any]], out: Path,
                 failed: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """Write results.json, results.md and the plots for the finished runs."""
    table = aggregate(results)
    plots: list[str] = []
    if results:
        plots += plot_curves(suite, results, out)
        plots += plot_heatmap(suite, results, out)
        plots += plot_gap(suite, table, out)
    write_json_atomic(out / "results.json", {"suite": suite.to_dict(), "runs": list(results),
                                             "failed": list(failed)})
    text = markdown(suite, table, plots, failed, results)
    tmp = out / f".results.md.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, out / "results.md")
    return table
