/* eval_group.h - several evaluations in one sandbox run.
 *
 * eval_run_group() sends the evaluations that can share a run (the same
 * limits, split, function tests, no memory criterion; see
 * eval_group_fits) as ONE request to the pool: the pool's judge forks a
 * child per item that evaluates it exactly as a single run does (or, for
 * consecutive items whose tests are pure, one warm judge evaluates them one
 * after another, made fresh between them: llmrepl_warm.py), with a fresh
 * candidate worker and /work and /tmp wiped between items, and frames each
 * answer on the run's answer descriptor (sandbox/py/llmrepl_group.py). Each
 * framed answer is judged here as eval_run would judge it (eval_judge), its
 * report saying it ran grouped (run.isolation "grouped", run.group, and the
 * run's peak memory, the group's, as an upper bound). Every item without a
 * valid answer when the run ends (the group hit a limit, died, or an item
 * overran its deadline, its output cap or left the factory unable to
 * clean), and every item that cannot be grouped, is evaluated alone by
 * eval_run: the verdicts are those of ungrouped runs. */
#ifndef LLMREPL_EVAL_GROUP_H
#define LLMREPL_EVAL_GROUP_H

#include "eval.h"

#define EVAL_GROUP_MAX 64 /* items per sandbox run */

/* Whether a request can be one item of a group at all: function tests (no
 * io cases, no session cells), within the size limits, no max_memory_mb
 * criterion (a group's peak is not one item's). */
int eval_group_fits(const eval_request *r);
/* Whether two requests can share a run: the same limits and settings. */
int eval_group_compatible(const eval_request *a, const eval_request *b);

/* Evaluate reqs[0..n): outs[i], rcs[i] and errs[i] as eval_run(&outs[i],
 * pool, cfg, &reqs[i], &errs[i]) would give them. Groups only on a pool with
 * the candidate factory (cfg->peer); otherwise, and for what does not fit,
 * one eval_run each. *grouped (may be NULL) gets how many were judged from
 * the group's answers. */
void eval_run_group(eval_outcome *outs, int *rcs, lr_err *errs, sbx_pool *pool,
                    const sbx_config *cfg, const eval_request *reqs, size_t n, size_t *grouped);

/* One item's answer on the group's answer descriptor (llmrepl_group.py):
 * "ITEM <k> <exit status> <wall_us> <cpu_us> <judge> <answer bytes> <stdout
 * bytes> <stderr bytes>\n" and the bytes, where judge is 0 for a judge of
 * the item's own (a fresh fork) and n > 0 for the n-th item of a warm judge
 * shared by consecutive items (llmrepl_warm.py). Pointers into the run's
 * answer. Frames come in the order the items were evaluated (not k's), each
 * k at most once. */
typedef struct eval_group_frame {
	size_t k;
	long exit_code;
	double wall_s, cpu_s;
	size_t judge;
	const char *ans, *out, *err;
	size_t alen, olen, elen;
} eval_group_frame;

/* The frame at *pp (moved past it): 1; 0 at end; -1 when what follows is
 * not a whole frame (plain decimals, single spaces, a header of at most 160
 * bytes, lengths within what is left). */
int eval_group_next_frame(const char **pp, const char *end, eval_group_frame *f);

#endif
