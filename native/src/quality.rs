//! The quality scanner's per-line work, compiled (`codelupe_dagster._native.Scanner`).
//!
//! `core/quality.py` keeps the scoring formulas and every table (comment markers, pragma and
//! commented-code prefixes); this module only walks the lines of a text and counts them by class,
//! with the exact semantics of the Python scanner it replaced (`tests/support/quality_reference.py`):
//!
//! - lines are `text.split("\n")` (not `splitlines`), each read as `line.strip()` with Python's
//!   whitespace set (`str.isspace`, which includes `\x1c`-`\x1f`, unlike Rust's `char::is_whitespace`);
//! - keywords are whole words of the raw line, a word being a run of ASCII letters, digits, `_`, `$`
//!   and any non-ASCII byte of its UTF-8 encoding (`quality._word_lines`);
//! - the two regexes (`_LICENSE_WORDS`, `_ASSIGNMENT_LIKE`) are matched here on ASCII input, where
//!   Python's Unicode rules reduce to ASCII ones; when a decision depends on how Python classifies a
//!   non-ASCII character (`\w`, case folding of `İ ı ſ`, `\d`), the Python pattern passed to `Scanner`
//!   decides instead, so the answer is Python's by construction.
//!
//! Texts are read as UTF-8; a `str` holding lone surrogates is encoded with `surrogatepass`, as
//! `quality._word_lines` does, and scanned the same way (all markers are ASCII).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

type Bytes = Vec<u8>;

/// Everything the scan reads about a language (`core.syntax.Syntax`) and the scanner's tables.
struct Tables {
    line_comments: Vec<Bytes>,
    block_comments: Vec<(Bytes, Bytes)>,
    doc_block_starts: Vec<Bytes>,
    doc_line_prefixes: Vec<Bytes>,
    python_docstrings: bool,
    keywords: KeywordSet,
    definition: Vec<Bytes>,
    pragma_starts: Vec<Bytes>,
    code_starts: Vec<Bytes>,
    code_endings: Vec<Bytes>,
    def_starts: Vec<Bytes>,
}

/// A language's scanner: build one per `Syntax`, then `scan(text)` returns the nine `_Counts`.
#[pyclass(frozen, module = "codelupe_dagster._native")]
struct Scanner {
    tables: Tables,
    license_search: Py<PyAny>,
    assignment_match: Py<PyAny>,
}

/// The counts of one scan, in the field order of `quality._Counts`.
#[derive(Default)]
struct Counts {
    non_blank: usize,
    comment: usize,
    doc: usize,
    code: usize,
    keyword: usize,
    license_header: usize,
    commented_code: usize,
    docstrings: usize,
    definitions: usize,
    header_is_license: bool,
}

type CountsTuple = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

impl Counts {
    fn into_tuple(self) -> CountsTuple {
        let license = if self.header_is_license {
            self.license_header
        } else {
            0
        };
        (
            self.non_blank,
            self.comment,
            self.doc,
            self.code,
            self.keyword,
            license,
            self.commented_code,
            self.docstrings,
            self.definitions,
        )
    }
}

fn to_bytes_list(items: &Bound<'_, PyAny>) -> PyResult<Vec<Bytes>> {
    let mut out = Vec::new();
    for item in items.try_iter()? {
        let item = item?;
        if let Ok(s) = item.cast::<PyString>() {
            out.push(s.to_str()?.as_bytes().to_vec());
        } else {
            out.push(item.cast::<PyBytes>()?.as_bytes().to_vec());
        }
    }
    Ok(out)
}

