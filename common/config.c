/* config.c - the settings table: defaults, file, environment, flags. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CFG_LINE_MAX 4096

static lr_cfg_opt *cfg_find(const lr_cfg *cfg, const char *name, size_t len)
{
	for (size_t i = 0; i < cfg->nopts; i++) {
		const char *n = cfg->opts[i].name;
		size_t j;

		if (strlen(n) != len)
			continue;
		/* "redis_url" and "redis-url" name the same setting. */
		for (j = 0; j < len; j++) {
			char a = n[j] == '_' ? '-' : n[j];
			char b = name[j] == '_' ? '-' : name[j];

			if (tolower((unsigned char)a) != tolower((unsigned char)b))
				break;
		}
		if (j == len)
			return &cfg->opts[i];
	}
	return NULL;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int opt_assign(lr_cfg_opt *o, const char *value, const char *origin, lr_err *err)
{
	char *end = NULL;

	switch (o->type) {
	case LR_CFG_STR: {
		char **dst = o->ptr;
		char *copy = value ? strdup(value) : NULL;

		if (value && copy == NULL)
			return lr_err_set(err, LR_ENOMEM, "out of memory");
		free(*dst);
		*dst = copy;
		return 0;
	}
	case LR_CFG_INT:
	case LR_CFG_SIZE: {
		long v;

		if (value == NULL || *value == '\0')
			goto bad;
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || *end != '\0')
			goto bad;
		if ((double)v < o->min || (double)v > o->max)
			return lr_err_set(err, LR_EINVAL, "%s: %s=%ld is out of range [%.0f, %.0f]",
			                  origin, o->name, v, o->min, o->max);
		if (o->type == LR_CFG_SIZE)
			*(size_t *)o->ptr = (size_t)v; /* min >= 0 in every SIZE row */
		else
			*(long *)o->ptr = v;
		return 0;
	}
	case LR_CFG_DOUBLE: {
		double v;

		if (value == NULL || *value == '\0')
			goto bad;
		errno = 0;
		v = strtod(value, &end);
		if (errno || *end != '\0' || !isfinite(v))
			goto bad;
		if (v < o->min || v > o->max)
			return lr_err_set(err, LR_EINVAL, "%s: %s=%g is out of range [%g, %g]",
			                  origin, o->name, v, o->min, o->max);
		*(double *)o->ptr = v;
		return 0;
	}
	case LR_CFG_BOOL: {
		int v;

		if (value == NULL || parse_bool(value, &v) < 0)
			goto bad;
		*(int *)o->ptr = v;
		return 0;
	}
	}
bad:
	return lr_err_set(err, LR_EINVAL, "%s: %s: invalid %s value '%s'", origin, o->name,
	                  o->type == LR_CFG_BOOL ? "boolean" : "numeric", value ? value : "");
}

