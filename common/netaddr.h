/* netaddr.h - a listen address from "HOST:PORT" text, for the binaries'
 * HTTP listeners (the metrics endpoint, the dispatcher's API). */
#ifndef LLMREPL_NETADDR_H
#define LLMREPL_NETADDR_H

#include "err.h"

#include <sys/socket.h>

/* "HOST:PORT", "[v6]:PORT" or ":PORT" (every address). HOST may be a name;
 * PORT is numeric (0: any free port). `what` names the setting in messages. */
int lr_listen_addr(struct sockaddr_storage *out, socklen_t *len, const char *host_port,
                   const char *what, lr_err *err);

/* Is it a loopback address (127.0.0.0/8, ::1)? */
int lr_addr_is_loopback(const struct sockaddr_storage *a);

#endif
