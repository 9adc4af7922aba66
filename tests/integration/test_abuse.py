"""test_abuse.py - hostile clients against the real daemon, over raw sockets.

Slow-loris headers, a flood of idle connections past max_connections,
headers and bodies over their limits (chunked too), bodies that are not
UTF-8, 100000 levels deep, with numbers no double holds or with duplicate
keys, wrong and replayed HMAC signatures, and a search of the whole debug
log for every secret, token, password, key and Authorization value used.

After each abuse the daemon must still be healthy: /health answers 200 and
a valid event is published.  Nothing refused may reach EventBridge or the
DLQ.  Numbers are bounded to what a 2-core test machine takes.
"""

import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (SECRET_KEY, TOKEN, Bridge, QuickBridgeTest,  # noqa: E402
                     Standin, routing_event)

WEBHOOK = "/webhook/routing-events"
WAIT_S = 10
DEBUG = {"log": {"level": "debug"}}


def conf(**sections):
    out = {k: dict(v) for k, v in DEBUG.items()}
    for name, kv in sections.items():
        out.setdefault(name, {}).update(kv)
    return out


def head(extra="", path=WEBHOOK, token=TOKEN, length=None):
    """A webhook request head; extra is more header lines, each ending CRLF."""
    lines = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" % path
    if token is not None:
        lines += "Authorization: Bearer %s\r\n" % token
    if length is not None:
        lines += "Content-Length: %d\r\n" % length
    return (lines + extra + "\r\n").encode()


def read_answer(sock, timeout=WAIT_S):
    """(status or None if closed without one, headers, body) of one answer."""
    sock.settimeout(timeout)
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            got = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        except socket.timeout:
            break
        if not got:
            break
        data += got
        if b"\r\n\r\n" in data:
            hdr, _, body = data.partition(b"\r\n\r\n")
            length = [ln.split(b":", 1)[1] for ln in hdr.split(b"\r\n")
                      if ln.lower().startswith(b"content-length:")]
            if length and len(body) >= int(length[0]):
                break
    hdr, _, body = data.partition(b"\r\n\r\n")
    lines = hdr.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if lines[0].startswith("HTTP/1.") else None
    headers = {}
    for ln in lines[1:]:
        k, sep, v = ln.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    return status, headers, body


