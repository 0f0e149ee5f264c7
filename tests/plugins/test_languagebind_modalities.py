"""languagebind_depth / _thermal / _audio and the depth / thermal / audio loaders.

Every preprocessing step is checked against an independent re-implementation written here: depth
normalisation and the Kaldi filterbank in numpy (a loop over frames), windowed-sinc resampling as the
direct sum, chunking from its arithmetic, torchvision for LanguageBind's Resize / CenterCrop / Normalize.
Towers are checked against transformers' `CLIPVisionModel` (the audio embeddings by a hand-written
patchify). Loaders read files written here (PIL 16-bit PNG, stdlib ``wave``, PyAV mp4 / flac), and
checkpoints are written in LanguageBind's layout.
"""

from __future__ import annotations

import json
import math
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from torchvision import transforms as tv
from transformers import CLIPVisionConfig, CLIPVisionModel

import mmbind
from mmbind import CheckpointError, InputError, MediaError, PluginOptionsError
from mmbind.interfaces import BuildContext
from mmbind_plugins.encoders.languagebind import audio as lb_audio
from mmbind_plugins.encoders.languagebind import audio_features
from mmbind_plugins.encoders.languagebind import depth as lb_depth
from mmbind_plugins.encoders.languagebind import thermal as lb_thermal
from mmbind_plugins.media import audio_files, depth_files, thermal_files
from tests.support.media import write_wav

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TEXT_ENTRIES = {  # what a LanguageBind model checkpoint holds besides the vision tower (skipped)
    "text_model.embeddings.token_embedding.weight": torch.zeros(10, 8),
    "text_model.final_layer_norm.weight": torch.ones(8),
    "text_projection.weight": torch.zeros(4, 8),
    "visual_projection.weight": torch.zeros(4, 32),
    "logit_scale": torch.tensor(2.0),
}


# ---------------------------------------------------------------- independent references

def np_depth_norm(raw: np.ndarray, max_depth: float = 10.0, min_depth: float = 0.01) -> np.ndarray:
    """LanguageBind's DepthNorm (millimetres -> metres -> [0, 1]) and its 3-channel copy, in numpy."""
    metres = np.maximum(raw.astype(np.float64) / 1000.0, min_depth)
    metres = np.minimum(metres, max_depth) / max_depth if max_depth else metres / metres.max()
    return np.stack([metres] * 3).astype(np.float32)


