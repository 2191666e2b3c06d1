# procmon: build, run, test, bench. `make V=1` shows the commands.
#
#   make          build build/procmon
#   make run      install missing deps, build, run with the default config
#   make test     install missing deps, build, run unit + integration tests
#   make bench    benchmarks: procmon beside auditd and execsnoop, NATS output (bench/suite/)
#   make install  install as a service (PREFIX=/usr/local, DESTDIR); make uninstall
#   make deb      build/procmon_VERSION_ARCH.deb (docs/service.md)
#   make update-rules SIGMA=DIR  refresh rules/sigma from a SigmaHQ checkout

BUILD    := build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PYTHON   ?= /usr/bin/python3
ARCH     := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')

# The release (the VERSION file) and, in a git checkout, the commit built:
# 0.9.0+g1a2b3c4, or 0.9.0+g1a2b3c4.dirty with uncommitted changes. Also
# the Debian package's version, which allows neither '-' nor '_' here.
RELEASE  := $(shell cat VERSION)
COMMIT   := $(shell git describe --always --dirty=.dirty --exclude='*' 2>/dev/null)
VERSION  := $(RELEASE)$(if $(COMMIT),+g$(COMMIT))

CFLAGS   ?= -O2 -g
# src/ by pipeline stage (docs/design.md): each room's headers by name
ROOMS    := base collect enrich render output config detect
CFLAGS   += -std=gnu17 -Wall -Wextra -Werror -Iinclude -Isrc -I$(BUILD) \
	    -D_FILE_OFFSET_BITS=64
LDLIBS   := -lbpf -lelf -lz -lzstd -lcrypto -lyaml -lnats -lmicrohttpd -lhs -lpcre2-8 -ljson-c -lpthread
BPFCFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Isrc/bpf -I$(BUILD) -Wall -Werror

ifeq ($(V),1)
Q :=
else
Q := @
endif

