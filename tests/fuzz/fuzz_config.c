/* fuzz_config.c - libFuzzer target: config_parse over arbitrary text. */
#include "fuzzutil.h"

#include "config.h"
#include "log.h"

#define FUZZ_NAME "fuzz.conf"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOGL_ERROR);
	return 0;
}

/* The promises config.h makes about a parsed file. */
static void
fuzz_config_check(const struct config *cfg)
{
	const char *strings[] = {
		cfg->listen, cfg->webhook_path, cfg->secret_file,
		cfg->schema_file, cfg->bus, cfg->source, cfg->detail_type,
		cfg->eb_endpoint, cfg->queue_url, cfg->dlq_endpoint,
		cfg->region, cfg->profile, cfg->dedupe_key, cfg->order_key,
	};

	/* "an empty optional string is "" never NULL" */
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		FUZZ_CHECK(strings[i] != NULL);
	FUZZ_CHECK(cfg->mode != AUTH_NONE || cfg->allow_unauthenticated);
	FUZZ_CHECK(cfg->mode == AUTH_NONE || cfg->secret_file[0] != '\0');
	FUZZ_CHECK(cfg->batch_linger_ms < cfg->delivery_timeout_ms);
	FUZZ_CHECK(cfg->retry_base_ms <= cfg->retry_max_backoff_ms);
	FUZZ_CHECK(cfg->connect_timeout_ms <= cfg->request_timeout_ms);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in;
	struct config *cfg;
	char err[512];
	char *text;

	/* config_parse takes a C string: text stops at the first NUL, as it
	 * would for a file read by config_load up to such a byte. */
	fuzz_input_init(&in, data, size);
	text = fuzz_input_field(&in, '\0', NULL);
	if (text == NULL)
		return 0;
	memset(err, 0x5a, sizeof(err));
	cfg = config_parse(FUZZ_NAME, text, err, sizeof(err));
	if (cfg == NULL) {
		/* Every failure is "name:line: reason" or "name: reason". */
		FUZZ_CHECK_TERMINATED(err);
		FUZZ_CHECK(strncmp(err, FUZZ_NAME ":",
		    strlen(FUZZ_NAME ":")) == 0);
	} else {
		fuzz_config_check(cfg);
		config_free(cfg);
	}
	fuzz_input_fini(&in);
	return 0;
}
