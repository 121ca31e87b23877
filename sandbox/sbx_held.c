/* sbx_held.c - a held interpreter: one sandboxed python that lives across
 * many requests (a REPL session's), with every protection of a cold run.
 *
 * It starts like a cold run, with a request framed "LLMREPL-STDIN <n>\n":
 * the rest of the request stream stays open and carries frames, each
 * "<n>\n" + n bytes; the interpreter answers each with one frame on its
 * answer fd. Its stdout and stderr are captured per frame. A frame that is
 * not answered within its time, or output over the cap, kills the whole
 * tree; so does sbx_held_free. Memory, processes and the rest of the limits
 * hold for the interpreter's whole life (its cgroup). */
#include "sbx.h"

#include "sbx_host.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FRAME_HEAD_MAX 24
#define GONE_GRACE_S   1.0
#define KILL_GRACE_S   5.0

struct sbx_held {
	sbx_cold c;
	sbx_limits lim;
	sbx_cap caps[3];
	sbx_status st;
	int dead;
};

static int send_all(sbx_held *h, const char *p, size_t len, double deadline)
{
	while (len > 0) {
		struct pollfd pf = {h->c.io.req[0], POLLOUT, 0};
		ssize_t w = send(h->c.io.req[0], p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		double left;

		if (w > 0) {
			p += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		left = deadline - sbx_now();
		if (left <= 0)
			return -1;
		if (poll(&pf, 1, (int)ceil(left * 1000)) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

static int send_frame(sbx_held *h, const char *frame, size_t len, double deadline)
{
	char head[FRAME_HEAD_MAX];
	int n = snprintf(head, sizeof(head), "%zu\n", len);

	return send_all(h, head, (size_t)n, deadline) < 0 || send_all(h, frame, len, deadline) < 0
	           ? -1
	           : 0;
}

/* A whole answer frame in the answer capture: its body's offset and length. */
static int frame_ready(const sbx_cap *a, size_t *off, size_t *len)
{
	size_t i = 0, n = 0;

	while (i < a->len && i < FRAME_HEAD_MAX && a->data[i] >= '0' && a->data[i] <= '9')
		n = n * 10 + (size_t)(a->data[i++] - '0');
	if (i == 0 || i >= a->len || a->data[i] != '\n')
		return 0;
	if (a->len - i - 1 < n)
		return 0;
	*off = i + 1;
	*len = n;
	return 1;
}

static void drain(sbx_held *h)
{
	const int fds[2] = {h->c.io.out[0], h->c.io.err[0]};

	for (int i = 0; i < 2; i++)
		if (!h->caps[i].eof && sbx_cap_read(&h->caps[i], fds[i]) < 0)
			h->caps[i].eof = 1;
}

static void cap_reset(sbx_cap *c)
{
	c->len = 0;
	c->over = 0;
}

/* The interpreter is gone (or must go): reap it and say how it ended. */
static int end_of(sbx_held *h, sbx_result *res, int killed)
{
	double until = sbx_now() + (killed ? KILL_GRACE_S : GONE_GRACE_S);
	int rc;

	if (killed)
		sbx_cold_kill(&h->c);
	/* Everything it wrote before it went, until the pipes close. */
	while (!(h->caps[0].eof && h->caps[1].eof && h->st.eof) && sbx_now() < until) {
		struct pollfd pf[3] = {{h->c.io.out[0], POLLIN, 0},
		                       {h->c.io.err[0], POLLIN, 0},
		                       {h->c.st[0], POLLIN, 0}};

		if (poll(pf, 3, 100) < 0 && errno != EINTR)
			break;
		drain(h);
		if (!h->st.eof)
			sbx_status_read(&h->st, h->c.st[0], res);
	}
	sbx_cold_kill(&h->c);
	h->caps[2].len = 0;
	rc = sbx_cold_end(&h->c, res, &h->lim, h->caps, &h->st, killed);
	h->dead = 1;
	sbx_cold_cleanup(&h->c);
	return rc;
}

/* Wait for one answer frame until deadline. */
static int await_answer(sbx_held *h, sbx_result *res, double deadline)
{
	const int fds[3] = {h->c.io.out[0], h->c.io.err[0], h->c.io.ans[0]};
	size_t off = 0, len = 0;

	for (;;) {
		struct pollfd pf[5];
		int n = 0;
		double now = sbx_now();

		if (frame_ready(&h->caps[2], &off, &len))
			break;
		if (sbx_caps_over(h->caps))
			return end_of(h, res, SBX_KILL_OUTPUT);
		if (now >= deadline)
			return end_of(h, res, SBX_KILL_TIMEOUT);
		sbx_caps_poll(h->caps, fds, pf, NULL, &n);
		if (!h->st.eof)
			pf[n++] = (struct pollfd){h->c.st[0], POLLIN, 0};
		pf[n++] = (struct pollfd){h->c.pidfd, POLLIN, 0};
		if (poll(pf, (nfds_t)n, (int)ceil((deadline - now) * 1000)) < 0 && errno != EINTR)
			return end_of(h, res, SBX_KILL_NONE);
		for (int i = 0; i < 3; i++)
			if (!h->caps[i].eof && sbx_cap_read(&h->caps[i], fds[i]) < 0)
				h->caps[i].eof = 1;
		if (!h->st.eof)
			sbx_status_read(&h->st, h->c.st[0], res);
		/* Gone (or its answer fd closed): an answer it wrote first still counts. */
		if ((pf[n - 1].revents != 0 || h->caps[2].eof) &&
		    !frame_ready(&h->caps[2], &off, &len))
			return end_of(h, res, SBX_KILL_NONE);
	}
	/* Output written before the answer is in the pipes already. */
	drain(h);
	res->end = SBX_END_EXITED;
	res->isolation = h->c.iso;
	res->out_truncated = h->caps[0].over;
	res->err_truncated = h->caps[1].over;
	res->answer = malloc(len + 1);
	if (res->answer == NULL || sbx_cap_take(&h->caps[0], &res->out, &res->out_len, 0) < 0 ||
	    sbx_cap_take(&h->caps[1], &res->err, &res->err_len, 0) < 0)
		return -1;
	memcpy(res->answer, h->caps[2].data + off, len);
	res->answer[len] = '\0';
	res->answer_len = len;
	/* Anything after the frame is not an answer to anything. */
	cap_reset(&h->caps[0]);
	cap_reset(&h->caps[1]);
	cap_reset(&h->caps[2]);
	return 0;
}

int sbx_held_start(sbx_held **out, const sbx_config *cfg, const sbx_limits *lim,
                   const char *request, size_t request_len, char *msg, size_t msglen)
{
	sbx_held *h = calloc(1, sizeof(*h));
	sbx_result res;
	char head[FRAME_HEAD_MAX + 16];
	int n;

	*out = NULL;
	memset(&res, 0, sizeof(res));
	if (h == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	sbx_cold_init(&h->c);
	h->c.tr.kind = "held";
	sbx_limits_resolve(&h->lim, lim);
	sbx_caps_init(h->caps, &h->lim);
	n = snprintf(head, sizeof(head), "LLMREPL-STDIN %zu\n", request_len);
	if (sbx_cold_start(&h->c, &res, cfg, &h->lim) < 0 ||
	    send_all(h, head, (size_t)n, sbx_now() + KILL_GRACE_S) < 0 ||
	    send_all(h, request, request_len, sbx_now() + KILL_GRACE_S) < 0) {
		snprintf(msg, msglen, "%s", res.detail[0] ? res.detail : "could not start");
		sbx_cold_cleanup(&h->c);
		free(h);
		sbx_result_free(&res);
		return -1;
	}
	sbx_result_free(&res);
	*out = h;
	return 0;
}

int sbx_held_call(sbx_held *h, sbx_result *res, const char *frame, size_t len, double timeout_s)
{
	double deadline = sbx_now() + timeout_s;
	int rc;

	sbx_result_begin(res);
	if (h->dead) {
		res->end = SBX_END_ERROR;
		snprintf(res->detail, sizeof(res->detail), "the interpreter is gone");
		return -1;
	}
	rc = send_frame(h, frame, len, deadline) < 0 ? end_of(h, res, SBX_KILL_NONE)
	                                             : await_answer(h, res, deadline);
	sbx_result_end(res);
	if (!h->dead)
		res->wall_s = sbx_now() - (deadline - timeout_s);
	return rc;
}

int sbx_held_alive(const sbx_held *h)
{
	return h != NULL && !h->dead;
}

void sbx_held_free(sbx_held *h)
{
	if (h == NULL)
		return;
	sbx_cold_cleanup(&h->c);
	sbx_caps_free(h->caps);
	free(h);
}
