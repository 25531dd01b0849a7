//! The content filters' per-character statistics (`core/filters.py`, `core/dedup.py`).

use pyo3::prelude::*;

/// Adds this file's functions to the module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
