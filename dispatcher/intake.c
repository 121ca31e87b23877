/* intake.c - requests in, jobs recorded: validation, rejection with the
 * reason, and operator requests on the control stream. */
#include "dispatcher.h"

#include "log.h"
#include "trace.h"

#include <stdlib.h>
#include <string.h>

/* Requests recorded together, by one intake script: at most this many, and
 * no more once their specs reach this many bytes. */
#define INTAKE_MAX       32
#define INTAKE_MAX_BYTES (1u << 20)

/* A request made ready for the intake script, with what its record points
 * to (its id and, rejected, its spec point into the caller's request). */
typedef struct pending {
	lr_q_record rec;
	char *norm;     /* the normalised spec */
	char *stripped; /* the spec without its idempotency key */
	char *error;    /* why it is rejected */
	char *notes;    /* what the operator's caps changed */
	void *trace;    /* its trace, carried on when it is recorded */
} pending;

typedef struct intake_batch {
	pending p[INTAKE_MAX];
	size_t n;
	size_t bytes;
} intake_batch;

static void pending_free(pending *p)
{
	free(p->norm);
	free(p->stripped);
	free(p->error);
	free(p->notes);
	free(p->trace); /* dropped unprinted when it was not recorded */
	memset(p, 0, sizeof(*p));
}

/* The request is to be recorded as rejected, saying why (its trace is not
 * printed: it was never queued). */
static int reject(pending *p, const char *why)
{
	p->error = strdup(why);
	p->rec.error = p->error;
	lr_trace_resume(NULL);
	return p->error ? 0 : LR_ENOMEM;
}

/* Validate one request into *p, queued or rejected; < 0 (err says why) when
 * it cannot be recorded now. */
static int prepare(disp *d, pending *p, const char *id, const char *spec, size_t len, lr_err *err)
{
	lr_job_spec s;
	lr_err why;
	char holder[LR_JOB_ID_MAX + 1];
	char msg[LR_ERR_MSG_MAX];
	int oom;
	int rc;

	memset(p, 0, sizeof(*p));
	p->rec = (lr_q_record){.id = id, .spec = spec, .spec_len = len, .spec_bytes = len};
	lr_err_clear(&why);
	lr_trace_begin("intake");
	if (!lr_job_id_valid(id))
		return lr_err_set(err, LR_EPROTO, "request id '%.48s' is not a stream id", id);
	if (len > d->cfg.job.max_spec_bytes) {
		lr_err_set(&why, LR_ETOOBIG, "spec is %zu bytes, over the limit of %zu bytes", len,
		           d->cfg.job.max_spec_bytes);
		p->rec.spec = NULL;
		return reject(p, why.msg);
	}
	rc = disp_idem_claim(d, id, spec, len, &p->stripped, holder, err);
	lr_trace_mark("d.idem");
	if (rc < 0)
		return rc;
	if (holder[0]) {
		lr_err_set(&why, LR_EINVAL,
		           "idempotency_key already names job %s: this request is its repeat",
		           holder);
		return reject(p, why.msg);
	}
	if (p->stripped) { /* the key is not a field of the job */
		spec = p->stripped;
		len = strlen(p->stripped);
	}
	if (lr_job_spec_parse(&s, spec, len, &d->cfg.job, &why) < 0) {
		if (why.code == LR_ENOMEM)
			return lr_err_set(err, LR_ENOMEM, "out of memory validating job %s", id);
		snprintf(msg, sizeof(msg), "invalid spec: %s", why.msg);
		p->rec.spec = spec;
		p->rec.spec_len = len;
		return reject(p, msg);
	}
	lr_trace_mark("d.parse");
	p->norm = lr_job_spec_to_json(&s);
	lr_trace_mark("d.norm");
	p->notes = s.notes ? strdup(s.notes) : NULL;
	p->rec.kind = lr_job_kind_name(s.kind);
	oom = p->norm == NULL || (s.notes != NULL && p->notes == NULL);
	lr_job_spec_free(&s);
	if (oom)
		return lr_err_set(err, LR_ENOMEM, "out of memory normalising job %s", id);
	p->rec.queued = 1;
	p->rec.spec = p->norm;
	p->rec.spec_len = strlen(p->norm);
	p->rec.notes = p->notes;
	p->trace = lr_trace_hold();
	return 0;
}

