#!/usr/bin/env bash
# Rebuilds the compiled hot path (native/, Rust + PyO3) in place, for working on native/ without
# reinstalling: `pip install -e .` does the same build through setuptools-rust.
#
# The module is written under every name it already has in codelupe_dagster/ (an editable install names
# it `_native.cpython-311-<platform>.so`, which Python prefers to `_native.abi3.so`: rebuilding only the
# latter would leave the old module in use), or as `_native.abi3.so` when there is none yet.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo build --release --quiet --manifest-path "$root/native/Cargo.toml"
shopt -s nullglob
targets=("$root"/codelupe_dagster/_native.*.so)
[ ${#targets[@]} -gt 0 ] || targets=("$root/codelupe_dagster/_native.abi3.so")
for target in "${targets[@]}"; do
  # Copy, then rename over the old file: a process that has the module loaded keeps mapping the old
  # inode (overwriting it in place would crash such a process).
  cp "$root/native/target/release/lib_native.so" "$target.new"
  mv -f "$target.new" "$target"
done
