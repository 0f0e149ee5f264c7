"""architecture.py

`architecture_fields`: a transformers config as the plain mapping of its architecture fields (the generic
`PreTrainedConfig` bookkeeping keys dropped), as both converters write them into recipes and compare them.
"""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedConfig

# generic PreTrainedConfig fields (bookkeeping, not architecture); model_type is handled per part
_BOOKKEEPING = frozenset(PreTrainedConfig().to_dict()) - {"model_type"}


def architecture_fields(config: PreTrainedConfig, keep_model_type: bool) -> dict[str, Any]:
    """``config`` as a plain dict of its architecture fields (bookkeeping keys dropped)."""
    fields = {k: v for k, v in config.to_dict().items() if k not in _BOOKKEEPING}
    if not keep_model_type:
        fields.pop("model_type", None)
    return fields
