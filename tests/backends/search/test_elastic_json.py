"""The Elasticsearch client's JSON (``elastic_json.FastJsonSerializer``): orjson for what it can write, the
standard library for what it refuses, the same values either way; and documents that take either path
come back from a real node as they were sent."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from codelupe_dagster.backends.search import CODE_SCHEMA
from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex
from codelupe_dagster.backends.search.elastic_json import FastJsonSerializer

SERIALIZER = FastJsonSerializer()


@pytest.mark.parametrize(
    "value",
    [
        {
            "content": "def naïve():\n\treturn '漢字' + \"🐍\"\\\\\n",
            "quality_score": 0.1 + 0.2,
            "n": -(2**63),
        },
        {"floats": [1e-7, 1.5e300, 0.7, 123456.789], "flag": True, "none": None, "nested": {"a": [1, {}]}},
        {"control": "\x00\x01\x1f\x7f\u2028", "empty": ""},
    ],
)
def test_orjson_output_reads_back_as_the_same_values_as_the_standard_library(value: dict) -> None:
    written = SERIALIZER.dumps(value)
    assert json.loads(written) == value == json.loads(json.dumps(value))
    assert SERIALIZER.loads(written) == value


def test_what_orjson_refuses_goes_through_the_standard_library() -> None:
    lone = {"content": "bad \udc80 byte and \ud800", "big": 2**70}
    written = SERIALIZER.dumps(lone)
    assert written.isascii() and b"\\udc80" in written and str(2**70).encode() in written
    assert json.loads(written) == lone
    # Read back too, as the node returns such a document: orjson refuses the escape, json reads it.
    assert SERIALIZER.loads(b'{"content":"bad \\uDC80 byte","pair":"\\uD83D\\uDC0D"}') == {
        "content": "bad \udc80 byte",
        "pair": "\U0001f40d",
    }


def test_dates_are_iso_8601_as_before() -> None:
    when = datetime(2026, 12, 2, 16, 0, 0, 123456, tzinfo=UTC)
    assert json.loads(SERIALIZER.dumps({"at": when}))["at"] == when.isoformat()


def test_nan_never_reaches_the_node_as_invalid_json() -> None:
    written = SERIALIZER.dumps({"score": math.nan})
    assert json.loads(written) == {"score": None}


def test_the_client_of_the_index_uses_it() -> None:
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url="http://127.0.0.1:9", name="unused")
    for mimetype in ("application/json", "application/vnd.elasticsearch+json"):
        assert isinstance(index.client.transport.serializers.get_serializer(mimetype), FastJsonSerializer)


@pytest.fixture
def index_name(elasticsearch_url: str) -> Iterator[str]:
    name = f"test-es-json-{uuid.uuid4().hex[:10]}"
    yield name
    Elasticsearch(elasticsearch_url).indices.delete(index=name, ignore_unavailable=True)


@pytest.mark.elasticsearch
def test_documents_on_either_path_come_back_from_a_real_node_as_sent(elasticsearch_url, index_name) -> None:
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name)
    index.ensure()
    docs = [
        {"id": "plain", "content": "def naïveParse(x):\n    return '漢字🐍'\n", "quality_score": 0.7},
        {"id": "lone", "content": "surrogate \udc80 here naïveParse", "quality_score": 0.30000000000000004},
    ]
    result = index.bulk_upsert(docs)
    assert result.indexed == 2 and not result.errors
    index.refresh()
    stored = index.get(["plain", "lone"])
    assert stored["plain"] == docs[0]
    # The node stores the lone surrogate and returns it as the escape it was sent as.
    assert stored["lone"] == docs[1]
    assert {hit.doc["id"] for hit in index.search("naïveParse")} == {"plain", "lone"}
