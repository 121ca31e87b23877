/* main_eval.c - llmrepl-eval: evaluate code against tests from a shell.
 *
 *   llmrepl-eval [--tests FILE] [--entry-point NAME] [--criteria JSON]
 *                [--timeout S] [--memory MB] [--no-static] [--json] CODEFILE
 *   llmrepl-eval --io-tests FILE [...] PROGRAMFILE
 *   llmrepl-eval --batch FILE.jsonl [--jobs N] [--group N] [--json]
 *
 * One file: prints the summary and the feedback (or, with --json, the whole
 * report) and exits 0 when the code passed, 1 when it did not, 2 on a usage
 * error, 3 when the sandbox could not run. A batch reads one JSON object per
 * line ({"id", "code", "tests", "entry_point", "criteria"}) and prints one
 * result line per input line, in order, running them on pre-forked sandboxes
 * (one per job thread), up to --group consecutive lines that can share a run
 * as one sandbox run (eval_group.h; the rest one run each). With --io-tests (a JSON file of io
 * cases, see common/iotests.h; in a batch line, "tests" as an {"io": [...]} object) the code is a
 * whole program run once per case with the case's stdin. With LLMREPL_JOB_TRACE=1
 * a batch prints eval_run's phases of each evaluation run alone to stderr
 * ("job-trace eval ...", common/trace.h). */
#include "clock.h"
#include "eval.h"
#include "eval_group.h"
#include "eval_static.h"
#include "json.h"
#include "log.h"
#include "startup.h"
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_MAX       (64u << 20)
#define BATCH_LINE_MAX (8u << 20)
#define JOBS_MAX       64

static char *opt_tests, *opt_io_tests, *opt_tests_text, *opt_entry, *opt_criteria, *opt_batch,
    *opt_doctests, *opt_log;
static double opt_timeout, opt_test_timeout;
static long opt_memory, opt_jobs, opt_group;
static int opt_static, opt_json, opt_pool, opt_isolate;

static lr_cfg_opt opts[] = {
    {LR_ROW_STR("tests", &opt_tests, NULL, "file with the tests (any supported form)"),
     .shortopt = 't'},
    LR_OPT_STR(
        "io-tests", &opt_io_tests, NULL,
        "JSON file of io cases {\"io\": [{\"stdin\", \"stdout\"}], \"checker\"}: the code is a "
        "program run once per case"),
    LR_OPT_STR("tests-text", &opt_tests_text, NULL, "the tests themselves (not a file)"),
    {LR_ROW_STR("entry-point", &opt_entry, NULL, "function the tests' check(candidate) receives"),
     .shortopt = 'e'},
    LR_OPT_STR("criteria", &opt_criteria, NULL,
               "acceptance criteria as JSON, e.g. '{\"max_security\": \"low\"}'"),
    LR_OPT_DOUBLE("timeout", &opt_timeout, "10", 0.1, 3600, "wall-clock limit of a run, s"),
    LR_OPT_DOUBLE("timeout-s", &opt_timeout, NULL, 0.1, 3600, "the same as --timeout"),
    LR_OPT_DOUBLE("test-timeout", &opt_test_timeout, "0", 0, 3600,
                  "limit per test case, s (0: min(3 s, half the budget))"),
    LR_OPT_INT("memory", &opt_memory, "0", 0, 1 << 20, "memory limit, MB (0: the sandbox's)"),
    LR_OPT_BOOL("static", &opt_static, "1", "run pyflakes, bandit and radon"),
    LR_OPT_STR("doctests", &opt_doctests, "auto",
               "run the code's doctests: auto (when no tests), always, never"),
    LR_OPT_BOOL("json", &opt_json, "0", "print the whole report as JSON"),
    LR_OPT_BOOL("isolate", &opt_isolate, "0", "run as the isolated retry does from the start"),
    LR_OPT_BOOL("pool", &opt_pool, "0", "run on a pre-forked sandbox (batches always do)"),
    LR_OPT_STR("batch", &opt_batch, NULL, "evaluate each JSON line of this file"),
    {LR_ROW_INT("jobs", &opt_jobs, "1", 1, JOBS_MAX, "batch evaluations at once"), .shortopt = 'j'},
    LR_OPT_INT("group", &opt_group, "16", 1, EVAL_GROUP_MAX,
               "batch evaluations per sandbox run (1: one run each)"),
    LR_OPT_LOG_LEVEL(&opt_log, "warn"),
};

