/* test_io_program.c - whole programs for io tests: what extract_program keeps
 * of a reply, and what the prompts ask for. */
#include "check.h"
#include "extract.h"
#include "prompts.h"

#include <stdlib.h>

static char *got;
static extract_result xr;
static lr_err xe;

static int ex(const char *reply)
{
	int rc;

	extract_result_free(&xr);
	lr_err_clear(&xe);
	rc = extract_program(&xr, reply, strlen(reply), &xe);
	got = xr.code;
	return rc;
}

TEST(a_script_is_kept_whole)
{
	CHECK(ex("```python\nn = int(input())\nprint(n * 2)\n```\n") == 0);
	CHECK_STR(got, "n = int(input())\nprint(n * 2)\n");
	CHECK(ex("```python\nimport sys\n\ndef main():\n    print(sum(map(int, "
	         "sys.stdin.read().split())))\n\nif __name__ == \"__main__\":\n    main()\n```") ==
	      0);
	CHECK_CONTAINS(got, "if __name__ == \"__main__\":\n    main()\n");
}

TEST(an_input_example_is_not_the_program)
{
	/* untagged example blocks longer than the program itself */
	CHECK(ex("Read n, print double.\n\n```\n3\n1 2 3\n4 5 6\n7 8 9\n10 11 12\n```\n\n"
	         "```\nn = int(input())\nprint(2 * n)\n```\n\nOutput:\n```\n6\n```\n") == 0);
	CHECK_STR(got, "n = int(input())\nprint(2 * n)\n");
}

TEST(a_driver_block_after_the_definitions)
{
	CHECK(ex("```python\ndef solve(a, b):\n    return a + b\n```\n\nThen read the input:\n\n"
	         "```python\na, b = map(int, input().split())\nprint(solve(a, b))\n```\n\n"
	         "Example:\n```python\nprint(solve(1, 2))  # 3\n```\n") == 0);
	CHECK_STR(got, "def solve(a, b):\n    return a + b\n\n\na, b = map(int, input().split())\n"
	               "print(solve(a, b))\n");
}

TEST(an_unfenced_program_from_its_first_statement)
{
	CHECK(ex("Here is the program:\n\nn = int(input())\nfor i in range(n):\n    "
	         "print(i)\n\nIt prints the numbers.") == 0);
	CHECK_STR(got, "n = int(input())\nfor i in range(n):\n    print(i)\n");
	CHECK(xr.how == EXTRACT_UNFENCED);
	/* the function kind still starts at a definition */
	extract_result_free(&xr);
	CHECK(extract_code(&xr, "Use n = 3 here.\n\ndef f():\n    return 1\n", 39, NULL, &xe) == 0);
	CHECK_STR(xr.code, "def f():\n    return 1\n");
	CHECK(ex("I cannot do that.") == LR_ENOTFOUND);
}

TEST(prompts_ask_for_a_program)
{
	prompt_input in = {.task = "Read two integers and print their sum.", .program = 1};
	prompt p;
	lr_err err;

	CHECK(prompt_generate(&p, &in, &err) == 0);
	CHECK_CONTAINS(p.user, "reads its input from standard input");
	CHECK_CONTAINS(p.user, "prints its answer to standard output");
	CHECK_CONTAINS(p.user, "whole program");
	CHECK(strstr(p.user, "the function itself") == NULL);
	prompt_free(&p);
	in.code = "print(1)\n";
	in.feedback = "1 of 2 tests fail";
	CHECK(prompt_repair(&p, &in, &err) == 0);
	CHECK_CONTAINS(p.user, "standard input");
	CHECK_CONTAINS(p.user, "Fix the code.");
	prompt_free(&p);
	CHECK(prompt_refactor(&p, &in, &err) == 0);
	CHECK_CONTAINS(p.user, "keep what it reads from standard input");
	prompt_free(&p);
	in.code = NULL;
	in.tests = "Input:\n1 2\nOutput:\n3\n";
	CHECK(prompt_generate(&p, &in, &err) == 0);
	CHECK_CONTAINS(p.user, "Examples of input and the output expected for it:\n\n```text\n"
	                       "Input:\n1 2\nOutput:\n3\n```\n");
	CHECK(strstr(p.user, "It must pass these tests") == NULL);
	prompt_free(&p);
}

int main(void)
{
	RUN(a_script_is_kept_whole);
	RUN(an_input_example_is_not_the_program);
	RUN(a_driver_block_after_the_definitions);
	RUN(an_unfenced_program_from_its_first_statement);
	RUN(prompts_ask_for_a_program);
	extract_result_free(&xr);
	return check_summary();
}
