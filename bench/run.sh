#!/bin/bash
# run.sh - one benchmark run: cxbridge end to end against an nginx baseline.
#
# Builds the release daemon and the bench tools, starts the AWS sink, the
# daemon and nginx on 127.0.0.1, drives the same wrk load at nginx
# (`return 204`) and at cxbridge in alternating rounds, then measures light
# load latency, the audit log's cost, SigV4 signing and the dedupe table on
# their own, and prints one table.  See docs/benchmarks.md.
# Not a test: nothing here is part of `make check`.
#
# Environment (defaults in brackets): BENCH_DURATION [15] s of measured load
# per target, split into BENCH_ROUNDS [3] alternating rounds; BENCH_WARMUP
# [3] s; BENCH_CONNECTIONS [64]; BENCH_WRK_THREADS [2]; BENCH_LINGER_MS [5];
# BENCH_AUDIT_DURATION [8] s (0 skips the log-level-info phase);
# BENCH_KEEP=1 keeps the work directory; BENCH_NO_BUILD=1 uses the binaries
# already built; BUILD [build].
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=bench/lib.sh
. bench/lib.sh

DURATION=${BENCH_DURATION:-15}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-3}
CONNS=${BENCH_CONNECTIONS:-64}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
AUDIT_DURATION=${BENCH_AUDIT_DURATION:-8}
ROUND_S=$(( (DURATION + ROUNDS - 1) / ROUNDS ))
BENCH_TOKEN=bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export BENCH_TOKEN
TMP=$(mktemp -d /tmp/cxb-bench.XXXXXX)

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

# Runs wrk ($1: label, $2: URL, $3: seconds, $4: status that counts as OK,
# $5: connections, $6: threads) with the events.lua load; its output goes to
# $TMP/$1.out and the CPU ticks wrk used to $TMP/$1.out.cpu, read from the
# shell that waited for it.
run_wrk() {
	local label=$1 url=$2 secs=$3 ok=$4 conns=${5:-$CONNS} threads=${6:-$WRK_THREADS}
	OUT="$TMP/$label.out" BENCH_OK_STATUS=$ok timeout $((secs + 30)) sh -c \
	    'wrk "$@" >"$OUT"; rc=$?; awk "{ sub(/^.*\\) /, \"\"); print \$14 + \$15 }" /proc/$$/stat >"$OUT.cpu"; exit $rc' \
	    sh -t"$threads" -c"$conns" -d"${secs}s" --timeout 5s --latency \
	    -s bench/events.lua "$url" ||
	    bench_die "wrk failed ($label): $(tail -3 "$TMP/$label.out" 2>/dev/null)"
}

# Value of key $2 on the WRK_RESULT line of run $1.
wrk_val() {
	sed -n "s/^WRK_RESULT.* $2=\([^ ]*\).*/\1/p" "$TMP/$1.out"
}

# Sum of key $2 over the rounds of target $1.
wrk_sum() {
	local r s=0
	for r in $(seq "$ROUNDS"); do
		s=$((s + $(wrk_val "$1-$r" "$2")))
	done
	echo "$s"
}

# Median and maximum of key $2 over the rounds of target $1, in ms.
wrk_med_max_ms() {
	local r
	for r in $(seq "$ROUNDS"); do
		wrk_val "$1-$r" "$2"
	done | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }'
}

# CPU ticks the whole machine spent busy (not idle, not iowait).
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

start_nginx() {
	local port=$1
	mkdir -p "$TMP/nginx"
	cat >"$TMP/nginx/nginx.conf" <<EOF
# The baseline: as little work per request as an HTTP server can do.
worker_processes 2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 10000000;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	server {
		listen 127.0.0.1:$port;
		location / { return 204; }
	}
}
EOF
	nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" \
	    >/dev/null 2>&1 &
	NGINX_PID=$!
	bench_track "$NGINX_PID"
	bench_wait_code "http://127.0.0.1:$port/" 10 204 ||
		bench_die "nginx did not start: $(cat "$TMP/nginx/error.log")"
	NGINX_URL="http://127.0.0.1:$port/webhook/routing-events"
	# Master and workers: the workers are the master's children.
	NGINX_PIDS="$NGINX_PID $(cat "/proc/$NGINX_PID/task/$NGINX_PID/children")"
}

