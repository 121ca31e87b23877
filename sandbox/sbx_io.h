/* sbx_io.h - a run's streams, as the host makes and hands them over: the
 * code's stdout and stderr and the answer (pipes), and the request (a
 * stream socket). The same for a cold run (sbx_cold.c, sbx_held.c) and a
 * pooled one (sbx_pool.c). Internal to the library. */
#ifndef LLMREPL_SBX_IO_H
#define LLMREPL_SBX_IO_H

#include <stddef.h>

/* The host's ends [0], the run's [1]; -1 when closed. */
typedef struct sbx_io {
	int out[2], err[2], ans[2], req[2];
} sbx_io;

void sbx_io_init(sbx_io *io); /* all closed */
/* Make them (O_CLOEXEC): 0, or -1 with errno and none left open. */
int sbx_io_open(sbx_io *io);
/* The run has its ends: they are closed here; ours become non-blocking,
 * the request's for writing only. */
void sbx_io_handed(sbx_io *io);
/* Write what the request socket takes of request[*sent..len); it is
 * closed once all is sent or it failed. */
void sbx_io_send(sbx_io *io, const char *request, size_t len, size_t *sent);
void sbx_io_close(sbx_io *io); /* safe to repeat */

#endif
