/* startup.h - what every binary's main() does first, written once.
 *
 * A binary declares one lr_cfg table whose rows point straight at the fields
 * of its config structs (LR_OPT_* in config.h), with the shared rows below
 * for the settings every binary names alike, and calls lr_main_init:
 *
 *   static wk_config wc;
 *   static lr_cfg_opt opts[] = {
 *       LR_OPTS_REDIS(&wc.redis),
 *       LR_OPT_PREFIX(&prefix),
 *       LR_OPT_LOG_LEVEL(&log_level, "info"),
 *       LR_OPT_INT("lease-ms", &wc.lease_ms, "30000", 100, 86400000, "..."),
 *   };
 *   ...
 *   rc = lr_main_init(&start, argc, argv, &first);
 *   if (rc != LR_MAIN_RUN)
 *           return rc;
 *
 * lr_main_init reads the settings (defaults, the --config file, LLMREPL_*
 * variables, flags; --help and --version), checks the number of positional
 * arguments, starts logging at the configured level, and for a daemon
 * installs its signal handling (SIGTERM and SIGINT count into a flag and
 * make lr_main_stop_fd() readable, SIGPIPE ignored). */
#ifndef LLMREPL_STARTUP_H
#define LLMREPL_STARTUP_H

#include "config.h"
#include "keys.h"

#include <signal.h>
#include <stddef.h>

#define LR_REDIS_URL_HELP                                                                          \
	"Redis: redis://[[user]:password@]host[:port][/db], unix:///path[?db=N] or "               \
	"redis+sentinel://[:password@]host:port[,host:port...]/master[/db]"

/* The Redis connection settings, into an lr_redis_opts (five rows; redis.h
 * declares it: a binary that uses these includes it, the sandbox's CLI does
 * not link hiredis). */
#define LR_OPTS_REDIS(o)                                                                           \
	LR_OPT_STR("redis-url", &(o)->url, LR_REDIS_URL_DEFAULT, LR_REDIS_URL_HELP),               \
	    LR_OPT_SECRET(                                                                         \
	        "redis-password", &(o)->password,                                                  \
	        "Redis password (wins over the URL's; better in LLMREPL_REDIS_PASSWORD)"),         \
	    LR_OPT_INT("connect-timeout-ms", &(o)->connect_timeout_ms, "2000", 10, 600000,         \
	               "Redis connect timeout"),                                                   \
	    LR_OPT_INT("command-timeout-ms", &(o)->command_timeout_ms, "5000", 200, 600000,        \
	               "Redis command timeout"),                                                   \
	    LR_OPT_DOUBLE("redis-start-wait", &(o)->start_wait_s, "-1", -1, 31536000,              \
	                  "seconds to wait at the start for Redis to be reachable, trying again "  \
	                  "with growing pauses (-1: as long as it takes; 0: not at all); then "    \
	                  "exit with status 3")
/* The Redis rows without the timeouts (a short-lived command-line client). */
#define LR_OPTS_REDIS_URL(url, password)                                                           \
	LR_OPT_STR("redis-url", (url), LR_REDIS_URL_DEFAULT, LR_REDIS_URL_HELP),                   \
	    LR_OPT_SECRET(                                                                         \
	        "redis-password", (password),                                                      \
	        "Redis password (wins over the URL's; better in LLMREPL_REDIS_PASSWORD)")
#define LR_OPT_PREFIX(p) LR_OPT_STR("prefix", (p), "llmrepl:", "prefix of every key")
#define LR_OPT_METRICS_LISTEN(p)                                                                   \
	LR_OPT_STR("metrics-listen", (p), "",                                                      \
	           "serve Prometheus metrics at http://HOST:PORT/metrics (off when empty)")
#define LR_OPT_LOG_LEVEL(p, def) LR_OPT_STR("log-level", (p), (def), "error, warn, info or debug")
#define LR_OPT_NAME(p, who)                                                                        \
	LR_OPT_STR("name", (p), NULL,                                                              \
	           "consumer name, unique per " who " (default: " who "-host-pid)")

enum { LR_MAIN_RUN = -1 };

typedef struct lr_start {
	const lr_cfg *cfg;
	char **log_level;  /* the table's log-level setting; NULL: always default_level */
	int default_level; /* LR_LOG_*: until the settings are read, and without log_level */
	int min_args;      /* positional arguments accepted */
	int max_args;      /* -1: any number */
	volatile sig_atomic_t *stop; /* SIGTERM/SIGINT count here (up to 2), SIGPIPE ignored;
	                                NULL: signals left alone */
} lr_start;

/* Start a binary. Returns LR_MAIN_RUN to go on (positional arguments are
 * argv[*first .. argc-1]); otherwise the exit status main() returns
 * (LR_EXIT_OK after --help or --version, LR_EXIT_USAGE with a message on
 * stderr), the table already freed. */
int lr_main_init(const lr_start *s, int argc, char **argv, int *first);

/* A descriptor that turns readable at the first SIGTERM or SIGINT and stays
 * so (nothing reads it): poll it beside a socket to wake a blocking wait at
 * once (lr_redis_stop_on). Always > 2; 0 when signals are not handled. */
int lr_main_stop_fd(void);

/* Print "<prog>: <message>" on stderr, free the table, return LR_EXIT_USAGE. */
int lr_main_usage(const lr_cfg *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The consumer name: `name` when set, else "<who>-<host>-<pid>" in buf. */
const char *lr_main_name(char *buf, size_t size, const char *name, const char *who);

/* lr_keys_init with the error as a usage error (LR_MAIN_RUN when fine). */
int lr_main_keys(const lr_cfg *cfg, lr_keys *keys, const char *prefix);

/* The exit status of a daemon's run: LR_EXIT_OK, LR_EXIT_USAGE for LR_EINVAL,
 * LR_EXIT_RUNTIME for any other failure (logged). Frees the table. */
int lr_main_exit(const lr_cfg *cfg, int rc, const lr_err *err);

#endif
