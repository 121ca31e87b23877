/* gitstore_conn.c - a plain hiredis connection for a git store, from the same
 * Redis URL every binary takes.
 *
 * The store speaks hiredis itself. It needs a context of its own rather than
 * the one inside lr_redis, whose reader counts reply bytes per lr_redis
 * command and would, used directly, add up the store's replies without end. */
#include "gitstore.h"
#include "redis.h"

#include <hiredis.h>
#include <stdlib.h>
#include <string.h>

static int setup(redisContext *c, const char *where, const char *what, int argc, const char **argv,
                 lr_err *err)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);
	int rc = 0;

	if (r == NULL)
		return lr_err_set(err, LR_EIO, "redis at %s: %s failed: %s", where, what,
		                  c->errstr[0] ? c->errstr : "connection lost");
	if (r->type == REDIS_REPLY_ERROR)
		rc = lr_err_set(err, LR_EINVAL, "redis at %s: %s refused: %.200s", where, what,
		                r->str);
	freeReplyObject(r);
	return rc;
}

int gitstore_connect(struct redisContext **out, const char *url, const char *password,
                     long timeout_ms, lr_err *err)
{
	lr_redis_url u;
	redisContext *c = NULL;
	struct timeval tv;
	char where[300], dbs[24];
	int rc;

	*out = NULL;
	if (timeout_ms <= 0)
		timeout_ms = 5000;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	rc = lr_redis_url_parse(&u, url, err);
	if (rc < 0)
		return rc;
	if (password != NULL && password[0] != '\0') {
		char *p = strdup(password);

		if (p == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory");
			goto cleanup;
		}
		free(u.password);
		u.password = p;
	}
	if (u.path != NULL) {
		snprintf(where, sizeof(where), "%.250s", u.path);
		c = redisConnectUnixWithTimeout(u.path, tv);
	} else {
		snprintf(where, sizeof(where), "%.250s:%d", u.host, u.port);
		c = redisConnectWithTimeout(u.host, u.port, tv);
	}
	if (c == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory connecting to redis");
		goto cleanup;
	}
	if (c->err) {
		rc = lr_err_set(err, LR_EIO, "redis at %s is unreachable: %s", where, c->errstr);
		goto cleanup;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		rc = lr_err_set(err, LR_EIO, "redis at %s: cannot set the socket timeout", where);
		goto cleanup;
	}
	if (u.password != NULL && u.password[0] != '\0') {
		const char *argv[3] = {"AUTH", u.user ? u.user : u.password, u.password};

		rc = setup(c, where, "AUTH", u.user ? 3 : 2, argv, err);
		if (rc < 0)
			goto cleanup;
	}
	if (u.db != 0) {
		const char *argv[2] = {"SELECT", dbs};

		snprintf(dbs, sizeof(dbs), "%ld", u.db);
		rc = setup(c, where, "SELECT", 2, argv, err);
		if (rc < 0)
			goto cleanup;
	}
	*out = c;
	c = NULL;
cleanup:
	if (c != NULL)
		redisFree(c);
	lr_redis_url_free(&u);
	return rc;
}
