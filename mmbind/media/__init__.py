"""mmbind.media

Media input shared by encoders and data loading: reading images and video frames, and the image / video
transforms with their normalisation constants; decoding is bounded against decompression bombs
(`mmbind.media.limits`).

    from mmbind.media import load_image, load_video, ImageTransform, VideoTransform
    pixels = ImageTransform()(load_image("cat.png"))                       # (3, 224, 224)
    clip = VideoTransform()(load_video("clip.mp4", num_frames=8))          # (8, 3, 224, 224)

Video backends (``pyav``, optional ``decord`` and ``torchcodec``) sit behind `FrameReader` and are imported
lazily. So are this package's own modules: ``from mmbind.media.limits import ...`` (the command line's
flags) imports neither PIL nor torch; a name below is imported from its module on first use.
"""

from __future__ import annotations

from mmbind.lazy_exports import lazy_exports

_HOMES = {
    "image": ("image_size", "load_image", "open_image"),
    "limits": ("MediaTooLarge",),
    "reader": ("FrameReader", "IncompleteVideoError"),
    "sampling": ("FramePolicy", "frame_indices"),
    "suffixes": ("IMAGE_SUFFIXES", "VIDEO_SUFFIXES"),
    "transforms": ("IMAGENET_MEAN", "IMAGENET_STD", "OPENAI_CLIP_MEAN", "OPENAI_CLIP_STD", "ImageTransform",
                   "VideoTransform", "expand_to_square"),
    "video": ("AUTO_BACKEND", "BACKENDS", "count_frames", "decoded_bytes", "load_video", "open_reader",
              "read_frames"),
}
_MODULE_OF = {name: f"mmbind.media.{module}" for module, names in _HOMES.items() for name in names}

__all__ = sorted(_MODULE_OF)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _MODULE_OF)
