/* queue.h - the job protocol on Redis: every state change of a job.
 *
 * States: queued -> running -> done, with retry_wait between attempts, and
 * the other final states cancelled, rejected (the spec did not validate) and
 * dead (failed max_attempts times). Each change is one Lua script
 * (queue_lua.c), so it is atomic and keeps the counters in `P stats` right.
 *
 * Delivery is at least once; effects are fenced. A worker claims a job and
 * gets an attempt number; while it runs it renews a lease; every write it
 * makes (lr_q_write, lr_q_finish, lr_q_fail) succeeds only while the job is
 * still `running` that same attempt, else it returns LR_ESTALE and changes
 * nothing. A dispatcher reclaims jobs whose lease ran out (lr_q_reclaim),
 * which ends the old attempt: a stalled worker that wakes up is refused.
 *
 * All functions take an lr_q: the connection and the key layout, borrowed.
 * None keeps state, so any number of dispatchers and workers may call them at
 * once. */
#ifndef LLMREPL_QUEUE_H
#define LLMREPL_QUEUE_H

#include "err.h"
#include "keys.h"
#include "redis.h"

#include <stddef.h>

/* A queue as one process sees it: a connection and the key layout, both
 * borrowed (the handle owns nothing and needs no closing). Keep one beside
 * the connection, or make one for a call: `&(lr_q){r, &keys}`. */
typedef struct lr_q {
	lr_redis *r;
	const lr_keys *k;
} lr_q;

/* The states of a job (docs/protocol.md), with one table of names. */
typedef enum {
	LR_QS_NONE = 0, /* no such job (never submitted, or expired): "gone" */
	LR_QS_QUEUED,
	LR_QS_RUNNING,
	LR_QS_RETRY_WAIT,
	LR_QS_DONE, /* the final states from here */
	LR_QS_CANCELLED,
	LR_QS_REJECTED,
	LR_QS_DEAD,
	LR_QS_COUNT
} lr_q_state;

const char *lr_q_state_name(lr_q_state s);
/* The state a name means, LR_QS_NONE for any other text. */
lr_q_state lr_q_state_parse(const char *name);
int lr_q_state_is_final(lr_q_state s);

/* Per-job policy, set by the dispatcher when it records a job and kept in
 * the job hash, so workers and other dispatchers follow the same rules. */
typedef struct lr_q_policy {
	long ttl_s;          /* final jobs (and all their keys) expire after this */
	long max_attempts;   /* failed attempts (crash, lost lease, infrastructure) before dead */
	long backoff_ms;     /* retry delay base: base * 2^(failures-1), +-20% jitter */
	long backoff_max_ms; /* ... capped here */
	long events_max;     /* events kept per job (approximately, MAXLEN ~) */
} lr_q_policy;

void lr_q_policy_default(lr_q_policy *p);

/* Create the consumer groups (and streams) if missing: `workers` on jobs,
 * `dispatchers` on requests and control. Safe to call any time, e.g. after a
 * NOGROUP error (a Redis restarted without persistence). */
int lr_q_ensure_groups(lr_q *q, lr_err *err);
/* Does this error mean the groups are missing? */
int lr_q_err_nogroup(const lr_err *err);

/* What kind of trouble an error from these functions is, for deciding what
 * to do next. Every kind is worth another try after a pause; none is a reason
 * to stop taking jobs. */
typedef enum {
	LR_Q_OK = 0,
	LR_Q_CONN,    /* Redis unreachable or the connection dropped (reconnects by itself) */
	LR_Q_BUSY,    /* Redis busy: a long script, loading its data, failing over */
	LR_Q_OOM,     /* Redis refuses writes: maxmemory, read-only, disk errors */
	LR_Q_NOGROUP, /* the consumer groups are gone: lr_q_ensure_groups */
	LR_Q_DATA,    /* a shared key of the wrong type or a broken value: lr_q_repair */
	LR_Q_SCRIPT,  /* any other error answer from Redis */
	LR_Q_LOCAL,   /* out of memory here, bad arguments */
} lr_q_trouble;

lr_q_trouble lr_q_classify(int rc, const lr_err *err);
const char *lr_q_trouble_name(lr_q_trouble t);

