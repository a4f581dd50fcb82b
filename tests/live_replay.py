"""Replay a recording over loopback LSL into a marker-locked :class:`LiveSession`."""

from __future__ import annotations

import time
import uuid
from typing import NamedTuple

from rtdecode.decoder import OnlineDecoder, Prediction
from rtdecode.streams.live_session import LiveSession
from rtdecode.streams.player import DriverEmulation, Player, marker_stream_name
from rtdecode.streams.reader import StreamReader


class LiveRun(NamedTuple):
    predictions: list[Prediction]
    reader: StreamReader
    decoder: OnlineDecoder
    player: Player


def decode_replay(
    recording,
    bundle,
    *,
    speed: float = 1.0,
    driver: DriverEmulation | None = None,
    timeout: float = 120.0,
    adaptation: float | str | None = "bundle",
) -> LiveRun:
    """Serve ``recording`` (unique stream names), decode it live, and return every prediction.

    Waits for the whole replay and for the reader to hold every pushed sample, then for the
    decoder to finish the last epochs. The streams are closed on return. ``adaptation`` is the
    session's (:class:`LiveSession`).
    """
    name = f"test-live-{uuid.uuid4().hex[:8]}"
    player = Player(
        recording, name, speed=speed, source_id=uuid.uuid4().hex, wait_for_consumers=15.0, driver=driver
    )
    session = LiveSession(
        bundle, stream=name, markers=marker_stream_name(name), device="cpu", timeout=10, adaptation=adaptation
    )
    try:
        with session:
            player.start()
            player.join(timeout=timeout)
            deadline = time.monotonic() + 10
            while (
                session.reader.buffer.total < player.progress().samples_pushed and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            time.sleep(0.5)  # the last epochs' decoding
    finally:
        player.close()
    predictions = []
    while not session.decoder.predictions.empty():
        predictions.append(session.decoder.predictions.get())
    return LiveRun(predictions, session.reader, session.decoder, player)
