/* entry.c - one accepted event on its way to EventBridge or the DLQ. */
#include "entry.h"

#include <stdlib.h>
#include <string.h>

static const char *const dlq_reason_names[] = {
	[DLQ_NONE] = "none",
	[DLQ_EVENTBRIDGE_ERROR] = "eventbridge_error",
	[DLQ_NON_RETRYABLE] = "non_retryable",
	[DLQ_OUT_OF_ORDER] = "out_of_order",
	[DLQ_DEADLINE] = "deadline",
	[DLQ_CIRCUIT_OPEN] = "circuit_open",
	[DLQ_SHUTDOWN] = "shutdown",
};

const char *
dlq_reason_name(enum dlq_reason reason)
{
	if ((size_t)reason >= sizeof(dlq_reason_names) / sizeof(dlq_reason_names[0]))
		return "unknown";
	return dlq_reason_names[reason];
}

static size_t
strlen0(const char *s)
{
	return s == NULL ? 0 : strlen(s);
}

size_t
entry_size(const struct entry *e)
{
	size_t size = 14;   /* Time, whatever its value */

	size += strlen0(e->source) + strlen0(e->detail_type) + strlen0(e->detail);
	for (size_t i = 0; i < e->n_resources; i++)
		size += strlen0(e->resources[i]);
	return size;
}

void
entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	free(e->source);
	free(e->detail_type);
	free(e->detail);
	free(e->bus);
	free(e->trace_header);
	for (size_t i = 0; i < e->n_resources; i++)
		free(e->resources[i]);
	free(e->resources);
	free(e->event_id);
	free(e->event_type);
	free(e->event_json);
	free(e->order_key);
	free(e);
}
