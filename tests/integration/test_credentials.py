"""test_credentials.py - the AWS credentials chain against local stand-ins.

The daemon gets its credentials from tests/standin/metadata_standin.py
(IMDSv2, the ECS/EKS container endpoint, STS) and publishes to
tests/standin/aws_standin.py, which accepts every key the metadata
stand-in hands out (--accept-keys-file), checks each request with the key
that signed it and refuses expired ones.  Each test checks what the SDKs
check, that events flow, and that no secret reaches the daemon's log.
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ACCESS_KEY, PYTHON, REGION, ROOT, SECRET_KEY,  # noqa: E402
                     START_TIMEOUT_S, Bridge, Standin, routing_event)

META = os.path.join(ROOT, "tests", "standin", "metadata_standin.py")
QUEUE_URL = "https://sqs.%s.amazonaws.com/123456789012/cxbridge-dlq" % REGION
ROLE = "arn:aws:iam::123456789012:role/cxbridge"
WEB_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjeGJyaWRnZSJ9.c2lnbmF0dXJl"
# The daemon gets nothing from the harness's environment keys.
NO_KEYS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
           "AWS_EC2_METADATA_DISABLED": "true"}


class Metadata:
    """One metadata_standin.py on 127.0.0.1; keys it hands out go to keys_file."""

    def __init__(self, tmp, *args):
        self.keys_file = os.path.join(tmp, "issued-keys.jsonl")
        open(self.keys_file, "w").close()
        port_file = os.path.join(tmp, "metadata.port")
        self.log = open(os.path.join(tmp, "metadata.log"), "w")
        self.proc = subprocess.Popen(
            [PYTHON, META, "--port", "0", "--port-file", port_file, "--region", REGION,
             "--keys-file", self.keys_file] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT_S
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("metadata stand-in did not start")
            time.sleep(0.02)
        with open(port_file) as f:
            self.url = "http://127.0.0.1:%d" % int(f.read())

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data,
                                     method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def records(self):
        return self.control("/_control/records")

    def configure(self, **kw):
        return self.control("/_control/config", kw)

    def issued(self):
        with open(self.keys_file) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class CredentialsTest(unittest.TestCase):
    """A metadata stand-in, an AWS stand-in that accepts its keys, and daemons."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cxb-cred-")
        self.meta = None
        self.aws = None
        self.bridges = []

    def start_standins(self, *meta_args):
        self.meta = Metadata(self.tmp, *meta_args)
        self.aws = Standin(self.tmp, QUEUE_URL,
                           extra_args=["--accept-keys-file", self.meta.keys_file])

    def bridge(self, env, conf=None, start=True):
        full = dict(NO_KEYS)
        full.update(env)
        b = Bridge(conf, env=full, standin=self.aws, start=start)
        self.bridges.append(b)
        return b

    def fails_to_start(self, env, want, conf=None):
        """The daemon must exit non-zero at start-up, saying `want`."""
        b = self.bridge(env, conf, start=False)
        r = b.run_cli("-c", b.conf_path)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn(want, r.stderr)
        self.assert_no_secrets(r.stderr)

    def tearDown(self):
        try:
            for b in self.bridges:
                if b.proc is not None:
                    rc = b.stop()
                    self.assertEqual(rc, 0, "cxbridge exited %r:\n%s" % (rc, b.logs()[-3000:]))
                    self.assert_no_secrets(b.logs())
        finally:
            if self.aws is not None:
                self.aws.stop()
            if self.meta is not None:
                self.meta.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_no_secrets(self, text):
        for rec in self.meta.issued() if self.meta is not None else []:
            self.assertNotIn(rec["secret_key"], text, "a secret key is in the log")
            self.assertNotIn(rec["session_token"][:40], text, "a session token is in the log")
        for word in (SECRET_KEY, WEB_TOKEN, "ecs-token-"):
            self.assertNotIn(word, text, "a secret or token is in the log")

    def publish(self, b, n=1):
        for _ in range(n):
            r = b.post(routing_event())
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["destination"], "eventbridge", r)

    def key_uses(self):
        return self.aws.control("GET", "/_control/keys")

    def aws_log(self, b):
        for line in b.log_lines:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "aws":
                return rec
        self.fail("no \"aws\" start-up line:\n" + b.logs())
        return None


