"""harness.py - start the AWS stand-in and the real cxbridge daemon for a test.

Every integration test builds on this: a Bridge is one stand-in plus one
daemon on 127.0.0.1 with a throw-away configuration, torn down at the end
(the daemon must exit 0 on SIGTERM, which under ASan also means no leak).
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("CXB_BIN", os.path.join(ROOT, "build", "cxbridge"))
STANDIN = os.path.join(ROOT, "tests", "standin", "aws_standin.py")
PYTHON = "/usr/bin/python3"
SCHEMA = os.path.join(ROOT, "conf", "schemas", "cxone-routing-event.json")

REGION = "us-east-1"
ACCESS_KEY = "AKIDCXBRIDGETEST"
SECRET_KEY = "cxbridge/test/secret/key+0123456789abcdef"
TOKEN = "test-token-1"
# Raised for slow runs (valgrind): seconds for the stand-in and daemon to start.
START_TIMEOUT_S = float(os.environ.get("CXB_START_TIMEOUT_S", "15"))


def routing_event(**over):
    """A valid CXone routing event; keyword arguments replace members."""
    ev = {
        "id": str(uuid.uuid4()),
        "eventType": "routing:contact.queued",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z",
        "routingContext": {"queueId": "q-" + uuid.uuid4().hex[:8],
                           "skillId": "s-1", "agentId": "a-1", "waitTimeMs": 1200},
        "retryDirective": {"maxAttempts": 3, "backoffMs": 500},
        "schemaVersion": "v1.0",
    }
    ev.update(over)
    return ev


def iso_ms(epoch_ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + \
        ".%03dZ" % (epoch_ms % 1000)


class Standin:
    def __init__(self, tmp, queue_url, session_token=None, extra_args=()):
        """session_token: the stand-in then requires it on every call (the
        daemon needs AWS_SESSION_TOKEN set to the same value).  extra_args:
        more stand-in options, e.g. ("--accept-keys-file", FILE)."""
        self.port_file = os.path.join(tmp, "standin.port")
        self.log = open(os.path.join(tmp, "standin.log"), "w")
        extra = ["--session-token", session_token] if session_token else []
        extra += list(extra_args)
        self.proc = subprocess.Popen(
            [PYTHON, STANDIN, "--port", "0", "--port-file", self.port_file,
             "--region", REGION, "--access-key", ACCESS_KEY,
             "--secret-key", SECRET_KEY, "--queue-url", queue_url] + extra,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT_S
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("stand-in did not start; see standin.log")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.url = "http://127.0.0.1:%d" % self.port

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
            return json.loads(text) if text else None

    def fault(self, **spec):
        return self.control("POST", "/_control/faults", spec)

    def clear_faults(self):
        return self.control("DELETE", "/_control/faults")

    def records(self):
        return self.control("GET", "/_control/records")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


DEFAULT_CONF = {
    "server": {"listen": "127.0.0.1:0", "threads": "2"},
    "auth": {"mode": "bearer"},
    "eventbridge": {"batch_linger_ms": "2", "delivery_timeout_ms": "4000",
                    "request_timeout_ms": "1000", "connect_timeout_ms": "500",
                    "retry_base_ms": "10",
                    "retry_max_backoff_ms": "100", "breaker_cooldown_ms": "1000"},
    "dedupe": {},
    "ordering": {},
    "validation": {},
    "log": {"level": "info"},
}


class Bridge:
    """One stand-in and one daemon.  conf: {section: {key: value}} overrides."""

    def __init__(self, conf=None, secrets=(TOKEN,), env=None, start=True, standin=None):
        """standin: a running Standin to use instead of starting one (its
        records outlive this daemon, e.g. across a restart after SIGKILL);
        stop() then leaves it running for its owner to stop."""
        self.tmp = tempfile.mkdtemp(prefix="cxb-it-")
        self.queue_url = "https://sqs.%s.amazonaws.com/123456789012/cxbridge-dlq" % REGION
        self.own_standin = standin is None
        self.standin = standin if standin is not None else Standin(self.tmp, self.queue_url)
        self.secret_file = os.path.join(self.tmp, "secrets")
        with open(self.secret_file, "w") as f:
            f.write("\n".join(secrets) + "\n")
        os.chmod(self.secret_file, 0o600)
        self.conf_path = os.path.join(self.tmp, "cxbridge.conf")
        self.write_conf(conf or {})
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("AWS_"):
                del self.env[k]
        self.env.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY,
                         "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                         "AWS_REGION": REGION,
                         "AWS_ENDPOINT_URL": self.standin.url,
                         "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.tmp, "none"),
                         "AWS_CONFIG_FILE": os.path.join(self.tmp, "none")})
        self.env.update(env or {})
        self.proc = None
        self.log_lines = []
        if start:
            self.start()

    def write_conf(self, conf):
        merged = {s: dict(v) for s, v in DEFAULT_CONF.items()}
        merged["auth"]["secret_file"] = self.secret_file
        merged["validation"]["schema_file"] = SCHEMA
        merged.setdefault("dlq", {})["queue_url"] = self.queue_url
        for section, kv in conf.items():
            merged.setdefault(section, {}).update(kv)
        with open(self.conf_path, "w") as f:
            for section, kv in merged.items():
                f.write("[%s]\n" % section)
                for k, v in kv.items():
                    if v is not None:
                        f.write("%s = %s\n" % (k, v))

    def run_cli(self, *args, timeout=20):
        """Runs the binary to completion (for -n, -V, bad configs)."""
        return subprocess.run([BIN] + list(args), env=self.env, timeout=timeout,
                              capture_output=True, text=True)

    def start(self):
        self.proc = subprocess.Popen([BIN, "-c", self.conf_path], env=self.env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.port = None
        ready = threading.Event()

        def reader():
            for line in self.proc.stderr:
                self.log_lines.append(line)
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("msg") == "listening":
                    self.port = rec["port"]
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=reader, daemon=True)
        self.reader.start()
        if not ready.wait(START_TIMEOUT_S) or self.port is None:
            self.stop()
            raise RuntimeError("cxbridge did not start:\n" + "".join(self.log_lines))

    def request(self, method, path, body=b"", headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read().decode("utf-8", "replace"))
        finally:
            conn.close()

    def post(self, event, token=TOKEN, path="/webhook/routing-events", headers=None):
        body = event if isinstance(event, (bytes, str)) else json.dumps(event)
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        return self.request("POST", path, body, h)

    def get(self, path):
        return self.request("GET", path)

    def metric(self, name):
        """Sum of every sample of a metric family (name without labels)."""
        text = self.get("/metrics").body
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            sample = line.split(" ")[0]
            if sample == name or sample.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self, sig=signal.SIGTERM, timeout=30):
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc is not None:
            rc = self.proc.returncode
        if self.proc is not None:
            self.reader.join(5)
            self.proc.stderr.close()
        if self.own_standin:
            self.standin.stop()
        return rc

    def logs(self):
        return "".join(self.log_lines)

    def stop_quick(self, sig=signal.SIGTERM, timeout=30):
        """The same as stop(): the stand-ins poll for shutdown every 50 ms,
        so waiting for them costs nothing worth skipping."""
        return self.stop(sig, timeout)


class BridgeTest(unittest.TestCase):
    """Starts a Bridge per test; CONF / SECRETS on the class tune it."""
    CONF = None
    SECRETS = (TOKEN,)

    def setUp(self):
        self.bridge = Bridge(self.CONF, self.SECRETS)

    def tearDown(self):
        rc = self.bridge.stop()
        if rc != 0:
            self.fail("cxbridge exited %r; log:\n%s" % (rc, self.bridge.logs()[-4000:]))

    def published(self):
        return self.bridge.standin.records()["events"]

    def dead_letters(self):
        return self.bridge.standin.records()["messages"]


class QuickBridgeTest(BridgeTest):
    """BridgeTest whose tear-down does not wait for the stand-in to exit
    (Bridge.stop_quick); the daemon must still exit 0 on SIGTERM."""

    def tearDown(self):
        rc = self.bridge.stop_quick()
        if rc != 0:
            self.fail("cxbridge exited %r; log:\n%s" % (rc, self.bridge.logs()[-4000:]))
