/* prompts.h - every prompt the worker sends to a model, in one place.
 *
 * Four kinds: generate (a task -> code), repair (the task, the last code and
 * the evaluation's feedback -> fixed code), refactor (code and review
 * feedback -> the same behaviour, better code) and tests (a task -> assert
 * lines that rank candidates when the job has no tests). They are short and literal
 * so that 135M-parameter models follow them as well as large ones do: one
 * instruction per line, the code in a fence, and the answer format (one
 * ```python block, complete code, no prose) stated last, where small models
 * look. A generate prompt for a function comes after one worked example (a
 * question of the same form and its answer: the function with its body and
 * no restated docstring), which halves what the small model writes. Inputs are capped (a note marks
 * what was cut) and fenced with a fence longer than any backtick run inside them, so code cannot
 * break out. */
#ifndef LLMREPL_PROMPTS_H
#define LLMREPL_PROMPTS_H

#include "err.h"
#include "llm.h"

#include <stddef.h>

typedef struct prompt_input {
	const char *task;        /* the job's prompt: prose or a signature + docstring */
	const char *entry_point; /* the function that must exist, or NULL */
	const char *tests;       /* tests to show the model, or NULL to keep them hidden;
	                            with program, io examples (lr_iotests_examples) */
	const char *code;        /* repair, refactor: the code to change */
	const char *feedback;    /* repair: evaluation feedback; refactor: the review */
	int program;             /* the code is a whole program that reads stdin and
	                            writes stdout (the job has io tests) */
	const char *session;     /* the cells of the REPL session the code runs after
	                            (session_use.h), or NULL */
} prompt_input;

typedef struct prompt {
	char *system;               /* owned */
	char *user;                 /* owned */
	char *example;              /* owned: the worked example's question (generate), or NULL */
	const char *example_answer; /* its answer (static) */
	llm_message msgs[4];
	size_t nmsgs; /* system, [example question, its answer,] user; they point into
	                 the strings above (and a static answer) until prompt_free */
} prompt;

/* Caps on what goes into a prompt, in bytes. */
#define PROMPT_MAX_TASK     (16u << 10)
#define PROMPT_MAX_CODE     (64u << 10)
#define PROMPT_MAX_FEEDBACK (8u << 10)
#define PROMPT_MAX_TESTS    (8u << 10)
#define PROMPT_MAX_SESSION  (8u << 10)
#define PROMPT_IO_EXAMPLES  2 /* io cases shown as examples (show_tests) */

/* Each returns 0, LR_EINVAL (a required input is missing) or LR_ENOMEM, and
 * fills `out` (free with prompt_free, also after a failure). */
int prompt_generate(prompt *out, const prompt_input *in, lr_err *err);
int prompt_repair(prompt *out, const prompt_input *in, lr_err *err);
int prompt_refactor(prompt *out, const prompt_input *in, lr_err *err);
/* Tests from the task alone (a job without tests, strategy auto): a few
 * assert lines that call the entry point. They only rank candidates. */
int prompt_tests(prompt *out, const prompt_input *in, lr_err *err);
/* The most tokens a reply to `p` needs: it restates at most what the prompt
 * shows (task, code, tests; about three bytes a token) and adds a body:
 * PROMPT_REPLY_BASE + the user message's bytes / 3. Bounded by `configured`
 * (the worker's setting; <= 0: no setting). A reply that runs away (small
 * models repeat themselves until the limit) then costs the time a right
 * answer to this task could need, not the worker's whole limit. */
#define PROMPT_REPLY_BASE 192
long prompt_reply_tokens(const prompt *p, long configured);
void prompt_free(prompt *p);

#endif
