"""test_delivery.py - the delivery promise, end to end, against the real daemon.

Each test starts the AWS stand-in and cxbridge (harness.Bridge), sends events,
injects faults into the stand-in, and then accounts for every event: a 200
"accepted" answer must be matched by a record at the destination it names
(EventBridge records by Detail.id, SQS records by the envelope's event.id), a
4xx must be nowhere, and a 429/503 may be anywhere, but a resend must not make
a second copy.  Each scenario prints a one-line table:

    sent / acked / published / dead-lettered / retry-later / refused / lost / double

and asserts lost == 0 and double == 0 wherever the bridge could know (see
test_drop_after_processing and test_slow_answer for where it cannot).

Every test also checks that the stand-in rejected no signature, so each
PutEvents and SendMessageBatch the daemon sent passed botocore's SigV4 check.

Run: CXB_BIN=$PWD/build/cxbridge /usr/bin/python3 -m unittest tests.integration.test_delivery -v
"""

import collections
import concurrent.futures
import json
import re
import signal
import sys
import threading
import time

from tests.integration.harness import TOKEN, BridgeTest, routing_event

SEND_TIMEOUT_S = 15      # one webhook; the longest scenario answers in ~2 s
EXIT_TIMEOUT_S = 15      # a draining daemon must be gone by then
TABLES = []              # (scenario, row), printed again at the end of the run

COLUMNS = ("sent", "acked", "published", "dead_lettered", "retry_later",
           "refused", "unanswered", "lost", "double")


def conf(overrides):
    """Decorator: per-test configuration overrides for the Bridge."""
    def wrap(fn):
        fn.bridge_conf = overrides
        return fn
    return wrap


def header(resp, name):
    for k, v in resp.headers.items():
        if k.lower() == name.lower():
            return v
    return None


def wait_for(pred, timeout, interval=0.02):
    """Polls pred() until it is truthy or timeout seconds pass; its last value."""
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


