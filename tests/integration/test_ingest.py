"""test_ingest.py - the webhook side of the real daemon, over HTTP.

Every status path of the contract's table, the size, depth and schema
limits, the EventBridge mapping as the stand-in records it, duplicates,
ordering and the full queue.  Each test starts its own stand-in and daemon
(harness.QuickBridgeTest); a class's CONF tunes the configuration.
"""

import calendar
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import QuickBridgeTest, TOKEN, iso_ms, routing_event  # noqa: E402

WEBHOOK = "/webhook/routing-events"
WAIT_S = 10          # upper bound of any wait in these tests


def now_ms():
    return int(time.time() * 1000)


def sample(text, name, **labels):
    """The value of one sample of an exposition: name plus exact labels."""
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, value = line.rsplit(" ", 1)
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$", key)
        if m is None or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                              m.group(2) or ""))
        if got == labels:
            return float(value)
    return 0.0


def raw_exchange(port, head, chunks=(), timeout=WAIT_S):
    """Sends head (and then chunks) on a fresh socket; returns (status,
    headers, body, bytes of the body that could not be sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    unsent = 0
    try:
        s.sendall(head)
        for i, c in enumerate(chunks):
            try:
                s.sendall(c)
            except OSError:
                unsent = sum(len(x) for x in chunks[i:])
                break
        data = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                got = s.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data:
                hdr, _, body = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", hdr)
                if m and len(body) >= int(m.group(1)):
                    break
    finally:
        s.close()
    hdr, _, body = data.partition(b"\r\n\r\n")
    lines = hdr.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/") else None
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return status, headers, body, unsent


def post_head(path, extra, token=TOKEN):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\n"
            "Authorization: Bearer %s\r\n%s\r\n" % (path, token, extra)).encode()


class IngestTest(QuickBridgeTest):
    """Common checks on top of QuickBridgeTest."""

    def records(self):
        return self.bridge.standin.records()

    def assert_nothing_delivered(self):
        rec = self.records()
        self.assertEqual(rec["events"], [], "an event reached EventBridge")
        self.assertEqual(rec["messages"], [], "an event reached the DLQ")

    def assert_accepted(self, r, ev, destination="eventbridge"):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "accepted", "id": ev["id"],
                                  "destination": destination})

    def assert_error(self, r, status, error):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        self.assertEqual(r.json.get("error"), error, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith(
            "application/json"), r.headers)

    def assert_schema_error(self, r, pointer=None, rule=None):
        self.assert_error(r, 400, "schema")
        self.assertIsInstance(r.json.get("message"), str)
        if pointer is not None:
            self.assertEqual(r.json.get("pointer"), pointer, r)
        if rule is not None:
            self.assertEqual(r.json.get("rule"), rule, r)

    def metrics_text(self):
        return self.bridge.get("/metrics").body


# ---- probes and metrics ---------------------------------------------------

class ProbeTest(IngestTest):
    def test_health_is_200(self):
        r = self.bridge.get("/health")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok"})

    def test_ready_is_200(self):
        r = self.bridge.get("/ready")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ready"})

    def test_metrics_is_prometheus_text_0_0_4(self):
        r = self.bridge.get("/metrics")
        self.assertEqual(r.status, 200, r)
        ctype = r.headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertIn("version=0.0.4", ctype)
        self.assertIn("cxbridge_build_info", r.body)

    def test_metrics_pass_promtool_after_traffic(self):
        # Traffic first, so labelled children and histograms have samples.
        self.assertEqual(self.bridge.post(routing_event()).status, 200)
        self.assertEqual(self.bridge.post({"x": 1}).status, 400)
        self.assertEqual(self.bridge.post(routing_event(), token="nope").status, 401)
        self.assertEqual(self.bridge.get("/nowhere").status, 404)
        url = "http://127.0.0.1:%d/metrics" % self.bridge.port
        p = subprocess.run([os.path.join(harness.ROOT, "tests", "promtool-check.sh"), url],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, "promtool-check: %s%s" % (p.stdout, p.stderr))

    def test_metrics_counters_follow_outcomes(self):
        before = self.metrics_text()
        ev = routing_event()
        self.assertEqual(self.bridge.post(ev).status, 200)
        self.assertEqual(self.bridge.post(ev).json["status"], "duplicate")
        self.assertEqual(self.bridge.post(routing_event(id="x")).status, 400)
        self.assertEqual(self.bridge.post(routing_event(), token="bad-token-xx").status, 401)
        after = self.metrics_text()

        def delta(name, **labels):
            return sample(after, name, **labels) - sample(before, name, **labels)

        self.assertEqual(delta("cxbridge_events_published_total"), 1)
        self.assertEqual(delta("cxbridge_events_duplicate_total"), 1)
        self.assertEqual(delta("cxbridge_events_rejected_total", reason="schema"), 1)
        self.assertEqual(delta("cxbridge_events_rejected_total", reason="unauthorized"), 1)
        self.assertEqual(delta("cxbridge_http_requests_total", path="webhook", code="200"), 2)
        self.assertEqual(delta("cxbridge_http_requests_total", path="webhook", code="400"), 1)
        self.assertEqual(delta("cxbridge_http_requests_total", path="webhook", code="401"), 1)
        # The first scrape itself is counted by the time of the second.
        self.assertGreaterEqual(delta("cxbridge_http_requests_total", path="metrics", code="200"), 1)


# ---- routing and HTTP-level refusals --------------------------------------

class HttpRefusalTest(IngestTest):
    def test_unknown_path_is_404(self):
        r = self.bridge.get("/webhook/other")
        self.assert_error(r, 404, "not_found")
        r = self.bridge.post(routing_event(), path="/webhook/other")
        self.assert_error(r, 404, "not_found")
        self.assert_nothing_delivered()

    def test_get_on_webhook_is_405(self):
        r = self.bridge.get(WEBHOOK)
        self.assert_error(r, 405, "method")
        self.assertIn("POST", r.headers.get("Allow", ""))

    def test_put_on_webhook_is_405(self):
        r = self.bridge.request("PUT", WEBHOOK, json.dumps(routing_event()).encode(),
                                {"Content-Type": "application/json",
                                 "Authorization": "Bearer " + TOKEN})
        self.assert_error(r, 405, "method")
        self.assert_nothing_delivered()

    def test_post_on_health_is_405(self):
        r = self.bridge.request("POST", "/health", b"{}", {"Content-Type": "application/json"})
        self.assert_error(r, 405, "method")

    def test_405_on_webhook_allows_only_post(self):
        # RFC 9110: Allow lists the methods the resource supports.
        allow = {m.strip() for m in self.bridge.get(WEBHOOK).headers.get("Allow", "").split(",")}
        self.assertEqual(allow, {"POST"})

    def test_405_on_probe_allows_get_and_head_only(self):
        r = self.bridge.request("POST", "/health", b"{}", {"Content-Type": "application/json"})
        allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
        self.assertEqual(allow, {"GET", "HEAD"})

    def test_post_on_metrics_is_405(self):
        r = self.bridge.request("POST", "/metrics", b"{}", {"Content-Type": "application/json"})
        self.assert_error(r, 405, "method")

    def test_text_plain_is_415(self):
        r = self.bridge.post(routing_event(), headers={"Content-Type": "text/plain"})
        self.assert_error(r, 415, "content_type")
        self.assert_nothing_delivered()

    def test_missing_content_type_is_415(self):
        r = self.bridge.request("POST", WEBHOOK, json.dumps(routing_event()).encode(),
                                {"Authorization": "Bearer " + TOKEN})
        self.assert_error(r, 415, "content_type")
        self.assert_nothing_delivered()

    def test_json_with_charset_is_accepted(self):
        ev = routing_event()
        r = self.bridge.post(ev, headers={"Content-Type": "application/json; charset=utf-8"})
        self.assert_accepted(r, ev)


class BodyLimitTest(IngestTest):
    CONF = {"server": {"max_body_bytes": "4096"}}

    def test_content_length_over_limit_is_413_before_the_body(self):
        head = post_head(WEBHOOK, "Content-Length: 10000000\r\n")
        status, headers, body, _ = raw_exchange(self.bridge.port, head)
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["error"], "too_large")
        self.assert_nothing_delivered()

    def body_of(self, size):
        ev = routing_event(pad="")
        ev["pad"] = "x" * (size - len(json.dumps(ev).encode()))
        data = json.dumps(ev).encode()
        self.assertEqual(len(data), size)
        return ev, data

    def test_body_of_max_body_bytes_is_accepted(self):
        ev, data = self.body_of(4096)
        self.assert_accepted(self.bridge.post(data), ev)

    def test_body_one_over_max_body_bytes_is_413(self):
        ev, data = self.body_of(4097)
        r = self.bridge.post(data)
        self.assert_error(r, 413, "too_large")
        self.assert_nothing_delivered()
        self.assertEqual(sample(self.metrics_text(), "cxbridge_http_requests_total",
                                path="webhook", code="413"), 1)

    def test_chunked_body_over_limit_is_413(self):
        head = post_head(WEBHOOK, "Transfer-Encoding: chunked\r\n")
        piece = b"x" * 1000
        chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 10 + [b"0\r\n\r\n"]
        status, headers, body, _ = raw_exchange(self.bridge.port, head, chunks)
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["error"], "too_large")
        self.assert_nothing_delivered()
        self.assertEqual(self.bridge.get("/health").status, 200)

    def test_chunked_body_under_limit_is_accepted(self):
        ev = routing_event()
        data = json.dumps(ev).encode()
        head = post_head(WEBHOOK, "Transfer-Encoding: chunked\r\n")
        half = len(data) // 2
        chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in (data[:half], data[half:])]
        status, headers, body, _ = raw_exchange(self.bridge.port, head, chunks + [b"0\r\n\r\n"])
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"status": "accepted", "id": ev["id"],
                                            "destination": "eventbridge"})
        self.assertEqual(len(self.records()["events"]), 1)


class EntryLimitTest(IngestTest):
    # The body limit stays at its default (262144); only the entry is capped.
    CONF = {"validation": {"max_entry_bytes": "1024"}}

    def body_with_entry_size(self, size):
        """A valid event whose EventBridge entry is exactly size bytes."""
        ev = routing_event(pad="")
        base = len(json.dumps(ev).encode())
        overhead = 14 + len("nice.cxone.routing") + len(ev["eventType"])
        ev["pad"] = "p" * (size - overhead - base)
        data = json.dumps(ev).encode()
        self.assertEqual(14 + len("nice.cxone.routing") + len(ev["eventType"]) + len(data), size)
        return ev, data

    def test_entry_over_max_entry_bytes_is_413(self):
        ev, data = self.body_with_entry_size(1025)
        r = self.bridge.post(data)
        self.assert_error(r, 413, "too_large")
        self.assert_nothing_delivered()
        self.assertEqual(sample(self.metrics_text(), "cxbridge_events_rejected_total",
                                reason="too_large"), 1)

    def test_entry_at_max_entry_bytes_is_accepted(self):
        ev, data = self.body_with_entry_size(1024)
        r = self.bridge.post(data)
        self.assert_accepted(r, ev)
        self.assertEqual(len(self.records()["events"]), 1)

    def test_entry_size_counts_utf8_bytes(self):
        # 450 two-byte characters: 900 bytes, so the entry is over 1024
        # although it has under 1024 characters.
        ev = routing_event(pad="\u00e9" * 450)
        data = json.dumps(ev, ensure_ascii=False).encode()
        self.assertLess(len(data.decode()) + 54, 1024)
        self.assertGreater(len(data) + 54, 1024)
        r = self.bridge.post(data)
        self.assert_error(r, 413, "too_large")
        self.assert_nothing_delivered()


# ---- 400: bodies that are not acceptable JSON ------------------------------

class BadJsonTest(IngestTest):
    def test_not_json_is_400(self):
        r = self.bridge.post(b'{"id": "abc", ')
        self.assert_schema_error(r)
        self.assert_nothing_delivered()

    def test_empty_body_is_400(self):
        r = self.bridge.post(b"")
        self.assert_schema_error(r)
        self.assert_nothing_delivered()

    def test_invalid_utf8_is_400(self):
        data = json.dumps(routing_event()).encode().replace(b'"a-1"', b'"a-\xff\xfe"')
        self.assertIn(b"\xff", data)
        r = self.bridge.post(data)
        self.assert_schema_error(r)
        self.assertIn("UTF-8", r.json["message"])
        self.assert_nothing_delivered()

    def test_utf8_surrogate_is_400(self):
        # CESU-style encoded surrogate U+D800: not well-formed UTF-8.
        data = json.dumps(routing_event()).encode().replace(b'"a-1"', b'"a-\xed\xa0\x80"')
        r = self.bridge.post(data)
        self.assert_schema_error(r)
        self.assert_nothing_delivered()

    def test_nesting_over_max_json_depth_is_400(self):
        # Root object is level 1, so 32 brackets inside make level 33.
        data = json.dumps(routing_event()).encode()[:-1] + b', "x": ' + \
            b"[" * 32 + b"]" * 32 + b"}"
        r = self.bridge.post(data)
        self.assert_schema_error(r)
        self.assertIn("deep", r.json["message"])
        self.assert_nothing_delivered()

    def test_nesting_at_max_json_depth_is_accepted(self):
        ev = routing_event()
        data = json.dumps(ev).encode()[:-1] + b', "x": ' + b"[" * 31 + b"]" * 31 + b"}"
        r = self.bridge.post(data)
        self.assert_accepted(r, ev)

    def test_hundred_thousand_deep_nesting_is_400(self):
        data = b"[" * 100000 + b"]" * 100000
        r = self.bridge.post(data)
        self.assert_schema_error(r)
        self.assert_nothing_delivered()
        self.assertEqual(self.bridge.get("/health").status, 200)

    def test_duplicate_keys_are_400(self):
        ev = routing_event()
        data = json.dumps(ev).encode()[:-1] + b', "eventType": "routing:other"}'
        r = self.bridge.post(data)
        self.assert_schema_error(r)
        self.assert_nothing_delivered()

    def test_top_level_array_is_400(self):
        r = self.bridge.post(json.dumps([routing_event()]).encode())
        self.assert_schema_error(r)
        self.assert_nothing_delivered()

    def test_huge_integer_is_400(self):
        data = json.dumps(routing_event()).encode().replace(
            b'"waitTimeMs": 1200', b'"waitTimeMs": ' + b"9" * 40)
        self.assertIn(b"9" * 40, data)
        r = self.bridge.post(data)
        self.assert_schema_error(r)
        self.assert_nothing_delivered()


# ---- 400: schema rules on the default schema --------------------------------

class SchemaTest(IngestTest):
    def reject(self, ev, pointer, rule):
        r = self.bridge.post(ev)
        self.assert_schema_error(r, pointer, rule)
        self.assert_nothing_delivered()
        return r

    def test_negative_wait_time_fails_minimum(self):
        ev = routing_event()
        ev["routingContext"]["waitTimeMs"] = -1
        self.reject(ev, "/routingContext/waitTimeMs", "minimum")

    def test_string_wait_time_fails_type(self):
        ev = routing_event()
        ev["routingContext"]["waitTimeMs"] = "1200"
        self.reject(ev, "/routingContext/waitTimeMs", "type")

    def test_id_not_uuid_fails_format(self):
        self.reject(routing_event(id="not-a-uuid"), "/id", "format")

    def test_missing_retry_directive_fails_required(self):
        ev = routing_event()
        del ev["retryDirective"]
        self.reject(ev, "/retryDirective", "required")

    def test_missing_agent_id_fails_required(self):
        ev = routing_event()
        del ev["routingContext"]["agentId"]
        self.reject(ev, "/routingContext/agentId", "required")

    def test_event_type_without_routing_prefix_fails_pattern(self):
        self.reject(routing_event(eventType="contact.queued"), "/eventType", "pattern")

    def test_max_attempts_eleven_fails_maximum(self):
        ev = routing_event()
        ev["retryDirective"]["maxAttempts"] = 11
        self.reject(ev, "/retryDirective/maxAttempts", "maximum")

    def test_max_attempts_zero_fails_minimum(self):
        ev = routing_event()
        ev["retryDirective"]["maxAttempts"] = 0
        self.reject(ev, "/retryDirective/maxAttempts", "minimum")

    def test_backoff_under_100_fails_minimum(self):
        ev = routing_event()
        ev["retryDirective"]["backoffMs"] = 99
        self.reject(ev, "/retryDirective/backoffMs", "minimum")

    def test_bad_schema_version_fails_pattern(self):
        self.reject(routing_event(schemaVersion="1.0"), "/schemaVersion", "pattern")

    def test_routing_context_array_fails_type(self):
        self.reject(routing_event(routingContext=[]), "/routingContext", "type")

    def test_limits_inclusive_are_accepted(self):
        ev = routing_event()
        ev["routingContext"]["waitTimeMs"] = 0
        ev["retryDirective"] = {"maxAttempts": 10, "backoffMs": 100}
        self.assert_accepted(self.bridge.post(ev), ev)

    def test_unknown_top_level_member_is_accepted(self):
        ev = routing_event(newField={"a": 1})
        self.assert_accepted(self.bridge.post(ev), ev)

    def test_timestamp_not_rfc3339_is_400(self):
        self.reject(routing_event(timestamp="2024-01-01 10:00:00"), "/timestamp", None)

    def test_timestamp_impossible_date_is_400(self):
        self.reject(routing_event(timestamp="2024-02-30T10:00:00Z"), "/timestamp", None)

    def test_timestamp_without_offset_is_400(self):
        self.reject(routing_event(timestamp="2024-01-01T10:00:00"), "/timestamp", None)

    def test_timestamp_beyond_max_future_is_400(self):
        r = self.reject(routing_event(timestamp=iso_ms(now_ms() + 400 * 1000)),
                        "/timestamp", None)
        self.assertIn("future", r.json["message"])

    def test_timestamp_within_max_future_is_accepted(self):
        ev = routing_event(timestamp=iso_ms(now_ms() + 200 * 1000))
        self.assert_accepted(self.bridge.post(ev), ev)

    def test_rejections_count_as_schema(self):
        before = self.metrics_text()
        self.bridge.post(routing_event(id="nope"))
        self.bridge.post(b"[]")
        after = self.metrics_text()
        self.assertEqual(sample(after, "cxbridge_events_rejected_total", reason="schema") -
                         sample(before, "cxbridge_events_rejected_total", reason="schema"), 2)


class MaxDepthConfigTest(IngestTest):
    CONF = {"server": {"max_json_depth": "3"}}

    def test_configured_max_json_depth(self):
        ev = routing_event(x=[[]])              # root, x, x[0]: depth 3
        self.assert_accepted(self.bridge.post(ev), ev)
        r = self.bridge.post(routing_event(x=[[[]]]))
        self.assert_schema_error(r)
        self.assertEqual(len(self.records()["events"]), 1)


class FutureZeroTest(IngestTest):
    CONF = {"validation": {"max_future_s": "0"}}

    def test_timestamp_a_minute_ahead_is_400(self):
        r = self.bridge.post(routing_event(timestamp=iso_ms(now_ms() + 60 * 1000)))
        self.assert_schema_error(r, "/timestamp")
        self.assert_nothing_delivered()


# ---- accepted: the EventBridge entry ----------------------------------------

def offset_timestamp(epoch_ms, offset_min):
    """RFC 3339 text of epoch_ms with a numeric offset (e.g. +02:00)."""
    t = time.gmtime(epoch_ms / 1000 + offset_min * 60)
    sign = "+" if offset_min >= 0 else "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03d%s%02d:%02d" % (
        epoch_ms % 1000, sign, abs(offset_min) // 60, abs(offset_min) % 60)


class AcceptedTest(IngestTest):
    def test_accepted_answer_and_entry(self):
        ts = now_ms() - 5000
        ev = routing_event(timestamp=offset_timestamp(ts, 120))
        # Odd spacing, key order and a non-ASCII character: Detail must be
        # these exact bytes, not a re-serialization.
        data = json.dumps(ev, indent=1, ensure_ascii=False).encode()[:-1] + \
            ' , "note" : "caf\u00e9 \\u00e9"\n}'.encode()
        r = self.bridge.post(data)
        self.assert_accepted(r, ev)
        events = self.records()["events"]
        self.assertEqual(len(events), 1)
        entry = events[0]["Entry"]
        self.assertEqual(entry["Source"], "nice.cxone.routing")
        self.assertEqual(entry["DetailType"], "routing:contact.queued")
        self.assertEqual(entry["Detail"].encode(), data)
        self.assertEqual(entry["EventBusName"], "default")
        self.assertAlmostEqual(entry["Time"], ts / 1000.0, places=3)
        self.assertNotIn("TraceHeader", entry)
        self.assertEqual(self.records()["messages"], [])

    def test_keep_alive_connection_reuses_its_state(self):
        """One connection, bodies of changing sizes (below and above the
        buffer a connection keeps, one over the length trusted from
        Content-Length, one chunked), a refused request in between: every
        answer and every Detail must be the request's own."""
        conn = http.client.HTTPConnection("127.0.0.1", self.bridge.port, timeout=30)
        headers = {"Content-Type": "application/json",
                   "Authorization": "Bearer " + TOKEN}
        sent = []
        try:
            for pad in (100, 20000, 300, 100000, 50, None, 700):
                if pad is None:
                    conn.request("POST", "/webhook/routing-events", body=b"{",
                                 headers=headers)
                    r = conn.getresponse()
                    self.assertEqual(r.status, 400)
                    r.read()
                    continue
                ev = routing_event(note="x" * pad)
                data = json.dumps(ev).encode()
                if pad == 300:
                    # No Content-Length: the body arrives chunked.
                    conn.request("POST", "/webhook/routing-events",
                                 body=iter([data[:7], data[7:]]),
                                 headers=headers, encode_chunked=True)
                else:
                    conn.request("POST", "/webhook/routing-events", body=data,
                                 headers=headers)
                r = conn.getresponse()
                answer = json.loads(r.read())
                self.assertEqual(r.status, 200, answer)
                self.assertEqual(answer, {"status": "accepted", "id": ev["id"],
                                          "destination": "eventbridge"})
                sent.append(data)
        finally:
            conn.close()
        details = [e["Entry"]["Detail"].encode() for e in self.records()["events"]]
        self.assertEqual(sorted(details), sorted(sent))

    def test_detail_type_follows_event_type(self):
        ev = routing_event(eventType="routing:agent.assigned")
        self.assert_accepted(self.bridge.post(ev), ev)
        self.assertEqual(self.records()["events"][0]["Entry"]["DetailType"],
                         "routing:agent.assigned")

    def test_trace_header_passes_through(self):
        ev = routing_event()
        trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        r = self.bridge.post(ev, headers={"X-Amzn-Trace-Id": trace})
        self.assert_accepted(r, ev)
        self.assertEqual(self.records()["events"][0]["Entry"]["TraceHeader"], trace)

    def test_accepted_is_counted_and_audited(self):
        ev = routing_event()
        self.assert_accepted(self.bridge.post(ev), ev)
        self.assertEqual(self.bridge.metric("cxbridge_events_published_total"), 1)
        deadline = time.time() + WAIT_S
        while '"outcome":"published"' not in self.bridge.logs() and time.time() < deadline:
            time.sleep(0.01)
        audit = [json.loads(line) for line in self.bridge.logs().splitlines()
                 if '"outcome"' in line and ev["id"] in line]
        self.assertEqual(len(audit), 1, self.bridge.logs())
        self.assertEqual(audit[0]["outcome"], "published")
        self.assertEqual(audit[0]["destinationId"], self.records()["events"][0]["EventId"])