static const lr_cfg cfg = {
    "llmrepl-eval",
    "[OPTIONS] CODEFILE   (or --batch FILE.jsonl)",
    "Evaluate Python code in the sandbox: run it and its tests (assert lines, "
    "check(candidate) with --entry-point, test_* functions, unittest, doctests), the static "
    "checks (pyflakes, bandit, radon), and judge it against the criteria. CODEFILE '-' reads "
    "stdin.",
    "Exit status: 0 passed, 1 not passed, 2 usage error, 3 the sandbox could not run.",
    opts,
    sizeof(opts) / sizeof(opts[0]),
};

/* Read a whole file (or stdin for "-") into a NUL-terminated buffer. */
static int read_file(char **out, const char *path, lr_err *err)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 65536;
	char *buf = NULL;
	int rc = 0;

	*out = NULL;
	if (fd < 0)
		return lr_err_set(err, LR_EIO, "%s: %s", path, strerror(errno));
	buf = malloc(cap);
	if (buf == NULL) {
		if (fd != STDIN_FILENO)
			close(fd);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = cap >= FILE_MAX ? NULL : realloc(buf, cap * 2);

			if (nb == NULL) {
				rc = lr_err_set(err, LR_ETOOBIG, "%s: bigger than %u bytes", path,
				                FILE_MAX);
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = lr_err_set(err, LR_EIO, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		free(buf);
		return lr_err_set(err, LR_EINVAL, "%s: contains a NUL byte", path);
	}
	*out = buf;
	return 0;
}

static int parse_criteria(lr_criteria *c, const char *text, lr_err *err)
{
	json_object *o = NULL;
	int rc;

	lr_criteria_default(c);
	if (text == NULL)
		return 0;
	rc = lr_json_parse(&o, text, strlen(text), 65536, 8, err);
	if (rc == 0)
		rc = lr_criteria_from_json(c, o, err);
	json_object_put(o);
	if (rc < 0)
		lr_err_prefix(err, "--criteria");
	return rc;
}

static void base_request(eval_request *r)
{
	eval_request_default(r);
	r->limits.timeout_s = opt_timeout;
	if (opt_memory > 0)
		r->limits.memory_mb = opt_memory;
	r->static_checks = opt_static;
	r->isolate = opt_isolate;
	r->test_timeout_s = opt_test_timeout;
	r->doctests = strcmp(opt_doctests, "always") == 0  ? 1
	              : strcmp(opt_doctests, "never") == 0 ? -1
	                                                   : 0;
}

/* The human-readable report: summary, feedback, then the figures. */
static void print_human(const eval_outcome *o)
{
	json_object *r = NULL, *st, *m, *run, *x;
	lr_err err;
	char iso[256];

	printf("%s\n\n%s", o->summary, o->feedback);
	if (lr_json_parse(&r, o->result_json, strlen(o->result_json), 0, 64, &err) < 0)
		return;
	st = json_object_object_get(r, "static");
	m = json_object_object_get(r, "metrics");
	run = json_object_object_get(r, "run");
	printf("\n");
	if (st && (x = json_object_object_get(st, "pyflakes")) &&
	    json_object_get_boolean(json_object_object_get(x, "ran")))
		printf("pyflakes: %d error(s), %d warning(s)\n",
		       json_object_get_int(json_object_object_get(x, "errors")),
		       json_object_get_int(json_object_object_get(x, "warnings")));
	if (st && (x = json_object_object_get(st, "bandit")) &&
	    json_object_get_boolean(json_object_object_get(x, "ran")))
		printf("bandit:   %zu finding(s), worst severity %s\n",
		       json_object_array_length(json_object_object_get(x, "findings")),
		       json_object_get_string(json_object_object_get(x, "max_severity")));
	if (st && (x = json_object_object_get(st, "radon")) &&
	    json_object_get_boolean(json_object_object_get(x, "ran")))
		printf("radon:    max complexity %d, maintainability index %.1f (%s)\n",
		       json_object_get_int(json_object_object_get(x, "max_complexity")),
		       json_object_get_double(json_object_object_get(x, "mi")),
		       json_object_get_string(json_object_object_get(x, "mi_rank")));
	if (m)
		printf("code:     %.4f s wall, %.4f s cpu, %.1f MB peak\n",
		       json_object_get_double(json_object_object_get(m, "load_s")) +
		           json_object_get_double(json_object_object_get(m, "tests_s")),
		       json_object_get_double(json_object_object_get(m, "cpu_s")),
		       json_object_get_double(json_object_object_get(m, "peak_memory_kb")) / 1024);
	if (run) {
		sbx_isolation_str(
		    (unsigned)json_object_get_int(json_object_object_get(run, "isolation")), iso,
		    sizeof(iso));
		printf("sandbox:  %s, %.4f s wall, isolation %s\n",
		       json_object_get_string(json_object_object_get(run, "end")),
		       json_object_get_double(json_object_object_get(run, "wall_s")), iso);
	}
	json_object_put(r);
}

static int run_one(const char *path)
{
	eval_request req;
	eval_outcome out = {0};
	lr_criteria crit;
	sbx_config sc;
	sbx_pool *pool = NULL;
	char *code = NULL, *tests = NULL, *io_text = NULL;
	lr_iotests io;
	char msg[256];
	lr_err err;
	int rc = LR_EXIT_USAGE;

	lr_err_clear(&err);
	memset(&io, 0, sizeof(io));
	if (read_file(&code, path, &err) < 0 ||
	    (opt_tests && read_file(&tests, opt_tests, &err) < 0) ||
	    parse_criteria(&crit, opt_criteria, &err) < 0) {
		fprintf(stderr, "llmrepl-eval: %s\n", err.msg);
		goto cleanup;
	}
	if (opt_io_tests && (read_file(&io_text, opt_io_tests, &err) < 0 ||
	                     lr_iotests_parse(&io, io_text, strlen(io_text), FILE_MAX, &err) < 0)) {
		fprintf(stderr, "llmrepl-eval: %s: %s\n", opt_io_tests, err.msg);
		goto cleanup;
	}
	base_request(&req);
	req.code = code;
	req.tests = tests ? tests : opt_tests_text;
	req.entry_point = opt_entry;
	req.criteria = &crit;
	req.io = opt_io_tests ? &io : NULL;
	sbx_config_default(&sc);
	eval_sandbox_config(&sc);
	rc = LR_EXIT_RUNTIME;
	if (opt_pool && sbx_pool_start(&pool, &sc, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "llmrepl-eval: sandbox: %s\n", msg);
		goto cleanup;
	}
	if (eval_run(&out, pool, &sc, &req, &err) < 0) {
		fprintf(stderr, "llmrepl-eval: %s\n", err.msg);
		goto cleanup;
	}
	if (opt_json)
		printf("%s\n", out.result_json);
	else
		print_human(&out);
	rc = out.passed ? LR_EXIT_OK : LR_EXIT_FAIL;
cleanup:
	eval_outcome_free(&out);
	sbx_pool_free(pool);
	free(code);
	free(tests);
	free(io_text);
	lr_iotests_free(&io);
	return rc;
}

/* ---- batches ------------------------------------------------------------ */

typedef struct batch_item {
	json_object *in; /* the input line */
	char *result;    /* the output line */
	int status;      /* LR_EXIT_* */
} batch_item;

typedef struct batch {
	batch_item *items;
	size_t n;
	size_t next;  /* guarded by lock */
	size_t group; /* items taken at once (--group) */
	int alone;    /* one job thread: evaluations one at a time */
	pthread_mutex_t lock;
	sbx_config sc;
} batch;

/* One line's request; it->status and res say why when it cannot be built. */
typedef struct batch_prep {
	eval_request req;
	lr_criteria crit;
	lr_iotests io;
	json_object *res; /* the output line being built */
	int ok;
} batch_prep;

static void batch_prepare(batch_item *it, batch_prep *p)
{
	lr_err err;
	json_object *id, *tv;
	int rc = 0;

	lr_err_clear(&err);
	memset(&p->io, 0, sizeof(p->io));
	p->res = json_object_new_object();
	base_request(&p->req);
	p->req.code = lr_json_str(it->in, "code");
	p->req.tests = lr_json_str(it->in, "tests");
	if (json_object_object_get_ex(it->in, "tests", &tv) &&
	    json_object_is_type(tv, json_type_object)) {
		rc = lr_iotests_from_json(&p->io, tv, "tests", 0, BATCH_LINE_MAX, &err);
		p->req.io = &p->io;
	}
	p->req.entry_point = lr_json_str(it->in, "entry_point");
	lr_criteria_default(&p->crit);
	p->req.criteria = &p->crit;
	if (json_object_object_get_ex(it->in, "id", &id))
		json_object_object_add(p->res, "id", json_object_get(id));
	if (rc == 0)
		rc = lr_criteria_from_json(&p->crit, json_object_object_get(it->in, "criteria"),
		                           &err);
	if (rc == 0 && p->req.code == NULL)
		rc = lr_err_set(&err, LR_EINVAL, "no \"code\" string");
	p->ok = rc == 0;
	if (!p->ok) {
		it->status = LR_EXIT_USAGE;
		lr_json_set_str(p->res, "error", err.msg);
	}
}

/* The output line from the outcome (when p->ok). wall_s: the evaluation's,
 * or its group's when it ran in one (grouped > 1 of them). */
static void batch_finish(batch_item *it, batch_prep *p, int rc, eval_outcome *out,
                         const lr_err *err, double wall_s, size_t grouped)
{
	json_object *res = p->res, *report = NULL;
	lr_err perr;

	if (!p->ok || out == NULL)
		goto done;
	lr_json_set_num(res, "wall_s", wall_s);
	if (grouped > 1)
		lr_json_set_int(res, "group", (long)grouped);
	if (rc < 0) {
		it->status = LR_EXIT_RUNTIME;
		lr_json_set_str(res, "error", err->msg);
		goto done;
	}
	it->status = out->passed ? LR_EXIT_OK : LR_EXIT_FAIL;
	lr_json_set_bool(res, "passed", out->passed);
	lr_json_set_num(res, "score", out->score);
	lr_json_set_int(res, "tests_total", out->tests_total);
	lr_json_set_int(res, "tests_passed", out->tests_passed);
	lr_json_set_str(res, "summary", out->summary);
	lr_json_set_str(res, "error", out->error);
	if (opt_json &&
	    lr_json_parse(&report, out->result_json, strlen(out->result_json), 0, 64, &perr) == 0)
		lr_json_set_obj(res, "report", report);
done:
	it->result = lr_json_dump(res);
	json_object_put(res);
	p->res = NULL;
	eval_outcome_free(out);
	lr_iotests_free(&p->io);
}

/* Items [first, first + n) of the batch: one eval_run each, or (--group)
 * the ones that can share a sandbox run as one group. */
static void batch_chunk(batch *b, size_t first, size_t n, sbx_pool *pool)
{
	batch_prep prep[EVAL_GROUP_MAX];
	eval_request reqs[EVAL_GROUP_MAX];
	eval_outcome outs[EVAL_GROUP_MAX];
	lr_err errs[EVAL_GROUP_MAX];
	int rcs[EVAL_GROUP_MAX];
	size_t at[EVAL_GROUP_MAX], m = 0, grouped = 0;
	double t0;

	for (size_t i = 0; i < n; i++) {
		batch_prepare(&b->items[first + i], &prep[i]);
		if (prep[i].ok) {
			reqs[m] = prep[i].req;
			at[m++] = i;
		}
	}
	t0 = lr_now_s();
	if (m == 1) {
		lr_err_clear(&errs[0]);
		lr_trace_begin("eval"); /* LLMREPL_JOB_TRACE=1: eval_run's phases */
		rcs[0] = eval_run(&outs[0], pool, &b->sc, &reqs[0], &errs[0]);
		lr_trace_end(NULL);
	} else if (m > 1) {
		eval_run_group(outs, rcs, errs, pool, &b->sc, reqs, m, &grouped);
	}
	for (size_t j = 0, i = 0; i < n; i++) {
		eval_outcome none = {0};
		lr_err no_err;
		int got = j < m && at[j] == i;

		lr_err_clear(&no_err);
		batch_finish(&b->items[first + i], &prep[i], got ? rcs[j] : 0,
		             got ? &outs[j] : &none, got ? &errs[j] : &no_err, lr_now_s() - t0,
		             grouped);
		j += got;
	}
}

static void *batch_worker(void *arg)
{
	batch *b = arg;
	sbx_pool *pool = NULL;
	char msg[256];

	if (sbx_pool_start(&pool, &b->sc, msg, sizeof(msg)) < 0) {
		log_error("sandbox pool: %s", msg);
		pool = NULL;
	}
	if (b->alone) /* a core is idle beside each judge: its pages copied ahead */
		sbx_pool_want(pool, SBX_WANT_PAGES);
	for (;;) {
		size_t i, n;

		pthread_mutex_lock(&b->lock);
		i = b->next;
		n = i < b->n ? b->n - i : 0;
		if (n > b->group)
			n = b->group;
		b->next += n;
		pthread_mutex_unlock(&b->lock);
		if (n == 0)
			break;
		for (size_t k = 0; pool == NULL && k < n; k++) {
			b->items[i + k].status = LR_EXIT_RUNTIME;
			b->items[i + k].result =
			    strdup("{\"error\":\"the sandbox pool did not start\"}");
		}
		if (pool != NULL)
			batch_chunk(b, i, n, pool);
	}
	sbx_pool_free(pool);
	return NULL;
}

static int run_batch(const char *path)
{
	batch b;
	pthread_t threads[JOBS_MAX];
	char *text = NULL, *line, *next;
	size_t cap = 0, lineno = 0;
	long jobs = opt_jobs;
	lr_err err;
	int rc = LR_EXIT_OK;

	memset(&b, 0, sizeof(b));
	pthread_mutex_init(&b.lock, NULL);
	sbx_config_default(&b.sc);
	eval_sandbox_config(&b.sc);
	b.group = (size_t)opt_group;
	if (read_file(&text, path, &err) < 0) {
		fprintf(stderr, "llmrepl-eval: %s\n", err.msg);
		rc = LR_EXIT_USAGE;
		goto cleanup;
	}
	for (line = text; line && *line; line = next) {
		json_object *o = NULL;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (strspn(line, " \t\r") == strlen(line))
			continue;
		if (lr_json_parse(&o, line, strlen(line), BATCH_LINE_MAX, 16, &err) < 0 ||
		    !json_object_is_type(o, json_type_object)) {
			fprintf(stderr, "llmrepl-eval: %s line %zu: %s\n", path, lineno,
			        o ? "not a JSON object" : err.msg);
			json_object_put(o);
			rc = LR_EXIT_USAGE;
			goto cleanup;
		}
		if (b.n == cap) {
			batch_item *ni = realloc(b.items, (cap ? cap * 2 : 64) * sizeof(*ni));

			if (ni == NULL) {
				json_object_put(o);
				rc = LR_EXIT_RUNTIME;
				goto cleanup;
			}
			b.items = ni;
			cap = cap ? cap * 2 : 64;
		}
		memset(&b.items[b.n], 0, sizeof(b.items[b.n]));
		b.items[b.n++].in = o;
	}
	if ((size_t)jobs > b.n)
		jobs = b.n ? (long)b.n : 1;
	/* Every job thread gets work: groups no bigger than an even share. */
	if (b.group > 1 && b.n / (size_t)jobs < b.group)
		b.group = b.n / (size_t)jobs > 1 ? b.n / (size_t)jobs : 1;
	b.alone = jobs == 1;
	for (long t = 0; t < jobs; t++)
		pthread_create(&threads[t], NULL, batch_worker, &b);
	for (long t = 0; t < jobs; t++)
		pthread_join(threads[t], NULL);
	for (size_t i = 0; i < b.n; i++) {
		printf("%s\n",
		       b.items[i].result ? b.items[i].result : "{\"error\":\"out of memory\"}");
		if (b.items[i].status > rc)
			rc = b.items[i].status;
	}
cleanup:
	for (size_t i = 0; i < b.n; i++) {
		json_object_put(b.items[i].in);
		free(b.items[i].result);
	}
	free(b.items);
	free(text);
	pthread_mutex_destroy(&b.lock);
	return rc;
}

int main(int argc, char **argv)
{
	const lr_start start = {&cfg, &opt_log, LR_LOG_WARN, 0, 1, NULL};
	int first = argc;
	int rc;

	rc = lr_main_init(&start, argc, argv, &first);
	if (rc != LR_MAIN_RUN)
		return rc;
	if (strcmp(opt_doctests, "auto") && strcmp(opt_doctests, "always") &&
	    strcmp(opt_doctests, "never"))
		return lr_main_usage(&cfg, "--doctests must be auto, always or never");
	if (opt_batch != NULL && first == argc) {
		rc = run_batch(opt_batch);
	} else if (opt_batch == NULL && argc - first == 1) {
		rc = run_one(argv[first]);
	} else {
		lr_cfg_usage(&cfg, stderr);
		rc = LR_EXIT_USAGE;
	}
	eval_static_stop();
	lr_cfg_free(&cfg);
	return rc;
}
