"""A transfer study's statistics: the learning curves, KD minus no-KD, transfer minus subject-only.

Pure functions of the runs (:mod:`calibration.transfer_study` results); the trial bootstrap is
seeded (:func:`calibration.study_analysis.paired_difference`), so the same runs give the same
numbers whichever executor produced them. Each subject's value is its mean over seeds; the
curve is the mean over subjects with a 95 % t-interval across subjects (subjects are the unit
that varies; with n subjects the interval has n - 1 degrees of freedom). Paired differences
also carry the interval from resampling test trials within each run (same trials for both arms).

Two test sets per point: ``rest`` (every trial after the first N per class: what the issue
measured) and ``common`` (only the trials in the ``all`` point's held-out test blocks, the
calibration trials of that N removed: the same trials for every N, so the curve is comparable
end to end; the plot uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from calibration.study_analysis import N_BOOTSTRAP, paired_difference

SCORES = ("rest", "common")


def t_interval(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample sd and the 95 % t-interval of ``values`` (no interval for fewer than two)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    out: dict[str, Any] = {"mean": float(v.mean()) if len(v) else float("nan"), "n": int(len(v))}
    if len(v) > 1:
        sd = float(v.std(ddof=1))
        half = float(stats.t.ppf(0.975, len(v) - 1) * sd / np.sqrt(len(v)))
        out.update({"sd": sd, "ci95": [out["mean"] - half, out["mean"] + half]})
    return out


def n_label(n: int | None) -> str:
    return "all" if n is None else str(n)


def _restricted(run: dict[str, Any], score: str) -> dict[str, Any]:
    """The run's test predictions on the ``rest`` or ``common`` trials."""
    if score == "rest":
        return run
    keep = np.asarray(run["common"], dtype=bool)
    return {
        **run,
        "y_test": np.asarray(run["y_test"])[keep].tolist(),
        "pred_test": np.asarray(run["pred_test"])[keep].tolist(),
    }


def _top1(run: dict[str, Any], key: str = "pred_test") -> float:
    y = np.asarray(run["y_test"])
    return float(np.mean(np.asarray(run[key]) == y)) if len(y) else float("nan")


def arm_name(path: str, recipe: str, distill: bool) -> str:
    """``subject``, ``transfer (all) +kd``...: one line of the curve."""
    name = path + (f" ({recipe})" if path == "transfer" else "")
    return name + (" +kd" if distill else "")


