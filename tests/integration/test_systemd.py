"""test_systemd.py - cxbridge as a systemd service, driven the way systemd drives it.

- notify: a datagram socket stands in for systemd's NOTIFY_SOCKET and collects
  what the daemon says (READY=1, STATUS=, RELOADING=1, STOPPING=1, WATCHDOG=1),
  with WATCHDOG_USEC / WATCHDOG_PID set as systemd sets them;
- socket activation through systemd's own systemd-socket-activate;
- SIGHUP reloads, good and bad;
- a second SIGTERM during the drain;
- `make install` into a DESTDIR.

The drain under load that loses nothing acknowledged is in test_delivery.py
(DrainTest); it is not repeated here.

Run: CXB_BIN=$PWD/build/cxbridge /usr/bin/python3 -m unittest tests.integration.test_systemd -v
"""

import concurrent.futures
import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from tests.integration import harness
from tests.integration.harness import ROOT, SCHEMA, TOKEN, Bridge, routing_event

WATCHDOG_USEC = 2000000          # systemd's WatchdogSec=2: ping every second
STATUS_RE = re.compile(r"(\d+) of (\d+) events outstanding; (\d+) ids remembered")
RELOAD_WAIT_S = 5


def wait_for(pred, timeout, interval=0.02):
    """Polls pred() until it is truthy or timeout seconds pass; its last value."""
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NotifySocket:
    """An AF_UNIX datagram socket playing systemd's notify socket.  Every
    datagram is kept as (monotonic time, {field: value}).  on_ready, if set,
    runs in the reader thread the moment a READY=1 arrives."""

    def __init__(self, directory, on_ready=None):
        self.path = os.path.join(directory, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.on_ready = on_ready
        self.messages = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                k, sep, v = line.partition("=")
                if sep:
                    fields[k] = v
            if "READY" in fields and self.on_ready is not None:
                self.on_ready(fields)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()

    def all(self):
        with self.lock:
            return list(self.messages)

    def times(self, key, value=None, since=0.0):
        return [t for t, f in self.all()
                if key in f and (value is None or f[key] == value) and t >= since]

    def keys(self):
        """The order in which the protocol's state fields arrived."""
        return [k for _, f in self.all() for k in f
                if k in ("READY", "RELOADING", "STOPPING")]


class NotifyTest(unittest.TestCase):
    """One Bridge per test, with NOTIFY_SOCKET pointing at a NotifySocket."""

    def start(self, conf=None, env=None, on_ready=None, wrapper=None):
        self.bridge = Bridge(conf, env=env, start=False)
        self.notify = NotifySocket(self.bridge.tmp, on_ready)
        self.bridge.env["NOTIFY_SOCKET"] = self.notify.path
        if wrapper is None:
            self.bridge.start()
            return
        # The real binary exec'd from a shell, so the shell's $$ is its pid.
        path = os.path.join(self.bridge.tmp, "wrapper.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n%s\nexec \"$CXB_WRAPPED\" \"$@\"\n" % wrapper)
        os.chmod(path, 0o755)
        self.bridge.env["CXB_WRAPPED"] = harness.BIN
        saved, harness.BIN = harness.BIN, path
        try:
            self.bridge.start()
        finally:
            harness.BIN = saved

    def setUp(self):
        self.bridge = None
        self.notify = None

    def tearDown(self):
        rc = self.bridge.stop_quick() if self.bridge is not None else 0
        if self.notify is not None:
            self.notify.close()
        if rc != 0:
            self.fail("cxbridge exited %r; log:\n%s" % (rc, self.bridge.logs()[-4000:]))

    def test_ready_once_serving_status_figures_stopping(self):
        """READY=1 comes once the port answers /health (workers running);
        STATUS= carries live figures; SIGTERM sends STOPPING=1."""
        probe = {}

        def at_ready(fields):
            m = re.search(r"port (\d+)", fields.get("STATUS", ""))
            probe["status"] = fields.get("STATUS")
            if m is None:
                return
            try:   # now, in the reader thread, before anything else happens
                conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=2)
                conn.request("GET", "/health")
                probe["health"] = conn.getresponse().status
                conn.close()
            except OSError as exc:
                probe["health"] = repr(exc)

        self.start(env={"WATCHDOG_USEC": str(WATCHDOG_USEC)}, on_ready=at_ready)
        self.assertTrue(wait_for(lambda: self.notify.times("READY", "1"), 5), "no READY=1")
        self.assertIn("port %d" % self.bridge.port, probe.get("status", ""))
        self.assertEqual(wait_for(lambda: probe.get("health"), 3), 200,
                         "READY=1 came before /health answered: %r" % probe)
        self.assertEqual(len(self.notify.times("READY", "1")), 1)

        for _ in range(3):
            self.assertEqual(self.bridge.post(routing_event()).status, 200)

        def figures():
            for _, f in reversed(self.notify.all()):
                m = STATUS_RE.search(f.get("STATUS", ""))
                if m:
                    return tuple(int(x) for x in m.groups())
            return None
        self.assertTrue(wait_for(lambda: (figures() or (0, 0, 0))[2] == 3, 4),
                        "STATUS= never showed the 3 delivered ids: %r" % (figures(),))
        self.assertEqual(figures(), (0, 10000, 3))
        self.assertTrue(self.notify.times("STATUS")[-1] > self.notify.times("READY")[0])

        self.bridge.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.bridge.proc.wait(15), 0)
        self.assertTrue(wait_for(lambda: self.notify.times("STOPPING", "1"), 2),
                        "no STOPPING=1 on SIGTERM")
        stopping = [f for _, f in self.notify.all() if "STOPPING" in f][0]
        self.assertIn("draining", stopping.get("STATUS", ""))
        self.assertEqual(self.notify.keys(), ["READY", "STOPPING"])

    def test_sigint_drains_like_sigterm(self):
        self.start()
        self.assertTrue(wait_for(lambda: self.notify.times("READY", "1"), 5))
        self.bridge.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.bridge.proc.wait(15), 0)
        self.assertTrue(wait_for(lambda: self.notify.times("STOPPING", "1"), 2))
        self.assertIn("draining", self.bridge.logs())

    def test_no_ready_without_credentials(self):
        """Without AWS credentials the daemon must not say READY=1: it exits 1."""
        self.bridge = Bridge(start=False)
        self.notify = NotifySocket(self.bridge.tmp)
        self.bridge.env["NOTIFY_SOCKET"] = self.notify.path
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            del self.bridge.env[k]
        r = self.bridge.run_cli("-c", self.bridge.conf_path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("credentials", r.stderr)
        time.sleep(0.2)
        self.assertEqual(self.notify.times("READY"), [])
        self.bridge.standin.stop()
        self.bridge = None

    def watchdog_gaps(self, since, until):
        ts = [t for t in self.notify.times("WATCHDOG", "1") if since <= t <= until]
        return ts, [b - a for a, b in zip(ts, ts[1:])]

    def test_watchdog_at_half_the_interval(self):
        self.start(env={"WATCHDOG_USEC": str(WATCHDOG_USEC)})
        t0 = time.monotonic()
        time.sleep(4.5)
        ts, gaps = self.watchdog_gaps(t0, time.monotonic())
        self.assertGreaterEqual(len(ts), 3, "WATCHDOG=1 not about every second: %r" % gaps)
        for g in gaps:
            self.assertTrue(0.6 <= g <= 1.6, "WATCHDOG=1 gaps %r, want ~1 s" % gaps)

    def test_watchdog_pid_of_another_process_disables_it(self):
        """sd_watchdog_enabled: WATCHDOG_PID names the process meant; for any
        other pid the watchdog is off."""
        self.start(env={"WATCHDOG_USEC": str(WATCHDOG_USEC), "WATCHDOG_PID": "1"})
        time.sleep(2.5)
        self.assertEqual(self.notify.times("WATCHDOG"), [])

    def test_watchdog_pid_of_the_daemon_enables_it(self):
        self.start(env={"WATCHDOG_USEC": str(WATCHDOG_USEC)},
                   wrapper="WATCHDOG_PID=$$; export WATCHDOG_PID")
        self.assertTrue(wait_for(lambda: len(self.notify.times("WATCHDOG", "1")) >= 2, 4),
                        "no WATCHDOG=1 with WATCHDOG_PID set to the daemon's pid")

    def test_watchdog_stops_while_the_listener_cannot_serve(self):
        """max_connections = 1 and one idle client holding it: the self-check
        through the listener fails, so no WATCHDOG=1 for longer than
        WATCHDOG_USEC (systemd would restart the service); it resumes once
        the client goes."""
        self.start({"server": {"threads": "1", "max_connections": "1",
                               "idle_timeout_s": "60"}},
                   env={"WATCHDOG_USEC": str(WATCHDOG_USEC)})
        self.assertTrue(wait_for(lambda: len(self.notify.times("WATCHDOG", "1")) >= 2, 4))
        client = socket.create_connection(("127.0.0.1", self.bridge.port), timeout=5)
        held = time.monotonic()
        try:
            time.sleep(5.0)
        finally:
            client.close()
        released = time.monotonic()
        # A check already past accept() when the client came may still pass.
        during, _ = self.watchdog_gaps(held + 1.2, released)
        self.assertEqual(during, [], "WATCHDOG=1 sent while the listener was full")
        last_before = max(t for t in self.notify.times("WATCHDOG", "1") if t < held + 1.2)
        self.assertIn("watchdog: /health check failed", self.bridge.logs())
        resumed = wait_for(lambda: self.notify.times("WATCHDOG", "1", since=released), 5)
        self.assertTrue(resumed, "WATCHDOG=1 did not resume after the client left")
        self.assertGreater(resumed[0] - last_before, WATCHDOG_USEC / 1e6,
                           "the gap is shorter than WatchdogSec: systemd would not notice")

    def test_sighup_reloading_then_ready(self):
        self.start(env={"WATCHDOG_USEC": str(WATCHDOG_USEC)})
        self.assertTrue(wait_for(lambda: self.notify.times("READY", "1"), 5))
        self.bridge.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: len(self.notify.times("READY", "1")) == 2, 5),
                        "no READY=1 after the reload")
        self.assertEqual(self.notify.keys(), ["READY", "RELOADING", "READY"])
        self.assertLess(self.notify.times("RELOADING", "1")[0],
                        self.notify.times("READY", "1")[1])
        self.assertIn("reloaded", self.bridge.logs())


