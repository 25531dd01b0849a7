//! The content filters' per-character statistics and `normalize_content`, compiled
//! (`core/filters.py`, `core/dedup.py`).
//!
//! `core/filters.py` keeps the rules, their order, the thresholds and every decision; this module only
//! measures a text in one call, with the exact semantics of the Python it replaced
//! (`tests/support/content_stats_reference.py`, the code at the branch point). Texts whose only line
//! break is `\n` (nearly all code) are read with loops that compile to vector code and a word-at-a-time
//! newline search; any other text takes a byte-at-a-time loop; both give the same answers:
//!
//! - lines are `text.splitlines()`: breaks are `\n`, `\r`, `\r\n` (one break), `\x0b`, `\x0c`, `\x1c`,
//!   `\x1d`, `\x1e`, `\x85`, `\u2028`, `\u2029` (CPython's fixed set, not a Unicode property); a break
//!   at the very end opens no empty line; lengths are in code points; an empty text is one line of 0;
//! - alphanumerics are `filters.alnum_count`: ASCII letters and digits plus every non-ASCII code point
//!   (lone surrogates and the non-ASCII breaks included), so no Unicode table is needed;
//! - base64 runs are `filters._base64_runs`: maximal runs of 64+ bytes of `A-Za-z0-9+/=` and `\n` in
//!   the UTF-8 (`surrogatepass`) encoding;
//! - hex lists and `\u` escapes are `filters._regex_runs`: the lines (split on `\n`) holding a marker,
//!   joined by `\n`, searched only when the text holds 8 markers or more (`str.count` is
//!   non-overlapping, and no marker overlaps itself). `(?:\\u[0-9a-fA-F]{4}){8,}` reads ASCII only and
//!   is matched here on any text. The hex pattern
//!   `(?:\b(?:0x|\\x)?[0-9a-fA-F]{2}(?:,\s*|\b\s*)){8,}` depends on Python's Unicode `\b` (`\w` is
//!   `str.isalnum` or `_`) and `\s` (`str.isspace`); it is matched here only when the marker lines are
//!   pure ASCII, where those reduce to `[A-Za-z0-9_]` and `[\t\n\x0b\x0c\r\x1c-\x1f ]`. Otherwise the
//!   function answers `None` and Python runs the regex itself, so non-ASCII answers are Python's by
//!   construction. The matcher is the regex's own backtracking order made explicit: every way of
//!   matching one unit other than the first (fewer `\s`, the `\b` alternative after a comma, no
//!   prefix) leaves the next unit unable to start, so a match is the longest chain of first-choice
//!   units from a start position, kept when it holds 8 units or more;
//! - `normalize_content` is `"\n".join(map(str.rstrip, text.split("\n"))).rstrip("\n")` after CRLF/CR
//!   to LF, plus one final newline when non-empty; `str.rstrip`'s whitespace is the table of code
//!   points for which `str.isspace()` holds in the running Python, built by `core/dedup.py` at import
//!   and passed to `Normalizer`.
//!
//! Texts are read as UTF-8; a `str` holding lone surrogates is encoded with `surrogatepass` (as
//! `_base64_runs` and `digest_normalized` do) and measured the same way, and normalised text is
//! decoded back the same way.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

const MIN_ENCODED_RUN: usize = 64;
const MIN_UNITS: usize = 8;

/// Byte classes of the one-pass scan.
const ALNUM: u8 = 1; // ASCII letter or digit, or a non-ASCII lead byte (one non-ASCII code point)
const CONT: u8 = 2; // UTF-8 continuation byte: not a code point of its own
const B64: u8 = 4; // `_BASE64_CHARS`
const SPECIAL: u8 = 8; // a line break, the start of one, or a marker's last byte

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let mut k = 0u8;
        if b.is_ascii_alphanumeric() || b >= 0xC0 {
            k |= ALNUM;
        }
        if b >= 0x80 && b < 0xC0 {
            k |= CONT;
        }
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=' || b == b'\n' {
            k |= B64;
        }
        if matches!(
            b,
            b'\n' | b'\r' | 0x0B | 0x0C | 0x1C | 0x1D | 0x1E | 0xC2 | 0xE2 | b'x' | b'u'
        ) {
            k |= SPECIAL;
        }
        t[c] = k;
        c += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

