"""Plain marker codes mapped to classes: what ``--events`` says, for files and live streams alike.

Labs mark stimuli with plain strings or numbers (PsychoPy, Presentation, E-Prime or a trigger box
sending ``"1"``, ``"S  2"``, ``"stim/face/023"``), not with the project's JSON markers. A
:class:`MarkerMapping` says which codes are stimuli of which class, in one of three forms:

=========================  =====================================================================
``1=house,2=face``         CODE=CLASS pairs, comma-separated; several codes may name one class
``mapping.tsv``            a file of CODE<tab>CLASS lines (``#`` comments and a ``code<tab>class``
                           header allowed; ``CODE,CLASS`` in a ``.csv``), or a ``.json`` object
                           ``{"1": "house", "2": "face"}``
``stim/{class}/{image}``   a pattern for hierarchical codes: ``{class}`` (required), ``{image}``,
                           ``{block}`` (digits) and ``{*}`` (anything); the rest is literal text.
                           ``stim/face/023`` is then class ``face``, image ``023``
=========================  =====================================================================

A code matches as sent, or in the other spellings tools give the same code: spaces dropped, a
BrainVision-style type prefix dropped (``S1`` matches ``Stimulus/S  1``), whole numbers without
``.0`` (``1`` matches ``1.0``). The project's JSON markers are read as they are with or without
a mapping.

:func:`map_markers` applies a mapping to a file's markers (every reader that takes ``events=``
calls it) and refuses the usual mistakes with one line that names the codes the file has: codes
absent from the file, a mapping that leaves one class, a mapping that matches nothing. Live, the
decoder reads each marker with :func:`~rtdecode.io.markers.parse_marker` and the same mapping;
a model bundle remembers the mapping it was calibrated with (:meth:`MarkerMapping.to_dict`).
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rtdecode.io.markers import STIMULUS, project_event, stimulus_marker
from rtdecode.io.recording import Marker

log = logging.getLogger(__name__)

__all__ = [
    "MarkerMapping",
    "canonical_code",
    "events_example",
    "format_codes",
    "map_markers",
    "marker_codes",
    "no_stimuli_message",
]

# Suffixes that make an --events value a mapping file even before it is found on disk.
MAPPING_FILE_SUFFIXES = (".tsv", ".txt", ".csv", ".json")
# What the fields of a pattern match (lazily, so that literal text between fields decides).
PATTERN_FIELDS = {
    "class": r"(?P<cls>.+?)",
    "image": r"(?P<image>.+?)",
    "block": r"(?P<block>\d+)",
    "*": r".*?",
}
# First cells and second cells of a mapping file's header line (BIDS events.json uses value / trial_type).
_HEADER_CODES = {"code", "codes", "value", "marker", "event", "trigger"}
_HEADER_CLASSES = {"class", "classes", "trial_type", "name", "label", "condition", "category"}
# Codes shown in one message before "... and N more".
_SHOWN_CODES = 20
# Hint of the three forms, the end of every message about a missing or wrong mapping.
EVENTS_HINT = (
    "a mapping file (--events mapping.tsv: CODE<tab>CLASS lines) or a pattern for hierarchical "
    "codes (--events 'stim/{class}/{image}')"
)


def canonical_code(text: str) -> str:
    """The spelling codes are compared in when they differ as sent.

    ``"Stimulus/S  1"`` -> ``"S1"``, ``" 2.0"`` -> ``"2"``, ``"S 12"`` -> ``"S12"``. Only a
    single type prefix (one ``/``) is dropped, so hierarchical codes keep their parts.
    """
    code = str(text).strip()
    if code.count("/") == 1:
        code = code.split("/")[1]
    code = "".join(code.split())
    try:
        number = float(code)
    except ValueError:
        return code
    return str(int(number)) if number.is_integer() else code


@dataclass(frozen=True)
class MarkerMapping:
    """Which plain marker codes are stimuli, of which class.

    Attributes
    ----------
    codes : dict
        ``{code: class name}``; empty for a pattern.
    pattern : str or None
        A pattern with a ``{class}`` field (and optionally ``{image}``, ``{block}``, ``{*}``).
    classes : tuple of str
        The class names in label order: for codes, the order of first appearance in the mapping
        unless given; for a pattern, filled from the data (:func:`map_markers`) or a bundle.
    spec : str
        The mapping as the user gave it, for messages.
    """

    codes: dict[str, str] = field(default_factory=dict)
    pattern: str | None = None
    classes: tuple[str, ...] = ()
    spec: str = ""
    _lookup: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if bool(self.codes) == (self.pattern is not None):
            raise ValueError("a marker mapping has either CODE=CLASS pairs or a pattern, not both or neither")
        classes = tuple(str(c) for c in self.classes)
        if self.codes:
            _check_class_spellings(self.codes.values(), self.spec)
            named = list(dict.fromkeys(self.codes.values()))
            if len(named) < 2:
                raise ValueError(
                    f"--events {self.spec}: every code is class {named[0]!r}; a decoder needs two or more "
                    "classes: give each class its own code, e.g. --events 1=house,2=face"
                )
            classes += tuple(c for c in named if c not in classes)
            # Spellings two codes share with different classes are left to exact matching.
            spelled: dict[str, set[str]] = {}
            for code, name in self.codes.items():
                spelled.setdefault(canonical_code(code), set()).add(name)
            lookup = {key: names.pop() for key, names in spelled.items() if len(names) == 1}
            object.__setattr__(self, "_lookup", lookup)
        else:
            object.__setattr__(self, "_regex", _compile_pattern(str(self.pattern)))
        object.__setattr__(self, "classes", classes)
        if not self.spec:
            object.__setattr__(self, "spec", self.describe())

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def parse(cls, spec: str | Path) -> MarkerMapping:
        """The mapping an ``--events`` value gives: pairs, a mapping file or a pattern.

        Raises
        ------
        ValueError
            Malformed pairs, pattern or file (the message says which part and the form expected),
            a code given twice, class names that differ only in case or spaces, or one class.
        FileNotFoundError
            A mapping file (``.tsv``, ``.txt``, ``.csv``, ``.json``) that does not exist.
        """
        text = str(spec).strip()
        if not text:
            raise ValueError(f"--events is empty; give CODE=CLASS pairs (e.g. 1=house,2=face), {EVENTS_HINT}")
        if "{" in text or "}" in text:
            return cls(pattern=text, spec=text)
        path = Path(text)
        if path.is_file() or ("=" not in text and path.suffix.lower() in MAPPING_FILE_SUFFIXES):
            return cls._from_file(path)
        return cls._from_pairs(_pairs(text), text)

    @classmethod
    def _from_pairs(cls, pairs: list[tuple[str, str]], spec: str) -> MarkerMapping:
        codes: dict[str, str] = {}
        for code, name in pairs:
            if code in codes and codes[code] != name:
                raise ValueError(
                    f"--events {spec}: code {code!r} is given twice, as {codes[code]!r} and as {name!r}; "
                    "give each code once"
                )
            codes[code] = name
        if not codes:
            raise ValueError(f"--events {spec}: no CODE=CLASS pair; give e.g. 1=house,2=face, {EVENTS_HINT}")
        return cls(codes=codes, spec=spec)

    @classmethod
    def _from_file(cls, path: Path) -> MarkerMapping:
        if not path.is_file():
            raise FileNotFoundError(
                f"marker mapping file {path} does not exist; check the path given to --events"
            )
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() == ".json":
            try:
                content = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"marker mapping file {path} is not valid JSON ({error})") from None
            if not isinstance(content, dict) or not all(isinstance(v, str | int) for v in content.values()):
                raise ValueError(
                    f'marker mapping file {path} must hold one JSON object of code: class, e.g. {{"1": "house"}}'
                )
            pairs = [(str(k).strip(), str(v).strip()) for k, v in content.items()]
        else:
            pairs = _file_pairs(path, text)
        return cls._from_pairs(pairs, str(path))

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> MarkerMapping:
        """The mapping :meth:`to_dict` stored (in a model bundle or a recording's metadata).

        Raises
        ------
        ValueError
            Not a stored mapping.
        """
        if not isinstance(stored, Mapping) or not (stored.get("codes") or stored.get("pattern")):
            raise ValueError(f"not a stored marker mapping (codes or pattern): {stored!r}")
        codes = stored.get("codes") or {}
        if not isinstance(codes, Mapping):
            raise ValueError(f"the codes of a stored marker mapping must be an object, got {codes!r}")
        return cls(
            codes={str(k): str(v) for k, v in codes.items()},
            pattern=stored.get("pattern"),
            classes=tuple(str(c) for c in stored.get("classes") or ()),
            spec=str(stored.get("spec") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``codes`` or ``pattern``, ``classes`` (label order) and ``spec``."""
        out: dict[str, Any] = {"codes": dict(self.codes)} if self.codes else {"pattern": self.pattern}
        out.update(classes=list(self.classes), spec=self.spec)
        return out

    def with_classes(self, names: Sequence[str]) -> MarkerMapping:
        """The same mapping with labels in the order of ``names`` (a model's classes) first."""
        names = [str(n) for n in names]
        return replace(self, classes=tuple(names) + tuple(c for c in self.classes if c not in names))

    # -- reading markers ----------------------------------------------------------------------
    def match(self, text: str) -> tuple[str, str | None, int | None] | None:
        """``(class, image or None, block or None)`` of a plain code, or None when it is no stimulus."""
        code = str(text).strip()
        if self._regex is not None:
            found = self._regex.fullmatch(code)
            if found is None:
                return None
            groups = found.groupdict()
            block = groups.get("block")
            return groups["cls"], groups.get("image"), None if block is None else int(block)
        name = self.codes.get(code)
        if name is None:
            name = self._lookup.get(canonical_code(code))
        return None if name is None else (name, None, None)

    def event(self, text: str) -> dict[str, Any] | None:
        """The stimulus event of a plain code (``class``, ``label`` when the class is known,
        ``code``, and ``image`` / ``block`` from a pattern), or None when it is no stimulus."""
        found = self.match(text)
        if found is None:
            return None
        name, image, block = found
        event: dict[str, Any] = {"event": STIMULUS}
        if image is not None:
            event["image"] = image
        if name in self.classes:
            event["label"] = self.classes.index(name)
        event["class"] = name
        if block is not None:
            event["block"] = block
        event["code"] = str(text)
        return event

    def describe(self) -> str:
        """``1=house, 2=face`` or ``pattern 'stim/{class}/{image}'``, for logs."""
        if self.pattern is not None:
            return f"pattern {self.pattern!r}"
        return ", ".join(f"{code}={name}" for code, name in self.codes.items())


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, sep, name = item.partition("=")
        if not sep or not code.strip() or not name.strip():
            raise ValueError(
                f"--events must be CODE=CLASS pairs separated by commas, got {item!r} in {text!r}; "
                f"or give {EVENTS_HINT}"
            )
        pairs.append((code.strip(), name.strip()))
    return pairs


def _file_pairs(path: Path, text: str) -> list[tuple[str, str]]:
    """CODE<tab>CLASS lines (CODE,CLASS in a .csv; CODE=CLASS also read), comments and a header skipped."""
    comma = path.suffix.lower() == ".csv"
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for separator in ("\t", "," if comma else "=", "="):
            cells = [c.strip() for c in line.split(separator)]
            if len(cells) >= 2:
                break
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise ValueError(
                f"marker mapping file {path}, line {number}: expected CODE<tab>CLASS, got {line.strip()!r}"
            )
        if not pairs and cells[0].lower() in _HEADER_CODES and cells[1].lower() in _HEADER_CLASSES:
            continue  # the header line
        pairs.append((cells[0], cells[1]))
    if not pairs:
        raise ValueError(f"marker mapping file {path} holds no CODE<tab>CLASS line")
    return pairs


def _check_class_spellings(names: Iterable[str], spec: str) -> None:
    """Refuse class names that differ only in case or spaces: one class typed two ways by accident."""
    seen: dict[str, str] = {}
    for name in dict.fromkeys(names):
        key = " ".join(name.lower().split())
        if key in seen:
            raise ValueError(
                f"--events {spec}: classes {seen[key]!r} and {name!r} differ only in case or spaces; "
                "spell each class one way (two codes of one class may share its name)"
            )
        seen[key] = name


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    regex, fields = "", []
    for part in re.split(r"(\{[^{}]*\})", pattern.strip()):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].strip()
            if name not in PATTERN_FIELDS:
                raise ValueError(
                    f"--events pattern {pattern!r}: unknown field {part}; the fields are "
                    + ", ".join(f"{{{f}}}" for f in PATTERN_FIELDS)
                )
            if name != "*" and name in fields:
                raise ValueError(f"--events pattern {pattern!r}: field {part} appears twice")
            fields.append(name)
            regex += PATTERN_FIELDS[name]
        elif "{" in part or "}" in part:
            raise ValueError(f"--events pattern {pattern!r}: unbalanced brace in {part!r}")
        else:
            regex += re.escape(part)
    if "class" not in fields:
        raise ValueError(
            f"--events pattern {pattern!r} has no {{class}} field: say where the class is, "
            "e.g. 'stim/{class}/{image}'"
        )
    return re.compile(regex)


