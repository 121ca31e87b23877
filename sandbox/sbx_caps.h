/* sbx_caps.h - a run's three captures (stdout, stderr, the answer): each
 * read with a cap from a non-blocking fd, then moved into the result. What
 * the host does with them while a run goes is the same for a cold run
 * (sbx_cold.c), a held interpreter (sbx_held.c) and a pooled run
 * (sbx_pool.c). Internal to the library. */
#ifndef LLMREPL_SBX_CAPS_H
#define LLMREPL_SBX_CAPS_H

#include "sbx.h"
#include "sbx_trace.h"

#include <poll.h>
#include <stddef.h>

/* A bounded capture of one stream. */
typedef struct sbx_cap {
	char *data;
	size_t len;
	size_t alloc;
	size_t max;
	int over; /* more than max arrived */
	int eof;
} sbx_cap;

/* Read what is available from a non-blocking fd. Returns -1 on allocation
 * failure, else 0 (eof and over tell the rest). */
int sbx_cap_read(sbx_cap *c, int fd);
/* One of a run's three captures (stdout, stderr, the answer) is readable:
 * read it, taking an allocation failure as its end, and mark the trace when
 * the answer (caps[2]) has ended. */
void sbx_caps_ready(sbx_cap caps[3], int which, int fd, sbx_trace *tr);
/* Move the bytes into *out (NUL-terminated, with the truncation mark when
 * cut); returns -1 on allocation failure. */
int sbx_cap_take(sbx_cap *c, char **out, size_t *len, int mark);
/* A run's three captures into res: out and err with their truncation
 * marks, the answer when there is one. -1 on allocation failure. */
int sbx_caps_take(sbx_result *res, sbx_cap caps[3]);
void sbx_cap_free(sbx_cap *c);
/* A run's captures, empty: stdout and stderr keep lim->output_max bytes,
 * the answer lim->answer_max. */
void sbx_caps_init(sbx_cap caps[3], const sbx_limits *lim);
void sbx_caps_free(sbx_cap caps[3]);
/* Any of them got more than its cap. */
int sbx_caps_over(const sbx_cap caps[3]);
/* All of them have ended. */
int sbx_caps_eof(const sbx_cap caps[3]);
/* Those not ended yet, appended to pf[*n..] (POLLIN on fds[i]); map (may
 * be NULL) gets each one's index at the same place. */
void sbx_caps_poll(const sbx_cap caps[3], const int fds[3], struct pollfd *pf, int *map, int *n);

#endif
