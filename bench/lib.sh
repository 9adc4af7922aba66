# lib.sh - shared by bench/run.sh and bench/profile.sh: dependencies, build,
# the sink, the daemon and its configuration, and stopping everything.
# Sourced (bash), never run.  Expects ROOT set to the repository root.

BUILD=${BUILD:-build}
BENCH_BIN_DIR=$BUILD/bench
CXB_BIN=${CXB_BIN:-$BUILD/cxbridge}
BENCH_REGION=us-east-1
BENCH_ACCESS_KEY=AKIDCXBRIDGEBENCH
BENCH_SECRET_KEY=cxbridge/bench/secret/key+0123456789abcdef
BENCH_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/cxbridge-bench-dlq
BENCH_PIDS=()
HZ=$(getconf CLK_TCK)

bench_log() { printf 'bench: %s\n' "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

# Installs what the benchmark needs, the way tests/install-deps.sh does.
# $1...: extra packages (e.g. linux-perf or valgrind for profile.sh).
bench_deps() {
	local pkgs="build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev
libjansson-dev libssl-dev uuid-dev libsystemd-dev python3 curl wrk $*"
	local missing="" p
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	# Either nginx flavour serves the baseline.
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
		missing="$missing nginx-light"
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -eq 0 ] || bench_die "missing packages:$missing (run as root or install them)"
	bench_log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
		apt-get update -q >/dev/null &&
		apt-get install -y -q --no-install-recommends $missing >/dev/null
	} || bench_die "apt-get install$missing failed"
}

# Release build (the Makefile's default -O2 -g) of the daemon and the tools.
# BENCH_NO_BUILD=1 uses the binaries already in $BUILD (say, while another
# module of the tree does not compile).
bench_build() {
	[ -z "${SAN:-}" ] || bench_die "SAN=$SAN: benchmarks measure the release build only"
	if [ "${BENCH_NO_BUILD:-0}" = 1 ]; then
		for f in "$CXB_BIN" "$BENCH_BIN_DIR/sink" "$BENCH_BIN_DIR/sigv4_bench" \
		    "$BENCH_BIN_DIR/dedupe_bench"; do
			[ -x "$f" ] || bench_die "BENCH_NO_BUILD=1 but $f is missing"
		done
		return 0
	fi
	make -s -f bench/bench.mk -j2 SAN= BUILD="$BUILD" bench-tools >&2 ||
		bench_die "build failed"
}

bench_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stops every process started with bench_track: SIGTERM, then SIGKILL after
# 10 s.  Only those pids, never anything found by name.
bench_stop_all() {
	local pid i
	for pid in "${BENCH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${BENCH_PIDS[@]}"; do
		for i in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BENCH_PIDS=()
}

bench_track() { BENCH_PIDS+=("$1"); }

# Stops one tracked process and returns its exit status.
bench_stop() {
	local pid=$1 i rc=0 keep=()
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" || rc=$?
	for i in "${BENCH_PIDS[@]}"; do
		[ "$i" = "$pid" ] || keep+=("$i")
	done
	BENCH_PIDS=("${keep[@]}")
	return "$rc"
}

# Waits up to $2 seconds for URL $1 to answer status $3 (200).
bench_wait_code() {
	local url=$1 deadline=$((SECONDS + $2)) want=${3:-200}
	while [ "$SECONDS" -le "$deadline" ]; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url")" = "$want" ] &&
			return 0
		sleep 0.05
	done
	return 1
}

# Starts the sink; sets SINK_PID and SINK_PORT.  $1: work directory.
bench_start_sink() {
	local tmp=$1 i
	"$BENCH_BIN_DIR/sink" -t "${BENCH_SINK_THREADS:-2}" -f "$tmp/sink.port" \
	    >/dev/null 2>"$tmp/sink.log" &
	SINK_PID=$!
	bench_track "$SINK_PID"
	for i in $(seq 100); do
		[ -s "$tmp/sink.port" ] && break
		sleep 0.05
	done
	[ -s "$tmp/sink.port" ] || bench_die "sink did not start: $(cat "$tmp/sink.log")"
	SINK_PORT=$(cat "$tmp/sink.port")
}