static void recorded_one(pending *p, int recorded)
{
	if (p->rec.queued) {
		lr_trace_resume(p->trace);
		p->trace = NULL;
		lr_trace_mark("d.intake");
		lr_trace_end(NULL);
	}
	if (recorded && !p->rec.queued)
		log_info("job %s rejected: %s", p->rec.id, p->rec.error);
	else if (recorded)
		log_debug("job %s queued", p->rec.id);
}

/* Record the batch's requests, in one script; emptied either way. When that
 * fails but for Redis being away (LR_EIO), each is tried alone, so that one
 * request does not hold up the others: a batch of one says why it failed,
 * of more each failure is logged. */
static int flush(disp *d, intake_batch *b, lr_err *err)
{
	lr_q_record recs[INTAKE_MAX];
	int recorded[INTAKE_MAX] = {0};
	int ok[INTAKE_MAX];
	int rc;

	for (size_t i = 0; i < b->n; i++) {
		recs[i] = b->p[i].rec;
		ok[i] = 1;
	}
	rc = lr_q_intake_many(&d->q, recs, b->n, &d->cfg.queue, recorded, err);
	if (rc < 0 && rc != LR_EIO && b->n > 1) {
		rc = 0;
		for (size_t i = 0; i < b->n && rc == 0; i++) {
			lr_err why;
			int r1;

			lr_err_clear(&why);
			r1 = lr_q_intake(&d->q, &recs[i], &d->cfg.queue, &recorded[i], &why);
			ok[i] = r1 == 0;
			if (r1 == LR_EIO) {
				*err = why;
				rc = r1;
			} else if (r1 < 0) {
				log_error("job %s: %s", recs[i].id, why.msg);
			}
		}
	}
	for (size_t i = 0; i < b->n; i++) {
		if (rc == 0 && ok[i])
			recorded_one(&b->p[i], recorded[i]);
		pending_free(&b->p[i]);
	}
	b->n = 0;
	b->bytes = 0;
	return rc;
}

/* Validate one request into the batch, recording the batch when it is full. */
static int add(disp *d, intake_batch *b, const char *id, const char *spec, size_t len, lr_err *err)
{
	pending *p = &b->p[b->n];
	int rc = prepare(d, p, id, spec, len, err);

	if (rc < 0) {
		pending_free(p);
		return rc;
	}
	b->bytes += p->rec.spec ? p->rec.spec_len : 0;
	if (++b->n == INTAKE_MAX || b->bytes >= INTAKE_MAX_BYTES)
		return flush(d, b, err);
	return 0;
}

int disp_intake_one(disp *d, const char *id, const char *spec, size_t len, lr_err *err)
{
	intake_batch b;
	int rc;

	b.n = 0;
	b.bytes = 0;
	rc = add(d, &b, id, spec, len, err);
	if (rc == 0 && b.n > 0)
		rc = flush(d, &b, err);
	return rc;
}

/* ---- the control stream ---------------------------------------------------- */

static int ack_control(disp *d, const char *entry, lr_err *err)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	int rc;

	lr_key(&d->cfg.keys, key, "control");
	rc = lr_redis_cmd(d->q.r, &rep, err, "XACK %s %s %s", key, LR_GROUP_DISPATCHERS, entry);
	if (rep)
		freeReplyObject(rep);
	if (rc == 0) {
		rc = lr_redis_cmd(d->q.r, &rep, err, "XDEL %s %s", key, entry);
		if (rep)
			freeReplyObject(rep);
	}
	return rc;
}

/* One control entry [id, [field, value, ...]]: `cancel <job id>`. */
static int control_one(disp *d, const redisReply *e, lr_err *err)
{
	const redisReply *fields;
	const char *entry;
	lr_err why;
	int rc;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !lr_reply_is_str(e->element[0]))
		return lr_err_set(err, LR_EPROTO, "control stream: malformed entry");
	entry = e->element[0]->str;
	fields = e->element[1];
	for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
		const char *f = lr_reply_elem_str(fields, i);
		const char *v = lr_reply_elem_str(fields, i + 1);

		if (f != NULL && v != NULL && strcmp(f, "cancel") == 0) {
			lr_err_clear(&why);
			rc = lr_q_cancel(&d->q, v, "request on the control stream", NULL, &why);
			if (rc == LR_EIO) {
				*err = why;
				return rc; /* keep the entry pending; it is retried */
			}
			if (rc == 0)
				log_info("job %s cancelled (control stream)", v);
			else
				log_info("control: cancel %.48s: %s", v, why.msg);
		} else {
			log_warn("control: ignoring unknown request '%.32s' in entry %s",
			         f ? f : "?", entry);
		}
	}
	return ack_control(d, entry, err);
}

