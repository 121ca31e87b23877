/* sbx_cold_probe - two cold runs in one process, with a pause between them.
 *
 *   sbx_cold_probe
 *
 * Runs print(os.getuid()) cold, prints "<end> <exit_code> <uid> <isolation> |
 * <detail>",
 * waits for a line on stdin (meanwhile the uid slot, its cgroup and network
 * namespace are kept ready by this process for its next run), runs again
 * and prints the second run's line. Exit status 0 when both ran the code. */
#include "sbx.h"

#include <stdio.h>
#include <string.h>

static const char request[] = "{\"mode\": \"exec\", \"code\": \"import os\\nprint(os.getuid())\"}";

static int one(void)
{
	sbx_result r;
	char iso[256];
	int ok;

	sbx_run(&r, NULL, NULL, request, sizeof(request) - 1);
	sbx_isolation_str(r.isolation, iso, sizeof(iso));
	ok = r.end == SBX_END_EXITED && r.exit_code == 0 && r.out_len > 1;
	printf("%s %d %.*s %s | %s\n", sbx_end_name(r.end), r.exit_code,
	       ok ? (int)r.out_len - 1 : 1, ok ? r.out : "-", iso, r.detail);
	fflush(stdout);
	sbx_result_free(&r);
	return ok ? 0 : -1;
}

int main(void)
{
	char line[64];
	int rc = one();

	if (fgets(line, sizeof(line), stdin) == NULL)
		return 2;
	rc |= one();
	return rc ? 1 : 0;
}
