/* gitstore_msg.c - commit messages, trailers, file names and the stored object form. */
#include "gitstore_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define SUBJECT_MAX 200

int gs_name_valid(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '\0' || name[0] == '.' || name[0] == '-')
		return 0;
	for (n = 0; name[n] != '\0'; n++) {
		unsigned char c = (unsigned char)name[n];

		if (n >= GITSTORE_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Append `s[0..n)` with control characters (other than newline and tab, and
 * CR which is dropped) turned into spaces, so a summary quoting hostile output
 * cannot smuggle terminal escapes into `git log`. */
static int append_clean(lr_buf *out, const char *s, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char ch = (char)c;

		if (c == '\r')
			continue;
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			ch = ' ';
		rc = lr_buf_append(out, &ch, 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Length of `s[0..n)` cut to at most `max` bytes without splitting a UTF-8
 * sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

int gs_message_build(lr_buf *out, const char *summary, long iteration, long attempt,
                     const char *job_id, size_t max, lr_err *err)
{
	const char *s = summary ? summary : "";
	const char *nl;
	size_t slen, sub_len, body_len;
	int rc;

	slen = strlen(s);
	if (slen > max)
		return lr_err_set(err, LR_ETOOBIG, "summary is %zu bytes, the limit is %zu", slen,
		                  max);
	/* Leading blank lines would make an empty subject. */
	while (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t')
		s++;
	slen = strlen(s);
	nl = memchr(s, '\n', slen);
	sub_len = nl ? (size_t)(nl - s) : slen;
	while (sub_len > 0 &&
	       (s[sub_len - 1] == ' ' || s[sub_len - 1] == '\r' || s[sub_len - 1] == '\t'))
		sub_len--;
	lr_buf_reset(out);
	if (sub_len == 0)
		rc = lr_buf_printf(out, "iteration %ld", iteration);
	else
		rc = append_clean(out, s, utf8_cut(s, sub_len, SUBJECT_MAX));
	if (rc < 0)
		goto fail;
	rc = lr_buf_puts(out, "\n\n");
	if (rc < 0)
		goto fail;
	if (nl != NULL) {
		const char *body = nl + 1;

		body_len = strlen(body);
		while (body_len > 0 && (body[body_len - 1] == '\n' || body[body_len - 1] == ' ' ||
		                        body[body_len - 1] == '\r' || body[body_len - 1] == '\t'))
			body_len--;
		while (body_len > 0 && (*body == '\n' || *body == '\r')) {
			body++;
			body_len--;
		}
		if (body_len > 0) {
			rc = append_clean(out, body, body_len);
			if (rc == 0)
				rc = lr_buf_puts(out, "\n\n");
			if (rc < 0)
				goto fail;
		}
	}
	/* The trailers come last: readers take the last "Iteration:" line, so a
	 * summary that quotes such a line cannot change what the commit says. */
	rc = lr_buf_printf(out, "Iteration: %ld\nAttempt: %ld\nJob: %s\n", iteration, attempt,
	                   job_id);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	if (rc == LR_ETOOBIG)
		return lr_err_set(err, rc, "commit message exceeds %zu bytes", out->max);
	return lr_err_set(err, rc, "out of memory building a commit message");
}

int gs_message_trailer(long *val, const char *msg, const char *key)
{
	size_t klen = strlen(key);
	const char *p, *found = NULL;
	char *end;
	long v;

	for (p = msg; p != NULL && *p != '\0';) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ':' && p[klen + 1] == ' ')
			found = p + klen + 2;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (found == NULL || *found < '0' || *found > '9')
		return LR_ENOTFOUND;
	errno = 0;
	v = strtol(found, &end, 10);
	if (errno != 0 || (*end != '\n' && *end != '\0'))
		return LR_ENOTFOUND;
	*val = v;
	return 0;
}

char *gs_message_subject(const char *msg)
{
	size_t n = strcspn(msg, "\n");
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, msg, n);
	s[n] = '\0';
	return s;
}

int gs_obj_encode(char **value, size_t *len, git_object_t type, const void *data, size_t n)
{
	const char *tname = git_object_type2string(type);
	char head[64];
	int hlen;
	char *v;

	*value = NULL;
	hlen = snprintf(head, sizeof(head), "%s %zu", tname, n);
	if (hlen < 0 || (size_t)hlen >= sizeof(head) || n > SIZE_MAX - (size_t)hlen - 1)
		return LR_EINVAL;
	v = malloc((size_t)hlen + 1 + n);
	if (v == NULL)
		return LR_ENOMEM;
	memcpy(v, head, (size_t)hlen + 1); /* the NUL separates header and content */
	if (n > 0)
		memcpy(v + hlen + 1, data, n);
	*value = v;
	*len = (size_t)hlen + 1 + n;
	return 0;
}

int gs_obj_parse(git_object_t *type, const char **data, size_t *n, const char *value, size_t len,
                 const git_oid *expect, lr_err *err)
{
	const char *nul = memchr(value, '\0', len < 32 ? len : 32);
	const char *sp;
	char tname[16];
	unsigned long long size = 0;
	const char *p;
	git_object_t t;
	git_oid got;

	if (nul == NULL)
		return lr_err_set(err, LR_EPROTO, "stored object has no header");
	sp = memchr(value, ' ', (size_t)(nul - value));
	if (sp == NULL || sp == value || (size_t)(sp - value) >= sizeof(tname))
		return lr_err_set(err, LR_EPROTO, "stored object has a malformed header");
	memcpy(tname, value, (size_t)(sp - value));
	tname[sp - value] = '\0';
	t = git_object_string2type(tname);
	if (t != GIT_OBJECT_BLOB && t != GIT_OBJECT_TREE && t != GIT_OBJECT_COMMIT &&
	    t != GIT_OBJECT_TAG)
		return lr_err_set(err, LR_EPROTO, "stored object has unknown type '%s'", tname);
	if (sp + 1 == nul)
		return lr_err_set(err, LR_EPROTO, "stored object has no size");
	for (p = sp + 1; p < nul; p++) {
		if (*p < '0' || *p > '9' || size > (ULLONG_MAX - 9) / 10)
			return lr_err_set(err, LR_EPROTO, "stored object has a malformed size");
		size = size * 10 + (unsigned long long)(*p - '0');
	}
	if (size != (unsigned long long)(len - (size_t)(nul + 1 - value)))
		return lr_err_set(err, LR_EPROTO, "stored object says %llu bytes but holds %zu",
		                  size, len - (size_t)(nul + 1 - value));
	*type = t;
	*data = nul + 1;
	*n = (size_t)size;
	if (expect != NULL) {
		if (git_odb_hash(&got, *data, *n, t) != 0 || !git_oid_equal(&got, expect)) {
			char hex[GIT_OID_HEXSZ + 1];

			git_oid_tostr(hex, sizeof(hex), expect);
			return lr_err_set(err, LR_EPROTO, "stored object %s does not match its id",
			                  hex);
		}
	}
	return 0;
}
