/* test_eval_group.c - the frames of a grouped run's answer (eval_group.h):
 * what the host accepts as one item's answer, and what ends the reading. */
#include "check.h"
#include "eval_group.h"

#include <string.h>

static int frames(const char *text, eval_group_frame *f, int max)
{
	const char *p = text, *end = text + strlen(text);
	int n = 0, rc = 0;

	while (n < max && (rc = eval_group_next_frame(&p, end, &f[n])) == 1)
		n++;
	return rc < 0 ? -1 - n : n;
}

TEST(test_frames_in_any_order)
{
	eval_group_frame f[3];
	const char *t = "ITEM 2 0 1500 700 3 2 3 1\n{}outxITEM 0 1 10 5 0 3 0 0\n{a}";

	CHECK(frames(t, f, 3) == 2);
	CHECK(f[0].k == 2 && f[0].exit_code == 0 && f[0].alen == 2 && f[0].olen == 3);
	CHECK(f[0].judge == 3 && f[1].judge == 0);
	CHECK(memcmp(f[0].ans, "{}", 2) == 0 && memcmp(f[0].out, "out", 3) == 0);
	CHECK(f[0].elen == 1 && f[0].err[0] == 'x');
	CHECK(f[0].wall_s > 0.0014 && f[0].wall_s < 0.0016 && f[0].cpu_s > 0.0006);
	CHECK(f[1].k == 0 && f[1].exit_code == 1 && memcmp(f[1].ans, "{a}", 3) == 0);
	CHECK(frames("", f, 3) == 0);
}

TEST(test_what_is_not_a_frame)
{
	eval_group_frame f[2];

	CHECK(frames("ITEM 0 0 1 1 0 10 0 0\n{}", f, 2) == -1);       /* lengths past the end */
	CHECK(frames("ITEM 0 0 1 1 0 2 0 0 \n{}", f, 2) == -1);       /* a space too many */
	CHECK(frames("ITEM -1 0 1 1 0 2 0 0\n{}", f, 2) == -1);       /* a sign */
	CHECK(frames("ITEM 0 0 1 1 0 2 0\n{}", f, 2) == -1);          /* a field short */
	CHECK(frames("item 0 0 1 1 0 2 0 0\n{}", f, 2) == -1);        /* not the word */
	CHECK(frames("ITEM 0 0 1 1 0 2 0 0\n{}garbage", f, 2) == -2); /* one, then junk */
	CHECK(frames("ITEM 0 0 1 1 0 99999999999999999999 0 0\n{}", f, 2) == -1);
	{
		char head[400];

		/* A header longer than any real one. */
		memset(head, '0', sizeof(head));
		memcpy(head, "ITEM ", 5);
		head[sizeof(head) - 1] = '\0';
		CHECK(frames(head, f, 2) == -1);
	}
}

int main(void)
{
	RUN(test_frames_in_any_order);
	RUN(test_what_is_not_a_frame);
	return check_summary();
}
