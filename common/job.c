/* job.c - job spec validation and normalisation. */
#include "job.h"

#include "buf.h"
#include "json.h"
#include "job_batch.h"
#include "job_fields.h"
#include "json_strict.h"
#include "keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_DEPTH   8
#define NAME_MAX_LEN LR_JOB_NAME_MAX

static const char *const kind_names[LR_KIND_COUNT] = {
    "evaluate", "generate", "refactor", "loop", "session_open", "exec", "session_close", "batch"};

/* Sessions: idle timeout (default, cap) and cells per session (default, cap). */
#define SESSION_IDLE_DEFAULT_S 600
#define SESSION_IDLE_MAX_S     86400
#define SESSION_CELLS_DEFAULT  200
#define SESSION_CELLS_MAX      10000

/* Fields each kind accepts, besides kind, limits, criteria and static_checks. */
static const char *const kind_fields[LR_KIND_COUNT][14] = {
    {"code", "tests", "entry_point", "session", "isolate", NULL},
    {"prompt", "tests", "entry_point", "model", "temperature", "show_tests", "session", NULL},
    {"code", "feedback", "tests", "entry_point", "model", "temperature", NULL},
    {"prompt", "tests", "entry_point", "max_iterations", "budget", "strategy", "n", "temperature",
     "refactor", "model", "show_tests", "session", NULL},
    {"idle_timeout_s", "max_cells", NULL},
    {"session", "code", NULL},
    {"session", NULL},
    {"items", NULL},
};

static const char *const common_fields[] = {"kind",          "limits",       "criteria",
                                            "static_checks", "callback_url", NULL};

#define CALLBACK_URL_MAX 2048

const char *lr_job_kind_name(lr_job_kind k)
{
	return (unsigned)k < LR_KIND_COUNT ? kind_names[k] : "unknown";
}

int lr_job_kind_parse(lr_job_kind *out, const char *name)
{
	for (int i = 0; i < LR_KIND_COUNT; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*out = (lr_job_kind)i;
			return 0;
		}
	}
	return LR_EINVAL;
}

const char *lr_job_strategy_name(lr_job_strategy s)
{
	return s == LR_STRATEGY_SAMPLE ? "sample" : s == LR_STRATEGY_AUTO ? "auto" : "repair";
}

void lr_job_policy_default(lr_job_policy *p)
{
	p->max_spec_bytes = 1u << 20;
	p->max_text_bytes = 512u << 10;
	p->default_timeout_s = 10;
	p->max_timeout_s = 60;
	p->default_memory_mb = 256;
	p->max_memory_mb = 1024;
	p->default_iterations = 4;
	p->max_iterations = 20;
	p->max_wall_s = 600;
	p->max_tokens = 200000;
	p->max_n = 8;
	p->max_batch_items = 1000;
	p->models = "*";
}

/* Re-reading a normalised spec: the defaults, and caps no wider than the
 * hard ranges below. */
static void policy_permissive(lr_job_policy *p)
{
	lr_job_policy_default(p);
	p->max_spec_bytes = 64u << 20;
	p->max_text_bytes = 64u << 20;
	p->max_timeout_s = 86400;
	p->max_memory_mb = 1 << 20;
	p->max_iterations = 1000;
	p->max_wall_s = 86400;
	p->max_tokens = 1000000000;
	p->max_n = 64;
	p->max_batch_items = 10000;
}

void lr_job_spec_free(lr_job_spec *s)
{
	if (s == NULL)
		return;
	free(s->code);
	free(s->session);
	free(s->tests);
	lr_iotests_free(s->io);
	free(s->io);
	free(s->entry_point);
	free(s->prompt);
	free(s->feedback);
	free(s->model);
	free(s->notes);
	free(s->callback_url);
	free(s->item_id);
	lr_job_items_free(s->items, s->nitems);
	memset(s, 0, sizeof(*s));
}

