/* Unit tests for model/extract: code extraction from model replies. */
#include "check.h"
#include "extract.h"

#include <stdlib.h>

static char *got;
static extract_result xr;
static lr_err xe;

/* Extract and keep the result in xr/got; returns the return code. */
static int ex(const char *reply, const char *entry)
{
	int rc;

	extract_result_free(&xr);
	lr_err_clear(&xe);
	rc = extract_code(&xr, reply, strlen(reply), entry, &xe);
	got = xr.code;
	return rc;
}

TEST(fenced_python_with_prose_around)
{
	CHECK(ex("Sure! Here it is:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nThis "
	         "adds.",
	         "add") == 0);
	CHECK_STR(got, "def add(a, b):\n    return a + b\n");
	CHECK(xr.how == EXTRACT_FENCED);
	CHECK(xr.blocks == 1 && xr.blocks_used == 1);
	CHECK(xr.defines_entry);
	CHECK(!xr.truncated);
}

TEST(untagged_and_tilde_fences)
{
	CHECK(ex("```\nx = 1\nprint(x)\n```", NULL) == 0);
	CHECK_STR(got, "x = 1\nprint(x)\n");
	CHECK(ex("~~~py\ndef f():\n    pass\n~~~\n", "f") == 0);
	CHECK_STR(got, "def f():\n    pass\n");
	CHECK(ex("```Python3\nimport os\n```", NULL) == 0);
	CHECK_STR(got, "import os\n");
}

TEST(solution_and_usage_blocks)
{
	const char *r = "```python\ndef sq(x):\n    return x * x\n```\nUsage:\n```python\n"
	                "print(sq(3))\nassert sq(2) == 4\n```\n";

	CHECK(ex(r, "sq") == 0);
	CHECK_STR(got, "def sq(x):\n    return x * x\n");
	CHECK(xr.blocks == 2 && xr.blocks_used == 1);
	CHECK(ex(r, NULL) == 0); /* without an entry point: the defining block */
	CHECK_STR(got, "def sq(x):\n    return x * x\n");
}

TEST(helpers_joined_before_the_entry_point)
{
	const char *r = "First a helper:\n```python\nimport math\n\ndef helper(n):\n    return "
	                "math.isqrt(n)\n```\nThen:\n```python\ndef main_fn(n):\n    return "
	                "helper(n) + 1\n```\n```python\nprint(main_fn(9))\n```";

	CHECK(ex(r, "main_fn") == 0);
	CHECK_STR(got, "import math\n\ndef helper(n):\n    return math.isqrt(n)\n\n\ndef "
	               "main_fn(n):\n    return helper(n) + 1\n");
	CHECK(xr.blocks == 3 && xr.blocks_used == 2);
}

TEST(last_version_of_the_entry_point_wins)
{
	const char *r = "```python\ndef f(x):\n    return x\n```\nBetter:\n```python\ndef f(x):\n"
	                "    return x + 1\n```\n";

	CHECK(ex(r, "f") == 0);
	CHECK_STR(got, "def f(x):\n    return x + 1\n");
	CHECK(xr.blocks_used == 1);
}

TEST(other_languages_ignored)
{
	CHECK(ex("Install:\n```bash\npip install numpy\n```\nCode:\n```python\nimport numpy\n```",
	         NULL) == 0);
	CHECK_STR(got, "import numpy\n");
	CHECK(ex("```bash\npip install numpy\n```\n```json\n{\"a\": 1}\n```", NULL) ==
	      LR_ENOTFOUND);
	CHECK(got == NULL);
	CHECK(xr.how == EXTRACT_NONE);
	CHECK_CONTAINS(xe.msg, "no Python code (2 fenced blocks");
	/* Mis-tagged, but plainly Python and nothing else offered. */
	CHECK(ex("```javascript\ndef f():\n    return 1\n```", "f") == 0);
	CHECK_STR(got, "def f():\n    return 1\n");
}

TEST(reply_that_is_only_code)
{
	CHECK(ex("def f(a):\n    if a:\n        return 1\n    return 2\n", "f") == 0);
	CHECK_STR(got, "def f(a):\n    if a:\n        return 1\n    return 2\n");
	CHECK(xr.how == EXTRACT_UNFENCED);
	CHECK(xr.defines_entry);
}

TEST(unfenced_code_in_prose)
{
	const char *r = "Here is my solution.\n\nfrom typing import List\n\n\ndef total(xs: "
	                "List[int]) -> int:\n    s = 0\n    for x in xs:\n        s += x\n    "
	                "return s\n\nresult = total([1])\nThis function sums the list.\nHope it "
	                "helps!";

	CHECK(ex(r, "total") == 0);
	CHECK_STR(got, "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    s = 0\n"
	               "    for x in xs:\n        s += x\n    return s\n\nresult = total([1])\n");
	CHECK(xr.how == EXTRACT_UNFENCED);
	CHECK(xr.defines_entry);
}

