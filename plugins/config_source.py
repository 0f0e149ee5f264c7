"""config_source.py

A transformers config proven valid from transformers' source text, without importing transformers: importing
any config class imports torch, torchvision and torch._dynamo (seconds), which a recipe check should not cost.

`proven_valid` reads the config class from its module's source (the ``ast``, never executed): the fields it
declares, their annotations and defaults. It answers True only when it can tell that transformers would build
the config: every given key is a field the class declares, every value has the plain type its annotation
names (checked as huggingface_hub's ``@strict`` does), no given field carries a validator of its own
(``interval(...)``), and the attention geometry holds. Anything it cannot tell (a field of
``PreTrainedConfig``, an alias, a nested value, a class not reviewed, a file that moved) answers False, and
the caller builds the config with transformers, whose own error is then the one reported. It never raises.

Only the classes in `REVIEWED` are read: their validation methods were read and found to check nothing
beyond the attention geometry (which `hf_config` checks itself). tests/plugins/test_config_source.py holds
each of them to transformers' verdicts, so a transformers release that adds a check to one fails there.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path
from typing import Any, NamedTuple

# config class -> (model_type, the module folder under transformers/models)
REVIEWED: dict[str, tuple[str, str]] = {
    "LlamaConfig": ("llama", "llama"),
    "CLIPVisionConfig": ("clip_vision_model", "clip"),
}
_NO_DEFAULT = object()  # a field without a default, or with one that is not a literal


class Field(NamedTuple):
    """One field of a config class: its annotation (an ast expression) and its default."""

    annotation: ast.expr
    default: Any  # the literal default, or _NO_DEFAULT
    validated: bool  # the default is a call (a field carrying a validator of its own)


def proven_valid(class_name: str, fields: dict[str, Any]) -> bool:
    """True when transformers' ``class_name(**fields)`` is known to succeed (see the module's docstring)."""
    schema = class_fields(class_name)
    if schema is None:
        return False
    for key, value in fields.items():
        field = schema.get(key)
        if field is None or field.validated or not _matches(value, field.annotation):
            return False
    return _geometry_holds({**{k: f.default for k, f in schema.items()}, **fields}, fields)


def model_type_class(model_type: Any) -> str | None:
    """The reviewed config class of ``model_type``, or None."""
    return next((name for name, (kind, _) in REVIEWED.items() if kind == model_type), None)


@functools.cache
def class_fields(class_name: str) -> dict[str, Field] | None:
    """The fields the reviewed config class ``class_name`` declares itself, read from the installed
    transformers' source; None when it cannot be read as expected. ``PreTrainedConfig``'s own fields are left
    out: its ``__post_init__`` gives several of them a meaning beyond their type (``dtype`` names a torch
    type), so a config that sets one is left to transformers."""
    if class_name not in REVIEWED:
        return None
    root = _transformers_root()
    if root is None:
        return None
    model_type, folder = REVIEWED[class_name]
    own = _class_node(root / "models" / folder / f"configuration_{folder}.py", class_name)
    if own is None or [ast.unparse(b) for b in own.bases] != ["PreTrainedConfig"]:
        return None
    if _class_constant(own, "model_type") != model_type:
        return None
    if _class_constant(own, "attribute_map") not in (None, {}):  # aliases: left to transformers
        return None
    return _fields_of(own)


def _transformers_root() -> Path | None:
    try:
        spec = importlib.util.find_spec("transformers")  # finds the package without importing it
    except (ImportError, ValueError):
        return None
    return Path(spec.origin).parent if spec is not None and spec.origin else None


def _class_node(path: Path, name: str) -> ast.ClassDef | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    return next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)


def _class_constant(node: ast.ClassDef, name: str) -> Any:
    for statement in node.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            try:
                return ast.literal_eval(statement.value)
            except ValueError:
                return _NO_DEFAULT
    return None


def _fields_of(node: ast.ClassDef) -> dict[str, Field]:
    fields = {}
    for statement in node.body:
        if not isinstance(statement, ast.AnnAssign) or not isinstance(statement.target, ast.Name):
            continue
        annotation = statement.annotation
        if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) == "ClassVar":
            continue
        default, validated = _NO_DEFAULT, isinstance(statement.value, ast.Call)
        if statement.value is not None and not validated:
            try:
                default = ast.literal_eval(statement.value)
            except ValueError:
                validated = True  # an expression transformers evaluates: not told from the text
        fields[statement.target.id] = Field(annotation, default, validated)
    return fields


_PLAIN = {"int": int, "float": float, "bool": bool, "str": str}


def _matches(value: Any, annotation: ast.expr) -> bool:
    """Whether ``value`` is known to pass huggingface_hub's strict check of ``annotation`` (False when the
    annotation is not one of the plain forms read here)."""
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _matches(value, annotation.left) or _matches(value, annotation.right)
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return value is None
    if isinstance(annotation, ast.Name) and annotation.id in _PLAIN:
        expected = _PLAIN[annotation.id]
        return isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    if isinstance(annotation, ast.Subscript) and ast.unparse(annotation.value) == "list":
        return isinstance(value, list) and all(_matches(item, annotation.slice) for item in value)
    return False


def _geometry_holds(values: dict[str, Any], given: dict[str, Any]) -> bool:
    """The attention geometry `hf_config` checks (and LlamaConfig's and CLIPVisionConfig's
    ``validate_architecture``): the hidden size divisible by the heads, the heads by the key/value heads."""
    hidden, heads = values.get("hidden_size"), values.get("num_attention_heads")
    kv_heads = values.get("num_key_value_heads")
    if not isinstance(hidden, int) or not isinstance(heads, int) or min(hidden, heads) <= 0:
        return False
    if hidden % heads:
        return False
    if "head_dim" in given:  # a head width of its own: left to transformers
        return False
    return kv_heads is None or (isinstance(kv_heads, int) and kv_heads > 0 and heads % kv_heads == 0)
