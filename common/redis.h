/* redis.h - a blocking hiredis connection that reconnects, loads scripts once
 * and checks every reply.
 *
 * hiredis 0.14 (Debian 12) has one timeout for connect and commands, no TLS
 * and no RESP3, and a context is unusable after any I/O error, a read timeout
 * included. So:
 *   - a connection that failed is dropped and reopened (AUTH, SELECT and the
 *     client name again) on the next command; a failed command is never
 *     resent by this layer, because it may have reached the server: callers
 *     that retry know whether their command is idempotent;
 *   - blocking reads (XREADGROUP BLOCK) must block for less than the command
 *     timeout: lr_redis_block_ms() clamps them;
 *   - a connection belongs to one thread (give a heartbeat thread its own).
 * Every reply is bounded: strings and arrays add up to at most reply_max
 * bytes per reply, or the reply is refused (LR_ETOOBIG) and the connection
 * reopened. */
#ifndef LLMREPL_REDIS_H
#define LLMREPL_REDIS_H

#include "err.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stddef.h>

/* A parsed Redis URL:
 *   redis://[[user]:password@]host[:port][/db]
 *   unix://[[user]:password@]/path/to/redis.sock[?db=N]
 *   redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]
 * user and password are percent-decoded; IPv6 hosts go in brackets. With
 * Sentinel, host:port (default port 26379) are the Sentinels; the password
 * is the data nodes' (and is offered to a Sentinel that asks for one), and
 * host and port are filled in with the master's address each time the
 * connection opens. */
typedef struct lr_redis_addr {
	char *host;
	int port;
} lr_redis_addr;

#define LR_REDIS_SENTINELS_MAX 16

typedef struct lr_redis_url {
	char *host; /* NULL for unix sockets (and for Sentinel until resolved) */
	int port;   /* default 6379 */
	char *path; /* unix socket path, or NULL */
	char *user; /* ACL user, or NULL (AUTH password alone) */
	char *password;
	long db;
	char *master; /* Sentinel: the master's name, else NULL */
	lr_redis_addr sentinels[LR_REDIS_SENTINELS_MAX];
	size_t nsentinels;
} lr_redis_url;

int lr_redis_url_parse(lr_redis_url *out, const char *url, lr_err *err);
void lr_redis_url_free(lr_redis_url *u); /* frees the members; accepts NULL */

/* The Redis every binary uses when none is configured. */
#define LR_REDIS_URL_DEFAULT "redis://127.0.0.1:6379"

typedef struct lr_redis_opts {
	const char *url;         /* see above; default LR_REDIS_URL_DEFAULT */
	const char *password;    /* wins over the URL's password; NULL or "" = none */
	long connect_timeout_ms; /* default 2000 */
	long command_timeout_ms; /* default 5000 */
	size_t reply_max;        /* bytes per reply; default 64 MiB */
	const char *client_name; /* CLIENT SETNAME (spaces become '-'); optional */
	long wait_replicas;   /* lr_redis_wait_replicas(): WAIT for this many replicas; 0 = off */
	long wait_timeout_ms; /* ... at most this long (default 1000) */
	double start_wait_s;  /* lr_redis_open_wait(): how long Redis may stay out of reach at
	                         the start; < 0: no limit, 0: one try */
} lr_redis_opts;

typedef struct lr_redis lr_redis;

/* Connect. With a Sentinel URL the Sentinels are asked, one after another,
 * for the master's address, and the node found must say it is a master
 * (ROLE); every reconnect asks again, so a failover is followed. A READONLY
 * (or LOADING, MASTERDOWN) error reply means the node was demoted or is not
 * ready: the connection is dropped and the command fails with LR_EIO, like a
 * lost connection, so callers retry it on the new master (it was not
 * executed). Scripts are loaded again on every new connection.
 *
 * Fails (LR_EIO, LR_EINVAL for a bad URL or refused password) when
 * the first connection cannot be made; later failures reconnect lazily. */
int lr_redis_open(lr_redis **out, const lr_redis_opts *opts, lr_err *err);
void lr_redis_close(lr_redis *r); /* accepts NULL */

/* lr_redis_open for a daemon's start, when Redis may not be up yet (started
 * beside it, or before it): while the connection cannot be made (LR_EIO:
 * refused, unreachable, no Sentinel answering, the node not a master) it is
 * tried again after a growing pause (100 ms doubling to 2 s, with jitter),
 * for at most opts.start_wait_s seconds (< 0: until it works). The reason
 * is logged at warn on the first failure, then every 10 s with a count
 * while it stays the same. Returns 0 when connected; LR_EIO with "... (gave
 * up after N s)" when the time ran out; LR_ECANCELED as soon as *stop is
 * set (a signal ends a pause at once); LR_EINVAL and the rest at once, as
 * lr_redis_open does (a bad URL or a refused password is not waited out).
 * `what` names the connection in the messages ("the job queue"). */
