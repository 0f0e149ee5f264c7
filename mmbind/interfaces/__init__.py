"""mmbind.interfaces

The public interfaces a plugin implements: `Encoder`, `Projector`, `LLMBackend` (with the `DecodeState` its
``start_decoding`` returns and the `LoraSpec` its ``apply_lora`` takes), `MediaLoader`, and the
`BuildContext` handed to every ``build`` function (`PatchGrid`: what an encoder that supports masked
encoding declares; `OriginalTower` / `OriginalProjector`: what an encoder / projector that can be converted
declares). They declare everything the host and the trainer use of a part: nothing reaches past them.
`encoder_helpers` (imported as ``mmbind.interfaces.encoder_helpers``) holds what image / video encoder
plugins share: frame flattening, frame-major joining, CLS dropping, ...

Each name is imported from its module on first access (PEP 562): most of them import torch, and the recipe
schema needs only `LoraSpec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmbind.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from mmbind.interfaces.context import BuildContext
    from mmbind.interfaces.conversion import OriginalProjector, OriginalTower
    from mmbind.interfaces.decode_state import DecodeState
    from mmbind.interfaces.encoder import Encoder
    from mmbind.interfaces.llm import LLMBackend
    from mmbind.interfaces.lora_spec import LoraSpec
    from mmbind.interfaces.media_loader import MediaLoader
    from mmbind.interfaces.patch_grid import PatchGrid
    from mmbind.interfaces.projector import Projector
    from mmbind.interfaces.token_layout import TokenLayout

_MODULES = {  # public name -> the module that defines it
    "BuildContext": "context", "DecodeState": "decode_state", "Encoder": "encoder", "LLMBackend": "llm",
    "LoraSpec": "lora_spec", "MediaLoader": "media_loader", "OriginalProjector": "conversion",
    "OriginalTower": "conversion", "PatchGrid": "patch_grid", "Projector": "projector",
    "TokenLayout": "token_layout",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), {n: f"{__name__}.{m}" for n, m in _MODULES.items()})


__all__ = [
    "BuildContext", "DecodeState", "Encoder", "LLMBackend", "LoraSpec", "MediaLoader", "OriginalProjector",
    "OriginalTower", "PatchGrid", "Projector", "TokenLayout",
]
