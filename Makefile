# The front door. `make run` and `make test` are the only set-up a newcomer needs.
PRESET ?= release
BUILD_DIR := $(if $(filter release,$(PRESET)),build,build-$(PRESET))

.PHONY: all deps configure build run test check demo clean fuzz test-sanitize test-asan test-tsan soak bench

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

# SOAK_MINUTES (default 30) of mixed load with random backend faults and client hang-ups; fails
# when a request is lost, the gateway dies, or RSS / fds grow after warm-up. Not part of test.
soak: build
	@scripts/soak

# Load and micro benchmarks against nginx and Portkey (bench/README.md); never part of `test`.
bench: build
	@scripts/bench

# libFuzzer with clang (build-fuzz/): every target of tests/fuzz for FUZZ_SECONDS each.
FUZZ_SECONDS ?= 600
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz

# The whole suite under ASan+UBSan (build-asan/), then the threaded rooms' unit tests and the
# integration tests under TSan (build-tsan/). A TSan report fails the run.
TSAN_UNITS := $(basename $(notdir $(wildcard $(foreach r,accounts relay upstream,tests/unit/$(r)_*_test.cpp))))
test-sanitize: test-asan test-tsan

test-asan: deps
	@scripts/test-deps
	@cmake --preset asan >/dev/null
	cmake --build --preset asan
	ctest --preset asan

test-tsan: deps
	@scripts/test-deps
	@cmake --preset tsan >/dev/null
	cmake --build --preset tsan --target qodo2api qodo-emulator streamload $(TSAN_UNITS)
	@rm -f build-tsan/tsan-report.*
	ctest --preset tsan
	@if ls build-tsan/tsan-report.* >/dev/null 2>&1; then \
	  echo "test-tsan: ThreadSanitizer reports in build-tsan/tsan-report.*"; exit 1; fi

clean:
	rm -rf build build-dev build-asan build-tsan build-fuzz
