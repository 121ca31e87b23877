/* log.h - leveled logging to stderr.
 *
 * Lines look like `2026-11-25T23:30:01.123Z INFO llmrepl-worker[1234]: text`.
 * The level check happens before the arguments are evaluated. */
#ifndef LLMREPL_LOG_H
#define LLMREPL_LOG_H

enum lr_log_level { LR_LOG_ERROR = 0, LR_LOG_WARN, LR_LOG_INFO, LR_LOG_DEBUG };

extern int lr_log_level_current;

/* Program name shown on each line; the pointer must stay valid. */
void lr_log_init(const char *progname, int level);

/* Parse "error|warn|info|debug" (or 0-3). Returns the level or -1. */
int lr_log_level_parse(const char *s);

void lr_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
