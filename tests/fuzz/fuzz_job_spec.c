/* fuzz_job_spec - libFuzzer target for job spec validation (common/job).
 * The input is a spec as a user would XADD it. Invariants: no crash and no
 * read outside the input; an accepted spec normalises to JSON that is
 * accepted again without a policy (as a worker reads it) and normalises to
 * the same text; a rejected spec always says why. */
#include "job.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lr_job_policy pol;
	lr_job_spec s, again;
	lr_err err;
	char *json = NULL;
	char *json2 = NULL;

	lr_job_policy_default(&pol);
	pol.max_spec_bytes = 1u << 16;
	pol.max_text_bytes = 1u << 12;
	pol.max_timeout_s = 5;
	pol.max_n = 3;
	lr_err_clear(&err);
	if (lr_job_spec_parse(&s, (const char *)data, size, &pol, &err) < 0) {
		if (err.msg[0] == '\0')
			abort();
		return 0;
	}
	json = lr_job_spec_to_json(&s);
	if (json == NULL)
		abort();
	if (lr_job_spec_parse(&again, json, strlen(json), NULL, &err) < 0)
		abort();
	json2 = lr_job_spec_to_json(&again);
	if (json2 == NULL || strcmp(json, json2) != 0)
		abort();
	if (s.timeout_s > pol.max_timeout_s || (s.kind == LR_KIND_LOOP && s.n > pol.max_n))
		abort();
	free(json);
	free(json2);
	lr_job_spec_free(&s);
	lr_job_spec_free(&again);
	return 0;
}
