# The two commands of the README: `make demo` and `make test`. Both install what is missing.
CLANG ?= clang-19
CARGO ?= cargo

.PHONY: setup demo test fixtures
setup:
	@scripts/setup.sh

# C fixtures are built from source, never committed as binaries.
fixtures/%.wasm: fixtures/%.c
	$(CLANG) --target=wasm32-wasi -O2 $< -o $@

fixtures: fixtures/hello.wasm fixtures/echo.wasm fixtures/exit7.wasm fixtures/trap.wasm

demo: setup
	@$(MAKE) --no-print-directory fixtures/hello.wasm
	@# Both executables: `hako` hands compiling to `hako-llvm` beside it.
	$(CARGO) build -q -p hako-runner
	$${CARGO_TARGET_DIR:-target}/debug/hako run fixtures/hello.wasm

test: setup
	$(CARGO) test --workspace
