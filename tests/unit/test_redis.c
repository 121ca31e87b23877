/* Unit tests for common/redis URL parsing and common/keys (no server needed;
 * the connection itself is tested against a real redis-server in
 * tests/integration/test_redis_layer.py). */
#include "check.h"
#include "keys.h"
#include "redis.h"

TEST(url_defaults_and_forms)
{
	lr_redis_url u;
	lr_err e;

	CHECK(lr_redis_url_parse(&u, NULL, &e) == 0);
	CHECK_STR(u.host, "127.0.0.1");
	CHECK(u.port == 6379 && u.db == 0 && u.password == NULL && u.path == NULL);
	lr_redis_url_free(&u);

	CHECK(lr_redis_url_parse(&u, "redis://cache.internal", &e) == 0);
	CHECK_STR(u.host, "cache.internal");
	CHECK(u.port == 6379);
	lr_redis_url_free(&u);

	CHECK(lr_redis_url_parse(&u, "redis://:s%40cr%3At@10.0.0.5:6380/3", &e) == 0);
	CHECK_STR(u.host, "10.0.0.5");
	CHECK(u.port == 6380 && u.db == 3 && u.user == NULL);
	CHECK_STR(u.password, "s@cr:t");
	lr_redis_url_free(&u);

	CHECK(lr_redis_url_parse(&u, "redis://app:pw@[::1]:7000/", &e) == 0);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.user, "app");
	CHECK_STR(u.password, "pw");
	CHECK(u.port == 7000 && u.db == 0);
	lr_redis_url_free(&u);

	CHECK(lr_redis_url_parse(&u, "unix:///run/redis/redis.sock?db=2&password=x%20y", &e) == 0);
	CHECK_STR(u.path, "/run/redis/redis.sock");
	CHECK(u.host == NULL && u.db == 2);
	CHECK_STR(u.password, "x y");
	lr_redis_url_free(&u);
}

TEST(url_sentinel)
{
	lr_redis_url u;
	lr_err e;

	CHECK(lr_redis_url_parse(&u, "redis+sentinel://:pw@s1:26380,[::1],s3/mymaster/2", &e) == 0);
	CHECK(u.nsentinels == 3);
	CHECK_STR(u.sentinels[0].host, "s1");
	CHECK(u.sentinels[0].port == 26380);
	CHECK_STR(u.sentinels[1].host, "::1");
	CHECK(u.sentinels[1].port == 26379);
	CHECK_STR(u.sentinels[2].host, "s3");
	CHECK_STR(u.master, "mymaster");
	CHECK_STR(u.password, "pw");
	CHECK(u.db == 2 && u.host == NULL && u.path == NULL);
	lr_redis_url_free(&u);

	CHECK(lr_redis_url_parse(&u, "redis+sentinel://127.0.0.1:5000/m", &e) == 0);
	CHECK(u.nsentinels == 1 && u.db == 0 && u.password == NULL);
	CHECK_STR(u.master, "m");
	lr_redis_url_free(&u);

	CHECK(lr_redis_url_parse(&u, "redis+sentinel://s1:26379", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "master name");
	CHECK(lr_redis_url_parse(&u, "redis+sentinel://s1/", &e) == LR_EINVAL);
	CHECK(lr_redis_url_parse(&u, "redis+sentinel://s1,/m", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "no host");
	CHECK(lr_redis_url_parse(&u, "redis+sentinel://s1/m/x", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "database number");
	CHECK(lr_redis_url_parse(&u, "redis+sentinel://s1:0/m", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "bad port");
}

TEST(url_errors_are_precise)
{
	lr_redis_url u;
	lr_err e;

	CHECK(lr_redis_url_parse(&u, "http://x", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "must start with redis://");
	CHECK(lr_redis_url_parse(&u, "rediss://x", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "TLS");
	CHECK(lr_redis_url_parse(&u, "redis://x:99999", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "bad port");
	CHECK(lr_redis_url_parse(&u, "redis://x/abc", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "database number");
	CHECK(lr_redis_url_parse(&u, "redis://secret@x", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "credentials");
	CHECK(lr_redis_url_parse(&u, "unix://relative.sock", &e) == LR_EINVAL);
	CHECK(lr_redis_url_parse(&u, "redis://x?foo=1", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "unknown query parameter 'foo=1'");
	CHECK(lr_redis_url_parse(&u, "redis://:pw@/0", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "no host");
}

TEST(keys_layout_and_prefix_rules)
{
	lr_keys k;
	lr_err e;
	char buf[LR_KEY_MAX];

	CHECK(lr_keys_init(&k, NULL, &e) == 0);
	CHECK_STR(lr_key(&k, buf, "requests"), "llmrepl:requests");
	CHECK_STR(lr_key_job(&k, buf, "1-0"), "llmrepl:job:1-0");
	CHECK_STR(lr_key_job_sub(&k, buf, "1-0", "it:3"), "llmrepl:job:1-0:it:3");
	CHECK_STR(lr_key_worker(&k, buf, "w1"), "llmrepl:worker:w1");
	CHECK(lr_keys_init(&k, "team-a/", &e) == 0);
	CHECK_STR(lr_key(&k, buf, "jobs"), "team-a/jobs");
	CHECK(lr_keys_init(&k, "has space", &e) == LR_EINVAL);
	CHECK(lr_keys_init(&k, "{tag}", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "braces");
}

TEST(job_ids)
{
	CHECK(lr_job_id_valid("1700000000000-0"));
	CHECK(lr_job_id_valid("1-18446744073709551615"));
	CHECK(!lr_job_id_valid("1700000000000"));
	CHECK(!lr_job_id_valid("-1"));
	CHECK(!lr_job_id_valid("1-"));
	CHECK(!lr_job_id_valid("1-0 "));
	CHECK(!lr_job_id_valid("1-0:events"));
	CHECK(!lr_job_id_valid("../1-0"));
	CHECK(!lr_job_id_valid(NULL));
}

int main(void)
{
	RUN(url_defaults_and_forms);
	RUN(url_sentinel);
	RUN(url_errors_are_precise);
	RUN(keys_layout_and_prefix_rules);
	RUN(job_ids);
	return check_summary();
}
