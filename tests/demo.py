#!/usr/bin/python3
"""demo.py - `make demo`: cxbridge end to end against the local AWS stand-in.

Starts the stand-in and the daemon (through the test harness), posts sample
CXone routing events - valid, duplicate, invalid, out of order - prints what
reached EventBridge and the dead-letter queue and a few metrics, then stops
everything it started.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration"))
import harness  # noqa: E402


def show(label, event, resp):
    print("  %-34s -> %d %s" % (label, resp.status, resp.body.strip()))


def main():
    if not os.path.exists(harness.BIN):
        sys.exit("demo: %s is missing; run `make` first" % harness.BIN)
    bridge = harness.Bridge({"ordering": {"tolerance_ms": "1000", "policy": "dlq"}})
    try:
        print("cxbridge is listening on 127.0.0.1:%d; AWS stand-in on %s\n"
              % (bridge.port, bridge.standin.url))
        now = int(time.time() * 1000)
        first = harness.routing_event(timestamp=harness.iso_ms(now))
        queue = first["routingContext"]["queueId"]
        stale = harness.routing_event(timestamp=harness.iso_ms(now - 60000))
        stale["routingContext"]["queueId"] = queue
        bad = harness.routing_event()
        bad["routingContext"]["waitTimeMs"] = -5

        print("Posting sample events:")
        show("valid event", first, bridge.post(first))
        show("same event again (duplicate)", first, bridge.post(first))
        show("invalid: waitTimeMs < 0", bad, bridge.post(bad))
        show("60 s older, same queue (stale)", stale, bridge.post(stale))
        show("wrong bearer token", first, bridge.post(first, token="nope"))
        print()

        records = bridge.standin.records()
        print("In EventBridge (%d):" % len(records["events"]))
        for rec in records["events"]:
            entry = rec["Entry"]
            detail = json.loads(entry["Detail"])
            print("  EventId %s  Source %s  DetailType %s  id %s"
                  % (rec["EventId"], entry["Source"], entry["DetailType"], detail["id"]))
        print("In the DLQ (%d):" % len(records["messages"]))
        for msg in records["messages"]:
            body = json.loads(msg["Body"])
            print("  MessageId %s  reason %s  id %s"
                  % (msg["MessageId"], body["reason"], body["event"]["id"]))
        print()
        print("Metrics:")
        for name in ("cxbridge_events_received_total", "cxbridge_events_published_total",
                     "cxbridge_events_duplicate_total", "cxbridge_events_rejected_total",
                     "cxbridge_events_dead_lettered_total", "cxbridge_putevents_calls_total"):
            print("  %-40s %g" % (name, bridge.metric(name)))
    finally:
        rc = bridge.stop()
        print("\nStopped cxbridge (exit %s) and the stand-in." % rc)


if __name__ == "__main__":
    main()