#[pymethods]
impl Scanner {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (*, line_comments, block_comments, doc_block_starts, doc_line_prefixes,
        python_docstrings, keywords, keywords_ignore_case, definition, pragma_starts, code_starts,
        code_endings, def_starts, license_search, assignment_match))]
    fn new(
        line_comments: &Bound<'_, PyAny>,
        block_comments: &Bound<'_, PyAny>,
        doc_block_starts: &Bound<'_, PyAny>,
        doc_line_prefixes: &Bound<'_, PyAny>,
        python_docstrings: bool,
        keywords: &Bound<'_, PyAny>,
        keywords_ignore_case: bool,
        definition: &Bound<'_, PyAny>,
        pragma_starts: &Bound<'_, PyAny>,
        code_starts: &Bound<'_, PyAny>,
        code_endings: &Bound<'_, PyAny>,
        def_starts: &Bound<'_, PyAny>,
        license_search: Py<PyAny>,
        assignment_match: Py<PyAny>,
    ) -> PyResult<Self> {
        let mut blocks = Vec::new();
        for pair in block_comments.try_iter()? {
            let pair = to_bytes_list(&pair?)?;
            if pair.len() != 2 {
                return Err(pyo3::exceptions::PyValueError::new_err(
                    "a block comment is a (start, end) pair",
                ));
            }
            blocks.push((pair[0].clone(), pair[1].clone()));
        }
        Ok(Scanner {
            tables: Tables {
                line_comments: to_bytes_list(line_comments)?,
                block_comments: blocks,
                doc_block_starts: to_bytes_list(doc_block_starts)?,
                doc_line_prefixes: to_bytes_list(doc_line_prefixes)?,
                python_docstrings,
                keywords: KeywordSet::new(to_bytes_list(keywords)?, keywords_ignore_case),
                definition: to_bytes_list(definition)?,
                pragma_starts: to_bytes_list(pragma_starts)?,
                code_starts: to_bytes_list(code_starts)?,
                code_endings: to_bytes_list(code_endings)?,
                def_starts: to_bytes_list(def_starts)?,
            },
            license_search,
            assignment_match,
        })
    }

    /// The nine line counts of `quality._Counts` for `text`, in field order.
    fn scan(&self, text: &Bound<'_, PyString>) -> PyResult<CountsTuple> {
        let py = text.py();
        match text.to_str() {
            Ok(s) => self.scan_bytes(py, s.as_bytes()),
            Err(_) => {
                // Lone surrogates: read the surrogatepass encoding, as `quality._word_lines` does.
                let encoded = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
                let encoded = encoded.cast::<PyBytes>()?;
                self.scan_bytes(py, encoded.as_bytes())
            }
        }
    }
}

impl Scanner {
    fn scan_bytes(&self, py: Python<'_>, text: &[u8]) -> PyResult<CountsTuple> {
        let counts = if self.tables.python_docstrings {
            self.scan_python(py, text)?
        } else {
            self.scan_generic(py, text)?
        };
        Ok(counts.into_tuple())
    }

    fn scan_python(&self, py: Python<'_>, text: &[u8]) -> PyResult<Counts> {
        let t = &self.tables;
        let mut c = Counts::default();
        let mut in_string: Option<&'static [u8]> = None; // the open triple-quote delimiter
        let mut in_docstring = false;
        let mut in_header = true;
        let mut expect_docstring = true;
        let mut pending_def = false;
        for raw in text.split(|&b| b == b'\n') {
            let s = py_strip(raw);
            if s.is_empty() {
                continue;
            }
            c.non_blank += 1;
            if let Some(delim) = in_string {
                if in_docstring {
                    c.doc += 1;
                } else {
                    c.code += 1;
                }
                if contains(s, delim) {
                    in_string = None;
                }
                continue;
            }
            if s[0] == b'#' {
                if !starts_with_any(s, &t.pragma_starts) {
                    self.plain_comment(py, &mut c, s, in_header, b"# ")?;
                }
                continue;
            }
            in_header = false;
            if expect_docstring {
                expect_docstring = false;
                if let Some(delim) = py_string_start(s) {
                    c.doc += 1;
                    c.docstrings += 1;
                    if count(s, delim) == 1 {
                        in_string = Some(delim);
                        in_docstring = true;
                    }
                    continue;
                }
            }
            c.code += 1;
            if starts_with_any(s, &t.def_starts) {
                c.definitions += 1;
                pending_def = true;
            }
            if pending_def && s.ends_with(b":") {
                pending_def = false;
                expect_docstring = true;
            }
            if contains(s, TRIPLE_DOUBLE) || contains(s, TRIPLE_SINGLE) {
                in_string = opened_triple_quote(s);
                in_docstring = false;
            }
            if self.has_keyword(raw) {
                c.keyword += 1;
            }
        }
        Ok(c)
    }