/* Put right what hands on the keys broke (docs/protocol.md, "When someone
 * writes into the keys"): shared keys of the wrong type are moved aside to
 * `P broken:<name>:<ms>` and made again, counters that are not numbers restart
 * at 0, and one SCAN page of about `count` keys from *cursor is checked for
 * jobs: broken ones are dead-lettered; a queued job without its work entry,
 * a running one without its lease, a waiting one without its retry get them
 * back; a final one without an expiry gets it. *cursor is 0 after a whole
 * pass. *fixed (optional) = changes made; each one is logged. */
int lr_q_repair(lr_q *q, unsigned long long *cursor, long count, long *fixed, lr_err *err);

/* ---- dispatcher ---------------------------------------------------------- */

/* A request taken from the requests stream: id (the job id) and its spec. */
typedef struct lr_q_request {
	const char *id;
	const char *spec;
	size_t spec_len;
} lr_q_request;

/* Requests taken: reqs[0..n) point into keep. */
typedef struct lr_q_taken {
	lr_q_request *reqs;
	size_t n;
	redisReply *keep;
} lr_q_taken;

/* What a dispatcher asks of lr_q_take. */
typedef struct lr_q_taking {
	const char *consumer;
	long count;             /* requests at most */
	size_t max_bytes;       /* a spec's size at most */
	const lr_q_policy *pol; /* what a rejected request is recorded under */
	const char *const *ids; /* entries it claimed from a stopped dispatcher, or NULL */
	size_t nids;
} lr_q_taking;

/* Take up to t->count new requests for t->consumer (or, with ids, those
 * entries). Requests that are not exactly one field `spec`, or whose spec
 * is over max_bytes, are rejected inside Redis (and logged here; recorded
 * under pol), not returned. Free *taken with lr_q_taken_free, also after an
 * error. */
int lr_q_take(lr_q *q, const lr_q_taking *t, lr_q_taken *taken, lr_err *err);
void lr_q_taken_free(lr_q_taken *t); /* accepts NULL */

/* What intake records for one request. */
typedef struct lr_q_record {
	const char *id;   /* the request's entry id, which becomes the job's */
	int queued;       /* 1: queued; 0: rejected */
	const char *kind; /* the kind's name (queued jobs) */
	const char *spec; /* queued: the normalised spec; rejected: what was sent, or NULL */
	size_t spec_len;
	size_t spec_bytes; /* the size that was submitted */
	const char *error; /* rejected: why */
	const char *notes; /* what the operator's caps changed, or NULL */
} lr_q_record;

/* Record a request as a job, queued or rejected, then acknowledge and delete
 * the request. Idempotent: a job that exists is left alone (*recorded, when
 * given, is then 0). */
int lr_q_intake(lr_q *q, const lr_q_record *rec, const lr_q_policy *pol, int *recorded,
                lr_err *err);
/* The same for n requests in one call (one script: the dispatcher's batch);
 * recorded[i], when given, says whether recs[i] was. A refusal (bad data:
 * a shared key of the wrong type) records none of them. */
int lr_q_intake_many(lr_q *q, const lr_q_record *recs, size_t n, const lr_q_policy *pol,
                     int *recorded, lr_err *err);

/* Jobs whose lease expired: retry (with backoff) or dead. *n = reclaimed. */
int lr_q_reclaim(lr_q *q, long limit, long *n, lr_err *err);
/* Jobs whose retry is due: queued again. */
int lr_q_promote(lr_q *q, long limit, long *n, lr_err *err);
/* Work-stream entries pending for more than idle_ms: redeliver the jobs a
 * vanished consumer never claimed, drop leftovers. */
int lr_q_orphans(lr_q *q, long idle_ms, long limit, long *n, lr_err *err);
/* Forget workers silent for worker_gone_ms and idle consumers with nothing
 * pending. */
int lr_q_gc(lr_q *q, long consumer_idle_ms, long worker_gone_ms, lr_err *err);

/* Retention by size. Every final job's keys are measured (MEMORY USAGE) as
 * it ends and listed in `P finished`, oldest first. This forgets finished
 * jobs, oldest first, while their bytes exceed max_bytes (0: no limit), and
 * drops entries whose keys already expired; never a queued or running job.
 * At most `limit` entries per call. *bytes = the finished bytes left. */
