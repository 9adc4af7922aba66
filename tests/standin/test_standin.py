#!/usr/bin/python3
"""test_standin.py - tests for the AWS stand-in, driven by real botocore clients.

Run: /usr/bin/python3 tests/standin/test_standin.py
"""

import datetime
import hashlib
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
import unittest
from unittest import mock

import botocore.auth
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ConnectionClosedError

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "aws_standin.py")
SUITE = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "sigv4-suite"))
# Suite cases outside what the stand-in serves (POST /): a raw space or UTF-8
# in the request line, and a .req that omits the token header its .creq signs.
SUITE_SKIP = {"get-space", "get-vanilla-utf8-query", "get-vanilla-with-session-token"}
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
import aws_standin  # noqa: E402
REGION = "us-east-1"
AKID = "AKIDSTANDINTEST"
SECRET = "standin-secret-do-not-log"
TOKEN = "standin-session-token-do-not-log"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/cxbridge-dlq"
MAX_BYTES = 262144
SQS_CT = "application/x-amz-json-1.0"
EVENTS_CT = "application/x-amz-json-1.1"


def start_standin(tmpdir, extra=()):
    """Start the stand-in on port 0; return (process, port)."""
    port_file = os.path.join(tmpdir, "port")
    cmd = ["/usr/bin/python3", STANDIN, "--port", "0", "--port-file", port_file,
           "--region", REGION, "--access-key", AKID, "--secret-key", SECRET,
           "--log", os.path.join(tmpdir, "standin.log")] + list(extra)
    proc = subprocess.Popen(cmd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(port_file):
            with open(port_file) as f:
                return proc, int(f.read())
        if proc.poll() is not None:
            raise RuntimeError("stand-in exited with %s" % proc.returncode)
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("stand-in did not write its port file")


def md5_attrs_reference(attrs):
    """Independent MD5OfMessageAttributes for String attributes, built as
    one buffer (the stand-in streams into the digest)."""
    buf = bytearray()
    for name in sorted(attrs):
        fields = [name.encode(), attrs[name]["DataType"].encode()]
        for field in fields:
            buf += len(field).to_bytes(4, "big") + field
        value = attrs[name]["StringValue"].encode()
        buf += b"\x01" + len(value).to_bytes(4, "big") + value
    return hashlib.md5(bytes(buf)).hexdigest()


class StandinTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.proc, cls.port = start_standin(cls.tmp.name, ["--session-token", TOKEN,
                                                          "--queue-url", QUEUE])
        cls.endpoint = "http://127.0.0.1:%d" % cls.port
        cls.session = botocore.session.get_session()
        cls.events = cls.client("events")

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        cls.exit_code = cls.proc.wait(10)
        cls.tmp.cleanup()

    @classmethod
    def client(cls, service, secret=SECRET, token=TOKEN, validate=True):
        return cls.session.create_client(
            service, endpoint_url=cls.endpoint, region_name=REGION,
            aws_access_key_id=AKID, aws_secret_access_key=secret, aws_session_token=token,
            config=Config(retries={"total_max_attempts": 1}, parameter_validation=validate))

    def setUp(self):
        self.control("POST", "/_control/reset")

    # ---- helpers

    def control(self, method, path, obj=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = json.dumps(obj).encode() if obj is not None else None
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        data = json.loads(resp.read() or b"null")
        conn.close()
        return resp.status, data

    def fault(self, **spec):
        status, data = self.control("POST", "/_control/faults", spec)
        self.assertEqual(status, 200, data)

    def records(self):
        return self.control("GET", "/_control/records")[1]

    def signed(self, service, target, ctype, obj, secret=SECRET, token=TOKEN,
               region=REGION, body=None, tamper=None, now=None):
        """Send one JSON-protocol request signed by botocore's SigV4Auth;
        return (status, headers, parsed body)."""
        data = body if body is not None else json.dumps(obj).encode()
        req = AWSRequest(method="POST", url=self.endpoint + "/", data=data,
                         headers={"X-Amz-Target": target, "Content-Type": ctype})
        signer = SigV4Auth(Credentials(AKID, secret, token), service, region)
        if now is None:
            signer.add_auth(req)
        else:
            with mock.patch.object(botocore.auth, "datetime") as fake:
                fake.datetime.utcnow.return_value = now
                signer.add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/", body=tamper or data, headers=dict(req.headers.items()))
        resp = conn.getresponse()
        out = resp.status, resp.headers, json.loads(resp.read())
        conn.close()
        return out

    def sqs(self, obj, **kw):
        return self.signed("sqs", "AmazonSQS.SendMessageBatch", SQS_CT, obj, **kw)

    def batch(self, n, prefix="m"):
        return {"QueueUrl": QUEUE, "Entries": [
            {"Id": "%s%d" % (prefix, i), "MessageBody": "body %d" % i} for i in range(n)]}

    def entry(self, n=0, detail=None):
        return {"Source": "nice.cxone.routing", "DetailType": "routing:test",
                "Detail": detail or json.dumps({"n": n})}

    def assert_client_error(self, call, status, code):
        with self.assertRaises(ClientError) as ctx:
            call()
        err = ctx.exception.response
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status)
        self.assertEqual(err["Error"]["Code"], code)
        return err

    # ---- PutEvents

    def test_put_events_success_is_recorded(self):
        when = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
        entries = [dict(self.entry(1), Time=when, Resources=["arn:aws:x:1"], EventBusName="b",
                        TraceHeader="Root=1-abc"), self.entry(2)]
        out = self.events.put_events(Entries=entries)
        self.assertEqual(out["FailedEntryCount"], 0)
        ids = [e["EventId"] for e in out["Entries"]]
        self.assertEqual(len(set(ids)), 2)
        rec = self.records()
        self.assertEqual([e["EventId"] for e in rec["events"]], ids)
        first = rec["events"][0]["Entry"]
        self.assertEqual(first["Time"], when.timestamp())
        self.assertEqual(first["Resources"], ["arn:aws:x:1"])
        self.assertEqual(first["EventBusName"], "b")
        self.assertEqual(first["TraceHeader"], "Root=1-abc")
        self.assertEqual(json.loads(rec["events"][1]["Entry"]["Detail"]), {"n": 2})
        self.assertEqual(rec["requests"]["events"], 1)

    def test_put_events_entry_errors_in_order(self):
        bad_source = dict(self.entry(), Source="aws.ec2")
        no_type = {"Source": "s", "Detail": "{}"}
        out = self.events.put_events(Entries=[
            bad_source, self.entry(0, "[1]"), self.entry(9), no_type, self.entry(0, "nope")])
        codes = [e.get("ErrorCode") for e in out["Entries"]]
        self.assertEqual(codes, ["NotAuthorizedForSourceException", "MalformedDetail", None,
                                 "InvalidArgument", "MalformedDetail"])
        self.assertEqual(out["FailedEntryCount"], 4)
        self.assertIn("EventId", out["Entries"][2])
        self.assertEqual(len(self.records()["events"]), 1)

    def test_put_events_eleven_or_zero_entries_rejected(self):
        loose = self.client("events", validate=False)
        for n in (11, 0):
            err = self.assert_client_error(
                lambda: loose.put_events(Entries=[self.entry(i) for i in range(n)]),
                400, "ValidationException")
            self.assertIn("entries", err["Error"]["Message"])
        self.assertEqual(self.records()["events"], [])

    def test_put_events_size_limit_is_exact(self):
        # Source 1 + DetailType 1 + Time 14 + Detail = MAX_BYTES exactly.
        pad = MAX_BYTES - 16 - len('{"a":""}')
        entry = {"Source": "s", "DetailType": "d", "Time": datetime.datetime.utcnow(),
                 "Detail": '{"a":"%s"}' % ("x" * pad)}
        self.assertEqual(self.events.put_events(Entries=[entry])["FailedEntryCount"], 0)
        entry["Detail"] = '{"a":"%s"}' % ("x" * (pad + 1))
        err = self.assert_client_error(lambda: self.events.put_events(Entries=[entry]),
                                       400, "ValidationException")
        self.assertIn("Total size", err["Error"]["Message"])
        # the rule sums across entries, and multi-byte characters count as bytes
        half = {"Source": "s", "DetailType": "d", "Detail": '{"a":"%s"}' % ("\u00e9" * 66000)}
        self.assertEqual(self.events.put_events(Entries=[half])["FailedEntryCount"], 0)
        self.assert_client_error(lambda: self.events.put_events(Entries=[half, half]),
                                 400, "ValidationException")
        self.assertEqual(len(self.records()["events"]), 2)

    def test_put_events_trace_header_length(self):
        ok = dict(self.entry(), TraceHeader="R" * 500)
        self.assertEqual(self.events.put_events(Entries=[ok])["FailedEntryCount"], 0)
        for bad in ("R" * 501, ""):
            entry = dict(self.entry(), TraceHeader=bad)
            status, _, body = self.signed("events", "AWSEvents.PutEvents", EVENTS_CT,
                                          {"Entries": [self.entry(), entry]})
            self.assertEqual((status, body["__type"]), (400, "ValidationException"))
        self.assertEqual(len(self.records()["events"]), 1)

    def test_put_events_time_must_be_a_number(self):
        status, _, body = self.signed("events", "AWSEvents.PutEvents", EVENTS_CT,
                                      {"Entries": [dict(self.entry(), Time="2024-01-01")]})
        self.assertEqual((status, body["__type"]), (400, "SerializationException"))

    def test_unknown_target(self):
        status, _, body = self.signed("events", "AWSEvents.PutRule", EVENTS_CT, {})
        self.assertEqual((status, body["__type"]), (400, "UnknownOperationException"))

    # ---- SigV4

    def test_wrong_secret_rejected_and_counted(self):
        bad = self.client("events", secret="not-the-secret")
        err = self.assert_client_error(lambda: bad.put_events(Entries=[self.entry()]),
                                       403, "InvalidSignatureException")
        self.assertIn("signature we calculated does not match", err["Error"]["Message"])
        status, headers, body = self.sqs(self.batch(1), secret="not-the-secret")
        self.assertEqual(status, 403)
        self.assertEqual(body["__type"], "com.amazon.coral.service#SignatureDoesNotMatch")
        self.assertEqual(headers["x-amzn-query-error"], "SignatureDoesNotMatch;Sender")
        rec = self.records()
        self.assertEqual(rec["rejected_signatures"], 2)
        self.assertEqual((rec["events"], rec["messages"]), ([], []))
        self.assertEqual(rec["requests"], {"events": 1, "sqs": 1})

    def test_other_signature_failures(self):
        target, ct, obj = "AWSEvents.PutEvents", EVENTS_CT, {"Entries": [self.entry()]}
        cases = [
            (dict(token=None), 403, "UnrecognizedClientException", "security token"),
            (dict(token="other"), 403, "UnrecognizedClientException", "security token"),
            (dict(region="eu-west-1"), 403, "InvalidSignatureException", "valid region"),
            (dict(tamper=json.dumps({"Entries": [self.entry(7)]}).encode()), 403,
             "InvalidSignatureException", "does not match"),
            (dict(now=datetime.datetime.utcnow() - datetime.timedelta(minutes=6)), 400,
             "InvalidSignatureException", "Signature expired: "),
            (dict(now=datetime.datetime.utcnow() + datetime.timedelta(minutes=6)), 400,
             "InvalidSignatureException", "Signature not yet current: "),
        ]
        for kw, status, code, text in cases:
            with self.subTest(kw=list(kw)):
                got, _, body = self.signed("events", target, ct, obj, **kw)
                self.assertEqual((got, body["__type"]), (status, code))
                self.assertIn(text, body["message"])
        got, _, body = self.signed("sqs", target, ct, obj)  # scoped to the wrong service
        self.assertEqual((got, body["__type"]), (403, "InvalidSignatureException"))
        self.assertIn("correct service: 'events'", body["message"])
        self.assertEqual(self.records()["rejected_signatures"], len(cases) + 1)
        self.assertEqual(self.records()["events"], [])

    def test_wrong_key_and_missing_auth(self):
        session = botocore.session.get_session()
        other = session.create_client("events", endpoint_url=self.endpoint, region_name=REGION,
                                      aws_access_key_id="AKIDOTHER",
                                      aws_secret_access_key=SECRET, aws_session_token=TOKEN)
        self.assert_client_error(lambda: other.put_events(Entries=[self.entry()]),
                                 403, "UnrecognizedClientException")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/", body=b'{"Entries":[]}', headers={
            "X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": EVENTS_CT})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 400)
        self.assertEqual(json.loads(resp.read())["__type"], "MissingAuthenticationTokenException")
        self.assertEqual(self.records()["rejected_signatures"], 2)

    @unittest.skipUnless(os.path.exists("/usr/bin/curl"), "curl not installed")
    def test_independent_signer_with_other_signed_headers(self):
        # curl's own SigV4 signs content-type, expect and x-amz-target, which
        # botocore would not choose; the stand-in must follow SignedHeaders.
        body = json.dumps({"Entries": [self.entry(5)]})
        results = {}
        for secret in (SECRET, "wrong"):
            out = subprocess.run(
                ["/usr/bin/curl", "-sS", "--aws-sigv4", "aws:amz:%s:events" % REGION,
                 "--user", "%s:%s" % (AKID, secret), "-H", "X-Amz-Security-Token: " + TOKEN,
                 "-H", "Expect: 100-continue", "-H", "X-Amz-Target: AWSEvents.PutEvents",
                 "-H", "Content-Type: " + EVENTS_CT, "-w", "\n%{http_code}",
                 "--data-binary", body, self.endpoint + "/"],
                capture_output=True, text=True, timeout=10, check=True)
            results[secret] = out.stdout.rsplit("\n", 1)[1]
        self.assertEqual(results, {SECRET: "200", "wrong": "403"})
        self.assertEqual(len(self.records()["events"]), 1)

    # ---- SendMessageBatch

    def test_send_message_batch_success(self):
        attrs = {"reason": {"DataType": "String", "StringValue": "non_retryable"},
                 "eventType": {"DataType": "String", "StringValue": "routing:queued"}}
        req = self.batch(3)
        req["Entries"][0]["MessageAttributes"] = attrs
        status, _, body = self.sqs(req)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["Failed"], [])
        self.assertEqual([s["Id"] for s in body["Successful"]], ["m0", "m1", "m2"])
        first = body["Successful"][0]
        self.assertEqual(first["MD5OfMessageBody"], hashlib.md5(b"body 0").hexdigest())
        self.assertEqual(first["MD5OfMessageAttributes"], md5_attrs_reference(attrs))
        msgs = self.records()["messages"]
        self.assertEqual([m["MessageId"] for m in msgs],
                         [s["MessageId"] for s in body["Successful"]])
        self.assertEqual((msgs[0]["QueueUrl"], msgs[0]["Body"]), (QUEUE, "body 0"))
        self.assertEqual(msgs[0]["MessageAttributes"], attrs)

    def test_send_message_batch_request_errors(self):
        dup = self.batch(2)
        dup["Entries"][1]["Id"] = "m0"
        big = self.batch(2)
        big["Entries"][0]["MessageBody"] = "x" * (MAX_BYTES - len("body 1") + 1)
        cases = [
            (dict(self.batch(1), QueueUrl=QUEUE + "-nope"), "QueueDoesNotExist",
             "AWS.SimpleQueueService.NonExistentQueue"),
            (self.batch(11), "TooManyEntriesInBatchRequest",
             "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
            (self.batch(0), "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest"),
            (dup, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
            (big, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong"),
        ]
        for req, code, query in cases:
            with self.subTest(code=code):
                status, headers, body = self.sqs(req)
                self.assertEqual(status, 400)
                self.assertEqual(body["__type"], "com.amazonaws.sqs#" + code)
                self.assertEqual(headers["x-amzn-query-error"], query + ";Sender")
        status, _, body = self.sqs(dict(self.batch(1), QueueUrl=QUEUE + "-nope"))
        self.assertEqual(body, {"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                                "message": "The specified queue does not exist."})
        big["Entries"][0]["MessageBody"] = "x" * (MAX_BYTES - len("body 1"))
        self.assertEqual(self.sqs(big)[0], 200)
        self.assertEqual(len(self.records()["messages"]), 2)

    # ---- faults

    def test_status_fault_applied_exactly_count_times(self):
        self.fault(service="events", kind="status", status=503, code="ServiceUnavailable", count=3)
        for _ in range(3):
            self.assert_client_error(lambda: self.events.put_events(Entries=[self.entry()]),
                                     503, "ServiceUnavailable")
        self.assertEqual(self.events.put_events(Entries=[self.entry()])["FailedEntryCount"], 0)
        self.assertEqual(self.sqs(self.batch(1))[0], 200)  # other service untouched
        rec = self.records()
        self.assertEqual(rec["faults_applied"]["events"], {"status": 3})
        self.assertEqual(len(rec["events"]), 1)

    def test_throttling_400_and_sqs_status_shape(self):
        self.fault(service="events", kind="status", status=400, code="ThrottlingException")
        self.fault(service="sqs", kind="status", status=500, code="InternalError")
        self.assert_client_error(lambda: self.events.put_events(Entries=[self.entry()]),
                                 400, "ThrottlingException")
        status, headers, body = self.sqs(self.batch(1))
        self.assertEqual((status, body["__type"]), (500, "com.amazonaws.sqs#InternalError"))
        self.assertEqual(headers["x-amzn-query-error"], "InternalError;Receiver")
        self.assertEqual(self.events.put_events(Entries=[self.entry()])["FailedEntryCount"], 0)

    def test_entry_fault_every_kth(self):
        self.fault(service="events", kind="entry", code="ThrottlingException", count=2, every=2)
        out = self.events.put_events(Entries=[self.entry(i) for i in range(6)])
        codes = [e.get("ErrorCode") for e in out["Entries"]]
        self.assertEqual(codes, [None, "ThrottlingException", None, "ThrottlingException",
                                 None, None])
        self.assertEqual(out["FailedEntryCount"], 2)
        again = self.events.put_events(Entries=[self.entry(i) for i in range(6)])
        self.assertEqual(again["FailedEntryCount"], 0)
        rec = self.records()
        self.assertEqual(len(rec["events"]), 10)
        self.assertEqual(rec["faults_applied"]["events"], {"entry": 2})

    def test_entry_fault_sqs(self):
        self.fault(service="sqs", kind="entry", code="InternalError", count=1)
        status, _, body = self.sqs(self.batch(3))
        self.assertEqual(status, 200)
        self.assertEqual(body["Failed"], [{"Id": "m0", "SenderFault": False,
                                           "Code": "InternalError",
                                           "Message": "Injected entry failure"}])
        self.assertEqual(len(body["Successful"]), 2)

    def test_delay_fault(self):
        self.fault(service="events", kind="delay", ms=400, count=1)
        took = []
        for _ in range(2):
            start = time.monotonic()
            self.events.put_events(Entries=[self.entry()])
            took.append(time.monotonic() - start)
        self.assertGreaterEqual(took[0], 0.4)
        self.assertLess(took[1], 0.3)

    def test_drop_fault(self):
        self.fault(service="events", kind="drop", count=2)
        for _ in range(2):
            with self.assertRaises(ConnectionClosedError):
                self.events.put_events(Entries=[self.entry()])
        self.assertEqual(self.events.put_events(Entries=[self.entry()])["FailedEntryCount"], 0)
        self.assertEqual(len(self.records()["events"]), 1)

    def test_drop_after_records_but_loses_answer(self):
        self.fault(service="sqs", kind="drop", after=True)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.sqs(self.batch(2))
        self.assertEqual(len(self.records()["messages"]), 2)

    def test_queue_missing_fault(self):
        self.fault(service="sqs", kind="queue_missing", count=1)
        status, headers, body = self.sqs(self.batch(1))
        self.assertEqual((status, body["__type"]), (400, "com.amazonaws.sqs#QueueDoesNotExist"))
        self.assertEqual(headers["x-amzn-query-error"],
                         "AWS.SimpleQueueService.NonExistentQueue;Sender")
        self.assertEqual(self.sqs(self.batch(1))[0], 200)

    def test_auth_fault_answers_as_for_a_revoked_key(self):
        self.fault(kind="auth", count=2)
        self.assert_client_error(lambda: self.events.put_events(Entries=[self.entry()]),
                                 403, "UnrecognizedClientException")
        status, headers, body = self.sqs(self.batch(1))
        self.assertEqual((status, body["__type"]),
                         (403, "com.amazon.coral.service#UnrecognizedClientException"))
        self.assertEqual(headers["x-amzn-query-error"], "InvalidClientTokenId;Sender")
        self.assertEqual(self.events.put_events(Entries=[self.entry()])["FailedEntryCount"], 0)
        rec = self.records()
        self.assertEqual(rec["rejected_signatures"], 0)
        self.assertEqual((rec["faults_applied"]["events"], rec["faults_applied"]["sqs"]),
                         ({"auth": 1}, {"auth": 1}))
        self.assertEqual((len(rec["events"]), len(rec["messages"])), (1, 0))

    def test_records_of_a_lost_or_late_answer_are_tagged(self):
        self.fault(service="sqs", kind="drop", after=True)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.sqs(self.batch(2))
        self.fault(service="events", kind="delay", ms=10)
        self.events.put_events(Entries=[self.entry(1)])
        self.events.put_events(Entries=[self.entry(2)])
        rec = self.records()
        self.assertEqual([m.get("fault") for m in rec["messages"]], ["drop-after"] * 2)
        self.assertEqual([e.get("fault") for e in rec["events"]], ["delay", None])

    def test_count_minus_one_until_cleared(self):
        self.fault(service="events", kind="status", status=503, count=-1)
        for _ in range(4):
            self.assert_client_error(lambda: self.events.put_events(Entries=[self.entry()]),
                                     503, "ServiceUnavailable")
        self.assertEqual(self.control("DELETE", "/_control/faults")[0], 200)
        self.assertEqual(self.events.put_events(Entries=[self.entry()])["FailedEntryCount"], 0)

    def test_faults_consumed_atomically_under_concurrency(self):
        self.fault(service="events", kind="status", status=503, count=5)
        results, lock = [], threading.Lock()

        def one():
            try:
                self.client("events").put_events(Entries=[self.entry()])
                outcome = 200
            except ClientError as exc:
                outcome = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            with lock:
                results.append(outcome)
        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(sorted(results), [200] * 15 + [503] * 5)
        self.assertEqual(len(self.records()["events"]), 15)

    def test_bad_fault_spec_and_reset(self):
        for spec in ({"kind": "bogus"}, {"kind": "delay"}, {"kind": "status", "count": 0},
                     {"kind": "queue_missing", "service": "events"}):
            self.assertEqual(self.control("POST", "/_control/faults", spec)[0], 400, spec)
        self.fault(service="events", kind="status", status=503, count=-1)
        self.control("POST", "/_control/reset")
        self.assertEqual(self.control("GET", "/_control/faults")[1], {"faults": []})
        self.assertEqual(self.events.put_events(Entries=[self.entry()])["FailedEntryCount"], 0)
        self.control("POST", "/_control/reset")
        self.assertEqual(self.records()["events"], [])

    # ---- ReceiveMessage / DeleteMessageBatch / GetQueueAttributes (redrive)

    def sqs_call(self, target, obj):
        return self.signed("sqs", "AmazonSQS." + target, SQS_CT, obj)

    def seed(self, *bodies, **kw):
        msgs = [dict({"Body": b}, **kw) for b in bodies]
        status, data = self.control("POST", "/_control/queue", {"messages": msgs})
        self.assertEqual(status, 200, data)
        return data["MessageIds"]

    def receive(self, n=10, wait=0, visibility=30, **extra):
        req = dict({"QueueUrl": QUEUE, "MaxNumberOfMessages": n, "WaitTimeSeconds": wait,
                    "VisibilityTimeout": visibility}, **extra)
        status, _, body = self.sqs_call("ReceiveMessage", req)
        self.assertEqual(status, 200, body)
        return body.get("Messages", [])

    def delete(self, *handles):
        req = {"QueueUrl": QUEUE, "Entries": [{"Id": str(i), "ReceiptHandle": h}
                                              for i, h in enumerate(handles)]}
        return self.sqs_call("DeleteMessageBatch", req)

    def test_receive_then_delete(self):
        attrs = {"reason": {"DataType": "String", "StringValue": "deadline"}}
        ids = self.seed("b0", "b1", "b2", MessageAttributes=attrs, SentTimestamp=1700000000123)
        got = self.receive(MessageAttributeNames=["All"], AttributeNames=["SentTimestamp"])
        self.assertEqual([m["MessageId"] for m in got], ids)
        first = got[0]
        self.assertEqual(first["Body"], "b0")
        self.assertEqual(first["MD5OfBody"], hashlib.md5(b"b0").hexdigest())
        self.assertEqual(first["Attributes"], {"SentTimestamp": "1700000000123"})
        self.assertEqual(first["MessageAttributes"], attrs)
        self.assertEqual(first["MD5OfMessageAttributes"], md5_attrs_reference(attrs))
        self.assertEqual(self.receive(), [])       # all three are in flight now
        status, _, body = self.sqs_call("GetQueueAttributes", {
            "QueueUrl": QUEUE, "AttributeNames": ["All"]})
        self.assertEqual(body["Attributes"]["ApproximateNumberOfMessages"], "0")
        self.assertEqual(body["Attributes"]["ApproximateNumberOfMessagesNotVisible"], "3")
        status, _, body = self.delete(got[0]["ReceiptHandle"], got[1]["ReceiptHandle"],
                                      "not-a-handle")
        self.assertEqual(status, 200)
        self.assertEqual(body["Successful"], [{"Id": "0"}, {"Id": "1"}])
        self.assertEqual([(f["Id"], f["Code"], f["SenderFault"]) for f in body["Failed"]],
                         [("2", "ReceiptHandleIsInvalid", True)])
        queue = self.control("GET", "/_control/queue")[1]
        self.assertEqual([m["MessageId"] for m in queue["messages"]], ids[2:])
        self.assertEqual([m["MessageId"] for m in queue["deleted"]], ids[:2])

    def test_attributes_only_when_asked(self):
        self.seed("x", MessageAttributes={"reason": {"DataType": "String",
                                                     "StringValue": "deadline"}})
        got = self.receive()
        self.assertNotIn("Attributes", got[0])
        self.assertNotIn("MessageAttributes", got[0])

    def test_visibility_timeout_and_stale_handles(self):
        self.seed("only")
        first = self.receive(visibility=1)[0]
        self.assertEqual(self.receive(), [])
        time.sleep(1.1)
        again = self.receive(AttributeNames=["All"])[0]
        self.assertEqual(again["MessageId"], first["MessageId"])
        self.assertNotEqual(again["ReceiptHandle"], first["ReceiptHandle"])
        self.assertEqual(again["Attributes"]["ApproximateReceiveCount"], "2")
        # An old handle "succeeds" but deletes nothing, as SQS documents.
        status, _, body = self.delete(first["ReceiptHandle"])
        self.assertEqual((status, len(body["Successful"])), (200, 1))
        queue = self.control("GET", "/_control/queue")[1]
        self.assertEqual((len(queue["messages"]), queue["stale_deletes"]), (1, 1))
        self.delete(again["ReceiptHandle"])
        queue = self.control("GET", "/_control/queue")[1]
        self.assertEqual((len(queue["messages"]), len(queue["deleted"])), (0, 1))

    def test_long_poll_returns_when_a_message_arrives(self):
        got = []

        def poll():
            start = time.monotonic()
            got.append((self.receive(wait=5), time.monotonic() - start))
        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.4)
        self.assertEqual(self.sqs(self.batch(1))[0], 200)     # SendMessageBatch feeds it
        t.join(10)
        messages, took = got[0]
        self.assertEqual([m["Body"] for m in messages], ["body 0"])
        self.assertGreaterEqual(took, 0.3)
        self.assertLess(took, 4)
        start = time.monotonic()
        self.assertEqual(self.receive(wait=1), [])
        self.assertGreaterEqual(time.monotonic() - start, 0.9)

    def test_receive_parameter_checks(self):
        for extra, code in (({"MaxNumberOfMessages": 11}, "InvalidParameterValue"),
                            ({"WaitTimeSeconds": 21}, "InvalidParameterValue"),
                            ({"VisibilityTimeout": -1}, "InvalidParameterValue"),
                            ({"QueueUrl": QUEUE + "-nope"}, "QueueDoesNotExist")):
            with self.subTest(extra=extra):
                req = dict({"QueueUrl": QUEUE}, **extra)
                status, _, body = self.sqs_call("ReceiveMessage", req)
                self.assertEqual((status, body["__type"]), (400, "com.amazonaws.sqs#" + code))

    def test_delete_batch_errors_and_entry_faults(self):
        self.seed("a", "b")
        got = self.receive()
        status, _, body = self.sqs_call("DeleteMessageBatch", {"QueueUrl": QUEUE, "Entries": []})
        self.assertEqual((status, body["__type"]), (400, "com.amazonaws.sqs#EmptyBatchRequest"))
        self.fault(service="sqs", kind="entry", code="InternalError", count=1)
        status, _, body = self.delete(got[0]["ReceiptHandle"], got[1]["ReceiptHandle"])
        self.assertEqual([f["Code"] for f in body["Failed"]], ["InternalError"])
        self.assertEqual(body["Successful"], [{"Id": "1"}])
        self.assertEqual(len(self.control("GET", "/_control/queue")[1]["messages"]), 1)

    def test_seed_refuses_bad_messages(self):
        for obj in ({"messages": [{"Body": ""}]}, {"nope": 1}, [1]):
            self.assertEqual(self.control("POST", "/_control/queue", obj)[0], 400, obj)

    # ---- HTTP behaviour and logging

    def test_keep_alive_and_health(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/_control/health")
        first = conn.getresponse()
        self.assertEqual(first.status, 200)
        self.assertIsNotNone(first.getheader("Content-Length"))
        first.read()
        sock = conn.sock
        conn.request("GET", "/_control/records")
        self.assertEqual(conn.getresponse().status, 200)
        self.assertIs(conn.sock, sock)
        conn.close()

    def test_log_has_one_line_per_request_and_no_secrets(self):
        self.events.put_events(Entries=[self.entry()])
        self.sqs(self.batch(1), secret="wrong")
        with open(os.path.join(self.tmp.name, "standin.log")) as f:
            text = f.read()
        self.assertIn("AWSEvents.PutEvents 200", text)
        self.assertIn("AmazonSQS.SendMessageBatch 403", text)
        for secret in (SECRET, TOKEN, "Signature=", "Credential="):
            self.assertNotIn(secret, text)


class SigV4SuiteTest(unittest.TestCase):
    """The verifier against AWS's SigV4 test suite: an oracle independent of
    botocore's signer, and one whose SignedHeaders differ from botocore's."""

    CFG = types.SimpleNamespace(access_key="AKIDEXAMPLE", region="us-east-1",
                                secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                session_token=None)

    def cases(self):
        for root, _, files in sorted(os.walk(SUITE)):
            for name in sorted(f[:-4] for f in files if f.endswith(".req")):
                if name not in SUITE_SKIP:
                    with open(os.path.join(root, name + ".req"), "rb") as f:
                        raw = f.read()
                    with open(os.path.join(root, name + ".authz")) as f:
                        yield name, raw, f.read()

    def signature_of(self, raw, authz, body_override=None):
        line, _, rest = raw.partition(b"\n")
        method, path, _ = line.decode().split(" ")
        head, _, body = rest.partition(b"\n\n")
        headers = http.client.parse_headers(io.BytesIO(head + b"\n\n"))
        _, signed, _ = aws_standin.parse_authorization(authz)
        return aws_standin.compute_signature(self.CFG, "service", method, path, headers,
                                             body if body_override is None else body_override,
                                             signed, headers["X-Amz-Date"])

    @unittest.skipUnless(os.path.isdir(SUITE), "SigV4 suite not found at " + SUITE)
    def test_suite_signatures(self):
        checked = 0
        for name, raw, authz in self.cases():
            with self.subTest(case=name):
                expected = aws_standin.parse_authorization(authz)[2]
                self.assertEqual(self.signature_of(raw, authz), expected)
                self.assertNotEqual(self.signature_of(raw, authz, b"tampered"), expected)
                checked += 1
        self.assertGreaterEqual(checked, 30)


class LifecycleTest(unittest.TestCase):
    def test_port_file_and_clean_exit_on_signals(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            with tempfile.TemporaryDirectory() as tmp:
                proc, port = start_standin(tmp)
                self.assertGreater(port, 0)
                self.assertEqual(os.listdir(tmp).count("port"), 1)
                self.assertFalse([n for n in os.listdir(tmp) if ".tmp" in n])
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/_control/health")
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
                proc.send_signal(signum)
                self.assertEqual(proc.wait(10), 0)

    def test_any_queue_url_without_queue_list(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port = start_standin(tmp)
            try:
                body = json.dumps({"QueueUrl": "http://q/1/x", "Entries": [
                    {"Id": "a", "MessageBody": "b"}]}).encode()
                req = AWSRequest(method="POST", url="http://127.0.0.1:%d/" % port, data=body,
                                 headers={"X-Amz-Target": "AmazonSQS.SendMessageBatch",
                                          "Content-Type": SQS_CT})
                SigV4Auth(Credentials(AKID, SECRET), "sqs", REGION).add_auth(req)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
            finally:
                proc.terminate()
                proc.wait(10)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors)
    exit_code = getattr(StandinTest, "exit_code", None)
    if exit_code != 0:
        print("standin: stand-in exited with %r after SIGTERM" % exit_code)
        failed += 1
    passed = result.testsRun - len(result.failures) - len(result.errors) - len(result.skipped)
    print("standin: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
