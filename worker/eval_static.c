/* eval_static.c - the static service (see eval_static.h): a held sandboxed
 * interpreter in mode "static" (llmrepl_static.serve), one frame
 * {"code", "budget_s"} per analysis. */
#include "eval_static.h"

#include "clock.h"
#include "err.h"
#include "json.h"
#include "log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define START_REQUEST "{\"mode\":\"static\"}"
#define START_S       10.0  /* the first call: the interpreter imports the tools */
#define SLACK_S       1.0   /* past the analysis budget, for the frames */
#define RETRY_S       60.0  /* after a failed start the judges analyse until then */
#define LIFE_CPU_S    86400 /* RLIMIT_CPU over the service's life */
#define MEMORY_MB     512
#define ANSWER_MAX    (8u << 20)
#define ANSWER_DEPTH  16

static pthread_mutex_t svc_lock = PTHREAD_MUTEX_INITIALIZER;
static sbx_held *svc;
static int svc_calls;      /* calls answered by this interpreter */
static double svc_down_to; /* no start before this time (lr_now_s) */

static int enabled(void)
{
	const char *v = getenv("LLMREPL_STATIC_SERVICE");

	return !(v != NULL && strcmp(v, "0") == 0);
}

static int svc_start(const sbx_config *cfg)
{
	sbx_config sc;
	sbx_limits lim;
	char msg[256];

	if (lr_now_s() < svc_down_to)
		return -1;
	if (cfg != NULL)
		sc = *cfg;
	else
		sbx_config_default(&sc);
	sc.peer = 0;
	sbx_limits_default(&lim);
	lim.memory_mb = MEMORY_MB;
	lim.cpu_s = LIFE_CPU_S;
	lim.answer_max = ANSWER_MAX;
	if (sbx_held_start(&svc, &sc, &lim, START_REQUEST, strlen(START_REQUEST), msg,
	                   sizeof(msg)) < 0) {
		log_warn("static service: could not start (%s); judges run the tools", msg);
		svc = NULL;
		svc_down_to = lr_now_s() + RETRY_S;
		return -1;
	}
	svc_calls = 0;
	return 0;
}

/* A session's code goes with its cells (the names they define are no
 * undefined names). */
typedef struct static_src {
	const char *code;
	const char *const *cells;
	size_t ncells;
} static_src;

static char *frame_for(const static_src *src, double budget_s)
{
	json_object *o = json_object_new_object(), *cells = NULL;
	char *text = NULL;
	int rc = o == NULL || lr_json_set_str(o, "code", src->code) < 0 ||
	         lr_json_set_num(o, "budget_s", budget_s) < 0;

	if (rc == 0 && src->ncells > 0) {
		cells = json_object_new_array();
		rc = cells == NULL || lr_json_set_obj(o, "cells", cells) < 0;
		for (size_t i = 0; rc == 0 && i < src->ncells; i++)
			rc =
			    json_object_array_add(cells, json_object_new_string(src->cells[i])) < 0;
	}
	if (rc == 0)
		text = lr_json_dump(o);
	json_object_put(o);
	return text;
}

/* The answer frame: 0 with *out (the static object), 1 when the code does
 * not parse, -1 when the answer is not the service's shape. */
static int take_answer(const sbx_result *res, json_object **out, double *secs)
{
	json_object *a = NULL, *st;
	lr_err err;
	int rc = -1;

	lr_err_clear(&err);
	if (res->answer == NULL ||
	    lr_json_parse(&a, res->answer, res->answer_len, ANSWER_MAX, ANSWER_DEPTH, &err) < 0)
		return -1;
	if (!json_object_is_type(a, json_type_object))
		goto done;
	if (!lr_json_bool(a, "ok", 0)) {
		rc = lr_json_str(a, "error") != NULL ? 1 : -1;
		goto done;
	}
	st = lr_json_member(a, "static", json_type_object);
	if (st == NULL)
		goto done;
	*out = json_object_get(st);
	if (lr_json_set_bool(*out, "cached", lr_json_bool(a, "cached", 0)) < 0) {
		json_object_put(*out);
		*out = NULL;
		goto done;
	}
	*secs = lr_json_num(a, "static_s", 0.0);
	rc = 0;
done:
	json_object_put(a);
	return rc;
}

