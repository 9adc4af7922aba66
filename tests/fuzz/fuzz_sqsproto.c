/* fuzz_sqsproto.c - libFuzzer target: SQS ReceiveMessage and GetQueueAttributes answers, DLQ envelopes read back. */
#include "fuzzutil.h"

#include "awsproto.h"
#include "entry.h"
#include "sqsproto.h"

#define FUZZ_MAX_MESSAGES 10

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
fuzz_receive(const char *body, size_t len, size_t max)
{
	struct sqs_message out[FUZZ_MAX_MESSAGES];
	size_t n = 99;

	if (sqs_receive_parse(body, len, out, max, &n) != 0) {
		FUZZ_CHECK(n == 0);
		return;
	}
	FUZZ_CHECK(n <= max);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(out[i].message_id[0] != '\0');
		FUZZ_CHECK(out[i].receipt_handle != NULL &&
		    out[i].receipt_handle[0] != '\0');
		FUZZ_CHECK(out[i].body != NULL &&
		    out[i].body[out[i].body_len] == '\0');
		FUZZ_CHECK(out[i].md5_ok >= -1 && out[i].md5_ok <= 1);
		FUZZ_CHECK_TERMINATED(out[i].reason);
		FUZZ_CHECK_TERMINATED(out[i].event_type);
		sqs_message_fini(&out[i]);
	}
}

static int
fuzz_same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
fuzz_same_entry(const struct entry *a, const struct entry *b)
{
	FUZZ_CHECK(fuzz_same_str(a->source, b->source));
	FUZZ_CHECK(fuzz_same_str(a->detail_type, b->detail_type));
	FUZZ_CHECK(fuzz_same_str(a->bus, b->bus));
	FUZZ_CHECK(a->time_ms == b->time_ms);
	FUZZ_CHECK(a->n_resources == b->n_resources);
	for (size_t i = 0; i < a->n_resources; i++)
		FUZZ_CHECK(fuzz_same_str(a->resources[i], b->resources[i]));
}

/* Writes e's envelope again and reads it back; our own envelope must
 * always be readable. */
static struct entry *
fuzz_again(const struct entry *e)
{
	struct dlq_message m;
	char err[128];
	size_t len = 0;
	char *env = dlq_envelope(e, &len);
	struct entry *back;

	FUZZ_CHECK(env != NULL);
	FUZZ_CHECK(dlq_envelope_parse(env, len, &m, err, sizeof(err)) == 0);
	free(env);
	back = dlq_message_take(&m);
	dlq_message_fini(&m);
	return back;
}

/*
 * An envelope the redrive command would republish: the entry it rebuilds
 * survives being dead-lettered again (envelope, parse) unchanged, and a
 * second round changes nothing more, Detail included.
 */
static void
fuzz_envelope(const char *body, size_t len)
{
	struct dlq_message m;
	struct entry *e1, *e2, *e3;
	char err[128];

	memset(err, 0, sizeof(err));
	if (dlq_envelope_parse(body, len, &m, err, sizeof(err)) != 0) {
		FUZZ_CHECK(m.entry == NULL && err[0] != '\0');
		return;
	}
	e1 = dlq_message_take(&m);
	dlq_message_fini(&m);
	FUZZ_CHECK(e1 != NULL && e1->detail != NULL && e1->reason == DLQ_NONE);
	FUZZ_CHECK(e1->size == entry_size(e1));
	e2 = fuzz_again(e1);
	fuzz_same_entry(e1, e2);
	e3 = fuzz_again(e2);
	fuzz_same_entry(e2, e3);
	FUZZ_CHECK(strcmp(e2->detail, e3->detail) == 0);
	entry_free(e1);
	entry_free(e2);
	entry_free(e3);
}

/* The body goes to every parser: each must refuse the others' shapes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	int64_t visible = 0, not_visible = 0;
	const char *body;
	size_t len;

	fuzz_input_init(&in, data, size);
	body = fuzz_input_rest(&in, &len);
	if (body == NULL)
		return 0;
	fuzz_receive(body, len, FUZZ_MAX_MESSAGES);
	fuzz_receive(body, len, 1);
	if (sqs_attributes_parse(body, len, &visible, &not_visible) == 0)
		FUZZ_CHECK(visible >= -1 && not_visible >= -1);
	fuzz_envelope(body, len);
	fuzz_input_fini(&in);
	return 0;
}
