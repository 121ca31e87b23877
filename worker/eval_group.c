/* eval_group.c - several evaluations in one sandbox run (see eval_group.h);
 * the judge's side is sandbox/py/llmrepl_group.py. */
#include "eval_group.h"

#include "clock.h"
#include "eval_int.h"
#include "eval_static.h"
#include "json.h"
#include "log.h"
#include "sbx_trace.h"
#include "wk_metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_ANSWER_MAX   (64u << 20) /* bytes of framed answers per run */
#define GROUP_TIMEOUT_MAX  900.0       /* s: the run's own limit, a backstop */
#define GROUP_ITEM_SLACK_S 0.5         /* per item: fork, clean-up, frame */
#define FRAME_HEAD_MAX     160

typedef struct gitem {
	const eval_request *req;
	size_t at; /* index in the caller's arrays */
	sbx_limits lim;
	eval_judge_ctx ctx;
	double budget;
	json_object *st; /* the static service's findings */
	double st_s;
	int st_rc;    /* eval_static_*: 0 or 1 answered, -1 not */
	int answered; /* judged from the group's answer */
} gitem;

int eval_group_fits(const eval_request *r)
{
	return r != NULL && r->code != NULL && r->io == NULL && r->session_ncells == 0 &&
	       strlen(r->code) <= EVAL_CODE_MAX &&
	       (r->tests == NULL || strlen(r->tests) <= EVAL_CODE_MAX) &&
	       (r->criteria == NULL || r->criteria->max_memory_mb <= 0);
}

static int same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int eval_group_compatible(const eval_request *a, const eval_request *b)
{
	const sbx_limits *x = &a->limits, *y = &b->limits;

	return x->timeout_s == y->timeout_s && x->cpu_s == y->cpu_s &&
	       x->memory_mb == y->memory_mb && x->max_procs == y->max_procs &&
	       x->file_size_mb == y->file_size_mb && x->max_files == y->max_files &&
	       x->output_max == y->output_max && x->answer_max == y->answer_max &&
	       x->cpus == y->cpus && a->static_checks == b->static_checks &&
	       a->isolate == b->isolate && same_str(a->stdin_text, b->stdin_text);
}

/* ---- the static service beside the run ------------------------------------ */

typedef struct gstatic {
	gitem *items;
	size_t n;
	pthread_t thread;
	int started;
} gstatic;

static void *static_main(void *arg)
{
	gstatic *g = arg;

	for (size_t i = 0; i < g->n; i++)
		if (g->items[i].st_rc == -2)
			g->items[i].st_rc = eval_static_ask(g->items[i].req->code,
			                                    eval_static_budget(g->items[i].budget),
			                                    &g->items[i].st, &g->items[i].st_s);
	return NULL;
}

/* As eval_run: every item's analysis on a thread while the group runs, once
 * the service has answered in this process; before that the first item's
 * here (which starts the service). 1 when the service answers (the items'
 * requests then skip the tools). */
static int static_begin(gstatic *g, const sbx_config *cfg)
{
	gitem *first = &g->items[0];
	int up = eval_static_up();

	for (size_t i = 0; i < g->n; i++)
		g->items[i].st_rc = -1;
	if (!first->req->static_checks)
		return 0;
	if (!up) {
		first->st_rc =
		    eval_static_run(cfg, first->req->code, eval_static_budget(first->budget),
		                    &first->st, &first->st_s);
		if (first->st_rc < 0)
			return 0;
	}
	for (size_t i = up ? 0 : 1; i < g->n; i++)
		g->items[i].st_rc = -2;
	if (pthread_create(&g->thread, NULL, static_main, g) == 0)
		g->started = 1;
	else
		static_main(g);
	return 1;
}

static void static_end(gstatic *g)
{
	if (g->started)
		pthread_join(g->thread, NULL);
	g->started = 0;
}

/* ---- the request and the frames --------------------------------------------- */

static char *group_request(gitem *items, size_t n, int service, const sbx_config *cfg)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char *text = NULL;
	int rc = o == NULL || arr == NULL;

	if (o != NULL)
		rc |= lr_json_set_obj(o, "items", arr);
	else
		json_object_put(arr);
	rc |= lr_json_set_str(o, "mode", "evaluate_group");
	rc |= lr_json_set_int(o, "answer_max", (long)GROUP_ANSWER_MAX);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		eval_request local = *items[i].req;
		json_object *r;

		if (service)
			local.static_checks = 0;
		r = eval_request_json(&local, &items[i].lim, items[i].budget,
		                      items[i].ctx.test_timeout_s, local.isolate != 0,
		                      cfg != NULL && cfg->peer);
		rc |= r == NULL;
		rc |= lr_json_set_num(r, "deadline_s", items[i].lim.timeout_s);
		rc |= lr_json_set_int(r, "output_max", (long)items[i].lim.output_max);
		rc |= lr_json_set_int(r, "answer_max", (long)items[i].lim.answer_max);
		if (r != NULL && json_object_array_add(arr, r) < 0) {
			json_object_put(r);
			rc = 1;
		}
	}
	if (rc == 0)
		text = lr_json_dump(o);
	json_object_put(o);
	return text;
}

