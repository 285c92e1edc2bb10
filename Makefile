# stratavec developer interface. `make help` lists the targets; CI runs `make test`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian's Rust, used for wasm32 and cross checks (see scripts/setup.sh for why).
DEB_CARGO := RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo
WASM_ENV := RUSTFLAGS="-C target-feature=+simd128 -D warnings" \
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-19/bin/wasm-ld
BUILD_STD := -Zbuild-std=std,panic_abort
SELFTEST_WASM := target/wasm/wasm32-unknown-unknown/release/stratavec_selftest.wasm
# The npm package: built into wasm/pkg (not committed) from wasm/ (Rust) and wasm/js/ (JS, types).
WASM_PKG := wasm/pkg
WASM_BIN := target/wasm-pkg/wasm32-unknown-unknown/wasm/stratavec_wasm.wasm
WASM_BINDGEN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin/wasm-bindgen

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: setup
setup: ## Install every toolchain the targets need (apt, rustup components, wasm-bindgen-cli, Chromium and npm test tools, the Python venv)
	scripts/setup.sh rust
	scripts/setup.sh wasm
	scripts/setup.sh aarch64
	scripts/setup.sh node
	scripts/setup.sh wasm-bindgen
	scripts/setup.sh browser
	scripts/setup.sh python

.PHONY: demo
demo: python ## The main job from Python: ingest wordnet-minilm (or synthetic data), index, filtered search, recall, latency, snapshot and reopen
	.venv/bin/python python/examples/demo.py

.PHONY: demo-browser
demo-browser: python wasm-pkg ## The npm package's demo page on wordnet-minilm (or synthetic data): writes wasm/demo/demo.svdb, serves wasm/ on http://127.0.0.1:8080/demo/ until Ctrl-C
	[ -f wasm/demo/demo.svdb ] || .venv/bin/python wasm/demo/make_snapshot.py wasm/demo/demo.svdb
	@echo "open http://127.0.0.1:8080/demo/ (Ctrl-C stops the server)"
	.venv/bin/python -m http.server --bind 127.0.0.1 --directory wasm 8080

.PHONY: demo-rust
demo-rust: ## The same job through the Rust core directly
	scripts/setup.sh rust
	cargo run --release -p stratavec-core --example demo

.PHONY: python
python: ## Build the Python package into the local venv (.venv) with maturin, as `pip install .` does
	scripts/setup.sh rust
	scripts/setup.sh python
	PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/pip install -q --no-build-isolation .

.PHONY: test
test: lint test-rust test-scalar test-wasm test-aarch64 test-python test-js ## Run every test (lint, native, forced-scalar, wasm32 under Node, aarch64 under qemu, Python, the npm package in Node and Chromium)

.PHONY: lint
lint: ## rustfmt --check, clippy -D warnings (workspace, and the core without features as wasm builds it), rustdoc links
	scripts/setup.sh rust
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p stratavec-core --no-default-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc -p stratavec-core --no-deps

.PHONY: test-rust
test-rust: ## Native tests with the best SIMD level this CPU has (release, for the dataset tests)
	scripts/setup.sh rust
	cargo test --workspace --exclude stratavec-python --release

.PHONY: test-python
test-python: python ## The Python package: ruff, stubs checked against the binary (stubtest), mypy, pytest (LangChain's standard tests, LlamaIndex, both notebooks, the demo)
	.venv/bin/ruff check python bench wasm
	.venv/bin/ruff format --check python bench wasm
	.venv/bin/python -m mypy.stubtest stratavec._core
	.venv/bin/python -m mypy --strict python/stratavec
	.venv/bin/python -m pytest -q -p no:cacheprovider python/tests

.PHONY: test-scalar
test-scalar: ## The core's integration tests again with the scalar kernels forced (minus the slow HNSW build on wordnet)
	STRATAVEC_SIMD=scalar cargo test -p stratavec-core --release --test integration -- --skip hnsw::recall_on_wordnet

