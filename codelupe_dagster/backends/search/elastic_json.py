"""The JSON the Elasticsearch client writes and reads: orjson, with the standard library behind it.

With the client's default serializer (``json.dumps(ensure_ascii=False)``), encoding the bulk bodies was
most of this process's CPU while indexing: ~0.24 s for CPython's ``Lib`` (38 MB of bodies), against 0.02 s
with orjson (``bench/index_bulk.py``). On a machine the node shares, every CPU second spent here is one
the node does not get.

orjson refuses what is not valid UTF-8 (a ``str`` holding lone surrogates) and integers beyond 64 bits;
those documents go through the standard library instead, written as ``\\uXXXX`` escapes and plain digits.
The node stores such a surrogate and returns it as the same escape, which orjson refuses to read too:
those responses are read by the standard library. Both encoders write the same values:
orjson's shortest float repr parses back to the same double, and dates are ISO 8601 either way.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from elastic_transport import JsonSerializer


class FastJsonSerializer(JsonSerializer):
    """``application/json`` (and its compatible-with variants) for the Elasticsearch client."""

    def json_dumps(self, data: Any) -> bytes:
        try:
            return orjson.dumps(data, default=self.default)
        except orjson.JSONEncodeError:
            return json.dumps(data, default=self.default, separators=(",", ":")).encode()

    def json_loads(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # a lone surrogate's escape, as the node returns a stored one
            return json.loads(data)
