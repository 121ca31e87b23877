/* extract.c - find the Python code in a model's reply (see extract.h).
 * Works on a line table of a private copy of the reply; nothing is read
 * outside [0, len). */
#include "extract.h"

#include "buf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct line {
	const char *p;
	size_t n; /* without the newline (and without a trailing \r) */
} line;

typedef struct block {
	size_t first, count; /* body lines: [first, first + count) */
	char lang[24];
	int closed;
	int python;  /* untagged or tagged as Python */
	int defines; /* has a top-level def/class/import */
	int entry;   /* defines the entry point */
	int used;
} block;

#define MAX_BLOCKS 64

typedef struct scan {
	line *lines;
	size_t nlines;
	block blocks[MAX_BLOCKS];
	int nblocks;
	const char *entry;
	int program; /* extract_program: a whole program, statements and all */
} scan;

static size_t indent_of(const line *l)
{
	size_t i = 0;

	while (i < l->n && (l->p[i] == ' ' || l->p[i] == '\t'))
		i++;
	return i;
}

static int blank(const line *l)
{
	return indent_of(l) == l->n;
}

static int starts(const char *p, size_t n, const char *word)
{
	size_t w = strlen(word);

	return n >= w && memcmp(p, word, w) == 0;
}

/* A fence is ``` or ~~~ (three or more) after optional indentation. Returns
 * the fence length and sets *ch, or 0. */
static size_t fence_at(const line *l, char *ch)
{
	size_t i = indent_of(l), k = 0;

	if (i >= l->n || (l->p[i] != '`' && l->p[i] != '~'))
		return 0;
	while (i + k < l->n && l->p[i + k] == l->p[i])
		k++;
	if (k < 3)
		return 0;
	*ch = l->p[i];
	return k;
}

static const char *const PY_TAGS[] = {"python",  "python3", "py",   "py3",
                                      "python2", "ipython", "sage", NULL};

static void read_lang(block *b, const line *l, size_t fence_len)
{
	size_t i = indent_of(l) + fence_len, k = 0;

	while (i < l->n && (l->p[i] == ' ' || l->p[i] == '{' || l->p[i] == '.'))
		i++;
	while (
	    i < l->n && k + 1 < sizeof(b->lang) &&
	    (isalnum((unsigned char)l->p[i]) || l->p[i] == '_' || l->p[i] == '+' || l->p[i] == '-'))
		b->lang[k++] = (char)tolower((unsigned char)l->p[i++]);
	b->lang[k] = '\0';
	b->python = k == 0;
	for (int t = 0; PY_TAGS[t]; t++)
		if (strcmp(b->lang, PY_TAGS[t]) == 0)
			b->python = 1;
}

/* Does this (dedented) line define something at the top level? */
static int defining(const char *p, size_t n)
{
	return starts(p, n, "def ") || starts(p, n, "async def ") || starts(p, n, "class ") ||
	       starts(p, n, "import ") || (starts(p, n, "from ") && n > 5) || starts(p, n, "@");
}

static int defines_entry(const char *p, size_t n, const char *entry)
{
	size_t e = strlen(entry), k;

	if (starts(p, n, "async ")) {
		p += 6;
		n -= 6;
	}
	if (starts(p, n, "def "))
		k = 4;
	else if (starts(p, n, "class "))
		k = 6;
	else
		return 0;
	p += k;
	n -= k;
	while (n && *p == ' ') {
		p++;
		n--;
	}
	return n > e && memcmp(p, entry, e) == 0 && (p[e] == '(' || p[e] == ' ' || p[e] == ':');
}

static void classify_block(scan *s, block *b)
{
	size_t min = (size_t)-1;

	for (size_t i = b->first; i < b->first + b->count; i++)
		if (!blank(&s->lines[i]) && indent_of(&s->lines[i]) < min)
			min = indent_of(&s->lines[i]);
	for (size_t i = b->first; i < b->first + b->count; i++) {
		const line *l = &s->lines[i];

		if (blank(l) || indent_of(l) != min)
			continue;
		if (defining(l->p + min, l->n - min))
			b->defines = 1;
		if (s->entry && defines_entry(l->p + min, l->n - min, s->entry))
			b->entry = 1;
	}
}

