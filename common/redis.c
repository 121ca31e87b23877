/* redis.c - hiredis connection with reconnect, bounded replies and scripts. */
#include "redis.h"

#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define SCRIPT_CACHE_MAX 32

struct lr_redis {
	redisContext *c; /* NULL while disconnected */
	lr_redis_url url;
	char *client_name;
	long connect_timeout_ms;
	long command_timeout_ms;
	char where[300];
	/* Reply bounds, enforced by the reader's object functions. */
	redisReplyObjectFunctions fn;
	redisReplyObjectFunctions *orig;
	size_t reply_max;
	size_t reply_bytes;
	int reply_over;
	int ever_connected;
	/* Scripts known to be loaded on this connection. */
	const lr_script *scripts[SCRIPT_CACHE_MAX];
	char sha[SCRIPT_CACHE_MAX][41];
	size_t nscripts;
};

/* ---- URL ---------------------------------------------------------------- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..n) into a new string. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	size_t j = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			out[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 +
			                  hexval((unsigned char)s[i + 2]));
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

static int parse_long(long *out, const char *s, size_t n, long min, long max)
{
	char tmp[32];
	char *end = NULL;
	long v;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	v = strtol(tmp, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void lr_redis_url_free(lr_redis_url *u)
{
	if (u == NULL)
		return;
	free(u->host);
	free(u->path);
	free(u->user);
	free(u->password);
	memset(u, 0, sizeof(*u));
}

int lr_redis_url_parse(lr_redis_url *out, const char *url, lr_err *err)
{
	const char *p;
	const char *at;
	const char *end;
	const char *query = NULL;
	int is_unix = 0;
	int rc = LR_EINVAL;
	long v;

	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (url == NULL || *url == '\0')
		url = LR_REDIS_URL_DEFAULT;
	if (strncmp(url, "redis://", 8) == 0) {
		p = url + 8;
	} else if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		is_unix = 1;
	} else if (strncmp(url, "rediss://", 9) == 0) {
		return lr_err_set(err, LR_EINVAL,
		                  "redis URL: rediss:// (TLS) is not supported by hiredis 0.14; "
		                  "use a TLS tunnel and redis://");
	} else {
		return lr_err_set(err, LR_EINVAL,
		                  "redis URL must start with redis:// or unix://, got '%.64s'",
		                  url);
	}
	end = p + strlen(p);
	query = strchr(p, '?');
	if (query)
		end = query;
	/* Credentials end at the first '@'; a password holding '@' writes it
	 * percent-encoded (%40), as in every URL. */
	at = memchr(p, '@', (size_t)(end - p));
	if (at != NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon == NULL) {
			/* "redis://secret@host" would name a user without a
			 * password; refuse rather than silently not authenticate. */
			rc = lr_err_set(err, LR_EINVAL,
			                "redis URL: credentials must be ':password@' or "
			                "'user:password@'");
			goto fail;
		}
		if (colon > p) {
			out->user = pct_decode(p, (size_t)(colon - p));
			if (out->user == NULL)
				goto oom;
		}
		out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
		if (out->password == NULL)
			goto oom;
		p = at + 1;
	}
	if (is_unix) {
		if (p >= end || *p != '/') {
			rc = lr_err_set(err, LR_EINVAL,
			                "redis URL: unix:// needs an absolute socket path");
			goto fail;
		}
		out->path = strndup(p, (size_t)(end - p));
		if (out->path == NULL)
			goto oom;
	} else {
		const char *hs = p;
		const char *he;
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *hostend = slash ? slash : end;
		const char *portp = NULL;

		if (*hs == '[') {
			he = memchr(hs, ']', (size_t)(hostend - hs));
			if (he == NULL) {
				rc = lr_err_set(err, LR_EINVAL,
				                "redis URL: unterminated '[' in host");
				goto fail;
			}
			hs++;
			if (he + 1 < hostend && he[1] == ':')
				portp = he + 2;
		} else {
			he = memchr(hs, ':', (size_t)(hostend - hs));
			if (he != NULL)
				portp = he + 1;
			else
				he = hostend;
		}
		if (he == hs) {
			rc = lr_err_set(err, LR_EINVAL, "redis URL: no host in '%.64s'", url);
			goto fail;
		}
		out->host = strndup(hs, (size_t)(he - hs));
		if (out->host == NULL)
			goto oom;
		if (portp != NULL) {
			if (parse_long(&v, portp, (size_t)(hostend - portp), 1, 65535) < 0) {
				rc = lr_err_set(err, LR_EINVAL, "redis URL: bad port in '%.64s'",
				                url);
				goto fail;
			}
			out->port = (int)v;
		}
		if (slash != NULL && slash + 1 < end) {
			if (parse_long(&v, slash + 1, (size_t)(end - slash - 1), 0, 100000) < 0) {
				rc = lr_err_set(
				    err, LR_EINVAL,
				    "redis URL: the path must be a database number, got '%.*s'",
				    (int)(end - slash - 1), slash + 1);
				goto fail;
			}
			out->db = v;
		}
	}
	if (query != NULL) {
		const char *q = query + 1;

		while (*q) {
			const char *amp = strchr(q, '&');
			size_t n = amp ? (size_t)(amp - q) : strlen(q);

			if (n > 3 && strncmp(q, "db=", 3) == 0) {
				if (parse_long(&v, q + 3, n - 3, 0, 100000) < 0) {
					rc = lr_err_set(err, LR_EINVAL,
					                "redis URL: bad db in query");
					goto fail;
				}
				out->db = v;
			} else if (n > 9 && strncmp(q, "password=", 9) == 0) {
				free(out->password);
				out->password = pct_decode(q + 9, n - 9);
				if (out->password == NULL)
					goto oom;
			} else {
				rc = lr_err_set(
				    err, LR_EINVAL,
				    "redis URL: unknown query parameter '%.*s' (db, password)",
				    (int)(n > 32 ? 32 : n), q);
				goto fail;
			}
			q += n;
			if (*q == '&')
				q++;
		}
	}
	return 0;