int lr_cfg_set(const lr_cfg *cfg, const char *name, const char *value, const char *origin,
               lr_err *err)
{
	lr_cfg_opt *o = cfg_find(cfg, name, strlen(name));

	if (o == NULL)
		return lr_err_set(err, LR_EINVAL, "%s: unknown setting '%s'", origin, name);
	return opt_assign(o, value, origin, err);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int cfg_load_file(const lr_cfg *cfg, const char *path, lr_err *err)
{
	char line[CFG_LINE_MAX];
	char origin[256];
	FILE *f;
	int lineno = 0;
	int rc = 0;

	f = fopen(path, "re");
	if (f == NULL)
		return lr_err_set(err, LR_EINVAL, "cannot open config file %s: %s", path,
		                  strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *key;
		char *val;
		char *eq;

		lineno++;
		snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = lr_err_set(err, LR_EINVAL, "%s: line too long", origin);
			break;
		}
		key = trim(line);
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			rc = lr_err_set(err, LR_EINVAL, "%s: expected 'name = value'", origin);
			break;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		/* Allow "value" quoting so values may keep leading spaces or '#'. */
		if (val[0] == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		rc = lr_cfg_set(cfg, key, val, origin, err);
		if (rc < 0)
			break;
	}
	fclose(f);
	return rc;
}

static int cfg_load_env(const lr_cfg *cfg, lr_err *err)
{
	char var[128];
	char origin[160];

	for (size_t i = 0; i < cfg->nopts; i++) {
		lr_cfg_opt *o = &cfg->opts[i];
		const char *v;
		size_t j;
		int n = snprintf(var, sizeof(var), "LLMREPL_");

		for (j = 0; o->name[j] && (size_t)n + j + 1 < sizeof(var); j++)
			var[n + j] =
			    o->name[j] == '-' ? '_' : (char)toupper((unsigned char)o->name[j]);
		var[n + j] = '\0';
		v = getenv(var);
		if (v == NULL)
			continue;
		snprintf(origin, sizeof(origin), "environment %s", var);
		if (opt_assign(o, v, origin, err) < 0)
			return err ? err->code : LR_EINVAL;
	}
	return 0;
}

void lr_cfg_usage(const lr_cfg *cfg, FILE *out)
{
	fprintf(out, "Usage: %s %s\n\n", cfg->prog, cfg->usage ? cfg->usage : "[OPTIONS]");
	if (cfg->summary)
		fprintf(out, "%s\n\n", cfg->summary);
	fprintf(out, "Options (each also LLMREPL_<NAME> in the environment or `name = value`\n"
	             "in the --config file; flags win over the environment, which wins over the "
	             "file):\n");
	for (size_t i = 0; i < cfg->nopts; i++) {
		const lr_cfg_opt *o = &cfg->opts[i];
		const char *arg = o->type == LR_CFG_BOOL  ? ""
		                  : o->type == LR_CFG_STR ? " TEXT"
		                                          : " N";
		char left[64];

		if (o->shortopt)
			snprintf(left, sizeof(left), "-%c, --%s%s", o->shortopt, o->name, arg);
		else
			snprintf(left, sizeof(left), "--%s%s", o->name, arg);
		fprintf(out, "  %-26s %s", left, o->help ? o->help : "");
		if (o->def && !(o->flags & LR_CFG_SECRET))
			fprintf(out, " [default: %s]", o->def);
		fputc('\n', out);
	}
	fprintf(out, "  %-26s %s\n", "--config FILE", "read settings from FILE (LLMREPL_CONFIG)");
	fprintf(out, "  %-26s %s\n", "--help", "show this help and exit");
	fprintf(out, "  %-26s %s\n", "--version", "show the version and exit");
	if (cfg->epilog)
		fprintf(out, "\n%s\n", cfg->epilog);
}

/* Handle argv[*i]. Returns 0 for a flag (consuming its value), 1 for a
 * positional argument (stored in *pos), 2 for "--", or a negative code. */
static int cfg_flag(const lr_cfg *cfg, int argc, char **argv, int *i, char **pos, lr_err *err)
{
	const char *a = argv[*i];
	const char *name;
	const char *eq;
	lr_cfg_opt *o = NULL;
	size_t len;
	int negate = 0;

	if (strcmp(a, "--") == 0)
		return 2;
	if (a[0] == '-' && a[1] != '-' && a[1] != '\0' && a[2] == '\0') {
		for (size_t k = 0; k < cfg->nopts; k++)
			if (cfg->opts[k].shortopt == a[1])
				o = &cfg->opts[k];
		if (o == NULL)
			return lr_err_set(err, LR_EINVAL, "unknown option '%s' (see --help)", a);
		if (o->type == LR_CFG_BOOL) {
			*(int *)o->ptr = 1;
			return 0;
		}
		if (*i + 1 >= argc)
			return lr_err_set(err, LR_EINVAL, "option %s needs a value", a);
		return opt_assign(o, argv[++*i], "command line", err);
	}
	if (strncmp(a, "--", 2) != 0) {
		*pos = argv[*i];
		return 1;
	}
	if (strcmp(a, "--config") == 0) {
		++*i;
		return 0;
	}
	if (strncmp(a, "--config=", 9) == 0)
		return 0;
	name = a + 2;
	eq = strchr(name, '=');
	len = eq ? (size_t)(eq - name) : strlen(name);
	o = cfg_find(cfg, name, len);
	if (o == NULL && len > 3 && strncmp(name, "no-", 3) == 0) {
		o = cfg_find(cfg, name + 3, len - 3);
		negate = o != NULL && o->type == LR_CFG_BOOL;
		if (!negate)
			o = NULL;
	}
	if (o == NULL)
		return lr_err_set(err, LR_EINVAL, "unknown option '%.*s' (see --help)",
		                  (int)len + 2, a);
	if (o->type == LR_CFG_BOOL && eq == NULL) {
		*(int *)o->ptr = !negate;
		return 0;
	}
	if (eq != NULL)
		return opt_assign(o, eq + 1, "command line", err);
	if (*i + 1 >= argc)
		return lr_err_set(err, LR_EINVAL, "option --%s needs a value", o->name);
	return opt_assign(o, argv[++*i], "command line", err);
}

/* Every flag of argv set in order; then argv rewritten: the flags first
 * (kept for error messages), then the positional arguments. */
static int cfg_flags(const lr_cfg *cfg, int argc, char **argv, int *first_arg, lr_err *err)
{
	char **pos = calloc((size_t)argc + 1, sizeof(*pos));
	char **flags = calloc((size_t)argc + 1, sizeof(*flags));
	int npos = 0, nflags = 0, out = 1;
	int i, rc = 0;

	if (pos == NULL || flags == NULL) {
		rc = lr_err_set(err, LR_ENOMEM, "out of memory");
		goto cleanup;
	}
	for (i = 1; i < argc; i++) {
		rc = cfg_flag(cfg, argc, argv, &i, &pos[npos], err);
		if (rc < 0)
			goto cleanup;
		if (rc == 1)
			npos++;
		if (rc == 2) { /* "--": the rest is positional */
			while (++i < argc)
				pos[npos++] = argv[i];
			break;
		}
	}
	for (i = 1; i < argc; i++) {
		int is_pos = 0;

		for (int k = 0; k < npos; k++)
			if (pos[k] == argv[i])
				is_pos = 1;
		if (!is_pos)
			flags[nflags++] = argv[i];
	}
	for (int k = 0; k < nflags; k++)
		argv[out++] = flags[k];
	for (int k = 0; k < npos; k++)
		argv[out + k] = pos[k];
	if (first_arg)
		*first_arg = out;
	rc = LR_CFG_RUN;
cleanup:
	free(pos);
	free(flags);
	return rc;
}

int lr_cfg_load(const lr_cfg *cfg, int argc, char **argv, int *first_arg, lr_err *err)
{
	const char *file = getenv("LLMREPL_CONFIG");
	int i;
	int rc;

	for (size_t k = 0; k < cfg->nopts; k++) {
		lr_cfg_opt *o = &cfg->opts[k];

		if (o->def == NULL && o->type != LR_CFG_STR)
			continue;
		rc = opt_assign(o, o->def, "default", err);
		if (rc < 0)
			return rc;
	}
	/* --config, --help and --version first: they change what happens next. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			lr_cfg_usage(cfg, stdout);
			return LR_CFG_EXIT_OK;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", cfg->prog, LLMREPL_VERSION);
			return LR_CFG_EXIT_OK;
		}
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc)
				return lr_err_set(err, LR_EINVAL, "--config needs a file name");
			file = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
		}
	}
	if (file != NULL && *file != '\0') {
		rc = cfg_load_file(cfg, file, err);
		if (rc < 0)
			return rc;
	}
	rc = cfg_load_env(cfg, err);
	if (rc < 0)
		return rc;
	/* Flags may stand anywhere; positional arguments are moved, in order, to
	 * the end of argv (as GNU getopt does) and *first_arg points at them. */
	return cfg_flags(cfg, argc, argv, first_arg, err);
}

void lr_cfg_free(const lr_cfg *cfg)
{
	for (size_t i = 0; i < cfg->nopts; i++) {
		if (cfg->opts[i].type == LR_CFG_STR) {
			char **p = cfg->opts[i].ptr;

			free(*p);
			*p = NULL;
		}
	}
}