static void find_blocks(scan *s)
{
	size_t i = 0;

	while (i < s->nlines && s->nblocks < MAX_BLOCKS) {
		char ch = 0, ch2 = 0;
		size_t k = fence_at(&s->lines[i], &ch);
		block *b;

		if (!k) {
			i++;
			continue;
		}
		b = &s->blocks[s->nblocks++];
		memset(b, 0, sizeof(*b));
		read_lang(b, &s->lines[i], k);
		b->first = ++i;
		while (i < s->nlines) {
			const line *l = &s->lines[i];
			size_t k2 = fence_at(l, &ch2);

			/* A closing fence: same character, at least as long, nothing
			 * after it but blanks. */
			if (k2 >= k && ch2 == ch && indent_of(l) + k2 <= l->n) {
				size_t j = indent_of(l) + k2;

				while (j < l->n && (l->p[j] == ' ' || l->p[j] == '\t'))
					j++;
				if (j == l->n) {
					b->closed = 1;
					break;
				}
			}
			i++;
		}
		b->count = i - b->first;
		classify_block(s, b);
		if (b->closed)
			i++;
	}
}

/* Append lines [first, first+count) to `out`, dropping their common
 * indentation and leading/trailing blank lines. */
static int emit(lr_buf *out, const scan *s, size_t first, size_t count)
{
	size_t min = (size_t)-1, end = first + count;
	int rc = 0;

	while (first < end && blank(&s->lines[first]))
		first++;
	while (end > first && blank(&s->lines[end - 1]))
		end--;
	if (first == end)
		return 0;
	for (size_t i = first; i < end; i++)
		if (!blank(&s->lines[i]) && indent_of(&s->lines[i]) < min)
			min = indent_of(&s->lines[i]);
	if (out->len)
		rc = lr_buf_puts(out, "\n\n");
	for (size_t i = first; i < end && !rc; i++) {
		const line *l = &s->lines[i];
		size_t skip = blank(l) ? l->n : min;

		rc = lr_buf_append(out, l->p + skip, l->n - skip);
		if (!rc)
			rc = lr_buf_append(out, "\n", 1);
	}
	return rc;
}

static int looks_like_code(const line *l);

/* Does the block read standard input (input(), sys.stdin, open(0))? */
static int block_reads_input(const scan *s, const block *b)
{
	for (size_t i = b->first; i < b->first + b->count; i++) {
		const line *l = &s->lines[i];

		if (memmem(l->p, l->n, "input(", 6) || memmem(l->p, l->n, "stdin", 5) ||
		    memmem(l->p, l->n, "open(0", 6))
			return 1;
	}
	return 0;
}

/* Its first line that is not blank reads as Python, not as data. */
static int block_is_code(const scan *s, const block *b)
{
	for (size_t i = b->first; i < b->first + b->count; i++) {
		const line *l = &s->lines[i];

		if (!blank(l))
			return indent_of(l) == 0 && looks_like_code(l);
	}
	return 0;
}

static int pick_blocks(scan *s, extract_result *out)
{
	int chosen = -1, any_python = 0;

	for (int i = 0; i < s->nblocks; i++)
		any_python |= s->blocks[i].python && s->blocks[i].count > 0;
	/* A block tagged with another language counts only if nothing is
	 * tagged Python and it defines Python-looking things. */
	for (int i = 0; i < s->nblocks; i++)
		if (!any_python && !s->blocks[i].python && s->blocks[i].defines)
			s->blocks[i].python = 1;
	if (s->entry) {
		for (int i = 0; i < s->nblocks; i++)
			if (s->blocks[i].python && s->blocks[i].entry &&
			    (s->blocks[i].closed || chosen < 0))
				chosen = i;
	}
	if (chosen >= 0) {
		for (int i = 0; i < chosen; i++)
			if (s->blocks[i].python && s->blocks[i].defines && !s->blocks[i].entry)
				s->blocks[i].used = 1;
		s->blocks[chosen].used = 1;
	} else {
		for (int i = 0; i < s->nblocks; i++)
			if (s->blocks[i].python && s->blocks[i].defines)
				s->blocks[i].used = 1, chosen = i;
		/* A program's driver may come in a block of its own after its
		 * definitions: one that reads the input is part of it. */
		for (int i = 0; s->program && chosen >= 0 && i < s->nblocks; i++)
			if (s->blocks[i].python && !s->blocks[i].used && i > 0 &&
			    s->blocks[i - 1].used && block_reads_input(s, &s->blocks[i]))
				s->blocks[i].used = 1, chosen = i;
	}
	if (chosen < 0) {
		/* Only usage-like Python blocks: take the longest, a script (for a
		 * program, one that reads like code rather than an input example). */
		size_t best = 0;

		for (int i = 0; i < s->nblocks; i++)
			if (s->blocks[i].python && s->blocks[i].count > best &&
			    (!s->program || block_is_code(s, &s->blocks[i])))
				best = s->blocks[i].count, chosen = i;
		if (chosen >= 0)
			s->blocks[chosen].used = 1;
	}
	for (int i = 0; i < s->nblocks; i++) {
		if (!s->blocks[i].used)
			continue;
		out->blocks_used++;
		out->truncated |= !s->blocks[i].closed;
		out->defines_entry |= s->blocks[i].entry;
	}
	return chosen >= 0;
}

