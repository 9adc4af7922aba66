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

.PHONY: all check unit integration demo install clean deps help failalloc all-objects lint
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

integration: $(BIN)
	@CXB_BIN=$(abspath $(BIN)) tests/run-integration.sh

# Suites run one after the other even under -j: integration starts daemons.
check: all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@echo "check: all suites passed ($(BUILD))"

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

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cxbridge
	install -D -m 0640 conf/cxbridge.conf $(DESTDIR)/etc/cxbridge/cxbridge.conf
	install -d $(DESTDIR)/etc/cxbridge/schemas
	install -m 0644 conf/schemas/*.json $(DESTDIR)/etc/cxbridge/schemas/

clean:
	rm -rf build build-*

help:
	@echo "targets: all check unit integration demo deps install clean"
	@echo "variables: SAN=asan|tsan (sanitizer build in build-SAN/), PREFIX, DESTDIR"

-include $(OBJS:.o=.d) $(BUILD)/obj/main.d $(UNIT_BIN:=.d)