# Counters read before and after each cxbridge round: the sink's entries
# and calls, the daemon's published / dead-lettered totals, CPU ticks.
snapshot() {
	local p=$1
	eval "${p}_put_req=$(bench_sink_stat putevents_requests)"
	eval "${p}_put_ent=$(bench_sink_stat putevents_entries)"
	eval "${p}_sqs_ent=$(bench_sink_stat sqs_entries)"
	eval "${p}_pub=$(bench_metric cxbridge_events_published_total)"
	eval "${p}_dlq=$(bench_metric cxbridge_events_dead_lettered_total)"
	eval "${p}_cxb_cpu=$(bench_cpu_ticks "$CXB_PID")"
	eval "${p}_sink_cpu=$(bench_cpu_ticks "$SINK_PID")"
}

# One measured nginx round ($1: round number).
round_nginx() {
	local c0 c1 b0 b1
	# shellcheck disable=SC2086
	c0=$(bench_cpu_ticks $NGINX_PIDS); b0=$(busy_ticks)
	run_wrk "nginx-$1" "$NGINX_URL" "$ROUND_S" 204
	# shellcheck disable=SC2086
	c1=$(bench_cpu_ticks $NGINX_PIDS); b1=$(busy_ticks)
	N_CPU=$((N_CPU + c1 - c0))
	N_WRK_CPU=$((N_WRK_CPU + $(cat "$TMP/nginx-$1.out.cpu")))
	N_OTHER=$((N_OTHER + (b1 - b0) - (c1 - c0) - $(cat "$TMP/nginx-$1.out.cpu")))
}

# One measured cxbridge round; the queue drains before each snapshot, so
# every event a round's wrk got an answer for is counted in that round.
round_cxb() {
	local url="http://127.0.0.1:$CXB_PORT/webhook/routing-events" w o0 o1 x0 x1
	snapshot b
	o0=$(busy_ticks); x0=$(bench_cpu_ticks "$CXB_PID" "$SINK_PID")
	run_wrk "cxb-$1" "$url" "$ROUND_S" 200
	o1=$(busy_ticks); x1=$(bench_cpu_ticks "$CXB_PID" "$SINK_PID")
	if [ "$1" = 1 ]; then
		CXB_RSS_LOAD=$(bench_mem_kib "$CXB_PID" VmRSS)
		CXB_ANON_LOAD=$(bench_mem_kib "$CXB_PID" RssAnon)
	fi
	bench_quiesce
	snapshot a
	w=$(cat "$TMP/cxb-$1.out.cpu")
	C_PUT_REQ=$((C_PUT_REQ + a_put_req - b_put_req))
	C_PUT_ENT=$((C_PUT_ENT + a_put_ent - b_put_ent))
	C_SQS_ENT=$((C_SQS_ENT + a_sqs_ent - b_sqs_ent))
	C_COUNTED=$((C_COUNTED + a_pub - b_pub + a_dlq - b_dlq))
	C_CPU=$((C_CPU + a_cxb_cpu - b_cxb_cpu))
	C_SINK_CPU=$((C_SINK_CPU + a_sink_cpu - b_sink_cpu))
	C_WRK_CPU=$((C_WRK_CPU + w))
	# Only the wrk window: the drain and the snapshots run helpers of ours.
	C_OTHER=$((C_OTHER + (o1 - o0) - (x1 - x0) - w))
}

phase_saturation() {
	local r
	N_CPU=0 N_WRK_CPU=0 N_OTHER=0
	C_PUT_REQ=0 C_PUT_ENT=0 C_SQS_ENT=0 C_COUNTED=0 C_CPU=0 C_SINK_CPU=0
	C_WRK_CPU=0 C_OTHER=0
	bench_log "warm-up: ${WARMUP}s nginx, ${WARMUP}s cxbridge"
	run_wrk nginx-warm "$NGINX_URL" "$WARMUP" 204
	run_wrk cxb-warm "http://127.0.0.1:$CXB_PORT/webhook/routing-events" "$WARMUP" 200
	bench_quiesce
	for r in $(seq "$ROUNDS"); do
		bench_log "round $r/$ROUNDS: ${ROUND_S}s nginx, ${ROUND_S}s cxbridge"
		round_nginx "$r"
		round_cxb "$r"
	done
	NGINX_RSS=0
	for p in $NGINX_PIDS; do
		NGINX_RSS=$((NGINX_RSS + $(bench_mem_kib "$p" VmRSS)))
	done
	bench_stop "$NGINX_PID" || true
}

