/*
 * cq_config.c — parsing and documenting the config table (see cq_config.h).
 *
 * Only the thread that starts a program touches a cq_config_t while it is
 * being built; afterwards it is read-only.
 */
#include "cq_config.h"
#include "cq_log.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CQ_CT_STR, CQ_CT_INT, CQ_CT_BOOL, CQ_CT_MS, CQ_CT_SIZE } cq_config_type_t;

typedef struct {
    const char *key;
    cq_config_type_t type;
    const char *def;
    int64_t min, max;
    const char *progs;
    const char *desc;
    size_t offset;
} cq_config_row_t;

static const cq_config_row_t cq_config_rows[] = {
#define CQ_CONFIG_ROW(key, field, type, def, min, max, progs, desc)                                \
    {key, CQ_CT_##type, def, min, max, #progs, desc, offsetof(cq_config_t, field)},
    CQ_CONFIG_TABLE(CQ_CONFIG_ROW)
#undef CQ_CONFIG_ROW
};

/* librdkafka properties coachq sets unless the operator overrides them. */
static const char *const cq_config_kafka_defaults[][2] = {
    {"bootstrap.servers", "127.0.0.1:9092"},
};

static const cq_config_row_t *cq_config_row_find(const char *key)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_rows); i++)
        if (strcmp(cq_config_rows[i].key, key) == 0)
            return &cq_config_rows[i];
    return NULL;
}

static void cq_config_kafka_put(cq_config_t *conf, const char *name, const char *value)
{
    for (size_t i = 0; i < conf->kafka_count; i++) {
        if (strcmp(conf->kafka_names[i], name) == 0) {
            free(conf->kafka_values[i]);
            conf->kafka_values[i] = cq_strdup(value);
            return;
        }
    }
    conf->kafka_names = cq_realloc(conf->kafka_names, (conf->kafka_count + 1) * sizeof(char *));
    conf->kafka_values = cq_realloc(conf->kafka_values, (conf->kafka_count + 1) * sizeof(char *));
    conf->kafka_names[conf->kafka_count] = cq_strdup(name);
    conf->kafka_values[conf->kafka_count] = cq_strdup(value);
    conf->kafka_count++;
}

static bool cq_config_parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

typedef struct {
    const char *name;
    int64_t mult;
} cq_config_unit_t;

/* Largest first, so cq_config_format picks the largest unit that divides. */
static const cq_config_unit_t cq_config_ms_units[] = {
    {"h", 3600LL * 1000}, {"m", 60LL * 1000}, {"s", 1000}, {"ms", 1}};

/* IEC units only: "KB" and "MB" are read as 1000 or 1024 by different people,
 * so they are refused rather than guessed. */
static const cq_config_unit_t cq_config_size_units[] = {
    {"GiB", 1024LL * 1024 * 1024}, {"MiB", 1024LL * 1024}, {"KiB", 1024}, {"B", 1}};

#define CQ_CONFIG_MS_UNITS   "ms, s, m or h"
#define CQ_CONFIG_SIZE_UNITS "B, KiB, MiB or GiB"

/* A number followed by one of units, with no space; a bare number is refused
 * because it cannot say which unit its writer meant. */
static bool cq_config_parse_unit(const char *s, const cq_config_unit_t *units, size_t unit_count,
                                 int64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return false;
    for (size_t i = 0; i < unit_count; i++) {
        if (strcmp(end, units[i].name) != 0)
            continue;
        if (v > INT64_MAX / units[i].mult)
            return false;
        *out = v * units[i].mult;
        return true;
    }
    return false;
}

