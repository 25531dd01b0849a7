"""Elasticsearch-only behaviour: credentials, retries, per-document errors, mapping upgrades.

Faults come from a real node: mapping conflicts are real rejections, and overload (429) or a failing
gateway (503) is injected by a loopback HTTP proxy in front of the node — every other byte the client
sees is the node's own answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from elasticsearch import Elasticsearch

from codelupe_dagster.backends.search import CODE_SCHEMA, BackendUnavailable, Filters, IndexSchema
from codelupe_dagster.backends.search.base import FieldSpec
from codelupe_dagster.backends.search.elastic_index import ElasticSearchIndex, index_words
from codelupe_dagster.backends.search.elastic_mapping import WORDS_SUFFIX, index_mappings, words_fields
from codelupe_dagster.backends.search.elastic_query import term_clause
from codelupe_dagster.backends.search.matching import TextWords
from codelupe_dagster.backends.search.query_syntax import parse_query
from tests.backends.search.test_index_hints import stdlib_files

pytestmark = pytest.mark.elasticsearch

FAST = {"backoff_s": 0.01}


def doc(i: int, **overrides: Any) -> dict[str, Any]:
    base = {
        "id": f"{i:032x}",
        "content": f"def handleRequest{i}(raw_bytes):\n    return raw_bytes\n",
        "language": "Python",
        "repo": "octo/alpha",
        "quality_score": 0.5,
        "indexed_at": f"2026-11-28T17:00:{i % 60:02d}.000001+00:00",
    }
    return {**base, **overrides}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- a fault-injecting proxy


class FaultProxy:
    """Forwards to the node; ``fault(method, path, body)`` may return ``(status, json_body)`` instead,
    and ``rewrite(path, status, body)`` may alter the node's JSON answer."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.fault: Callable[[str, str, bytes], tuple[int, dict[str, Any]] | None] = lambda *_: None
        self.rewrite: Callable[[str, int, Any], Any] = lambda _path, _status, body: body
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.requests.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                injected = proxy.fault(self.command, self.path, body)
                if injected is not None:
                    status, payload = injected
                    self._reply(status, json.dumps(payload).encode(), "application/json")
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                content_type = response.getheader("Content-Type", "application/json")
                if data and "json" in content_type:  # the 9.x client negotiates vnd.elasticsearch+json
                    rewritten = proxy.rewrite(self.path, response.status, json.loads(data))
                    data = json.dumps(rewritten).encode()
                self._reply(response.status, data, content_type)

            def _reply(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def bulk_requests(self) -> int:
        return sum(1 for _, path, _ in self.requests if "_bulk" in path)


REJECTED = {
    "error": {
        "root_cause": [{"type": "es_rejected_execution_exception", "reason": "rejected execution"}],
        "type": "es_rejected_execution_exception",
        "reason": "rejected execution of coordinating operation [coordinating_and_primary_bytes=0]",
    },
    "status": 429,
}


@pytest.fixture
def proxy(elasticsearch_url: str) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(elasticsearch_url)
    fault_proxy.thread.start()
    yield fault_proxy
    fault_proxy.server.shutdown()
    fault_proxy.server.server_close()


@pytest.fixture
def index_name(elasticsearch_url: str) -> Iterator[str]:
    name = f"test-es-{uuid.uuid4().hex[:10]}"
    yield name
    Elasticsearch(elasticsearch_url).indices.delete(index=name, ignore_unavailable=True)


def through(proxy: FaultProxy, name: str, **options: Any) -> ElasticSearchIndex:
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=proxy.url, name=name, **{**FAST, **options})
    index.ensure()
    return index


# ---------------------------------------------------------------- analysis (pure)


def test_index_words_holds_every_word_once_and_camel_case_sub_words_apart():
    words = index_words("def parseHttpRequest(raw_bytes):\n    return os.path.join(raw_bytes, naïve)\n")
    first, *identifiers = words
    assert len(first.split()) == len(set(first.split()))
    assert {"parsehttprequest", "raw", "bytes", "os", "path", "join", "naïve"} <= set(first.split())
    assert identifiers == ["parse Http Request"]


# ---------------------------------------------------------------- unreachable servers


