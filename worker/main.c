/* llmrepl-worker: claims jobs from Redis and runs them (evaluation in the
 * sandbox; model-based kinds as they are added), one at a time. */
#include "eval.h"
#include "log.h"
#include "startup.h"
#include "wk_metrics.h"
#include "worker.h"

#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;
static wk_config wc;
static char *prefix, *log_level, *name, *python, *sandbox_py, *sandbox_require;
static char *metrics_listen;

static lr_cfg_opt opts[] = {
    LR_OPTS_REDIS(&wc.redis),
    LR_OPT_PREFIX(&prefix),
    LR_OPT_METRICS_LISTEN(&metrics_listen),
    LR_OPT_NAME(&name, "worker"),
    LR_OPT_LOG_LEVEL(&log_level, "info"),
    LR_OPT_INT("lease-ms", &wc.lease_ms, "30000", 100, 86400000,
               "lease on a running job, renewed every third of it; a job whose worker stops "
               "renewing is retried elsewhere after this"),
    LR_OPT_INT("block-ms", &wc.block_ms, "1000", 1, 60000,
               "longest wait for a job per read (kept below the command timeout)"),
    LR_OPT_DOUBLE("drain-s", &wc.drain_s, "30", 0, 86400,
                  "on SIGTERM, how long the running job may go on before it is released"),
    LR_OPT_INT("result-max-kb", &wc.result_max_kb, "128", 4, 1048576,
               "a job's result (its report as JSON) over this many KiB is compacted before "
               "it is recorded: long lists and strings cut, failures kept first"),
    LR_OPT_BOOL("pool", &wc.pool, "true",
                "run code on a pre-forked sandboxed interpreter (else a cold sandbox per run)"),
    LR_OPT_INT("batch-slots", &wc.batch_slots, "2", 1, 64,
               "batch jobs: items evaluated at once, each on a sandbox pool of its own"),
    LR_OPT_INT("batch-group", &wc.batch_group, "16", 1, 64,
               "batch jobs: items a slot evaluates in one sandbox run (each in a fresh "
               "fork of the judge with a fresh candidate; 1: one run each)"),
    LR_OPT_BOOL("batch-share", &wc.batch_share, "true",
                "batch jobs: this worker's batches are shared with idle workers, and when no "
                "job waits for it, it takes a few items at a time of another worker's "
                "batch (false: a batch runs on its owner's slots alone)"),
    LR_OPT_INT("sessions-held", &wc.sessions_held, "32", 0, 256,
               "REPL sessions this worker holds, each a sandboxed interpreter kept between "
               "cells: its limit of sessions (a cell needing one more goes to a worker "
               "with room, else it is refused with an error); 0: none held, every cell "
               "replays its session"),
    LR_OPT_STR("python", &python, "/usr/bin/python3", "the interpreter run in the sandbox"),
    LR_OPT_STR("sandbox-py", &sandbox_py, NULL,
               "directory of the sandbox's Python entry (default: found beside the binary)"),
    LR_OPT_STR("sandbox-require", &sandbox_require, NULL,
               "protections that must apply or runs fail, e.g. cgroup,seccomp,uid (names as "
               "llmrepl-sandbox --require)"),
    LR_OPT_STR("fault-abort-marker", &wc.fault_abort_marker, NULL,
               "testing only: abort() the worker on claiming a job whose spec contains this "
               "text, to rehearse poison jobs (a job that always kills its worker ends dead)"),
    LR_OPT_STR("fault-beat-hold", &wc.fault_beat_hold, NULL,
               "testing only: while this file exists the heartbeat waits after reading what it "
               "will write (FILE.held says so), to rehearse a slow beat"),
    LR_OPT_STR("fault-job-hold", &wc.fault_job_hold, NULL,
               "testing only: while this file exists a claimed job waits before it runs "
               "(FILE.held says so), to rehearse a worker busy for as long as a test needs"),
    LR_OPT_STR("push-url", &wc.push_url, NULL,
               "deploy loop jobs whose criteria passed: push the accepted commit to "
               "refs/heads/llmrepl/<id> of this repository (a path, file:// or a URL that "
               "needs no credentials)"),
};

/* The model settings (llm-url, model, llm-api-key, ...) follow the worker's own. */
#define NOPTS (sizeof(opts) / sizeof(opts[0]))
static lr_cfg_opt all_opts[NOPTS + LLM_CFG_NOPTS];

static const lr_cfg cfg = {
    "llmrepl-worker",
    "[OPTIONS]",
    "Claims jobs from the Redis stream <prefix>jobs (consumer group `workers`), holds a "
    "lease on each while it runs, runs it, and records the result; every write is fenced by "
    "the attempt number, so a worker that lost its lease cannot overwrite a newer attempt. "
    "SIGTERM: finish (or, after --drain-s, release) the running job and exit; a second "
    "signal ends the drain at once (a run already in the sandbox still ends within its time "
    "limit).",
    "See docs/protocol.md for the protocol.",
    all_opts,
    NOPTS + LLM_CFG_NOPTS,
};

/* The sandbox settings that apply only when given. */
static int sandbox_settings(sbx_config *sc)
{
	char bad[64];
	unsigned require;

	sbx_config_default(sc);
	eval_sandbox_config(sc);
	if (python && *python)
		sc->python = python;
	if (sandbox_py && *sandbox_py)
		sc->py_dir = sandbox_py;
	if (sbx_isolation_parse(sandbox_require, &require, bad, sizeof(bad)) < 0)
		return lr_main_usage(&cfg, "sandbox-require: unknown protection '%s'", bad);
	sc->require = (int)require;
	return LR_MAIN_RUN;
}

int main(int argc, char **argv)
{
	const lr_start start = {&cfg, &log_level, LR_LOG_INFO, 0, 0, &stop_requested};
	char defname[200];
	lr_metrics_server *metrics = NULL;
	lr_err err;
	int first;
	int rc;

	memcpy(all_opts, opts, sizeof(opts));
	llm_cfg_opts(all_opts + NOPTS, &wc.llm);
	rc = lr_main_init(&start, argc, argv, &first);
	if (rc == LR_MAIN_RUN)
		rc = lr_main_keys(&cfg, &wc.keys, prefix);
	if (rc == LR_MAIN_RUN)
		rc = sandbox_settings(&wc.sbx);
	if (rc != LR_MAIN_RUN)
		return rc;
	wc.name = lr_main_name(defname, sizeof(defname), name, "worker");
	wc.stop_fd = lr_main_stop_fd();
	wc.redis.client_name = wc.name;
	if (wc.fault_abort_marker && *wc.fault_abort_marker)
		log_warn("fault injection is on: a job containing '%s' aborts this worker",
		         wc.fault_abort_marker);
	if (wc.fault_beat_hold && *wc.fault_beat_hold)
		log_warn("fault injection is on: the heartbeat waits while %s exists",
		         wc.fault_beat_hold);
	if (wc.fault_job_hold && *wc.fault_job_hold)
		log_warn("fault injection is on: a claimed job waits while %s exists",
		         wc.fault_job_hold);

	lr_err_clear(&err);
	wk_metrics_init();
	if (metrics_listen != NULL && *metrics_listen &&
	    lr_metrics_listen(&metrics, metrics_listen, &err) < 0)
		return lr_main_usage(&cfg, "%s", err.msg);
	rc = wk_run(&wc, &stop_requested, &err);
	lr_metrics_stop(metrics);
	return lr_main_exit(&cfg, rc, &err);
}
