/* llmrepl-sandbox - run Python code in the sandbox from a shell.
 *
 *   llmrepl-sandbox [--timeout S] [--memory MB] [--json] [--pool] (-c CODE | FILE...)
 *
 * Each of -c CODE and FILE is one run (with --pool, all runs go through one
 * pre-forked pool, in order). Prints each run's stdout and stderr, or with
 * --json one JSON object per run and line. Exit status: 0 every run exited 0,
 * 1 some code failed (non-zero exit, signal, timeout, limit), 2 usage,
 * 3 the sandbox could not run it. */
#include "err.h"
#include "log.h"
#include "sbx.h"
#include "sbx_json.h"
#include "startup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INPUT_MAX (64L << 20)
/* A string literal into a JSON buffer. */
#define LIT(b, s) sbx_json_raw((b), (s), sizeof(s) - 1)

static double opt_timeout, opt_cpu, opt_cpus;
static long opt_memory, opt_procs, opt_file_size, opt_files, opt_output_max;
static int opt_json, opt_pool;
static char *opt_code, *opt_request, *opt_python, *opt_py_dir, *opt_avoid, *opt_require,
    *opt_log_level;

static lr_cfg_opt opts[] = {
    {LR_ROW_STR("code", &opt_code, NULL, "Python code to run"), .shortopt = 'c'},
    LR_OPT_DOUBLE("timeout", &opt_timeout, "10", 0.01, 86400, "wall-clock limit, seconds"),
    LR_OPT_DOUBLE("cpu", &opt_cpu, "0", 0, 86400,
                  "CPU time of each process, seconds (0: timeout + 1)"),
    LR_OPT_DOUBLE("cpus", &opt_cpus, "1", 0.01, 1024,
                  "CPU bandwidth of the whole run, in cores (cgroup cpu)"),
    LR_OPT_INT("memory", &opt_memory, "256", 32, 1 << 20,
               "memory of the whole run, MB: every process and the files in /work and /tmp"),
    LR_OPT_INT("procs", &opt_procs, "32", 1, 4096, "processes and threads"),
    LR_OPT_INT("file-size", &opt_file_size, "16", 1, 1 << 16,
               "largest file and size of the work dir and /tmp, MB"),
    LR_OPT_INT("files", &opt_files, "64", 16, 4096, "open files"),
    LR_OPT_INT("output-max", &opt_output_max, "1048576", 1, 1L << 30,
               "bytes kept of stdout and of stderr; more is killed"),
    LR_OPT_BOOL("json", &opt_json, "0", "print one JSON object per run"),
    LR_OPT_BOOL("pool", &opt_pool, "0", "run through a pre-forked pool"),
    LR_OPT_STR("request", &opt_request, NULL,
               "send this file's JSON request as is (instead of code)"),
    LR_OPT_STR("python", &opt_python, "/usr/bin/python3", "interpreter (under /usr)"),
    LR_OPT_STR("py-dir", &opt_py_dir, NULL,
               "directory of llmrepl_entry.py (default: found beside the binary)"),
    LR_OPT_STR("avoid", &opt_avoid, NULL,
               "protections not to try, for diagnostics: cgroup,seccomp"),
    LR_OPT_STR("require", &opt_require, NULL,
               "protections that must apply or the run fails, e.g. cgroup,seccomp,uid"),
    LR_OPT_LOG_LEVEL(&opt_log_level, "warn"),
};

static const lr_cfg cli = {
    "llmrepl-sandbox",
    "[OPTIONS] (-c CODE | FILE...)",
    "Run Python code in the llm-repl sandbox: namespaces, a read-only view of /usr, a private "
    "work dir, its own uid, no capabilities, rlimits, cgroup limits and a seccomp filter. "
    "Prints the code's stdout and stderr, or with --json one JSON object per run.",
    "Exit status: 0 the code exited 0, 1 it failed or hit a limit, 2 usage, 3 the sandbox "
    "could not run it.",
    opts,
    sizeof(opts) / sizeof(opts[0]),
};

