#!/bin/sh
# systemd-check.sh - checks what ships around the binary: unit files, alerting
# rules, man pages.  `make check` runs it after the integration tests.
#   CXB_BIN=build/cxbridge tests/systemd-check.sh
# 1. systemd-analyze security --offline=yes rates systemd/cxbridge.service at
#    MAX_EXPOSURE (2.0) or lower;
# 2. systemd-analyze verify --man=no passes, silently, on a copy of both units
#    whose ExecStart is the built binary ($CXB_BIN);
# 3. promtool check rules and promtool test rules pass on docs/cxbridge-alerts.yml;
# 4. man --warnings renders docs/cxbridge.8 and docs/cxbridge.conf.5 silently.
# Exit: 0 all passed, 1 a check failed, 2 a tool or the binary is missing.
set -u
cd "$(dirname "$0")/.." || exit 2
MAX_EXPOSURE=${MAX_EXPOSURE:-2.0}
CXB_BIN=${CXB_BIN:-build/cxbridge}

for tool in systemd-analyze promtool man; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$0: $tool not found (make deps)" >&2
		exit 2
	fi
done
if [ ! -x "$CXB_BIN" ]; then
	echo "$0: $CXB_BIN is not an executable; build first" >&2
	exit 2
fi
case $CXB_BIN in
/*) ;;
*) CXB_BIN=$(pwd)/$CXB_BIN ;;
esac
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM
passed=0
failed=0

ok() {
	echo "systemd-check: $1: ok${2:+ ($2)}"
	passed=$((passed + 1))
}

bad() {
	echo "systemd-check: $1: FAILED" >&2
	[ -s "$tmp/out" ] && sed 's/^/    /' "$tmp/out" >&2
	failed=$((failed + 1))
}

# 1. Exposure.  --threshold counts in tenths; the parsed figure is checked too,
# so a change in either way of reporting cannot pass unnoticed.
threshold=$(awk -v m="$MAX_EXPOSURE" 'BEGIN { printf "%d", m * 10 + 0.5 }')
LC_ALL=C.UTF-8 systemd-analyze security --offline=yes --threshold="$threshold" \
    systemd/cxbridge.service >"$tmp/out" 2>&1
rc=$?
exposure=$(sed -n 's/.*Overall exposure level for cxbridge\.service: \([0-9.]*\).*/\1/p' \
    "$tmp/out")
if [ "$rc" -eq 0 ] && [ -n "$exposure" ] &&
    awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }'; then
	ok "security exposure" "$exposure <= $MAX_EXPOSURE"
else
	echo "exposure ${exposure:-unknown}, limit $MAX_EXPOSURE, exit $rc" >>"$tmp/out"
	bad "security exposure"
fi

# 2. verify: the units as installed, with ExecStart at the built binary.
sed "s|^ExecStart=[^ ]*/cxbridge |ExecStart=$CXB_BIN |" systemd/cxbridge.service \
    >"$tmp/cxbridge.service"
cp systemd/cxbridge.socket "$tmp/cxbridge.socket"
if ! grep -q "^ExecStart=$CXB_BIN " "$tmp/cxbridge.service"; then
	echo "ExecStart was not rewritten" >"$tmp/out"
	bad "systemd-analyze verify"
elif systemd-analyze verify --man=no "$tmp/cxbridge.service" \
    "$tmp/cxbridge.socket" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ]; then
	ok "systemd-analyze verify"
else
	bad "systemd-analyze verify"
fi

# 3. Alerting rules: syntax and lint, then behaviour.
if promtool check rules docs/cxbridge-alerts.yml >"$tmp/out" 2>&1; then
	ok "promtool check rules"
else
	bad "promtool check rules"
