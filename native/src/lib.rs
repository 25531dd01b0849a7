//! The compiled hot path of the per-file core: `codelupe_dagster._native`.
//!
//! Each file is one piece of `core/` (or the search backend's tokenizer) moved to Rust with the exact
//! semantics of the Python it replaced; the Python modules keep their tables and decisions and call in
//! here for the per-line, per-character and per-token loops. Tests compare every function against a
//! frozen Python copy of the code it replaced (`tests/support/`).

use pyo3::prelude::*;

mod content_stats;
mod decontamination;
mod index_words;
mod minhash;
mod quality;
mod redaction;
mod subwords;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    quality::register(m)?;
    minhash::register(m)?;
    decontamination::register(m)?;
    subwords::register(m)?;
    index_words::register(m)?;
    content_stats::register(m)?;
    redaction::register(m)?;
    Ok(())
}
