/* idem.c - `idempotency_key` in a spec sent straight to Redis.
 *
 * The HTTP API takes the key out of the spec before it submits (it applies
 * the key itself, atomically with the XADD). A spec that reaches the intake
 * with the key still in it came another way (redis-cli, a client library):
 * the intake claims the key for the request's job, with the same record the
 * HTTP API keeps (`<prefix>idem:<owner>:<key>` = "<job id> <sha1 of the
 * spec>", here with the empty owner), so a repeated submission does not
 * become a second job: it is recorded `rejected`, naming the job the key
 * belongs to. */
#include "dispatcher.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
static const lr_script claim_lua = {"idem-claim",
	"-- ARGV: P, key, job id, spec without the key, ttl. Returns the job that\n"
	"-- holds the key (this one when it was free).\n"
	"local ik = ARGV[1] .. 'idem::' .. ARGV[2]\n"
	"local v = redis.call('GET', ik)\n"
	"if v then return string.match(v, '^(%S+)') or '' end\n"
	"redis.call('SET', ik, ARGV[3] .. ' ' .. redis.sha1hex(ARGV[4]), 'EX', ARGV[5])\n"
	"return ARGV[3]\n"};
/* clang-format on */

int disp_idem_claim(disp *d, const char *id, const char *spec, size_t len, char **stripped,
                    char holder[LR_JOB_ID_MAX + 1], lr_err *err)
{
	json_object *o = NULL, *k = NULL;
	redisReply *rep = NULL;
	const char *argv[5];
	char ttl[24];
	char key[256];
	int rc = 0;

	*stripped = NULL;
	holder[0] = '\0';
	/* Only a well-formed spec with a string key; anything else is the
	 * validator's to reject with its own reason. */
	if (memmem(spec, len, "idempotency_key", 15) == NULL ||
	    lr_json_parse(&o, spec, len, d->cfg.job.max_spec_bytes, LR_JSON_DEPTH_DEFAULT, NULL) <
	        0)
		return 0;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "idempotency_key", &k) ||
	    !json_object_is_type(k, json_type_string) || json_object_get_string_len(k) == 0 ||
	    json_object_get_string_len(k) >= (int)sizeof(key))
		goto cleanup;
	snprintf(key, sizeof(key), "%s", json_object_get_string(k));
	json_object_object_del(o, "idempotency_key");
	*stripped = lr_json_dump(o);
	if (*stripped == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	snprintf(ttl, sizeof(ttl), "%ld", d->cfg.idem_ttl_s > 0 ? d->cfg.idem_ttl_s : 86400L);
	argv[0] = d->cfg.keys.prefix;
	argv[1] = key;
	argv[2] = id;
	argv[3] = *stripped;
	argv[4] = ttl;
	rc = lr_redis_eval(d->q.r, &rep, &claim_lua, 0, 5, argv, NULL, err);
	if (rc == 0 && lr_reply_is_str(rep) && strcmp(rep->str, id) != 0)
		snprintf(holder, LR_JOB_ID_MAX + 1, "%s", rep->str);
cleanup:
	if (rep)
		freeReplyObject(rep);
	if (rc < 0) {
		free(*stripped);
		*stripped = NULL;
	}
	json_object_put(o);
	return rc;
}
