"""mmbind.media

Media preprocessing shared by encoders: image and video transforms and normalisation constants.
"""

from mmbind.media.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    ImageTransform,
    VideoTransform,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "OPENAI_CLIP_MEAN",
    "OPENAI_CLIP_STD",
    "ImageTransform",
    "VideoTransform",
]
