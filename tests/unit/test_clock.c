/* Unit tests for common/clock: the monotonic and wall clocks, sleeping, backoff, jitter. */
#include "check.h"
#include "clock.h"

TEST(clock_monotonic_agrees_with_itself)
{
	long long ns = lr_now_ns(), ms = lr_now_ms();
	double s = lr_now_s();

	CHECK(ns > 0);
	CHECK(ms >= ns / 1000000LL);
	CHECK(s >= (double)(ns / 1000000000LL));
	CHECK(lr_now_ns() >= ns);
	/* 2020-01-01 in ms: the wall clock is the epoch's, not the monotonic one. */
	CHECK(lr_realtime_ms() > 1577836800000LL);
}

TEST(clock_sleep_reports_what_is_left)
{
	CHECK(lr_sleep_ms(0) == 0);
	CHECK(lr_sleep_ms(-5) == 0);
	CHECK(lr_sleep_ms(1) == 0);
}

TEST(clock_backoff_doubles_to_the_cap_with_equal_jitter)
{
	for (int i = 0; i < 200; i++) {
		long d0 = lr_backoff_ms(0, 100, 2000);
		long d3 = lr_backoff_ms(3, 100, 2000);
		long dn = lr_backoff_ms(60, 100, 2000);

		CHECK(d0 >= 50 && d0 <= 100);
		CHECK(d3 >= 400 && d3 <= 800);
		CHECK(dn >= 1000 && dn <= 2000);
	}
	/* A cap below the base, or a zero base, still gives a sane delay. */
	CHECK(lr_backoff_ms(0, 500, 10) >= 250 && lr_backoff_ms(0, 500, 10) <= 500);
	CHECK(lr_backoff_ms(5, 0, 0) <= 1);
	/* Huge attempt counts do not overflow. */
	CHECK(lr_backoff_ms(1 << 30, 1000, 86400000) <= 86400000);
}

TEST(clock_backoff_spreads)
{
	long lo = 1 << 30, hi = 0;

	for (int i = 0; i < 200; i++) {
		long d = lr_backoff_ms(4, 100, 10000);

		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	CHECK(hi > lo); /* 200 draws over [800, 1600] */
}

TEST(clock_jitter_is_a_spread_fraction)
{
	double lo = 1, hi = 0;

	for (int i = 0; i < 200; i++) {
		double j = lr_jitter();

		CHECK(j >= 0 && j < 1);
		lo = j < lo ? j : lo;
		hi = j > hi ? j : hi;
	}
	CHECK(hi > lo);
}

int main(void)
{
	RUN(clock_monotonic_agrees_with_itself);
	RUN(clock_sleep_reports_what_is_left);
	RUN(clock_backoff_doubles_to_the_cap_with_equal_jitter);
	RUN(clock_backoff_spreads);
	RUN(clock_jitter_is_a_spread_fraction);
	return check_summary();
}
