/* gitstore.c - open a job's git history in Redis, commit iterations, tag the
 * accepted one, read it back. See gitstore.h for the storage layout and
 * docs/architecture.md for why it is built this way. */
#include "gitstore_int.h"

#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOB_ID_MAX 128
#define CAS_TRIES  4

void gitstore_opts_init(gitstore_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->prefix = "llmrepl:";
	o->author_name = "llm-repl";
	o->author_email = "llm-repl@localhost";
	o->max_file = (size_t)1 << 20;
	o->max_message = (size_t)16 << 10;
	o->max_object = (size_t)4 << 20;
	o->max_history = 10000;
	o->max_objects = 1000000;
}

static char *dup_printf(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

static int job_id_valid(const char *id)
{
	size_t n;

	if (id == NULL || id[0] == '\0')
		return 0;
	for (n = 0; id[n] != '\0'; n++) {
		unsigned char c = (unsigned char)id[n];

		if (n >= JOB_ID_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == ':'))
			return 0;
	}
	return 1;
}

/* A signature field may not hold '<', '>' or line breaks (git would reject
 * the object); keep them short too. */
static int sig_field_valid(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= 200 && strpbrk(s, "<>\n\r") == NULL;
}

/* The arguments of gitstore_open, checked before anything is allocated. */
static int check_open(const lr_redis *r, const char *job_id, long attempt,
                      const gitstore_opts *opts, lr_err *err)
{
	if (r == NULL)
		return lr_err_set(err, LR_EINVAL, "git store: no Redis connection");
	if (!job_id_valid(job_id) || (opts->fence_job && !job_id_valid(opts->fence_job)))
		return lr_err_set(err, LR_EINVAL, "git store: invalid job id");
	if (attempt < 0)
		return lr_err_set(err, LR_EINVAL, "git store: negative attempt %ld", attempt);
	if (opts->prefix == NULL || strlen(opts->prefix) > 200)
		return lr_err_set(err, LR_EINVAL, "git store: invalid key prefix");
	if (!sig_field_valid(opts->author_name) || !sig_field_valid(opts->author_email))
		return lr_err_set(err, LR_EINVAL,
		                  "git store: author name and email must be non-empty, at most 200 "
		                  "bytes, without '<', '>' or line breaks");
	if (opts->max_file == 0 || opts->max_object < opts->max_file || opts->max_message < 64 ||
	    opts->max_history == 0 || opts->max_objects == 0)
		return lr_err_set(err, LR_EINVAL,
		                  "git store: limits must be positive and max_object >= max_file");
	if (opts->fixed_time && opts->time < 0)
		return lr_err_set(err, LR_EINVAL, "git store: negative fixed time");
	if (opts->tz_offset_min < -14 * 60 || opts->tz_offset_min > 14 * 60)
		return lr_err_set(err, LR_EINVAL, "git store: time zone offset out of range");
	return 0;
}

int gitstore_keep_library(lr_err *err)
{
	static int kept;

	if (kept)
		return 0;
	if (git_libgit2_init() < 0)
		return lr_err_set(err, LR_EINTERNAL, "libgit2 initialisation failed");
	kept = 1;
	return 0;
}