def test_a_server_that_is_down_raises_backend_unavailable_naming_the_masked_url():
    url = f"http://elastic:s3cret@127.0.0.1:{free_port()}"
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=url, name="codelupe-code", attempts=2, **FAST)
    for operation in (index.ping, index.count, index.ensure, lambda: index.bulk_upsert([doc(1)])):
        with pytest.raises(BackendUnavailable) as caught:
            operation()
        message = str(caught.value)
        assert "elastic:***@127.0.0.1" in message
        assert "s3cret" not in message


def test_persistent_gateway_errors_end_in_backend_unavailable_after_bounded_retries(proxy, index_name):
    index = through(proxy, index_name, attempts=3)
    proxy.fault = lambda method, path, body: (503, {"error": "gateway down", "status": 503})
    with pytest.raises(BackendUnavailable, match="unreachable"):
        index.bulk_upsert([doc(1)])
    # Bounded: 3 attempts of ours, each with the transport's 2 immediate retries.
    assert proxy.bulk_requests() == 9


# ---------------------------------------------------------------- credentials


def test_basic_auth_and_api_key_reach_the_server(proxy, index_name):
    through(proxy, index_name, username="elastic", password="s3cret").count()
    assert proxy.requests[-1][2]["authorization"].startswith("Basic ")
    url_auth = ElasticSearchIndex.connect(
        CODE_SCHEMA, url=proxy.url.replace("http://", "http://elastic:s3cret@"), name=index_name
    )
    url_auth.count()
    assert proxy.requests[-1][2]["authorization"].startswith("Basic ")
    assert url_auth.display_url == proxy.url.replace("http://", "http://elastic:***@")
    ElasticSearchIndex.connect(
        CODE_SCHEMA, url=proxy.url, name=index_name, api_key="a2V5OnNlY3JldA=="
    ).count()
    assert proxy.requests[-1][2]["authorization"] == "ApiKey a2V5OnNlY3JldA=="


# ---------------------------------------------------------------- bulk retries and errors


def test_bulk_retries_whole_requests_rejected_with_429(proxy, index_name):
    index = through(proxy, index_name)
    rejections = {"left": 2}

    def reject_first_bulks(method: str, path: str, body: bytes):
        if "_bulk" in path and rejections["left"]:
            rejections["left"] -= 1
            return 429, REJECTED
        return None

    proxy.fault = reject_first_bulks
    result = index.bulk_upsert([doc(i) for i in range(30)])
    index.refresh()
    assert (result.indexed, result.errors) == (30, [])
    assert proxy.bulk_requests() == 3
    assert index.count() == 30


def test_bulk_retries_only_the_documents_rejected_with_429(proxy, index_name):
    index = through(proxy, index_name)
    victim = doc(3)["id"]
    rejections = {"left": 2}

    def reject_one_item(path: str, status: int, body: Any) -> Any:
        if "_bulk" not in path or not rejections["left"]:
            return body
        for item in body["items"]:
            outcome = item["index"]
            if outcome["_id"] == victim:
                rejections["left"] -= 1
                body["errors"] = True
                outcome.update(status=429, error=REJECTED["error"])
        return body

    proxy.rewrite = reject_one_item
    result = index.bulk_upsert([doc(i) for i in range(10)])
    assert (result.indexed, result.errors) == (10, [])
    bulk_bodies = [path for method, path, _ in proxy.requests if "_bulk" in path]
    assert len(bulk_bodies) == 3  # the first request, then two retries carrying only the victim


def test_documents_still_rejected_after_retries_are_reported(proxy, index_name):
    index = through(proxy, index_name, bulk_429_retries=2)
    victim = doc(4)["id"]

    def always_reject(path: str, status: int, body: Any) -> Any:
        for item in body.get("items", []):
            if item["index"]["_id"] == victim:
                body["errors"] = True
                item["index"].update(status=429, error=REJECTED["error"])
        return body

    proxy.rewrite = always_reject
    result = index.bulk_upsert([doc(i) for i in range(8)])
    assert result.indexed == 7
    assert [e.id for e in result.errors] == [victim]
    assert "es_rejected_execution_exception" in result.errors[0].reason


