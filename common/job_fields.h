/* job_fields.h - reading the fields job specs share (code and other texts,
 * tests in every form, entry points), for job.c and job_batch.c. */
#ifndef LLMREPL_JOB_FIELDS_H
#define LLMREPL_JOB_FIELDS_H

#include "err.h"
#include "iotests.h"

#include <json-c/json.h>
#include <stddef.h>

#define LR_JOB_NAME_MAX 128 /* entry points, model names, batch item ids */

/* A string field `key` of obj, copied to *dst (malloc'd) when present: at most
 * max bytes, no NUL; `nonempty` refuses "". Messages name the field. */
int lr_jobf_dup(char **dst, json_object *obj, const char *key, int required, int nonempty,
                size_t max, lr_err *err);

/* `tests`: a string, an array of strings (joined with newlines, at most max
 * bytes), or the io form {"io": [...], ...} (at most max_io bytes of cases)
 * into *io (malloc'd). Absent: nothing is set. */
int lr_jobf_tests(char **tests, lr_iotests **io, json_object *obj, size_t max, size_t max_io,
                  lr_err *err);

/* `entry_point`, when present: a Python identifier of at most LR_JOB_NAME_MAX
 * bytes, copied to *dst. */
int lr_jobf_entry_point(char **dst, json_object *obj, lr_err *err);

#endif