/* An unsigned decimal ending at `stop`; -1 when there is none. */
static long long take_num(const char **p, const char *end, char stop)
{
	long long v = 0;
	const char *s = *p;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9' && v < (1LL << 50))
		v = v * 10 + (*s++ - '0');
	if (s >= end || *s != stop)
		return -1;
	*p = s + 1;
	return v;
}

int eval_group_next_frame(const char **pp, const char *end, eval_group_frame *f)
{
	const char *p = *pp;
	long long v[8];

	if (p == end)
		return 0;
	if ((size_t)(end - p) < 5 || memcmp(p, "ITEM ", 5) != 0)
		return -1;
	p += 5;
	for (int i = 0; i < 8; i++) {
		v[i] = take_num(&p, end, i < 7 ? ' ' : '\n');
		if (v[i] < 0 || p - *pp > FRAME_HEAD_MAX)
			return -1;
	}
	if ((unsigned long long)v[5] + (unsigned long long)v[6] + (unsigned long long)v[7] >
	    (size_t)(end - p))
		return -1;
	f->k = (size_t)v[0];
	f->exit_code = (long)v[1];
	f->wall_s = (double)v[2] / 1e6;
	f->cpu_s = (double)v[3] / 1e6;
	f->judge = (size_t)v[4];
	f->ans = p;
	f->alen = (size_t)v[5];
	f->out = p + v[5];
	f->olen = (size_t)v[6];
	f->err = f->out + v[6];
	f->elen = (size_t)v[7];
	*pp = f->err + f->elen;
	return 1;
}

static char *copy(const char *s, size_t len)
{
	char *c = malloc(len + 1);

	if (c != NULL) {
		memcpy(c, s, len);
		c[len] = '\0';
	}
	return c;
}

/* One item's answer judged as eval_run judges a run's: 0, or -1 when it
 * must be evaluated alone. */
static int judge_item(eval_outcome *out, lr_err *err, gitem *it, const eval_group_frame *f,
                      const sbx_result *grp, size_t n)
{
	sbx_result r;
	json_object *ans = NULL;
	size_t i = 0;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	while (i < f->alen && (f->ans[i] == ' ' || f->ans[i] == '\n'))
		i++;
	if (i == f->alen || f->ans[i] != '{' || f->exit_code != 0)
		return -1;
	r.end = SBX_END_EXITED;
	r.wall_s = f->wall_s;
	r.cpu_s = f->cpu_s;
	r.peak_kb = grp->peak_kb;
	r.cg_cpu_s = -1;
	r.cg_peak_kb = grp->cg_peak_kb;
	r.isolation = grp->isolation | SBX_ISO_GROUPED;
	snprintf(r.detail, sizeof(r.detail),
	         "evaluation %zu of %zu in one sandbox run: peak_kb is the run's (an upper "
	         "bound), cpu_s the judge's only%s%s%.120s",
	         f->k + 1, n, f->judge > 0 ? ", in a judge shared with other items" : "",
	         grp->detail[0] ? "; " : "", grp->detail);
	r.answer = copy(f->ans, f->alen);
	r.answer_len = f->alen;
	r.out = copy(f->out, f->olen);
	r.out_len = f->olen;
	r.err = copy(f->err, f->elen);
	r.err_len = f->elen;
	it->ctx.group_size = n;
	it->ctx.group_index = f->k;
	it->ctx.group_judge = f->judge;
	/* Parsed once, as eval_run's answer is: the findings go into the
	 * parsed answer, which the judging reads as it is. */
	if (r.answer != NULL && r.out != NULL && r.err != NULL &&
	    (it->st == NULL || eval_static_into(&r, it->st, it->st_s, &ans, err) == 0)) {
		it->ctx.answer = ans;
		if (eval_judge(out, &r, it->req->criteria, &it->ctx, err) == 0)
			rc = 0;
		it->ctx.answer = NULL;
	}
	json_object_put(ans);
	sbx_result_free(&r);
	return rc;
}

/* The group's answers (in the order the judge's side evaluated them, each
 * item at most once): each valid frame judged; what is not stays for
 * eval_run. */
