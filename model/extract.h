/* extract.h - find the Python code in a model's reply.
 *
 * Replies come in every shape: one fenced block (```python, ```py, ``` or
 * ~~~), several blocks (the solution, a usage example, a shell command), prose
 * around the code, nothing but code, a fence the model never closed because it
 * ran out of tokens, a <think>...</think> preamble. extract_code() picks:
 *
 *   1. fenced blocks, ignoring those tagged as another language (bash, json,
 *      text, output, ...) and those that are only usage (asserts, prints,
 *      >>> sessions). With an entry point, the last block that defines it is
 *      the solution, preceded by the earlier blocks that define helpers or
 *      imports; without one, every defining block in order. A lone usage
 *      block is taken only when nothing better exists.
 *   2. no fence: the lines from the first line that starts Python code
 *      (def, class, import, from, @, #!) to the last line that still looks
 *      like code, dropping the prose around them.
 *   3. otherwise "no code": LR_ENOTFOUND, its own outcome, with a message
 *      that says what the reply was.
 * Common indentation is removed; the result always ends in one newline. */
#ifndef LLMREPL_EXTRACT_H
#define LLMREPL_EXTRACT_H

#include "err.h"

#include <stddef.h>

typedef enum {
	EXTRACT_NONE = 0,
	EXTRACT_FENCED,   /* from fenced blocks */
	EXTRACT_UNFENCED, /* from a reply without fences */
} extract_how;

typedef struct extract_result {
	char *code; /* owned by the caller; NULL when there is none */
	extract_how how;
	int blocks;        /* fenced blocks in the reply */
	int blocks_used;   /* how many were joined into `code` */
	int truncated;     /* the last fence was never closed */
	int defines_entry; /* `code` defines the entry point asked for */
} extract_result;

/* Replies larger than this are refused (LR_ETOOBIG) rather than scanned. */
#define EXTRACT_MAX_REPLY (4u << 20)

/* Extract code from `reply` (len bytes, need not be NUL-terminated; a NUL
 * byte ends it).
 * entry_point may be NULL. `out` is always initialised; free with
 * extract_result_free. Returns 0, LR_ENOTFOUND (no code), LR_ETOOBIG or
 * LR_ENOMEM. */
int extract_code(extract_result *out, const char *reply, size_t len, const char *entry_point,
                 lr_err *err);

/* The same for a whole program (a job with io tests): no entry point; a
 * block that reads the input after the defining blocks is kept with them;
 * among blocks of bare statements the longest one that reads as code (not
 * an input example) is taken; an unfenced program may start with any
 * statement (n = int(input())). */
int extract_program(extract_result *out, const char *reply, size_t len, lr_err *err);

void extract_result_free(extract_result *r);

/* Make extracted code a complete program for a task that is itself code (a
 * signature and docstring, as in HumanEval): code that does not define the
 * entry point is taken as the function's body (indented under it when it
 * has no top-level definitions of its own) and put after the task; code
 * that does gets the task's import lines it lacks (small models drop
 * `from typing import List`). A prose task leaves the code as it is.
 * *out is a new string (caller frees). Returns 0 or LR_ENOMEM. */
int extract_complete(char **out, const char *code, const char *task, int defines_entry,
                     lr_err *err);

/* Drop a reply's example usage from code meant to be tested: top-level
 * statements other than definitions, imports, module docstrings and
 * assignments that call none of the code's own functions (so prints,
 * asserts, calls, loops, `if __name__ == "__main__":` blocks and stray prose
 * go, syntax errors in them included). Code without a top-level def or class
 * is left as it is. *out is a new string; *dropped counts the statements
 * dropped. Returns 0 or LR_ENOMEM. */
int extract_trim(char **out, const char *code, int *dropped, lr_err *err);

/* The function a job's tests call when the job names none: a top-level def
 * of a task that is code (the one the tests call, else the last), else the
 * first non-builtin name the tests call, else the first name the task's
 * prose writes as a call ("a function is_even(n) that ..."). Writes it to
 * out (outlen bytes) and returns 1, or returns 0 and out = "". */
int extract_entry_guess(char *out, size_t outlen, const char *task, const char *tests);

#endif