oom:
	rc = lr_err_set(err, LR_ENOMEM, "out of memory");
fail:
	lr_redis_url_free(out);
	return rc;
}

/* ---- bounded replies ------------------------------------------------------ */

static int reply_account(const redisReadTask *task, size_t bytes)
{
	lr_redis *r = task->privdata;

	if (r == NULL)
		return 0;
	if (r->reply_bytes + bytes > r->reply_max || r->reply_bytes + bytes < r->reply_bytes) {
		r->reply_over = 1;
		return -1;
	}
	r->reply_bytes += bytes;
	return 0;
}

static void *bounded_string(const redisReadTask *task, char *str, size_t len)
{
	lr_redis *r = task->privdata;

	if (reply_account(task, len + sizeof(redisReply)) < 0)
		return NULL;
	return r->orig->createString(task, str, len);
}

static void *bounded_array(const redisReadTask *task, int elements)
{
	lr_redis *r = task->privdata;

	if (elements < 0 ||
	    reply_account(task, (size_t)elements * sizeof(void *) + sizeof(redisReply)) < 0)
		return NULL;
	return r->orig->createArray(task, elements);
}

static void *bounded_integer(const redisReadTask *task, long long v)
{
	lr_redis *r = task->privdata;

	if (reply_account(task, sizeof(redisReply)) < 0)
		return NULL;
	return r->orig->createInteger(task, v);
}

static void *bounded_nil(const redisReadTask *task)
{
	lr_redis *r = task->privdata;

	if (reply_account(task, sizeof(redisReply)) < 0)
		return NULL;
	return r->orig->createNil(task);
}

/* ---- connection ------------------------------------------------------------ */

static void conn_drop(lr_redis *r)
{
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
	/* A restarted server has forgotten our scripts; so may a new one. */
	r->nscripts = 0;
}

void lr_redis_drop(lr_redis *r)
{
	if (r != NULL)
		conn_drop(r);
}

