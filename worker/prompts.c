/* prompts.c - the texts of the generate, repair and refactor prompts. */
#include "prompts.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>

static const char SYSTEM[] =
    "You are an expert Python programmer. You write correct, simple, self-contained "
    "Python 3 code that uses only the standard library.";

static const char ANSWER[] = "Reply with one ```python code block that contains the complete "
                             "code: imports, helper functions and the function itself. No "
                             "explanation, no tests, no example usage.";

static const char PROGRAM[] = "Write a complete Python program: it reads its input from standard "
                              "input (input() or sys.stdin) and prints its answer to standard "
                              "output, exactly in the format asked for and nothing else.";

static const char PROGRAM_ANSWER[] = "Reply with one ```python code block that contains the "
                                     "whole program: imports, helper functions and the code "
                                     "that reads the input and prints the answer. No "
                                     "explanation, no example runs.";

/* The worked example before a generate prompt for a function: a task of the
 * same form (code or prose, with tests when the job shows its own) and the
 * answer wanted, the function with a body and without the docstring again. */
static const char EXAMPLE_CODE[] = "def clamp(x: int, low: int, high: int) -> int:\n"
                                   "    \"\"\" Return x limited to the range from low to high.\n"
                                   "    >>> clamp(5, 0, 3)\n"
                                   "    3\n"
                                   "    \"\"\"\n";
static const char EXAMPLE_PROSE[] = "Write a Python function clamp(x, low, high) that returns x "
                                    "limited to the range from low to high.";
static const char EXAMPLE_TESTS[] = "assert clamp(5, 0, 3) == 3\nassert clamp(-1, 0, 3) == 0\n";
#define EXAMPLE_BODY                                                                               \
	"    if x < low:\n"                                                                        \
	"        return low\n"                                                                     \
	"    if x > high:\n"                                                                       \
	"        return high\n"                                                                    \
	"    return x\n"                                                                           \
	"```"
static const char EXAMPLE_ANSWER_CODE[] =
    "```python\ndef clamp(x: int, low: int, high: int) -> int:\n" EXAMPLE_BODY;
static const char EXAMPLE_ANSWER_PROSE[] = "```python\ndef clamp(x, low, high):\n" EXAMPLE_BODY;

static const char *answer_for(const prompt_input *in)
{
	return in->program ? PROGRAM_ANSWER : ANSWER;
}

