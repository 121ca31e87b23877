/* netaddr.c - listen addresses. */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int lr_listen_addr(struct sockaddr_storage *out, socklen_t *len, const char *host_port,
                   const char *what, lr_err *err)
{
	char host[256];
	const char *port;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (host_port == NULL)
		host_port = "";
	if (host_port[0] == '[') {
		const char *end = strchr(host_port, ']');

		if (end == NULL || end[1] != ':')
			return lr_err_set(err, LR_EINVAL, "%s '%.64s' is not [ADDRESS]:PORT", what,
			                  host_port);
		snprintf(host, sizeof(host), "%.*s", (int)(end - host_port - 1), host_port + 1);
		port = end + 2;
	} else {
		const char *colon = strrchr(host_port, ':');

		if (colon == NULL)
			return lr_err_set(err, LR_EINVAL, "%s '%.64s' is not HOST:PORT", what,
			                  host_port);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - host_port), host_port);
		port = colon + 1;
	}
	if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5)
		return lr_err_set(err, LR_EINVAL, "%s '%.64s': the port must be a number", what,
		                  host_port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0)
		return lr_err_set(err, LR_EINVAL, "%s '%.64s': %s", what, host_port,
		                  gai_strerror(rc));
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int lr_addr_is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
	return 0;
}