/// `(lines, longest, total)` of `splitlines()` and the alphanumeric count.
struct LineStats {
    lines: usize,
    longest: usize,
    total: usize,
    alnum: usize,
}

/// What one pass finds besides the line statistics.
struct Pass {
    stats: LineStats,
    base64: Vec<usize>,
    hex_markers: usize,
    unicode_markers: usize,
}

/// How many bytes of `b` satisfy `f`: in chunks of 255 with a byte counter, which compiles to vector
/// compares and adds.
#[inline(always)]
fn count(b: &[u8], f: impl Fn(u8) -> bool) -> usize {
    b.chunks(255)
        .map(|chunk| chunk.iter().fold(0u8, |n, &c| n + u8::from(f(c))) as usize)
        .sum()
}

/// How many adjacent pairs `(p, c)` of `b` satisfy `f`, counted as `count` does.
#[inline(always)]
fn count_pairs(b: &[u8], f: impl Fn(u8, u8) -> bool) -> usize {
    if b.len() < 2 {
        return 0;
    }
    let (before, after) = (&b[..b.len() - 1], &b[1..]);
    before
        .chunks(255)
        .zip(after.chunks(255))
        .map(|(p, c)| {
            p.iter()
                .zip(c)
                .fold(0u8, |n, (&p, &c)| n + u8::from(f(p, c))) as usize
        })
        .sum()
}

fn is_alnum_byte(c: u8) -> bool {
    c.wrapping_sub(b'0') < 10 || (c | 0x20).wrapping_sub(b'a') < 26 || c >= 0xC0
}

fn is_cont_byte(c: u8) -> bool {
    (c & 0xC0) == 0x80
}

fn is_base64_byte(c: u8) -> bool {
    CLASS[c as usize] & B64 != 0
}

/// A byte that starts a line break other than `\n`, or the lead byte of one (`\x85`, `\u2028`,
/// `\u2029`) wherever it stands: texts holding one take `measure_bytes`.
fn is_other_break_byte(c: u8) -> bool {
    matches!(c, b'\r' | 0x0B | 0x0C | 0x1C | 0x1D | 0x1E | 0xC2 | 0xE2)
}

/// The positions of `\n` in `b`, in order, 8 bytes at a time: a byte equal to `\n` is a zero byte of
/// `word ^ 0x0A..0A`, and the classic exact zero-byte test (no false positives) marks each with its high
/// bit.
fn for_each_newline(b: &[u8], mut f: impl FnMut(usize)) {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let mut words = b.chunks_exact(8);
    let mut i = 0usize;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ 0x0A0A_0A0A_0A0A_0A0A;
        let mut newlines = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        while newlines != 0 {
            f(i + (newlines.trailing_zeros() / 8) as usize);
            newlines &= newlines - 1;
        }
        i += 8;
    }
    for (j, &c) in words.remainder().iter().enumerate() {
        if c == b'\n' {
            f(i + j);
        }
    }
}

/// Lengths of the maximal runs of 64+ base64 bytes. A run of 64 starting in `[i, i + 64)` holds byte
/// `i + 63`, so when that byte is not base64 the search moves on by 64; every `i` follows a non-base64
/// byte (or is 0), so a run found from `i` starts there or later.
fn base64_runs(b: &[u8]) -> Vec<usize> {
    let mut runs = Vec::new();
    let mut i = 0usize;
    while i + MIN_ENCODED_RUN <= b.len() {
        let probe = i + MIN_ENCODED_RUN - 1;
        if !is_base64_byte(b[probe]) {
            i = probe + 1;
            continue;
        }
        let mut start = probe;
        while start > i && is_base64_byte(b[start - 1]) {
            start -= 1;
        }
        let mut end = probe + 1;
        while end < b.len() && is_base64_byte(b[end]) {
            end += 1;
        }
        if end - start >= MIN_ENCODED_RUN {
            runs.push(end - start);
        }
        i = end + 1;
    }
    runs
}

