/* gitstore_odb.c - a libgit2 object database backend on Redis.
 *
 * Reads come from the job's objects hash (one bounded read per object; the
 * odb's own cache keeps repeated reads local). Writes do not go to Redis:
 * they collect in memory until gitstore sends them, together with the ref
 * move, in one fenced script. A commit is therefore stored whole or not at
 * all, and a writer whose attempt was superseded leaves nothing behind. */
#include "gitstore_int.h"

#include <git2/sys/odb_backend.h>
#include <stdlib.h>
#include <string.h>

struct gs_odb {
	git_odb_backend parent;
	gitstore *gs;
	gs_pending *items;
	size_t n, cap;
	size_t bytes;
};

static const gs_pending *pending_find(const gs_odb *b, const git_oid *oid)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (git_oid_equal(&b->items[i].oid, oid))
			return &b->items[i];
	return NULL;
}

/* Record a failure for gitstore to report, and tell libgit2 about it. */
static int be_fail(gs_odb *b, const lr_err *e)
{
	b->gs->be_err = *e;
	git_error_set_str(GIT_ERROR_ODB, e->msg);
	return GIT_ERROR;
}

/* The stored form of `oid`: from the pending writes or from Redis.
 * `*owned` is set when `value` must be freed. */
static int fetch(const char **value, size_t *len, char **owned, gs_odb *b, const git_oid *oid)
{
	const gs_pending *p = pending_find(b, oid);
	char hex[GIT_OID_HEXSZ + 1];
	const char *field = hex;
	size_t vlen = 0;
	lr_err e = {0};
	int rc;

	*owned = NULL;
	if (p != NULL) {
		*value = p->value;
		*len = p->len;
		return 0;
	}
	git_oid_tostr(hex, sizeof(hex), oid);
	rc = gsr_hget(owned, &vlen, b->gs, b->gs->key_objects, &field, 1,
	              b->gs->opts.max_object + 64, &e);
	if (rc < 0) {
		lr_err_prefix(&e, "reading object %s", hex);
		return be_fail(b, &e);
	}
	if (*owned == NULL)
		return GIT_ENOTFOUND;
	*value = *owned;
	*len = vlen;
	return 0;
}

static int be_read(void **out, size_t *len_out, git_object_t *type_out, git_odb_backend *backend,
                   const git_oid *oid)
{
	gs_odb *b = (gs_odb *)backend;
	const char *value = NULL, *data = NULL;
	char *owned = NULL;
	size_t len = 0, n = 0;
	git_object_t t;
	lr_err e = {0};
	void *buf;
	int rc;

	rc = fetch(&value, &len, &owned, b, oid);
	if (rc != 0)
		return rc;
	/* Verify the content against its id: what comes back from Redis is data,
	 * and a damaged object must not enter a history or an export. */
	rc = gs_obj_parse(&t, &data, &n, value, len, oid, &e);
	if (rc < 0) {
		free(owned);
		return be_fail(b, &e);
	}
	buf = git_odb_backend_data_alloc(backend, n ? n : 1);
	if (buf == NULL) {
		free(owned);
		lr_err_set(&e, LR_ENOMEM, "out of memory reading an object of %zu bytes", n);
		return be_fail(b, &e);
	}
	if (n > 0)
		memcpy(buf, data, n);
	free(owned);
	*out = buf;
	*len_out = n;
	*type_out = t;
	return 0;
}

static int be_exists(git_odb_backend *backend, const git_oid *oid)
{
	gs_odb *b = (gs_odb *)backend;
	char hex[GIT_OID_HEXSZ + 1];
	lr_err e = {0};
	int rc;

	if (pending_find(b, oid) != NULL)
		return 1;
	git_oid_tostr(hex, sizeof(hex), oid);
	rc = gsr_exists(b->gs, hex, &e);
	if (rc < 0) {
		/* exists() has no error channel in libgit2: record it so the
		 * operation that follows reports the real cause. */
		b->gs->be_err = e;
		return 0;
	}
	return rc;
}

