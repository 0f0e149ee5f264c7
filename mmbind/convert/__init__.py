"""mmbind.convert

Checkpoint interop with other layouts, one sub-package per layout: `hf` (transformers' Video-LLaVA:
`convert_hf`, `export_hf`) and `videollava` (the original release: `convert_videollava`). What both share
is written once here: the destination rule (`destination`), reading a source's ``config.json``
(`config_json`) and tokenizer files (`tokenizer_files`), a config's architecture fields (`architecture`),
the recipe both write (`model_recipe`) and the helpers of their strict weight transfers (`weight_matching`).
"""

from mmbind.convert.hf import convert_hf, export_hf

__all__ = ["convert_hf", "export_hf"]