/// `measure` for texts whose only line break is `\n` (nearly all code), with loops that compile to
/// vector code; `None` when the text holds another break (or a byte `0xC2`/`0xE2` that may start one).
fn measure_fast(b: &[u8], runs: bool) -> Option<Pass> {
    if b.chunks(64)
        .any(|chunk| chunk.iter().fold(false, |a, &c| a | is_other_break_byte(c)))
    {
        return None;
    }
    let ascii = b.is_ascii();
    let (mut lines, mut longest, mut total) = (0usize, 0usize, 0usize);
    let mut line_start = 0usize;
    let mut add_line = |start: usize, end: usize| {
        let line = &b[start..end];
        let length = if ascii {
            line.len()
        } else {
            line.len() - count(line, is_cont_byte)
        };
        lines += 1;
        longest = longest.max(length);
        total += length;
    };
    for_each_newline(b, |position| {
        add_line(line_start, position);
        line_start = position + 1;
    });
    if line_start < b.len() {
        add_line(line_start, b.len());
    }
    if lines == 0 {
        lines = 1; // `splitlines()` of "" is [], read as [0]
    }
    let (base64, hex_markers, unicode_markers) = if runs {
        (
            base64_runs(b),
            count_pairs(b, |p, c| c == b'x' && (p == b'0' || p == b'\\')),
            count_pairs(b, |p, c| c == b'u' && p == b'\\'),
        )
    } else {
        (Vec::new(), 0, 0)
    };
    Some(Pass {
        stats: LineStats {
            lines,
            longest,
            total,
            alnum: count(b, is_alnum_byte),
        },
        base64,
        hex_markers,
        unicode_markers,
    })
}

/// The line statistics, and with `runs` the base64 runs and marker counts, of `b`.
fn measure(b: &[u8], runs: bool) -> Pass {
    measure_fast(b, runs).unwrap_or_else(|| measure_bytes(b, runs))
}

/// `measure` one byte at a time, for any text.
fn measure_bytes(b: &[u8], runs: bool) -> Pass {
    let n = b.len();
    let (mut lines, mut longest, mut total, mut alnum) = (0usize, 0usize, 0usize, 0usize);
    let mut cur = 0usize; // code points of the current line
    let mut run = 0usize; // current base64 run
    let mut base64 = Vec::new();
    let (mut hex_markers, mut unicode_markers) = (0usize, 0usize);
    let mut i = 0usize;
    while i < n {
        let c = b[i];
        let k = CLASS[c as usize];
        alnum += (k & ALNUM) as usize;
        cur += ((k & CONT) == 0) as usize;
        if runs {
            if k & B64 != 0 {
                run += 1;
            } else {
                if run >= MIN_ENCODED_RUN {
                    base64.push(run);
                }
                run = 0;
            }
        }
        if k & SPECIAL == 0 {
            i += 1;
            continue;
        }
        // A line break ends the current line; `width` is its length in bytes beyond this one.
        let extra = match c {
            b'\n' | 0x0B | 0x0C | 0x1C | 0x1D | 0x1E => Some(0),
            b'\r' => Some(usize::from(i + 1 < n && b[i + 1] == b'\n')),
            0xC2 if i + 1 < n && b[i + 1] == 0x85 => Some(1),
            0xE2 if i + 2 < n && b[i + 1] == 0x80 && (b[i + 2] == 0xA8 || b[i + 2] == 0xA9) => {
                Some(2)
            }
            b'x' if i > 0 && (b[i - 1] == b'0' || b[i - 1] == b'\\') => {
                hex_markers += 1;
                None
            }
            b'u' if i > 0 && b[i - 1] == b'\\' => {
                unicode_markers += 1;
                None
            }
            _ => None,
        };
        match extra {
            None => i += 1,
            Some(extra) => {
                cur -= 1; // the break's first byte was counted as a code point of the line
                lines += 1;
                longest = longest.max(cur);
                total += cur;
                cur = 0;
                // The break's other bytes: `\n` of `\r\n` is base64, continuation bytes are not.
                for &d in &b[i + 1..i + 1 + extra] {
                    let kd = CLASS[d as usize];
                    alnum += (kd & ALNUM) as usize;
                    if runs {
                        if kd & B64 != 0 {
                            run += 1;
                        } else {
                            if run >= MIN_ENCODED_RUN {
                                base64.push(run);
                            }
                            run = 0;
                        }
                    }
                }
                i += 1 + extra;
            }
        }
    }
    if cur > 0 {
        lines += 1;
        longest = longest.max(cur);
        total += cur;
    }
    if lines == 0 {
        lines = 1; // `splitlines()` of "" is [], read as [0]
    }
    if runs && run >= MIN_ENCODED_RUN {
        base64.push(run);
    }
    Pass {
        stats: LineStats {
            lines,
            longest,
            total,
            alnum,
        },
        base64,
        hex_markers,
        unicode_markers,
    }
}

