"""mmbind.interfaces

The public interfaces a plugin implements: `Encoder`, `Projector`, `LLMBackend`, and the `BuildContext`
handed to every ``build`` function. `encoder_helpers` (imported as ``mmbind.interfaces.encoder_helpers``)
holds what image / video encoder plugins share: frame flattening, frame-major joining, CLS dropping, ...
"""

from mmbind.interfaces.context import BuildContext
from mmbind.interfaces.encoder import Encoder
from mmbind.interfaces.llm import LLMBackend
from mmbind.interfaces.projector import Projector

__all__ = ["BuildContext", "Encoder", "LLMBackend", "Projector"]