def parse_metrics(text):
    """{(name, frozenset of label pairs): value} from Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        sample, value = line.rsplit(" ", 1)
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$", sample)
        if m is None:
            continue
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(value)
    return out


def index_records(records):
    """Counts per event id at each destination, and the DLQ messages by id."""
    eb = collections.Counter()
    sqs = collections.Counter()
    messages = collections.defaultdict(list)
    for rec in records["events"]:
        detail = json.loads(rec["Entry"]["Detail"])
        eb[detail.get("id")] += 1
    for msg in records["messages"]:
        body = json.loads(msg["Body"])
        eid = (body.get("event") or {}).get("id")
        sqs[eid] += 1
        messages[eid].append((body, msg["MessageAttributes"]))
    return eb, sqs, messages


class DeliveryTest(BridgeTest):
    """A Bridge per test, configured by the test's @conf, plus accounting."""

    def setUp(self):
        fn = getattr(self, self._testMethodName)
        self.CONF = getattr(fn, "bridge_conf", None)
        super().setUp()

    def tearDown(self):
        rejected = None
        try:
            rejected = self.bridge.standin.records()["rejected_signatures"]
        finally:
            super().tearDown()
        self.assertEqual(rejected, 0, "the stand-in rejected a signature; log:\n" +
                         self.bridge.logs()[-3000:])

    # ---- sending

    def post(self, event):
        body = json.dumps(event).encode()
        return self.bridge.request(
            "POST", "/webhook/routing-events", body,
            {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN},
            timeout=SEND_TIMEOUT_S)

    def send_all(self, events, workers=20):
        """Posts events concurrently; an answer or the exception per event."""
        def one(ev):
            try:
                return self.post(ev)
            except Exception as exc:  # no answer at all is a finding, not a crash
                return exc
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, events))

    # ---- observing

    def metrics(self):
        return parse_metrics(self.bridge.get("/metrics").body)

    def metric(self, name, **labels):
        want = frozenset(labels.items())
        return sum(v for (n, ls), v in self.metrics().items()
                   if n == name and want <= ls)

    def audit(self, ids=()):
        """The daemon's per-event audit lines, by id (the last one wins);
        waits a little for those of ids, since stderr is read by a thread."""
        wait_for(lambda: set(ids) <= set(self._audit()), 2)
        return self._audit()

    def _audit(self):
        out = {}
        for line in self.bridge.logs().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "event" and "id" in rec:
                out[rec["id"]] = rec
        return out

    # ---- accounting

    def account(self, scenario, events, answers, ambiguous=False, resent=()):
        """Classifies each answer against the stand-in's records, prints the
        table and asserts nothing acknowledged is missing and nothing is in
        EventBridge twice.  ambiguous: a fault lost an answer after AWS had
        acted on the request, so EventBridge may hold a copy the bridge
        cannot know about; only the bridge's own answer is then checked.
        resent: ids that were sent before in this run (their earlier 503 is
        allowed to have left nothing, and the total must still be one)."""
        records = self.bridge.standin.records()
        eb, sqs, messages = index_records(records)
        row = dict.fromkeys(COLUMNS, 0)
        problems = []
        seen = collections.Counter(ev["id"] for ev in events)
        row["sent"] = len(seen)
        for ev, ans in zip(events, answers):
            eid = ev["id"]
            if isinstance(ans, Exception):
                row["unanswered"] += 1
                problems.append("%s: no answer: %r" % (eid, ans))
                continue
            body = ans.json or {}
            if ans.status == 200 and body.get("status") == "accepted":
                row["acked"] += 1
                dest = body.get("destination")
                if body.get("id") != eid:
                    problems.append("%s: answer names id %r" % (eid, body.get("id")))
                if dest == "eventbridge":
                    if eb[eid] >= 1:
                        row["published"] += 1
                    else:
                        row["lost"] += 1
                        problems.append("%s: answered eventbridge, not in EventBridge" % eid)
                    if sqs[eid]:
                        problems.append("%s: answered eventbridge but also in the DLQ" % eid)
                elif dest == "dlq":
                    if sqs[eid] >= 1:
                        row["dead_lettered"] += 1
                    else:
                        row["lost"] += 1
                        problems.append("%s: answered dlq, not in the DLQ" % eid)
                    if eb[eid] and not ambiguous:
                        problems.append("%s: answered dlq but also in EventBridge" % eid)
                else:
                    row["lost"] += 1
                    problems.append("%s: 200 with destination %r" % (eid, dest))
                if sqs[eid] > 1:
                    problems.append("%s: %d DLQ messages" % (eid, sqs[eid]))
            elif ans.status in (429, 503):
                row["retry_later"] += 1
                if not header(ans, "Retry-After"):
                    problems.append("%s: %d without Retry-After" % (eid, ans.status))
            elif 400 <= ans.status < 500:
                row["refused"] += 1
                if (eb[eid] or sqs[eid]) and eid not in resent:
                    problems.append("%s: %d but delivered" % (eid, ans.status))
            else:
                problems.append("%s: unexpected answer %r" % (eid, ans))
        for eid in seen:
            if eb[eid] > 1:
                row["double"] += 1
        if ambiguous:
            scenario += " *"   # double: copies the bridge could not know of
        TABLES.append((scenario, row))
        sys.stderr.write("\n  %-34s %s\n  %-34s %s\n" % (
            "[%s]" % scenario, " ".join("%13s" % c for c in COLUMNS), "",
            " ".join("%13d" % row[c] for c in COLUMNS)))
        self.assertEqual(problems, [], "\n".join(problems[:20]) + "\n" +
                         self.bridge.logs()[-3000:])
        self.assertEqual(row["lost"], 0)
        self.assertEqual(row["unanswered"], 0)
        if not ambiguous:
            self.assertEqual(row["double"], 0, "an event is in EventBridge twice")
        return row, eb, sqs, messages, records

    def assert_all(self, answers, status=200, destination=None):
        for ans in answers:
            self.assertNotIsInstance(ans, Exception, ans)
            self.assertEqual(ans.status, status, ans)
            if destination is not None:
                self.assertEqual(ans.json.get("destination"), destination, ans)

    def reasons(self, events, messages):
        return collections.Counter(messages[ev["id"]][0][0]["reason"] for ev in events
                                   if messages.get(ev["id"]))