class SocketActivationTest(unittest.TestCase):
    """systemd-socket-activate holds the socket and execs the daemon on the
    first connection, passing the socket as fd 3 (LISTEN_FDS=1)."""

    def test_first_connection_starts_daemon_on_passed_socket(self):
        # [server] listen names a port already taken: binding it would fail,
        # so the daemon can only serve through the socket it was given.
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        bridge = Bridge({"server": {"listen": "127.0.0.1:%d" % busy.getsockname()[1]}},
                        start=False)
        port = free_port()
        argv = ["systemd-socket-activate", "-l", "127.0.0.1:%d" % port]
        for k, v in sorted(bridge.env.items()):
            if k.startswith("AWS_"):
                argv += ["-E", "%s=%s" % (k, v)]
        argv += [harness.BIN, "-c", bridge.conf_path]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        try:
            self.assertTrue(wait_for(lambda: any("Listening on" in l for l in lines), 5),
                            "systemd-socket-activate did not listen: %r" % lines)
            with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
                argv0 = f.read().split(b"\0")[0]
            self.assertTrue(argv0.endswith(b"systemd-socket-activate"),
                            "the daemon ran before the first connection: %r" % argv0)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("GET", "/health")
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
            ev = routing_event()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("POST", "/webhook/routing-events", body=json.dumps(ev),
                         headers={"Content-Type": "application/json",
                                  "Authorization": "Bearer " + TOKEN})
            r = conn.getresponse()
            body = json.loads(r.read())
            conn.close()
            self.assertEqual((r.status, body.get("destination")), (200, "eventbridge"), body)
            published = [json.loads(e["Entry"]["Detail"])["id"]
                         for e in bridge.standin.records()["events"]]
            self.assertEqual(published, [ev["id"]])
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(15), 0, "".join(lines))
            reader.join(5)
            log = "".join(lines)
            self.assertIn("listening on the socket systemd passed", log)
            self.assertNotIn("cannot listen", log)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
            busy.close()
            bridge.standin.stop()


