/* gitstore.h - a job's iteration history as git objects and refs kept in Redis.
 *
 * Every iteration of a job becomes one commit of its files (`solution.py`, the
 * tests, `report.json`) whose message is the report's summary; the history is
 * linear on `refs/heads/main`, and the accepted iteration carries the annotated
 * tag `accepted`. The objects live in the hash `<prefix>job:<id>:git:objects`
 * (field: 40-hex object id, value: the object in git's uncompressed loose form
 * "<type> <size>\0<content>"), the refs in `<prefix>job:<id>:git:refs`
 * (fields `HEAD`, `refs/heads/main`, `refs/tags/accepted`: 40-hex ids, HEAD
 * symbolic as "ref: refs/heads/main").
 *
 * Writes are fenced like every write of a worker: a store opened with attempt
 * N may only write while the job hash `<prefix>job:<id>` has `state` =
 * "running" and `attempt` = N (a refusal also counts in `<prefix>stats`
 * field `total:stale_writes`). A commit's new objects and the
 * move of its ref happen in one Lua script that checks the attempt and that the
 * ref still holds the value the commit was built on (compare-and-swap), so a
 * stale worker cannot move a ref, a ref never names a missing object, and a
 * commit is either wholly stored or not at all. Committing an iteration that is
 * already in the history (retry, duplicate delivery, reclaimed attempt) returns
 * the existing commit instead of adding another.
 *
 * A store is used by one thread at a time. It runs on the caller's Redis
 * client (common/redis.h: the connection every binary opens, which loads the
 * store's scripts once and reconnects by itself after an LR_EIO, so a failed
 * operation can simply be repeated: a commit that did land is then reported
 * as existing).
 * Every reply is checked for type and size; objects and ref values larger
 * than the configured caps are refused by the server-side scripts before
 * they are sent. */
#ifndef LLMREPL_GITSTORE_H
#define LLMREPL_GITSTORE_H

#include "err.h"

#include <stddef.h>
#include <stdio.h>

struct lr_redis;

/* The store's keys, as suffixes of `<prefix>job:<id>:`. They belong to the
 * job: register them as job auxiliaries so they expire with it. */
#define GITSTORE_AUX_OBJECTS "git:objects"
#define GITSTORE_AUX_REFS    "git:refs"

#define GITSTORE_OID_HEX   40  /* hex digits of an object id */
#define GITSTORE_MAX_FILES 16  /* files in one iteration's commit */
#define GITSTORE_NAME_MAX  100 /* bytes of a file name */

typedef struct gitstore gitstore;

typedef struct gitstore_opts {
	const char *prefix;       /* key prefix, default "llmrepl:" */
	const char *author_name;  /* author and committer, default "llm-repl" */
	const char *author_email; /* default "llm-repl@localhost" */
	int fixed_time;           /* 1: every signature uses `time` (deterministic ids) */
	long long time;           /* seconds since the epoch when fixed_time is set */
	int tz_offset_min;        /* signature time zone, minutes east of UTC */
	size_t max_file;          /* bytes per committed file, default 1 MiB */
	size_t max_message;       /* bytes of a summary or tag message, default 16 KiB */
	size_t max_object;        /* bytes of one stored object read back, default 4 MiB */
	size_t max_history;       /* commits walked by log/lookup, default 10000 */
	size_t max_objects;       /* objects listed by a full scan, default 1000000 */
	const char *fence_job;    /* the job whose running attempt fences writes, when
	                             not the store's own (a session's history is
	                             written by its exec jobs); NULL: the store's job */
	int fence_done;           /* 1: writes are also allowed once that attempt has
	                             finished the job as `done` (fence_lua.h) */
	int blind_writes;         /* 1: a commit sends all its new objects without
	                             asking which the store has (the commit keeps
	                             those already stored): for histories whose files
	                             change each commit (a session's) */
} gitstore_opts;

/* Fill `o` with the defaults above. */
void gitstore_opts_init(gitstore_opts *o);

/* Open the history of job `job_id` on `r` (borrowed; it must outlive the
 * store). `attempt` is the writer's attempt number (the fencing token); 0
 * opens the store read-only (log, read, export). `opts` may be NULL for the
 * defaults; its strings are copied. The store owns a libgit2 reference
 * (git_libgit2_init), released by gitstore_free. */
int gitstore_open(gitstore **out, struct lr_redis *r, const char *job_id, long attempt,
                  const gitstore_opts *opts, lr_err *err);

/* Accepts NULL. */
void gitstore_free(gitstore *gs);

/* Keep libgit2 initialised for the life of the process (a process that opens
 * a store per small commit would otherwise set it up and tear it down each
 * time). Idempotent; main thread. */
int gitstore_keep_library(lr_err *err);

/* One file of an iteration. The name is a plain file name: 1 to
 * GITSTORE_NAME_MAX bytes of [A-Za-z0-9._-], not starting with '.' or '-'.
 * The data may hold any bytes, at most max_file of them. */
typedef struct gitstore_file {
	const char *name;
	const char *data;
	size_t len;
} gitstore_file;

