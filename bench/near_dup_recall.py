"""Recall and precision of MinHash-LSH band collisions on planted near-copies of real files.

Takes N real source files, makes one near copy of each by editing 5-10% of its lines (renamed
identifiers, inserted and deleted lines, rewritten comments), adds M other real files as
distractors, and reports for several (bands, rows) choices:

- recall: planted (original, copy) pairs that share at least one band key;
- precision: candidate pairs (sharing a band key) that are planted or have an exact 5-shingle
  Jaccard >= the evaluation threshold (real corpora contain genuine near duplicates too);
- the number of band keys per document (Redis memory grows with it).

Corpus, found at run time as `end_to_end_files.py` finds it: CPython's `Lib` of the running interpreter
(`sysconfig`) and Go's `src` (`go env GOROOT`); `--corpus` replaces both.

Usage: .venv/bin/python bench/near_dup_recall.py [--originals 400] [--distractors 1500] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time
from collections import defaultdict
from itertools import combinations

from end_to_end_files import CorpusMissing, go_root, stdlib_root

from codelupe_dagster.core.minhash import LSHParams, band_keys, shingle_hashes, signature
from codelupe_dagster.stages.file_processing import Dropped, ProcessingConfig, process_file

EXTENSIONS = (".py", ".go", ".js", ".c", ".h")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w{2,}")
_COMMENT = re.compile(r"(#|//)\s*(.*)$")
WORDS = [
    "note",
    "this",
    "handles",
    "the",
    "edge",
    "case",
    "where",
    "input",
    "is",
    "empty",
    "or",
    "missing",
    "retry",
    "later",
]

CANDIDATE_PARAMS = (
    LSHParams(),  # the default
    LSHParams(bands=32, rows=4),
    LSHParams(bands=42, rows=3),
    LSHParams(bands=25, rows=5),
    LSHParams(bands=22, rows=5),
    LSHParams(bands=20, rows=6),
    LSHParams(bands=16, rows=8),
    LSHParams(bands=14, rows=8),  # datatrove's default shape (112 of 128 permutations)
    LSHParams(bands=9, rows=13),  # BigCode near-dedup shape for threshold 0.85 (scaled to 128)
)


def default_corpora() -> list[str]:
    """This machine's CPython `Lib` and Go `src`, never a hard-coded path (issue 12)."""
    return [str(stdlib_root()), str(go_root() / "src")]


def load_documents(corpora: list[str], limit: int, rng: random.Random) -> list[tuple[str, str]]:
    """(path, processed content) of real files that pass the filters and are 30+ lines."""
    paths = []
    for root in corpora:
        for directory, _, names in os.walk(root):
            paths.extend(os.path.join(directory, n) for n in names if n.endswith(EXTENSIONS))
    rng.shuffle(paths)
    config = ProcessingConfig()
    documents: list[tuple[str, str]] = []
    seen: set[bytes] = set()
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        result = process_file(path, data, config)
        if isinstance(result, Dropped) or result.lines < 30 or result.digest in seen:
            continue
        seen.add(result.digest)
        documents.append((path, result.content))
        if len(documents) >= limit:
            break
    return documents


def edit_line(line: str, rng: random.Random) -> str:
    """Rewrite a comment if the line has one, else rename one identifier in it."""
    comment = _COMMENT.search(line)
    if comment and rng.random() < 0.5:
        return line[: comment.start(2)] + " ".join(rng.choices(WORDS, k=6))
    names = _IDENTIFIER.findall(line)
    if not names:
        return line + "  # edited"
    name = rng.choice(names)
    return re.sub(rf"\b{re.escape(name)}\b", name + "_renamed", line)


