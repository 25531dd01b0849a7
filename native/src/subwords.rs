//! camelCase and snake_case sub-words for the code index (`backends/search/code_tokens.py`).

use pyo3::prelude::*;

/// Adds this file's functions to the module.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
