/* redis_probe - exercise common/redis against a real server for
 * tests/integration/test_redis_layer.py.
 *
 *   redis_probe URL PASSWORD|- ping
 *   redis_probe URL PASSWORD|- cmd ARG...        print the reply
 *   redis_probe URL PASSWORD|- script            EVALSHA, SCRIPT FLUSH, EVALSHA again
 *   redis_probe URL PASSWORD|- cap BYTES KEY     GET KEY with replies capped at BYTES
 *   redis_probe URL PASSWORD|- block MS          XREAD BLOCK MS with a 1 s command timeout
 *   redis_probe URL PASSWORD|- survive SECONDS   PING every 20 ms; print up/down changes
 *   redis_probe URL PASSWORD|- stopped           XREAD BLOCK 0 on a connection watching a
 *                                                pipe SIGTERM writes (lr_redis_stop_on);
 *                                                then a PING and a clamped blocking read
 *
 * Exit 0 on success, 1 when the operation failed (the error on stderr). */
#include "clock.h"
#include "redis.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int stop_pipe[2] = {-1, -1};

static void on_term(int sig)
{
	(void)sig;
	if (write(stop_pipe[1], "s", 1) < 0) {
		/* readable all the same */
	}
}

/* What a daemon's stop does to its blocking read: SIGTERM ends an XREAD that
 * would block forever; the connection then still answers, and a later
 * blocking read is cut to 1 ms. Prints what each returned. */
static int stopped(lr_redis *r, lr_err *e)
{
	struct sigaction sa;
	redisReply *rep = NULL;
	int rc;

	if (pipe(stop_pipe) < 0)
		return lr_err_set(e, LR_EIO, "pipe failed");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	lr_redis_stop_on(r, stop_pipe[0]);
	printf("blocking\n");
	fflush(stdout);
	rc = lr_redis_cmd(r, &rep, e, "XREAD BLOCK 0 STREAMS probe:none $");
	if (rc == 0) {
		printf("%s, stopping %d\n", rep->type == REDIS_REPLY_NIL ? "nil" : "data",
		       lr_redis_stopping(r));
		freeReplyObject(rep);
		rc = lr_redis_cmd(r, &rep, e, "PING");
	}
	if (rc == 0) {
		printf("%s\n", rep->str);
		freeReplyObject(rep);
		printf("then block %ld ms\n", lr_redis_block_ms(r, 60000));
		rc = lr_redis_cmd(r, &rep, e, "XREAD BLOCK %ld STREAMS probe:none $",
		                  lr_redis_block_ms(r, 60000));
	}
	if (rc == 0) {
		printf("%s\n", rep->type == REDIS_REPLY_NIL ? "nil" : "data");
		freeReplyObject(rep);
	}
	return rc;
}

static void print_reply(const redisReply *r, int depth)
{
	switch (r->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS: printf("%*s%s\n", depth * 2, "", r->str); break;
	case REDIS_REPLY_INTEGER: printf("%*s%lld\n", depth * 2, "", r->integer); break;
	case REDIS_REPLY_NIL: printf("%*s(nil)\n", depth * 2, ""); break;
	case REDIS_REPLY_ARRAY:
		for (size_t i = 0; i < r->elements; i++)
			print_reply(r->element[i], depth + 1);
		break;
	default: printf("%*s?\n", depth * 2, "");
	}
}

static const lr_script probe_script = {"probe", "return {ARGV[1], 'probe'}"};