int gitstore_open(gitstore **out, lr_redis *r, const char *job_id, long attempt,
                  const gitstore_opts *opts, lr_err *err)
{
	gitstore_opts defaults;
	gitstore *gs = NULL;
	git_config *cfg = NULL;
	int ret;

	*out = NULL;
	if (opts == NULL) {
		gitstore_opts_init(&defaults);
		opts = &defaults;
	}
	ret = check_open(r, job_id, attempt, opts, err);
	if (ret < 0)
		return ret;

	gs = calloc(1, sizeof(*gs));
	if (gs == NULL)
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	if (git_libgit2_init() < 0) {
		ret = lr_err_set(err, LR_EINTERNAL, "libgit2 initialisation failed");
		goto fail;
	}
	gs->git_inited = 1;
	gs->r = r;
	gs->attempt = attempt;
	gs->opts = *opts;
	gs->job_id = dup_printf(job_id, "", "");
	gs->key_job = dup_printf(opts->prefix, "job:", job_id);
	gs->key_objects = dup_printf(gs->key_job ? gs->key_job : "", ":", GITSTORE_AUX_OBJECTS);
	gs->key_refs = dup_printf(gs->key_job ? gs->key_job : "", ":", GITSTORE_AUX_REFS);
	if (opts->fence_job != NULL && gs->key_job != NULL) { /* the keys above stay the job's */
		free(gs->key_job);
		gs->key_job = dup_printf(opts->prefix, "job:", opts->fence_job);
	}
	gs->key_stats = dup_printf(opts->prefix, "stats", "");
	gs->author_name = dup_printf(opts->author_name, "", "");
	gs->author_email = dup_printf(opts->author_email, "", "");
	if (!gs->job_id || !gs->key_job || !gs->key_objects || !gs->key_refs || !gs->key_stats ||
	    !gs->author_name || !gs->author_email) {
		ret = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto fail;
	}
	gs->opts.prefix = NULL; /* only the keys built above are used */
	gs->opts.fence_job = NULL;
	gs->opts.author_name = gs->author_name;
	gs->opts.author_email = gs->author_email;

	if (git_odb_new(&gs->odb) < 0) {
		ret = gs_git_fail(gs, -1, err, "git store: creating the object database");
		goto fail;
	}
	if (gs_odb_new(&gs->backend, gs) < 0) {
		ret = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto fail;
	}
	if (git_odb_add_backend(gs->odb, (git_odb_backend *)gs->backend, 1) < 0) {
		git_odb_backend *b = (git_odb_backend *)gs->backend;

		gs->backend = NULL;
		b->free(b); /* not owned by the odb when adding failed */
		ret = gs_git_fail(gs, -1, err, "git store: creating the object database");
		goto fail;
	}
	/* An empty config: nothing of the host's ~/.gitconfig may change objects. */
	if (git_repository_wrap_odb(&gs->repo, gs->odb) < 0 || git_config_new(&cfg) < 0 ||
	    git_repository_set_config(gs->repo, cfg) < 0) {
		ret = gs_git_fail(gs, -1, err, "git store: creating the repository");
		goto fail;
	}
	git_config_free(cfg);
	*out = gs;
	return 0;
fail:
	git_config_free(cfg);
	gitstore_free(gs);
	return ret;
}

void gitstore_free(gitstore *gs)
{
	if (gs == NULL)
		return;
	git_repository_free(gs->repo);
	git_odb_free(gs->odb); /* frees the backend */
	free(gs->job_id);
	free(gs->key_job);
	free(gs->key_objects);
	free(gs->key_refs);
	free(gs->key_stats);
	free(gs->author_name);
	free(gs->author_email);
	if (gs->git_inited)
		git_libgit2_shutdown();
	free(gs);
}

int gs_git_fail(gitstore *gs, int gitrc, lr_err *err, const char *what)
{
	const git_error *ge = git_error_last();
	int code;

	if (gs->be_err.code != 0) {
		code = gs->be_err.code;
		lr_err_set(err, code, "%s: %s", what, gs->be_err.msg);
		lr_err_clear(&gs->be_err);
		return code;
	}
	code = gitrc == GIT_ENOTFOUND ? LR_ENOTFOUND : LR_EINTERNAL;
	return lr_err_set(err, code, "%s: %s", what,
	                  ge != NULL && ge->message != NULL ? ge->message : "libgit2 error");
}

