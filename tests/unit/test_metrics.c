/* Unit tests for common/metrics: families, labels, histograms and the text
 * exposition (promtool checks the served output in tests/integration). */
#include "check.h"
#include "metrics.h"

#include <stdlib.h>

static char *render(void)
{
	lr_buf b;

	lr_buf_init(&b, 0);
	CHECK(lr_metrics_render(&b) == 0);
	return lr_buf_steal(&b);
}

TEST(counter_gauge_labels_escaped)
{
	lr_metric *c = lr_metric_counter("llmrepl_test_total", "A \\ help\nline.", "kind,state");
	lr_metric *g = lr_metric_gauge("llmrepl_test_depth", "Depth.", NULL);
	const char *v1[2] = {"evaluate", "done"};
	const char *v2[2] = {"we\"ird\\", "x\ny"};
	char *out;

	CHECK(c != NULL && g != NULL);
	CHECK(lr_metric_counter("llmrepl_test_total", "again", "kind,state") == c);
	CHECK(lr_metric_gauge("llmrepl_test_total", "wrong type", NULL) == NULL);
	lr_metric_inc(c, 1, v1);
	lr_metric_inc(c, 2, v1);
	lr_metric_inc(c, -5, v1); /* counters never go down */
	lr_metric_inc(c, 1, v2);
	lr_metric_set(g, 0.25, NULL);
	lr_metric_inc(NULL, 1, NULL); /* no-op */
	out = render();
	CHECK_CONTAINS(out, "# HELP llmrepl_test_total A \\\\ help\\nline.\n");
	CHECK_CONTAINS(out, "# TYPE llmrepl_test_total counter\n");
	CHECK_CONTAINS(out, "llmrepl_test_total{kind=\"evaluate\",state=\"done\"} 3\n");
	CHECK_CONTAINS(out, "llmrepl_test_total{kind=\"we\\\"ird\\\\\",state=\"x\\ny\"} 1\n");
	CHECK_CONTAINS(out, "# TYPE llmrepl_test_depth gauge\nllmrepl_test_depth 0.25\n");
	free(out);
	lr_metric_clear(g);
	out = render();
	CHECK(strstr(out, "llmrepl_test_depth 0.25") == NULL);
	free(out);
	lr_metrics_reset();
}

static int collected;

static void collector(void *arg)
{
	collected++;
	lr_metric_set((lr_metric *)arg, collected, NULL);
}

TEST(histogram_and_collectors)
{
	static const double b[] = {0.1, 1, 2.5};
	lr_metric *h = lr_metric_histogram("llmrepl_test_seconds", "Time.", "kind", b, 3);
	lr_metric *g = lr_metric_gauge("llmrepl_test_scrapes", "Scrapes.", NULL);
	char *out;

	lr_metric_observe1(h, 0.05, "a");
	lr_metric_observe1(h, 0.5, "a");
	lr_metric_observe1(h, 7, "a");
	CHECK(lr_metrics_on_collect(collector, g) == 0);
	out = render();
	CHECK_CONTAINS(out, "# TYPE llmrepl_test_seconds histogram\n"
	                    "llmrepl_test_seconds_bucket{kind=\"a\",le=\"0.1\"} 1\n"
	                    "llmrepl_test_seconds_bucket{kind=\"a\",le=\"1\"} 2\n"
	                    "llmrepl_test_seconds_bucket{kind=\"a\",le=\"2.5\"} 2\n"
	                    "llmrepl_test_seconds_bucket{kind=\"a\",le=\"+Inf\"} 3\n"
	                    "llmrepl_test_seconds_sum{kind=\"a\"} 7.55\n"
	                    "llmrepl_test_seconds_count{kind=\"a\"} 3\n");
	CHECK_CONTAINS(out, "llmrepl_test_scrapes 1\n");
	free(out);
	out = render();
	CHECK_CONTAINS(out, "llmrepl_test_scrapes 2\n");
	free(out);
	/* Default buckets are seconds from 5 ms. */
	h = lr_metric_histogram("llmrepl_test2_seconds", "T.", NULL, NULL, 0);
	lr_metric_observe(h, 0.001, NULL);
	out = render();
	CHECK_CONTAINS(out, "llmrepl_test2_seconds_bucket{le=\"0.005\"} 1\n");
	CHECK_CONTAINS(out, "llmrepl_test2_seconds_bucket{le=\"600\"} 1\n");
	free(out);
	lr_metrics_reset();
}

int main(void)
{
	RUN(counter_gauge_labels_escaped);
	RUN(histogram_and_collectors);
	return check_summary();
}