def test_transient_503_is_retried(proxy, index_name):
    index = through(proxy, index_name)
    failures = {"left": 4}

    def fail_first_bulks(method: str, path: str, body: bytes):
        if "_bulk" in path and failures["left"]:
            failures["left"] -= 1
            return 503, {"error": "unavailable", "status": 503}
        return None

    proxy.fault = fail_first_bulks
    result = index.bulk_upsert([doc(i) for i in range(5)])
    assert (result.indexed, result.errors) == (5, [])


def test_mapping_conflicts_are_reported_per_document(elasticsearch_url, index_name):
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name, **FAST)
    index.ensure()
    bad_score = doc(2, quality_score="excellent")
    bad_date = doc(3, indexed_at="last tuesday")
    result = index.bulk_upsert([doc(1), bad_score, bad_date, doc(4)])
    index.refresh()
    assert result.indexed == 2
    reasons = {e.id: e.reason for e in result.errors}
    assert set(reasons) == {bad_score["id"], bad_date["id"]}
    assert "quality_score" in reasons[bad_score["id"]]
    assert "indexed_at" in reasons[bad_date["id"]]
    assert set(index.get([d["id"] for d in (doc(1), bad_score, bad_date, doc(4))])) == {
        doc(1)["id"],
        doc(4)["id"],
    }


def test_an_overlong_id_fails_alone(elasticsearch_url, index_name):
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name, **FAST)
    index.ensure()
    result = index.bulk_upsert([doc(1), doc(2, id="x" * 513), doc(3)])
    assert result.indexed == 2
    assert [e.id for e in result.errors] == ["x" * 513]


def test_large_batches_are_split_into_several_bulk_requests(proxy, index_name):
    index = through(proxy, index_name, bulk_chunk_docs=50, bulk_chunk_bytes=64 * 1024)
    big = "x = 1\n" * 2000  # ~12 KB each, so the byte limit splits before the document count does
    result = index.bulk_upsert([doc(i, content=big + f"# doc{i}\n") for i in range(40)])
    assert (result.indexed, result.errors) == (40, [])
    assert proxy.bulk_requests() >= 6


# ---------------------------------------------------------------- a node that goes away for a while


class FlakyTcpProxy:
    """A byte-level loopback proxy in front of the node that can go down for a while, as a restarting
    node does: ``outage(seconds)`` resets every open connection and closes the listening port
    (new connections are refused), then listens on the same port again.

    ``outage_after_bytes`` starts one outage by itself once that many request bytes went upstream,
    so the connection drops in the middle of a bulk request body."""

    def __init__(self, upstream: str, outage_after_bytes: int | None = None, outage_s: float = 3.0):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 9200)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.outage_after_bytes = outage_after_bytes
        self.outage_s = outage_s
        self.forwarded = 0
        self.outages: list[tuple[float, float]] = []  # (went down, came back), monotonic seconds
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)  # the accept loop notices a closed listener within 0.1 s
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while listener is self._listener and not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, to_node: bool) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
                if to_node:
                    self._count(len(data))
        except OSError:
            pass
        finally:
            for sock in (source, target):
                self._reset(sock)

    def _count(self, sent: int) -> None:
        with self._lock:
            self.forwarded += sent
            due = self.outage_after_bytes is not None and self.forwarded >= self.outage_after_bytes
            if due:
                self.outage_after_bytes = None
        if due:
            threading.Thread(target=self.outage, args=(self.outage_s,), daemon=True).start()

    def _reset(self, sock: socket.socket) -> None:
        """Close with RST, as a killed process's sockets close, not with a polite FIN."""
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def outage(self, seconds: float) -> None:
        went_down = time.monotonic()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            self._reset(sock)
        if self._stopped.wait(seconds):
            return
        self._listen()
        self.outages.append((went_down, time.monotonic()))

    def stop(self) -> None:
        self._stopped.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            self._reset(sock)


@pytest.fixture
def flaky_proxy(elasticsearch_url: str) -> Iterator[Callable[..., FlakyTcpProxy]]:
    started: list[FlakyTcpProxy] = []

    def start(**options: Any) -> FlakyTcpProxy:
        started.append(FlakyTcpProxy(elasticsearch_url, **options))
        return started[-1]

    yield start
    for flaky in started:
        flaky.stop()


