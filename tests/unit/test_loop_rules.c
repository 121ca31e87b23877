/* test_loop_rules.c - the feedback loop's stop rules, ranking and
 * fingerprints. */
#include "check.h"
#include "err.h"
#include "loop_rules.h"

#include <string.h>

static const loop_budget BUDGET = {4, 600, 200000, 0, 0, 0};
static const loop_budget AUTO = {4, 600, 200000, 0, 1, 0};

/* An iteration that failed with code `code` and failure `fail`. */
static loop_iter failing(loop_phase ph, uint64_t code, uint64_t fail, double score)
{
	loop_iter it;

	memset(&it, 0, sizeof(it));
	it.phase = ph;
	it.has_code = 1;
	it.code_hash = code;
	it.failure_hash = fail;
	it.score = score;
	it.tests_total = 4;
	it.tests_passed = (int)(score * 4);
	return it;
}

static loop_iter passing(loop_phase ph, uint64_t code)
{
	loop_iter it = failing(ph, code, 0, 1.0);

	it.passed = 1;
	return it;
}

static loop_iter no_code(loop_phase ph)
{
	loop_iter it;

	memset(&it, 0, sizeof(it));
	it.phase = ph;
	it.failure_hash = 99;
	return it;
}

static loop_next decide(const loop_iter *its, size_t n, const loop_budget *b, long tokens,
                        double elapsed)
{
	loop_next nx;

	loop_decide(&nx, its, n, b, tokens, elapsed);
	return nx;
}

TEST(test_names)
{
	loop_stop s;
	loop_phase p;

	CHECK_STR(loop_stop_name(LOOP_STOP_STUCK_SAME_FAILURE), "stuck_same_failure");
	CHECK_STR(loop_stop_name(LOOP_STOP_MODEL_ERROR), "model_error");
	CHECK(loop_stop_parse(&s, "budget_wall") == 0 && s == LOOP_STOP_BUDGET_WALL);
	CHECK(loop_stop_parse(&s, "") == LR_EINVAL);
	CHECK(loop_stop_parse(&s, "nope") == LR_EINVAL);
	for (int i = 1; i < LOOP_STOP_COUNT; i++)
		CHECK(loop_stop_parse(&s, loop_stop_name((loop_stop)i)) == 0 && (int)s == i);
	CHECK(loop_phase_parse(&p, "refactor") == 0 && p == LOOP_PHASE_REFACTOR);
	CHECK(loop_phase_parse(&p, NULL) == LR_EINVAL);
	CHECK_STR(loop_phase_name(LOOP_PHASE_SAMPLE), "sample");
}

TEST(test_first_round)
{
	loop_budget b = BUDGET;
	loop_next nx = decide(NULL, 0, &b, 0, 0);

	CHECK(nx.action == LOOP_ACT_GENERATE);
	b.sample = 1;
	nx = decide(NULL, 0, &b, 0, 0);
	CHECK(nx.action == LOOP_ACT_SAMPLE);
	/* A resumed job whose budget was spent before its first commit. */
	nx = decide(NULL, 0, &b, 0, 601);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_BUDGET_WALL);
}

TEST(test_pass_first_try)
{
	loop_iter its[] = {passing(LOOP_PHASE_GENERATE, 1)};
	loop_next nx = decide(its, 1, &BUDGET, 100, 1);

	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_PASSED);
	CHECK(loop_accepted(its, 1) == 0 && loop_final(its, 1) == 0);
}

TEST(test_repair_then_pass)
{
	loop_iter its[] = {failing(LOOP_PHASE_GENERATE, 1, 10, 0.5), passing(LOOP_PHASE_REPAIR, 2)};
	loop_next nx = decide(its, 1, &BUDGET, 100, 1);

	CHECK(nx.action == LOOP_ACT_REPAIR && nx.base == 0);
	nx = decide(its, 2, &BUDGET, 200, 2);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_PASSED);
	CHECK(loop_final(its, 2) == 1);
}

TEST(test_single_shot)
{
	loop_budget b = BUDGET;
	loop_iter its[] = {failing(LOOP_PHASE_GENERATE, 1, 10, 0.5)};
	loop_next nx;

	b.max_iterations = 1;
	nx = decide(its, 1, &b, 100, 1);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_MAX_ITERATIONS);
	CHECK(loop_accepted(its, 1) == -1 && loop_final(its, 1) == 0);
}

