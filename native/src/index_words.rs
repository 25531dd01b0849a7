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

/// Adds this file's functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(index_word_runs, m)?)
}