class GroupCommitTest(DeliveryTest):

    @conf({"eventbridge": {"batch_linger_ms": "20"}})
    def test_group_commit(self):
        """100 events from 20 senders share PutEvents calls of at most 10."""
        events = [routing_event() for _ in range(100)]
        answers = self.send_all(events, workers=20)
        self.assert_all(answers, 200, "eventbridge")
        row, eb, _, _, records = self.account("group commit", events, answers)
        self.assertEqual(row["published"], 100)
        calls = records["requests"]["events"]
        self.assertLess(calls, 100, "no group commit: one PutEvents per event")
        self.assertGreater(len(records["events"]) / calls, 1.0)
        m = self.metrics()
        hist = lambda suffix, **l: m[("cxbridge_putevents_entries" + suffix,
                                      frozenset(l.items()))]
        self.assertEqual(hist("_count"), calls)
        self.assertEqual(hist("_sum"), 100)
        self.assertEqual(hist("_bucket", le="10"), hist("_bucket", le="+Inf"),
                         "a PutEvents call carried more than 10 entries")
        self.assertLess(hist("_bucket", le="1"), calls, "every call carried one entry")
        sys.stderr.write("  PutEvents calls: %d, mean entries per call %.1f\n"
                         % (calls, len(records["events"]) / calls))


class RetryTest(DeliveryTest):

    def _retried_then_published(self, scenario, fault, failures):
        self.bridge.standin.fault(**fault)
        events = [routing_event() for _ in range(10)]
        answers = self.send_all(events, workers=10)
        self.assert_all(answers, 200, "eventbridge")
        row, eb, sqs, _, records = self.account(scenario, events, answers)
        self.assertEqual(row["published"], 10)
        self.assertEqual(records["faults_applied"]["events"].get("status"), failures)
        self.assertGreaterEqual(records["requests"]["events"], failures + 1)
        self.assertEqual(self.metric("cxbridge_putevents_calls_total", outcome="error"),
                         failures)
        self.assertGreaterEqual(self.metric("cxbridge_putevents_entries_retried_total"), 1)
        audit = self.audit([ev["id"] for ev in events])
        attempts = [audit[ev["id"]]["attempts"] for ev in events]
        self.assertGreater(max(attempts), 1, "no event shows a retry in its audit line")
        self.assertEqual(self.metric("cxbridge_circuit_state"), 0)
        return attempts

    def test_whole_request_503_then_recovery(self):
        """Three PutEvents calls answered 503, then AWS recovers."""
        self._retried_then_published(
            "503 x3 then recovery",
            {"kind": "status", "service": "events", "status": 503,
             "code": "ServiceUnavailable", "count": 3}, 3)

    def test_throttling_400(self):
        """ThrottlingException comes as a 400; it is retryable all the same."""
        self._retried_then_published(
            "400 ThrottlingException x3",
            {"kind": "status", "service": "events", "status": 400,
             "code": "ThrottlingException", "count": 3}, 3)
        self.assertIn('"code":"ThrottlingException"', self.bridge.logs())

    def test_partial_entry_failures(self):
        """Failed entries alone are retried: the others are sent once."""
        self.bridge.standin.fault(kind="entry", service="events",
                                  code="ThrottlingException", count=5, every=3)
        self.bridge.standin.fault(kind="entry", service="events",
                                  code="InternalFailure", count=3, every=4)
        events = [routing_event() for _ in range(30)]
        answers = self.send_all(events, workers=10)
        self.assert_all(answers, 200, "eventbridge")
        row, eb, _, _, records = self.account("per-entry throttle/internal", events, answers)
        self.assertEqual(row["published"], 30)
        self.assertEqual(records["faults_applied"]["events"].get("entry"), 8)
        # 30 entries once plus the 8 failed ones again: a bridge that resent
        # whole batches would put more entries on the wire.
        self.assertEqual(self.metric("cxbridge_putevents_entries_sum"), 38)
        self.assertEqual(self.metric("cxbridge_putevents_entries_retried_total"), 8)
        self.assertGreaterEqual(self.metric("cxbridge_putevents_calls_total",
                                            outcome="partial"), 1)
        self.assertEqual(self.metric("cxbridge_events_published_total"), 30)
        self.assertEqual(self.metric("cxbridge_circuit_state"), 0)

    def test_non_retryable_entry(self):
        """An InvalidArgument entry goes to the DLQ at once, with its code."""
        self.bridge.standin.fault(kind="entry", service="events", code="InvalidArgument",
                                  message="Injected: invalid argument", count=1)
        bad = routing_event()
        ans = self.post(bad)
        self.assert_all([ans], 200, "dlq")
        self.assertEqual(self.bridge.standin.records()["requests"]["events"], 1,
                         "a non-retryable entry was sent again")
        rest = [routing_event() for _ in range(5)]
        answers = self.send_all(rest, workers=5)
        self.assert_all(answers, 200, "eventbridge")
        row, eb, sqs, messages, _ = self.account(
            "non-retryable entry", [bad] + rest, [ans] + answers)
        self.assertEqual((row["published"], row["dead_lettered"]), (5, 1))
        self.assertEqual(eb[bad["id"]], 0)
        body, attrs = messages[bad["id"]][0]
        self.assertEqual(body["reason"], "non_retryable")
        self.assertEqual(body["errorCode"], "InvalidArgument")
        self.assertEqual(body["errorMessage"], "Injected: invalid argument")
        self.assertEqual(body["attempts"], 1)
        self.assertEqual(body["event"], bad)
        self.assertEqual(body["entry"]["Source"], "nice.cxone.routing")
        self.assertEqual(body["entry"]["DetailType"], bad["eventType"])
        self.assertEqual(body["entry"]["EventBusName"], "default")
        self.assertIn("Time", body["entry"])
        self.assertIn("receivedAt", body)
        self.assertEqual(attrs["reason"], {"DataType": "String", "StringValue": "non_retryable"})
        self.assertEqual(attrs["eventType"], {"DataType": "String",
                                              "StringValue": bad["eventType"]})
        self.assertEqual(self.metric("cxbridge_putevents_entries_retried_total"), 0)
        self.assertEqual(self.metric("cxbridge_events_dead_lettered_total",
                                     reason="non_retryable"), 1)


