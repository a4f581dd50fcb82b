"""A transfer study's report: ``report.json``, ``report.md`` and ``learning_curve.png``, from the
dictionary :func:`calibration.transfer_study.run_transfer_study` assembles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def _ci(entry: dict[str, Any] | None, signed: bool = False, n_subjects: int | None = None) -> str:
    if not entry:
        return ""
    f = "{:+.3f}" if signed else "{:.3f}"
    text = f.format(entry["mean"])
    if "ci95" in entry:
        text += " [" + ", ".join(f.format(v) for v in entry["ci95"]) + "]"
    if n_subjects is not None and entry.get("n", n_subjects) < n_subjects:
        text += f" ({entry['n']} of {n_subjects} subjects)"
    return text


def transfer_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: zero-shot, the curve table, the paired differences, the times."""
    cfg = report["config"]
    subjects = report["subjects"]
    lines = [
        "# Cross-subject transfer: learning curve",
        "",
        f"Leave-one-subject-out over {len(subjects)} subjects ({', '.join(subjects)}), "
        f"{report.get('n_classes')} classes, seeds {cfg['seeds']}, networks {cfg['networks']}; at most "
        f"{cfg['train']['max_epochs']} epochs (patience {cfg['train']['patience']}), base at most "
        f"{cfg['base_max_epochs'] or cfg['train']['max_epochs']}. Executor: {report['executor'].get('kind')}. "
        f"{report['seconds'] / 60:.1f} min.",
        "",
        "- **N** = calibration trials per class: the subject's first N trials of each class in time order "
        "(their last ~20 % validate); **all** = every trial outside the held-out test blocks "
        "(calibration's full-session split, the seed picks the blocks).",
        "- **subject**: a new model on those trials, per-channel scaling, unaligned. "
        "**subject-aligned**: the same, Euclidean-aligned on the calibration trials. "
        "**transfer (recipe)**: the base (the other subjects pooled, each aligned to itself, "
        "labels only) fine-tuned on them, the subject aligned on its calibration trials only (no labels). "
        "**transfer (refit)**: the shared-response templates (rtdecode/models/templates.py): the base's class "
        "time courses kept, the subject's spatial mixing estimated from its calibration trials by least "
        "squares; their subject-only path is the same model on the subject's own class means. "
        "**+kd**: distilled from the teacher's soft targets.",
        "- **rest**: scored on every trial after the calibration trials (as the issue measured); "
        "**common**: only on the trials of the full-session test blocks (minus that N's calibration "
        "trials), the same trials at every N: the plot's curve.",
        "- Intervals: 95 % t-interval across subjects (each subject: mean over seeds); for differences "
        "also [trials], a bootstrap over test trials within runs.",
        "",
        "## Zero-shot base (N = 0; aligned on all of the subject's trials, no label used)",
        "",
    ]
    for net, z in report["zero_shot"].items():
        per = ", ".join(f"{s} {v:.3f}" for s, v in z["per_subject"].items())
        lines.append(
            f"- {net}: {_ci(z)} (chance {1 / report['n_classes']:.3f}); per subject: {per}; "
            f"base pooled validation top-1: "
            + ", ".join(f"{s} {v:.3f}" for s, v in z["pooled_val_top1"].items())
        )
    for net in report["networks"]:
        for score in ("rest", "common"):
            curves = report["curves"][net][score]
            arms = list(curves)
            lines += [
                "",
                f"## {net}: top-1 on the {score} trials (mean over subjects [95 % t-interval])",
                "",
                "| N per class | " + " | ".join(arms) + " | zero-shot (aligned on N) |",
                "|---|" + "---|" * (len(arms) + 1),
            ]
            for n in report["trials"]:
                cells = [_ci(curves[a].get(n), n_subjects=len(subjects)) for a in arms]
                zero = report["zero_shot_by_n"][net][score].get(n)
                lines.append(f"| {n} | " + " | ".join(cells) + f" | {_ci(zero, n_subjects=len(subjects))} |")
            for title, block in (
                ("distilled minus not", report["kd_minus_plain"][net][score]),
                ("transfer minus subject-only", report["transfer_minus_subject"][net][score]),
            ):
                if not block:
                    continue
                names = list(block)
                lines += [
                    "",
                    f"{net}, {score} trials, {title} (mean [t across subjects]; [bootstrap over trials]):",
                    "",
                    "| N per class | " + " | ".join(names) + " |",
                    "|---|" + "---|" * len(names),
                ]
                for n in report["trials"]:
                    cells = []
                    for name in names:
                        d = block[name].get(n)
                        cells.append(
                            ""
                            if d is None
                            else _ci(d, True, len(subjects)) + " [{:+.3f}, {:+.3f}]".format(*d["ci95_trials"])
                        )
                    lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Target: transfer at 10 per class minus subject-only with every trial (common trials)",
        "",
    ]
    if report["target"]:
        for name, t in report["target"].items():
            per = ", ".join(f"{s} {v:+.3f}" for s, v in t["per_subject"].items())
            lines.append(f"- {name}: {_ci(t, True)}; per subject {per}")
    else:
        lines.append("- not measured (needs N = 10 and N = all)")
    lines += [
        "",
        "## Seconds from the end of the recording to the model (mean over runs; pretraining excluded)",
        "",
        "Reading + epoching the recording (+ the teacher's targets when distilled), the standardizer or "
        "alignment, the training; the base is pretrained once beforehand and not counted.",
        "",
    ]
    for net, arms in report["seconds_to_model"].items():
        names = list(arms)
        lines += ["| N per class | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for n in report["trials"]:
            cells = [f"{arms[a][n]['seconds_to_model']:.1f}" if n in arms[a] else "" for a in names]
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        if net in report["zero_shot"]:
            base = report["zero_shot"][net]["base_seconds"]
            lines += [
                "",
                f"Base pretraining ({net}), seconds: " + ", ".join(f"{s} {v:.0f}" for s, v in base.items()),
            ]
    return "\n".join(lines) + "\n"


def plot_learning_curve(report: dict[str, Any], path: Path, score: str = "common") -> None:
    """Top-1 against calibration trials per class (log x), one line per arm, t-intervals shaded."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = report["networks"]
    fig, axes = plt.subplots(1, len(nets), figsize=(7.5 * len(nets), 5), squeeze=False)
    for ax, net in zip(axes[0], nets, strict=True):
        curves = report["curves"][net][score]
        # One colour per path (and recipe), solid when distilled, dashed when not.
        colours: dict[str, str] = {}
        for arm in curves:
            colours.setdefault(arm.removesuffix(" +kd"), f"C{len(colours)}")
        for arm, points in curves.items():
            ns = [n for n in report["trials"] if n in points]
            xs = np.array([points[n]["calibration_per_class"] for n in ns])
            ys = np.array([points[n]["mean"] for n in ns])
            style = "-" if "+kd" in arm else "--"
            color = colours[arm.removesuffix(" +kd")]
            ax.plot(xs, ys, style, marker="o", color=color, label=arm)
            lo = np.array([points[n].get("ci95", [points[n]["mean"]] * 2)[0] for n in ns])
            hi = np.array([points[n].get("ci95", [points[n]["mean"]] * 2)[1] for n in ns])
            ax.fill_between(xs, lo, hi, color=color, alpha=0.12)
            if "all" in ns:
                ax.annotate("all", (xs[-1], ys[-1]), textcoords="offset points", xytext=(4, -10), fontsize=7)
        z = report["zero_shot"].get(net)
        if z:
            ax.axhline(z["mean"], color="C7", ls="-.", lw=1.2, label=f"zero-shot base {z['mean']:.2f}")
            if "ci95" in z:
                ax.axhspan(z["ci95"][0], z["ci95"][1], color="C7", alpha=0.08)
        ax.axhline(1 / report["n_classes"], color="k", ls=":", lw=1, label="chance")
        # The other models' subject-only full session: the reference a transfer path must reach.
        for k, other in enumerate(n for n in nets if n != net):
            full = report["curves"][other][score].get("subject", {}).get("all")
            if full:
                ax.axhline(
                    full["mean"],
                    color=f"C{9 - k}",
                    ls=(0, (5, 2)),
                    lw=1.2,
                    label=f"{other} subject-only, all trials {full['mean']:.2f}",
                )
        ax.set_xscale("log")
        ticks = sorted(
            {round(p["calibration_per_class"], 1) for pts in curves.values() for p in pts.values()}
        )
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set(
            xlabel="calibration trials per class (log; 'all' at its mean)",
            ylabel=f"top-1 on the {score} test trials",
            title=f"{net}: leave-one-subject-out, {len(report['subjects'])} subjects, 95 % t-interval",
        )
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_transfer_report(out_dir: Path, report: dict[str, Any]) -> None:
    """``report.json``, ``report.md`` and ``learning_curve.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    (out_dir / "report.md").write_text(transfer_markdown(report), encoding="utf-8")
    plot_learning_curve(report, out_dir / "learning_curve.png")
