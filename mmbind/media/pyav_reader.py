"""pyav_reader.py

The ``pyav`` frame-reading backend: PyAV (FFmpeg bundled in its wheels), seeking instead of decoding
the whole file.

On open, the video stream's packets are demuxed once *without decoding* (a few % of the cost of
decoding them) to build the frame index: the sorted presentation timestamps and which frames are
keyframes. That index is the frame count; container metadata (``nb_frames``) is not trusted because
it is 0 for MKV/WebM/MPEG-TS and stale for truncated files (decord builds the same packet index when it
opens a file). To read frames, each wanted frame is reached by seeking to the keyframe at or before it
and decoding forward, unless the decoder is already in that GOP, in which case it just keeps decoding.
On the way, non-reference frames that were not asked for are skipped (``skip_frame=NONREF``; nothing
else depends on them, so the output is unchanged), and decoding uses slice threads only: frame threading
must refill its pipeline after each seek and measured slower for 8-frame sampling (2 cores, 240p-720p).
Frames are converted to RGB24 with FFmpeg's swscale as decord does: both backends return bit-identical
frames for MP4 / MKV files (tested, B-frames included). For MPEG-TS with B-frames decord returns shifted
frames; this reader matches a plain sequential decode there.

Robustness rules (all failures are `MediaError` naming the file):

- Opening fails (missing, empty, unknown format) or the file has no video stream: `MediaError`.
  Cover art (``attached_pic``) is not a video stream. Still images and text (FFmpeg's ``*_pipe``,
  ``image2`` and ``tty`` demuxers) are rejected: use `mmbind.media.load_image` for images.
- A packet that fails to decode is skipped; if a wanted frame is thereby lost, the next frame that
  decodes stands in for it. If the stream ends before a wanted frame (truncated file), the reader
  raises `IncompleteVideoError` with the number of leading frames that do decode.
- Memory is bounded (`mmbind.media.limits`): frames larger than ``max_pixels`` are refused from the
  stream's header on open and checked again on each decoded frame before its RGB conversion; the index
  stops at ``max_frames`` packets (`MediaTooLarge`) and holds 9 bytes per frame.
- Decoding is bounded: one ``read`` feeds at most ``(len(indices) + 2) * (frame_count + 16)`` packets
  and gives up after 64 consecutive undecodable packets, so a damaged file cannot make it spin.
"""

from __future__ import annotations

import array
import bisect
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import av.error
import numpy as np

from mmbind.errors import MediaError
from mmbind.media.limits import DEFAULT_FRAME_PIXELS, DEFAULT_VIDEO_FRAMES, check_frame_count, check_pixels
from mmbind.media.reader import FrameReader, IncompleteVideoError

_NOT_VIDEO_FORMATS = {"tty", "bin", "xbin", "adf", "idf", "image2", "lavfi"}  # text / still-image demuxers
_MAX_BAD_PACKETS = 64  # consecutive undecodable packets before a run is abandoned
_SEEK_TRIES = 3  # keyframes tried (latest first) when a seek lands after the wanted frame
# Opening a file probes its streams (avformat_find_stream_info), which decodes frames to learn the codec's
# parameters: a 4800 x 4800 frame is 35 MB before any size check. Skipping every frame in that probe keeps
# the sizes (from the headers) and decodes nothing; the decoder that reads frames later is not affected.
PROBE_OPTIONS = {"skip_frame": "all"}


