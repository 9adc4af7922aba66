#!/bin/bash
# profile.sh - where cxbridge spends its CPU, by pipeline stage.
#
# Runs the release daemon against the bench sink under a short fixed wrk
# load (bench/events.lua) and prints the cost grouped by stage (http/MHD,
# jansson parse, schema, auth, dedupe, batcher, sigv4, curl, logging, ...)
# with bench/profile_group.py, then the top functions.
#
# PROFILER=auto (default): `perf record -g` if this machine has hardware
#   counters (`perf stat -e instructions true` works), else callgrind.
# PROFILER=perf: perf even without hardware counters (cpu-clock sampling,
#   dwarf call chains; kernel time included).
# PROFILER=callgrind: valgrind --tool=callgrind (instruction counts, user
#   space only, steady on a busy machine; the daemon runs ~50x slower, so
#   fewer events go through, but batches still fill at 64 connections).
# PROFILE_DURATION [5] s of measured load; PROFILE_LOG_LEVEL [warn] (info
# writes the audit log, to a file, so its cost shows); BENCH_KEEP=1 keeps
# the data; BENCH_NO_BUILD=1 uses the binaries already built.
# Not a test: nothing here is part of `make check`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/lib.sh
. bench/lib.sh

DURATION=${PROFILE_DURATION:-5}
PROFILER=${PROFILER:-auto}
LOG_LEVEL=${PROFILE_LOG_LEVEL:-warn}
BENCH_TOKEN=bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export BENCH_TOKEN
TMP=$(mktemp -d /tmp/cxb-profile.XXXXXX)

finish() {
	local rc=$?
	bench_stop_all
	if [ "$rc" -ne 0 ] || [ "${BENCH_KEEP:-0}" = 1 ]; then
		bench_log "work directory kept: $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap finish EXIT
trap 'exit 130' INT TERM

load() {
	# $1: seconds, $2: connections, $3: label
	BENCH_OK_STATUS=200 timeout $(($1 + 60)) wrk -t1 -c"$2" -d"$1s" \
	    --timeout 10s --latency -s bench/events.lua \
	    "http://127.0.0.1:$CXB_PORT/webhook/routing-events" >"$TMP/$3.out" ||
	    bench_die "wrk failed: $(tail -3 "$TMP/$3.out")"
	sed -n 's/^WRK_RESULT \(requests=[0-9]*\) duration_us=\([0-9]*\) \(ok=[0-9]*\).* \(non_ok=[0-9]*\).* \(p99_us=[0-9]*\).*/\3 \4 \5/p' \
	    "$TMP/$3.out" >&2
}

# Syscalls and context switches per accepted event, by thread, over a 3 s
# load (a tracepoint count, so only where perf can read tracepoints).
syscall_counts() {
	perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1 || {
		bench_log "no syscall tracepoint: skipping the syscall count"
		return 0
	}
	perf stat -x, --per-thread -e raw_syscalls:sys_enter,context-switches \
	    -p "$CXB_PID" -o "$TMP/stat.csv" >/dev/null 2>&1 &
	local stat_pid=$! types_pid ok
	bench_track "$stat_pid"
	perf stat -x, -e 'syscalls:sys_enter_*' -p "$CXB_PID" \
	    -o "$TMP/types.csv" >/dev/null 2>&1 &
	types_pid=$!
	bench_track "$types_pid"
	sleep 0.3
	load 3 64 stat
	kill -INT "$stat_pid" "$types_pid"
	wait "$stat_pid" || true
	wait "$types_pid" || true
	ok=$(load_ok stat)
	awk -F, -v ok="$ok" '
	/^#/ || NF < 4 { next }
	{ t = $1; sub(/-[0-9]+$/, "", t); n[t, $4] += $2; names[t] = 1; all[$4] += $2 }
	END {
		printf "per accepted event (%d events, 3 s): %.2f syscalls, %.2f context switches\n",
		    ok, all["raw_syscalls:sys_enter"] / ok, all["context-switches"] / ok
		for (t in names)
			printf "  %-16s %.2f syscalls, %.2f context switches\n", t,
			    n[t, "raw_syscalls:sys_enter"] / ok, n[t, "context-switches"] / ok
	}' "$TMP/stat.csv"
	awk -F, -v ok="$ok" '
	/^#/ || NF < 4 || $1 !~ /^[0-9]+$/ || $1 == 0 { next }
	{ sub(/^syscalls:sys_enter_/, "", $3); printf "%s %.2f\n", $3, $1 / ok }' \
	    "$TMP/types.csv" | sort -k2 -nr | head -8 |
	    awk '{ s = s sep $1 " " $2; sep = ", " } END { if (s != "") print "  by type: " s }'
}

# True when perf can count instructions here (a machine with a PMU, not a
# VM that hides it): `perf stat` then prints a number, not "not supported".
hw_counters() {
	command -v perf >/dev/null 2>&1 &&
		perf stat -e instructions true 2>&1 |
		grep -Eq '^[[:space:]]*[0-9][0-9,.]*[[:space:]]+instructions'
}

# The measured load, with the sink's entries per PutEvents over it.
measured_load() {
	local r0 e0 r1 e1
	r0=$(bench_sink_stat putevents_requests); e0=$(bench_sink_stat putevents_entries)
	load "$@"
	r1=$(bench_sink_stat putevents_requests); e1=$(bench_sink_stat putevents_entries)
	awk -v r=$((r1 - r0)) -v e=$((e1 - e0)) 'BEGIN {
		printf "entries per PutEvents during the profile: %.2f\n", e / (r > 0 ? r : 1) }'
}

