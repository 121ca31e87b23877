/* job_batch.h - the `batch` kind's items: validation and the normalised form.
 *
 *   {"kind": "batch", "items": [{"id", "code", "tests"?, "entry_point"?,
 *                                "criteria"?}, ...],
 *    "limits"?, "criteria"?, "static_checks"?, "callback_url"?}
 *
 * 1..max_batch_items items (the operator's cap); each id is 1..128 bytes
 * without control characters and unique in the batch; code, tests and
 * entry_point are read as an evaluate job's (the same size limits); an item
 * without criteria takes the batch's. Every message names the item:
 * "items[3] ('HumanEval/3'): field 'code' is required". */
#ifndef LLMREPL_JOB_BATCH_H
#define LLMREPL_JOB_BATCH_H

#include "job.h"

#include <json-c/json.h>

/* Read root's `items` into s->items, after s's limits, static_checks and
 * criteria are known. */
int lr_job_batch_parse(lr_job_spec *s, json_object *root, const lr_job_policy *pol, lr_err *err);

/* The normalised items array (a new reference), or NULL when out of memory. */
json_object *lr_job_batch_to_json(const lr_job_spec *s);

void lr_job_items_free(lr_job_spec *items, size_t n); /* accepts NULL */

#endif
