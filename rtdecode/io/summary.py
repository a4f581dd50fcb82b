"""Human-readable summaries of recordings of any format, for ``rtdecode info`` and the end of ``simulate``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rtdecode.io.formats import detect_format, read_recording
from rtdecode.io.marker_mapping import EVENTS_HINT, events_example, marker_codes
from rtdecode.io.markers import STIMULUS
from rtdecode.io.recording import Recording
from rtdecode.io.xdf import list_streams

# Gaps listed one by one before the summary only counts the rest.
_MAX_LISTED_GAPS = 5
# Marker codes listed one per line before the rest are counted together.
_MAX_LISTED_CODES = 40


def summarize_recording(recording: Recording) -> str:
    """Duration, channels, rate, stimulus markers per class, marker codes, blocks and timestamp gaps.

    Returns
    -------
    str
        Several lines of text, no trailing newline.
    """
    r = recording
    pauses = r.time_base.pauses if r.n_samples > 1 else []
    paused_s = sum(p.end_time - p.start_time for p in pauses)
    span = f"{r.duration_s:.1f} s"
    if pauses:
        span = (
            f"{r.duration_s - paused_s:.1f} s recorded over {r.duration_s:.1f} s "
            f"({_count(len(pauses), 'pause')} between runs)"
        )
    lines = [f"EEG: {r.n_channels} channels at {r.sfreq:g} Hz, {r.n_samples} samples, {span}"]
    if r.n_channels:
        shown = ", ".join(r.channel_names[:8]) + (" ..." if r.n_channels > 8 else "")
        lines.append(f"channels: {shown}")
    if r.metadata.get("subject") is not None:
        lines.append(f"subject: {r.metadata['subject']}")

    events = r.events()
    kinds = Counter(e.get("event", "?") for _, e in events)
    classes = Counter(e.get("class", e.get("label", "?")) for _, e in events if e.get("event") == STIMULUS)
    lines.append(
        f"markers: {len(events)} ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items())) or 'none'})"
    )
    if classes:
        blocks, source = r.blocks()
        lines.append(f"blocks: {len(set(blocks.tolist()))} ({source})")
    if classes:
        counts = sorted(classes.items(), key=lambda kv: (-kv[1], str(kv[0])))
        lines.append(f"stimuli by class ({len(classes)} classes):")
        lines.extend(f"  {str(name):28s} {n}" for name, n in counts)
    lines.extend(_code_lines(r, events))

    lines.extend(_timing_lines(r))
    return "\n".join(lines)


def _code_lines(r: Recording, events: list[tuple[float, dict[str, Any]]]) -> list[str]:
    """Every plain marker code with its count (and its class where a mapping made it a stimulus)."""
    codes = marker_codes(r.markers)
    if not codes:
        return []
    classes = {
        str(e["code"]): e.get("class") for _, e in events if e.get("event") == STIMULUS and "code" in e
    }
    ordered = sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"marker codes: {len(codes)} ({sum(codes.values())} markers)"]
    for code, n in ordered[:_MAX_LISTED_CODES]:
        mapped = f"  -> {classes[code]}" if code in classes else ""
        lines.append(f"  {code!r:28s} {n}{mapped}")
    if len(ordered) > _MAX_LISTED_CODES:
        rest = ordered[_MAX_LISTED_CODES:]
        lines.append(f"  ... and {len(rest)} more codes ({sum(n for _, n in rest)} markers)")
    if not any(e.get("event") == STIMULUS for _, e in events):
        lines.append(
            f"  no stimulus among them without a mapping: pass --events {events_example(codes)} "
            f"(CODE=CLASS pairs), {EVENTS_HINT}"
        )
    return lines


def _timing_lines(r: Recording) -> list[str]:
    """Effective rate, stamp jitter and true gaps, judged on the smoothed time base."""
    if r.n_samples < 2:
        return ["gaps: none"]
    time = r.time_base
    ppm = (time.effective_rate / r.sfreq - 1) * 1e6
    lines = [
        f"timing: effective rate {time.effective_rate:.4f} Hz ({ppm:+.0f} ppm vs nominal), "
        f"timestamp jitter {time.jitter_s * 1000:.2f} ms SD (largest {time.largest_deviation_s * 1000:.1f} ms)"
    ]
    if abs(ppm) > 1000:
        lines.append(
            f"  warning: the samples arrive {abs(ppm) / 1e4:.1f} % {'faster' if ppm > 0 else 'slower'} than the "
            "nominal rate; check the device's sampling-rate setting"
        )
    late = sum(e.kind == "late" for e in time.events)
    resets = sum(e.kind == "reset" for e in time.events)
    if late or resets:
        lines.append(f"  {late} late chunks (no sample missing), {resets} timestamp resets")
    pauses, gaps = time.pauses, time.gaps
    if pauses:
        longest = max(p.end_time - p.start_time for p in pauses)
        lines.append(
            f"pauses between runs: {len(pauses)}, {sum(p.end_time - p.start_time for p in pauses):.1f} s "
            f"(longest {longest:.1f} s; the stream stopped and resumed, or a block_end marker announced "
            "it: no samples lost, not counted as gaps)"
        )
    if not gaps:
        lines.append("gaps: none")
        return lines
    missing = sum(g.missing_samples for g in gaps)
    lines.append(f"gaps: {len(gaps)}, {missing} samples not delivered")
    for g in gaps[:_MAX_LISTED_GAPS]:
        lines.append(
            f"  at sample {g.index}: {g.end_time - g.start_time:.3f} s between "
            f"{g.start_time:.3f} and {g.end_time:.3f} ({g.missing_samples} samples)"
        )
    if len(gaps) > _MAX_LISTED_GAPS:
        lines.append(f"  ... and {len(gaps) - _MAX_LISTED_GAPS} more")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summarize_file(path: str | Path, **options: Any) -> str:
    """The summary of a recording file of any format, read with :func:`~rtdecode.io.read_recording`.

    An XDF file is listed stream by stream first (every stream, not only the EEG and markers read).

    Parameters
    ----------
    path : str or Path
        A recording :func:`~rtdecode.io.read_recording` recognises.
    **options
        Its reader's options (``subject=`` for ImageNet-EEG, ``events=`` for files read with MNE...).

    Returns
    -------
    str
        Several lines of text, no trailing newline.
    """
    path = Path(path)
    spec = detect_format(path)
    if path.is_dir():
        lines = [f"folder: {path}"]
    else:
        lines = [f"file: {path} ({path.stat().st_size / 1e6:.1f} MB)"]
    if spec.name == "xdf":
        lines.append("streams:")
        for s in list_streams(path):
            lines.append(
                f"  {s['name']!s:24s} type={s['type']!s:10s} channels={s['channel_count']:<4d} "
                f"rate={float(s['nominal_srate']):g} Hz  samples={s['n_samples']}  format={s['channel_format']}"
            )
    else:
        lines.append(f"format: {spec.title}")
    lines.append(summarize_recording(read_recording(path, **options)))
    return "\n".join(lines)
