/*
 * cq_cli_args.c — the command line's grammar: subcommands, their options,
 * usage texts and the exit-code mapping (see cq_cli.h).
 *
 * Pure functions over argv, no I/O but the usage text, so the unit tests
 * drive every rule. Options may come before or after the subcommand; an
 * option a subcommand does not take is a usage error, not ignored.
 */
#include "cq_cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CQ_CLI_BIT(cmd) (1u << (cmd))
#define CQ_CLI_ALL      0xffffffffu

typedef enum {
    CQ_CLI_OPT_URL,
    CQ_CLI_OPT_TOKEN,
    CQ_CLI_OPT_KAFKA,
    CQ_CLI_OPT_TENANT,
    CQ_CLI_OPT_USER,
    CQ_CLI_OPT_CONFIG,
    CQ_CLI_OPT_SET,
    CQ_CLI_OPT_QUIET,
    CQ_CLI_OPT_HELP,
    CQ_CLI_OPT_ASYNC,
    CQ_CLI_OPT_WAIT,
    CQ_CLI_OPT_TIMEOUT,
    CQ_CLI_OPT_IDEMPOTENCY,
    CQ_CLI_OPT_OUTPUT,
    CQ_CLI_OPT_NO_PROGRESS,
    CQ_CLI_OPT_CODE,
    CQ_CLI_OPT_LIMIT,
    CQ_CLI_OPT_RATE,
    CQ_CLI_OPT_DRY_RUN,
    CQ_CLI_OPT_FROM_BEGINNING,
    CQ_CLI_OPT_COUNT,
} cq_cli_opt_id_t;

typedef struct {
    const char *name; /* long form, without "--" */
    char short_name;  /* 0: none */
    bool takes_value;
    unsigned commands; /* CQ_CLI_BIT of the subcommands that take it */
    cq_cli_opt_id_t id;
} cq_cli_opt_t;

static const cq_cli_opt_t cq_cli_opts[] = {
    {"url", 0, true, CQ_CLI_ALL, CQ_CLI_OPT_URL},
    {"token", 0, true, CQ_CLI_ALL, CQ_CLI_OPT_TOKEN},
    {"kafka", 0, true, CQ_CLI_ALL, CQ_CLI_OPT_KAFKA},
    {"tenant", 0, true, CQ_CLI_ALL, CQ_CLI_OPT_TENANT},
    {"user", 0, true, CQ_CLI_ALL, CQ_CLI_OPT_USER},
    {"config", 'c', true, CQ_CLI_ALL, CQ_CLI_OPT_CONFIG},
    {"set", 0, true, CQ_CLI_ALL, CQ_CLI_OPT_SET},
    {"quiet", 'q', false, CQ_CLI_ALL, CQ_CLI_OPT_QUIET},
    {"help", 'h', false, CQ_CLI_ALL, CQ_CLI_OPT_HELP},
    {"async", 0, false, CQ_CLI_BIT(CQ_CLI_CMD_SUBMIT), CQ_CLI_OPT_ASYNC},
    {"wait", 0, false, CQ_CLI_BIT(CQ_CLI_CMD_SUBMIT), CQ_CLI_OPT_WAIT},
    {"timeout", 't', true,
     CQ_CLI_BIT(CQ_CLI_CMD_SUBMIT) | CQ_CLI_BIT(CQ_CLI_CMD_WAIT) | CQ_CLI_BIT(CQ_CLI_CMD_BATCH) |
         CQ_CLI_BIT(CQ_CLI_CMD_DLQ_LIST) | CQ_CLI_BIT(CQ_CLI_CMD_DLQ_REPLAY) |
         CQ_CLI_BIT(CQ_CLI_CMD_RESULTS_TAIL),
     CQ_CLI_OPT_TIMEOUT},
    {"idempotency-key", 0, true, CQ_CLI_BIT(CQ_CLI_CMD_SUBMIT), CQ_CLI_OPT_IDEMPOTENCY},
    {"output", 'o', true, CQ_CLI_BIT(CQ_CLI_CMD_BATCH), CQ_CLI_OPT_OUTPUT},
    {"no-progress", 0, false, CQ_CLI_BIT(CQ_CLI_CMD_BATCH), CQ_CLI_OPT_NO_PROGRESS},
    {"code", 0, true, CQ_CLI_BIT(CQ_CLI_CMD_DLQ_LIST) | CQ_CLI_BIT(CQ_CLI_CMD_DLQ_REPLAY),
     CQ_CLI_OPT_CODE},
    {"limit", 'n', true, CQ_CLI_BIT(CQ_CLI_CMD_DLQ_LIST) | CQ_CLI_BIT(CQ_CLI_CMD_DLQ_REPLAY),
     CQ_CLI_OPT_LIMIT},
    {"rate", 0, true, CQ_CLI_BIT(CQ_CLI_CMD_DLQ_REPLAY), CQ_CLI_OPT_RATE},
    {"dry-run", 0, false, CQ_CLI_BIT(CQ_CLI_CMD_DLQ_REPLAY), CQ_CLI_OPT_DRY_RUN},
    {"from-beginning", 0, false, CQ_CLI_BIT(CQ_CLI_CMD_RESULTS_TAIL), CQ_CLI_OPT_FROM_BEGINNING},
    {"count", 0, true, CQ_CLI_BIT(CQ_CLI_CMD_RESULTS_TAIL), CQ_CLI_OPT_COUNT},
};

