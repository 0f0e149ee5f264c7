"""How many frames inference samples per video: the run's data settings, else what the model's temporal
encoder declares (`Encoder.default_frames`, for a lone checkpoint), else Video-LLaVA's 8; never a plugin's
options read by name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mmbind.inference.target import DEFAULT_FRAMES, Target, video_frames, video_sampling
from mmbind_plugins.encoders.languagebind import video as lb_video


def model(*encoders: SimpleNamespace) -> SimpleNamespace:
    """A model with ``encoders`` and a config whose options say 99 frames (which must not be read)."""
    options = {"video": {"plugin": "languagebind_video", "options": {"num_frames": 99}}}
    return SimpleNamespace(encoders={f"m{i}": e for i, e in enumerate(encoders)},
                           config=SimpleNamespace(model={"encoders": options}))


def lone(recipe: dict | None = None) -> Target:
    return Target(Path("ckpt"), None, None, recipe)


def test_the_run_decides_then_the_encoder_then_the_default():
    image = SimpleNamespace(temporal=False, default_frames=None)
    video = SimpleNamespace(temporal=True, default_frames=6)
    assert video_frames(lone({"data": {"video_frames": 3}}), model(image, video)) == 3
    assert video_frames(lone(), model(image, video)) == 6
    undeclared = SimpleNamespace(temporal=True, default_frames=None)
    assert video_frames(lone(), model(image, undeclared)) == DEFAULT_FRAMES
    assert video_frames(lone(), model(image)) == DEFAULT_FRAMES
    assert video_sampling(lone(), model(image, video)) == {"frames": 6}
    by_rate = {"data": {"media": {"video": {"fps": 1.0, "max_frames": 5}}}}
    assert video_sampling(lone(by_rate), model(video)) == {"fps": 1.0, "max_frames": 5}


def test_languagebind_video_declares_its_temporal_embedding_length():
    from mmbind.interfaces import BuildContext

    encoder = lb_video.build(lb_video.LanguageBindVideoOptions(preset="tiny", num_frames=3),
                             BuildContext(modality="video", temporal=True))
    assert encoder.default_frames == 3 and encoder.tokens_per_item() == encoder.tokens_per_item(3)
