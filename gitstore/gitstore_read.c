/* gitstore_read.c - reading a job's history back: a commit's files, the log. */
#include "gitstore_int.h"

#include <stdlib.h>
#include <string.h>

void gitstore_snapshot_clear(gitstore_snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	gitstore_entry_clear(&s->entry);
	for (i = 0; i < s->nfiles; i++)
		free(s->files[i].data);
	memset(s, 0, sizeof(*s));
}

const gitstore_blob *gitstore_snapshot_file(const gitstore_snapshot *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].name, name) == 0)
			return &s->files[i];
	return NULL;
}

static int read_files(gitstore_snapshot *s, gitstore *gs, const git_commit *c, lr_err *err)
{
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	size_t i, n;
	int rc = 0, grc;

	lr_err_clear(&gs->be_err);
	grc = git_commit_tree(&tree, c);
	if (grc < 0)
		return gs_git_fail(gs, grc, err, "reading a tree");
	n = git_tree_entrycount(tree);
	if (n > GITSTORE_MAX_FILES) {
		rc = lr_err_set(err, LR_EPROTO, "commit %s has %zu files, the limit is %d",
		                s->entry.oid, n, GITSTORE_MAX_FILES);
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(te);
		gitstore_blob *f = &s->files[s->nfiles];
		size_t len;

		if (git_tree_entry_type(te) != GIT_OBJECT_BLOB || !gs_name_valid(name)) {
			rc = lr_err_set(err, LR_EPROTO,
			                "commit %s holds an unexpected entry '%.100s'",
			                s->entry.oid, name);
			goto cleanup;
		}
		grc = git_blob_lookup(&blob, gs->repo, git_tree_entry_id(te));
		if (grc < 0) {
			rc = gs_git_fail(gs, grc, err, "reading a file");
			lr_err_prefix(err, "%s", name);
			goto cleanup;
		}
		len = (size_t)git_blob_rawsize(blob);
		f->data = malloc(len + 1);
		if (f->data == NULL) {
			rc = lr_err_set(err, LR_ENOMEM, "out of memory reading %s", name);
			goto cleanup;
		}
		if (len > 0)
			memcpy(f->data, git_blob_rawcontent(blob), len);
		f->data[len] = '\0';
		f->len = len;
		snprintf(f->name, sizeof(f->name), "%s", name);
		s->nfiles++;
		git_blob_free(blob);
		blob = NULL;
	}
cleanup:
	git_blob_free(blob);
	git_tree_free(tree);
	return rc;
}

int gitstore_read(gitstore_snapshot *out, gitstore *gs, const char *commit_oid, lr_err *err)
{
	git_commit *c = NULL;
	git_oid oid, tag, target;
	lr_err e2 = {0};
	int rc, grc;

	memset(out, 0, sizeof(*out));
	if (commit_oid == NULL)
		rc = gs_read_ref(&oid, gs, GS_REF_MAIN, err);
	else if (gs_oid_parse(&oid, commit_oid) < 0)
		rc = lr_err_set(err, LR_EINVAL, "'%.60s' is not an object id", commit_oid);
	else
		rc = 0;
	if (rc < 0)
		return rc;
	lr_err_clear(&gs->be_err);
	grc = git_commit_lookup(&c, gs->repo, &oid);
	if (grc < 0) {
		rc = gs_git_fail(gs, grc, err, "reading a commit");
		/* The head naming a missing commit is damage, not an empty history
		 * (a resuming worker must not start over on top of it). */
		if (rc == LR_ENOTFOUND && commit_oid == NULL)
			rc = lr_err_set(err, LR_EPROTO,
			                "job %s: history damaged: " GS_REF_MAIN
			                " names a missing commit",
			                gs->job_id);
		goto cleanup;
	}
	rc = gs_entry_fill(&out->entry, gs, c, err);
	if (rc < 0)
		goto cleanup;
	rc = gs_read_accepted(&tag, &target, gs, &e2);
	if (rc == 0 && git_oid_equal(&target, &oid))
		out->entry.accepted = 1;
	if (rc < 0 && rc != LR_ENOTFOUND) {
		if (err != NULL)
			*err = e2;
		goto cleanup;
	}
	rc = read_files(out, gs, c, err);
cleanup:
	if (rc < 0)
		gitstore_snapshot_clear(out);
	git_commit_free(c);
	return rc;
}

struct log_arg {
	gitstore_entry *v;
	size_t n, cap, max;
};

static int log_fn(gitstore_entry *e, void *arg, lr_err *err)
{
	struct log_arg *la = arg;

	if (la->n == la->cap) {
		size_t ncap = la->cap ? la->cap * 2 : 16;
		gitstore_entry *v;

		if (ncap > la->max)
			ncap = la->max;
		v = realloc(la->v, ncap * sizeof(*v));
		if (v == NULL)
			return lr_err_set(err, LR_ENOMEM, "out of memory reading the history");
		la->v = v;
		la->cap = ncap;
	}
	la->v[la->n++] = *e;
	memset(e, 0, sizeof(*e)); /* moved into the array */
	return la->n >= la->max ? 1 : 0;
}

void gitstore_log_free(gitstore_entry *entries, size_t n)
{
	size_t i;

	if (entries == NULL)
		return;
	for (i = 0; i < n; i++)
		gitstore_entry_clear(&entries[i]);
	free(entries);
}

int gitstore_log(gitstore_entry **entries, size_t *n, gitstore *gs, size_t max, lr_err *err)
{
	struct log_arg la = {NULL, 0, 0, max ? max : gs->opts.max_history};
	git_oid tag, target, oid;
	lr_err e2 = {0};
	size_t i;
	int rc;

	*entries = NULL;
	*n = 0;
	if (la.max > gs->opts.max_history)
		la.max = gs->opts.max_history;
	rc = gs_walk(gs, la.max, log_fn, &la, err);
	if (rc == LR_ENOTFOUND && la.n == 0) {
		lr_err_clear(err);
		return 0;
	}
	if (rc == 0) {
		rc = gs_read_accepted(&tag, &target, gs, &e2);
		if (rc == LR_ENOTFOUND)
			rc = 0;
		else if (rc < 0 && err != NULL)
			*err = e2;
		else
			for (i = 0; i < la.n; i++)
				if (git_oid_fromstr(&oid, la.v[i].oid) == 0 &&
				    git_oid_equal(&oid, &target))
					la.v[i].accepted = 1;
	}
	if (rc < 0) {
		gitstore_log_free(la.v, la.n);
		return rc;
	}
	*entries = la.v;
	*n = la.n;
	return 0;
}

int gitstore_log_print(gitstore *gs, FILE *out, lr_err *err)
{
	gitstore_entry *v = NULL;
	size_t n = 0, i;
	int rc;

	rc = gitstore_log(&v, &n, gs, 0, err);
	if (rc < 0)
		return rc;
	for (i = 0; i < n; i++)
		fprintf(out, "%s iteration %ld%s: %s\n", v[i].oid, v[i].iteration,
		        v[i].accepted ? " accepted" : "", v[i].subject);
	gitstore_log_free(v, n);
	if (fflush(out) != 0 || ferror(out))
		return lr_err_set(err, LR_EIO, "writing the history failed");
	return 0;
}