static int read_file(const char *path, char **out, size_t *len, lr_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return lr_err_set(err, LR_EINVAL, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		size_t r;

		if (n + 65536 + 1 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536 * 2;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return lr_err_set(err, LR_ENOMEM, "out of memory");
			}
			buf = nb;
		}
		r = fread(buf + n, 1, 65536, f);
		n += r;
		if (n > INPUT_MAX) {
			free(buf);
			fclose(f);
			return lr_err_set(err, LR_ETOOBIG, "%s is larger than %ld bytes", path,
			                  INPUT_MAX);
		}
		if (r < 65536)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return lr_err_set(err, LR_EIO, "cannot read %s", path);
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static char *exec_request(const char *code, size_t len)
{
	sbx_jbuf b = {0};

	LIT(&b, "{\"mode\":\"exec\",\"code\":");
	sbx_json_str(&b, code, len);
	LIT(&b, "}");
	if (b.failed)
		sbx_jbuf_free(&b);
	return b.s;
}

static void field(sbx_jbuf *b, const char *name)
{
	LIT(b, ",\"");
	sbx_json_raw(b, name, strlen(name));
	LIT(b, "\":");
}

static void field_double(sbx_jbuf *b, const char *name, double v, int known)
{
	field(b, name);
	if (known)
		sbx_json_double(b, v);
	else
		LIT(b, "null");
}

static void field_int(sbx_jbuf *b, const char *name, long long v, int known)
{
	field(b, name);
	if (known)
		sbx_json_int(b, v);
	else
		LIT(b, "null");
}

static void field_bool(sbx_jbuf *b, const char *name, int v)
{
	field(b, name);
	if (v)
		LIT(b, "true");
	else
		LIT(b, "false");
}

/* One run as one line of JSON (the same bytes json-c wrote, see sbx_json.h).
 * -1 when out of memory. */
static int print_json(const sbx_result *r, int pooled)
{
	sbx_jbuf b = {0};
	char names[256];
	const char *end = sbx_end_name(r->end);

	LIT(&b, "{\"end\":");
	sbx_json_str(&b, end, strlen(end));
	field_int(&b, "exit_code", r->exit_code, 1);
	field_int(&b, "signal", r->signal, 1);
	field_double(&b, "wall_s", r->wall_s, 1);
	field_double(&b, "cpu_s", r->cpu_s, 1);
	field_int(&b, "peak_kb", r->peak_kb, 1);
	field_double(&b, "cg_cpu_s", r->cg_cpu_s, r->cg_cpu_s >= 0);
	field_int(&b, "cg_peak_kb", r->cg_peak_kb, r->cg_peak_kb >= 0);
	field_int(&b, "oom_kills", r->oom_kills, 1);
	field(&b, "stdout");
	sbx_json_text(&b, r->out, r->out_len);
	field_bool(&b, "stdout_truncated", r->out_truncated);
	field(&b, "stderr");
	sbx_json_text(&b, r->err, r->err_len);
	field_bool(&b, "stderr_truncated", r->err_truncated);
	field(&b, "answer");
	if (r->answer == NULL)
		LIT(&b, "null");
	else if (sbx_json_doc(&b, r->answer, r->answer_len, 64) < 0)
		sbx_json_text(&b, r->answer, r->answer_len);
	field(&b, "isolation");
	sbx_isolation_str(r->isolation, names, sizeof(names));
	LIT(&b, "[");
	for (const char *s = names; *s;) {
		size_t k = strcspn(s, ",");

		if (s != names)
			LIT(&b, ",");
		sbx_json_str(&b, s, k);
		s += k + (s[k] == ',');
	}
	LIT(&b, "]");
	field(&b, "detail");
	sbx_json_str(&b, r->detail, strlen(r->detail));
	field_bool(&b, "pool", pooled);
	LIT(&b, "}\n");
	int failed = b.failed;

	if (!failed)
		fwrite(b.s, 1, b.len, stdout);
	sbx_jbuf_free(&b);
	return failed ? -1 : 0;
}

/* Write the code's bytes to a terminal with every control character shown,
 * not obeyed: C0 controls but newline and tab, DEL, and the C1 controls as
 * UTF-8 (U+0080..U+009F; U+009B is a CSI to some terminals). Escape
 * sequences in the code's output (OSC 52 writes the clipboard, others
 * retitle the window or remap keys) must not reach the operator's terminal.
 * Anything else (a pipe, a file) gets the bytes as they are. */
static void write_shown(FILE *f, const char *s, size_t n)
{
	if (!isatty(fileno(f))) {
		fwrite(s, 1, n, f);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
			fprintf(f, "\\x%02x", c);
		} else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
		           (unsigned char)s[i + 1] <= 0x9f) {
			fprintf(f, "\\u%04x", (unsigned char)s[i + 1]);
			i++;
		} else {
			putc(c, f);
		}
	}
}

/* A signal's description in the words glibc's strsignal uses, whichever libc
 * this is linked with (musl says "Arithmetic exception" for SIGFPE, "RT35"
 * for a real-time signal: the same signal reads the same either way). */
static const char *signal_text(int sig, char *buf, size_t len)
{
	if (sig == SIGFPE)
		return "Floating point exception";
	if (sig == SIGCHLD)
		return "Child exited";
	if (sig >= 34 && sig <= 64)
		snprintf(buf, len, "Real-time signal %d", sig - 34);
	else if (sig <= 0 || sig >= 32)
		snprintf(buf, len, "Unknown signal %d", sig);
	else
		return strsignal(sig);
	return buf;
}

static void print_plain(const sbx_result *r)
{
	char sig[32];

	write_shown(stdout, r->out, r->out_len);
	fflush(stdout);
	write_shown(stderr, r->err, r->err_len);
	if (r->end == SBX_END_SIGNALED)
		fprintf(stderr, "llmrepl-sandbox: signaled (%s)\n",
		        signal_text(r->signal, sig, sizeof(sig)));
	else if (r->end != SBX_END_EXITED)
		fprintf(stderr, "llmrepl-sandbox: %s\n", sbx_end_name(r->end));
	if (r->detail[0] && (r->end == SBX_END_ERROR || lr_log_level_current >= LR_LOG_INFO))
		fprintf(stderr, "llmrepl-sandbox: %s\n", r->detail);
}