static bool cq_config_is_bare_number(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Writes v in the largest unit that divides it ("90s", "64MiB"). */
static void cq_config_format(cq_config_type_t type, int64_t v, char *buf, size_t size)
{
    const cq_config_unit_t *units = type == CQ_CT_SIZE ? cq_config_size_units : cq_config_ms_units;
    size_t n = type == CQ_CT_SIZE ? CQ_ARRAY_SIZE(cq_config_size_units)
                                  : CQ_ARRAY_SIZE(cq_config_ms_units);
    if (type != CQ_CT_MS && type != CQ_CT_SIZE) {
        snprintf(buf, size, "%lld", (long long)v);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (v != 0 && v % units[i].mult != 0)
            continue;
        if (v == 0 && i + 1 < n)
            continue;
        snprintf(buf, size, "%lld%s", (long long)(v / units[i].mult), units[i].name);
        return;
    }
}

static cq_err_t cq_config_set_number(const cq_config_row_t *row, const char *value, int64_t *field,
                                     char *errstr, size_t errstr_size)
{
    int64_t n = 0;
    bool ok;
    const char *what, *units = NULL, *example = NULL;
    switch (row->type) {
    case CQ_CT_MS:
        ok = cq_config_parse_unit(value, cq_config_ms_units, CQ_ARRAY_SIZE(cq_config_ms_units), &n);
        what = "a duration";
        units = CQ_CONFIG_MS_UNITS;
        example = "25s";
        break;
    case CQ_CT_SIZE:
        ok = cq_config_parse_unit(value, cq_config_size_units, CQ_ARRAY_SIZE(cq_config_size_units),
                                  &n);
        what = "a size";
        units = CQ_CONFIG_SIZE_UNITS;
        example = "64KiB";
        break;
    default:
        ok = cq_config_parse_int(value, &n);
        what = "an integer";
        break;
    }
    if (!ok && units && cq_config_is_bare_number(value)) {
        cq_errstr_set(errstr, errstr_size,
                      "%s: \"%s\" has no unit; write %s as a number followed by %s (e.g. %s%s)",
                      row->key, value, what, units, value, row->type == CQ_CT_MS ? "s" : "KiB");
        return CQ_ERR_CONFIG;
    }
    if (!ok) {
        if (units)
            cq_errstr_set(errstr, errstr_size,
                          "%s: \"%s\" is not %s (a whole number followed by %s, e.g. %s)", row->key,
                          value, what, units, example);
        else
            cq_errstr_set(errstr, errstr_size, "%s: \"%s\" is not %s", row->key, value, what);
        return CQ_ERR_CONFIG;
    }
    if (n < row->min || n > row->max) {
        char got[32], lo[32], hi[32];
        cq_config_format(row->type, n, got, sizeof(got));
        cq_config_format(row->type, row->min, lo, sizeof(lo));
        cq_config_format(row->type, row->max, hi, sizeof(hi));
        cq_errstr_set(errstr, errstr_size, "%s: %s is outside %s..%s", row->key, got, lo, hi);
        return CQ_ERR_CONFIG;
    }
    *field = n;
    return CQ_ERR_OK;
}

cq_err_t cq_config_set(cq_config_t *conf, const char *key, const char *value, char *errstr,
                       size_t errstr_size)
{
    if (strncmp(key, "kafka.", 6) == 0 && key[6]) {
        cq_config_kafka_put(conf, key + 6, value);
        return CQ_ERR_OK;
    }
    const cq_config_row_t *row = cq_config_row_find(key);
    if (!row) {
        cq_errstr_set(errstr, errstr_size, "unknown config key \"%s\"", key);
        return CQ_ERR_CONFIG;
    }
    void *field = (char *)conf + row->offset;
    switch (row->type) {
    case CQ_CT_STR:
        free(*(char **)field);
        *(char **)field = cq_strdup(value);
        return CQ_ERR_OK;
    case CQ_CT_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
            *(bool *)field = true;
        else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
            *(bool *)field = false;
        else {
            cq_errstr_set(errstr, errstr_size, "%s: \"%s\" is not true or false", key, value);
            return CQ_ERR_CONFIG;
        }
        return CQ_ERR_OK;
    case CQ_CT_INT:
    case CQ_CT_MS:
    case CQ_CT_SIZE:
        return cq_config_set_number(row, value, (int64_t *)field, errstr, errstr_size);
    }
    return CQ_ERR_CONFIG;
}

cq_config_t *cq_config_new(void)
{
    cq_config_t *conf = cq_calloc(1, sizeof(*conf));
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_rows); i++) {
        char err[256];
        cq_err_t rc =
            cq_config_set(conf, cq_config_rows[i].key, cq_config_rows[i].def, err, sizeof(err));
        /* Defaults are ours, not outside input: a bad one is a bug in the table. */
        if (rc != CQ_ERR_OK) {
            fprintf(stderr, "coachq: bad default in config table: %s\n", err);
            abort();
        }
    }
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_kafka_defaults); i++)
        cq_config_kafka_put(conf, cq_config_kafka_defaults[i][0], cq_config_kafka_defaults[i][1]);
    return conf;
}

void cq_config_destroy(cq_config_t *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_rows); i++)
        if (cq_config_rows[i].type == CQ_CT_STR)
            free(*(char **)((char *)conf + cq_config_rows[i].offset));
    for (size_t i = 0; i < conf->kafka_count; i++) {
        free(conf->kafka_names[i]);
        free(conf->kafka_values[i]);
    }
    free(conf->kafka_names);
    free(conf->kafka_values);
    free(conf);
}

