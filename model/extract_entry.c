/* extract_entry.c - the name a job's tests call, when the job does not say
 * (see extract.h: extract_entry_guess). */
#include "extract.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Called names that are never the function under test. */
static const char *const NOT_ENTRY[] = {
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bool",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "hasattr",
    "hash",
    "hex",
    "id",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "print",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "str",
    "sum",
    "tuple",
    "type",
    "zip",
    "check",
    "candidate",
    "assert",
    "if",
    "elif",
    "while",
    "for",
    "not",
    "and",
    "or",
    "in",
    "is",
    "return",
    "lambda",
    "print",
    "Exception",
    "ValueError",
    "TypeError",
    "KeyError",
    "IndexError",
    "set",
    "ZeroDivisionError",
    "AssertionError",
    "RuntimeError",
    "complex",
    "isclose",
    "approx",
    "raises",
    "main",
    "input",
    "open",
    "exit",
    NULL,
};

static int is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static int is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int excluded(const char *p, size_t n)
{
	for (int i = 0; NOT_ENTRY[i]; i++)
		if (strlen(NOT_ENTRY[i]) == n && memcmp(NOT_ENTRY[i], p, n) == 0)
			return 1;
	return 0;
}

/* Is `name` (n bytes) defined by a `def name` in `text`? */
static int defined_in(const char *text, const char *p, size_t n)
{
	for (const char *d = text; (d = strstr(d, "def ")) != NULL; d += 4) {
		const char *q = d + 4;

		while (*q == ' ')
			q++;
		if (strncmp(q, p, n) == 0 && !is_ident(q[n]))
			return 1;
	}
	return 0;
}

/* The first name in `text` called as name( that is not a builtin, not an
 * attribute (x.name() ) and not defined in `skip_defs_of`. */
static int first_call(char *out, size_t outlen, const char *text, const char *skip_defs_of)
{
	for (const char *p = text; *p; p++) {
		const char *s;
		size_t n;

		if (!is_ident_start(*p) || (p > text && (is_ident(p[-1]) || p[-1] == '.')))
			continue;
		s = p;
		while (is_ident(*p))
			p++;
		n = (size_t)(p - s);
		if (*p != '(' || excluded(s, n) || n >= outlen)
			continue;
		/* `def name(` defines, it does not call */
		if (s >= text + 4 && memcmp(s - 4, "def ", 4) == 0)
			continue;
		if (skip_defs_of && defined_in(skip_defs_of, s, n))
			continue;
		memcpy(out, s, n);
		out[n] = '\0';
		return 1;
	}
	return 0;
}

/* The top-level defs of a task that is code: the one the tests call, else
 * the last (HumanEval puts helpers first). */
static int task_def(char *out, size_t outlen, const char *task, const char *tests)
{
	int found = 0;

	for (const char *l = task; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *p = l, *s;
		size_t n;

		if (strncmp(p, "async ", 6) == 0)
			p += 6;
		if (strncmp(p, "def ", 4) != 0)
			continue;
		p += 4;
		while (*p == ' ')
			p++;
		s = p;
		while (is_ident(*p))
			p++;
		n = (size_t)(p - s);
		if (n == 0 || n >= outlen)
			continue;
		memcpy(out, s, n);
		out[n] = '\0';
		found = 1;
		if (tests) {
			const char *t = tests;

			while ((t = strstr(t, out)) != NULL) {
				if ((t == tests || !is_ident(t[-1])) && t[n] == '(')
					return 1;
				t += n;
			}
		}
	}
	return found;
}

int extract_entry_guess(char *out, size_t outlen, const char *task, const char *tests)
{
	out[0] = '\0';
	if (outlen < 2)
		return 0;
	if (task && task_def(out, outlen, task, tests))
		return 1;
	if (tests && first_call(out, outlen, tests, tests))
		return 1;
	if (task && first_call(out, outlen, task, NULL))
		return 1;
	out[0] = '\0';
	return 0;
}
