#!/bin/sh
# Runs each unit-test binary given; prints one closing line with the totals.
passed=0 failed=0 failures=""
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $(basename "$t")"
	fi
done
[ -n "$failures" ] && echo "unit: failed:$failures"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