class LostAnswerTest(DeliveryTest):
    """Faults that cost the bridge its answer.  When the stand-in acted on the
    request before the answer was lost (a late answer, or drop "after"), the
    bridge's retry is a second PutEvents that AWS would also take: PutEvents
    has no idempotency token, and the bridge cannot tell "never arrived" from
    "arrived, answer lost".  The promise covers what the bridge can know: one
    answer per event, one 'published' per event in its own books, and no
    second call for an event it saw succeed."""

    def test_drop_before_processing(self):
        """Connections closed before AWS acted: retried, published once."""
        self.bridge.standin.fault(kind="drop", service="events", count=2)
        events = [routing_event() for _ in range(5)]
        answers = self.send_all(events, workers=5)
        self.assert_all(answers, 200, "eventbridge")
        row, _, _, _, records = self.account("drop before processing", events, answers)
        self.assertEqual(row["published"], 5)
        self.assertEqual(records["faults_applied"]["events"].get("drop"), 2)
        self.assertEqual(self.metric("cxbridge_putevents_calls_total", outcome="transport"), 2)

    def test_drop_after_processing(self):
        """AWS took the event, the answer was lost: the retry publishes again,
        as it would against AWS.  The bridge itself answers once."""
        self.bridge.standin.fault(kind="drop", service="events", after=True, count=1)
        ev = routing_event()
        ans = self.post(ev)
        self.assert_all([ans], 200, "eventbridge")
        row, eb, _, _, records = self.account("drop after processing", [ev], [ans],
                                              ambiguous=True)
        self.assertEqual(records["faults_applied"]["events"].get("drop"), 1)
        # The stand-in recorded the dropped call and the retry: two copies,
        # which is what EventBridge would hold too.
        self.assertEqual(eb[ev["id"]], 2)
        self.assertEqual(records["requests"]["events"], 2)
        self.assertEqual(self.metric("cxbridge_events_published_total"), 1)
        self.assertEqual(self.metric("cxbridge_putevents_calls_total", outcome="transport"), 1)
        self.assertEqual(self.audit([ev["id"]])[ev["id"]]["attempts"], 2)
        # A resend by the sender after the 200 is a duplicate, not a third copy.
        again = self.post(ev)
        self.assertEqual((again.status, again.json.get("status")), (200, "duplicate"))
        self.assertEqual(index_records(self.bridge.standin.records())[0][ev["id"]], 2)

    def test_slow_answer(self):
        """An answer later than request_timeout_ms: retried, answered 200 once.
        The slow call is still carried out by the stand-in after its delay
        (a real AWS would do the same), so EventBridge ends with the retry's
        copy and the late one: the bridge could not know."""
        self.bridge.standin.fault(kind="delay", service="events", ms=1500, count=1)
        events = [routing_event() for _ in range(3)]
        t0 = time.monotonic()
        answers = self.send_all(events, workers=3)
        took = time.monotonic() - t0
        self.assert_all(answers)
        for ans in answers:
            self.assertIn(ans.json.get("destination"), ("eventbridge", "dlq"), ans)
        self.assertGreaterEqual(took, 0.9, "the delay fault did not bite")
        # Let the delayed call finish at the stand-in, so its copy is counted.
        time.sleep(max(0.0, 1.7 - (time.monotonic() - t0)))
        wait_for(lambda: self.bridge.standin.records()["faults_applied"]["events"]
                 .get("delay") == 1, 2)
        row, eb, _, _, records = self.account("slow answer (delay 1500 ms)", events,
                                              answers, ambiguous=True)
        self.assertEqual(self.metric("cxbridge_putevents_calls_total", outcome="transport"), 1)
        published = sum(1 for a in answers if a.json["destination"] == "eventbridge")
        self.assertEqual(self.metric("cxbridge_events_published_total"), published)
        # At most one extra copy per event, and only from the one delayed call.
        for ev in events:
            self.assertLessEqual(eb[ev["id"]], 2)
        self.assertLessEqual(len(records["events"]) - published, 3)


