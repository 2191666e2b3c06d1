# procmon: build, run, test, bench. `make V=1` shows the commands.
#
#   make          build build/procmon
#   make run      install missing deps, build, run with the default config
#   make test     install missing deps, build, run every suite, one summary line
#   make bench    benchmarks: procmon beside auditd and execsnoop, NATS output (bench/suite/)
#   make install  install as a service (PREFIX=/usr/local, DESTDIR); make uninstall
#   make deb      build/procmon_VERSION_ARCH.deb and its -dbgsym (docs/service.md)

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
ROOMS    := base collect enrich render output config
CFLAGS   += -std=gnu17 -Wall -Wextra -Werror -Iinclude -Isrc -I$(BUILD) \
	    -D_FILE_OFFSET_BITS=64
LDLIBS   := -lbpf -lelf -lz -lzstd -lcrypto -lyaml -lnats -lmicrohttpd -lhs -lpcre2-8 -lpthread
BPFCFLAGS := -O2 -g -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -Isrc/bpf -I$(BUILD) -Wall -Werror

ifeq ($(V),1)
Q :=
else
Q := @
endif

# What building needs, checked once and only when something is to be built,
# so a fresh machine gets one line naming the fix instead of a failure
# halfway through (`make run` and `make test` install it first).
DEPS_HEADERS := bpf/libbpf.h gelf.h zlib.h openssl/evp.h yaml.h nats/nats.h microhttpd.h zstd.h hs/hs.h pcre2.h
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

# Every suite runs even when one before it fails; the last line counts
# them all ("N passed, N failed, N skipped") and the status is non-zero
# when anything failed (tests/run_suites.py, docs/testing.md).
test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(PROG_BINS)
	$(Q)$(PYTHON) tests/run_suites.py --build $(BUILD) --unit "$(UNIT_BINS)"

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
# PREFIX holds the programs, the unit, the man pages, the docs and
# share/procmon (alert rules, dashboard); the configuration goes to /etc,
# the events to /var/log/procmon, whatever PREFIX is (with DESTDIR in
# front of all of them). systemd reads units from
# /usr/local/lib/systemd/system as well; for PREFIX=/usr the unit goes
# where Debian 12 packages put theirs, /lib/systemd/system.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/procmon
DATADIR    ?= $(PREFIX)/share/procmon
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
LOGDIR     := /var/log/procmon
PKG        := $(BUILD)/packaging

# The unit, with the paths of this installation.
$(PKG)/procmon.service: packaging/procmon.service.in FORCE | $(BUILD)
	$(Q)mkdir -p $(PKG)
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@.tmp && mv $@.tmp $@

# The configuration the service runs with: the built-in one, writing to
# $(LOGDIR)/procmon.jsonl with rotation, quieter, metrics on the loopback
# (packaging/make-config.sh says what and why).
$(PKG)/procmon.yaml: config/procmon.yaml packaging/make-config.sh | $(BUILD)
	$(Q)mkdir -p $(PKG)
	$(Q)packaging/make-config.sh $< $(LOGDIR) $(SYSCONFDIR) > $@.tmp
	$(Q)mv $@.tmp $@

# The man pages name the installed docs (/usr/share/doc/procmon in the
# source): this installation's DOCDIR.
$(PKG)/man/%: packaging/man/% FORCE | $(BUILD)
	$(Q)mkdir -p $(PKG)/man
	$(Q)sed 's|/usr/share/doc/procmon|$(DOCDIR)|g' $< > $@.tmp && mv $@.tmp $@

