/* Replays the committed fuzz corpora (tests/fuzz/corpus/) through the fuzz
 * targets, so `make test` exercises them without clang's libFuzzer. Run from
 * the repository root, as `make unit` does. */
#define LLVMFuzzerTestOneInput fuzz_extract_one
#include "../fuzz/fuzz_extract.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_llm_reply_one
#include "../fuzz/fuzz_llm_reply.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_job_spec_one
#include "../fuzz/fuzz_job_spec.c"
#undef LLVMFuzzerTestOneInput

#include "buf.h"
#include "check.h"

#include <dirent.h>
#include <stdio.h>

static int replay(const char *dir, int (*target)(const uint8_t *, size_t))
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
		FILE *f;
		lr_buf b;
		char chunk[4096];
		size_t got;

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
		target((const uint8_t *)(b.data ? b.data : ""), b.len);
		lr_buf_free(&b);
		n++;
	}
	closedir(d);
	return n;
}

TEST(extract_corpus)
{
	CHECK(replay("tests/fuzz/corpus/extract", fuzz_extract_one) >= 10);
}

TEST(llm_reply_corpus)
{
	CHECK(replay("tests/fuzz/corpus/llm_reply", fuzz_llm_reply_one) >= 10);
}

TEST(job_spec_corpus)
{
	CHECK(replay("tests/fuzz/corpus/job_spec", fuzz_job_spec_one) >= 10);
}

int main(void)
{
	RUN(extract_corpus);
	RUN(llm_reply_corpus);
	RUN(job_spec_corpus);
	return check_summary();
}
