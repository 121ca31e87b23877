/* config.h - one table of settings, read from a file, the environment and flags.
 *
 * Each binary declares an array of lr_cfg_opt. A setting named "redis-url" is
 * read, later sources winning, from:
 *   1. its default (text, parsed like any other value),
 *   2. the config file (`--config FILE` or LLMREPL_CONFIG): lines `redis-url = ...`
 *      or `redis_url = ...`, `#` starts a comment,
 *   3. the environment: LLMREPL_REDIS_URL,
 *   4. the command line: `--redis-url VALUE` or `--redis-url=VALUE`
 *      (booleans also as a bare `--flag` / `--no-flag`).
 * Numbers are checked against [min, max]. `--help` and `--version` are built in.
 * Flags may stand anywhere on the command line; positional arguments are
 * gathered, in order, at the end of argv. */
#ifndef LLMREPL_CONFIG_H
#define LLMREPL_CONFIG_H

#include "err.h"

#include <stdio.h>

typedef enum { LR_CFG_STR, LR_CFG_INT, LR_CFG_DOUBLE, LR_CFG_BOOL, LR_CFG_SIZE } lr_cfg_type;

#define LR_CFG_SECRET 1u /* never printed (API keys, passwords) */

typedef struct lr_cfg_opt {
	const char *name; /* dash-separated: "lease-ms" */
	lr_cfg_type type;
	void *ptr;       /* char ** (owned by the table), long *, double *, int *, size_t * */
	const char *def; /* default as text; NULL leaves a string NULL */
	double min, max; /* bounds for INT and DOUBLE */
	const char *help;
	unsigned flags;
	char shortopt; /* optional one-letter alias: 'c' for -c */
} lr_cfg_opt;

typedef struct lr_cfg {
	const char *prog;    /* "llmrepl-worker" */
	const char *usage;   /* "[OPTIONS]" or "[OPTIONS] (-c CODE | FILE)" */
	const char *summary; /* one paragraph shown by --help */
	const char *epilog;  /* optional text after the options */
	lr_cfg_opt *opts;
	size_t nopts;
} lr_cfg;

/* Rows written with designated initializers, pointing straight at the
 * fields of a binary's config structs:
 *   LR_OPT_INT("lease-ms", &wc.lease_ms, "30000", 100, 86400000, "the lease")
 * LR_ROW_* are the same fields without the braces, for a row that adds one:
 *   {LR_ROW_BOOL("json", &o.json, "false", "machine-readable output"), .shortopt = 'j'} */
#define LR_ROW_STR(n, p, d, h) .name = (n), .type = LR_CFG_STR, .ptr = (p), .def = (d), .help = (h)
#define LR_ROW_SECRET(n, p, h)                                                                     \
	.name = (n), .type = LR_CFG_STR, .ptr = (p), .help = (h), .flags = LR_CFG_SECRET
#define LR_ROW_NUM(t, n, p, d, lo, hi, h)                                                          \
	.name = (n), .type = (t), .ptr = (p), .def = (d), .min = (lo), .max = (hi), .help = (h)
#define LR_ROW_INT(n, p, d, lo, hi, h)    LR_ROW_NUM(LR_CFG_INT, n, p, d, lo, hi, h)
#define LR_ROW_SIZE(n, p, d, lo, hi, h)   LR_ROW_NUM(LR_CFG_SIZE, n, p, d, lo, hi, h)
#define LR_ROW_DOUBLE(n, p, d, lo, hi, h) LR_ROW_NUM(LR_CFG_DOUBLE, n, p, d, lo, hi, h)
#define LR_ROW_BOOL(n, p, d, h)                                                                    \
	.name = (n), .type = LR_CFG_BOOL, .ptr = (p), .def = (d), .help = (h)
#define LR_OPT_STR(n, p, d, h)                                                                     \
	{                                                                                          \
		LR_ROW_STR(n, p, d, h)                                                             \
	}
#define LR_OPT_SECRET(n, p, h)                                                                     \
	{                                                                                          \
		LR_ROW_SECRET(n, p, h)                                                             \
	}
#define LR_OPT_INT(n, p, d, lo, hi, h)                                                             \
	{                                                                                          \
		LR_ROW_INT(n, p, d, lo, hi, h)                                                     \
	}
#define LR_OPT_SIZE(n, p, d, lo, hi, h)                                                            \
	{                                                                                          \
		LR_ROW_SIZE(n, p, d, lo, hi, h)                                                    \
	}
#define LR_OPT_DOUBLE(n, p, d, lo, hi, h)                                                          \
	{                                                                                          \
		LR_ROW_DOUBLE(n, p, d, lo, hi, h)                                                  \
	}
#define LR_OPT_BOOL(n, p, d, h)                                                                    \
	{                                                                                          \
		LR_ROW_BOOL(n, p, d, h)                                                            \
	}
#define LR_NOPTS(a) (sizeof(a) / sizeof((a)[0]))

enum { LR_CFG_RUN = 0, LR_CFG_EXIT_OK = 1 };

/* Load every source in order. Returns LR_CFG_RUN, LR_CFG_EXIT_OK after
 * printing --help or --version, or a negative code with `err` set.
 * Positional arguments are argv[*first_arg .. argc-1]. */
int lr_cfg_load(const lr_cfg *cfg, int argc, char **argv, int *first_arg, lr_err *err);

/* Set one option from text, as a source would. */
int lr_cfg_set(const lr_cfg *cfg, const char *name, const char *value, const char *origin,
               lr_err *err);

void lr_cfg_usage(const lr_cfg *cfg, FILE *out);

/* Free the strings the table owns. */
void lr_cfg_free(const lr_cfg *cfg);

/* Exit codes shared by every binary. */
enum {
	LR_EXIT_OK = 0,
	LR_EXIT_FAIL = 1,    /* the code, job or check did not pass */
	LR_EXIT_USAGE = 2,   /* bad flags, config or input */
	LR_EXIT_RUNTIME = 3, /* infrastructure: Redis, sandbox setup, model server */
	LR_EXIT_TIMEOUT = 4, /* waited and the deadline passed */
};

#define LLMREPL_VERSION "0.1.0"

#endif
