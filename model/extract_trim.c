/* extract_trim.c - drop a reply's example usage from its code (see
 * extract.h: extract_trim).
 *
 * The code is cut into top-level statements: a line at column 0 starts
 * one, and indented lines, lines inside an open bracket or a triple-quoted
 * string, and blank lines belong to the statement before. Comment lines at
 * column 0 go with the statement after them. A statement is kept when it is
 * a definition (def, class, a decorator), an import, a `try:` around
 * imports, a string (a module docstring) or an assignment that calls none of
 * the code's own functions and does not read input; everything else at top
 * level (calls, prints, asserts, loops, `if __name__ == "__main__":`, prose
 * a model left inside the fence) is usage and goes. */
#include "extract.h"

#include "buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct stmt {
	const char *p;    /* first line (comments before it included) */
	const char *head; /* the statement's own first line */
	size_t n;         /* bytes, through the last line's newline */
	int keep;
} stmt;

static int starts(const char *p, const char *w)
{
	return strncmp(p, w, strlen(w)) == 0;
}

static int is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Scan one line for brackets and triple quotes, updating *depth and *tq
 * (the open triple quote character, or 0). Single-quoted strings and
 * comments are skipped. */
static void scan_line(const char *p, const char *end, int *depth, char *tq)
{
	while (p < end) {
		if (*tq) {
			if (p + 2 < end + 0 && p[0] == *tq && p[1] == *tq && p[2] == *tq) {
				*tq = 0;
				p += 3;
			} else {
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			}
			continue;
		}
		if (*p == '#')
			return;
		if ((*p == '"' || *p == '\'') && p + 2 < end && p[1] == *p && p[2] == *p) {
			*tq = *p;
			p += 3;
			continue;
		}
		if (*p == '"' || *p == '\'') {
			char q = *p++;

			while (p < end && *p != q)
				p += (*p == '\\' && p + 1 < end) ? 2 : 1;
			p++;
			continue;
		}
		if (*p == '(' || *p == '[' || *p == '{')
			(*depth)++;
		else if ((*p == ')' || *p == ']' || *p == '}') && *depth > 0)
			(*depth)--;
		p++;
	}
}

/* A line no bracket continues at column 0. */
static int starts_statement(const char *p)
{
	static const char *const w[] = {"def ",    "async def ", "class ", "@",       "import ",
	                                "from ",   "if ",        "for ",   "while ",  "print(",
	                                "assert ", "try:",       "with ",  "return ", NULL};

	const char *q = p;

	for (int i = 0; w[i]; i++)
		if (starts(p, w[i]))
			return 1;
	/* NAME = value (a keyword argument would have no spaces) */
	while (is_ident(*q))
		q++;
	return q > p && !isdigit((unsigned char)*p) && starts(q, " = ");
}

/* The later clauses of a compound statement. */
static int clause(const char *p)
{
	return starts(p, "except") || starts(p, "else:") || starts(p, "elif ") ||
	       starts(p, "finally:");
}

/* Names the code defines at top level (def/class), as " name1 name2 ". */
static void defined_names(lr_buf *names, const stmt *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *p = st[i].head;

		if (starts(p, "async "))
			p += 6;
		if (starts(p, "def "))
			p += 4;
		else if (starts(p, "class "))
			p += 6;
		else
			continue;
		while (*p == ' ')
			p++;
		const char *s = p;

		while (is_ident(*p))
			p++;
		if (p > s) {
			lr_buf_puts(names, " ");
			lr_buf_append(names, s, (size_t)(p - s));
			lr_buf_puts(names, " ");
		}
	}
}

/* Does [p, p+n) call one of `names` or input()? */
static int calls_own(const char *p, size_t n, const lr_buf *names)
{
	const char *end = p + n;

	for (const char *q = p; q < end; q++) {
		const char *s;
		char word[80];
		size_t k;

		if (!(isalpha((unsigned char)*q) || *q == '_') ||
		    (q > p && (is_ident(q[-1]) || q[-1] == '.')))
			continue;
		s = q;
		while (q < end && is_ident(*q))
			q++;
		k = (size_t)(q - s);
		if (q >= end || *q != '(' || k + 3 > sizeof(word))
			continue;
		if (k == 5 && memcmp(s, "input", 5) == 0)
			return 1;
		word[0] = ' ';
		memcpy(word + 1, s, k);
		word[k + 1] = ' ';
		word[k + 2] = '\0';
		if (names->data && strstr(names->data, word))
			return 1;
	}
	return 0;
}

