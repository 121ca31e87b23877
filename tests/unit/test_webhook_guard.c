/* Unit tests for the callback guard (dispatcher/webhook_guard.c). */
#include "check.h"
#include "webhook.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static int refused(const char *ip, const wh_cidr *allow, size_t n, const char **why)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, ip, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		return wh_addr_refused(&a4, allow, n, why);
	}
	inet_pton(AF_INET6, ip, &a6.sin6_addr);
	a6.sin6_family = AF_INET6;
	return wh_addr_refused(&a6, allow, n, why);
}

TEST(private_loopback_link_local_refused)
{
	const char *why;

	CHECK(refused("127.0.0.1", NULL, 0, &why) == 1);
	CHECK_STR(why, "loopback");
	CHECK(refused("10.1.2.3", NULL, 0, &why) == 1);
	CHECK(refused("172.31.255.255", NULL, 0, &why) == 1);
	CHECK(refused("172.32.0.1", NULL, 0, &why) == 0);
	CHECK(refused("192.168.0.1", NULL, 0, &why) == 1);
	CHECK(refused("169.254.169.254", NULL, 0, &why) == 1);
	CHECK_STR(why, "link-local");
	CHECK(refused("100.64.0.1", NULL, 0, &why) == 1);
	CHECK(refused("0.0.0.0", NULL, 0, &why) == 1);
	CHECK(refused("224.0.0.1", NULL, 0, &why) == 1);
	CHECK(refused("255.255.255.255", NULL, 0, &why) == 1);
	CHECK(refused("8.8.8.8", NULL, 0, &why) == 0);
	CHECK(refused("::1", NULL, 0, &why) == 1);
	CHECK(refused("fe80::1", NULL, 0, &why) == 1);
	CHECK(refused("fd00::5", NULL, 0, &why) == 1);
	CHECK(refused("::ffff:127.0.0.1", NULL, 0, &why) == 1); /* v4-mapped */
	CHECK_STR(why, "loopback");
	CHECK(refused("2001:4860:4860::8888", NULL, 0, &why) == 0);
}

TEST(allow_list)
{
	wh_cidr allow[WH_ALLOW_MAX];
	size_t n = 0;
	const char *why;
	lr_err e;

	CHECK(wh_cidr_parse_list(allow, WH_ALLOW_MAX, &n, "127.0.0.0/8, 10.1.0.0/16,::1", &e) == 0);
	CHECK(n == 3);
	CHECK(refused("127.9.9.9", allow, n, &why) == 0);
	CHECK(refused("10.1.200.1", allow, n, &why) == 0);
	CHECK(refused("10.2.0.1", allow, n, &why) == 1);
	CHECK(refused("::1", allow, n, &why) == 0);
	CHECK(refused("::ffff:127.0.0.1", allow, n, &why) == 0);
	CHECK(wh_cidr_parse_list(allow, WH_ALLOW_MAX, &n, "", &e) == 0 && n == 0);
	CHECK(wh_cidr_parse_list(allow, WH_ALLOW_MAX, &n, "10.0.0.0/33", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "bad prefix");
	CHECK(wh_cidr_parse_list(allow, WH_ALLOW_MAX, &n, "example.com", &e) == LR_EINVAL);
	CHECK_CONTAINS(e.msg, "not an IP address");
}

int main(void)
{
	RUN(private_loopback_link_local_refused);
	RUN(allow_list);
	return check_summary();
}
