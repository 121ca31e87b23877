/* err.c - error carrier. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lr_err_set(lr_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void lr_err_prefix(lr_err *err, const char *fmt, ...)
{
	char head[LR_ERR_MSG_MAX];
	char old[LR_ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
}

void lr_err_clear(lr_err *err)
{
	if (err == NULL)
		return;
	err->code = LR_OK;
	err->msg[0] = '\0';
}

const char *lr_err_name(int code)
{
	switch (code) {
	case LR_OK: return "ok";
	case LR_ENOMEM: return "out_of_memory";
	case LR_EINVAL: return "invalid";
	case LR_EIO: return "io";
	case LR_ETIMEOUT: return "timeout";
	case LR_ETOOBIG: return "too_big";
	case LR_ENOTFOUND: return "not_found";
	case LR_ESTALE: return "stale";
	case LR_EPROTO: return "protocol";
	case LR_EUNAVAIL: return "unavailable";
	case LR_ECANCELED: return "cancelled";
	default: return "internal";
	}
}
