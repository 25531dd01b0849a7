"""The SearchIndex contract, run unchanged against every backend (``search_backend`` fixture).

Expected values come from the documents the test itself writes (a Python oracle), never from the
backend under test. Timestamps differ by whole seconds so that Elasticsearch's millisecond dates and
SQLite's microsecond strings order documents the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codelupe_dagster.backends.search import (
    CODE_SCHEMA,
    QUALITY_BUCKETS,
    REPO_SCHEMA,
    Filters,
    QuerySyntaxError,
    SearchIndex,
    open_search_index,
)
from codelupe_dagster.core.models import RepoRecord
from tests.support.search_backends import ES_DISTINCT_WORDS, IndexFactory, backend_factory

T0 = datetime(2026, 11, 28, 17, 0, 0, tzinfo=UTC)
LANGUAGES = ("Python", "Go", "JavaScript")
REPOS = ("octo/alpha", "octo/beta", "acme/gamma", "acme/delta")

SNIPPETS = (
    "def parseHttpRequest(raw_bytes):\n    headers = split_header_lines(raw_bytes)\n    return headers\n",
    "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {\n\tlogRequest(r)\n}\n",
    "export function renderTemplate(templateName, ctx) {\n  return engine.render(templateName, ctx);\n}\n",
    "class ConnectionPool:\n    def acquire_connection(self, timeout=None):\n        return self._q.get()\n",
)


def at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def code_doc(i: int, **overrides: Any) -> dict[str, Any]:
    """A realistic code document; the distinct word ``marker<i>`` makes every document findable alone."""
    content = SNIPPETS[i % len(SNIPPETS)] + f"# marker{i}\n"
    doc = {
        "id": f"{i:032x}",
        "content": content,
        "path": f"src/module_{i}.py",
        "filename": f"module_{i}.py",
        "extension": ".py",
        "language": LANGUAGES[i % len(LANGUAGES)],
        "repo": REPOS[i % len(REPOS)],
        "repo_stars": 10 * i,
        "license": "MIT",
        "commit": f"{i:040x}",
        "quality_score": round((i % 10) / 10, 2),
        "quality_signals": {"lines": content.count("\n"), "comment_ratio": 0.1, "has_docstrings": False},
        "size_bytes": len(content.encode()),
        "lines": content.count("\n"),
        "near_dup_cluster": None,
        "secrets_redacted": 0,
        "batch": "b20261128T170000-000001",
        "indexed_at": at(i),
    }
    doc.update(overrides)
    return doc


@pytest.fixture(params=["sqlite", "elasticsearch", ES_DISTINCT_WORDS])
def search_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexFactory]:
    """The project's ``search_backend``, and here also an Elasticsearch index made before 2026-12-03
    (``elastic_mapping``): the contract holds for every index a deployment may hold."""
    yield from backend_factory(request, tmp_path, request.param)


@pytest.fixture
def code_index(search_backend):
    return search_backend(CODE_SCHEMA)


@pytest.fixture
def corpus(code_index) -> list[dict[str, Any]]:
    docs = [code_doc(i) for i in range(60)]
    result = code_index.bulk_upsert(docs)
    assert result.errors == []
    code_index.refresh()
    return docs


def ids_of(hits) -> set[str]:
    return {hit.id for hit in hits}


# ---------------------------------------------------------------- lifecycle and upserts


def test_ensure_is_idempotent_and_keeps_documents(code_index):
    code_index.ensure()
    assert code_index.count() == 0
    code_index.bulk_upsert([code_doc(1), code_doc(2)])
    code_index.refresh()
    code_index.ensure()
    code_index.ensure()
    assert code_index.count() == 2


def test_bulk_upsert_twice_leaves_one_document_per_id(code_index):
    docs = [code_doc(i) for i in range(1000)]
    first = code_index.bulk_upsert(docs)
    second = code_index.bulk_upsert(iter(docs))  # any iterable, e.g. a generator over a spool file
    code_index.refresh()
    assert (first.indexed, first.errors) == (1000, [])
    assert (second.indexed, second.errors) == (1000, [])
    assert code_index.count() == 1000


def test_upsert_replaces_the_document_and_its_terms(code_index):
    code_index.bulk_upsert([code_doc(7, content="def oldname():\n    return zebrafish\n", quality_score=0.2)])
    code_index.refresh()
    assert ids_of(code_index.search("zebrafish")) == {code_doc(7)["id"]}

    code_index.bulk_upsert([code_doc(7, content="def newname():\n    return kangaroo\n", quality_score=0.9)])
    code_index.refresh()

    doc_id = code_doc(7)["id"]
    assert code_index.count() == 1
    assert code_index.search("zebrafish") == []
    assert code_index.search("oldname") == []
    assert ids_of(code_index.search("kangaroo")) == {doc_id}
    stored = code_index.get([doc_id])[doc_id]
    assert stored["content"] == "def newname():\n    return kangaroo\n"
    assert stored["quality_score"] == 0.9
    assert code_index.count(Filters(min_quality=0.8)) == 1


def test_get_returns_stored_documents_and_skips_unknown_ids(code_index, corpus):
    wanted = [corpus[3]["id"], corpus[41]["id"], "f" * 32]
    found = code_index.get(wanted)
    assert set(found) == {corpus[3]["id"], corpus[41]["id"]}
    for doc in (corpus[3], corpus[41]):
        got = found[doc["id"]]
        for key in ("content", "repo", "language", "quality_score", "quality_signals", "lines", "path"):
            assert got[key] == doc[key], key


def test_get_with_fields_returns_only_those_and_the_id(code_index, corpus):
    wanted = [corpus[3]["id"], corpus[41]["id"], "f" * 32]
    found = code_index.get(wanted, fields=("repo", "batch_missing_field"))
    assert found == {doc["id"]: {"id": doc["id"], "repo": doc["repo"]} for doc in (corpus[3], corpus[41])}
    # A text field comes from its own column on SQLite: asked for alone, it is all that comes back.
    only_content = code_index.get([corpus[3]["id"]], fields=("content",))
    assert only_content == {corpus[3]["id"]: {"id": corpus[3]["id"], "content": corpus[3]["content"]}}
    assert code_index.get([corpus[3]["id"]], fields=()) == {corpus[3]["id"]: {"id": corpus[3]["id"]}}
    assert code_index.get(["f" * 32], fields=("repo",)) == {}


def test_get_of_keyword_fields_gives_the_stored_values_whatever_they_are(code_index):
    """Keyword fields asked for alone (a batch's count check reads every document's ``batch``): a
    string, no value, null, a number or a list comes back as stored (SQLite reads strings from the typed
    column and anything else from the document)."""
    docs = [
        code_doc(1, batch="b1"),
        code_doc(2),
        code_doc(3, batch=None),
        code_doc(4, batch=7),
        code_doc(5, batch=["b1", "b2"]),
        code_doc(6, batch='b\u00e9 "2"'),
    ]
    docs[1].pop("batch", None)
    assert code_index.bulk_upsert(docs).errors == []
    code_index.refresh()
    ids = [doc["id"] for doc in docs] + ["f" * 32]
    for fields in (("batch",), ("batch", "repo")):
        expected = {doc["id"]: {"id": doc["id"]} for doc in docs}
        for doc in docs:
            expected[doc["id"]].update({name: doc[name] for name in fields if name in doc})
        assert code_index.get(ids, fields=fields) == expected, fields


def test_a_document_without_id_is_reported_and_the_rest_are_indexed(code_index):
    docs = [code_doc(1), {k: v for k, v in code_doc(2).items() if k != "id"}, code_doc(3)]
    result = code_index.bulk_upsert(docs)
    code_index.refresh()
    assert result.indexed == 2
    assert len(result.errors) == 1
    assert "id" in result.errors[0].reason
    assert code_index.count() == 2


def test_documents_may_omit_fields(code_index):
    sparse = {"id": "sparse-1", "content": "def lonelyFunction():\n    pass\n"}
    assert code_index.bulk_upsert([sparse]).errors == []
    code_index.refresh()
    assert code_index.get(["sparse-1"])["sparse-1"]["content"] == sparse["content"]
    assert ids_of(code_index.search("lonely")) == {"sparse-1"}
    assert code_index.count(Filters(min_quality=0.0)) == 0
    assert code_index.quality_histogram() == dict.fromkeys((b[0] for b in QUALITY_BUCKETS), 0)


# ---------------------------------------------------------------- filters


FILTER_CASES = {
    "min quality": (Filters(min_quality=0.5), lambda d: d["quality_score"] >= 0.5),
    "quality range, max exclusive": (
        Filters(min_quality=0.3, max_quality=0.7),
        lambda d: 0.3 <= d["quality_score"] < 0.7,
    ),
    "language": (Filters(languages=("Go",)), lambda d: d["language"] == "Go"),
    "two languages": (Filters(languages=("Go", "Python")), lambda d: d["language"] in ("Go", "Python")),
    "repos": (Filters(repos=("octo/beta", "acme/delta")), lambda d: d["repo"] in ("octo/beta", "acme/delta")),
    "ids": (Filters(ids=(f"{3:032x}", f"{40:032x}", "f" * 32)), lambda d: d["i"] in (3, 40)),
    "ids of a batch": (
        Filters(ids=(f"{3:032x}", f"{40:032x}"), batches=("b20261128T170000-000001", "b-other")),
        lambda d: d["i"] in (3, 40),
    ),
    "indexed after, exclusive": (Filters(indexed_after=T0 + timedelta(seconds=20)), lambda d: d["i"] > 20),
    "indexed before, inclusive": (Filters(indexed_before=T0 + timedelta(seconds=20)), lambda d: d["i"] <= 20),
    "window and quality and language": (
        Filters(
            min_quality=0.2,
            languages=("Python",),
            indexed_after=T0 + timedelta(seconds=10),
            indexed_before=T0 + timedelta(seconds=50),
        ),
        lambda d: d["quality_score"] >= 0.2 and d["language"] == "Python" and 10 < d["i"] <= 50,
    ),
}


@pytest.mark.parametrize("case", list(FILTER_CASES))
def test_count_with_filters(code_index, corpus, case):
    filters, predicate = FILTER_CASES[case]
    expected = sum(1 for i, doc in enumerate(corpus) if predicate({**doc, "i": i}))
    assert 0 < expected < len(corpus), "the case must separate documents"
    assert code_index.count(filters) == expected
    assert code_index.count() == len(corpus)


def test_batches_and_ids_filter_by_exact_value(code_index):
    docs = [code_doc(1, batch="b1"), code_doc(2, batch="b2"), code_doc(3, batch="B1")]
    docs.append(code_doc(4, batch=None))
    docs.append({k: v for k, v in code_doc(5).items() if k != "batch"})
    assert code_index.bulk_upsert(docs).errors == []
    code_index.refresh()
    ids = [doc["id"] for doc in docs]
    assert code_index.count(Filters(batches=("b1",))) == 1  # exact: not "B1"
    assert code_index.count(Filters(batches=("b1", "b2", ""))) == 2  # no batch matches no value
    assert code_index.count(Filters(ids=(*ids[:3], "f" * 32), batches=("b1", "B1"))) == 2
    assert code_index.count(Filters(ids=(ids[3], ids[4]))) == 2
    assert ids_of(code_index.search("", Filters(batches=("b2",)))) == {ids[1]}
    assert {d["id"] for d in code_index.iter_documents(Filters(ids=(ids[0], ids[4])))} == {ids[0], ids[4]}


def test_naive_datetimes_in_filters_are_utc(code_index, corpus):
    naive = (T0 + timedelta(seconds=20)).replace(tzinfo=None)
    assert code_index.count(Filters(indexed_after=naive)) == code_index.count(
        Filters(indexed_after=T0 + timedelta(seconds=20))
    )


# ---------------------------------------------------------------- full-text search


@pytest.mark.parametrize(
    "query",
    ["http", "request", "parse", "parseHttpRequest", "parsehttprequest", "PARSEHTTPREQUEST", "HttpRequest"],
)
def test_search_finds_camel_case_words_and_their_parts(code_index, corpus, query):
    with_identifier = {d["id"] for d in corpus if "parseHttpRequest" in d["content"]}
    hits = code_index.search(query, size=100)
    assert with_identifier <= ids_of(hits)


@pytest.mark.parametrize("query", ["header", "lines", "split_header_lines", "acquire", "Connection"])
def test_search_finds_snake_case_parts_case_insensitively(code_index, corpus, query):
    needle = query.lower()
    expected = {d["id"] for d in corpus if needle in d["content"].lower()}
    assert expected
    assert expected <= ids_of(code_index.search(query, size=100))


def with_http(corpus) -> set[str]:
    return {d["id"] for d in corpus if "http" in d["content"].lower()}


def test_search_finds_any_word_and_ranks_documents_with_every_word_first(code_index, corpus):
    hits = code_index.search("marker5 http", size=100)
    assert hits[0].id == corpus[5]["id"]
    assert ids_of(hits) == with_http(corpus) | {corpus[5]["id"]}
    # Document 7 has no "http": it ranks with the documents holding one of the two words.
    hits = code_index.search("http marker7", size=100)
    assert ids_of(hits) == with_http(corpus) | {corpus[7]["id"]}
    assert code_index.search("zzzunknownword") == []


def test_match_all_needs_every_word(code_index, corpus):
    assert ids_of(code_index.search("marker5 http", size=100, match_all=True)) == {corpus[5]["id"]}
    assert code_index.search("marker7 http", size=100, match_all=True) == []
    assert ids_of(code_index.search("marker7", size=100, match_all=True)) == {corpus[7]["id"]}


def test_all_terms_rank_above_any_number_of_single_term_matches(code_index):
    """Many documents repeat one word; the one document holding both words still comes first."""
    code_index.bulk_upsert(
        [code_doc(i, content="def reader():\n" + "reader = reader(reader)\n" * 20) for i in range(20)]
        + [code_doc(99, content="x = 1\n" * 40 + "csv reader here\n")]
    )
    code_index.refresh()
    hits = code_index.search("csv reader", size=5)
    assert hits[0].id == code_doc(99)["id"] and len(hits) == 5


def test_phrases_need_their_words_in_order(code_index, corpus):
    with_phrase = {d["id"] for d in corpus if "split_header_lines" in d["content"]}
    assert ids_of(code_index.search('"split header lines"', size=100)) == with_phrase
    assert ids_of(code_index.search("split_header_lines", size=100)) == with_phrase
    assert code_index.search('"lines header split"', size=100) == []
    go_http = {d["id"] for d in corpus if "http.Request" in d["content"]}
    camel = {d["id"] for d in corpus if "parseHttpRequest" in d["content"]}
    assert ids_of(code_index.search('"http request"', size=100)) == go_http | camel


def test_excluded_words_and_phrases_leave_documents_out(code_index, corpus):
    hits = code_index.search("http -marker1", size=100)
    assert ids_of(hits) == with_http(corpus) - {corpus[1]["id"]}
    camel = {d["id"] for d in corpus if "parseHttpRequest" in d["content"]}
    assert ids_of(code_index.search('http -"parse http request"', size=100)) == with_http(corpus) - camel
    assert code_index.search("marker3 -marker3") == []


def test_operators_filter_by_language_repo_and_path(code_index, corpus):
    go_http = {d["id"] for d in corpus if d["language"] == "Go" and "http" in d["content"].lower()}
    assert ids_of(code_index.search("http lang:GO", size=100)) == go_http
    assert ids_of(code_index.search("http language:go", size=100)) == go_http
    assert ids_of(code_index.search("http", Filters(languages=("go",)), size=100)) == go_http
    in_alpha = {d["id"] for d in corpus if d["repo"] == "octo/alpha" and "http" in d["content"].lower()}
    assert ids_of(code_index.search("http repo:octo/alpha", size=100)) == in_alpha
    paths = {d["id"] for d in corpus if "module_1" in d["path"]}
    assert ids_of(code_index.search("marker path:MODULE_1 path:nowhere", size=100)) == set()
    assert ids_of(code_index.search("def path:MODULE_1 -zzz", size=100)) == {
        i for i in paths if "def" in next(d["content"] for d in corpus if d["id"] == i)
    }
    assert code_index.search("http lang:go", Filters(languages=("Python",))) == []


def test_filters_alone_list_documents_best_quality_first(code_index, corpus):
    hits = code_index.search("lang:python", size=100)
    python = [d for d in corpus if d["language"] == "Python"]
    assert ids_of(hits) == {d["id"] for d in python}
    scores = [h.doc["quality_score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert ids_of(code_index.search("lang:python -http", size=100)) == {
        d["id"] for d in python if "http" not in d["content"].lower()
    }
    assert ids_of(code_index.search("", Filters(languages=("Python",)), size=100)) == ids_of(hits)
    assert code_index.search("") == code_index.search("+++") == []  # neither words nor filters
    assert code_index.count(Filters(languages=("python",))) == len(python)


def test_highlights_are_the_best_lines_as_plain_text(code_index, corpus):
    hits = code_index.search("headers split", size=3)
    assert hits
    for hit in hits:
        assert hit.highlights[0] == "headers = split_header_lines(raw_bytes)"
        assert not any("<em>" in line for line in hit.highlights)


def test_search_respects_filters_and_size(code_index, corpus):
    hits = code_index.search("request", Filters(languages=("Go",), min_quality=0.3), size=100)
    expected = {
        d["id"]
        for d in corpus
        if d["language"] == "Go" and d["quality_score"] >= 0.3 and "request" in d["content"].lower()
    }
    assert expected
    assert ids_of(hits) == expected
    assert len(code_index.search("request", size=3)) == 3


def test_search_returns_documents_scores_and_highlights_with_the_term(code_index, corpus):
    hits = code_index.search("marker13", size=5)
    assert [h.id for h in hits] == [corpus[13]["id"]]
    hit = hits[0]
    assert hit.doc["content"] == corpus[13]["content"]
    assert hit.doc["repo"] == corpus[13]["repo"]
    assert isinstance(hit.score, float)
    assert hit.highlights
    assert any("marker13" in fragment.lower() for fragment in hit.highlights)

    sub_word_hits = code_index.search("http", size=100)
    assert sub_word_hits
    for hit in sub_word_hits:
        assert any("http" in fragment.lower() for fragment in hit.highlights), hit.highlights


def test_search_ranks_the_better_match_first(code_index):
    code_index.bulk_upsert(
        [
            code_doc(1, content="cache = {}\n" + "x = 1\n" * 50),
            code_doc(2, content="def cache():\n    cache.clear()\n    return cache\n"),
        ]
    )
    code_index.refresh()
    assert [h.id for h in code_index.search("cache")] == [code_doc(2)["id"], code_doc(1)["id"]]


@pytest.mark.parametrize(
    "query", ["NEAR(foo bar)", "(", "-x", "^bar", "***", "std::vector", "http://x.org/a", "+a", "col:"]
)
def test_search_treats_other_punctuation_as_text(code_index, corpus, query):
    assert isinstance(code_index.search(query), list)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"', "unclosed quote"),
        ("a OR b", "OR is not an operator"),
        ("http AND NOT marker1", "AND is not an operator"),
        ("content:foo", "unknown operator content:"),
        ("foo*", "wildcards are not supported"),
        ("-lang:go http", "-lang: is not supported"),
    ],
)
def test_unsupported_operators_are_refused_in_one_line(code_index, corpus, query, message):
    with pytest.raises(QuerySyntaxError, match=message) as raised:
        code_index.search(query)
    assert "\n" not in str(raised.value)


# ---------------------------------------------------------------- aggregations


def test_quality_histogram_buckets_include_their_lower_bound(code_index):
    scores = [0.0, 0.1, 0.29, 0.3, 0.49, 0.5, 0.69, 0.7, 0.71, 1.0]
    code_index.bulk_upsert([code_doc(i, quality_score=s) for i, s in enumerate(scores)])
    code_index.refresh()
    assert code_index.quality_histogram() == {"<0.3": 3, "0.3-0.5": 2, "0.5-0.7": 2, ">=0.7": 3}
    assert list(code_index.quality_histogram()) == [label for label, _, _ in QUALITY_BUCKETS]
    go_only = Filters(languages=("Go",))
    expected = {"<0.3": 0, "0.3-0.5": 0, "0.5-0.7": 0, ">=0.7": 0}
    for i, score in enumerate(scores):
        if LANGUAGES[i % 3] == "Go":
            label = next(
                lb
                for lb, lo, hi in QUALITY_BUCKETS
                if (lo is None or score >= lo) and (hi is None or score < hi)
            )
            expected[label] += 1
    assert code_index.quality_histogram(go_only) == expected


def test_quality_histogram_of_an_empty_index_has_every_label(code_index):
    assert code_index.quality_histogram() == {label: 0 for label, _, _ in QUALITY_BUCKETS}


def test_terms_counts_keyword_values_most_frequent_first(code_index):
    languages = ["Python"] * 5 + ["Go"] * 3 + ["Rust"] * 1
    code_index.bulk_upsert([code_doc(i, language=lang) for i, lang in enumerate(languages)])
    code_index.refresh()
    assert code_index.terms("language") == {"Python": 5, "Go": 3, "Rust": 1}
    assert list(code_index.terms("language")) == ["Python", "Go", "Rust"]
    assert code_index.terms("language", size=2) == {"Python": 5, "Go": 3}
    assert code_index.terms("language", Filters(indexed_after=T0 + timedelta(seconds=4))) == {
        "Go": 3,
        "Rust": 1,
    }


def test_max_value_gives_the_latest_indexed_at_as_a_watermark(code_index, corpus):
    latest = code_index.max_value("indexed_at")
    assert isinstance(latest, datetime)
    assert latest == T0 + timedelta(seconds=len(corpus) - 1)
    assert code_index.count(Filters(indexed_after=latest)) == 0
    assert code_index.max_value("indexed_at", Filters(languages=("Python",))) == T0 + timedelta(
        seconds=max(i for i, d in enumerate(corpus) if d["language"] == "Python")
    )
    assert code_index.max_value("quality_score") == pytest.approx(0.9)
    assert code_index.max_value("indexed_at", Filters(languages=("Cobol",))) is None


# ---------------------------------------------------------------- iteration


def test_iter_documents_yields_every_document_once_in_stable_order(code_index):
    # Pairs share a timestamp, so the id tie-break is exercised across page boundaries.
    docs = [code_doc(i, indexed_at=at(i // 2)) for i in range(45)]
    code_index.bulk_upsert(docs)
    code_index.refresh()
    expected = [d["id"] for d in sorted(docs, key=lambda d: (d["indexed_at"], d["id"]))]

    ascending = [d["id"] for d in code_index.iter_documents(batch_size=4)]
    assert ascending == expected
    newest_first = [d["id"] for d in code_index.iter_documents(batch_size=4, newest_first=True)]
    assert newest_first == expected[::-1]
    assert [d["id"] for d in code_index.iter_documents(batch_size=4, limit=10)] == expected[:10]
    assert [d["id"] for d in code_index.iter_documents(batch_size=7, newest_first=True, limit=9)] == expected[
        ::-1
    ][:9]


def test_iter_documents_applies_filters_and_projects_fields(code_index, corpus):
    filters = Filters(min_quality=0.7)
    got = list(code_index.iter_documents(filters, fields=["content", "quality_score"], batch_size=5))
    assert {d["id"] for d in got} == {d["id"] for d in corpus if d["quality_score"] >= 0.7}
    by_id = {d["id"]: d for d in corpus}
    for doc in got:
        assert set(doc) == {"id", "content", "quality_score"}
        assert doc["content"] == by_id[doc["id"]]["content"]
    without_content = next(code_index.iter_documents(fields=["repo"]))
    assert set(without_content) == {"id", "repo"}


def test_iter_documents_is_not_disturbed_by_writes_behind_the_cursor(code_index, corpus):
    seen: list[str] = []
    for n, doc in enumerate(code_index.iter_documents(batch_size=5)):
        seen.append(doc["id"])
        if n == 7:
            late = [
                code_doc(1000 + k, indexed_at=(T0 - timedelta(hours=1, seconds=k)).isoformat())
                for k in range(20)
            ]
            code_index.bulk_upsert(late)
            code_index.refresh()
    assert len(seen) == len(set(seen))
    assert seen == [d["id"] for d in corpus]


# ---------------------------------------------------------------- deletion


def test_delete_ids_removes_exactly_those_documents_everywhere(code_index, corpus):
    doomed = {corpus[i]["id"] for i in (0, 3, 4, 7, *range(20, 30))}
    kept = [d for d in corpus if d["id"] not in doomed]

    assert code_index.delete_ids(sorted(doomed)) == len(doomed)
    code_index.refresh()

    assert code_index.count() == len(kept)
    assert code_index.get(sorted(doomed)) == {}
    assert set(code_index.get([d["id"] for d in kept])) == {d["id"] for d in kept}
    assert [d["id"] for d in code_index.iter_documents(batch_size=7)] == [d["id"] for d in kept]
    assert code_index.search("marker3") == []
    assert ids_of(code_index.search("marker5")) == {corpus[5]["id"]}
    # Shared words no longer find the deleted documents (their full-text entries went with them).
    parse_docs = {d["id"] for d in kept if "parseHttpRequest" in d["content"]}
    assert ids_of(code_index.search("parseHttpRequest", size=100)) == parse_docs
    assert code_index.terms("language") == {
        language: n for language in LANGUAGES if (n := sum(1 for d in kept if d["language"] == language))
    }


def test_delete_ids_of_absent_documents_removes_nothing_and_is_idempotent(code_index, corpus):
    some = [corpus[1]["id"], corpus[2]["id"]]
    assert code_index.delete_ids([]) == 0
    assert code_index.delete_ids(["f" * 32, "not-there"]) == 0
    assert code_index.delete_ids([*some, some[0]]) == 2
    code_index.refresh()
    assert code_index.delete_ids(some) == 0
    code_index.refresh()
    assert code_index.count() == len(corpus) - 2


# ---------------------------------------------------------------- an index that does not exist


@pytest.fixture(params=["sqlite", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def never_created(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SearchIndex]:
    """A code index under a fresh name that nobody ever ensured (a pipeline before its first write)."""
    url = request.getfixturevalue("elasticsearch_url") if request.param == "elasticsearch" else None
    index = open_search_index(
        CODE_SCHEMA, data_dir=tmp_path, elasticsearch_url=url, index_name=f"never-{uuid.uuid4().hex[:10]}"
    )
    yield index
    index.delete()


def test_an_index_that_does_not_exist_reads_as_empty(never_created):
    index = never_created
    assert index.count() == 0
    assert index.count(Filters(min_quality=0.5, indexed_after=T0)) == 0
    assert index.get(["a" * 32]) == {}
    assert index.search("parseHttpRequest") == []
    assert index.terms("language") == {}
    assert index.quality_histogram() == {label: 0 for label, _, _ in QUALITY_BUCKETS}
    assert index.max_value("indexed_at") is None
    assert list(index.iter_documents(batch_size=3)) == []
    assert index.delete_ids(["a" * 32]) == 0
    assert index.size_bytes() == 0
    index.refresh()
    # Reading created nothing that gets in the way: the first writer ensures the index as usual.
    index.ensure()
    assert index.bulk_upsert([code_doc(1)]).errors == []
    index.refresh()
    assert index.count() == 1


def test_a_deleted_index_reads_as_empty(code_index, corpus):
    code_index.delete()
    code_index.refresh()
    assert code_index.count() == 0
    assert code_index.get([corpus[0]["id"]]) == {}
    assert list(code_index.iter_documents()) == []
    assert code_index.search("marker1") == []


# ---------------------------------------------------------------- the repo index


def test_repo_index_holds_repo_records(search_backend):
    repos = search_backend(REPO_SCHEMA)
    records = [
        RepoRecord(
            full_name="octo/parser",
            clone_url="https://github.com/octo/parser.git",
            stars=1200,
            forks=40,
            language="Python",
            license="MIT",
            size_kb=2048,
            pushed_at="2026-11-01T10:00:00+00:00",
            topics=("parsing", "http"),
            description="A fast incremental parser for HTTP messages",
        ),
        RepoRecord(
            full_name="acme/scheduler",
            clone_url="https://github.com/acme/scheduler.git",
            stars=90,
            language="Go",
            pushed_at="2026-10-01T10:00:00+00:00",
            topics=("http", "cron"),
            description="Cron-like job scheduler",
            archived=True,
        ),
        RepoRecord(full_name="solo/tiny", clone_url="/srv/git/tiny", source="local", head="a" * 40),
    ]
    docs = [dict(r.to_doc(), priority=float(r.stars), indexed_at=at(i)) for i, r in enumerate(records)]
    result = repos.bulk_upsert(docs)
    repos.refresh()
    assert (result.indexed, result.errors) == (3, [])
    assert repos.count() == 3
    found = repos.get(["octo/parser", "solo/tiny"])
    assert RepoRecord.from_doc(found["octo/parser"]) == records[0]
    assert RepoRecord.from_doc(found["solo/tiny"]) == records[2]
    assert ids_of(repos.search("parser")) == {"octo/parser"}
    assert ids_of(repos.search("scheduler", Filters(languages=("Go",)))) == {"acme/scheduler"}
    assert repos.terms("language") == {"Python": 1, "Go": 1}
    assert repos.terms("topics") == {"http": 2, "cron": 1, "parsing": 1}
    assert repos.max_value("stars") == 1200
    assert [d["id"] for d in repos.iter_documents(newest_first=True, fields=["stars"])] == [
        "solo/tiny",
        "acme/scheduler",
        "octo/parser",
    ]
