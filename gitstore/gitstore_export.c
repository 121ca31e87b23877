/* gitstore_export.c - a job's history as an ordinary repository on disk, and
 * the push of its accepted commit to a remote ("deployment"). */
#include "gitstore_int.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEPLOY_REF "refs/llmrepl/deploy"

/* `dir` must not exist (it is created) or be an empty directory. */
static int dir_prepare(const char *dir, lr_err *err)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int nonempty = 0;

	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return lr_err_set(err, LR_EIO, "%s: %s", dir, strerror(errno));
		if (mkdir(dir, 0755) != 0)
			return lr_err_set(err, LR_EIO, "creating %s: %s", dir, strerror(errno));
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return lr_err_set(err, LR_EINVAL, "%s exists and is not a directory", dir);
	d = opendir(dir);
	if (d == NULL)
		return lr_err_set(err, LR_EIO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			nonempty = 1;
	closedir(d);
	if (nonempty)
		return lr_err_set(err, LR_EINVAL, "%s is not empty", dir);
	return 0;
}

/* Pack every object reachable from `head` (and the tag, if any) into the
 * repository `dst`, then point its refs and HEAD at them. */
static int copy_history(git_repository *dst, gitstore *gs, const git_oid *head, const git_oid *tag,
                        lr_err *err)
{
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	git_reference *ref = NULL;
	lr_buf path;
	int rc = 0;

	lr_buf_init(&path, 4096);
	lr_err_clear(&gs->be_err);
	if (git_packbuilder_new(&pb, gs->repo) < 0 || git_revwalk_new(&walk, gs->repo) < 0 ||
	    git_revwalk_push(walk, head) < 0 || git_packbuilder_insert_walk(pb, walk) < 0 ||
	    (tag != NULL && git_packbuilder_insert_recur(pb, tag, "accepted") < 0)) {
		rc = gs_git_fail(gs, -1, err, "collecting the history");
		goto cleanup;
	}
	if (lr_buf_printf(&path, "%sobjects/pack", git_repository_path(dst)) < 0) {
		rc = lr_err_set(err, LR_ETOOBIG, "repository path too long");
		goto cleanup;
	}
	if (git_packbuilder_write(pb, path.data, 0, NULL, NULL) < 0) {
		rc = gs_git_fail(gs, -1, err, "writing the pack");
		goto cleanup;
	}
	if (git_reference_create(&ref, dst, GS_REF_MAIN, head, 1, "llm-repl export") < 0) {
		rc = gs_git_fail(gs, -1, err, "creating " GS_REF_MAIN);
		goto cleanup;
	}
	git_reference_free(ref);
	ref = NULL;
	if (tag != NULL &&
	    git_reference_create(&ref, dst, GS_REF_ACCEPTED, tag, 1, "llm-repl export") < 0) {
		rc = gs_git_fail(gs, -1, err, "creating " GS_REF_ACCEPTED);
		goto cleanup;
	}
	if (git_repository_set_head(dst, GS_REF_MAIN) < 0)
		rc = gs_git_fail(gs, -1, err, "setting HEAD");
cleanup:
	git_reference_free(ref);
	git_revwalk_free(walk);
	git_packbuilder_free(pb);
	lr_buf_free(&path);
	return rc;
}

/* Export into `dir` (prepared by the caller); `*out` gets the repository. */
static int export_into(git_repository **out, gitstore *gs, const char *dir, int bare, lr_err *err)
{
	git_repository *dst = NULL;
	git_oid head, tag, target;
	git_checkout_options co;
	lr_err e2 = {0};
	int rc, has_tag;

	*out = NULL;
	rc = gs_read_ref(&head, gs, GS_REF_MAIN, err);
	if (rc < 0)
		return rc;
	rc = gs_read_accepted(&tag, &target, gs, &e2);
	if (rc < 0 && rc != LR_ENOTFOUND) {
		if (err != NULL)
			*err = e2;
		return rc;
	}
	has_tag = rc == 0;
	if (git_repository_init(&dst, dir, bare ? 1 : 0) < 0)
		return gs_git_fail(gs, -1, err, "creating the repository");
	rc = copy_history(dst, gs, &head, has_tag ? &tag : NULL, err);
	if (rc == 0 && !bare) {
		git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
		co.checkout_strategy = GIT_CHECKOUT_FORCE;
		if (git_checkout_head(dst, &co) < 0)
			rc = gs_git_fail(gs, -1, err, "checking out the head");
	}
	if (rc < 0) {
		git_repository_free(dst);
		return rc;
	}
	*out = dst;
	return 0;
}

