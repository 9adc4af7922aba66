/* testutil.h - what every unit test includes: cmocka and small helpers. */
#ifndef CXB_TESTUTIL_H
#define CXB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