static int is_keyword_line(const char *p, size_t n)
{
	static const char *const kw[] = {
	    "def ",   "async ", "class ",  "import ", "from ",  "@",       "#",        "if ",
	    "elif ",  "else:",  "for ",    "while ",  "try:",   "except",  "finally:", "with ",
	    "return", "raise ", "assert ", "print(",  "pass",   "global ", "del ",     "yield",
	    "lambda", ")",      "]",       "}",       "\"\"\"", "'''",     NULL,
	};

	for (int i = 0; kw[i]; i++)
		if (starts(p, n, kw[i]))
			return 1;
	return 0;
}

/* A column-0 line of an unfenced reply: Python, or prose? */
static int looks_like_code(const line *l)
{
	size_t i = 0;

	if (blank(l) || indent_of(l) > 0)
		return 1;
	if (is_keyword_line(l->p, l->n))
		return 1;
	/* name, name.attr, name[...]: then an assignment, a call or a subscript */
	if (!(isalpha((unsigned char)l->p[0]) || l->p[0] == '_'))
		return 0;
	while (i < l->n && (isalnum((unsigned char)l->p[i]) || l->p[i] == '_' || l->p[i] == '.'))
		i++;
	while (i < l->n && l->p[i] == ' ')
		i++;
	if (i >= l->n)
		return 0;
	if (l->p[i] == '(' || l->p[i] == '[' || l->p[i] == ',')
		return 1;
	if (l->p[i] == '=' && (i + 1 >= l->n || l->p[i + 1] != '='))
		return 1;
	return i + 1 < l->n && strchr("+-*/%|&", l->p[i]) && l->p[i + 1] == '=';
}

static int code_start(const scan *s, const line *l)
{
	if (indent_of(l) != 0 || blank(l))
		return 0;
	/* A program may begin with any statement: n = int(input()) */
	if (s->program && looks_like_code(l) && !starts(l->p, l->n, ")") &&
	    !starts(l->p, l->n, "]") && !starts(l->p, l->n, "}"))
		return 1;
	return defining(l->p, l->n) || starts(l->p, l->n, "#!") ||
	       (starts(l->p, l->n, "from ") && memmem(l->p, l->n, " import ", 8));
}

static int pick_unfenced(scan *s, extract_result *out, lr_buf *code)
{
	size_t start = s->nlines, end;

	for (size_t i = 0; i < s->nlines; i++)
		if (code_start(s, &s->lines[i])) {
			start = i;
			break;
		}
	if (start == s->nlines)
		return 0;
	for (end = start + 1; end < s->nlines && looks_like_code(&s->lines[end]); end++)
		;
	for (size_t i = start; i < end; i++)
		if (s->entry && indent_of(&s->lines[i]) == 0 &&
		    defines_entry(s->lines[i].p, s->lines[i].n, s->entry))
			out->defines_entry = 1;
	out->how = EXTRACT_UNFENCED;
	return emit(code, s, start, end - start) ? -1 : 1;
}

void extract_result_free(extract_result *r)
{
	if (!r)
		return;
	free(r->code);
	r->code = NULL;
}

static int split_lines(scan *s, const char *text, size_t len)
{
	size_t cap = 1;

	for (size_t i = 0; i < len; i++)
		cap += text[i] == '\n';
	s->lines = calloc(cap, sizeof(*s->lines));
	if (!s->lines)
		return LR_ENOMEM;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		line *l = &s->lines[s->nlines++];

		l->p = text + i;
		l->n = n;
		if (l->n && l->p[l->n - 1] == '\r')
			l->n--;
		i += n + 1;
	}
	return 0;
}

