"""JSON text on the change path, through orjson: an agent's view, its live events and the session row's
JSON columns are encoded several times a change, and the standard library's encoder was ~8 % of a
change's CPU (BENCHMARKS.md, "Fast path"). Compact and UTF-8, like ``json.dumps(..., separators=(",",
":"), ensure_ascii=False)``; keys that are not strings are written as strings, as ``json`` does."""

from __future__ import annotations

from typing import Any

import orjson

loads = orjson.loads


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
