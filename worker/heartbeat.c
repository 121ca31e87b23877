/* heartbeat.c - lease renewal and worker registration on a thread of its own. */
#include "heartbeat.h"

#include "clock.h"
#include "log.h"
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct wk_hb {
	const wk_config *cfg;
	lr_q q; /* its own connection, and cfg->keys */
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Guarded by mu. */
	int quit;
	int active;
	char job[LR_JOB_ID_MAX + 1];
	long attempt;
	long jobs_done;
	long long last_ok_ms;  /* last renewal that Redis accepted */
	char problem[256];     /* why the worker cannot make progress, or "" */
	long sessions;         /* REPL sessions held ... */
	long long sessions_at; /* ... counted then (lr_q_stamp) */
	/* Another worker's batch job this one helps with (no job of its own). */
	char help_job[LR_JOB_ID_MAX + 1];
	long help_attempt;
	char help_owner[128];
	char problem_since[24];
	/* Read by any thread. */
	atomic_int status;
	const volatile sig_atomic_t *stop;
	atomic_llong drain_end_ms; /* 0 until a shutdown is first seen */
	char pid[24];
	char host[128];
	char since[24];
};

static long period_ms(const wk_config *cfg)
{
	long p = cfg->lease_ms / 3;

	return p < 10 ? 10 : p;
}

/* Testing (--fault-beat-hold FILE): while FILE exists a beat waits after
 * reading what it will write, with FILE.held there to say so until its
 * write has returned; a test can then change the worker's state in
 * between, as a slow beat would. (--fault-job-hold: a job waits so before
 * it runs.) */
int wk_fault_hold(const char *file, const volatile sig_atomic_t *stop)
{
	char held[4096];
	FILE *f;

	if (file == NULL || *file == '\0' || access(file, F_OK) != 0)
		return 0;
	snprintf(held, sizeof(held), "%s.held", file);
	f = fopen(held, "w");
	if (f != NULL)
		fclose(f);
	while (access(file, F_OK) == 0 && !(stop && *stop))
		lr_sleep_ms(10);
	return 1;
}

void wk_fault_release(const char *file)
{
	char held[4096];

	snprintf(held, sizeof(held), "%s.held", file);
	unlink(held);
}

