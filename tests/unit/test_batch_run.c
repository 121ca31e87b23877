/* test_batch_run.c - how a batch's slots share out the items ready
 * (br_share, batch_run.h). */
#include "batch_run.h"
#include "check.h"

/* The items the slots take one after another from one hand-out, each slot
 * busy once it has taken; sizes[] gets each take. */
static int hand_out(size_t ready, int slots, size_t group, size_t *sizes)
{
	int busy = 0;

	while (ready > 0 && busy < slots) {
		size_t k = br_share(ready, slots, busy, group);

		sizes[busy++] = k;
		ready -= k;
	}
	return busy;
}

TEST(test_a_helpers_claim_is_split_evenly_between_its_slots)
{
	size_t s[4] = {0};

	/* Eight items for two slots: four each (they ran as 4, 2, 1, 1). */
	CHECK(hand_out(8, 2, 16, s) == 2);
	CHECK(s[0] == 4 && s[1] == 4);
	/* Sixteen: eight each; seven: four and three. */
	CHECK(hand_out(16, 2, 16, s) == 2 && s[0] == 8 && s[1] == 8);
	CHECK(hand_out(7, 2, 16, s) == 2 && s[0] == 4 && s[1] == 3);
}

TEST(test_a_slot_takes_no_more_than_a_group)
{
	size_t s[4] = {0};

	/* The owner's first claim, (16 + 1) x 2 items: a full group each. */
	CHECK(hand_out(34, 2, 16, s) == 2);
	CHECK(s[0] == 16 && s[1] == 16);
	CHECK(br_share(100, 1, 0, 16) == 16);
}

TEST(test_busy_slots_leave_the_ready_items_to_the_free_one)
{
	/* Three of four slots running a group: the free one takes what is
	 * ready (up to a group), not a quarter of it. */
	CHECK(br_share(12, 4, 3, 16) == 12);
	CHECK(br_share(12, 4, 0, 16) == 3);
	/* More busy than running (a slot ending meanwhile): one share. */
	CHECK(br_share(5, 1, 2, 16) == 5);
	CHECK(br_share(0, 2, 0, 16) == 0);
}

int main(void)
{
	RUN(test_a_helpers_claim_is_split_evenly_between_its_slots);
	RUN(test_a_slot_takes_no_more_than_a_group);
	RUN(test_busy_slots_leave_the_ready_items_to_the_free_one);
	return check_summary();
}
