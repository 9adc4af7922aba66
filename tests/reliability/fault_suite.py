#!/usr/bin/python3
"""fault_suite.py - cxbridge under steady concurrent load, AWS faults and restarts.

Each scenario starts the AWS stand-in, then the real daemon against it
(separately, so a daemon can be killed and started again while the stand-in
keeps its records), and sends EVENTS webhooks from SENDERS concurrent
senders.  A sender behaves like CXone: it retries an event answered 429 or
503 after Retry-After (scaled down, so the suite stays short), and one that
got no answer at all (connection refused, reset or timed out), up to
MAX_ATTEMPTS times; it stops at a 200 or a 4xx.  While the load runs, the
scenario's injector breaks EventBridge, SQS or the daemon.

Then every event is accounted for against the stand-in's records and the
daemon's audit lines (one per outcome, naming the EventBridge EventId or SQS
MessageId the bridge was given):

  acknowledged   a 200 (accepted or duplicate): it must be in EventBridge or
                 the DLQ, at the destination the answer named ("lost" if not)
  refused        a 4xx: it must be nowhere (every event sent is valid, so any
                 4xx is also a finding)
  retry-later    429 / 503 / no answer: it may be anywhere
  double         an event the bridge itself put in EventBridge (or the DLQ)
                 twice: two copies whose ids the bridge logged in one run,
                 a copy whose answer reached the bridge but was never logged,
                 or a second copy after the sender had its 200
  aws-dup        a copy the bridge could not know of: the stand-in carried
                 out a call whose answer a fault delayed or dropped (the
                 stand-in tags those records), that the daemon logged as
                 unanswered within its request timeout (a loaded machine), or
                 that was in flight when the daemon was killed; the bridge's
                 retry then makes a second copy, as AWS would
  restart-dup    an event published by a daemon that was killed before its
                 answer went out, and again by the next daemon when the
                 sender retried (dedupe is in memory; docs/architecture.md)

lost and double must be 0.  A scenario also fails if the daemon dies,
exits non-zero on SIGTERM, is not healthy after the load or still counts
events as outstanding, the stand-in rejects a signature, a sanitizer
reports anything, an event is still unacknowledged when its sender gives up
where the scenario expects recovery, or its faults never bit.  A self-test
first feeds the accounting made-up records with known faults.

Run:  CXB_BIN=$PWD/build/cxbridge /usr/bin/python3 tests/reliability/fault_suite.py
      [-k NAME] [--events N] [--senders N] [--record docs/reliability.md] [--keep]
Ends with "reliability: N passed, M failed".
"""

import argparse
import calendar
import collections
import http.client
import json
import os
import queue
import random
import shutil
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import Bridge, Standin, TOKEN, iso_ms  # noqa: E402

WEBHOOK = "/webhook/routing-events"
EVENTS = 2000             # per scenario
SENDERS = 32
MAX_ATTEMPTS = 200        # per event; the scenario deadline bounds it too
RETRY_SCALE = 0.25        # a sender waits Retry-After x this (x 0.5..1.5 jitter)
CLIENT_TIMEOUT_S = 20     # longer than the bridge's longest answer (~8 s here)
SCENARIO_DEADLINE_S = 90  # senders stop trying after this
SUITE_BUDGET_S = 480      # the whole suite, 2 cores
ORDER_KEYS = 200          # ordering keys shared by the events
KILL_WINDOW_S = 1.5       # a call the stand-in finished this soon after a kill

# Short timeouts so faults turn into retries, spills and recoveries quickly.
CONF = {
    "server": {"threads": "2", "retry_after_s": "1"},
    "eventbridge": {"batch_linger_ms": "5", "delivery_timeout_ms": "4000",
                    "request_timeout_ms": "1000", "connect_timeout_ms": "500",
                    "retry_base_ms": "10", "retry_max_backoff_ms": "200",
                    "breaker_failures": "5", "breaker_cooldown_ms": "1000"},
    "log": {"level": "info"},
}

COLUMNS = ("sent", "attempts", "acked", "published", "dead_lettered", "refused",
           "gave_up", "lost", "double", "aws_dup", "restart_dup", "seconds")


# --------------------------------------------------------------------- load

class Attempt:
    __slots__ = ("t0", "t1", "status", "body", "error", "run")

    def __init__(self, t0, t1, status, body, error, run):
        self.t0, self.t1, self.status, self.body, self.error, self.run = \
            t0, t1, status, body, error, run


def make_events(n):
    """Valid routing events; ORDER_KEYS ordering keys, timestamps 1 ms apart
    in creation order, so retries that reorder them make stale spills."""
    base = int(time.time() * 1000) - n
    out = []
    for i in range(n):
        ev = harness.routing_event(timestamp=iso_ms(base + i))
        ev["routingContext"]["queueId"] = "q-%03d" % (i % ORDER_KEYS)
        out.append(ev)
    return out


