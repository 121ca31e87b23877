/* metrics.c - the registry and the Prometheus text exposition. */
#include "metrics.h"

#include "log.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLECTORS_MAX 8

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } m_type;

typedef struct series {
	struct series *next;
	char *values[LR_METRIC_LABELS_MAX];
	double v;        /* counter, gauge; histogram: sum */
	double count;    /* histogram */
	double *buckets; /* histogram: cumulative counts per bound */
} series;

struct lr_metric {
	struct lr_metric *next;
	char *name;
	char *help;
	m_type type;
	char *labels[LR_METRIC_LABELS_MAX];
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	series *series;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* Collectors run one scrape at a time (they may own a connection). */
static pthread_mutex_t collect_mu = PTHREAD_MUTEX_INITIALIZER;
static lr_metric *families, **families_tail = &families;
static struct {
	lr_metrics_collector fn;
	void *arg;
} collectors[COLLECTORS_MAX];
static size_t ncollectors;

static const double default_seconds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                         2.5,   5,    10,    30,   60,  120,  300, 600};

static void series_free(series *s)
{
	for (size_t i = 0; i < LR_METRIC_LABELS_MAX; i++)
		free(s->values[i]);
	free(s->buckets);
	free(s);
}

static void family_free(lr_metric *m)
{
	for (series *s = m->series, *n; s; s = n) {
		n = s->next;
		series_free(s);
	}
	for (size_t i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	free(m->name);
	free(m->help);
	free(m->bounds);
	free(m);
}

static int split_labels(lr_metric *m, const char *labels)
{
	const char *p = labels;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		if (m->nlabels == LR_METRIC_LABELS_MAX)
			return -1;
		m->labels[m->nlabels] = strndup(p, n);
		if (m->labels[m->nlabels] == NULL)
			return -1;
		m->nlabels++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static lr_metric *declare(const char *name, const char *help, const char *labels, m_type type,
                          const double *bounds, size_t nbounds)
{
	lr_metric *m;

	pthread_mutex_lock(&mu);
	for (m = families; m; m = m->next) {
		if (strcmp(m->name, name) == 0) {
			pthread_mutex_unlock(&mu);
			if (m->type != type) {
				log_error("metric %s declared twice with different types", name);
				return NULL;
			}
			return m;
		}
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		goto oom;
	m->type = type;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	if (m->name == NULL || m->help == NULL || split_labels(m, labels) < 0)
		goto oom;
	if (type == M_HISTOGRAM) {
		if (bounds == NULL) {
			bounds = default_seconds;
			nbounds = sizeof(default_seconds) / sizeof(default_seconds[0]);
		}
		m->bounds = malloc(nbounds * sizeof(double));
		if (m->bounds == NULL)
			goto oom;
		memcpy(m->bounds, bounds, nbounds * sizeof(double));
		m->nbounds = nbounds;
	}
	*families_tail = m;
	families_tail = &m->next;
	pthread_mutex_unlock(&mu);
	return m;
oom:
	if (m)
		family_free(m);
	pthread_mutex_unlock(&mu);
	return NULL;
}

lr_metric *lr_metric_counter(const char *name, const char *help, const char *labels)
{
	return declare(name, help, labels, M_COUNTER, NULL, 0);
}

lr_metric *lr_metric_gauge(const char *name, const char *help, const char *labels)
{
	return declare(name, help, labels, M_GAUGE, NULL, 0);
}

lr_metric *lr_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *buckets, size_t nbuckets)
{
	return declare(name, help, labels, M_HISTOGRAM, buckets, nbuckets);
}

/* The series for these label values, created when new. Under mu. */
static series *find(lr_metric *m, const char *const *values)
{
	series *s;

	for (s = m->series; s; s = s->next) {
		size_t i;

		for (i = 0; i < m->nlabels; i++) {
			const char *v = values && values[i] ? values[i] : "";

			if (strcmp(s->values[i], v) != 0)
				break;
		}
		if (i == m->nlabels)
			return s;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < m->nlabels; i++) {
		s->values[i] = strdup(values && values[i] ? values[i] : "");
		if (s->values[i] == NULL) {
			series_free(s);
			return NULL;
		}
	}
	if (m->type == M_HISTOGRAM) {
		s->buckets = calloc(m->nbounds, sizeof(double));
		if (s->buckets == NULL) {
			series_free(s);
			return NULL;
		}
	}
	/* Keep the first-seen order: stable output. */
	{
		series **tail = &m->series;

		while (*tail)
			tail = &(*tail)->next;
		*tail = s;
	}
	return s;
}

static void update(lr_metric *m, double v, const char *const *values, int how)
{
	series *s;

	if (m == NULL || isnan(v))
		return;
	pthread_mutex_lock(&mu);
	s = find(m, values);
	if (s != NULL) {
		if (how == 0) {
			if (m->type != M_COUNTER || v >= 0)
				s->v += v;
		} else if (how == 1) {
			s->v = v;
		} else if (m->type == M_HISTOGRAM) {
			s->v += v;
			s->count += 1;
			for (size_t i = 0; i < m->nbounds; i++)
				if (v <= m->bounds[i])
					s->buckets[i] += 1;
		}
	}
	pthread_mutex_unlock(&mu);
}

void lr_metric_inc(lr_metric *m, double v, const char *const *values)
{
	update(m, v, values, 0);
}

void lr_metric_set(lr_metric *m, double v, const char *const *values)
{
	update(m, v, values, 1);
}

void lr_metric_observe(lr_metric *m, double v, const char *const *values)
{
	update(m, v, values, 2);
}

void lr_metric_inc1(lr_metric *m, const char *value)
{
	const char *v[1] = {value};

	update(m, 1, value ? v : NULL, 0);
}

void lr_metric_observe1(lr_metric *m, double v, const char *value)
{
	const char *vals[1] = {value};

	update(m, v, value ? vals : NULL, 2);
}

void lr_metric_clear(lr_metric *m)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&mu);
	for (series *s = m->series, *n; s; s = n) {
		n = s->next;
		series_free(s);
	}
	m->series = NULL;
	pthread_mutex_unlock(&mu);
}

