/* log.c - leveled logging to stderr, one write per line so that lines from
 * several threads or processes do not interleave. */
#include "log.h"

#include "clock.h"
#include "utf8.h"

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

size_t lr_log_escape(char *dst, size_t cap, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0;
	size_t i = 0;

	if (cap == 0)
		return 0;
	while (i < n) {
		char esc[12];
		size_t elen = 0;
		size_t take = 1;
		unsigned cp = s[i];

		if (s[i] >= 0x20 && s[i] < 0x7f) {
			esc[0] = (char)s[i];
			elen = 1;
		} else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
			esc[0] = '\\';
			esc[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
			elen = 2;
		} else if (s[i] >= 0x80 && (take = lr_utf8_seq(s + i, n - i, &cp)) > 0 &&
		           !(cp >= 0x80 && cp < 0xa0) && cp != 0x2028 && cp != 0x2029) {
			for (size_t j = 0; j < take; j++)
				esc[j] = (char)s[i + j];
			elen = take;
		} else if (s[i] >= 0x80 && take > 0) {
			/* A C1 control or a line separator, written as its code point. */
			elen = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", cp);
		} else {
			/* Other control bytes and bytes that are not UTF-8. */
			take = 1;
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[s[i] >> 4];
			esc[3] = hex[s[i] & 15];
			elen = 4;
		}
		if (o + elen + 1 > cap)
			break;
		for (size_t j = 0; j < elen; j++)
			dst[o++] = esc[j];
		i += take;
	}
	dst[o] = '\0';
	return o;
}

void lr_log_repeated(lr_log_repeat *rl, int level, long every_ms, const char *fmt, ...)
{
	char msg[LR_LOG_REPEAT_MAX];
	long long now = lr_now_ms();
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->active && strcmp(msg, rl->last) == 0) {
		rl->repeats++;
		if (now < rl->next_ms)
			return;
		LR_LOG(level, "%s (%ld times in %.0f s)", msg, rl->repeats,
		       (double)(now - rl->first_ms) / 1000.0);
		rl->next_ms = now + every_ms;
		return;
	}
	LR_LOG(level, "%s", msg);
	snprintf(rl->last, sizeof(rl->last), "%s", msg);
	rl->active = 1;
	rl->repeats = 1;
	rl->first_ms = now;
	rl->next_ms = now + every_ms;
}

int lr_log_repeat_end(lr_log_repeat *rl)
{
	int was = rl->active;

	rl->active = 0;
	rl->repeats = 0;
	rl->last[0] = '\0';
	return was;
}

void lr_log_write(int level, const char *fmt, ...)
{
	char text[2048];
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
	va_start(ap, fmt);
	r = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Messages carry what users sent: a newline or an escape code in a spec
	 * must not forge a line or drive a terminal. */
	if (r > 0 && n < sizeof(line))
		n += lr_log_escape(line + n, sizeof(line) - n, text,
		                   (size_t)r < sizeof(text) ? (size_t)r : sizeof(text) - 1);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write(2): atomic for lines below PIPE_BUF on pipes. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report a failing stderr. */
	}
}
