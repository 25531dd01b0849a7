#!/usr/bin/env bash
# Rebuilds the compiled hot path (native/, Rust + PyO3) in place as codelupe_dagster/_native.abi3.so, for
# working on native/ without reinstalling: `pip install -e .` does the same build through setuptools-rust.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release --quiet --manifest-path "$root/native/Cargo.toml"
# Copy, then rename over the old file: a process that has the module loaded keeps mapping the old
# inode (overwriting it in place would crash such a process).
cp "$root/native/target/release/lib_native.so" "$root/codelupe_dagster/.native.abi3.so.new"
mv -f "$root/codelupe_dagster/.native.abi3.so.new" "$root/codelupe_dagster/_native.abi3.so"
