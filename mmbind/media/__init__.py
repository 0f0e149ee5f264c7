"""mmbind.media

Media input shared by encoders and data loading: reading images and video frames, and the image / video
transforms with their normalisation constants; decoding is bounded against decompression bombs
(`mmbind.media.limits`).

    from mmbind.media import load_image, load_video, ImageTransform, VideoTransform
    pixels = ImageTransform()(load_image("cat.png"))                       # (3, 224, 224)
    clip = VideoTransform()(load_video("clip.mp4", num_frames=8))          # (8, 3, 224, 224)

Video backends (``pyav``, optional ``decord`` and ``torchcodec``) sit behind `FrameReader` and are imported
lazily."""

from mmbind.media.image import image_size, load_image, open_image
from mmbind.media.limits import MediaTooLarge
from mmbind.media.reader import FrameReader, IncompleteVideoError
from mmbind.media.sampling import FramePolicy, frame_indices
from mmbind.media.suffixes import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from mmbind.media.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    ImageTransform,
    VideoTransform,
    expand_to_square,
)
from mmbind.media.video import (
    AUTO_BACKEND,
    BACKENDS,
    count_frames,
    decoded_bytes,
    load_video,
    open_reader,
    read_frames,
)

__all__ = [
    "AUTO_BACKEND",
    "BACKENDS",
    "IMAGENET_MEAN",
    "IMAGE_SUFFIXES",
    "IMAGENET_STD",
    "OPENAI_CLIP_MEAN",
    "OPENAI_CLIP_STD",
    "VIDEO_SUFFIXES",
    "FramePolicy",
    "FrameReader",
    "ImageTransform",
    "IncompleteVideoError",
    "MediaTooLarge",
    "VideoTransform",
    "count_frames",
    "decoded_bytes",
    "expand_to_square",
    "frame_indices",
    "image_size",
    "load_image",
    "load_video",
    "open_image",
    "open_reader",
    "read_frames",
]
