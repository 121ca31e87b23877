/* sbx_json.h - the JSON that llmrepl-sandbox prints and sends, written
 * without a JSON library (the command links only libc, see docs/architecture.md,
 * "The CLI's own cost").
 *
 * Byte for byte what json-c 0.16 writes with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE: strings escaped as json_escape_str does
 * (\b \n \r \t \f \" \\ and \u00xx for the other bytes below 0x20, every
 * other byte as it is), doubles as "%.17g" with ".0" added to a whole number,
 * and a document re-written as json_tokener_parse_ex (depth limit given) and
 * json_object_to_json_string_ext would: spaces dropped, escapes decoded and
 * written again, a repeated key keeping its first place and its last value,
 * a key cut at its first NUL, integers clamped to 64 bits, other numbers as
 * they were written. tests/unit/test_sbx_json.c compares the two. */
#ifndef LLMREPL_SBX_JSON_H
#define LLMREPL_SBX_JSON_H

#include <stddef.h>

/* A growing buffer; failed is set once an allocation failed (what was
 * written after that is dropped). Zero-initialised is empty. */
typedef struct sbx_jbuf {
	char *s; /* NUL-terminated when len > 0 */
	size_t len, cap;
	int failed;
} sbx_jbuf;

void sbx_jbuf_free(sbx_jbuf *b);
void sbx_json_raw(sbx_jbuf *b, const char *s, size_t n);
/* n bytes as a JSON string, quoted. */
void sbx_json_str(sbx_jbuf *b, const char *s, size_t n);
/* Captured bytes as a JSON string: what is not UTF-8 (and NUL) becomes U+FFFD. */
void sbx_json_text(sbx_jbuf *b, const char *s, size_t n);
void sbx_json_int(sbx_jbuf *b, long long v);
void sbx_json_double(sbx_jbuf *b, double v);

/* The JSON document s[0..n) re-written (see above), nesting at most
 * max_depth deep (json-c's depth: the top level is one). -1 when it is not a
 * document json-c would return, nothing written: outside RFC 8259's grammar
 * (json-c's non-standard forms - comments, single quotes, NaN, trailing
 * commas, data after the document - included; inside a string, though, any
 * byte but the quote, the backslash and NUL stands for itself, raw controls
 * and bytes that are not UTF-8 too, as json-c reads them), too deep, a
 * top-level null, or a top-level number, true or false with nothing after it.
 * The recursion is max_depth deep at most. */
int sbx_json_doc(sbx_jbuf *b, const char *s, size_t n, int max_depth);

#endif
