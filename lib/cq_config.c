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

typedef enum { CQ_CT_STR, CQ_CT_INT, CQ_CT_BOOL, CQ_CT_MS } cq_config_type_t;

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

static bool cq_config_parse_ms(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return false;
    int64_t mult;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        mult = 3600 * 1000;
    else
        return false;
    if (v > INT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
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
    int64_t n = 0;
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
        if (!(row->type == CQ_CT_INT ? cq_config_parse_int(value, &n)
                                     : cq_config_parse_ms(value, &n))) {
            cq_errstr_set(errstr, errstr_size, "%s: \"%s\" is not %s", key, value,
                          row->type == CQ_CT_INT ? "an integer" : "a duration (e.g. 500ms, 25s)");
            return CQ_ERR_CONFIG;
        }
        if (n < row->min || n > row->max) {
            cq_errstr_set(errstr, errstr_size, "%s: %lld is outside %lld..%lld", key, (long long)n,
                          (long long)row->min, (long long)row->max);
            return CQ_ERR_CONFIG;
        }
        *(int64_t *)field = n;
        return CQ_ERR_OK;
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
            *p = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
        return true;
    }
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_rows); i++) {
        const char *k = cq_config_rows[i].key;
        size_t j = 0;
        for (; k[j] && env_name[j]; j++) {
            char want = k[j] == '.' ? '_' : (char)toupper((unsigned char)k[j]);
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
    static const char *const names[] = {"SOURCE_DIR", "BIN_DIR", "UPDATE_GOLDEN", "AVRO_TOOLS"};
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
    if ((rc = cq_config_load_env(conf, environ, errstr, errstr_size)) != CQ_ERR_OK)
        return rc;
    for (int i = 1; i < argc; i++) {
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
    static const char *const type_names[] = {"string", "integer", "boolean", "duration"};
    fprintf(out, "# coachq configuration reference\n\n"
                 "Generated from `lib/cq_config_keys.h` by `coachq-gateway --config-reference`;"
                 " a test keeps this file in sync.\n\n"
                 "Sources, later ones win: defaults, the file given with `-c`, `COACHQ_<KEY>`"
                 " environment variables (upper case, `.` as `_`), `-o key=value`.\n"
                 "Variables named `COACHQ_STACK_*`, `COACHQ_RUN_*`, `COACHQ_TEST_*`,"
                 " `COACHQ_IT_*`, `COACHQ_SOURCE_DIR`, `COACHQ_BIN_DIR`,"
                 " `COACHQ_UPDATE_GOLDEN` and `COACHQ_AVRO_TOOLS` belong to the scripts and"
                 " tests and are not read as config.\n"
                 "Durations take `ms`, `s`, `m` or `h`. Programs: G gateway, W workers.\n\n"
                 "Keys named `kafka.<property>` go to librdkafka unchanged"
                 " (for example `kafka.bootstrap.servers`, default `127.0.0.1:9092`).\n\n"
                 "| key | type | default | range | programs | description |\n"
                 "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_config_rows); i++) {
        const cq_config_row_t *r = &cq_config_rows[i];
        char range[64] = "";
        if (r->type == CQ_CT_INT || r->type == CQ_CT_MS)
            snprintf(range, sizeof(range), "%lld..%lld", (long long)r->min, (long long)r->max);
        fprintf(out, "| `%s` | %s | `%s` | %s | %s | %s |\n", r->key, type_names[r->type], r->def,
                range, r->progs, r->desc);
    }
}
