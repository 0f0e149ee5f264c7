"""hf_config.py

Recipe-time checks of a transformers config given as a mapping (the ``config:`` option of ``hf_causal``,
``clip_vision`` and the LanguageBind towers): the config is built from it right in the plugin's options
schema, so a wrong ``model_type``, a misspelt key (``num_hiden_layers``: transformers keeps unknown keys as
plain attributes and would silently build the default) or an impossible geometry (hidden size not divisible
by the heads, heads not divisible by the key/value heads, a width, depth or head count that is not a positive
integer: `mmbind.interfaces.model_sizes`) fails when the recipe loads, naming
``config.<key>``, before anything is built or trained.

The errors are pydantic `ValidationError`s located under the field, so the recipe loader reports them as
``model.llm.options.config.num_hiden_layers: ...`` like any other option. A config that passed once is not
built again (`config_memo`), and a plain config of a reviewed class is proven valid from transformers' source
without importing it (`config_source`): transformers is imported only to check what neither can tell, and
its own error is the one reported. `checked_config` builds it always.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from mmbind.interfaces.model_sizes import first_size_problem
from mmbind_plugins.config_memo import check_once
from mmbind_plugins.config_source import model_type_class, proven_valid

if TYPE_CHECKING:
    from transformers import PretrainedConfig

_SOURCE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # what decides a check, with transformers


def config_error(key: str | None, message: str, value: Any, at: tuple[str, ...] = ()) -> ValidationError:
    """A validation error at ``<at>.<key>`` below the validated field (``key`` None: at ``at`` itself)."""
    loc = (*at, key) if key else at
    detail = InitErrorDetails(type=PydanticCustomError("transformers_config", message), loc=loc, input=value)
    return ValidationError.from_exception_data("config", [detail])


def check_config(class_name: str, fields: dict[str, Any], at: tuple[str, ...] = ()) -> None:
    """`checked_config` of transformers' config class ``class_name`` (e.g. ``CLIPVisionConfig``), unless
    these fields passed before."""
    check_sizes(fields, at)
    if proven_valid(class_name, fields):
        return

    def check() -> None:
        import transformers

        checked_config(getattr(transformers, class_name), fields, at)

    check_once({"checker": _SOURCE, "class": class_name, "fields": fields, "at": list(at)}, check)


def check_model_config(config: dict[str, Any], at: tuple[str, ...] = ()) -> None:
    """`checked_config` of a config given with its ``model_type`` (unknown types are errors suggesting close
    names), unless it passed before."""
    fields = dict(config)
    model_type = fields.pop("model_type")
    check_sizes(fields, at)
    reviewed = model_type_class(model_type)
    if reviewed is not None and proven_valid(reviewed, fields):
        return
    check_once({"checker": _SOURCE, "model_type": model_type, "fields": fields, "at": list(at)},
               lambda: checked_config(model_config_class(model_type), fields, at))


def model_config_class(model_type: Any) -> type[PretrainedConfig]:
    """The config class of ``model_type``; an error suggesting close names when transformers has none."""
    from transformers import CONFIG_MAPPING

    if isinstance(model_type, str) and model_type in CONFIG_MAPPING:
        return CONFIG_MAPPING[model_type]
    known = sorted(CONFIG_MAPPING.keys())
    close = difflib.get_close_matches(str(model_type), known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else " (e.g. llama, qwen2, gpt2)"
    raise config_error("model_type", f"unknown transformers model_type {model_type!r}{hint}", model_type)


def checked_config(
    config_class: type[PretrainedConfig], fields: dict[str, Any], at: tuple[str, ...] = ()
) -> PretrainedConfig:
    """``config_class(**fields)`` with unknown keys and inconsistent attention geometry rejected (errors
    located at ``<at>.<key>`` below the validated field or model)."""
    check_sizes(fields, at)
    _check_heads(_effective(config_class, fields), fields, at)
    try:
        config = config_class(**fields)
    except Exception as exc:  # noqa: BLE001 -- transformers' own validators raise assorted types
        cause = exc.__cause__ or exc
        raise config_error(None, f"{config_class.__name__} rejects it: {' '.join(str(cause).split())}",
                           fields, at) from None
    known = _known_keys(config_class)
    for key, value in fields.items():
        # transformers stores a key it does not know verbatim; a key it consumes (renamed, folded into
        # another field such as rope_theta -> rope_parameters) is left as None or removed (a null value
        # cannot tell the two apart and is let through: it changes nothing)
        stored = value is not None and getattr(config, key, None) is value
        if key not in known and key != "model_type" and stored:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise config_error(key, f"unknown key of {config_class.__name__}{hint}", value, at)
    return config


def check_sizes(fields: dict[str, Any], at: tuple[str, ...] = ()) -> None:
    """Widths, depths, head counts (`mmbind.interfaces.model_sizes`) are positive: else an error located at
    ``<at>.<key>`` (checked before, and apart from, the memoised transformers check: it is cheap)."""
    found = first_size_problem(fields)
    if found is not None:
        keys, problem = found
        value: Any = fields
        for key in keys:
            value = value[key]
        raise config_error(".".join(keys), problem, value, at)


def _known_keys(config_class: type[PretrainedConfig]) -> set[str]:
    from transformers import PretrainedConfig

    keys = set(config_class().to_dict()) | set(getattr(config_class, "attribute_map", {}) or {})
    for cls in (config_class, PretrainedConfig):
        keys |= set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    keys |= set(getattr(config_class, "__dataclass_fields__", {}))
    return keys


def _effective(config_class: type[PretrainedConfig], fields: dict[str, Any]) -> dict[str, Any]:
    """The default config's values updated with ``fields``, under the standard names (gpt2's ``n_embd`` is
    ``hidden_size``)."""
    aliases = {alias: name for name, alias in (getattr(config_class, "attribute_map", {}) or {}).items()}
    values = {aliases.get(k, k): v for k, v in config_class().to_dict().items()}
    values.update({aliases.get(k, k): v for k, v in fields.items()})
    if "num_key_value_heads" not in fields and not isinstance(fields.get("num_key_value_heads"), int):
        values["num_key_value_heads"] = None  # defaults to num_attention_heads
    return values


def _check_heads(values: dict[str, Any], fields: dict[str, Any], at: tuple[str, ...]) -> None:
    hidden = values.get("hidden_size")
    heads = values.get("num_attention_heads")
    kv_heads = values.get("num_key_value_heads")
    if not isinstance(hidden, int) or not isinstance(heads, int) or heads <= 0:
        return
    if "head_dim" not in fields and hidden % heads:
        message = f"{hidden} is not divisible by num_attention_heads {heads}"
        raise config_error("hidden_size", message, hidden, at)
    if isinstance(kv_heads, int) and (kv_heads <= 0 or heads % kv_heads):
        raise config_error("num_key_value_heads",
                           f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}",
                           kv_heads, at)
