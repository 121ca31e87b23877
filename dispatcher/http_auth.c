/* http_auth.c - bearer tokens and the per-token request rate.
 *
 * The tokens file has one `name token` per line (`name token revoked` for a
 * token that must get 403 rather than 401; `#` starts a comment). A token is
 * compared with every known one in constant time, so timing does not tell
 * how much of a guess was right. The rate is counted per token and second in
 * Redis (the Redis clock), so every dispatcher enforces the same limit. */
#include "http_int.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_MAX 256

typedef struct token {
	char name[64];
	char secret[TOKEN_MAX];
	size_t len;
	int revoked;
} token;

struct http_tokens {
	token *v;
	size_t n;
};

/* clang-format off */
static const lr_script rate_lua = {"http-rate",
	"-- ARGV: P, owner, limit per second. Returns the count this second.\n"
	"local t = redis.call('TIME')\n"
	"local k = ARGV[1] .. 'rate:' .. ARGV[2] .. ':' .. t[1]\n"
	"local n = redis.call('INCR', k)\n"
	"if n == 1 then redis.call('EXPIRE', k, 2) end\n"
	"return n\n"};
/* clang-format on */

int http_tokens_load(http_tokens **out, const char *path, lr_err *err)
{
	http_tokens *t = NULL;
	FILE *f;
	char line[512];
	int lineno = 0;
	int rc = 0;

	*out = NULL;
	f = fopen(path, "r");
	if (f == NULL)
		return lr_err_set(err, LR_EINVAL, "api-tokens: cannot open %s", path);
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		fclose(f);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	while (fgets(line, sizeof(line), f)) {
		char name[64] = "", secret[TOKEN_MAX] = "", flag[16] = "";
		char *hash = strchr(line, '#');
		int got;
		token *nv;

		lineno++;
		if (hash)
			*hash = '\0';
		got = sscanf(line, "%63s %255s %15s", name, secret, flag);
		if (got <= 0)
			continue;
		if (got < 2 || (got == 3 && strcmp(flag, "revoked") != 0) || strlen(secret) < 8) {
			rc = lr_err_set(
			    err, LR_EINVAL,
			    "api-tokens %s:%d: expected 'name token [revoked]' with a token "
			    "of 8 characters or more",
			    path, lineno);
			break;
		}
		nv = realloc(t->v, (t->n + 1) * sizeof(*t->v));
		if (nv == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			break;
		}
		t->v = nv;
		memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
		snprintf(t->v[t->n].name, sizeof(t->v[t->n].name), "%s", name);
		memcpy(t->v[t->n].secret, secret, strlen(secret));
		t->v[t->n].len = strlen(secret);
		t->v[t->n].revoked = got == 3;
		t->n++;
	}
	fclose(f);
	if (rc == 0 && t->n == 0)
		rc = lr_err_set(err, LR_EINVAL, "api-tokens %s: no tokens", path);
	if (rc < 0) {
		http_tokens_free(t);
		return rc;
	}
	log_info("http: %zu API token(s) from %s", t->n, path);
	*out = t;
	return 0;
}

void http_tokens_free(http_tokens *t)
{
	if (t == NULL)
		return;
	if (t->v)
		memset(t->v, 0, t->n * sizeof(*t->v));
	free(t->v);
	free(t);
}

/* Constant time in the guess and in which token matches. */
static const token *find(const http_tokens *t, const char *guess)
{
	size_t glen = strnlen(guess, TOKEN_MAX);
	const token *hit = NULL;

	for (size_t i = 0; i < t->n; i++) {
		unsigned diff = (unsigned)(glen ^ t->v[i].len);

		for (size_t j = 0; j < TOKEN_MAX; j++)
			diff |= (unsigned)((unsigned char)t->v[i].secret[j] ^
			                   (unsigned char)(j < glen ? guess[j] : 0));
		/* branch-free select */
		hit = diff == 0 ? &t->v[i] : hit;
	}
	return hit;
}

static int rate_check(http_req *q, enum MHD_Result *result)
{
	const http_config *c = &q->srv->cfg;
	const char *argv[3];
	char lim[24];
	redisReply *rep = NULL;
	long long n = 0;
	lr_redis *r;
	lr_err err;

	lr_err_clear(&err);
	if (c->rate_rps <= 0)
		return 0;
	snprintf(lim, sizeof(lim), "%ld", c->rate_rps);
	argv[0] = c->keys.prefix;
	argv[1] = q->owner;
	argv[2] = lim;
	if (http_redis(q, &r, &err) < 0 ||
	    lr_redis_eval(r, &rep, &rate_lua, 0, 3, argv, NULL, &err) < 0 ||
	    lr_reply_int(&n, rep, &err) < 0) {
		if (rep)
			freeReplyObject(rep);
		*result = http_problem_err(q, &err);
		return -1;
	}
	freeReplyObject(rep);
	if (n > c->rate_rps) {
		snprintf(q->retry_after, sizeof(q->retry_after), "1");
		*result = http_problem(q, 429, "over %ld requests per second for this token",
		                       c->rate_rps);
		return -1;
	}
	return 0;
}

int http_auth(http_req *q, enum MHD_Result *result)
{
	const http_tokens *t = q->srv->tokens;
	const char *h;
	const token *tok;

	q->owner[0] = '\0';
	if (t == NULL)
		return 0;
	h = http_header(q, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		q->challenge = 1;
		*result =
		    http_problem(q, 401, "this API needs a token: Authorization: Bearer <token>");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	tok = find(t, h);
	if (tok == NULL) {
		q->challenge = 1;
		*result = http_problem(q, 401, "unknown token");
		return -1;
	}
	if (tok->revoked) {
		*result = http_problem(q, 403, "token '%s' was revoked", tok->name);
		return -1;
	}
	snprintf(q->owner, sizeof(q->owner), "%s", tok->name);
	return rate_check(q, result);
}
