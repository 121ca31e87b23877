/* utf8.h - strict UTF-8 (RFC 3629): no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences. */
#ifndef LLMREPL_UTF8_H
#define LLMREPL_UTF8_H

#include <stddef.h>

/* Length (1..4) of the valid sequence at s[0..n), with its code point in *cp
 * (optional), or 0 when s does not start with one. n must be > 0. */
size_t lr_utf8_seq(const unsigned char *s, size_t n, unsigned *cp);

/* Offset of the first byte that is not valid UTF-8, or n when all is. */
size_t lr_utf8_check(const char *s, size_t n);

/* Append the UTF-8 form of code point cp (<= U+10FFFF, not a surrogate) to
 * out (at least 4 bytes). Returns its length, or 0 for an invalid cp. */
size_t lr_utf8_put(char *out, unsigned cp);

#endif
