/* http_git.c - a job's git history over HTTP: GET /jobs/<id>/history (the
 * log as JSON) and GET /jobs/<id>/repository.tar.gz (the history exported as
 * an ordinary repository, packed as a gzip'd tar).
 *
 * The export goes to a private temporary directory under $TMPDIR (or /tmp)
 * by gitstore_export, is packed in memory under a size cap and removed
 * again. The tar is plain ustar, written here: regular files and
 * directories only, which is all an export holds. */
#include "gitstore.h"
#include "http_int.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define TAR_MAX (64u << 20) /* bytes of the archive, uncompressed */

static int open_store(http_req *q, const char *id, gitstore **gs, lr_err *err)
{
	json_object *job = NULL;
	gitstore_opts o;
	lr_redis *r;
	int rc;

	rc = http_job_get(q, id, &job, err); /* exists, and the caller's */
	json_object_put(job);
	if (rc == 0)
		rc = http_redis(q, &r, err);
	if (rc < 0)
		return rc;
	gitstore_opts_init(&o);
	o.prefix = q->srv->cfg.keys.prefix;
	return gitstore_open(gs, r, id, 0, &o, err);
}

enum MHD_Result http_jobs_history(http_req *q, const char *id)
{
	gitstore *gs = NULL;
	gitstore_entry *v = NULL;
	json_object *out, *arr;
	size_t n = 0;
	lr_err err;

	lr_err_clear(&err);
	if (open_store(q, id, &gs, &err) < 0 || gitstore_log(&v, &n, gs, 0, &err) < 0) {
		gitstore_free(gs);
		return http_problem_err(q, &err);
	}
	gitstore_free(gs);
	out = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; out && arr && i < n; i++) {
		json_object *e = json_object_new_object();

		lr_json_set_str(e, "commit", v[i].oid);
		lr_json_set_int(e, "iteration", v[i].iteration);
		lr_json_set_int(e, "attempt", v[i].attempt);
		lr_json_set_int(e, "time", (long)v[i].time);
		lr_json_set_bool(e, "accepted", v[i].accepted);
		lr_json_set_str(e, "subject", v[i].subject);
		lr_json_set_str(e, "message", v[i].message);
		json_object_array_add(arr, e);
	}
	gitstore_log_free(v, n);
	if (out == NULL || arr == NULL) {
		json_object_put(out);
		json_object_put(arr);
		return http_problem(q, 500, "out of memory");
	}
	lr_json_set_str(out, "job_id", id);
	json_object_object_add(out, "commits", arr);
	return http_json(q, 200, out);
}

/* ---- ustar ------------------------------------------------------------------ */

static void octal(char *dst, size_t n, unsigned long long v)
{
	snprintf(dst, n, "%0*llo", (int)(n - 1), v);
}

static int tar_header(lr_buf *tar, const char *name, int dir, unsigned long long size,
                      long long mtime)
{
	char h[512];
	unsigned sum = 0;
	size_t len = strlen(name);
	const char *base = name;

	memset(h, 0, sizeof(h));
	if (len > 100) { /* split into prefix/name at a slash */
		const char *cut = name + len - 100;

		cut = strchr(cut, '/');
		if (cut == NULL || cut - name > 155)
			return LR_ETOOBIG;
		memcpy(h + 345, name, (size_t)(cut - name));
		base = cut + 1;
	}
	memcpy(h, base, strlen(base));
	octal(h + 100, 8, dir ? 0755 : 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, (unsigned long long)(mtime > 0 ? mtime : 0));
	memset(h + 148, ' ', 8);
	h[156] = dir ? '5' : '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	return lr_buf_append(tar, h, sizeof(h));
}

static int tar_file(lr_buf *tar, const char *path, const char *name, const struct stat *st)
{
	static const char zero[512];
	FILE *f = fopen(path, "rb");
	char chunk[16384];
	size_t got, total = 0;
	int rc;

	if (f == NULL)
		return LR_EIO;
	rc = tar_header(tar, name, 0, (unsigned long long)st->st_size, st->st_mtime);
	while (rc == 0 && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = lr_buf_append(tar, chunk, got);
		total += got;
	}
	fclose(f);
	if (rc == 0 && total != (size_t)st->st_size)
		rc = LR_EIO; /* changed under us: cannot happen in a private export */
	if (rc == 0 && total % 512)
		rc = lr_buf_append(tar, zero, 512 - total % 512);
	return rc;
}