static void beat(wk_hb *hb)
{
	char job[LR_JOB_ID_MAX + 1];
	char attempt[24];
	char done[24];
	char problem[256];
	char since[24];
	char sessions[24], smax[24], sessions_at[24];
	char owner[128];
	int held;
	lr_q_state state = LR_QS_NONE;
	long ttl = period_ms(hb->cfg) * 3;
	int active;
	long att;
	long cur = 0;
	lr_err err;
	int rc;

	pthread_mutex_lock(&hb->mu);
	active = hb->active;
	memcpy(job, hb->job, sizeof(job));
	att = hb->attempt;
	owner[0] = '\0';
	if (!active && hb->help_job[0] != '\0') { /* shown, not renewed: not its lease */
		memcpy(job, hb->help_job, sizeof(job));
		att = hb->help_attempt;
		memcpy(owner, hb->help_owner, sizeof(owner));
	}
	snprintf(done, sizeof(done), "%ld", hb->jobs_done);
	memcpy(problem, hb->problem, sizeof(problem));
	memcpy(since, hb->problem_since, sizeof(since));
	snprintf(sessions, sizeof(sessions), "%ld", hb->sessions);
	snprintf(sessions_at, sizeof(sessions_at), "%lld", hb->sessions_at);
	pthread_mutex_unlock(&hb->mu);
	held = wk_fault_hold(hb->cfg->fault_beat_hold, NULL);
	snprintf(attempt, sizeof(attempt), "%ld", active || owner[0] ? att : 0L);

	lr_err_clear(&err);
	if (active) {
		rc = lr_q_renew(&hb->q, job, att, hb->cfg->name, hb->cfg->lease_ms, &state, &cur,
		                &err);
		pthread_mutex_lock(&hb->mu);
		/* The main thread may have moved on to another job meanwhile. */
		if (hb->active && hb->attempt == att && strcmp(hb->job, job) == 0) {
			if (rc == 0) {
				hb->last_ok_ms = lr_now_ms();
			} else if (rc == LR_ESTALE) {
				int st = state == LR_QS_CANCELLED ? LR_ECANCELED : LR_ESTALE;

				/* Done at our own attempt: the main thread has
				 * just finished it and not yet said so. */
				int ours = state == LR_QS_DONE && cur == att;

				if (atomic_exchange(&hb->status, st) == 0 && !ours)
					log_warn("job %s: %s", job, err.msg);
			} else if (lr_q_classify(rc, &err) == LR_Q_CONN &&
			           lr_now_ms() - hb->last_ok_ms > hb->cfg->lease_ms) {
				/* Unreachable for longer than the lease: the job may
				 * have been reclaimed; stop rather than race. (Redis
				 * refusing writes or busy refuses the reclaim too, and
				 * dispatchers wait a lease after such an episode.) */
				if (atomic_exchange(&hb->status, LR_ESTALE) == 0)
					log_warn("job %s: no lease renewal for %ld ms (%s); giving "
					         "it up",
					         job, hb->cfg->lease_ms, err.msg);
			}
		}
		pthread_mutex_unlock(&hb->mu);
	}
	{
		const char *f[] = {"pid",     "host",     "since",       "job",
		                   "attempt", "jobs",     "problem",     "problem_since",
		                   "helping", "sessions", "sessions_at", "sessions_max"};
		const char *v[] = {hb->pid, hb->host, hb->since,   active || owner[0] ? job : "",
		                   attempt, done,     problem,     since,
		                   owner,   sessions, sessions_at, smax};

		snprintf(smax, sizeof(smax), "%ld", hb->cfg->sessions_held);
		lr_err_clear(&err);
		if (lr_q_heartbeat(&hb->q, hb->cfg->name, ttl, 12, f, v, &err) < 0)
			log_debug("heartbeat: %s", err.msg);
	}
	if (held)
		wk_fault_release(hb->cfg->fault_beat_hold);
}

