/* redis.c - hiredis connection with reconnect, bounded replies and scripts. */
#include "redis.h"

#include "log.h"
#include "redis_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

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
	free(u->master);
	for (size_t i = 0; i < u->nsentinels; i++)
		free(u->sentinels[i].host);
	memset(u, 0, sizeof(*u));
}

/* host[:port] or [v6]:port in s[0..n) -> a new host string and the port. */
static int parse_hostport(const char *s, size_t n, char **host, int *port, const char *url,
                          lr_err *err)
{
	const char *end = s + n;
	const char *hs = s;
	const char *he;
	const char *portp = NULL;
	long v;

	if (n > 0 && *hs == '[') {
		he = memchr(hs, ']', n);
		if (he == NULL)
			return lr_err_set(err, LR_EINVAL, "redis URL: unterminated '[' in host");
		hs++;
		if (he + 1 < end) {
			if (he[1] != ':')
				return lr_err_set(err, LR_EINVAL, "redis URL: bad host in '%.64s'",
				                  url);
			portp = he + 2;
		}
	} else {
		he = memchr(hs, ':', n);
		if (he != NULL)
			portp = he + 1;
		else
			he = end;
	}
	if (he == hs)
		return lr_err_set(err, LR_EINVAL, "redis URL: no host in '%.64s'", url);
	if (portp != NULL) {
		if (parse_long(&v, portp, (size_t)(end - portp), 1, 65535) < 0)
			return lr_err_set(err, LR_EINVAL, "redis URL: bad port in '%.64s'", url);
		*port = (int)v;
	}
	*host = strndup(hs, (size_t)(he - hs));
	if (*host == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	return 0;
}

/* Sentinel URL after the credentials: h[:p][,h[:p]...]/master[/db]. */
static int parse_sentinel(lr_redis_url *out, const char *p, const char *end, const char *url,
                          lr_err *err)
{
	const char *slash = memchr(p, '/', (size_t)(end - p));
	const char *q = p;
	const char *name;
	const char *name_end;
	long v;
	int rc;

	if (slash == NULL || slash + 1 >= end)
		return lr_err_set(err, LR_EINVAL,
		                  "redis URL: redis+sentinel:// needs /<master name> after the "
		                  "Sentinels");
	for (int more = 1; more;) {
		const char *comma = memchr(q, ',', (size_t)(slash - q));
		const char *e = comma ? comma : slash;
		lr_redis_addr *a;

		if (out->nsentinels == LR_REDIS_SENTINELS_MAX)
			return lr_err_set(err, LR_EINVAL, "redis URL: more than %d Sentinels",
			                  LR_REDIS_SENTINELS_MAX);
		a = &out->sentinels[out->nsentinels];
		a->port = 26379;
		rc = parse_hostport(q, (size_t)(e - q), &a->host, &a->port, url, err);
		if (rc < 0)
			return rc;
		out->nsentinels++;
		more = comma != NULL;
		q = comma ? comma + 1 : slash;
	}
	name = slash + 1;
	name_end = memchr(name, '/', (size_t)(end - name));
	if (name_end == NULL)
		name_end = end;
	if (name_end == name)
		return lr_err_set(err, LR_EINVAL, "redis URL: empty Sentinel master name");
	out->master = strndup(name, (size_t)(name_end - name));
	if (out->master == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (name_end + 1 < end) {
		if (parse_long(&v, name_end + 1, (size_t)(end - name_end - 1), 0, 100000) < 0)
			return lr_err_set(
			    err, LR_EINVAL,
			    "redis URL: after the master name comes a database number, "
			    "got '%.*s'",
			    (int)(end - name_end - 1), name_end + 1);
		out->db = v;
	}
	return 0;
}

enum { URL_TCP, URL_UNIX, URL_SENTINEL };

/* The scheme: *kind and the text after "://". */
static int parse_scheme(const char *url, int *kind, const char **rest, lr_err *err)
{
	static const struct {
		const char *prefix;
		int kind;
	} schemes[] = {
	    {"redis://", URL_TCP}, {"redis+sentinel://", URL_SENTINEL}, {"unix://", URL_UNIX}};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i].prefix);

		if (strncmp(url, schemes[i].prefix, n) == 0) {
			*kind = schemes[i].kind;
			*rest = url + n;
			return 0;
		}
	}
	if (strncmp(url, "rediss://", 9) == 0)
		return lr_err_set(err, LR_EINVAL,
		                  "redis URL: rediss:// (TLS) is not supported by hiredis 0.14; "
		                  "use a TLS tunnel and redis://");
	return lr_err_set(err, LR_EINVAL,
	                  "redis URL must start with redis://, redis+sentinel:// or unix://, got "
	                  "'%.64s'",
	                  url);
}

