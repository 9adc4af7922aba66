#!/bin/sh
# Runs the integration tests against $CXB_BIN; one closing line with totals.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp)
/usr/bin/python3 -m unittest discover -s tests/integration -p 'test_*.py' -v \
    >"$out" 2>&1
rc=$?
cat "$out"
/usr/bin/python3 - "$out" "$rc" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
ran = re.search(r"^Ran (\d+) tests?", text, re.M)
n = int(ran.group(1)) if ran else 0
m = re.search(r"^FAILED \((.*)\)", text, re.M)
bad = 0
skipped = 0
if m:
    for part in m.group(1).split(","):
        k, v = part.strip().split("=")
        if k in ("failures", "errors"):
            bad += int(v)
        if k == "skipped":
            skipped += int(v)
s = re.search(r"skipped=(\d+)", text)
if s:
    skipped = int(s.group(1))
if skipped:
    bad += skipped   # a skipped test is not a passed one
print("integration: %d passed, %d failed" % (n - bad, bad))
sys.exit(0 if (sys.argv[2] == "0" and bad == 0 and n > 0) else 1)
PY
