"""mmbind.interfaces

The public interfaces a plugin implements: `Encoder`, `Projector`, `LLMBackend`, and the `BuildContext`
handed to every ``build`` function.
"""

from mmbind.interfaces.context import BuildContext
from mmbind.interfaces.encoder import Encoder
from mmbind.interfaces.llm import LLMBackend
from mmbind.interfaces.projector import Projector

__all__ = ["BuildContext", "Encoder", "LLMBackend", "Projector"]
