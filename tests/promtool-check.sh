#!/bin/sh
# Lints a Prometheus text exposition with `promtool check metrics` (Debian
# package prometheus).
#   tests/promtool-check.sh FILE | URL | -
# promtool exits 1 on a parse error and 3 on lint problems, writing them to
# stderr; on success it prints nothing.  So anything it prints, any non-zero
# exit, or an empty exposition (nothing was checked) is a failure here.
# Exit: 0 clean, 1 problems found, 2 usage or promtool missing.
set -u
PROMTOOL=${PROMTOOL:-promtool}
if [ $# -ne 1 ]; then
	echo "usage: $0 FILE|URL|-" >&2
	exit 2
fi
if ! command -v "$PROMTOOL" >/dev/null 2>&1; then
	echo "$0: $PROMTOOL not found (apt-get install prometheus)" >&2
	exit 2
fi
tmp=$(mktemp) || exit 2
trap 'rm -f "$tmp"' EXIT
trap 'exit 2' INT TERM
case $1 in
http://* | https://*)
	if ! curl -fsS --max-time 10 -o "$tmp" "$1"; then
		echo "$0: cannot fetch $1" >&2
		exit 1
	fi
	;;
-)
	cat >"$tmp" || exit 1
	;;
*)
	cat -- "$1" >"$tmp" || exit 1
	;;
esac
if [ ! -s "$tmp" ]; then
	echo "$0: $1: empty exposition" >&2
	exit 1
fi
out=$("$PROMTOOL" check metrics <"$tmp" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
	[ -n "$out" ] && printf '%s\n' "$out" >&2
	echo "$0: $1: promtool check metrics failed (exit $rc)" >&2
	exit 1
fi
echo "$0: $1: ok"