/// `"\n".join` of the `\n`-separated lines of `b` that hold a marker: `x` after `0` or `\` (`0x`, `\x`)
/// with `hex`, else `u` after `\` (`\u`).
fn marker_lines(b: &[u8], hex: bool) -> Vec<u8> {
    let is_marker = |p: u8, c: u8| {
        if hex {
            c == b'x' && (p == b'0' || p == b'\\')
        } else {
            c == b'u' && p == b'\\'
        }
    };
    let mut out = Vec::new();
    let mut add = |line: &[u8]| {
        if count_pairs(line, is_marker) > 0 {
            // A marker line is never empty, so `out` is empty only before the first one.
            if !out.is_empty() {
                out.push(b'\n');
            }
            out.extend_from_slice(line);
        }
    };
    let mut start = 0usize;
    for_each_newline(b, |position| {
        add(&b[start..position]);
        start = position + 1;
    });
    add(&b[start..]);
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | 0x1C..=0x1F)
}

/// `\b` at `i` of ASCII text.
fn boundary(b: &[u8], i: usize) -> bool {
    let before = i > 0 && is_word(b[i - 1]);
    let after = i < b.len() && is_word(b[i]);
    before != after
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    i
}

/// One unit `\b(?:0x|\\x)?[0-9a-fA-F]{2}(?:,\s*|\b\s*)` at `p`, first choices only: its end.
fn hex_unit(b: &[u8], p: usize) -> Option<usize> {
    if !boundary(b, p) {
        return None;
    }
    let mut q = p;
    if b[q..].starts_with(b"0x") || b[q..].starts_with(b"\\x") {
        q += 2;
    }
    if q + 2 > b.len() || !b[q].is_ascii_hexdigit() || !b[q + 1].is_ascii_hexdigit() {
        return None;
    }
    q += 2;
    if q < b.len() && b[q] == b',' {
        Some(skip_spaces(b, q + 1))
    } else if boundary(b, q) {
        Some(skip_spaces(b, q))
    } else {
        None
    }
}

/// One unit `\\u[0-9a-fA-F]{4}` at `p`: its end.
fn unicode_unit(b: &[u8], p: usize) -> Option<usize> {
    let unit = b.get(p..p + 6)?;
    (unit[0] == b'\\' && unit[1] == b'u' && unit[2..].iter().all(u8::is_ascii_hexdigit))
        .then_some(p + 6)
}

/// Lengths of `finditer` matches of `unit{8,}` in `b`, `unit` giving the end of one unit at a position.
fn chain_runs(b: &[u8], unit: fn(&[u8], usize) -> Option<usize>) -> Vec<usize> {
    let mut runs = Vec::new();
    let mut s = 0usize;
    while s < b.len() {
        // Every unit starts with a hex digit (`0` of `0x` included) or the `\\` of `\\x`/`\\u`.
        if !b[s].is_ascii_hexdigit() && b[s] != b'\\' {
            s += 1;
            continue;
        }
        let (mut q, mut units) = (s, 0usize);
        while let Some(next) = unit(b, q) {
            q = next;
            units += 1;
        }
        if units >= MIN_UNITS {
            runs.push(q - s);
        }
        // No match starts inside the chain: a unit's other bytes (`x`, the digits after a prefix or a
        // digit, both word characters) fail its `\b` or its first byte, separators are neither digits
        // nor `\`, a later unit start gives the same chain shortened, and `q` failed just now.
        s = if units > 0 { q.max(s + 1) } else { s + 1 };
    }
    runs
}