    fn scan_generic(&self, py: Python<'_>, text: &[u8]) -> PyResult<Counts> {
        let t = &self.tables;
        let mut c = Counts::default();
        let mut in_block: Option<&[u8]> = None; // the end marker of the open block comment
        let mut block_is_doc = false;
        let mut in_header = true;
        let mut comment_run = 0usize;
        let mut run_is_doc = false;
        for raw in text.split(|&b| b == b'\n') {
            let s = py_strip(raw);
            if s.is_empty() {
                comment_run = 0;
                continue;
            }
            c.non_blank += 1;
            if let Some(end) = in_block {
                if block_is_doc {
                    doc_comment(&mut c, false);
                } else {
                    self.block_comment(py, &mut c, s, in_header)?;
                }
                if contains(s, end) {
                    in_block = None;
                }
            } else if !t.line_comments.is_empty() && starts_with_any(s, &t.line_comments) {
                if starts_with_any(s, &t.pragma_starts) {
                    continue;
                }
                if !t.doc_line_prefixes.is_empty() && starts_with_any(s, &t.doc_line_prefixes) {
                    doc_comment(&mut c, !run_is_doc);
                    run_is_doc = true;
                } else {
                    self.plain_comment(py, &mut c, s, in_header, b"#/-;%! ")?;
                }
            } else if let Some((start, end)) = t
                .block_comments
                .iter()
                .find(|(start, _)| s.starts_with(start))
            {
                let is_doc =
                    !t.doc_block_starts.is_empty() && starts_with_any(s, &t.doc_block_starts);
                if is_doc {
                    doc_comment(&mut c, true);
                } else {
                    self.block_comment(py, &mut c, s, in_header)?;
                }
                in_block = if contains(&s[start.len()..], end) {
                    None
                } else {
                    Some(end.as_slice())
                };
                block_is_doc = is_doc;
                run_is_doc = run_is_doc || is_doc;
            } else {
                if in_header {
                    in_header = false;
                    if c.header_is_license {
                        comment_run = 0; // the license block is not the first definition's doc
                    }
                }
                c.code += 1;
                if !t.definition.is_empty() && starts_with_any(s, &t.definition) {
                    c.definitions += 1;
                    if comment_run > 0 && !run_is_doc {
                        c.docstrings += 1;
                        c.doc += comment_run;
                    }
                }
                comment_run = 0;
                run_is_doc = false;
                if self.has_keyword(raw) {
                    c.keyword += 1;
                }
                continue;
            }
            comment_run += 1;
        }
        Ok(c)
    }

    /// A line comment that is not documentation: a header line, disabled code, or an explanation.
    fn plain_comment(
        &self,
        py: Python<'_>,
        c: &mut Counts,
        s: &[u8],
        in_header: bool,
        marker_chars: &[u8],
    ) -> PyResult<()> {
        c.comment += 1;
        if in_header {
            self.header(py, c, s)?;
        } else if self.is_commented_code(py, lstrip_chars(s, marker_chars))? {
            c.commented_code += 1;
        }
        Ok(())
    }

    fn block_comment(
        &self,
        py: Python<'_>,
        c: &mut Counts,
        s: &[u8],
        in_header: bool,
    ) -> PyResult<()> {
        c.comment += 1;
        if in_header {
            self.header(py, c, s)?;
        }
        Ok(())
    }

    fn header(&self, py: Python<'_>, c: &mut Counts, s: &[u8]) -> PyResult<()> {
        c.license_header += 1;
        if !c.header_is_license && self.license_words(py, s)? {
            c.header_is_license = true;
        }
        Ok(())
    }

    /// `_LICENSE_WORDS.search(s) is not None`.
    fn license_words(&self, py: Python<'_>, s: &[u8]) -> PyResult<bool> {
        if s.is_ascii() {
            return Ok(license_words_ascii(s));
        }
        // Python's IGNORECASE folds `İ ı ſ` onto ASCII letters and `\d` takes any Nd digit.
        Ok(!self
            .license_search
            .bind(py)
            .call1((to_py_str(py, s)?,))?
            .is_none())
    }

