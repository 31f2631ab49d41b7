/*
 * main.c — the `coachq` command line for client developers and operators:
 * parses the arguments, builds the configuration the way the services do
 * (defaults, config file, COACHQ_<KEY> variables, --set), loads the
 * contract built into the binary and runs one subcommand. See
 * cq_cli_usage.c for the commands and their exit codes.
 */
#include "cq_cli.h"
#include "cq_cli_http.h"
#include "cq_log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* COACHQ_ variables of the command line itself, not config keys. */
static bool cq_cli_own_env(const char *entry)
{
    static const char *const names[] = {
        "COACHQ_URL=", "COACHQ_TOKEN=", "COACHQ_TENANT=", "COACHQ_USER="};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(names); i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

static cq_config_t *cq_cli_config(const cq_cli_args_t *args, char *errstr, size_t errstr_size)
{
    cq_config_t *conf = cq_config_new();
    /* A command line prints its own errors; the library's notes stay quiet. */
    if (cq_config_set(conf, "log.level", "warn", errstr, errstr_size) != CQ_ERR_OK)
        goto fail;
    if (args->config_file &&
        cq_config_load_file(conf, args->config_file, errstr, errstr_size) != CQ_ERR_OK)
        goto fail;
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    char **env = cq_calloc(n + 1, sizeof(*env));
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (!cq_cli_own_env(*e))
            env[k++] = *e;
    cq_err_t rc = cq_config_load_env(conf, env, errstr, errstr_size);
    free(env);
    if (rc != CQ_ERR_OK)
        goto fail;
    for (size_t i = 0; i < args->override_count; i++) {
        char *kv = cq_strdup(args->overrides[i]);
        char *eq = strchr(kv, '=');
        *eq = '\0';
        rc = cq_config_set(conf, kv, eq + 1, errstr, errstr_size);
        free(kv);
        if (rc != CQ_ERR_OK)
            goto fail;
    }
    if (args->kafka && cq_config_set(conf, "kafka.bootstrap.servers", args->kafka, errstr,
                                     errstr_size) != CQ_ERR_OK)
        goto fail;
    if (!cq_log_level_set(conf->log_level)) {
        cq_errstr_set(errstr, errstr_size, "log.level \"%s\" is not error, warn, info or debug",
                      conf->log_level);
        goto fail;
    }
    return conf;
fail:
    cq_config_destroy(conf);
    return NULL;
}

/* --url, COACHQ_URL or http://<gateway.listen><gateway.base_path>; a URL
 * without a path gets the base path. */
static char *cq_cli_base_url(const cq_cli_args_t *args, const cq_config_t *conf)
{
    const char *url = args->url ? args->url : getenv("COACHQ_URL");
    if (!url || !*url)
        return cq_asprintf("http://%s%s", conf->gateway_listen, conf->gateway_base_path);
    const char *scheme = strstr(url, "://");
    const char *slash = strchr(scheme ? scheme + 3 : url, '/');
    if (!slash || strcmp(slash, "/") == 0)
        return cq_asprintf("%.*s%s", (int)(slash ? (size_t)(slash - url) : strlen(url)), url,
                           conf->gateway_base_path);
    return cq_strdup(url);
}

static cq_cli_exit_t cq_cli_run(cq_cli_t *cli)
{
    switch (cli->args->cmd) {
    case CQ_CLI_CMD_SUBMIT:
        return cq_cli_submit(cli);
    case CQ_CLI_CMD_GET:
        return cq_cli_get(cli);
    case CQ_CLI_CMD_WAIT:
        return cq_cli_wait(cli);
    case CQ_CLI_CMD_CANCEL:
        return cq_cli_cancel(cli);
    case CQ_CLI_CMD_BATCH:
        return cq_cli_batch(cli);
    case CQ_CLI_CMD_DLQ_LIST:
        return cq_cli_dlq_list(cli);
    case CQ_CLI_CMD_DLQ_REPLAY:
        return cq_cli_dlq_replay(cli);
    case CQ_CLI_CMD_RESULTS_TAIL:
        return cq_cli_results_tail(cli);
    case CQ_CLI_CMD_OPERATIONS:
        return cq_cli_operations(cli);
    default:
        return CQ_CLI_EXIT_USAGE;
    }
}

int main(int argc, char **argv)
{
    char err[1024];
    cq_cli_args_t args;
    cq_cli_exit_t rc = cq_cli_args_parse(argc, argv, &args, err, sizeof(err));
    if (rc != CQ_CLI_EXIT_OK) {
        fprintf(stderr, "coachq: %s\n", err);
        fprintf(stderr, "Try `coachq --help` or `coachq help COMMAND`.\n");
        return rc;
    }
    if (args.help || args.cmd == CQ_CLI_CMD_NONE) {
        cq_cli_usage(args.cmd, stdout);
        return CQ_CLI_EXIT_OK;
    }
    cq_cli_t cli = {.args = &args,
                    .err_tty = isatty(STDERR_FILENO) == 1,
                    .out_tty = isatty(STDOUT_FILENO) == 1};
    if (!(cli.conf = cq_cli_config(&args, err, sizeof(err)))) {
        fprintf(stderr, "coachq: config: %s\n", err);
        return CQ_CLI_EXIT_USAGE;
    }
    rc = CQ_CLI_EXIT_USAGE;
    if (!(cli.contract = cq_contract_new(cli.conf, err, sizeof(err)))) {
        fprintf(stderr, "coachq: contract: %s\n", err);
        goto out_conf;
    }
    cli.base_url = cq_cli_base_url(&args, cli.conf);
    const char *token = args.token ? args.token : getenv("COACHQ_TOKEN");
    const char *tenant = args.tenant ? args.tenant : getenv("COACHQ_TENANT");
    const char *user = args.user ? args.user : getenv("COACHQ_USER");
    cli.http = cq_cli_http_new(cli.base_url, token, tenant && *tenant ? tenant : "dev",
                               user && *user ? user : "coachq-cli", err, sizeof(err));
    if (!cli.http) {
        fprintf(stderr, "coachq: %s\n", err);
        rc = CQ_CLI_EXIT_TRANSPORT;
        goto out_url;
    }
    rc = cq_cli_run(&cli);
    cq_cli_http_destroy(cli.http);
out_url:
    free(cli.base_url);
    cq_contract_destroy(cli.contract);
out_conf:
    cq_config_destroy(cli.conf);
    return rc;
}
