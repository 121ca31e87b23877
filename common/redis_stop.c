/* redis_stop.c - a stop cuts a blocking command short (lr_redis_stop_on).
 *
 * hiredis's blocking context waits for a reply in read(2) and retries it on
 * EINTR, so a signal alone cannot end an XREADGROUP BLOCK: the process would
 * wait out the BLOCK time. And the wait must not just be abandoned: the
 * server may already have delivered an entry in the reply on its way (the
 * entry is then pending for this consumer), and the connection would be
 * unusable. So here the wait polls the socket beside the stop descriptor,
 * and a stop asks the server, from a second connection, to end the block
 * (CLIENT UNBLOCK, as if the time had passed): the reply still arrives and
 * is read as always, whatever it holds. */
#include "redis.h"

#include "clock.h"
#include "log.h"
#include "redis_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#define UNBLOCK_AGAIN_MS 20 /* an unblock that found the command not yet blocked */

static int readable(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, 0) > 0;
}

int lr_redis_stopping(const lr_redis *r)
{
	return r->stopping || (r->stop_fd > 0 && readable(r->stop_fd));
}

void lr_redis_note_client_id(lr_redis *r)
{
	redisReply *rep;

	r->client_id = 0;
	if (r->stop_fd <= 0 || r->c == NULL)
		return;
	r->reply_bytes = 0; /* the reply's own bound (redis.c's reader) */
	r->reply_over = 0;
	rep = redisCommand(r->c, "CLIENT ID");
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		r->client_id = rep->integer;
	else
		log_debug("redis at %s: no CLIENT ID (%s): a stop waits out a blocking read",
		          r->where, rep && rep->str ? rep->str : "no reply");
	if (rep)
		freeReplyObject(rep);
}

void lr_redis_stop_on(lr_redis *r, int stop_fd)
{
	r->stop_fd = stop_fd > 0 ? stop_fd : 0;
	r->stopping = 0;
	lr_redis_note_client_id(r);
}

/* A second connection to the node r is connected to (the master a Sentinel
 * named last), authenticated; NULL when it cannot be made. */
static redisContext *side_open(lr_redis *r)
{
	redisContext *c = lr_redis_node_connect(r);
	redisReply *rep = NULL;
	const char *auth[3];
	int nauth = lr_redis_auth_argv(r, auth);

	if (c == NULL || c->err ||
	    redisSetTimeout(c, lr_redis_tv(r->command_timeout_ms)) != REDIS_OK)
		goto fail;
	if (nauth > 0) {
		rep = redisCommandArgv(c, nauth, auth, NULL);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
			goto fail;
		freeReplyObject(rep);
	}
	return c;
fail:
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	return NULL;
}

/* Ask the server to end r's blocking command. 1: it did; 0: r was not
 * blocked (not yet, or its command does not block); -1: it cannot be asked
 * (no side connection, no client id, refused). */
static int unblock(lr_redis *r, redisContext **side)
{
	redisReply *rep;
	int rc = -1;

	if (r->client_id <= 0)
		return -1;
	if (*side == NULL && (*side = side_open(r)) == NULL)
		return -1;
	rep = redisCommand(*side, "CLIENT UNBLOCK %lld", r->client_id);
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		rc = rep->integer > 0;
	else if (!r->unblock_refused++)
		log_warn("redis at %s: cannot end a blocking read at the stop (%s); it ends "
		         "within its BLOCK time",
		         r->where, rep && rep->str ? rep->str : "no reply");
	if (rep)
		freeReplyObject(rep);
	return rc;
}

/* Wait until r's socket is readable, within the command timeout. A stop
 * seen meanwhile unblocks the command (again every UNBLOCK_AGAIN_MS while
 * the server says it is not blocked yet: the second connection may
 * overtake the command). 0, or -1 with r->c->err set. */
static int await_reply(lr_redis *r)
{
	long long end = lr_now_ms() + r->command_timeout_ms;
	redisContext *side = NULL;
	int asking = 0; /* unblocks to send: 1 after the stop, 0 once one worked */

	for (;;) {
		struct pollfd p[2] = {{r->c->fd, POLLIN, 0}, {r->stop_fd, POLLIN, 0}};
		long long left = end - lr_now_ms();
		int n;

		if (left <= 0) {
			errno = EAGAIN; /* as hiredis says of a read that timed out */
			break;
		}
		if (asking && left > UNBLOCK_AGAIN_MS)
			left = UNBLOCK_AGAIN_MS;
		n = poll(p, r->stopping ? 1 : 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (p[0].revents) {
			if (side)
				redisFree(side);
			return 0;
		}
		if (!r->stopping && p[1].revents)
			r->stopping = asking = 1;
		if (asking)
			asking = unblock(r, &side) == 0;
	}
	if (side)
		redisFree(side);
	r->c->err = REDIS_ERR_IO;
	snprintf(r->c->errstr, sizeof(r->c->errstr), "%s", strerror(errno));
	return -1;
}

redisReply *lr_redis_get_reply(lr_redis *r)
{
	redisContext *c = r->c;
	void *rep = NULL;
	int done = 0;

	if (r->stop_fd <= 0 || r->stopping)
		return redisGetReply(c, &rep) == REDIS_OK ? rep : NULL;
	do {
		if (redisBufferWrite(c, &done) == REDIS_ERR)
			return NULL;
	} while (!done);
	for (;;) {
		if (redisGetReplyFromReader(c, &rep) == REDIS_ERR)
			return NULL;
		if (rep != NULL)
			return rep;
		if (await_reply(r) < 0 || redisBufferRead(c) == REDIS_ERR)
			return NULL;
	}
}
