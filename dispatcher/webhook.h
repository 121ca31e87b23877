/* webhook.h - completion callbacks: a job whose spec has `callback_url` gets
 * one POST of its outcome when it is final, delivered at least once.
 *
 * The script that makes a job final puts it in the outbox `P callbacks`
 * (zset: job id -> when the next attempt is due), so a delivery survives any
 * dispatcher stopping. Each dispatcher runs a delivery thread with its own
 * Redis connection: it takes due entries (moving them a lease ahead, so a
 * dispatcher that dies mid-delivery is replaced after the lease), POSTs
 * {id, state, passed, error, summary, result}, and records each attempt in
 * the job's events (type `callback`): delivered, retried with backoff, or
 * failed for good after max_attempts.
 *
 * Requests: http or https only, no redirects followed, no proxy, bounded
 * time and response size, and the destination checked after resolving it
 * (and pinned, so DNS cannot answer differently for the connection):
 * loopback, link-local, private, shared, multicast and reserved addresses
 * are refused unless an --callback-allow range lists them.
 * With a secret, X-Llmrepl-Signature: sha256=<hex HMAC-SHA256 of the body>;
 * X-Llmrepl-Delivery is the job id (the same on every attempt, for dedup)
 * and X-Llmrepl-Attempt counts attempts from 1. */
#ifndef LLMREPL_WEBHOOK_H
#define LLMREPL_WEBHOOK_H

#include "err.h"
#include "keys.h"
#include "redis.h"

#include <stddef.h>
#include <stdint.h>

#define WH_ALLOW_MAX 32

typedef struct wh_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int prefix;
} wh_cidr;

typedef struct wh_config {
	const char *secret; /* HMAC key; NULL or "" = unsigned */
	const char *allow;  /* comma-separated CIDR ranges allowed despite the guard */
	long timeout_ms;    /* whole request */
	long max_attempts;
	long backoff_ms; /* doubles per failed attempt, +-20% */
	long backoff_max_ms;
	size_t response_max; /* bytes of response read at most */
} wh_config;

void wh_config_default(wh_config *c);

/* ---- the guard (webhook_guard.c) ---- */

/* Parse "a.b.c.d/n,x::/n,host-address" into ranges. */
int wh_cidr_parse_list(wh_cidr *out, size_t max, size_t *n, const char *list, lr_err *err);
/* Is this address (sockaddr) one the guard refuses, given the allow list?
 * *why names the range. */
int wh_addr_refused(const void *sockaddr, const wh_cidr *allow, size_t nallow, const char **why);

/* ---- delivery (webhook.c) ---- */

typedef struct wh_sender wh_sender;

/* Start the delivery thread (its own connection from redis_opts, waited
 * for as lr_redis_open_wait does). */
int wh_start(wh_sender **out, const lr_redis_opts *redis_opts, const lr_keys *keys,
             const wh_config *cfg, const volatile sig_atomic_t *stop, lr_err *err);
void wh_stop(wh_sender *s); /* accepts NULL; waits for the thread */

/* One delivery of a job's callback. */
typedef struct wh_delivery {
	const char *url;
	const char *id; /* the job's */
	long attempt;   /* 1, 2, ... */
	const char *body;
	size_t len;
} wh_delivery;

/* One POST (exposed for tests): 0 on a 2xx, else an error naming why;
 * *status gets the HTTP status (0 when there was none). */
int wh_post(const wh_config *cfg, const wh_cidr *allow, size_t nallow, const wh_delivery *d,
            long *status, lr_err *err);

#endif
