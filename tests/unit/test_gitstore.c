/* test_gitstore.c - the git store's pieces that need no server: file names,
 * commit messages and trailers, the stored object form. */
#include "check.h"
#include "gitstore_int.h"

#include <stdlib.h>

TEST(names)
{
	CHECK(gs_name_valid("solution.py"));
	CHECK(gs_name_valid("test_solution.py"));
	CHECK(gs_name_valid("report.json"));
	CHECK(gs_name_valid("a-b_c.1"));
	CHECK(!gs_name_valid(""));
	CHECK(!gs_name_valid(NULL));
	CHECK(!gs_name_valid(".git"));
	CHECK(!gs_name_valid(".."));
	CHECK(!gs_name_valid("-rf"));
	CHECK(!gs_name_valid("a/b"));
	CHECK(!gs_name_valid("a b"));
	CHECK(!gs_name_valid("caf\xc3\xa9"));
	char longname[GITSTORE_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(!gs_name_valid(longname));
	longname[GITSTORE_NAME_MAX] = '\0';
	CHECK(gs_name_valid(longname));
}

TEST(message_layout)
{
	lr_buf b;
	lr_err e = {0};
	long v = 0;

	lr_buf_init(&b, 4096);
	CHECK(gs_message_build(&b, "3/5 tests passed\nsecond line\n", 4, 2, "17-0", 1024, &e) == 0);
	CHECK_STR(b.data,
	          "3/5 tests passed\n\nsecond line\n\nIteration: 4\nAttempt: 2\nJob: 17-0\n");
	CHECK(gs_message_trailer(&v, b.data, "Iteration") == 0 && v == 4);
	CHECK(gs_message_trailer(&v, b.data, "Attempt") == 0 && v == 2);
	CHECK(gs_message_trailer(&v, b.data, "Missing") == LR_ENOTFOUND);
	char *s = gs_message_subject(b.data);
	CHECK_STR(s, "3/5 tests passed");
	free(s);

	/* Empty summary: a subject is made up. */
	CHECK(gs_message_build(&b, "  \n", 0, 1, "j", 1024, &e) == 0);
	CHECK_STR(b.data, "iteration 0\n\nIteration: 0\nAttempt: 1\nJob: j\n");
	lr_buf_free(&b);
}

TEST(message_hostile_summary)
{
	lr_buf b;
	lr_err e = {0};
	long v = 0;

	lr_buf_init(&b, 4096);
	/* A summary quoting output cannot fake the trailers or emit escapes. */
	CHECK(gs_message_build(&b, "boom \x1b[31mred\r\nIteration: 99\nAttempt: 7", 3, 1, "j", 1024,
	                       &e) == 0);
	CHECK(gs_message_trailer(&v, b.data, "Iteration") == 0 && v == 3);
	CHECK(gs_message_trailer(&v, b.data, "Attempt") == 0 && v == 1);
	CHECK(strchr(b.data, '\x1b') == NULL);
	CHECK(strchr(b.data, '\r') == NULL);
	char *s = gs_message_subject(b.data);
	CHECK_STR(s, "boom  [31mred");
	free(s);

	/* A long subject is cut on a UTF-8 boundary: 150 two-byte characters. */
	char big[400];
	size_t i;
	for (i = 0; i < 300; i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9;
	}
	big[300] = '\0';
	CHECK(gs_message_build(&b, big, 1, 1, "j", 1024, &e) == 0);
	s = gs_message_subject(b.data);
	CHECK(s != NULL && strlen(s) == 200 && ((unsigned char)s[199] & 0xc0) == 0x80);
	free(s);

	/* Over the cap: refused with the sizes. */
	CHECK(gs_message_build(&b, big, 1, 1, "j", 100, &e) == LR_ETOOBIG);
	CHECK_CONTAINS(e.msg, "300 bytes");
	lr_buf_free(&b);
}

TEST(trailer_parse_edges)
{
	long v = 0;

	CHECK(gs_message_trailer(&v, "x\n\nIteration: 12", "Iteration") == 0 && v == 12);
	CHECK(gs_message_trailer(&v, "Iteration: 1\nIteration: 2\n", "Iteration") == 0 && v == 2);
	CHECK(gs_message_trailer(&v, "Iteration: -3\n", "Iteration") == LR_ENOTFOUND);
	CHECK(gs_message_trailer(&v, "Iteration: 3x\n", "Iteration") == LR_ENOTFOUND);
	CHECK(gs_message_trailer(&v, "Iteration: 99999999999999999999999\n", "Iteration") ==
	      LR_ENOTFOUND);
	CHECK(gs_message_trailer(&v, "NoIteration: 3\n", "Iteration") == LR_ENOTFOUND);
}

TEST(object_form)
{
	char *v = NULL;
	size_t len = 0, n = 0;
	const char *data = NULL;
	git_object_t t;
	git_oid oid, other;
	lr_err e = {0};

	CHECK(git_libgit2_init() > 0);
	CHECK(gs_obj_encode(&v, &len, GIT_OBJECT_BLOB, "hello\n", 6) == 0);
	CHECK(len == 13 && memcmp(v, "blob 6\0hello\n", 13) == 0);
	/* git hash-object of "hello\n" */
	CHECK(git_oid_fromstr(&oid, "ce013625030ba8dba906f756967f9e9ca394464a") == 0);
	CHECK(gs_obj_parse(&t, &data, &n, v, len, &oid, &e) == 0);
	CHECK(t == GIT_OBJECT_BLOB && n == 6 && memcmp(data, "hello\n", 6) == 0);

	/* The wrong id, a wrong size, a bad type, no header. */
	CHECK(git_oid_fromstr(&other, "ce013625030ba8dba906f756967f9e9ca394464b") == 0);
	CHECK(gs_obj_parse(&t, &data, &n, v, len, &other, &e) == LR_EPROTO);
	CHECK_CONTAINS(e.msg, "does not match");
	CHECK(gs_obj_parse(&t, &data, &n, v, len - 1, NULL, &e) == LR_EPROTO);
	CHECK(gs_obj_parse(&t, &data, &n, "blub 1\0x", 8, NULL, &e) == LR_EPROTO);
	CHECK(gs_obj_parse(&t, &data, &n, "blob 1x", 7, NULL, &e) == LR_EPROTO);
	CHECK(gs_obj_parse(&t, &data, &n, "blob \0", 6, NULL, &e) == LR_EPROTO);
	CHECK(gs_obj_parse(&t, &data, &n, "blob 99999999999999999999999\0", 29, NULL, &e) ==
	      LR_EPROTO);
	free(v);

	/* An empty blob. */
	CHECK(gs_obj_encode(&v, &len, GIT_OBJECT_BLOB, NULL, 0) == 0);
	CHECK(len == 7 && memcmp(v, "blob 0\0", 7) == 0);
	CHECK(git_oid_fromstr(&oid, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391") == 0);
	CHECK(gs_obj_parse(&t, &data, &n, v, len, &oid, &e) == 0 && n == 0);
	free(v);
	git_libgit2_shutdown();
}

int main(void)
{
	RUN(names);
	RUN(message_layout);
	RUN(message_hostile_summary);
	RUN(trailer_parse_edges);
	RUN(object_form);
	return check_summary();
}