def exchange(port, data, chunks=(), timeout=WAIT_S):
    """Sends data and chunks (stopping quietly if the daemon closes), then
    reads one answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
            for c in chunks:
                s.sendall(c)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_answer(s, timeout)
    finally:
        s.close()


def closed_by_peer(sock, timeout):
    """True once the daemon has closed sock (EOF or reset) within timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([sock], [], [], max(0.0, end - time.monotonic()))
        if not r:
            return False
        try:
            if sock.recv(4096) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def daemon_sockets(pid):
    """Sockets the daemon holds open, from /proc."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


class AbuseTest(QuickBridgeTest):
    CONF = conf()

    def records(self):
        return self.bridge.standin.records()

    def delivered_ids(self):
        rec = self.records()
        ids = [json.loads(e["Entry"]["Detail"]).get("id") for e in rec["events"]]
        ids += [(json.loads(m["Body"]).get("event") or {}).get("id") for m in rec["messages"]]
        return ids

    def assert_nothing_delivered(self):
        self.assertEqual(self.delivered_ids(), [], "a refused request was delivered")

    def assert_healthy(self):
        """The daemon is alive, answers /health, and still publishes."""
        self.assertIsNone(self.bridge.proc.poll(), "the daemon died:\n" + self.bridge.logs()[-3000:])
        self.assertEqual(self.bridge.get("/health").status, 200)
        ev = routing_event()
        r = self.bridge.post(ev)
        self.assertEqual((r.status, (r.json or {}).get("destination")), (200, "eventbridge"), r)
        self.assertIn(ev["id"], self.delivered_ids())
        return ev

    def post_body(self, body):
        if isinstance(body, str):
            body = body.encode()
        return self.bridge.post(body)


# ---- slow and idle connections --------------------------------------------------

class SlowLorisTest(AbuseTest):
    IDLE_S = 2
    CONF = conf(server={"idle_timeout_s": str(IDLE_S)})

    def test_headers_trickled_slower_than_idle_timeout_are_closed(self):
        """20 clients send a request head one byte every 3 s (idle timeout
        2 s): each is closed before its second byte, while the daemon keeps
        serving others."""
        data = head(length=2)
        n, gap = 20, self.IDLE_S + 1.0
        outcome = [None] * n

        def loris(i):
            s = socket.create_connection(("127.0.0.1", self.bridge.port))
            t0 = time.monotonic()
            try:
                for k in range(len(data)):
                    s.sendall(data[k:k + 1])
                    if closed_by_peer(s, gap):
                        outcome[i] = ("closed", k + 1, time.monotonic() - t0)
                        return
                outcome[i] = ("survived", len(data), time.monotonic() - t0)
            except (BrokenPipeError, ConnectionResetError):
                outcome[i] = ("closed", None, time.monotonic() - t0)
            finally:
                s.close()
        threads = [threading.Thread(target=loris, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        self.assert_healthy()                 # served while the lorises wait
        for t in threads:
            t.join(30)
        for o in outcome:
            self.assertIsNotNone(o)
            self.assertEqual(o[0], "closed", outcome)
            self.assertEqual(o[1], 1, "a slow client got to send a second byte: %r" % (o,))
            self.assertLess(o[2], self.IDLE_S + 1.0 + 0.5, o)
            self.assertGreaterEqual(o[2], self.IDLE_S - 0.5, o)
        self.assert_healthy()
        self.assert_only_the_probe_events()

    def assert_only_the_probe_events(self):
        # The lorises never completed a request: only the two probes' events.
        self.assertEqual(len(self.records()["events"]), 2)

    def test_body_trickled_slower_than_idle_timeout_is_closed(self):
        """A complete head, then a body that stalls: closed, nothing delivered."""
        ev = json.dumps(routing_event()).encode()
        s = socket.create_connection(("127.0.0.1", self.bridge.port))
        try:
            s.sendall(head(length=len(ev)) + ev[:10])
            t0 = time.monotonic()
            self.assertTrue(closed_by_peer(s, self.IDLE_S + 3), "a stalled body was kept open")
            self.assertLess(time.monotonic() - t0, self.IDLE_S + 1.5)
        finally:
            s.close()
        self.assertEqual(self.records()["events"], [])
        self.assert_healthy()


class ConnectionFloodTest(AbuseTest):
    LIMIT = 500
    CONF = conf(server={"max_connections": str(LIMIT), "idle_timeout_s": "60"})

    def test_idle_connections_past_max_connections(self):
        """600 idle connections with max_connections 500: the daemon holds at
        most 500; the rest (and a probe) wait in the backlog without being
        served; once the flood closes, the waiting probe and new ones are
        answered and events are published."""
        base = daemon_sockets(self.bridge.proc.pid)
        flood = []
        try:
            for _ in range(self.LIMIT + 100):
                flood.append(socket.create_connection(("127.0.0.1", self.bridge.port), timeout=5))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and \
                    daemon_sockets(self.bridge.proc.pid) - base < self.LIMIT:
                time.sleep(0.1)
            held = daemon_sockets(self.bridge.proc.pid) - base
            self.assertGreaterEqual(held, self.LIMIT - 5, "the flood never reached the limit")
            self.assertLessEqual(held, self.LIMIT + 2, "max_connections was not enforced")
            probe = socket.create_connection(("127.0.0.1", self.bridge.port), timeout=5)
            probe.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r, _, _ = select.select([probe], [], [], 1.0)
            self.assertEqual(r, [], "a connection past the limit was served")
            self.assertIsNone(self.bridge.proc.poll(), "the daemon died under the flood")
        finally:
            for s in flood:
                s.close()
        status, _, body = read_answer(probe, WAIT_S)
        probe.close()
        self.assertEqual(status, 200, "the queued probe was not answered once the flood closed")
        self.assertEqual(json.loads(body), {"status": "ok"})
        self.assert_healthy()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and daemon_sockets(self.bridge.proc.pid) > base + 4:
            time.sleep(0.1)
        self.assertLessEqual(daemon_sockets(self.bridge.proc.pid), base + 4,
                             "closed connections were not released")


# ---- header and body limits -----------------------------------------------------

class HeaderLimitTest(AbuseTest):
    """Default max_header_bytes (16384).  A head over it gets the daemon's
    431 JSON answer; one that does not fit libmicrohttpd's memory pool
    (max_header_bytes + 8 KiB) gets libmicrohttpd 0.9.75's own 431 (414 for
    the request line) with an HTML body, and the connection is closed."""

    def assert_431(self, extra, status=431):
        ev = json.dumps(routing_event()).encode()
        got, headers, body = exchange(self.bridge.port, head(extra, length=len(ev)), [ev])
        self.assertEqual(got, status, body[:200])
        self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assertEqual(self.delivered_ids(), [])

    def test_head_between_the_limit_and_the_pool_is_431_json(self):
        ev = json.dumps(routing_event()).encode()
        status, _, body = exchange(self.bridge.port, head("X-Pad: %s\r\n" % ("a" * 20000),
                                                          length=len(ev)), [ev])
        self.assertEqual(status, 431, body[:200])
        self.assertEqual(json.loads(body)["error"], "headers_too_large")
        self.assertEqual(self.delivered_ids(), [])
        self.assert_healthy()

    def test_one_header_twice_max_header_bytes_is_431(self):
        self.assert_431("X-Pad: %s\r\n" % ("a" * 32768))
        self.assert_healthy()

    def test_many_small_headers_over_the_limit_are_431(self):
        self.assert_431("".join("X-H%d: v\r\n" % i for i in range(3000)))
        self.assert_healthy()

    def test_megabyte_header_is_431(self):
        self.assert_431("X-Pad: %s\r\n" % ("a" * (1 << 20)))
        self.assert_healthy()

    def test_request_line_over_the_limit_is_414(self):
        data = ("POST %s?%s HTTP/1.1\r\nHost: x\r\n\r\n" % (WEBHOOK, "q" * 32768)).encode()
        status, _, _ = exchange(self.bridge.port, data)
        self.assertEqual(status, 414)
        self.assert_healthy()

    def test_headers_well_under_the_limit_are_accepted(self):
        ev = routing_event()
        body = json.dumps(ev).encode()
        status, _, answer = exchange(self.bridge.port, head("X-Pad: %s\r\n" % ("a" * 8000),
                                                            length=len(body)), [body])
        self.assertEqual(status, 200, answer)
        self.assertEqual(json.loads(answer)["id"], ev["id"])


class SmallHeaderLimitTest(AbuseTest):
    """A max_header_bytes smaller than libmicrohttpd's smallest useful pool
    (8 KiB) is enforced all the same."""
    CONF = conf(server={"max_header_bytes": "2048"})

    def test_headers_over_a_small_max_header_bytes_are_refused(self):
        # docs/configuration.md: "largest request line plus headers", bounds
        # 1024..1048576.  A 6000-byte head is three times the limit.
        ev = json.dumps(routing_event()).encode()
        status, _, body = exchange(self.bridge.port,
                                   head("X-Pad: %s\r\n" % ("a" * 6000), length=len(ev)), [ev])
        self.assertIn(status, (431, None),
                      "max_header_bytes = 2048 let a 6 KiB head through: %r" % body[:200])
        self.assertEqual(self.delivered_ids(), [])


class BodyLimitTest(AbuseTest):
    """Default max_body_bytes (262144)."""

    def chunked(self, total, piece=65536):
        out, left = [], total
        while left > 0:
            n = min(piece, left)
            out.append(b"%x\r\n" % n + b"a" * n + b"\r\n")
            left -= n
        return out + [b"0\r\n\r\n"]

    def test_content_length_over_the_limit_is_413_before_the_body(self):
        status, _, body = exchange(self.bridge.port, head(length=10 << 20))
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["error"], "too_large")
        self.assert_healthy()

    def test_content_length_past_64_bits_is_413(self):
        status, _, _ = exchange(self.bridge.port, head("Content-Length: %d\r\n" % (1 << 64)))
        self.assertEqual(status, 413)
        self.assert_healthy()

    def test_negative_or_garbage_content_length_is_400(self):
        for value in ("-1", "abc", "1 2", "0x10"):
            status, _, _ = exchange(self.bridge.port, head("Content-Length: %s\r\n" % value),
                                    [b"{}"])
            self.assertEqual(status, 400, value)
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_chunked_just_over_the_limit_is_413(self):
        status, _, body = exchange(self.bridge.port, head("Transfer-Encoding: chunked\r\n"),
                                   self.chunked(262144 + 1))
        self.assertEqual(status, 413, body)
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_chunked_far_over_the_limit_is_cut_off(self):
        """Past max_body_bytes + 1 MiB the daemon stops reading and closes
        the connection, with or without a 413 first."""
        t0 = time.monotonic()
        status, _, body = exchange(self.bridge.port, head("Transfer-Encoding: chunked\r\n"),
                                   self.chunked(8 << 20))
        self.assertIn(status, (413, None), body[:200])
        self.assertLess(time.monotonic() - t0, 5)
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_chunk_size_past_64_bits_is_refused(self):
        status, _, _ = exchange(self.bridge.port, head("Transfer-Encoding: chunked\r\n"),
                                [b"fffffffffffffffffffff\r\nabc"])
        self.assertIn(status, (400, 413))
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_one_hundred_over_limit_bodies_at_once(self):
        def one(_):
            return exchange(self.bridge.port, head(length=300000), [b"a" * 300000])[0]
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(one, range(100)))
        self.assertEqual(set(statuses) - {413, None}, set(), statuses)
        self.assertGreater(statuses.count(413), 50)
        self.assert_nothing_delivered()
        self.assert_healthy()


# ---- hostile JSON --------------------------------------------------------------

class JsonAbuseTest(AbuseTest):
    CONF = conf(server={"max_body_bytes": "1048576"})

    def assert_400(self, body, what):
        r = self.post_body(body)
        self.assertEqual(r.status, 400, "%s: %r" % (what, r))
        self.assertEqual((r.json or {}).get("error"), "schema", r)
        return r

    def test_invalid_utf8_in_strings_and_keys(self):
        bad = {"0xff": b"\xff", "overlong /": b"\xc0\xaf", "overlong NUL": b"\xc0\x80",
               "lone continuation": b"\x80", "UTF-16 surrogate": b"\xed\xa0\x80",
               "truncated": b"\xe2\x82", "5-byte form": b"\xf8\x88\x80\x80\x80",
               "past U+10FFFF": b"\xf4\x90\x80\x80", "overlong 3-byte": b"\xe0\x80\xaf"}
        for name, seq in bad.items():
            ev = json.dumps(routing_event()).encode()
            self.assert_400(ev.replace(b'"a-1"', b'"a-' + seq + b'"'), "string " + name)
            ev = routing_event()
            ev["k"] = 1
            self.assert_400(json.dumps(ev).encode().replace(b'"k"', b'"k' + seq + b'"'),
                            "key " + name)
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_escaped_nul_is_refused(self):
        ev = json.dumps(routing_event())
        self.assert_400(ev.replace('"a-1"', '"a\\u0000b"'), "NUL in a value")
        self.assert_400(ev[:-1] + ', "k\\u0000": 1}', "NUL in a key")
        self.assert_nothing_delivered()

    def test_hundred_thousand_deep_nesting_is_400_at_once(self):
        n = 100000
        for name, body in (("arrays", "[" * n + "1" + "]" * n),
                           ("objects", '{"":' * n + "1" + "}" * n),
                           ("unclosed", '{"x":' + "[" * n),
                           ("mixed", '[{"a":' * (n // 2) + "1" + "}]" * (n // 2))):
            t0 = time.monotonic()
            r = self.assert_400(body, name)
            self.assertLess(time.monotonic() - t0, 1.0, name)
            self.assertIn("deep", r.json["message"])
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_numbers_no_double_holds_are_400(self):
        for num in ("1e400", "-1e400", "0.1e999999999", "123456789012345678901234567890",
                    "9223372036854775808", "-9223372036854775809"):
            for member, was in (("waitTimeMs", 1200), ("extra", 0)):
                body = json.dumps(routing_event(extra=0)).replace(
                    '"%s": %d' % (member, was), '"%s": %s' % (member, num))
                self.assertIn(num, body)
                self.assert_400(body, "%s = %s" % (member, num))
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_extreme_numbers_that_parse_are_passed_on_unchanged(self):
        """What the parser takes goes to EventBridge byte for byte, so a
        consumer sees what CXone sent, not the bridge's rounding."""
        for num in ("1e-400", "-0", "9223372036854775807", "1.7976931348623157e308",
                    "4.9e-324", "0.1000000000000000055511151231257827"):
            ev = routing_event(extra=0)
            body = json.dumps(ev).replace('"extra": 0', '"extra": %s' % num)
            r = self.post_body(body)
            self.assertEqual(r.status, 200, (num, r))
            details = [e["Entry"]["Detail"] for e in self.records()["events"]]
            self.assertIn(body, details, num)

    def test_duplicate_keys_are_400(self):
        ev = routing_event()
        s = json.dumps(ev)
        other = "11111111-2222-4333-8444-555555555555"
        cases = {
            "top level": s[:-1] + ', "id": "%s"}' % other,
            "same value": s[:-1] + ', "id": "%s"}' % ev["id"],
            "escaped name": s[:-1] + ', "\\u0069d": "%s"}' % other,
            "nested": s.replace('"agentId": "a-1"', '"agentId": "a-1", "agentId": "a-2"'),
        }
        for name, body in cases.items():
            self.assertNotEqual(body, s, name)
            r = self.assert_400(body, name)
            self.assertIn("duplicate", r.json["message"], name)
        self.assert_nothing_delivered()
        self.assert_healthy()

    def test_garbage_bodies_do_not_hurt(self):
        junk = [b"", b"\x00" * 1000, os.urandom(4096), b"{" * 40, b'"' * 1000,
                b"[" + b"1," * 100000 + b"1]", b'{"id":' + b'"' + b"a" * 500000 + b'"}']
        for body in junk:
            r = self.post_body(body)
            self.assertIn(r.status, (400, 413), (body[:40], r))
        self.assert_nothing_delivered()
        self.assert_healthy()