def test_bulk_upsert_rides_out_a_node_that_drops_and_refuses_connections(flaky_proxy, index_name):
    docs = [
        doc(i, content=f"def handleRequest{i}(raw_bytes):\n    return raw_bytes  # {'x' * 300}\n")
        for i in range(3000)
    ]
    flaky = flaky_proxy(outage_after_bytes=600_000, outage_s=3.0)
    index = ElasticSearchIndex.connect(
        CODE_SCHEMA, url=flaky.url, name=index_name, backoff_s=0.2, retry_for_s=30, bulk_chunk_docs=100
    )
    index.ensure()

    started = time.monotonic()
    result = index.bulk_upsert(docs)
    elapsed = time.monotonic() - started

    assert len(flaky.outages) == 1, "the outage must have happened during the bulk"
    down, up = flaky.outages[0]
    assert up - down >= 3.0 and elapsed >= 3.0
    assert flaky.forwarded > 600_000 * 1.5, "documents kept flowing after the outage"
    assert (result.indexed, result.errors) == (len(docs), [])
    index.refresh()
    assert index.count() == len(docs)
    assert set(index.get([d["id"] for d in docs[::97]])) == {d["id"] for d in docs[::97]}


def test_a_node_down_longer_than_the_retry_budget_ends_in_backend_unavailable(flaky_proxy, index_name):
    flaky = flaky_proxy()
    index = ElasticSearchIndex.connect(
        CODE_SCHEMA, url=flaky.url, name=index_name, backoff_s=0.2, retry_for_s=2.0
    )
    index.ensure()
    outage = threading.Thread(target=flaky.outage, args=(20.0,), daemon=True)
    outage.start()
    time.sleep(0.2)

    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="unreachable") as caught:
        index.bulk_upsert([doc(i) for i in range(10)])
    elapsed = time.monotonic() - started
    gave_up_during_outage = outage.is_alive()

    # Retried for a while, then gave up while the 20 s outage was still on: the budget (2 s) bounded the
    # wait, not the node's return. No upper time bound: a loaded machine only makes each attempt slower.
    assert elapsed >= 1.0, f"gave up after {elapsed:.1f} s, before spending its retry budget"
    assert gave_up_during_outage, "retries went on until the node came back, past retry_for_s"
    assert flaky.url.removeprefix("http://") in str(caught.value)


# ---------------------------------------------------------------- mappings and iteration


def newer_code_schema() -> IndexSchema:
    """The code schema one version on, with one more keyword field."""
    return replace(
        CODE_SCHEMA,
        fields=(*CODE_SCHEMA.fields, FieldSpec("reviewer", "keyword")),
        version=CODE_SCHEMA.version + 1,
    )


def create_with_distinct_words(client: Elasticsearch, name: str) -> None:
    """An index as `ensure` made it from 2026-12-01 to 12-02: the text by the standard analyzer, each
    word once in `__words` (elastic_mapping)."""
    client.indices.create(
        index=name, settings={"number_of_shards": 1}, mappings=index_mappings(CODE_SCHEMA, ordered=False)
    )


def test_ensure_adds_fields_of_a_newer_schema_version_and_keeps_documents(elasticsearch_url, index_name):
    old = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name)
    old.ensure()
    old.bulk_upsert([doc(1)])
    newer_schema = newer_code_schema()
    newer = ElasticSearchIndex.connect(newer_schema, url=elasticsearch_url, name=index_name)
    newer.ensure()
    newer.ensure()
    newer.bulk_upsert([doc(2, reviewer="ada")])
    newer.refresh()
    mapping = old.client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mapping["_meta"]["schema_version"] == newer_schema.version
    assert mapping["properties"]["reviewer"] == {"type": "keyword"}
    assert newer.count() == 2
    assert newer.terms("reviewer") == {"ada": 1}