TEST(truncated_fence)
{
	CHECK(ex("```python\ndef f(x):\n    return [i for i in", "f") == 0);
	CHECK_STR(got, "def f(x):\n    return [i for i in\n");
	CHECK(xr.truncated);
	CHECK(xr.how == EXTRACT_FENCED);
	/* A complete version earlier beats a truncated later one. */
	CHECK(ex("```python\ndef f(x):\n    return x\n```\n```python\ndef f(x):\n    ret", "f") ==
	      0);
	CHECK_STR(got, "def f(x):\n    return x\n");
	CHECK(!xr.truncated);
}

TEST(no_code_is_its_own_outcome)
{
	CHECK(ex("I cannot help with that. Please ask something else.", "f") == LR_ENOTFOUND);
	CHECK(got == NULL);
	CHECK(xr.how == EXTRACT_NONE);
	CHECK_CONTAINS(xe.msg, "contains no code");
	CHECK(ex("", NULL) == LR_ENOTFOUND);
	CHECK_CONTAINS(xe.msg, "empty");
	CHECK(ex("  \n\n ", NULL) == LR_ENOTFOUND);
	CHECK(ex("```python\n```\nNothing to show.", NULL) == LR_ENOTFOUND);
	/* Prose that merely mentions keywords is not code. */
	CHECK(ex("You could define a function with def and import modules.", NULL) == LR_ENOTFOUND);
}

TEST(think_blocks_skipped)
{
	CHECK(
	    ex("<think>Maybe ```python\ndef f(): return 0\n```? no.</think>\n```python\ndef f():\n"
	       "    return 1\n```",
	       "f") == 0);
	CHECK_STR(got, "def f():\n    return 1\n");
}

TEST(indented_fence_and_crlf)
{
	CHECK(ex("1. Write it:\n\n   ```python\n   def f():\n       return 1\n   ```\n", "f") == 0);
	CHECK_STR(got, "def f():\n    return 1\n");
	CHECK(ex("```python\r\ndef g():\r\n    return 2\r\n```\r\n", "g") == 0);
	CHECK_STR(got, "def g():\n    return 2\n");
}

TEST(longer_fence_holds_backticks)
{
	CHECK(ex("````python\ns = \"\"\"\n```\n\"\"\"\n````\n", NULL) == 0);
	CHECK_STR(got, "s = \"\"\"\n```\n\"\"\"\n");
	CHECK(!xr.truncated);
}

TEST(async_def_and_class_entry_points)
{
	CHECK(ex("```python\nasync def fetch(u):\n    return u\n```", "fetch") == 0);
	CHECK(xr.defines_entry);
	CHECK(ex("```python\nclass Stack:\n    pass\n```", "Stack") == 0);
	CHECK(xr.defines_entry);
	CHECK(ex("```python\ndef fetch_all(u):\n    return u\n```", "fetch") == 0);
	CHECK(!xr.defines_entry); /* a longer name is not the entry point */
}

TEST(oversized_reply_refused)
{
	size_t n = EXTRACT_MAX_REPLY + 1;
	char *big = malloc(n);

	CHECK(big != NULL);
	if (!big)
		return;
	memset(big, 'a', n);
	extract_result_free(&xr);
	CHECK(extract_code(&xr, big, n, NULL, &xe) == LR_ETOOBIG);
	CHECK(xr.code == NULL);
	free(big);
}

TEST(not_nul_terminated_input)
{
	const char r[] = {'d', 'e', 'f', ' ', 'f', '(', ')', ':', '\n', ' ', 'p', 'a', 's', 's'};

	extract_result_free(&xr);
	CHECK(extract_code(&xr, r, sizeof(r), "f", &xe) == 0);
	CHECK_STR(xr.code, "def f():\n pass\n");
}

static char *trimmed;
static int ndropped;

static const char *trim(const char *code)
{
	free(trimmed);
	trimmed = NULL;
	CHECK(extract_trim(&trimmed, code, &ndropped, &xe) == 0);
	return trimmed;
}

