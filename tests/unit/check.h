/* check.h - a tiny unit test harness.
 *
 * TEST(name) { CHECK(cond); CHECK_STR(a, b); ... } and RUN_TESTS(t1, t2, ...)
 * in main. The last line is "N passed, N failed"; the exit code is 0 only
 * when every check passed. */
#ifndef LLMREPL_CHECK_H
#define LLMREPL_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_current;
static int check_passed_total;
static int check_failed_total;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			check_failed_current = 1;                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *check_a_ = (a);                                                        \
		const char *check_b_ = (b);                                                        \
		if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_)) {          \
			fprintf(stderr, "%s:%d: CHECK_STR failed: '%s' != '%s'\n", __FILE__,       \
			        __LINE__, check_a_ ? check_a_ : "(null)",                          \
			        check_b_ ? check_b_ : "(null)");                                   \
			check_failed_current = 1;                                                  \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *check_h_ = (hay);                                                      \
		if (check_h_ == NULL || strstr(check_h_, (needle)) == NULL) {                      \
			fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, \
			        check_h_ ? check_h_ : "(null)", (needle));                         \
			check_failed_current = 1;                                                  \
		}                                                                                  \
	} while (0)

#define TEST(name) static void name(void)

static inline void check_run(const char *name, void (*fn)(void))
{
	check_failed_current = 0;
	fn();
	if (check_failed_current) {
		check_failed_total++;
		fprintf(stderr, "FAIL %s\n", name);
	} else {
		check_passed_total++;
	}
}

#define RUN(t) check_run(#t, t)

static inline int check_summary(void)
{
	printf("%d passed, %d failed\n", check_passed_total, check_failed_total);
	return check_failed_total ? 1 : 0;
}

#endif
