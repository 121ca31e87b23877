/* test_job_result.c - a handler's extra result fields and their sticky error. */
#include "check.h"
#include "err.h"
#include "job_ctx.h"

#include <stdio.h>
#include <string.h>

static const char *value_of(const lr_job_result *res, const char *name)
{
	for (size_t i = 0; i < res->nextra; i++)
		if (strcmp(res->extra_names[i], name) == 0)
			return res->extra_values[i];
	return NULL;
}

TEST(test_fields_added_replaced_formatted)
{
	lr_job_result res = {0};
	char big[400];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(lr_job_result_field(&res, "code", "x = 1") == 0);
	CHECK(lr_job_result_fieldf(&res, "score", "%.4f", 0.5) == 0);
	CHECK(lr_job_result_field(&res, "code", NULL) == 0); /* replaced, NULL is "" */
	CHECK(lr_job_result_fieldf(&res, "long", "%s", big) == 0);
	CHECK(res.nextra == 3 && res.field_err == 0);
	CHECK_STR(value_of(&res, "code"), "");
	CHECK_STR(value_of(&res, "score"), "0.5000");
	CHECK(strlen(value_of(&res, "long")) == 255);
	lr_job_result_free(&res);
	CHECK(res.nextra == 0 && res.field_err == 0);
}

TEST(test_first_error_sticks)
{
	lr_job_result res = {0};
	char name[8];

	CHECK(lr_job_result_field(&res, "a", "1") == 0);
	CHECK(lr_job_result_field(&res, "state", "done") == LR_EINVAL); /* the protocol's */
	CHECK(lr_job_result_field(&res, "b", "2") == LR_EINVAL);        /* not added */
	CHECK(lr_job_result_fieldf(&res, "c", "%d", 3) == LR_EINVAL);
	CHECK(res.field_err == LR_EINVAL && res.nextra == 1 && value_of(&res, "b") == NULL);
	lr_job_result_free(&res);
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK(lr_job_result_field(&res, name, "v") == 0);
	}
	CHECK(lr_job_result_field(&res, "f16", "v") == LR_EINVAL); /* at most 16 */
	CHECK(lr_job_result_field(&res, "f0", "w") == LR_EINVAL);  /* even a replacement */
	CHECK_STR(value_of(&res, "f0"), "v");
	lr_job_result_free(&res);
}

int main(void)
{
	RUN(test_fields_added_replaced_formatted);
	RUN(test_first_error_sticks);
	return check_summary();
}
