/* log.h - leveled logging to stderr.
 *
 * Lines look like `2026-11-25T23:30:01.123Z INFO llmrepl-worker[1234]: text`.
 * The level check happens before the arguments are evaluated. */
#ifndef LLMREPL_LOG_H
#define LLMREPL_LOG_H

#include <stddef.h>

enum lr_log_level { LR_LOG_ERROR = 0, LR_LOG_WARN, LR_LOG_INFO, LR_LOG_DEBUG };

extern int lr_log_level_current;

/* Program name shown on each line; the pointer must stay valid. */
void lr_log_init(const char *progname, int level);

/* Parse "error|warn|info|debug" (or 0-3). Returns the level or -1. */
int lr_log_level_parse(const char *s);

/* Every line goes through lr_log_escape: control characters become \\n, \\t,
 * \\xHH (C1 controls and U+2028/9 \\uXXXX), bytes that are not UTF-8 \\xHH. */
void lr_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write src[0..n) escaped as above into dst (cap bytes, NUL-terminated; cut
 * at a whole escape). Returns the length written. */
size_t lr_log_escape(char *dst, size_t cap, const char *src, size_t n);

/* One trouble that repeats (Redis away, a broken key) logged once, then once
 * every every_ms with how often it happened, instead of on every retry. */
#define LR_LOG_REPEAT_MAX 512
typedef struct lr_log_repeat {
	char last[LR_LOG_REPEAT_MAX];
	int active;
	long repeats;
	long long first_ms, next_ms;
} lr_log_repeat;

void lr_log_repeated(lr_log_repeat *rl, int level, long every_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The trouble is over. Returns 1 when one was being reported (so the caller
 * can say it is over). */
int lr_log_repeat_end(lr_log_repeat *rl);

#define LR_LOG(lvl, ...)                                                                           \
	do {                                                                                       \
		if ((lvl) <= lr_log_level_current)                                                 \
			lr_log_write((lvl), __VA_ARGS__);                                          \
	} while (0)

#define log_error(...) LR_LOG(LR_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  LR_LOG(LR_LOG_WARN, __VA_ARGS__)
#define log_info(...)  LR_LOG(LR_LOG_INFO, __VA_ARGS__)
#define log_debug(...) LR_LOG(LR_LOG_DEBUG, __VA_ARGS__)

#endif
