"""test_redrive.py - `cxbridge redrive` against the AWS stand-in's SQS queue and EventBridge.

Messages are seeded into the stand-in's queue (DLQ envelopes as the daemon
writes them, or the daemon's own spills), redrive runs as the real binary,
and then every message is accounted for: it was republished and deleted, or
it is still in the queue.  A message deleted without its event having
reached EventBridge is the one thing that must never happen; the table each
scenario prints has that column (deleted_unpublished), and lost and double.

Every test also checks that the stand-in rejected no signature: each
ReceiveMessage, DeleteMessageBatch and PutEvents passed botocore's SigV4 check.

Run: CXB_BIN=$PWD/build/cxbridge /usr/bin/python3 -m unittest tests.integration.test_redrive -v
"""

import calendar
import collections
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import Bridge, routing_event  # noqa: E402

RUN_TIMEOUT_S = 60
COLUMNS = ("seeded", "published", "deleted", "queued", "deleted_unpublished", "lost",
           "double")


def event_text(**over):
    """A routing event as compact JSON text: the exact Detail expected back."""
    return json.dumps(routing_event(**over), separators=(",", ":"))


def envelope(text, reason="deadline", detail_type=None, error_code="",
             source="nice.cxone.routing", bus="default"):
    """A DLQ message body as the daemon writes it, around the event text."""
    ev = json.loads(text)
    ts = ev["timestamp"]
    head = {"reason": reason, "errorCode": error_code, "errorMessage": "", "attempts": 1,
            "receivedAt": ts,
            "entry": {"Source": source, "DetailType": detail_type or ev["eventType"],
                      "EventBusName": bus, "Time": ts}}
    return json.dumps(head, separators=(",", ":"))[:-1] + ',"event":' + text + "}"


def attrs(reason, event_type):
    return {"reason": {"DataType": "String", "StringValue": reason},
            "eventType": {"DataType": "String", "StringValue": event_type}}


class RedriveTest(unittest.TestCase):
    CONF = None

    def setUp(self):
        self.bridge = Bridge(self.CONF, start=False)
        self.addCleanup(self.bridge.stop_quick)
        self.standin = self.bridge.standin
        self.seeded = {}                 # MessageId -> event text

    def seed(self, n=1, reason="deadline", event_type="routing:contact.queued",
             sent_ms=None, body=None):
        texts, msgs = [], []
        for _ in range(n):
            text = event_text(eventType=event_type)
            texts.append(text)
            msg = {"Body": body if body is not None else envelope(text, reason),
                   "MessageAttributes": attrs(reason, event_type)}
            if sent_ms is not None:
                msg["SentTimestamp"] = sent_ms
            msgs.append(msg)
        ids = self.standin.control("POST", "/_control/queue", {"messages": msgs})["MessageIds"]
        self.seeded.update(zip(ids, texts))
        return ids

    def redrive(self, *args, expect=0):
        p = subprocess.run([harness.BIN, "-c", self.bridge.conf_path, "redrive", "--wait",
                            "1", "--json"] + list(args), env=self.bridge.env,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        self.assertEqual(p.returncode, expect, p.stdout + p.stderr[-3000:])
        return json.loads(p.stdout.splitlines()[-1])

    def queue(self):
        return self.standin.control("GET", "/_control/queue")

    def published(self):
        return self.standin.records()["events"]

    def account(self, allow_double=False):
        """Every seeded message: republished and deleted, or still queued."""
        rec = self.standin.records()
        queue = self.queue()
        counts = collections.Counter(json.loads(e["Entry"]["Detail"])["id"]
                                     for e in rec["events"])
        queued = {m["MessageId"] for m in queue["messages"]}
        deleted = {m["MessageId"] for m in queue["deleted"]}
        row = dict.fromkeys(COLUMNS, 0)
        row["seeded"] = len(self.seeded)
        for mid, text in self.seeded.items():
            times = counts[json.loads(text)["id"]]
            row["published"] += times > 0
            row["double"] += times > 1
            if mid in deleted:
                row["deleted"] += 1
                row["deleted_unpublished"] += times == 0
            elif mid in queued:
                row["queued"] += 1
            else:
                row["lost"] += 1
        print("\n  %-40s %s" % (self.id().rsplit(".", 1)[-1][:40],
                                " ".join("%s=%d" % (k, row[k]) for k in COLUMNS)))
        self.assertEqual(row["deleted_unpublished"], 0, row)
        self.assertEqual(row["lost"], 0, row)
        if not allow_double:
            self.assertEqual(row["double"], 0, row)
        self.assertEqual(rec["rejected_signatures"], 0)
        return row

    def ids_published(self):
        return {json.loads(e["Entry"]["Detail"])["id"] for e in self.published()}


class RedriveAllTest(RedriveTest):
    def test_everything_is_republished_as_it_was_and_deleted(self):
        ids = self.seed(13, reason="deadline") + self.seed(12, reason="circuit_open",
                                                           event_type="routing:contact.done")
        out = self.redrive()
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (25, 25, 0))
        self.assertEqual((out["received"], out["republished"], out["deleted"],
                          out["failed"], out["deleteFailed"]), (25, 25, 25, 0, 0))
        self.assertEqual(out["stopped"], "no more messages")
        by_detail = {e["Entry"]["Detail"]: e["Entry"] for e in self.published()}
        for mid in ids:
            text = self.seeded[mid]
            self.assertIn(text, by_detail)         # Detail: the very same bytes
            entry, ev = by_detail[text], json.loads(text)
            self.assertEqual((entry["Source"], entry["DetailType"], entry["EventBusName"]),
                             ("nice.cxone.routing", ev["eventType"], "default"))
            self.assertEqual(entry["Time"], calendar.timegm(time.strptime(
                ev["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")))

    def test_max_takes_only_that_many(self):
        self.seed(15)
        out = self.redrive("--max", "4")
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (4, 4, 11))
        self.assertEqual((out["received"], out["stopped"]), (4, "--max reached"))
        self.assertEqual(sum(m["visible"] for m in self.queue()["messages"]), 11)

    def test_dry_run_touches_nothing(self):
        self.seed(5)
        p = subprocess.run([harness.BIN, "-c", self.bridge.conf_path, "redrive", "--wait",
                            "1", "--dry-run"], env=self.bridge.env, capture_output=True,
                           text=True, timeout=RUN_TIMEOUT_S)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.count("would republish "), 5)
        self.assertIn("5 would be republished, 0 deleted", p.stdout)
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (0, 0, 5))

    def test_empty_queue(self):
        start = time.monotonic()
        out = self.redrive()
        self.assertEqual((out["received"], out["republished"]), (0, 0))
        self.assertLess(time.monotonic() - start, 10)