static int control_entries(disp *d, const redisReply *entries, lr_err *err)
{
	if (entries == NULL || entries->type != REDIS_REPLY_ARRAY)
		return 0;
	for (size_t i = 0; i < entries->elements; i++) {
		int rc = control_one(d, entries->element[i], err);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- requests ---------------------------------------------------------------- */

static int take(disp *d, const char *const *ids, size_t nids, long *n, lr_err *err)
{
	const lr_q_taking ask = {.consumer = d->cfg.name,
	                         .count = d->cfg.batch,
	                         .max_bytes = d->cfg.job.max_spec_bytes,
	                         .pol = &d->cfg.queue,
	                         .ids = ids,
	                         .nids = nids};
	intake_batch b;
	lr_q_taken t;
	int rc;

	b.n = 0;
	b.bytes = 0;
	lr_trace_begin("take");
	rc = lr_q_take(&d->q, &ask, &t, err);
	if (rc == 0 && t.n > 0)
		lr_trace_end(NULL);
	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		const lr_q_request *req = &t.reqs[i];

		rc = add(d, &b, req->id, req->spec, req->spec_len, err);
		if (rc < 0 && rc != LR_EIO) {
			/* One request must not hold up the others; it stays
			 * pending and is retried by the takeover timer. */
			log_error("job %s: %s", req->id, err->msg);
			rc = 0;
		}
	}
	if (rc == 0 && b.n > 0) {
		const char *only = b.n == 1 ? b.p[0].rec.id : NULL; /* in t */

		rc = flush(d, &b, err);
		if (rc < 0 && rc != LR_EIO) { /* a batch of one: as above */
			log_error("job %s: %s", only ? only : "?", err->msg);
			rc = 0;
		}
	}
	for (size_t i = 0; i < b.n; i++) /* Redis went away: they stay pending */
		pending_free(&b.p[i]);
	if (n)
		*n += (long)t.n;
	lr_q_taken_free(&t);
	return rc;
}

/* The blocking read, on both streams. Reads the request whole: bounded by
 * Redis's proto-max-bulk-len on the way in (see docs/protocol.md). */
static int wait_and_read(disp *d, long *n, lr_err *err)
{
	char req[LR_KEY_MAX];
	char ctl[LR_KEY_MAX];
	redisReply *rep = NULL;
	int rc;

	lr_key(&d->cfg.keys, req, "requests");
	lr_key(&d->cfg.keys, ctl, "control");
	rc = lr_redis_cmd(
	    d->q.r, &rep, err, "XREADGROUP GROUP %s %s COUNT 1 BLOCK %ld STREAMS %s %s > >",
	    LR_GROUP_DISPATCHERS, d->cfg.name, lr_redis_block_ms(d->q.r, d->cfg.tick_ms), req, ctl);
	if (rc < 0 || rep->type == REDIS_REPLY_NIL)
		goto cleanup;
	if (rep->type != REDIS_REPLY_ARRAY) {
		rc = lr_err_set(err, LR_EPROTO, "XREADGROUP: unexpected reply");
		goto cleanup;
	}
	for (size_t i = 0; rc == 0 && i < rep->elements; i++) {
		const redisReply *s = rep->element[i];
		const redisReply *entries;

		if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
		    !lr_reply_is_str(s->element[0]))
			continue;
		entries = s->element[1];
		if (strcmp(s->element[0]->str, ctl) == 0) {
			rc = control_entries(d, entries, err);
			continue;
		}
		for (size_t j = 0;
		     rc == 0 && entries->type == REDIS_REPLY_ARRAY && j < entries->elements; j++) {
			const redisReply *e = entries->element[j];
			const redisReply *f;
			const redisReply *spec = NULL;

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    !lr_reply_is_str(e->element[0]))
				continue;
			/* Exactly one field, named `spec` byte for byte, as the take
			 * script reads it: one reading of an entry everywhere. */
			f = e->element[1];
			if (f->type == REDIS_REPLY_ARRAY && f->elements == 2 &&
			    f->element[0]->type == REDIS_REPLY_STRING && f->element[0]->len == 4 &&
			    memcmp(f->element[0]->str, "spec", 4) == 0 &&
			    f->element[1]->type == REDIS_REPLY_STRING)
				spec = f->element[1];
			if (spec == NULL) {
				/* The take script words this rejection; let it. */
				const char *id = e->element[0]->str;

				rc = take(d, &id, 1, NULL, err);
			} else {
				rc = disp_intake_one(d, e->element[0]->str, spec->str, spec->len,
				                     err);
			}
			(*n)++;
		}
	}