    /// `quality._is_commented_code(body)`.
    fn is_commented_code(&self, py: Python<'_>, body: &[u8]) -> PyResult<bool> {
        if code_points_below_2(body) {
            return Ok(false);
        }
        let t = &self.tables;
        if t.code_endings.iter().any(|e| body.ends_with(e)) || starts_with_any(body, &t.code_starts)
        {
            return Ok(true);
        }
        match assignment_like(body) {
            Some(found) => Ok(found),
            None => Ok(!self
                .assignment_match
                .bind(py)
                .call1((to_py_str(py, body)?,))?
                .is_none()),
        }
    }

    /// Whether a whole word of the raw line is a branch or loop keyword (`quality._word_lines`).
    fn has_keyword(&self, raw: &[u8]) -> bool {
        let n = raw.len();
        let mut i = 0;
        while i < n {
            if !WORD_BYTES[usize::from(raw[i])] {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && WORD_BYTES[usize::from(raw[i])] {
                i += 1;
            }
            if self.tables.keywords.holds(&raw[start..i]) {
                return true;
            }
        }
        false
    }
}

/// A language's branch and loop keywords by length, with the bytes they start with: most words of a
/// line are told apart by their length or first byte, and the others by comparing eight bytes at once
/// (the scanner's largest cost was comparing every word of every code line with every keyword, a
/// library call each).
struct KeywordSet {
    /// The keywords of each length (index: length in bytes), little-endian packed when they have at
    /// most eight bytes.
    packed: Vec<Vec<u64>>,
    /// The longer keywords of each length.
    long: Vec<Vec<Bytes>>,
    first: [bool; 256],
    /// Words are lowered (ASCII) before they are compared: a keyword with an upper-case letter is
    /// then never found, as before.
    ignore_case: bool,
}

impl KeywordSet {
    fn new(keywords: Vec<Bytes>, ignore_case: bool) -> Self {
        let longest = keywords.iter().map(Vec::len).max().unwrap_or(0);
        let mut packed = vec![Vec::new(); longest + 1];
        let mut long = vec![Vec::new(); longest + 1];
        let mut first = [false; 256];
        for keyword in keywords {
            if let Some(&lead) = keyword.first() {
                first[usize::from(lead)] = true;
            }
            if keyword.len() <= 8 {
                packed[keyword.len()].push(pack(&keyword, false));
            } else {
                long[keyword.len()].push(keyword);
            }
        }
        KeywordSet {
            packed,
            long,
            first,
            ignore_case,
        }
    }

    /// Whether `word` (never empty) is one of the keywords.
    #[inline]
    fn holds(&self, word: &[u8]) -> bool {
        let n = word.len();
        if n >= self.packed.len() {
            return false;
        }
        let lead = if self.ignore_case {
            word[0].to_ascii_lowercase()
        } else {
            word[0]
        };
        if !self.first[usize::from(lead)] {
            return false;
        }
        if n <= 8 {
            let candidates = &self.packed[n];
            return !candidates.is_empty() && candidates.contains(&pack(word, self.ignore_case));
        }
        self.long[n].iter().any(|k| {
            k.iter().zip(word).all(|(&a, &b)| {
                a == if self.ignore_case {
                    b.to_ascii_lowercase()
                } else {
                    b
                }
            })
        })
    }
}

/// Up to eight bytes as a little-endian u64 (ASCII-lowered with `lower`).
#[inline]
fn pack(bytes: &[u8], lower: bool) -> u64 {
    bytes.iter().enumerate().fold(0u64, |acc, (i, &b)| {
        let b = if lower { b.to_ascii_lowercase() } else { b };
        acc | u64::from(b) << (8 * i)
    })
}

fn doc_comment(c: &mut Counts, opens_unit: bool) {
    c.comment += 1;
    c.doc += 1;
    if opens_unit {
        c.docstrings += 1;
    }
}

const TRIPLE_DOUBLE: &[u8] = b"\"\"\"";
const TRIPLE_SINGLE: &[u8] = b"'''";

fn to_py_str<'py>(py: Python<'py>, s: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match std::str::from_utf8(s) {
        Ok(s) => Ok(PyString::new(py, s).into_any()),
        Err(_) => PyBytes::new(py, s).call_method1("decode", ("utf-8", "surrogatepass")),
    }
}

