"""The paper's Figure 2: what a subject saw next to the images reconstructed from their decoded EEG.

For each target class (one row per class and subject): the first column is the stimulus the
subject saw (the exact image of the first trial when the exemplar folder has it, else an exemplar
of the class); the next columns are, for the first few trials of that class in time order (no
selection by outcome), the image for the class the decoder predicted, generated, cached or (without
weights) the predicted class's exemplar. Under each image: the predicted class, with a green frame
and a check mark when it is right, a red frame and a cross when it is wrong.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode.reconstruct.exemplars import ExemplarSource, placeholder_image
from rtdecode.reconstruct.names import display_name, name_key
from rtdecode.reconstruct.service import GeneratedImage, ImageSources

log = logging.getLogger(__name__)

RIGHT, WRONG = "#1a9850", "#d73027"


@dataclass
class SubjectRun:
    """One model applied to one recording: a row group of the figure.

    Attributes
    ----------
    name : str
        Row label, e.g. ``"S1"``.
    class_names : list of str
        The bundle's classes (index = prediction index = marker label).
    predictions : list of Prediction
        From :func:`rtdecode.decoder.predict_recording`, with their stimulus markers.
    sources : ImageSources
        Where the images for predicted classes come from.
    exemplars : ExemplarSource or None
        The stimuli (for the "seen" column).
    test_blocks : set of int or None
        Use only trials of these blocks (the model's held-out blocks); None: all trials.
    """

    name: str
    class_names: list[str]
    predictions: list[Any]
    sources: ImageSources
    exemplars: ExemplarSource | None = None
    test_blocks: set[int] | None = None
    trials: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    def true_class(self, prediction: Any) -> str | None:
        """The class of a prediction's stimulus marker (by label index, else by name)."""
        marker = prediction.marker if isinstance(prediction.marker, dict) else {}
        label = marker.get("label")
        if isinstance(label, int) and 0 <= label < len(self.class_names):
            return self.class_names[label]
        name = marker.get("class")
        if isinstance(name, str):
            keys = {name_key(c): c for c in self.class_names}
            return keys.get(name_key(name))
        return None

    def by_class(self) -> dict[str, list[Any]]:
        """Usable trials per true class, in time order."""
        if not self.trials:
            for p in self.predictions:
                marker = p.marker if isinstance(p.marker, dict) else {}
                if self.test_blocks is not None and marker.get("block") not in self.test_blocks:
                    continue
                true = self.true_class(p)
                if true is not None:
                    self.trials.setdefault(true, []).append(p)
        return self.trials


def choose_classes(runs: list[SubjectRun], classes: list[str] | None, n_classes: int) -> list[str]:
    """The target classes: those named (matched case-insensitively, WordNet ids or names), else the
    first ``n_classes`` in the first model's order that have trials.

    Raises
    ------
    ValueError
        A named class is not in the model, or no class has trials.
    """
    names = runs[0].class_names
    if classes:
        keys = {name_key(c): c for c in names} | {c: c for c in names}
        chosen = []
        for wanted in classes:
            match = keys.get(wanted) or keys.get(name_key(wanted))
            if match is None:
                shown = ", ".join(display_name(c) for c in names[:12])
                raise ValueError(
                    f"class {wanted!r} is not in the model; choose from: {shown}{' ...' if len(names) > 12 else ''}"
                )
            chosen.append(match)
        return chosen
    available = [c for c in names if any(run.by_class().get(c) for run in runs)]
    if not available:
        raise ValueError(
            "no stimulus marker of the recording has a class of the model (or none is in the test blocks); "
            "check that the recording and the model belong together"
        )
    return available[:n_classes]


def reconstruction_figure(
    runs: list[SubjectRun],
    out: str | Path,
    classes: list[str] | None = None,
    n_classes: int = 6,
    trials_per_class: int = 3,
    variety: bool = False,
    cell_inches: float = 1.6,
    dpi: int = 120,
) -> dict[str, Any]:
    """Draw the figure and save it (PNG, or any format matplotlib knows from the suffix).

    Parameters
    ----------
    runs : list of SubjectRun
    out : str or Path
    classes : list of str, optional
        Target classes; default the first ``n_classes`` with trials.
    n_classes, trials_per_class : int
    variety : bool
        A new image (new seed) for every trial instead of one per predicted class.
    cell_inches : float
        Size of one image in the figure.
    dpi : int

    Returns
    -------
    dict
        ``rows``, ``trials``, ``correct`` and ``sources`` (count per image source), and ``out``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not runs:
        raise ValueError("no model/recording pair to draw")
    if trials_per_class < 1:
        raise ValueError(f"trials_per_class must be >= 1, got {trials_per_class}")
    chosen = choose_classes(runs, classes, n_classes)
    rows = [(run, c, run.by_class().get(c, [])[:trials_per_class]) for run in runs for c in chosen]
    rows = [row for row in rows if row[2]]
    if not rows:
        raise ValueError(f"none of the classes {[display_name(c) for c in chosen]} has trials to show")
    n_cols = 1 + trials_per_class
    figure = Figure(figsize=(cell_inches * n_cols + 0.6, cell_inches * 1.25 * len(rows) + 0.9), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.subplots(len(rows), n_cols, squeeze=False)
    rng = np.random.default_rng(0)
    sources: Counter[str] = Counter()
    shown = correct = 0
    for r, (run, true_class, trials) in enumerate(rows):
        seen = _seen_image(run, true_class, trials[0])
        _draw(grid[r, 0], seen, "#666666", f"seen: {display_name(true_class)}", "black")
        grid[r, 0].set_ylabel(f"{run.name}\n{display_name(true_class)}", fontsize=8)
        for c in range(1, n_cols):
            ax = grid[r, c]
            if c - 1 >= len(trials):
                ax.axis("off")
                continue
            prediction = trials[c - 1]
            predicted = run.class_names[prediction.index]
            image = run.sources.get(predicted, variety=variety, rng=rng)
            sources[image.source] += 1
            right = predicted == true_class
            shown += 1
            correct += right
            note = "" if image.source in ("generated", "cache") else f"\n({image.source})"
            label = f"{'✓' if right else '✗'} {display_name(predicted)}{note}"
            _draw(ax, image.image, RIGHT if right else WRONG, label, RIGHT if right else WRONG)
    for c in range(n_cols):
        grid[0, c].set_title("seen" if c == 0 else f"trial {c}", fontsize=9)
    origin = ", ".join(f"{n} {s}" for s, n in sorted(sources.items()))
    scope = "test blocks" if all(run.test_blocks is not None for run in runs) else "all trials"
    figure.suptitle(
        f"Images for the classes decoded from EEG ({scope}; first {trials_per_class} trials per class)\n"
        f"{correct}/{shown} correct; images: {origin}",
        fontsize=9,
    )
    figure.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    log.info("wrote %s: %d rows, %d/%d correct, images: %s", out, len(rows), correct, shown, origin)
    return {"out": str(out), "rows": len(rows), "trials": shown, "correct": correct, "sources": dict(sources)}


def _seen_image(run: SubjectRun, true_class: str, first_trial: Any) -> np.ndarray:
    exemplars = run.exemplars
    if exemplars is not None:
        marker = first_trial.marker if isinstance(first_trial.marker, dict) else {}
        image = exemplars.image_for_id(str(marker.get("image", ""))) if marker.get("image") else None
        if image is None:
            image = exemplars.image(true_class)
        if image is not None:
            return image
    return placeholder_image(true_class, (128, 128), "no stimulus image")


def _draw(ax: Any, image: np.ndarray | GeneratedImage, frame: str, label: str, color: str) -> None:
    ax.imshow(image.image if isinstance(image, GeneratedImage) else image)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(frame)
        spine.set_linewidth(3)
    ax.set_xlabel(label, fontsize=8, color=color)