int lr_q_retain(lr_q *q, long long max_bytes, long limit, long *evicted, long *expired,
                long long *bytes, lr_err *err);

/* ---- completion callbacks (the outbox `P callbacks`) ---- */

typedef struct lr_q_callback {
	const char *id;
	long attempt; /* 1, 2, ... */
	const char *url;
	const char *state;
	const char *passed; /* "1", "0" or "" */
	const char *error;
	const char *summary;
	const char *result; /* the result JSON, or "" */
	size_t result_len;
} lr_q_callback;

/* Take up to `limit` due callbacks, moving each lease_ms ahead. *cbs points
 * into *keep (free it with freeReplyObject). */
int lr_q_cb_take(lr_q *q, long lease_ms, long limit, lr_q_callback **cbs, size_t *n,
                 redisReply **keep, lr_err *err);
/* What became of a delivery attempt: the job's `callback_state` and its
 * `callback` event's `outcome` name it ("delivered", "retry", "failed"). */
typedef enum { LR_CB_DELIVERED, LR_CB_RETRY, LR_CB_FAILED } lr_q_cb_outcome;

const char *lr_q_cb_outcome_name(lr_q_cb_outcome o);

/* One delivery attempt, as recorded. */
typedef struct lr_q_cb_attempt {
	lr_q_cb_outcome outcome;
	const char *status; /* the HTTP status, as text ("0": none) */
	const char *detail; /* why it failed; NULL or "" for nothing */
	long retry_in_ms;   /* LR_CB_RETRY: again this much later */
} lr_q_cb_attempt;

/* Record attempt `attempt` of job id's callback: its outcome, with status
 * and detail in the job's `callback` event. */
int lr_q_cb_report(lr_q *q, const char *id, long attempt, const lr_q_cb_attempt *at, lr_err *err);

/* Cancel a job that is not final yet: it becomes `cancelled` at once (a
 * running attempt's writes are refused from then on). *prev (optional) gets
 * the state it had, or for a final job its final state.
 * Returns 0 when cancelled, LR_ENOTFOUND, or LR_EINVAL when already final (or
 * its keys were broken: it is dead-lettered). */
int lr_q_cancel(lr_q *q, const char *id, const char *by, lr_q_state *prev, lr_err *err);

/* ---- worker -------------------------------------------------------------- */

typedef struct lr_q_job {
	char id[LR_JOB_ID_MAX + 1];
	char entry[LR_JOB_ID_MAX + 1]; /* its entry in the work stream */
	long attempt;                  /* the fencing token */
	char kind[32];
	char *spec; /* the normalised spec JSON (owned) */
	size_t spec_len;
} lr_q_job;

void lr_q_job_free(lr_q_job *j); /* frees the members; accepts NULL */

/* A claim of a job: for whom, its lease, and what it got. */
typedef struct lr_q_claim {
	const char *worker;
	long lease_ms;
	lr_q_job *job; /* filled when got */
	int got;       /* out: 1 when a job was claimed */
} lr_q_claim;

/* Wait up to block_ms (< 0: do not wait) for a job and claim it for
 * c->worker. Returns 0 with c->got = 1 and *c->job filled, or c->got = 0
 * when nothing was claimable (timeout, an entry whose job was cancelled,
 * expired or superseded, or a job whose keys were broken: it is
 * dead-lettered with the reason and logged). */
int lr_q_next(lr_q *q, long block_ms, lr_q_claim *c, lr_err *err);

/* Extend the lease of a running attempt to now + lease_ms. LR_ESTALE when
 * the attempt is over; state and cur_attempt (both optional) then say what
 * the job is now (LR_QS_CANCELLED, LR_QS_RETRY_WAIT, LR_QS_NONE, ...; its
 * attempt). */
int lr_q_renew(lr_q *q, const char *id, long attempt, const char *worker, long lease_ms,
               lr_q_state *state, long *cur_attempt, lr_err *err);

/* A batch of fenced writes, applied all or nothing (see lr_q_write). */
typedef struct lr_q_ops lr_q_ops;

lr_q_ops *lr_q_ops_new(void);
void lr_q_ops_free(lr_q_ops *ops);
/* Fields of the job hash. */
int lr_q_ops_set(lr_q_ops *ops, size_t n, const char *const *fields, const char *const *values,
                 const size_t *lens);
