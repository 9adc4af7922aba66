"""test_cli.py - the daemon's command line: -V, -h, -n, -l and refusals.

These run the binary to completion (or start it on a chosen port), with a
configuration written by the harness next to a running stand-in.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import BIN, Bridge, routing_event  # noqa: E402

SECRETS = ("cli-test-token-0123456789",)


def version():
    with open(os.path.join(harness.ROOT, "VERSION")) as f:
        return f.read().strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class CliTest(unittest.TestCase):
    def bridge(self, conf=None):
        b = Bridge(conf, SECRETS, start=False)
        self.addCleanup(b.stop_quick)
        return b

    def run_bin(self, *args):
        return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=15)

    # ---- informational options --------------------------------------------

    def test_V_prints_the_version(self):
        p = self.run_bin("-V")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "cxbridge " + version())

    def test_long_version_prints_the_version(self):
        p = self.run_bin("--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(version(), p.stdout)

    def test_h_prints_usage_and_exits_0(self):
        p = self.run_bin("-h")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("usage: cxbridge", p.stdout)
        for opt in ("-c FILE", "-l ADDR:PORT", "-n", "--check-config", "-V", "-h"):
            self.assertIn(opt, p.stdout)

    def test_unknown_option_exits_2_with_usage(self):
        p = self.run_bin("--no-such-option")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("usage: cxbridge", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_unknown_short_option_exits_2(self):
        p = self.run_bin("-Z")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)

    def test_stray_argument_exits_2(self):
        p = self.run_bin("extra-argument")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)

    def test_missing_config_file_fails(self):
        p = self.run_bin("-c", "/nonexistent/cxbridge.conf", "-n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/cxbridge.conf", p.stderr)

    # ---- -n / --check-config ------------------------------------------------

    def test_check_config_on_a_good_file_prints_ok(self):
        b = self.bridge()
        p = b.run_cli("-c", b.conf_path, "-n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("OK", p.stdout)
        self.assertIn(b.conf_path, p.stdout)

    def test_long_check_config_on_a_good_file(self):
        b = self.bridge()
        p = b.run_cli("-c", b.conf_path, "--check-config")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("OK", p.stdout)

    def test_shipped_conf_is_valid_syntax(self):
        # The shipped file names /etc paths that need not exist here, so it
        # may fail on those, but never on a key or line of its own.  Its
        # secret file comes from systemd's credentials directory.
        env = dict(os.environ, CREDENTIALS_DIRECTORY="/run/credentials/cxbridge.service")
        p = subprocess.run([BIN, "-c", os.path.join(harness.ROOT, "conf", "cxbridge.conf"), "-n"],
                           capture_output=True, text=True, timeout=15, env=env)
        self.assertNotIn("unknown key", p.stderr)
        self.assertNotRegex(p.stderr, r"cxbridge\.conf:\d+:")

    def test_check_config_names_file_and_line_of_unknown_key(self):
        b = self.bridge({"server": {"listne": "127.0.0.1:8080"}})
        with open(b.conf_path) as f:
            lines = f.read().split("\n")
        line = next(i + 1 for i, t in enumerate(lines) if t.startswith("listne"))
        p = b.run_cli("-c", b.conf_path, "-n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("%s:%d: unknown key" % (b.conf_path, line), p.stderr)
        self.assertIn("listne", p.stderr)
        self.assertNotIn("OK", p.stdout)

    def test_check_config_reports_a_bad_value(self):
        b = self.bridge({"ordering": {"policy": "drop"}})
        p = b.run_cli("-c", b.conf_path, "-n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b.conf_path + ":", p.stderr)
        self.assertIn("policy", p.stderr)

    def test_check_config_applies_l(self):
        b = self.bridge()
        p = b.run_cli("-c", b.conf_path, "-l", "not-an-address", "-n")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("listen", p.stderr)

    def test_unknown_key_stops_start_up(self):
        b = self.bridge({"server": {"listne": "127.0.0.1:8080"}})
        p = b.run_cli("-c", b.conf_path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("unknown key", p.stderr)

    # ---- refusals at start-up ------------------------------------------------

    def test_missing_dlq_queue_url_refuses_to_start(self):
        b = self.bridge({"dlq": {"queue_url": ""}})
        p = b.run_cli("-c", b.conf_path)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertIn("queue_url", p.stderr)
        self.assertNotIn('"listening"', p.stderr)

    def test_missing_dlq_queue_url_fails_check_config(self):
        b = self.bridge({"dlq": {"queue_url": None}})
        p = b.run_cli("-c", b.conf_path, "-n")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("queue_url", p.stderr)

    def test_missing_schema_file_refuses_to_start(self):
        b = self.bridge({"validation": {"schema_file": "/nonexistent/schema.json"}})
        p = b.run_cli("-c", b.conf_path)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent/schema.json", p.stderr)

    # ---- -l -----------------------------------------------------------------

    def test_l_overrides_listen(self):
        b = self.bridge({"server": {"listen": "127.0.0.1:1"}})
        port = free_port()
        proc = subprocess.Popen([BIN, "-c", b.conf_path, "-l", "127.0.0.1:%d" % port],
                                env=b.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        lines = []
        found = threading.Event()

        def reader():
            for line in proc.stderr:
                lines.append(line)
                if '"listening"' in line:
                    found.set()
            found.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        try:
            self.assertTrue(found.wait(15), "no listening line")
            rec = [json.loads(x) for x in lines if '"listening"' in x]
            self.assertEqual(len(rec), 1, "".join(lines))
            self.assertEqual(rec[0]["port"], port)
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=10) as r:
                self.assertEqual(r.status, 200)
            body = json.dumps(routing_event()).encode()
            req = urllib.request.Request(
                "http://127.0.0.1:%d/webhook/routing-events" % port, data=body,
                headers={"Content-Type": "application/json",
                         "Authorization": "Bearer " + SECRETS[0]})
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(json.loads(r.read())["status"], "accepted")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            t.join(5)
            proc.stderr.close()
        self.assertEqual(rc, 0, "".join(lines))


if __name__ == "__main__":
    unittest.main()