class ReloadTest(unittest.TestCase):
    """SIGHUP: the new file is checked whole, then log level, secrets and
    schema are swapped; a bad file is refused and the old one stays.  The
    end of a reload is the READY=1 that follows RELOADING=1 (at level warn
    the "reloaded" line itself is not written)."""

    def setUp(self):
        self.bridge = Bridge(start=False)
        self.notify = NotifySocket(self.bridge.tmp)
        self.bridge.env["NOTIFY_SOCKET"] = self.notify.path
        self.bridge.start()
        self.assertTrue(wait_for(lambda: self.notify.times("READY", "1"), 5))

    def tearDown(self):
        rc = self.bridge.stop_quick()
        self.notify.close()
        if rc != 0:
            self.fail("cxbridge exited %r; log:\n%s" % (rc, self.bridge.logs()[-4000:]))

    def hup(self):
        """SIGHUP, wait for READY=1 again; the outcome line logged (or "")."""
        def outcomes():
            return [l for l in self.bridge.log_lines
                    if '"reloaded ' in l or "reload refused" in l]
        before = len(outcomes())
        ready = len(self.notify.times("READY", "1"))
        self.bridge.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: len(self.notify.times("READY", "1")) > ready,
                                 RELOAD_WAIT_S), "no READY=1 after SIGHUP")
        time.sleep(0.05)      # the stderr reader thread catches up
        return outcomes()[-1] if len(outcomes()) > before else ""

    def write_secrets(self, *tokens):
        with open(self.bridge.secret_file, "w") as f:
            f.write("\n".join(tokens) + "\n")

    def test_secret_rotation(self):
        token_b = "test-token-2-rotated"
        self.assertEqual(self.bridge.post(routing_event()).status, 200)
        self.write_secrets(token_b)
        self.assertIn('"reloaded ', self.hup())
        self.assertEqual(self.bridge.post(routing_event(), token=token_b).status, 200)
        r = self.bridge.post(routing_event())
        self.assertEqual((r.status, r.json), (401, {"error": "unauthorized"}))

    def test_bad_file_refused_old_configuration_stays(self):
        """Secrets changed on disk together with a bad configuration: nothing
        of the new state applies, the log names file:line."""
        self.write_secrets("test-token-2-rotated")
        with open(self.bridge.conf_path, "a") as f:
            f.write("[server]\nlisten_backlog = 5\n")
        with open(self.bridge.conf_path) as f:
            n_lines = len(f.readlines())
        line = self.hup()
        self.assertIn("reload refused", line)
        self.assertIn("%s:%d:" % (self.bridge.conf_path, n_lines), line)
        self.assertIn("listen_backlog", line)
        self.assertEqual(self.bridge.post(routing_event()).status, 200)
        self.assertEqual(self.bridge.post(routing_event(), token="test-token-2-rotated")
                         .status, 401)
        # A schema file that is missing is refused the same way.
        self.bridge.write_conf({"validation": {"schema_file": "/nonexistent/schema.json"}})
        self.assertIn("reload refused", self.hup())
        self.assertEqual(self.bridge.post(routing_event()).status, 200)

    def audit_lines(self, event_id):
        return [l for l in self.bridge.log_lines if event_id in l and '"msg":"event"' in l]

    def test_log_level_warn_silences_info(self):
        self.bridge.write_conf({"log": {"level": "warn"}})
        self.assertEqual(self.hup(), "", "an info line was written at level warn")
        ev = routing_event()
        self.assertEqual(self.bridge.post(ev).status, 200)
        time.sleep(0.3)
        self.assertEqual(self.audit_lines(ev["id"]), [], "info lines still written at warn")
        self.bridge.write_conf({"log": {"level": "info"}})
        self.assertIn('"reloaded ', self.hup())
        ev = routing_event()
        self.assertEqual(self.bridge.post(ev).status, 200)
        self.assertTrue(wait_for(lambda: self.audit_lines(ev["id"]), 2))

    def test_log_level_debug_shows_debug_lines(self):
        self.bridge.write_conf({"log": {"level": "debug"}})
        self.assertIn('"reloaded ', self.hup())
        for _ in range(3):
            self.assertEqual(self.bridge.post(routing_event()).status, 200)
        self.bridge.get("/health")
        self.bridge.get("/ready")
        self.assertTrue(wait_for(lambda: any('"level":"debug"' in l
                                             for l in self.bridge.log_lines), 2),
                        "no debug line after switching to [log] level = debug")

    def test_schema_tightened(self):
        schema_path = os.path.join(self.bridge.tmp, "schema.json")
        shutil.copy(SCHEMA, schema_path)
        self.bridge.write_conf({"validation": {"schema_file": schema_path}})
        self.hup()
        self.assertEqual(self.bridge.post(routing_event()).status, 200)
        with open(schema_path) as f:
            schema = json.load(f)
        schema["properties"]["routingContext"]["properties"]["waitTimeMs"]["maximum"] = 1000
        with open(schema_path, "w") as f:
            json.dump(schema, f)
        self.assertIn('"reloaded ', self.hup())
        r = self.bridge.post(routing_event())    # waitTimeMs 1200
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json.get("pointer"), "/routingContext/waitTimeMs")
        self.assertEqual(self.bridge.post(routing_event(routingContext={
            "queueId": "q-1", "skillId": "s-1", "agentId": "a-1",
            "waitTimeMs": 900})).status, 200)


