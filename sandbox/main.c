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
#include "startup.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INPUT_MAX (64L << 20)

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
	json_object *o = json_object_new_object();
	char *s;

	json_object_object_add(o, "mode", json_object_new_string("exec"));
	json_object_object_add(o, "code", json_object_new_string_len(code, (int)len));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* The captured streams are bytes; JSON wants UTF-8: replace what is not. */
static json_object *utf8_string(const char *s, size_t n)
{
	char *d = malloc(n * 3 + 1);
	size_t o = 0;
	json_object *j;

	if (d == NULL)
		return json_object_new_string("");
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len = c < 0x80         ? 1
		             : (c >> 5) == 6  ? 2
		             : (c >> 4) == 14 ? 3
		             : (c >> 3) == 30 ? 4
		                              : 0;
		size_t k = 1;

		if (len > 1 && i + len <= n)
			for (; k < len && ((unsigned char)s[i + k] >> 6) == 2; k++)
				;
		if (len == 0 || i + len > n || k < len || c == 0) {
			memcpy(d + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
			continue;
		}
		memcpy(d + o, s + i, len);
		o += len;
		i += len;
	}
	j = json_object_new_string_len(d, (int)o);
	free(d);
	return j;
}

static void print_json(const sbx_result *r, int pooled)
{
	json_object *o = json_object_new_object();
	json_object *iso = json_object_new_array();
	char names[256];
	char *save = names;

	sbx_isolation_str(r->isolation, names, sizeof(names));
	while (save && *save) {
		char *comma = strchr(save, ',');

		if (comma)
			*comma = '\0';
		json_object_array_add(iso, json_object_new_string(save));
		save = comma ? comma + 1 : NULL;
	}
	json_object_object_add(o, "end", json_object_new_string(sbx_end_name(r->end)));
	json_object_object_add(o, "exit_code", json_object_new_int(r->exit_code));
	json_object_object_add(o, "signal", json_object_new_int(r->signal));
	json_object_object_add(o, "wall_s", json_object_new_double(r->wall_s));
	json_object_object_add(o, "cpu_s", json_object_new_double(r->cpu_s));
	json_object_object_add(o, "peak_kb", json_object_new_int64(r->peak_kb));
	json_object_object_add(o, "cg_cpu_s",
	                       r->cg_cpu_s >= 0 ? json_object_new_double(r->cg_cpu_s) : NULL);
	json_object_object_add(o, "cg_peak_kb",
	                       r->cg_peak_kb >= 0 ? json_object_new_int64(r->cg_peak_kb) : NULL);
	json_object_object_add(o, "oom_kills", json_object_new_int64(r->oom_kills));
	json_object_object_add(o, "stdout", utf8_string(r->out, r->out_len));
	json_object_object_add(o, "stdout_truncated", json_object_new_boolean(r->out_truncated));
	json_object_object_add(o, "stderr", utf8_string(r->err, r->err_len));
	json_object_object_add(o, "stderr_truncated", json_object_new_boolean(r->err_truncated));
	if (r->answer) {
		json_tokener *tok = json_tokener_new_ex(64);
		json_object *a =
		    tok ? json_tokener_parse_ex(tok, r->answer, (int)r->answer_len) : NULL;

		if (a == NULL || json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(a);
			a = utf8_string(r->answer, r->answer_len);
		}
		json_object_object_add(o, "answer", a);
		json_tokener_free(tok);
	} else {
		json_object_object_add(o, "answer", NULL);
	}
	json_object_object_add(o, "isolation", iso);
	json_object_object_add(o, "detail", json_object_new_string(r->detail));
	json_object_object_add(o, "pool", json_object_new_boolean(pooled));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
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

static void print_plain(const sbx_result *r)
{
	write_shown(stdout, r->out, r->out_len);
	fflush(stdout);
	write_shown(stderr, r->err, r->err_len);
	if (r->end == SBX_END_SIGNALED)
		fprintf(stderr, "llmrepl-sandbox: signaled (%s)\n", strsignal(r->signal));
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
	if (opt_json)
		print_json(&r, pool != NULL);
	else
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
