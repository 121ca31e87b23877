/* llm_usage.c - watch a streamed reply's code for the example usage after it
 * (see llm.h: llm_usage). Line by line: a line at the code's top level that
 * starts a call, a print, an assert, an `if`, a loop or a doctest, once the
 * entry point's definition is complete and every name the code calls is
 * defined, is where the code the job needs has ended. extract_trim() drops
 * exactly such statements from code meant for tests, so a reply cut before
 * them yields the same extract as the whole reply. */
#include "llm.h"

#include <ctype.h>
#include <string.h>

void llm_usage_init(llm_usage *u, const char *entry)
{
	memset(u, 0, sizeof(*u));
	u->on = 1;
	if (entry && strlen(entry) < sizeof(u->entry))
		strcpy(u->entry, entry);
	else if (entry)
		u->on = 0; /* a name that long is never waited for */
	strcpy(u->defined, " ");
	strcpy(u->called, " ");
	strcpy(u->tops, " ");
}

static int ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static int ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Does p start with the word w? A word that ends in a name character needs
 * the character after it, which must not be one. */
static int word_at(const char *p, size_t n, const char *w)
{
	size_t k = strlen(w);

	if (n < k || memcmp(p, w, k) != 0)
		return 0;
	return !ident_char(w[k - 1]) || (n > k && !ident_char(p[k]));
}

static int in_list(const char *const *list, const char *p, size_t k)
{
	for (int i = 0; list[i]; i++)
		if (strlen(list[i]) == k && memcmp(list[i], p, k) == 0)
			return 1;
	return 0;
}

static const char *const KEYWORDS[] = {
    "if",    "elif", "else",   "while", "for",    "return",   "not",   "and",      "or",
    "in",    "is",   "lambda", "yield", "assert", "del",      "await", "except",   "with",
    "raise", "try",  "def",    "class", "global", "nonlocal", "pass",  "import",   "from",
    "as",    "None", "True",   "False", "async",  "finally",  "break", "continue", NULL};

static const char *const BUILTINS[] = {
    "abs",        "all",          "any",      "ascii",      "bin",           "bool",
    "bytearray",  "bytes",        "callable", "chr",        "classmethod",   "complex",
    "dict",       "dir",          "divmod",   "enumerate",  "eval",          "exec",
    "filter",     "float",        "format",   "frozenset",  "getattr",       "globals",
    "hasattr",    "hash",         "hex",      "id",         "input",         "int",
    "isinstance", "issubclass",   "iter",     "len",        "list",          "locals",
    "map",        "max",          "min",      "next",       "object",        "oct",
    "open",       "ord",          "pow",      "print",      "property",      "range",
    "repr",       "reversed",     "round",    "set",        "setattr",       "slice",
    "sorted",     "staticmethod", "str",      "sum",        "super",         "tuple",
    "type",       "vars",         "zip",      "__import__", "StopIteration", "NotImplemented",
    NULL};

/* Names longer than this are never listed (nor looked up). */
#define NAME_CAP 77

/* Is the name [p, p+k) (0 < k <= NAME_CAP) in a " a b c " list? */
static int listed(const char *list, const char *p, size_t k)
{
	char w[NAME_CAP + 3];

	w[0] = ' ';
	memcpy(w + 1, p, k);
	w[k + 1] = ' ';
	w[k + 2] = '\0';
	return strstr(list, w) != NULL;
}

/* A name in a " a b c " list; *full when it did not fit. */
static void add_name(char *list, size_t cap, int *full, const char *p, size_t k)
{
	size_t n = strlen(list);

	if (k == 0 || k > NAME_CAP || listed(list, p, k))
		return;
	if (n + k + 2 > cap) {
		*full = 1;
		return;
	}
	memcpy(list + n, p, k);
	list[n + k] = ' ';
	list[n + k + 1] = '\0';
}

static int known(const llm_usage *u, const char *p, size_t k)
{
	if (in_list(BUILTINS, p, k) || (k > 5 && memcmp(p + k - 5, "Error", 5) == 0) ||
	    (k > 9 && memcmp(p + k - 9, "Exception", 9) == 0) ||
	    (k > 7 && memcmp(p + k - 7, "Warning", 7) == 0) || k > NAME_CAP)
		return 1;
	return listed(u->defined, p, k);
}

