#!/usr/bin/env bash
# Installs what the Makefile targets need on a fresh Debian machine. Idempotent: each step checks
# before it installs. Usage: scripts/setup.sh rust|wasm|wasm-bindgen|browser|aarch64|pybench|node|python
set -euo pipefail

need_apt_update=1
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ $need_apt_update -eq 1 ]; then
    $sudo apt-get update -qq
    need_apt_update=0
  fi
  echo "setup: apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

case "${1:-}" in
  rust)
    # The machine's rustup toolchain builds native code; make sure its lint components exist.
    if ! command -v cargo >/dev/null; then
      echo "setup: cargo not found; install Rust with rustup first" >&2
      exit 1
    fi
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    ;;
  wasm)
    # rustup here cannot fetch a wasm32 standard library, so wasm builds use Debian's Rust
    # (rustc-web, with std sources in rust-web-src) through -Zbuild-std, linked by lld-19's
    # wasm-ld. Call it by full path: rustup's cargo stays first on PATH.
    apt_install rustc-web cargo-web rust-web-src lld-19
    ;;
  wasm-bindgen)
    # The CLI that writes the JS glue must be the exact version of the wasm-bindgen crate in
    # Cargo.lock. (Not --locked: the CLI's own lock file names a dependency release the crates
    # mirror here lacks; cargo resolves an equivalent one.)
    want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
    bin="${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen"
    if ! { [ -x "$bin" ] && [ "$("$bin" --version | awk '{print $2}')" = "$want" ]; }; then
      echo "setup: cargo install wasm-bindgen-cli --version $want (about 3 minutes)"
      cargo install -q wasm-bindgen-cli --version "$want"
    fi
    ;;
  browser)
    # Headless Chromium for the browser tests, driven by playwright-core; esbuild bundles the
    # test app that imports the package by name; typescript checks the package's types (npm,
    # pinned by wasm/tests/package-lock.json).
    apt_install chromium
    command -v node >/dev/null || apt_install nodejs npm
    (cd wasm/tests && { [ -d node_modules/playwright-core ] && [ -d node_modules/esbuild ] && [ -d node_modules/typescript ] || npm ci --silent --no-audit --no-fund; })
    ;;
  aarch64)
    # Cross-compile the self-test for aarch64 with Debian's Rust and run it under qemu-user,
    # so the NEON kernels execute on an x86_64 machine.
    apt_install rustc-web cargo-web rust-web-src lld-19 qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
    ;;
  pybench)
    # A local venv with the Python peers the benchmarks compare against.
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/pip install -q hnswlib usearch faiss-cpu numpy matplotlib
    ;;
  node)
    command -v node >/dev/null || apt_install nodejs
    ;;
  python)
    # A local venv (.venv, shared with the benchmarks) with what building and testing the
    # Python package needs: maturin builds the extension, pytest / mypy (stubtest) / nbclient
    # test it, ruff lints it, tqdm draws its progress bars; langchain-core with LangChain's
    # standard tests (langchain-tests, which brings pytest-asyncio) and llama-index-core for
    # the optional integrations.
    apt_install python3-venv python3-pip
    [ -x .venv/bin/python ] || python3 -m venv .venv
    { .venv/bin/python -c "import maturin, pytest, mypy, nbclient, ipykernel, tqdm, numpy, langchain_core, langchain_tests, llama_index.core" 2>/dev/null &&
      [ -x .venv/bin/ruff ]; } ||
      .venv/bin/pip install -q "maturin>=1.7,<2" pytest mypy nbclient nbformat ipykernel tqdm numpy ruff \
        "langchain-core>=1.0,<2" "langchain-tests>=1.1,<2" "llama-index-core>=0.14,<0.15"
    ;;
  *)
    echo "usage: $0 rust|wasm|wasm-bindgen|browser|aarch64|pybench|node|python" >&2
    exit 2
    ;;
esac
