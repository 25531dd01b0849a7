#!/usr/bin/env bash
# Rebuilds the compiled hot path (native/, Rust + PyO3) in place as codelupe_dagster/_native.abi3.so, for
# working on native/ without reinstalling: `pip install -e .` does the same build through setuptools-rust.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release --quiet --manifest-path "$root/native/Cargo.toml"
cp "$root/native/target/release/lib_native.so" "$root/codelupe_dagster/_native.abi3.so"
