/* fuzz_extract - libFuzzer target for code extraction from model replies.
 * The first byte picks the entry point and the task, the rest is the reply.
 * Invariants: no crash, no read outside the input, and any code found is
 * non-empty and ends with a newline; trimming it never makes it longer, and
 * guessing an entry point from it never overruns the name's buffer. */
#include "extract.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const entries[] = {NULL, "f", "add", "has_close_elements"};
	static const char *const tasks[] = {"Write f.", "from typing import List\ndef f(x):\n"};
	extract_result r;
	lr_err err;
	char *prog = NULL;
	const char *entry;

	if (size < 1)
		return 0;
	entry = entries[data[0] & 3];
	if (extract_code(&r, (const char *)data + 1, size - 1, entry, &err) == 0) {
		size_t n = strlen(r.code);

		if (n == 0 || r.code[n - 1] != '\n')
			abort();
		if (extract_complete(&prog, r.code, tasks[(data[0] >> 2) & 1], r.defines_entry,
		                     &err) == 0 &&
		    strlen(prog) < n)
			abort();
		free(prog);
		prog = NULL;
		{
			int dropped = 0;
			char name[16];

			if (extract_trim(&prog, r.code, &dropped, &err) == 0 &&
			    (strlen(prog) > n + 1 || (dropped == 0 && strcmp(prog, r.code))))
				abort();
			free(prog);
			extract_entry_guess(name, sizeof(name), r.code, r.code);
			if (strlen(name) >= sizeof(name))
				abort();
		}
	} else if (r.code) {
		abort();
	}
	extract_result_free(&r);
	return 0;
}