static void defines(llm_usage *u, const char *p, size_t k)
{
	add_name(u->defined, sizeof(u->defined), &u->full, p, k);
}

/* Scan one complete line: brackets and triple quotes (the state the next
 * line starts in), and the names it calls. Strings and comments are
 * skipped. */
static void scan(llm_usage *u, const char *line, const char *p, const char *end)
{
	while (p < end) {
		if (u->tq) {
			if (end - p >= 3 && p[0] == u->tq && p[1] == u->tq && p[2] == u->tq) {
				u->tq = 0;
				p += 3;
			} else {
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			}
		} else if (*p == '#') {
			return;
		} else if ((*p == '"' || *p == '\'') && end - p >= 3 && p[1] == *p && p[2] == *p) {
			u->tq = *p;
			p += 3;
		} else if (*p == '"' || *p == '\'') {
			char q = *p++;

			while (p < end && *p != q)
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			p++;
		} else if (ident_start(*p)) {
			const char *s = p;
			int attr = s > line && s[-1] == '.';

			while (p < end && ident_char(*p))
				p++;
			if (!attr && p < end && *p == '(' && !in_list(KEYWORDS, s, (size_t)(p - s)))
				add_name(u->called, sizeof(u->called), &u->full, s,
				         (size_t)(p - s));
		} else {
			if (*p == '(' || *p == '[' || *p == '{')
				u->depth++;
			else if ((*p == ')' || *p == ']' || *p == '}') && u->depth > 0)
				u->depth--;
			p++;
		}
	}
}

/* Every name in [p, end) up to `stop` (not attributes) is bound. */
static void define_all(llm_usage *u, const char *p, const char *end, char stop)
{
	const char *q = p;

	while (q < end && *q != stop) {
		const char *s = q;

		if (!ident_start(*q)) {
			q++;
			continue;
		}
		while (q < end && ident_char(*q))
			q++;
		if (!(s > p && s[-1] == '.'))
			defines(u, s, (size_t)(q - s));
	}
}

/* The names a statement line binds: def/class and its parameters, imports,
 * assignment and loop targets, `as` names, lambda parameters. Approximate
 * on purpose: a name missed here only keeps the reading going. */
static void binds(llm_usage *u, const char *p, size_t n)
{
	static const char *const whole[] = {"async ", "def ",  "class ",  "import ", "from ",
	                                    "for ",   "with ", "except ", NULL};
	const char *end = p + n, *q;

	for (int i = 0; whole[i]; i++)
		if (word_at(p, n, whole[i])) {
			define_all(u, p, end, '#'); /* names, parameters, aliases */
			return;
		}
	/* NAME[, NAME...] = ... (not ==) */
	for (q = p; q < end && (ident_char(*q) || *q == ',' || *q == ' ' || *q == ':' ||
	                        *q == '[' || *q == ']' || *q == '.');
	     q++)
		;
	if (q < end && *q == '=' && (q + 1 == end || q[1] != '='))
		define_all(u, p, q, '=');
	for (q = p; (q = memmem(q, (size_t)(end - q), "lambda", 6)) != NULL; q += 6)
		define_all(u, q + 6, end, ':');
}

/* The name a def or class line defines (*k bytes), or NULL. */
static const char *def_name(const char *p, size_t n, size_t *k)
{
	const char *end = p + n, *s;

	if (word_at(p, n, "async "))
		p += 6;
	if (word_at(p, (size_t)(end - p), "def "))
		p += 4;
	else if (word_at(p, (size_t)(end - p), "class "))
		p += 6;
	else
		return NULL;
	while (p < end && *p == ' ')
		p++;
	for (s = p; p < end && ident_char(*p); p++)
		;
	*k = (size_t)(p - s);
	return s;
}

