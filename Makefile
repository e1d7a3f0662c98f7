# The front door. `make run` and `make test` are the only set-up a newcomer needs.
PRESET ?= release
BUILD_DIR := $(if $(filter release,$(PRESET)),build,build-$(PRESET))

.PHONY: all deps configure build run test check demo clean bench

all: build

deps:
	@scripts/install-deps

configure: deps
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET)

run: build
	./build/qodo2api

test: build
	@scripts/test-deps
	ctest --preset $(PRESET)

check: configure
	@scripts/check

demo: build
	@scripts/demo

# Load and micro benchmarks against nginx and Portkey (bench/README.md); never part of `test`.
bench: build
	@scripts/bench

clean:
	rm -rf build build-dev build-asan