class RedriveFailureTest(RedriveTest):
    def test_refused_events_stay_in_the_queue(self):
        self.seed(10)
        self.standin.fault(service="events", kind="entry", code="InvalidArgument", count=3,
                           every=3)
        out = self.redrive(expect=3)
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (7, 7, 3))
        self.assertEqual((out["failed"], out["republished"], out["deleted"]), (3, 7, 7))
        self.assertEqual({f["errorCode"] for f in out["failures"]}, {"InvalidArgument"})
        still = {m["MessageId"] for m in self.queue()["messages"]}
        self.assertEqual({f["messageId"] for f in out["failures"]}, still)

    def test_throttling_is_retried_like_the_daemon_does(self):
        self.seed(8)
        self.standin.fault(service="events", kind="entry", code="ThrottlingException",
                           count=4, every=2)
        out = self.redrive()
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (8, 8, 0))
        self.assertEqual(out["failed"], 0)

    def test_eventbridge_down_deletes_nothing(self):
        self.seed(6)
        self.standin.fault(service="events", kind="status", status=503, count=-1)
        out = self.redrive(expect=3)
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (0, 0, 6))
        self.assertEqual(out["failed"], 6)

    def test_a_failed_delete_is_retried_once_then_reported(self):
        self.seed(4)
        # The first entry of the first DeleteMessageBatch fails (retryable):
        # the retry deletes it.
        self.standin.fault(service="sqs", kind="entry", code="InternalError", count=1)
        out = self.redrive()
        self.assertEqual((out["deleted"], out["deleteFailed"]), (4, 0))
        self.account()

    def test_a_delete_sqs_refuses_leaves_a_published_message(self):
        self.seed(4)
        self.standin.fault(service="sqs", kind="entry", code="ReceiptHandleIsInvalid",
                           sender_fault=True, count=1)
        out = self.redrive(expect=3)
        row = self.account()
        # Published but not deleted: the one case a later redrive repeats.
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (4, 3, 1))
        self.assertEqual((out["deleted"], out["deleteFailed"]), (3, 1))
        self.assertEqual(out["failures"][0]["what"], "republished, not deleted")
        self.assertEqual(out["failures"][0]["errorCode"], "ReceiptHandleIsInvalid")

    def test_unreadable_messages_are_left_and_reported(self):
        self.seed(3)
        self.seed(1, body="not json at all")
        self.seed(1, body=json.dumps({"reason": "deadline", "entry": {
            "Source": "s", "DetailType": "d", "Time": "2024-01-01T00:00:00.000Z"},
            "eventText": "[1,2]"}))
        out = self.redrive(expect=3)
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (3, 3, 2))
        self.assertEqual(out["unreadable"], 2)

    def test_receive_throttled_then_fine(self):
        self.seed(3)
        self.standin.fault(service="sqs", kind="status", status=400, code="RequestThrottled",
                           count=2)
        out = self.redrive()
        self.assertEqual(out["deleted"], 3)
        self.account()

    def test_missing_queue_is_an_error(self):
        self.seed(2)
        self.standin.fault(service="sqs", kind="queue_missing", count=-1)
        self.redrive(expect=1)
        row = self.account()
        self.assertEqual(row["queued"], 2)


