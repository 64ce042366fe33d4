# The two commands of README.md, and the rest of the workflow, over meson.
#   make up      install what is missing, build, start nanocld, say what to try
#   make check   install what is missing, build, run every test
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
PREFIX ?= /usr/local
DESTDIR ?=
MESON_OPTS ?=
# CI builds with warnings as errors; a local `make build` only warns.
WERROR ?= false

NANOCL_STATE_DIR ?= /var/lib/nanocl
NANOCL_RUN_DIR ?= /run/nanocl
SOCKET := $(NANOCL_RUN_DIR)/nanocl.sock
LOG := $(NANOCL_STATE_DIR)/nanocld.log

.PHONY: all deps build up down check check-asan unit integration bench install clean

all: build

deps:
	@scripts/deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX) -Dwerror=$(WERROR) $(MESON_OPTS)

build: $(BUILD)/build.ninja
	@meson configure $(BUILD) -Dwerror=$(WERROR) >/dev/null
	ninja -C $(BUILD)

up: deps build
	@scripts/up "$(BUILD)" "$(NANOCL_STATE_DIR)" "$(NANOCL_RUN_DIR)"

down:
	@scripts/down "$(NANOCL_RUN_DIR)"

# Unit tests (meson, TAP) then integration tests (pytest on the real binaries);
# scripts/check prints the combined "N passed, N failed" as its last line.
check: deps
	@$(MAKE) --no-print-directory build WERROR=true
	@scripts/check "$(BUILD)"

# The same suite on a build with AddressSanitizer and UBSan.
check-asan: deps
	@test -f $(ASAN_BUILD)/build.ninja || meson setup $(ASAN_BUILD) -Dwerror=true \
	  -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
	ninja -C $(ASAN_BUILD)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  scripts/check "$(ASAN_BUILD)"

unit: build
	meson test -C $(BUILD) --print-errorlogs

integration: build
	NANOCL_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/integration

bench: build
	@scripts/deps --bench
	NANOCL_BUILD_DIR=$(abspath $(BUILD)) bench/run
	NANOCL_BUILD_DIR=$(abspath $(BUILD)) bench/pull
	NANOCL_BUILD_DIR=$(abspath $(BUILD)) bench/containers
	NANOCL_BUILD_DIR=$(abspath $(BUILD)) bench/networks
	NANOCL_BUILD_DIR=$(abspath $(BUILD)) bench/cargoes

install: build
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