TEST(trim_drops_example_usage)
{
	/* A comment at column 0 before a closing bracket at column 0 belongs to
	 * the statement the bracket closes, not to the next one as well. */
	CHECK_STR(trim("def f():\n    return 1\n# c\n)\ndef g():\n    return 2\nprint(f())\n"),
	          "def f():\n    return 1\n# c\n)\ndef g():\n    return 2\n");
	CHECK(ndropped == 1);
	/* The function and its example usage, one call with a syntax error. */
	CHECK_STR(trim("import math\n\nLIMIT = 10\n\ndef f(x):\n    return math.sqrt(x)\n\n"
	               "# Example usage:\nprint(f(4)\nresult = f(9)\nassert f(1) == 1\n"),
	          "import math\n\nLIMIT = 10\n\ndef f(x):\n    return math.sqrt(x)\n");
	CHECK(ndropped == 3);
	/* __main__ blocks, loops, prose left in the fence. */
	CHECK_STR(trim("def g():\n    return 1\n\nif __name__ == \"__main__\":\n    "
	               "print(g())\nfor i in range(3):\n    g()\nThis prints 1.\n"),
	          "def g():\n    return 1\n");
	CHECK(ndropped == 3);
	/* Decorators, classes, comments inside bodies, brackets and strings
	 * spanning lines at column 0 stay whole. */
	CHECK_STR(trim("from functools import cache\n@cache\ndef h(n):\n# inside\n    return "
	               "[1,\n2][n]\n\nclass A:\n    s = \"\"\"\nx()\n\"\"\"\nTABLE = {\n"
	               "'a': 1,\n}\nh(1)\n"),
	          "from functools import cache\n@cache\ndef h(n):\n# inside\n    return "
	          "[1,\n2][n]\n\nclass A:\n    s = \"\"\"\nx()\n\"\"\"\nTABLE = {\n"
	          "'a': 1,\n}\n");
	CHECK(ndropped == 1);
	/* Nothing to drop, or no definition to keep: unchanged. */
	CHECK_STR(trim("def f():\n    pass\n"), "def f():\n    pass\n");
	CHECK(ndropped == 0);
	CHECK_STR(trim("x = int(input())\nprint(x * 2)\n"), "x = int(input())\nprint(x * 2)\n");
	CHECK(ndropped == 0);
	/* try: around imports stays; input() at top level goes. */
	CHECK_STR(trim("try:\n    import numpy\nexcept ImportError:\n    numpy = None\n"
	               "def f():\n    pass\nn = int(input())\n"),
	          "try:\n    import numpy\nexcept ImportError:\n    numpy = None\ndef f():\n    "
	          "pass\n");
	free(trimmed);
	trimmed = NULL;
}

TEST(entry_point_guessed)
{
	char n[64];

	CHECK(extract_entry_guess(n, sizeof(n), "Write a function.",
	                          "assert text_lowercase_underscore(\"ab_c\") == True\n"));
	CHECK_STR(n, "text_lowercase_underscore");
	/* Builtins, attributes and the tests' own helpers are not it. */
	CHECK(extract_entry_guess(n, sizeof(n), NULL,
	                          "def helper(x):\n    return x\nassert len(sorted(x.keys())) "
	                          "== 1\nassert helper(area(2)) == 4\n"));
	CHECK_STR(n, "area");
	/* A task that is code: the def the tests call, else the last one. */
	CHECK(extract_entry_guess(n, sizeof(n),
	                          "def is_pal(s):\n    pass\ndef make_pal(s):\n    \"\"\"x\"\"\"\n",
	                          "def check(candidate):\n    assert candidate('') == ''\n"));
	CHECK_STR(n, "make_pal");
	CHECK(extract_entry_guess(n, sizeof(n), "def is_pal(s):\n    pass\ndef make_pal(s):\n",
	                          "assert is_pal('a')\n"));
	CHECK_STR(n, "is_pal");
	/* Prose: the name written as a call. */
	CHECK(extract_entry_guess(n, sizeof(n),
	                          "Write a Python function is_even(n) that returns True.", NULL));
	CHECK_STR(n, "is_even");
	CHECK(!extract_entry_guess(n, sizeof(n), "Print hello.", "assert True\n"));
	CHECK_STR(n, "");
}

int main(void)
{
	RUN(fenced_python_with_prose_around);
	RUN(untagged_and_tilde_fences);
	RUN(solution_and_usage_blocks);
	RUN(helpers_joined_before_the_entry_point);
	RUN(last_version_of_the_entry_point_wins);
	RUN(other_languages_ignored);
	RUN(reply_that_is_only_code);
	RUN(unfenced_code_in_prose);
	RUN(truncated_fence);
	RUN(no_code_is_its_own_outcome);
	RUN(think_blocks_skipped);
	RUN(indented_fence_and_crlf);
	RUN(longer_fence_holds_backticks);
	RUN(async_def_and_class_entry_points);
	RUN(oversized_reply_refused);
	RUN(not_nul_terminated_input);
	RUN(trim_drops_example_usage);
	RUN(entry_point_guessed);
	extract_result_free(&xr);
	return check_summary();
}