/// The bytes of a word (`quality._word_lines`): ASCII letters and digits, `_`, `$` and every byte of a
/// character beyond ASCII.
const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
        i += 1;
    }
    table
};

fn starts_with_any(s: &[u8], prefixes: &[Bytes]) -> bool {
    // The first bytes first: a line is read against several prefixes, and a comparison is a library
    // call each.
    prefixes
        .iter()
        .any(|p| p.first().is_none_or(|lead| s.first() == Some(lead)) && s.starts_with(p))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&lead, rest)) = needle.split_first() else {
        return true;
    };
    // The needle's first byte is looked for, and the rest compared only there: a comparison at every
    // byte (one library call each) was most of the cost of reading a Python line for `"""`.
    let last = haystack.len().saturating_sub(rest.len());
    haystack[..last]
        .iter()
        .enumerate()
        .any(|(i, &b)| b == lead && haystack[i + 1..].starts_with(rest))
}

/// `str.count`: non-overlapping occurrences, left to right.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i + needle.len() <= haystack.len() {
        if &haystack[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// `quality._opened_triple_quote`: the delimiter a code line leaves open (odd count), if any.
fn opened_triple_quote(s: &[u8]) -> Option<&'static [u8]> {
    [TRIPLE_DOUBLE, TRIPLE_SINGLE]
        .into_iter()
        .find(|&delim| count(s, delim) % 2 == 1)
}

/// `_PY_STRING_START.match(s)`: `[rRuUbBfF]{0,2}("""|''')`, its delimiter.
fn py_string_start(s: &[u8]) -> Option<&'static [u8]> {
    let k = s
        .iter()
        .take(2)
        .take_while(|b| b"rRuUbBfF".contains(b))
        .count();
    let rest = &s[k..];
    if rest.starts_with(TRIPLE_DOUBLE) {
        Some(TRIPLE_DOUBLE)
    } else if rest.starts_with(TRIPLE_SINGLE) {
        Some(TRIPLE_SINGLE)
    } else {
        None
    }
}

/// `len(body) < 2` in code points (UTF-8 or surrogatepass bytes: count the non-continuation bytes).
fn code_points_below_2(body: &[u8]) -> bool {
    body.iter().filter(|&&b| b & 0xC0 != 0x80).take(2).count() < 2
}

fn lstrip_chars<'a>(s: &'a [u8], chars: &[u8]) -> &'a [u8] {
    let n = s.iter().take_while(|b| chars.contains(b)).count();
    &s[n..]
}

// ------------------------------------------------------------------ Python's whitespace (str.isspace)

/// Python's ASCII whitespace: `\t\n\x0b\x0c\r`, `\x1c`-`\x1f` and the space.
fn is_ascii_py_space(b: u8) -> bool {
    matches!(b, 0x09..=0x0D | 0x1C..=0x20)
}

/// The UTF-8 encodings of the non-ASCII characters for which `str.isspace()` is true.
const WIDE_SPACES: &[&[u8]] = &[
    "\u{85}".as_bytes(),
    "\u{a0}".as_bytes(),
    "\u{1680}".as_bytes(),
    "\u{2000}".as_bytes(),
    "\u{2001}".as_bytes(),
    "\u{2002}".as_bytes(),
    "\u{2003}".as_bytes(),
    "\u{2004}".as_bytes(),
    "\u{2005}".as_bytes(),
    "\u{2006}".as_bytes(),
    "\u{2007}".as_bytes(),
    "\u{2008}".as_bytes(),
    "\u{2009}".as_bytes(),
    "\u{200a}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{2029}".as_bytes(),
    "\u{202f}".as_bytes(),
    "\u{205f}".as_bytes(),
    "\u{3000}".as_bytes(),
];