static int run_status(const sbx_result *r)
{
	if (r->end == SBX_END_ERROR)
		return LR_EXIT_RUNTIME;
	return r->end == SBX_END_EXITED && r->exit_code == 0 ? LR_EXIT_OK : LR_EXIT_FAIL;
}

/* The request of run i: -2 is -c CODE, -1 --request FILE, 0.. the FILEs.
 * *req is NULL when that run was not asked for; LR_ENOMEM or a read error. */
static int request_of(int i, char **files, char **req, size_t *len, lr_err *err)
{
	char *code = NULL;
	size_t n = 0;
	int rc;

	*req = NULL;
	*len = 0;
	if (i == -2 && opt_code)
		*req = exec_request(opt_code, strlen(opt_code));
	else if (i == -1 && opt_request)
		return read_file(opt_request, req, len, err);
	else if (i < 0)
		return 0;
	if (i >= 0) {
		rc = read_file(files[i], &code, &n, err);
		if (rc < 0)
			return rc;
		*req = exec_request(code, n);
		free(code);
	}
	if (*req == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	*len = strlen(*req);
	return 0;
}

/* One run, printed; its exit status, or LR_EXIT_RUNTIME when the sandbox
 * could not run it. */
static int run_one(sbx_pool *pool, const sbx_config *cfg, const sbx_limits *lim, const char *req,
                   size_t len)
{
	sbx_result r;
	int s;

	if ((pool ? sbx_pool_run(pool, &r, lim, req, len) : sbx_run(&r, cfg, lim, req, len)) < 0) {
		fprintf(stderr, "llmrepl-sandbox: %s\n", r.detail);
		sbx_result_free(&r);
		return -LR_EXIT_RUNTIME;
	}
	if (opt_json && print_json(&r, pool != NULL) < 0) {
		fprintf(stderr, "llmrepl-sandbox: out of memory\n");
		sbx_result_free(&r);
		return -LR_EXIT_RUNTIME;
	}
	if (!opt_json)
		print_plain(&r);
	fflush(stdout);
	s = run_status(&r);
	sbx_result_free(&r);
	return s;
}

/* The host settings and the limits from the options. */
static int settings(sbx_config *cfg, sbx_limits *lim)
{
	char bad[64];
	unsigned required = 0;

	sbx_config_default(cfg);
	cfg->python = opt_python;
	cfg->py_dir = opt_py_dir;
	if (sbx_isolation_parse(opt_avoid, &cfg->avoid, bad, sizeof(bad)) < 0 ||
	    sbx_isolation_parse(opt_require, &required, bad, sizeof(bad)) < 0)
		return lr_main_usage(&cli, "unknown protection '%s'", bad);
	cfg->require = (int)required;
	sbx_limits_default(lim);
	lim->timeout_s = opt_timeout;
	lim->cpu_s = opt_cpu;
	lim->cpus = opt_cpus;
	lim->memory_mb = opt_memory;
	lim->max_procs = opt_procs;
	lim->file_size_mb = opt_file_size;
	lim->max_files = opt_files;
	lim->output_max = (size_t)opt_output_max;
	return LR_MAIN_RUN;
}

int main(int argc, char **argv)
{
	const lr_start start = {&cli, &opt_log_level, LR_LOG_WARN, 0, -1, NULL};
	sbx_config cfg;
	sbx_limits lim;
	sbx_pool *pool = NULL;
	lr_err err;
	int first = argc;
	int status = LR_EXIT_OK;
	int rc;

	lr_err_clear(&err);
	rc = lr_main_init(&start, argc, argv, &first);
	if (rc == LR_MAIN_RUN && !opt_code && !opt_request && first == argc)
		rc = lr_main_usage(&cli, "nothing to run: give -c CODE, a FILE or --request");
	if (rc == LR_MAIN_RUN)
		rc = settings(&cfg, &lim);
	if (rc != LR_MAIN_RUN)
		return rc;
	if (opt_pool) {
		char msg[512];

		if (sbx_pool_start(&pool, &cfg, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "llmrepl-sandbox: cannot start the pool: %s\n", msg);
			lr_cfg_free(&cli);
			return LR_EXIT_RUNTIME;
		}
	}
	for (int i = -2; i < argc - first; i++) {
		char *req;
		size_t len;
		int s;

		rc = request_of(i, argv + first, &req, &len, &err);
		if (rc == LR_ENOMEM) {
			fprintf(stderr, "llmrepl-sandbox: out of memory\n");
			status = LR_EXIT_RUNTIME;
			break;
		}
		if (rc < 0) {
			sbx_pool_free(pool);
			return lr_main_usage(&cli, "%s", err.msg);
		}
		if (req == NULL)
			continue;
		s = run_one(pool, &cfg, &lim, req, len);
		free(req);
		if (s < 0) {
			status = -s;
			break;
		}
		if (s > status)
			status = s;
	}
	sbx_pool_free(pool);
	lr_cfg_free(&cli);
	return status;
}
