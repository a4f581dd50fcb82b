"""A study's report: ``study.json``, ``study.md`` (Table 1, per-subject top-1, paired differences)
and ``study.png``, from the dictionary :func:`calibration.study.run_study` assembles."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calibration.soft_targets import describe_teacher


def _fmt_ci(ci: Sequence[float]) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]"


def study_markdown(report: dict[str, Any]) -> str:
    """The study report as Markdown: Table 1, per-subject top-1, distillation differences."""
    from calibration.report import metrics_table_markdown

    subjects = report["subjects"]
    models = list(report["summary"])
    any_subject = report["per_subject"][subjects[0]]
    n_classes = round(1.0 / any_subject[models[0]]["chance_top1"])
    cfg = report["config"]
    lines = [
        "# Distillation study",
        "",
        f"{len(subjects)} subjects x {len(cfg['seeds'])} seeds (block split and initialization) x "
        f"{len(cfg['networks'])} networks, each distilled (+kd) and not; {n_classes} classes. "
        f"alpha {cfg['train']['alpha']}, T {cfg['train']['temperature']}, at most {cfg['train']['max_epochs']} epochs "
        f"(patience {cfg['train']['patience']}). Executor: {report['executor']['kind']}. "
        f"{report['seconds'] / 60:.1f} min.",
        "",
        "## Table 1: mean (sd) across subjects (each subject: mean over seeds)",
        "",
        metrics_table_markdown(report["summary"], n_classes),
        "",
        "## Top-1 per subject (mean over seeds; 95 % interval: bootstrap over test trials)",
        "",
        "| subject | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for s in subjects:
        cells = []
        for m in models:
            e = report["per_subject"][s].get(m)
            cells.append(
                "" if e is None else f"{e['top1']:.3f} [{e['top1_ci95'][0]:.3f}, {e['top1_ci95'][1]:.3f}]"
            )
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Distilled minus not distilled (top-1, paired: same split, trials and initial weights)",
        "",
    ]
    for net, entry in report["distillation"].items():
        o = entry["overall"]
        text = f"**{net}**: {o['mean']:+.3f}, 95 % interval over test trials {_fmt_ci(o['ci95_trials'])}"
        if "ci95_subjects_t" in o:
            text += f"; across subjects (t, {o['n_subjects'] - 1} df) {_fmt_ci(o['ci95_subjects_t'])}"
        if "ci95_runs_t" in o:
            text += f"; across subject x seed runs (t) {_fmt_ci(o['ci95_runs_t'])}, run-to-run sd {o['sd_runs']:.3f}"
        lines += [
            text,
            "",
            "| subject | difference | 95 % interval (trials) | per seed |",
            "|---|---|---|---|",
        ]
        for s, d in entry["per_subject"].items():
            seeds = ", ".join(f"{v:+.3f}" for v in d["per_seed"])
            lines.append(f"| {s} | {d['mean']:+.3f} | {_fmt_ci(d['ci95'])} | {seeds} |")
        lines.append("")
    lines += ["## Teacher targets", ""]
    for s, t in report["teacher"].items():
        if t.get("used"):
            lines.append(f"- {s}: {describe_teacher(t)}")
        else:
            lines.append(f"- {s}: no teacher")
    return "\n".join(lines) + "\n"


def plot_study(report: dict[str, Any], path: Path) -> None:
    """Per-subject top-1 bars with 95 % intervals, and the paired distillation differences."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subjects = report["subjects"]
    models = list(report["summary"])
    fig, (ax, ax_d) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / max(len(models), 1)
    xs = np.arange(len(subjects))
    for i, m in enumerate(models):
        tops = [report["per_subject"][s][m]["top1"] for s in subjects]
        ci = np.array([report["per_subject"][s][m]["top1_ci95"] for s in subjects])
        err = np.vstack([np.array(tops) - ci[:, 0], ci[:, 1] - np.array(tops)])
        ax.bar(xs + (i - (len(models) - 1) / 2) * width, tops, width, yerr=err, capsize=3, label=m)
    first = report["per_subject"][subjects[0]][models[0]]
    ax.axhline(first["chance_top1"], color="k", ls=":", lw=1, label="chance")
    ax.set_xticks(xs, subjects)
    ax.set(
        xlabel="subject",
        ylabel="top-1 (mean over seeds)",
        title="per subject, 95 % interval over test trials",
    )
    ax.legend(fontsize=8)
    nets = list(report["distillation"])
    for j, net in enumerate(nets):
        entry = report["distillation"][net]
        d = [entry["per_subject"][s]["mean"] for s in subjects]
        ci = np.array([entry["per_subject"][s]["ci95"] for s in subjects])
        offset = (j - (len(nets) - 1) / 2) * 0.8 / max(len(nets), 1)
        ax_d.errorbar(
            xs + offset,
            d,
            yerr=np.vstack([np.array(d) - ci[:, 0], ci[:, 1] - np.array(d)]),
            fmt="o",
            capsize=3,
            label=net,
        )
        o = entry["overall"]
        ax_d.errorbar(
            [len(subjects) + offset],
            [o["mean"]],
            yerr=[[o["mean"] - o["ci95_trials"][0]], [o["ci95_trials"][1] - o["mean"]]],
            fmt="s",
            capsize=3,
            color=f"C{j}",
        )
    ax_d.axhline(0, color="k", lw=1)
    ax_d.set_xticks(list(xs) + [len(subjects)], [*subjects, "all"])
    ax_d.set(xlabel="subject", ylabel="top-1 difference", title="distilled minus not, 95 % interval")
    if nets:
        ax_d.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_study_report(out_dir: Path, report: dict[str, Any]) -> None:
    """``study.json``, ``study.md`` and ``study.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "study.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    (out_dir / "study.md").write_text(study_markdown(report), encoding="utf-8")
    plot_study(report, out_dir / "study.png")