# Writes $1/cxbridge.conf for the daemon on port $2 at log level $3.
# Ordering is on (the default key) with a 1 s tolerance: 64 connections
# reorder events of one queue by a few ms, which tolerance 0 would spill to
# the DLQ; real senders see the same and operators set a tolerance.
bench_write_conf() {
	local tmp=$1 port=$2 level=$3
	printf '%s\n' "${BENCH_TOKEN}" >"$tmp/secrets"
	chmod 600 "$tmp/secrets"
	cat >"$tmp/cxbridge.conf" <<EOF
# Written by bench/lib.sh for one benchmark run.
[server]
listen = 127.0.0.1:$port
threads = ${BENCH_CXB_THREADS:-2}
max_connections = 4096
[auth]
mode = bearer
secret_file = $tmp/secrets
[validation]
schema_file = $ROOT/conf/schemas/cxone-routing-event.json
[eventbridge]
batch_linger_ms = ${BENCH_LINGER_MS:-5}
[dlq]
queue_url = $BENCH_QUEUE_URL
[queue]
capacity = 100000
[ordering]
key = /routingContext/queueId
tolerance_ms = 1000
policy = dlq
[log]
level = $level
EOF
}

# The daemon's environment (for env -i): credentials, region and the sink
# as endpoint, and nothing from the caller's AWS setup.
bench_cxb_env() {
	BENCH_ENV=(PATH=/usr/sbin:/usr/bin:/sbin:/bin
	    AWS_ACCESS_KEY_ID="$BENCH_ACCESS_KEY"
	    AWS_SECRET_ACCESS_KEY="$BENCH_SECRET_KEY"
	    AWS_REGION="$BENCH_REGION"
	    AWS_ENDPOINT_URL="http://127.0.0.1:$SINK_PORT"
	    AWS_SHARED_CREDENTIALS_FILE=/nonexistent
	    AWS_CONFIG_FILE=/nonexistent)
}

# Starts cxbridge (optionally under a wrapper such as valgrind: $3...) with
# stderr to $2; sets CXB_PID and CXB_PORT.  $1: work directory.  A simple
# command, so that $! is the daemon (or its wrapper) and not a subshell.
bench_start_cxb() {
	local tmp=$1 log=$2
	shift 2
	bench_cxb_env
	env -i "${BENCH_ENV[@]}" "$@" "$CXB_BIN" -c "$tmp/cxbridge.conf" \
	    >/dev/null 2>"$log" &
	CXB_PID=$!
	bench_track "$CXB_PID"
	bench_wait_code "http://127.0.0.1:$CXB_PORT/ready" "${BENCH_START_TIMEOUT:-15}" ||
		bench_die "cxbridge did not become ready: $(tail -5 "$log")"
}

# Sum of one metric family's samples from cxbridge's /metrics.
bench_metric() {
	curl -s --max-time 5 "http://127.0.0.1:$CXB_PORT/metrics" |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF; f = 1 } END { if (f) printf "%.0f\n", s; else print "NA" }'
}

# Waits up to 10 s for the daemon's queue to drain after a load stops.
bench_quiesce() {
	local i
	for i in $(seq 100); do
		[ "$(bench_metric cxbridge_queue_depth)" = 0 ] && break
		sleep 0.1
	done
	sleep 0.2
}

# One counter of the sink's GET /stats.
bench_sink_stat() {
	curl -s --max-time 5 "http://127.0.0.1:$SINK_PORT/stats" |
		/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# CPU ticks (user + system, every thread) of the given pids.
bench_cpu_ticks() {
	local pid t=0 s
	for pid in "$@"; do
		s=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || s=0
		t=$((t + ${s:-0}))
	done
	echo "$t"
}

# VmRSS / VmHWM of pid $1 in KiB.
bench_mem_kib() {
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# Proportional set size of pid $1 in KiB: shared library pages divided
# among the processes that map them (0 if the kernel has no smaps_rollup).
bench_pss_kib() {
	awk '$1 == "Pss:" { print $2; f = 1 } END { if (!f) print 0 }' \
	    "/proc/$1/smaps_rollup" 2>/dev/null || echo 0
}
