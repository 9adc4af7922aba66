/* fuzz_schema.c - libFuzzer target: schema_from_json on fuzzed schema documents. */
#include "fuzzutil.h"

#include <jansson.h>

#include "schema.h"

/* An instance of the shipped schema, to validate every compiled schema
 * against (besides the document itself). */
static const char fuzz_event_text[] =
	"{\"id\":\"3f1c2a9e-7b4d-4e2f-9a61-0c5d8e7f1a23\","
	"\"eventType\":\"routing:agent-assigned\","
	"\"timestamp\":\"2024-05-14T09:31:07.412Z\","
	"\"routingContext\":{\"queueId\":\"q-4711\",\"skillId\":\"sk-1\","
	"\"agentId\":\"ag-2\",\"waitTimeMs\":18250},"
	"\"retryDirective\":{\"maxAttempts\":3,\"backoffMs\":500},"
	"\"list\":[1,2.5,\"x\",null,true,{\"a\":[]}],"
	"\"schemaVersion\":\"v1.2\"}";

static json_t *fuzz_event_doc;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_event_doc = json_loads(fuzz_event_text, 0, NULL);
	if (fuzz_event_doc == NULL) {
		fprintf(stderr, "fuzz_schema: built-in event is not JSON\n");
		exit(1);
	}
	return 0;
}

static void
fuzz_schema_validate(const struct schema *s, const json_t *doc)
{
	struct schema_error serr;

	memset(&serr, 0x5a, sizeof(serr));
	if (schema_validate(s, doc, &serr) == 0)
		return;
	FUZZ_CHECK_TERMINATED(serr.pointer);
	FUZZ_CHECK_TERMINATED(serr.rule);
	FUZZ_CHECK_TERMINATED(serr.message);
	FUZZ_CHECK(serr.rule[0] != '\0');
	/* An RFC 6901 pointer is empty or starts with "/". */
	FUZZ_CHECK(serr.pointer[0] == '\0' || serr.pointer[0] == '/');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct schema *s;
	json_t *doc;
	char err[512];

	if (size > SCHEMA_FILE_MAX)
		return 0;
	/* As schema_load reads a file. */
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    NULL);
	if (doc == NULL)
		return 0;
	memset(err, 0x5a, sizeof(err));
	s = schema_from_json(doc, err, sizeof(err));
	if (s == NULL) {
		FUZZ_CHECK_TERMINATED(err);
		FUZZ_CHECK(err[0] != '\0');
	} else {
		fuzz_schema_validate(s, doc);
		fuzz_schema_validate(s, fuzz_event_doc);
		schema_free(s);
	}
	json_decref(doc);
	return 0;
}