MAN_PAGES  := $(PKG)/man/procmon.8 $(PKG)/man/procmon.yaml.5 $(PKG)/man/procmon-tail.1
DOCS       := README.md $(wildcard docs/*.md)
SHARE      := packaging/prometheus/procmon.rules.yml packaging/grafana/procmon.json
INSTALL_FILES := $(BUILD)/procmon $(BUILD)/procmon-tail $(PKG)/procmon.service \
	$(PKG)/procmon.yaml $(MAN_PAGES) $(DOCS) $(SHARE) packaging/procmon.logrotate

# The configuration under /etc is the administrator's once there: never
# overwritten. The logrotate snippet is an example only (docs/service.md):
# the configuration rotates by itself, and two rotations of one file clash.
install: $(INSTALL_FILES)
	install -D -m 0755 $(BUILD)/procmon $(DESTDIR)$(SBINDIR)/procmon
	install -D -m 0755 $(BUILD)/procmon-tail $(DESTDIR)$(BINDIR)/procmon-tail
	install -D -m 0644 $(PKG)/procmon.service $(DESTDIR)$(UNITDIR)/procmon.service
	install -D -m 0644 $(PKG)/man/procmon.8 $(DESTDIR)$(MANDIR)/man8/procmon.8
	install -D -m 0644 $(PKG)/man/procmon.yaml.5 $(DESTDIR)$(MANDIR)/man5/procmon.yaml.5
	install -D -m 0644 $(PKG)/man/procmon-tail.1 $(DESTDIR)$(MANDIR)/man1/procmon-tail.1
	install -d -m 0755 $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DATADIR)/prometheus $(DESTDIR)$(DATADIR)/grafana
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 0644 packaging/procmon.logrotate $(DESTDIR)$(DOCDIR)/examples/procmon.logrotate
	install -m 0644 packaging/prometheus/procmon.rules.yml $(DESTDIR)$(DATADIR)/prometheus/
	install -m 0644 packaging/grafana/procmon.json $(DESTDIR)$(DATADIR)/grafana/
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/procmon
	install -d -m 0700 $(DESTDIR)$(LOGDIR)
	@dst=$(DESTDIR)$(SYSCONFDIR)/procmon/procmon.yaml; \
	  if [ -e "$$dst" ]; then echo "  KEEP    $$dst (exists; the new one is $(PKG)/procmon.yaml)"; \
	  else echo "install -m 0644 $(PKG)/procmon.yaml $$dst"; install -m 0644 $(PKG)/procmon.yaml "$$dst"; fi
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; \
	  echo "procmon installed: systemctl enable --now procmon"; fi

# Removes what install put there; the configuration only when unchanged,
# the events directory only when empty.
uninstall: $(PKG)/procmon.yaml
	rm -f $(DESTDIR)$(SBINDIR)/procmon $(DESTDIR)$(BINDIR)/procmon-tail \
	  $(DESTDIR)$(UNITDIR)/procmon.service \
	  $(DESTDIR)$(MANDIR)/man8/procmon.8 $(DESTDIR)$(MANDIR)/man5/procmon.yaml.5 \
	  $(DESTDIR)$(MANDIR)/man1/procmon-tail.1
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)
	@dst=$(DESTDIR)$(SYSCONFDIR)/procmon/procmon.yaml; \
	  if cmp -s $(PKG)/procmon.yaml "$$dst"; then echo "rm -f $$dst"; rm -f "$$dst"; \
	  elif [ -e "$$dst" ]; then echo "  KEEP    $$dst (changed since installed)"; fi
	-rmdir --ignore-fail-on-non-empty $(DESTDIR)$(SYSCONFDIR)/procmon $(DESTDIR)$(LOGDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# ---- The Debian package ----
#
# Two packages: procmon, the files of `make install PREFIX=/usr` staged
# under $(DEB_ROOT) with the programs stripped, man pages and changelog
# gzipped, a machine-readable copyright, Depends: from dpkg-shlibdeps and
# maintainer scripts that enable and start the unit only where systemd
# runs; and procmon-dbgsym, the debug info stripped off, under
# /usr/lib/debug/.build-id as Debian's -dbgsym packages have it (the
# unstripped programs stay in build/). `lintian` checks both in the tests.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB      := $(BUILD)/procmon_$(VERSION)_$(DEB_ARCH).deb
DEB_DBG  := $(BUILD)/procmon-dbgsym_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT := $(BUILD)/deb/root
DBG_ROOT := $(BUILD)/deb/dbgsym
DEB_MAINTAINER ?= procmon developers <procmon@example.org>
# The changelog's date: the commit's, so the same commit gives the same package.
DEB_DATE := $(or $(shell git log -1 --format=%cD 2>/dev/null),$(shell date -R))
DEB_DOC  := $(DEB_ROOT)/usr/share/doc/procmon
# control fields filled in by sed: $(call deb_control,TEMPLATE,ROOT)
deb_control = sed -e 's|@VERSION@|$(VERSION)|; s|@ARCH@|$(DEB_ARCH)|' \
	  -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' \
	  -e "s|@DEPENDS@|$$(cat $(BUILD)/deb/depends)|" \
	  -e "s|@BUILD_IDS@|$$(cat $(BUILD)/deb/build-ids)|" \
	  -e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(2) | cut -f1)|" $(1) > $(2)/DEBIAN/control
# md5sums of everything but the conffiles, as dh_md5sums writes them
deb_md5sums = cd $(1) && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | \
	  grep -vxF -f <(sed 's|^/||' DEBIAN/conffiles 2>/dev/null) | LC_ALL=C sort | \
	  xargs -r md5sum > DEBIAN/md5sums

deb: SHELL := /bin/bash
deb: $(INSTALL_FILES) packaging/copyright packaging/changelog.in packaging/lintian-overrides
	$(Q)rm -rf $(BUILD)/deb
	$(Q)$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(abspath $(DEB_ROOT)) >/dev/null
	$(Q)gzip -9n $(DEB_ROOT)/usr/share/man/man8/procmon.8 $(DEB_ROOT)/usr/share/man/man5/procmon.yaml.5 \
	  $(DEB_ROOT)/usr/share/man/man1/procmon-tail.1
	$(Q)install -m 0644 packaging/copyright $(DEB_DOC)/copyright
	$(Q)sed -e 's|@VERSION@|$(VERSION)|; s|@RELEASE@|$(RELEASE)|; s|@COMMIT@|$(or $(COMMIT),unknown)|' \
	  -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|; s|@DATE@|$(DEB_DATE)|' packaging/changelog.in | \
	  gzip -9n > $(DEB_DOC)/changelog.gz
	$(Q)install -D -m 0644 packaging/lintian-overrides $(DEB_ROOT)/usr/share/lintian/overrides/procmon
	@# strip, keeping the debug info by build id (dh_strip's steps)
	$(Q)install -d $(BUILD)/deb/debug; : > $(BUILD)/deb/build-ids
	$(Q)set -e; for f in usr/sbin/procmon usr/bin/procmon-tail; do \
	  id=$$(readelf -n $(DEB_ROOT)/$$f | sed -n 's/^ *Build ID: *//p'); \
	  test -n "$$id" || { echo "procmon: $$f has no build id" >&2; exit 1; }; \
	  dbg=$(DBG_ROOT)/usr/lib/debug/.build-id/$${id:0:2}/$${id:2}.debug; \
	  install -d $$(dirname $$dbg); \
	  objcopy --only-keep-debug --compress-debug-sections $(DEB_ROOT)/$$f $$dbg; chmod 0644 $$dbg; \
	  strip --remove-section=.comment --remove-section=.note $(DEB_ROOT)/$$f; \
	  objcopy --add-gnu-debuglink=$$dbg $(DEB_ROOT)/$$f; \
	  printf '%s ' $$id >> $(BUILD)/deb/build-ids; done
	$(Q)sed -i 's/ $$//' $(BUILD)/deb/build-ids
	$(Q)install -d -m 0755 $(DEB_ROOT)/DEBIAN $(DBG_ROOT)/DEBIAN $(DBG_ROOT)/usr/share/doc
	$(Q)ln -s procmon $(DBG_ROOT)/usr/share/doc/procmon-dbgsym
	$(Q)install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm $(DEB_ROOT)/DEBIAN/
	$(Q)printf '%s\n' /etc/procmon/procmon.yaml > $(DEB_ROOT)/DEBIAN/conffiles
	$(Q)mkdir -p $(BUILD)/deb/debian && printf 'Source: procmon\n\nPackage: procmon\nArchitecture: any\n' \
	  > $(BUILD)/deb/debian/control
	$(Q)cd $(BUILD)/deb && dpkg-shlibdeps -O root/usr/sbin/procmon root/usr/bin/procmon-tail 2>/dev/null | \
	  sed -n 's/^shlibs:Depends=//p' > depends
	$(Q)test -s $(BUILD)/deb/depends || { echo "procmon: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
	$(Q)$(call deb_control,packaging/deb/control,$(DEB_ROOT))
	$(Q)$(call deb_control,packaging/deb/control-dbgsym,$(DBG_ROOT))
	$(Q)($(call deb_md5sums,$(DEB_ROOT))) && ($(call deb_md5sums,$(DBG_ROOT)))
	$(Q)dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB) >/dev/null
	$(Q)dpkg-deb --root-owner-group -Zxz --build $(DBG_ROOT) $(DEB_DBG) >/dev/null
	@echo "  DEB     $(DEB)"
	@echo "  DEB     $(DEB_DBG)"

format:
	clang-format -i $(SRCS) $(HDRS) src/bpf/*.c src/bpf/common/*.h include/procmon/*.h

clean:
	rm -rf $(BUILD)

FORCE:
