#!/bin/sh
# Development aid: build and run one unit test against only the modules named,
# so a module can be tested while others are still being written.
#   tests/unit/dev-build.sh sigv4 [other modules...]
# Builds tests/unit/test_<first>.c with src/<each>.c into build-dev/.
set -e
cd "$(dirname "$0")/../.."
t=$1
srcs=""
for m in "$@"; do srcs="$srcs src/$m.c"; done
mkdir -p build-dev
PKGS="libmicrohttpd libcurl jansson libcrypto uuid libsystemd"
cc -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
   -Wmissing-prototypes -Wformat=2 -Wvla -Wundef -Wwrite-strings \
   -Wimplicit-fallthrough -O1 -g -fsanitize=address,undefined \
   -D_GNU_SOURCE -Iinclude -Itests/unit $(pkg-config --cflags $PKGS) \
   -o "build-dev/test_$t" "tests/unit/test_$t.c" $srcs \
   $(pkg-config --libs $PKGS) -lpthread -lm -lcmocka
exec "build-dev/test_$t"