int main(int argc, char **argv)
{
	lr_redis_opts o = {0};
	lr_redis *r = NULL;
	redisReply *rep = NULL;
	lr_err e;
	int rc = 1;

	lr_err_clear(&e);
	if (argc < 4) {
		fprintf(stderr, "usage: redis_probe URL PASSWORD|- OP ...\n");
		return 2;
	}
	o.url = argv[1];
	o.password = strcmp(argv[2], "-") == 0 ? NULL : argv[2];
	o.client_name = "redis probe";
	if (strcmp(argv[3], "cap") == 0 && argc == 6)
		o.reply_max = (size_t)strtoul(argv[4], NULL, 10);
	if (strcmp(argv[3], "block") == 0 || strcmp(argv[3], "survive") == 0) {
		o.command_timeout_ms = 1000;
		o.connect_timeout_ms = 200;
	}
	if (lr_redis_open(&r, &o, &e) < 0) {
		fprintf(stderr, "open: %s\n", e.msg);
		return 1;
	}
	if (strcmp(argv[3], "ping") == 0) {
		if (lr_redis_cmd(r, &rep, &e, "PING") == 0) {
			print_reply(rep, 0);
			rc = 0;
		}
	} else if (strcmp(argv[3], "cmd") == 0 && argc > 4) {
		if (lr_redis_cmdv(r, &rep, argc - 4, (const char *const *)argv + 4, NULL, &e) ==
		    0) {
			print_reply(rep, 0);
			rc = 0;
		}
	} else if (strcmp(argv[3], "script") == 0) {
		const char *args[1] = {"x"};
		redisReply *flush = NULL;

		rc = lr_redis_eval(r, &rep, &probe_script, 0, 1, args, NULL, &e);
		if (rc == 0) {
			print_reply(rep, 0);
			freeReplyObject(rep);
			rep = NULL;
			rc = lr_redis_cmd(r, &flush, &e, "SCRIPT FLUSH");
			if (flush)
				freeReplyObject(flush);
		}
		if (rc == 0)
			rc = lr_redis_eval(r, &rep, &probe_script, 0, 1, args, NULL, &e);
		if (rc == 0)
			print_reply(rep, 0);
		rc = rc == 0 ? 0 : 1;
	} else if (strcmp(argv[3], "cap") == 0 && argc == 6) {
		if (lr_redis_cmd(r, &rep, &e, "GET %s", argv[5]) == 0) {
			printf("%zu bytes\n", rep->len);
			rc = 0;
		} else if (e.code == LR_ETOOBIG) {
			/* The connection must be usable again afterwards. */
			redisReply *p = NULL;

			fprintf(stderr, "%s\n", e.msg);
			if (lr_redis_cmd(r, &p, &e, "PING") == 0) {
				printf("refused, then %s\n", p->str);
				freeReplyObject(p);
			}
			rc = 3;
		}
	} else if (strcmp(argv[3], "block") == 0 && argc == 5) {
		long ms = strtol(argv[4], NULL, 10), block = lr_redis_block_ms(r, ms);
		double t0 = lr_now_s();

		if (lr_redis_cmd(r, &rep, &e, "XREAD BLOCK %ld STREAMS probe:none $", block) == 0) {
			printf("%s after %.2f s, blocked %ld ms\n",
			       rep->type == REDIS_REPLY_NIL ? "nil" : "data", lr_now_s() - t0,
			       block);
			rc = lr_redis_is_connected(r) ? 0 : 1;
		}
	} else if (strcmp(argv[3], "stopped") == 0) {
		rc = stopped(r, &e) == 0 ? 0 : 1;
	} else if (strcmp(argv[3], "survive") == 0 && argc == 5) {
		double end = lr_now_s() + strtod(argv[4], NULL);
		int up = 1;

		printf("up\n");
		fflush(stdout);
		while (lr_now_s() < end) {
			int ok = lr_redis_cmd(r, &rep, &e, "PING") == 0;

			if (rep)
				freeReplyObject(rep);
			rep = NULL;
			if (ok != up) {
				printf("%s\n", ok ? "up" : "down");
				fflush(stdout);
				up = ok;
			}
			lr_sleep_ms(20);
		}
		rc = up ? 0 : 1;
	} else {
		fprintf(stderr, "unknown operation\n");
		rc = 2;
	}
	if (rc == 1)
		fprintf(stderr, "%s\n", e.msg);
	if (rep)
		freeReplyObject(rep);
	lr_redis_close(r);
	return rc;
}