TEST(test_max_iterations)
{
	loop_iter its[] = {
	    failing(LOOP_PHASE_GENERATE, 1, 10, 0.25), failing(LOOP_PHASE_REPAIR, 2, 11, 0.5),
	    failing(LOOP_PHASE_REPAIR, 3, 12, 0.5), failing(LOOP_PHASE_REPAIR, 4, 13, 0.25)};
	loop_next nx = decide(its, 3, &BUDGET, 100, 1);

	CHECK(nx.action == LOOP_ACT_REPAIR && nx.base == 2);
	nx = decide(its, 4, &BUDGET, 100, 1);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_MAX_ITERATIONS);
	/* Nothing passed: the best ranked code, the latest among equals. */
	CHECK(loop_final(its, 4) == 2);
	CHECK(loop_best(its, 4) == 1);
}

TEST(test_stuck)
{
	loop_iter same_code[] = {failing(LOOP_PHASE_GENERATE, 7, 10, 0.5),
	                         failing(LOOP_PHASE_REPAIR, 7, 10, 0.5)};
	loop_iter same_fail[] = {failing(LOOP_PHASE_GENERATE, 7, 10, 0.5),
	                         failing(LOOP_PHASE_REPAIR, 8, 10, 0.5)};
	loop_iter apart[] = {failing(LOOP_PHASE_GENERATE, 7, 10, 0.5),
	                     failing(LOOP_PHASE_REPAIR, 8, 11, 0.5),
	                     failing(LOOP_PHASE_REPAIR, 9, 10, 0.5)};
	loop_next nx = decide(same_code, 2, &BUDGET, 100, 1);

	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_STUCK_SAME_CODE);
	nx = decide(same_fail, 2, &BUDGET, 100, 1);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_STUCK_SAME_FAILURE);
	/* Only consecutive iterations count. */
	nx = decide(apart, 3, &BUDGET, 100, 1);
	CHECK(nx.action == LOOP_ACT_REPAIR && nx.base == 2);
	/* Stuck wins over the iteration count: it says more. */
	{
		loop_budget b = BUDGET;

		b.max_iterations = 2;
		nx = decide(same_fail, 2, &b, 100, 1);
		CHECK(nx.stop == LOOP_STOP_STUCK_SAME_FAILURE);
	}
}

TEST(test_no_code)
{
	loop_iter one[] = {no_code(LOOP_PHASE_GENERATE), no_code(LOOP_PHASE_GENERATE)};
	loop_iter after[] = {failing(LOOP_PHASE_GENERATE, 1, 10, 0.5), no_code(LOOP_PHASE_REPAIR)};
	loop_budget b = BUDGET;
	loop_next nx = decide(one, 1, &BUDGET, 100, 1);

	/* Nothing to repair: ask again. */
	CHECK(nx.action == LOOP_ACT_GENERATE && nx.base == -1);
	nx = decide(one, 2, &BUDGET, 100, 1);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_NO_CODE);
	/* A reply without code after one with code: repair the code we have. */
	nx = decide(after, 2, &BUDGET, 100, 1);
	CHECK(nx.action == LOOP_ACT_REPAIR && nx.base == 0);
	CHECK(loop_final(after, 2) == 0);
	b.max_iterations = 1;
	nx = decide(one, 1, &b, 100, 1);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_NO_CODE);
}

TEST(test_budgets)
{
	loop_iter its[] = {failing(LOOP_PHASE_GENERATE, 1, 10, 0.5)};
	loop_next nx = decide(its, 1, &BUDGET, 200000, 1);

	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_BUDGET_TOKENS);
	nx = decide(its, 1, &BUDGET, 199999, 600);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_BUDGET_WALL);
	nx = decide(its, 1, &BUDGET, 199999, 599.9);
	CHECK(nx.action == LOOP_ACT_REPAIR);
}

