# bench.mk - builds the benchmark tools with the project's own flags.
#
# Run from the repository root: make -f bench/bench.mk [BUILD=dir] bench-tools
# It includes the top Makefile, so the daemon, libcxb.a and these tools share
# one compiler, one set of warnings and one build directory.  None of this is
# part of `make check`.

include Makefile

.DEFAULT_GOAL := bench-tools

BENCH_DIR  := $(BUILD)/bench
BENCH_LIBS := $(shell pkg-config --libs libmicrohttpd jansson) -lpthread
BENCH_BINS := $(BENCH_DIR)/sink $(BENCH_DIR)/sigv4_bench $(BENCH_DIR)/dedupe_bench

.PHONY: bench-tools
bench-tools: $(BIN) $(BENCH_BINS)

# The sink stands alone: it links none of the daemon's modules.
# The sink borrows jsonscan's UTF-8 rule from the daemon's archive.
$(BENCH_DIR)/sink: bench/sink.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(BENCH_LIBS)

$(BENCH_DIR)/%_bench: bench/%_bench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)
