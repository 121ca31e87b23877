/* job_batch.c - the `batch` kind's items. */
#include "job_batch.h"

#include "job_fields.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lr_job_items_free(lr_job_spec *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		lr_job_spec *it = &items[i];

		free(it->item_id);
		free(it->code);
		free(it->tests);
		lr_iotests_free(it->io);
		free(it->io);
		free(it->entry_point);
	}
	free(items);
}

static int id_ok(const char *id)
{
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

static int parse_item(lr_job_spec *it, json_object *o, const lr_job_spec *s,
                      const lr_job_policy *pol, lr_err *err)
{
	static const char *const keys[] = {"id", "code", "tests", "entry_point", "criteria", NULL};
	json_object *crit = NULL;
	int present = 0;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return lr_err_set(err, LR_EINVAL, "must be an object, got %s",
		                  lr_json_type_name(o));
	rc = lr_jobf_dup(&it->item_id, o, "id", 1, 1, LR_JOB_NAME_MAX, err);
	if (rc < 0)
		return rc;
	if (!id_ok(it->item_id)) {
		free(it->item_id); /* not echoed in the message */
		it->item_id = NULL;
		return lr_err_set(err, LR_EINVAL, "field 'id' must not contain control characters");
	}
	rc = lr_json_check_keys(o, "", keys, err);
	if (rc == 0)
		rc = lr_jobf_dup(&it->code, o, "code", 1, 0, pol->max_text_bytes, err);
	if (rc == 0)
		rc = lr_jobf_tests(&it->tests, &it->io, o, pol->max_text_bytes, pol->max_spec_bytes,
		                   err);
	if (rc == 0)
		rc = lr_jobf_entry_point(&it->entry_point, o, err);
	if (rc < 0)
		return rc;
	it->kind = LR_KIND_EVALUATE;
	it->timeout_s = s->timeout_s;
	it->memory_mb = s->memory_mb;
	it->static_checks = s->static_checks;
	it->criteria = s->criteria;
	it->has_criteria = s->has_criteria;
	rc = lr_json_get_typed(&crit, o, "", "criteria", json_type_object, 0, &present, err);
	if (rc < 0 || !present)
		return rc;
	lr_criteria_default(&it->criteria);
	rc = lr_criteria_from_json(&it->criteria, crit, err);
	it->has_criteria = rc == 0;
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	const lr_job_spec *x = *(const lr_job_spec *const *)a;
	const lr_job_spec *y = *(const lr_job_spec *const *)b;

	return strcmp(x->item_id, y->item_id);
}

/* Ids are unique: sort pointers, compare neighbours. */
static int check_unique(const lr_job_spec *items, size_t n, lr_err *err)
{
	const lr_job_spec **v = malloc(n * sizeof(*v));
	int rc = 0;

	if (v == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		v[i] = &items[i];
	qsort(v, n, sizeof(*v), cmp_id);
	for (size_t i = 1; i < n && rc == 0; i++)
		if (strcmp(v[i - 1]->item_id, v[i]->item_id) == 0) {
			size_t a = (size_t)(v[i - 1] - items), b = (size_t)(v[i] - items);

			rc = lr_err_set(err, LR_EINVAL,
			                "items[%zu] and items[%zu] have the same id '%.64s'",
			                a < b ? a : b, a < b ? b : a, v[i]->item_id);
		}
	free(v);
	return rc;
}

int lr_job_batch_parse(lr_job_spec *s, json_object *root, const lr_job_policy *pol, lr_err *err)
{
	json_object *arr = NULL;
	size_t n;
	int rc;

	rc = lr_json_get_typed(&arr, root, "", "items", json_type_array, 1, NULL, err);
	if (rc < 0)
		return rc;
	n = json_object_array_length(arr);
	if (n == 0)
		return lr_err_set(err, LR_EINVAL, "field 'items' must not be empty");
	if ((long)n > pol->max_batch_items)
		return lr_err_set(err, LR_ETOOBIG,
		                  "field 'items' has %zu items, over the operator's cap of %ld", n,
		                  pol->max_batch_items);
	s->items = calloc(n, sizeof(*s->items));
	if (s->items == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	s->nitems = n;
	for (size_t i = 0; i < n; i++) {
		lr_job_spec *it = &s->items[i];

		rc = parse_item(it, json_object_array_get_idx(arr, i), s, pol, err);
		if (rc < 0) {
			if (it->item_id != NULL)
				lr_err_prefix(err, "items[%zu] ('%.64s')", i, it->item_id);
			else
				lr_err_prefix(err, "items[%zu]", i);
			return rc;
		}
	}
	return check_unique(s->items, n, err);
}

static json_object *item_json(const lr_job_spec *it)
{
	json_object *o = json_object_new_object();
	int rc;

	if (o == NULL)
		return NULL;
	rc = lr_json_set_str(o, "id", it->item_id);
	rc |= lr_json_set_str(o, "code", it->code);
	if (it->tests != NULL)
		rc |= lr_json_set_str(o, "tests", it->tests);
	if (it->io != NULL) {
		json_object *io = lr_iotests_to_json(it->io);

		rc |= io ? lr_json_set_obj(o, "tests", io) : LR_ENOMEM;
	}
	if (it->entry_point != NULL)
		rc |= lr_json_set_str(o, "entry_point", it->entry_point);
	if (it->has_criteria) {
		json_object *c = lr_criteria_to_json(&it->criteria);

		rc |= c ? lr_json_set_obj(o, "criteria", c) : LR_ENOMEM;
	}
	if (rc != 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

json_object *lr_job_batch_to_json(const lr_job_spec *s)
{
	json_object *a = json_object_new_array();

	for (size_t i = 0; a != NULL && i < s->nitems; i++) {
		json_object *o = item_json(&s->items[i]);

		if (o == NULL || json_object_array_add(a, o) < 0) {
			json_object_put(o);
			json_object_put(a);
			a = NULL;
		}
	}
	return a;
}