# Events answered 200 in load $1.
load_ok() {
	sed -n 's/^WRK_RESULT.* ok=\([0-9]*\).*/\1/p' "$TMP/$1.out"
}

profile_perf() {
	local event=cpu-clock
	if hw_counters; then
		event=cycles
	else
		bench_log "no hardware counters: sampling cpu-clock"
	fi
	bench_start_cxb "$TMP" "$TMP/cxbridge.log"
	bench_log "perf: 2s warm-up, ${DURATION}s load at 64 connections"
	load 2 64 warm
	syscall_counts
	perf record -q -e "$event" -F 499 --call-graph dwarf,16384 -p "$CXB_PID" \
	    -o "$TMP/perf.data" >/dev/null 2>"$TMP/perf.log" &
	local perf_pid=$!
	bench_track "$perf_pid"
	sleep 0.5
	measured_load "$DURATION" 64 load
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	bench_stop "$CXB_PID" || true
	bench_log "perf script (unwinding the stacks takes a while)"
	perf script -i "$TMP/perf.data" -F comm,tid,period,ip,sym,dso \
	    >"$TMP/perf.txt" 2>/dev/null
	/usr/bin/python3 bench/profile_group.py perf "$CXB_BIN" "$TMP/perf.txt" \
	    "$(load_ok load)"
}

profile_callgrind() {
	local ready_timeout=60
	BENCH_START_TIMEOUT=$ready_timeout bench_start_cxb "$TMP" "$TMP/cxbridge.log" \
	    valgrind --tool=callgrind --instr-atstart=no \
	    --callgrind-out-file="$TMP/callgrind.out" --log-file="$TMP/valgrind.log"
	bench_log "callgrind: 2s warm-up, ${DURATION}s load at 64 connections"
	load 2 64 warm
	callgrind_control -i on "$CXB_PID" >/dev/null 2>&1
	measured_load "$DURATION" 64 load
	callgrind_control -i off "$CXB_PID" >/dev/null 2>&1
	bench_stop "$CXB_PID" || true
	/usr/bin/python3 bench/profile_group.py callgrind "$CXB_BIN" \
	    "$TMP/callgrind.out" "$(load_ok load)"
}

main() {
	if [ "$PROFILER" = auto ]; then
		PROFILER=callgrind
		if hw_counters; then PROFILER=perf; fi
	fi
	case $PROFILER in
	perf) bench_deps linux-perf ;;
	callgrind) bench_deps valgrind ;;
	*) bench_die "PROFILER must be auto, perf or callgrind" ;;
	esac
	bench_build
	bench_start_sink "$TMP"
	CXB_PORT=$(bench_free_port)
	bench_write_conf "$TMP" "$CXB_PORT" "$LOG_LEVEL"
	echo "## cxbridge profile, $(date -u '+%Y-%m-%d %H:%M UTC'), $PROFILER, $(nproc) cores, log level $LOG_LEVEL"
	"profile_$PROFILER"
}

main "$@"
