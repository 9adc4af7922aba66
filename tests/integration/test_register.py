"""test_register.py - `cxbridge register`, `unregister` and `webhooks` against a CXone stand-in.

The real binary runs against tests/standin/cxone_standin.py, which checks the
OAuth client-credentials flow, counts token fetches and API calls, and injects
401 and 429 answers.  The webhook that register creates is then used to call
the real daemon, so the header CXone will send is shown to pass the bridge's
own authentication (bearer and hmac-sha256), not just to look right.

Run: CXB_BIN=$PWD/build/cxbridge /usr/bin/python3 -m unittest tests.integration.test_register -v
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Bridge, routing_event  # noqa: E402

CXONE_STANDIN = os.path.join(harness.ROOT, "tests", "standin", "cxone_standin.py")
CLIENT_ID = "cxbridge-client"
CLIENT_SECRET = "client+secret/with:odd&chars=1"
SCOPES = "webhooks:read webhooks:write"
BRIDGE_TOKEN = "bridge-bearer-token-0123456789"
OLD_TOKEN = "bridge-bearer-token-previous-99"
PUBLIC_URL = "https://bridge.example.test/"
EVENT_TYPES = "routing:contact.queued, routing:contact.assigned"
RUN_TIMEOUT_S = 30


class CxoneStandin:
    def __init__(self, tmp, expires_in=3600):
        self.secret_file = os.path.join(tmp, "cxone-client-secret")
        with open(self.secret_file, "w") as f:
            f.write(CLIENT_SECRET + "\n")
        os.chmod(self.secret_file, 0o600)
        port_file = os.path.join(tmp, "cxone.port")
        self.log = open(os.path.join(tmp, "cxone-standin.log"), "w")
        self.proc = subprocess.Popen(
            [harness.PYTHON, CXONE_STANDIN, "--port", "0", "--port-file", port_file,
             "--client-id", CLIENT_ID, "--client-secret-file", self.secret_file,
             "--scopes", SCOPES + " reports:read", "--expires-in", str(expires_in)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + harness.START_TIMEOUT_S
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("cxone stand-in did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def state(self):
        return self.control("GET", "/_control/state")

    def fault(self, **spec):
        return self.control("POST", "/_control/faults", spec)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class RegisterTest(unittest.TestCase):
    AUTH = {}
    SECRETS = (BRIDGE_TOKEN, OLD_TOKEN)
    START_DAEMON = False

    def setUp(self):
        self.cx = CxoneStandin(tempfile.mkdtemp(prefix="cxb-cx-"))
        self.addCleanup(self.cx.stop)
        self.bridge = Bridge(self.conf(), self.SECRETS, start=self.START_DAEMON)
        self.addCleanup(self.bridge.stop_quick)

    def conf(self, **cxone):
        keys = {"token_url": self.cx.url + "/auth/token", "client_id": CLIENT_ID,
                "client_secret_file": self.cx.secret_file, "scopes": SCOPES,
                "api_url": self.cx.url + "/api/v1", "webhooks_path": "/webhooks",
                "public_url": PUBLIC_URL, "event_types": EVENT_TYPES,
                "timeout_ms": "5000"}
        keys.update(cxone)
        return {"cxone": keys, "auth": dict(self.AUTH)}

    def reconf(self, **cxone):
        self.bridge.write_conf(self.conf(**cxone))

    def run_cmd(self, *args):
        p = subprocess.run([harness.BIN, "-c", self.bridge.conf_path] + list(args),
                           env=self.bridge.env, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT_S)
        self.assert_no_secrets(p.stdout + p.stderr)
        return p

    def assert_no_secrets(self, text):
        secrets = [CLIENT_SECRET, BRIDGE_TOKEN, OLD_TOKEN] + list(self.SECRETS)
        for secret in secrets + self.cx.state()["tokens"]:
            self.assertNotIn(secret, text)

    def api_calls(self):
        return [(r["method"], r["status"]) for r in self.cx.state()["api_requests"]]

    def only_webhook(self):
        hooks = self.cx.state()["webhooks"]
        self.assertEqual(len(hooks), 1, hooks)
        return hooks[0]


class RegisterFlowTest(RegisterTest):
    def test_creates_then_updates_with_one_token_per_run(self):
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('created webhook "cxbridge" (id wh-1)', p.stdout)
        hook = self.only_webhook()
        self.assertEqual(hook["name"], "cxbridge")
        self.assertEqual(hook["url"], "https://bridge.example.test/webhook/routing-events")
        self.assertEqual(hook["eventTypes"], ["routing:contact.queued",
                                              "routing:contact.assigned"])
        self.assertEqual(hook["headers"], {"Authorization": "Bearer " + BRIDGE_TOKEN})
        self.assertTrue(hook["enabled"])
        state = self.cx.state()
        self.assertEqual(state["token_fetches"], 1)
        self.assertEqual(state["token_requests"], [{
            "grant_type": "client_credentials", "scope": SCOPES.split(),
            "client_auth": "basic"}])
        self.assertEqual(self.api_calls(), [("GET", 200), ("POST", 201)])

        self.reconf(event_types="routing:contact.abandoned")
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('updated webhook "cxbridge" (id wh-1)', p.stdout)
        self.assertEqual(self.only_webhook()["eventTypes"], ["routing:contact.abandoned"])
        self.assertEqual(self.cx.state()["token_fetches"], 2)   # one per process
        self.assertEqual(self.api_calls()[2:], [("GET", 200), ("PUT", 200)])

    def test_client_secret_post(self):
        self.reconf(token_auth="post")
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.cx.state()["token_requests"][0]["client_auth"], "post")

    def test_token_outlived_by_a_wait_is_refreshed_ahead_of_expiry(self):
        # A 2 s token and a 2 s Retry-After in the middle: the retry must go
        # out with a new token, fetched before the old one expired (so no
        # request is ever sent with a dead token), and only then.
        self.cx.control("POST", "/_control/config", {"expires_in": 2})
        self.cx.fault(kind="status", status=429, retry_after="2", on="api", count=1)
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        state = self.cx.state()
        self.assertEqual(state["token_fetches"], 2)
        self.assertTrue(all(r["authorized"] for r in state["api_requests"]))
        self.assertEqual(self.api_calls(), [("GET", 429), ("GET", 200), ("POST", 201)])

    def test_401_is_answered_by_one_refresh_and_one_retry(self):
        self.cx.fault(kind="unauthorized", count=1)
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.cx.state()["token_fetches"], 2)
        self.assertEqual(self.api_calls(), [("GET", 401), ("GET", 200), ("POST", 201)])

    def test_401_after_the_refresh_fails_without_looping(self):
        self.cx.fault(kind="unauthorized", count=100)
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 1)
        self.assertIn("401", p.stderr)
        self.assertEqual(self.cx.state()["token_fetches"], 2)
        self.assertEqual(self.api_calls(), [("GET", 401), ("GET", 401)])
        self.assertEqual(self.cx.state()["webhooks"], [])

    def test_429_waits_for_retry_after(self):
        self.cx.fault(kind="status", status=429, retry_after="1", on="api", count=1)
        self.cx.fault(kind="status", status=429, retry_after="1", on="token", count=1)
        start = time.monotonic()
        p = self.run_cmd("register")
        took = time.monotonic() - start
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreaterEqual(took, 2.0)
        self.assertEqual(self.cx.state()["token_fetches"], 1)
        self.assertEqual(len(self.cx.state()["token_requests"]), 1)   # the 429 is not one
        self.assertEqual(self.api_calls(), [("GET", 429), ("GET", 200), ("POST", 201)])

    def test_429_longer_than_allowed_gives_up_at_once(self):
        self.reconf(max_retry_after_s="2")
        self.cx.fault(kind="status", status=429, retry_after="30", on="api", count=1)
        start = time.monotonic()
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 1)
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn("max_retry_after_s", p.stderr)
        self.assertEqual(self.api_calls(), [("GET", 429)])

    def test_dry_run_prints_the_request_and_sends_nothing(self):
        p = self.run_cmd("register", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("POST %s/api/v1/webhooks" % self.cx.url, p.stdout)
        self.assertIn("Bearer <redacted>", p.stdout)
        self.assertIn("https://bridge.example.test/webhook/routing-events", p.stdout)
        self.assertIn("routing:contact.assigned", p.stdout)
        state = self.cx.state()
        self.assertEqual((state["token_fetches"], state["api_requests"]), (0, []))

    def test_unregister_deletes_by_name_and_is_idempotent(self):
        self.assertEqual(self.run_cmd("register").returncode, 0)
        p = self.run_cmd("unregister")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('deleted webhook "cxbridge" (id wh-1)', p.stdout)
        self.assertEqual(self.cx.state()["webhooks"], [])
        p = self.run_cmd("unregister")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("nothing to delete", p.stdout)

    def test_webhooks_lists_with_secrets_redacted(self):
        self.cx.control("POST", "/_control/config", {"list_shape": "items"})
        self.cx.control("POST", "/_control/webhooks", {"webhooks": [
            {"id": 7, "name": "cxbridge", "url": "https://a.test/x", "eventTypes": ["e:1"],
             "headers": {"Authorization": "Bearer leaked-if-printed"}},
            {"id": "other", "name": "someone-else", "url": "https://b.test/y",
             "eventTypes": [], "signing": {"scheme": "standard-webhooks",
                                           "secret": "whsec_bGVha2Vk"}}]})
        p = self.run_cmd("webhooks")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertTrue(lines[0].startswith("* 7"), lines)
        self.assertIn("someone-else", lines[1])
        p = self.run_cmd("webhooks", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        listed = json.loads(p.stdout)
        self.assertEqual(listed[0]["headers"], {"Authorization": "<redacted>"})
        self.assertEqual(listed[1]["signing"], {"scheme": "standard-webhooks",
                                                "secret": "<redacted>"})
        for text in ("leaked-if-printed", "whsec_bGVha2Vk"):
            self.assertNotIn(text, p.stdout)

    def test_two_webhooks_of_the_name_are_refused(self):
        self.cx.control("POST", "/_control/webhooks", {"webhooks": [
            {"id": "a", "name": "cxbridge"}, {"id": "b", "name": "cxbridge"}]})
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 1)
        self.assertIn("several webhooks", p.stderr)
        self.assertEqual([r["method"] for r in self.cx.state()["api_requests"]], ["GET"])


class RegisterRefusalTest(RegisterTest):
    def test_missing_keys_are_named(self):
        for key in ("token_url", "client_id", "api_url", "public_url", "event_types"):
            with self.subTest(key=key):
                self.reconf(**{key: None})
                p = self.run_cmd("register")
                self.assertEqual(p.returncode, 1)
                self.assertIn("[cxone] %s is not set" % key, p.stderr)
        self.reconf(public_url=None, event_types=None)
        p = self.run_cmd("webhooks")                    # list needs neither
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_wrong_client_secret(self):
        with open(os.path.join(self.bridge.tmp, "wrong"), "w") as f:
            f.write("not-the-secret\n")
        self.reconf(client_secret_file=os.path.join(self.bridge.tmp, "wrong"))
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 1)
        self.assertIn("answered 401: invalid_client", p.stderr)
        self.assertNotIn("not-the-secret", p.stdout + p.stderr)

    def test_scope_not_granted(self):
        self.reconf(scopes="admin:everything")
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 1)
        self.assertIn("invalid_scope", p.stderr)

    def test_credentials_never_go_over_plain_http_to_another_host(self):
        self.reconf(token_url="http://cxone.example.test/auth/token")
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 1)
        self.assertIn("https://", p.stderr)
        self.assertEqual(self.cx.state()["token_requests"], [])

    def test_usage(self):
        p = self.run_cmd("register", "--json")
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: cxbridge [-c FILE] register", p.stderr)
        p = self.run_cmd("webhooks", "--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: cxbridge [-c FILE] webhooks", p.stdout)


class BearerAgreementTest(RegisterTest):
    START_DAEMON = True

    def test_the_registered_header_passes_the_bridge(self):
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        header = self.only_webhook()["headers"]["Authorization"]
        r = self.bridge.post(routing_event(), token=None, headers={"Authorization": header})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "accepted")


class BasicAgreementTest(RegisterTest):
    AUTH = {"mode": "basic"}
    SECRETS = ("cxone-sender:a:password:with:colons-0123456789",)
    START_DAEMON = True

    def test_the_registered_basic_header_passes_the_bridge(self):
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        header = self.only_webhook()["headers"]["Authorization"]
        self.assertEqual(header, "Basic " + base64.b64encode(self.SECRETS[0].encode()).decode())
        r = self.bridge.post(routing_event(), token=None, headers={"Authorization": header})
        self.assertEqual(r.status, 200, r)
        p = self.run_cmd("register", "--dry-run")
        self.assertIn('"Authorization": "Basic <redacted>"', p.stdout)


def standard_webhooks_headers(secret, body):
    """What a Standard Webhooks sender computes from the registered secret."""
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id, ts = "msg_" + uuid.uuid4().hex, str(int(time.time()))
    mac = hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


class HmacRawKeyAgreementTest(RegisterTest):
    AUTH = {"mode": "hmac-sha256"}
    SECRETS = ("raw-hmac-key-material-0123456789",)
    START_DAEMON = True

    def test_the_registered_signing_secret_passes_the_bridge(self):
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        hook = self.only_webhook()
        signing = hook["signing"]
        self.assertNotIn("headers", hook)
        self.assertEqual((signing["scheme"], signing["algorithm"]),
                         ("standard-webhooks", "hmac-sha256"))
        self.assertEqual(signing["secret"],
                         "whsec_" + base64.b64encode(self.SECRETS[0].encode()).decode())
        body = json.dumps(routing_event()).encode()
        r = self.bridge.post(body, token=None,
                             headers=standard_webhooks_headers(signing["secret"], body))
        self.assertEqual(r.status, 200, r)
        # The same request with another key is refused: the test can fail.
        bad = standard_webhooks_headers("whsec_" + base64.b64encode(b"x" * 32).decode(), body)
        self.assertEqual(self.bridge.post(body, token=None, headers=bad).status, 401)

    def test_dry_run_redacts_the_signing_secret(self):
        p = self.run_cmd("register", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('"secret": "whsec_<redacted>"', p.stdout)
        self.assertNotIn(base64.b64encode(self.SECRETS[0].encode()).decode(), p.stdout)


class HmacWhsecAgreementTest(HmacRawKeyAgreementTest):
    SECRETS = ("whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode(),)

    def test_the_registered_signing_secret_passes_the_bridge(self):
        p = self.run_cmd("register")
        self.assertEqual(p.returncode, 0, p.stderr)
        secret = self.only_webhook()["signing"]["secret"]
        self.assertEqual(secret, self.SECRETS[0])
        body = json.dumps(routing_event()).encode()
        r = self.bridge.post(body, token=None, headers=standard_webhooks_headers(secret, body))
        self.assertEqual(r.status, 200, r)

    def test_dry_run_redacts_the_signing_secret(self):
        p = self.run_cmd("register", "--dry-run")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(self.SECRETS[0], p.stdout)


if __name__ == "__main__":
    unittest.main()