/* may_start: start the service when there is none (only on a thread that
 * outlives it: the held interpreter dies with the thread that started it). */
static int static_call(const sbx_config *cfg, const static_src *src, double budget_s, int may_start,
                       json_object **out, double *secs)
{
	sbx_result res;
	char *frame;
	int rc = -1;

	*out = NULL;
	*secs = 0;
	if (!enabled() || src->code == NULL)
		return -1;
	frame = frame_for(src, budget_s);
	if (frame == NULL)
		return -1;
	memset(&res, 0, sizeof(res));
	pthread_mutex_lock(&svc_lock);
	if (svc == NULL || !sbx_held_alive(svc)) {
		sbx_held_free(svc);
		svc = NULL;
		if (!may_start || svc_start(cfg) < 0)
			goto unlock;
	}
	if (sbx_held_call(svc, &res, frame, strlen(frame),
	                  budget_s + SLACK_S + (svc_calls == 0 ? START_S : 0)) == 0 &&
	    res.end == SBX_END_EXITED)
		rc = take_answer(&res, out, secs);
	if (rc < 0) {
		/* Late, dead or out of shape: a fresh interpreter next time. */
		log_warn("static service: no usable answer (%s); the judge runs the tools",
		         sbx_end_name(res.end));
		sbx_held_free(svc);
		svc = NULL;
	} else {
		svc_calls++;
	}
unlock:
	pthread_mutex_unlock(&svc_lock);
	sbx_result_free(&res);
	free(frame);
	return rc;
}

int eval_static_run(const sbx_config *cfg, const char *code, double budget_s, json_object **out,
                    double *secs)
{
	static_src src = {code, NULL, 0};

	return static_call(cfg, &src, budget_s, 1, out, secs);
}

int eval_static_run_cells(const sbx_config *cfg, const char *code, const char *const *cells,
                          size_t ncells, double budget_s, json_object **out, double *secs)
{
	static_src src = {code, cells, ncells};

	return static_call(cfg, &src, budget_s, 1, out, secs);
}

int eval_static_ask(const char *code, double budget_s, json_object **out, double *secs)
{
	static_src src = {code, NULL, 0};

	return static_call(NULL, &src, budget_s, 0, out, secs);
}

static void *job_main(void *arg)
{
	eval_static_job *j = arg;

	j->rc = eval_static_ask(j->code, j->budget_s, &j->out, &j->secs);
	return NULL;
}

int eval_static_up(void)
{
	int up;

	if (!enabled())
		return 0;
	pthread_mutex_lock(&svc_lock);
	up = svc != NULL && svc_calls > 0;
	pthread_mutex_unlock(&svc_lock);
	return up;
}

int eval_static_begin(eval_static_job *j, const char *code, double budget_s)
{
	memset(j, 0, sizeof(*j));
	j->rc = -1;
	if (code == NULL || !eval_static_up())
		return -1;
	j->code = code;
	j->budget_s = budget_s;
	if (pthread_create(&j->thread, NULL, job_main, j) != 0)
		return -1;
	j->started = 1;
	return 0;
}

int eval_static_end(eval_static_job *j, json_object **out, double *secs)
{
	*out = NULL;
	*secs = 0;
	if (!j->started)
		return -1;
	pthread_join(j->thread, NULL);
	j->started = 0;
	*out = j->out;
	*secs = j->secs;
	j->out = NULL;
	return j->rc;
}

void eval_static_stop(void)
{
	pthread_mutex_lock(&svc_lock);
	sbx_held_free(svc);
	svc = NULL;
	svc_down_to = 0;
	pthread_mutex_unlock(&svc_lock);
}