TEST(test_refactor)
{
	loop_budget b = BUDGET;
	loop_iter kept[] = {failing(LOOP_PHASE_GENERATE, 1, 10, 0.5), passing(LOOP_PHASE_REPAIR, 2),
	                    passing(LOOP_PHASE_REFACTOR, 3)};
	loop_iter rejected[] = {passing(LOOP_PHASE_GENERATE, 2),
	                        failing(LOOP_PHASE_REFACTOR, 3, 10, 0.75)};
	loop_next nx;

	b.refactor = 1;
	nx = decide(kept, 2, &b, 100, 1);
	CHECK(nx.action == LOOP_ACT_REFACTOR && nx.base == 1);
	nx = decide(kept, 3, &b, 100, 1);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_PASSED);
	CHECK(loop_accepted(kept, 3) == 2 && loop_final(kept, 3) == 2);
	nx = decide(rejected, 2, &b, 100, 1);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_PASSED);
	CHECK(loop_accepted(rejected, 2) == 0 && loop_final(rejected, 2) == 0);
	/* A refactor that passed but changed nothing is not kept either. */
	kept[2].rejected = 1;
	CHECK(loop_accepted(kept, 3) == 1 && loop_final(kept, 3) == 1);
	/* The refactor comes on top of max_iterations... */
	b.max_iterations = 1;
	nx = decide(rejected, 1, &b, 100, 1);
	CHECK(nx.action == LOOP_ACT_REFACTOR && nx.base == 0);
	/* ...but not on top of the budget. */
	nx = decide(rejected, 1, &b, 100, 700);
	CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_PASSED && nx.refactor_skipped);
}

TEST(test_ranking)
{
	loop_iter a = failing(LOOP_PHASE_SAMPLE, 1, 10, 0.5),
	          b = failing(LOOP_PHASE_SAMPLE, 2, 11, 0.5);
	loop_iter c = passing(LOOP_PHASE_SAMPLE, 3), d = no_code(LOOP_PHASE_SAMPLE);
	loop_iter its[4];

	CHECK(loop_compare(&a, &b) == 0);
	CHECK(loop_compare(&c, &a) == 1 && loop_compare(&a, &c) == -1);
	CHECK(loop_compare(&a, &d) == 1);
	b.tests_passed = 3;
	CHECK(loop_compare(&b, &a) == 1);
	b.score = 0.4;
	CHECK(loop_compare(&b, &a) == -1); /* score before tests passed */
	its[0] = d;
	its[1] = a;
	its[2] = failing(LOOP_PHASE_SAMPLE, 4, 12, 0.5);
	its[3] = b;
	CHECK(loop_best(its, 4) == 1);  /* the earliest among equals */
	CHECK(loop_final(its, 4) == 2); /* the latest among equals */
	CHECK(loop_best(its, 0) == -1 && loop_final(its, 0) == -1);
}

TEST(test_agreement)
{
	/* Generated tests t0..t2; t2 is wrong. A and B behave alike (t0, t1),
	 * C passes all three alone, D passes nothing, E has no code. */
	uint64_t mask[5] = {0x3, 0x3, 0x7, 0x0, 0x7};
	int has[5] = {1, 1, 1, 1, 0};
	long score[5];
	loop_iter its[5];

	loop_agreement(score, mask, has, 5);
	CHECK(score[0] == 4 && score[1] == 4); /* 2 alike x 2 tests */
	CHECK(score[2] == 3);                  /* 1 x 3: agreement beats one more test */
	CHECK(score[3] == 0 && score[4] == 0);
	for (int i = 0; i < 5; i++) {
		its[i] = failing(LOOP_PHASE_SAMPLE, (uint64_t)i + 1, 0, 0);
		its[i].passed = 1; /* the job's own criteria: ran cleanly */
		its[i].agreement = score[i];
	}
	CHECK(loop_best(its, 5) == 0);
	/* Agreement only orders what the criteria judged alike: a candidate
	 * that failed them never ranks above one that passed. */
	its[1].passed = 0;
	its[1].agreement = 100;
	CHECK(loop_compare(&its[1], &its[3]) == -1);
	CHECK(loop_best(its, 5) == 0);
	its[0].passed = 0;
	CHECK(loop_best(its, 5) == 2);
}

TEST(test_code_hash)
{
	uint64_t h = loop_code_hash("def f():\n    return 1\n");

	CHECK(h != 0);
	CHECK(loop_code_hash("def f():  \n    return 1\n\n\n") == h);
	CHECK(loop_code_hash("\n\ndef f():\r\n    return 1") == h);
	CHECK(loop_code_hash("def f():\n\n    return 1\n") != h);
	CHECK(loop_code_hash("def f():\n    return 2\n") != h);
	CHECK(loop_code_hash("") == 0 && loop_code_hash(" \n\t\n") == 0 &&
	      loop_code_hash(NULL) == 0);
}

