"""mmbind.synth

The synthetic image + video benchmark of the embedded study: coloured shapes (colour, shape, size,
position, count, background) in PNG/JPEG images and H.264 videos that add motion, LLaVA-format stage-1
captions, stage-2 instruction conversations and held-out open-question and POPE sets, and a tokenizer
trained on its text. Every image also has a 16-bit depth map (objects at different distances, which only
the depth map shows), with depth captions, image + depth conversations and a held-out "which object is
nearer" set. Deterministic for a seed; train and evaluation splits disjoint.

    from mmbind.synth import generate_dataset
    manifest = generate_dataset("data/synth", seed=0, size="micro")
"""

from mmbind.dataset_manifest import MANIFEST, read_manifest
from mmbind.synth.generate import generate_dataset
from mmbind.synth.sizes import SIZES, SynthSize, get_size

__all__ = ["MANIFEST", "SIZES", "SynthSize", "generate_dataset", "get_size", "read_manifest"]
