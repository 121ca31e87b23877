/* webhook.c - the delivery thread and one guarded, signed POST. */
#include "webhook.h"

#include "clock.h"
#include "json.h"
#include "log.h"
#include "queue.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define TAKE_LIMIT 8
#define IDLE_MS    200

struct wh_sender {
	wh_config cfg;
	lr_keys keys;
	lr_redis_opts ropts;
	lr_q q; /* its own connection, and keys */
	wh_cidr allow[WH_ALLOW_MAX];
	size_t nallow;
	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t mu; /* with cv: wh_stop ends a pause at once */
	pthread_cond_t cv;
};

/* ---- one POST ------------------------------------------------------------ */

typedef struct sink {
	size_t got, max;
} sink;

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	sink *s = arg;

	(void)p;
	s->got += size * n;
	return s->got > s->max ? 0 : size * n; /* 0 aborts the transfer */
}

static void hmac_hex(char out[65], const char *key, const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, len, mac, &maclen);
	for (unsigned i = 0; i < maclen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	out[64] = '\0';
}

/* Resolve the URL's host and check every address; *pin gets
 * "host:port:address" for CURLOPT_RESOLVE. */
static int guard(const wh_cidr *allow, size_t nallow, const char *url, char *pin, size_t pinlen,
                 lr_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	struct addrinfo hints, *ai = NULL;
	char addr[64] = "";
	int rc = 0;
	int gai;

	if (u == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		rc = lr_err_set(err, LR_EINVAL, "callback_url is not a valid URL");
		goto done;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		rc = lr_err_set(err, LR_EINVAL, "callback_url scheme '%s' is not http or https",
		                scheme);
		goto done;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	{
		/* curl keeps IPv6 hosts in brackets. */
		char h[256];
		size_t hl = strlen(host);

		if (host[0] == '[' && hl > 2 && hl < sizeof(h))
			snprintf(h, sizeof(h), "%.*s", (int)(hl - 2), host + 1);
		else
			snprintf(h, sizeof(h), "%s", host);
		gai = getaddrinfo(h, port, &hints, &ai);
	}
	if (gai != 0) {
		rc = lr_err_set(err, LR_EIO, "cannot resolve %s: %s", host, gai_strerror(gai));
		goto done;
	}
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		const char *why = NULL;
		char text[64] = "";

		if (p->ai_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)p->ai_addr)->sin_addr, text,
			          sizeof(text));
		else if (p->ai_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)p->ai_addr)->sin6_addr, text,
			          sizeof(text));
		if (wh_addr_refused(p->ai_addr, allow, nallow, &why)) {
			rc = lr_err_set(err, LR_EINVAL,
			                "callback to %s refused: %s is a %s address (see "
			                "--callback-allow)",
			                host, text, why);
			goto done;
		}
		if (addr[0] == '\0')
			snprintf(addr, sizeof(addr), p->ai_family == AF_INET6 ? "[%s]" : "%s",
			         text);
	}
	if (addr[0] == '\0') {
		rc = lr_err_set(err, LR_EIO, "no address for %s", host);
		goto done;
	}
	snprintf(pin, pinlen, "%s:%s:%s", host, port, addr);
done:
	if (ai)
		freeaddrinfo(ai);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int wh_post(const wh_config *cfg, const wh_cidr *allow, size_t nallow, const wh_delivery *d,
            long *status, lr_err *err)
{
	char pin[400];
	char hdr[4][160];
	char sig[65];
	struct curl_slist *headers = NULL, *resolve = NULL;
	sink s = {0, cfg->response_max};
	CURL *c;
	CURLcode cc;
	int rc;

	*status = 0;
	rc = guard(allow, nallow, d->url, pin, sizeof(pin), err);
	if (rc < 0)
		return rc;
	c = curl_easy_init();
	if (c == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	snprintf(hdr[0], sizeof(hdr[0]), "X-Llmrepl-Delivery: %s", d->id);
	snprintf(hdr[1], sizeof(hdr[1]), "X-Llmrepl-Attempt: %ld", d->attempt);
	snprintf(hdr[2], sizeof(hdr[2]), "Content-Type: application/json");
	headers = curl_slist_append(headers, hdr[0]);
	headers = curl_slist_append(headers, hdr[1]);
	headers = curl_slist_append(headers, hdr[2]);
	headers = curl_slist_append(headers, "Expect:");
	if (cfg->secret != NULL && cfg->secret[0] != '\0') {
		hmac_hex(sig, cfg->secret, d->body, d->len);
		snprintf(hdr[3], sizeof(hdr[3]), "X-Llmrepl-Signature: sha256=%s", sig);
		headers = curl_slist_append(headers, hdr[3]);
	}
	resolve = curl_slist_append(NULL, pin);
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cfg->timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "llmrepl-callback/1");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)d->len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (cc == CURLE_WRITE_ERROR && s.got > s.max)
		rc = lr_err_set(err, LR_ETOOBIG, "the response was over %zu bytes", s.max);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		rc = lr_err_set(err, LR_ETIMEOUT, "no answer within %ld ms", cfg->timeout_ms);
	else if (cc != CURLE_OK)
		rc = lr_err_set(err, LR_EIO, "%s", curl_easy_strerror(cc));
	else if (*status < 200 || *status > 299)
		rc = lr_err_set(err, LR_EIO, "HTTP status %ld", *status);
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(c);
	return rc;
}

/* ---- the body -------------------------------------------------------------- */