class BreakerTest(DeliveryTest):

    @conf({"eventbridge": {"breaker_failures": "5", "breaker_cooldown_ms": "2000"}})
    def test_eventbridge_down_breaker_opens_then_closes(self):
        """PutEvents failing for good: events go to the DLQ, the breaker opens,
        calls stop; after the cool-down the breaker probes and closes."""
        self.bridge.standin.fault(kind="status", service="events", status=500,
                                  code="InternalFailure", count=-1)
        events = [routing_event() for _ in range(20)]
        answers = self.send_all(events, workers=20)
        self.assert_all(answers, 200, "dlq")
        self.assertEqual(self.metric("cxbridge_circuit_state"), 1, "breaker not open")
        ready = self.bridge.get("/ready")
        self.assertEqual(ready.status, 200, "the DLQ works, so the bridge is ready")
        row, eb, sqs, messages, records = self.account("EventBridge down (500)", events,
                                                       answers)
        reasons = self.reasons(events, messages)
        self.assertLessEqual(set(reasons), {"eventbridge_error", "deadline", "circuit_open"})
        self.assertGreaterEqual(reasons["circuit_open"], 1, reasons)
        for ev in events:
            body, attrs = messages[ev["id"]][0]
            self.assertEqual(attrs["reason"]["StringValue"], body["reason"])
            self.assertEqual(body["event"], ev)
        calls_open = records["requests"]["events"]
        # Breaker open: straight to the DLQ, without a PutEvents call.
        more = [routing_event() for _ in range(5)]
        more_answers = self.send_all(more, workers=5)
        self.assert_all(more_answers, 200, "dlq")
        _, _, _, messages, records = self.account("  ... while open", more, more_answers)
        self.assertEqual(records["requests"]["events"], calls_open,
                         "PutEvents called while the breaker was open")
        self.assertEqual(set(self.reasons(more, messages)), {"circuit_open"})
        # Recovery: the next events after the cool-down go to EventBridge.
        self.bridge.standin.clear_faults()
        self.assertTrue(wait_for(lambda: self.metric("cxbridge_circuit_state") != 1, 5, 0.1),
                        "breaker did not leave open after its cool-down")
        after = [routing_event() for _ in range(5)]
        after_answers = self.send_all(after, workers=5)
        self.assert_all(after_answers, 200, "eventbridge")
        self.account("  ... after cool-down", after, after_answers)
        self.assertEqual(self.metric("cxbridge_circuit_state"), 0, "breaker did not close")
        transitions = [rec for rec in map(json.loads, re.findall(
            r'^\{.*"msg":"circuit breaker".*\}$', self.bridge.logs(), re.M))]
        self.assertEqual(transitions[0]["state"], "open", transitions)
        self.assertEqual(transitions[0]["consecutiveFailures"], 5,
                         "the breaker opened after the wrong number of failures")
        self.assertEqual(transitions[-1]["state"], "closed", transitions)

    def test_sqs_down_eventbridge_fine(self):
        """A failing DLQ does not touch publishing."""
        self.bridge.standin.fault(kind="status", service="sqs", status=500, count=-1)
        events = [routing_event() for _ in range(20)]
        answers = self.send_all(events, workers=10)
        self.assert_all(answers, 200, "eventbridge")
        row, _, _, _, records = self.account("SQS down, EventBridge fine", events, answers)
        self.assertEqual(row["published"], 20)
        self.assertEqual(records["requests"]["sqs"], 0)
        self.assertEqual(self.bridge.get("/ready").status, 200)