class SecondSignalTest(unittest.TestCase):
    """A second SIGTERM during the drain moves the stop to now: what waits is
    spilled to the DLQ with reason shutdown, long before delivery_timeout_ms."""

    DELAY_MS = 8000
    CONF = {"eventbridge": {"delivery_timeout_ms": "30000", "request_timeout_ms": "20000"}}

    def setUp(self):
        self.bridge = None

    def tearDown(self):
        if self.bridge is not None:
            self.bridge.stop_quick()

    def run_case(self, conf, first, rest):
        """first events go out (and hang in PutEvents), then rest; SIGTERM
        twice.  Returns ({id: answer}, seconds after the second signal
        each answer came, exit status, DLQ reasons by id)."""
        self.bridge = b = Bridge(conf)
        b.standin.fault(kind="delay", service="events", ms=self.DELAY_MS, count=-1)
        pool = concurrent.futures.ThreadPoolExecutor(len(first) + len(rest))
        done = {}

        def send(ev):
            r = b.post(ev)
            done[ev["id"]] = (r, time.monotonic())
        futs = [pool.submit(send, ev) for ev in first]
        self.assertTrue(wait_for(lambda: b.metric("cxbridge_queue_depth") == len(first), 5))
        time.sleep(0.2)     # the PutEvents call is out
        futs += [pool.submit(send, ev) for ev in rest]
        self.assertTrue(wait_for(lambda: b.metric("cxbridge_queue_depth") ==
                                 len(first) + len(rest), 5))
        b.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        b.proc.send_signal(signal.SIGTERM)
        second = time.monotonic()
        concurrent.futures.wait(futs, timeout=self.DELAY_MS / 1000 + 10)
        pool.shutdown(wait=False)
        rc = b.proc.wait(15)
        reasons = {}
        for m in b.standin.records()["messages"]:
            body = json.loads(m["Body"])
            reasons[body["event"]["id"]] = body["reason"]
        took = {k: t - second for k, (r, t) in done.items()}
        return {k: r for k, (r, t) in done.items()}, took, rc, reasons

    def test_second_signal_spills_waiting_events_at_once(self):
        """One PutEvents call hangs (max_inflight_batches = 1); the 5 events
        queued behind it go to the DLQ at the second signal."""
        conf = {"eventbridge": dict(self.CONF["eventbridge"], max_inflight_batches="1")}
        first = [routing_event()]
        rest = [routing_event() for _ in range(5)]
        answers, took, rc, reasons = self.run_case(conf, first, rest)
        self.assertEqual(rc, 0, self.bridge.logs()[-3000:])
        self.assertIn("second signal", self.bridge.logs())
        for ev in rest:
            r = answers.get(ev["id"])
            self.assertIsNotNone(r, "no answer")
            self.assertEqual((r.status, r.json.get("destination")), (200, "dlq"), r)
            self.assertEqual(reasons.get(ev["id"]), "shutdown")
            self.assertLess(took[ev["id"]], 2.0, "spilled only %.1f s after the second "
                            "signal" % took[ev["id"]])
        self.assertEqual(answers[first[0]["id"]].status, 200)

    def test_second_signal_spills_in_flight_events(self):
        """Events inside a hanging PutEvents call: the second signal answers
        them from the DLQ (reason shutdown) rather than waiting for the call."""
        first = [routing_event() for _ in range(5)]
        answers, took, rc, reasons = self.run_case(self.CONF, first, [])
        self.assertEqual(rc, 0, self.bridge.logs()[-3000:])
        for ev in first:
            r = answers.get(ev["id"])
            self.assertIsNotNone(r, "no answer")
            self.assertEqual(r.status, 200, r)
            self.assertLess(took[ev["id"]], 3.0,
                            "answered %.1f s after the second signal, destination %s: "
                            "the in-flight PutEvents call was waited for" %
                            (took[ev["id"]], r.json.get("destination")))
            self.assertEqual((r.json.get("destination"), reasons.get(ev["id"])),
                             ("dlq", "shutdown"))


