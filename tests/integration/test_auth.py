"""test_auth.py - webhook authentication of the real daemon, over HTTP.

bearer, basic and hmac-sha256 (Standard Webhooks) with rotation, mode none
and its explicit opt-in, and that no secret or credential reaches the log.
Every refusal must be exactly 401 {"error":"unauthorized"} and deliver
nothing.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Bridge, QuickBridgeTest, routing_event  # noqa: E402

WEBHOOK = "/webhook/routing-events"
UNAUTHORIZED = '{"error":"unauthorized"}'
DEBUG = {"log": {"level": "debug"}}


def conf(**sections):
    """DEBUG logging (so a leak would show) plus the given sections."""
    out = {k: dict(v) for k, v in DEBUG.items()}
    for name, kv in sections.items():
        out.setdefault(name, {}).update(kv)
    return out


class AuthTest(QuickBridgeTest):
    def records(self):
        return self.bridge.standin.records()

    def post_with(self, ev, headers):
        body = ev if isinstance(ev, bytes) else json.dumps(ev).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers)
        return self.bridge.request("POST", WEBHOOK, body, h)

    def assert_accepted(self, r, ev):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "accepted", "id": ev["id"],
                                  "destination": "eventbridge"})

    def assert_unauthorized(self, r):
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.body, UNAUTHORIZED)
        self.assertNotIn("WWW-Authenticate", r.headers)

    def assert_nothing_delivered(self):
        rec = self.records()
        self.assertEqual(rec["events"], [])
        self.assertEqual(rec["messages"], [])

    def wait_logged(self, text, timeout=10):
        """The daemon's stderr is read by a thread: wait for a line."""
        deadline = time.time() + timeout
        while text not in self.bridge.logs():
            if time.time() > deadline:
                self.fail("%r never logged:\n%s" % (text, self.bridge.logs()))
            time.sleep(0.01)

    def assert_not_logged(self, *values):
        # The refusal's log line comes after anything the request could
        # have leaked, so once it is read the log is complete enough.
        self.wait_logged('"outcome":"unauthorized"')
        logs = self.bridge.logs()
        self.assertTrue(logs)
        for v in values:
            self.assertNotIn(v, logs, "a credential is in the daemon's log")


# ---- bearer -------------------------------------------------------------------

class BearerTest(AuthTest):
    TOKEN = "bearer-token-0123456789abcdef"
    CONF = conf()
    SECRETS = (TOKEN,)

    def bearer(self, token):
        return {"Authorization": "Bearer " + token}

    def test_right_token_is_accepted(self):
        ev = routing_event()
        self.assert_accepted(self.post_with(ev, self.bearer(self.TOKEN)), ev)
        self.assertEqual(len(self.records()["events"]), 1)

    def test_wrong_token_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), self.bearer("wrong-token-value-42")))
        self.assert_nothing_delivered()

    def test_missing_authorization_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), {}))
        self.assert_nothing_delivered()

    def test_token_prefix_and_extension_are_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), self.bearer(self.TOKEN[:-1])))
        self.assert_unauthorized(self.post_with(routing_event(), self.bearer(self.TOKEN + "x")))
        self.assert_nothing_delivered()

    def test_empty_bearer_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), {"Authorization": "Bearer "}))

    def test_basic_scheme_in_bearer_mode_is_401(self):
        cred = base64.b64encode(("user:" + self.TOKEN).encode()).decode()
        self.assert_unauthorized(self.post_with(routing_event(), {"Authorization": "Basic " + cred}))
        self.assert_nothing_delivered()

    def test_auth_is_checked_before_the_body(self):
        # A bad body with a bad token says 401, not 400: nothing about the
        # body is revealed to an unauthenticated sender.
        self.assert_unauthorized(self.post_with(b"not json", self.bearer("wrong-token-value-42")))

    def test_refusals_are_counted(self):
        self.post_with(routing_event(), self.bearer("wrong-token-value-42"))
        self.post_with(routing_event(), {})
        text = self.bridge.get("/metrics").body
        self.assertIn('cxbridge_events_rejected_total{reason="unauthorized"} 2', text)
        self.assertIn('cxbridge_http_requests_total{path="webhook",code="401"} 2', text)

    def test_tokens_are_not_logged(self):
        ev = routing_event()
        self.assert_accepted(self.post_with(ev, self.bearer(self.TOKEN)), ev)
        self.post_with(routing_event(), self.bearer("wrong-token-value-42"))
        self.assert_not_logged(self.TOKEN, "wrong-token-value-42", "Bearer ")


class BearerRotationTest(AuthTest):
    OLD = "old-token-0123456789abcdef"
    NEW = "new-token-0123456789abcdef"
    CONF = conf()
    SECRETS = ("# rotation: new token added, old one still valid", OLD, "", NEW)

    def test_both_tokens_work(self):
        for token in (self.OLD, self.NEW):
            ev = routing_event()
            self.assert_accepted(self.post_with(ev, {"Authorization": "Bearer " + token}), ev)
        self.assertEqual(len(self.records()["events"]), 2)

    def test_other_token_and_comment_line_are_401(self):
        for token in ("third-token-0123456789abcdef",
                      "# rotation: new token added, old one still valid"):
            self.assert_unauthorized(self.post_with(routing_event(),
                                                    {"Authorization": "Bearer " + token}))
        self.assert_nothing_delivered()