# -- a file's markers ---------------------------------------------------------------------------


def marker_codes(markers: Iterable[Marker]) -> Counter[str]:
    """How often each plain code occurs: plain markers' texts, and the ``code`` a mapped stimulus
    came from. The project's own JSON markers are no codes."""
    codes: Counter[str] = Counter()
    for marker in markers:
        event = project_event(marker.text)
        if event is None:
            codes[marker.text] += 1
        elif "code" in event:
            codes[str(event["code"])] += 1
    return codes


def format_codes(codes: Mapping[str, int], limit: int = _SHOWN_CODES) -> str:
    """``1 (394), 2 (394), "S 99" (3)``: the most frequent codes first, at most ``limit``."""
    ordered = sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{_show(code)} ({n})" for code, n in ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more codes" if len(ordered) > limit else "")


def _show(code: str) -> str:
    return code if re.fullmatch(r"[\w./:+-]+", code) else json.dumps(code, ensure_ascii=False)


def no_stimuli_message(codes: Mapping[str, int], where: str) -> str:
    """The one line that says why ``where`` has no stimulus marker and which option fixes it."""
    if not codes:
        return (
            f"no stimulus markers in {where}: it has no marker codes at all; record the marker stream "
            "with the EEG (or decode without markers with `rtdecode live --mode sliding`)"
        )
    return (
        f"no stimulus markers in {where}: its markers are plain codes, {format_codes(codes)}, and no "
        f"mapping says which are stimuli of which class; pass --events {events_example(codes)} (CODE=CLASS "
        f"pairs), {EVENTS_HINT}"
    )