def analyse_transfer(results: Sequence[dict[str, Any]], config: Any, seed: int = 0) -> dict[str, Any]:
    """Curves, zero-shot, paired differences and times from the runs of a transfer study.

    Returns
    -------
    dict
        ``zero_shot`` (per network: per subject and mean with t-interval, every trial aligned
        without labels), ``curves`` ``{network: {score: {arm: {N: summary}}}}`` where a summary
        has ``mean``, ``ci95`` (t across subjects), ``per_subject``, ``calibration_per_class``;
        ``kd_minus_plain`` and ``transfer_minus_subject`` ``{network: {score: {name: {N: diff}}}}``
        with ``mean``, ``ci95`` (t across subjects) and ``ci95_trials`` (bootstrap over test trials);
        ``target`` (transfer at 10 per class minus subject-only with every trial); ``seconds``
        (seconds from the end of the recording to the model, per arm and N); ``runs`` (metrics only).
    """
    rng = np.random.default_rng(seed)
    bases = [r for r in results if r["kind"] == "base"]
    runs = [r for r in results if r["kind"] == "run"]
    networks = list(dict.fromkeys(r["network"] for r in results))
    subjects = list(dict.fromkeys(r["subject"] for r in results))
    trials = list(dict.fromkeys(r["trials"] for r in runs))
    trials.sort(key=lambda n: float("inf") if n is None else n)
    zero_shot: dict[str, Any] = {}
    for net in networks:
        per = {b["subject"]: b["zero_shot_top1"] for b in bases if b["network"] == net}
        if not per:  # a model studied subject-only (no transfer path, so no base)
            continue
        zero_shot[net] = {
            "per_subject": per,
            **t_interval(list(per.values())),
            "pooled_val_top1": {b["subject"]: b["pooled_val_top1"] for b in bases if b["network"] == net},
            "base_seconds": {b["subject"]: b["seconds"] for b in bases if b["network"] == net},
        }
    by: dict[tuple, dict[str, Any]] = {}
    for r in runs:
        by[
            (
                r["network"],
                arm_name(r["path"], r["recipe"], r["distill"]),
                r["trials"],
                r["subject"],
                r["seed"],
            )
        ] = r
    arms = list(dict.fromkeys(arm_name(r["path"], r["recipe"], r["distill"]) for r in runs))
    seeds = list(dict.fromkeys(r["seed"] for r in runs))

    def runs_of(net, arm, n, subject):
        return [by[(net, arm, n, subject, s)] for s in seeds if (net, arm, n, subject, s) in by]

    curves: dict[str, Any] = {}
    kd: dict[str, Any] = {}
    tvs: dict[str, Any] = {}
    seconds: dict[str, Any] = {}
    zero_by_n: dict[str, Any] = {}
    for net in networks:
        curves[net], kd[net], tvs[net], seconds[net], zero_by_n[net] = {}, {}, {}, {}, {}
        # This model's arms only (the templates have no distilled runs and one recipe).
        net_arms = [arm for arm in arms if any(key[:2] == (net, arm) for key in by)]
        for score in SCORES:
            curves[net][score] = {}
            for arm in net_arms:
                curves[net][score][arm] = {}
                for n in trials:
                    per = {}
                    for s in subjects:
                        rs = [_restricted(r, score) for r in runs_of(net, arm, n, s)]
                        if rs:
                            per[s] = float(np.mean([_top1(r) for r in rs]))
                    if not per:
                        continue
                    entry = {**t_interval(list(per.values())), "per_subject": per}
                    entry["calibration_per_class"] = float(
                        np.mean(
                            [r["calibration_per_class"] for s in subjects for r in runs_of(net, arm, n, s)]
                        )
                    )
                    curves[net][score][arm][n_label(n)] = entry
            # The base's zero-shot under each N's alignment (calibration trials only), from the transfer runs.
            zero_by_n[net][score] = {}
            for n in trials:
                per = {}
                for s in subjects:
                    rs = [
                        r
                        for arm in net_arms
                        if arm.startswith("transfer") and not arm.endswith("+kd")
                        for r in runs_of(net, arm, n, s)
                    ]
                    rs = [r for r in rs if "pred_zero_shot" in r]
                    if rs:
                        per[s] = float(np.mean([_paired_zero(r, score) for r in rs]))
                if per:
                    zero_by_n[net][score][n_label(n)] = {**t_interval(list(per.values())), "per_subject": per}
            kd[net][score] = {}
            for arm in [a for a in net_arms if not a.endswith("+kd")]:
                if f"{arm} +kd" in net_arms:
                    kd[net][score][arm] = _differences(
                        runs_of, net, f"{arm} +kd", arm, trials, subjects, score, rng
                    )
            tvs[net][score] = {}
            for arm in [a for a in net_arms if a.startswith("transfer")]:
                subject_arm = "subject +kd" if arm.endswith("+kd") else "subject"
                if subject_arm in net_arms:
                    tvs[net][score][f"{arm} - {subject_arm}"] = _differences(
                        runs_of, net, arm, subject_arm, trials, subjects, score, rng
                    )
        for arm in net_arms:
            seconds[net][arm] = {}
            for n in trials:
                rs = [r for s in subjects for r in runs_of(net, arm, n, s)]
                if rs:
                    seconds[net][arm][n_label(n)] = {
                        "seconds_to_model": float(np.mean([r["seconds_to_model"] for r in rs])),
                        "model_seconds": float(np.mean([r["model_seconds"] for r in rs])),
                        "preparing_seconds": float(np.mean([r["preparing_seconds"] for r in rs])),
                    }
    target = _target(runs_of, networks, arms, subjects, rng)
    slim = [
        {
            k: v
            for k, v in r.items()
            if k not in ("y_test", "pred_test", "test_index", "common", "pred_zero_shot", "y_all", "pred_all")
        }
        for r in results
    ]
    n_classes = round(1.0 / runs[0]["metrics"]["chance_top1"]) if runs else None
    return {
        "networks": networks,
        "trials": [n_label(n) for n in trials],
        "arms": arms,
        "n_classes": n_classes,
        "zero_shot": zero_shot,
        "zero_shot_by_n": zero_by_n,
        "curves": curves,
        "kd_minus_plain": kd,
        "transfer_minus_subject": tvs,
        "target": target,
        "seconds_to_model": seconds,
        "runs": slim,
    }


