"""The SearchIndex contract on Elasticsearch 9 (``ELASTICSEARCH_URL``).

The mapping and the words sent with each document are in ``elastic_mapping``; the query bodies in
``elastic_query``. Here: the connection, bounded retries with backoff, bulk writes, and the reads.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from elastic_transport import ObjectApiResponse
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from elasticsearch.helpers import streaming_bulk

from codelupe_dagster.backends.search import elastic_query
from codelupe_dagster.backends.search.base import (
    QUALITY_BUCKETS,
    BackendUnavailable,
    BulkResult,
    DocError,
    FieldKind,
    Filters,
    Hit,
    IndexSchema,
    SearchIndex,
)
from codelupe_dagster.backends.search.elastic_json import FastJsonSerializer
from codelupe_dagster.backends.search.elastic_mapping import (
    document_source,
    has_ordered_words,
    index_mappings,
    index_words,
    words_fields,
)
from codelupe_dagster.backends.search.query_syntax import ParsedQuery
from codelupe_dagster.core.masking import mask_secrets_in_text, mask_url

__all__ = ["ElasticSearchIndex", "index_words"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Body = dict[str, Any]
_Batch = tuple[list[dict[str, Any]], int]  # bulk actions, and their estimated size in bytes

MAX_ID_BYTES = 512
_RETRIABLE_STATUS = (502, 503, 504)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _strip_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), (parts.username, parts.password or "")


def _reason(error: object) -> str:
    if not isinstance(error, dict):
        return str(error)
    reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        reason += f" (caused by {cause.get('type')}: {cause['reason']})"
    return reason


def _merge(result: BulkResult, outcome: BulkResult) -> None:
    result.indexed += outcome.indexed
    result.errors.extend(outcome.errors)


def _index_missing(exc: ApiError) -> bool:
    return exc.status_code == 404 and exc.error == "index_not_found_exception"


class ElasticSearchIndex(SearchIndex):
    """One Elasticsearch index. Stateless apart from the client, so it is safe to share per process."""

    def __init__(
        self,
        schema: IndexSchema,
        client: Elasticsearch,
        *,
        name: str,
        display_url: str,
        retry_for_s: float = 60.0,
        attempts: int | None = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 5.0,
        bulk_429_retries: int = 6,
        bulk_chunk_docs: int = 500,
        bulk_chunk_bytes: int = 10 * 1024 * 1024,
        bulk_threads: int = 2,
        bulk_inflight_bytes: int = 40 * 1024 * 1024,
    ):
        self.schema = schema
        self.name = name
        self.client = client
        self.display_url = display_url
        self.retry_for_s = retry_for_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.bulk_429_retries = bulk_429_retries
        self.bulk_chunk_docs = bulk_chunk_docs
        self.bulk_chunk_bytes = bulk_chunk_bytes
        # Bulk requests of one `bulk_upsert` in flight at once, each on its own connection, and the most
        # document bytes (estimated as in `_batches`) sent or waiting to be sent at any time.
        self.bulk_threads = max(1, bulk_threads)
        self.bulk_inflight_bytes = bulk_inflight_bytes
        self._text_fields = schema.searched()
        self._words_fields = words_fields(schema)  # never returned by a read
        # Whether the index holds every word in order (made from 2026-12-03), once read from its mapping.
        self._ordered: bool | None = None

    @classmethod
    def connect(
        cls,
        schema: IndexSchema,
        *,
        url: str,
        name: str,
        api_key: str | None = None,
        username: str | None = None,
        password: str | None = None,
        request_timeout: float = 60.0,
        **options: Any,
    ) -> ElasticSearchIndex:
        """A client for ``url``; credentials may also sit in the URL (``https://user:pass@host``)."""
        clean_url, url_auth = _strip_credentials(url)
        auth: dict[str, Any] = {}
        if api_key:
            auth["api_key"] = api_key
        elif username:
            auth["basic_auth"] = (username, password or "")
        elif url_auth:
            auth["basic_auth"] = url_auth
        client = Elasticsearch(
            clean_url,
            request_timeout=request_timeout,
            retry_on_timeout=True,
            max_retries=2,
            # 429 is left to the bulk helper, which backs off; the transport would retry at once.
            retry_on_status=_RETRIABLE_STATUS,
            serializers={"application/json": FastJsonSerializer()},
            **auth,
        )
        return cls(schema, client, name=name, display_url=mask_url(url), **options)

    # ------------------------------------------------------------------ plumbing

    def _call(self, action: Callable[[], T], what: str) -> T:
        """Run one request, retrying connection errors (refused, reset, timed out), 5xx and 429 with
        exponential backoff for up to ``retry_for_s`` seconds in all — long enough to ride out a node
        restart — or ``attempts`` tries when set; then raise ``BackendUnavailable``. Other API errors
        (a 400, a 404) are answers, raised at once."""
        deadline = time.monotonic() + self.retry_for_s
        delay = self.backoff_s
        attempt = 0
        while True:
            attempt += 1
            try:
                return action()
            except ApiError as exc:
                if exc.status_code not in (*_RETRIABLE_STATUS, 429):
                    raise
                failure: Exception = exc
            except TransportError as exc:
                failure = exc
            out_of_tries = self.attempts is not None and attempt >= self.attempts
            if out_of_tries or time.monotonic() + delay > deadline:
                raise self._unavailable(what, failure) from failure
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)

    def _request(self, action: Callable[[], ObjectApiResponse[Any]], what: str) -> Body:
        """``_call`` for a request that answers a JSON object: its body."""
        body: Body = self._call(action, what).body
        return body

    def _read(self, action: Callable[[], ObjectApiResponse[Any]], what: str) -> Body | None:
        """``_request`` for a read, where an index that does not exist yet reads as empty: ``None``
        then, so each caller answers its own empty value."""
        try:
            return self._request(action, what)
        except NotFoundError as exc:
            if _index_missing(exc):
                return None
            raise

    def _unavailable(self, what: str, exc: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"Elasticsearch at {self.display_url} is unreachable ({what} on index {self.name!r}): "
            f"{type(exc).__name__}: {mask_secrets_in_text(str(exc))}"
        )

    # ------------------------------------------------------------------ mapping

    def mappings(self) -> dict[str, Any]:
        return index_mappings(self.schema)

    def _existing_mappings(self) -> dict[str, Any] | None:
        """The index's mapping as the node holds it, ``None`` when there is no index."""
        current = self._read(lambda: self.client.indices.get_mapping(index=self.name), "get mapping")
        return None if current is None else dict(next(iter(current.values()))["mappings"])

    def _has_ordered_words(self) -> bool:
        """How the index holds its words (``elastic_mapping``), read once. An index that is not there
        yet is written and searched as ``ensure`` would make it."""
        if self._ordered is None:
            existing = self._existing_mappings()
            if existing is None:
                return True
            self._ordered = has_ordered_words(existing)
        return self._ordered

    def ensure(self) -> None:
        """Create the index, or add new fields and bump ``_meta`` when the schema version grew. An
        index made before 2026-12-03 keeps how it holds its words (``elastic_mapping``)."""
        mappings = self.mappings()
        try:
            self._call(
                lambda: self.client.indices.create(
                    index=self.name,
                    # One shard suits millions of files; replicas follow the cluster size (0 on one node).
                    settings={"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                    mappings=mappings,
                ),
                "create index",
            )
            self._ordered = True
            return
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        existing = self._existing_mappings()
        if existing is None:  # deleted between the two requests: make it afresh
            self.ensure()
            return
        self._ordered = has_ordered_words(existing)
        mappings = index_mappings(self.schema, ordered=self._ordered)
        meta = existing.get("_meta", {})
        missing = set(mappings["properties"]) - set(existing.get("properties", {}))
        if meta.get("schema_version", 0) >= self.schema.version and not missing:
            return
        # Additive only: Elasticsearch rejects changing an existing field, which is the right failure.
        self._call(
            lambda: self.client.indices.put_mapping(
                index=self.name,
                properties=mappings["properties"],
                meta=mappings["_meta"],
                dynamic="false",
            ),
            "put mapping",
        )

    # ------------------------------------------------------------------ writes

    def _action(self, doc: dict[str, Any], ordered: bool) -> dict[str, Any]:
        source = document_source(doc, self._text_fields, ordered)
        return {"_op_type": "index", "_index": self.name, "_id": source["id"], "_source": source}

    def _batches(
        self, docs: Iterable[object], result: BulkResult
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Actions in groups small enough to retry whole, each with its estimated size in bytes;
        documents without an id are reported here."""
        batch: list[dict[str, Any]] = []
        size = 0
        ordered = self._has_ordered_words()
        for position, doc in enumerate(docs):
            if not isinstance(doc, dict) or doc.get("id") in (None, ""):
                shown = doc.get("id") if isinstance(doc, dict) else None
                result.errors.append(DocError(str(shown or f"#{position}"), "document has no 'id'"))
                continue
            if len(str(doc["id"]).encode()) > MAX_ID_BYTES:
                # Elasticsearch would refuse the whole bulk request for one such id, failing its neighbours.
                result.errors.append(DocError(str(doc["id"]), f"id longer than {MAX_ID_BYTES} bytes"))
                continue
            batch.append(self._action(doc, ordered))
            size += sum(len(v) for v in doc.values() if isinstance(v, str)) * 2
            if len(batch) >= self.bulk_chunk_docs or size >= self.bulk_chunk_bytes:
                yield batch, size
                batch, size = [], 0
        if batch:
            yield batch, size

    def _stream(self, actions: list[dict[str, Any]]) -> Iterator[tuple[bool, dict[str, Any]]]:
        """Each action's (ok, item) from `streaming_bulk`, which itself retries 429s with backoff."""
        for ok, item in streaming_bulk(
            self.client,
            actions,
            chunk_size=self.bulk_chunk_docs,
            max_chunk_bytes=self.bulk_chunk_bytes,
            raise_on_error=False,
            max_retries=self.bulk_429_retries,
            initial_backoff=self.backoff_s,
            max_backoff=30,
            retry_on_status=(429,),
        ):
            info: dict[str, Any] = next(iter(item.values()))
            yield ok, info

    def _send(self, batch: list[dict[str, Any]]) -> BulkResult:
        outcome = BulkResult()
        for ok, info in self._stream(batch):
            if ok:
                outcome.indexed += 1
            else:
                outcome.errors.append(DocError(str(info.get("_id")), _reason(info.get("error"))))
        return outcome

    def _send_batch(self, batch: list[dict[str, Any]]) -> BulkResult:
        """One batch, re-sent whole after a 5xx or a dropped connection (index by ``_id`` is idempotent)
        and counted only once it completes."""
        try:
            return self._call(functools.partial(self._send, batch), "bulk")
        except ApiError as exc:
            # A whole request refused for a reason that no retry fixes (e.g. 413): every document in it
            # failed, and each is reported.
            return BulkResult(errors=[DocError(a["_id"], f"bulk request rejected: {exc}") for a in batch])

    def bulk_upsert(self, docs: Iterable[dict[str, Any]]) -> BulkResult:
        """Index in retryable batches, ``bulk_threads`` requests at a time: a batch that hits 5xx or a
        dropped connection is re-sent whole and only counted once it completes; per-document
        rejections are reported in ``errors``, never dropped.

        The index's periodic refresh is left as it is. Pausing it for a call of several requests (as
        before) cost two cluster-state updates per call and moved the writing of the whole call's segment
        into the caller's closing ``refresh()``, on the batch's critical path, where periodic refreshes
        write it on the node's refresh thread as the requests go (issue 12, this machine's node:
        ``bench/index_bulk.py`` 0.86x -> 0.97x of raw ``_bulk``, which pauses nothing; streamed warm
        batches end to end 1.02x). A refresh every second of a bulk of seconds makes a few small
        segments, which the merge policy folds together as it does for any writer."""
        result = BulkResult()
        batches = self._batches(docs, result)
        first = next(batches, None)
        if first is None:
            return result
        second = next(batches, None)
        if second is None:  # one request: nothing to overlap
            _merge(result, self._send_batch(first[0]))
            return result
        self._send_concurrently(itertools.chain((first, second), batches), result)
        return result

    @property
    def concurrent_writes(self) -> int:
        return self.bulk_threads

    def _send_concurrently(self, batches: Iterator[_Batch], result: BulkResult) -> None:
        """Send batches on ``bulk_threads`` threads while this thread prepares the next ones, holding at
        most ``bulk_inflight_bytes`` of them (but always at least one); outcomes are merged in batch
        order. The first batch that cannot be sent at all (``BackendUnavailable``) stops the rest."""
        pending: collections.deque[tuple[Future[BulkResult], int]] = collections.deque()
        in_flight = 0
        with ThreadPoolExecutor(self.bulk_threads, thread_name_prefix="codelupe-bulk") as pool:
            try:
                for batch, size in batches:
                    while pending and (
                        in_flight + size > self.bulk_inflight_bytes or len(pending) > self.bulk_threads
                    ):
                        future, sent = pending.popleft()
                        _merge(result, future.result())
                        in_flight -= sent
                    pending.append((pool.submit(self._send_batch, batch), size))
                    in_flight += size
                while pending:
                    _merge(result, pending.popleft()[0].result())
            finally:
                for future, _ in pending:  # after a failure: what has not started is not sent
                    future.cancel()

    def delete_ids(self, ids: Sequence[str]) -> int:
        """Bulk delete by ``_id`` in retryable batches, retried like ``bulk_upsert``; an id that is not
        there (404) is simply not counted. A batch re-sent after a dropped connection may find some of
        its ids already gone, so the count is then a lower bound; the deletion itself is exact."""
        unique = list(dict.fromkeys(str(i) for i in ids))
        removed = 0
        errors: list[DocError] = []
        for start in range(0, len(unique), self.bulk_chunk_docs):
            chunk = unique[start : start + self.bulk_chunk_docs]
            actions = [{"_op_type": "delete", "_index": self.name, "_id": i} for i in chunk]
            deleted, failed = self._call(functools.partial(self._send_deletes, actions), "bulk delete")
            removed += deleted
            errors.extend(failed)
        if errors:
            BulkResult(errors=errors).raise_for_errors()
        return removed

    def _send_deletes(self, actions: list[dict[str, Any]]) -> tuple[int, list[DocError]]:
        deleted = 0
        errors: list[DocError] = []
        for ok, info in self._stream(actions):
            if ok and info.get("result") == "deleted":
                deleted += 1
            elif not ok and info.get("status") != 404:  # 404: not there, or no index at all
                errors.append(DocError(str(info.get("_id")), _reason(info.get("error"))))
        return deleted, errors

    # ------------------------------------------------------------------ reads

    def count(self, filters: Filters | None = None) -> int:
        query = elastic_query.filtered(self.schema, filters)
        response = self._read(lambda: self.client.count(index=self.name, query=query), "count")
        return 0 if response is None else int(response["count"])

    def _candidates(self, query: ParsedQuery, filters: Filters, size: int, match_all: bool) -> list[Hit]:
        """One search; the text only ever reaches match queries, so query syntax is just text. The
        reported score is the BM25 part (``elastic_query.TIER_BOOST`` per term held taken off)."""
        ordered = self._has_ordered_words()
        if query.terms:
            body = elastic_query.search_query(self.schema, query, filters, match_all, ordered)
            sort = None
        else:
            body = elastic_query.listing_query(self.schema, query, filters, ordered)
            sort = elastic_query.listing_sort(self.schema)
        response = self._read(
            lambda: self.client.search(
                index=self.name,
                query=body,
                size=size,
                track_total_hits=False,
                sort=sort,
                source_excludes=self._words_fields,
            ),
            "search",
        )
        hits = []
        for raw in response["hits"]["hits"] if response else ():
            held = len(raw.get("matched_queries") or ())
            score = float(raw["_score"] or 0.0) - elastic_query.TIER_BOOST * held
            hits.append(Hit(id=raw["_id"], score=score, doc=raw["_source"], highlights=[]))
        return hits

    def _aggregate(self, aggs: dict[str, Any], filters: Filters | None, what: str) -> Body | None:
        """The aggregations, or ``None`` when the index does not exist (no buckets at all)."""
        query = elastic_query.filtered(self.schema, filters)
        response = self._read(
            lambda: self.client.search(
                index=self.name, query=query, size=0, aggs=aggs, track_total_hits=False
            ),
            what,
        )
        return None if response is None else dict(response["aggregations"])

    def quality_histogram(self, filters: Filters | None = None) -> dict[str, int]:
        found = self._aggregate(elastic_query.quality_histogram_aggs(), filters, "quality histogram")
        buckets = found["quality"]["buckets"] if found else {}
        return {label: int(buckets.get(label, {}).get("doc_count", 0)) for label, _, _ in QUALITY_BUCKETS}

    def _aggregatable(self, field: str) -> FieldKind:
        spec = self.schema.spec(field)
        if spec is None or not spec.filterable:
            raise ValueError(
                f"field {field!r} is not a keyword, number, date or bool field of schema {self.schema.name!r}"
            )
        return spec.kind

    def terms(self, field: str, filters: Filters | None = None, size: int = 20) -> dict[str, int]:
        kind = self._aggregatable(field)
        aggs = {"values": {"terms": {"field": field, "size": size}}}
        found = self._aggregate(aggs, filters, "terms")
        buckets = found["values"]["buckets"] if found else []
        if kind == "bool":
            return {bool(b["key"]): int(b["doc_count"]) for b in buckets}  # type: ignore[misc]
        return {b["key"]: int(b["doc_count"]) for b in buckets}

    def max_value(self, field: str, filters: Filters | None = None) -> Any | None:
        """The largest value, read from the top of a descending sort (exact for ``date_nanos``, unlike
        a max aggregation, which goes through a double of milliseconds); dates as aware ``datetime``."""
        kind = self._aggregatable(field)
        clauses = [*elastic_query.filter_clauses(self.schema, filters), {"exists": {"field": field}}]
        response = self._read(
            lambda: self.client.search(
                index=self.name,
                query={"bool": {"filter": clauses}},
                sort=[{field: {"order": "desc"}}],
                size=1,
                source=False,
                track_total_hits=False,
            ),
            "max value",
        )
        hits = response["hits"]["hits"] if response else []
        if not hits:
            return None
        value = hits[0]["sort"][0]
        if kind == "date":
            return _EPOCH + timedelta(microseconds=int(value) // 1000)
        if kind == "bool":
            return bool(value)
        return value

    def get(self, ids: Sequence[str], fields: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, dict[str, Any]] = {}
        # With fields, the node filters each _source before sending it: the code text never travels.
        source: dict[str, Any] = (
            {"source_excludes": self._words_fields}
            if fields is None
            else {"source_includes": [*fields] or ["id"]}
        )
        for start in range(0, len(unique), 1000):
            chunk = unique[start : start + 1000]
            # mget is real-time (it reads the translog), so it sees writes before any refresh; on a
            # missing index every doc comes back with an error and no ``found``.
            response = self._read(
                functools.partial(self.client.mget, index=self.name, ids=chunk, **source), "get"
            )
            for doc in response["docs"] if response else ():
                if doc.get("found"):
                    found[doc["_id"]] = {**doc["_source"], "id": doc["_id"]}
        return found

    def iter_documents(
        self,
        filters: Filters | None = None,
        fields: Sequence[str] | None = None,
        newest_first: bool = False,
        batch_size: int = 500,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Pages of a point-in-time, keyed by ``search_after`` on (indexed_at, id): writes made while
        iterating are not seen, and no document is seen twice. The PIT is closed however the caller
        stops."""
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        pit = self._read(lambda: self.client.open_point_in_time(index=self.name, keep_alive="2m"), "open PIT")
        if pit is None:  # no index yet: nothing to iterate
            return
        pages = _Pages(
            query=elastic_query.filtered(self.schema, filters),
            sort=elastic_query.page_sort(newest_first),
            source={"excludes": self._words_fields} if fields is None else ["id", *fields],
            pit_id=pit["id"],
        )
        remaining = limit
        try:
            while remaining is None or remaining > 0:
                size = batch_size if remaining is None else min(batch_size, remaining)
                hits = self._call(functools.partial(pages.next, self.client, size), "iterate")
                for raw in hits:
                    yield {**raw.get("_source", {}), "id": raw["_id"]}
                if remaining is not None:
                    remaining -= len(hits)
                if len(hits) < size:
                    return
                pages.after = hits[-1]["sort"]
        finally:
            # An expired or unreachable PIT frees itself after keep_alive.
            with contextlib.suppress(ApiError, TransportError):
                self.client.close_point_in_time(id=pages.pit_id)

    # ------------------------------------------------------------------ administration

    def refresh(self) -> None:
        """Make every write that returned so far visible to count, search and iteration (a missing
        index has nothing to show)."""
        self._read(lambda: self.client.indices.refresh(index=self.name), "refresh")

    def size_bytes(self) -> int:
        stats = self._read(lambda: self.client.indices.stats(index=self.name, metric="store"), "stats")
        return 0 if stats is None else int(stats["_all"]["total"]["store"]["size_in_bytes"])

    def delete(self) -> None:
        self._ordered = None
        with contextlib.suppress(NotFoundError):
            self._call(lambda: self.client.indices.delete(index=self.name), "delete index")

    def ping(self) -> None:
        """Cluster health, not ``HEAD /``: the root endpoint is absent on some distributions (integ-test)."""
        try:
            self.client.options(request_timeout=10).cluster.health()
        except (ApiError, TransportError) as exc:
            raise self._unavailable("ping", exc) from exc


class _Pages:
    """The state of one point-in-time iteration: the PIT id (Elasticsearch may renew it on every page)
    and the ``search_after`` cursor."""

    def __init__(self, query: dict[str, Any], sort: list[dict[str, Any]], source: Any, pit_id: str):
        self.query = query
        self.sort = sort
        self.source = source
        self.pit_id = pit_id
        self.after: list[Any] | None = None

    def next(self, client: Elasticsearch, size: int) -> list[dict[str, Any]]:
        """The next page's hits (one request; ``_call`` retries it whole)."""
        response = client.search(
            pit={"id": self.pit_id, "keep_alive": "2m"},
            query=self.query,
            sort=self.sort,
            size=size,
            source=self.source,
            track_total_hits=False,
            search_after=self.after,  # None on the first page: the client leaves it out
        )
        self.pit_id = response.get("pit_id", self.pit_id)
        hits: list[dict[str, Any]] = response["hits"]["hits"]
        return hits