def test_a_new_index_searches_the_words_in_order_and_leaves_the_text_unanalyzed(
    elasticsearch_url, index_name
):
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name)
    index.ensure()
    text = "def parseHTTPRequest(raw_bytes):\n    return os.path.join(raw_bytes, Naïve)\n"
    index.bulk_upsert([doc(1, content=text), doc(2, content="join(os, path)\n")])
    index.refresh()

    mapping = index.client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mapping["properties"]["content"] == {"type": "text", "index": False}
    assert mapping["properties"]["content" + WORDS_SUFFIX] == {"type": "text", "analyzer": "whitespace"}
    assert mapping["_meta"]["codelupe_words"] == "ordered"
    raw = index.client.get(index=index_name, id=doc(1)["id"])["_source"]
    assert raw["content" + WORDS_SUFFIX] == [
        "def parsehttprequest raw bytes return os path join raw bytes naïve",
        "parse http request",
    ]
    # The text's words are one phrase across punctuation; the camelCase entry is a phrase of its own.
    phrase = {"match_phrase": {"content" + WORDS_SUFFIX: "os path join"}}
    found = index.client.search(index=index_name, query=phrase)["hits"]["hits"]
    assert [hit["_id"] for hit in found] == [doc(1)["id"]]
    assert [h.id for h in index.search("os.path.join")] == [doc(1)["id"]]
    assert [h.id for h in index.search("http request")] == [doc(1)["id"]]
    assert {h.id for h in index.search("naïve path")} == {doc(1)["id"], doc(2)["id"]}


def test_an_index_made_before_2026_12_03_keeps_its_words_through_ensure(elasticsearch_url, index_name):
    """An index made with each word once and the text by the standard analyzer is ensured, extended,
    written and searched in its own layout: `ensure` never sends it today's mapping, which the node
    would refuse (a field's analyzer cannot change)."""
    client = Elasticsearch(elasticsearch_url)
    create_with_distinct_words(client, index_name)
    newer_schema = newer_code_schema()
    index = ElasticSearchIndex.connect(newer_schema, url=elasticsearch_url, name=index_name)
    index.ensure()
    index.bulk_upsert([doc(1, reviewer="ada"), doc(2, content="class PlainText:\n    pass  # handle\n")])
    index.refresh()

    mapping = client.indices.get_mapping(index=index_name)[index_name]["mappings"]
    assert mapping["properties"]["content"] == {"type": "text", "analyzer": "standard"}
    assert mapping["properties"]["reviewer"] == {"type": "keyword"}
    assert "codelupe_words" not in mapping["_meta"]
    assert mapping["_meta"]["schema_version"] == newer_schema.version
    raw = client.get(index=index_name, id=doc(1)["id"])["_source"]
    assert raw["content" + WORDS_SUFFIX] == index_words(doc(1)["content"])
    assert [h.id for h in index.search("handleRequest1")] == [doc(1)["id"]]
    assert {h.id for h in index.search("handle")} == {doc(1)["id"], doc(2)["id"]}
    assert index.terms("reviewer") == {"ada": 1}
    # Another process opening it later reads its layout from the mapping.
    again = ElasticSearchIndex.connect(newer_schema, url=elasticsearch_url, name=index_name)
    assert [h.id for h in again.search("raw_bytes")] == [doc(1)["id"]]


# Terms a stdlib sample holds in some files and not in others: words, dotted names and snake_case (a
# phrase of their words), camelCase (the word, or its sub-words inside one identifier), quoted phrases.
EXACT_QUERIES = (
    "self",
    "isinstance",
    "os.path.join",
    "sys.exit",
    "__init__",
    "raise_error",
    "TestCase",
    "assertEqual",
    "HTTPServer",
    "getLogger",
    "utf-8",
    '"return self"',
    '"raise ValueError"',
    '"import os"',
    '"if not"',
    "Häring",
    "µ",
)


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered words", "words before 2026-12-03"])
def test_the_words_find_the_documents_the_text_check_finds(elasticsearch_url, index_name, ordered):
    """On an index made now, a term's query finds exactly the documents that `matching` (the text check
    both backends share) says hold it, so ranking and `--all` see every holder before the check; on an
    older index, a superset, which the text check narrows."""
    client = Elasticsearch(elasticsearch_url)
    if not ordered:
        create_with_distinct_words(client, index_name)
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name)
    index.ensure()
    files = stdlib_files(limit=250) + stdlib_files(limit=30, non_ascii=True)
    docs = [doc(i, content=text, path=path) for i, (path, text) in enumerate(files)]
    assert index.bulk_upsert(docs).errors == []
    index.refresh()

    for query in EXACT_QUERIES:
        for term in parse_query(query).terms:
            body = {"bool": {"filter": [term_clause(term, CODE_SCHEMA.searched(), ordered)]}}
            hits = client.search(index=index_name, query=body, size=len(docs), source=False)["hits"]["hits"]
            found = {hit["_id"] for hit in hits}
            holders = {d["id"] for d in docs if TextWords(d["content"]).has(term)}
            assert 0 < len(holders) < len(docs), f"{query!r} should split the sample"
            if ordered:
                assert found == holders, query
            else:
                assert found >= holders, query


