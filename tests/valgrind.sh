#!/bin/sh
# Runs a short integration subset with the daemon under valgrind memcheck and
# fails on any memory error or definite/indirect leak (docs/reliability.md).
#
# CXB_BIN must be a build without sanitizers (valgrind and ASan do not mix).
# VALGRIND_SUITES overrides the unittest modules run (default: ingest and
# delivery).  Each daemon writes its own report; a report with anything in it
# is a finding, and so is a daemon exit status of 99 (--error-exitcode).
set -u
cd "$(dirname "$0")/.."
BIN=${CXB_BIN:-$PWD/build/cxbridge}
SUITES=${VALGRIND_SUITES:-"tests.integration.test_ingest tests.integration.test_delivery"}

if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind: not installed (make deps)"
	echo "valgrind: 0 passed, 1 failed"
	exit 1
fi
if nm -D "$BIN" 2>/dev/null | grep -q '__[at]san_init'; then
	echo "valgrind: $BIN is a sanitizer build; use the plain one"
	echo "valgrind: 0 passed, 1 failed"
	exit 1
fi

work=$(mktemp -d /tmp/cxb-valgrind.XXXXXX)
# The harness starts "$CXB_BIN"; this wrapper puts memcheck in front of it.
# -q: a report holds only errors, so an empty report is a clean run.
cat >"$work/cxbridge" <<EOF
#!/bin/sh
exec valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \\
    --num-callers=30 --log-file=$work/report.%p "$BIN" "\$@"
EOF
chmod +x "$work/cxbridge"

# Valgrind makes start-up about twenty times slower.
# shellcheck disable=SC2086
CXB_BIN="$work/cxbridge" CXB_START_TIMEOUT_S=90 \
    /usr/bin/python3 -m unittest -v $SUITES >"$work/tests.log" 2>&1
rc=$?

reports=0
dirty=0
for f in "$work"/report.*; do
	[ -e "$f" ] || continue
	reports=$((reports + 1))
	if [ -s "$f" ]; then
		dirty=$((dirty + 1))
		echo "---- valgrind: $f"
		head -n 80 "$f"
	fi
done

ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' "$work/tests.log" | tail -n 1)
ran=${ran:-0}
bad=$(grep -c -E '^(FAIL|ERROR):' "$work/tests.log")
if [ "$rc" -ne 0 ] || [ "$bad" -ne 0 ]; then
	grep -E -A 25 '^(FAIL|ERROR):' "$work/tests.log" | head -n 150
fi
echo "valgrind: $reports daemon runs checked, $dirty with errors or leaks"
echo "valgrind: $((ran - bad)) passed, $((bad + dirty)) failed"
if [ "$rc" -eq 0 ] && [ "$dirty" -eq 0 ] && [ "$reports" -gt 0 ]; then
	rm -rf "$work"
	exit 0
fi
echo "valgrind: reports and test log kept in $work"
exit 1
