/* log.c - leveled logging to stderr, one write per line so that lines from
 * several threads or processes do not interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int lr_log_level_current = LR_LOG_INFO;
static const char *log_prog = "llmrepl";

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void lr_log_init(const char *progname, int level)
{
	if (progname != NULL)
		log_prog = progname;
	if (level >= LR_LOG_ERROR && level <= LR_LOG_DEBUG)
		lr_log_level_current = level;
}

int lr_log_level_parse(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	if (s == NULL)
		return -1;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, names[i]) == 0)
			return i;
	if (strcasecmp(s, "warning") == 0)
		return LR_LOG_WARN;
	if (s[0] >= '0' && s[0] <= '3' && s[1] == '\0')
		return s[0] - '0';
	return -1;
}

void lr_log_write(int level, const char *fmt, ...)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;
	va_list ap;

	if (level < LR_LOG_ERROR || level > LR_LOG_DEBUG)
		level = LR_LOG_ERROR;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	r = snprintf(line, sizeof(line),
	             "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld]: ", tm.tm_year + 1900,
	             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             (long)(tv.tv_usec / 1000), level_names[level], log_prog, (long)getpid());
	n = r > 0 ? (size_t)r : 0;
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2): atomic for lines below PIPE_BUF on pipes. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}
