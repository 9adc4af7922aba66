/* test_xmlscan.c - the bounded XML text scanner used for STS answers. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "xmlscan.h"

static char out[256];

static int
scan(const char *xml, const char *path)
{
	return xmlscan_text(xml, strlen(xml), path, out, sizeof(out));
}

static void
test_found(void **state)
{
	static const char sts[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!-- a comment with <tags> -->\n"
	    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	    "  <AssumeRoleResult>\n"
	    "    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>\n"
	    "    <Credentials>\n"
	    "      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>\n"
	    "      <SecretAccessKey> s&amp;e&lt;c&#x2F;r&#101;t </SecretAccessKey>\n"
	    "      <SessionToken><![CDATA[tok<en>]]></SessionToken>\n"
	    "      <Expiration>2030-01-01T00:00:00Z</Expiration>\n"
	    "      <Empty/>\n"
	    "    </Credentials>\n"
	    "  </AssumeRoleResult>\n"
	    "</AssumeRoleResponse>\n";

	(void)state;
	assert_int_equal(scan(sts, "AssumeRoleResponse/AssumeRoleResult/"
	    "Credentials/AccessKeyId"), 0);
	assert_string_equal(out, "ASIAEXAMPLE");
	/* Entities decoded, surrounding white space dropped. */
	assert_int_equal(scan(sts, "AssumeRoleResponse/AssumeRoleResult/"
	    "Credentials/SecretAccessKey"), 0);
	assert_string_equal(out, "s&e<c/ret");
	assert_int_equal(scan(sts, "AssumeRoleResponse/AssumeRoleResult/"
	    "Credentials/SessionToken"), 0);
	assert_string_equal(out, "tok<en>");
	assert_int_equal(scan(sts, "AssumeRoleResponse/AssumeRoleResult/"
	    "Credentials/Empty"), 0);
	assert_string_equal(out, "");
	/* The path is from the root: a same-named element elsewhere is not it. */
	assert_int_equal(scan(sts, "AssumeRoleResponse/Credentials/AccessKeyId"), 1);
	assert_string_equal(out, "");
	assert_int_equal(scan(sts, "AssumeRoleResponse/AssumeRoleResult/"
	    "Credentials/Nothing"), 1);
	/* Namespace prefixes and attributes are ignored; UTF-8 kept. */
	assert_int_equal(scan("<s:E a='x>y' b=\"/\"><s:C>caf\xc3\xa9 &#233;</s:C></s:E>",
	    "E/C"), 0);
	assert_string_equal(out, "caf\xc3\xa9 \xc3\xa9");
	assert_int_equal(scan("\xef\xbb\xbf<a><b>1</b></a>", "a/b"), 0);
	assert_string_equal(out, "1");
}

static void
test_error_response(void **state)
{
	static const char e[] =
	    "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
	    "<Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
	    "<Message>Couldn&apos;t retrieve verification key</Message></Error>"
	    "<RequestId>r-1</RequestId></ErrorResponse>";

	(void)state;
	assert_int_equal(scan(e, "ErrorResponse/Error/Code"), 0);
	assert_string_equal(out, "InvalidIdentityToken");
	assert_int_equal(scan(e, "ErrorResponse/Error/Message"), 0);
	assert_string_equal(out, "Couldn't retrieve verification key");
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"<a><b>1</a>",                       /* mismatched */
		"<a><b>1</b>",                       /* not closed */
		"<a><b>1",                           /* truncated in the value */
		"<!DOCTYPE a [<!ENTITY x \"y\">]><a><b>&x;</b></a>",
		"<a><b>&unknown;</b></a>",
		"<a><b>&#0;</b></a>",
		"<a><b>&#xD800;</b></a>",
		"<a><b>&#x110000;</b></a>",
		"<a><b>&#12</b></a>",
		"<a><b>x<c/>y</b></a>",              /* child inside the value */
		"<a><b>1</b><",
		"<1a><b>1</b></1a>",
		"<a x='unterminated><b>1</b></a>",
		"<a><b><![CDATA[no end</b></a>",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (scan(bad[i], "a/b") != -1)
			fail_msg("accepted %s", bad[i]);
		assert_string_equal(out, "");
	}
	assert_int_equal(scan("<a><b>1</b></a>", ""), -1);
	assert_int_equal(scan("<a><b>1</b></a>", "a//b"), -1);
	/* A NUL inside the counted input. */
	assert_int_equal(xmlscan_text("<a><b>1\0</b></a>", 16, "a/b", out,
	    sizeof(out)), -1);
}

static void
test_caps(void **state)
{
	char *big, small[4];
	size_t n = 0;

	(void)state;
	/* The value must fit out. */
	assert_int_equal(xmlscan_text("<a><b>1234</b></a>", 18, "a/b", small,
	    sizeof(small)), -1);
	assert_int_equal(xmlscan_text("<a><b>123</b></a>", 17, "a/b", small,
	    sizeof(small)), 0);
	assert_string_equal(small, "123");
	/* Depth cap: 16 levels are read, 17 refused. */
	big = malloc(XMLSCAN_MAX_INPUT + 2);
	assert_non_null(big);
	for (int depth = 16; depth <= 17; depth++) {
		char path[64] = "e";

		n = 0;
		for (int i = 0; i < depth; i++) {
			memcpy(big + n, "<e>", 3);
			n += 3;
			if (i > 0)
				strcat(path, "/e");
		}
		big[n++] = 'x';
		for (int i = 0; i < depth; i++) {
			memcpy(big + n, "</e>", 4);
			n += 4;
		}
		assert_int_equal(xmlscan_text(big, n, path, out, sizeof(out)),
		    depth == 16 ? 0 : -1);
	}
	assert_string_equal(out, "");
	/* Input cap. */
	memset(big, ' ', XMLSCAN_MAX_INPUT + 1);
	memcpy(big, "<a><b>1</b></a>", 15);
	assert_int_equal(xmlscan_text(big, XMLSCAN_MAX_INPUT + 1, "a/b", out,
	    sizeof(out)), -1);
	assert_int_equal(xmlscan_text(big, XMLSCAN_MAX_INPUT, "a/b", out,
	    sizeof(out)), 0);
	/* A long element name. */
	memset(big, 'n', 200);
	big[0] = '<';
	big[200] = '>';
	assert_int_equal(xmlscan_text(big, 201, "a", out, sizeof(out)), -1);
	free(big);
	assert_int_equal(xmlscan_text(NULL, 0, "a", out, sizeof(out)), -1);
	assert_int_equal(xmlscan_text("<a/>", 4, "a", NULL, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found), cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_refused), cmocka_unit_test(test_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
