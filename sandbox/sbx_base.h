/* sbx_base.h - the library's smallest shared pieces: the monotonic clock
 * and fd helpers. They use nothing else of the library, so every file may
 * use them (sbx_mount.c too, which sbx_host.c reaches through the child).
 * Internal to the library. */
#ifndef LLMREPL_SBX_BASE_H
#define LLMREPL_SBX_BASE_H

double sbx_now(void); /* CLOCK_MONOTONIC seconds */

/* Close *fd if open and mark it closed (-1); safe to repeat. */
void sbx_close_fd(int *fd);
void sbx_set_nonblock(int fd);

#endif