class ImdsTest(CredentialsTest):
    def imds_env(self, **more):
        env = {"AWS_EC2_METADATA_DISABLED": "",
               "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.meta.url}
        env.update(more)
        return env

    def test_imdsv2_token_ttl_role_expiry_and_token_renewal(self):
        self.start_standins("--lifetime", "8")
        b = self.bridge(self.imds_env())
        self.assertIn("EC2 instance metadata", self.aws_log(b)["credentials"])
        rec = self.meta.records()["imds"]
        # One session token, asked for with the SDKs' TTL, sent on every GET.
        self.assertEqual(rec["token_puts"], ["21600"])
        paths = [g["path"] for g in rec["gets"]]
        self.assertEqual(paths, ["/latest/meta-data/iam/security-credentials/",
                                 "/latest/meta-data/iam/security-credentials/cxbridge-role"])
        self.assertTrue(all(g["token"] for g in rec["gets"]))
        self.publish(b)
        first = self.meta.issued()[0]["access_key"]
        self.assertIn(first, self.key_uses())
        left = b.metric("cxbridge_credentials_expiry_seconds")
        self.assertTrue(3 < left <= 8, left)
        # IMDS forgets its tokens: the next refresh gets 401, takes a new
        # token and retries, as the SDKs do.
        self.meta.configure(invalidate_tokens=True)
        wait_for(lambda: len(self.meta.issued()) >= 2, 10, "a refresh")
        rec = self.meta.records()["imds"]
        self.assertGreaterEqual(rec["unauthorized"], 1)
        self.assertEqual(len(rec["token_puts"]), 2)
        self.publish(b)
        self.assertIn(self.meta.issued()[1]["access_key"], self.key_uses())
        self.assertEqual(b.get("/ready").status, 200)

    def test_imds_v1_fallback_unless_disabled(self):
        self.start_standins()
        self.meta.configure(imds_mode="v1")
        b = self.bridge(self.imds_env())
        self.publish(b)
        self.assertFalse(any(g["token"] for g in self.meta.records()["imds"]["gets"]))
        self.fails_to_start(self.imds_env(AWS_EC2_METADATA_V1_DISABLED="true"),
                            "token request was answered HTTP 404")

    def test_nothing_configured_and_metadata_disabled_fails_start(self):
        self.start_standins()
        self.fails_to_start({}, "AWS_EC2_METADATA_DISABLED is true")


class ContainerTest(CredentialsTest):
    def container_env(self, token_file, path="/v2/credentials/cxbridge-task"):
        return {"AWS_CONTAINER_CREDENTIALS_FULL_URI": self.meta.url + path,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file}

    def token_file(self, text):
        path = os.path.join(self.tmp, "ecs-token")
        with open(path, "w") as f:
            f.write(text + "\n")
        return path

    def test_full_uri_with_rotating_token_file(self):
        self.start_standins("--ecs-token", "ecs-token-1", "--lifetime", "8")
        path = self.token_file("ecs-token-1")
        b = self.bridge(self.container_env(path))
        self.assertIn("container credentials endpoint", self.aws_log(b)["credentials"])
        self.publish(b)
        self.assertEqual(self.meta.records()["ecs"], {"fetches": 1, "refused": 0})
        # EKS Pod Identity rotates the token file: it is read on every fetch.
        self.token_file("ecs-token-2")
        self.meta.configure(ecs_token="ecs-token-2")
        wait_for(lambda: self.meta.records()["ecs"]["fetches"] >= 2, 10, "a refresh")
        self.assertEqual(self.meta.records()["ecs"]["refused"], 0)
        self.publish(b)
        self.assertIn(self.meta.issued()[-1]["access_key"], self.key_uses())

    def test_host_restrictions_and_token_checks(self):
        self.start_standins("--ecs-token", "ecs-token-1")
        # Plain http only to loopback or the ECS / EKS agents, as in the SDKs.
        self.fails_to_start({"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                             "http://203.0.113.9/creds"}, "plain http is allowed only")
        # A token that could smuggle a header is refused.
        self.fails_to_start({"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                             self.meta.url + "/v2/credentials/cxbridge-task",
                             "AWS_CONTAINER_AUTHORIZATION_TOKEN": "ecs-token-1\r\nX-A: b"},
                            "control character")
        # The wrong token: the endpoint says 401 and nothing starts.
        self.fails_to_start(self.container_env(self.token_file("ecs-token-x")),
                            "authorization token refused")
        self.assertEqual(self.meta.records()["ecs"]["refused"], 3)   # 3 start attempts


class StsTest(CredentialsTest):
    def test_web_identity_from_environment(self):
        self.start_standins("--web-token", WEB_TOKEN)
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write(WEB_TOKEN)
        b = self.bridge({"AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": ROLE,
                         "AWS_ROLE_SESSION_NAME": "cxb-it",
                         "AWS_ENDPOINT_URL_STS": self.meta.url})
        self.assertIn("web identity", self.aws_log(b)["credentials"])
        self.assertEqual(self.aws_log(b)["sts"], self.meta.url)
        [call] = self.meta.records()["sts"]
        self.assertEqual(call["action"], "AssumeRoleWithWebIdentity")
        self.assertFalse(call["authorization"])          # unsigned, as the SDKs send it
        self.assertEqual((call["role_arn"], call["session_name"]), (ROLE, "cxb-it"))
        self.publish(b, 3)
        with open(token, "w") as f:
            f.write("not-the-token")
        self.fails_to_start({"AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": ROLE,
                             "AWS_ENDPOINT_URL_STS": self.meta.url}, "InvalidIdentityToken")

    def write_profiles(self, helper):
        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write(WEB_TOKEN)
        conf = os.path.join(self.tmp, "aws-config")
        with open(conf, "w") as f:
            f.write("[profile base]\naws_access_key_id = %s\naws_secret_access_key = %s\n\n"
                    "[profile role]\nrole_arn = %s\nsource_profile = base\n"
                    "role_session_name = cxb-role\nexternal_id = ext-1\n"
                    "duration_seconds = 900\n\n"
                    "[profile chained]\nrole_arn = %s-second\nsource_profile = role\n\n"
                    "[profile proc]\ncredential_process = %s\n\n"
                    "[profile webid]\nrole_arn = %s\nweb_identity_token_file = %s\n\n"
                    "[profile envsrc]\nrole_arn = %s\ncredential_source = Environment\n\n"
                    "[profile loop1]\nrole_arn = %s\nsource_profile = loop2\n"
                    "[profile loop2]\nrole_arn = %s\nsource_profile = loop1\n"
                    "[profile sso]\nsso_session = corp\n"
                    % (ACCESS_KEY, SECRET_KEY, ROLE, ROLE, helper, ROLE, token, ROLE,
                       ROLE, ROLE))
        return {"AWS_CONFIG_FILE": conf, "AWS_ENDPOINT_URL_STS": self.meta.url}

    def helper_script(self):
        path = os.path.join(self.tmp, "cred-helper.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho 'helper ran' >&2\ncat <<EOF\n"
                    '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s",'
                    ' "Expiration": "2999-01-01T00:00:00Z"}\nEOF\n' % (ACCESS_KEY, SECRET_KEY))
        os.chmod(path, stat.S_IRWXU)
        return path

    def profile_run(self, env, profile, conf=None):
        """Starts a daemon on the profile, publishes, returns its STS calls."""
        before = len(self.meta.records()["sts"])
        e = dict(env)
        if profile is not None:
            e["AWS_PROFILE"] = profile
        b = self.bridge(e, conf)
        self.publish(b)
        self.assertIn(self.issued_last_or_static(), self.key_uses())
        self.assertEqual(b.stop(), 0)
        self.assert_no_secrets(b.logs())
        self.bridges.remove(b)
        return self.aws_log(b), self.meta.records()["sts"][before:]

    def issued_last_or_static(self):
        issued = self.meta.issued()
        return issued[-1]["access_key"] if issued else ACCESS_KEY

    def test_profile_matrix(self):
        self.start_standins("--web-token", WEB_TOKEN, "--source-key", ACCESS_KEY,
                            "--source-secret", SECRET_KEY)
        env = self.write_profiles(self.helper_script())
        # role_arn + source_profile: AssumeRole signed with the source's keys.
        log, calls = self.profile_run(env, "role")
        self.assertIn("then 1 role", log["credentials"])
        self.assertEqual([(c["action"], c["signed_by"], c["session_name"], c["external_id"],
                           c["duration"]) for c in calls],
                         [("AssumeRole", ACCESS_KEY, "cxb-role", "ext-1", "900")])
        # Two roles in a row: the second is signed with the first one's key.
        _, calls = self.profile_run(env, "chained")
        self.assertEqual([c["role_arn"] for c in calls], [ROLE, ROLE + "-second"])
        self.assertEqual(calls[0]["signed_by"], ACCESS_KEY)
        self.assertEqual(calls[1]["signed_by"], self.meta.issued()[-2]["access_key"])
        # credential_process: no STS call, the helper's keys sign.
        log, calls = self.profile_run(env, "proc")
        self.assertEqual((calls, log["credentials"]), ([], 'profile "proc": credential_process'))
        # role_arn + web_identity_token_file in a profile.
        _, calls = self.profile_run(env, "webid")
        self.assertEqual([(c["action"], c["authorization"]) for c in calls],
                         [("AssumeRoleWithWebIdentity", False)])
        # credential_source = Environment, with [aws] profile (which, like
        # the CLI's --profile, comes before the environment's keys).
        env_keys = dict(env, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        _, calls = self.profile_run(env_keys, None, {"aws": {"profile": "envsrc"}})
        self.assertEqual([(c["action"], c["signed_by"]) for c in calls],
                         [("AssumeRole", ACCESS_KEY)])
        # Profiles that must stop the start-up, saying why.
        for profile, want in (("loop1", "leads back to itself"),
                              ("sso", "uses sso_session"),
                              ("nope", 'profile \\"nope\\" not found')):
            self.fails_to_start(dict(env, AWS_PROFILE=profile), want)


class RotationTest(CredentialsTest):
    LIFETIME = 16          # seconds: refreshed at 8 s, so a new key every ~9.5 s
    FETCH_DELAY_MS = 1500  # each IMDS credentials fetch is slow
    RUN_S = 30

    def test_rotation_while_events_flow(self):
        self.start_standins("--lifetime", str(self.LIFETIME))
        self.meta.configure(delay_ms={"imds": self.FETCH_DELAY_MS})
        b = self.bridge({"AWS_EC2_METADATA_DISABLED": "",
                         "AWS_EC2_METADATA_SERVICE_ENDPOINT": self.meta.url})
        results, lock, stop = [], threading.Lock(), threading.Event()

        def sender():
            while not stop.is_set():
                t0 = time.monotonic()
                r = b.post(routing_event())
                with lock:
                    results.append((r.status, r.json and r.json.get("destination"),
                                    time.monotonic() - t0))
                time.sleep(0.02)
        threads = [threading.Thread(target=sender) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(self.RUN_S)
        stop.set()
        for t in threads:
            t.join(30)
        issued = self.meta.issued()
        uses = self.key_uses()
        # Every event was answered 200 and published to EventBridge.
        bad = [r for r in results if r[:2] != (200, "eventbridge")]
        self.assertEqual(bad, [], "events failed during rotation")
        self.assertEqual(len(self.aws.records()["events"]), len(results))
        self.assertEqual(self.aws.records()["rejected_signatures"], 0)
        # Nobody waited on a credentials fetch (each took 1.5 s).
        worst = max(r[2] for r in results)
        self.assertLess(worst, 1.0, "an event waited %.2f s" % worst)
        # Keys rotated at least twice under traffic, and each new key signed
        # from the moment it was fetched: no request signed with the old key
        # after the new one was in use (1 s for the clock's rounding).
        used = [k for k in issued if k["access_key"] in uses]
        self.assertGreaterEqual(len(used), 3)
        for old, new in zip(issued, issued[1:]):
            u_old, u_new = uses.get(old["access_key"]), uses.get(new["access_key"])
            if u_old is None or u_new is None:
                continue
            self.assertLessEqual(u_old["last"], u_new["first"] + 1,
                                 "an old key signed after the new one was in use")
            self.assertLess(u_old["last"], old["expiration"], "an expired key signed")
        # The refresh ran ahead of expiry: never fewer than 5 s left.
        self.assertGreater(b.metric("cxbridge_credentials_expiry_seconds"), 5)


class RefreshFailureTest(CredentialsTest):
    def logged(self, b, text):
        return sum(1 for line in b.log_lines if text in line)

    def test_failures_logged_once_ready_and_metric_then_recovery(self):
        self.start_standins("--ecs-token", "ecs-token-1", "--lifetime", "8")
        path = os.path.join(self.tmp, "ecs-token")
        with open(path, "w") as f:
            f.write("ecs-token-1")
        b = self.bridge({"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                         self.meta.url + "/v2/credentials/cxbridge-task",
                         "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": path},
                        {"eventbridge": {"delivery_timeout_ms": "1000"}})
        self.publish(b)
        self.meta.configure(fail={"ecs": -1})
        # Still valid for a while: retries, one warning, still ready.
        wait_for(lambda: self.logged(b, "refresh failed") >= 1, 10, "the warning")
        self.assertEqual(b.get("/ready").status, 200)
        self.publish(b)
        # Past the margin: not ready, the metric says so, one error line.
        wait_for(lambda: b.get("/ready").status == 503, 10, "/ready to fail")
        self.assertIn("expired", b.get("/ready").body)
        self.assertLess(b.metric("cxbridge_credentials_expiry_seconds"), 1)
        wait_for(lambda: self.logged(b, "expired and could not be refreshed") == 1, 5,
                 "the error line")
        r = b.post(routing_event())
        self.assertNotEqual(r.status, 200, "an event was accepted without credentials")
        fetch_failures = self.meta.records()["ecs"]["fetches"]
        self.assertEqual(self.logged(b, "refresh failed"), 1, "logged more than once")
        # The endpoint comes back: fresh credentials within the capped
        # backoff (10 s), events flow and /ready follows (the breaker the
        # refused event opened has cooled down by then).
        self.meta.configure(fail={"ecs": 0})
        wait_for(lambda: self.logged(b, "AWS credentials refreshed again") == 1, 15,
                 "recovery")
        self.assertGreater(self.meta.records()["ecs"]["fetches"], fetch_failures)
        self.assertGreater(b.metric("cxbridge_credentials_expiry_seconds"), 5)
        self.publish(b)
        self.assertEqual(b.get("/ready").status, 200)
        self.assertEqual(self.logged(b, "expired and could not be refreshed"), 1)
        self.assertEqual(self.logged(b, "refresh failed"), 1)


if __name__ == "__main__":
    unittest.main()