static void take_frames(eval_outcome *outs, lr_err *errs, gitem *items, size_t n, int service,
                        const sbx_result *res)
{
	const char *p = res->answer, *end = res->answer + res->answer_len;
	eval_group_frame f;
	unsigned char seen[EVAL_GROUP_MAX] = {0};

	while (p != NULL && eval_group_next_frame(&p, end, &f) == 1) {
		gitem *it;

		if (f.k >= n || seen[f.k])
			break;
		seen[f.k] = 1;
		it = &items[f.k];
		if (service && it->st_rc < 0)
			continue; /* no findings: alone, with the tools in the judge */
		if (judge_item(&outs[it->at], &errs[it->at], it, &f, res, n) == 0) {
			it->answered = 1;
			lr_metric_observe(wk_m.eval, f.wall_s, NULL);
		} else {
			eval_outcome_free(&outs[it->at]);
		}
	}
}

/* With LLMREPL_SBX_TRACE=1 the judge's side ends the run's stderr with one
 * "sbx-trace item ..." line per item (llmrepl_group._trace_write): passed on
 * to this process's stderr, beside the pool's own trace lines. */
static void trace_items(const sbx_result *res)
{
	const char *p = res->err, *end;

	if (p == NULL || !sbx_trace_enabled())
		return;
	end = p + res->err_len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl != NULL ? nl : end) - p);

		if (len > 15 && memcmp(p, "sbx-trace item ", 15) == 0)
			fprintf(stderr, "%.*s\n", (int)len, p);
		p += len + 1;
	}
}

/* ---- the group ---------------------------------------------------------------- */

static void run_grouped(eval_outcome *outs, lr_err *errs, gitem *items, size_t n, sbx_pool *pool,
                        const sbx_config *cfg)
{
	gstatic gs = {items, n, 0, 0};
	sbx_limits glim = items[0].lim;
	sbx_result res;
	char *text;
	int service, rc;

	service = static_begin(&gs, cfg);
	text = group_request(items, n, service, cfg);
	glim.timeout_s = 2.0;
	for (size_t i = 0; i < n; i++)
		glim.timeout_s += items[i].lim.timeout_s + GROUP_ITEM_SLACK_S;
	if (glim.timeout_s > GROUP_TIMEOUT_MAX)
		glim.timeout_s = GROUP_TIMEOUT_MAX;
	glim.answer_max = GROUP_ANSWER_MAX;
	memset(&res, 0, sizeof(res));
	rc = text == NULL ? -1 : sbx_pool_run(pool, &res, &glim, text, strlen(text));
	free(text);
	static_end(&gs);
	if (rc == 0) {
		wk_metrics_sandbox(&res);
		trace_items(&res);
	}
	/* A limit the whole run hit may have come from any item (an OOM kill
	 * of a process an item started and the item survived): then nothing
	 * of the run counts, and every item goes alone. */
	if (rc == 0 && res.answer != NULL && res.end != SBX_END_ERROR &&
	    res.end != SBX_END_MEMORY && res.end != SBX_END_OUTPUT && res.oom_kills == 0)
		take_frames(outs, errs, items, n, service, &res);
	else
		log_info("evaluation group of %zu: the run ended %s (%ld OOM kills); each item "
		         "alone",
		         n, sbx_end_name(res.end), res.oom_kills);
	sbx_result_free(&res);
}

void eval_run_group(eval_outcome *outs, int *rcs, lr_err *errs, sbx_pool *pool,
                    const sbx_config *cfg, const eval_request *reqs, size_t n, size_t *grouped)
{
	gitem items[EVAL_GROUP_MAX];
	size_t ng = 0, done = 0;

	memset(outs, 0, n * sizeof(*outs));
	for (size_t i = 0; i < n; i++) {
		rcs[i] = 1; /* not yet */
		lr_err_clear(&errs[i]);
	}
	for (size_t i = 0; pool != NULL && cfg != NULL && cfg->peer && n > 1 && i < n; i++) {
		if (ng == EVAL_GROUP_MAX || !eval_group_fits(&reqs[i]) ||
		    (ng > 0 && !eval_group_compatible(items[0].req, &reqs[i])))
			continue;
		memset(&items[ng], 0, sizeof(items[ng]));
		items[ng].req = &reqs[i];
		items[ng].at = i;
		eval_prepare(&items[ng].lim, &items[ng].ctx, &items[ng].budget, &reqs[i], cfg, 0);
		ng++;
	}
	if (ng > 1) {
		run_grouped(outs, errs, items, ng, pool, cfg);
		for (size_t i = 0; i < ng; i++) {
			json_object_put(items[i].st);
			if (items[i].answered) {
				rcs[items[i].at] = 0;
				done++;
			}
		}
		if (done < ng)
			log_info("evaluation group: %zu of %zu answered in the group's run; the "
			         "rest alone",
			         done, ng);
	}
	for (size_t i = 0; i < n; i++)
		if (rcs[i] == 1)
			rcs[i] = eval_run(&outs[i], pool, cfg, &reqs[i], &errs[i]);
	if (grouped != NULL)
		*grouped = done;
}