.PHONY: wasm-pkg
wasm-pkg: ## Build the npm package into wasm/pkg: the core for wasm32 with simd128, wasm-bindgen glue, the JS wrapper and types
	scripts/setup.sh wasm
	scripts/setup.sh wasm-bindgen
	$(WASM_ENV) $(DEB_CARGO) build --profile wasm --target wasm32-unknown-unknown $(BUILD_STD) \
		-p stratavec-wasm --target-dir target/wasm-pkg
	rm -rf $(WASM_PKG)
	$(WASM_BINDGEN) --target web --remove-name-section --remove-producers-section --out-dir $(WASM_PKG) $(WASM_BIN)
	cp wasm/js/index.js wasm/js/index.d.ts wasm/js/package.json wasm/README.md $(WASM_PKG)/
	@echo "$(WASM_PKG)/stratavec_wasm_bg.wasm: $$(gzip -9 -c $(WASM_PKG)/stratavec_wasm_bg.wasm | wc -c) bytes gzipped"

.PHONY: test-js
test-js: wasm-pkg python ## The npm package: its API under Node, then in headless Chromium (persistence, a Python snapshot, the demo page)
	scripts/setup.sh browser
	node --test wasm/tests/node.test.mjs
	STRATAVEC_PYTHON=.venv/bin/python node --test --test-concurrency=1 wasm/tests/browser.test.mjs

.PHONY: test-wasm
test-wasm: ## Build the core for wasm32 (simd128) and run its self-test under Node
	scripts/setup.sh wasm
	scripts/setup.sh node
	$(WASM_ENV) $(DEB_CARGO) build --release --target wasm32-unknown-unknown $(BUILD_STD) \
		--lib -p stratavec-selftest --target-dir target/wasm
	node testkit/selftest/run.mjs $(SELFTEST_WASM)

.PHONY: test-aarch64
test-aarch64: ## Cross-build the self-test for aarch64 and run it under qemu-user (NEON kernels)
	scripts/setup.sh aarch64
	RUSTFLAGS="-D warnings" CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
		$(DEB_CARGO) build --release --target aarch64-unknown-linux-gnu $(BUILD_STD) \
		-p stratavec-selftest --bin stratavec-selftest --target-dir target/cross
	qemu-aarch64 -L /usr/aarch64-linux-gnu target/cross/aarch64-unknown-linux-gnu/release/stratavec-selftest

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := snapshot wal filter

.PHONY: fuzz
fuzz: ## Fuzz every loader for FUZZ_SECONDS each (nightly + cargo-fuzz); save crashers as regressions
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		seeds=../core/tests/fuzz-regressions/$$t; \
		if [ $$t = snapshot ]; then seeds="$$seeds ../core/tests/golden/v1"; fi; \
		mkdir -p corpus/$$t && \
		cargo +nightly fuzz run $$t corpus/$$t $$seeds -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
			|| exit 1; \
	done

.PHONY: bench
bench: ## Benchmarks: kernels, exact search, memory bandwidth, storage, HNSW vs hnswlib, usearch and FAISS on wordnet and a seeded 1M x 128 set, the npm package vs hnswlib-wasm and voy-search in Chromium; tables and plots in bench/out/
	scripts/setup.sh rust
	mkdir -p bench/out
	cargo bench -p stratavec-core
	python3 bench/criterion_summary.py target/criterion | tee bench/out/criterion.md
	cargo run --release -p stratavec-core --example storage_bench | tee bench/out/storage.md
	scripts/setup.sh pybench
	cargo build --release -p stratavec-core --example hnsw_bench
	.venv/bin/python bench/hnsw_wordnet.py target/release/examples/hnsw_bench 16 200 2 bench/out/hnsw_wordnet.png | tee bench/out/hnsw_wordnet.md
	$(MAKE) python
	cargo build --release -p stratavec-core --example batch_bench
	.venv/bin/python bench/python_binding.py target/release/examples/batch_bench | tee bench/out/python_binding.md
	.venv/bin/python bench/synthetic.py bench/out/synthetic-1m
	.venv/bin/python bench/hnsw_wordnet.py target/release/examples/hnsw_bench 16 200 2 bench/out/hnsw_synthetic.png \
		--data bench/out/synthetic-1m | tee bench/out/hnsw_synthetic.md
	$(MAKE) wasm-pkg
	scripts/setup.sh browser
	cd bench/browser && { [ -d node_modules/voy-search ] || npm ci --silent --no-audit --no-fund; }
	node bench/browser/run.mjs bench/out target/release/examples/hnsw_bench | tee bench/out/browser.md

.PHONY: clean
clean: ## Remove build outputs
	cargo clean