cleanup:
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int disp_intake(disp *d, int may_block, long *n, lr_err *err)
{
	int rc;

	*n = 0;
	rc = take(d, NULL, 0, n, err);
	if (rc == 0 && *n == 0 && may_block)
		rc = wait_and_read(d, n, err);
	if (rc == 0 && *n > 0) {
		/* The jobs just recorded (and their requests deleted) are on
		 * the replicas too before we go on, when asked for. */
		lr_err why;

		lr_err_clear(&why);
		rc = lr_redis_wait_replicas(d->q.r, &why);
		if (rc == LR_EIO) {
			*err = why;
			return rc;
		}
		if (rc < 0)
			log_warn("%s", why.msg);
		rc = 0;
	}
	return rc;
}

/* Requests pending for this consumer name (a restart under a fixed --name),
 * and those a stopped dispatcher left behind. */
static int xautoclaim(disp *d, const char *stream, int justid, redisReply **out, lr_err *err)
{
	char key[LR_KEY_MAX];

	lr_key(&d->cfg.keys, key, stream);
	return lr_redis_cmd(d->q.r, out, err,
	                    justid ? "XAUTOCLAIM %s %s %s %ld 0-0 COUNT %ld JUSTID"
	                           : "XAUTOCLAIM %s %s %s %ld 0-0 COUNT %ld",
	                    key, LR_GROUP_DISPATCHERS, d->cfg.name, d->cfg.request_claim_ms,
	                    d->cfg.batch);
}

int disp_takeover(disp *d, lr_err *err)
{
	redisReply *rep = NULL;
	const char **ids = NULL;
	size_t nids = 0;
	int rc;

	/* Redis 7.0: [next cursor, [ids], [ids deleted meanwhile]]. One page per
	 * round is enough; the rest waits for the next round. */
	rc = xautoclaim(d, "requests", 1, &rep, err);
	if (rc < 0)
		return rc;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
	    rep->element[1]->type == REDIS_REPLY_ARRAY && rep->element[1]->elements > 0) {
		const redisReply *claimed = rep->element[1];

		ids = calloc(claimed->elements, sizeof(*ids));
		if (ids == NULL) {
			freeReplyObject(rep);
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < claimed->elements; i++)
			if (lr_reply_is_str(claimed->element[i]))
				ids[nids++] = claimed->element[i]->str;
		log_info("taking over %zu request(s) a stopped dispatcher left pending", nids);
		rc = take(d, ids, nids, NULL, err);
	}
	free(ids);
	freeReplyObject(rep);
	if (rc < 0)
		return rc;
	rc = xautoclaim(d, "control", 0, &rep, err);
	if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2)
		rc = control_entries(d, rep->element[1], err);
	if (rep)
		freeReplyObject(rep);
	return rc;
}

int disp_recover_own(disp *d, lr_err *err)
{
	char key[LR_KEY_MAX];
	redisReply *rep = NULL;
	const char **ids = NULL;
	size_t nids = 0;
	int rc;

	rc = lr_redis_cmd(d->q.r, &rep, err, "XPENDING %s %s - + %ld %s",
	                  lr_key(&d->cfg.keys, key, "requests"), LR_GROUP_DISPATCHERS, d->cfg.batch,
	                  d->cfg.name);
	if (rc < 0)
		return rc;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
		ids = calloc(rep->elements, sizeof(*ids));
		if (ids == NULL) {
			freeReplyObject(rep);
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		}
		for (size_t i = 0; i < rep->elements; i++) {
			const char *id = lr_reply_elem_str(rep->element[i], 0);

			if (id != NULL)
				ids[nids++] = id;
		}
		log_info("recovering %zu request(s) pending from before a restart", nids);
		rc = take(d, ids, nids, NULL, err);
	}
	free(ids);
	freeReplyObject(rep);
	return rc;
}
