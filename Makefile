# The two commands a newcomer needs: `make run` and `make test`.
# Each installs the Debian packages that are missing, configures, builds, then
# starts a node on the embedded defaults or runs the whole test suite.

BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
# Warnings are errors in CI (CI=true) and for developers who set WERROR=ON; a user's build
# only warns.
WERROR     ?= $(if $(CI),ON,OFF)

# Everything zq needs from Debian: toolchain, libraries, and what the tests use
# (iproute2 for network namespaces, procps for ps/pgrep).
PACKAGES := cmake g++ make pkg-config \
	libzmq3-dev cppzmq-dev libsodium-dev libmsgpack-cxx-dev libboost-dev libuv1-dev \
	libsqlite3-dev catch2 libcli11-dev libtomlplusplus-dev nlohmann-json3-dev \
	libspdlog-dev libfmt-dev iproute2 procps
# Optional: clang with libFuzzer runs the fuzz targets (fuzz/run.sh, in .ci/run). They are
# installed when the package manager can, and nothing fails without them.
OPTIONAL_PACKAGES := clang libclang-rt-dev

.PHONY: deps configure build run test fuzz bench clean

deps:
	@missing=$$(for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@optional=$$(for p in $(OPTIONAL_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$optional" ]; then \
		echo "installing (optional, for fuzzing):" $$optional; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		{ $$SUDO apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$optional; } \
			|| echo "optional packages not installed: fuzz/run.sh will skip the fuzz targets"; \
	fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DZQ_WERROR=$(WERROR)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/bin/zq-node run

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 300

# Each fuzz target for FUZZ_SECONDS (default 30) under ASan and UBSan, in build-fuzz/.
fuzz: deps
	fuzz/run.sh $(or $(FUZZ_SECONDS),30)

bench: build
	bench/run.sh $(BUILD_DIR)/bin

clean:
	rm -rf $(BUILD_DIR)
