# Sourced by scripts/test.sh and scripts/demo.sh before `pip install`: the compiled hot path (native/,
# Rust + PyO3, built by setuptools-rust) needs cargo and a Rust toolchain new enough for edition 2024
# (>= 1.85; Debian bookworm's packaged rustc is 1.63). rustup installs into ~/.cargo/bin, which a
# non-login shell (CI) may not have on PATH.
if [ -d "$HOME/.cargo/bin" ]; then PATH="$HOME/.cargo/bin:$PATH"; fi
if ! command -v cargo >/dev/null; then
  echo "==> cargo not found: install Rust >= 1.85 (https://rustup.rs) to build codelupe_dagster._native" >&2
  exit 1
fi
echo "==> $(cargo --version)"