int gitstore_export(gitstore *gs, const char *dir, lr_err *err)
{
	git_repository *dst = NULL;
	git_oid head;
	int rc;

	if (dir == NULL || dir[0] == '\0')
		return lr_err_set(err, LR_EINVAL, "no directory to export to");
	/* Check for history first so a job without one leaves no directory. */
	rc = gs_read_ref(&head, gs, GS_REF_MAIN, err);
	if (rc == 0)
		rc = dir_prepare(dir, err);
	if (rc == 0)
		rc = export_into(&dst, gs, dir, 0, err);
	if (rc < 0)
		lr_err_prefix(err, "exporting job %s to %s", gs->job_id, dir);
	git_repository_free(dst);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

struct push_status {
	char msg[256];
	int rejected;
};

static int push_ref_cb(const char *refname, const char *status, void *payload)
{
	struct push_status *ps = payload;

	if (status != NULL) {
		ps->rejected = 1;
		snprintf(ps->msg, sizeof(ps->msg), "%s: %s", refname, status);
	}
	return 0;
}

static int push_from(git_repository *repo, gitstore *gs, const git_oid *commit, const char *url,
                     const char *ref, int force, lr_err *err)
{
	git_remote *remote = NULL;
	git_reference *r = NULL;
	git_push_options po;
	git_remote_create_options ro;
	struct push_status ps = {{0}, 0};
	lr_buf spec;
	char *specs[1];
	git_strarray arr = {specs, 1};
	int rc = 0, grc;

	lr_buf_init(&spec, 1024);
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	if (git_reference_create(&r, repo, DEPLOY_REF, commit, 1, "llm-repl deploy") < 0) {
		rc = gs_git_fail(gs, -1, err, "preparing the push");
		goto cleanup;
	}
	if (lr_buf_printf(&spec, "%s%s:%s", force ? "+" : "", DEPLOY_REF, ref) < 0) {
		rc = lr_err_set(err, LR_ETOOBIG, "ref name too long");
		goto cleanup;
	}
	specs[0] = spec.data;
	po.callbacks.push_update_reference = push_ref_cb;
	po.callbacks.payload = &ps;
	lr_err_clear(&gs->be_err);
	/* An anonymous remote that skips url.*.insteadOf: the URL is the
	 * configured one, not a rewrite from the host's git config (and libgit2
	 * 1.5 leaks PCRE2 match data on every non-matching insteadOf lookup). */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if (git_remote_create_with_opts(&remote, url, &ro) < 0) {
		rc = gs_git_fail(gs, -1, err, "opening the remote");
		goto cleanup;
	}
	grc = git_remote_push(remote, &arr, &po);
	if (grc == GIT_ENONFASTFORWARD) {
		rc = lr_err_set(err, LR_ESTALE,
		                "the remote %s is not an ancestor of the accepted commit "
		                "(not a fast-forward; push with force to replace it)",
		                ref);
	} else if (grc < 0 && gs->be_err.code != 0) {
		rc = gs_git_fail(gs, grc, err, "pushing");
	} else if (grc < 0) {
		const git_error *ge = git_error_last();

		rc = lr_err_set(err, LR_EIO, "pushing: %s",
		                ge != NULL && ge->message != NULL ? ge->message : "libgit2 error");
	} else if (ps.rejected) {
		rc = lr_err_set(err, LR_ESTALE, "the remote refused %s", ps.msg);
	}
cleanup:
	git_remote_free(remote);
	git_reference_free(r);
	lr_buf_free(&spec);
	return rc;
}

/* `url` for messages, without any user:password@ part (errors end up in the
 * job's record). */
static void url_for_message(char *out, size_t n, const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *at = strchr(host, '@');
	const char *slash = strchr(host, '/');

	if (scheme != NULL && at != NULL && (slash == NULL || at < slash))
		snprintf(out, n, "%.*s***@%s", (int)(host - url), url, at + 1);
	else
		snprintf(out, n, "%s", url);
}

int gitstore_push(gitstore *gs, const char *url, const char *ref, int criteria_passed, int force,
                  lr_err *err)
{
	git_repository *tmp_repo = NULL;
	git_oid tag, target;
	const char *tmpdir = getenv("TMPDIR");
	char tmp[4096];
	int valid = 0, made = 0, rc;

	if (ref == NULL)
		ref = GS_REF_MAIN;
	if (!criteria_passed)
		return lr_err_set(err, LR_EINVAL, "not deploying job %s: the criteria did not pass",
		                  gs->job_id);
	if (url == NULL || url[0] == '\0')
		return lr_err_set(err, LR_EINVAL, "not deploying job %s: no remote URL",
		                  gs->job_id);
	if (strncmp(ref, "refs/", 5) != 0 || git_reference_name_is_valid(&valid, ref) < 0 || !valid)
		return lr_err_set(err, LR_EINVAL,
		                  "not deploying job %s: '%.200s' is not a ref name", gs->job_id,
		                  ref);
	rc = gs_read_accepted(&tag, &target, gs, err);
	if (rc == LR_ENOTFOUND)
		return lr_err_set(err, LR_EINVAL, "not deploying job %s: no iteration is accepted",
		                  gs->job_id);
	if (rc < 0)
		return rc;
	if (tmpdir == NULL || tmpdir[0] != '/')
		tmpdir = "/tmp";
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/llmrepl-push-XXXXXX", tmpdir) >= sizeof(tmp))
		return lr_err_set(err, LR_EINVAL, "TMPDIR is too long");
	if (mkdtemp(tmp) == NULL)
		return lr_err_set(err, LR_EIO, "creating a directory in %s: %s", tmpdir,
		                  strerror(errno));
	made = 1;
	rc = export_into(&tmp_repo, gs, tmp, 1, err);
	if (rc == 0)
		rc = push_from(tmp_repo, gs, &target, url, ref, force, err);
	if (rc < 0) {
		char shown[256];

		url_for_message(shown, sizeof(shown), url);
		lr_err_prefix(err, "deploying job %s to %s", gs->job_id, shown);
	}
	git_repository_free(tmp_repo);
	if (made)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