def create_with_source_excludes(client: Elasticsearch, name: str) -> None:
    """An index as `ensure` made it before 2026-12: the match-only words cut out of `_source`."""
    mappings = index_mappings(CODE_SCHEMA, ordered=False)
    mappings["_source"] = {"excludes": words_fields(CODE_SCHEMA)}
    client.indices.create(index=name, settings={"number_of_shards": 1}, mappings=mappings)


@pytest.mark.parametrize("made", ["now", "before 2026-12"])
def test_reads_never_return_the_match_only_words(elasticsearch_url, index_name, made):
    """The words are stored with a document now (cutting them out of `_source` costs the node more CPU
    and disk: elastic_mapping's docstring); every read leaves them out, on such an index and on one made
    with `_source.excludes`, which keeps working as it did."""
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name)
    if made != "now":
        create_with_source_excludes(index.client, index_name)
    index.ensure()
    index.bulk_upsert([doc(1), doc(2, content="class PlainText:\n    pass\n")])
    index.refresh()

    raw = index.client.get(index=index_name, id=doc(1)["id"])["_source"]
    assert ("content" + WORDS_SUFFIX in raw) == (made == "now")
    assert index.get([doc(1)["id"]]) == {doc(1)["id"]: doc(1)}
    assert [h.doc for h in index.search("handle")] == [doc(1)]
    assert [h.doc for h in index.search("plain")] == [doc(2, content="class PlainText:\n    pass\n")]
    assert sorted(index.iter_documents(), key=lambda d: d["id"]) == [
        doc(1),
        doc(2, content="class PlainText:\n    pass\n"),
    ]
    assert list(index.iter_documents(fields=["repo"], limit=1)) == [
        {"id": doc(1)["id"], "repo": "octo/alpha"}
    ]


def test_iteration_closes_its_point_in_time_when_abandoned(elasticsearch_url, index_name):
    index = ElasticSearchIndex.connect(CODE_SCHEMA, url=elasticsearch_url, name=index_name)
    index.ensure()
    index.bulk_upsert([doc(i) for i in range(12)])
    index.refresh()

    def open_contexts() -> int:
        stats = index.client.indices.stats(index=index_name, metric="search")
        return stats["_all"]["total"]["search"]["open_contexts"]

    pages = index.iter_documents(Filters(languages=("Python",)), batch_size=5)
    assert next(pages)["id"] == doc(0)["id"]
    assert open_contexts() == 1
    pages.close()
    assert open_contexts() == 0


# ---------------------------------------------------------------- parallel bulk streams and refresh


def refresh_interval(elasticsearch_url: str, name: str) -> str | None:
    """The index's own ``refresh_interval`` (None: not set, the node's default), read past any proxy."""
    settings = Elasticsearch(elasticsearch_url).indices.get_settings(index=name, flat_settings=True)
    return settings[name]["settings"].get("index.refresh_interval")


def set_refresh_interval(elasticsearch_url: str, name: str, value: str | None) -> None:
    Elasticsearch(elasticsearch_url).indices.put_settings(index=name, settings={"refresh_interval": value})