# What building needs, checked once and only when something is to be built,
# so a fresh machine gets one line naming the fix instead of a failure
# halfway through (`make run` and `make test` install it first).
DEPS_HEADERS := bpf/libbpf.h gelf.h zlib.h openssl/evp.h yaml.h nats/nats.h microhttpd.h zstd.h hs/hs.h pcre2.h json-c/json.h
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
BPF_HDRS  := $(wildcard src/bpf/common/*.bpf.h src/bpf/syscalls/*.bpf.h) include/procmon/events.h

SRCS      := $(wildcard src/*.c $(ROOMS:%=src/%/*.c))
HDRS      := $(wildcard src/*.h $(ROOMS:%=src/%/*.h))
OBJS      := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS)) $(BUILD)/obj/default_config.o
LIB_OBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
PROG_SRCS := $(wildcard tests/progs/*.c)
PROG_BINS := $(patsubst tests/progs/%.c,$(BUILD)/progs/%,$(PROG_SRCS))

.PHONY: all deps run test unit integration progs bench clean format install uninstall deb
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
	$(Q)$(MAKE) --no-print-directory unit integration faults

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: $(BUILD)/procmon $(BUILD)/procmon-tail $(PROG_BINS)
	$(Q)$(PYTHON) -m pytest -p no:cacheprovider -rs -v tests/integration
	$(Q)$(PYTHON) -m pytest -p no:cacheprovider -rs -v tests/fleet

# fault injection: full disk, rotation, signals, bad files (docs/testing.md)
.PHONY: faults
faults: $(BUILD)/procmon $(PROG_BINS)
	$(Q)$(PYTHON) -m pytest -p no:cacheprovider -rs -v tests/faults

progs: $(PROG_BINS)

# Refresh rules/sigma from a SigmaHQ checkout: make update-rules SIGMA=/path/to/sigma
.PHONY: update-rules
update-rules: $(BUILD)/procmon
	$(Q)test -n "$(SIGMA)" || { echo "usage: make update-rules SIGMA=/path/to/sigma-checkout" >&2; exit 2; }
	$(Q)scripts/update-rules.sh "$(SIGMA)" $(BUILD)/procmon

# procmon beside auditd and execsnoop (docs/performance.md), then metrics
# on and scraped vs off (bench/metrics_cost.py, same ROUNDS and N); the
# detail scripts bench/exec_storm.sh and bench/syscall_loops.sh run on their own.
bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/progs/storm
	$(Q)$(PYTHON) bench/suite
	$(Q)$(PYTHON) bench/metrics_cost.py

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

$(BUILD)/obj/%.o: src/%.c $(HDRS) include/procmon/events.h $(BPF_SKELS) | $(BUILD)/obj
	$(check_deps)
	@echo "  CC      $@"
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/procmon: $(OBJS)
	$(check_deps)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# The fleet consumer: reads the JetStream stream procmon publishes to,
# with procmon's own vocabulary (src/base/: host tokens, event ids).
TAIL_OBJS := $(BUILD)/obj/base/event_id.o $(BUILD)/obj/base/timefmt.o
$(BUILD)/procmon-tail: tools/procmon-tail.c $(TAIL_OBJS) | $(BUILD)
	$(check_deps)
	@echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS) $< $(TAIL_OBJS) -o $@ -lnats -lzstd

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(BUILD)/tests
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) $< $(LIB_OBJS) -o $@ $(LDLIBS) -lcmocka

$(BUILD)/progs/%: tests/progs/%.c | $(BUILD)/progs
	@echo "  PROG    $@"
	$(Q)$(CC) -O1 -g -std=gnu17 -Wall -Wextra -Werror $< -o $@ -lpthread

# ---- Installing (docs/service.md) ----
#
# PREFIX holds the program, the unit and the man pages; the configuration
# and the logrotate snippet go to /etc, the events to /var/log/procmon,
# whatever PREFIX is (with DESTDIR in front of all of them). systemd reads
# units from /usr/local/lib/systemd/system as well; for PREFIX=/usr the
# unit goes where Debian 12 packages put theirs, /lib/systemd/system.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
LOGDIR     := /var/log/procmon
# The shipped Sigma rules, at the path the default configuration names
# (contract section 10), whatever PREFIX is, like /etc and /var/log.
RULESDIR   := /usr/share/procmon/rules/sigma
PKG        := $(BUILD)/packaging

# The unit, with the paths of this installation.
$(PKG)/procmon.service: packaging/procmon.service.in FORCE | $(BUILD)
	$(Q)mkdir -p $(PKG)
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.tmp && mv $@.tmp $@

# The configuration the service runs with: the built-in one, writing to
# $(LOGDIR)/procmon.jsonl instead of stdout (the journal).
$(PKG)/procmon.yaml: config/procmon.yaml | $(BUILD)
	$(Q)mkdir -p $(PKG)
	$(Q){ echo '# procmon configuration: procmon.service runs procmon --config $(SYSCONFDIR)/procmon/procmon.yaml.'; \
	  echo '# procmon.yaml(5) and docs/configuration.md describe every key. procmon refuses'; \
	  echo '# this file if anyone but root can write it (or a directory above it).'; \
	  sed '1,/^$$/d; s|^output: stdout$$|output: $(LOGDIR)/procmon.jsonl|' $<; } > $@.tmp
	$(Q)grep -qx 'output: $(LOGDIR)/procmon.jsonl' $@.tmp || \
	  { echo "procmon: config/procmon.yaml has no 'output: stdout' line to point at $(LOGDIR)" >&2; exit 1; }
	$(Q)mv $@.tmp $@

INSTALL_FILES := $(BUILD)/procmon $(PKG)/procmon.service $(PKG)/procmon.yaml \
	packaging/procmon.logrotate packaging/man/procmon.8 packaging/man/procmon.yaml.5

# Files under /etc are the administrator's once there: never overwritten.
install: $(INSTALL_FILES)
	install -D -m 0755 $(BUILD)/procmon $(DESTDIR)$(SBINDIR)/procmon
	install -D -m 0644 $(PKG)/procmon.service $(DESTDIR)$(UNITDIR)/procmon.service
	install -D -m 0644 packaging/man/procmon.8 $(DESTDIR)$(MANDIR)/man8/procmon.8
	install -D -m 0644 packaging/man/procmon.yaml.5 $(DESTDIR)$(MANDIR)/man5/procmon.yaml.5
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/procmon $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -d -m 0700 $(DESTDIR)$(LOGDIR)
	install -d -m 0755 $(DESTDIR)$(RULESDIR)/process_creation
	install -m 0644 rules/sigma/LICENSE.DRL rules/sigma/ATTRIBUTION.md $(DESTDIR)$(RULESDIR)/
	install -m 0644 rules/sigma/process_creation/*.yml $(DESTDIR)$(RULESDIR)/process_creation/
	@set -e; for f in $(PKG)/procmon.yaml:procmon/procmon.yaml packaging/procmon.logrotate:logrotate.d/procmon; do \
	  src=$${f%%:*}; dst=$(DESTDIR)$(SYSCONFDIR)/$${f#*:}; \
	  if [ -e "$$dst" ]; then echo "  KEEP    $$dst (exists; the new one is $$src)"; \
	  else echo "install -m 0644 $$src $$dst"; install -m 0644 "$$src" "$$dst"; fi; done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; \
	  echo "procmon installed: systemctl enable --now procmon"; fi

# Removes what install put there; /etc files only when unchanged, the
# events directory only when empty.
uninstall: $(PKG)/procmon.yaml
	rm -f $(DESTDIR)$(SBINDIR)/procmon $(DESTDIR)$(UNITDIR)/procmon.service \
	  $(DESTDIR)$(MANDIR)/man8/procmon.8 $(DESTDIR)$(MANDIR)/man5/procmon.yaml.5
	rm -rf $(DESTDIR)$(RULESDIR)
	-rmdir $(DESTDIR)$(dir $(RULESDIR)) $(DESTDIR)$(dir $(patsubst %/,%,$(dir $(RULESDIR)))) 2>/dev/null
	@set -e; for f in $(PKG)/procmon.yaml:procmon/procmon.yaml packaging/procmon.logrotate:logrotate.d/procmon; do \
	  src=$${f%%:*}; dst=$(DESTDIR)$(SYSCONFDIR)/$${f#*:}; \
	  if cmp -s "$$src" "$$dst"; then echo "rm -f $$dst"; rm -f "$$dst"; \
	  elif [ -e "$$dst" ]; then echo "  KEEP    $$dst (changed since installed)"; fi; done
	-rmdir --ignore-fail-on-non-empty $(DESTDIR)$(SYSCONFDIR)/procmon $(DESTDIR)$(LOGDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# ---- The Debian package ----
#
# The files of `make install PREFIX=/usr` staged under $(DEB_ROOT), man
# pages gzipped as Debian has them, Depends: from dpkg-shlibdeps (the
# libraries build/procmon links), and maintainer scripts that enable and
# start the unit only where systemd runs.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      := $(BUILD)/procmon_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT := $(BUILD)/deb/root

deb: $(BUILD)/procmon
	$(Q)rm -rf $(BUILD)/deb
	$(Q)$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(abspath $(DEB_ROOT)) >/dev/null
	$(Q)gzip -9n $(DEB_ROOT)/usr/share/man/man8/procmon.8 $(DEB_ROOT)/usr/share/man/man5/procmon.yaml.5
	$(Q)install -d -m 0755 $(DEB_ROOT)/DEBIAN
	$(Q)install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm $(DEB_ROOT)/DEBIAN/
	$(Q)printf '%s\n' /etc/procmon/procmon.yaml /etc/logrotate.d/procmon > $(DEB_ROOT)/DEBIAN/conffiles
	$(Q)mkdir -p $(BUILD)/deb/debian && printf 'Source: procmon\n\nPackage: procmon\nArchitecture: any\n' \
	  > $(BUILD)/deb/debian/control
	$(Q)cd $(BUILD)/deb && dpkg-shlibdeps -O root/usr/sbin/procmon 2>/dev/null | \
	  sed -n 's/^shlibs:Depends=//p' > depends
	$(Q)test -s $(BUILD)/deb/depends || { echo "procmon: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
	$(Q)sed -e 's|@VERSION@|$(VERSION)|; s|@ARCH@|$(DEB_ARCH)|' \
	  -e "s|@DEPENDS@|$$(cat $(BUILD)/deb/depends)|" \
	  -e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)|" \
	  packaging/deb/control > $(DEB_ROOT)/DEBIAN/control
	$(Q)dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB) >/dev/null
	@echo "  DEB     $(DEB)"

format:
	clang-format -i $(SRCS) $(HDRS) src/bpf/*.c src/bpf/common/*.h include/procmon/*.h

clean:
	rm -rf $(BUILD)

FORCE:
