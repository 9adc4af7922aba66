# cxbridge - plain GNU Makefile.  `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?=
BUILD   ?= build$(if $(SAN),-$(SAN))

PKGS    := libmicrohttpd libcurl jansson libcrypto uuid libsystemd
CC      ?= cc
WARN    := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wcast-align \
           -Wwrite-strings -Wnull-dereference -Wimplicit-fallthrough
CFLAGS  ?= -O2 -g
CPPFLAGS += -Iinclude -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS))
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SANFLAGS) -fno-strict-aliasing
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread -lm

ifeq ($(SAN),asan)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ifeq ($(SAN),tsan)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS += -DCXB_VERSION='"$(VERSION)"'

SRCS     := $(filter-out src/main.c,$(wildcard src/*.c))
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libcxb.a
BIN      := $(BUILD)/cxbridge
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit integration demo install clean deps help failalloc all-objects lint \
        systemd-check uninstall
all: $(BIN)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(BUILD)/obj/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Unit tests link against the archive, so each pulls in only the modules it uses.
$(BUILD)/tests/%: tests/unit/%.c $(LIB) tests/unit/testutil.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(ALL_CFLAGS) -MMD -MP -o $@ $< $(LIB) \
	    $(LDFLAGS) $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)
	@tests/run-unit.sh $(UNIT_BIN)

# The stand-in's own tests first: the daemon's tests trust its checks.
integration: $(BIN)
	@/usr/bin/python3 tests/standin/test_standin.py
	@CXB_BIN=$(abspath $(BIN)) tests/run-integration.sh

# Suites run one after the other even under -j: integration starts daemons.
check: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@$(MAKE) --no-print-directory systemd-check
	@echo "check: all suites passed ($(BUILD))"

# The unit files (security exposure, systemd-analyze verify against the built
# binary), the Prometheus alerting rules and the man pages.
systemd-check: $(BIN)
	@CXB_BIN=$(abspath $(BIN)) tests/systemd-check.sh

# Static analysis; .clang-tidy says which checks are on and why some are off.
# Any finding fails the target (clang-tidy treats every warning as an error).
lint:
	clang-tidy --quiet $(wildcard src/*.c) -- -std=c11 $(CPPFLAGS)
	cppcheck --enable=warning,performance,portability --std=c11 --quiet \
	    --inline-suppr -Iinclude -D_GNU_SOURCE --error-exitcode=1 src/

# A daemon whose own allocations can be made to fail one by one.
FA_BUILD := build-failalloc
FA_BIN   := $(FA_BUILD)/cxbridge-failalloc
FA_WRAP  := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup
failalloc:
	@$(MAKE) --no-print-directory BUILD=$(FA_BUILD) SAN=asan all-objects
	$(CC) $(CPPFLAGS) -std=c11 $(WARN) -O1 -g -fsanitize=address,undefined \
	    -o $(FA_BIN) tests/failalloc/wrap.c $(FA_BUILD)/obj/main.o \
	    $(FA_BUILD)/libcxb.a $(FA_WRAP) $(LDFLAGS) $(LDLIBS)
	@CXB_BIN=$(abspath $(FA_BIN)) /usr/bin/python3 tests/failalloc/run.py

all-objects: $(LIB) $(BUILD)/obj/main.o

demo: $(BIN)
	@CXB_BIN=$(abspath $(BIN)) /usr/bin/python3 tests/demo.py

deps:
	tests/install-deps.sh

# Benchmarks, not tests: never part of check (docs/benchmarks.md).
.PHONY: bench
bench:
	@BUILD=$(BUILD) bench/run.sh

# The configuration lives in /etc/cxbridge whatever PREFIX is: it is the
# binary's default and the unit's.  A file there that differs from the shipped
# one is the operator's and is kept; the shipped one goes next to it as
# FILE.new.  cxbridge.conf holds no secrets (those come through
# LoadCredential=), and the service's DynamicUser must read it: mode 0644.
# ExecStart of the installed unit follows PREFIX.
CONFDIR ?= /etc/cxbridge
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cxbridge
	install -d -m 0755 $(DESTDIR)$(CONFDIR)/schemas
	@for f in conf/cxbridge.conf conf/schemas/*.json; do \
	    t="$(DESTDIR)$(CONFDIR)/$${f#conf/}"; \
	    if [ -e "$$t" ] && ! cmp -s "$$f" "$$t"; then \
	        echo "install: kept $$t; the shipped one is $$t.new"; t="$$t.new"; \
	    fi; \
	    echo "install -m 0644 $$f $$t"; install -m 0644 "$$f" "$$t" || exit 1; \
	done
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=[^ ]*/cxbridge |ExecStart=$(PREFIX)/bin/cxbridge |' \
	    systemd/cxbridge.service >$(DESTDIR)$(UNITDIR)/cxbridge.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/cxbridge.service
	install -m 0644 systemd/cxbridge.socket $(DESTDIR)$(UNITDIR)/cxbridge.socket
	install -D -m 0644 docs/cxbridge.8 $(DESTDIR)$(MANDIR)/man8/cxbridge.8
	install -D -m 0644 docs/cxbridge.conf.5 $(DESTDIR)$(MANDIR)/man5/cxbridge.conf.5

# Leaves $(CONFDIR): configuration, schemas and secrets are the operator's.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/cxbridge \
	    $(DESTDIR)$(UNITDIR)/cxbridge.service $(DESTDIR)$(UNITDIR)/cxbridge.socket \
	    $(DESTDIR)$(MANDIR)/man8/cxbridge.8 $(DESTDIR)$(MANDIR)/man5/cxbridge.conf.5
	@echo "uninstall: $(DESTDIR)$(CONFDIR) left in place"

clean:
	rm -rf build build-*

help:
	@echo "targets: all check unit integration systemd-check demo deps install uninstall clean"
	@echo "variables: SAN=asan|tsan (sanitizer build in build-SAN/), PREFIX, DESTDIR,"
	@echo "           UNITDIR (PREFIX/lib/systemd/system), MANDIR (PREFIX/share/man)"
	@echo "fuzzing: fuzz fuzz-smoke fuzz-build (clang, build-fuzz/; FUZZ_SECONDS=60)"

-include $(OBJS:.o=.d) $(BUILD)/obj/main.d $(UNIT_BIN:=.d)

# ---- fuzzing (docs/fuzzing.md) ----------------------------------------------
# libFuzzer targets, one per parser of outside input, built by clang straight
# from the sources they need (not from the gcc-built archive) into build-fuzz/.
# `make fuzz` runs each for FUZZ_SECONDS with its committed seed corpus, which
# is only read: new inputs go to build-fuzz/corpus/<name>/, crashes to
# build-fuzz/artifacts/.  Any crash, leak, timeout or failed check fails it.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build-fuzz
FUZZ_NAMES   := config event schema rfc3339 auth sigv4 awsproto sqsproto \
                creds sts cxone awsskew jsonparse
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 $(WARN) -O1 -g $(FUZZ_SAN)
FUZZ_SCHEMA  := $(abspath conf/schemas/cxone-routing-event.json)
# The modules each target links.
FUZZ_MODS_config   := config log
FUZZ_MODS_event    := event entry jsonmem jsonparse jsonscan rfc3339 schema awsproto jw
FUZZ_MODS_schema   := schema rfc3339
FUZZ_MODS_rfc3339  := rfc3339
FUZZ_MODS_auth     := auth log digest
FUZZ_MODS_sigv4    := sigv4 digest
FUZZ_MODS_awsproto := awsproto entry jsonmem jsonparse jsonscan jw
FUZZ_MODS_sqsproto := sqsproto awsproto entry jsonmem jsonparse jsonscan rfc3339 jw
FUZZ_MODS_creds    := credfetch awsenv creds rfc3339
FUZZ_MODS_sts      := credsts credfetch awsenv creds sigv4 digest xmlscan rfc3339
FUZZ_MODS_cxone    := cxone log
FUZZ_MODS_awsskew  := awsskew awsproto entry jsonmem jsonparse jsonscan stats metrics log jw
FUZZ_MODS_jsonparse := jsonparse jsonscan
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-smoke

# clang, unlike gcc, applies -Wformat-nonliteral to vsnprintf in a function
# that takes a va_list; the sources are checked with gcc's rules.
$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -Wno-format-nonliteral \
	    -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

define FUZZ_TARGET
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzzutil.h \
    $(FUZZ_MODS_$(1):%=$(FUZZ_DIR)/obj/%.o)
	$$(FUZZ_CC) $$(CPPFLAGS) -Itests/fuzz $$(FUZZ_CFLAGS) -fsanitize=fuzzer \
	    -MMD -MP -DCXB_FUZZ_SCHEMA='"$$(FUZZ_SCHEMA)"' -o $$@ $$< \
	    $(FUZZ_MODS_$(1):%=$(FUZZ_DIR)/obj/%.o) $$(LDFLAGS) $$(LDLIBS)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_TARGET,$(n))))