def several_requests(count: int = 6, per_request: int = 5) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Options that split ``count * per_request`` documents into ``count`` bulk requests, and the docs."""
    return {"bulk_chunk_docs": per_request}, [doc(i) for i in range(count * per_request)]


@pytest.mark.parametrize("before", [None, "7s", "-1"])
def test_a_bulk_of_several_requests_leaves_the_refresh_as_it_is(proxy, elasticsearch_url, index_name, before):
    """Whatever the index's refresh interval (the node's default, an operator's, paused), a bulk of several
    requests neither reads nor changes it: pausing it cost more than it saved (issue 12)."""
    options, docs = several_requests()
    index = through(proxy, index_name, **options)
    set_refresh_interval(elasticsearch_url, index_name, before)
    proxy.requests.clear()
    result = index.bulk_upsert(docs)
    assert (result.indexed, result.errors) == (len(docs), [])
    assert proxy.bulk_requests() == 6
    assert [path for _, path, _ in proxy.requests if "_settings" in path] == []
    assert refresh_interval(elasticsearch_url, index_name) == before
    index.refresh()
    assert index.count() == len(docs)


def test_a_single_request_leaves_the_settings_alone(proxy, index_name):
    index = through(proxy, index_name)
    proxy.requests.clear()
    assert index.bulk_upsert([doc(i) for i in range(10)]).indexed == 10
    assert [path for _, path, _ in proxy.requests if "_settings" in path] == []
    assert proxy.bulk_requests() == 1


def test_bulk_requests_are_sent_concurrently_up_to_the_thread_count(proxy, index_name):
    options, docs = several_requests(count=9)
    index = through(proxy, index_name, bulk_threads=3, **options)
    both_in_flight = threading.Barrier(3, timeout=60)
    lock = threading.Lock()
    state = {"active": 0, "most": 0, "met": False}

    def hold(method: str, path: str, body: bytes):
        if "_bulk" not in path:
            return None
        with lock:
            state["active"] += 1
            state["most"] = max(state["most"], state["active"])
        try:
            if not state["met"]:
                # The first three requests meet here: they can only if all three are in flight at once.
                with contextlib.suppress(threading.BrokenBarrierError):
                    both_in_flight.wait()
                    state["met"] = True
            time.sleep(0.05)
        finally:
            with lock:
                state["active"] -= 1
        return None

    proxy.fault = hold
    result = index.bulk_upsert(docs)
    assert (result.indexed, result.errors) == (len(docs), [])
    assert state["met"], "three bulk requests were never in flight together"
    assert state["most"] == 3
    index.refresh()
    assert index.count() == len(docs)


def test_in_flight_bytes_bound_the_requests_sent_at_once(proxy, index_name):
    options, docs = several_requests()
    index = through(proxy, index_name, bulk_threads=3, bulk_inflight_bytes=1, **options)
    lock = threading.Lock()
    state = {"active": 0, "most": 0}

    def count(method: str, path: str, body: bytes):
        if "_bulk" in path:
            with lock:
                state["active"] += 1
                state["most"] = max(state["most"], state["active"])
            time.sleep(0.05)
            with lock:
                state["active"] -= 1
        return None

    proxy.fault = count
    assert index.bulk_upsert(docs).indexed == len(docs)
    assert state["most"] == 1  # one batch alone is over the budget: sent one at a time
    assert proxy.bulk_requests() == 6


def test_rejections_of_concurrent_requests_are_each_reported(proxy, index_name):
    options, docs = several_requests(count=8)
    index = through(proxy, index_name, bulk_threads=3, bulk_429_retries=1, **options)
    victims = {docs[i]["id"] for i in (2, 13, 14, 39)}

    def reject_victims(path: str, status: int, body: Any) -> Any:
        for item in body.get("items", []):
            if item["index"]["_id"] in victims:
                body["errors"] = True
                item["index"].update(status=429, error=REJECTED["error"])
        return body

    proxy.rewrite = reject_victims
    result = index.bulk_upsert(docs)
    assert result.indexed == len(docs) - len(victims)
    assert sorted(e.id for e in result.errors) == sorted(victims)
    proxy.rewrite = lambda _path, _status, body: body
    again = index.bulk_upsert(docs)  # the re-run once the node accepts them: by id, nothing doubled
    assert (again.indexed, again.errors) == (len(docs), [])
    index.refresh()
    assert index.count() == len(docs)
