/* http_pool.c - Redis connections for request threads.
 *
 * A connection belongs to one thread at a time (hiredis), so each request
 * borrows one for its lifetime and gives it back when the reply is done. Idle
 * connections are kept for the next request; a broken one reconnects by
 * itself on its next command (redis.c). */
#include "http_int.h"

#include <stdlib.h>

int http_redis(http_req *q, lr_redis **out, lr_err *err)
{
	http_server *s = q->srv;
	lr_redis *r = NULL;
	int rc;

	if (q->r) {
		*out = q->r;
		return 0;
	}
	pthread_mutex_lock(&s->pool_mu);
	if (s->npool > 0)
		r = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_mu);
	/* Redis may have restarted while it sat in the pool. */
	lr_redis_drop_if_closed(r);
	if (r == NULL) {
		rc = lr_redis_open(&r, &s->cfg.redis, err);
		if (rc < 0)
			return rc;
	}
	q->r = r;
	*out = r;
	return 0;
}

void http_pool_put(http_server *s, lr_redis *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&s->pool_mu);
	if (s->npool < s->pool_cap) {
		s->pool[s->npool++] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	lr_redis_close(r);
}

void http_pool_free(http_server *s)
{
	for (size_t i = 0; i < s->npool; i++)
		lr_redis_close(s->pool[i]);
	free(s->pool);
	s->pool = NULL;
	s->npool = 0;
}