static uint64_t fh(const char *json)
{
	uint64_t h = 12345;

	CHECK(loop_failure_hash(&h, json, strlen(json)) == 0);
	return h;
}

TEST(test_failure_hash)
{
	const char *r1 =
	    "{\"passed\":false,\"status\":\"tests_failed\",\"tests\":["
	    "{\"name\":\"assert add(1,2)==3\",\"status\":\"failed\",\"duration_s\":0.1,"
	    "\"error\":{\"type\":\"AssertionError\",\"message\":\"got -1\",\"line\":3},"
	    "\"assertion\":{\"actual\":\"-1\"}},"
	    "{\"name\":\"assert add(0,0)==0\",\"status\":\"passed\"}],"
	    "\"violations\":[{\"criterion\":\"tests\",\"message\":\"1 of 2 failed\"}]}";
	/* The same failure from other code: other timings, lines, output. */
	const char *r2 =
	    "{\"passed\":false,\"status\":\"tests_failed\",\"stdout\":\"hello\",\"tests\":["
	    "{\"name\":\"assert add(1,2)==3\",\"status\":\"failed\",\"duration_s\":0.3,"
	    "\"error\":{\"type\":\"AssertionError\",\"message\":\"got -1\",\"line\":9,"
	    "\"traceback\":[{\"line\":2}]},\"assertion\":{\"actual\":\"-1\"}},"
	    "{\"name\":\"assert add(0,0)==0\",\"status\":\"passed\",\"duration_s\":1}],"
	    "\"violations\":[{\"criterion\":\"tests\",\"message\":\"other words\"}]}";
	/* Another actual value. */
	const char *r3 = "{\"passed\":false,\"status\":\"tests_failed\",\"tests\":["
	                 "{\"name\":\"assert add(1,2)==3\",\"status\":\"failed\","
	                 "\"error\":{\"type\":\"AssertionError\",\"message\":\"got -1\"},"
	                 "\"assertion\":{\"actual\":\"4\"}},"
	                 "{\"name\":\"assert add(0,0)==0\",\"status\":\"passed\"}],"
	                 "\"violations\":[{\"criterion\":\"tests\"}]}";
	/* Another test failing. */
	const char *r4 = "{\"passed\":false,\"status\":\"tests_failed\",\"tests\":["
	                 "{\"name\":\"assert add(1,2)==3\",\"status\":\"passed\"},"
	                 "{\"name\":\"assert add(0,0)==0\",\"status\":\"failed\","
	                 "\"error\":{\"type\":\"AssertionError\",\"message\":\"got -1\"},"
	                 "\"assertion\":{\"actual\":\"-1\"}}],"
	                 "\"violations\":[{\"criterion\":\"tests\"}]}";
	const char *syntax1 =
	    "{\"passed\":false,\"status\":\"syntax_error\",\"failure\":"
	    "{\"type\":\"SyntaxError\",\"message\":\"invalid syntax\",\"line\":3}}";
	const char *syntax2 =
	    "{\"passed\":false,\"status\":\"syntax_error\",\"failure\":"
	    "{\"type\":\"SyntaxError\",\"message\":\"invalid syntax\",\"line\":5}}";
	const char *lint = "{\"passed\":false,\"status\":\"ok\",\"tests\":[],"
	                   "\"violations\":[{\"criterion\":\"max_lint_warnings\"}]}";
	uint64_t h = 7;

	CHECK(fh(r1) != 0);
	CHECK(fh(r1) == fh(r2));
	CHECK(fh(r1) != fh(r3));
	CHECK(fh(r1) != fh(r4));
	CHECK(fh(syntax1) == fh(syntax2));
	CHECK(fh(syntax1) != fh(lint));
	CHECK(fh("{\"passed\":true,\"status\":\"ok\"}") == 0);
	CHECK(loop_failure_hash(&h, "[1]", 3) == LR_EINVAL && h == 0);
	CHECK(loop_failure_hash(&h, "{\"passed\":", 10) == LR_EINVAL);
	/* Wrong types inside are ignored, not trusted. */
	CHECK(fh("{\"passed\":\"yes\",\"tests\":{\"a\":1},\"failure\":[1],\"violations\":7}") != 0);
}