class BothFailingTest(DeliveryTest):

    def _both_failing(self, scenario, sqs_fault):
        sb = self.bridge.standin
        sb.fault(kind="status", service="events", status=500, count=-1)
        sb.fault(**sqs_fault)
        events = [routing_event() for _ in range(10)]
        answers = self.send_all(events, workers=10)
        self.assert_all(answers, 503)
        for ans in answers:
            self.assertTrue(header(ans, "Retry-After"), ans.headers)
            self.assertNotIn("accepted", ans.body)
        row, eb, sqs, _, records = self.account(scenario, events, answers)
        self.assertEqual((row["acked"], row["retry_later"]), (0, 10))
        self.assertEqual((len(records["events"]), len(records["messages"])), (0, 0))
        self.assertGreater(records["requests"]["sqs"], 0, "the DLQ was never tried")
        ready = self.bridge.get("/ready")
        self.assertEqual(ready.status, 503, ready)
        self.assertIn("both failing", ready.json.get("message", ""), ready)
        self.assertEqual(self.metric("cxbridge_events_failed_total"), 10)
        self.assertIn("event not delivered", self.bridge.logs())
        # Recovery: once the breaker may probe again, the sender's resend of the
        # same events is published, exactly once, and the bridge is ready.
        sb.clear_faults()
        self.assertTrue(wait_for(lambda: self.metric("cxbridge_circuit_state") != 1, 5, 0.1))
        again = self.send_all(events, workers=10)
        self.assert_all(again, 200, "eventbridge")
        row, eb, sqs, _, _ = self.account("  ... resend after recovery", events, again,
                                          resent={ev["id"] for ev in events})
        for ev in events:
            self.assertEqual((eb[ev["id"]], sqs[ev["id"]]), (1, 0))
        self.assertEqual(wait_for(lambda: self.bridge.get("/ready").status == 200, 2), True)

    def test_both_failing_500(self):
        self._both_failing("EventBridge 500 + SQS 500",
                           {"kind": "status", "service": "sqs", "status": 500, "count": -1})

    def test_both_failing_queue_missing(self):
        self._both_failing("EventBridge 500 + queue missing",
                           {"kind": "queue_missing", "service": "sqs", "count": -1})


class DeadlineTest(DeliveryTest):

    @conf({"eventbridge": {"delivery_timeout_ms": "300", "max_inflight_batches": "1"}})
    def test_deadline(self):
        """EventBridge hangs: events are spilled with reason deadline.  The
        first is stuck in a call until request_timeout_ms; those queued behind
        it must not wait for that call."""
        sb = self.bridge.standin
        # Delay past the request timeout, then fail, so the stand-in never
        # records an entry the bridge gave up on.
        sb.fault(kind="delay", service="events", ms=1500, count=-1)
        sb.fault(kind="status", service="events", status=500, count=-1)
        first = routing_event()
        results = {}
        t = threading.Thread(target=lambda: results.update(first=self.post(first)))
        t.start()
        self.assertTrue(wait_for(lambda: sb.records()["requests"]["events"] >= 1, 3),
                        "the first PutEvents never came")
        queued = [routing_event() for _ in range(4)]
        t0 = time.monotonic()
        queued_answers = self.send_all(queued, workers=4)
        waited = time.monotonic() - t0
        t.join(SEND_TIMEOUT_S)
        self.assertIn("first", results, "the first event got no answer")
        events, answers = [first] + queued, [results["first"]] + queued_answers
        self.assert_all(answers, 200, "dlq")
        row, eb, sqs, messages, _ = self.account("deadline 300 ms, EventBridge hangs",
                                                 events, answers)
        self.assertEqual(self.reasons(events, messages), {"deadline": 5})
        self.assertEqual(self.metric("cxbridge_events_dead_lettered_total", reason="deadline"),
                         5)
        # Waiting entries are checked on the loop's 100 ms tick: 300 ms + a tick,
        # well under the 1000 ms the stuck call takes.
        self.assertLess(waited, 0.9, "queued events waited for the stuck call")