class TraceHeaderTest(AbuseTest):
    """X-Amzn-Trace-Id becomes the entry's TraceHeader, which PutEvents takes
    only 1..500 characters long (the API model; the stand-in enforces it) and
    otherwise fails the whole call.  One sender's header must not send the
    events it shares a batch with to the DLQ."""
    CONF = conf(eventbridge={"batch_linger_ms": "100"})

    def batch_with(self, trace):
        events = [routing_event() for _ in range(6)]
        barrier = threading.Barrier(len(events))

        def one(i):
            barrier.wait(5)
            return self.bridge.post(events[i], headers={"X-Amzn-Trace-Id": trace} if i == 0
                                    else None)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(events)) as pool:
            answers = list(pool.map(one, range(len(events))))
        self.assertLess(self.records()["requests"]["events"], len(events),
                        "the events did not share a PutEvents call")
        for r in answers[1:]:
            self.assertEqual((r.status, r.json.get("destination")), (200, "eventbridge"),
                             "an innocent event was diverted by another's trace header: %r" % r)
        # The sender's own event may be refused, published without the header,
        # or dead-lettered: anything but lost.
        self.assertIn(answers[0].status, (200, 400, 413), answers[0])

    def test_trace_header_over_500_characters(self):
        self.batch_with("Root=1-" + "a" * 600)

    def test_empty_trace_header(self):
        self.batch_with("")

    def test_trace_header_of_500_characters_passes(self):
        ev = routing_event()
        r = self.bridge.post(ev, headers={"X-Amzn-Trace-Id": "R" * 500})
        self.assertEqual((r.status, r.json.get("destination")), (200, "eventbridge"), r)
        self.assertEqual(self.records()["events"][0]["Entry"]["TraceHeader"], "R" * 500)