class RedriveFilterTest(RedriveTest):
    def test_reason(self):
        self.seed(3, reason="deadline")
        keep = self.seed(2, reason="non_retryable") + self.seed(2, reason="shutdown")
        out = self.redrive("--reason", "deadline,circuit_open")
        row = self.account()
        self.assertEqual((row["published"], row["deleted"]), (3, 3))
        self.assertEqual({m["MessageId"] for m in self.queue()["messages"]}, set(keep))
        self.assertEqual(out["filtered"], 4)

    def test_event_type_exact_and_prefix(self):
        a = self.seed(2, event_type="routing:contact.queued")
        b = self.seed(2, event_type="routing:agent.state")
        self.seed(2, event_type="routing:contact.done")
        self.redrive("--event-type", "routing:agent.*", "--event-type",
                     "routing:contact.queued")
        self.account()
        want = {json.loads(self.seeded[m])["id"] for m in a + b}
        self.assertEqual(self.ids_published(), want)

    def test_age(self):
        now = int(time.time() * 1000)
        old = self.seed(3, sent_ms=now - 2 * 3600 * 1000)
        new = self.seed(2, sent_ms=now - 60 * 1000)
        self.redrive("--min-age", "1h")
        self.account()
        self.assertEqual(self.ids_published(), {json.loads(self.seeded[m])["id"] for m in old})
        self.assertEqual({m["MessageId"] for m in self.queue()["messages"]}, set(new))

    def test_stale_events_only_when_asked(self):
        stale = self.seed(2, reason="out_of_order")
        self.seed(1, reason="deadline")
        out = self.redrive("--visibility", "1")
        self.assertEqual((out["republished"], out["stale"], out["lateDeletes"]), (1, 2, 0))
        self.assertEqual({m["MessageId"] for m in self.queue()["messages"]}, set(stale))
        time.sleep(1.2)                        # the stale ones are visible again
        out = self.redrive("--include-stale")
        self.assertEqual((out["republished"], out["stale"]), (2, 0))
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (3, 3, 0))

    def test_naming_the_stale_reason_asks_for_them(self):
        self.seed(2, reason="out_of_order")
        out = self.redrive("--reason", "out_of_order")
        self.assertEqual(out["republished"], 2)
        self.account()

    def test_bad_options_are_usage_errors(self):
        for args in (["--reason", "bogus"], ["--max", "-1"], ["--wait", "21"],
                     ["--min-age", "5x"], ["--visibility", "0"], ["extra"]):
            with self.subTest(args=args):
                p = subprocess.run([harness.BIN, "-c", self.bridge.conf_path, "redrive"] +
                                   args, env=self.bridge.env, capture_output=True,
                                   text=True, timeout=RUN_TIMEOUT_S)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("usage: cxbridge [-c FILE] redrive", p.stderr)


class RedriveDaemonRoundTripTest(RedriveTest):
    """The daemon spills to the DLQ; redrive brings the events back."""

    def test_spilled_events_come_back_unchanged(self):
        self.bridge.start()
        self.standin.fault(service="events", kind="status", status=400,
                           code="AccessDeniedException", count=-1)
        posted = []
        for i in range(6):
            ev = routing_event(eventType="routing:contact.queued")
            r = self.bridge.post(ev)
            self.assertEqual((r.status, r.json["destination"]), (200, "dlq"), r)
            posted.append(ev)
        self.bridge.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.bridge.proc.wait(30), 0)
        self.standin.clear_faults()
        reasons = set()
        for m in self.queue()["messages"]:
            body = json.loads(m["Body"])
            self.seeded[m["MessageId"]] = json.dumps(body["event"])
            reasons.add(body["reason"])
        self.assertEqual(len(self.seeded), 6)
        # Five refusals open the breaker: the sixth went as circuit_open.
        self.assertEqual(reasons, {"non_retryable", "circuit_open"})
        out = self.redrive("--reason", "non_retryable,circuit_open")
        row = self.account()
        self.assertEqual((row["published"], row["deleted"], row["queued"]), (6, 6, 0))
        self.assertEqual(out["republished"], 6)
        got = {json.loads(e["Entry"]["Detail"])["id"]: json.loads(e["Entry"]["Detail"])
               for e in self.published()}
        for ev in posted:
            self.assertEqual(got[ev["id"]], ev)


class RedriveInterruptTest(RedriveTest):
    CONF = {"eventbridge": {"max_inflight_batches": "1", "batch_linger_ms": "0"}}

    def test_sigint_stops_receiving_and_keeps_the_promise(self):
        self.seed(40)
        self.standin.fault(service="events", kind="delay", ms=300, count=-1)
        p = subprocess.Popen([harness.BIN, "-c", self.bridge.conf_path, "redrive", "--wait",
                              "1", "--json"], env=self.bridge.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=RUN_TIMEOUT_S)
        self.assertEqual(p.returncode, 0, err[-2000:])
        summary = json.loads(out.splitlines()[-1])
        self.assertEqual(summary["stopped"], "interrupted")
        row = self.account()
        self.assertGreater(row["queued"], 0)
        self.assertEqual(row["deleted"], summary["deleted"])
        self.assertEqual(row["published"], summary["republished"])


if __name__ == "__main__":
    unittest.main()
