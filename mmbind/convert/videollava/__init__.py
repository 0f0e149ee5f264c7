"""mmbind.convert.videollava

The original Video-LLaVA release (PKU-YuanGroup's ``LlavaLlamaForCausalLM`` with LanguageBind towers) ->
mmbind: `convert_videollava` (`converter`) and the stage-1 projector-only file (`load_projector_only`,
`projector_only`). `source_reader` / `source_config` read the checkpoint's ``config.json``,
`tower_geometry` resolves the towers' geometry, `source_keys` / `source_weights` map and load the weights.
"""

from mmbind.convert.videollava.converter import convert_videollava
from mmbind.convert.videollava.projector_only import load_projector_only

__all__ = ["convert_videollava", "load_projector_only"]