# Ack latency when batches cannot fill: 4 connections, so the linger sets
# the pace.
phase_light() {
	bench_log "light load: 4 connections, 4s"
	run_wrk light "http://127.0.0.1:$CXB_PORT/webhook/routing-events" 4 200 4 1
	bench_quiesce
	CXB_HWM=$(bench_mem_kib "$CXB_PID" VmHWM)
	CXB_DEDUPE=$(bench_metric cxbridge_dedupe_entries)
	SINK_UNAUTH=$(bench_sink_stat unauthorized)
	SINK_BAD=$(bench_sink_stat bad_requests)
	bench_stop "$CXB_PID" ||
		bench_die "cxbridge exited non-zero on SIGTERM: $(tail -5 "$TMP/cxbridge.log")"
}

# The same load with log level info (one audit line per event) to a file,
# for the cost of the audit log.
phase_audit() {
	[ "$AUDIT_DURATION" -gt 0 ] || return 0
	bench_write_conf "$TMP" "$CXB_PORT" info
	bench_start_cxb "$TMP" "$TMP/cxbridge-info.log"
	bench_log "cxbridge, log level info: 2s warm-up, ${AUDIT_DURATION}s load"
	run_wrk audit-warm "http://127.0.0.1:$CXB_PORT/webhook/routing-events" 2 200
	bench_quiesce
	local c0 l0 c1 l1
	c0=$(bench_cpu_ticks "$CXB_PID")
	l0=$(stat -c %s "$TMP/cxbridge-info.log")
	run_wrk audit "http://127.0.0.1:$CXB_PORT/webhook/routing-events" "$AUDIT_DURATION" 200
	bench_quiesce
	c1=$(bench_cpu_ticks "$CXB_PID")
	l1=$(stat -c %s "$TMP/cxbridge-info.log")
	AUDIT_CPU=$((c1 - c0))
	AUDIT_LOG_BYTES=$((l1 - l0))
	bench_stop "$CXB_PID" || bench_die "cxbridge (info) exited non-zero"
}

# awk for the arithmetic the shell cannot do.
calc() { awk "BEGIN { printf \"$1\n\", $2 }"; }
verdict() { awk "BEGIN { print (($1) ? \"met\" : \"MISSED\") }"; }
row() { printf '| %-44s | %-30s | %-9s | %-7s |\n' "$1" "$2" "$3" "$4"; }

# Every acked event must be at the sink, and the daemon's own totals must
# match the sink's.  Events delivered but not acked can only be those in
# flight when a round's wrk stopped (at most one per connection) or ones
# whose answer was not OK.
delivery_check() {
	local acked=$1 delivered=$2 non_ok=$3
	if [ "$delivered" -lt "$acked" ]; then
		echo "FAILED: $acked acked, only $delivered at the sink"
	elif [ $((delivered - acked)) -gt $((ROUNDS * CONNS + non_ok)) ]; then
		echo "FAILED: $((delivered - acked)) more delivered than acked"
	elif [ "$C_COUNTED" -ne "$delivered" ]; then
		echo "FAILED: daemon counted $C_COUNTED, sink $delivered"
	elif [ "$SINK_UNAUTH" -ne 0 ] || [ "$SINK_BAD" -ne 0 ]; then
		echo "FAILED: sink refused $SINK_UNAUTH unauthorized, $SINK_BAD bad calls"
	else
		echo ok
	fi
}