int lr_redis_open_wait(lr_redis **out, const lr_redis_opts *opts, const char *what,
                       const volatile sig_atomic_t *stop, lr_err *err);

/* Reconnect now if the connection is down. 0 when connected. */
int lr_redis_ensure(lr_redis *r, lr_err *err);
int lr_redis_is_connected(const lr_redis *r);
/* Drop the connection (the next command reconnects). */
void lr_redis_drop(lr_redis *r);
/* For a connection that sat idle (in a pool): drop it if the server closed
 * it meanwhile, so the next command reconnects instead of failing. Costs no
 * round trip. Returns 1 when it was dropped. */
int lr_redis_drop_if_closed(lr_redis *r);

/* `want` milliseconds clamped so a blocking command returns before the
 * socket timeout would kill the connection; 1 once r is stopping (below). */
long lr_redis_block_ms(const lr_redis *r, long want);

/* Let a stop end r's blocking commands at once (redis_stop.c). stop_fd
 * (lr_main_stop_fd()) turns readable when the process is asked to stop.
 * A command that waits for its reply when it does is unblocked by the
 * server (CLIENT UNBLOCK of this connection's CLIENT ID, sent from a second,
 * short-lived connection to the same node): an XREADGROUP BLOCK returns as
 * if its time had passed, with whatever the server had delivered already,
 * so nothing is lost and the connection stays usable; a blocking command
 * sent later blocks 1 ms (lr_redis_block_ms). Meant for the connection of
 * a daemon's main loop. 0 turns it off. Where the server refuses CLIENT ID
 * or CLIENT UNBLOCK (an ACL), a blocking read ends by its BLOCK time, as
 * without this. */
void lr_redis_stop_on(lr_redis *r, int stop_fd);
/* Whether r's stop descriptor turned readable. */
int lr_redis_stopping(const lr_redis *r);

/* After writes that must survive a failover: WAIT until opts.wait_replicas
 * replicas have them (at most opts.wait_timeout_ms). 0 when they did or when
 * waiting is off; LR_EUNAVAIL (with how many acknowledged) when fewer did;
 * LR_EIO when the connection failed. Redis replication is asynchronous
 * otherwise: a write the master acknowledged can be lost in a failover. */
int lr_redis_wait_replicas(lr_redis *r, lr_err *err);

/* "host:port" or the socket path, for messages. */
const char *lr_redis_where(const lr_redis *r);
/* The most bytes one reply may have (opts.reply_max). */
size_t lr_redis_reply_max(const lr_redis *r);

/* Run one command given as argv (lens may be NULL for C strings). On success
 * *out is the reply (free it with freeReplyObject; never an error reply).
 * Errors: LR_EIO (connection lost or unreachable; reconnects next time),
 * LR_ETOOBIG (reply over reply_max), LR_EPROTO (Redis answered with an
 * error: err->msg is "redis: <its message>"). */
int lr_redis_cmdv(lr_redis *r, redisReply **out, int argc, const char *const *argv,
                  const size_t *lens, lr_err *err);
/* The same with hiredis's format ("%s" and "%b" are sent as single
 * arguments, never parsed, so values cannot inject commands). */
int lr_redis_cmd(lr_redis *r, redisReply **out, lr_err *err, const char *fmt, ...);

/* A Lua script, loaded once per connection (SCRIPT LOAD) and run with
 * EVALSHA; after a Redis restart NOSCRIPT reloads it. Define one as a static
 * const with a stable name for messages. */
typedef struct lr_script {
	const char *name;
	const char *src;
} lr_script;

/* EVALSHA s with nkeys KEYS and the rest ARGV (argv[0 .. nkeys+nargs-1]). */
int lr_redis_eval(lr_redis *r, redisReply **out, const lr_script *s, int nkeys, int nargs,
                  const char *const *argv, const size_t *lens, lr_err *err);

/* Reply helpers: they check the type (and bounds) and set a precise error. */
int lr_reply_is_str(const redisReply *rep); /* STRING or STATUS */
/* Element i of an array reply as a NUL-terminated string (borrowed), or NULL
 * when absent, nil or not a string. */
const char *lr_reply_elem_str(const redisReply *rep, size_t i);
/* Integer value of a reply that is an INTEGER or a decimal string. */
int lr_reply_int(long long *out, const redisReply *rep, lr_err *err);
/* Find `field` in a flat [field, value, ...] array (HGETALL, stream entry
 * fields). Returns the value reply or NULL. */
const redisReply *lr_reply_field(const redisReply *flat, const char *field);

#endif
