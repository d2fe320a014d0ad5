# Thin wrapper over CMake. `make run` and `make test` install what is
# missing (Debian 12, apt-get), build and go.
BUILD      ?= build
BUILD_ASAN ?= build-asan
BUILD_TSAN ?= build-tsan
JOBS       ?= $(shell nproc)
# Our own builds treat warnings as errors; a plain cmake build does not.
CMAKE_OPTS := -DSLUICE_WERROR=ON
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the tests and the tools need.
PKGS := build-essential cmake pkg-config libyaml-dev libcmocka-dev curl wrk \
        python3 clang libclang-rt-14-dev clang-format clang-tidy cppcheck \
        libjansson-dev libsqlite3-dev libssl-dev prometheus \
        libmaxminddb-dev libmaxmind-db-writer-perl

.PHONY: all build deps run test test-asan test-tsan bench lint fuzz format install clean

all: build

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# Configures every time (a second or so) so that a build directory made by
# hand gets SLUICE_WERROR too. The build type defaults to RelWithDebInfo.
build: deps
	cmake -S . -B $(BUILD) $(CMAKE_OPTS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# Installs include/sluice.h, libsluice.a, libsluice.so*, sluice.pc and the
# sluice binary under PREFIX (GNU layout: bin/, include/, lib/ or Debian's
# lib/<multiarch>/ when PREFIX is /usr), into DESTDIR if set, for packaging.
# Leaves SLUICE_WERROR as the build directory has it (off in a new one):
# installing is what users and packagers do, with their own compilers.
PREFIX ?= /usr/local
install: deps
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

run: build
	./examples/run.sh $(BUILD)/sluice

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=address,undefined \
	  $(CMAKE_OPTS) >/dev/null
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ctest --output-on-failure -j $(JOBS)

test-tsan: deps
	cmake -S . -B $(BUILD_TSAN) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=thread $(CMAKE_OPTS) >/dev/null
	cmake --build $(BUILD_TSAN) -j $(JOBS)
	cd $(BUILD_TSAN) && ctest --output-on-failure -R 'unit/' -j $(JOBS)

bench: build
	$(BUILD)/select_bench
	$(BUILD)/parse_bench

FUZZ_SECONDS ?= 60
fuzz: deps
	SLUICE_WERROR=ON ./fuzz/run.sh $(FUZZ_SECONDS)

# Fails on the first tool with a finding. clang-tidy reads .clang-tidy
# (every warning is an error there) and the flags in $(BUILD)'s
# compile_commands.json, which `build` keeps up to date.
LINT_SRC = git ls-files ':(glob)src/**/*.c'
lint: build
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	$(LINT_SRC) | xargs -r -n 1 -P $(JOBS) clang-tidy -p $(BUILD) --quiet
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	  -D_GNU_SOURCE --inline-suppr -I include -I src $$($(LINT_SRC))

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_TSAN) build-fuzz
