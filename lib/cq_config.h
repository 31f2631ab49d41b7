/*
 * cq_config.h — the configuration of a coachq program, built from the table
 * in cq_config_keys.h.
 *
 * Sources, later ones win: the table's defaults, a config file of
 * `key = value` lines (`#` starts a comment), COACHQ_<KEY> environment
 * variables (key upper-cased, '.' as '_'; for kafka.* keys every '_' after
 * COACHQ_KAFKA_ becomes '.'), then `-o key=value` overrides. Keys named
 * kafka.* are kept in order and handed to librdkafka as they are.
 *
 * A cq_config_t is built once at start and read-only afterwards, so any
 * thread may read it without locks.
 */
#ifndef CQ_CONFIG_H
#define CQ_CONFIG_H

#include <stdio.h>

#include "cq_common.h"
#include "cq_config_keys.h"
#include "cq_err.h"

#define CQ_CONFIG_CTYPE_STR  char *
#define CQ_CONFIG_CTYPE_INT  int64_t
#define CQ_CONFIG_CTYPE_BOOL bool
#define CQ_CONFIG_CTYPE_MS   int64_t
#define CQ_CONFIG_CTYPE_SIZE int64_t

typedef struct cq_config_s {
#define CQ_CONFIG_FIELD(key, field, type, def, min, max, progs, desc) CQ_CONFIG_CTYPE_##type field;
    CQ_CONFIG_TABLE(CQ_CONFIG_FIELD)
#undef CQ_CONFIG_FIELD
    /* kafka.* pass-through properties, names without the "kafka." prefix. */
    char **kafka_names;
    char **kafka_values;
    size_t kafka_count;
} cq_config_t;

/* A config with every default (and the default kafka.* properties). Caller destroys. */
cq_config_t *cq_config_new(void);
void cq_config_destroy(cq_config_t *conf);

/* Sets one key from its text form. Durations need a unit (ms, s, m, h) and
 * sizes one of B, KiB, MiB, GiB; a bare number is refused. Errors (unknown
 * key, bad value, out of range) name the key and are written to errstr; on
 * error the config is unchanged. */
cq_err_t cq_config_set(cq_config_t *conf, const char *key, const char *value, char *errstr,
                       size_t errstr_size);

/* Reads a config file; errors say "path:line: message". */
cq_err_t cq_config_load_file(cq_config_t *conf, const char *path, char *errstr, size_t errstr_size);

/* Applies COACHQ_* variables from envp (NULL-terminated, as environ). */
cq_err_t cq_config_load_env(cq_config_t *conf, char *const *envp, char *errstr, size_t errstr_size);

/* Parses a program's command line: -c FILE, -o key=value (repeatable),
 * --config-reference (prints docs/CONFIG.md and sets *exit_now), -h/--help.
 * Applies file, then environment, then -o overrides. */
cq_err_t cq_config_from_args(cq_config_t *conf, const char *program, int argc, char **argv,
                             bool *exit_now, char *errstr, size_t errstr_size);

/* Looks up a kafka.* pass-through property by name without prefix; NULL if unset. */
const char *cq_config_kafka_get(const cq_config_t *conf, const char *name);

/* Writes the Markdown config reference generated from the table. */
void cq_config_write_reference(FILE *out);

#endif
