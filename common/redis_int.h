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

/* A connection to the node r names (its socket path, or its host and
 * port: the master a Sentinel named last), within the connect timeout;
 * NULL without memory, else the caller checks c->err. (Here, not in
 * redis.c, which calls redis_stop.c: both files use it.) */
static inline redisContext *lr_redis_node_connect(const lr_redis *r)
{
	struct timeval tv = lr_redis_tv(r->connect_timeout_ms);

	return r->url.path != NULL ? redisConnectUnixWithTimeout(r->url.path, tv)
	                           : redisConnectWithTimeout(r->url.host, r->url.port, tv);
}

/* The AUTH command r's URL asks for, in argv: its argc, 0 for none. */
static inline int lr_redis_auth_argv(const lr_redis *r, const char *argv[3])
{
	if (r->url.password == NULL || r->url.password[0] == '\0')
		return 0;
	argv[0] = "AUTH";
	argv[1] = r->url.user ? r->url.user : r->url.password;
	argv[2] = r->url.password;
	return r->url.user ? 3 : 2;
}

/* redisGetReply for the command just appended to r->c: the reply, or NULL
 * with r->c->err set. While r watches a stop descriptor, a stop cuts a
 * blocking command short (redis_stop.c). */
redisReply *lr_redis_get_reply(lr_redis *r);

/* After every (re)connect: learn the connection's CLIENT ID when it will
 * be needed (redis_stop.c). */
void lr_redis_note_client_id(lr_redis *r);

#endif