def events_example(codes: Mapping[str, int]) -> str:
    """``1=CLASS,2=CLASS`` from the two most frequent codes, in their natural order (shell-quoted)."""
    ordered = [canonical_code(c) for c, _ in sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))]
    common = sorted(list(dict.fromkeys(c for c in ordered if c))[:2], key=_natural)
    return _quoted(",".join(f"{c}=CLASS" for c in common) or "CODE=CLASS")


def _natural(code: str) -> tuple[int, float, str]:
    try:
        return 0, float(code), code
    except ValueError:
        return 1, 0.0, code


def _quoted(text: str) -> str:
    return text if re.fullmatch(r"[\w.,=/:+-]+", text) else f"'{text}'"


def map_markers(
    markers: Sequence[Marker], mapping: MarkerMapping | None, where: str
) -> tuple[list[Marker], MarkerMapping | None]:
    """A file's markers with the mapped plain codes as the project's stimulus markers.

    Parameters
    ----------
    markers : sequence of Marker
        As read from the file.
    mapping : MarkerMapping or None
        None returns the markers as they are (in time order).
    where : str
        The file, for messages.

    Returns
    -------
    markers : list of Marker
        In time order; each mapped code is a JSON stimulus marker with its ``class``, ``label``,
        ``code``, ``image`` (the pattern's, else ``<code>-<n>``) and the pattern's ``block``.
        Every other marker is kept as it is.
    mapping : MarkerMapping or None
        ``mapping`` with its classes completed from the file (a pattern's, sorted).

    Raises
    ------
    ValueError
        One line naming the codes the file has, when the mapping matches no marker, names codes
        the file does not have, or leaves fewer than two classes.
    """
    ordered = sorted(markers, key=lambda m: m.timestamp)
    if mapping is None:
        return ordered, None
    found = [None if project_event(m.text) is not None else mapping.match(m.text) for m in ordered]
    codes = marker_codes(ordered)
    has = f"its marker codes: {format_codes(codes) or 'none'}"
    matched = [f for f in found if f is not None]
    if not matched:
        own = sum(1 for m in ordered if (project_event(m.text) or {}).get("event") == STIMULUS)
        if own:
            raise ValueError(
                f"--events {mapping.spec} matches no marker of {where}: its {own} stimulus markers are the "
                "project's JSON markers, which need no mapping; leave --events out"
            )
        raise ValueError(f"none of the codes of --events {mapping.spec} occurs in {where}; {has}")
    if mapping.codes:
        seen = {m.text.strip() for m, f in zip(ordered, found, strict=True) if f is not None}
        seen |= {canonical_code(code) for code in seen}
        missing = [c for c in mapping.codes if c not in seen and canonical_code(c) not in seen]
        if missing:
            listed = ", ".join(f"{_show(c)} ({mapping.codes[c]})" for c in missing)
            raise ValueError(f"--events {mapping.spec}: code(s) {listed} do not occur in {where}; {has}")
    per_class = Counter(name for name, _, _ in matched)
    if len(per_class) < 2:
        ((name, n),) = per_class.items()
        raise ValueError(
            f"--events {mapping.spec} gives one class in {where} ({name}: {n} markers); a decoder needs two "
            f"or more classes; {has}"
        )
    mapping = replace(mapping, classes=mapping.classes + tuple(sorted(set(per_class) - set(mapping.classes))))
    out, n = [], 0
    for marker, hit in zip(ordered, found, strict=True):
        if hit is None:
            out.append(marker)
            continue
        name, image, block = hit
        image = image or f"{_file_safe(canonical_code(marker.text))}-{n:05d}"
        text = stimulus_marker(image, mapping.classes.index(name), name, block, code=marker.text)
        out.append(Marker(marker.timestamp, text))
        n += 1
    _log_mapped(mapping, per_class, codes, where)
    return out, mapping


def _file_safe(code: str) -> str:
    # Image ids name image files (<image_id>.png): no path separators or spaces.
    return re.sub(r"[^\w.-]+", "_", code)


def _log_mapped(mapping: MarkerMapping, per_class: Counter[str], codes: Counter[str], where: str) -> None:
    shared = {}
    for code, name in mapping.codes.items():
        shared.setdefault(name, []).append(code)
    several = {name: found for name, found in shared.items() if len(found) > 1}
    log.info(
        "%s: %d stimulus markers of %d classes (%s) through --events %s%s",
        where,
        sum(per_class.values()),
        len(per_class),
        ", ".join(f"{name}: {n}" for name, n in per_class.most_common()),
        mapping.spec,
        "; several codes for one class: " + "; ".join(f"{n} <- {', '.join(c)}" for n, c in several.items())
        if several
        else "",
    )