static int note(lr_job_spec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int note(lr_job_spec *s, const char *fmt, ...)
{
	lr_buf b;
	va_list ap;
	int rc;

	lr_buf_init(&b, 4096);
	if (s->notes)
		lr_buf_printf(&b, "%s; ", s->notes);
	va_start(ap, fmt);
	rc = lr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc == LR_ENOMEM) {
		lr_buf_free(&b);
		return LR_ENOMEM;
	}
	free(s->notes);
	s->notes = lr_buf_steal(&b);
	return s->notes ? 0 : LR_ENOMEM;
}

static int model_allowed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	if (strcmp(list, "*") == 0)
		return 1;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return 0;
}

static int get_limits(lr_job_spec *s, json_object *obj, const lr_job_policy *pol, lr_err *err)
{
	static const char *const keys[] = {"timeout_s", "memory_mb", NULL};
	json_object *lim = NULL;
	int present = 0;
	int rc;

	/* A default above its cap is a configuration mistake; the cap wins. */
	s->timeout_s = pol->default_timeout_s < pol->max_timeout_s ? pol->default_timeout_s
	                                                           : pol->max_timeout_s;
	s->memory_mb = pol->default_memory_mb < pol->max_memory_mb ? pol->default_memory_mb
	                                                           : pol->max_memory_mb;
	rc = lr_json_get_typed(&lim, obj, "", "limits", json_type_object, 0, &present, err);
	if (rc < 0 || !present)
		return rc;
	rc = lr_json_check_keys(lim, "limits", keys, err);
	if (rc == 0)
		rc = lr_json_get_num(&s->timeout_s, lim, "limits", "timeout_s", 0, 0.001, 86400,
		                     NULL, err);
	if (rc == 0)
		rc = lr_json_get_int(&s->memory_mb, lim, "limits", "memory_mb", 0, 16, 1 << 20,
		                     NULL, err);
	if (rc < 0)
		return rc;
	if (s->timeout_s > pol->max_timeout_s) {
		if (note(s, "limits.timeout_s %g lowered to the operator's cap of %g", s->timeout_s,
		         pol->max_timeout_s) < 0)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		s->timeout_s = pol->max_timeout_s;
	}
	if (s->memory_mb > pol->max_memory_mb) {
		if (note(s, "limits.memory_mb %ld lowered to the operator's cap of %ld",
		         s->memory_mb, pol->max_memory_mb) < 0)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		s->memory_mb = pol->max_memory_mb;
	}
	return 0;
}

