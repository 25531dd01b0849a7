"""Training data is an exit: the documents the trainer selects from the index are redacted again on the
way out, so an index written before a detector existed (here documents with a raw token and addresses,
written straight to the backend as an old corpus holds them) trains on redacted text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from codelupe_dagster.backends.search import CODE_SCHEMA, SearchIndex
from codelupe_dagster.core.pii import PiiKind
from codelupe_dagster.core.redaction import redact_text
from codelupe_dagster.stages.training_samples import RedactedSamples
from codelupe_dagster.training.data import select_corpus
from tests.support.planted import GITHUB_TOKEN
from tests.support.training_docs import stdlib_docs

ADDRESS = "alice.smith@corp-mail.com"
OLD_SECRET_LINE = f'TOKEN = "{GITHUB_TOKEN}"  # ask {ADDRESS}, host 93.184.216.34\n'


def old_index(make: Callable[..., SearchIndex]) -> tuple[SearchIndex, list[dict]]:
    index = make(CODE_SCHEMA)
    docs = stdlib_docs(["json", "email"], per_package=3, start=datetime(2026, 1, 1, tzinfo=UTC))
    for doc in docs[2:]:  # the scorer's documents: redacted when they were indexed
        doc["content"] = redact_text(doc["content"]).text
    for doc in docs[:2]:  # two old documents, with credentials and addresses pasted in, never redacted
        doc["content"] = OLD_SECRET_LINE + redact_text(doc["content"]).text
    index.bulk_upsert(docs).raise_for_errors()
    index.refresh()
    return index, docs


def selected(source) -> list[dict]:
    selection = select_corpus(source, min_quality=0.7, max_documents=100, eval_fraction=0.3)
    return selection.train + selection.eval


def test_selected_training_documents_are_redacted_on_both_backends(
    search_backend: Callable[..., SearchIndex],
) -> None:
    index, docs = old_index(search_backend)
    assert any(GITHUB_TOKEN in d["content"] for d in selected(index))  # the old corpus, read raw

    samples = RedactedSamples(index)
    chosen = selected(samples)
    assert len(chosen) == len(docs)
    text = "\n".join(d["content"] for d in chosen)
    assert GITHUB_TOKEN not in text and ADDRESS not in text and "93.184.216.34" not in text
    assert text.count('TOKEN = "<SECRET:github_pat>"  # ask <EMAIL>, host <IP_ADDRESS>') == 2
    assert samples.tally.secrets == {"github_pat": 2} and samples.tally.pii == {"email": 2, "ip": 2}
    assert samples.tally.documents == 2
    assert "redacted 2 email, 2 github_pat, 2 ip in 2 documents" in samples.summary()
    # The rest of the corpus is the scorer's: it passes unchanged (redaction is idempotent).
    by_id = {d["id"]: d for d in chosen}
    assert all(by_id[d["id"]]["content"] == d["content"] for d in docs[2:])


def test_training_samples_follow_the_configured_kinds(search_backend: Callable[..., SearchIndex]) -> None:
    index, _ = old_index(search_backend)
    samples = RedactedSamples(index, frozenset({PiiKind.IP_ADDRESS}))
    text = "\n".join(d["content"] for d in selected(samples))
    assert ADDRESS in text and GITHUB_TOKEN not in text and "93.184.216.34" not in text
    assert samples.tally.pii == {"ip": 2}


def test_the_watermark_is_the_index_s(search_backend: Callable[..., SearchIndex]) -> None:
    index, _ = old_index(search_backend)
    assert RedactedSamples(index).max_value("indexed_at") == index.max_value("indexed_at") is not None