# ---- basic --------------------------------------------------------------------

def basic(user, password):
    return {"Authorization": "Basic " +
            base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


class BasicTest(AuthTest):
    CONF = conf(auth={"mode": "basic"})
    SECRETS = ("alice:wonderland-secret-1", "bob:builder-secret-22")

    def test_each_user_is_accepted(self):
        for user, pw in (("alice", "wonderland-secret-1"), ("bob", "builder-secret-22")):
            ev = routing_event()
            self.assert_accepted(self.post_with(ev, basic(user, pw)), ev)
        self.assertEqual(len(self.records()["events"]), 2)

    def test_wrong_password_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), basic("alice", "wonderland-secret-2")))
        self.assert_nothing_delivered()

    def test_password_of_another_user_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), basic("alice", "builder-secret-22")))
        self.assert_nothing_delivered()

    def test_unknown_user_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), basic("carol", "wonderland-secret-1")))

    def test_missing_authorization_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), {}))

    def test_bearer_in_basic_mode_is_401(self):
        self.assert_unauthorized(self.post_with(
            routing_event(), {"Authorization": "Bearer alice:wonderland-secret-1"}))

    def test_malformed_base64_is_401(self):
        self.assert_unauthorized(self.post_with(routing_event(), {"Authorization": "Basic ***"}))
        self.assertEqual(self.bridge.get("/health").status, 200)

    def test_credentials_are_not_logged(self):
        ev = routing_event()
        good = basic("alice", "wonderland-secret-1")
        bad = basic("alice", "guessed-password-99")
        self.assert_accepted(self.post_with(ev, good), ev)
        self.post_with(routing_event(), bad)
        self.assert_not_logged("wonderland-secret-1", "builder-secret-22", "guessed-password-99",
                               good["Authorization"].split(" ")[1],
                               bad["Authorization"].split(" ")[1], "Basic ")


# ---- hmac-sha256 (Standard Webhooks) -------------------------------------------

KEY1 = bytes(range(1, 33))
KEY2 = hashlib.sha256(b"cxbridge second key").digest()


def whsec(key):
    return "whsec_" + base64.b64encode(key).decode()


def sign(key, msg_id, ts, body):
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), str(ts).encode(), body),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed(key, body, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", ts=None, sig=None):
    ts = int(time.time()) if ts is None else ts
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sig if sig is not None else sign(key, msg_id, ts, body)}


class HmacTest(AuthTest):
    CONF = conf(auth={"mode": "hmac-sha256"})
    SECRETS = (whsec(KEY1),)

    def body(self, ev):
        return json.dumps(ev).encode()

    def test_good_signature_is_accepted(self):
        ev = routing_event()
        b = self.body(ev)
        self.assert_accepted(self.post_with(b, signed(KEY1, b)), ev)
        self.assertEqual(self.records()["events"][0]["Entry"]["Detail"].encode(), b)

    def test_tampered_body_is_401(self):
        ev = routing_event()
        b = self.body(ev)
        h = signed(KEY1, b)
        ev["routingContext"]["waitTimeMs"] = 1
        self.assert_unauthorized(self.post_with(self.body(ev), h))
        self.assert_nothing_delivered()

    def test_other_webhook_id_is_401(self):
        b = self.body(routing_event())
        h = signed(KEY1, b, msg_id="msg_one")
        h["webhook-id"] = "msg_two"
        self.assert_unauthorized(self.post_with(b, h))

    def test_other_timestamp_is_401(self):
        b = self.body(routing_event())
        ts = int(time.time())
        h = signed(KEY1, b, ts=ts)
        h["webhook-timestamp"] = str(ts + 1)
        self.assert_unauthorized(self.post_with(b, h))

    def test_wrong_key_is_401(self):
        b = self.body(routing_event())
        self.assert_unauthorized(self.post_with(b, signed(KEY2, b)))
        self.assert_nothing_delivered()

    def test_stale_timestamp_is_401(self):
        b = self.body(routing_event())
        self.assert_unauthorized(self.post_with(b, signed(KEY1, b, ts=int(time.time()) - 400)))
        self.assert_nothing_delivered()

    def test_future_timestamp_beyond_tolerance_is_401(self):
        b = self.body(routing_event())
        self.assert_unauthorized(self.post_with(b, signed(KEY1, b, ts=int(time.time()) + 400)))

    def test_old_timestamp_within_tolerance_is_accepted(self):
        ev = routing_event()
        b = self.body(ev)
        self.assert_accepted(self.post_with(b, signed(KEY1, b, ts=int(time.time()) - 200)), ev)

    def test_two_signatures_one_good_is_accepted(self):
        ev = routing_event()
        b = self.body(ev)
        ts = int(time.time())
        bad = sign(KEY2, "msg_x", ts, b)
        good = sign(KEY1, "msg_x", ts, b)
        h = signed(KEY1, b, msg_id="msg_x", ts=ts, sig=bad + " " + good)
        self.assert_accepted(self.post_with(b, h), ev)

    def test_two_bad_signatures_are_401(self):
        b = self.body(routing_event())
        ts = int(time.time())
        sig = sign(KEY2, "msg_x", ts, b) + " " + sign(KEY2, "msg_y", ts, b)
        self.assert_unauthorized(self.post_with(b, signed(KEY1, b, msg_id="msg_x", ts=ts, sig=sig)))

    def test_missing_signature_headers_are_401(self):
        b = self.body(routing_event())
        full = signed(KEY1, b)
        for name in full:
            h = dict(full)
            del h[name]
            self.assert_unauthorized(self.post_with(b, h))
        self.assert_nothing_delivered()

    def test_bearer_in_hmac_mode_is_401(self):
        self.assert_unauthorized(self.post_with(self.body(routing_event()),
                                                {"Authorization": "Bearer " + whsec(KEY1)}))

    def test_secret_and_signatures_are_not_logged(self):
        ev = routing_event()
        b = self.body(ev)
        good = signed(KEY1, b)
        self.assert_accepted(self.post_with(b, good), ev)
        bad = signed(KEY2, b)
        self.post_with(b, bad)
        self.assert_not_logged(whsec(KEY1), base64.b64encode(KEY1).decode(),
                               good["webhook-signature"][3:], bad["webhook-signature"][3:])


