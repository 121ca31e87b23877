/* err.h - error codes and an error carrier with a message.
 *
 * Functions return 0 on success or a negative LR_E* code, and, when given an
 * lr_err, describe the failure in it. The message is what ends up in a job's
 * `error` field, so it must be precise and never contain secrets. */
#ifndef LLMREPL_ERR_H
#define LLMREPL_ERR_H

#include <stddef.h>

enum {
	LR_OK = 0,
	LR_ENOMEM = -1,   /* out of memory */
	LR_EINVAL = -2,   /* invalid input (spec, flag, reply) */
	LR_EIO = -3,      /* I/O or connection failure */
	LR_ETIMEOUT = -4, /* a deadline passed */
	LR_ETOOBIG = -5,  /* a size cap was hit */
	LR_ENOTFOUND = -6,
	LR_ESTALE = -7,   /* fenced write refused: a newer attempt owns the job */
	LR_EPROTO = -8,   /* the peer broke the protocol (malformed reply) */
	LR_EUNAVAIL = -9, /* a facility is not available on this machine */
	LR_ECANCELED = -10,
	LR_EINTERNAL = -11,
};

#define LR_ERR_MSG_MAX 512

typedef struct lr_err {
	int code;
	char msg[LR_ERR_MSG_MAX];
} lr_err;

/* Record `code` and a printf-style message in `err` (which may be NULL).
 * Returns `code`, so callers can write `return lr_err_set(err, LR_EINVAL, ...)`. */
int lr_err_set(lr_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefix the message already in `err` with more context ("while X: <old>"). */
void lr_err_prefix(lr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void lr_err_clear(lr_err *err);

/* A short, stable name for a code ("invalid", "timeout", ...). */
const char *lr_err_name(int code);

#endif
