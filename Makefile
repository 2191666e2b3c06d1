# procmon: build, run, test, bench. `make V=1` shows the commands.
#
#   make          build build/procmon
#   make run      install missing deps, build, run with the default config
#   make test     install missing deps, build, run unit + integration tests
#   make bench    benchmarks: procmon beside auditd and execsnoop (bench/suite.py)

BUILD    := build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PYTHON   ?= /usr/bin/python3
ARCH     := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu17 -Wall -Wextra -Werror -Iinclude -Isrc -I$(BUILD) \
	    -D_FILE_OFFSET_BITS=64
LDLIBS   := -lbpf -lelf -lz -lcrypto -lyaml -lnats -lpthread
BPFCFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Isrc/bpf -I$(BUILD) -Wall -Werror

ifeq ($(V),1)
Q :=
else
Q := @
endif

# What building needs, checked once and only when something is to be built,
# so a fresh machine gets one line naming the fix instead of a failure
# halfway through (`make run` and `make test` install it first).
DEPS_HEADERS := bpf/libbpf.h gelf.h zlib.h openssl/evp.h yaml.h nats/nats.h
comma := ,
hash := \#
missing_tools = $(foreach t,$(CC) $(CLANG) $(BPFTOOL),$(if $(shell command -v $(t) 2>/dev/null),,$(t)))
missing_header = $(if $(shell command -v $(CC) 2>/dev/null),$(shell printf '$(hash)include <%s>\n' \
	$(DEPS_HEADERS) | $(CC) -E -x c - -o /dev/null 2>&1 | \
	sed -n 's/.*fatal error: \(.*\): No such file.*/\1/p'))
DEPS_MISSING = $(eval DEPS_MISSING := $(strip $(missing_tools) $(missing_header)))$(DEPS_MISSING)
check_deps = $(if $(DEPS_MISSING),$(error procmon: $(subst $() $(),$(comma) ,$(DEPS_MISSING)) not found: run 'make deps' (or scripts/install-deps.sh) as root))

BPF_SRCS  := $(wildcard src/bpf/*.bpf.c)
BPF_OBJS  := $(patsubst src/bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst src/bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard src/bpf/common/*.bpf.h) include/procmon/events.h

SRCS      := $(wildcard src/*.c) $(wildcard src/output/*.c)
OBJS      := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS)) $(BUILD)/obj/default_config.o
LIB_OBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
PROG_SRCS := $(wildcard tests/progs/*.c)
PROG_BINS := $(patsubst tests/progs/%.c,$(BUILD)/progs/%,$(PROG_SRCS))

.PHONY: all deps run test unit integration progs bench clean format
.DELETE_ON_ERROR:

all: $(BUILD)/procmon $(BUILD)/procmon-tail

deps:
	$(Q)scripts/install-deps.sh

# stdout is the event stream (`make run | jq`): everything else, the build
# lines and make's own messages included, goes to stderr.
run:
	@$(MAKE) --no-print-directory deps >&2
	@$(MAKE) --no-print-directory all >&2
	@exec $(BUILD)/procmon

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(PROG_BINS)
	$(Q)$(MAKE) --no-print-directory unit integration

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: $(BUILD)/procmon $(BUILD)/procmon-tail $(PROG_BINS)
	$(Q)$(PYTHON) -m pytest -p no:cacheprovider -rs -v tests/integration
	$(Q)$(PYTHON) -m pytest -p no:cacheprovider -rs -v tests/fleet

progs: $(PROG_BINS)

# procmon beside auditd and execsnoop (docs/performance.md); the detail
# scripts bench/exec_storm.sh and bench/syscall_loops.sh run on their own.
bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(PYTHON) bench/suite.py

$(BUILD) $(BUILD)/obj $(BUILD)/tests $(BUILD)/progs:
	$(Q)mkdir -p $@

$(BUILD)/vmlinux.h: | $(BUILD)
	$(check_deps)
	@echo "  GEN     $@"
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: src/bpf/%.bpf.c $(BPF_HDRS) $(BUILD)/vmlinux.h | $(BUILD)
	$(check_deps)
	@echo "  BPF     $@"
	$(Q)$(CLANG) $(BPFCFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@

# The default configuration is compiled in from config/procmon.yaml.
$(BUILD)/default_config.c: config/procmon.yaml scripts/embed.sh | $(BUILD)
	@echo "  EMBED   $@"
	$(Q)scripts/embed.sh $< pm_default_config_yaml > $@

$(BUILD)/obj/default_config.o: $(BUILD)/default_config.c | $(BUILD)/obj
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# Rewritten only when the version changes, so main.o is rebuilt exactly
# then, and --version never names an older commit than the one built.
$(BUILD)/version.h: FORCE | $(BUILD)
	$(Q)v='#define PROCMON_VERSION "$(VERSION)"'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" > $@

$(BUILD)/obj/main.o: $(BUILD)/version.h

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h src/output/*.h) include/procmon/events.h $(BPF_SKELS) | $(BUILD)/obj
	$(check_deps)
	@echo "  CC      $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/procmon: $(OBJS)
	$(check_deps)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The fleet consumer: reads the JetStream stream procmon publishes to.
$(BUILD)/procmon-tail: tools/procmon-tail.c | $(BUILD)
	$(check_deps)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $< -o $@ -lnats

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(BUILD)/tests
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/progs/%: tests/progs/%.c | $(BUILD)/progs
	@echo "  PROG    $@"
	$(Q)$(CC) -O1 -g -std=gnu17 -Wall -Wextra -Werror $< -o $@ -lpthread

format:
	clang-format -i src/*.c src/*.h src/bpf/*.c src/bpf/common/*.h include/procmon/*.h

clean:
	rm -rf $(BUILD)

FORCE:
