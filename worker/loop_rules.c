/* loop_rules.c - the feedback loop's stop rules, ranking and fingerprints. */
#include "loop_rules.h"

#include "err.h"
#include "json.h"

#include <string.h>

static const char *const phase_names[LOOP_PHASE_COUNT] = {"generate", "sample", "repair",
                                                          "refactor"};

static const char *const stop_names[LOOP_STOP_COUNT] = {
    "",
    "passed",
    "max_iterations",
    "budget_wall",
    "budget_tokens",
    "stuck_same_code",
    "stuck_same_failure",
    "no_code",
    "cancelled",
    "model_error",
};

const char *loop_phase_name(loop_phase p)
{
	return (unsigned)p < LOOP_PHASE_COUNT ? phase_names[p] : "?";
}

int loop_phase_parse(loop_phase *out, const char *name)
{
	for (int i = 0; name != NULL && i < LOOP_PHASE_COUNT; i++)
		if (strcmp(name, phase_names[i]) == 0) {
			*out = (loop_phase)i;
			return 0;
		}
	return LR_EINVAL;
}

const char *loop_stop_name(loop_stop s)
{
	return (unsigned)s < LOOP_STOP_COUNT ? stop_names[s] : "?";
}

int loop_stop_parse(loop_stop *out, const char *name)
{
	for (int i = 1; name != NULL && i < LOOP_STOP_COUNT; i++)
		if (strcmp(name, stop_names[i]) == 0) {
			*out = (loop_stop)i;
			return 0;
		}
	return LR_EINVAL;
}

/* ---- decisions ------------------------------------------------------------ */

static void stop(loop_next *out, loop_stop why)
{
	out->action = LOOP_ACT_STOP;
	out->stop = why;
}

static int spent(const loop_budget *b, long tokens, double elapsed_s, loop_stop *why)
{
	if (tokens >= b->tokens) {
		*why = LOOP_STOP_BUDGET_TOKENS;
		return 1;
	}
	if (elapsed_s >= b->wall_s) {
		*why = LOOP_STOP_BUDGET_WALL;
		return 1;
	}
	return 0;
}

double loop_auto_temperature(int level, long i, double greedy_t)
{
	double t = LOOP_AUTO_T0 + LOOP_AUTO_STEP * level;

	if (level == 0 && i == 0)
		return greedy_t;
	return t > LOOP_AUTO_TMAX ? LOOP_AUTO_TMAX : t;
}

/* The best iteration with code among its[0..n-1] (the latest among equals),
 * or -1. */
static long best_with_code(const loop_iter *its, size_t n)
{
	long best = -1;

	for (size_t i = 0; i < n; i++)
		if (its[i].has_code && its[i].phase != LOOP_PHASE_REFACTOR &&
		    (best < 0 || loop_compare(&its[i], &its[best]) >= 0))
			best = (long)i;
	return best;
}

/* Strategy auto, once the loop goes on: repair the best so far, or sample
 * afresh when repairing has stopped paying. */
static void decide_auto(loop_next *out, const loop_iter *its, size_t n)
{
	const loop_iter *last = &its[n - 1], *prev = n >= 2 ? &its[n - 2] : NULL;
	long best = best_with_code(its, n), before = best_with_code(its, n - 1);
	int fresh = 0;

	for (size_t i = 0; i < n; i++)
		out->level += its[i].phase == LOOP_PHASE_SAMPLE;
	if (best < 0 || !last->has_code)
		fresh = 1; /* nothing to repair, or the repair had no code */
	else if (last->phase == LOOP_PHASE_REPAIR) {
		if (prev && prev->has_code &&
		    (last->code_hash == prev->code_hash ||
		     (last->failure_hash != 0 && last->failure_hash == prev->failure_hash)))
			fresh = 1; /* stuck */
		else if (before >= 0 && loop_compare(last, &its[before]) <= 0)
			fresh = 1; /* gained nothing over the best before it */
	}
	if (fresh) {
		out->action = LOOP_ACT_SAMPLE;
		return;
	}
	out->action = LOOP_ACT_REPAIR;
	out->base = best;
}

void loop_decide(loop_next *out, const loop_iter *its, size_t n, const loop_budget *b, long tokens,
                 double elapsed_s)
{
	const loop_iter *last, *prev;
	loop_stop why = LOOP_STOP_NONE;
	long rounds = 0, with_code = -1;

	memset(out, 0, sizeof(*out));
	out->base = -1;
	if (n == 0) {
		if (spent(b, tokens, elapsed_s, &why))
			stop(out, why);
		else
			out->action =
			    b->sample || b->auto_strategy ? LOOP_ACT_SAMPLE : LOOP_ACT_GENERATE;
		return;
	}
	last = &its[n - 1];
	prev = n >= 2 ? &its[n - 2] : NULL;
	if (last->phase == LOOP_PHASE_REFACTOR) {
		stop(out, LOOP_STOP_PASSED); /* kept or rejected, the loop is over */
		return;
	}
	if (last->passed) {
		int refactored = 0;

		for (size_t i = 0; i < n; i++)
			refactored |= its[i].phase == LOOP_PHASE_REFACTOR;
		if (b->refactor && !refactored) {
			if (spent(b, tokens, elapsed_s, &why)) {
				out->refactor_skipped = 1;
			} else {
				out->action = LOOP_ACT_REFACTOR;
				out->base = (long)n - 1;
				return;
			}
		}
		stop(out, LOOP_STOP_PASSED);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (its[i].phase != LOOP_PHASE_REFACTOR)
			rounds++;
		if (its[i].has_code)
			with_code = (long)i;
	}

	if (b->auto_strategy) {
		if (rounds >= b->max_iterations)
			stop(out, with_code >= 0 ? LOOP_STOP_MAX_ITERATIONS : LOOP_STOP_NO_CODE);
		else if (spent(b, tokens, elapsed_s, &why))
			stop(out, why);
		else
			decide_auto(out, its, n);
		return;
	}
	if (!last->has_code && prev != NULL && !prev->has_code) {
		stop(out, LOOP_STOP_NO_CODE);
		return;
	}
	if (last->has_code && prev != NULL && prev->has_code) {
		if (last->code_hash == prev->code_hash) {
			stop(out, LOOP_STOP_STUCK_SAME_CODE);
			return;
		}
		if (last->failure_hash != 0 && last->failure_hash == prev->failure_hash) {
			stop(out, LOOP_STOP_STUCK_SAME_FAILURE);
			return;
		}
	}
	if (rounds >= b->max_iterations) {
		stop(out, last->has_code ? LOOP_STOP_MAX_ITERATIONS : LOOP_STOP_NO_CODE);
		return;
	}
	if (spent(b, tokens, elapsed_s, &why)) {
		stop(out, why);
		return;
	}
	if (with_code < 0) {
		out->action = LOOP_ACT_GENERATE; /* nothing to repair yet */
		return;
	}
	out->action = LOOP_ACT_REPAIR;
	out->base = with_code;
}

/* ---- ranking -------------------------------------------------------------- */

int loop_compare(const loop_iter *a, const loop_iter *b)
{
	if (a->passed != b->passed)
		return a->passed ? 1 : -1;
	if (a->has_code != b->has_code)
		return a->has_code ? 1 : -1;
	if (a->agreement != b->agreement)
		return a->agreement > b->agreement ? 1 : -1;
	if (a->score != b->score)
		return a->score > b->score ? 1 : -1;
	if (a->tests_passed != b->tests_passed)
		return a->tests_passed > b->tests_passed ? 1 : -1;
	return 0;
}

void loop_agreement(long *score, const uint64_t *mask, const int *has, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		long same = 0;

		score[i] = 0;
		if (!has[i] || mask[i] == 0)
			continue;
		for (size_t j = 0; j < n; j++)
			same += has[j] && mask[j] == mask[i];
		score[i] = same * __builtin_popcountll(mask[i]);
	}
}

long loop_best(const loop_iter *its, size_t n)
{
	long best = n ? 0 : -1;

	for (size_t i = 1; i < n; i++)
		if (loop_compare(&its[i], &its[best]) > 0)
			best = (long)i;
	return best;
}

long loop_accepted(const loop_iter *its, size_t n)
{
	for (size_t i = n; i > 0; i--)
		if (its[i - 1].passed && !its[i - 1].rejected)
			return (long)i - 1;
	return -1;
}

long loop_final(const loop_iter *its, size_t n)
{
	long best = loop_accepted(its, n);

	if (best >= 0 || n == 0)
		return best;
	best = 0;
	for (size_t i = 1; i < n; i++)
		if (loop_compare(&its[i], &its[best]) >= 0)
			best = (long)i;
	return best;
}

/* ---- fingerprints ---------------------------------------------------------- */

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME  1099511628211ULL

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* A field and a separator, so that ("ab","c") and ("a","bc") differ. */
static uint64_t fnv_field(uint64_t h, const char *s)
{
	static const unsigned char sep = 0x1f;

	if (s != NULL)
		h = fnv(h, s, strlen(s));
	return fnv(h, &sep, 1);
}

uint64_t loop_code_hash(const char *code)
{
	uint64_t h = FNV_OFFSET;
	size_t pending_newlines = 0;
	int any = 0;
	const char *p = code;

	if (code == NULL)
		return 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
			len--;
		if (len == 0) {
			pending_newlines++;
		} else {
			for (; any && pending_newlines > 0; pending_newlines--)
				h = fnv(h, "\n", 1);
			pending_newlines = 1;
			h = fnv(h, p, len);
			any = 1;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	if (!any)
		return 0;
	return h ? h : 1;
}

static uint64_t hash_error(uint64_t h, json_object *e)
{
	h = fnv_field(h, lr_json_str(e, "type"));
	return fnv_field(h, lr_json_str(e, "message"));
}

int loop_failure_hash(uint64_t *out, const char *report, size_t len)
{
	json_object *root = NULL, *tests, *viol, *passed;
	uint64_t h = FNV_OFFSET;
	int rc;

	*out = 0;
	rc = lr_json_parse(&root, report, len, 0, 64, NULL);
	if (rc < 0 || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return LR_EINVAL;
	}
	passed = lr_json_member(root, "passed", json_type_boolean);
	if (passed != NULL && json_object_get_boolean(passed)) {
		json_object_put(root);
		return 0;
	}
	h = fnv_field(h, lr_json_str(root, "status"));
	h = hash_error(h, lr_json_member(root, "failure", json_type_object));
	tests = lr_json_member(root, "tests", json_type_array);
	for (size_t i = 0; tests != NULL && i < json_object_array_length(tests); i++) {
		json_object *t = json_object_array_get_idx(tests, i);
		const char *st = lr_json_str(t, "status");

		if (st != NULL && strcmp(st, "passed") == 0)
			continue;
		h = fnv_field(h, lr_json_str(t, "name"));
		h = fnv_field(h, st);
		h = hash_error(h, lr_json_member(t, "error", json_type_object));
		h = fnv_field(
		    h, lr_json_str(lr_json_member(t, "assertion", json_type_object), "actual"));
	}
	viol = lr_json_member(root, "violations", json_type_array);
	for (size_t i = 0; viol != NULL && i < json_object_array_length(viol); i++)
		h = fnv_field(h, lr_json_str(json_object_array_get_idx(viol, i), "criterion"));
	json_object_put(root);
	*out = h ? h : 1;
	return 0;
}
