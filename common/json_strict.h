/* json_strict.h - JSON exactly as RFC 8259 writes it, checked byte by byte
 * before json-c reads it, for text that comes from users (job specs, HTTP
 * bodies).
 *
 * json-c is lenient where a spec must not be: it takes raw control
 * characters inside strings, `1.`, `NaN` and `Infinity`, cuts a string at
 * "\u0000", lets the last of two equal keys win, and keeps lone surrogates.
 * The check refuses all of these, and invalid UTF-8 (overlong forms,
 * surrogates, above U+10FFFF), numbers that do not fit (an integer beyond 64
 * bits, a float beyond a double), nesting deeper than max_depth and anything
 * after the value. The reason says what and where, quoting what was given:
 *
 *   not valid JSON at byte 17: duplicate key "code"
 *   not valid JSON at byte 9: number '1.' needs a digit after the point
 *   not valid JSON at byte 30: "\u0000" (a NUL character) is not allowed */
#ifndef LLMREPL_JSON_STRICT_H
#define LLMREPL_JSON_STRICT_H

#include "err.h"

#include <json-c/json.h>
#include <stddef.h>

/* 0 when text[0..len) is one strict JSON value nested at most max_depth
 * deep, else LR_EINVAL (LR_ENOMEM when out of memory) with the reason. */
int lr_json_check_strict(const char *text, size_t len, int max_depth, lr_err *err);

/* lr_json_check_strict, then lr_json_parse (json.h). */
int lr_json_parse_strict(json_object **out, const char *text, size_t len, size_t max_len,
                         int max_depth, lr_err *err);

#endif
