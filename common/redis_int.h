/* redis_int.h - what redis.c shares with redis_stop.c: the connection's
 * insides. Nothing outside those two files includes it. */
#ifndef LLMREPL_REDIS_INT_H
#define LLMREPL_REDIS_INT_H

#include "redis.h"

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
	long wait_replicas;
	long wait_timeout_ms;
	size_t sentinel_first; /* the Sentinel that answered last is asked first */
	/* Scripts known to be loaded on this connection. */
	const lr_script *scripts[SCRIPT_CACHE_MAX];
	char sha[SCRIPT_CACHE_MAX][41];
	size_t nscripts;
	/* lr_redis_stop_on: the stop descriptor (0: none), whether it was
	 * seen readable, and this connection's CLIENT ID (0: unknown). */
	int stop_fd;
	int stopping;
	long long client_id;
	int unblock_refused; /* said once: the server refused to unblock */
};

/* ms as a struct timeval, for hiredis's timeouts. */
static inline struct timeval lr_redis_tv(long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* redisGetReply for the command just appended to r->c: the reply, or NULL
 * with r->c->err set. While r watches a stop descriptor, a stop cuts a
 * blocking command short (redis_stop.c). */
redisReply *lr_redis_get_reply(lr_redis *r);

/* After every (re)connect: learn the connection's CLIENT ID when it will
 * be needed (redis_stop.c). */
void lr_redis_note_client_id(lr_redis *r);

#endif