TEST(test_auto)
{
	loop_iter sampled[] = {failing(LOOP_PHASE_SAMPLE, 7, 10, 0.5)};
	loop_iter better[] = {failing(LOOP_PHASE_SAMPLE, 7, 10, 0.5),
	                      failing(LOOP_PHASE_REPAIR, 8, 11, 0.75)};
	loop_iter stuck[] = {failing(LOOP_PHASE_SAMPLE, 7, 10, 0.5),
	                     failing(LOOP_PHASE_REPAIR, 7, 10, 0.5)};
	loop_iter worse[] = {failing(LOOP_PHASE_SAMPLE, 7, 10, 0.5),
	                     failing(LOOP_PHASE_REPAIR, 8, 11, 0.25)};
	loop_iter two[] = {failing(LOOP_PHASE_SAMPLE, 7, 10, 0.75),
	                   failing(LOOP_PHASE_REPAIR, 8, 11, 0.25),
	                   failing(LOOP_PHASE_SAMPLE, 9, 12, 0.5)};
	loop_iter nothing[] = {no_code(LOOP_PHASE_SAMPLE), no_code(LOOP_PHASE_SAMPLE)};
	loop_next nx;

	/* The first round samples; its best is repaired. */
	nx = decide(NULL, 0, &AUTO, 0, 0);
	CHECK(nx.action == LOOP_ACT_SAMPLE && nx.level == 0);
	nx = decide(sampled, 1, &AUTO, 100, 1);
	CHECK(nx.action == LOOP_ACT_REPAIR && nx.base == 0);
	/* A repair that gained goes on being repaired. */
	nx = decide(better, 2, &AUTO, 100, 1);
	CHECK(nx.action == LOOP_ACT_REPAIR && nx.base == 1);
	/* Stuck, or worse than the best before: a fresh, hotter sample, no stop. */
	nx = decide(stuck, 2, &AUTO, 100, 1);
	CHECK(nx.action == LOOP_ACT_SAMPLE && nx.level == 1);
	nx = decide(worse, 2, &AUTO, 100, 1);
	CHECK(nx.action == LOOP_ACT_SAMPLE && nx.level == 1);
	/* After the fresh round, the best of everything is repaired. */
	nx = decide(two, 3, &AUTO, 100, 1);
	CHECK(nx.action == LOOP_ACT_REPAIR && nx.base == 0);
	/* No code twice: sample again rather than stop. */
	nx = decide(nothing, 2, &AUTO, 100, 1);
	CHECK(nx.action == LOOP_ACT_SAMPLE && nx.level == 2);
	/* Only the iteration count and the budget stop it. */
	{
		loop_budget b = AUTO;

		b.max_iterations = 2;
		nx = decide(stuck, 2, &b, 100, 1);
		CHECK(nx.action == LOOP_ACT_STOP && nx.stop == LOOP_STOP_MAX_ITERATIONS);
		nx = decide(nothing, 2, &b, 100, 1);
		CHECK(nx.stop == LOOP_STOP_NO_CODE);
		nx = decide(stuck, 2, &AUTO, 200000, 1);
		CHECK(nx.stop == LOOP_STOP_BUDGET_TOKENS);
	}
	/* Temperatures: greedy first, then hotter each round, capped. */
	CHECK(loop_auto_temperature(0, 0, 0) == 0);
	CHECK(loop_auto_temperature(0, 1, 0) == LOOP_AUTO_T0);
	CHECK(loop_auto_temperature(1, 0, 0) > LOOP_AUTO_T0);
	CHECK(loop_auto_temperature(9, 3, 0) == LOOP_AUTO_TMAX);
}

int main(void)
{
	RUN(test_names);
	RUN(test_first_round);
	RUN(test_pass_first_try);
	RUN(test_repair_then_pass);
	RUN(test_single_shot);
	RUN(test_max_iterations);
	RUN(test_stuck);
	RUN(test_no_code);
	RUN(test_budgets);
	RUN(test_refactor);
	RUN(test_ranking);
	RUN(test_agreement);
	RUN(test_auto);
	RUN(test_code_hash);
	RUN(test_failure_hash);
	return check_summary();
}
