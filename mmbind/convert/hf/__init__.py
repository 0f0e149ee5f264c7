"""mmbind.convert.hf

transformers' `VideoLlavaForConditionalGeneration` layout <-> mmbind: `convert_hf` and `export_hf`
(`interop`), the config mapping (`config_mapping`), reading the checkpoint's config (`port_reader`), the
weight names (`keys`) and the strict weight transfer (`weight_transfer`).
"""

from mmbind.convert.hf.interop import convert_hf, export_hf

__all__ = ["convert_hf", "export_hf"]
