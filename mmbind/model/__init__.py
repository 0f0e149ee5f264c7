"""mmbind.model

Model assembly: `build_model`, `MultimodalLM`, saving and loading, summaries.
"""

from mmbind.model.build import build_model, load_pretrained
from mmbind.model.config import MultimodalConfig
from mmbind.model.multimodal_lm import MultimodalLM
from mmbind.model.outputs import MultimodalOutput
from mmbind.model.summary import PartSummary, summarize

__all__ = [
    "MultimodalConfig",
    "MultimodalLM",
    "MultimodalOutput",
    "PartSummary",
    "build_model",
    "load_pretrained",
    "summarize",
]
