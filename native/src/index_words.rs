//! The word runs of Elasticsearch's `__words` fields (`backends/search/elastic_mapping.index_words`),
//! compiled.
//!
//! `index_word_runs(text)` returns `(words, foreign)`, the part of the Python it replaced
//! (`tests/support/index_words_reference.py`) that needs no Unicode tables:
//!
//! - the text is read as UTF-8, a `str` holding lone surrogates as its `surrogatepass` encoding, and
//!   ASCII-lowercased (`bytes.lower()`);
//! - it is cut into runs at every ASCII byte that is not a letter or digit; bytes >= 0x80 stay in
//!   their runs, so a run is either pure ASCII or holds the whole UTF-8 of some non-ASCII characters;
//! - `words` is the distinct ASCII words, sorted bytewise and joined by spaces: the pure-ASCII runs and
//!   the ASCII letter-and-digit pieces of the other runs;
//! - `foreign` is the distinct runs holding a byte >= 0x80, in order of first occurrence: the caller
//!   finds their Unicode words (`[^\W_]+`, lowercased), which needs Python's own Unicode tables to
//!   match the Python exactly. An ASCII text has none.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::subwords::{Distinct, for_each_run};

/// `(words, foreign)` for the UTF-8 (or surrogatepass) bytes of a text.
fn word_runs(text: &[u8]) -> (String, Vec<Vec<u8>>) {
    let lowered = text.to_ascii_lowercase();
    let mut distinct = Distinct::new(&lowered);
    for_each_run::<true>(&lowered, |start, end| {
        distinct.insert(start, end);
    });
    let mut words: Vec<&[u8]> = Vec::with_capacity(distinct.runs.len());
    let mut foreign: Vec<Vec<u8>> = Vec::new();
    for &run in &distinct.runs {
        if run.is_ascii() {
            words.push(run);
        } else {
            for_each_run::<false>(run, |start, end| words.push(&run[start..end]));
            foreign.push(run.to_vec());
        }
    }
    words.sort_unstable();
    words.dedup();
    let mut out = Vec::with_capacity(words.iter().map(|w| w.len() + 1).sum());
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    // Only ASCII letters, digits and spaces were written.
    (String::from_utf8(out).expect("ASCII"), foreign)
}

/// The distinct ASCII words of `text` (sorted, space-joined) and its distinct runs holding non-ASCII
/// characters (`elastic_mapping.index_words`).
#[pyfunction]
fn index_word_runs<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyString>,
) -> PyResult<(String, Vec<Bound<'py, PyBytes>>)> {
    let (words, foreign) = match text.to_str() {
        Ok(s) => word_runs(s.as_bytes()),
        Err(_) => {
            // Lone surrogates: read the surrogatepass encoding, as the Python did.
            let encoded = text.call_method1("encode", ("utf-8", "surrogatepass"))?;
            let encoded = encoded.cast::<PyBytes>()?;
            word_runs(encoded.as_bytes())
        }
    };
    let foreign = foreign.iter().map(|run| PyBytes::new(py, run)).collect();
    Ok((words, foreign))
}

/// The capital sigma's UTF-8: its lower case depends on the letters around it (Final_Sigma), so a text
/// holding it cannot be lowercased run by run.
const CAPITAL_SIGMA: [u8; 2] = [0xCE, 0xA3];

/// `(parts, foreign)` of a text's words in order: the text is cut into runs at every ASCII byte that
/// is not a letter or digit; `foreign` is the runs holding a byte >= 0x80, in order, and `parts` the
/// lowercased ASCII runs before, between and after them, each space-joined (`parts.len()` is
/// `foreign.len() + 1`).
fn ordered_runs(text: &[u8]) -> (Vec<String>, Vec<&[u8]>) {
    let mut parts = Vec::new();
    let mut foreign = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for_each_run::<true>(text, |start, end| {
        let run = &text[start..end];
        if run.is_ascii() {
            if !current.is_empty() {
                current.push(b' ');
            }
            current.extend(run.iter().map(u8::to_ascii_lowercase));
        } else {
            // Only ASCII letters, digits and spaces were written.
            parts.push(String::from_utf8(std::mem::take(&mut current)).expect("ASCII"));
            foreign.push(run);
        }
    });
    parts.push(String::from_utf8(current).expect("ASCII"));
    (parts, foreign)
}

/// `(parts, foreign)` for `elastic_mapping.ordered_words` (see `ordered_runs`; an ASCII text is one
/// part, `" ".join(re.findall(r"[^\W_]+", text.lower()))` itself); `None` for a text with lone
/// surrogates or a capital sigma, which Python reads whole.
#[pyfunction]
fn ordered_word_runs<'py>(
    py: Python<'py>,
    text: &Bound<'py, PyString>,
) -> Option<(Vec<String>, Vec<Bound<'py, PyBytes>>)> {
    let bytes = text.to_str().ok()?.as_bytes();
    if !bytes.is_ascii() && bytes.windows(2).any(|pair| pair == CAPITAL_SIGMA) {
        return None;
    }
    let (parts, foreign) = ordered_runs(bytes);
    Some((
        parts,
        foreign.iter().map(|run| PyBytes::new(py, run)).collect(),
    ))
}

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(index_word_runs, m)?)?;
    m.add_function(wrap_pyfunction!(ordered_word_runs, m)?)
}
