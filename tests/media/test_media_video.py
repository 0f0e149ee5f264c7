"""Video reading: uniform sampling, pyav/decord parity, frame counting, and the error rules."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mmbind.errors import MediaError
from mmbind.media import AUTO_BACKEND, frame_indices, load_video, open_reader, read_frames
from mmbind.media.pyav_reader import PyAVReader
from tests.support.media import (  # noqa: F401  (videos is a fixture)
    decode_all,
    frame_id,
    truncated_copy,
    videos,
    write_audio_only,
    write_zero_frame_video,
)

needs_decord = pytest.mark.skipif(
    importlib.util.find_spec("decord") is None, reason="decord is optional (x86_64-only wheels)"
)


def _torchcodec_works() -> bool:
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401 -- loads the system's FFmpeg libraries
    except (ImportError, OSError, RuntimeError):
        return False
    return True


needs_torchcodec = pytest.mark.skipif(not _torchcodec_works(),
                                      reason="torchcodec is optional (and needs the system's FFmpeg)")
BACKENDS = ["pyav", pytest.param("decord", marks=needs_decord),
            pytest.param("torchcodec", marks=needs_torchcodec)]


def ids(frames: np.ndarray) -> list[int]:
    return [frame_id(frame) for frame in frames]


# -- sampling -------------------------------------------------------------------------------------------


def test_frame_indices_are_videollava_linspace_with_first_and_last():
    assert frame_indices(37, 8).tolist() == [0, 5, 10, 15, 20, 25, 30, 36]
    assert frame_indices(900, 8).tolist() == np.linspace(0, 899, 8, dtype=int).tolist()
    assert frame_indices(8, 8).tolist() == list(range(8))


def test_short_videos_repeat_frames_and_bad_counts_are_rejected():
    assert frame_indices(3, 8).tolist() == [0, 0, 0, 0, 1, 1, 1, 2]
    assert frame_indices(1, 4).tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="cannot sample from 0 frames"):
        frame_indices(0, 8)
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        frame_indices(5, 0)


# -- the right frames, identical across backends -------------------------------------------------------

CASES = {  # name -> (num_frames, suffix, writer options)
    "mp4": (37, ".mp4", {}),
    "mp4-bframes": (37, ".mp4", {"bframes": 2, "gop": 12}),
    "mkv-bframes": (31, ".mkv", {"bframes": 2, "gop": 12}),
}


@needs_decord
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("num_frames", [8, 5])
def test_pyav_and_decord_return_bit_identical_uniform_frames(videos, case, num_frames):
    count, suffix, options = CASES[case]
    path = videos(count, suffix, **options)
    ours = read_frames(path, num_frames, backend="pyav")
    theirs = read_frames(path, num_frames, backend="decord")
    assert ours.shape == (num_frames, 48, 64, 3) and ours.dtype == np.uint8
    assert ids(ours) == frame_indices(count, num_frames).tolist()
    np.testing.assert_array_equal(ours, theirs)  # same FFmpeg decoder and RGB conversion: exact
    truth = decode_all(path)
    np.testing.assert_array_equal(ours, np.stack([truth[i] for i in frame_indices(count, num_frames)]))


@needs_decord
def test_random_access_in_any_order_matches_decord_and_sequential_decoding(videos):
    path = videos(37, ".mp4", bframes=2, gop=12)
    order = [36, 0, 13, 13, 12, 35, 1, 24, 11]
    with open_reader(path, "pyav") as ours, open_reader(path, "decord") as theirs:
        assert ours.frame_count == theirs.frame_count == 37
        frames = ours.read(order)
        np.testing.assert_array_equal(frames, theirs.read(order))
        np.testing.assert_array_equal(ours.read(range(37)), np.stack(decode_all(path)))
        assert ours.read([]).shape == (0, 48, 64, 3)
    assert ids(frames) == order


def test_mpegts_with_bframes_matches_sequential_decoding(videos):
    # decord returns shifted / repeated frames for this file (its known B-frame + MPEG-TS problem),
    # so parity here is against a plain sequential PyAV decode.
    path = videos(31, ".ts", bframes=2, gop=12, container_format="mpegts")
    truth = decode_all(path)
    frames = read_frames(path, 8, backend="pyav")
    np.testing.assert_array_equal(frames, np.stack([truth[i] for i in frame_indices(31, 8)]))
    assert ids(frames) == frame_indices(31, 8).tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_video_shorter_than_num_frames_repeats_frames(videos, backend):
    frames = load_video(videos(3), num_frames=8, backend=backend)
    assert ids(frames) == [0, 0, 0, 0, 1, 1, 1, 2]
    np.testing.assert_array_equal(frames[0], frames[3])
    assert ids(load_video(videos(1), 4, backend)) == [0, 0, 0, 0]


class CountingReader(PyAVReader):
    """Records the index of every frame it decodes."""

    def __init__(self, path: Path) -> None:
        self.decoded: list[int] = []
        super().__init__(path)

    def _run_from(self, key):
        for item in super()._run_from(key):
            self.decoded.append(item[0])
            yield item


def test_sparse_frames_are_reached_by_seeking_not_by_decoding_everything(videos):
    path = videos(40, gop=10)
    with CountingReader(Path(path)) as reader:
        frames = reader.read([0, 39])
    decoded = reader.decoded
    assert ids(frames) == [0, 39]
    assert decoded[0] == 0 and 30 in decoded and len(decoded) <= 12  # frame 0, then GOP 30..39 only
    assert not set(decoded) & set(range(5, 30))


def test_frames_inside_one_gop_are_decoded_in_one_pass(videos):
    path = videos(40, gop=40)
    with CountingReader(Path(path)) as reader:
        reader.read(frame_indices(40, 8))
    assert reader.decoded == list(range(40))  # one keyframe: a single forward run, no re-decoding after seeks


@pytest.mark.parametrize("suffix,fmt", [(".mkv", None), (".ts", "mpegts")])
def test_containers_without_frame_count_metadata_are_counted(videos, suffix, fmt):
    import av

    path = videos(23, suffix, container_format=fmt)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0  # no nb_frames in the container
    with open_reader(path, "pyav") as reader:
        assert reader.frame_count == 23
    assert ids(read_frames(path, 8, "pyav")) == frame_indices(23, 8).tolist()


def test_raw_h264_without_timestamps_or_seeking_is_read_by_counting_frames(videos):
    path = videos(23, ".h264", bframes=2, container_format="h264")  # elementary stream: no pts, no seek
    frames = read_frames(path, 8, "pyav")
    assert ids(frames) == frame_indices(23, 8).tolist()
    np.testing.assert_array_equal(frames, np.stack([decode_all(path)[i] for i in frame_indices(23, 8)]))
    with open_reader(path, "pyav") as reader:  # going back means reopening the file
        assert ids(reader.read([20, 3, 22])) == [20, 3, 22]


# -- damaged and wrong files ----------------------------------------------------------------------------


def test_truncated_file_with_a_wrong_reported_count_samples_the_frames_that_decode(videos, tmp_path):
    import av

    path = truncated_copy(videos(37, faststart=True), tmp_path / "cut.mp4", 0.7)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 37  # the moov index still claims every frame
    decodable = len(decode_all(path))
    assert 5 < decodable < 37
    frames = read_frames(path, 8, "pyav")
    assert ids(frames) == frame_indices(decodable, 8).tolist()
    truth = decode_all(path)
    np.testing.assert_array_equal(frames, np.stack([truth[i] for i in frame_indices(decodable, 8)]))


@needs_decord
def test_decord_refuses_a_truncated_mp4_with_a_media_error(videos, tmp_path):
    path = truncated_copy(videos(37, faststart=True), tmp_path / "cut.mp4", 0.7)
    message = r"cannot open video .*cut\.mp4 with decord: Error: av_read_frame failed"
    with pytest.raises(MediaError, match=message):
        read_frames(path, 8, "decord")


@pytest.mark.timeout(60)
@pytest.mark.slow
def test_cut_at_any_byte_gives_the_frames_that_decode_or_a_media_error(videos, tmp_path):
    data = videos(37, faststart=True).read_bytes()
    path, outcomes = tmp_path / "cut.mp4", set()
    for length in range(100, len(data), 50):
        path.write_bytes(data[:length])
        try:
            frames = read_frames(path, 8, "pyav")
        except MediaError as error:
            outcomes.add(str(error).split(":")[0].replace(str(path), "<path>"))
            continue
        decodable = len(decode_all(path))
        assert ids(frames) == frame_indices(decodable, 8).tolist(), length
        outcomes.add("frames")
    assert outcomes >= {"frames", "no frame of video <path> decodes (file truncated or corrupt)"}, outcomes


@needs_decord
@pytest.mark.timeout(60)
def test_decord_reports_cut_files_as_clean_media_errors(videos, tmp_path):
    data = videos(37, faststart=True).read_bytes()
    path = tmp_path / "cut.mp4"
    for length in range(100, len(data), 100):
        path.write_bytes(data[:length])
        try:
            assert read_frames(path, 8, "decord").shape == (8, 48, 64, 3)
        except MediaError as error:  # decord's reason, without its timestamp / C++ source prefixes
            expected = rf"cannot (open|decode) video {re.escape(str(path))} with decord: [^\[/].*"
            assert re.fullmatch(expected, str(error))


def test_truncated_matroska_yields_the_frames_that_decode(videos, tmp_path):
    path = truncated_copy(videos(37, ".mkv"), tmp_path / "cut.mkv", 0.7)
    decodable = len(decode_all(path))
    assert 5 < decodable < 37
    for backend in ("pyav", "decord") if importlib.util.find_spec("decord") else ("pyav",):
        assert ids(read_frames(path, 8, backend)) == frame_indices(decodable, 8).tolist()


@pytest.mark.timeout(30)
def test_corrupt_middle_is_decoded_in_bounded_time_with_stand_in_frames(videos, tmp_path):
    data = bytearray(videos(37).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8).tobytes()
    path = tmp_path / "garbled.mp4"
    path.write_bytes(bytes(data))
    assert len(decode_all(path)) < 37  # a plain decode loop stops at the damage
    start = time.perf_counter()
    sample = read_frames(path, 8, "pyav")
    with open_reader(path, "pyav") as reader:
        every = ids(reader.read(range(37)))
    assert time.perf_counter() - start < 5
    assert sample.shape == (8, 48, 64, 3) and ids(sample)[0] == 0 and ids(sample)[-1] == 36
    # damaged frames come back concealed (garbled) or stood in for by a later frame; the rest are exact
    assert every[0] == 0 and every[-1] == 36
    assert sum(i == j for i, j in enumerate(every)) >= 30


def errors_for(tmp_path: Path, videos) -> dict[str, tuple[Path, str]]:
    """name -> (path, pyav message regex)."""
    (tmp_path / "empty.mp4").write_bytes(b"")
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)
    (tmp_path / "noise.mp4").write_bytes(noise.tobytes())
    (tmp_path / "notes.txt").write_text("this is not a video\n" * 50)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "still.png")
    head = truncated_copy(videos(37, faststart=True), tmp_path / "head.mp4", 0.02)
    return {
        "missing": (tmp_path / "nope.mp4", r"video file not found: .*nope\.mp4$"),
        "directory": (tmp_path, rf"video path is not a regular file: {tmp_path}$"),
        "empty": (tmp_path / "empty.mp4", r"cannot open video .*empty\.mp4: Invalid data found"),
        "noise": (tmp_path / "noise.mp4", r"cannot open video .*noise\.mp4: Invalid data found"),
        "text": (tmp_path / "notes.txt", r"not a video file \(FFmpeg reads it as 'tty'\): .*notes\.txt$"),
        "image": (tmp_path / "still.png", r"not a video file \(FFmpeg reads it as 'png_pipe'\): .*\.png$"),
        "audio": (write_audio_only(tmp_path / "sound.wav"), r"no video stream in .*sound\.wav$"),
        "zero-frames": (write_zero_frame_video(tmp_path / "zero.mkv"), r"video has no frames: .*zero\.mkv$"),
        "header-only": (head, r"no video stream in .*head\.mp4$"),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "name", ["missing", "directory", "empty", "noise", "text", "image", "audio", "zero-frames", "header-only"]
)
def test_unreadable_files_raise_media_error_naming_the_file(tmp_path, videos, name, backend):
    path, message = errors_for(tmp_path, videos)[name]
    if backend == "decord" and name not in ("missing", "directory"):  # decord's own wording after the name
        message = rf"cannot (open|decode) video .*{path.name} with decord: "
    if backend == "torchcodec" and name not in ("missing", "directory", "text", "image"):
        message = rf"(cannot open video .*{path.name} with torchcodec: |video has no frames: .*{path.name})"
    with pytest.raises(MediaError, match=message):
        read_frames(path, 8, backend)


def test_backend_selection_errors(videos, monkeypatch):
    with pytest.raises(MediaError, match=r"unknown video backend 'opencv' \(choose from: auto, pyav, decord"):
        read_frames(videos(3), 8, backend="opencv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        read_frames(videos(3), 0)
    with open_reader(videos(3), "pyav") as reader:
        with pytest.raises(IndexError, match="frame index 3 out of range for 3 frames of .*mp4"):
            reader.read([0, 3])
    monkeypatch.setitem(sys.modules, "decord", None)  # as on aarch64 / macOS arm64, where no wheel exists
    hint = r"'decord' video backend is not available .*pip install mmbind\[decord\]"
    with pytest.raises(MediaError, match=hint):
        read_frames(videos(3), 8, backend="decord")
    assert AUTO_BACKEND == "pyav"  # the faster one in benchmarks/frame_reading.py
    assert ids(read_frames(videos(3), 3)) == [0, 1, 2]  # "auto" does not need decord


@pytest.mark.slow
def test_backends_are_imported_only_when_selected(videos):
    code = (
        "import sys, mmbind.media as m; assert 'av' not in sys.modules and 'decord' not in sys.modules; "
        f"m.read_frames({str(videos(3))!r}, 2); assert 'av' in sys.modules and 'decord' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@needs_decord
def test_decord_torch_bridge_is_normalised_to_numpy(videos):
    import decord

    path = videos(37)
    decord.bridge.set_bridge("torch")
    try:
        frames = read_frames(path, 8, "decord")
    finally:
        decord.bridge.set_bridge("native")
    assert isinstance(frames, np.ndarray)
    np.testing.assert_array_equal(frames, read_frames(path, 8, "pyav"))