class Load:
    """SENDERS threads working through the events; each keeps the history
    of its event's attempts."""

    def __init__(self, ctx, events, senders):
        self.ctx = ctx
        self.events = events
        self.bodies = [json.dumps(ev).encode() for ev in events]
        self.attempts = [[] for _ in events]
        self.work = queue.Queue()
        for i in range(len(events)):
            self.work.put(i)
        self.finished = 0
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + SCENARIO_DEADLINE_S
        self.threads = [threading.Thread(target=self.sender, daemon=True)
                        for _ in range(senders)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join(SCENARIO_DEADLINE_S + CLIENT_TIMEOUT_S + 5)
        return not any(t.is_alive() for t in self.threads)

    def progress(self):
        with self.lock:
            return self.finished / len(self.events)

    def sender(self):
        while True:
            try:
                i = self.work.get_nowait()
            except queue.Empty:
                return
            try:
                self.send_event(i)
            except Exception as exc:   # a sender bug must show, not lose the event
                self.ctx.problems.append("sender error on event %d: %r" % (i, exc))
            with self.lock:
                self.finished += 1

    def send_event(self, i):
        for _ in range(MAX_ATTEMPTS):
            if time.monotonic() > self.deadline:
                return
            port, run = self.ctx.target()
            if port is None:          # between a daemon's exit and the next
                time.sleep(0.05)
                continue
            a = self.post(port, run, self.bodies[i])
            self.attempts[i].append(a)
            if a.status == 200 or (a.status is not None and 400 <= a.status < 500
                                   and a.status != 429):
                return
            if a.status in (429, 503):
                delay = float(a.body.get("_retry_after") or 1) * RETRY_SCALE
            else:
                delay = 0.1
            time.sleep(delay * random.uniform(0.5, 1.5))

    @staticmethod
    def post(port, run, body):
        t0 = time.time()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
        try:
            conn.request("POST", WEBHOOK, body=body, headers={
                "Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
            r = conn.getresponse()
            data = r.read()
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = {}
            if not isinstance(parsed, dict):
                parsed = {}
            parsed["_retry_after"] = r.getheader("Retry-After")
            return Attempt(t0, time.time(), r.status, parsed, None, run)
        except (OSError, http.client.HTTPException) as exc:
            return Attempt(t0, time.time(), None, {}, type(exc).__name__, run)
        finally:
            conn.close()


# ----------------------------------------------------------------- scenario

class Context:
    """One scenario's stand-in, its daemon(s) and the load."""

    def __init__(self, tmp_parent):
        self.tmp = tmp_parent
        self.standin = Standin(tmp_parent, queue_url())
        self.bridge = None
        self.runs = []          # (first log line, last log line, started, ended, killed)
        self.kills = []         # wall-clock times of SIGKILLs
        self.exits = []         # exit statuses of daemons stopped with SIGTERM
        self.load = None
        self.problems = []
        self.lock = threading.Lock()
        self.port = None
        self.run = 0
        self.stop = threading.Event()

    def start_daemon(self, conf):
        if self.bridge is None:
            self.bridge = Bridge(conf, standin=self.standin, start=False)
        first = len(self.bridge.log_lines)
        self.bridge.start()
        with self.lock:
            self.run = len(self.runs)
            self.runs.append([first, None, time.time(), None, False])
            self.port = self.bridge.port

    def target(self):
        with self.lock:
            return self.port, self.run

    def daemon_gone(self, killed):
        """After the process ended: close its run in the log."""
        b = self.bridge
        b.reader.join(5)
        b.proc.stderr.close()
        with self.lock:
            self.port = None
            run = self.runs[-1]
            run[1], run[3], run[4] = len(b.log_lines), time.time(), killed

    def sigterm(self, timeout=15):
        b = self.bridge
        b.proc.send_signal(signal.SIGTERM)
        try:
            rc = b.proc.wait(timeout)
        except Exception:
            b.proc.kill()
            rc = b.proc.wait()
            self.problems.append("daemon did not exit %d s after SIGTERM" % timeout)
        self.exits.append(rc)
        self.daemon_gone(False)
        if rc != 0:
            self.problems.append("daemon exited %r after SIGTERM" % rc)
        return rc

    def sigkill(self):
        b = self.bridge
        self.kills.append(time.time())
        b.proc.kill()
        b.proc.wait()
        self.daemon_gone(True)

    def fault(self, **spec):
        self.standin.fault(**spec)

    def clear(self):
        self.standin.clear_faults()

    def wait_progress(self, frac, timeout=SCENARIO_DEADLINE_S):
        end = time.monotonic() + timeout
        while self.load.progress() < frac and time.monotonic() < end:
            if self.stop.wait(0.02):
                return False
        return True

    def every(self, period, fn, until=1.0):
        """Calls fn every period seconds while the load is below `until`."""
        while self.load.progress() < until and not self.stop.is_set():
            fn()
            if self.stop.wait(period):
                break

    def shutdown(self):
        if self.bridge is not None and self.bridge.proc is not None \
                and self.bridge.proc.poll() is None:
            self.sigterm()
        self.standin.stop()


def queue_url():
    return "https://sqs.%s.amazonaws.com/123456789012/cxbridge-dlq" % harness.REGION


class Scenario:
    def __init__(self, name, what, inject=None, conf=None, recovers=True,
                 settle_s=0.0, expect=None):
        self.name = name
        self.what = what
        self.inject = inject
        self.conf = conf or {}
        self.recovers = recovers        # every event is acknowledged in the end
        self.settle_s = settle_s        # let delayed stand-in calls finish
        self.expect = expect            # fn(ctx, result) -> [problems]


# ---------------------------------------------------------------- injectors

def eb_5xx_bursts(ctx):
    codes = [(503, "ServiceUnavailable"), (500, "InternalFailure"), (502, "BadGateway")]
    n = [0]

    def burst():
        status, code = codes[n[0] % len(codes)]
        n[0] += 1
        ctx.fault(kind="status", service="events", status=status, code=code, count=6)
    ctx.every(0.4, burst)


def throttling(ctx):
    ctx.fault(kind="entry", service="events", code="ThrottlingException", every=4, count=-1)

    def burst():
        ctx.fault(kind="status", service="events", status=400, code="ThrottlingException",
                  count=4)
        ctx.fault(kind="status", service="events", status=429, code="TooManyRequestsException",
                  count=2)
    ctx.every(0.3, burst)
    ctx.clear()


def partial_failures(ctx):
    # Entry faults apply one after the other, each until its count is used.
    ctx.fault(kind="entry", service="events", code="InternalFailure", every=3, count=250)
    ctx.fault(kind="entry", service="events", code="InvalidArgument", every=9, count=40,
              message="Injected: invalid argument")
    ctx.fault(kind="entry", service="events", code="ThrottlingException", every=2, count=250)
    ctx.fault(kind="entry", service="sqs", code="InternalError", every=5, count=20)


def slow_answers(ctx):
    def burst():
        ctx.fault(kind="delay", service="events", ms=1400, count=2)   # past the timeout
        ctx.fault(kind="delay", service="events", ms=300, count=4)    # slow, in time
    ctx.every(0.6, burst)


def dropped_connections(ctx):
    def burst():
        ctx.fault(kind="drop", service="events", count=2)
        ctx.fault(kind="drop", service="events", after=True, count=1)
    ctx.every(0.4, burst)
    ctx.wait_progress(0.5)
    ctx.fault(kind="drop", service="sqs", after=True, count=3)


def sqs_down_eb_works(ctx):
    # Every 25th entry is refused by EventBridge for good, so the DLQ is
    # needed, and it answers 500: those events get 503 and their resend
    # goes through; nothing else notices.
    ctx.fault(kind="status", service="sqs", status=500, code="InternalError", count=-1)
    ctx.fault(kind="entry", service="events", code="InvalidArgument", every=25, count=-1)
    ctx.wait_progress(0.9)
    ctx.clear()


def both_failing_then_recovering(ctx):
    ctx.wait_progress(0.3)
    ctx.fault(kind="status", service="events", status=500, code="InternalFailure", count=-1)
    ctx.fault(kind="status", service="sqs", status=503, code="ServiceUnavailable", count=-1)
    ctx.stop.wait(3.0)
    ctx.clear()


def credentials_failing(ctx):
    ctx.wait_progress(0.3)
    ctx.fault(kind="auth", count=-1)     # both services refuse the key
    ctx.stop.wait(2.5)
    ctx.clear()


def dlq_queue_missing(ctx):
    ctx.fault(kind="queue_missing", service="sqs", count=-1)
    ctx.fault(kind="entry", service="events", code="InvalidArgument", every=40, count=-1)
    ctx.wait_progress(0.4)
    ctx.fault(kind="status", service="events", status=500, code="InternalFailure", count=-1)
    ctx.stop.wait(2.0)
    ctx.clear()
    ctx.fault(kind="queue_missing", service="sqs", count=-1)
    ctx.wait_progress(0.9)
    ctx.clear()


def slow_eventbridge_small_queue(ctx):
    # PutEvents takes 100 ms and the queue holds 24 events: the 32 senders
    # outrun delivery and are pushed back with 429 until there is room.
    ctx.fault(kind="delay", service="events", ms=100, count=-1)
    ctx.wait_progress(0.95)
    ctx.clear()


def sigterm_under_load(ctx):
    ctx.fault(kind="delay", service="events", ms=150, count=-1)
    ctx.wait_progress(0.4)
    ctx.sigterm()
    ctx.clear()
    ctx.start_daemon(ctx.conf)


def sigkill_under_load(ctx):
    ctx.fault(kind="delay", service="events", ms=150, count=-1)
    ctx.wait_progress(0.4)
    ctx.sigkill()
    ctx.clear()
    ctx.stop.wait(0.3)
    ctx.start_daemon(ctx.conf)


# --------------------------------------------------------------- expectations

def applied(ctx, records, service, kind):
    return records["faults_applied"][service].get(kind, 0)


def expect_applied(*pairs):
    def check(ctx, res):
        return ["fault %s/%s never applied" % (s, k) for s, k in pairs
                if applied(ctx, res["records"], s, k) == 0]
    return check


def expect_all(*checks):
    def check(ctx, res):
        out = []
        for c in checks:
            out += c(ctx, res)
        return out
    return check


def expect_answers(status, minimum=1):
    def check(ctx, res):
        n = res["answers"].get(status, 0)
        return [] if n >= minimum else ["expected %d+ answers %s, got %d" % (
            minimum, status, n)]
    return check


def expect_reason(reason):
    def check(ctx, res):
        return [] if res["reasons"].get(reason) else [
            "no event was dead-lettered with reason %s" % reason]
    return check


def expect_no_dlq(ctx, res):
    return [] if res["row"]["dead_lettered"] == res["reasons"].get("out_of_order", 0) else [
        "events reached the DLQ for a reason other than out_of_order: %r" % res["reasons"]]


def expect_restart(ctx, res):
    return [] if len(ctx.runs) == 2 else ["expected 2 daemon runs, got %d" % len(ctx.runs)]


SCENARIOS = [
    Scenario("baseline", "no fault: the reference run", None,
             expect=expect_no_dlq),
    Scenario("eventbridge-5xx-bursts", "PutEvents answers 500/502/503 in bursts of 6",
             eb_5xx_bursts, expect=expect_applied(("events", "status"))),
    Scenario("throttling", "400 ThrottlingException and 429 bursts; every 4th entry throttled",
             throttling, expect=expect_applied(("events", "status"), ("events", "entry"))),
    Scenario("partial-batch-failures", "entries fail InternalFailure / InvalidArgument / "
             "ThrottlingException; SQS entries fail too", partial_failures,
             expect=expect_all(expect_applied(("events", "entry"), ("sqs", "entry")),
                               expect_reason("non_retryable"))),
    Scenario("slow-answers", "PutEvents answers after 1400 ms (timeout 1000 ms) or 300 ms",
             slow_answers, settle_s=1.6, expect=expect_applied(("events", "delay"))),
    Scenario("dropped-connections", "connections closed before the answer, and after "
             "AWS carried the call out (EventBridge and SQS)", dropped_connections,
             expect=expect_applied(("events", "drop"))),
    Scenario("sqs-down-eventbridge-up", "SendMessageBatch 500 for good; every 25th entry "
             "non-retryable", sqs_down_eb_works,
             expect=expect_all(expect_applied(("sqs", "status")), expect_answers(503))),
    Scenario("both-down-then-recover", "PutEvents 500 and SQS 503 for 3 s, then both recover",
             both_failing_then_recovering,
             expect=expect_all(expect_applied(("events", "status"), ("sqs", "status")),
                               expect_answers(503))),
    Scenario("credentials-refused", "both services refuse the access key for 2.5 s "
             "(UnrecognizedClientException / InvalidClientTokenId)", credentials_failing,
             expect=expect_all(expect_applied(("events", "auth"), ("sqs", "auth")),
                               expect_answers(503))),
    Scenario("dlq-queue-missing", "QueueDoesNotExist for good; every 40th entry "
             "non-retryable; PutEvents 500 for 2 s", dlq_queue_missing,
             expect=expect_all(expect_applied(("sqs", "queue_missing")), expect_answers(503))),
    Scenario("queue-full-backpressure", "PutEvents takes 100 ms, [queue] capacity 24 (32 senders): "
             "senders get 429 and come back", slow_eventbridge_small_queue,
             conf={"queue": {"capacity": "24"}},
             expect=expect_all(expect_answers(429), expect_no_dlq)),
    Scenario("sigterm-under-load", "SIGTERM at 40 % with PutEvents slowed to 150 ms; "
             "a new daemon starts on the same stand-in", sigterm_under_load,
             expect=expect_restart),
    Scenario("sigkill-under-load", "SIGKILL at 40 % with PutEvents slowed to 150 ms; "
             "a new daemon starts on the same stand-in", sigkill_under_load,
             expect=expect_restart),
]


# --------------------------------------------------------------- accounting

def audit_lines(ctx):
    """[(run, record)] of the daemon's per-event outcome lines."""
    out = []
    lines = ctx.bridge.log_lines
    for run, (first, last, _, _, _) in enumerate(ctx.runs):
        for line in lines[first:last]:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("msg") == "event" and "destinationId" in rec:
                out.append((run, rec))
    return out


def log_time(rec):
    """Epoch seconds of a log record's "ts" (UTC, milliseconds)."""
    ts = rec.get("ts", "")
    try:
        whole = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
        return whole + int(ts[20:23]) / 1000.0
    except (ValueError, IndexError):
        return None


def unanswered_calls(ctx):
    """{"events"|"sqs": [[epoch, entries]]} of calls the daemon logged as
    failed with no HTTP answer (timeout, reset): AWS may have carried them
    out, each for at most its number of entries."""
    out = {"events": [], "sqs": []}
    for line in ctx.bridge.log_lines:
        if '"status":0' not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        kind = {"PutEvents failed": "events",
                "SQS SendMessageBatch failed": "sqs"}.get(rec.get("msg"))
        if kind and rec.get("status") == 0 and log_time(rec) is not None:
            out[kind].append([log_time(rec), int(rec.get("entries", 10))])
    return out


def copies(records):
    """id -> [record] in EventBridge and in the DLQ."""
    eb = collections.defaultdict(list)
    dlq = collections.defaultdict(list)
    for rec in records["events"]:
        eb[json.loads(rec["Entry"]["Detail"]).get("id")].append(rec)
    for msg in records["messages"]:
        body = json.loads(msg["Body"])
        dlq[(body.get("event") or {}).get("id")].append((msg, body))
    return eb, dlq


def killed_during(ctx, when):
    return any(k - 2.0 <= when <= k + KILL_WINDOW_S for k in ctx.kills)


def account(ctx, events, load):
    records = ctx.standin.records()
    ctx.unanswered = unanswered_calls(ctx)
    eb, dlq = copies(records)
    audit = audit_lines(ctx)
    seen = {}                  # destinationId -> (run, record)
    per_run = collections.Counter()
    for run, rec in audit:
        if rec.get("destination") in ("eventbridge", "dlq"):
            seen[rec["destinationId"]] = (run, rec)
            per_run[(run, rec["id"])] += 1
    row = dict.fromkeys(COLUMNS, 0)
    problems = []
    answers = collections.Counter()
    reasons = collections.Counter()
    for ev, tries in zip(events, load.attempts):
        eid = ev["id"]
        row["sent"] += 1
        row["attempts"] += len(tries)
        for a in tries:
            answers[a.status if a.status is not None else "none"] += 1
        acks = [a for a in tries if a.status == 200]
        refused = [a for a in tries if a.status is not None and 400 <= a.status < 500
                   and a.status != 429]
        ebc, dlqc = eb.get(eid, []), dlq.get(eid, [])
        for msg, body in dlqc:
            reasons[body.get("reason")] += 1
        if acks:
            row["acked"] += 1
            a = acks[-1]
            st, dest = a.body.get("status"), a.body.get("destination")
            if a.body.get("id") != eid:
                problems.append("%s: 200 names id %r" % (eid, a.body.get("id")))
            if st == "accepted" and dest == "eventbridge" and not ebc:
                row["lost"] += 1
                problems.append("%s: answered eventbridge, not in EventBridge" % eid)
            elif st == "accepted" and dest == "dlq" and not dlqc:
                row["lost"] += 1
                problems.append("%s: answered dlq, not in the DLQ" % eid)
            elif st == "duplicate" and not (ebc or dlqc):
                row["lost"] += 1
                problems.append("%s: answered duplicate, in neither" % eid)
            elif st not in ("accepted", "duplicate") or (st == "accepted" and dest not in (
                    "eventbridge", "dlq")):
                row["lost"] += 1
                problems.append("%s: 200 with %r" % (eid, a.body))
            if dest == "eventbridge" or (st == "duplicate" and ebc):
                row["published"] += 1
            else:
                row["dead_lettered"] += 1
        elif refused:
            row["refused"] += 1
            problems.append("%s: a valid event was answered %d %r" % (
                eid, refused[-1].status, refused[-1].body))
            if (ebc or dlqc) and len(tries) == 1:
                problems.append("%s: answered %d but delivered" % (eid, refused[-1].status))
        else:
            row["gave_up"] += 1
            t0 = tries[0].t0 if tries else 0
            problems.append("%s: never acknowledged: %s" % (eid, " ".join(
                "%s@%.1fs" % (a.status or a.error, a.t0 - t0) for a in tries[-12:])))
        doubles = classify_copies(ctx, eid, ebc, "EventId", seen, tries, row)
        doubles += classify_copies(ctx, eid, [m for m, _ in dlqc], "MessageId", seen, tries,
                                   row)
        doubles += ["run %d logged %d deliveries of it" % (r, per_run[(r, eid)])
                    for r in range(len(ctx.runs)) if per_run[(r, eid)] > 1]
        if doubles:
            row["double"] += 1
            problems += ["%s: %s" % (eid, d) for d in doubles]
    return row, problems, records, answers, reasons


def late_answer(ctx, service, received):
    """The stand-in carried a call out, and the daemon logged soon after a
    call that got no answer (its request timeout had passed first): that
    call's entries may each have left one copy the daemon never saw."""
    timeout_s = int(ctx.conf["eventbridge"]["request_timeout_ms"]) / 1000.0
    for call in ctx.unanswered[service]:
        if call[1] > 0 and received - 0.5 <= call[0] <= received + timeout_s + 1.0:
            call[1] -= 1
            return True
    return False


def classify_copies(ctx, eid, recs, key, seen, tries, row):
    """Each copy beyond the first is a bridge double, an AWS-side copy or a
    copy made again after a restart.  Returns what makes it a double."""
    doubles = []
    known = [r for r in recs if r[key] in seen]
    ghosts = [r for r in recs if r[key] not in seen]
    service = "events" if key == "EventId" else "sqs"
    for g in ghosts:
        if g.get("fault") in ("delay", "drop-after") or killed_during(ctx, g["received"]) \
                or late_answer(ctx, service, g["received"]):
            row["aws_dup"] += 1
        else:
            doubles.append("a %s copy (%s) the bridge was answered for but never logged"
                           % ("EventBridge" if key == "EventId" else "DLQ", g[key]))
    if len(known) <= 1:
        return doubles
    known.sort(key=lambda r: r["received"])
    for later in known[1:]:
        run = seen[later[key]][0]
        first_run = seen[known[0][key]][0]
        acked_before = any(a.status == 200 and a.t1 < later["received"] for a in tries)
        if run != first_run and ctx.runs[first_run][4] and not acked_before:
            row["restart_dup"] += 1
        else:
            doubles.append("the bridge delivered it twice (%s)" % ", ".join(
                r[key] for r in known))
    return doubles


# ---------------------------------------------------------------- self-test

def selftest():
    """The accounting on made-up records: each kind of fault it must catch
    is caught, so a clean table means something.  Returns problems."""
    from types import SimpleNamespace as NS
    now = time.time()
    ids = ["ev-%s" % c for c in "ABCDEFGH"]
    events = [{"id": i} for i in ids]

    def ok(dest, run=0):
        return [Attempt(now, now + 0.01, 200, {"status": "accepted", "id": None,
                                               "destination": dest}, None, run)]

    def audit(run_id, eid, dest, dest_id):
        return json.dumps({"msg": "event", "id": eid, "outcome": "x",
                           "destination": dest, "destinationId": dest_id}) + "\n"

    def eb(eid, event_id, fault=None):
        rec = {"EventId": event_id, "Entry": {"Detail": json.dumps({"id": eid})},
               "received": now}
        if fault:
            rec["fault"] = fault
        return rec
    attempts = [ok("eventbridge"), ok("eventbridge"), ok("eventbridge"), ok("eventbridge"),
                ok("eventbridge"), ok("dlq"),
                [Attempt(now, now, 400, {}, None, 0)],
                [Attempt(now, now, None, {}, "RemoteDisconnected", 0)] + ok("eventbridge", 1)]
    for a, eid in zip(attempts, ids):
        a[-1].body["id"] = eid
    attempts[7][-1].t1 = now + 5
    run0 = [audit(0, "ev-A", "eventbridge", "a1"), audit(0, "ev-C", "eventbridge", "c1"),
            audit(0, "ev-C", "eventbridge", "c2"), audit(0, "ev-D", "eventbridge", "d1"),
            audit(0, "ev-E", "eventbridge", "e1"), audit(0, "ev-H", "eventbridge", "h1")]
    run1 = [audit(1, "ev-H", "eventbridge", "h2")]
    records = {"events": [eb("ev-A", "a1"), eb("ev-C", "c1"), eb("ev-C", "c2"),
                          eb("ev-D", "d1"), eb("ev-D", "d0"), eb("ev-E", "e1"),
                          eb("ev-E", "e0", "drop-after"), eb("ev-G", "g1"),
                          eb("ev-H", "h1"), dict(eb("ev-H", "h2"), received=now + 2)],
               "messages": [], "rejected_signatures": 0}
    ctx = NS(standin=NS(records=lambda: records), bridge=NS(log_lines=run0 + run1),
             runs=[[0, len(run0), now, now, True], [len(run0), len(run0) + 1, now, None, False]],
             kills=[now + 100], conf=CONF)
    row, problems, _, _, _ = account(ctx, events, NS(attempts=attempts))
    want = {"lost": 2, "double": 3, "aws_dup": 1, "restart_dup": 1, "acked": 7, "refused": 1}
    got = {k: row[k] for k in want}
    out = [] if got == want else ["accounting self-test: want %r, got %r" % (want, got)]
    if not any("ev-G" in p and "delivered" in p for p in problems):
        out.append("accounting self-test: a 4xx that was delivered went unnoticed")
    return out


# -------------------------------------------------------------------- runner

def run_scenario(sc, n_events, senders, tmp):
    t0 = time.monotonic()
    ctx = Context(tmp)
    ctx.conf = merge(CONF, sc.conf)
    result = {"name": sc.name, "row": None, "problems": [], "answers": {}, "reasons": {}}
    try:
        ctx.start_daemon(ctx.conf)
        events = make_events(n_events)
        ctx.load = load = Load(ctx, events, senders)
        inj = None
        if sc.inject is not None:
            inj = threading.Thread(target=guard(ctx, sc.inject), daemon=True)
        load.start()
        if inj is not None:
            inj.start()
        if not load.join():
            ctx.problems.append("senders still busy after the deadline")
        ctx.stop.set()
        if inj is not None:
            inj.join(30)
        ctx.clear()
        time.sleep(sc.settle_s)
        if ctx.port is None:
            ctx.problems.append("no daemon running at the end")
        else:
            health = ctx.bridge.get("/health")
            if health.status != 200:
                ctx.problems.append("/health answered %d after the load" % health.status)
            # Every event answered: nothing may still count against the queue.
            depth = wait_for(lambda: ctx.bridge.metric("cxbridge_queue_depth") == 0, 3)
            if not depth:
                ctx.problems.append("cxbridge_queue_depth is %g after every event was "
                                    "answered" % ctx.bridge.metric("cxbridge_queue_depth"))
        if ctx.bridge.proc.poll() is not None and ctx.runs[-1][1] is None:
            ctx.problems.append("the daemon died: exit %r" % ctx.bridge.proc.returncode)
            ctx.daemon_gone(False)
        elif ctx.port is not None:
            # Stopped first, so its log (read by a thread) is complete, and a
            # sanitizer's report at exit is in it.
            ctx.sigterm()
        row, problems, records, answers, reasons = account(ctx, events, load)
        row["seconds"] = int(round(time.monotonic() - t0))
        result.update(row=row, records=records, answers=answers, reasons=reasons,
                      most_tries=max((len(t) for t in load.attempts), default=0))
        ctx.problems += problems
        if sc.recovers and row["gave_up"]:
            ctx.problems.append("%d events never acknowledged after %d attempts each" % (
                row["gave_up"], MAX_ATTEMPTS))
        if records["rejected_signatures"]:
            ctx.problems.append("the stand-in rejected %d signatures" %
                                records["rejected_signatures"])
        if sc.expect is not None:
            ctx.problems += sc.expect(ctx, result)
        ctx.problems += sanitizer_reports(ctx)
    except Exception as exc:     # a harness failure is a failed scenario, not a crash
        ctx.problems.append("suite error: %r" % (exc,))
    finally:
        try:
            ctx.shutdown()
        except Exception as exc:
            ctx.problems.append("shutdown: %r" % (exc,))
    result["problems"] = ctx.problems
    result["log_tail"] = "".join(ctx.bridge.log_lines[-40:]) if ctx.bridge else ""
    result["tmp"] = ctx.tmp
    if ctx.bridge is not None:
        with open(os.path.join(ctx.tmp, "cxbridge.log"), "w") as f:
            f.write("".join(ctx.bridge.log_lines))
        if "records" in result:
            with open(os.path.join(ctx.tmp, "records.json"), "w") as f:
                json.dump(result["records"], f)
        shutil.rmtree(ctx.bridge.tmp, ignore_errors=True)   # its conf and secrets
    if result["row"] is not None:
        result["row"]["seconds"] = int(round(time.monotonic() - t0))
    return result


SANITIZER_MARKS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                   "ERROR: LeakSanitizer", "runtime error:", "==ERROR")


def sanitizer_reports(ctx):
    """A sanitizer build reports on stderr, where the audit lines are."""
    lines = ctx.bridge.log_lines if ctx.bridge is not None else []
    hits = [ln.strip() for ln in lines if any(m in ln for m in SANITIZER_MARKS)]
    return ["sanitizer: %s" % h for h in hits[:5]]


def wait_for(pred, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


def guard(ctx, fn):
    def run():
        try:
            fn(ctx)
        except Exception as exc:
            ctx.problems.append("injector error: %r" % (exc,))
    return run


def merge(base, over):
    out = {s: dict(v) for s, v in base.items()}
    for s, kv in over.items():
        out.setdefault(s, {}).update(kv)
    return out


def table(results, markdown=False):
    head = ("scenario",) + COLUMNS
    rows = []
    for r in results:
        row = r["row"] or {}
        rows.append((r["name"],) + tuple(str(row.get(c, "-")) for c in COLUMNS))
    if markdown:
        out = ["| " + " | ".join(h.replace("_", "-") for h in head) + " | DLQ reasons |",
               "|---" + "|---:" * len(COLUMNS) + "|---|"]
        for r, cells in zip(results, rows):
            why = ", ".join("%s %d" % kv for kv in sorted(r["reasons"].items(), key=str))
            out.append("| " + " | ".join(cells) + " | " + (why or "-") + " |")
        return "\n".join(out)
    widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                  for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([fmt([h.replace("_", "-") for h in head])] + [fmt(r) for r in rows])


def record(path, results, n_events, senders, total_s):
    """Replaces the table between the markers in path (docs/reliability.md)."""
    begin, end = "<!-- fault-suite:begin -->", "<!-- fault-suite:end -->"
    with open(path) as f:
        text = f.read()
    if begin not in text or end not in text:
        raise SystemExit("%s has no %s ... %s markers" % (path, begin, end))
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    block = "%s\n%s\n\n%d events per scenario from %d senders; %s, %d s in all.\n%s" % (
        begin, table(results, markdown=True), n_events, senders, stamp, total_s, end)
    head, rest = text.split(begin, 1)
    with open(path, "w") as f:
        f.write(head + block + rest.split(end, 1)[1])


def main(argv=None):
    global SCENARIO_DEADLINE_S
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-k", dest="only", action="append", default=[],
                   help="run scenarios whose name contains this (repeatable)")
    p.add_argument("--events", type=int, default=EVENTS)
    p.add_argument("--senders", type=int, default=SENDERS)
    p.add_argument("--record", metavar="FILE", help="write the table into FILE's markers")
    p.add_argument("--list", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep every scenario's logs")
    args = p.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.only or any(k in s.name for k in args.only)]
    if args.list:
        for s in chosen:
            print("%-26s %s" % (s.name, s.what))
        return 0
    if not os.access(harness.BIN, os.X_OK):
        print("reliability: %s is not built" % harness.BIN)
        print("reliability: 0 passed, 1 failed")
        return 1
    import tempfile
    broken = selftest()
    print("accounting self-test       ... %s" % ("ok" if not broken else "FAIL"))
    for prob in broken:
        print("    " + prob)
    tmp = tempfile.mkdtemp(prefix="cxb-rel-")
    started = time.monotonic()
    results = []
    for sc in chosen:
        sys.stdout.write("%-26s ... " % sc.name)
        sys.stdout.flush()
        res = run_scenario(sc, args.events, args.senders, tempfile.mkdtemp(dir=tmp))
        results.append(res)
        if not res["problems"] and not args.keep:
            shutil.rmtree(res["tmp"], ignore_errors=True)
        row = res["row"] or {}
        print("%s  (%s s; answers %s; most tries %s; DLQ reasons %s)" % (
            "ok" if not res["problems"] else "FAIL", row.get("seconds", "?"),
            dict(sorted(res["answers"].items(), key=str)), res.get("most_tries", "?"),
            dict(sorted(res["reasons"].items(), key=str)) or "-"))
        for prob in res["problems"][:15]:
            print("    " + prob)
        if len(res["problems"]) > 15:
            print("    ... %d more" % (len(res["problems"]) - 15))
        if res["problems"]:
            print("    logs and records: %s" % res["tmp"])
            print("    daemon log tail:\n" + "".join("      " + ln for ln in
                                                  res["log_tail"].splitlines(True)[-15:]))
    total = int(round(time.monotonic() - started))
    if not any(r["problems"] for r in results) and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("logs and records kept in %s" % tmp)
    print()
    print(table(results))
    print("\nlost and double must be 0.  aws-dup: copies AWS made of calls whose answer "
          "was lost or late (the bridge could not know); restart-dup: published by a "
          "killed daemon before it could answer, and again after the restart.")
    failed = sum(1 for r in results if r["problems"]) + (1 if broken else 0)
    if total > SUITE_BUDGET_S and len(chosen) == len(SCENARIOS):
        print("reliability: the suite took %d s, over its %d s budget" % (total, SUITE_BUDGET_S))
        failed += 1
    if args.record:
        record(args.record, results, args.events, args.senders, total)
    passed = len(results) - sum(1 for r in results if r["problems"]) + (0 if broken else 1)
    print("reliability: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