/// Hex runs of `_regex_runs(text, _HEX, ("0x", "\\x"))`, or `None` when the marker lines hold non-ASCII
/// text (Python's regex decides then).
fn hex_runs(b: &[u8], markers: usize) -> Option<Vec<usize>> {
    if markers < MIN_UNITS {
        return Some(Vec::new());
    }
    let candidates = marker_lines(b, true);
    candidates
        .is_ascii()
        .then(|| chain_runs(&candidates, hex_unit))
}

/// Runs of `_regex_runs(text, _UNICODE_ESCAPES, ("\\u",))`.
fn unicode_runs(b: &[u8], markers: usize) -> Vec<usize> {
    if markers < MIN_UNITS {
        return Vec::new();
    }
    chain_runs(&marker_lines(b, false), unicode_unit)
}

/// Calls `f` with the UTF-8 bytes of `text`, or their `surrogatepass` encoding when it holds lone
/// surrogates.
fn with_bytes<T>(text: &Bound<'_, PyString>, f: impl FnOnce(&[u8]) -> T) -> PyResult<T> {
    match text.to_str() {
        Ok(s) => Ok(f(s.as_bytes())),
        Err(_) => {
            let encoded = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
            Ok(f(encoded.cast::<PyBytes>()?.as_bytes()))
        }
    }
}

type Stats = (usize, usize, usize, usize);
type Runs = (Vec<usize>, Option<Vec<usize>>, Vec<usize>);

fn runs_of(b: &[u8], pass: Pass) -> (Stats, Runs) {
    let s = &pass.stats;
    let stats = (s.lines, s.longest, s.total, s.alnum);
    let hex = hex_runs(b, pass.hex_markers);
    let unicode = unicode_runs(b, pass.unicode_markers);
    (stats, (pass.base64, hex, unicode))
}

/// `(lines, longest line, total line length, alphanumerics)`: `TextStats.of` before its divisions.
#[pyfunction]
fn text_stats(text: &Bound<'_, PyString>) -> PyResult<Stats> {
    with_bytes(text, |b| {
        let s = measure(b, false).stats;
        (s.lines, s.longest, s.total, s.alnum)
    })
}

/// `(base64 runs, hex runs or None, unicode-escape runs)` of `filters.encoded_runs`; hex is `None` when
/// Python's regex must decide (non-ASCII marker lines).
#[pyfunction]
fn encoded_runs(text: &Bound<'_, PyString>) -> PyResult<Runs> {
    with_bytes(text, |b| runs_of(b, measure(b, true)).1)
}

/// `text_stats` and `encoded_runs` in one pass.
#[pyfunction]
fn content_stats(text: &Bound<'_, PyString>) -> PyResult<(Stats, Runs)> {
    with_bytes(text, |b| runs_of(b, measure(b, true)))
}

/// `dedup.normalize_content` with the running Python's whitespace (`str.isspace`) for `str.rstrip`.
#[pyclass(frozen, module = "codelupe_dagster._native")]
struct Normalizer {
    ascii_space: [bool; 128],
    /// Non-ASCII whitespace code points, sorted.
    other_space: Vec<u32>,
}

/// The code point that ends at `end` (exclusive) in UTF-8 or surrogatepass bytes, and where it starts.
fn last_code_point(b: &[u8], end: usize) -> (u32, usize) {
    let mut start = end - 1;
    while start > 0 && (b[start] & 0xC0) == 0x80 {
        start -= 1;
    }
    let lead = b[start] as u32;
    let (mut cp, len) = match end - start {
        1 => (lead, 1),
        2 => (lead & 0x1F, 2),
        3 => (lead & 0x0F, 3),
        _ => (lead & 0x07, 4),
    };
    for &c in &b[start + 1..start + len] {
        cp = (cp << 6) | (c as u32 & 0x3F);
    }
    (cp, start)
}