report_rows() {
	local n_s c_s n_ok c_ok n_rps c_eps ratio epc acked delivered non_ok
	local n_lat c_lat l_lat a_ok a_eps
	n_s=$(calc "%.3f" "$(wrk_sum nginx duration_us) / 1e6")
	c_s=$(calc "%.3f" "$(wrk_sum cxb duration_us) / 1e6")
	n_ok=$(wrk_sum nginx ok); c_ok=$(wrk_sum cxb ok)
	n_rps=$(calc "%.0f" "$n_ok / $n_s")
	c_eps=$(calc "%.0f" "$c_ok / $c_s")
	ratio=$(calc "%.2f" "$c_eps / $n_rps")
	read -r n_p50 _ <<<"$(wrk_med_max_ms nginx p50_us)"
	read -r n_p99 n_p99max <<<"$(wrk_med_max_ms nginx p99_us)"
	read -r c_p50 _ <<<"$(wrk_med_max_ms cxb p50_us)"
	read -r c_p99 c_p99max <<<"$(wrk_med_max_ms cxb p99_us)"
	epc=$(calc "%.2f" "$C_PUT_ENT / ($C_PUT_REQ > 0 ? $C_PUT_REQ : 1)")
	acked=$((c_ok - $(wrk_sum cxb duplicate)))
	delivered=$((C_PUT_ENT + C_SQS_ENT))
	non_ok=$(wrk_sum cxb non_ok)
	DELIVERY_CHECK=$(delivery_check "$acked" "$delivered" "$non_ok")

	row "nginx return 204, requests/s" "$n_rps" "" ""
	row "cxbridge events/s (200 accepted, end to end)" "$c_eps" "" ""
	row "ratio cxbridge / nginx" "$ratio" ">= 0.50" "$(verdict "$ratio >= 0.5")"
	row "nginx latency p50 / p99 (ms)" "$n_p50 / $n_p99 (worst p99 $n_p99max)" "" ""
	row "cxbridge ack latency p50 / p99 (ms)" "$c_p50 / $c_p99 (worst p99 $c_p99max)" "p99 < 10" "$(verdict "$c_p99 < 10")"
	row "  at 4 connections: p50 / p99 (ms)" "$(calc "%.2f / %.2f" "$(wrk_val light p50_us) / 1000, $(wrk_val light p99_us) / 1000") ($(calc "%.0f" "$(wrk_val light ok) / ($(wrk_val light duration_us) / 1e6)") ev/s)" "" ""
	row "entries per PutEvents (sink)" "$epc" ">= 9" "$(verdict "$epc >= 9")"
	row "non-OK answers nginx / cxbridge" "$(wrk_sum nginx non_ok) / $non_ok" "0" "$(verdict "$non_ok == 0")"
	row "delivery check: acked / at sink / via DLQ" "$acked / $delivered / $C_SQS_ENT" "all" "$DELIVERY_CHECK"
	row "CPU s, nginx rounds: nginx / wrk / others" "$(calc "%.2f / %.2f / %.2f" "$N_CPU / $HZ, $N_WRK_CPU / $HZ, $N_OTHER / $HZ")" "" ""
	row "CPU s, cxbridge rounds: cxb / sink / wrk / others" "$(calc "%.2f / %.2f / %.2f / %.2f" "$C_CPU / $HZ, $C_SINK_CPU / $HZ, $C_WRK_CPU / $HZ, $C_OTHER / $HZ")" "" ""
	row "CPU us per request: nginx / cxbridge" "$(calc "%.1f / %.1f" "$N_CPU / $HZ * 1e6 / $n_ok, $C_CPU / $HZ * 1e6 / $c_ok")" "" ""
	row "  server CPU ratio nginx / cxbridge" "$(calc "%.2f" "($N_CPU / $n_ok) / ($C_CPU / $c_ok)")" "" ""
	row "  wrk + sink CPU us per event / per nginx req" "$(calc "%.1f / %.1f" "($C_WRK_CPU + $C_SINK_CPU) / $HZ * 1e6 / $c_ok, $N_WRK_CPU / $HZ * 1e6 / $n_ok")" "" ""
	row "cxbridge RSS idle, VmRSS (MiB)" "$(calc "%.1f" "$CXB_RSS_IDLE / 1024")" "< 10" "$(verdict "$CXB_RSS_IDLE < 10240")"
	row "  anonymous / PSS, idle (MiB)" "$(calc "%.1f / %.1f" "$CXB_ANON_IDLE / 1024, $CXB_PSS_IDLE / 1024")" "" ""
	row "cxbridge RSS under load / peak (MiB)" "$(calc "%.1f / %.1f (anon %.1f)" "$CXB_RSS_LOAD / 1024, $CXB_HWM / 1024, $CXB_ANON_LOAD / 1024")" "" ""
	row "  dedupe entries held at the end" "$CXB_DEDUPE" "" ""
	row "nginx RSS, master + 2 workers (MiB)" "$(calc "%.1f" "$NGINX_RSS / 1024")" "" ""
	row "1M dedupe keys: table alone (dedupe_bench)" "$(calc "%.1f" "($DD_rss_after_kib - $DD_rss_before_kib) / 1024") MiB ($DD_dedupe_size held)" "" ""
	row "1M dedupe keys: idle daemon + table" "$(calc "%.1f" "($CXB_RSS_IDLE + $DD_rss_after_kib - $DD_rss_before_kib) / 1024") MiB" "< 150" "$(verdict "($CXB_RSS_IDLE + $DD_rss_after_kib - $DD_rss_before_kib) < 153600")"
	row "dedupe claim + commit (ns, one thread)" "$DD_ns_per_claim_commit" "" ""
	row "SigV4 signatures/s, 10 entries (one core)" "$SV_sigv4_per_s ($SV_body_bytes B body, $SV_sigv4_us us)" "" ""
	if [ "$AUDIT_DURATION" -gt 0 ]; then
		a_ok=$(wrk_val audit ok)
		a_eps=$(calc "%.0f" "$a_ok / ($(wrk_val audit duration_us) / 1e6)")
		row "audit log on (level info): events/s" "$a_eps ($(calc "%+.0f%%" "($a_eps / $c_eps - 1) * 100") vs warn)" "" ""
		row "audit log: bytes / cxbridge CPU us per event" "$(calc "%.0f / %.1f" "$AUDIT_LOG_BYTES / ($a_ok > 0 ? $a_ok : 1), $AUDIT_CPU / $HZ * 1e6 / ($a_ok > 0 ? $a_ok : 1)")" "" ""
	fi
}