int lr_metrics_on_collect(lr_metrics_collector fn, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&mu);
	if (ncollectors == COLLECTORS_MAX) {
		rc = LR_ETOOBIG;
	} else {
		collectors[ncollectors].fn = fn;
		collectors[ncollectors].arg = arg;
		ncollectors++;
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

/* ---- exposition ---------------------------------------------------------- */

static void put_escaped(lr_buf *b, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			lr_buf_puts(b, "\\\\");
		else if (*s == '\n')
			lr_buf_puts(b, "\\n");
		else if (quote && *s == '"')
			lr_buf_puts(b, "\\\"");
		else
			lr_buf_append(b, s, 1);
	}
}

/* The shortest text that reads back as v. */
static void fmt_double(char out[32], double v)
{
	if (isinf(v)) {
		snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(out, 32, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void put_value(lr_buf *b, double v)
{
	char tmp[32];

	fmt_double(tmp, v);
	lr_buf_puts(b, tmp);
}

/* name{l="v",...[,le="x"]} value */
static void put_sample(lr_buf *b, const lr_metric *m, const char *suffix, const series *s,
                       const char *le, double v)
{
	int any = 0;

	lr_buf_puts(b, m->name);
	lr_buf_puts(b, suffix);
	for (size_t i = 0; i < m->nlabels; i++) {
		lr_buf_puts(b, any++ ? "," : "{");
		lr_buf_printf(b, "%s=\"", m->labels[i]);
		put_escaped(b, s->values[i], 1);
		lr_buf_puts(b, "\"");
	}
	if (le != NULL) {
		lr_buf_puts(b, any++ ? "," : "{");
		lr_buf_printf(b, "le=\"%s\"", le);
	}
	lr_buf_puts(b, any ? "} " : " ");
	put_value(b, v);
	lr_buf_puts(b, "\n");
}

static void render_family(lr_buf *b, const lr_metric *m)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};

	lr_buf_printf(b, "# HELP %s ", m->name);
	put_escaped(b, m->help, 0);
	lr_buf_printf(b, "\n# TYPE %s %s\n", m->name, types[m->type]);
	for (const series *s = m->series; s; s = s->next) {
		if (m->type != M_HISTOGRAM) {
			put_sample(b, m, "", s, NULL, s->v);
			continue;
		}
		for (size_t i = 0; i < m->nbounds; i++) {
			char le[32];

			fmt_double(le, m->bounds[i]);
			put_sample(b, m, "_bucket", s, le, s->buckets[i]);
		}
		put_sample(b, m, "_bucket", s, "+Inf", s->count);
		put_sample(b, m, "_sum", s, NULL, s->v);
		put_sample(b, m, "_count", s, NULL, s->count);
	}
}

int lr_metrics_render(lr_buf *out)
{
	lr_metrics_collector fns[COLLECTORS_MAX];
	void *args[COLLECTORS_MAX];
	size_t n;

	pthread_mutex_lock(&mu);
	n = ncollectors;
	for (size_t i = 0; i < n; i++) {
		fns[i] = collectors[i].fn;
		args[i] = collectors[i].arg;
	}
	pthread_mutex_unlock(&mu);
	pthread_mutex_lock(&collect_mu);
	for (size_t i = 0; i < n; i++)
		fns[i](args[i]);
	pthread_mutex_lock(&mu);
	for (const lr_metric *m = families; m; m = m->next)
		render_family(out, m);
	pthread_mutex_unlock(&mu);
	pthread_mutex_unlock(&collect_mu);
	return lr_buf_error(out);
}

void lr_metrics_reset(void)
{
	pthread_mutex_lock(&mu);
	for (lr_metric *m = families, *n; m; m = n) {
		n = m->next;
		family_free(m);
	}
	families = NULL;
	families_tail = &families;
	ncollectors = 0;
	pthread_mutex_unlock(&mu);
}