static struct timeval ms_tv(long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* Run a command on a fresh connection during setup; err gets the reason. */
static int setup_cmd(lr_redis *r, lr_err *err, const char *what, int argc, const char **argv)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
	int rc = 0;

	if (rep == NULL) {
		rc = lr_err_set(err, LR_EIO, "redis at %s: %s failed: %s", r->where, what,
		                r->c->errstr[0] ? r->c->errstr : "connection lost");
	} else if (rep->type == REDIS_REPLY_ERROR) {
		rc = lr_err_set(err, LR_EINVAL, "redis at %s: %s refused: %.200s", r->where, what,
		                rep->str);
	}
	if (rep)
		freeReplyObject(rep);
	return rc;
}

static int conn_open(lr_redis *r, lr_err *err)
{
	struct timeval ctv = ms_tv(r->connect_timeout_ms);
	struct timeval ttv = ms_tv(r->command_timeout_ms);
	char dbs[24];
	int rc;

	conn_drop(r);
	if (r->url.path != NULL)
		r->c = redisConnectUnixWithTimeout(r->url.path, ctv);
	else
		r->c = redisConnectWithTimeout(r->url.host, r->url.port, ctv);
	if (r->c == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory connecting to redis");
	if (r->c->err) {
		rc = lr_err_set(err, LR_EIO, "redis at %s is unreachable: %s", r->where,
		                r->c->errstr);
		goto fail;
	}
	if (redisSetTimeout(r->c, ttv) != REDIS_OK) {
		rc =
		    lr_err_set(err, LR_EIO, "redis at %s: cannot set the socket timeout", r->where);
		goto fail;
	}
	if (r->url.path == NULL)
		redisEnableKeepAlive(r->c);
	/* Bound every reply read on this connection. */
	r->orig = r->c->reader->fn;
	r->fn = *r->orig;
	r->fn.createString = bounded_string;
	r->fn.createArray = bounded_array;
	r->fn.createInteger = bounded_integer;
	r->fn.createNil = bounded_nil;
	r->c->reader->fn = &r->fn;
	r->c->reader->privdata = r;

	if (r->url.password != NULL && r->url.password[0] != '\0') {
		const char *argv[3] = {"AUTH", r->url.user ? r->url.user : r->url.password,
		                       r->url.password};

		rc = setup_cmd(r, err, "AUTH", r->url.user ? 3 : 2, argv);
		if (rc < 0)
			goto fail;
	}
	if (r->url.db != 0) {
		const char *argv[2] = {"SELECT", dbs};

		snprintf(dbs, sizeof(dbs), "%ld", r->url.db);
		rc = setup_cmd(r, err, "SELECT", 2, argv);
		if (rc < 0)
			goto fail;
	}
	if (r->client_name != NULL) {
		const char *argv[3] = {"CLIENT", "SETNAME", r->client_name};

		rc = setup_cmd(r, err, "CLIENT SETNAME", 3, argv);
		if (rc < 0)
			goto fail;
	}
	if (r->ever_connected)
		log_info("reconnected to redis at %s", r->where);
	r->ever_connected = 1;
	return 0;
fail:
	conn_drop(r);
	return rc;
}

int lr_redis_open(lr_redis **out, const lr_redis_opts *opts, lr_err *err)
{
	lr_redis *r;
	int rc;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	rc = lr_redis_url_parse(&r->url, opts->url, err);
	if (rc < 0)
		goto fail;
	if (opts->password != NULL && opts->password[0] != '\0') {
		free(r->url.password);
		r->url.password = strdup(opts->password);
		if (r->url.password == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			goto fail;
		}
	}
	if (opts->client_name != NULL) {
		r->client_name = strdup(opts->client_name);
		if (r->client_name == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			goto fail;
		}
		for (char *p = r->client_name; *p; p++)
			if (*p == ' ' || *p == '\n' || *p == '\r')
				*p = '-';
	}
	r->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 2000;
	r->command_timeout_ms = opts->command_timeout_ms > 0 ? opts->command_timeout_ms : 5000;
	r->reply_max = opts->reply_max > 0 ? opts->reply_max : (size_t)64 << 20;
	if (r->url.path)
		snprintf(r->where, sizeof(r->where), "%s", r->url.path);
	else if (strchr(r->url.host, ':'))
		snprintf(r->where, sizeof(r->where), "[%s]:%d", r->url.host, r->url.port);
	else
		snprintf(r->where, sizeof(r->where), "%s:%d", r->url.host, r->url.port);
	rc = conn_open(r, err);
	if (rc < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	lr_redis_close(r);
	return rc;
}

void lr_redis_close(lr_redis *r)
{
	if (r == NULL)
		return;
	conn_drop(r);
	lr_redis_url_free(&r->url);
	free(r->client_name);
	free(r);
}

int lr_redis_ensure(lr_redis *r, lr_err *err)
{
	if (r->c != NULL)
		return 0;
	return conn_open(r, err);
}

int lr_redis_is_connected(const lr_redis *r)
{
	return r != NULL && r->c != NULL;
}

long lr_redis_block_ms(const lr_redis *r, long want)
{
	/* Leave a margin for the round trip and a busy server. */
	long max = r->command_timeout_ms - r->command_timeout_ms / 4 - 100;

	if (max < 1)
		max = 1;
	if (want <= 0 || want > max)
		return max;
	return want;
}

const char *lr_redis_where(const lr_redis *r)
{
	return r->where;
}

size_t lr_redis_reply_max(const lr_redis *r)
{
	return r->reply_max;
}

/* Turn hiredis's outcome into ours. Consumes rep on error. */
static int finish_reply(lr_redis *r, redisReply *rep, redisReply **out, const char *what,
                        lr_err *err)
{
	*out = NULL;
	if (rep == NULL) {
		int over = r->reply_over;
		int rc;

		if (over)
			rc = lr_err_set(err, LR_ETOOBIG,
			                "redis at %s: the reply to %s is over %zu bytes; refused",
			                r->where, what, r->reply_max);
		else
			rc = lr_err_set(err, LR_EIO, "redis at %s: %s failed: %s", r->where, what,
			                r->c && r->c->errstr[0] ? r->c->errstr : "connection lost");
		conn_drop(r);
		return rc;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		int rc = lr_err_set(err, LR_EPROTO, "redis: %.400s", rep->str ? rep->str : "error");

		freeReplyObject(rep);
		return rc;
	}
	*out = rep;
	return 0;
}

int lr_redis_cmdv(lr_redis *r, redisReply **out, int argc, const char *const *argv,
                  const size_t *lens, lr_err *err)
{
	redisReply *rep;
	int rc;

	*out = NULL;
	rc = lr_redis_ensure(r, err);
	if (rc < 0)
		return rc;
	r->reply_bytes = 0;
	r->reply_over = 0;
	rep = redisCommandArgv(r->c, argc, (const char **)argv, lens);
	return finish_reply(r, rep, out, argc > 0 ? argv[0] : "command", err);
}

int lr_redis_cmd(lr_redis *r, redisReply **out, lr_err *err, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;
	char what[24];
	size_t n = strcspn(fmt, " ");
	int rc;

	*out = NULL;
	rc = lr_redis_ensure(r, err);
	if (rc < 0)
		return rc;
	snprintf(what, sizeof(what), "%.*s", (int)(n < sizeof(what) ? n : sizeof(what) - 1), fmt);
	r->reply_bytes = 0;
	r->reply_over = 0;
	va_start(ap, fmt);
	rep = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	return finish_reply(r, rep, out, what, err);
}

/* ---- scripts ------------------------------------------------------------ */

static const char *script_sha(lr_redis *r, const lr_script *s)
{
	for (size_t i = 0; i < r->nscripts; i++)
		if (r->scripts[i] == s)
			return r->sha[i];
	return NULL;
}

static int script_load(lr_redis *r, const lr_script *s, const char **sha, lr_err *err)
{
	redisReply *rep = NULL;
	size_t slot;
	int rc;

	rc = lr_redis_cmd(r, &rep, err, "SCRIPT LOAD %s", s->src);
	if (rc < 0) {
		lr_err_prefix(err, "loading script %s", s->name);
		return rc;
	}
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		freeReplyObject(rep);
		return lr_err_set(err, LR_EPROTO, "SCRIPT LOAD %s: unexpected reply", s->name);
	}
	slot = r->nscripts < SCRIPT_CACHE_MAX ? r->nscripts++ : SCRIPT_CACHE_MAX - 1;
	r->scripts[slot] = s;
	memcpy(r->sha[slot], rep->str, 40);
	r->sha[slot][40] = '\0';
	freeReplyObject(rep);
	*sha = r->sha[slot];
	return 0;
}

int lr_redis_eval(lr_redis *r, redisReply **out, const lr_script *s, int nkeys, int nargs,
                  const char *const *argv, const size_t *lens, lr_err *err)
{
	const char *stack_argv[40];
	size_t stack_lens[40];
	const char **av = stack_argv;
	size_t *al = stack_lens;
	char nk[16];
	const char *sha;
	int total = 3 + nkeys + nargs;
	int rc;

	*out = NULL;
	if (nkeys < 0 || nargs < 0)
		return lr_err_set(err, LR_EINVAL, "script %s: negative argument count", s->name);
	if ((size_t)total > sizeof(stack_argv) / sizeof(stack_argv[0])) {
		av = calloc((size_t)total, sizeof(*av));
		al = calloc((size_t)total, sizeof(*al));
		if (av == NULL || al == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	rc = lr_redis_ensure(r, err);
	if (rc < 0)
		goto cleanup;
	sha = script_sha(r, s);
	if (sha == NULL) {
		rc = script_load(r, s, &sha, err);
		if (rc < 0)
			goto cleanup;
	}
	snprintf(nk, sizeof(nk), "%d", nkeys);
	av[0] = "EVALSHA";
	al[0] = 7;
	av[2] = nk;
	al[2] = strlen(nk);
	for (int i = 0; i < nkeys + nargs; i++) {
		av[3 + i] = argv[i];
		al[3 + i] = lens ? lens[i] : strlen(argv[i]);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		av[1] = sha;
		al[1] = 40;
		rc = lr_redis_cmdv(r, out, total, av, al, err);
		if (rc == LR_EPROTO && err && strncmp(err->msg, "redis: NOSCRIPT", 15) == 0 &&
		    attempt == 0) {
			/* The server restarted or flushed its script cache. */
			r->nscripts = 0;
			rc = script_load(r, s, &sha, err);
			if (rc < 0)
				goto cleanup;
			continue;
		}
		break;
	}
	if (rc < 0 && rc != LR_EIO)
		lr_err_prefix(err, "script %s", s->name);
cleanup:
	if (av != stack_argv)
		free(av);
	if (al != stack_lens)
		free(al);
	return rc;
}

/* ---- reply helpers ------------------------------------------------------ */

int lr_reply_is_str(const redisReply *rep)
{
	return rep != NULL && (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS);
}

const char *lr_reply_elem_str(const redisReply *rep, size_t i)
{
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || i >= rep->elements)
		return NULL;
	if (!lr_reply_is_str(rep->element[i]))
		return NULL;
	return rep->element[i]->str;
}

int lr_reply_int(long long *out, const redisReply *rep, lr_err *err)
{
	char *end = NULL;
	long long v;

	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER) {
		*out = rep->integer;
		return 0;
	}
	if (!lr_reply_is_str(rep) || rep->len == 0 || rep->len > 20)
		return lr_err_set(err, LR_EPROTO, "redis: expected an integer reply");
	errno = 0;
	v = strtoll(rep->str, &end, 10);
	if (errno || *end != '\0')
		return lr_err_set(err, LR_EPROTO, "redis: expected an integer, got '%.24s'",
		                  rep->str);
	*out = v;
	return 0;
}

const redisReply *lr_reply_field(const redisReply *flat, const char *field)
{
	if (flat == NULL || flat->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < flat->elements; i += 2) {
		const redisReply *k = flat->element[i];

		if (lr_reply_is_str(k) && strcmp(k->str, field) == 0)
			return flat->element[i + 1];
	}
	return NULL;
}