/* One iteration to commit. */
typedef struct gitstore_commit_req {
	long iteration;      /* >= 0, greater than the head's iteration */
	const char *summary; /* the report's summary: the first line becomes the subject */
	const gitstore_file *files;
	size_t nfiles; /* 1 .. GITSTORE_MAX_FILES, names distinct */
} gitstore_commit_req;

/* A commit as read back. */
typedef struct gitstore_entry {
	char oid[GITSTORE_OID_HEX + 1];
	long iteration;
	long attempt;   /* the attempt that wrote it */
	long long time; /* committer time, seconds since the epoch */
	int accepted;   /* the `accepted` tag points at it */
	char *subject;  /* first line of the message (owned) */
	char *message;  /* the whole message (owned) */
} gitstore_entry;

/* Commit iteration `req->iteration` on top of the current head (none for the
 * first). On success `oid` holds the commit's id and `*existed` is 0 for a new
 * commit, 1 when that iteration was already committed (by this or an earlier
 * attempt; nothing was written and `oid` is the earlier commit).
 * Errors: LR_ESTALE (the job is no longer running our attempt; nothing written),
 * LR_EINVAL (bad name, no files, read-only store, or an iteration below the
 * head's that the history does not hold), LR_ETOOBIG, LR_EIO, LR_EPROTO. */
int gitstore_commit(char oid[GITSTORE_OID_HEX + 1], int *existed, gitstore *gs,
                    const gitstore_commit_req *req, lr_err *err);

/* Tag a commit `accepted` with an annotated tag carrying `message` (NULL for
 * a default). `commit_oid` NULL means the head. If the tag already points at
 * that commit, nothing is written and `*existed` is 1; a tag on another commit
 * is moved (fenced, compare-and-swap like a commit). `tag_oid` (may be NULL)
 * receives the tag object's id. */
int gitstore_tag_accepted(char tag_oid[GITSTORE_OID_HEX + 1], int *existed, gitstore *gs,
                          const char *commit_oid, const char *message, lr_err *err);

/* The head commit. LR_ENOTFOUND when the job has no history yet (so a
 * resuming worker starts from iteration 0). Free with gitstore_entry_clear. */
int gitstore_head(gitstore_entry *out, gitstore *gs, lr_err *err);

/* The commit of iteration `iteration`, walking back from the head.
 * LR_ENOTFOUND when it is not in the history. */
int gitstore_find_iteration(gitstore_entry *out, gitstore *gs, long iteration, lr_err *err);

/* The commit the `accepted` tag points at; LR_ENOTFOUND without the tag. */
int gitstore_accepted(gitstore_entry *out, gitstore *gs, lr_err *err);

void gitstore_entry_clear(gitstore_entry *e);

/* One file read back: NUL-terminated for convenience, `len` is exact. */
typedef struct gitstore_blob {
	char name[GITSTORE_NAME_MAX + 1];
	char *data; /* owned */
	size_t len;
} gitstore_blob;

/* A commit's files, e.g. the last committed iteration a reclaimed attempt
 * resumes from. */
typedef struct gitstore_snapshot {
	gitstore_entry entry;
	size_t nfiles;
	gitstore_blob files[GITSTORE_MAX_FILES];
} gitstore_snapshot;

/* Read the files of commit `commit_oid` (NULL: the head). LR_ENOTFOUND when
 * there is no such commit (or no history). Free with gitstore_snapshot_clear. */
int gitstore_read(gitstore_snapshot *out, gitstore *gs, const char *commit_oid, lr_err *err);

/* The file named `name` in `s`, or NULL. */
const gitstore_blob *gitstore_snapshot_file(const gitstore_snapshot *s, const char *name);

void gitstore_snapshot_clear(gitstore_snapshot *s);

/* The history, newest first, at most `max` entries (0: max_history).
 * `*entries` is owned by the caller: gitstore_log_free(entries, n).
 * An empty history gives n = 0 and returns 0. */
int gitstore_log(gitstore_entry **entries, size_t *n, gitstore *gs, size_t max, lr_err *err);

void gitstore_log_free(gitstore_entry *entries, size_t n);

/* Print the history, newest first, one line per commit:
 * "<oid> iteration <n>[ accepted]: <subject>". Nothing for an empty history. */
int gitstore_log_print(gitstore *gs, FILE *out, lr_err *err);

/* Write the history as an ordinary repository in `dir`, which must not exist
 * or be an empty directory: objects in one pack, `refs/heads/main`,
 * `refs/tags/accepted` if set, HEAD on main, and the head's files checked out.
 * LR_ENOTFOUND when the job has no history. */
int gitstore_export(gitstore *gs, const char *dir, lr_err *err);

/* Deployment of the accepted iteration: push the commit the `accepted` tag
 * points at to `ref` on the repository at `url` (a path, file:// or another
 * URL libgit2 can push to without credentials). Refused (LR_EINVAL, nothing
 * pushed) unless `criteria_passed` is set and the tag exists. `ref` NULL means
 * "refs/heads/main". Without `force`, a remote ref that is not an ancestor of
 * the commit is left alone and the push fails (LR_ESTALE). Pushing the same
 * commit again succeeds. Works in a temporary directory under $TMPDIR. */
int gitstore_push(gitstore *gs, const char *url, const char *ref, int criteria_passed, int force,
                  lr_err *err);

#endif
