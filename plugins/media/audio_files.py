"""audio_files.py

The ``audio`` media loader: an audio file, or the audio track of a video file, to
``(waveform, sample_rate)``: a float32 tensor ``(channels, samples)`` and the rate in Hz, what
``torchaudio.load`` returns (LanguageBind's reader). Decoded with PyAV (FFmpeg in its wheels), so
WAV, FLAC, MP3, Ogg/Vorbis/Opus, M4A/AAC and the audio of MP4 / MKV / WebM / AVI files all read; nothing
is resampled (the encoder's transform resamples).

Samples are scaled as torchaudio / libsndfile scale them: integer PCM by its full range (``s16`` / 32768,
``s32`` / 2^31, ``u8`` as ``(x - 128) / 128``), float samples unchanged; channels in the file's order.
The first audio stream is read. Packets that fail to decode are skipped (at most 64 in a row).

Decoding is bounded: at most ``max_audio_seconds`` (default 600) are decoded; a longer stream is refused
as soon as decoding passes the limit (`mmbind.media.limits.MediaTooLarge`), before its samples are joined.

Errors (`MediaError` naming the file): a missing file, one FFmpeg cannot open, a file without an audio
stream (e.g. a silent video), one whose audio decodes to no samples, and a stream whose sample rate or
channel count changes midway.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.error
import numpy as np
import torch
from pydantic import Field

from mmbind import MediaError, MediaLoaderEntry, hookimpl
from mmbind.interfaces import MediaLoader
from mmbind.media.limits import DEFAULT_AUDIO_SECONDS, check_audio_seconds
from mmbind.media.reader import require_file
from mmbind.recipe.strict import StrictModel

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
_INTEGER_SCALES = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}
_MAX_BAD_PACKETS = 64  # consecutive undecodable packets before the file is given up


class AudioFileOptions(StrictModel):
    """Options of the ``audio`` loader."""

    max_audio_seconds: float | None = Field(None, gt=0, allow_inf_nan=False,
                                            description=f"refuse audio longer than this (default "
                                                        f"{DEFAULT_AUDIO_SECONDS:g} s)")


def read_audio(path: str | Path, max_seconds: float = DEFAULT_AUDIO_SECONDS) -> tuple[torch.Tensor, int]:
    """``(waveform (channels, samples) float32, sample_rate)`` of the first audio stream at ``path``
    (`MediaTooLarge` past ``max_seconds``)."""
    path = require_file(path, "audio")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise MediaError(f"cannot open audio {path}: {_reason(error)}") from None
    with container:
        stream = next(iter(container.streams.audio), None)
        if stream is None:
            raise MediaError(f"{path}: no audio stream (streams: {_stream_kinds(container)})")
        chunks, rate = _decode(path, container, stream, max_seconds)
    if not chunks:
        raise MediaError(f"{path}: the audio stream decodes to no samples")
    return torch.from_numpy(np.concatenate(chunks, axis=1)), rate


def _decode(path: Path, container: av.container.InputContainer, stream: av.AudioStream,
            max_seconds: float) -> tuple[list, int]:
    chunks: list[np.ndarray] = []
    rate: int | None = None
    channels: int | None = None
    bad = samples_seen = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad += 1
                if bad > _MAX_BAD_PACKETS:
                    raise MediaError(f"cannot decode audio {path}: {bad} bad packets in a row") from None
                continue
            bad = 0
            for frame in frames:
                samples = frame_samples(frame)
                if rate is None:
                    rate, channels = int(frame.sample_rate), samples.shape[0]
                if (int(frame.sample_rate), samples.shape[0]) != (rate, channels):
                    raise MediaError(
                        f"{path}: the audio changes from {channels} channel(s) at {rate} Hz to "
                        f"{samples.shape[0]} at {frame.sample_rate} Hz midway"
                    )
                samples_seen += samples.shape[1]
                check_audio_seconds(path, samples_seen / rate, max_seconds)
                chunks.append(samples)
    except av.error.FFmpegError as error:
        raise MediaError(f"cannot read audio {path}: {_reason(error)}") from None
    return chunks, rate or 0


def frame_samples(frame: av.AudioFrame) -> np.ndarray:
    """One decoded frame as float32 ``(channels, samples)``, scaled as torchaudio scales it."""
    data = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar:  # interleaved: (1, samples * channels)
        data = data.reshape(-1, channels).T
    name = frame.format.name.rstrip("p")
    if name == "u8":
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if name in _INTEGER_SCALES:
        return (data.astype(np.float64) / _INTEGER_SCALES[name]).astype(np.float32)
    return np.ascontiguousarray(data, dtype=np.float32)


def _stream_kinds(container: av.container.InputContainer) -> str:
    return ", ".join(s.type for s in container.streams) or "none"


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def audio_bytes(path: Path, max_seconds: float) -> int:
    """Bytes of the float32 waveform `read_audio` returns, from the header: the stream's duration, or
    ``max_seconds`` when it does not tell (or tells more)."""
    path = require_file(path, "audio")
    try:
        with av.open(str(path), mode="r") as container:
            stream = next(iter(container.streams.audio), None)
            if stream is None:
                raise MediaError(f"{path}: no audio stream (streams: {_stream_kinds(container)})")
            seconds = float(stream.duration * stream.time_base) if stream.duration and stream.time_base \
                else (container.duration or 0) / av.time_base
            rate, channels = int(stream.rate or 48000), int(stream.channels or 2)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise MediaError(f"cannot open audio {path}: {_reason(error)}") from None
    seconds = min(seconds, max_seconds) if seconds > 0 else max_seconds
    return int(seconds * rate * channels * 4)


class AudioFiles(MediaLoader):
    """Reads the first audio stream of each file."""

    def __init__(self, max_seconds: float | None = None) -> None:
        self.max_seconds = max_seconds or DEFAULT_AUDIO_SECONDS

    def decoded_bytes(self, path: Path) -> int:
        return audio_bytes(path, self.max_seconds)

    def load(self, path: Path) -> tuple[torch.Tensor, int]:
        return read_audio(path, self.max_seconds)


def build(options: AudioFileOptions) -> AudioFiles:
    return AudioFiles(options.max_audio_seconds)


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("audio", AudioFileOptions, build, AUDIO_SUFFIXES, False,
                             "audio files and the audio track of videos, as (waveform, sample rate)")]
