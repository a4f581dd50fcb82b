"""The model registry: one :class:`ModelSpec` per model kind, and the one place that names them.

Every part of the program that needs to know about model kinds reads this table: bundle loading
and saving (:mod:`rtdecode.io.bundle`), serving (:mod:`rtdecode.models.serving`), calibration's
candidates, baselines and presets (:mod:`calibration.fitting`), the ``--preset`` and
``--candidates`` choices, the study's ``--networks`` and the readable names in reports.

A spec says, for one kind,

- its one **name** (``"student"``, ``"eegnet"``, ``"xdawn"``...), written into bundles
  (``architecture``), reports, presets and command-line choices; older names (bundles written
  before the registry, the former presets ``paper`` / ``erp_xdawn`` / ``erp_lda``) are its
  **aliases** and still work everywhere a name is read;
- its **readable** name, for reports and windows;
- its **input view** (:data:`VIEWS`): the paper's STFT, the raw (standardized) time series, or
  the ERP view's epochs; the view also says which preprocessing calibration prepares for it;
- how it is **built**: a network class and its config class, or a classical model class. Classes
  are named as ``"module:Class"`` strings and imported on first use, so reading the registry
  costs nothing (``rtdecode --help`` builds its choices from it without importing torch);
- how it is **saved** (:attr:`ModelSpec.weights`: a network's tensors or a classical model's
  arrays, both in safetensors) and **served** (:func:`rtdecode.models.serving.model_input` of its
  view feeds it);
- whether it is **servable** (a bundle can hold it), a calibration **candidate** (compared with
  the paper's student, and in the default set or not), **distillable** (trainable on teacher soft
  targets) and **transferable** (pretrained across subjects by ``rtdecode pretrain``: a network's
  weights start another subject's training, a classical pipeline is refitted on the pooled
  aligned trials);
- which calibration **fit hook** trains it (:attr:`ModelSpec.fit`).

Why fit hooks are named, not imported: rtdecode never imports calibration, so a spec cannot
hold its fitting function. Calibration registers its hooks keyed by these names in one module,
:data:`calibration.fitting.FIT_HOOKS`, and the hooks are generic: ``"network"`` trains any
network of the registry through the one training loop, ``"classical"`` fits any classical
model, ``"logreg"`` the paper's logistic-regression baselines. So a new model of an existing
kind needs no calibration code at all: adding a decoder is one new module and one
:func:`register` call below (docs/adding-a-model.md walks through it with ShallowConvNet).

A network class takes its config (a frozen dataclass with ``n_channels`` and ``n_classes``,
``n_samples`` when it reads time series, ``to_dict`` / ``from_dict``) as its one argument and
keeps it as ``.config``. Run names in reports add :data:`DISTILLED` to a distilled model's
name (``student+kd``), as the study does.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any

# The paper's model: always trained by a calibration, the reference every run must have.
PAPER_MODEL = "student"
# Suffix of a run name trained with distillation: "student+kd" vs "student" (labels only).
DISTILLED = "+kd"
FIT_HOOKS = ("network", "classical", "logreg")


@dataclass(frozen=True)
class InputView:
    """What a model reads, and which preprocessing calibration prepares for it.

    Attributes
    ----------
    name : str
    description : str
    preprocessing : {"paper", "erp"}
        The calibration view whose epochs feed the model: the paper's (notch, 14-70 Hz,
        20-460 ms) or the ERP one (notch, 0.5-30 Hz, -100..800 ms).
    layout : str
        Axes of one example: ``"CTF"`` (channels, time frames, frequencies), ``"CT"`` (channels,
        time samples: the field's order, taken by the classical estimators) or ``"TC"`` (time
        samples, channels: the networks' raw input).
    tfd_method : str or None
        A time-frequency view's method (None: the pipeline's own, the paper's STFT by default).
    servable : bool
        Live decoding can compute it (the 4 ms-binned series of two baselines it cannot).
    """

    name: str
    description: str
    preprocessing: str
    layout: str
    tfd_method: str | None = None
    servable: bool = True

    @property
    def is_tfd(self) -> bool:
        return self.layout == "CTF"

    def dims(self, example_shape: tuple[int, ...]) -> tuple[int, int]:
        """``(n_channels, n_times)`` of one example of this view."""
        if len(example_shape) != len(self.layout):
            raise ValueError(
                f"a {self.name!r} example has axes {self.layout}, got shape {tuple(example_shape)}"
            )
        return example_shape[self.layout.index("C")], example_shape[self.layout.index("T")]


VIEWS: dict[str, InputView] = {
    view.name: view
    for view in (
        InputView(
            "stft",
            "the paper's time-frequency images (STFT unless the pipeline says otherwise)",
            "paper",
            "CTF",
        ),
        InputView("wavelet", "db4 wavelet time-frequency images", "paper", "CTF", tfd_method="wavelet"),
        InputView("raw", "standardized epochs of the paper's preprocessing", "paper", "TC"),
        InputView("raw_binned", "standardized epochs averaged in 4 ms bins", "paper", "TC", servable=False),
        InputView(
            "raw_ct", "standardized epochs of the paper's preprocessing, channels first", "paper", "CT"
        ),
        InputView("erp", "standardized epochs of the ERP preprocessing (0.5-30 Hz)", "erp", "CT"),
    )
}


@dataclass(frozen=True)
class ModelSpec:
    """One model kind.

    Attributes
    ----------
    name : str
        The one name: bundles, reports, presets, command-line choices.
    readable : str
        Words for people (reports, windows).
    input : str
        A key of :data:`VIEWS`.
    fit : str
        The calibration fit hook (one of :data:`FIT_HOOKS`).
    network, config : str or None
        ``"module:Class"`` of a network and of its config (None for a classical model; the
        network is None too for the paper's LSTM and 1D CNN baselines, whose classes live in
        calibration because they are never served).
    classical : str or None
        ``"module:Class"`` of a classical model (arrays + JSON config; ``from_bundle``).
    servable : bool
        A bundle can hold it and live decoding serve it.
    candidate, default_candidate : bool
        Calibration compares it with the paper's student on the validation blocks (when asked
        for with ``--candidates``; by default when ``default_candidate``).
    distillable : bool
        Trains on teacher soft targets (``alpha * CE + (1 - alpha) * T^2 * KL``).
    transferable : bool
        Pretrained across subjects (``rtdecode pretrain``): a network's weights start another
        subject's training (fine-tuning); a classical pipeline is refitted with the other
        subjects' aligned trials pooled in.
    lr : float or None
        Learning rate it trains with (None: the training config's).
    aliases : tuple of str
        Older names, still read (bundles, presets, the study's networks).
    """

    name: str
    readable: str
    input: str
    fit: str
    network: str | None = None
    config: str | None = None
    classical: str | None = None
    servable: bool = False
    candidate: bool = False
    default_candidate: bool = False
    distillable: bool = False
    transferable: bool = False
    lr: float | None = None
    aliases: tuple[str, ...] = ()

    @property
    def view(self) -> InputView:
        return VIEWS[self.input]

    @property
    def weights(self) -> str | None:
        """How a bundle stores it: ``"tensors"`` (a network), ``"arrays"`` (classical) or None."""
        if not self.servable:
            return None
        return "tensors" if self.network else "arrays"

    def network_class(self) -> type:
        return _resolve(self.network, self.name, "network")

    def config_class(self) -> type:
        return _resolve(self.config, self.name, "config")

    def classical_class(self) -> type:
        return _resolve(self.classical, self.name, "classical")

    def make_config(
        self, n_channels: int, n_classes: int, n_times: int, base: Any = None, sfreq: float | None = None
    ) -> Any:
        """The network's config for data of this shape, other fields from ``base`` (or the defaults).

        Parameters
        ----------
        n_channels, n_classes : int
        n_times : int
            Samples per epoch (frames for a time-frequency network, which ignores it).
        base : config or None
            An instance of the config class to start from (e.g. the student's widths).
        sfreq : float or None
            Sampling rate of the epochs. A config class with an ``at_rate(sfreq)`` method sets
            its rate-dependent fields from it (EEGNet's input bins and kernel); None keeps them.
        """
        cls = self.config_class()
        values = (base if isinstance(base, cls) else cls()).to_dict()
        values.update(n_channels=int(n_channels), n_classes=int(n_classes))
        if "n_samples" in {f.name for f in dataclasses.fields(cls)}:
            values["n_samples"] = int(n_times)
        config = cls.from_dict(values)
        if sfreq is not None and hasattr(config, "at_rate"):
            config = config.at_rate(float(sfreq))
        return config

    def build(self, config: Any) -> Any:
        """A new network of this kind (random weights) for ``config``."""
        return self.network_class()(config)


def _resolve(path: str | None, name: str, what: str) -> type:
    if not path:
        raise ValueError(f"model {name!r} has no {what} class")
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


MODELS: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model kind to the registry.

    Raises
    ------
    ValueError
        The name or an alias is taken, the view or fit hook is unknown, or a servable model
        names no class to build it from.
    """
    taken = [n for n in (spec.name, *spec.aliases) if n in MODELS or n in _ALIASES]
    if taken:
        raise ValueError(f"model names {taken} are already registered")
    if spec.input not in VIEWS:
        raise ValueError(f"ModelSpec.input must be one of {list(VIEWS)}, got {spec.input!r}")
    if spec.fit not in FIT_HOOKS:
        raise ValueError(f"ModelSpec.fit must be one of {FIT_HOOKS}, got {spec.fit!r}")
    if spec.servable and not (
        spec.view.servable and (bool(spec.network and spec.config) != bool(spec.classical))
    ):
        raise ValueError(
            f"servable model {spec.name!r} needs a servable view and either network + config or classical"
        )
    if spec.candidate and not spec.servable:
        raise ValueError(f"candidate {spec.name!r} must be servable (the chosen one goes into the bundle)")
    MODELS[spec.name] = spec
    _ALIASES.update(dict.fromkeys(spec.aliases, spec.name))
    return spec


def find(name: str) -> ModelSpec | None:
    """The spec of a name or alias, or None."""
    return MODELS.get(_ALIASES.get(name, name))


def get(name: str) -> ModelSpec:
    """The spec of a name or alias.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones).
    """
    spec = find(name)
    if spec is None:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return spec


def canonical(name: str) -> str:
    """The name of a name or alias; anything else unchanged (for argparse ``type=`` before ``choices``)."""
    spec = find(name)
    return spec.name if spec else name


def servable() -> list[ModelSpec]:
    """The kinds a bundle can hold, in registration order."""
    return [s for s in MODELS.values() if s.servable]


def candidates(default_only: bool = False) -> tuple[str, ...]:
    """Names of calibration's candidates (all, or the default set)."""
    return tuple(s.name for s in MODELS.values() if s.candidate and (s.default_candidate or not default_only))


def networks() -> tuple[str, ...]:
    """Names of the networks the ``"network"`` hook trains that can be distilled (the study's choices)."""
    return tuple(s.name for s in MODELS.values() if s.fit == "network" and s.distillable)


def transferable() -> tuple[str, ...]:
    """Names of the servable models ``rtdecode pretrain`` can pretrain across subjects."""
    return tuple(s.name for s in MODELS.values() if s.transferable and s.servable)


def presets() -> tuple[str, ...]:
    """``--preset`` choices: ``auto`` (best on the validation blocks), the paper's model, each candidate."""
    return ("auto", PAPER_MODEL, *candidates())


def aliases_help(names: tuple[str, ...]) -> str:
    """``"older names still work: paper, StudentCNN (student); ..."`` for the given names' aliases."""
    parts = [
        f"{', '.join(MODELS[name].aliases)} ({name})"
        for name in names
        if name in MODELS and MODELS[name].aliases
    ]
    return "older names still work: " + "; ".join(parts) if parts else ""


def spec_of(model: Any) -> ModelSpec:
    """The servable spec whose network or classical class is ``model``'s class (compared by path: nothing is imported).

    Raises
    ------
    ValueError
        No servable kind has this class.
    """
    cls = type(model)
    path = f"{cls.__module__}:{cls.__qualname__}"
    for spec in servable():
        if path in (spec.network, spec.classical):
            return spec
    raise ValueError(
        f"{cls.__name__} is not a registered servable model; known: {', '.join(s.name for s in servable())}"
    )


def run_name(name: str, distilled: bool) -> str:
    """A run's name in reports: the model's name, plus :data:`DISTILLED` when distilled."""
    return f"{name}{DISTILLED}" if distilled else name


def display_name(code: str) -> str:
    """Words for a run name (``"student+kd"`` -> ``"distilled student (STFT)"``, ``"student"`` ->
    ``"student (STFT) without distillation"``); an unknown name: itself."""
    distilled = code.endswith(DISTILLED)
    spec = find(code.removesuffix(DISTILLED))
    if spec is None:
        return code
    if distilled:
        return f"distilled {spec.readable}"
    # The paper's student is trained both ways in every calibration with images: its plain run says so.
    return f"{spec.readable} without distillation" if spec.name == PAPER_MODEL else spec.readable


# --------------------------------------------------------------------------------------------
# The models. Registration order is the order of reports and choices.
# --------------------------------------------------------------------------------------------

register(
    ModelSpec(
        name=PAPER_MODEL,
        readable="student (STFT)",
        input="stft",
        fit="network",
        network="rtdecode.models.student:StudentCNN",
        config="rtdecode.models.student:StudentConfig",
        servable=True,
        distillable=True,
        transferable=True,
        # "paper": the former preset; "StudentCNN": bundles of formats 1-2; "stft_cnn": the study;
        # "cnn2d_stft": the --baselines name of this network trained without distillation.
        aliases=("paper", "StudentCNN", "stft_cnn", "cnn2d_stft"),
    )
)
register(
    ModelSpec(
        name="eegnet",
        readable="EEGNet (time domain)",
        input="raw",
        fit="network",
        network="rtdecode.models.eegnet:EEGNet",
        config="rtdecode.models.eegnet:EEGNetConfig",
        servable=True,
        candidate=True,
        default_candidate=True,
        distillable=True,
        transferable=True,
        # Twice braindecode's usual 1e-3: with 4 ms input bins, on the paper's protocol (40 classes x
        # 50 images, one block split, 1 torch thread) 1e-3 was still at 0.67 validation accuracy
        # after 33 passes; 2e-3 kept pass 49 of 57 (validation 0.895, test 0.86; the unbinned network
        # at 1e-3: 0.90 / 0.8525, pass 58 of 60); 3e-3 pass 34 of 42 (0.875 / 0.8425).
        lr=2e-3,
        aliases=("EEGNet",),
        # Its input stays the raw view: calibration builds it at the recording's rate
        # (make_config's sfreq), and the 4 ms binning is its first layer, sized by its saved config
        # (rtdecode.models.eegnet), so bundles from before the binning serve unchanged.
    )
)
register(
    ModelSpec(
        name="shallow_convnet",
        readable="ShallowConvNet (time domain)",
        input="raw",
        fit="network",
        network="rtdecode.models.shallow_convnet:ShallowConvNet",
        config="rtdecode.models.shallow_convnet:ShallowConvNetConfig",
        servable=True,
        # Not in the default set: an epoch costs ~1.7x EEGNet's (4 classes, 32 channels, CPU).
        candidate=True,
        distillable=True,
        transferable=True,
        lr=1e-3,
    )
)
register(
    ModelSpec(
        name="xdawn",
        readable="ERP: xDAWN covariances, tangent space, logistic regression",
        input="erp",
        fit="classical",
        classical="rtdecode.models.classical:XdawnTangentSpaceLR",
        servable=True,
        candidate=True,
        default_candidate=True,
        transferable=True,
        aliases=("erp_xdawn", "xdawn_ts_lr", "erp_xdawn_ts_lr"),
    )
)
register(
    ModelSpec(
        name="lda",
        readable="ERP: shrinkage LDA on window means",
        input="erp",
        fit="classical",
        classical="rtdecode.models.classical:WindowedMeansLDA",
        servable=True,
        candidate=True,
        default_candidate=True,
        transferable=True,
        aliases=("erp_lda", "lda_windowed", "erp_lda_windowed"),
    )
)
register(
    ModelSpec(
        name="templates",
        readable="shared-response templates (time domain)",
        input="raw_ct",
        fit="classical",
        classical="rtdecode.models.templates:SharedTemplates",
        servable=True,
        # Not a subject-only candidate: it is made for transfer (its time courses come from the
        # other subjects of a base; a new subject's calibration estimates only its mixing).
        transferable=True,
    )
)
# The paper's baselines: trained for comparison, never served.
register(
    ModelSpec(
        name="cnn2d_wavelet",
        readable="2D CNN (wavelet)",
        input="wavelet",
        fit="network",
        network="rtdecode.models.student:StudentCNN",
        config="rtdecode.models.student:StudentConfig",
        distillable=True,
        aliases=("wavelet_cnn",),
    )
)
register(ModelSpec("logreg_standardized", "logistic regression (standardized samples)", "raw", "logreg"))
register(ModelSpec("logreg_averaged", "logistic regression (time-averaged)", "raw", "logreg"))
register(ModelSpec("logreg_pca", "logistic regression (PCA)", "raw", "logreg"))
register(ModelSpec("logreg_sliding", "logistic regression (sliding windows)", "raw", "logreg"))
# The LSTM and the 1D CNN: built by calibration.baselines (network None), on 4 ms bins.
register(ModelSpec("lstm", "LSTM (raw EEG)", "raw_binned", "network", distillable=True))
register(ModelSpec("cnn1d", "1D CNN (raw EEG)", "raw_binned", "network", distillable=True))