fi
sed "s|@RULES@|$(pwd)/docs/cxbridge-alerts.yml|" >"$tmp/alerts-test.yml" <<'EOF'
rule_files: ["@RULES@"]
evaluation_interval: 1m
tests:
  # Trouble everywhere on instance a: every alert fires, at its severity.
  - interval: 1m
    input_series:
      - series: 'up{job="cxbridge",instance="a"}'
        values: '0x10'
      - series: 'cxbridge_queue_depth{instance="a"}'
        values: '9500x10'
      - series: 'cxbridge_queue_capacity{instance="a"}'
        values: '10000x10'
      - series: 'cxbridge_credentials_expiry_seconds{instance="a"}'
        values: '1800-60x20'
      - series: 'cxbridge_circuit_state{instance="a"}'
        values: '1x10'
      - series: 'cxbridge_events_received_total{instance="a"}'
        values: '0+100x20'
      - series: 'cxbridge_events_dead_lettered_total{instance="a",reason="deadline"}'
        values: '0+5x20'
      - series: 'cxbridge_events_failed_total{instance="a"}'
        values: '0+30x20'
      - series: 'cxbridge_http_requests_total{instance="a",path="webhook",code="200"}'
        values: '0+60x20'
      - series: 'cxbridge_http_requests_total{instance="a",path="webhook",code="503"}'
        values: '0+30x20'
      - series: 'cxbridge_events_rejected_total{instance="a",reason="unauthorized"}'
        values: '0+20x20'
    alert_rule_test:
      - eval_time: 3m
        alertname: CxbridgeDown
        exp_alerts:
          - exp_labels: {severity: critical, job: cxbridge, instance: a}
            exp_annotations:
              summary: "cxbridge a is not answering /metrics"
              description: "The scrape has failed for 2 minutes. The load balancer should have taken the instance out; check the service with systemctl status cxbridge."
      - eval_time: 3m
        alertname: CxbridgeQueueFilling
        exp_alerts: []
      - eval_time: 6m
        alertname: CxbridgeQueueFilling
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "cxbridge a delivery queue is 95% full"
              description: "Events arrive faster than EventBridge takes them. See docs/operations.md, Alerts."
      - eval_time: 2m
        alertname: CxbridgeQueueSaturated
        exp_alerts:
          - exp_labels: {severity: critical, instance: a}
            exp_annotations:
              summary: "cxbridge a delivery queue is 95% full"
              description: "/ready fails and senders are being told to retry (429). See docs/operations.md, Alerts."
      - eval_time: 3m
        alertname: CxbridgeCircuitOpen
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "cxbridge a circuit breaker to EventBridge is not closed"
              description: "Events go straight to the DLQ (reason circuit_open). Check cxbridge_putevents_calls_total by outcome."
      - eval_time: 6m
        alertname: CxbridgeCredentialsExpiring
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "cxbridge a AWS credentials expire in 24m 0s"
              description: "Past expiry /ready fails and no event is delivered."
      - eval_time: 20m
        alertname: CxbridgeCredentialsExpiring
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "cxbridge a AWS credentials expire in 10m 0s"
              description: "Past expiry /ready fails and no event is delivered."
      - eval_time: 10m
        alertname: CxbridgeDeadLetterRateHigh
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "cxbridge a sends 5% of events to the DLQ"
              description: "Check cxbridge_events_dead_lettered_total by reason; redrive once EventBridge takes events again (docs/operations.md, Redrive)."
      - eval_time: 10m
        alertname: CxbridgeEventsFailing
        exp_alerts:
          - exp_labels: {severity: critical, instance: a}
            exp_annotations:
              summary: "cxbridge a: EventBridge and the DLQ both refuse events"
              description: "Senders are answered 503 and keep their events. Check IAM, the bus and the queue, and AWS health."
      - eval_time: 10m
        alertname: CxbridgeWebhookErrorRate
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "cxbridge a answers 33.33% of webhooks with 5xx"
              description: "Senders are retrying. Draining, no durable destination or an internal error; see the log."
      - eval_time: 15m
        alertname: CxbridgeWebhooksUnauthorized
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations:
              summary: "cxbridge a refuses 22.22% of webhooks as unauthorized"
              description: "Check that CXone and the secret file agree; during a rotation keep both secrets (docs/operations.md, Secrets)."
  # A healthy instance b: long-term keys, out-of-order spills only (the
  # ordering policy at work), no 5xx.  Nothing fires.
  - interval: 1m
    input_series:
      - series: 'up{job="cxbridge",instance="b"}'
        values: '1x20'
      - series: 'cxbridge_queue_depth{instance="b"}'
        values: '40x20'
      - series: 'cxbridge_queue_capacity{instance="b"}'
        values: '10000x20'
      - series: 'cxbridge_credentials_expiry_seconds{instance="b"}'
        values: '+Inf +Inf +Inf +Inf +Inf +Inf +Inf +Inf +Inf +Inf +Inf
          +Inf +Inf +Inf +Inf +Inf +Inf +Inf +Inf +Inf +Inf'
      - series: 'cxbridge_circuit_state{instance="b"}'
        values: '0x20'
      - series: 'cxbridge_events_received_total{instance="b"}'
        values: '0+100x20'
      - series: 'cxbridge_events_dead_lettered_total{instance="b",reason="out_of_order"}'
        values: '0+10x20'
      - series: 'cxbridge_events_failed_total{instance="b"}'
        values: '0x20'
      - series: 'cxbridge_http_requests_total{instance="b",path="webhook",code="200"}'
        values: '0+100x20'
    alert_rule_test:
      - {eval_time: 15m, alertname: CxbridgeDown, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeQueueFilling, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeQueueSaturated, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeCircuitOpen, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeCredentialsExpiring, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeDeadLetterRateHigh, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeEventsFailing, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeWebhookErrorRate, exp_alerts: []}
      - {eval_time: 15m, alertname: CxbridgeWebhooksUnauthorized, exp_alerts: []}
EOF
if promtool test rules "$tmp/alerts-test.yml" >"$tmp/out" 2>&1; then
	ok "promtool test rules"
else
	bad "promtool test rules"
fi
# Every metric the rules use must be one docs/metrics.md documents.
: >"$tmp/out"
for m in $(grep -o 'cxbridge_[a-z_]*' docs/cxbridge-alerts.yml | sort -u); do
	grep -q "\`$m\`" docs/metrics.md || echo "$m is not in docs/metrics.md" >>"$tmp/out"
done
if [ -s "$tmp/out" ]; then
	bad "alert metric names"
else
	ok "alert metric names"
fi

# 4. Man pages: groff's warnings go to stderr while man still exits 0.
for page in docs/cxbridge.8 docs/cxbridge.conf.5; do
	if MANWIDTH=80 man --warnings -l "$page" 2>"$tmp/out" >/dev/null &&
	    [ ! -s "$tmp/out" ]; then
		ok "man $page"
	else
		bad "man $page"
	fi
done

echo "systemd-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
