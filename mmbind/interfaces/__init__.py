"""mmbind.interfaces

The public interfaces a plugin implements: `Encoder`, `Projector`, `LLMBackend` (with the `DecodeState` its
``start_decoding`` returns and the `LoraSpec` its ``apply_lora`` takes), `MediaLoader`, and the
`BuildContext` handed to every ``build`` function (`PatchGrid`: what an encoder that supports masked
encoding declares). They declare everything the host and the trainer use of a part: nothing reaches past
them. `encoder_helpers` (imported as ``mmbind.interfaces.encoder_helpers``) holds what image / video encoder
plugins share: frame flattening, frame-major joining, CLS dropping, ...
"""

from mmbind.interfaces.context import BuildContext
from mmbind.interfaces.decode_state import DecodeState
from mmbind.interfaces.encoder import Encoder
from mmbind.interfaces.llm import LLMBackend
from mmbind.interfaces.lora_spec import LoraSpec
from mmbind.interfaces.media_loader import MediaLoader
from mmbind.interfaces.patch_grid import PatchGrid
from mmbind.interfaces.projector import Projector
from mmbind.interfaces.token_layout import TokenLayout

__all__ = [
    "BuildContext", "DecodeState", "Encoder", "LLMBackend", "LoraSpec", "MediaLoader", "PatchGrid",
    "Projector", "TokenLayout",
]
