#!/usr/bin/python3
"""run.py - `make failalloc`: fail each allocation on a request's path in turn.

For N = 1, 2, ... the daemon (built by `make failalloc` with tests/failalloc/
wrap.c) fails the Nth allocation its own code makes after start-up, while it
serves one webhook through to EventBridge.  Every run must end with a clean
answer - 200 with the event really in EventBridge or the DLQ, or a JSON error
that is not 2xx - a daemon that still answers /health, and a clean exit
(AddressSanitizer makes a leak or a bad access fail the exit code).
"""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
import harness  # noqa: E402


def one_run(n):
    bridge = harness.Bridge(env={"CXB_FAILALLOC_AT": str(n)})
    problems = []
    r = None
    try:
        event = harness.routing_event()
        r = bridge.post(event)
        records = bridge.standin.records()
        ids = [json.loads(e["Entry"]["Detail"])["id"] for e in records["events"]]
        ids += [json.loads(m["Body"])["event"]["id"] for m in records["messages"]]
        if r.status == 200:
            if r.json is None or r.json.get("status") != "accepted":
                problems.append("200 without an accepted body: %r" % r)
            elif ids.count(event["id"]) != 1:
                problems.append("acknowledged but %d copies delivered" % ids.count(event["id"]))
        elif r.json is None or "error" not in r.json:
            problems.append("non-JSON error answer: %r" % r)
        elif r.status < 500 and r.status != 429:
            # The event is valid: a 4xx would make the sender drop it.
            problems.append("a lack of memory answered as the sender's fault: %r" % r)
        elif "Retry-After" not in r.headers:
            problems.append("%d without Retry-After" % r.status)
        h = bridge.get("/health")
        if h.status not in (200, 503):
            problems.append("/health answered %d" % h.status)
    except Exception as exc:  # a dropped connection means the daemon crashed
        problems.append("request failed: %s" % exc)
    finally:
        rc = bridge.stop()
    if rc != 0:
        problems.append("exit code %r" % rc)
    m = re.search(r"failalloc: (\d+) allocations after arming", bridge.logs())
    count = int(m.group(1)) if m else None
    return (r.status if r is not None else None), problems, count, bridge.logs()


def main():
    status, problems, total, logs = one_run(0)
    if problems or total is None:
        sys.exit("failalloc: the run without failures went wrong: %s\n%s" % (problems, logs[-3000:]))
    print("failalloc: a request's path makes %d allocations in the daemon's own code" % total)
    failed = 0
    outcomes = {}
    for n in range(1, total + 1):
        status, problems, _, logs = one_run(n)
        outcomes[status] = outcomes.get(status, 0) + 1
        if problems:
            failed += 1
            print("N=%d: %s" % (n, "; ".join(problems)))
            print("\n".join(line for line in logs.splitlines()[-12:]
                            if "secret is shorter" not in line))
    print("failalloc: answers by status: %s" % ", ".join(
        "%s x%d" % (k, v) for k, v in sorted(outcomes.items(), key=lambda kv: str(kv[0]))))
    print("failalloc: %d passed, %d failed" % (total - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
