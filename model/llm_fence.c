/* llm_fence.c - watch a streamed reply for the end of its code block (see
 * llm.h: llm_fence). Line by line, with at most one line of state. */
#include "llm.h"

#include <string.h>

void llm_fence_init(llm_fence *f)
{
	memset(f, 0, sizeof(*f));
}

void llm_fence_usage(llm_fence *f, const char *entry)
{
	llm_usage_init(&f->usage, entry);
}

static size_t lead(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

/* A fence of three or more ` or ~ after indentation: its length, *ch set. */
static size_t fence(const char *p, size_t n, char *ch)
{
	size_t i = lead(p, n), k = 0;

	if (i >= n || (p[i] != '`' && p[i] != '~'))
		return 0;
	while (i + k < n && p[i + k] == p[i])
		k++;
	if (k < 3)
		return 0;
	*ch = p[i];
	return k;
}

/* Does this (complete or partial) line close the open block? */
static int closes(const llm_fence *f, const char *p, size_t n)
{
	char ch = 0;
	size_t k = fence(p, n, &ch), j;

	if (k < f->len || ch != f->ch)
		return 0;
	j = lead(p, n) + k;
	return lead(p + j, n - j) == n - j;
}

static void opens(llm_fence *f, const char *p, size_t n)
{
	char ch = 0;
	size_t k = fence(p, n, &ch), i;
	char lang[16];
	size_t m = 0;

	if (!k)
		return;
	i = lead(p, n) + k;
	while (i < n && p[i] == ' ')
		i++;
	while (i < n && m + 1 < sizeof(lang) && p[i] != ' ' && p[i] != '\r')
		lang[m++] = p[i++];
	lang[m] = '\0';
	f->open = 1;
	f->ch = ch;
	f->len = k;
	f->python = m == 0 || strncmp(lang, "py", 2) == 0 || strncmp(lang, "Py", 2) == 0 ||
	            strcmp(lang, "ipython") == 0;
	f->defines = 0;
}

static void body_line(llm_fence *f, const char *p, size_t n)
{
	size_t i = lead(p, n);

	p += i;
	n -= i;
	if ((n >= 4 && memcmp(p, "def ", 4) == 0) || (n >= 6 && memcmp(p, "class ", 6) == 0) ||
	    (n >= 10 && memcmp(p, "async def ", 10) == 0))
		f->defines = 1;
}

/* Code at column 0 before any fence: a reply that is bare code. */
static int starts_code(const char *p, size_t n)
{
	return (n >= 4 && memcmp(p, "def ", 4) == 0) || (n >= 6 && memcmp(p, "class ", 6) == 0) ||
	       (n >= 7 && memcmp(p, "import ", 7) == 0) || (n >= 5 && memcmp(p, "from ", 5) == 0) ||
	       (n >= 10 && memcmp(p, "async def ", 10) == 0) || (n >= 1 && p[0] == '@');
}

/* A line of code for the usage watcher: of the first Python block, or of
 * bare code. Complete lines only when `complete`. */
static void code_line(llm_fence *f, const char *p, size_t n, int complete)
{
	size_t cut = 0;

	if (!f->usage.on || !(f->bare || (f->open && f->python && f->pyblocks == 1)))
		return;
	if (f->over)
		f->usage.off = 1; /* a line too long to judge */
	if (llm_usage_line(&f->usage, p, n, f->at, complete, &cut)) {
		f->usage_stop = 1;
		f->cut = cut;
	}
}

/* A complete line (without its newline). */
static void line(llm_fence *f, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	if (!f->open) {
		opens(f, p, n);
		if (f->open) {
			f->fences++;
			f->pyblocks += f->python;
			if (f->bare) /* code, then a fence: leave the judging to extraction */
				f->bare = 0, f->usage.off = 1;
			return;
		}
		if (!f->fences && (f->bare || starts_code(p, n)))
			f->bare = 1, code_line(f, p, n, 1);
		return;
	}
	if (closes(f, p, n)) {
		if (f->python && f->defines)
			f->closed = 1;
		f->open = 0;
		return;
	}
	body_line(f, p, n);
	code_line(f, p, n, 1);
}

int llm_fence_feed(llm_fence *f, const char *text, size_t len)
{
	for (size_t i = 0; i < len && !f->closed && !f->usage_stop; i++) {
		f->pos++;
		if (text[i] == '\n') {
			line(f, f->line, f->n);
			f->n = 0;
			f->over = 0;
			f->at = f->pos;
			continue;
		}
		if (f->n < sizeof(f->line))
			f->line[f->n++] = text[i];
		else
			f->over = 1; /* a long line is code, never a fence */
	}
	/* A closing fence needs no newline after it: the model's next token
	 * would only be one. */
	if (!f->closed && f->open && f->python && f->defines && !f->over && f->n &&
	    closes(f, f->line, f->n))
		f->closed = 1;
	/* Usage is known from the start of its line: `print(` is enough. */
	if (!f->closed && !f->usage_stop && f->n && !f->over)
		code_line(f, f->line, f->n, 0);
	return f->usage_stop ? 2 : f->closed;
}