def _paired_zero(run: dict[str, Any], score: str) -> float:
    pred = np.asarray(run["pred_zero_shot"])
    y = np.asarray(run["y_test"]) if score == "rest" else None
    if score == "common":
        keep = np.asarray(run["common"], dtype=bool)
        pred = pred[keep]
        y = np.asarray(run["y_test"])[keep]
    return float(np.mean(pred == y)) if len(y) else float("nan")


def _differences(runs_of, net, arm_a, arm_b, trials, subjects, score, rng) -> dict[str, Any]:
    """``arm_a`` minus ``arm_b`` at each N, paired by subject and seed (the same test trials)."""
    out: dict[str, Any] = {}
    for n in trials:
        per: dict[str, float] = {}
        pooled = np.zeros(N_BOOTSTRAP)
        for s in subjects:
            a = {r["seed"]: _restricted(r, score) for r in runs_of(net, arm_a, n, s)}
            b = {r["seed"]: _restricted(r, score) for r in runs_of(net, arm_b, n, s)}
            both = [k for k in a if k in b and len(a[k]["y_test"])]
            if not both:
                continue
            d = paired_difference([a[k] for k in both], [b[k] for k in both], rng, N_BOOTSTRAP)
            pooled += d.pop("boot")
            per[s] = d["mean"]
        if not per:
            continue
        pooled /= len(per)
        out[n_label(n)] = {
            **t_interval(list(per.values())),
            "ci95_trials": [float(np.percentile(pooled, 2.5)), float(np.percentile(pooled, 97.5))],
            "per_subject": per,
        }
    return out


def _target(runs_of, networks, arms, subjects, rng) -> dict[str, Any]:
    """The issue's target: transfer at 10 trials per class minus subject-only on the full session.

    Each model's transfer arms against each model's subject-only arms (its own and the others').

    Per subject and seed, on the ``common`` trials (the full session's test blocks; the transfer
    run's calibration trials removed from them, so both are scored on the trials they share).
    """
    out: dict[str, Any] = {}
    pairs = [(net, full_net) for net in networks for full_net in networks]
    for net, full_net in pairs:
        for arm in [a for a in arms if a.startswith("transfer")]:
            for subject_arm in ("subject", "subject +kd"):
                if subject_arm not in arms:
                    continue
                per = {}
                for s in subjects:
                    diffs = []
                    for ft in runs_of(net, arm, 10, s):
                        full = [r for r in runs_of(full_net, subject_arm, None, s) if r["seed"] == ft["seed"]]
                        if not full:
                            continue
                        full = full[0]
                        keep = np.asarray(ft["common"], dtype=bool)
                        idx = np.asarray(ft["test_index"])[keep]
                        ok_ft = (np.asarray(ft["pred_test"]) == np.asarray(ft["y_test"]))[keep]
                        pos = {i: j for j, i in enumerate(full["test_index"])}
                        ok_full = np.array(
                            [full["pred_test"][pos[i]] == full["y_test"][pos[i]] for i in idx], dtype=float
                        )
                        if len(idx):
                            diffs.append(float(ok_ft.mean() - ok_full.mean()))
                    if diffs:
                        per[s] = float(np.mean(diffs))
                if per:
                    # Against the same model's subject-only run, and against every other model's
                    # (the full session's best subject-only model is what a lab would serve).
                    versus = subject_arm if full_net == net else f"{full_net}: {subject_arm}"
                    out[f"{net}: {arm} @10 - {versus} @all"] = {
                        **t_interval(list(per.values())),
                        "per_subject": per,
                    }
    return out
