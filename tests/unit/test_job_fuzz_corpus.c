/* Replays the job spec fuzz corpus (tests/fuzz/corpus/job_spec/) through the
 * fuzz target, so `make test` exercises it without clang's libFuzzer. Run
 * from the repository root, as `make unit` does. */
#define LLVMFuzzerTestOneInput fuzz_job_spec_one
#include "../fuzz/fuzz_job_spec.c"
#undef LLVMFuzzerTestOneInput

#include "buf.h"
#include "check.h"

#include <dirent.h>
#include <stdio.h>

static int replay(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d) {
		fprintf(stderr, "cannot open %s (run from the repository root)\n", dir);
		return -1;
	}
	while ((e = readdir(d))) {
		char path[512];
		char chunk[4096];
		size_t got;
		lr_buf b;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		lr_buf_init(&b, 1u << 20);
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			lr_buf_append(&b, chunk, got);
		fclose(f);
		fuzz_job_spec_one((const uint8_t *)(b.data ? b.data : ""), b.len);
		lr_buf_free(&b);
		n++;
	}
	closedir(d);
	return n;
}

TEST(job_spec_corpus)
{
	CHECK(replay("tests/fuzz/corpus/job_spec") >= 10);
}

int main(void)
{
	RUN(job_spec_corpus);
	return check_summary();
}
