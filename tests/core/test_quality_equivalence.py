"""The rewritten quality scanners and content filters give the results of the code they replaced.

`tests/support/quality_reference.py` holds the scorers and filters as they were at commit 4d5b659;
the new code must give the same drop reason, the same `quality.score` and the same `quality.signals`
(and the same scanner line counts) on real files found at run time (CPython's stdlib and headers,
Go's tree, npm's JavaScript) and on generated texts that hit every syntax's corner cases.
"""

from __future__ import annotations

import random
from dataclasses import asdict

import pytest

from codelupe_dagster.core import filters, quality
from codelupe_dagster.core.languages import REGISTRY
from tests.support import quality_reference as reference
from tests.support.quality_corpus import SourceFile, load_corpus

PER_ROOT = 500  # files sampled from each corpus root: ~2,500 files


@pytest.fixture(scope="module")
def corpus() -> list[SourceFile]:
    files = [f for f in load_corpus(per_root=PER_ROOT) if f.text is not None]
    assert len(files) > 1000, "the stdlib alone has more files than this"
    return files


def _assert_same_score(new: quality.QualityResult, old: reference.QualityResult, where: str) -> None:
    assert new.score == pytest.approx(old.score, abs=1e-6), where
    assert new.signals == old.signals, where


def test_scores_equal_reference_on_real_files(corpus: list[SourceFile]) -> None:
    languages = {f.language for f in corpus}
    assert {"python", "c"} <= languages
    for f in corpus:
        assert f.text is not None
        where = f"{f.path} ({f.language})"
        syntax = REGISTRY.syntax_for(f.language)
        assert asdict(quality._scan(f.text, syntax)) == asdict(reference._scan(f.text, syntax)), where
        new, old = quality.score_v2(f.text, f.language), reference.score_v2(f.text, f.language)
        _assert_same_score(new, old, where)
        _assert_same_score(
            quality.score_seed_v1(f.text, f.language), reference.score_seed_v1(f.text, f.language), where
        )


def test_content_checks_equal_reference_on_real_files(corpus: list[SourceFile]) -> None:
    reasons = set()
    for f in corpus:
        assert f.text is not None
        language = f.language or ""
        reason, stats = filters.check_content_stats(f.path, language, f.text)
        old_reason, old_stats = reference.check_content_stats(f.path, language, f.text)
        assert (reason, asdict(stats)) == (old_reason, asdict(old_stats)), f.path
        assert filters.encoded_runs(f.text) == reference.encoded_runs(f.text), f.path
        reasons.add(reason)
    assert None in reasons and len(reasons) > 1, "the corpus keeps files and drops some"


def test_path_checks_equal_reference_on_real_files(corpus: list[SourceFile]) -> None:
    extra = ["node_modules/a.js", "x/yarn.lock", "api_pb2.py", "big.py", "README", "a/b.min.js", "x.png"]
    for path in [f.path for f in corpus] + extra:
        for size in (10, 2_000_000):
            assert filters.check_path(path, size) == reference.check_path(path, size), path
            assert filters.check_path(path, size, None) == reference.check_path(path, size, None), path


# Lines that exercise the scanners' state: comments of every family, pragmas, doc comments, blocks
# opened and closed on one line or many, docstrings, strings spanning lines, signatures spanning lines,
# keywords, definitions, license words, disabled code, and whitespace that `str.strip` removes.
_COMMON_LINES = (
    '', '   ', '\t', '\x0c', '\u3000', ' \xa0 ', 'x = 1', 'if (a) {', '}', 'for x in y:', 'while(1);',
    'return x;', 'foo(bar)', 'a := b', 'case 1:', 'elif x:', '# Copyright 2020 Someone',
    '# SPDX-License-Identifier: MIT', '# note: why', '# x = 1', '#!/bin/sh', '# noqa',
    '// +build linux', '//go:generate x', '// eslint-disable', '// a comment', '// x = y;', '/// doc',
    '//! doc', '/* one */', '/* open', 'still inside', 'close */', '/** doc', ' * more', ' */',
    '/*! doc */', '/**/', '-- sql comment', '--[[ lua', ']]', '{- hs', '-}', '{-| doc', '(* ml', '*)',
    '(** doc *)', '<!-- html', '-->', '=pod', '=cut', '=begin', '=end', '#[ nim', ']#', '#= jl', '=#',
    '<# ps', '#>', '%{', '%}', '% matlab', '; asm', '!fortran', '%% erl', "#' r doc", '## nim doc',
    '-- | hs doc', '--- lua doc', 'def f(x):', 'def g(', '    y):', 'class C:', 'async def h():',
    '"""Doc."""', '"""Doc', 'end."""', "'''", "r'''raw", 'x = """', '"""', "u'''x''' + '''",
    'func main() {', 'func (r T) M() {', 'type T struct {', 'function f() {', 'export function g() {',
    'sub p {', 'defp x do', 'local function l()', 'public function m() {', 'fn main() {', 'IF x THEN',
    'SELECT * FROM t WHERE x', 'jmp loop', 'beq r1, r2', 'x\x00y', 'é = 1 if ü else 2', '$if = 1',
)  # fmt: skip


def _random_text(rng: random.Random, lines: tuple[str, ...]) -> str:
    text = "\n".join(rng.choice(lines) for _ in range(rng.randint(0, 40)))
    return text + "\n" if rng.random() < 0.5 else text


def test_scans_equal_reference_on_generated_texts_for_every_syntax() -> None:
    rng = random.Random(12)
    syntaxes = {spec.syntax: name for name, spec in REGISTRY.by_name.items()}
    assert len(syntaxes) > 30
    for syntax, name in syntaxes.items():
        own = [*syntax.line_comments, *syntax.doc_line_prefixes, *syntax.doc_block_starts, *syntax.definition]
        own += [marker for pair in syntax.block_comments for marker in pair]
        own += [word.decode() for word in syntax.keywords]
        lines = _COMMON_LINES + tuple(f"{m} x" for m in own) + tuple(own) + tuple(f"  {m}" for m in own)
        for _ in range(150):
            text = _random_text(rng, lines)
            new, old = asdict(quality._scan(text, syntax)), asdict(reference._scan(text, syntax))
            assert new == old, (name, text)
            _assert_same_score(quality.score_v2(text, name), reference.score_v2(text, name), name)