int gs_oid_parse(git_oid *oid, const char *hex)
{
	size_t i;

	if (hex == NULL || strlen(hex) != GIT_OID_HEXSZ)
		return LR_EINVAL;
	for (i = 0; i < GIT_OID_HEXSZ; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return LR_EINVAL;
	return git_oid_fromstr(oid, hex) == 0 ? 0 : LR_EINVAL;
}

int gs_read_ref(git_oid *oid, gitstore *gs, const char *ref, lr_err *err)
{
	char *val = NULL;
	size_t len = 0;
	int rc;

	rc = gsr_hget(&val, &len, gs, gs->key_refs, &ref, 1, GS_REF_VALUE_MAX, err);
	if (rc < 0)
		return rc;
	if (val == NULL && strcmp(ref, GS_REF_MAIN) == 0)
		return lr_err_set(err, LR_ENOTFOUND, "job %s has no git history", gs->job_id);
	if (val == NULL)
		return lr_err_set(err, LR_ENOTFOUND, "job %s has no %s", gs->job_id, ref);
	rc = gs_oid_parse(oid, val);
	if (rc < 0)
		lr_err_set(err, LR_EPROTO, "%s: %s holds '%.60s', not an object id", gs->key_refs,
		           ref, val);
	free(val);
	return rc;
}

void gitstore_entry_clear(gitstore_entry *e)
{
	if (e == NULL)
		return;
	free(e->subject);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

int gs_entry_fill(gitstore_entry *e, gitstore *gs, const git_commit *c, lr_err *err)
{
	const char *msg = git_commit_message(c);

	memset(e, 0, sizeof(*e));
	git_oid_tostr(e->oid, sizeof(e->oid), git_commit_id(c));
	if (msg == NULL || gs_message_trailer(&e->iteration, msg, "Iteration") < 0)
		return lr_err_set(err, LR_EPROTO, "job %s: commit %s has no Iteration trailer",
		                  gs->job_id, e->oid);
	if (gs_message_trailer(&e->attempt, msg, "Attempt") < 0)
		e->attempt = 0;
	e->time = (long long)git_commit_time(c);
	e->subject = gs_message_subject(msg);
	e->message = dup_printf(msg, "", "");
	if (e->subject == NULL || e->message == NULL) {
		gitstore_entry_clear(e);
		return lr_err_set(err, LR_ENOMEM, "out of memory");
	}
	return 0;
}

static int lookup_commit(git_commit **c, gitstore *gs, const git_oid *oid, lr_err *err)
{
	char hex[GIT_OID_HEXSZ + 1];
	int grc;

	lr_err_clear(&gs->be_err);
	grc = git_commit_lookup(c, gs->repo, oid);
	if (grc == 0)
		return 0;
	git_oid_tostr(hex, sizeof(hex), oid);
	if (grc == GIT_ENOTFOUND && gs->be_err.code == 0)
		return lr_err_set(err, LR_ENOTFOUND, "job %s: no commit %s", gs->job_id, hex);
	return gs_git_fail(gs, grc, err, "reading a commit");
}

/* A commit a ref or a parent link names: its absence means damage, not an
 * empty history, so it is a protocol error rather than LR_ENOTFOUND. */
static int lookup_named(git_commit **c, gitstore *gs, const git_oid *oid, const char *by,
                        lr_err *err)
{
	int rc = lookup_commit(c, gs, oid, err);

	if (rc == LR_ENOTFOUND)
		rc =
		    lr_err_set(err, LR_EPROTO, "job %s: history damaged: %s names a missing commit",
		               gs->job_id, by);
	return rc;
}

int gs_read_accepted(git_oid *tag_oid, git_oid *target, gitstore *gs, lr_err *err)
{
	git_tag *tag = NULL;
	int rc, grc;

	rc = gs_read_ref(tag_oid, gs, GS_REF_ACCEPTED, err);
	if (rc < 0)
		return rc;
	lr_err_clear(&gs->be_err);
	grc = git_tag_lookup(&tag, gs->repo, tag_oid);
	if (grc < 0) {
		rc = gs_git_fail(gs, grc, err, "reading the accepted tag");
		return rc == LR_ENOTFOUND ? LR_EPROTO : rc;
	}
	git_oid_cpy(target, git_tag_target_id(tag));
	git_tag_free(tag);
	return 0;
}

int gs_walk(gitstore *gs, size_t max, gs_walk_fn fn, void *arg, lr_err *err)
{
	git_commit *c = NULL, *parent = NULL;
	gitstore_entry e = {0};
	git_oid oid;
	size_t seen = 0;
	int rc;

	rc = gs_read_ref(&oid, gs, GS_REF_MAIN, err);
	if (rc < 0)
		return rc;
	rc = lookup_named(&c, gs, &oid, GS_REF_MAIN, err);
	while (rc == 0) {
		rc = gs_entry_fill(&e, gs, c, err);
		if (rc < 0)
			break;
		rc = fn(&e, arg, err);
		gitstore_entry_clear(&e);
		if (rc != 0 || git_commit_parentcount(c) == 0 || ++seen >= max)
			break;
		rc = lookup_named(&parent, gs, git_commit_parent_id(c, 0), "a parent link", err);
		if (rc < 0)
			break;
		git_commit_free(c);
		c = parent;
		parent = NULL;
	}
	git_commit_free(c);
	return rc < 0 ? rc : 0;
}

struct find_arg {
	long want;
	gitstore_entry *out;
	int found;
};

static int find_fn(gitstore_entry *e, void *arg, lr_err *err)
{
	struct find_arg *fa = arg;

	(void)err;
	if (e->iteration == fa->want) {
		*fa->out = *e;
		memset(e, 0, sizeof(*e)); /* moved to the caller */
		fa->found = 1;
		return 1;
	}
	return e->iteration < fa->want ? 1 : 0; /* iterations only grow */
}

int gitstore_find_iteration(gitstore_entry *out, gitstore *gs, long iteration, lr_err *err)
{
	struct find_arg fa = {iteration, out, 0};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gs_walk(gs, gs->opts.max_history, find_fn, &fa, err);
	if (rc < 0)
		return rc;
	if (!fa.found)
		return lr_err_set(err, LR_ENOTFOUND, "job %s: iteration %ld is not in the history",
		                  gs->job_id, iteration);
	return 0;
}

static int set_accepted_flag(gitstore_entry *e, gitstore *gs, lr_err *err)
{
	git_oid tag, target, self;
	lr_err e2 = {0};
	int rc = gs_read_accepted(&tag, &target, gs, &e2);

	if (rc == LR_ENOTFOUND)
		return 0;
	if (rc < 0) {
		if (err != NULL)
			*err = e2;
		return rc;
	}
	if (git_oid_fromstr(&self, e->oid) == 0 && git_oid_equal(&self, &target))
		e->accepted = 1;
	return 0;
}

int gitstore_head(gitstore_entry *out, gitstore *gs, lr_err *err)
{
	git_commit *c = NULL;
	git_oid oid;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gs_read_ref(&oid, gs, GS_REF_MAIN, err);
	if (rc == 0)
		rc = lookup_named(&c, gs, &oid, GS_REF_MAIN, err);
	if (rc == 0)
		rc = gs_entry_fill(out, gs, c, err);
	if (rc == 0)
		rc = set_accepted_flag(out, gs, err);
	if (rc < 0)
		gitstore_entry_clear(out);
	git_commit_free(c);
	return rc;
}

int gitstore_accepted(gitstore_entry *out, gitstore *gs, lr_err *err)
{
	git_commit *c = NULL;
	git_oid tag, target;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = gs_read_accepted(&tag, &target, gs, err);
	if (rc == 0)
		rc = lookup_named(&c, gs, &target, GS_REF_ACCEPTED, err);
	if (rc == 0)
		rc = gs_entry_fill(out, gs, c, err);
	if (rc == 0)
		out->accepted = 1;
	git_commit_free(c);
	return rc;
}

static int make_sig(git_signature **sig, gitstore *gs, lr_err *err)
{
	git_time_t t = gs->opts.fixed_time ? (git_time_t)gs->opts.time : (git_time_t)time(NULL);

	if (git_signature_new(sig, gs->author_name, gs->author_email, t, gs->opts.tz_offset_min) <
	    0)
		return gs_git_fail(gs, -1, err, "creating a signature");
	return 0;
}

static int check_writable(gitstore *gs, lr_err *err)
{
	if (gs->attempt == 0)
		return lr_err_set(err, LR_EINVAL, "job %s: the git store was opened read-only",
		                  gs->job_id);
	return 0;
}

static int check_files(gitstore *gs, const gitstore_commit_req *req, lr_err *err)
{
	size_t i, j;

	if (req->iteration < 0)
		return lr_err_set(err, LR_EINVAL, "iteration %ld is negative", req->iteration);
	if (req->nfiles == 0 || req->files == NULL)
		return lr_err_set(err, LR_EINVAL, "iteration %ld: no files to commit",
		                  req->iteration);
	if (req->nfiles > GITSTORE_MAX_FILES)
		return lr_err_set(err, LR_EINVAL, "iteration %ld: %zu files, the limit is %d",
		                  req->iteration, req->nfiles, GITSTORE_MAX_FILES);
	for (i = 0; i < req->nfiles; i++) {
		const gitstore_file *f = &req->files[i];

		if (!gs_name_valid(f->name))
			return lr_err_set(
			    err, LR_EINVAL,
			    "file name '%.100s' is not a plain name of [A-Za-z0-9._-]",
			    f->name ? f->name : "(null)");
		if (f->data == NULL && f->len > 0)
			return lr_err_set(err, LR_EINVAL, "file %s has no data", f->name);
		if (f->len > gs->opts.max_file)
			return lr_err_set(err, LR_ETOOBIG, "file %s is %zu bytes, the limit is %zu",
			                  f->name, f->len, gs->opts.max_file);
		for (j = 0; j < i; j++)
			if (strcmp(req->files[j].name, f->name) == 0)
				return lr_err_set(err, LR_EINVAL, "file %s is given twice",
				                  f->name);
	}
	return 0;
}

/* Write the blobs, the tree and the commit into the pending set. */
static int build_commit(git_oid *out, gitstore *gs, const gitstore_commit_req *req, const char *msg,
                        git_commit *parent, lr_err *err)
{
	git_treebuilder *tb = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	const git_commit *parents[1];
	git_oid blob, tree_oid;
	size_t i;
	int rc = 0;

	lr_err_clear(&gs->be_err);
	if (git_treebuilder_new(&tb, gs->repo, NULL) < 0) {
		rc = gs_git_fail(gs, -1, err, "creating a tree");
		goto cleanup;
	}
	for (i = 0; i < req->nfiles; i++) {
		const gitstore_file *f = &req->files[i];

		if (git_blob_create_from_buffer(&blob, gs->repo, f->len ? f->data : "", f->len) <
		        0 ||
		    git_treebuilder_insert(NULL, tb, f->name, &blob, GIT_FILEMODE_BLOB) < 0) {
			rc = gs_git_fail(gs, -1, err, "storing a file");
			lr_err_prefix(err, "%s", f->name);
			goto cleanup;
		}
	}
	if (git_treebuilder_write(&tree_oid, tb) < 0 ||
	    git_tree_lookup(&tree, gs->repo, &tree_oid) < 0) {
		rc = gs_git_fail(gs, -1, err, "writing a tree");
		goto cleanup;
	}
	rc = make_sig(&sig, gs, err);
	if (rc < 0)
		goto cleanup;
	parents[0] = parent;
	if (git_commit_create(out, gs->repo, NULL, sig, sig, NULL, msg, tree, parent ? 1 : 0,
	                      parents) < 0)
		rc = gs_git_fail(gs, -1, err, "writing a commit");
cleanup:
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	return rc;
}

/* The head's commit and entry, or *head = NULL without history. */
static int read_head(git_commit **head, gitstore_entry *e, gitstore *gs, lr_err *err)
{
	git_oid oid;
	int rc;

	*head = NULL;
	memset(e, 0, sizeof(*e));
	rc = gs_read_ref(&oid, gs, GS_REF_MAIN, err);
	if (rc == LR_ENOTFOUND) {
		lr_err_clear(err);
		return 0;
	}
	if (rc == 0)
		rc = lookup_named(head, gs, &oid, GS_REF_MAIN, err);
	if (rc == 0)
		rc = gs_entry_fill(e, gs, *head, err);
	if (rc < 0) {
		git_commit_free(*head);
		*head = NULL;
	}
	return rc;
}

int gitstore_commit(char oid_out[GITSTORE_OID_HEX + 1], int *existed, gitstore *gs,
                    const gitstore_commit_req *req, lr_err *err)
{
	lr_buf msg;
	git_commit *head = NULL;
	gitstore_entry he = {0}, found = {0};
	char cur[GS_REF_VALUE_MAX + 1], old_hex[GIT_OID_HEXSZ + 1], new_hex[GIT_OID_HEXSZ + 1];
	const gs_pending *objs;
	size_t nobjs;
	git_oid oid;
	int rc, tries;

	oid_out[0] = '\0';
	*existed = 0;
	lr_buf_init(&msg, gs->opts.max_message + 512);
	rc = check_writable(gs, err);
	if (rc == 0)
		rc = check_files(gs, req, err);
	if (rc == 0)
		rc = gs_message_build(&msg, req->summary, req->iteration, gs->attempt, gs->job_id,
		                      gs->opts.max_message, err);
	for (tries = 0; rc == 0 && tries < CAS_TRIES; tries++) {
		rc = read_head(&head, &he, gs, err);
		if (rc < 0)
			break;
		if (head != NULL && he.iteration >= req->iteration) {
			/* Already done: a retry, a duplicate delivery or a reclaimed attempt
			 * repeating an iteration. Report the commit that is there, unless
			 * our attempt is over: a stale worker should learn that first. */
			rc = gsr_fence(gs, err);
			if (rc == 0)
				rc = gitstore_find_iteration(&found, gs, req->iteration, err);
			if (rc == LR_ENOTFOUND)
				rc = lr_err_set(
				    err, LR_EINVAL,
				    "job %s: iteration %ld is below the head's iteration "
				    "%ld and not in the history",
				    gs->job_id, req->iteration, he.iteration);
			if (rc == 0) {
				memcpy(oid_out, found.oid, sizeof(found.oid));
				*existed = 1;
			}
			break;
		}
		gs_odb_clear(gs->backend);
		rc = build_commit(&oid, gs, req, msg.data, head, err);
		if (rc < 0)
			break;
		if (head != NULL)
			git_oid_tostr(old_hex, sizeof(old_hex), git_commit_id(head));
		else
			old_hex[0] = '\0';
		git_oid_tostr(new_hex, sizeof(new_hex), &oid);
		objs = gs_odb_pending(gs->backend, &nobjs);
		rc = gsr_cas(cur, gs, GS_REF_MAIN, old_hex, new_hex, objs, nobjs, err);
		gs_odb_clear(gs->backend);
		if (rc == GSR_OK) {
			memcpy(oid_out, new_hex, sizeof(new_hex));
			break;
		}
		if (rc == GSR_MOVED) {
			/* Someone with our attempt number moved main since we read it:
			 * read it again; if they committed this iteration, that is ours. */
			rc = 0;
			git_commit_free(head);
			head = NULL;
			gitstore_entry_clear(&he);
			if (tries + 1 == CAS_TRIES)
				rc = lr_err_set(err, LR_ESTALE,
				                "job %s: main moved under %d commit attempts",
				                gs->job_id, CAS_TRIES);
		}
	}
	gs_odb_clear(gs->backend);
	gitstore_entry_clear(&found);
	gitstore_entry_clear(&he);
	git_commit_free(head);
	lr_buf_free(&msg);
	return rc;
}

int gitstore_tag_accepted(char tag_oid[GITSTORE_OID_HEX + 1], int *existed, gitstore *gs,
                          const char *commit_oid, const char *message, lr_err *err)
{
	git_commit *c = NULL;
	git_signature *sig = NULL;
	gitstore_entry e = {0};
	lr_buf msg;
	git_oid target, cur_tag, cur_target, new_tag;
	char cur[GS_REF_VALUE_MAX + 1], old_hex[GIT_OID_HEXSZ + 1], new_hex[GIT_OID_HEXSZ + 1];
	const gs_pending *objs;
	size_t nobjs;
	int rc, tries;

	if (tag_oid != NULL)
		tag_oid[0] = '\0';
	*existed = 0;
	lr_buf_init(&msg, gs->opts.max_message + 512);
	rc = check_writable(gs, err);
	if (rc == 0 && commit_oid == NULL)
		rc = gs_read_ref(&target, gs, GS_REF_MAIN, err);
	else if (rc == 0 && gs_oid_parse(&target, commit_oid) < 0)
		rc = lr_err_set(err, LR_EINVAL, "'%.60s' is not an object id", commit_oid);
	if (rc == 0)
		rc = lookup_commit(&c, gs, &target, err);
	if (rc == 0)
		rc = gs_entry_fill(&e, gs, c, err);
	if (rc == 0) {
		char dflt[64];

		snprintf(dflt, sizeof(dflt), "accepted: iteration %ld", e.iteration);
		rc = gs_message_build(&msg, message && message[0] ? message : dflt, e.iteration,
		                      gs->attempt, gs->job_id, gs->opts.max_message, err);
	}
	if (rc == 0)
		rc = make_sig(&sig, gs, err);
	for (tries = 0; rc == 0 && tries < CAS_TRIES; tries++) {
		rc = gs_read_accepted(&cur_tag, &cur_target, gs, err);
		if (rc == 0 && git_oid_equal(&cur_target, &target)) {
			rc = gsr_fence(gs, err);
			if (rc < 0)
				break;
			*existed = 1;
			if (tag_oid != NULL)
				git_oid_tostr(tag_oid, GITSTORE_OID_HEX + 1, &cur_tag);
			break;
		}
		if (rc == 0) {
			git_oid_tostr(old_hex, sizeof(old_hex), &cur_tag);
		} else if (rc == LR_ENOTFOUND) {
			lr_err_clear(err);
			old_hex[0] = '\0';
			rc = 0;
		} else {
			break;
		}
		gs_odb_clear(gs->backend);
		lr_err_clear(&gs->be_err);
		if (git_tag_annotation_create(&new_tag, gs->repo, "accepted", (const git_object *)c,
		                              sig, msg.data) < 0) {
			rc = gs_git_fail(gs, -1, err, "writing the accepted tag");
			break;
		}
		git_oid_tostr(new_hex, sizeof(new_hex), &new_tag);
		objs = gs_odb_pending(gs->backend, &nobjs);
		rc = gsr_cas(cur, gs, GS_REF_ACCEPTED, old_hex, new_hex, objs, nobjs, err);
		gs_odb_clear(gs->backend);
		if (rc == GSR_OK) {
			if (tag_oid != NULL)
				memcpy(tag_oid, new_hex, sizeof(new_hex));
			break;
		}
		if (rc == GSR_MOVED) {
			rc = 0;
			if (tries + 1 == CAS_TRIES)
				rc = lr_err_set(err, LR_ESTALE,
				                "job %s: the accepted tag moved under %d attempts",
				                gs->job_id, CAS_TRIES);
		}
	}
	gs_odb_clear(gs->backend);
	gitstore_entry_clear(&e);
	git_signature_free(sig);
	git_commit_free(c);
	lr_buf_free(&msg);
	return rc;
}
