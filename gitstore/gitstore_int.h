/* gitstore_int.h - internals shared by the gitstore*.c files (not for callers).
 *
 * gitstore.c        open, commit, tag, read back
 * gitstore_redis.c  the Redis side: scripts, bounded replies, the fenced CAS
 * gitstore_odb.c    the libgit2 object database backend on Redis
 * gitstore_msg.c    commit messages, trailers, file names, the stored object form
 * gitstore_export.c export to an on-disk repository, push, log printing */
#ifndef LLMREPL_GITSTORE_INT_H
#define LLMREPL_GITSTORE_INT_H

#include "buf.h"
#include "gitstore.h"
#include "redis.h"

#include <git2.h>

#define GS_REF_MAIN      "refs/heads/main"
#define GS_REF_ACCEPTED  "refs/tags/accepted"
#define GS_HEAD_VALUE    "ref: refs/heads/main"
#define GS_REF_VALUE_MAX 256                 /* bytes of a stored ref value */
#define GS_PENDING_MAX   ((size_t)256 << 20) /* bytes of unstored objects */

typedef struct gs_pending {
	git_oid oid;
	char *value; /* the stored form: "<type> <size>\0<content>" */
	size_t len;
} gs_pending;

typedef struct gs_odb gs_odb;

struct gitstore {
	lr_redis *r; /* borrowed */
	char *job_id;
	long attempt; /* 0: read-only */
	char *key_job, *key_objects, *key_refs, *key_stats;
	char *author_name, *author_email;
	gitstore_opts opts;   /* string members point at the copies above */
	git_repository *repo; /* in memory: the odb below, an empty config, no refdb use */
	git_odb *odb;
	gs_odb *backend; /* owned by odb */
	lr_err be_err;   /* what failed inside a libgit2 callback */
	int git_inited;
};

/* ---- gitstore_redis.c ---- */
/* Read hash fields of `key` with every value capped at `max` bytes (the server
 * refuses larger ones). `vals[i]` is NULL for a missing field, otherwise owned
 * by the caller (NUL-terminated, length in `lens[i]`). */
int gsr_hget(char **vals, size_t *lens, gitstore *gs, const char *key, const char *const *fields,
             size_t nfields, size_t max, lr_err *err);

/* 1 if the object is stored, 0 if not. */
int gsr_exists(gitstore *gs, const char *hex, lr_err *err);

/* Every stored object id (at most opts.max_objects): `*hexes` is an array of
 * n 41-byte strings owned by the caller. */
int gsr_list(char (**hexes)[41], size_t *n, gitstore *gs, lr_err *err);

/* 0 while the job is running the store's attempt, else LR_ESTALE (for the
 * paths that write nothing; the CAS script checks the same itself). */
int gsr_fence(gitstore *gs, lr_err *err);

enum { GSR_OK = 0, GSR_MOVED = 1 };

/* The fenced compare-and-swap: if the job is running our attempt and `ref` holds
 * `old_hex` ("" = absent), store `objs` (HSETNX) and then set `ref` to
 * `new_hex` (and HEAD to main if unset). Returns GSR_OK, GSR_MOVED (nothing
 * written; `cur` gets the ref's value, "" if absent), LR_ESTALE (nothing
 * written) or another negative code. */
int gsr_cas(char cur[GS_REF_VALUE_MAX + 1], gitstore *gs, const char *ref, const char *old_hex,
            const char *new_hex, const gs_pending *objs, size_t nobjs, lr_err *err);

/* ---- gitstore_odb.c ---- */
int gs_odb_new(gs_odb **out, gitstore *gs);
/* Objects written since the last clear, not yet in Redis. */
const gs_pending *gs_odb_pending(const gs_odb *b, size_t *n);
void gs_odb_clear(gs_odb *b);

/* ---- gitstore_msg.c ---- */
/* 1 if `name` is an acceptable file name (see gitstore_file). */
int gs_name_valid(const char *name);

/* The commit message: subject (first line of `summary`, capped at 200 bytes on a
 * UTF-8 boundary; "iteration N" if empty), the rest of the summary as body,
 * then the trailers "Iteration: N", "Attempt: A", "Job: ID". Control characters
 * other than newline and tab become spaces. */
int gs_message_build(lr_buf *out, const char *summary, long iteration, long attempt,
                     const char *job_id, size_t max, lr_err *err);

/* The value of the last "<key>: <number>" line of `msg`; LR_ENOTFOUND. */
int gs_message_trailer(long *val, const char *msg, const char *key);

/* Copy of the first line of `msg` (owned by the caller), NULL on no memory. */
char *gs_message_subject(const char *msg);

/* The stored form of an object, and its parse: "<type> <size>\0<content>".
 * gs_obj_parse checks the header and the size, and that the content hashes to
 * `expect` when given. */
int gs_obj_encode(char **value, size_t *len, git_object_t type, const void *data, size_t n);
int gs_obj_parse(git_object_t *type, const char **data, size_t *n, const char *value, size_t len,
                 const git_oid *expect, lr_err *err);

/* ---- gitstore.c ---- */
/* Turn a failed libgit2 call into an lr_err: the backend's own error when it
 * recorded one, otherwise libgit2's message. Returns the code. */
int gs_git_fail(gitstore *gs, int gitrc, lr_err *err, const char *what);
int gs_oid_parse(git_oid *oid, const char *hex);
/* The head commit id; LR_ENOTFOUND without history. */
int gs_read_ref(git_oid *oid, gitstore *gs, const char *ref, lr_err *err);
int gs_entry_fill(gitstore_entry *e, gitstore *gs, const git_commit *c, lr_err *err);
/* The tag object `accepted` points at and the commit it tags; LR_ENOTFOUND. */
int gs_read_accepted(git_oid *tag_oid, git_oid *target, gitstore *gs, lr_err *err);

/* Walk the first-parent chain from the head, at most `max` commits; `fn` sees
 * each (it may move the entry's strings out) and stops the walk by returning
 * non-zero (a negative value is returned as the error). LR_ENOTFOUND without
 * history. */
typedef int (*gs_walk_fn)(gitstore_entry *e, void *arg, lr_err *err);
int gs_walk(gitstore *gs, size_t max, gs_walk_fn fn, void *arg, lr_err *err);

#endif
