"""One :func:`read_recording` for every file format, and the registry of formats behind it.

Every command that reads a recording (``info``, ``calibrate``, ``predict``, ``replay``, ``figure``,
``study``, the presenter) calls :func:`read_recording`. A format is one reader module in
``rtdecode/io/`` and one :func:`register_format` call at the end of this module:

- the reader is ``read_<format>(path, *, option=default, ...) -> Recording``; its keyword-only
  parameters are the options the format takes, and those without a default are the ones it needs;
- the registration says how a path is recognised (file-name suffixes, or a test of the path) and
  gives, for an option a user may forget, the hint that goes into the error.

Options are checked here, the same way for every format: an option the format cannot use, or one
it needs and did not get, is a ``ValueError`` naming the format and the option. ``None`` means
"not given", so a command can pass its ``--subject`` / ``--events`` values unconditionally.

Examples
--------
>>> read_recording("session.xdf")  # doctest: +SKIP
>>> read_recording("psychopy_session.xdf", events="1=house,2=face")  # doctest: +SKIP
>>> read_recording("sub-01_task-faces_eeg.vhdr", events="S1=face,S2=house")  # doctest: +SKIP
>>> read_recording("eeg_5_95_std.pth", subject=4)  # doctest: +SKIP
>>> read_recording("raw_data", subject=1, session=2, trust_file=True)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtdecode.io.blocks import BlockRule
from rtdecode.io.imagenet_eeg import read_imagenet_eeg
from rtdecode.io.mne_io import MNE_SUFFIXES, read_mne
from rtdecode.io.recording import Recording
from rtdecode.io.things_eeg2 import is_things_eeg2, read_things_eeg2
from rtdecode.io.xdf import XDF_SUFFIXES, read_xdf

__all__ = ["FileFormat", "detect_format", "known_formats", "read_recording", "register_format"]


@dataclass(frozen=True)
class FileFormat:
    """A registered file format: how its paths look and which reader turns them into a Recording.

    Attributes
    ----------
    name : str
        Short key, e.g. ``"xdf"``.
    title : str
        Readable name for messages, e.g. ``"ImageNet-EEG"``.
    reader : callable
        ``reader(path, **options) -> Recording``; its keyword-only parameters are the options.
    recognises : callable
        ``recognises(path) -> bool`` for an existing path.
    paths : str
        What its paths look like, for the message that lists the known formats.
    hints : mapping of str to str
        For an option the format needs: how to choose its value, said when it is missing.
    """

    name: str
    title: str
    reader: Callable[..., Recording]
    recognises: Callable[[Path], bool]
    paths: str
    hints: Mapping[str, str] = field(default_factory=dict)

    @property
    def options(self) -> tuple[str, ...]:
        """The options the reader takes, in its signature's order."""
        return tuple(p.name for p in self._keyword_parameters())

    @property
    def required(self) -> tuple[str, ...]:
        """The options the reader cannot do without."""
        return tuple(p.name for p in self._keyword_parameters() if p.default is inspect.Parameter.empty)

    def _keyword_parameters(self) -> list[inspect.Parameter]:
        parameters = inspect.signature(self.reader).parameters.values()
        return [p for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


_FORMATS: dict[str, FileFormat] = {}


def register_format(
    name: str,
    reader: Callable[..., Recording],
    *,
    title: str,
    suffixes: tuple[str, ...] = (),
    recognises: Callable[[Path], bool] | None = None,
    paths: str | None = None,
    hints: Mapping[str, str] | None = None,
) -> FileFormat:
    """Add a file format to :func:`read_recording`.

    Parameters
    ----------
    name : str
        Unique short key (``"xdf"``, ``"mne"``...).
    reader : callable
        ``read_<format>(path, *, option=default, ...) -> Recording``.
    title : str
        Readable name for messages.
    suffixes : tuple of str
        File-name endings that mark the format (case-insensitive), e.g. ``(".xdf", ".xdf.gz")``.
    recognises : callable, optional
        ``recognises(path) -> bool``, for formats a suffix does not identify (folders, fixed file
        names). Give this or ``suffixes``.
    paths : str, optional
        What the paths look like, for messages; by default the suffixes.
    hints : mapping, optional
        ``{option: how to choose it}`` for options the reader needs.

    Returns
    -------
    FileFormat
        The registered format.
    """
    if name in _FORMATS:
        raise ValueError(f"a file format named {name!r} is already registered; choose another name")
    if bool(suffixes) == (recognises is not None):
        raise ValueError(f"format {name!r}: give either suffixes or recognises, not both or neither")
    if recognises is None:
        lowered = tuple(s.lower() for s in suffixes)

        def recognises(path: Path) -> bool:
            return path.name.lower().endswith(lowered)

    spec = FileFormat(
        name=name,
        title=title,
        reader=reader,
        recognises=recognises,
        paths=paths or ", ".join(suffixes),
        hints=dict(hints or {}),
    )
    unknown = set(spec.hints) - set(spec.options)
    if unknown:
        raise ValueError(f"format {name!r}: hints for {sorted(unknown)}, which its reader does not take")
    _FORMATS[name] = spec
    return spec


def known_formats() -> list[FileFormat]:
    """The registered formats, in the order they are tried."""
    return list(_FORMATS.values())


def detect_format(path: str | Path) -> FileFormat:
    """The format of an existing ``path``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        No registered format recognises it; the message lists the formats known.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"recording {path} does not exist; check the path")
    for spec in _FORMATS.values():
        if spec.recognises(path):
            return spec
    known = "; ".join(f"{spec.title} ({spec.paths})" for spec in _FORMATS.values())
    what = (
        "is a directory of no known layout"
        if path.is_dir()
        else f"has an unknown file type {_suffix(path)!r}"
    )
    raise ValueError(f"cannot read {path}: it {what}. Known formats: {known}")


def read_recording(path: str | Path, **options: Any) -> Recording:
    """Read a recording of any registered format.

    Parameters
    ----------
    path : str or Path
        A file (or, for THINGS-EEG2, a folder); its format is recognised from the path.
    **options
        The keyword-only options of the format's reader (:attr:`FileFormat.options` of
        :func:`known_formats`); ``None`` counts as not given. For example ``events`` (which
        plain marker codes are stimuli of which class: a
        :class:`~rtdecode.io.marker_mapping.MarkerMapping` or an ``--events`` value) for XDF
        (:func:`~rtdecode.io.xdf.read_xdf`, with ``eeg_stream`` and ``marker_stream``) and the
        files read with MNE (:func:`~rtdecode.io.mne_io.read_mne`), ``subject`` for ImageNet-EEG
        (:func:`~rtdecode.io.imagenet_eeg.read_imagenet_eeg`), ``subject``, ``session`` and
        ``trust_file`` for THINGS-EEG2 (:func:`~rtdecode.io.things_eeg2.read_things_eeg2`).
        ``blocks`` (a :class:`~rtdecode.io.blocks.BlockRule` or its text, ``--blocks``) serves
        every format: how the stimuli are grouped into blocks (:mod:`rtdecode.io.blocks`).

    Returns
    -------
    Recording
        ``data`` (n_samples, n_channels) with timestamps and markers; ``metadata`` holds
        ``source_file`` (``path``, where the reader does not set it) besides the reader's own.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Unknown format (the message lists the known ones), an option the format cannot use or
        one it needs and did not get, or the reader's own refusal of the file.
    """
    path = Path(path)
    spec = detect_format(path)
    given = {key: value for key, value in options.items() if value is not None}
    blocks = given.pop("blocks", None)
    _check_options(spec, path, given)
    recording = spec.reader(path, **given)
    recording.metadata.setdefault("source_file", str(path))
    if blocks is not None:
        recording.block_rule = blocks if isinstance(blocks, BlockRule) else BlockRule.parse(blocks)
    return recording


def _check_options(spec: FileFormat, path: Path, given: Mapping[str, Any]) -> None:
    takes = spec.options
    extra = [key for key in given if key not in takes]
    if extra:
        shown = ", ".join(f"{key}={given[key]!r}" for key in extra)
        accepted = ", ".join(takes) if takes else "none"
        raise ValueError(
            f"{spec.title} recording {path} cannot use the option(s) {shown}; "
            f"the options of {spec.title}: {accepted}"
        )
    for key in spec.required:
        if key not in given:
            hint = spec.hints.get(key, f"pass {key}=...")
            raise ValueError(f"{spec.title} recording {path} needs the option {key}: {hint}")


def _suffix(path: Path) -> str:
    return "".join(path.suffixes[-2:]) if path.suffix.lower() == ".gz" else path.suffix


# -- the formats, in the order they are tried -------------------------------------------------

register_format("xdf", read_xdf, title="XDF", suffixes=XDF_SUFFIXES)
register_format(
    "mne", read_mne, title="BrainVision/EDF/BDF/FIF/EEGLAB/BIDS (read with MNE)", suffixes=MNE_SUFFIXES
)
register_format(
    "imagenet-eeg",
    read_imagenet_eeg,
    title="ImageNet-EEG",
    suffixes=(".pth",),
    paths=".pth with a subject",
    hints={"subject": "the file holds several subjects; choose one with subject=N (--subject N, 1-6)"},
)
register_format(
    "things-eeg2",
    read_things_eeg2,
    title="THINGS-EEG2",
    recognises=is_things_eeg2,
    paths="raw_eeg_training.npy / raw_eeg_test.npy, or a ses-YY, sub-XX or raw_data folder of them",
)
