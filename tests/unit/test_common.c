/* Unit tests for common/: err, buf, config. */
#include "buf.h"
#include "check.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "redis.h"
#include "startup.h"

#include <stdlib.h>
#include <unistd.h>

TEST(buf_caps_and_marks_truncation)
{
	lr_buf b;

	lr_buf_init(&b, 8);
	CHECK(lr_buf_puts(&b, "abcd") == 0);
	CHECK(lr_buf_puts(&b, "efghij") == LR_ETOOBIG);
	CHECK(b.len == 8);
	CHECK(b.truncated);
	CHECK_STR(b.data, "abcdefgh");
	lr_buf_free(&b);
}

TEST(buf_printf_grows)
{
	lr_buf b;
	char *s;

	lr_buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		CHECK(lr_buf_printf(&b, "%04d", i) == 0);
	CHECK(b.len == 4000);
	s = lr_buf_steal(&b);
	CHECK(strncmp(s + 3996, "0999", 4) == 0);
	free(s);
	s = lr_buf_steal(&b);
	CHECK_STR(s, "");
	free(s);
}

TEST(err_set_and_prefix)
{
	lr_err e;

	lr_err_clear(&e);
	CHECK(lr_err_set(&e, LR_EINVAL, "field %s", "code") == LR_EINVAL);
	lr_err_prefix(&e, "spec");
	CHECK_STR(e.msg, "spec: field code");
	CHECK_STR(lr_err_name(LR_ETIMEOUT), "timeout");
	CHECK(lr_err_set(NULL, LR_EIO, "x") == LR_EIO);
}

static char *opt_url;
static long opt_lease;
static double opt_timeout;
static int opt_json;
static char *opt_code;
static lr_cfg_opt test_opts[] = {
    {"redis-url", LR_CFG_STR, &opt_url, "redis://127.0.0.1:6379", 0, 0, "Redis", 0, 0},
    {"lease-ms", LR_CFG_INT, &opt_lease, "30000", 100, 3600000, "lease", 0, 0},
    {"timeout", LR_CFG_DOUBLE, &opt_timeout, "5", 0.01, 600, "timeout", 0, 0},
    {"json", LR_CFG_BOOL, &opt_json, "0", 0, 0, "json", 0, 0},
    {"code", LR_CFG_STR, &opt_code, NULL, 0, 0, "code", 0, 'c'},
};
static const lr_cfg test_cfg = {"test", NULL, NULL, NULL, test_opts, 5};

TEST(config_sources_in_order)
{
	char path[] = "/tmp/llmrepl-test-cfg-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	char *argv[] = {"prog",     "FILE1",  "--timeout=2.5", "-c",
	                "print(1)", "--json", "FILE2",         NULL};
	int first = 0;
	lr_err e;

	fprintf(f, "# comment\nredis_url = redis://file:1\nlease-ms = 500\n");
	fclose(f);
	setenv("LLMREPL_CONFIG", path, 1);
	setenv("LLMREPL_LEASE_MS", "700", 1);
	CHECK(lr_cfg_load(&test_cfg, 7, argv, &first, &e) == LR_CFG_RUN);
	CHECK_STR(opt_url, "redis://file:1");
	CHECK(opt_lease == 700);
	CHECK(opt_timeout == 2.5);
	CHECK(opt_json == 1);
	CHECK_STR(opt_code, "print(1)");
	CHECK(first == 5);
	CHECK_STR(argv[first], "FILE1");
	CHECK_STR(argv[first + 1], "FILE2");
	unsetenv("LLMREPL_CONFIG");
	unsetenv("LLMREPL_LEASE_MS");
	unlink(path);
	lr_cfg_free(&test_cfg);
}

TEST(config_rejects_bad_values)
{
	char *argv1[] = {"prog", "--lease-ms", "5", NULL};
	char *argv2[] = {"prog", "--nope", NULL};
	char *argv3[] = {"prog", "--timeout", "abc", NULL};
	char *argv4[] = {"prog", "--lease-ms", NULL};
	lr_err e;

	CHECK(lr_cfg_load(&test_cfg, 3, argv1, NULL, &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "out of range");
	CHECK(lr_cfg_load(&test_cfg, 2, argv2, NULL, &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "unknown option '--nope'");
	CHECK(lr_cfg_load(&test_cfg, 3, argv3, NULL, &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "invalid numeric value 'abc'");
	CHECK(lr_cfg_load(&test_cfg, 2, argv4, NULL, &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "needs a value");
	lr_cfg_free(&test_cfg);
}

TEST(log_level_parse)
{
	CHECK(lr_log_level_parse("debug") == LR_LOG_DEBUG);
	CHECK(lr_log_level_parse("WARN") == LR_LOG_WARN);
	CHECK(lr_log_level_parse("2") == LR_LOG_INFO);
	CHECK(lr_log_level_parse("loud") == -1);
}

/* The shared rows write straight into a struct; lr_main_init loads them,
 * checks the positional arguments and starts logging at the level given. */
static lr_redis_opts st_redis;
static size_t st_size;
static char *st_level;
static lr_cfg_opt st_opts[] = {
    LR_OPTS_REDIS(&st_redis),
    LR_OPT_SIZE("max-bytes", &st_size, "1024", 1, 1 << 20, "a size"),
    LR_OPT_LOG_LEVEL(&st_level, "warn"),
};
static const lr_cfg st_cfg = {"test", NULL, NULL, NULL, st_opts, LR_NOPTS(st_opts)};

TEST(startup_rows_and_init)
{
	char *argv1[] = {"prog",        "--redis-url", "redis://h:7/2", "--max-bytes=4096",
	                 "--log-level", "debug",       "pos",           NULL};
	char *argv2[] = {"prog", "a", "b", NULL};
	char *argv3[] = {"prog", "--log-level", "loud", NULL};
	const lr_start one = {&st_cfg, &st_level, LR_LOG_WARN, 0, 1, NULL};
	char name[64];
	int first = 0;

	CHECK(lr_main_init(&one, 7, argv1, &first) == LR_MAIN_RUN);
	CHECK(first == 6);
	CHECK_STR(st_redis.url, "redis://h:7/2");
	CHECK(st_redis.command_timeout_ms == 5000 && st_redis.connect_timeout_ms == 2000);
	CHECK(st_size == 4096);
	CHECK(lr_log_level_current == LR_LOG_DEBUG);
	lr_cfg_free(&st_cfg);
	CHECK(st_redis.url == NULL);
	CHECK(lr_main_init(&one, 3, argv2, &first) == LR_EXIT_USAGE);
	CHECK(lr_main_init(&one, 3, argv3, &first) == LR_EXIT_USAGE);
	CHECK_STR(lr_main_name(name, sizeof(name), "mine", "worker"), "mine");
	CHECK(strncmp(lr_main_name(name, sizeof(name), NULL, "worker"), "worker-", 7) == 0);
	lr_log_init("test", LR_LOG_WARN);
}

int main(void)
{
	RUN(buf_caps_and_marks_truncation);
	RUN(buf_printf_grows);
	RUN(err_set_and_prefix);
	RUN(config_sources_in_order);
	RUN(config_rejects_bad_values);
	RUN(log_level_parse);
	RUN(startup_rows_and_init);
	return check_summary();
}