/* Does this line (at the top level, dedented) define the entry point? */
static int defines_entry(const llm_usage *u, const char *p, size_t n)
{
	size_t k = 0;
	const char *name = def_name(p, n, &k);

	return name && (!u->entry[0] || (k == strlen(u->entry) && memcmp(name, u->entry, k) == 0));
}

/* A definition line whose body is on the line itself (def f(x): return x). */
static int one_liner(const char *p, size_t n)
{
	const char *h = memchr(p, '#', n);

	if (h)
		n = (size_t)(h - p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	return n && p[n - 1] != ':' && p[n - 1] != '(' && p[n - 1] != ',' && p[n - 1] != '\\';
}

/* Does this top-level line (or the start of it) begin example usage, for
 * sure? A call (print(...) included), assert, if, for, while, a doctest
 * prompt, or an assignment from a call of the code's own functions. */
static int usage_start(const llm_usage *u, const char *p, size_t n)
{
	const char *q = p, *end = p + n;

	if (word_at(p, n, "assert") || word_at(p, n, "if ") || word_at(p, n, "if(") ||
	    word_at(p, n, "for ") || word_at(p, n, "while ") || word_at(p, n, ">>>"))
		return 1;
	while (q < end && ident_char(*q))
		q++;
	if (q > p && ident_start(*p) && q < end && *q == '(')
		return !in_list(KEYWORDS, p, (size_t)(q - p)) || word_at(p, n, "while(");
	/* NAME = own_function( */
	while (q < end && (ident_char(*q) || *q == ',' || *q == ' '))
		q++;
	if (q == p || q >= end || *q != '=' || q + 1 >= end || q[1] == '=')
		return 0;
	for (q++; q < end && *q == ' '; q++)
		;
	{
		const char *s = q;

		while (q < end && ident_char(*q))
			q++;
		if (q >= end || *q != '(' || q == s || (size_t)(q - s) > NAME_CAP)
			return 0;
		return listed(u->tops, s, (size_t)(q - s));
	}
}

/* Every name the code calls is defined by it, imported or a builtin. */
static int calls_known(const llm_usage *u)
{
	const char *p = u->called + 1;

	while (*p) {
		const char *s = p;

		while (*p && *p != ' ')
			p++;
		if (!known(u, s, (size_t)(p - s)))
			return 0;
		while (*p == ' ')
			p++;
	}
	return !u->full;
}

static size_t indent(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

int llm_usage_line(llm_usage *u, const char *p, size_t n, size_t at, int complete, size_t *cut)
{
	size_t i;
	int top;

	if (!u->on || u->off)
		return 0;
	if (n && p[n - 1] == '\r')
		n--;
	i = indent(p, n);
	if (!u->started && i < n && !u->tq) {
		u->started = 1;
		u->base = i;
	}
	top = u->started && !u->tq && u->depth == 0 && i == u->base && i < n;
	if (u->started && !u->tq && u->depth == 0 && i < n && i < u->base)
		u->off = 1; /* less indented than the code's first line: not ours to judge */
	if (top && u->entry_done && p[i] != '#' && usage_start(u, p + i, n - i) && calls_known(u)) {
		*cut = u->pending ? u->cut : at;
		return 1;
	}
	if (!complete || u->off)
		return 0;
	if (top && p[i] == '#') {
		if (!u->pending)
			u->pending = 1, u->cut = at;
	} else if (i < n) {
		u->pending = 0; /* a comment before code goes with it */
	}
	if (u->entry_def && !u->entry_done && !u->tq && i > u->base && i < n)
		u->entry_done = 1; /* the entry point has a body */
	if (top && p[i] != '#') {
		u->entry_def = 0;
		if (defines_entry(u, p + i, n - i)) {
			u->entry_def = 1;
			u->entry_done |= one_liner(p + i, n - i);
		}
		{
			size_t k = 0;
			const char *name = def_name(p + i, n - i, &k);

			if (name)
				add_name(u->tops, sizeof(u->tops), &u->full, name, k);
		}
	}
	if (!u->tq && i < n && p[i] != '#')
		binds(u, p + i, n - i);
	scan(u, p, p, p + n);
	return 0;
}