class InstallTest(unittest.TestCase):
    """make install DESTDIR=... PREFIX=...: the file list, modes, and units
    whose ExecStart follows PREFIX."""

    def make(self, *args):
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        # The binary under test is installed as it is (-o: never rebuilt here).
        r = subprocess.run(["make", "--no-print-directory", "-s", "-C", ROOT,
                            "BIN=" + harness.BIN, "-o", harness.BIN] + list(args),
                           env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def listing(self, root):
        out = {}
        for d, _, files in os.walk(root):
            for name in files:
                p = os.path.join(d, name)
                out[os.path.relpath(p, root)] = stat.S_IMODE(os.lstat(p).st_mode)
        return out

    def setUp(self):
        self.dest = tempfile.mkdtemp(prefix="cxb-install-")

    def tearDown(self):
        shutil.rmtree(self.dest, ignore_errors=True)

    def test_install_file_list_and_units(self):
        self.make("install", "DESTDIR=" + self.dest, "PREFIX=/usr")
        schemas = sorted(os.listdir(os.path.join(ROOT, "conf", "schemas")))
        want = {
            "usr/bin/cxbridge": 0o755,
            "etc/cxbridge/cxbridge.conf": 0o644,
            "usr/lib/systemd/system/cxbridge.service": 0o644,
            "usr/lib/systemd/system/cxbridge.socket": 0o644,
            "usr/share/man/man8/cxbridge.8": 0o644,
            "usr/share/man/man5/cxbridge.conf.5": 0o644,
        }
        for s in schemas:
            want["etc/cxbridge/schemas/" + s] = 0o644
        self.assertEqual(self.listing(self.dest), want)
        with open(os.path.join(self.dest, "usr/lib/systemd/system/cxbridge.service")) as f:
            unit = f.read()
        execs = re.findall(r"^ExecStart=(\S+)", unit, re.M)
        self.assertEqual(execs, ["/usr/bin/cxbridge"])
        with open(os.path.join(ROOT, "systemd", "cxbridge.service")) as f:
            src = f.read()
        self.assertEqual(re.sub(r"^ExecStart=\S+", "", unit, flags=re.M),
                         re.sub(r"^ExecStart=\S+", "", src, flags=re.M),
                         "the installed unit differs from systemd/ in more than ExecStart")
        with open(os.path.join(self.dest, "usr/bin/cxbridge"), "rb") as f, \
                open(harness.BIN, "rb") as g:
            self.assertEqual(f.read(), g.read(), "the installed binary is not the built one")

    def test_install_keeps_an_edited_configuration(self):
        self.make("install", "DESTDIR=" + self.dest, "PREFIX=/opt/cxb")
        unit = os.path.join(self.dest, "opt/cxb/lib/systemd/system/cxbridge.service")
        with open(unit) as f:
            self.assertRegex(f.read(), r"(?m)^ExecStart=/opt/cxb/bin/cxbridge ")
        conf = os.path.join(self.dest, "etc/cxbridge/cxbridge.conf")
        with open(conf, "a") as f:
            f.write("# edited by the operator\n")
        self.make("install", "DESTDIR=" + self.dest, "PREFIX=/opt/cxb")
        with open(conf) as f:
            self.assertIn("# edited by the operator", f.read())
        with open(conf + ".new") as f, open(os.path.join(ROOT, "conf/cxbridge.conf")) as g:
            self.assertEqual(f.read(), g.read())
        self.make("uninstall", "DESTDIR=" + self.dest, "PREFIX=/opt/cxb")
        left = sorted(self.listing(self.dest))
        self.assertTrue(all(p.startswith("etc/cxbridge/") for p in left), left)
        self.assertIn("etc/cxbridge/cxbridge.conf", left)


if __name__ == "__main__":
    unittest.main()