/* The longest run of backticks in s (bounded by n). */
static size_t longest_backticks(const char *s, size_t n)
{
	size_t best = 0, run = 0;

	for (size_t i = 0; i < n; i++) {
		run = s[i] == '`' ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

/* Append `text` (capped at `max` bytes), in a code fence when `lang` is set. */
static int put_text(lr_buf *b, const char *text, size_t max, const char *lang)
{
	size_t n = strlen(text), fence = 3;
	int cut = n > max;
	int rc = 0;

	if (cut)
		n = max;
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	if (lang) {
		fence = longest_backticks(text, n) + 1;
		if (fence < 3)
			fence = 3;
		for (size_t i = 0; i < fence && !rc; i++)
			rc = lr_buf_append(b, "`", 1);
		rc = rc ? rc : lr_buf_printf(b, "%s\n", lang);
	}
	rc = rc ? rc : lr_buf_append(b, text, n);
	if (!rc && cut)
		rc = lr_buf_printf(b, "\n%s[... %zu more bytes not shown]", lang ? "# " : "",
		                   strlen(text) - n);
	rc = rc ? rc : lr_buf_puts(b, "\n");
	if (lang) {
		for (size_t i = 0; i < fence && !rc; i++)
			rc = lr_buf_append(b, "`", 1);
		rc = rc ? rc : lr_buf_puts(b, "\n");
	}
	return rc;
}

/* A HumanEval-style task is code (a signature and a docstring), not prose. */
static int task_is_code(const char *t)
{
	while (*t == '\n' || *t == ' ')
		t++;
	return !strncmp(t, "def ", 4) || !strncmp(t, "from ", 5) || !strncmp(t, "import ", 7) ||
	       !strncmp(t, "class ", 6) || !strncmp(t, "async def ", 10);
}

static int put_task(lr_buf *b, const prompt_input *in)
{
	int rc;

	if (task_is_code(in->task)) {
		rc = lr_buf_puts(b, "Complete this Python function:\n\n");
		rc = rc ? rc : put_text(b, in->task, PROMPT_MAX_TASK, "python");
	} else {
		rc = lr_buf_puts(b, "Task:\n");
		rc = rc ? rc : put_text(b, in->task, PROMPT_MAX_TASK, NULL);
	}
	if (!rc && in->program)
		rc = lr_buf_printf(b, "\n%s\n", PROGRAM);
	else if (!rc && in->entry_point && *in->entry_point)
		rc = lr_buf_printf(b, "\nThe function must be named `%.100s`.\n", in->entry_point);
	if (!rc && in->session && *in->session) {
		rc = lr_buf_puts(b, "\nThe code runs after these cells of the user's Python "
		                    "session, in the same globals: the names they define exist "
		                    "when it runs.\n\n");
		rc = rc ? rc : put_text(b, in->session, PROMPT_MAX_SESSION, "python");
	}
	if (!rc && in->program && in->tests && *in->tests) {
		rc = lr_buf_puts(b, "\nExamples of input and the output expected for it:\n\n");
		rc = rc ? rc : put_text(b, in->tests, PROMPT_MAX_TESTS, "text");
	} else if (!rc && in->tests && *in->tests) {
		if (in->entry_point && *in->entry_point && strstr(in->tests, "candidate"))
			rc = lr_buf_printf(b,
			                   "\nIt must pass these tests, where `candidate` is "
			                   "`%.100s`:\n\n",
			                   in->entry_point);
		else
			rc = lr_buf_puts(b, "\nIt must pass these tests:\n\n");
		rc = rc ? rc : put_text(b, in->tests, PROMPT_MAX_TESTS, "python");
	}
	return rc;
}

static int finish(prompt *out, lr_buf *user, int rc, lr_err *err)
{
	if (rc == 0) {
		out->system = strdup(SYSTEM);
		out->user = lr_buf_steal(user);
	}
	lr_buf_free(user);
	if (rc || !out->system || !out->user) {
		prompt_free(out);
		return lr_err_set(err, LR_ENOMEM, "out of memory building a prompt");
	}
	out->nmsgs = 0;
	out->msgs[out->nmsgs++] = (llm_message){"system", out->system};
	if (out->example) {
		out->msgs[out->nmsgs++] = (llm_message){"user", out->example};
		out->msgs[out->nmsgs++] = (llm_message){"assistant", out->example_answer};
	}
	out->msgs[out->nmsgs++] = (llm_message){"user", out->user};
	return 0;
}

/* The worked example's question, in the form of the job's own. */
static int put_example(prompt *out, const prompt_input *in)
{
	int code = task_is_code(in->task);
	prompt_input ex = {.task = code ? EXAMPLE_CODE : EXAMPLE_PROSE,
	                   .entry_point = "clamp",
	                   .tests = in->tests && *in->tests ? EXAMPLE_TESTS : NULL};
	lr_buf b;
	int rc;

	lr_buf_init(&b, 0);
	rc = put_task(&b, &ex);
	rc = rc ? rc : lr_buf_printf(&b, "\n%s\n", ANSWER);
	out->example = rc ? NULL : lr_buf_steal(&b);
	out->example_answer = code ? EXAMPLE_ANSWER_CODE : EXAMPLE_ANSWER_PROSE;
	lr_buf_free(&b);
	return rc || !out->example ? LR_ENOMEM : 0;
}

static int start(prompt *out, lr_buf *user, const prompt_input *in, int need_task, int need_code,
                 lr_err *err)
{
	memset(out, 0, sizeof(*out));
	lr_buf_init(user, 0);
	if (need_task && (!in->task || !*in->task))
		return lr_err_set(err, LR_EINVAL, "no task (prompt) to give the model");
	if (need_code && (!in->code || !*in->code))
		return lr_err_set(err, LR_EINVAL, "no code to give the model");
	return 0;
}

int prompt_generate(prompt *out, const prompt_input *in, lr_err *err)
{
	lr_buf user;
	int rc = start(out, &user, in, 1, 0, err);

	if (rc)
		return rc;
	/* An io program has no function to show by example. */
	if (!in->program)
		rc = put_example(out, in);
	rc = rc ? rc : put_task(&user, in);
	rc = rc ? rc : lr_buf_printf(&user, "\n%s\n", answer_for(in));
	return finish(out, &user, rc, err);
}

int prompt_repair(prompt *out, const prompt_input *in, lr_err *err)
{
	lr_buf user;
	int rc = start(out, &user, in, 1, 1, err);

	if (rc)
		return rc;
	rc = put_task(&user, in);
	rc = rc ? rc : lr_buf_puts(&user, "\nThis attempt is wrong:\n\n");
	rc = rc ? rc : put_text(&user, in->code, PROMPT_MAX_CODE, "python");
	if (!rc && in->feedback && *in->feedback) {
		rc = lr_buf_puts(&user, "\nWhat went wrong when it was run:\n");
		rc = rc ? rc : put_text(&user, in->feedback, PROMPT_MAX_FEEDBACK, NULL);
	}
	rc = rc ? rc : lr_buf_printf(&user, "\nFix the code. %s\n", answer_for(in));
	return finish(out, &user, rc, err);
}

int prompt_refactor(prompt *out, const prompt_input *in, lr_err *err)
{
	lr_buf user;
	int rc = start(out, &user, in, 0, 1, err);

	if (rc)
		return rc;
	rc = lr_buf_puts(&user, "Improve this Python code:\n\n");
	rc = rc ? rc : put_text(&user, in->code, PROMPT_MAX_CODE, "python");
	if (!rc && in->feedback && *in->feedback) {
		rc = lr_buf_puts(&user, "\nReview to address:\n");
		rc = rc ? rc : put_text(&user, in->feedback, PROMPT_MAX_FEEDBACK, NULL);
	}
	if (!rc && in->task && *in->task) {
		rc = lr_buf_puts(&user, "\nWhat the code is for:\n");
		rc = rc ? rc : put_text(&user, in->task, PROMPT_MAX_TASK, NULL);
	}
	if (!rc && in->program)
		rc =
		    lr_buf_printf(&user,
		                  "\nIt is a whole program: keep what it reads from standard input "
		                  "and what it prints to standard output exactly as they are. %s\n",
		                  PROGRAM_ANSWER);
	else
		rc = rc ? rc
		        : lr_buf_printf(
		              &user,
		              "\nKeep its behaviour and the names and signatures of its public "
		              "functions%s%s%s: the existing tests must still pass. %s\n",
		              in->entry_point && *in->entry_point ? " (`" : "",
		              in->entry_point && *in->entry_point ? in->entry_point : "",
		              in->entry_point && *in->entry_point ? "`)" : "", ANSWER);
	return finish(out, &user, rc, err);
}

int prompt_tests(prompt *out, const prompt_input *in, lr_err *err)
{
	lr_buf user;
	const char *ep = in->entry_point && *in->entry_point ? in->entry_point : NULL;
	int rc = start(out, &user, in, 1, 0, err);

	if (rc)
		return rc;
	if (ep == NULL)
		return lr_err_set(err, LR_EINVAL, "no function name to write tests for");
	rc = lr_buf_puts(&user, task_is_code(in->task) ? "A Python function:\n\n" : "Task:\n");
	rc = rc ? rc
	        : put_text(&user, in->task, PROMPT_MAX_TASK,
	                   task_is_code(in->task) ? "python" : NULL);
	rc = rc ? rc
	        : lr_buf_printf(&user,
	                        "\nWrite 5 tests for `%.100s`. Reply with one ```python code block "
	                        "of 5 lines, each of the form: assert %.100s(...) == expected. "
	                        "Use simple inputs whose answer you are sure of. No explanation.\n",
	                        ep, ep);
	return finish(out, &user, rc, err);
}

long prompt_reply_tokens(const prompt *p, long configured)
{
	long bound = PROMPT_REPLY_BASE + (long)(p->user ? strlen(p->user) : 0) / 3;

	return configured > 0 && configured < bound ? configured : bound;
}

void prompt_free(prompt *p)
{
	if (!p)
		return;
	free(p->system);
	free(p->user);
	free(p->example);
	memset(p, 0, sizeof(*p));
}