static int extract(extract_result *out, const char *reply, size_t len, const char *entry_point,
                   int program, lr_err *err)
{
	scan s;
	lr_buf code;
	const char *text = reply, *think;
	size_t tlen = len;
	int rc = 0, found;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	lr_buf_init(&code, 0);
	if (len > EXTRACT_MAX_REPLY)
		return lr_err_set(err, LR_ETOOBIG, "the model's reply (%zu bytes) exceeds %u bytes",
		                  len, EXTRACT_MAX_REPLY);
	s.entry = entry_point && *entry_point ? entry_point : NULL;
	s.program = program;
	if (!reply)
		text = reply = "";
	/* The code becomes a C string: a NUL byte ends the reply. */
	tlen = strnlen(reply, len);
	/* Reasoning models think aloud first; code in the thoughts is a draft. */
	while ((think = memmem(text, tlen, "</think>", 8))) {
		tlen -= (size_t)(think + 8 - text);
		text = think + 8;
	}
	if (split_lines(&s, text, tlen)) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory extracting code");
		goto cleanup;
	}
	find_blocks(&s);
	out->blocks = s.nblocks;
	if (s.nblocks && pick_blocks(&s, out)) {
		out->how = EXTRACT_FENCED;
		for (int i = 0; i < s.nblocks && !rc; i++)
			if (s.blocks[i].used)
				rc = emit(&code, &s, s.blocks[i].first, s.blocks[i].count);
		found = code.len > 0;
		if (!found) /* only empty blocks: try the prose instead */
			out->how = EXTRACT_NONE, out->blocks_used = 0, out->truncated = 0;
	} else {
		found = 0;
	}
	if (!found && !rc) {
		found = pick_unfenced(&s, out, &code);
		rc = found < 0 ? LR_ENOMEM : 0;
	}
	if (rc) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory extracting code");
		goto cleanup;
	}
	if (!found || code.len == 0) {
		out->how = EXTRACT_NONE;
		out->defines_entry = 0;
		if (tlen == 0 || blank(&(line){text, tlen}))
			rc = lr_err_set(err, LR_ENOTFOUND, "the model's reply is empty");
		else if (s.nblocks)
			rc = lr_err_set(err, LR_ENOTFOUND,
			                "the model's reply contains no Python code (%d fenced "
			                "block%s, none of it Python)",
			                s.nblocks, s.nblocks == 1 ? "" : "s");
		else
			rc = lr_err_set(err, LR_ENOTFOUND,
			                "the model's reply contains no code (%zu bytes of prose)",
			                tlen);
		goto cleanup;
	}
	out->code = lr_buf_steal(&code);
	if (!out->code)
		rc = lr_err_set(err, LR_ENOMEM, "out of memory extracting code");
cleanup:
	free(s.lines);
	lr_buf_free(&code);
	return rc;
}

int extract_code(extract_result *out, const char *reply, size_t len, const char *entry_point,
                 lr_err *err)
{
	return extract(out, reply, len, entry_point, 0, err);
}

int extract_program(extract_result *out, const char *reply, size_t len, lr_err *err)
{
	return extract(out, reply, len, NULL, 1, err);
}

static int task_is_code(const char *t)
{
	while (*t == '\n' || *t == ' ' || *t == '\t')
		t++;
	return !strncmp(t, "def ", 4) || !strncmp(t, "from ", 5) || !strncmp(t, "import ", 7) ||
	       !strncmp(t, "async def ", 10) || !strncmp(t, "class ", 6);
}

/* Does `code` have a line at column 0 that defines or imports something? */
static int has_top_level_def(const char *code)
{
	for (const char *l = code; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		size_t n = strcspn(l, "\n");

		if (defining(l, n))
			return 1;
	}
	return 0;
}

int extract_complete(char **out, const char *code, const char *task, int defines_entry, lr_err *err)
{
	lr_buf b;
	int rc = 0;

	*out = NULL;
	lr_buf_init(&b, 0);
	if (!task || !task_is_code(task)) {
		rc = lr_buf_puts(&b, code);
	} else if (!defines_entry) {
		size_t n = strlen(task);
		const char *first = code + strspn(code, "\n");
		int body = !has_top_level_def(code) && *first != ' ' && *first != '\t';

		rc = lr_buf_puts(&b, task);
		if (!rc && n && task[n - 1] != '\n')
			rc = lr_buf_puts(&b, "\n");
		/* A bare body, dedented by the extraction: back under the def. */
		for (const char *l = code; *l && !rc && body;) {
			const char *nl = strchr(l, '\n');
			size_t k = nl ? (size_t)(nl - l) : strlen(l);

			if (k)
				rc = lr_buf_puts(&b, "    ");
			rc = rc ? rc : lr_buf_append(&b, l, k);
			rc = rc ? rc : lr_buf_puts(&b, "\n");
			l += k + (nl ? 1 : 0);
		}
		rc = rc || body ? rc : lr_buf_puts(&b, code);
	} else {
		/* Top-level import lines of the task that the code lacks. */
		for (const char *l = task; *l && !rc;) {
			const char *nl = strchr(l, '\n');
			size_t n = nl ? (size_t)(nl - l) : strlen(l);

			if ((starts(l, n, "import ") || starts(l, n, "from ")) &&
			    !memmem(code, strlen(code), l, n)) {
				rc = lr_buf_append(&b, l, n);
				rc = rc ? rc : lr_buf_puts(&b, "\n");
			}
			l += n + (nl ? 1 : 0);
		}
		if (!rc && b.len)
			rc = lr_buf_puts(&b, "\n");
		rc = rc ? rc : lr_buf_puts(&b, code);
	}
	if (rc) {
		lr_buf_free(&b);
		return lr_err_set(err, LR_ENOMEM, "out of memory completing code");
	}
	*out = lr_buf_steal(&b);
	return *out ? 0 : lr_err_set(err, LR_ENOMEM, "out of memory completing code");
}