static char *cq_config_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

cq_err_t cq_config_load_file(cq_config_t *conf, const char *path, char *errstr, size_t errstr_size)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        cq_errstr_set(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return CQ_ERR_CONFIG;
    }
    cq_err_t rc = CQ_ERR_OK;
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            cq_errstr_set(errstr, errstr_size, "%s:%d: line too long", path, lineno);
            rc = CQ_ERR_CONFIG;
            break;
        }
        char *s = cq_config_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            cq_errstr_set(errstr, errstr_size, "%s:%d: expected key = value", path, lineno);
            rc = CQ_ERR_CONFIG;
            break;
        }
        *eq = '\0';
        char *key = cq_config_trim(s), *value = cq_config_trim(eq + 1);
        char err[512];
        if (cq_config_set(conf, key, value, err, sizeof(err)) != CQ_ERR_OK) {
            cq_errstr_set(errstr, errstr_size, "%s:%d: %s", path, lineno, err);
            rc = CQ_ERR_CONFIG;
            break;
        }
    }
    fclose(fp);
    return rc;
}

/* "COACHQ_REDIS_PORT" -> "redis.port" by matching the table, since keys hold
 * both '.' and '_'; "COACHQ_KAFKA_BOOTSTRAP_SERVERS" -> "kafka.bootstrap.servers". */
static bool cq_config_env_key(const char *env_name, char *key, size_t key_size)
{
    if (strncmp(env_name, "KAFKA_", 6) == 0) {
        snprintf(key, key_size, "kafka.%s", env_name + 6);
        for (char *p = key + 6; *p; p++)
            *p = (char)(*p == '_' ? '.' : tolower((unsigned char)*p));
        return true;
    }
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_rows); i++) {
        const char *k = cq_config_rows[i].key;
        size_t j = 0;
        for (; k[j] && env_name[j]; j++) {
            char want = (char)(k[j] == '.' ? '_' : toupper((unsigned char)k[j]));
            if (env_name[j] != want)
                break;
        }
        if (!k[j] && !env_name[j]) {
            cq_strlcpy(key, k, key_size);
            return true;
        }
    }
    return false;
}

/* COACHQ_ variables of the scripts and tests, not config keys. */
static bool cq_config_env_reserved(const char *name)
{
    static const char *const prefixes[] = {"STACK_", "RUN_", "TEST_", "IT_"};
    /* URL, TOKEN, TENANT, USER: the coachq command line's (cli/main.c), so a
     * shell that exports them can still start the services. */
    static const char *const names[] = {"SOURCE_DIR", "BIN_DIR", "UPDATE_GOLDEN", "AVRO_TOOLS",
                                        "URL",        "TOKEN",   "TENANT",        "USER"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(prefixes); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(names); i++) {
        size_t n = strlen(names[i]);
        if (strncmp(name, names[i], n) == 0 && name[n] == '=')
            return true;
    }
    return false;
}

cq_err_t cq_config_load_env(cq_config_t *conf, char *const *envp, char *errstr, size_t errstr_size)
{
    for (; envp && *envp; envp++) {
        if (strncmp(*envp, "COACHQ_", 7) != 0 || cq_config_env_reserved(*envp + 7))
            continue;
        const char *eq = strchr(*envp, '=');
        if (!eq)
            continue;
        char name[256], key[256];
        size_t n = (size_t)(eq - (*envp + 7));
        if (n >= sizeof(name))
            continue;
        memcpy(name, *envp + 7, n);
        name[n] = '\0';
        if (!cq_config_env_key(name, key, sizeof(key))) {
            cq_errstr_set(errstr, errstr_size, "COACHQ_%s: no such config key", name);
            return CQ_ERR_CONFIG;
        }
        char err[512];
        if (cq_config_set(conf, key, eq + 1, err, sizeof(err)) != CQ_ERR_OK) {
            cq_errstr_set(errstr, errstr_size, "COACHQ_%s: %s", name, err);
            return CQ_ERR_CONFIG;
        }
    }
    return CQ_ERR_OK;
}