/// Length in bytes of the Python whitespace character that `s` starts with, or 0.
fn leading_space(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if b < 0x80 => usize::from(is_ascii_py_space(b)),
        Some(_) => WIDE_SPACES
            .iter()
            .find(|w| s.starts_with(w))
            .map_or(0, |w| w.len()),
        None => 0,
    }
}

/// Length in bytes of the Python whitespace character that `s` ends with, or 0. Every encoding in
/// `WIDE_SPACES` starts with a lead byte, so a suffix match is a whole character.
fn trailing_space(s: &[u8]) -> usize {
    match s.last() {
        Some(&b) if b < 0x80 => usize::from(is_ascii_py_space(b)),
        Some(_) => WIDE_SPACES
            .iter()
            .find(|w| s.ends_with(w))
            .map_or(0, |w| w.len()),
        None => 0,
    }
}

/// `str.strip()` on the UTF-8 bytes of a line.
fn py_strip(mut s: &[u8]) -> &[u8] {
    loop {
        let n = leading_space(s);
        if n == 0 {
            break;
        }
        s = &s[n..];
    }
    loop {
        let n = trailing_space(s);
        if n == 0 {
            break;
        }
        s = &s[..s.len() - n];
    }
    s
}

// ------------------------------------------------------------------ the two regexes on ASCII

const LICENSE_LITERALS: &[&[u8]] = &[
    b"licence",
    b"license",
    b"copyright",
    b"spdx",
    b"all rights reserved",
    b"permission is hereby granted",
    b"warranty",
    b"redistribut",
];

/// `_LICENSE_WORDS.search(s)` for ASCII `s`: `licen[cs]e|copyright|spdx|all rights reserved|
/// permission is hereby granted|\(c\)\s*\d{4}|warranty|redistribut`, ignoring case.
fn license_words_ascii(s: &[u8]) -> bool {
    let lower: Vec<u8> = s.to_ascii_lowercase();
    if LICENSE_LITERALS.iter().any(|w| contains(&lower, w)) {
        return true;
    }
    let mut i = 0;
    while i + 3 <= lower.len() {
        if &lower[i..i + 3] == b"(c)" {
            let mut j = i + 3;
            while j < lower.len() && is_ascii_py_space(lower[j]) {
                j += 1;
            }
            if j + 4 <= lower.len() && lower[j..j + 4].iter().all(u8::is_ascii_digit) {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// The non-ASCII character starting at `s[0]` is Python whitespace.
fn wide_space_len(s: &[u8]) -> usize {
    WIDE_SPACES
        .iter()
        .find(|w| s.starts_with(w))
        .map_or(0, |w| w.len())
}

/// `_ASSIGNMENT_LIKE.match(body)`: `[\w.\[\]"']+\s*(?:[-+*/%|&^]?=|:=|<-)\s*[^=\s]`.
///
/// The classes are disjoint, so the match is deterministic: the longest run of word characters,
/// spaces, an operator, spaces, one character that is neither `=` nor a space. Returns None when the
/// run of word characters reaches a non-ASCII character: whether it is `\w` is Python's to say.
fn assignment_like(body: &[u8]) -> Option<bool> {
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b >= 0x80 {
            return None;
        }
        if !(b.is_ascii_alphanumeric() || b"_.[]\"'".contains(&b)) {
            break;
        }
        i += 1;
    }
    if i == 0 {
        return Some(false);
    }
    let skip_spaces = |mut i: usize| {
        while i < body.len() {
            let n = if body[i] < 0x80 {
                usize::from(is_ascii_py_space(body[i]))
            } else {
                wide_space_len(&body[i..])
            };
            if n == 0 {
                break;
            }
            i += n;
        }
        i
    };
    i = skip_spaces(i);
    let rest = &body[i..];
    let op_len = match rest {
        [
            b'-' | b'+' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^',
            b'=',
            ..,
        ] => 2,
        [b'=', ..] => 1,
        [b':', b'=', ..] | [b'<', b'-', ..] => 2,
        _ => return Some(false),
    };
    i = skip_spaces(i + op_len);
    match body.get(i) {
        None | Some(b'=') => Some(false),
        Some(_) => Some(true), // not a space: skip_spaces stopped on it
    }
}

/// Adds the scanner to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scanner>()?;
    Ok(())
}
