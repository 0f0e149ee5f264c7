"""audio_files.py

The ``audio`` media loader: an audio file, or the audio track of a video file, to
``(waveform, sample_rate)``: a float32 tensor ``(channels, samples)`` and the rate in Hz, what
``torchaudio.load`` returns (LanguageBind's reader). Decoded with PyAV (FFmpeg in its wheels), so
WAV, FLAC, MP3, Ogg/Vorbis/Opus, M4A/AAC and the audio of MP4 / MKV / WebM / AVI files all read; nothing
is resampled (the encoder's transform resamples).

Samples are scaled as torchaudio / libsndfile scale them: integer PCM by its full range (``s16`` / 32768,
``s32`` / 2^31, ``u8`` as ``(x - 128) / 128``), float samples unchanged; channels in the file's order.
The first audio stream is read. Packets that fail to decode are skipped (at most 64 in a row).

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

from mmbind import MediaError, MediaLoaderEntry, hookimpl
from mmbind.interfaces import MediaLoader
from mmbind.media.reader import require_file
from mmbind.recipe.strict import StrictModel

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
_INTEGER_SCALES = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}
_MAX_BAD_PACKETS = 64  # consecutive undecodable packets before the file is given up


class AudioFileOptions(StrictModel):
    """Options of the ``audio`` loader (none)."""


def read_audio(path: str | Path) -> tuple[torch.Tensor, int]:
    """``(waveform (channels, samples) float32, sample_rate)`` of the first audio stream at ``path``."""
    path = require_file(path, "audio")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise MediaError(f"cannot open audio {path}: {_reason(error)}") from None
    with container:
        stream = next(iter(container.streams.audio), None)
        if stream is None:
            raise MediaError(f"{path}: no audio stream (streams: {_stream_kinds(container)})")
        chunks, rate = _decode(path, container, stream)
    if not chunks:
        raise MediaError(f"{path}: the audio stream decodes to no samples")
    return torch.from_numpy(np.concatenate(chunks, axis=1)), rate


def _decode(path: Path, container: av.container.InputContainer, stream: av.AudioStream) -> tuple[list, int]:
    chunks: list[np.ndarray] = []
    rate: int | None = None
    channels: int | None = None
    bad = 0
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


class AudioFiles(MediaLoader):
    """Reads the first audio stream of each file."""

    def load(self, path: Path) -> tuple[torch.Tensor, int]:
        return read_audio(path)


def build(options: AudioFileOptions) -> AudioFiles:
    return AudioFiles()


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("audio", AudioFileOptions, build, AUDIO_SUFFIXES, False,
                             "audio files and the audio track of videos, as (waveform, sample rate)")]