# ---- HMAC signatures and replays -----------------------------------------------

KEY = hashlib.sha256(b"cxbridge abuse test key").digest()
OTHER_KEY = hashlib.sha256(b"not the key").digest()


def whsec(key):
    return "whsec_" + base64.b64encode(key).decode()


def sign(key, msg_id, ts, body):
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), str(ts).encode(), body),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(key, body, msg_id="msg_abuse", ts=None):
    ts = int(time.time()) if ts is None else ts
    return {"Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(ts), "webhook-signature": sign(key, msg_id, ts, body)}


class HmacAbuseTest(AbuseTest):
    TOLERANCE_S = 2
    CONF = conf(auth={"mode": "hmac-sha256", "hmac_tolerance_s": str(TOLERANCE_S)})
    SECRETS = (whsec(KEY),)

    def send(self, body, headers):
        return self.bridge.request("POST", WEBHOOK, body, headers)

    def assert_healthy(self):
        ev = routing_event()
        body = json.dumps(ev).encode()
        r = self.send(body, signed_headers(KEY, body, msg_id="msg_" + ev["id"]))
        self.assertEqual((r.status, (r.json or {}).get("destination")), (200, "eventbridge"), r)
        self.assertEqual(self.bridge.get("/health").status, 200)
        return ev

    def copies(self, eid):
        return [json.loads(e["Entry"]["Detail"])["id"] for e in self.records()["events"]].count(eid)

    def test_wrong_signatures_are_401(self):
        ev = routing_event()
        body = json.dumps(ev).encode()
        good = signed_headers(KEY, body)
        ts, mid = good["webhook-timestamp"], good["webhook-id"]
        mac = base64.b64decode(good["webhook-signature"][3:])
        flipped = bytes([mac[0] ^ 1]) + mac[1:]
        wrong = [
            sign(OTHER_KEY, mid, ts, body),
            "v1," + base64.b64encode(flipped).decode(),
            "v1," + base64.b64encode(mac + b"\x00").decode(),          # 33 bytes
            "v1," + base64.b64encode(mac[:31]).decode(),               # 31 bytes
            "v1," + good["webhook-signature"][3:].rstrip("=") + "!",
            "v1a," + good["webhook-signature"][3:],                    # other version only
            " ".join([sign(OTHER_KEY, mid, ts, body)] * 33),          # past 32 entries
            " ".join([sign(OTHER_KEY, mid, ts, body)] * 32 + [good["webhook-signature"]]),
            sign(KEY, mid, ts, body + b" "),                          # other body
            sign(KEY, mid + "x", ts, body),                           # other id
            "", "v1,", "v1", ",", "v1," + "A" * 10000,
        ]
        for sig in wrong:
            h = dict(good, **{"webhook-signature": sig})
            r = self.send(body, h)
            self.assertEqual((r.status, r.body), (401, '{"error":"unauthorized"}'), sig[:80])
        self.assertEqual(self.records()["events"], [])
        # The good signature works, so the refusals were about the signatures.
        self.assertEqual(self.send(body, good).status, 200)

    def test_thousand_forged_signatures_then_healthy(self):
        ev = routing_event()
        body = json.dumps(ev).encode()

        def forge(i):
            h = signed_headers(OTHER_KEY, body, msg_id="msg_%d" % i)
            return self.send(body, h).status
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(forge, range(1000)))
        self.assertEqual(set(statuses), {401})
        self.assertEqual(self.records()["events"], [])
        self.assert_healthy()

    def test_replay_inside_the_window_is_duplicate_and_published_once(self):
        ev = routing_event()
        body = json.dumps(ev).encode()
        h = signed_headers(KEY, body)
        first = self.send(body, h)
        self.assertEqual((first.status, first.json["status"]), (200, "accepted"), first)
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            replays = list(pool.map(lambda _: self.send(body, h), range(40)))
        for r in replays:
            self.assertEqual((r.status, r.json), (200, {"status": "duplicate", "id": ev["id"]}))
        self.assertEqual(self.copies(ev["id"]), 1)
        self.assertEqual(self.records()["messages"], [])

    def test_simultaneous_replays_of_a_new_request_publish_once(self):
        """Replays racing the original: one publish, every copy answered 200."""
        ev = routing_event()
        body = json.dumps(ev).encode()
        h = signed_headers(KEY, body)
        barrier = threading.Barrier(20)

        def one(_):
            barrier.wait(5)
            return self.send(body, h)
        with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(one, range(20)))
        for r in answers:
            self.assertEqual(r.status, 200, r)
            self.assertIn(r.json["status"], ("accepted", "duplicate"), r)
        self.assertEqual(self.copies(ev["id"]), 1)

    def test_replay_outside_the_window_is_401(self):
        ev = routing_event()
        body = json.dumps(ev).encode()
        h = signed_headers(KEY, body)
        self.assertEqual(self.send(body, h).status, 200)
        time.sleep(self.TOLERANCE_S + 1.2)
        r = self.send(body, h)
        self.assertEqual((r.status, r.body), (401, '{"error":"unauthorized"}'), r)
        # The daemon's stderr is read by a thread: give it a moment.
        end = time.monotonic() + WAIT_S
        while '"reason":"stale"' not in self.bridge.logs() and time.monotonic() < end:
            time.sleep(0.02)
        self.assertIn('"reason":"stale"', self.bridge.logs())
        # A captured request replayed late is also refused for a new event id:
        # the signature covers the body, so it cannot be re-used either.
        ev2 = routing_event()
        r = self.send(json.dumps(ev2).encode(), h)
        self.assertEqual(r.status, 401)
        self.assertEqual(self.copies(ev["id"]), 1)
        self.assertEqual(self.copies(ev2["id"]), 0)