/* An assignment: NAME[, NAME...] [: type] = ... (not ==). */
static int assignment(const char *p)
{
	while (is_ident(*p) || *p == ',' || *p == ' ' || *p == '.' || *p == ':' || *p == '[' ||
	       *p == ']')
		p++;
	return p[0] == '=' && p[1] != '=';
}

static int keep_stmt(const stmt *s, const lr_buf *names)
{
	const char *h = s->head;
	size_t rest = s->n - (size_t)(h - s->p);

	if (starts(h, "def ") || starts(h, "async def ") || starts(h, "class ") || starts(h, "@") ||
	    starts(h, "import ") || (starts(h, "from ") && memmem(h, rest, " import ", 8)))
		return 1;
	if (starts(h, "\"\"\"") || starts(h, "'''"))
		return 1;
	if (starts(h, "try:"))
		return memmem(h, rest, "import ", 7) != NULL;
	if (starts(h, "if __name__"))
		return 0;
	if (is_ident(*h) && !isdigit((unsigned char)*h) && assignment(h))
		return !calls_own(h, rest, names);
	return 0;
}

int extract_trim(char **out, const char *code, int *dropped, lr_err *err)
{
	stmt *st = NULL;
	size_t nst = 0, cap = 0;
	const char *p = code, *pending = NULL;
	int depth = 0, defs = 0;
	char tq = 0;
	lr_buf names, b;
	int rc = 0;

	*out = NULL;
	*dropped = 0;
	lr_buf_init(&names, 0);
	lr_buf_init(&b, 0);
	while (*p) {
		const char *nl = strchr(p, '\n');
		const char *end = nl ? nl + 1 : p + strlen(p);
		int cont, top;

		/* An unclosed bracket (a syntax error in usage code) does not
		 * swallow the statements after it. */
		if (depth > 0 && !tq && starts_statement(p))
			depth = 0;
		cont = depth > 0 || tq;
		top = !cont && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r';
		if (top && clause(p))
			top = 0; /* except:, else:, ... go on with their statement */

		if (top && *p == '#') {
			if (!pending)
				pending = p; /* goes with the statement after it */
		} else if (top && (*p == ')' || *p == ']' || *p == '}') && nst) {
			/* a closing bracket at column 0 continues the statement, and
			 * the comments before it are inside that statement now */
			st[nst - 1].n = (size_t)(end - st[nst - 1].p);
			pending = NULL;
		} else if (top) {
			if (nst == cap) {
				stmt *t = realloc(st, (cap = cap ? cap * 2 : 16) * sizeof(*st));

				if (!t) {
					rc = lr_err_set(err, LR_ENOMEM,
					                "out of memory trimming code");
					goto cleanup;
				}
				st = t;
			}
			st[nst].p = pending ? pending : p;
			st[nst].head = p;
			st[nst].n = (size_t)(end - st[nst].p);
			st[nst].keep = 0;
			nst++;
			pending = NULL;
		} else if (nst) {
			/* an indented line, a blank one, or one inside a bracket or
			 * string: the statement goes on (and comments at column 0
			 * inside it are its own) */
			if (!pending || (*p != '\n' && *p != '\r'))
				st[nst - 1].n = (size_t)(end - st[nst - 1].p), pending = NULL;
		}
		scan_line(p, nl ? nl : end, &depth, &tq);
		p = end;
	}
	defined_names(&names, st, nst);
	for (size_t i = 0; i < nst; i++) {
		st[i].keep = keep_stmt(&st[i], &names);
		defs += st[i].keep && (starts(st[i].head, "def ") || starts(st[i].head, "class ") ||
		                       starts(st[i].head, "async def ") || starts(st[i].head, "@"));
		*dropped += !st[i].keep;
	}
	if (defs == 0 || *dropped == 0) {
		*dropped = 0; /* nothing to keep apart from, or nothing to drop */
		*out = strdup(code);
		if (!*out)
			rc = lr_err_set(err, LR_ENOMEM, "out of memory trimming code");
		goto cleanup;
	}
	/* The kept statements as they were, blank lines included. */
	for (size_t i = 0; i < nst && !rc; i++)
		if (st[i].keep)
			rc = lr_buf_append(&b, st[i].p, st[i].n);
	while (!rc && b.len &&
	       (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' ' ||
	        b.data[b.len - 1] == '\r' || b.data[b.len - 1] == '\t'))
		b.data[--b.len] = '\0';
	rc = rc ? rc : lr_buf_puts(&b, "\n");
	if (rc || !(*out = lr_buf_steal(&b)))
		rc = lr_err_set(err, LR_ENOMEM, "out of memory trimming code");
cleanup:
	free(st);
	lr_buf_free(&names);
	lr_buf_free(&b);
	return rc;
}
