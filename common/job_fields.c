/* job_fields.c - the fields job specs share. */
#include "job_fields.h"

#include "buf.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

int lr_jobf_dup(char **dst, json_object *obj, const char *key, int required, int nonempty,
                size_t max, lr_err *err)
{
	const char *v = NULL;
	size_t len = 0;
	int present = 0;
	int rc = lr_json_get_str(&v, &len, obj, "", key, required, max, &present, err);

	if (rc < 0 || !present)
		return rc;
	if (nonempty && len == 0)
		return lr_err_set(err, LR_EINVAL, "field '%s' must not be empty", key);
	*dst = strndup(v, len);
	return *dst ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
}

/* tests in the io form: {"io": [...], ...} */
static int get_io_tests(lr_iotests **io, json_object *v, size_t max, lr_err *err)
{
	*io = calloc(1, sizeof(**io));
	if (*io == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	return lr_iotests_from_json(*io, v, "tests", 0, max, err);
}

/* tests: a string, an array of strings joined with newlines, or the io form. */
int lr_jobf_tests(char **tests, lr_iotests **io, json_object *obj, size_t max, size_t max_io,
                  lr_err *err)
{
	json_object *v = NULL;
	lr_buf b;
	size_t n;

	if (!json_object_object_get_ex(obj, "tests", &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_string))
		return lr_jobf_dup(tests, obj, "tests", 0, 0, max, err);
	if (json_object_is_type(v, json_type_object))
		return get_io_tests(io, v, max_io, err);
	if (!json_object_is_type(v, json_type_array))
		return lr_err_set(err, LR_EINVAL,
		                  "field 'tests' must be a string, an array of strings or an "
		                  "object {\"io\": [...]}, got %s",
		                  lr_json_type_name(v));
	n = json_object_array_length(v);
	lr_buf_init(&b, max);
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(v, i);
		const char *str;
		size_t len;

		if (!json_object_is_type(t, json_type_string)) {
			lr_buf_free(&b);
			return lr_err_set(err, LR_EINVAL,
			                  "field 'tests[%zu]' must be a string, got %s", i,
			                  lr_json_type_name(t));
		}
		str = json_object_get_string(t);
		len = (size_t)json_object_get_string_len(t);
		if (memchr(str, '\0', len) != NULL) {
			lr_buf_free(&b);
			return lr_err_set(err, LR_EINVAL,
			                  "field 'tests[%zu]' contains a NUL character", i);
		}
		if ((i > 0 && lr_buf_puts(&b, "\n") < 0) || lr_buf_append(&b, str, len) < 0) {
			int over = b.truncated;

			lr_buf_free(&b);
			if (over)
				return lr_err_set(err, LR_ETOOBIG,
				                  "field 'tests' is over the limit of %zu bytes",
				                  max);
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		}
	}
	*tests = lr_buf_steal(&b);
	return *tests ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory");
}

static int is_identifier(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

int lr_jobf_entry_point(char **dst, json_object *obj, lr_err *err)
{
	int rc = lr_jobf_dup(dst, obj, "entry_point", 0, 1, LR_JOB_NAME_MAX, err);

	if (rc == 0 && *dst != NULL && !is_identifier(*dst))
		return lr_err_set(err, LR_EINVAL,
		                  "field 'entry_point' must be a Python identifier, got '%.64s'",
		                  *dst);
	return rc;
}
