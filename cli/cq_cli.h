/*
 * cq_cli.h — the `coachq` command line: its parsed arguments, the exit codes
 * scripts can rely on, and the context every subcommand gets.
 *
 * Arguments are parsed once into a cq_cli_args_t (cq_cli_args.c, pure, unit
 * tested); main.c builds a cq_cli_t from them (config, contract, HTTP
 * client) and calls the subcommand. Single threaded.
 */
#ifndef CQ_CLI_H
#define CQ_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "cq_common.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_err.h"

/* Exit codes (README "Command line"): stable, scripts test them. */
typedef enum {
    CQ_CLI_EXIT_OK = 0,         /* done; the job (every job of a batch) succeeded */
    CQ_CLI_EXIT_JOB_FAILED = 1, /* the job ended failed or cancelled (a batch: any item) */
    CQ_CLI_EXIT_USAGE = 2,      /* bad command line, unreadable input file */
    CQ_CLI_EXIT_TRANSPORT = 3,  /* gateway or Kafka unreachable, transfer failed */
    CQ_CLI_EXIT_REJECTED = 4,   /* the gateway refused the request (4xx) */
    CQ_CLI_EXIT_SERVER = 5,     /* the gateway failed (5xx) or answered nonsense */
    CQ_CLI_EXIT_TIMEOUT = 6,    /* the job was still not finished when the wait ended */
} cq_cli_exit_t;

/* The subcommands. */
typedef enum {
    CQ_CLI_CMD_NONE = 0,
    CQ_CLI_CMD_HELP,
    CQ_CLI_CMD_SUBMIT,
    CQ_CLI_CMD_GET,
    CQ_CLI_CMD_WAIT,
    CQ_CLI_CMD_CANCEL,
    CQ_CLI_CMD_BATCH,
    CQ_CLI_CMD_DLQ_LIST,
    CQ_CLI_CMD_DLQ_REPLAY,
    CQ_CLI_CMD_RESULTS_TAIL,
    CQ_CLI_CMD_OPERATIONS,
} cq_cli_cmd_t;

#define CQ_CLI_MAX_POSITIONAL 4
#define CQ_CLI_MAX_OVERRIDES  32

/* Everything the command line said. Strings point into argv (borrowed). */
typedef struct {
    cq_cli_cmd_t cmd;
    const char *pos[CQ_CLI_MAX_POSITIONAL];
    size_t pos_count;
    /* global */
    const char *url, *token, *kafka, *tenant, *user, *config_file;
    const char *overrides[CQ_CLI_MAX_OVERRIDES]; /* "key=value" */
    size_t override_count;
    bool help, quiet;
    /* per subcommand */
    bool async, wait, dry_run, from_beginning, progress_off;
    int64_t timeout_ms; /* -1: not given */
    int64_t limit;      /* -1: not given */
    int64_t count;      /* -1: not given */
    double rate;        /* replays per second; 0: not given */
    const char *code, *output, *idempotency_key;
} cq_cli_args_t;

/* Parses argv (argv[0] is the program). CQ_CLI_EXIT_OK, or
 * CQ_CLI_EXIT_USAGE with errstr saying what is wrong. `--help` anywhere
 * sets args->help (with the subcommand, if one was named). */
cq_cli_exit_t cq_cli_args_parse(int argc, char **argv, cq_cli_args_t *args, char *errstr,
                                size_t errstr_size);

/* Parses "30s", "500ms", "2m", "1h" or a bare number of seconds into ms;
 * -1 if it is none of them. */
int64_t cq_cli_parse_duration(const char *text);
/* Parses "N", "N/s" or "N/m" into a rate per second; 0 if invalid. */
double cq_cli_parse_rate(const char *text);

/* The exit code of an HTTP answer: transport failure (status 0) 3, 2xx 0,
 * a job's own error (job_error: the problem names the job that failed) 1,
 * other 4xx 4, 5xx and anything else 5. */
cq_cli_exit_t cq_cli_exit_for_http(long status, bool job_error);
/* The exit code of a job's terminal status ("succeeded" 0, "failed" and
 * "cancelled" 1); a non-terminal or unknown status is CQ_CLI_EXIT_TIMEOUT. */
cq_cli_exit_t cq_cli_exit_for_status(const char *status);

/* The usage text of a subcommand (CQ_CLI_CMD_NONE: the overview). */
void cq_cli_usage(cq_cli_cmd_t cmd, FILE *out);

typedef struct cq_cli_http_s cq_cli_http_t;

/* What a subcommand runs with. */
typedef struct {
    const cq_cli_args_t *args;
    cq_config_t *conf;
    cq_contract_t *contract;
    cq_cli_http_t *http;
    char *base_url; /* the gateway's base, e.g. http://127.0.0.1:8080/coaching/api/v1 */
    bool err_tty;   /* stderr is a terminal */
    bool out_tty;   /* stdout is a terminal */
} cq_cli_t;

/* Subcommands (cq_cli_jobs.c, cq_cli_batch.c, cq_cli_kafka.c): each returns
 * its exit code and writes what went wrong to stderr. */
cq_cli_exit_t cq_cli_submit(cq_cli_t *cli);
cq_cli_exit_t cq_cli_get(cq_cli_t *cli);
cq_cli_exit_t cq_cli_wait(cq_cli_t *cli);
cq_cli_exit_t cq_cli_cancel(cq_cli_t *cli);
cq_cli_exit_t cq_cli_operations(cq_cli_t *cli);
cq_cli_exit_t cq_cli_batch(cq_cli_t *cli);
cq_cli_exit_t cq_cli_dlq_list(cq_cli_t *cli);
cq_cli_exit_t cq_cli_dlq_replay(cq_cli_t *cli);
cq_cli_exit_t cq_cli_results_tail(cq_cli_t *cli);

/* Resolves an operation named by its x-coachq-operation name, its OpenAPI
 * operationId or its path (with or without the base path); NULL if none. */
const cq_operation_t *cq_cli_find_operation(const cq_contract_t *contract, const char *name);

/* Waits until the job is terminal or timeout_ms (-1: no limit) passed,
 * long-polling GET /jobs/{id}. *job gets the last job resource read (caller
 * decrefs; may be NULL on a transport failure). Returns the exit code the
 * wait ends with. */
cq_cli_exit_t cq_cli_wait_job(cq_cli_t *cli, const char *job_id, int64_t timeout_ms, json_t **job);

/* Splits items of the given sizes (bytes, with their newline) into
 * consecutive chunks of at most max_items items and max_bytes bytes (an
 * item larger than max_bytes alone is a chunk of its own: the gateway will
 * say why it is refused). firsts[k] gets chunk k's first item (firsts has
 * room for count entries). Returns the number of chunks. */
size_t cq_cli_batch_plan(const size_t *sizes, size_t count, size_t max_items, size_t max_bytes,
                         size_t *firsts);

/* The traceparent a replayed job is sent with: "00-<trace>-<span>-01",
 * trace the original's trace id when trace_parent (may be NULL) is a valid
 * W3C traceparent, else the hex digits of job_id (a UUID: 32, a trace id's
 * size); span new. */
void cq_cli_replay_traceparent(const char *trace_parent, const char *job_id, char *out,
                               size_t out_size);
/* The tenant_id claim of a JWT, read without verifying it (the gateway
 * verifies): which dead letters a token may replay. NULL if none. Caller
 * frees. */
char *cq_cli_token_tenant(const char *token);

/* Prints a JSON value on one line (compact) or indented when stdout is a
 * terminal. */
void cq_cli_print_json(const cq_cli_t *cli, FILE *out, const json_t *value);

#endif