static int get_model(lr_job_spec *s, json_object *obj, const lr_job_policy *pol, lr_err *err)
{
	static const char *const keys[] = {"name", "max_tokens", NULL};
	json_object *m = NULL;
	int present = 0;
	int rc;

	rc = lr_json_get_num(&s->temperature, obj, "", "temperature", 0, 0, 2, &s->has_temperature,
	                     err);
	if (rc < 0)
		return rc;
	rc = lr_json_get_typed(&m, obj, "", "model", json_type_object, 0, &present, err);
	if (rc < 0 || !present)
		return rc;
	rc = lr_json_check_keys(m, "model", keys, err);
	if (rc == 0)
		rc = lr_json_get_int(&s->max_tokens, m, "model", "max_tokens", 0, 1, 1000000, NULL,
		                     err);
	if (rc == 0) {
		const char *name = NULL;
		size_t len = 0;

		rc = lr_json_get_str(&name, &len, m, "model", "name", 0, NAME_MAX_LEN, &present,
		                     err);
		if (rc < 0 || !present)
			return rc;
		if (len == 0)
			return lr_err_set(err, LR_EINVAL, "field 'model.name' must not be empty");
		if (!model_allowed(pol->models, name))
			return lr_err_set(
			    err, LR_EINVAL,
			    "field 'model.name': model '%s' is not allowed here (allowed: "
			    "%s)",
			    name, pol->models[0] ? pol->models : "none");
		s->model = strdup(name);
		if (s->model == NULL)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	return rc;
}

static int get_loop(lr_job_spec *s, json_object *obj, const lr_job_policy *pol, lr_err *err)
{
	static const char *const bkeys[] = {"wall_s", "tokens", NULL};
	json_object *budget = NULL;
	const char *strategy = NULL;
	int present = 0;
	int n_given = 0;
	int rc;

	s->max_iterations = pol->default_iterations < pol->max_iterations ? pol->default_iterations
	                                                                  : pol->max_iterations;
	s->budget_wall_s = pol->max_wall_s;
	s->budget_tokens = pol->max_tokens;
	rc = lr_json_get_int(&s->max_iterations, obj, "", "max_iterations", 0, 1, 1000, NULL, err);
	if (rc < 0)
		return rc;
	if (s->max_iterations > pol->max_iterations) {
		if (note(s, "max_iterations %ld lowered to the operator's cap of %ld",
		         s->max_iterations, pol->max_iterations) < 0)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		s->max_iterations = pol->max_iterations;
	}
	rc = lr_json_get_typed(&budget, obj, "", "budget", json_type_object, 0, &present, err);
	if (rc < 0)
		return rc;
	if (present) {
		rc = lr_json_check_keys(budget, "budget", bkeys, err);
		if (rc == 0)
			rc = lr_json_get_num(&s->budget_wall_s, budget, "budget", "wall_s", 0,
			                     0.001, 86400, NULL, err);
		if (rc == 0)
			rc = lr_json_get_int(&s->budget_tokens, budget, "budget", "tokens", 0, 1,
			                     1000000000, NULL, err);
		if (rc < 0)
			return rc;
		if (s->budget_wall_s > pol->max_wall_s) {
			if (note(s, "budget.wall_s %g lowered to the operator's cap of %g",
			         s->budget_wall_s, pol->max_wall_s) < 0)
				return lr_err_set(err, LR_ENOMEM, "out of memory");
			s->budget_wall_s = pol->max_wall_s;
		}
		if (s->budget_tokens > pol->max_tokens) {
			if (note(s, "budget.tokens %ld lowered to the operator's cap of %ld",
			         s->budget_tokens, pol->max_tokens) < 0)
				return lr_err_set(err, LR_ENOMEM, "out of memory");
			s->budget_tokens = pol->max_tokens;
		}
	}
	rc = lr_json_get_str(&strategy, NULL, obj, "", "strategy", 0, 32, &present, err);
	if (rc < 0)
		return rc;
	s->strategy = LR_STRATEGY_AUTO;
	if (present) {
		if (strcmp(strategy, "sample") == 0)
			s->strategy = LR_STRATEGY_SAMPLE;
		else if (strcmp(strategy, "repair") == 0)
			s->strategy = LR_STRATEGY_REPAIR;
		else if (strcmp(strategy, "auto") != 0)
			return lr_err_set(err, LR_EINVAL,
			                  "field 'strategy' must be \"auto\", \"repair\" or "
			                  "\"sample\", got \"%s\"",
			                  strategy);
	}
	s->n = s->strategy == LR_STRATEGY_REPAIR ? 1 : 4;
	rc = lr_json_get_int(&s->n, obj, "", "n", 0, 1, 64, &n_given, err);
	if (rc < 0)
		return rc;
	if (s->strategy == LR_STRATEGY_REPAIR && s->n != 1)
		return lr_err_set(err, LR_EINVAL,
		                  "field 'n' (%ld candidates) needs \"strategy\": \"auto\" or "
		                  "\"sample\"",
		                  s->n);
	if (s->n > pol->max_n) {
		if (n_given &&
		    note(s, "n %ld lowered to the operator's cap of %ld", s->n, pol->max_n) < 0)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		s->n = pol->max_n;
	}
	return lr_json_get_bool(&s->refactor, obj, "", "refactor", 0, NULL, err);
}

static int check_fields(json_object *obj, lr_job_kind kind, lr_err *err)
{
	json_object_object_foreach(obj, key, val)
	{
		int ok = 0;

		(void)val;
		for (size_t i = 0; common_fields[i]; i++)
			if (strcmp(key, common_fields[i]) == 0)
				ok = 1;
		for (size_t i = 0; kind_fields[kind][i]; i++)
			if (strcmp(key, kind_fields[kind][i]) == 0)
				ok = 1;
		if (!ok)
			return lr_err_set(err, LR_EINVAL, "unknown field '%.64s' for kind '%s'",
			                  key, kind_names[kind]);
	}
	return 0;
}

static int get_session(lr_job_spec *out, json_object *root, int required, lr_err *err)
{
	int rc = lr_jobf_dup(&out->session, root, "session", required, 1, LR_JOB_ID_MAX, err);

	if (rc == 0 && out->session != NULL && !lr_job_id_valid(out->session))
		rc = lr_err_set(err, LR_EINVAL,
		                "field 'session' must be a session id (<ms>-<seq>), got '%.64s'",
		                out->session);
	return rc;
}

/* The texts each kind requires: code, prompt, feedback (and the loop's settings). */
static int get_texts(lr_job_spec *out, json_object *root, const lr_job_policy *pol, lr_err *err)
{
	int rc;

	rc = 0;
	switch (out->kind) {
	case LR_KIND_EVALUATE:
		rc = lr_jobf_dup(&out->code, root, "code", 1, 0, pol->max_text_bytes, err);
		break;
	case LR_KIND_GENERATE:
		rc = lr_jobf_dup(&out->prompt, root, "prompt", 1, 1, pol->max_text_bytes, err);
		break;
	case LR_KIND_REFACTOR:
		rc = lr_jobf_dup(&out->code, root, "code", 1, 0, pol->max_text_bytes, err);
		if (rc == 0)
			rc = lr_jobf_dup(&out->feedback, root, "feedback", 1, 1,
			                 pol->max_text_bytes, err);
		break;
	case LR_KIND_LOOP:
		rc = lr_jobf_dup(&out->prompt, root, "prompt", 1, 1, pol->max_text_bytes, err);
		if (rc == 0)
			rc = get_loop(out, root, pol, err);
		break;
	case LR_KIND_SESSION_OPEN:
		out->idle_timeout_s = SESSION_IDLE_DEFAULT_S;
		out->max_cells = SESSION_CELLS_DEFAULT;
		rc = lr_json_get_num(&out->idle_timeout_s, root, "", "idle_timeout_s", 0, 0.1,
		                     SESSION_IDLE_MAX_S, NULL, err);
		if (rc == 0)
			rc = lr_json_get_int(&out->max_cells, root, "", "max_cells", 0, 1,
			                     SESSION_CELLS_MAX, NULL, err);
		break;
	case LR_KIND_EXEC:
		rc = lr_jobf_dup(&out->code, root, "code", 1, 0, pol->max_text_bytes, err);
		if (rc == 0)
			rc = get_session(out, root, 1, err);
		break;
	case LR_KIND_SESSION_CLOSE: rc = get_session(out, root, 1, err); break;
	case LR_KIND_BATCH: rc = 0; break; /* items come last: they take the limits */
	default: rc = lr_err_set(err, LR_EINTERNAL, "unhandled kind");
	}
	return rc;
}

/* What every kind may add: static_checks, callback_url, criteria. */
static int get_options(lr_job_spec *out, json_object *root, lr_err *err)
{
	json_object *crit = NULL;
	int present = 0;
	int rc;

	out->static_checks = 1;
	rc = lr_json_get_bool(&out->static_checks, root, "", "static_checks", 0, NULL, err);
	if (rc == 0)
		rc = lr_jobf_dup(&out->callback_url, root, "callback_url", 0, 1, CALLBACK_URL_MAX,
		                 err);
	if (rc < 0)
		return rc;
	if (out->callback_url != NULL && strncmp(out->callback_url, "http://", 7) != 0 &&
	    strncmp(out->callback_url, "https://", 8) != 0) {
		return lr_err_set(
		    err, LR_EINVAL,
		    "field 'callback_url' must be an http:// or https:// URL, got '%.64s'",
		    out->callback_url);
	}
	lr_criteria_default(&out->criteria);
	rc = lr_json_get_typed(&crit, root, "", "criteria", json_type_object, 0, &present, err);
	if (rc < 0)
		return rc;
	if (present) {
		/* Its messages name the key: "criteria.max_lint: expected ..." */
		rc = lr_criteria_from_json(&out->criteria, crit, err);
		if (rc < 0)
			return rc;
		out->has_criteria = 1;
	}
	return 0;
}

int lr_job_spec_parse(lr_job_spec *out, const char *text, size_t len, const lr_job_policy *pol,
                      lr_err *err)
{
	lr_job_policy permissive;
	json_object *root = NULL;
	const char *kind = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (pol == NULL) {
		policy_permissive(&permissive);
		pol = &permissive;
	}
	rc = lr_json_parse_strict(&root, text, len, pol->max_spec_bytes, SPEC_DEPTH, err);
	if (rc < 0) {
		if (rc == LR_ETOOBIG)
			rc = lr_err_set(err, LR_ETOOBIG,
			                "spec is %zu bytes, over the limit of %zu bytes", len,
			                pol->max_spec_bytes);
		goto cleanup;
	}
	if (!json_object_is_type(root, json_type_object)) {
		rc = lr_err_set(err, LR_EINVAL, "spec must be a JSON object, got %s",
		                lr_json_type_name(root));
		goto cleanup;
	}
	rc = lr_json_get_str(&kind, NULL, root, "", "kind", 1, 64, NULL, err);
	if (rc < 0)
		goto cleanup;
	if (lr_job_kind_parse(&out->kind, kind) < 0) {
		rc = lr_err_set(err, LR_EINVAL,
		                "unknown kind '%s' (one of evaluate, generate, refactor, loop, "
		                "session_open, exec, session_close, batch)",
		                kind);
		goto cleanup;
	}
	rc = check_fields(root, out->kind, err);
	if (rc < 0)
		goto cleanup;
	rc = get_texts(out, root, pol, err);
	if (rc < 0)
		goto cleanup;
	rc = lr_jobf_tests(&out->tests, &out->io, root, pol->max_text_bytes, pol->max_spec_bytes,
	                   err);
	if (rc == 0)
		rc = lr_jobf_entry_point(&out->entry_point, root, err);
	if (rc == 0 && (out->kind == LR_KIND_EVALUATE || out->kind == LR_KIND_GENERATE ||
	                out->kind == LR_KIND_LOOP))
		rc = get_session(out, root, 0, err); /* code tested on a session's state */
	if (rc == 0 && out->session != NULL && out->io != NULL)
		rc = lr_err_set(err, LR_EINVAL,
		                "field 'session' cannot be used with io tests (the code is a "
		                "whole program run once per case)");
	if (rc < 0)
		goto cleanup;
	if (out->kind == LR_KIND_GENERATE || out->kind == LR_KIND_REFACTOR ||
	    out->kind == LR_KIND_LOOP) {
		rc = get_model(out, root, pol, err);
		if (rc < 0)
			goto cleanup;
	}
	if (out->kind == LR_KIND_EVALUATE) {
		rc = lr_json_get_bool(&out->isolate, root, "", "isolate", 0, NULL, err);
		if (rc < 0)
			goto cleanup;
	}
	out->show_tests = out->kind == LR_KIND_GENERATE || out->kind == LR_KIND_LOOP;
	if (out->show_tests) {
		rc = lr_json_get_bool(&out->show_tests, root, "", "show_tests", 0, NULL, err);
		if (rc < 0)
			goto cleanup;
	}
	rc = get_limits(out, root, pol, err);
	if (rc < 0)
		goto cleanup;
	rc = get_options(out, root, err);
	if (rc == 0 && out->kind == LR_KIND_BATCH)
		rc = lr_job_batch_parse(out, root, pol, err);
cleanup:
	json_object_put(root);
	if (rc < 0)
		lr_job_spec_free(out);
	return rc;
}

static int add_str(json_object *o, const char *key, const char *v)
{
	return v ? lr_json_set_str(o, key, v) : 0;
}

char *lr_job_spec_to_json(const lr_job_spec *s)
{
	json_object *o = json_object_new_object();
	json_object *lim = json_object_new_object();
	char *out = NULL;
	int rc = 0;

	if (o == NULL || lim == NULL) {
		json_object_put(lim);
		goto cleanup;
	}
	rc |= lr_json_set_str(o, "kind", lr_job_kind_name(s->kind));
	rc |= add_str(o, "code", s->code);
	rc |= add_str(o, "prompt", s->prompt);
	rc |= add_str(o, "feedback", s->feedback);
	rc |= add_str(o, "tests", s->tests);
	if (s->io != NULL) {
		json_object *io = lr_iotests_to_json(s->io);

		rc |= io ? lr_json_set_obj(o, "tests", io) : LR_ENOMEM;
	}
	rc |= add_str(o, "entry_point", s->entry_point);
	if (s->isolate)
		rc |= lr_json_set_bool(o, "isolate", 1);
	rc |= lr_json_set_num(lim, "timeout_s", s->timeout_s);
	rc |= lr_json_set_int(lim, "memory_mb", s->memory_mb);
	rc |= lr_json_set_obj(o, "limits", lim);
	rc |= lr_json_set_bool(o, "static_checks", s->static_checks);
	rc |= add_str(o, "callback_url", s->callback_url);
	if (s->has_criteria) {
		json_object *c = lr_criteria_to_json(&s->criteria);

		rc |= c ? lr_json_set_obj(o, "criteria", c) : LR_ENOMEM;
	}
	if (s->kind == LR_KIND_LOOP) {
		json_object *b = json_object_new_object();

		rc |= lr_json_set_int(o, "max_iterations", s->max_iterations);
		if (b != NULL) {
			rc |= lr_json_set_num(b, "wall_s", s->budget_wall_s);
			rc |= lr_json_set_int(b, "tokens", s->budget_tokens);
			rc |= lr_json_set_obj(o, "budget", b);
		} else {
			rc |= LR_ENOMEM;
		}
		rc |= lr_json_set_str(o, "strategy", lr_job_strategy_name(s->strategy));
		rc |= lr_json_set_int(o, "n", s->n);
		rc |= lr_json_set_bool(o, "refactor", s->refactor);
	}
	if (s->kind == LR_KIND_GENERATE || s->kind == LR_KIND_LOOP)
		rc |= lr_json_set_bool(o, "show_tests", s->show_tests);
	rc |= add_str(o, "session", s->session);
	if (s->kind == LR_KIND_BATCH) {
		json_object *items = lr_job_batch_to_json(s);

		rc |= items ? lr_json_set_obj(o, "items", items) : LR_ENOMEM;
	}
	if (s->kind == LR_KIND_SESSION_OPEN) {
		rc |= lr_json_set_num(o, "idle_timeout_s", s->idle_timeout_s);
		rc |= lr_json_set_int(o, "max_cells", s->max_cells);
	}
	if (s->kind == LR_KIND_GENERATE || s->kind == LR_KIND_REFACTOR || s->kind == LR_KIND_LOOP) {
		if (s->has_temperature)
			rc |= lr_json_set_num(o, "temperature", s->temperature);
		if (s->model != NULL || s->max_tokens > 0) {
			json_object *m = json_object_new_object();

			if (m != NULL) {
				rc |= add_str(m, "name", s->model);
				if (s->max_tokens > 0)
					rc |= lr_json_set_int(m, "max_tokens", s->max_tokens);
				rc |= lr_json_set_obj(o, "model", m);
			} else {
				rc |= LR_ENOMEM;
			}
		}
	}
	if (rc == 0)
		out = lr_json_dump(o);
cleanup:
	json_object_put(o);
	return out;
}