typedef struct {
    const char *word, *sub; /* "dlq" "list"; sub NULL for one-word commands */
    cq_cli_cmd_t cmd;
    size_t min_pos, max_pos;
} cq_cli_cmd_spec_t;

static const cq_cli_cmd_spec_t cq_cli_cmds[] = {
    {"help", NULL, CQ_CLI_CMD_HELP, 0, 2},
    {"submit", NULL, CQ_CLI_CMD_SUBMIT, 1, 2},
    {"get", NULL, CQ_CLI_CMD_GET, 1, 1},
    {"wait", NULL, CQ_CLI_CMD_WAIT, 1, 1},
    {"cancel", NULL, CQ_CLI_CMD_CANCEL, 1, 1},
    {"batch", NULL, CQ_CLI_CMD_BATCH, 1, 1},
    {"dlq", "list", CQ_CLI_CMD_DLQ_LIST, 0, 0},
    {"dlq", "replay", CQ_CLI_CMD_DLQ_REPLAY, 0, 0},
    {"results", "tail", CQ_CLI_CMD_RESULTS_TAIL, 0, 0},
    {"operations", NULL, CQ_CLI_CMD_OPERATIONS, 0, 0},
};

int64_t cq_cli_parse_duration(const char *text)
{
    if (!text || !isdigit((unsigned char)*text))
        return -1;
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (errno != 0 || v < 0)
        return -1;
    double scale;
    if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else if (strcmp(end, "h") == 0)
        scale = 3600000;
    else
        return -1;
    double ms = v * scale;
    return ms > 1e15 ? -1 : (int64_t)ms;
}

double cq_cli_parse_rate(const char *text)
{
    if (!text || !isdigit((unsigned char)*text))
        return 0;
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (errno != 0 || v <= 0 || v > 1e6)
        return 0;
    if (strcmp(end, "") == 0 || strcmp(end, "/s") == 0)
        return v;
    if (strcmp(end, "/m") == 0)
        return v / 60.0;
    return 0;
}

static bool cq_cli_parse_count(const char *text, int64_t *out)
{
    if (!text || !isdigit((unsigned char)*text))
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end || v < 0)
        return false;
    *out = v;
    return true;
}

static const cq_cli_opt_t *cq_cli_opt_find(const char *arg, const char **inline_value)
{
    *inline_value = NULL;
    if (arg[0] == '-' && arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_cli_opts); i++)
            if (strlen(cq_cli_opts[i].name) == n && strncmp(cq_cli_opts[i].name, name, n) == 0) {
                *inline_value = eq ? eq + 1 : NULL;
                return &cq_cli_opts[i];
            }
        return NULL;
    }
    if (arg[0] == '-' && arg[1] && !arg[2])
        for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_cli_opts); i++)
            if (cq_cli_opts[i].short_name == arg[1])
                return &cq_cli_opts[i];
    return NULL;
}

