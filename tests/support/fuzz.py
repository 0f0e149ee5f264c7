"""fuzz.py

Hostile inputs for the fuzz suite (`tests/fuzz`): JSON that is valid but nested thousands deep, integers
of thousands of digits, ``NaN``, lone surrogates, broken bytes, random JSON values of the wrong shape, and
the contract every door keeps: `assert_clean` (a typed `MmbindError` or a clean result, never anything
else). The settings profile ``fuzz`` (derandomized, few examples, no deadline) is registered in
``tests/fuzz/conftest.py``.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

PROFILE = "fuzz"

# JSON scalars and containers of any shape (valid JSON, usually the wrong shape for the reader)
scalars = (st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
           | st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _deep(depth: int, kind: str) -> str:
    return ("[" * depth + "1" + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


deep_json = st.builds(_deep, st.sampled_from([65, 200, 3000, 50000]), st.sampled_from(["list", "dict"]))
huge_ints = st.sampled_from([101, 4301, 20000]).map(lambda n: "9" * n)
surrogate_strings = st.sampled_from(['"\\ud800"', '"a\\udfffb"', '"\\udc80x"'])
constants = st.sampled_from(["NaN", "Infinity", "-Infinity"])
hostile_values = deep_json | huge_ints | surrogate_strings | constants  # JSON text of one value


@st.composite
def hostile_text(draw: Any, template: str = "{}") -> str:
    """JSON text: ``template`` with a hostile value, a random value, or random text put in its ``{}``."""
    inner = draw(hostile_values | values.map(json.dumps) | st.text(max_size=30))
    return template.replace("{}", inner, 1)


broken_bytes = st.sampled_from([b"\xff\xfe[1]", b'{"id": "\xe9"}', b"\x00\x00", b"[", b""])
