"""Voice notes as WhatsApp plays them: OGG container, Opus codec, mono.

Browsers record WebM/Opus (Chromium), OGG/Opus (Firefox) or MP4/AAC (Safari); WhatsApp shows
a voice note (with its play button) only for OGG/Opus. PyAV carries its own FFmpeg build.
"""

from __future__ import annotations

from pathlib import Path

import av

SAMPLE_RATE = 48_000
BIT_RATE = 32_000  # speech; keeps a minute under WhatsApp's 512 KB voice-note limit
MAX_SECONDS = 15 * 60


class AudioError(Exception):
    """The file is not audio we can read."""


def to_ogg_opus(source: Path, dest: Path) -> float:
    """Re-encode ``source`` into ``dest``; returns the duration in seconds."""
    try:
        with av.open(str(source)) as reader:
            if not reader.streams.audio:
                raise AudioError("no audio stream")
            with av.open(str(dest), "w", format="ogg") as writer:
                stream = writer.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
                stream.bit_rate = BIT_RATE
                resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                seconds = 0.0
                for frame in reader.decode(audio=0):
                    for converted in resampler.resample(frame):
                        seconds += converted.samples / SAMPLE_RATE
                        if seconds > MAX_SECONDS:
                            raise AudioError("voice note too long")
                        writer.mux(stream.encode(converted))
                for converted in resampler.resample(None):
                    writer.mux(stream.encode(converted))
                writer.mux(stream.encode(None))
    except av.FFmpegError as exc:
        dest.unlink(missing_ok=True)
        raise AudioError(str(exc)) from exc
    except AudioError:
        dest.unlink(missing_ok=True)
        raise
    return seconds