report() {
	echo "## cxbridge benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -r), tree $(git describe --always --dirty 2>/dev/null || echo unknown)"
	echo
	echo "load: wrk -t$WRK_THREADS -c$CONNS, ${ROUNDS} x ${ROUND_S}s per target, alternating (+${WARMUP}s warm-up each), bench/events.lua ($(wrk_val cxb-1 body_bytes) B bodies)"
	echo "cxbridge: 2 HTTP threads, linger ${BENCH_LINGER_MS:-5} ms, queue 100000, ordering on (tolerance 1 s), log level warn; load average before: $LOADAVG"
	echo
	row measure value target verdict
	echo "|----------------------------------------------|--------------------------------|-----------|---------|"
	report_rows
	echo
	echo "One run on a shared machine: compare the ratios, not the absolute numbers."
	echo "\"others\" is CPU time other processes on the machine took during the rounds."
	awk -v o=$((N_OTHER + C_OTHER)) -v hz="$HZ" -v n="$(nproc)" \
	    -v s="$(calc "%.3f" "($(wrk_sum nginx duration_us) + $(wrk_sum cxb duration_us)) / 1e6")" 'BEGIN {
		c = o / hz / s
		if (c > 0.25)
			printf "WARNING: other processes kept %.2f of %d cores busy during the rounds: these numbers say more about the machine than about cxbridge.\n", c, n
	}'
}

main() {
	local t0=$SECONDS kv
	LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	bench_deps
	bench_build
	bench_start_sink "$TMP"
	CXB_PORT=$(bench_free_port)
	bench_write_conf "$TMP" "$CXB_PORT" warn
	bench_start_cxb "$TMP" "$TMP/cxbridge.log"
	sleep 1
	CXB_RSS_IDLE=$(bench_mem_kib "$CXB_PID" VmRSS)
	CXB_ANON_IDLE=$(bench_mem_kib "$CXB_PID" RssAnon)
	CXB_PSS_IDLE=$(bench_pss_kib "$CXB_PID")
	start_nginx "$(bench_free_port)"
	phase_saturation
	phase_light
	phase_audit
	bench_stop "$SINK_PID" || true
	bench_log "SigV4 signing, 2s"
	"$BENCH_BIN_DIR/sigv4_bench" 2 >"$TMP/sigv4.out"
	bench_log "dedupe table, 1,000,000 keys"
	"$BENCH_BIN_DIR/dedupe_bench" 1000000 1000000 >"$TMP/dedupe.out"
	# key=value words into SV_* and DD_* variables.
	for kv in $(cat "$TMP/sigv4.out"); do eval "SV_${kv%%=*}=${kv#*=}"; done
	for kv in $(cat "$TMP/dedupe.out"); do eval "DD_${kv%%=*}=${kv#*=}"; done
	# Not a pipeline: report sets DELIVERY_CHECK.
	report >"$BENCH_BIN_DIR/last-run.md"
	cat "$BENCH_BIN_DIR/last-run.md"
	bench_log "done in $((SECONDS - t0)) s; table saved in $BENCH_BIN_DIR/last-run.md"
	case $DELIVERY_CHECK in ok) ;; *) exit 1 ;; esac
}

main "$@"