def tv_spatial(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """LanguageBind's torchvision Compose after its first step (tensor Resize without antialias, as its
    pinned torchvision 0.14 did)."""
    bicubic = tv.InterpolationMode.BICUBIC
    return tv.Compose([tv.Resize(size, interpolation=bicubic, antialias=False), tv.CenterCrop(size),
                       tv.Normalize(CLIP_MEAN, CLIP_STD)])(pixels)


def np_resample(x: np.ndarray, orig: int, new: int, zeros: int = 6, rolloff: float = 0.99) -> np.ndarray:
    """Band-limited interpolation as a direct sum: y[j] = sum_i x[i] sinc(b (i/o - j/n)) hann(...) b/o."""
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    base = min(o, n) * rolloff
    out = np.zeros(math.ceil(n * len(x) / o))
    for j in range(len(out)):
        lo = max(0, math.floor((j / n - zeros / base) * o))
        hi = min(len(x), math.ceil((j / n + zeros / base) * o) + 1)
        i = np.arange(lo, hi)
        t = base * (i / o - j / n)
        keep = np.abs(t) <= zeros
        weights = np.sinc(t[keep]) * np.cos(np.pi * t[keep] / (2 * zeros)) ** 2 * base / o
        out[j] = np.dot(x[lo:hi][keep], weights)
    return out


def np_fbank(x: np.ndarray, rate: int, bins: int) -> np.ndarray:
    """Kaldi fbank (LanguageBind's arguments), one frame at a time, in float64."""
    size, shift, nfft = int(rate * 0.025), int(rate * 0.010), 512
    count = 1 + (len(x) - size) // shift
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / (size - 1))

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(f) / 700.0)

    edges = mel(20.0) + (mel(rate / 2) - mel(20.0)) / (bins + 1) * np.arange(bins + 2)
    fft_mel = mel(np.arange(nfft // 2) * rate / nfft)
    filters = np.zeros((bins, nfft // 2))
    for b in range(bins):
        left, centre, right = edges[b : b + 3]
        rising, falling = (fft_mel - left) / (centre - left), (right - fft_mel) / (right - centre)
        filters[b] = np.clip(np.minimum(rising, falling), 0.0, None)
    out = np.empty((count, bins))
    for k in range(count):
        frame = x[k * shift : k * shift + size].astype(np.float64)
        frame = frame - frame.mean()
        frame = frame - 0.97 * np.concatenate([frame[:1], frame[:-1]])
        power = np.abs(np.fft.rfft(frame * window, nfft)) ** 2
        out[k] = np.log(np.maximum(filters @ power[: nfft // 2], np.finfo(np.float32).eps))
    return out


def three_starts(frames: int, length: int) -> list[int]:
    """First offset of each third of 0..frames-length (numpy.array_split sizes; an empty third -> 0)."""
    total = frames - length + 1
    sizes = [total // 3 + (1 if k < total % 3 else 0) for k in range(3)]
    return [sum(sizes[:k]) if sizes[k] else 0 for k in range(3)]


def np_audio_pixels(waveform: np.ndarray, rate: int, bins: int, length: int) -> torch.Tensor:
    """LanguageBind's audio pipeline (fixed chunk starts) from the numpy pieces above."""
    if rate != 16000:
        waveform = np.stack([np_resample(channel, rate, 16000) for channel in waveform])
    waveform = waveform - waveform.mean()
    mel = np_fbank(waveform[0], 16000, bins)
    if len(mel) > length:
        mel3 = np.stack([mel[s : s + length] for s in three_starts(len(mel), length)])
    else:
        mel3 = np.stack([np.tile(mel, (length // len(mel) + 1, 1))[:length]] * 3)
    return torch.tensor((mel3.transpose(0, 2, 1) + 4.2677393) / (2 * 4.5689974), dtype=torch.float32)


def clip_reference(encoder: torch.nn.Module) -> CLIPVisionModel:
    """transformers' CLIPVisionModel holding ``encoder``'s tower weights."""
    model = CLIPVisionModel._from_config(encoder.tower.config, attn_implementation="eager").eval()
    model.load_state_dict(encoder.tower.state_dict())
    return model


def audio_reference_tokens(state: dict[str, torch.Tensor], config: CLIPVisionConfig, pixels: torch.Tensor,
                           layer: int) -> torch.Tensor:
    """``hidden_states[layer]`` of a LanguageBind audio tower: hand-written patchify + class + positions,
    then transformers' CLIP layers (a square CLIPVisionModel holding every other weight)."""
    square = CLIPVisionConfig(**{k: getattr(config, k) for k in (
        "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "patch_size",
        "image_size", "hidden_act", "layer_norm_eps")})
    model = CLIPVisionModel._from_config(square, attn_implementation="eager").eval()
    others = {k: v for k, v in state.items() if k != "embeddings.position_embedding.weight"}
    missing, unexpected = model.load_state_dict(others, strict=False)
    assert missing == ["embeddings.position_embedding.weight"] and not unexpected
    p = config.patch_size
    n, c, h, w = pixels.shape
    gh, gw = h // p, w // p
    patches = pixels[:, :, : gh * p, : gw * p].reshape(n, c, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5)
    weight = state["embeddings.patch_embedding.weight"].reshape(config.hidden_size, -1)
    tokens = patches.reshape(n, gh * gw, c * p * p) @ weight.T
    cls = state["embeddings.class_embedding"].expand(n, 1, -1)
    hidden = torch.cat([cls, tokens], 1) + state["embeddings.position_embedding.weight"]
    with torch.no_grad():
        hidden = model.pre_layrnorm(hidden)
        for block in model.encoder.layers[:layer]:
            hidden = block(hidden, None)
    return hidden


# ---------------------------------------------------------------- builders and files

def build_depth(**options) -> lb_depth.LanguageBindDepthEncoder:
    return lb_depth.build(lb_depth.LanguageBindDepthOptions(preset="tiny", **options), BuildContext("depth"))


def build_thermal(**options) -> lb_thermal.LanguageBindThermalEncoder:
    opts = lb_thermal.LanguageBindThermalOptions(preset="tiny", **options)
    return lb_thermal.build(opts, BuildContext("thermal"))


def build_audio(context: BuildContext | None = None, **options) -> lb_audio.LanguageBindAudioEncoder:
    opts = lb_audio.LanguageBindAudioOptions(preset="tiny", **options)
    return lb_audio.build(opts, context or BuildContext("audio"))


def languagebind_checkpoint(path: Path, tower_state: dict[str, torch.Tensor], positions: int) -> Path:
    """``tower_state`` as LanguageBind_* saves it: under ``vision_model.``, with the text tower, the
    projections, ``logit_scale`` and the ``position_ids`` buffer that ``resize_pos`` registers."""
    state = {f"vision_model.{k}": v.clone() for k, v in tower_state.items()} | TEXT_ENTRIES
    state["vision_model.embeddings.position_ids"] = torch.arange(positions)[None]
    path.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path / "model.safetensors"))
    return path


def write_av(path: Path, audio: np.ndarray | None, rate: int, codec: str, video: bool) -> Path:
    """A file written with PyAV: optional H.264 video (10 frames) and ``audio`` (channels, n) int16."""
    with av.open(str(path), "w") as container:
        picture = track = None
        if video:
            picture = container.add_stream("libx264", rate=10)
            picture.width, picture.height, picture.pix_fmt = 32, 32, "yuv420p"
        if audio is not None:
            layout = "mono" if audio.shape[0] == 1 else "stereo"
            track = container.add_stream(codec, rate=rate, layout=layout)
        if picture is not None:
            for index in range(10):
                pixels = np.full((32, 32, 3), 20 * index, np.uint8)
                container.mux(picture.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            container.mux(picture.encode())
        if track is not None:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio.T.reshape(1, -1)), format="s16",
                                               layout=track.layout.name)
            frame.sample_rate = rate
            container.mux(track.encode(frame))
            container.mux(track.encode())
    return path


def sine(seconds: float, rate: int, hz: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)


# ---------------------------------------------------------------- depth

def test_depth_loader_returns_the_raw_16_and_8_bit_values(tmp_path):
    rng = np.random.default_rng(0)
    raw16 = rng.integers(0, 65535, (30, 42), dtype=np.uint16)
    Image.fromarray(raw16).save(tmp_path / "d16.png")
    Image.fromarray(raw16).save(tmp_path / "d16.tif")
    raw8 = rng.integers(0, 255, (12, 9), dtype=np.uint8)
    Image.fromarray(raw8).save(tmp_path / "d8.png")
    loader = depth_files.build(depth_files.DepthFileOptions())
    for name, raw in (("d16.png", raw16), ("d16.tif", raw16), ("d8.png", raw8)):
        values = loader.load(tmp_path / name)
        assert values.dtype == np.float32 and values.shape == raw.shape
        assert np.array_equal(values, raw.astype(np.float32)), name


def test_depth_loader_rejects_colour_missing_and_non_image_files(tmp_path):
    loader = depth_files.build(depth_files.DepthFileOptions())
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "colour.png")
    colour = rf"{tmp_path / 'colour.png'}: not a depth map: 3 channel\(s\) \(PIL mode RGB\)"
    with pytest.raises(MediaError, match=colour):
        loader.load(tmp_path / "colour.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(MediaError, match=rf"cannot read depth map {tmp_path / 'text.png'}"):
        loader.load(tmp_path / "text.png")
    with pytest.raises(MediaError, match=str(tmp_path / "missing.png")):
        loader.load(tmp_path / "missing.png")


@pytest.mark.parametrize("shape", [(30, 42), (47, 30), (28, 28)])  # crop excess 11, 15, 0
@pytest.mark.parametrize("max_depth", [10.0, 0.0, 4.0])
def test_depth_transform_is_languagebinds(shape, max_depth):
    rng = np.random.default_rng(1)
    raw = rng.integers(0, 14000, shape).astype(np.float32)  # beyond max_depth and below min_depth too
    raw[0, :5] = 0.0  # holes
    got = lb_depth.DepthTransform(size=28, max_depth=max_depth)(raw)
    want = tv_spatial(torch.from_numpy(np_depth_norm(raw, max_depth)), 28)
    assert got.shape == (3, 28, 28) and got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-5)


def test_depth_transform_options_and_bad_maps():
    encoder = build_depth(max_depth=5.0, min_depth=0.5, depth_scale=100.0, antialias=True)
    assert encoder.media_transform() == lb_depth.DepthTransform(28, 5.0, 0.5, 100.0, True)
    assert lb_depth.LanguageBindDepthOptions().max_depth == 10.0  # LanguageBind_Depth's config
    raw = np.full((28, 28), 250.0, np.float32)  # 2.5 m at 100 units per metre -> 0.5 of 5 m
    expected = (0.5 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(encoder.media_transform()(raw)[:, 3, 3], expected)
    with pytest.raises(InputError, match=r"one-channel depth map \(H, W\), got shape \(4, 4, 3\)"):
        lb_depth.DepthTransform()(np.zeros((4, 4, 3)))


def test_depth_encoder_from_languagebind_checkpoint_matches_clip_vision_model(tmp_path):
    torch.manual_seed(0)
    source = build_depth()
    folder = languagebind_checkpoint(tmp_path / "LanguageBind_Depth", source.tower.state_dict(), 5)
    encoder = build_depth(weights=str(folder)).eval()
    raw = np.random.default_rng(2).integers(100, 9000, (30, 41), dtype=np.uint16)
    Image.fromarray(raw).save(tmp_path / "depth.png")
    pixels = encoder.media_transform()(depth_files.read_depth_map(tmp_path / "depth.png"))
    reference = tv_spatial(torch.from_numpy(np_depth_norm(raw)), 28)
    torch.testing.assert_close(pixels, reference, atol=2e-5, rtol=1e-5)
    with torch.no_grad():
        tokens = encoder(pixels[None])
        hidden = clip_reference(source)(pixel_values=reference[None], output_hidden_states=True).hidden_states
    want = hidden[1]
    assert tokens.shape == (1, 4, 32) and encoder.tokens_per_item() == 4
    torch.testing.assert_close(tokens, want[:, 1:], atol=1e-5, rtol=1e-5)


def test_depth_checkpoint_missing_key_is_named(tmp_path):
    state = dict(build_depth().tower.state_dict())
    del state["post_layernorm.weight"]
    folder = languagebind_checkpoint(tmp_path / "ckpt", state, 5)
    with pytest.raises(CheckpointError, match=r"1 missing \(post_layernorm\.weight\)"):
        build_depth(weights=str(folder))


# ---------------------------------------------------------------- thermal

def test_thermal_loader_and_transform_are_languagebinds(tmp_path):
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (9, 13, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((57, 40), Image.Resampling.BILINEAR))
    Image.fromarray(smooth).save(tmp_path / "thermal.jpg", quality=95)
    image = thermal_files.build(thermal_files.ThermalFileOptions()).load(tmp_path / "thermal.jpg")
    assert image.mode == "RGB" and image.size == (57, 40)
    got = lb_thermal.ThermalTransform(size=28)(image)
    with Image.open(tmp_path / "thermal.jpg") as original:  # LanguageBind: Image.open -> ToTensor -> ...
        want = tv_spatial(tv.ToTensor()(original), 28)
    assert got.shape == (3, 28, 28)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-5)
    grey = Image.fromarray(smooth[..., 0])  # grey: replicated to RGB
    torch.testing.assert_close(lb_thermal.ThermalTransform(size=28)(grey),
                               tv_spatial(tv.ToTensor()(grey.convert("RGB")), 28), atol=2e-5, rtol=1e-5)


def test_thermal_loader_errors_name_the_file(tmp_path):
    loader = thermal_files.build(thermal_files.ThermalFileOptions())
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    for name in ("broken.jpg", "missing.jpg"):
        with pytest.raises(MediaError, match=str(tmp_path / name)):
            loader.load(tmp_path / name)


def test_thermal_encoder_matches_clip_vision_model(tmp_path):
    torch.manual_seed(4)
    source = build_thermal(keep_cls=True)
    torch.save(dict(source.tower.state_dict()), tmp_path / "pytorch_model.bin")  # bare layout
    weights = str(tmp_path / "pytorch_model.bin")
    encoder = build_thermal(weights=weights, keep_cls=True, select_layer=-1).eval()
    image = Image.fromarray(np.random.default_rng(5).integers(0, 255, (33, 47, 3)).astype(np.uint8))
    pixels = encoder.media_transform()(image)
    with torch.no_grad():
        want = clip_reference(source)(pixel_values=pixels[None], output_hidden_states=True).hidden_states[2]
        assert torch.equal(encoder(pixels[None]), want)
    assert encoder.tokens_per_item() == 5


def test_thermal_checkpoint_unexpected_key_is_named(tmp_path):
    state = dict(build_thermal().tower.state_dict())
    state["encoder.layers.7.mlp.fc1.weight"] = torch.zeros(64, 32)
    folder = languagebind_checkpoint(tmp_path / "ckpt", state, 5)
    with pytest.raises(CheckpointError, match=r"1 unexpected \(encoder\.layers\.7\.mlp\.fc1\.weight\)"):
        build_thermal(weights=str(folder))


# ---------------------------------------------------------------- audio: loader

def test_wav_loader_returns_torchaudio_scaled_samples(tmp_path):
    rng = np.random.default_rng(6)
    pcm = rng.integers(-32768, 32767, (2, 3001))
    path = write_wav(tmp_path / "stereo.wav", pcm, 22050)
    loader = audio_files.build(audio_files.AudioFileOptions())
    waveform, rate = loader.load(path)
    assert rate == 22050 and waveform.dtype == torch.float32 and waveform.shape == (2, 3001)
    assert torch.equal(waveform, torch.tensor(pcm / 32768.0, dtype=torch.float32))
    pcm8 = rng.integers(0, 255, (1, 500))
    waveform, rate = loader.load(write_wav(tmp_path / "u8.wav", pcm8, 8000, width=1))
    assert rate == 8000 and torch.equal(waveform, torch.tensor((pcm8 - 128) / 128.0, dtype=torch.float32))


def test_flac_is_lossless_and_the_audio_of_an_mp4_is_read(tmp_path):
    rng = np.random.default_rng(7)
    pcm = rng.integers(-20000, 20000, (1, 4410)).astype(np.int16)
    waveform, rate = audio_files.read_audio(write_av(tmp_path / "a.flac", pcm, 44100, "flac", video=False))
    assert rate == 44100 and torch.equal(waveform, torch.tensor(pcm / 32768.0, dtype=torch.float32))

    tone = (sine(1.0, 16000, 440.0) * 32767).astype(np.int16)[None]
    waveform, rate = audio_files.read_audio(write_av(tmp_path / "clip.mp4", tone, 16000, "aac", video=True))
    assert rate == 16000 and waveform.shape[0] == 1 and 15000 <= waveform.shape[1] <= 18000
    spectrum = np.abs(np.fft.rfft(waveform[0].numpy()))
    peak_hz = np.argmax(spectrum) * rate / waveform.shape[1]
    assert abs(peak_hz - 440.0) < 5.0
    assert 0.3 < float(waveform.abs().max()) < 0.7  # AAC keeps the 0.5 amplitude roughly


@pytest.mark.parametrize(("suffix", "codec", "rate"),
                         [(".mp3", "libmp3lame", 22050), (".ogg", "libopus", 48000), (".m4a", "aac", 16000)])
def test_compressed_audio_files_are_read(tmp_path, suffix, codec, rate):
    tone = (sine(0.5, rate, 440.0) * 32767).astype(np.int16)
    stereo = np.stack([tone, tone // 2])
    waveform, got_rate = audio_files.read_audio(write_av(tmp_path / f"a{suffix}", stereo, rate, codec, False))
    assert got_rate == rate and waveform.shape[0] == 2 and abs(waveform.shape[1] - rate // 2) < 0.1 * rate
    spectrum = np.abs(np.fft.rfft(waveform.numpy(), axis=1))
    assert np.all(np.abs(spectrum.argmax(axis=1) * rate / waveform.shape[1] - 440.0) < 5.0)
    assert 1.6 < float(waveform[0].abs().max() / waveform[1].abs().max()) < 2.4  # channel order kept


def test_audio_loader_errors_name_the_file(tmp_path):
    silent = write_av(tmp_path / "silent.mp4", None, 16000, "aac", video=True)
    with pytest.raises(MediaError, match=rf"^{silent}: no audio stream \(streams: video\)"):
        audio_files.read_audio(silent)
    (tmp_path / "noise.wav").write_bytes(b"RIFF garbage that is no wave file at all")
    with pytest.raises(MediaError, match=rf"cannot open audio {tmp_path / 'noise.wav'}"):
        audio_files.read_audio(tmp_path / "noise.wav")
    with pytest.raises(MediaError, match=str(tmp_path / "absent.wav")):
        audio_files.read_audio(tmp_path / "absent.wav")


def test_loaders_are_registered_by_modality():
    registry = mmbind.default_registry()
    audio = registry.get("loader", "audio")
    assert audio.suffixes == (".wav", ".flac", ".mp3", ".ogg", ".m4a") and not audio.temporal
    assert registry.get("loader", "depth").suffixes == () and registry.get("loader", "thermal").suffixes == ()
    for name, modality in (("languagebind_depth", "depth"), ("languagebind_thermal", "thermal"),
                           ("languagebind_audio", "audio")):
        entry = registry.get("encoder", name)
        assert entry.accepts(modality) and not entry.accepts("image") and not entry.accepts("video")


# ---------------------------------------------------------------- audio: features

@pytest.mark.parametrize(("orig", "new"), [(44100, 16000), (22050, 16000), (48000, 16000), (8000, 16000)])
def test_resample_is_the_windowed_sinc_sum(orig, new):
    rng = np.random.default_rng(8)
    x = rng.standard_normal(orig // 20) * 0.3 + sine(0.05, orig, 1000.0)[: orig // 20]
    got = audio_features.resample(torch.tensor(x, dtype=torch.float32)[None], orig, new)[0]
    want = np_resample(x, orig, new)
    assert got.shape == (math.ceil(len(x) * new / orig),)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5)


def test_fbank_is_kaldis():
    rng = np.random.default_rng(9)
    x = rng.standard_normal(16000 // 4) * 0.1 + sine(0.25, 16000, 3000.0) + 0.05  # with a DC offset
    got = audio_features.kaldi_fbank(torch.tensor(x, dtype=torch.float32), 16000, 112)
    want = np_fbank(x, 16000, 112)
    assert got.shape == (1 + (4000 - 400) // 160, 112) == want.shape
    # float32 FFT noise is relative to a frame's loudest bins: weak low bins next to the loud tone differ
    # by up to ~1e-3 in log energy (torchaudio computes in float32 too); typically by ~1e-6
    np.testing.assert_allclose(got.numpy(), want, atol=2e-3)
    assert np.abs(got.numpy() - want).mean() < 1e-5
    noise = rng.standard_normal(3000) * 0.2 - 0.03  # a flat spectrum: float32 is exact to ~1e-6 here
    got = audio_features.kaldi_fbank(torch.tensor(noise, dtype=torch.float32), 16000, 64)
    np.testing.assert_allclose(got.numpy(), np_fbank(noise, 16000, 64), atol=1e-4)
    silence = audio_features.kaldi_fbank(torch.zeros(800), 16000, 112)
    assert torch.allclose(silence, torch.tensor(math.log(np.finfo(np.float32).eps)))


@pytest.mark.parametrize(("seconds", "kind"), [(0.3, "repeat"), (0.6, "equal"), (1.0, "chunks"),
                                               (0.57, "chunks")])
def test_audio_transform_chunks_pads_and_normalises_as_languagebind(seconds, kind):
    rng = np.random.default_rng(10)
    x = (rng.standard_normal((2, int(16000 * seconds) + 240)) * 0.1).astype(np.float32)
    if kind == "equal":
        x = x[:, : 400 + 160 * 55]  # exactly 56 frames
    transform = audio_features.AudioTransform(num_mel_bins=28, target_length=56)
    got = transform((torch.tensor(x), 16000))
    frames = 1 + (x.shape[1] - 400) // 160
    assert (frames > 56) == (kind == "chunks") and (frames == 56) == (kind == "equal")
    assert got.shape == (3, 28, 56)
    torch.testing.assert_close(got, np_audio_pixels(x.astype(np.float64), 16000, 28, 56), atol=1e-4, rtol=0)
    if kind != "chunks":
        assert torch.equal(got[0], got[1]) and torch.equal(got[1], got[2])


def test_random_chunks_draw_a_start_in_each_third():
    assert three_starts(60, 56) == [0, 2, 4] and three_starts(57, 56) == [0, 1, 0]
    np.random.seed(0)
    draws = {tuple(audio_features.chunk_starts(200, 56, "random")) for _ in range(30)}
    assert len(draws) > 1
    for front, middle, back in draws:
        assert 0 <= front <= 48 and 49 <= middle <= 96 and 97 <= back <= 144
    assert audio_features.chunk_starts(200, 56, "fixed") == [0, 49, 97] == three_starts(200, 56)


def test_too_short_audio_is_a_media_error():
    with pytest.raises(MediaError, match=r"audio of 399 samples at 16000 Hz is shorter than one 25 ms"):
        audio_features.AudioTransform(num_mel_bins=28, target_length=56)((torch.zeros(1, 399), 16000))
    with pytest.raises(InputError, match=r"expected \(waveform, sample_rate\)"):
        audio_features.AudioTransform()(torch.zeros(1, 16000))


# ---------------------------------------------------------------- audio: tower

def test_audio_geometry_of_languagebind_audio():
    options = lb_audio.LanguageBindAudioOptions()
    assert (options.sample_rate, options.audio_mean, options.audio_std) == (16000, -4.2677393, 4.5689974)
    with torch.device("meta"):
        encoder = lb_audio.build(options, BuildContext("audio"))
    config = encoder.tower.config
    assert (config.num_mel_bins, config.target_length, config.hidden_size, config.num_hidden_layers) == (
        112, 1036, 1024, 24)
    assert encoder.tower.embeddings.position_embedding.weight.shape == (593, 1024)  # 8 x 74 + 1
    assert encoder.tokens_per_item() == 592 and encoder.item_shape == (3, 112, 1036)
    transform = encoder.media_transform()
    assert transform == audio_features.AudioTransform(112, 1036, 16000, -4.2677393, 4.5689974, "fixed")
    assert transform((torch.zeros(1, 16000).uniform_(-0.1, 0.1), 16000)).shape == (3, 112, 1036)


@pytest.mark.slow
def test_audio_encoder_from_languagebind_checkpoint_end_to_end(tmp_path):
    torch.manual_seed(11)
    source = build_audio()
    state = dict(source.tower.state_dict())
    folder = languagebind_checkpoint(tmp_path / "LanguageBind_Audio", state, 9)
    encoder = build_audio(weights=str(folder)).eval()
    pcm = (np.random.default_rng(12).standard_normal((2, 22050)) * 3000).astype(np.int16)
    waveform, rate = audio_files.read_audio(write_wav(tmp_path / "speech.wav", pcm, 22050))
    pixels = encoder.media_transform()((waveform, rate))
    with wave.open(str(tmp_path / "speech.wav"), "rb") as stream:  # the reference reads the file itself
        samples = np.frombuffer(stream.readframes(stream.getnframes()), "<i2").reshape(-1, 2).T / 32768.0
    reference = np_audio_pixels(samples, 22050, 28, 56)
    torch.testing.assert_close(pixels, reference, atol=2e-4, rtol=0)
    with torch.no_grad():
        tokens = encoder(pixels[None])
    want = audio_reference_tokens(state, source.tower.config, reference[None], layer=1)
    assert tokens.shape == (1, 8, 32) and encoder.tokens_per_item() == 8
    torch.testing.assert_close(tokens, want[:, 1:], atol=2e-4, rtol=1e-4)
    keep = build_audio(keep_cls=True, select_layer=0)
    keep.load_tower_state(state)
    with torch.no_grad():
        embeddings = keep(reference[None])
    want = audio_reference_tokens(state, source.tower.config, reference[None], 0)
    torch.testing.assert_close(embeddings, want, atol=1e-5, rtol=1e-5)


def test_audio_checkpoint_with_an_image_position_table_is_named(tmp_path):
    state = dict(build_audio().tower.state_dict())
    state["embeddings.position_embedding.weight"] = torch.zeros(5, 32)  # the square 28 px tower's table
    folder = languagebind_checkpoint(tmp_path / "ckpt", state, 5)
    with pytest.raises(CheckpointError, match=r"embeddings\.position_embedding\.weight has shape \(5, 32\), "
                                              r"the model expects \(9, 32\)"):
        build_audio(weights=str(folder))


def test_audio_input_of_the_wrong_size_is_rejected():
    with pytest.raises(InputError, match=r"expected spectrograms of 28 mel bins x 56 frames, got \(28, 28\)"):
        build_audio()(torch.zeros(1, 3, 28, 28))
    with pytest.raises(PluginOptionsError, match=r"a 28 x 10 spectrogram holds no 14 x 14 patch"):
        build_audio(target_length=10)


def test_audio_restores_its_geometry_from_saved_artifacts(tmp_path):
    torch.manual_seed(13)
    source = build_audio(target_length=42).eval()
    source.save_artifacts(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert (saved["num_mel_bins"], saved["target_length"]) == (28, 42)
    restored = build_audio(BuildContext("audio", artifacts_dir=tmp_path, load_weights=False)).eval()
    assert restored.tokens_per_item() == 6 and restored.item_shape == (3, 28, 42)
    restored.load_state_dict(source.state_dict())
    pixels = torch.randn(2, 3, 28, 42, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(restored(pixels), source(pixels))

    build_depth().save_artifacts(tmp_path / "depth")
    with pytest.raises(CheckpointError, match=r"not a languagebind_audio tower config \(no num_mel_bins, "):
        build_audio(BuildContext("audio", artifacts_dir=tmp_path / "depth", load_weights=False))
    context = BuildContext("depth", artifacts_dir=tmp_path / "depth", load_weights=False)
    restored_depth = lb_depth.build(lb_depth.LanguageBindDepthOptions(), context)
    assert restored_depth.tower.config.image_size == 28 and restored_depth.tokens_per_item() == 4


def test_a_model_with_depth_thermal_and_audio_round_trips(tmp_path):
    llm = {"model_type": "llama", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128,
           "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "max_position_embeddings": 512}
    tiny = {"preset": "tiny"}
    recipe = mmbind.recipe_from_dict({"name": "tiny-languagebind-modalities", "model": {
        "seed": 0,
        "encoders": {"depth": {"plugin": "languagebind_depth", "options": tiny},
                     "thermal": {"plugin": "languagebind_thermal", "options": tiny},
                     "audio": {"plugin": "languagebind_audio", "options": tiny}},
        "projector": {"plugin": "mlp2x_gelu", "shared": True},
        "llm": {"plugin": "hf_causal", "options": {"config": llm}},
    }})
    model = mmbind.build_model(recipe).eval()
    tags = model.config.placeholder_ids
    ids = torch.tensor([[1, tags["depth"], 5, tags["audio"], 6, tags["thermal"]]])
    rng = np.random.default_rng(14)
    items = {
        "depth": rng.integers(0, 9000, (30, 40)).astype(np.float32),
        "audio": (torch.tensor(rng.standard_normal((1, 8000))), 8000),
        "thermal": Image.fromarray(rng.integers(0, 255, (30, 40, 3)).astype(np.uint8)),
    }
    media = {key: model.encoders[key].media_transform()(item)[None] for key, item in items.items()}
    with torch.no_grad():
        before = model(ids, media=media).logits
    assert before.shape == (1, 6 - 3 + 4 + 8 + 4, 128)  # depth 4, audio 2 x 4 and thermal 4 tokens
    model.save_pretrained(tmp_path / "saved")
    loaded = mmbind.load_pretrained(tmp_path / "saved").eval()
    assert loaded.encoders["audio"].item_shape == (3, 28, 56)
    with torch.no_grad():
        assert torch.equal(loaded(ids, media=media).logits, before)