class HmacRotationTest(AuthTest):
    CONF = conf(auth={"mode": "hmac-sha256", "hmac_tolerance_s": "10"})
    SECRETS = (whsec(KEY1), whsec(KEY2))

    def test_both_keys_sign(self):
        for key in (KEY1, KEY2):
            ev = routing_event()
            b = json.dumps(ev).encode()
            self.assert_accepted(self.post_with(b, signed(key, b)), ev)
        self.assertEqual(len(self.records()["events"]), 2)

    def test_configured_tolerance_applies(self):
        ev = routing_event()
        b = json.dumps(ev).encode()
        self.assert_unauthorized(self.post_with(b, signed(KEY1, b, ts=int(time.time()) - 30)))
        self.assert_accepted(self.post_with(b, signed(KEY2, b, ts=int(time.time()) - 3)), ev)


# ---- none ---------------------------------------------------------------------

class RefusesToStartTest(unittest.TestCase):
    """Configurations the daemon must refuse; it must exit by itself."""

    def refused(self, conf_over, secrets=("x" * 24,), *extra):
        b = Bridge(conf_over, secrets, start=False)
        self.addCleanup(b.stop_quick)
        p = b.run_cli("-c", b.conf_path, *extra, timeout=15)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        return p, b

    def test_mode_none_without_allow_unauthenticated(self):
        p, b = self.refused({"auth": {"mode": "none"}})
        self.assertIn("allow_unauthenticated", p.stderr)
        self.assertIn(b.conf_path, p.stderr)

    def test_mode_none_with_allow_unauthenticated_false(self):
        p, _ = self.refused({"auth": {"mode": "none", "allow_unauthenticated": "false"}})
        self.assertIn("allow_unauthenticated", p.stderr)

    def test_mode_none_check_config_fails(self):
        p, _ = self.refused({"auth": {"mode": "none"}}, ("x" * 24,), "-n")
        self.assertIn("allow_unauthenticated", p.stderr)

    def test_missing_mode(self):
        p, _ = self.refused({"auth": {"mode": None}})
        self.assertIn("mode", p.stderr)

    def test_bearer_without_secret_file(self):
        p, _ = self.refused({"auth": {"secret_file": None}})
        self.assertIn("secret_file", p.stderr)

    def test_unreadable_secret_file(self):
        p, b = self.refused({"auth": {"secret_file": "/nonexistent/cxbridge-secrets"}})
        self.assertIn("/nonexistent/cxbridge-secrets", p.stderr)

    def test_bad_whsec_secret(self):
        p, b = self.refused({"auth": {"mode": "hmac-sha256"}}, ("whsec_not*base64",))
        self.assertIn(b.secret_file, p.stderr)
        self.assertNotIn("not*base64", p.stderr)


class NoneAllowedTest(AuthTest):
    CONF = conf(auth={"mode": "none", "allow_unauthenticated": "true", "secret_file": None})

    def test_request_without_credentials_is_accepted(self):
        ev = routing_event()
        self.assert_accepted(self.post_with(ev, {}), ev)
        self.assertEqual(len(self.records()["events"]), 1)

    def test_running_open_is_logged_as_a_warning(self):
        warn = [json.loads(x) for x in self.bridge.logs().splitlines()
                if x.startswith("{") and "authentication" in x]
        self.assertTrue(any(w.get("level") == "warn" for w in warn), self.bridge.logs())


if __name__ == "__main__":
    unittest.main()