/* Stores one option's value (NULL for an option without one). */
static cq_cli_exit_t cq_cli_opt_apply(const cq_cli_opt_t *opt, const char *value,
                                      cq_cli_args_t *args, char *errstr, size_t errstr_size)
{
    /* The caller gives every option that takes a value one; "" keeps the
     * cases below safe should a table entry ever say otherwise. */
    const char *v = value ? value : "";
    switch (opt->id) {
    case CQ_CLI_OPT_URL:
        args->url = v;
        break;
    case CQ_CLI_OPT_TOKEN:
        args->token = v;
        break;
    case CQ_CLI_OPT_KAFKA:
        args->kafka = v;
        break;
    case CQ_CLI_OPT_TENANT:
        args->tenant = v;
        break;
    case CQ_CLI_OPT_USER:
        args->user = v;
        break;
    case CQ_CLI_OPT_CONFIG:
        args->config_file = v;
        break;
    case CQ_CLI_OPT_SET:
        if (!strchr(v, '=') || v[0] == '=') {
            cq_errstr_set(errstr, errstr_size, "--set %s: expected key=value", v);
            return CQ_CLI_EXIT_USAGE;
        }
        if (args->override_count == CQ_CLI_MAX_OVERRIDES) {
            cq_errstr_set(errstr, errstr_size, "more than %d --set options", CQ_CLI_MAX_OVERRIDES);
            return CQ_CLI_EXIT_USAGE;
        }
        args->overrides[args->override_count++] = v;
        break;
    case CQ_CLI_OPT_QUIET:
        args->quiet = true;
        break;
    case CQ_CLI_OPT_HELP:
        args->help = true;
        break;
    case CQ_CLI_OPT_ASYNC:
        args->async = true;
        break;
    case CQ_CLI_OPT_WAIT:
        args->wait = true;
        break;
    case CQ_CLI_OPT_TIMEOUT:
        if ((args->timeout_ms = cq_cli_parse_duration(v)) < 0) {
            cq_errstr_set(errstr, errstr_size,
                          "--timeout %s: expected a duration such as 30s, 500ms, 2m", v);
            return CQ_CLI_EXIT_USAGE;
        }
        break;
    case CQ_CLI_OPT_IDEMPOTENCY:
        if (!*v || strlen(v) > 255) {
            cq_errstr_set(errstr, errstr_size, "--idempotency-key takes 1-255 characters");
            return CQ_CLI_EXIT_USAGE;
        }
        args->idempotency_key = v;
        break;
    case CQ_CLI_OPT_OUTPUT:
        args->output = v;
        break;
    case CQ_CLI_OPT_NO_PROGRESS:
        args->progress_off = true;
        break;
    case CQ_CLI_OPT_CODE:
        args->code = v;
        break;
    case CQ_CLI_OPT_LIMIT:
        if (!cq_cli_parse_count(v, &args->limit)) {
            cq_errstr_set(errstr, errstr_size, "--limit %s: expected a whole number", v);
            return CQ_CLI_EXIT_USAGE;
        }
        break;
    case CQ_CLI_OPT_COUNT:
        if (!cq_cli_parse_count(v, &args->count)) {
            cq_errstr_set(errstr, errstr_size, "--count %s: expected a whole number", v);
            return CQ_CLI_EXIT_USAGE;
        }
        break;
    case CQ_CLI_OPT_RATE:
        if ((args->rate = cq_cli_parse_rate(v)) <= 0) {
            cq_errstr_set(errstr, errstr_size, "--rate %s: expected N, N/s or N/m (N > 0)", v);
            return CQ_CLI_EXIT_USAGE;
        }
        break;
    case CQ_CLI_OPT_DRY_RUN:
        args->dry_run = true;
        break;
    case CQ_CLI_OPT_FROM_BEGINNING:
        args->from_beginning = true;
        break;
    }
    return CQ_CLI_EXIT_OK;
}

static const cq_cli_cmd_spec_t *cq_cli_cmd_spec(cq_cli_cmd_t cmd)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_cli_cmds); i++)
        if (cq_cli_cmds[i].cmd == cmd)
            return &cq_cli_cmds[i];
    return NULL;
}

/* Options are checked against the subcommand once it is known, so
 * "coachq --async submit" and "coachq submit --async" mean the same. */
static const char *cq_cli_cmd_name(cq_cli_cmd_t cmd, char *buf, size_t size)
{
    const cq_cli_cmd_spec_t *spec = cq_cli_cmd_spec(cmd);
    snprintf(buf, size, "%s%s%s", spec ? spec->word : "coachq", spec && spec->sub ? " " : "",
             spec && spec->sub ? spec->sub : "");
    return buf;
}