/* Everything under path (a directory) as name/... */
static int tar_dir(lr_buf *tar, const char *path, const char *name, int depth)
{
	struct dirent **ents = NULL;
	struct stat st;
	int n, rc;

	if (depth > 32)
		return LR_ETOOBIG;
	if (lstat(path, &st) < 0)
		return LR_EIO;
	rc = tar_header(tar, name, 1, 0, st.st_mtime);
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0)
		return LR_EIO;
	for (int i = 0; i < n; i++) {
		char p[4096], nm[4096];

		if (rc == 0 && strcmp(ents[i]->d_name, ".") != 0 &&
		    strcmp(ents[i]->d_name, "..") != 0) {
			snprintf(p, sizeof(p), "%s/%s", path, ents[i]->d_name);
			snprintf(nm, sizeof(nm), "%s/%s", name, ents[i]->d_name);
			if (lstat(p, &st) < 0)
				rc = LR_EIO;
			else if (S_ISDIR(st.st_mode))
				rc = tar_dir(tar, p, nm, depth + 1);
			else if (S_ISREG(st.st_mode))
				rc = tar_file(tar, p, nm, &st);
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

static int gzip(const lr_buf *in, lr_buf *out)
{
	z_stream z;
	char chunk[65536];
	int zr;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return LR_ENOMEM;
	z.next_in = (Bytef *)in->data;
	z.avail_in = (uInt)in->len;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, Z_FINISH);
		if (lr_buf_append(out, chunk, sizeof(chunk) - z.avail_out) < 0)
			zr = Z_MEM_ERROR;
	} while (zr == Z_OK);
	deflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : LR_ENOMEM;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

enum MHD_Result http_jobs_repository(http_req *q, const char *id)
{
	const char *tmpdir = getenv("TMPDIR");
	char tmp[512];
	char repo[600], top[80];
	gitstore *gs = NULL;
	lr_buf tar, gz;
	enum MHD_Result ret;
	lr_err err;
	int rc;

	lr_err_clear(&err);
	if (open_store(q, id, &gs, &err) < 0) {
		gitstore_free(gs);
		return http_problem_err(q, &err);
	}
	snprintf(tmp, sizeof(tmp), "%s/llmrepl-export-XXXXXX",
	         tmpdir && *tmpdir && strlen(tmpdir) < 400 ? tmpdir : "/tmp");
	if (mkdtemp(tmp) == NULL) {
		gitstore_free(gs);
		return http_problem(q, 500, "cannot make a temporary directory");
	}
	snprintf(repo, sizeof(repo), "%s/r", tmp);
	rc = gitstore_export(gs, repo, &err);
	gitstore_free(gs);
	lr_buf_init(&tar, TAR_MAX);
	lr_buf_init(&gz, TAR_MAX);
	if (rc == 0) {
		static const char zero[1024];

		snprintf(top, sizeof(top), "llmrepl-%s", id);
		rc = tar_dir(&tar, repo, top, 0);
		if (rc == 0)
			rc = lr_buf_append(&tar, zero, sizeof(zero)); /* end of archive */
		if (rc == 0)
			rc = gzip(&tar, &gz);
		if (rc < 0)
			lr_err_set(&err, rc,
			           rc == LR_ETOOBIG
			               ? "the repository is over the archive limit of %u bytes"
			               : "cannot pack the repository (%d)",
			           rc == LR_ETOOBIG ? TAR_MAX : (unsigned)-rc);
	} else if (rc == LR_ENOTFOUND) {
		lr_err_set(&err, LR_ENOTFOUND, "job %s has no git history (yet)", id);
	}
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc < 0) {
		lr_buf_free(&tar);
		lr_buf_free(&gz);
		return http_problem_err(q, &err);
	}
	{
		struct MHD_Response *resp;
		char disp[160];

		resp = MHD_create_response_from_buffer(gz.len, gz.data, MHD_RESPMEM_MUST_COPY);
		lr_buf_free(&tar);
		lr_buf_free(&gz);
		if (resp == NULL)
			return MHD_NO;
		snprintf(disp, sizeof(disp), "attachment; filename=\"llmrepl-%s.tar.gz\"", id);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/gzip");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disp);
		ret = http_queue(q, 200, resp);
	}
	return ret;
}
