"""A study's statistics: per-subject results, Table 1 across subjects, paired distillation differences.

Pure functions of the runs (:func:`calibration.study.run_task` results): the bootstrap is seeded,
so the same runs always give the same numbers, whichever executor produced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

N_BOOTSTRAP = 2000


def _bootstrap_indices(n: int, rng: np.random.Generator, n_boot: int) -> np.ndarray:
    return rng.integers(0, n, size=(n_boot, n))


def paired_difference(
    runs_a: Sequence[dict[str, Any]], runs_b: Sequence[dict[str, Any]], rng: np.random.Generator, n_boot: int
) -> dict[str, Any]:
    """Top-1 of ``a`` minus ``b``, averaged over paired runs (same subject, seed, test trials).

    The 95 % interval resamples test trials within each run (the same trials for both models),
    keeping the runs fixed: it says how sure the difference is given these subjects and seeds.

    Returns
    -------
    dict
        ``mean``, ``ci95`` ``[low, high]``, ``boot`` (the bootstrap means, for pooling), ``n_runs``.
    """
    boots = np.zeros(n_boot)
    means = []
    for a, b in zip(runs_a, runs_b, strict=True):
        if a["y_test"] != b["y_test"]:
            raise ValueError("paired runs must share their test trials (same subject and seed)")
        y = np.asarray(a["y_test"])
        d = (np.asarray(a["pred_test"]) == y).astype(float) - (np.asarray(b["pred_test"]) == y)
        means.append(d.mean())
        boots += d[_bootstrap_indices(len(d), rng, n_boot)].mean(axis=1)
    boots /= len(means)
    return {
        "mean": float(np.mean(means)),
        "ci95": [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))],
        "per_seed": [float(m) for m in means],
        "n_runs": len(means),
        "boot": boots,
    }


def _accuracy_interval(runs: Sequence[dict[str, Any]], rng: np.random.Generator, n_boot: int) -> list[float]:
    boots = np.zeros(n_boot)
    for r in runs:
        correct = (np.asarray(r["pred_test"]) == np.asarray(r["y_test"])).astype(float)
        boots += correct[_bootstrap_indices(len(correct), rng, n_boot)].mean(axis=1)
    boots /= len(runs)
    return [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]


def analyse(
    results: Sequence[dict[str, Any]], *, seeds: Sequence[int], networks: Sequence[str], seed: int = 0
) -> dict[str, Any]:
    """Per-subject results, the Table 1 summary and the paired distillation differences.

    Parameters
    ----------
    results : sequence of dict
        :func:`calibration.study.run_task` outputs.
    seeds : sequence of int
        The study's seeds (``StudyConfig.seeds``), in the order they are averaged and paired.
    networks : sequence of str
        The study's networks (``StudyConfig.networks``); each with distilled and plain runs gets
        a paired difference.
    seed : int
        Seeds the bootstrap (the report is a pure function of the runs).

    Returns
    -------
    dict
        ``per_subject`` ``{subject: {model: {metric: mean over seeds}, ...}}`` with ``top1_sd_seeds``
        and ``top1_ci95``; ``summary`` ``{model: {metric: {"mean", "sd"}}}`` across subjects;
        ``distillation`` ``{network: {"per_subject": ..., "overall": ...}}``; ``runs`` (metrics only).
    """
    from calibration.metrics import summarize_across_subjects

    rng = np.random.default_rng(seed)
    subjects = list(dict.fromkeys(r["subject"] for r in results))
    models = list(dict.fromkeys(r["model"] for r in results))
    by = {(r["subject"], r["model"], r["seed"]): r for r in results}
    per_subject: dict[str, dict[str, dict[str, float]]] = {}
    for s in subjects:
        per_subject[s] = {}
        for m in models:
            runs = [by[(s, m, k)] for k in seeds if (s, m, k) in by]
            if not runs:
                continue
            keys = [k for k in runs[0]["metrics"] if k != "n"]
            entry = {k: float(np.mean([r["metrics"][k] for r in runs])) for k in keys}
            entry["top1_sd_seeds"] = (
                float(np.std([r["metrics"]["top1"] for r in runs], ddof=1)) if len(runs) > 1 else 0.0
            )
            entry["top1_ci95"] = _accuracy_interval(runs, rng, N_BOOTSTRAP)
            entry["n_test"] = float(np.mean([len(r["y_test"]) for r in runs]))
            per_subject[s][m] = entry
    summary = {}
    for m in models:
        rows = {
            s: {k: v for k, v in per_subject[s][m].items() if not isinstance(v, list)}
            for s in subjects
            if m in per_subject[s]
        }
        summary[m] = summarize_across_subjects(rows)
    distillation: dict[str, Any] = {}
    for net in networks:
        kd, plain = f"{net}+kd", net
        if kd not in models or plain not in models:
            continue
        entry: dict[str, Any] = {"per_subject": {}}
        pooled = np.zeros(N_BOOTSTRAP)
        subject_means = []
        for s in subjects:
            pairs = [
                (by[(s, kd, k)], by[(s, plain, k)]) for k in seeds if (s, kd, k) in by and (s, plain, k) in by
            ]
            diff = paired_difference([a for a, _ in pairs], [b for _, b in pairs], rng, N_BOOTSTRAP)
            pooled += diff.pop("boot")
            subject_means.append(diff["mean"])
            entry["per_subject"][s] = diff
        pooled /= len(subjects)
        means = np.asarray(subject_means)
        overall: dict[str, Any] = {
            "mean": float(means.mean()),
            "ci95_trials": [float(np.percentile(pooled, 2.5)), float(np.percentile(pooled, 97.5))],
            "n_subjects": len(subjects),
            "n_seeds": len(seeds),
        }
        from scipy import stats

        if len(means) > 1:
            half = stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / np.sqrt(len(means))
            overall["ci95_subjects_t"] = [float(means.mean() - half), float(means.mean() + half)]
        # Every (subject, seed) pair as one paired replicate: the spread of retraining (split and
        # initialization), which the bootstrap over test trials does not see.
        per_run = np.concatenate([entry["per_subject"][s]["per_seed"] for s in subjects])
        if len(per_run) > 1:
            half = stats.t.ppf(0.975, len(per_run) - 1) * per_run.std(ddof=1) / np.sqrt(len(per_run))
            overall["ci95_runs_t"] = [float(per_run.mean() - half), float(per_run.mean() + half)]
            overall["sd_runs"] = float(per_run.std(ddof=1))
        entry["overall"] = overall
        distillation[net] = entry
    runs = [{k: v for k, v in r.items() if k not in ("y_test", "pred_test")} for r in results]
    return {"per_subject": per_subject, "summary": summary, "distillation": distillation, "runs": runs}