cq_cli_exit_t cq_cli_args_parse(int argc, char **argv, cq_cli_args_t *args, char *errstr,
                                size_t errstr_size)
{
    memset(args, 0, sizeof(*args));
    args->timeout_ms = args->limit = args->count = -1;
    const char *words[CQ_CLI_MAX_POSITIONAL + 2];
    size_t word_count = 0;
    const cq_cli_opt_t *seen[64];
    size_t seen_count = 0;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && arg[0] == '-' && arg[1]) {
            const char *value;
            const cq_cli_opt_t *opt = cq_cli_opt_find(arg, &value);
            if (!opt) {
                cq_errstr_set(errstr, errstr_size, "unknown option %s", arg);
                return CQ_CLI_EXIT_USAGE;
            }
            if (opt->takes_value && !value) {
                if (i + 1 >= argc) {
                    cq_errstr_set(errstr, errstr_size, "%s needs a value", arg);
                    return CQ_CLI_EXIT_USAGE;
                }
                value = argv[++i];
            } else if (!opt->takes_value && value) {
                cq_errstr_set(errstr, errstr_size, "--%s takes no value", opt->name);
                return CQ_CLI_EXIT_USAGE;
            }
            cq_cli_exit_t rc = cq_cli_opt_apply(opt, value, args, errstr, errstr_size);
            if (rc != CQ_CLI_EXIT_OK)
                return rc;
            if (seen_count < CQ_ARRAY_SIZE(seen))
                seen[seen_count++] = opt;
            continue;
        }
        if (word_count == CQ_ARRAY_SIZE(words)) {
            cq_errstr_set(errstr, errstr_size, "too many arguments (from \"%s\")", arg);
            return CQ_CLI_EXIT_USAGE;
        }
        words[word_count++] = arg;
    }
    if (word_count == 0) {
        if (args->help)
            return CQ_CLI_EXIT_OK;
        cq_errstr_set(errstr, errstr_size, "no command given");
        return CQ_CLI_EXIT_USAGE;
    }
    const cq_cli_cmd_spec_t *spec = NULL;
    bool word_known = false;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_cli_cmds) && !spec; i++) {
        if (strcmp(cq_cli_cmds[i].word, words[0]) != 0)
            continue;
        word_known = true;
        if (!cq_cli_cmds[i].sub || (word_count > 1 && strcmp(cq_cli_cmds[i].sub, words[1]) == 0))
            spec = &cq_cli_cmds[i];
    }
    if (!spec) {
        if (word_known && args->help) /* "coachq dlq --help" */
            return CQ_CLI_EXIT_OK;
        if (word_known)
            cq_errstr_set(errstr, errstr_size, "%s: expected %s", words[0],
                          strcmp(words[0], "dlq") == 0 ? "list or replay" : "tail");
        else
            cq_errstr_set(errstr, errstr_size, "unknown command \"%s\"", words[0]);
        return CQ_CLI_EXIT_USAGE;
    }
    args->cmd = spec->cmd;
    size_t first = spec->sub ? 2 : 1;
    for (size_t i = first; i < word_count; i++)
        args->pos[args->pos_count++] = words[i];
    char name[32];
    cq_cli_cmd_name(spec->cmd, name, sizeof(name));
    for (size_t i = 0; i < seen_count; i++)
        if (!(seen[i]->commands & CQ_CLI_BIT(spec->cmd))) {
            cq_errstr_set(errstr, errstr_size, "%s does not take --%s", name, seen[i]->name);
            return CQ_CLI_EXIT_USAGE;
        }
    if (args->help)
        return CQ_CLI_EXIT_OK;
    if (args->pos_count < spec->min_pos || args->pos_count > spec->max_pos) {
        cq_errstr_set(errstr, errstr_size, "%s takes %s", name,
                      spec->max_pos == 0               ? "no arguments"
                      : spec->min_pos == spec->max_pos ? "one argument"
                      : spec->cmd == CQ_CLI_CMD_SUBMIT ? "OPERATION and an optional BODY"
                                                       : "at most two arguments");
        return CQ_CLI_EXIT_USAGE;
    }
    if (spec->cmd == CQ_CLI_CMD_SUBMIT && args->wait && !args->async) {
        cq_errstr_set(errstr, errstr_size,
                      "submit: --wait goes with --async (a plain submit "
                      "waits already)");
        return CQ_CLI_EXIT_USAGE;
    }
    if (spec->cmd == CQ_CLI_CMD_HELP) {
        args->help = true;
        args->cmd = CQ_CLI_CMD_NONE;
        /* "coachq help dlq replay" */
        for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_cli_cmds) && args->pos_count; i++)
            if (strcmp(cq_cli_cmds[i].word, args->pos[0]) == 0 &&
                (!cq_cli_cmds[i].sub ||
                 (args->pos_count > 1 && strcmp(cq_cli_cmds[i].sub, args->pos[1]) == 0)))
                args->cmd = cq_cli_cmds[i].cmd;
        args->pos_count = 0;
    }
    return CQ_CLI_EXIT_OK;
}

cq_cli_exit_t cq_cli_exit_for_http(long status, bool job_error)
{
    if (status == 0)
        return CQ_CLI_EXIT_TRANSPORT;
    if (status >= 200 && status < 300)
        return CQ_CLI_EXIT_OK;
    if (job_error && status >= 400)
        return CQ_CLI_EXIT_JOB_FAILED;
    if (status >= 400 && status < 500)
        return CQ_CLI_EXIT_REJECTED;
    return CQ_CLI_EXIT_SERVER;
}

cq_cli_exit_t cq_cli_exit_for_status(const char *status)
{
    if (!status)
        return CQ_CLI_EXIT_TIMEOUT;
    if (strcmp(status, "succeeded") == 0)
        return CQ_CLI_EXIT_OK;
    if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0)
        return CQ_CLI_EXIT_JOB_FAILED;
    return CQ_CLI_EXIT_TIMEOUT;
}