fuzz-build: $(FUZZ_BINS)

# One target after the other; each log is kept in build-fuzz/<name>.log and
# its last stats line printed.
fuzz: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_DIR)/artifacts
	@for n in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$n; \
	    echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$n- \
	        $(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n \
	        >$(FUZZ_DIR)/$$n.log 2>&1 || { \
	        tail -n 60 $(FUZZ_DIR)/$$n.log; \
	        echo "fuzz: $$n FAILED; reproducer in $(FUZZ_DIR)/artifacts/"; \
	        exit 1; }; \
	    grep '^#[0-9]*[[:space:]]*DONE' $(FUZZ_DIR)/$$n.log || \
	        tail -n 1 $(FUZZ_DIR)/$$n.log; \
	done
	@echo "fuzz: all targets ran $(FUZZ_SECONDS) s without a finding"

# What CI runs: every target for 10 s.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

-include $(wildcard $(FUZZ_DIR)/obj/*.d $(FUZZ_DIR)/*.d)

# ---- reliability (docs/reliability.md) --------------------------------------
.PHONY: reliability valgrind
# The daemon under steady load, AWS faults, SIGTERM and SIGKILL, against the
# stand-in; every event accounted for (SAN= runs it on that build).
reliability: $(BIN)
	@CXB_BIN=$(abspath $(BIN)) /usr/bin/python3 tests/reliability/fault_suite.py

# A short integration run with the daemon under valgrind memcheck; any memory
# error or definite/indirect leak fails it.  Plain build only (not SAN=).
valgrind: $(BIN)
	@CXB_BIN=$(abspath $(BIN)) tests/valgrind.sh