def near_copy(text: str, pool: list[str], rng: random.Random) -> str:
    """Edit 5-10% of the lines: 50% in-place edits, 25% inserted lines, 25% deleted lines."""
    lines = text.split("\n")
    edits = max(1, round(len(lines) * rng.uniform(0.05, 0.10)))
    for index in sorted(rng.sample(range(len(lines)), min(edits, len(lines))), reverse=True):
        roll = rng.random()
        if roll < 0.5:
            lines[index] = edit_line(lines[index], rng)
        elif roll < 0.75:
            lines.insert(index, rng.choice(pool))
        else:
            del lines[index]
    return "\n".join(lines)


def candidate_pairs(keys: list[list[bytes]]) -> set[tuple[int, int]]:
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for doc, doc_keys in enumerate(keys):
        for band, key in enumerate(doc_keys):
            buckets[(band, key)].append(doc)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) > 1:
            pairs.update(combinations(sorted(members), 2))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", help="root of real source files (repeatable)")
    parser.add_argument("--originals", type=int, default=400)
    parser.add_argument("--distractors", type=int, default=1500)
    parser.add_argument("--eval-threshold", type=float, default=LSHParams().threshold)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    try:
        corpora = args.corpus or default_corpora()
    except CorpusMissing as exc:
        raise SystemExit(f"near_dup_recall: {exc} (or pass --corpus)") from exc
    documents = load_documents(corpora, args.originals + args.distractors, rng)
    originals = documents[: args.originals]
    distractors = documents[args.originals :]
    pool = [line for _, text in distractors[:200] for line in text.split("\n") if line.strip()]
    copies = [near_copy(text, pool, rng) for _, text in originals]
    texts = [text for _, text in originals] + copies + [text for _, text in distractors]
    planted = {(i, i + len(originals)) for i in range(len(originals))}
    print(
        f"documents: {len(originals)} originals + {len(copies)} near copies + {len(distractors)} distractors"
    )

    shingle_sets = [set(shingle_hashes(text).tolist()) for text in texts]

    def jaccard(a: int, b: int) -> float:
        union = len(shingle_sets[a] | shingle_sets[b])
        return len(shingle_sets[a] & shingle_sets[b]) / union if union else 1.0

    planted_j = sorted(jaccard(a, b) for a, b in planted)
    print(
        "planted pair Jaccard (5-shingles): "
        f"min {planted_j[0]:.3f}  p5 {planted_j[len(planted_j) // 20]:.3f}  "
        f"median {statistics.median(planted_j):.3f}  max {planted_j[-1]:.3f}"
    )

    started = time.perf_counter()
    signatures = [signature(text) for text in texts]
    elapsed = time.perf_counter() - started
    print(f"signatures: {len(texts) / elapsed:,.0f} docs/s (128 permutations, one process)")
    print(f"evaluation threshold (true near duplicate): Jaccard >= {args.eval_threshold}")
    print()
    header = f"{'bands x rows':>12} {'curve t':>8} {'keys/doc':>8} {'candidates':>10} {'recall':>7} "
    print(header + f"{'precision':>9} {'false':>6} {'false J max':>11}  P(cand|J=0.3/0.5/0.7)")
    for params in CANDIDATE_PARAMS:
        keys = [band_keys(sig, params) for sig in signatures]
        pairs = candidate_pairs(keys)
        found = len(pairs & planted)
        false_j = [j for j in (jaccard(*p) for p in pairs - planted) if j < args.eval_threshold]
        precision = 1 - len(false_j) / len(pairs) if pairs else 1.0
        curve = (1 / params.bands) ** (1 / params.rows)
        probabilities = "/".join(f"{params.candidate_probability(j):.2f}" for j in (0.3, 0.5, 0.7))
        default = "  <- default" if params == LSHParams() else ""
        print(
            f"{params.bands:>5} x {params.rows:<4} {curve:>8.2f} {params.bands:>8} {len(pairs):>10} "
            f"{found / len(planted):>7.3f} {precision:>9.4f} {len(false_j):>6} "
            f"{max(false_j, default=0):>11.3f}  {probabilities}{default}"
        )


if __name__ == "__main__":
    main()