static char *body_of(const lr_q_callback *cb)
{
	json_object *o = json_object_new_object();
	json_object *res = NULL;
	char *out = NULL;
	int rc = 0;

	if (o == NULL)
		return NULL;
	rc |= lr_json_set_str(o, "id", cb->id);
	rc |= lr_json_set_str(o, "state", cb->state);
	if (cb->passed[0])
		rc |= lr_json_set_bool(o, "passed", strcmp(cb->passed, "1") == 0);
	else
		rc |= lr_json_set_obj(o, "passed", NULL);
	rc |= lr_json_set_obj(o, "error", cb->error[0] ? json_object_new_string(cb->error) : NULL);
	rc |= lr_json_set_obj(o, "summary",
	                      cb->summary[0] ? json_object_new_string(cb->summary) : NULL);
	if (cb->result_len > 0) {
		res = json_tokener_parse(cb->result);
		if (res == NULL)
			res = json_object_new_string_len(cb->result, (int)cb->result_len);
	}
	rc |= lr_json_set_obj(o, "result", res);
	if (rc == 0)
		out = lr_json_dump(o);
	json_object_put(o);
	return out;
}

/* ---- the thread -------------------------------------------------------------- */

static long retry_delay(const wh_config *cfg, long attempt)
{
	double d = (double)cfg->backoff_ms;

	for (long i = 1; i < attempt && d < (double)cfg->backoff_max_ms; i++)
		d *= 2;
	if (d > (double)cfg->backoff_max_ms)
		d = (double)cfg->backoff_max_ms;
	return (long)(d * (0.8 + 0.4 * (double)(rand() % 1000) / 1000.0));
}

static void deliver(wh_sender *s, const lr_q_callback *cb)
{
	char *body = body_of(cb);
	char status[24];
	lr_q_cb_attempt at = {LR_CB_RETRY, status, "", 0};
	long code = 0;
	lr_err why, err;
	int rc;

	lr_err_clear(&why);
	lr_err_clear(&err);
	if (body == NULL) {
		rc = lr_err_set(&why, LR_ENOMEM, "out of memory building the body");
	} else {
		wh_delivery d = {cb->url, cb->id, cb->attempt, body, strlen(body)};

		rc = wh_post(&s->cfg, s->allow, s->nallow, &d, &code, &why);
	}
	free(body);
	snprintf(status, sizeof(status), "%ld", code);
	if (rc == 0)
		at.outcome = LR_CB_DELIVERED;
	else if (rc == LR_EINVAL || cb->attempt >= s->cfg.max_attempts)
		at.outcome = LR_CB_FAILED; /* refused by the guard, or out of attempts */
	else
		at.outcome = LR_CB_RETRY;
	if (at.outcome == LR_CB_RETRY)
		at.retry_in_ms = retry_delay(&s->cfg, cb->attempt);
	if (rc != 0)
		at.detail = why.msg;
	if (rc == 0)
		log_info("job %s: callback delivered (attempt %ld, HTTP %ld)", cb->id, cb->attempt,
		         code);
	else
		log_warn("job %s: callback attempt %ld: %s -> %s", cb->id, cb->attempt, why.msg,
		         lr_q_cb_outcome_name(at.outcome));
	rc = lr_q_cb_report(&s->q, cb->id, cb->attempt, &at, &err);
	if (rc < 0)
		log_warn("job %s: callback outcome not recorded: %s", cb->id, err.msg);
}

/* Wait ms milliseconds, or until wh_stop. */
static void pause_ms(wh_sender *s, long ms)
{
	struct timespec until = lr_mono_after(ms);

	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stop) &&
	       pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->mu);
}

static void *run(void *arg)
{
	wh_sender *s = arg;
	/* A taken entry comes back after the lease: longer than a delivery. */
	long lease = 2 * s->cfg.timeout_ms + 5000;
	int down = 0;

	while (!atomic_load(&s->stop)) {
		lr_q_callback *cbs = NULL;
		redisReply *keep = NULL;
		size_t n = 0;
		lr_err err;
		int rc;

		lr_err_clear(&err);
		rc = lr_q_cb_take(&s->q, lease, TAKE_LIMIT, &cbs, &n, &keep, &err);
		if (rc < 0) {
			if (!down++)
				log_warn("callbacks: %s; retrying", err.msg);
			pause_ms(s, lr_backoff_ms(down, 100, 2000));
			continue;
		}
		down = 0;
		for (size_t i = 0; i < n && !atomic_load(&s->stop); i++)
			deliver(s, &cbs[i]);
		free(cbs);
		if (keep)
			freeReplyObject(keep);
		if (n == 0)
			pause_ms(s, IDLE_MS);
	}
	return NULL;
}

int wh_start(wh_sender **out, const lr_redis_opts *redis_opts, const lr_keys *keys,
             const wh_config *cfg, const volatile sig_atomic_t *stop, lr_err *err)
{
	wh_sender *s;
	int rc;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return lr_err_set(err, LR_EUNAVAIL, "libcurl did not initialise");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	s->cfg = *cfg;
	s->keys = *keys;
	s->q.k = &s->keys;
	s->ropts = *redis_opts;
	s->ropts.client_name = "llmrepl-callbacks";
	s->ropts.wait_replicas = 0;
	rc = wh_cidr_parse_list(s->allow, WH_ALLOW_MAX, &s->nallow, cfg->allow, err);
	if (rc == 0)
		rc = lr_redis_open_wait(&s->q.r, &s->ropts, "webhooks", stop, err);
	if (rc == 0) {
		pthread_mutex_init(&s->mu, NULL);
		lr_cond_init_mono(&s->cv);
	}
	if (rc == 0 && pthread_create(&s->thread, NULL, run, s) != 0) {
		rc = lr_err_set(err, LR_EIO, "cannot start the callback thread");
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
	}
	if (rc < 0) {
		lr_redis_close(s->q.r);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void wh_stop(wh_sender *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stop, 1);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	lr_redis_close(s->q.r);
	free(s);
}