/* Credentials end at the first '@' before `end`; a password holding '@'
 * writes it percent-encoded (%40), as in every URL. *p moves past them. */
static int parse_credentials(lr_redis_url *out, const char **p, const char *end, lr_err *err)
{
	const char *at = memchr(*p, '@', (size_t)(end - *p));
	const char *colon;

	if (at == NULL)
		return 0;
	colon = memchr(*p, ':', (size_t)(at - *p));
	if (colon == NULL)
		/* "redis://secret@host" would name a user without a password;
		 * refuse rather than silently not authenticate. */
		return lr_err_set(
		    err, LR_EINVAL,
		    "redis URL: credentials must be ':password@' or 'user:password@'");
	if (colon > *p) {
		out->user = pct_decode(*p, (size_t)(colon - *p));
		if (out->user == NULL)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
	if (out->password == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	*p = at + 1;
	return 0;
}

/* host[:port][/db] of a redis:// URL. */
static int parse_tcp(lr_redis_url *out, const char *p, const char *end, const char *url,
                     lr_err *err)
{
	const char *slash = memchr(p, '/', (size_t)(end - p));
	const char *hostend = slash ? slash : end;
	long v;
	int rc;

	rc = parse_hostport(p, (size_t)(hostend - p), &out->host, &out->port, url, err);
	if (rc < 0 || slash == NULL || slash + 1 >= end)
		return rc;
	if (parse_long(&v, slash + 1, (size_t)(end - slash - 1), 0, 100000) < 0)
		return lr_err_set(err, LR_EINVAL,
		                  "redis URL: the path must be a database number, got '%.*s'",
		                  (int)(end - slash - 1), slash + 1);
	out->db = v;
	return 0;
}

/* The query: db=N and password=P, separated by '&'. */
static int parse_query(lr_redis_url *out, const char *q, lr_err *err)
{
	long v;

	while (*q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);

		if (n > 3 && strncmp(q, "db=", 3) == 0) {
			if (parse_long(&v, q + 3, n - 3, 0, 100000) < 0)
				return lr_err_set(err, LR_EINVAL, "redis URL: bad db in query");
			out->db = v;
		} else if (n > 9 && strncmp(q, "password=", 9) == 0) {
			free(out->password);
			out->password = pct_decode(q + 9, n - 9);
			if (out->password == NULL)
				return lr_err_set(err, LR_ENOMEM, "out of memory");
		} else {
			return lr_err_set(
			    err, LR_EINVAL,
			    "redis URL: unknown query parameter '%.*s' (db, password)",
			    (int)(n > 32 ? 32 : n), q);
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return 0;
}

int lr_redis_url_parse(lr_redis_url *out, const char *url, lr_err *err)
{
	const char *p = NULL;
	const char *end;
	const char *query;
	int kind = URL_TCP;
	int rc;

	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (url == NULL || *url == '\0')
		url = LR_REDIS_URL_DEFAULT;
	rc = parse_scheme(url, &kind, &p, err);
	if (rc < 0)
		return rc;
	query = strchr(p, '?');
	end = query ? query : p + strlen(p);
	rc = parse_credentials(out, &p, end, err);
	if (rc == 0 && kind == URL_UNIX) {
		if (p >= end || *p != '/')
			rc = lr_err_set(err, LR_EINVAL,
			                "redis URL: unix:// needs an absolute socket path");
		else if ((out->path = strndup(p, (size_t)(end - p))) == NULL)
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
	} else if (rc == 0 && kind == URL_SENTINEL) {
		rc = parse_sentinel(out, p, end, url, err);
	} else if (rc == 0) {
		rc = parse_tcp(out, p, end, url, err);
	}
	if (rc == 0 && query != NULL)
		rc = parse_query(out, query + 1, err);
	if (rc < 0)
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

int lr_redis_drop_if_closed(lr_redis *r)
{
	struct pollfd p;

	if (r == NULL || r->c == NULL || r->c->fd < 0)
		return 0;
	/* Between commands nothing may arrive: a readable socket is an EOF or
	 * an error from a server that closed it (restarted, timed us out). */
	p.fd = r->c->fd;
	p.events = POLLIN;
	p.revents = 0;
	if (poll(&p, 1, 0) == 0)
		return 0;
	conn_drop(r);
	return 1;
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

static void set_where(lr_redis *r)
{
	char addr[280];

	if (r->url.path)
		snprintf(addr, sizeof(addr), "%s", r->url.path);
	else if (r->url.host == NULL)
		snprintf(addr, sizeof(addr), "?");
	else if (strchr(r->url.host, ':'))
		snprintf(addr, sizeof(addr), "[%s]:%d", r->url.host, r->url.port);
	else
		snprintf(addr, sizeof(addr), "%s:%d", r->url.host, r->url.port);
	if (r->url.master)
		snprintf(r->where, sizeof(r->where), "%.200s (Sentinel master %.60s)", addr,
		         r->url.master);
	else
		snprintf(r->where, sizeof(r->where), "%s", addr);
}

/* Ask one Sentinel for the master's address. 0 and *host, *port set; or an
 * error saying what this Sentinel answered. */
static int sentinel_ask(lr_redis *r, const lr_redis_addr *a, char **host, int *port, lr_err *err)
{
	struct timeval ctv = lr_redis_tv(r->connect_timeout_ms);
	struct timeval ttv = lr_redis_tv(r->command_timeout_ms);
	redisContext *c = redisConnectWithTimeout(a->host, a->port, ctv);
	redisReply *rep = NULL;
	long v;
	int rc = 0;

	if (c == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory connecting to a Sentinel");
	if (c->err) {
		rc = lr_err_set(err, LR_EIO, "Sentinel %s:%d is unreachable: %s", a->host, a->port,
		                c->errstr);
		goto done;
	}
	redisSetTimeout(c, ttv);
	rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", r->url.master);
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR && strstr(rep->str, "NOAUTH") &&
	    r->url.password != NULL) {
		/* A Sentinel with requirepass: offer the data nodes' password. */
		freeReplyObject(rep);
		rep = redisCommand(c, "AUTH %s", r->url.password);
		if (rep != NULL)
			freeReplyObject(rep);
		rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s", r->url.master);
	}
	if (rep == NULL) {
		rc = lr_err_set(err, LR_EIO, "Sentinel %s:%d: %s", a->host, a->port,
		                c->errstr[0] ? c->errstr : "connection lost");
	} else if (rep->type == REDIS_REPLY_ERROR) {
		rc = lr_err_set(err, LR_EIO, "Sentinel %s:%d: %.200s", a->host, a->port, rep->str);
	} else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	           rep->element[0]->type != REDIS_REPLY_STRING ||
	           rep->element[1]->type != REDIS_REPLY_STRING ||
	           parse_long(&v, rep->element[1]->str, rep->element[1]->len, 1, 65535) < 0) {
		rc = lr_err_set(err, LR_EIO, "Sentinel %s:%d does not know a master named '%s'",
		                a->host, a->port, r->url.master);
	} else {
		*host = strdup(rep->element[0]->str);
		*port = (int)v;
		if (*host == NULL)
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
	}
done:
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(c);
	return rc;
}

/* Find the master through the Sentinels: the first that answers wins. */
static int sentinel_resolve(lr_redis *r, lr_err *err)
{
	char why[LR_ERR_MSG_MAX] = "";
	int rc = LR_EIO;

	for (size_t i = 0; i < r->url.nsentinels; i++) {
		size_t k = (r->sentinel_first + i) % r->url.nsentinels;
		char *host = NULL;
		int port = 0;
		lr_err e;

		lr_err_clear(&e);
		rc = sentinel_ask(r, &r->url.sentinels[k], &host, &port, &e);
		if (rc == 0) {
			free(r->url.host);
			r->url.host = host;
			r->url.port = port;
			r->sentinel_first = k;
			set_where(r);
			return 0;
		}
		if (rc == LR_ENOMEM)
			return lr_err_set(err, rc, "%s", e.msg);
		if (why[0] == '\0')
			snprintf(why, sizeof(why), "%s", e.msg);
	}
	return lr_err_set(err, LR_EIO, "no Sentinel named the master '%s' (%zu asked; first: %s)",
	                  r->url.master, r->url.nsentinels, why);
}

/* A node a Sentinel named may not be the master (yet, or any more). */
static int check_master(lr_redis *r, lr_err *err)
{
	redisReply *rep = redisCommand(r->c, "ROLE");
	int rc = 0;

	if (rep == NULL)
		rc = lr_err_set(err, LR_EIO, "redis at %s: ROLE failed: %s", r->where,
		                r->c->errstr[0] ? r->c->errstr : "connection lost");
	else if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	         rep->element[0]->type != REDIS_REPLY_STRING ||
	         strcmp(rep->element[0]->str, "master") != 0)
		rc = lr_err_set(err, LR_EIO,
		                "redis at %s is not a master (a failover is under way?)", r->where);
	if (rep)
		freeReplyObject(rep);
	return rc;
}

static int conn_open(lr_redis *r, lr_err *err)
{
	struct timeval ttv = lr_redis_tv(r->command_timeout_ms);
	const char *auth[3];
	int nauth, rc;
	char dbs[24];

	conn_drop(r);
	if (r->url.master != NULL) {
		rc = sentinel_resolve(r, err);
		if (rc < 0)
			return rc;
	}
	r->c = lr_redis_node_connect(r);
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

	nauth = lr_redis_auth_argv(r, auth);
	if (nauth > 0 && (rc = setup_cmd(r, err, "AUTH", nauth, auth)) < 0)
		goto fail;
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
	if (r->url.master != NULL) {
		rc = check_master(r, err);
		if (rc < 0)
			goto fail;
	}
	lr_redis_note_client_id(r);
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
	r->wait_replicas = opts->wait_replicas > 0 ? opts->wait_replicas : 0;
	r->wait_timeout_ms = opts->wait_timeout_ms > 0 ? opts->wait_timeout_ms : 1000;
	set_where(r);
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

	if (max < 1 || lr_redis_stopping(r))
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

/* Error replies that mean "not this node": it runs nothing we send. */
static int not_writable(const char *msg)
{
	static const char *const codes[] = {"READONLY", "LOADING", "MASTERDOWN"};

	if (msg == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		size_t n = strlen(codes[i]);

		if (strncmp(msg, codes[i], n) == 0 && (msg[n] == ' ' || msg[n] == '\0'))
			return 1;
	}
	/* A script whose write the replica refused. */
	return strstr(msg, "-READONLY") != NULL || strstr(msg, "READONLY You can't write") != NULL;
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
		int rc;

		if (not_writable(rep->str)) {
			/* Demoted, loading or cut off from its master: the command
			 * did not run. Find the master again. */
			rc = lr_err_set(err, LR_EIO, "redis at %s: %.300s", r->where, rep->str);
			freeReplyObject(rep);
			conn_drop(r);
			return rc;
		}
		rc = lr_err_set(err, LR_EPROTO, "redis: %.400s", rep->str ? rep->str : "error");
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
	rep = redisAppendCommandArgv(r->c, argc, (const char **)argv, lens) == REDIS_OK
	          ? lr_redis_get_reply(r)
	          : NULL;
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
	rep = redisvAppendCommand(r->c, fmt, ap) == REDIS_OK ? lr_redis_get_reply(r) : NULL;
	va_end(ap);
	return finish_reply(r, rep, out, what, err);
}

int lr_redis_wait_replicas(lr_redis *r, lr_err *err)
{
	redisReply *rep = NULL;
	long long n = 0;
	int rc;

	if (r->wait_replicas <= 0)
		return 0;
	rc = lr_redis_cmd(r, &rep, err, "WAIT %ld %ld", r->wait_replicas, r->wait_timeout_ms);
	if (rc < 0)
		return rc;
	rc = lr_reply_int(&n, rep, err);
	freeReplyObject(rep);
	if (rc < 0)
		return rc;
	if (n < r->wait_replicas)
		return lr_err_set(err, LR_EUNAVAIL,
		                  "redis at %s: %lld of %ld replicas acknowledged the write within "
		                  "%ld ms",
		                  r->where, n, r->wait_replicas, r->wait_timeout_ms);
	return 0;
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
