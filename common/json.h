/* json.h - json-c with limits and typed getters that explain themselves.
 *
 * Everything that parses JSON from outside (job specs, harness answers, model
 * replies, Redis fields) goes through lr_json_parse(): a size cap, a depth cap,
 * strict JSON (no trailing garbage, no NUL bytes, valid UTF-8).
 *
 * The getters name the offending field with its path ("limits.timeout_s") and
 * what was wrong ("must be a number, got string"), because their messages end
 * up verbatim in a rejected job's `error`. Returned strings and objects are
 * borrowed from the parent object: they live as long as it does. */
#ifndef LLMREPL_JSON_H
#define LLMREPL_JSON_H

#include "err.h"

#include <json-c/json.h>
#include <stddef.h>

#define LR_JSON_DEPTH_DEFAULT 16

/* Parse `len` bytes of `text` into *out (caller puts it with json_object_put).
 * Fails with LR_ETOOBIG when len > max_len (0 = no cap), LR_EINVAL for
 * anything that is not exactly one JSON value nested at most max_depth deep. */
int lr_json_parse(json_object **out, const char *text, size_t len, size_t max_len, int max_depth,
                  lr_err *err);

/* The JSON type name as users know it: "object", "array", "string", "number",
 * "boolean", "null". */
const char *lr_json_type_name(const json_object *o);

/* Getters for member `key` of object `obj`. `path` is the object's own path
 * for messages ("" or NULL at the top, "limits" inside). When the member is
 * missing: required -> LR_EINVAL "missing required field ...", otherwise 0
 * with the output untouched and *present (when given) set to 0. A JSON null
 * counts as missing. */
int lr_json_get_str(const char **out, size_t *len, json_object *obj, const char *path,
                    const char *key, int required, size_t max_len, int *present, lr_err *err);
/* An integer in [min, max]; a number with a fraction is refused. */
int lr_json_get_int(long *out, json_object *obj, const char *path, const char *key, int required,
                    long min, long max, int *present, lr_err *err);
/* Any finite number in [min, max]. */
int lr_json_get_num(double *out, json_object *obj, const char *path, const char *key, int required,
                    double min, double max, int *present, lr_err *err);
int lr_json_get_bool(int *out, json_object *obj, const char *path, const char *key, int required,
                     int *present, lr_err *err);
/* A member of the given json-c type (json_type_object or json_type_array). */
int lr_json_get_typed(json_object **out, json_object *obj, const char *path, const char *key,
                      json_type type, int required, int *present, lr_err *err);

/* Lenient reads, for JSON that is read back rather than validated (a
 * harness answer, a stored report, a job hash, a model's reply): the member
 * when it is there with the right type, else NULL or `def`. `o` may be NULL
 * or not an object. Numbers are ints or finite doubles; lr_json_int also
 * takes a double within +-1e15 and drops its fraction. */
json_object *lr_json_member(json_object *o, const char *key, json_type type);
const char *lr_json_str(json_object *o, const char *key);
long lr_json_int(json_object *o, const char *key, long def);
double lr_json_num(json_object *o, const char *key, double def);
int lr_json_bool(json_object *o, const char *key, int def);
json_object *lr_json_obj(json_object *o, const char *key);
json_object *lr_json_arr(json_object *o, const char *key);

/* Refuse members not listed in `allowed` (NULL-terminated), naming the first
 * unknown one. Catches typos such as "timeout" for "timeout_s". */
int lr_json_check_keys(json_object *obj, const char *path, const char *const *allowed, lr_err *err);

/* Compact serialisation, '/' not escaped. Returns a malloc'd copy the caller
 * frees, or NULL when out of memory. */
char *lr_json_dump(json_object *obj);

/* Convenience setters for building objects; they return 0 or LR_ENOMEM. A
 * NULL string becomes JSON null. */
int lr_json_set_str(json_object *obj, const char *key, const char *val);
int lr_json_set_strn(json_object *obj, const char *key, const char *val, size_t len);
int lr_json_set_int(json_object *obj, const char *key, long val);
int lr_json_set_num(json_object *obj, const char *key, double val);
int lr_json_set_bool(json_object *obj, const char *key, int val);
/* Takes ownership of val (puts it on failure). */
int lr_json_set_obj(json_object *obj, const char *key, json_object *val);

#endif
