/* iotests.h - input/output test cases: a program is run once per case with the
 * case's stdin, and what it printed is compared with the expected stdout.
 *
 * The form, in a job spec's `tests` (and, as a file, for llmrepl-eval
 * --io-tests and llmrepl submit --io-tests):
 *
 *   {"io": [{"stdin": "1 2\n", "stdout": "3\n"}, ...],
 *    "checker": "tokens",            (optional, the default)
 *    "stop_on_failure": false}        (optional)
 *
 * A file may also hold the bare array of cases. Checkers:
 *   "exact"    byte for byte
 *   "tokens"   whitespace-separated tokens equal (spacing and newlines free)
 *   "lines"    line by line, trailing spaces (and CR) of each line and
 *              blank lines at the end ignored
 *   {"kind": "float", "abs": 1e-6, "rel": 1e-6}
 *              tokens; where both are decimal numbers they match within
 *              abs or rel (|a - e| <= max(abs, rel * |e|)), others exactly
 *   {"kind": "python", "code": "def check(stdin, expected, actual): ..."}
 *              the job's own function decides (run by the judge in a
 *              sandbox run of its own, never in the program's process;
 *              see worker/eval_io.c)
 *
 * Everything here is pure: parsing, validation and the built-in checkers,
 * which compare on the host after the program has exited. */
#ifndef LLMREPL_IOTESTS_H
#define LLMREPL_IOTESTS_H

#include "err.h"

#include <json-c/json.h>
#include <stddef.h>

#define LR_IO_CASES_MAX   1000
#define LR_IO_DIFF_MAX    600 /* bytes of a diff text */
#define LR_IO_CHECKER_MAX (64u << 10)

typedef enum {
	LR_CHECK_TOKENS = 0,
	LR_CHECK_EXACT,
	LR_CHECK_LINES,
	LR_CHECK_FLOAT,
	LR_CHECK_PYTHON,
} lr_check_kind;

const char *lr_check_kind_name(lr_check_kind k); /* "tokens", "exact", ... */

typedef struct lr_iocase {
	char *in; /* stdin (may hold NUL bytes; NUL-terminated besides) */
	size_t in_len;
	char *out; /* the expected stdout */
	size_t out_len;
} lr_iocase;

typedef struct lr_iotests {
	lr_iocase *cases;
	size_t n;
	lr_check_kind checker;
	double abs_tol, rel_tol; /* float */
	char *checker_code;      /* python */
	int stop_on_failure;
} lr_iotests;

/* Read the io form from `obj`: an object {"io": [...], "checker",
 * "stop_on_failure"} or, with allow_bare, an array of cases. `path` names
 * obj in messages ("tests"). max_bytes caps the cases' total size.
 * Errors name the field: "field 'tests.io[3].stdout' must be a string". */
int lr_iotests_from_json(lr_iotests *out, json_object *obj, const char *path, int allow_bare,
                         size_t max_bytes, lr_err *err);
/* The same from JSON text (a file). */
int lr_iotests_parse(lr_iotests *out, const char *text, size_t len, size_t max_bytes, lr_err *err);

/* The normalised form (checker spelled out) as a new object, or NULL. */
json_object *lr_iotests_to_json(const lr_iotests *t);

/* A deep copy into *out; 0 or LR_ENOMEM. */
int lr_iotests_copy(lr_iotests *out, const lr_iotests *in);

void lr_iotests_free(lr_iotests *t); /* frees the members; accepts NULL */

/* The first `cases` cases as examples for a prompt ("Input:\n...\nOutput:\n
 * ...\n", cleaned to UTF-8, at most max bytes in all: a case that does not
 * fit is left out). A new string, "" when none fits; NULL when out of memory. */
char *lr_iotests_examples(const lr_iotests *t, size_t cases, size_t max);

/* Compare with a built-in checker (not python): 1 when actual is accepted,
 * 0 when not, with the first difference described in diff (at most
 * LR_IO_DIFF_MAX bytes, valid UTF-8, e.g. "line 2: expected \"3 4\", got
 * \"3 5\""). */
int lr_io_compare(const lr_iotests *t, const char *expected, size_t elen, const char *actual,
                  size_t alen, char *diff, size_t difflen);

/* Append s (n bytes) to a malloc'd copy with every invalid UTF-8 sequence and
 * NUL replaced by U+FFFD, cut to at most max bytes at a character boundary
 * (with "..." when cut; max 0 = no cut). NULL when out of memory. */
char *lr_utf8_clean(const char *s, size_t n, size_t max, size_t *out_len);

#endif