# ---- secrets never reach the log -----------------------------------------------

AWS_SESSION = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKENcxbridge0123456789abcdefXYZ"
WRONG_AWS_SECRET = "wRoNg/aws/secret+key/0123456789abcdefWRONG"
BEARER = ["bearer-live-token-3f9a0c1d2e4b", "bearer-second-token-77aa55cc"]
BEARER_WRONG = "bearer-guess-token-00ff11ee22dd"
BEARER_ROTATED = "bearer-rotated-token-9c8b7a6f5e"
BASIC = [("cxone", "pa55word-basic-Secret-41"), ("backup", "another:colon:pass-99")]
BASIC_WRONG = ("cxone", "wrong-password-zz-123")
HMAC_KEY = hashlib.sha256(b"cxbridge log secrets key").digest()
HMAC_RAW = "raw-hmac-secret-line-5d4c3b2a19"
HMAC_BAD_LINE = "whsec_not*valid*base64*SECRETLINE"
QUERY_TOKEN = "query-token-should-not-be-logged-1234"


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def unpadded(user, password):
    """A right credential in base64 without its padding (strictly malformed)."""
    b64 = basic(user, password)
    assert b64.endswith("="), "pick a credential whose base64 is padded"
    return b64.rstrip("=")


class LogSecretsTest(unittest.TestCase):
    """Every auth mode at debug level, good and bad credentials, AWS errors,
    a wrong AWS secret, reloads good and bad, and refused start-ups; then
    the whole log is searched for every secret and every form it was sent in."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cxb-secrets-")
        self.standin = Standin(self.tmp, "https://sqs.%s.amazonaws.com/123456789012/"
                               "cxbridge-dlq" % harness.REGION, session_token=AWS_SESSION)
        self.bridges = []
        self.logs = []
        self.secrets = {"AWS secret key": SECRET_KEY, "AWS session token": AWS_SESSION,
                        "wrong AWS secret key": WRONG_AWS_SECRET,
                        "query token": QUERY_TOKEN, "bad secret line": HMAC_BAD_LINE,
                        "hmac raw secret": HMAC_RAW}

    def tearDown(self):
        for b in self.bridges:
            if b.proc is not None and b.proc.poll() is None:
                b.stop_quick()
        self.standin.stop()

    def bridge(self, mode, secrets, env=None, **over):
        c = conf(auth={"mode": mode}, **over)
        e = {"AWS_SESSION_TOKEN": AWS_SESSION}
        e.update(env or {})
        b = Bridge(c, secrets, env=e, standin=self.standin)
        self.bridges.append(b)
        return b

    def post(self, b, headers, ev=None, path=WEBHOOK):
        body = json.dumps(ev or routing_event()).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers)
        return b.request("POST", path, body, h)

    def finish(self, b):
        b.proc.send_signal(signal.SIGTERM)
        rc = b.proc.wait(30)
        b.reader.join(5)
        b.proc.stderr.close()
        self.logs.append(b.logs())
        self.assertEqual(rc, 0, "cxbridge exited %r:\n%s" % (rc, b.logs()[-3000:]))

    def note(self, name, value):
        self.secrets[name] = value

    def reload(self, b, secrets, expect):
        with open(b.secret_file, "w") as f:
            f.write("\n".join(secrets) + "\n")
        b.proc.send_signal(signal.SIGHUP)
        end = time.monotonic() + WAIT_S
        while expect not in b.logs() and time.monotonic() < end:
            time.sleep(0.02)
        self.assertIn(expect, b.logs())

    def exercise_bearer(self):
        b = self.bridge("bearer", BEARER)
        for i, tok in enumerate(BEARER + [BEARER_WRONG]):
            self.note("bearer token %d" % i, tok)
            self.note("bearer header %d" % i, "Bearer " + tok)
        self.assertEqual(self.post(b, {"Authorization": "Bearer " + BEARER[0]}).status, 200)
        self.assertEqual(self.post(b, {"Authorization": "Bearer " + BEARER[1]}).status, 200)
        for bad in ("Bearer " + BEARER_WRONG, "bearer  " + BEARER_WRONG,
                    "Bearer " + BEARER[0] + " extra", "Bearer " + BEARER[0][:-1], "Bearer\t" + BEARER[0],
                    "Token " + BEARER[0], BEARER[0]):
            self.assertEqual(self.post(b, {"Authorization": bad}).status, 401, bad)
        # A token in the query string (a sender's mistake) is not logged either.
        r = self.post(b, {"Authorization": "Bearer " + BEARER[0]},
                      path=WEBHOOK + "?access_token=" + QUERY_TOKEN)
        self.assertIn(r.status, (200, 404))
        # AWS refuses the key for a moment: its error paths are logged.
        self.standin.fault(kind="auth", count=4)
        self.assertIn(self.post(b, {"Authorization": "Bearer " + BEARER[0]}).status, (200, 503))
        self.standin.clear_faults()
        self.note("rotated bearer token", BEARER_ROTATED)
        self.reload(b, [BEARER_ROTATED], "reloaded")
        self.assertEqual(self.post(b, {"Authorization": "Bearer " + BEARER_ROTATED}).status, 200)
        self.reload(b, ["bad token with spaces " + BEARER_WRONG], "reload refused")
        self.assertEqual(self.post(b, {"Authorization": "Bearer " + BEARER_ROTATED}).status, 200)
        self.finish(b)

    def exercise_basic(self):
        b = self.bridge("basic", ["%s:%s" % up for up in BASIC])
        for i, (user, pw) in enumerate(BASIC + [BASIC_WRONG]):
            self.note("basic password %d" % i, pw)
            self.note("basic header %d" % i, basic(user, pw).split(" ", 1)[1])
        for up in BASIC:
            self.assertEqual(self.post(b, {"Authorization": basic(*up)}).status, 200)
        for bad in (basic(*BASIC_WRONG), basic("nobody", BASIC[0][1]),
                    "Basic " + base64.b64encode(BASIC[0][1].encode()).decode(),
                    unpadded(*BASIC[1])):
            self.assertEqual(self.post(b, {"Authorization": bad}).status, 401, bad)
        self.finish(b)

    def exercise_hmac(self):
        key_line = whsec(HMAC_KEY)
        b = self.bridge("hmac-sha256", [key_line, HMAC_RAW])
        self.note("whsec line", key_line)
        self.note("hmac key base64", key_line[len("whsec_"):])
        self.note("hmac key hex", HMAC_KEY.hex())
        for key in (HMAC_KEY, HMAC_RAW.encode()):
            ev = routing_event()
            body = json.dumps(ev).encode()
            h = signed_headers(key, body, msg_id="msg_" + ev["id"])
            self.note("signature %s" % ev["id"], h["webhook-signature"][3:])
            self.assertEqual(b.request("POST", WEBHOOK, body, h).status, 200)
            self.assertEqual(b.request("POST", WEBHOOK, body, h).status, 200)   # replay
        ev = routing_event()
        body = json.dumps(ev).encode()
        bad = signed_headers(OTHER_KEY, body)
        self.note("forged signature", bad["webhook-signature"][3:])
        self.assertEqual(b.request("POST", WEBHOOK, body, bad).status, 401)
        stale = signed_headers(HMAC_KEY, body, ts=int(time.time()) - 3600)
        self.note("stale signature", stale["webhook-signature"][3:])
        self.assertEqual(b.request("POST", WEBHOOK, body, stale).status, 401)
        self.reload(b, [HMAC_BAD_LINE], "reload refused")
        self.finish(b)

    def exercise_wrong_aws_secret(self):
        b = self.bridge("bearer", BEARER, env={"AWS_SECRET_ACCESS_KEY": WRONG_AWS_SECRET})
        r = self.post(b, {"Authorization": "Bearer " + BEARER[0]})
        self.assertEqual(r.status, 503, r)      # both services refuse the signature
        self.finish(b)

    def exercise_refused_start(self):
        b = Bridge(conf(auth={"mode": "hmac-sha256"}), [HMAC_BAD_LINE], start=False,
                   standin=self.standin, env={"AWS_SESSION_TOKEN": AWS_SESSION})
        self.bridges.append(b)
        out = b.run_cli("-c", b.conf_path)
        self.assertNotEqual(out.returncode, 0)
        self.logs.append(out.stdout + out.stderr)
        out = b.run_cli("-c", b.conf_path, "-n")
        self.logs.append(out.stdout + out.stderr)

    def test_no_secret_in_any_log(self):
        self.exercise_bearer()
        self.exercise_basic()
        self.exercise_hmac()
        self.exercise_wrong_aws_secret()
        self.exercise_refused_start()
        text = "".join(self.logs)
        self.assertGreater(text.count('"level":"debug"') + text.count('"msg":"event"'), 10,
                           "the logs are too thin to prove anything")
        self.assertIn("unauthorized", text)
        self.assertIn("reload refused", text)
        self.assertIn("UnrecognizedClientException", text)   # AWS error paths ran
        leaked = [name for name, value in self.secrets.items() if value in text]
        self.assertEqual(leaked, [], "secrets in the daemon's log: %s" % leaked)
        for marker in ("AWS4-HMAC-SHA256", "Signature=", "Credential=", "X-Amz-Security-Token",
                       "Authorization:", "authorization\":"):
            self.assertNotIn(marker, text, "an Authorization value is in the log")


if __name__ == "__main__":
    unittest.main()
