/* metrics.h - the process's Prometheus metrics: counters, gauges and
 * histograms with labels, and their text exposition (format 0.0.4).
 *
 * One registry per process. A metric family is declared once (the first call
 * with a name creates it; later calls with the same name return it) and
 * updated from any thread; values live under one mutex. Names follow
 * Prometheus' conventions: `llmrepl_` prefix, base units (`_seconds`,
 * `_bytes`), counters end in `_total`.
 *
 * Values that live elsewhere (queue depth in Redis) are filled in at scrape
 * time by collectors: functions run, in the scraping thread, before each
 * rendering. */
#ifndef LLMREPL_METRICS_H
#define LLMREPL_METRICS_H

#include "buf.h"
#include "err.h"

#include <stddef.h>

#define LR_METRIC_LABELS_MAX 3

typedef struct lr_metric lr_metric;

/* Declare (or find) a family. labels: up to 3 label names separated by
 * commas ("kind,state"), or NULL. Returns NULL only when out of memory or
 * when the name is already a family of another type (a programming error,
 * logged). Updating through NULL does nothing. */
lr_metric *lr_metric_counter(const char *name, const char *help, const char *labels);
lr_metric *lr_metric_gauge(const char *name, const char *help, const char *labels);
/* Buckets: ascending upper bounds (+Inf is added); NULL for the default
 * seconds buckets (5 ms .. 10 min). */
lr_metric *lr_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *buckets, size_t nbuckets);

/* Label values in the order the names were declared; NULL for none. */
void lr_metric_inc(lr_metric *m, double v, const char *const *values);     /* counter or gauge */
void lr_metric_set(lr_metric *m, double v, const char *const *values);     /* gauge */
void lr_metric_observe(lr_metric *m, double v, const char *const *values); /* histogram */
/* Shortcuts for one label value (or none: NULL). */
void lr_metric_inc1(lr_metric *m, const char *value);
void lr_metric_observe1(lr_metric *m, double v, const char *value);
/* Forget a gauge's series (a collector sets what exists now). */
void lr_metric_clear(lr_metric *m);

/* Run before every rendering (at most 8), one scrape at a time. */
typedef void (*lr_metrics_collector)(void *arg);
int lr_metrics_on_collect(lr_metrics_collector fn, void *arg);

/* Run the collectors, then append the exposition of every family to out. */
int lr_metrics_render(lr_buf *out);

/* The Content-Type of what lr_metrics_render produces. */
#define LR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Serve GET /metrics on "HOST:PORT" (HOST may be [v6], a name, or empty
 * for every address) from a thread of its own. One listener per process. */
typedef struct lr_metrics_server lr_metrics_server;
int lr_metrics_listen(lr_metrics_server **out, const char *host_port, lr_err *err);
void lr_metrics_stop(lr_metrics_server *s); /* accepts NULL */

/* Drop every family and collector (tests). */
void lr_metrics_reset(void);

#endif
