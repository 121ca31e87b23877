/* intake.c - requests in, jobs recorded: validation, rejection with the
 * reason, and operator requests on the control stream. */
#include "dispatcher.h"

#include "log.h"
#include "trace.h"

#include <stdlib.h>
#include <string.h>

int disp_intake_one(disp *d, const char *id, const char *spec, size_t len, lr_err *err)
{
	lr_job_spec s;
	lr_err why;
	char *norm = NULL, *stripped = NULL;
	char holder[LR_JOB_ID_MAX + 1];
	char msg[LR_ERR_MSG_MAX];
	lr_q_record rec = {.id = id, .spec = spec, .spec_len = len, .spec_bytes = len};
	int recorded = 0;
	int rc;

	lr_err_clear(&why);
	lr_trace_begin("intake");
	if (!lr_job_id_valid(id))
		return lr_err_set(err, LR_EPROTO, "request id '%.48s' is not a stream id", id);
	if (len > d->cfg.job.max_spec_bytes) {
		lr_err_set(&why, LR_ETOOBIG, "spec is %zu bytes, over the limit of %zu bytes", len,
		           d->cfg.job.max_spec_bytes);
		rec.spec = NULL;
		rec.error = why.msg;
		rc = lr_q_intake(&d->q, &rec, &d->cfg.queue, &recorded, err);
		goto done;
	}
	rc = disp_idem_claim(d, id, spec, len, &stripped, holder, err);
	lr_trace_mark("d.idem");
	if (rc < 0)
		return rc;
	if (holder[0]) {
		lr_err_set(&why, LR_EINVAL,
		           "idempotency_key already names job %s: this request is its repeat",
		           holder);
		rec.error = why.msg;
		rc = lr_q_intake(&d->q, &rec, &d->cfg.queue, &recorded, err);
		goto done;
	}
	if (stripped) { /* the key is not a field of the job */
		spec = stripped;
		len = strlen(stripped);
	}
	if (lr_job_spec_parse(&s, spec, len, &d->cfg.job, &why) < 0) {
		if (why.code == LR_ENOMEM) {
			free(stripped);
			return lr_err_set(err, LR_ENOMEM, "out of memory validating job %s", id);
		}
		snprintf(msg, sizeof(msg), "invalid spec: %s", why.msg);
		rec.spec = spec;
		rec.spec_len = len;
		rec.error = msg;
		rc = lr_q_intake(&d->q, &rec, &d->cfg.queue, &recorded, err);
		goto done;
	}
	lr_trace_mark("d.parse");
	norm = lr_job_spec_to_json(&s);
	lr_trace_mark("d.norm");
	if (norm == NULL) {
		lr_job_spec_free(&s);
		free(stripped);
		return lr_err_set(err, LR_ENOMEM, "out of memory normalising job %s", id);
	}
	rec.queued = 1;
	rec.kind = lr_job_kind_name(s.kind);
	rec.spec = norm;
	rec.spec_len = strlen(norm);
	rec.notes = s.notes;
	rc = lr_q_intake(&d->q, &rec, &d->cfg.queue, &recorded, err);
	lr_trace_mark("d.intake");
	lr_job_spec_free(&s);
	free(norm);
	lr_trace_end(NULL);
done:
	free(stripped);
	if (rc < 0)
		return rc;
	if (recorded && !rec.queued)
		log_info("job %s rejected: %s", id, rec.error);
	else if (recorded)
		log_debug("job %s queued", id);
	return 0;
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
	lr_q_taken t;
	int rc;

	lr_trace_begin("take");
	rc = lr_q_take(&d->q, d->cfg.name, d->cfg.batch, d->cfg.job.max_spec_bytes, &d->cfg.queue,
	               ids, nids, &t, err);
	if (rc == 0 && t.n > 0)
		lr_trace_end(NULL);
	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		const lr_q_request *req = &t.reqs[i];

		rc = disp_intake_one(d, req->id, req->spec, req->spec_len, err);
		if (rc < 0 && rc != LR_EIO) {
			/* One request must not hold up the others; it stays
			 * pending and is retried by the takeover timer. */
			log_error("job %s: %s", req->id, err->msg);
			rc = 0;
		}
	}
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
