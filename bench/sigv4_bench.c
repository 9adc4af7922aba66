/* sigv4_bench.c - how many SigV4 signatures of a typical PutEvents call one core makes per second. */
/*
 *   sigv4_bench [SECONDS]        (default 2)
 *
 * The body is what cxbridge sends for a full batch: putevents_body() over
 * ten entries whose Detail is a ~600-byte CXone routing event.  The headers
 * are the three aws.c signs (Host, Content-Type, X-Amz-Target), with a
 * session token as temporary credentials carry.  The clock is fixed inside
 * one UTC day, so the signing key is derived once and cached, as in the
 * daemon; what is timed is the payload hash, the canonical request and the
 * final HMAC.  Prints one line of key=value pairs for bench/run.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsproto.h"
#include "clock.h"
#include "creds.h"
#include "entry.h"
#include "sigv4.h"

#define BENCH_ENTRIES 10
#define BENCH_SECONDS_MAX 60

static const char bench_detail_fmt[] =
    "{\"id\":\"3f1c2a9e-7b4d-4e2f-9a61-%012d\","
    "\"eventType\":\"routing:agent-assigned\","
    "\"timestamp\":\"2024-05-14T09:31:07.412Z\","
    "\"tenantId\":\"11f0a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b\","
    "\"businessUnitId\":4601234,\"contactId\":\"581234567890\","
    "\"masterContactId\":\"581234567890\",\"mediaType\":\"voice\","
    "\"direction\":\"inbound\",\"pointOfContact\":\"+18005550100\","
    "\"routingContext\":{\"queueId\":\"q-4711\",\"skillId\":\"sk-billing-en\","
    "\"skillName\":\"Billing EN\",\"agentId\":\"ag-20931\","
    "\"teamId\":\"team-emea-7\",\"waitTimeMs\":18250,\"priority\":5,"
    "\"attempt\":1},\"retryDirective\":{\"maxAttempts\":3,\"backoffMs\":500},"
    "\"customerAttributes\":{\"language\":\"en-GB\",\"tier\":\"gold\","
    "\"region\":\"emea\",\"ivrPath\":\"main>billing>agent\"},"
    "\"schemaVersion\":\"v1.2\"}";

/* A full batch's body; the caller frees it. */
static char *
bench_body(size_t *len)
{
	struct entry ents[BENCH_ENTRIES];
	struct entry *ptrs[BENCH_ENTRIES];
	char details[BENCH_ENTRIES][sizeof(bench_detail_fmt) + 16];
	char *body;

	memset(ents, 0, sizeof(ents));
	for (int i = 0; i < BENCH_ENTRIES; i++) {
		snprintf(details[i], sizeof(details[i]), bench_detail_fmt, i);
		ents[i].source = (char *)"nice.cxone.routing";
		ents[i].detail_type = (char *)"routing:agent-assigned";
		ents[i].detail = details[i];
		ents[i].bus = (char *)"default";
		ents[i].time_ms = 1715679067412LL;
		ptrs[i] = &ents[i];
	}
	body = putevents_body(ptrs, BENCH_ENTRIES, len);
	return body;
}

static int
bench_run(struct sigv4_signer *s, const char *body, size_t len,
    const struct aws_credentials *cr, double seconds)
{
	const struct sigv4_header h[3] = {
		{ "Host", "events.us-east-1.amazonaws.com" },
		{ "Content-Type", AWSPROTO_PUTEVENTS_CTYPE },
		{ "X-Amz-Target", AWSPROTO_PUTEVENTS_TARGET },
	};
	struct sigv4_request req = { .method = "POST", .path = "/",
	    .query = "", .headers = h, .n_headers = 3, .payload = body,
	    .payload_len = len };
	struct sigv4_result *res = malloc(sizeof(*res));
	uint64_t start, now, stop;
	unsigned long n = 0;

	if (res == NULL)
		return -1;
	start = clock_mono_us();
	stop = start + (uint64_t)(seconds * 1e6);
	do {
		/* The clock is read every 64 signatures: cheap next to one. */
		for (int i = 0; i < 64; i++) {
			if (sigv4_sign(s, &req, cr, 1715679067 + (time_t)(n % 60),
			    res) != 0) {
				free(res);
				return -1;
			}
			n++;
		}
		now = clock_mono_us();
	} while (now < stop);
	printf("sigv4_signs=%lu sigv4_seconds=%.3f sigv4_per_s=%.0f "
	    "sigv4_us=%.2f body_bytes=%zu entries=%d derivations=%lu\n",
	    n, (double)(now - start) / 1e6,
	    (double)n * 1e6 / (double)(now - start),
	    (double)(now - start) / (double)n, len, BENCH_ENTRIES,
	    sigv4_signer_derivations(s));
	free(res);
	return 0;
}

int
main(int argc, char **argv)
{
	struct aws_credentials *cr = NULL;
	struct sigv4_signer *s = NULL;
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	char *body = NULL;
	size_t len = 0;
	int rc = 1;

	if (seconds <= 0 || seconds > BENCH_SECONDS_MAX) {
		fprintf(stderr, "usage: sigv4_bench [SECONDS]\n");
		return 2;
	}
	cr = calloc(1, sizeof(*cr));
	s = sigv4_signer_new("us-east-1", "events");
	body = bench_body(&len);
	if (cr == NULL || s == NULL || body == NULL) {
		fprintf(stderr, "sigv4_bench: set-up failed\n");
		goto fail;
	}
	/* Throw-away values in the shape of real ones; nothing is sent. */
	snprintf(cr->access_key_id, sizeof(cr->access_key_id),
	    "ASIABENCHBENCHBENCH0");
	snprintf(cr->secret_access_key, sizeof(cr->secret_access_key),
	    "bench/secret/key+0123456789abcdefBENCHbench");
	memset(cr->session_token, 'T', 600);
	cr->session_token[600] = '\0';
	if (bench_run(s, body, len, cr, seconds) != 0) {
		fprintf(stderr, "sigv4_bench: sigv4_sign failed\n");
		goto fail;
	}
	rc = 0;
fail:
	free(body);
	sigv4_signer_free(s);
	if (cr != NULL)
		creds_clear(cr);
	free(cr);
	return rc;
}