class PyAVReader(FrameReader):
    """Frame reader backed by PyAV; builds a packet index on open, seeks to keyframes to read."""

    backend = "pyav"

    def __init__(self, path: Path, max_pixels: int = DEFAULT_FRAME_PIXELS,
                 max_frames: int = DEFAULT_VIDEO_FRAMES) -> None:
        super().__init__(path, max_pixels, max_frames)
        try:
            self._container = open_container(path)
        except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
            raise MediaError(f"cannot open video {path}: {_reason(error)}") from None
        try:
            self._stream = self._video_stream()
            context = self._stream.codec_context  # None for a stream FFmpeg has no decoder for
            if context is not None:
                check_pixels(path, context.width, context.height, max_pixels, "video frames")
            self._configure_stream()
            self._pts, self._keyframes, self._timed = self._build_index()
        except BaseException:
            self.close()
            raise
        self._budget = 0  # packets the current read may still feed to the decoder
        self._wanted_stamps: set[int] = set()  # timestamps of the frames the current read returns

    @property
    def frame_count(self) -> int:
        return len(self._pts)

    @property
    def frame_rate(self) -> float | None:
        rate = self._stream.average_rate or self._stream.guessed_rate
        if rate and float(rate) > 0:
            return float(rate)
        span = (self._pts[-1] - self._pts[0]) * float(self._stream.time_base or 0) if self._timed else 0.0
        return (len(self._pts) - 1) / span if span > 0 else None

    def read(self, indices: Sequence[int]) -> np.ndarray:
        order = self._check_indices(indices)
        if not order:
            return np.zeros((0, self._stream.height, self._stream.width, 3), dtype=np.uint8)
        wanted = sorted(set(order))
        self._budget = (len(wanted) + 2) * (self.frame_count + 16)
        self._wanted_stamps = {self._pts[i] for i in wanted}
        got: dict[int, np.ndarray] = {}
        run: Iterator[tuple[int, av.VideoFrame]] | None = None
        position = -1  # index of the last frame the current run produced
        for slot, target in enumerate(wanted):
            if target in got:
                continue
            if run is None or self._keyframe_at_or_before(target) > position:
                run, position = self._positioned_run(target), -1
            for index, frame in run:
                position = index
                if index >= target:  # == target, or the next frame that decoded stands in for it
                    check_pixels(self.path, frame.width, frame.height, self.max_pixels, "a video frame")
                    array = frame.to_ndarray(format="rgb24")
                    for covered in itertools.takewhile(lambda i, index=index: i <= index, wanted[slot:]):
                        got[covered] = array
                    break
            else:
                decodable = self._decodable(target, position)
                raise IncompleteVideoError(self.path, decodable=decodable, indexed=self.frame_count)
        return np.stack([got[i] for i in order])

    def close(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()
            self._container = None

    # -- opening ---------------------------------------------------------------------------------------

    def _video_stream(self) -> av.video.stream.VideoStream:
        format_name = self._container.format.name
        if not_a_video(format_name):
            raise MediaError(f"not a video file (FFmpeg reads it as '{format_name}'): {self.path}")
        for stream in self._container.streams.video:
            if not stream.disposition & av.stream.Disposition.attached_pic:
                return stream
        raise MediaError(f"no video stream in {self.path}")

    def _configure_stream(self) -> None:
        self._stream.thread_type = "SLICE"  # frame threading refills its pipeline after every seek: slower

    def _build_index(self) -> tuple[list[int], list[int], bool]:
        """Sorted unique presentation timestamps of all packets, the positions of keyframes, and whether
        packets carry timestamps at all (raw elementary streams do not: frames are then counted)."""
        stamps, keys = array.array("q"), bytearray()  # one entry per packet: 9 bytes, not a dict's ~100
        untimed = 0
        try:
            for packet in self._container.demux(self._stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if packet.size and stamp is not None:
                    stamps.append(stamp)
                    keys.append(bool(packet.is_keyframe))
                elif packet.size:
                    untimed += 1
                check_frame_count(self.path, len(stamps) + untimed, self.max_frames)
        except av.error.FFmpegError:
            pass  # a damaged tail: index what was readable; reading reports what actually decodes
        if not stamps:
            if not untimed:
                raise MediaError(f"video has no frames: {self.path}")
            return list(range(untimed)), [0], False  # decode from the start, counting frames
        unique, slots = np.unique(np.frombuffer(stamps, dtype=np.int64), return_inverse=True)
        keyed = np.zeros(len(unique), dtype=bool)
        np.logical_or.at(keyed, slots, np.frombuffer(bytes(keys), dtype=bool))
        keyframes = np.flatnonzero(keyed).tolist() or [0]
        return unique.tolist(), keyframes if keyframes[0] == 0 else [0, *keyframes], True

    # -- decoding --------------------------------------------------------------------------------------

    def _keyframe_at_or_before(self, target: int) -> int:
        return self._keyframes[bisect.bisect_right(self._keyframes, target) - 1]

    def _positioned_run(self, target: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """A decoding run whose first frame is at or before ``target`` (or the earliest that decodes)."""
        slot = bisect.bisect_right(self._keyframes, target) - 1
        candidates = [self._keyframes[s] for s in range(slot, max(slot - _SEEK_TRIES, -1), -1)]
        if candidates[-1] != 0:
            candidates.append(0)
        first: tuple[int, av.VideoFrame] | None = None
        for key in candidates:
            run = self._run_from(key)
            first = next(run, None)
            if first is not None and first[0] <= target:
                break
        return itertools.chain([first], run) if first is not None else iter(())

    def _run_from(self, key: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Seek to the keyframe at index ``key`` (0: the start); yield ``(index, frame)`` decoding forward."""
        try:
            if key == 0:
                self._rewind()
            else:
                self._container.seek(self._pts[key], stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as error:
            raise MediaError(f"cannot seek in video {self.path}: {_reason(error)}") from None
        codec = self._stream.codec_context
        previous, bad = key - 1, 0
        for packet in self._packets():
            self._budget -= 1
            if self._budget < 0:
                raise MediaError(f"gave up decoding video {self.path}: too many packets without the frames")
            if packet is not None and self._timed:  # unrequested non-reference frames need not be decoded
                stamp = packet.pts if packet.pts is not None else packet.dts
                codec.skip_frame = "DEFAULT" if stamp in self._wanted_stamps else "NONREF"
            try:
                frames = codec.decode(packet)
                bad = 0
            except av.error.FFmpegError:
                bad += 1
                if bad > _MAX_BAD_PACKETS:
                    return
                continue
            for frame in frames:
                previous = self._index_of(frame, previous)
                yield previous, frame

    def _rewind(self) -> None:
        """Back to the first frame; by time 0, since seeking to the first timestamp overshoots in some
        demuxers (MPEG-TS), or by reopening the file where seeking is impossible (raw H.264)."""
        try:
            self._container.seek(0)
        except av.error.FFmpegError:
            index = self._stream.index
            self._container.close()
            self._container = open_container(self.path)
            self._stream = self._container.streams.video[index]
            self._configure_stream()

    def _packets(self) -> Iterator[av.Packet | None]:
        """The stream's packets from the current position; a flush (``None``) even if demuxing fails."""
        try:
            for packet in self._container.demux(self._stream):
                yield packet if packet.size else None
        except av.error.FFmpegError:
            yield None

    def _index_of(self, frame: av.VideoFrame, previous: int) -> int:
        if frame.pts is None or not self._timed:
            return previous + 1
        stamps, stamp = self._pts, frame.pts
        slot = bisect.bisect_left(stamps, stamp)  # nearest indexed timestamp
        if slot == len(stamps) or (slot > 0 and stamp - stamps[slot - 1] < stamps[slot] - stamp):
            slot -= 1
        return slot

    def _decodable(self, target: int, position: int) -> int:
        """Leading frames known to decode after a run ended before ``target``."""
        if position >= 0:
            return position + 1
        return self._keyframe_at_or_before(target)


def open_container(path: Path) -> av.container.InputContainer:
    """``av.open(path)`` for reading, probing its streams without decoding a frame (`PROBE_OPTIONS`)."""
    return av.open(str(path), mode="r", options=PROBE_OPTIONS)


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def not_a_video(format_name: str) -> bool:
    """Whether FFmpeg's demuxer ``format_name`` reads text or a still image rather than a video."""
    return format_name in _NOT_VIDEO_FORMATS or format_name.endswith("_pipe")


def check_video_container(path: Path) -> None:
    """`MediaError` when FFmpeg reads ``path`` as text or a still image (other backends happily "decode"
    those as one-frame videos); other problems are left to the backend."""
    try:
        with open_container(path) as container:
            name = container.format.name
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return
    if not_a_video(name):
        raise MediaError(f"not a video file (FFmpeg reads it as '{name}'): {path}")


def frame_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` of the first video stream from its header (None when FFmpeg cannot tell)."""
    try:
        with open_container(path) as container:
            stream = next((s for s in container.streams.video
                           if not s.disposition & av.stream.Disposition.attached_pic), None)
            context = stream.codec_context if stream is not None else None
            if context is None or not context.width:
                return None
            return int(context.width), int(context.height)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        return None


def check_frame_size(path: Path, max_pixels: int) -> None:
    """`MediaTooLarge` when the header's frame size is over ``max_pixels`` (for backends that decode
    without asking)."""
    size = frame_size(path)
    if size is not None:
        check_pixels(path, *size, max_pixels, "video frames")


def source_bit_depth(path: Path) -> int:
    """Bits per sample of the first video stream's pixel format (8 when it cannot be told); the probe
    decodes a frame to learn the format: check the frame size first (`check_frame_size`)."""
    try:
        with av.open(str(path)) as container:
            stream = next(iter(container.streams.video), None)
            name = getattr(getattr(stream, "codec_context", None), "pix_fmt", None)
            return max((c.bits for c in av.VideoFormat(name).components), default=8) if name else 8
    except (av.error.FFmpegError, ValueError, OSError):
        return 8