class ConfiguredMappingTest(IngestTest):
    CONF = {"eventbridge": {"bus": "cxone-routing", "source": "acme.contact-center",
                            "detail_type": "CXone Routing Event"}}

    def test_configured_bus_source_and_detail_type(self):
        ev = routing_event()
        self.assert_accepted(self.bridge.post(ev), ev)
        entry = self.records()["events"][0]["Entry"]
        self.assertEqual(entry["EventBusName"], "cxone-routing")
        self.assertEqual(entry["Source"], "acme.contact-center")
        self.assertEqual(entry["DetailType"], "CXone Routing Event")
        self.assertEqual(json.loads(entry["Detail"]), ev)


class BusArnTest(IngestTest):
    ARN = "arn:aws:events:us-east-1:123456789012:event-bus/cxone"
    CONF = {"eventbridge": {"bus": ARN}}

    def test_bus_arn_is_the_event_bus_name(self):
        ev = routing_event()
        self.assert_accepted(self.bridge.post(ev), ev)
        self.assertEqual(self.records()["events"][0]["Entry"]["EventBusName"], self.ARN)


class EnrichTest(IngestTest):
    CONF = {"eventbridge": {"enrich": "true"}}

    def test_enrich_adds_cxbridge_member(self):
        ev = routing_event()
        before = time.time()
        self.assert_accepted(self.bridge.post(ev), ev)
        detail = json.loads(self.records()["events"][0]["Entry"]["Detail"])
        extra = detail.pop("cxbridge")
        self.assertEqual(detail, ev)
        self.assertEqual(set(extra), {"receivedAt", "correlationId", "instance"})
        self.assertEqual(extra["instance"], socket.gethostname())
        uuid.UUID(extra["correlationId"])
        self.assertRegex(extra["receivedAt"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
        got = calendar.timegm(time.strptime(extra["receivedAt"][:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertLess(abs(got - before), 5)

    def test_enrich_correlation_ids_differ(self):
        ids = []
        for _ in range(2):
            ev = routing_event()
            self.assert_accepted(self.bridge.post(ev), ev)
        for rec in self.records()["events"]:
            ids.append(json.loads(rec["Entry"]["Detail"])["cxbridge"]["correlationId"])
        self.assertEqual(len(set(ids)), 2)


# ---- duplicates -------------------------------------------------------------

def post_many(bridge, data, n, headers=None):
    """n threads post data at once; returns their Responses (or exceptions)."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def one(i):
        try:
            barrier.wait(WAIT_S)
            results[i] = bridge.post(data, headers=headers)
        except Exception as e:      # reported by the caller's assertions
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S * 2)
    return results


class DuplicateTest(IngestTest):
    def test_same_id_again_is_duplicate(self):
        ev = routing_event()
        self.assert_accepted(self.bridge.post(ev), ev)
        r = self.bridge.post(ev)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "duplicate", "id": ev["id"]})
        self.assertEqual(len(self.records()["events"]), 1)
        self.assertEqual(self.bridge.metric("cxbridge_events_duplicate_total"), 1)

    def test_same_id_with_other_content_is_duplicate(self):
        ev = routing_event()
        self.assert_accepted(self.bridge.post(ev), ev)
        other = routing_event(id=ev["id"], eventType="routing:contact.abandoned")
        r = self.bridge.post(other)
        self.assertEqual(r.json, {"status": "duplicate", "id": ev["id"]})
        self.assertEqual(len(self.records()["events"]), 1)

    def test_rejected_event_leaves_no_dedupe_record(self):
        ev = routing_event()
        bad = dict(ev, eventType="nope")
        self.assert_schema_error(self.bridge.post(bad), "/eventType", "pattern")
        self.assert_accepted(self.bridge.post(ev), ev)

    def test_twenty_concurrent_copies_publish_once(self):
        self.bridge.standin.fault(service="events", kind="delay", ms=500, count=1)
        ev = routing_event()
        results = post_many(self.bridge, json.dumps(ev).encode(), 20)
        for r in results:
            self.assertIsInstance(r, harness.Response, r)
            self.assertEqual(r.status, 200, r)
            self.assertIn(r.json.get("status"), ("accepted", "duplicate"), r)
            self.assertEqual(r.json.get("id"), ev["id"])
        rec = self.records()
        self.assertEqual(len(rec["events"]), 1, rec["events"])
        self.assertEqual(rec["faults_applied"]["events"].get("delay"), 1)
        self.assertEqual(rec["requests"]["events"], 1)
        self.assertEqual(self.bridge.metric("cxbridge_events_duplicate_total"), 19)
        self.assertEqual(self.bridge.metric("cxbridge_events_published_total"), 1)


class DedupeTtlTest(IngestTest):
    CONF = {"dedupe": {"ttl_s": "1"}}

    def test_id_is_forgotten_after_ttl(self):
        ev = routing_event()
        self.assert_accepted(self.bridge.post(ev), ev)
        self.assertEqual(self.bridge.post(ev).json["status"], "duplicate")
        time.sleep(2.1)
        self.assert_accepted(self.bridge.post(ev), ev)
        self.assertEqual(len(self.records()["events"]), 2)


class DedupeKeyTest(IngestTest):
    CONF = {"dedupe": {"key": "/routingContext/agentId"}}

    def test_dedupe_key_is_configurable(self):
        a = routing_event()
        a["routingContext"]["agentId"] = "agent-7"
        r = self.bridge.post(a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "accepted", "id": "agent-7",
                                  "destination": "eventbridge"})
        b = routing_event()          # another /id, the same agentId
        b["routingContext"]["agentId"] = "agent-7"
        r = self.bridge.post(b)
        self.assertEqual(r.json, {"status": "duplicate", "id": "agent-7"})
        c = routing_event(id=a["id"])   # the same /id, another agentId
        c["routingContext"]["agentId"] = "agent-8"
        r = self.bridge.post(c)
        self.assertEqual(r.json, {"status": "accepted", "id": "agent-8",
                                  "destination": "eventbridge"})
        details = [json.loads(e["Entry"]["Detail"]) for e in self.records()["events"]]
        self.assertEqual(details, [a, c])

    def test_missing_dedupe_key_is_400(self):
        ev = routing_event()
        ev["routingContext"]["agentId"] = ""
        r = self.bridge.post(ev)
        self.assert_schema_error(r, "/routingContext/agentId")
        self.assert_nothing_delivered()


# ---- ordering ---------------------------------------------------------------

def ordered_event(queue_id, ts_ms, **over):
    ev = routing_event(timestamp=iso_ms(ts_ms), **over)
    ev["routingContext"]["queueId"] = queue_id
    return ev


class OrderingDlqTest(IngestTest):
    """Default policy: dlq, tolerance 0."""

    def test_stale_event_goes_to_dlq(self):
        t = now_ms() - 1000
        fresh = ordered_event("q-1", t)
        stale = ordered_event("q-1", t - 5000, eventType="routing:contact.dequeued")
        self.assert_accepted(self.bridge.post(fresh), fresh)
        r = self.bridge.post(stale)
        self.assert_accepted(r, stale, destination="dlq")
        rec = self.records()
        self.assertEqual([json.loads(e["Entry"]["Detail"]) for e in rec["events"]], [fresh])
        self.assertEqual(len(rec["messages"]), 1)
        msg = rec["messages"][0]
        self.assertEqual(msg["QueueUrl"], self.bridge.queue_url)
        body = json.loads(msg["Body"])
        self.assertEqual(body["reason"], "out_of_order")
        self.assertEqual(body["event"], stale)
        self.assertEqual(body["entry"]["Source"], "nice.cxone.routing")
        self.assertEqual(body["entry"]["DetailType"], "routing:contact.dequeued")
        self.assertEqual(body["entry"]["EventBusName"], "default")
        attrs = msg["MessageAttributes"]
        self.assertEqual(attrs["reason"], {"DataType": "String", "StringValue": "out_of_order"})
        self.assertEqual(attrs["eventType"], {"DataType": "String",
                                              "StringValue": "routing:contact.dequeued"})
        text = self.metrics_text()
        self.assertEqual(sample(text, "cxbridge_events_out_of_order_total", policy="dlq"), 1)
        self.assertEqual(sample(text, "cxbridge_events_dead_lettered_total",
                                reason="out_of_order"), 1)

    def test_same_timestamp_is_fresh(self):
        t = now_ms() - 1000
        a, b = ordered_event("q-1", t), ordered_event("q-1", t)
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_accepted(self.bridge.post(b), b)
        self.assertEqual(len(self.records()["events"]), 2)

    def test_one_ms_older_is_stale(self):
        t = now_ms() - 1000
        a, b = ordered_event("q-1", t), ordered_event("q-1", t - 1)
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_accepted(self.bridge.post(b), b, destination="dlq")

    def test_newer_event_after_stale_one_is_published(self):
        t = now_ms() - 10000
        a = ordered_event("q-1", t)
        stale = ordered_event("q-1", t - 1000)
        newer = ordered_event("q-1", t + 1000)
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_accepted(self.bridge.post(stale), stale, destination="dlq")
        self.assert_accepted(self.bridge.post(newer), newer)
        self.assertEqual([json.loads(e["Entry"]["Detail"]) for e in self.records()["events"]],
                         [a, newer])

    def test_dlq_spill_is_remembered_for_dedupe(self):
        t = now_ms() - 1000
        a, stale = ordered_event("q-1", t), ordered_event("q-1", t - 5000)
        self.bridge.post(a)
        self.assert_accepted(self.bridge.post(stale), stale, destination="dlq")
        r = self.bridge.post(stale)
        self.assertEqual(r.json, {"status": "duplicate", "id": stale["id"]})
        self.assertEqual(len(self.records()["messages"]), 1)


class OrderingRejectTest(IngestTest):
    CONF = {"ordering": {"policy": "reject"}}

    def test_stale_event_is_409(self):
        t = now_ms() - 1000
        fresh, stale = ordered_event("q-1", t), ordered_event("q-1", t - 5000)
        self.assert_accepted(self.bridge.post(fresh), fresh)
        r = self.bridge.post(stale)
        self.assert_error(r, 409, "out_of_order")
        rec = self.records()
        self.assertEqual(len(rec["events"]), 1)
        self.assertEqual(rec["messages"], [])
        self.assertEqual(sample(self.metrics_text(), "cxbridge_events_out_of_order_total",
                                policy="reject"), 1)

    def test_409_counts_as_rejected_out_of_order(self):
        # docs/metrics.md lists out_of_order among the refusal reasons.
        t = now_ms() - 1000
        self.bridge.post(ordered_event("q-1", t))
        self.assert_error(self.bridge.post(ordered_event("q-1", t - 5000)), 409, "out_of_order")
        self.assertEqual(sample(self.metrics_text(), "cxbridge_events_rejected_total",
                                reason="out_of_order"), 1)

    def test_rejected_stale_event_can_be_sent_again(self):
        # A 409 leaves no dedupe record: the same id is judged afresh.
        t = now_ms() - 1000
        fresh, stale = ordered_event("q-1", t), ordered_event("q-1", t - 5000)
        self.bridge.post(fresh)
        self.assert_error(self.bridge.post(stale), 409, "out_of_order")
        self.assert_error(self.bridge.post(stale), 409, "out_of_order")

    def test_different_keys_do_not_interfere(self):
        t = now_ms() - 1000
        a = ordered_event("q-1", t)
        b = ordered_event("q-2", t - 5000)
        c = ordered_event("q-1", t - 5000)
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_accepted(self.bridge.post(b), b)
        self.assert_error(self.bridge.post(c), 409, "out_of_order")
        self.assertEqual(len(self.records()["events"]), 2)


class OrderingToleranceTest(IngestTest):
    CONF = {"ordering": {"policy": "reject", "tolerance_ms": "1000"}}

    def test_exactly_tolerance_older_is_fresh(self):
        t = now_ms() - 5000
        a, b = ordered_event("q-1", t), ordered_event("q-1", t - 1000)
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_accepted(self.bridge.post(b), b)
        self.assertEqual(len(self.records()["events"]), 2)

    def test_tolerance_plus_one_older_is_stale(self):
        t = now_ms() - 5000
        a, b = ordered_event("q-1", t), ordered_event("q-1", t - 1001)
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_error(self.bridge.post(b), 409, "out_of_order")
        self.assertEqual(len(self.records()["events"]), 1)

    def test_tolerated_older_event_does_not_lower_newest(self):
        t = now_ms() - 5000
        a = ordered_event("q-1", t)
        b = ordered_event("q-1", t - 1000)
        c = ordered_event("q-1", t - 1500)   # within 1000 of b, not of a
        self.bridge.post(a)
        self.assert_accepted(self.bridge.post(b), b)
        self.assert_error(self.bridge.post(c), 409, "out_of_order")


class OrderingAcceptTest(IngestTest):
    CONF = {"ordering": {"policy": "accept"}}

    def test_stale_event_is_published_and_counted(self):
        t = now_ms() - 1000
        fresh, stale = ordered_event("q-1", t), ordered_event("q-1", t - 5000)
        self.assert_accepted(self.bridge.post(fresh), fresh)
        self.assert_accepted(self.bridge.post(stale), stale)
        rec = self.records()
        self.assertEqual([json.loads(e["Entry"]["Detail"]) for e in rec["events"]],
                         [fresh, stale])
        self.assertEqual(rec["messages"], [])
        text = self.metrics_text()
        self.assertEqual(sample(text, "cxbridge_events_out_of_order_total", policy="accept"), 1)
        self.assertEqual(sample(text, "cxbridge_events_published_total"), 2)


class OrderingKeyConfigTest(IngestTest):
    CONF = {"ordering": {"policy": "reject", "key": "/routingContext/agentId"}}

    def test_ordering_key_is_configurable(self):
        t = now_ms() - 1000
        a = ordered_event("q-1", t)
        b = ordered_event("q-2", t - 5000)      # other queue, same agent a-1
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_error(self.bridge.post(b), 409, "out_of_order")


class OrderingOptionalKeyTest(IngestTest):
    CONF = {"ordering": {"policy": "reject", "key": "/shard"}}

    def test_event_without_ordering_key_is_not_ordered(self):
        t = now_ms() - 1000
        a = ordered_event("q-1", t, shard="s1")
        b = ordered_event("q-1", t - 5000)               # no /shard
        c = ordered_event("q-1", t - 5000, shard="s1")
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_accepted(self.bridge.post(b), b)
        self.assert_error(self.bridge.post(c), 409, "out_of_order")


class OrderingOffTest(IngestTest):
    CONF = {"ordering": {"key": "", "policy": "reject"}}

    def test_empty_key_switches_ordering_off(self):
        t = now_ms() - 1000
        a, b = ordered_event("q-1", t), ordered_event("q-1", t - 5000)
        self.assert_accepted(self.bridge.post(a), a)
        self.assert_accepted(self.bridge.post(b), b)


# ---- back-pressure ----------------------------------------------------------

class QueueFullTest(IngestTest):
    CONF = {"queue": {"capacity": "1"}, "server": {"retry_after_s": "7"}}

    def wait_for(self, cond, what):
        deadline = time.time() + WAIT_S
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.02)
        self.fail("timed out waiting for " + what)

    def test_second_event_while_queue_full_is_429(self):
        self.bridge.standin.fault(service="events", kind="delay", ms=1500, count=1)
        first = routing_event()
        out = {}
        t = threading.Thread(target=lambda: out.update(r=self.bridge.post(first)))
        t.start()
        try:
            self.wait_for(lambda: self.records()["requests"]["events"] >= 1,
                          "the first PutEvents call")
            second = routing_event()
            r = self.bridge.post(second)
            self.assert_error(r, 429, "busy")
            self.assertEqual(r.headers.get("Retry-After"), "7")
            # No headroom left in the queue: the balancer must look elsewhere.
            ready = self.bridge.get("/ready")
            self.assert_error(ready, 503, "not_ready")
        finally:
            t.join(WAIT_S)
        self.assert_accepted(out["r"], first)
        self.assertEqual(self.bridge.get("/ready").status, 200)
        self.assertEqual([json.loads(e["Entry"]["Detail"]) for e in self.records()["events"]],
                         [first])
        self.assertEqual(sample(self.metrics_text(), "cxbridge_events_rejected_total",
                                reason="queue_full"), 1)
        # The refused event left no dedupe record: it goes through now.
        self.assert_accepted(self.bridge.post(second), second)


if __name__ == "__main__":
    import unittest
    unittest.main()
