/* result_trim.h - the report a finished job keeps in Redis, bounded.
 *
 * A job's `result` (its report as JSON) is what users read back: `llmrepl
 * status`/`wait`, GET /jobs/<id>, the completion callback. Most reports are a
 * few KiB; one with thousands of test cases or long messages could be
 * megabytes, kept for the job's TTL. Over the worker's --result-max-kb the
 * report is compacted, in steps until it fits:
 *
 *   1. arrays (tests, findings, history, ...) keep at most 200, 50, 10, then
 *      3 elements, failures first (an element whose "status" is not "passed"
 *      or whose "passed" is false), in their order; `<name>_omitted` (as
 *      the harness's `tests_omitted`) grows by how many went;
 *   2. strings keep at most 8 KiB, 2 KiB, 512, then 160 bytes (cut at a
 *      UTF-8 boundary, ending "... [N bytes cut]"). The top level's `code`,
 *      `summary`, `error`, `verdict` and `stop_reason` are left whole;
 *   3. if that is still too big: the top level's numbers, booleans and those
 *      strings only (`code` cut to half the cap).
 *
 * The result stays a JSON object with the same top-level members (verdict,
 * passed, score, counts, summary, code, the first failures), plus
 * "compacted": {"from_bytes": N, "step": S}. A result that is not a JSON
 * object and over the cap becomes {"compacted": {...}}. */
#ifndef LLMREPL_RESULT_TRIM_H
#define LLMREPL_RESULT_TRIM_H

#include "err.h"

#include <stddef.h>

/* The default cap, and the least one (room for step 3's members). */
#define WK_RESULT_MAX_DEFAULT (128L << 10)
#define WK_RESULT_MAX_MIN     (4L << 10)

/* Compact *json (malloc'd) to at most max bytes when it is longer: *json is
 * replaced (the old one freed). Returns 1 when compacted, 0 when it already
 * fit, LR_ENOMEM. */
int wk_result_trim(char **json, size_t max, lr_err *err);

#endif
