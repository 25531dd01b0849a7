"""The SearchIndex contract on Elasticsearch 9 (``ELASTICSEARCH_URL``).

Code analysis without ``analysis-common``: the integ-test distribution we test against (and any cluster
without that module) has only the ``standard`` tokenizer and the ``lowercase`` filter — no pattern
tokenizer, no word_delimiter_graph. So every text/code field ``f`` is indexed twice over:

- ``f`` itself with the standard analyzer: relevance (BM25) and highlighting;
- ``f__words``, index-only (excluded from ``_source``): the distinct alphanumeric runs of the text
  (split on ``_`` and every non-word character), plus one entry per camelCase identifier holding its
  sub-words. This is the same split the SQLite backend makes (``code_tokens``), computed client side, so
  both backends match the same words; each query word must match here (AND), a camelCase query word
  either whole or as its sub-word phrase.

Dates are ``date_nanos`` and floats ``double`` so that microsecond watermarks and bucket edges such as
``quality_score >= 0.7`` compare exactly as the Python values that were written.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from elasticsearch.helpers import streaming_bulk

from codelupe_dagster.backends.search.base import (
    QUALITY_BUCKETS,
    BackendUnavailable,
    BulkResult,
    DocError,
    Filters,
    Hit,
    IndexSchema,
    SearchIndex,
)
from codelupe_dagster.backends.search.code_tokens import camel_subwords, query_alternatives
from codelupe_dagster.core.masking import mask_secrets_in_text, mask_url

T = TypeVar("T")

WORDS_SUFFIX = "__words"
SORT_FIELD = "indexed_at"
MAX_ID_BYTES = 512
_FIELD_TYPES = {
    "keyword": {"type": "keyword"},
    "float": {"type": "double"},
    "int": {"type": "long"},
    "date": {"type": "date_nanos"},
    "bool": {"type": "boolean"},
    # Stored for readers (quality_signals) but not searchable: free-form keys must not grow the mapping.
    "object": {"type": "object", "enabled": False},
}
_RETRIABLE_STATUS = (502, 503, 504)
_NON_ALNUM_ASCII = bytes(c if chr(c).isascii() and chr(c).isalnum() else 32 for c in range(256))
_UNICODE_WORD = re.compile(r"[^\W_]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _strip_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), (parts.username, parts.password or "")


def index_words(text: str) -> list[str]:
    """The ``__words`` value: distinct word runs in one entry, then one entry per camelCase identifier.

    Separate array entries sit 100 positions apart, so a sub-word phrase never spans two identifiers.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    # Bytes all the way: translate + split + set run in C (~4x faster than decoding each run first).
    words = b" ".join(sorted(set(encoded.translate(_NON_ALNUM_ASCII).lower().split()))).decode()
    if not text.isascii():
        # The ASCII pass cut non-ASCII words apart; keep them whole as well, as the query side sees them.
        words += " " + " ".join(sorted({w.lower() for w in _UNICODE_WORD.findall(text) if not w.isascii()}))
    subwords = camel_subwords(text)
    return [words, *subwords.split("\n")] if subwords else [words]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # the pipeline writes UTC; a naive time is taken to be UTC too
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _reason(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason"):
        reason += f" (caused by {cause.get('type')}: {cause['reason']})"
    return reason


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
        self._text_fields = schema.names("text", "code")

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

    def _read(self, action: Callable[[], T], what: str, absent: T) -> T:
        """``_call`` for a read, where an index that does not exist yet reads as empty (``absent``)."""
        try:
            return self._call(action, what)
        except NotFoundError as exc:
            if _index_missing(exc):
                return absent
            raise

    def _unavailable(self, what: str, exc: Exception) -> BackendUnavailable:
        return BackendUnavailable(
            f"Elasticsearch at {self.display_url} is unreachable ({what} on index {self.name!r}): "
            f"{type(exc).__name__}: {mask_secrets_in_text(str(exc))}"
        )

    # ------------------------------------------------------------------ mapping

    def mappings(self) -> dict[str, Any]:
        properties: dict[str, Any] = {"id": {"type": "keyword"}}
        for spec in self.schema.fields:
            if spec.kind in ("text", "code"):
                properties[spec.name] = {"type": "text", "analyzer": "standard"}
                properties[spec.name + WORDS_SUFFIX] = {
                    "type": "text",
                    "analyzer": "standard",
                    "norms": False,
                }
            else:
                properties[spec.name] = dict(_FIELD_TYPES[spec.kind])
        return {
            # Unknown fields are kept in _source (as on SQLite) but not indexed, so they cannot fail a write.
            "dynamic": False,
            "_source": {"excludes": [f + WORDS_SUFFIX for f in self._text_fields]},
            "_meta": {"codelupe_schema": self.schema.name, "schema_version": self.schema.version},
            "properties": properties,
        }

    def ensure(self) -> None:
        """Create the index, or add new fields and bump ``_meta`` when the schema version grew."""
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
            return
        except ApiError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        current = self._call(lambda: self.client.indices.get_mapping(index=self.name), "get mapping")
        existing = next(iter(current.body.values()))["mappings"]
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
                dynamic=False,
            ),
            "put mapping",
        )

    # ------------------------------------------------------------------ writes

    def _action(self, doc: dict[str, Any]) -> dict[str, Any]:
        source = dict(doc)
        source["id"] = str(doc["id"])
        for name in self._text_fields:
            value = doc.get(name)
            if isinstance(value, str):
                source[name + WORDS_SUFFIX] = index_words(value)
        return {"_op_type": "index", "_index": self.name, "_id": source["id"], "_source": source}

    def _batches(self, docs: Iterable[Any], result: BulkResult) -> Iterator[list[dict[str, Any]]]:
        """Actions in groups small enough to retry whole; documents without an id are reported here."""
        batch: list[dict[str, Any]] = []
        size = 0
        for position, doc in enumerate(docs):
            if not isinstance(doc, dict) or doc.get("id") in (None, ""):
                shown = doc.get("id") if isinstance(doc, dict) else None
                result.errors.append(DocError(str(shown or f"#{position}"), "document has no 'id'"))
                continue
            if len(str(doc["id"]).encode()) > MAX_ID_BYTES:
                # Elasticsearch would refuse the whole bulk request for one such id, failing its neighbours.
                result.errors.append(DocError(str(doc["id"]), f"id longer than {MAX_ID_BYTES} bytes"))
                continue
            action = self._action(doc)
            batch.append(action)
            size += sum(len(v) for v in doc.values() if isinstance(v, str)) * 2
            if len(batch) >= self.bulk_chunk_docs or size >= self.bulk_chunk_bytes:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

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
            yield ok, next(iter(item.values()))

    def _send(self, batch: list[dict[str, Any]]) -> BulkResult:
        outcome = BulkResult()
        for ok, info in self._stream(batch):
            if ok:
                outcome.indexed += 1
            else:
                outcome.errors.append(DocError(str(info.get("_id")), _reason(info.get("error"))))
        return outcome

    def bulk_upsert(self, docs: Iterable[dict[str, Any]]) -> BulkResult:
        """Index in retryable batches: a batch that hits 5xx or a dropped connection is re-sent whole
        (index by ``_id`` is idempotent) and only counted once it completes; per-document rejections
        are reported in ``errors``, never dropped."""
        result = BulkResult()
        for batch in self._batches(docs, result):
            try:
                outcome = self._call(lambda batch=batch: self._send(batch), "bulk")
            except ApiError as exc:
                # A whole request refused for a reason that no retry fixes (e.g. 413): every document
                # in it failed, and each is reported.
                outcome = BulkResult(
                    errors=[DocError(a["_id"], f"bulk request rejected: {exc}") for a in batch]
                )
            result.indexed += outcome.indexed
            result.errors.extend(outcome.errors)
        return result

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
            deleted, failed = self._call(lambda actions=actions: self._send_deletes(actions), "bulk delete")
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

    # ------------------------------------------------------------------ queries

    def _filter_clauses(self, filters: Filters | None) -> list[dict[str, Any]]:
        if filters is None:
            return []
        clauses: list[dict[str, Any]] = []
        quality: dict[str, float] = {}
        if filters.min_quality is not None:
            quality["gte"] = filters.min_quality
        if filters.max_quality is not None:
            quality["lt"] = filters.max_quality
        if quality:
            clauses.append({"range": {"quality_score": quality}})
        if filters.languages:
            clauses.append({"terms": {"language": list(filters.languages)}})
        if filters.repos:
            repo_field = "repo" if self.schema.kind_of("repo") else "full_name"
            clauses.append({"terms": {repo_field: list(filters.repos)}})
        window: dict[str, str] = {}
        if filters.indexed_after is not None:
            window["gt"] = _iso(filters.indexed_after)
        if filters.indexed_before is not None:
            window["lte"] = _iso(filters.indexed_before)
        if window:
            clauses.append({"range": {SORT_FIELD: window}})
        return clauses

    def _query(self, filters: Filters | None) -> dict[str, Any]:
        clauses = self._filter_clauses(filters)
        return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}

    def count(self, filters: Filters | None = None) -> int:
        response = self._read(
            lambda: self.client.count(index=self.name, query=self._query(filters)), "count", {"count": 0}
        )
        return int(response["count"])

    def _word_clause(self, word: str) -> dict[str, Any]:
        """One user word must occur in some text field: as written, or as its camelCase sub-word phrase."""
        _, parts = query_alternatives(word)
        options: list[dict[str, Any]] = []
        for name in self._text_fields:
            words_field = name + WORDS_SUFFIX
            options.append({"match": {words_field: {"query": word, "operator": "and"}}})
            if parts:
                options.append({"match_phrase": {words_field: " ".join(parts)}})
        return {"bool": {"should": options, "minimum_should_match": 1}}

    def search(self, query: str, filters: Filters | None = None, size: int = 10) -> list[Hit]:
        """Every word required (matched on ``__words``), ranked by BM25 on the text itself; the text is
        only ever handed to match queries, so query syntax is just text."""
        if not self._text_fields:
            raise ValueError(f"schema {self.schema.name!r} has no text fields to search")
        words = _UNICODE_WORD.findall(query)
        if not words or size <= 0:
            return []
        ranking = [{"match": {name: {"query": query}}} for name in self._text_fields]
        # The standard analyzer keeps identifiers whole ("parsehttprequest", "http.request"), so fragments
        # are found by sub-string; the highlighter applies this to each hit's text only, not the index.
        needles = {w.lower() for w in words} | {p for w in words for p in query_alternatives(w)[1]}
        highlight_query = {
            "bool": {
                "should": [
                    {"wildcard": {name: {"value": f"*{needle}*"}}}
                    for name in self._text_fields
                    for needle in sorted(needles)
                ]
            }
        }
        body_query = {
            "bool": {
                "must": [self._word_clause(word) for word in words],
                "should": ranking,
                "filter": self._filter_clauses(filters),
            }
        }
        response = self._read(
            lambda: self.client.search(
                index=self.name,
                query=body_query,
                size=size,
                track_total_hits=False,
                highlight={
                    "fields": {name: {} for name in self._text_fields},
                    "highlight_query": highlight_query,
                    "fragment_size": 160,
                    "number_of_fragments": 3,
                    # Huge files highlight their first megabyte instead of failing the search.
                    "max_analyzed_offset": 1_000_000,
                },
            ),
            "search",
            {"hits": {"hits": []}},
        )
        hits = []
        for raw in response["hits"]["hits"]:
            fragments = [f for name in self._text_fields for f in raw.get("highlight", {}).get(name, [])]
            hits.append(
                Hit(
                    id=raw["_id"], score=float(raw["_score"] or 0.0), doc=raw["_source"], highlights=fragments
                )
            )
        return hits

    def _aggregate(self, aggs: dict[str, Any], filters: Filters | None, what: str) -> dict[str, Any] | None:
        """The aggregations, or ``None`` when the index does not exist (no buckets at all)."""
        response = self._read(
            lambda: self.client.search(
                index=self.name, query=self._query(filters), size=0, aggs=aggs, track_total_hits=False
            ),
            what,
            None,
        )
        return None if response is None else response["aggregations"]

    def quality_histogram(self, filters: Filters | None = None) -> dict[str, int]:
        ranges = []
        for label, low, high in QUALITY_BUCKETS:
            bucket: dict[str, Any] = {"key": label}
            if low is not None:
                bucket["from"] = low
            if high is not None:
                bucket["to"] = high
            ranges.append(bucket)
        aggs = {"quality": {"range": {"field": "quality_score", "keyed": True, "ranges": ranges}}}
        found = self._aggregate(aggs, filters, "quality histogram")
        buckets = found["quality"]["buckets"] if found else {}
        return {label: int(buckets.get(label, {}).get("doc_count", 0)) for label, _, _ in QUALITY_BUCKETS}

    def _aggregatable(self, field: str) -> str:
        kind = self.schema.kind_of(field)
        if kind in (None, "text", "code", "object"):
            raise ValueError(
                f"field {field!r} is not a keyword, number, date or bool field of schema {self.schema.name!r}"
            )
        return kind

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
        clauses = [*self._filter_clauses(filters), {"exists": {"field": field}}]
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
            {"hits": {"hits": []}},
        )
        hits = response["hits"]["hits"]
        if not hits:
            return None
        value = hits[0]["sort"][0]
        if kind == "date":
            return _EPOCH + timedelta(microseconds=int(value) // 1000)
        if kind == "bool":
            return bool(value)
        return value

    def get(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        unique = list(dict.fromkeys(str(i) for i in ids))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), 1000):
            chunk = unique[start : start + 1000]
            # mget is real-time (it reads the translog), so it sees writes before any refresh; on a
            # missing index every doc comes back with an error and no ``found``.
            response = self._read(
                lambda chunk=chunk: self.client.mget(index=self.name, ids=chunk), "get", {"docs": []}
            )
            for doc in response["docs"]:
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
        order = "desc" if newest_first else "asc"
        sort = [{SORT_FIELD: {"order": order, "missing": "_last"}}, {"id": {"order": order}}]
        source: Any = True if fields is None else ["id", *fields]
        query = self._query(filters)
        pit = self._read(
            lambda: self.client.open_point_in_time(index=self.name, keep_alive="2m"), "open PIT", None
        )
        if pit is None:  # no index yet: nothing to iterate
            return
        pit_id = pit["id"]
        remaining = limit
        after: list[Any] | None = None
        try:
            while remaining is None or remaining > 0:
                page = batch_size if remaining is None else min(batch_size, remaining)
                extra = {"search_after": after} if after is not None else {}
                response = self._call(
                    lambda page=page, extra=extra, pit_id=pit_id: self.client.search(
                        pit={"id": pit_id, "keep_alive": "2m"},
                        query=query,
                        sort=sort,
                        size=page,
                        source=source,
                        track_total_hits=False,
                        **extra,
                    ),
                    "iterate",
                )
                pit_id = response.get("pit_id", pit_id)
                hits = response["hits"]["hits"]
                for raw in hits:
                    yield {**raw.get("_source", {}), "id": raw["_id"]}
                if remaining is not None:
                    remaining -= len(hits)
                if len(hits) < page:
                    return
                after = hits[-1]["sort"]
        finally:
            # An expired or unreachable PIT frees itself after keep_alive.
            with contextlib.suppress(ApiError, TransportError):
                self.client.close_point_in_time(id=pit_id)

    # ------------------------------------------------------------------ administration

    def refresh(self) -> None:
        """Make every write that returned so far visible to count, search and iteration (a missing
        index has nothing to show)."""
        self._read(lambda: self.client.indices.refresh(index=self.name), "refresh", None)

    def size_bytes(self) -> int:
        stats = self._read(
            lambda: self.client.indices.stats(index=self.name, metric="store"),
            "stats",
            {"_all": {"total": {"store": {"size_in_bytes": 0}}}},
        )
        return int(stats["_all"]["total"]["store"]["size_in_bytes"])

    def delete(self) -> None:
        with contextlib.suppress(NotFoundError):
            self._call(lambda: self.client.indices.delete(index=self.name), "delete index")

    def ping(self) -> None:
        """Cluster health, not ``HEAD /``: the root endpoint is absent on some distributions (integ-test)."""
        try:
            self.client.options(request_timeout=10).cluster.health()
        except (ApiError, TransportError) as exc:
            raise self._unavailable("ping", exc) from exc