/* Fields of iteration `it` (P job:<id>:it:<it>); the job's `iterations`
 * field becomes the highest iteration written. */
int lr_q_ops_iter(lr_q_ops *ops, long it, size_t n, const char *const *fields,
                  const char *const *values, const size_t *lens);
/* An event of `type` with extra fields (type, state, attempt and at are
 * added). */
int lr_q_ops_event(lr_q_ops *ops, const char *type, size_t n, const char *const *fields,
                   const char *const *values, const size_t *lens);
/* A key `P job:<id>:<suffix>` that expires with the job. */
int lr_q_ops_aux(lr_q_ops *ops, const char *suffix);

/* *state (optional): LR_QS_RUNNING, or the job's state when refused. */
int lr_q_write(lr_q *q, const char *id, long attempt, const lr_q_ops *ops, lr_q_state *state,
               lr_err *err);

/* What a finished attempt records. */
typedef struct lr_q_result {
	int passed;
	const char *result;  /* the result JSON */
	const char *error;   /* NULL or "" for none */
	const char *summary; /* one line, or NULL */
	size_t nextra;       /* extra job fields: fields[i] = values[i] */
	const char *const *fields;
	const char *const *values;
} lr_q_result;

/* Finish a running attempt: state done with *res. Safe to repeat when a
 * reply was lost. LR_ESTALE when refused. */
int lr_q_finish(lr_q *q, const char *id, long attempt, const lr_q_result *res, lr_q_state *state,
                lr_err *err);
/* lr_q_finish, and in the same call (one round trip, one script) the next
 * job claimed for next->worker as lr_q_next would claim it without waiting:
 * one routed to it first, then a new one. Returns the finish's outcome as
 * lr_q_finish does; next->got = 1 with *next->job filled when a job was
 * claimed, which can happen even when the finish was refused (LR_ESTALE):
 * the worker must then run or release it. An error before the reply
 * (connection, busy, data) claims nothing new, but a lost reply may have
 * claimed one: retry with lr_q_finish, and that job's lease runs out as
 * after a lost claim reply. */
int lr_q_finish_next(lr_q *q, const char *id, long attempt, const lr_q_result *res,
                     lr_q_state *state, lr_q_claim *next, lr_err *err);

typedef enum {
	LR_Q_RETRY,   /* the attempt failed (infrastructure): retry with backoff, or dead */
	LR_Q_RELEASE, /* give the job back unharmed (shutdown): queued again, not a failure */
	LR_Q_DEAD,    /* cannot ever succeed here: dead now */
} lr_q_fail_mode;

/* End a running attempt without a result. *outcome (optional): where the job
 * went, LR_QS_RETRY_WAIT, LR_QS_QUEUED (released) or LR_QS_DEAD; when refused,
 * the state it is in. */
int lr_q_fail(lr_q *q, const char *id, long attempt, lr_q_fail_mode mode, const char *reason,
              lr_q_state *outcome, lr_err *err);

/* Register the worker as alive for ttl_ms with descriptive fields. */
int lr_q_heartbeat(lr_q *q, const char *worker, long ttl_ms, size_t n, const char *const *fields,
                   const char *const *values, lr_err *err);
/* The worker's `sessions` (n held) in its record now, if the record exists
 * (the claim routes cells by it: it must not wait for the next heartbeat).
 * at > 0: when n was counted (lr_q_stamp()); it is written, with
 * sessions_at, only when no later count is there (the heartbeat thread
 * writes it too, from its own connection: without the stamps a beat that
 * read the count before this note could land after it and put the older
 * count back). job (or NULL): the job whose cell this count follows; the
 * place its claim reserved on the worker (P places:<worker>) is dropped,
 * the count holding its session now. */
int lr_q_note_sessions(lr_q *q, const char *worker, long n, long long at, const char *job,
                       lr_err *err);
/* A stamp for a value written from two connections: microseconds of the
 * wall clock, and always more than *last (updated). */
long long lr_q_stamp(long long *last);
/* Remove a stopping worker from the registry and the consumer group. */
int lr_q_unregister(lr_q *q, const char *worker, lr_err *err);

/* ---- everyone -------------------------------------------------------------- */

/* Is this the name of a final state? (For fields read back from Redis.) */
int lr_q_state_final(const char *name);

#endif