/* Before writing an object libgit2 asks whether the store has it. With
 * opts.blind_writes the answer is "no" without asking Redis (the commit's
 * script keeps an object already stored: HSETNX), saving a round trip per
 * object. */
static int be_freshen(git_odb_backend *backend, const git_oid *oid)
{
	gs_odb *b = (gs_odb *)backend;

	if (pending_find(b, oid) != NULL)
		return 0;
	if (b->gs->opts.blind_writes)
		return GIT_ENOTFOUND;
	return be_exists(backend, oid) ? 0 : GIT_ENOTFOUND;
}

static int be_write(git_odb_backend *backend, const git_oid *oid, const void *data, size_t len,
                    git_object_t type)
{
	gs_odb *b = (gs_odb *)backend;
	gs_pending *p;
	lr_err e = {0};
	char *value = NULL;
	size_t vlen = 0;

	if (pending_find(b, oid) != NULL)
		return 0;
	if (len > b->gs->opts.max_object) {
		lr_err_set(&e, LR_ETOOBIG, "a %s object of %zu bytes exceeds the %zu byte limit",
		           git_object_type2string(type), len, b->gs->opts.max_object);
		return be_fail(b, &e);
	}
	if (b->bytes + len > GS_PENDING_MAX) {
		lr_err_set(&e, LR_ETOOBIG, "one commit's objects exceed %zu bytes",
		           (size_t)GS_PENDING_MAX);
		return be_fail(b, &e);
	}
	if (b->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		gs_pending *items = realloc(b->items, ncap * sizeof(*items));

		if (items == NULL)
			goto nomem;
		b->items = items;
		b->cap = ncap;
	}
	if (gs_obj_encode(&value, &vlen, type, data, len) < 0)
		goto nomem;
	p = &b->items[b->n++];
	git_oid_cpy(&p->oid, oid);
	p->value = value;
	p->len = vlen;
	b->bytes += vlen;
	return 0;
nomem:
	lr_err_set(&e, LR_ENOMEM, "out of memory storing an object of %zu bytes", len);
	return be_fail(b, &e);
}

static int be_foreach(git_odb_backend *backend, git_odb_foreach_cb cb, void *payload)
{
	gs_odb *b = (gs_odb *)backend;
	char(*hexes)[41] = NULL;
	size_t n = 0, i;
	lr_err e = {0};
	git_oid oid;
	int rc;

	for (i = 0; i < b->n; i++) {
		rc = cb(&b->items[i].oid, payload);
		if (rc != 0)
			return rc;
	}
	rc = gsr_list(&hexes, &n, b->gs, &e);
	if (rc < 0)
		return be_fail(b, &e);
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		if (git_oid_fromstr(&oid, hexes[i]) != 0) {
			lr_err_set(&e, LR_EPROTO, "%s holds a malformed object id",
			           b->gs->key_objects);
			rc = be_fail(b, &e);
			break;
		}
		if (pending_find(b, &oid) == NULL)
			rc = cb(&oid, payload);
	}
	free(hexes);
	return rc;
}

void gs_odb_clear(gs_odb *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->items[i].value);
	b->n = 0;
	b->bytes = 0;
}

static void be_free(git_odb_backend *backend)
{
	gs_odb *b = (gs_odb *)backend;

	gs_odb_clear(b);
	free(b->items);
	free(b);
}

const gs_pending *gs_odb_pending(const gs_odb *b, size_t *n)
{
	*n = b->n;
	return b->items;
}

int gs_odb_new(gs_odb **out, gitstore *gs)
{
	gs_odb *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (b == NULL)
		return LR_ENOMEM;
	if (git_odb_init_backend(&b->parent, GIT_ODB_BACKEND_VERSION) != 0) {
		free(b);
		return LR_EINTERNAL;
	}
	b->gs = gs;
	b->parent.read = be_read;
	b->parent.exists = be_exists;
	b->parent.freshen = be_freshen;
	b->parent.write = be_write;
	b->parent.foreach = be_foreach;
	b->parent.free = be_free;
	*out = b;
	return 0;
}
