/* keys.c - key names under the configured prefix. */
#include "keys.h"

#include <stdio.h>
#include <string.h>

int lr_keys_init(lr_keys *k, const char *prefix, lr_err *err)
{
	size_t n;

	if (prefix == NULL || *prefix == '\0')
		prefix = LR_PREFIX_DEFAULT;
	n = strlen(prefix);
	if (n > LR_PREFIX_MAX)
		return lr_err_set(err, LR_EINVAL, "prefix is %zu characters, over the limit of %d",
		                  n, LR_PREFIX_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)prefix[i];

		if (ch <= ' ' || ch >= 0x7f || ch == '{' || ch == '}')
			return lr_err_set(err, LR_EINVAL,
			                  "prefix '%s' may hold only printable characters without "
			                  "spaces or braces",
			                  prefix);
	}
	memcpy(k->prefix, prefix, n + 1);
	return 0;
}

const char *lr_key(const lr_keys *k, char buf[LR_KEY_MAX], const char *name)
{
	snprintf(buf, LR_KEY_MAX, "%s%s", k->prefix, name);
	return buf;
}

const char *lr_key_job(const lr_keys *k, char buf[LR_KEY_MAX], const char *id)
{
	snprintf(buf, LR_KEY_MAX, "%sjob:%s", k->prefix, id);
	return buf;
}

const char *lr_key_job_sub(const lr_keys *k, char buf[LR_KEY_MAX], const char *id, const char *sub)
{
	snprintf(buf, LR_KEY_MAX, "%sjob:%s:%s", k->prefix, id, sub);
	return buf;
}

const char *lr_key_worker(const lr_keys *k, char buf[LR_KEY_MAX], const char *name)
{
	snprintf(buf, LR_KEY_MAX, "%sworker:%s", k->prefix, name);
	return buf;
}

int lr_job_id_valid(const char *id)
{
	size_t a = 0;
	size_t b = 0;
	const char *p = id;

	if (id == NULL || strlen(id) > LR_JOB_ID_MAX)
		return 0;
	while (*p >= '0' && *p <= '9') {
		p++;
		a++;
	}
	if (*p != '-' || a == 0 || a > 20)
		return 0;
	p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		b++;
	}
	return *p == '\0' && b > 0 && b <= 20;
}
