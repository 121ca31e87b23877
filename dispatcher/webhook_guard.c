/* webhook_guard.c - which addresses a callback may reach. */
#include "webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void wh_config_default(wh_config *c)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = 10000;
	c->max_attempts = 8;
	c->backoff_ms = 1000;
	c->backoff_max_ms = 300000;
	c->response_max = 64 * 1024;
}

static int cidr_parse(wh_cidr *c, const char *s, size_t n, lr_err *err)
{
	char buf[80];
	char *slash;
	int maxp;

	if (n == 0 || n >= sizeof(buf))
		return lr_err_set(err, LR_EINVAL, "callback-allow: bad range '%.*s'", (int)n, s);
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		maxp = 128;
	} else {
		return lr_err_set(err, LR_EINVAL,
		                  "callback-allow: '%s' is not an IP address or CIDR range", buf);
	}
	c->prefix = maxp;
	if (slash) {
		char *end = NULL;
		long p = strtol(slash + 1, &end, 10);

		if (end == slash + 1 || *end != '\0' || p < 0 || p > maxp)
			return lr_err_set(err, LR_EINVAL, "callback-allow: bad prefix in '%.*s'",
			                  (int)n, s);
		c->prefix = (int)p;
	}
	return 0;
}

int wh_cidr_parse_list(wh_cidr *out, size_t max, size_t *n, const char *list, lr_err *err)
{
	const char *p = list;

	*n = 0;
	if (!p)
		return 0;
	while (*p) {
		size_t len = strcspn(p, ", ");

		if (len > 0) {
			int rc;

			if (*n == max)
				return lr_err_set(err, LR_EINVAL,
				                  "callback-allow: more than %zu ranges", max);
			rc = cidr_parse(&out[*n], p, len, err);
			if (rc < 0)
				return rc;
			(*n)++;
		}
		p += len;
		while (*p == ',' || *p == ' ')
			p++;
	}
	return 0;
}

static int in_range(int family, const uint8_t *a, const wh_cidr *c)
{
	int bits = c->prefix;

	if (family != c->family)
		return 0;
	for (int i = 0; bits > 0; i++, bits -= 8) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((a[i] & mask) != (c->addr[i] & mask))
			return 0;
	}
	return 1;
}

/* What the guard refuses by default. */
static const struct {
	const char *range;
	const char *why;
} denied[] = {
    {"0.0.0.0/8", "this-network"},
    {"10.0.0.0/8", "private"},
    {"100.64.0.0/10", "shared (carrier-grade NAT)"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local"},
    {"172.16.0.0/12", "private"},
    {"192.0.0.0/24", "IETF protocol assignments"},
    {"192.168.0.0/16", "private"},
    {"198.18.0.0/15", "benchmarking"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"64:ff9b::/96", "NAT64"},
    {"fc00::/7", "unique local (private)"},
    {"fe80::/10", "link-local"},
    {"ff00::/8", "multicast"},
};

int wh_addr_refused(const void *sockaddr, const wh_cidr *allow, size_t nallow, const char **why)
{
	const struct sockaddr *sa = sockaddr;
	uint8_t a[16];
	int family = sa->sa_family;

	*why = NULL;
	if (family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sockaddr)->sin_addr, 4);
	} else if (family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sockaddr)->sin6_addr, 16);
		/* An IPv4-mapped address is judged as the IPv4 address. */
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else {
		*why = "not an IP address";
		return 1;
	}
	for (size_t i = 0; i < nallow; i++)
		if (in_range(family, a, &allow[i]))
			return 0;
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		wh_cidr c;

		if (cidr_parse(&c, denied[i].range, strlen(denied[i].range), NULL) == 0 &&
		    in_range(family, a, &c)) {
			*why = denied[i].why;
			return 1;
		}
	}
	return 0;
}