static void *hb_main(void *arg)
{
	wk_hb *hb = arg;
	struct timespec until;

	pthread_mutex_lock(&hb->mu);
	while (!hb->quit) {
		long p = period_ms(hb->cfg);

		if (p > 100 && *hb->stop)
			p = 100; /* notice the end of the drain in time */
		pthread_mutex_unlock(&hb->mu);
		if (*hb->stop && atomic_load(&hb->drain_end_ms) == 0)
			atomic_store(&hb->drain_end_ms,
			             lr_now_ms() + (long long)(hb->cfg->drain_s * 1000.0));
		beat(hb);
		pthread_mutex_lock(&hb->mu);
		until = lr_mono_after(p);
		while (!hb->quit) {
			int rc = pthread_cond_timedwait(&hb->cv, &hb->mu, &until);

			if (rc == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&hb->mu);
	return NULL;
}

int wk_hb_start(wk_hb **out, const wk_config *cfg, const volatile sig_atomic_t *stop, lr_err *err)
{
	lr_redis_opts ro = cfg->redis;
	char name[256];
	wk_hb *hb;
	int rc;

	*out = NULL;
	hb = calloc(1, sizeof(*hb));
	if (hb == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	hb->cfg = cfg;
	hb->q.k = &cfg->keys;
	hb->stop = stop;
	atomic_init(&hb->status, 0);
	atomic_init(&hb->drain_end_ms, 0);
	snprintf(hb->pid, sizeof(hb->pid), "%ld", (long)getpid());
	if (gethostname(hb->host, sizeof(hb->host) - 1) < 0)
		snprintf(hb->host, sizeof(hb->host), "?");
	snprintf(hb->since, sizeof(hb->since), "%ld", (long)time(NULL));
	/* Later than any count a previous worker of this name left. */
	lr_q_stamp(&hb->sessions_at);
	snprintf(name, sizeof(name), "%s:heartbeat", cfg->name);
	ro.client_name = name;
	rc = lr_redis_open_wait(&hb->q.r, &ro, "the heartbeat", stop, err);
	if (rc < 0) {
		free(hb);
		return rc;
	}
	pthread_mutex_init(&hb->mu, NULL);
	lr_cond_init_mono(&hb->cv);
	if (pthread_create(&hb->th, NULL, hb_main, hb) != 0) {
		wk_hb_stop(hb);
		return lr_err_set(err, LR_EINTERNAL, "cannot start the heartbeat thread");
	}
	hb->started = 1;
	*out = hb;
	return 0;
}

void wk_hb_stop(wk_hb *hb)
{
	lr_err err;

	if (hb == NULL)
		return;
	if (hb->started) {
		pthread_mutex_lock(&hb->mu);
		hb->quit = 1;
		pthread_cond_signal(&hb->cv);
		pthread_mutex_unlock(&hb->mu);
		pthread_join(hb->th, NULL);
	}
	lr_err_clear(&err);
	if (lr_q_unregister(&hb->q, hb->cfg->name, &err) < 0)
		log_debug("unregister: %s", err.msg);
	lr_redis_close(hb->q.r);
	pthread_cond_destroy(&hb->cv);
	pthread_mutex_destroy(&hb->mu);
	free(hb);
}

void wk_hb_job(wk_hb *hb, const char *id, long attempt)
{
	pthread_mutex_lock(&hb->mu);
	hb->active = 1;
	snprintf(hb->job, sizeof(hb->job), "%s", id);
	hb->attempt = attempt;
	hb->last_ok_ms = lr_now_ms();
	atomic_store(&hb->status, 0);
	pthread_mutex_unlock(&hb->mu);
}

void wk_hb_idle(wk_hb *hb)
{
	pthread_mutex_lock(&hb->mu);
	hb->active = 0;
	hb->job[0] = '\0';
	hb->jobs_done++;
	atomic_store(&hb->status, 0);
	pthread_mutex_unlock(&hb->mu);
}

void wk_hb_helping(wk_hb *hb, const char *id, long attempt, const char *owner)
{
	pthread_mutex_lock(&hb->mu);
	hb->help_job[0] = '\0';
	hb->help_owner[0] = '\0';
	if (id != NULL && owner != NULL && *owner) {
		snprintf(hb->help_job, sizeof(hb->help_job), "%s", id);
		snprintf(hb->help_owner, sizeof(hb->help_owner), "%s", owner);
		hb->help_attempt = attempt;
	}
	pthread_mutex_unlock(&hb->mu);
}

void wk_hb_problem(wk_hb *hb, const char *problem)
{
	pthread_mutex_lock(&hb->mu);
	if (problem == NULL || *problem == '\0') {
		hb->problem[0] = '\0';
		hb->problem_since[0] = '\0';
	} else {
		if (hb->problem[0] == '\0')
			snprintf(hb->problem_since, sizeof(hb->problem_since), "%ld",
			         (long)time(NULL));
		snprintf(hb->problem, sizeof(hb->problem), "%s", problem);
	}
	pthread_mutex_unlock(&hb->mu);
}

long long wk_hb_sessions(wk_hb *hb, long n)
{
	long long at;

	pthread_mutex_lock(&hb->mu);
	hb->sessions = n;
	at = lr_q_stamp(&hb->sessions_at);
	pthread_mutex_unlock(&hb->mu);
	return at;
}

int wk_hb_status(const wk_hb *hb)
{
	return atomic_load(&((wk_hb *)hb)->status);
}

int wk_hb_drain_over(const wk_hb *hb)
{
	long long end = atomic_load(&((wk_hb *)hb)->drain_end_ms);

	return end > 0 && lr_now_ms() >= end;
}