cq_err_t cq_config_from_args(cq_config_t *conf, const char *program, int argc, char **argv,
                             bool *exit_now, char *errstr, size_t errstr_size)
{
    extern char **environ;
    const char *file = NULL;
    *exit_now = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            i++;
        } else if (strcmp(argv[i], "--config-reference") == 0) {
            cq_config_write_reference(stdout);
            *exit_now = true;
            return CQ_ERR_OK;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: %s [-c FILE] [-o key=value]... [--config-reference]\n"
                   "Config keys are listed in docs/CONFIG.md; COACHQ_<KEY> variables override "
                   "the file, -o overrides both.\n",
                   program);
            *exit_now = true;
            return CQ_ERR_OK;
        } else {
            cq_errstr_set(errstr, errstr_size, "unknown argument \"%s\" (try --help)", argv[i]);
            return CQ_ERR_CONFIG;
        }
    }
    cq_err_t rc;
    if (file && (rc = cq_config_load_file(conf, file, errstr, errstr_size)) != CQ_ERR_OK)
        return rc;
    static char *const no_env[] = {NULL}; /* environ is NULL after clearenv() */
    if ((rc = cq_config_load_env(conf, environ ? environ : no_env, errstr, errstr_size)) !=
        CQ_ERR_OK)
        return rc;
    for (int i = 1; i < argc && argv[i]; i++) {
        if (strcmp(argv[i], "-c") == 0) {
            i++;
            continue;
        }
        if (strcmp(argv[i], "-o") != 0)
            continue;
        char *kv = cq_strdup(argv[++i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            cq_errstr_set(errstr, errstr_size, "-o %s: expected key=value", kv);
            free(kv);
            return CQ_ERR_CONFIG;
        }
        *eq = '\0';
        rc = cq_config_set(conf, kv, eq + 1, errstr, errstr_size);
        free(kv);
        if (rc != CQ_ERR_OK)
            return rc;
    }
    if (!cq_log_level_set(conf->log_level)) {
        cq_errstr_set(errstr, errstr_size, "log.level: \"%s\" is not error, warn, info or debug",
                      conf->log_level);
        return CQ_ERR_CONFIG;
    }
    if (!cq_log_format_set(conf->log_format)) {
        cq_errstr_set(errstr, errstr_size, "log.format: \"%s\" is not auto, text or json",
                      conf->log_format);
        return CQ_ERR_CONFIG;
    }
    return CQ_ERR_OK;
}

const char *cq_config_kafka_get(const cq_config_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->kafka_count; i++)
        if (strcmp(conf->kafka_names[i], name) == 0)
            return conf->kafka_values[i];
    return NULL;
}

void cq_config_write_reference(FILE *out)
{
    static const char *const type_names[] = {"string", "integer", "boolean", "duration", "size"};
    fprintf(out, "# coachq configuration reference\n\n"
                 "Generated from `lib/cq_config_keys.h` by `coachq-gateway --config-reference`;"
                 " a test keeps this file in sync.\n\n"
                 "Sources, later ones win: defaults, the file given with `-c`, `COACHQ_<KEY>`"
                 " environment variables (upper case, `.` as `_`), `-o key=value`.\n"
                 "Variables named `COACHQ_STACK_*`, `COACHQ_RUN_*`, `COACHQ_TEST_*`,"
                 " `COACHQ_IT_*`, `COACHQ_SOURCE_DIR`, `COACHQ_BIN_DIR`,"
                 " `COACHQ_UPDATE_GOLDEN` and `COACHQ_AVRO_TOOLS` belong to the scripts and"
                 " tests and are not read as config.\n"
                 "Durations are a whole number followed by `ms`, `s`, `m` or `h` (`250ms`,"
                 " `25s`, `10m`, `24h`); sizes a whole number followed by `B`, `KiB`, `MiB` or"
                 " `GiB` (powers of 1024). A bare number is refused for both, so `180` can never"
                 " be read as 180 ms by someone who meant 3 minutes; `KB`, `MB` and `GB` are"
                 " refused too, since people read them as both 1000 and 1024."
                 " Programs: G gateway, W workers.\n\n"
                 "Keys named `kafka.<property>` go to librdkafka unchanged"
                 " (for example `kafka.bootstrap.servers`, default `127.0.0.1:9092`).\n\n"
                 "| key | type | default | range | programs | description |\n"
                 "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_rows); i++) {
        const cq_config_row_t *r = &cq_config_rows[i];
        char range[80] = "", lo[32], hi[32];
        if (r->type == CQ_CT_INT || r->type == CQ_CT_MS || r->type == CQ_CT_SIZE) {
            cq_config_format(r->type, r->min, lo, sizeof(lo));
            cq_config_format(r->type, r->max, hi, sizeof(hi));
            snprintf(range, sizeof(range), "%s..%s", lo, hi);
        }
        fprintf(out, "| `%s` | %s | `%s` | %s | %s | %s |\n", r->key, type_names[r->type], r->def,
                range, r->progs, r->desc);
    }
}
