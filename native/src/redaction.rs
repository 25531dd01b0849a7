//! Secret and PII redaction's per-text scanning (`core/pii.py`, `core/secrets.py`).

use pyo3::prelude::*;

/// Adds this file's functions to the module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
