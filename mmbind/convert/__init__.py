"""mmbind.convert

Checkpoint interop with other layouts: `convert_hf` (transformers Video-LLaVA -> mmbind) and `export_hf`
(mmbind -> transformers Video-LLaVA).
"""

from mmbind.convert.hf_video_llava import convert_hf, export_hf

__all__ = ["convert_hf", "export_hf"]