impl Normalizer {
    /// Length of `line` without its trailing whitespace.
    fn rstrip(&self, line: &[u8]) -> usize {
        let mut end = line.len();
        while end > 0 {
            let c = line[end - 1];
            if c < 0x80 {
                if !self.ascii_space[c as usize] {
                    break;
                }
                end -= 1;
            } else {
                let (cp, start) = last_code_point(line, end);
                if self.other_space.binary_search(&cp).is_err() {
                    break;
                }
                end = start;
            }
        }
        end
    }

    /// Whether `normalize_bytes(b) == b` (most files): no `\r`, no line ending in whitespace, and one
    /// final newline after a non-empty line (or nothing at all). Checked without building anything.
    fn is_normalized(&self, b: &[u8]) -> bool {
        if b.is_empty() {
            return true;
        }
        if b.len() < 2 || b[b.len() - 1] != b'\n' || b[b.len() - 2] == b'\n' {
            return false;
        }
        if b.chunks(64)
            .any(|chunk| chunk.iter().fold(false, |a, &c| a | (c == b'\r')))
        {
            return false;
        }
        let (mut stripped, mut start) = (false, 0usize);
        for_each_newline(b, |position| {
            let line = &b[start..position];
            stripped |= self.rstrip(line) != line.len();
            start = position + 1;
        });
        !stripped
    }

    fn normalize_bytes(&self, b: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(b.len() + 1);
        let mut start = 0usize;
        loop {
            let end = b[start..]
                .iter()
                .position(|&c| c == b'\n' || c == b'\r')
                .map(|p| start + p);
            let line_end = end.unwrap_or(b.len());
            out.extend_from_slice(&b[start..start + self.rstrip(&b[start..line_end])]);
            match end {
                None => break,
                Some(e) => {
                    out.push(b'\n');
                    start = if b[e] == b'\r' && e + 1 < b.len() && b[e + 1] == b'\n' {
                        e + 2
                    } else {
                        e + 1
                    };
                }
            }
        }
        while out.last() == Some(&b'\n') {
            out.pop();
        }
        if !out.is_empty() {
            out.push(b'\n');
        }
        out
    }
}

#[pymethods]
impl Normalizer {
    /// `whitespace`: every code point `c` with `chr(c).isspace()`.
    #[new]
    fn new(whitespace: Vec<u32>) -> Self {
        let mut ascii_space = [false; 128];
        let mut other_space = Vec::new();
        for cp in whitespace {
            if cp < 0x80 {
                ascii_space[cp as usize] = true;
            } else {
                other_space.push(cp);
            }
        }
        other_space.sort_unstable();
        other_space.dedup();
        Normalizer {
            ascii_space,
            other_space,
        }
    }

    /// `dedup.normalize_content(text)`; `text` itself when it is already normalised.
    fn normalize<'py>(&self, text: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
        let py = text.py();
        match text.to_str() {
            Ok(s) => {
                if self.is_normalized(s.as_bytes()) {
                    return Ok(text.clone());
                }
                let out = self.normalize_bytes(s.as_bytes());
                let out = String::from_utf8(out).map_err(|e| {
                    pyo3::exceptions::PyValueError::new_err(format!("normalised text: {e}"))
                })?;
                Ok(PyString::new(py, &out))
            }
            Err(_) => {
                let encoded = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
                let out = self.normalize_bytes(encoded.cast::<PyBytes>()?.as_bytes());
                let decoded =
                    PyBytes::new(py, &out).call_method1("decode", ("utf-8", "surrogatepass"))?;
                Ok(decoded.cast_into::<PyString>()?)
            }
        }
    }
}

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(text_stats, m)?)?;
    m.add_function(wrap_pyfunction!(encoded_runs, m)?)?;
    m.add_function(wrap_pyfunction!(content_stats, m)?)?;
    m.add_class::<Normalizer>()?;
    Ok(())
}
