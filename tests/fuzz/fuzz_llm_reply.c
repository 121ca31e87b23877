/* fuzz_llm_reply - libFuzzer target for the model reply parsers: the whole
 * input as a chat.completion body, then as a server-sent-events stream fed in
 * two pieces split where the first byte says (every split must give the same
 * result as feeding it whole). */
#include "llm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stream(const char *p, size_t n, size_t cut, char **content)
{
	llm_sse *s = NULL;
	llm_reply r;
	lr_err err;
	int rc;

	memset(&r, 0, sizeof(r));
	*content = NULL;
	if (llm_sse_new(&s, 1u << 16, NULL, NULL))
		return LR_ENOMEM;
	rc = llm_sse_feed(s, p, cut, &err);
	if (!rc)
		rc = llm_sse_feed(s, p + cut, n - cut, &err);
	if (!rc)
		rc = llm_sse_finish(s, &r, &err);
	if (!rc) {
		*content = r.content;
		r.content = NULL;
	}
	llm_reply_free(&r);
	llm_sse_free(s);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	llm_reply r;
	lr_err err;
	char *a = NULL, *b = NULL;
	int ra, rb;
	size_t cut;

	memset(&r, 0, sizeof(r));
	if (llm_parse_reply(&r, (const char *)data, size, &err) == 0 && !r.content)
		abort();
	llm_reply_free(&r);
	if (size < 1)
		return 0;
	cut = data[0] % size;
	ra = stream((const char *)data + 1, size - 1, 0, &a);
	rb = stream((const char *)data + 1, size - 1, cut > size - 1 ? size - 1 : cut, &b);
	if (ra != rb || (a && b && strcmp(a, b)))
		abort();
	free(a);
	free(b);
	return 0;
}