class DrainTest(DeliveryTest):

    def _sigterm_when_queued(self, n):
        self.assertEqual(wait_for(lambda: self.metric("cxbridge_queue_depth") == n, 5), True,
                         "the burst never queued up")
        self.bridge.proc.send_signal(signal.SIGTERM)
        ready = wait_for(lambda: (lambda r: r if r.status == 503 else None)(
            self.bridge.get("/ready")), 1.0)
        self.assertIsNotNone(ready, "/ready stayed 200 after SIGTERM")
        self.assertIn("draining", ready.body)
        late = routing_event()
        late_ans = self.post(late)
        self.assertEqual(late_ans.status, 503, late_ans)
        self.assertTrue(header(late_ans, "Retry-After"))
        self.assertIsNone(self.bridge.proc.poll(), "the drain was over before it was probed")
        return late, late_ans

    def _burst(self, events):
        answers = {}

        def run():
            answers["all"] = self.send_all(events, workers=len(events))
        t = threading.Thread(target=run)
        t.start()
        return t, answers

    def _finish(self, t, answers):
        t.join(SEND_TIMEOUT_S)
        self.assertFalse(t.is_alive(), "in-flight requests got no answer")
        rc = self.bridge.proc.wait(EXIT_TIMEOUT_S)
        self.assertEqual(rc, 0, self.bridge.logs()[-3000:])
        self.assertIn("draining", self.bridge.logs())
        return answers["all"]

    @conf({"eventbridge": {"request_timeout_ms": "3000"}})
    def test_sigterm_drain_in_flight_finish(self):
        """SIGTERM with 30 events in slow PutEvents calls: they finish."""
        self.bridge.standin.fault(kind="delay", service="events", ms=1500, count=-1)
        events = [routing_event() for _ in range(30)]
        t, box = self._burst(events)
        late, late_ans = self._sigterm_when_queued(len(events))
        answers = self._finish(t, box)
        row, eb, sqs, messages, _ = self.account("SIGTERM drain, slow EventBridge",
                                                 events + [late], answers + [late_ans])
        self.assertEqual(row["retry_later"], 1, "only the late request is turned away")
        for ev, ans in zip(events, answers):
            if ans.status == 200 and ans.json["destination"] == "dlq":
                self.assertEqual(messages[ev["id"]][0][0]["reason"], "shutdown")
        self.assertEqual(row["published"], 30,
                         "in-flight calls within the stop timeout should finish")

    @conf({"eventbridge": {"request_timeout_ms": "3000", "delivery_timeout_ms": "300"}})
    def test_sigterm_drain_spills_shutdown(self):
        """SIGTERM while PutEvents hangs and then fails: past the stop timeout
        the events are spilled to the DLQ with reason shutdown."""
        sb = self.bridge.standin
        sb.fault(kind="delay", service="events", ms=1500, count=-1)
        sb.fault(kind="status", service="events", status=500, count=-1)
        events = [routing_event() for _ in range(10)]
        t, box = self._burst(events)
        late, late_ans = self._sigterm_when_queued(len(events))
        answers = self._finish(t, box)
        self.assert_all(answers, 200, "dlq")
        row, eb, sqs, messages, _ = self.account("SIGTERM drain, EventBridge failing",
                                                 events + [late], answers + [late_ans])
        self.assertEqual(self.reasons(events, messages), {"shutdown": 10})


def tearDownModule():
    if not TABLES:
        return
    sys.stderr.write("\n\ndelivery accounting\n  %-34s %s\n" % (
        "scenario", " ".join("%13s" % c for c in COLUMNS)))
    for scenario, row in TABLES:
        sys.stderr.write("  %-34s %s\n" % (scenario[:34],
                                           " ".join("%13d" % row[c] for c in COLUMNS)))
    sys.stderr.write("  * the answer to a call AWS had carried out was lost; the bridge's\n"
                     "    retry is a second copy it cannot know of (AWS would hold it too)\n")


if __name__ == "__main__":
    import unittest
    unittest.main()
