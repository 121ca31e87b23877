/* startup.c - the shared start of every binary (see startup.h). */
#include "startup.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t *stop_flag;
static int stop_pipe[2] = {-1, -1}; /* written once per signal, never read */

static void on_signal(int sig)
{
	int saved = errno;

	(void)sig;
	if (stop_flag != NULL && *stop_flag < 2)
		(*stop_flag)++;
	if (stop_pipe[1] >= 0 && write(stop_pipe[1], "s", 1) < 0) {
		/* full (64 KiB of signals): it is readable all the same */
	}
	errno = saved;
}

/* The pipe a signal makes readable, both ends above 2 (0 means "none" in
 * the structs that carry it), non-blocking, closed on exec. */
static void open_stop_pipe(void)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		stop_pipe[i] = p[i] > 2 ? p[i] : fcntl(p[i], F_DUPFD_CLOEXEC, 3);
		if (p[i] <= 2)
			close(p[i]);
	}
	if (stop_pipe[0] < 0 || stop_pipe[1] < 0) {
		close(stop_pipe[0]); /* close(-1) only fails */
		close(stop_pipe[1]);
		stop_pipe[0] = stop_pipe[1] = -1;
	}
}

int lr_main_stop_fd(void)
{
	return stop_pipe[0] >= 0 ? stop_pipe[0] : 0;
}

static void install_signals(volatile sig_atomic_t *stop)
{
	struct sigaction sa;

	if (stop == NULL)
		return;
	signal(SIGPIPE, SIG_IGN);
	stop_flag = stop;
	open_stop_pipe();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

int lr_main_usage(const lr_cfg *cfg, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cfg->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	lr_cfg_free(cfg);
	return LR_EXIT_USAGE;
}

int lr_main_init(const lr_start *s, int argc, char **argv, int *first)
{
	const lr_cfg *cfg = s->cfg;
	int level = s->default_level;
	int nargs;
	lr_err err;
	int rc;

	lr_err_clear(&err);
	lr_log_init(cfg->prog, s->default_level);
	rc = lr_cfg_load(cfg, argc, argv, first, &err);
	if (rc == LR_CFG_EXIT_OK) {
		lr_cfg_free(cfg);
		return LR_EXIT_OK;
	}
	if (rc < 0)
		return lr_main_usage(cfg, "%s", err.msg);
	nargs = argc - *first;
	if (nargs > s->max_args && s->max_args >= 0)
		return lr_main_usage(cfg, "unexpected argument '%s' (see --help)",
		                     argv[*first + s->max_args]);
	if (nargs < s->min_args) {
		lr_cfg_usage(cfg, stderr);
		lr_cfg_free(cfg);
		return LR_EXIT_USAGE;
	}
	if (s->log_level != NULL && *s->log_level != NULL) {
		level = lr_log_level_parse(*s->log_level);
		if (level < 0)
			return lr_main_usage(cfg, "bad --log-level '%s'", *s->log_level);
	}
	lr_log_init(cfg->prog, level);
	install_signals(s->stop);
	return LR_MAIN_RUN;
}

const char *lr_main_name(char *buf, size_t size, const char *name, const char *who)
{
	char host[128];

	if (name != NULL && name[0] != '\0')
		return name;
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, size, "%s-%s-%ld", who, host, (long)getpid());
	return buf;
}

int lr_main_keys(const lr_cfg *cfg, lr_keys *keys, const char *prefix)
{
	lr_err err;

	lr_err_clear(&err);
	if (lr_keys_init(keys, prefix, &err) < 0)
		return lr_main_usage(cfg, "%s", err.msg);
	return LR_MAIN_RUN;
}

int lr_main_exit(const lr_cfg *cfg, int rc, const lr_err *err)
{
	if (rc < 0)
		log_error("%s", err->msg);
	lr_cfg_free(cfg);
	if (rc == LR_EINVAL)
		return LR_EXIT_USAGE;
	return rc < 0 ? LR_EXIT_RUNTIME : LR_EXIT_OK;
}
