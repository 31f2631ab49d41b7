/*
 * cq_cli_jobs.c — one job at a time: `submit`, `get`, `wait`, `cancel` and
 * `operations` (see cq_cli.h).
 *
 * An operation is resolved from the contract built into the binary, so a
 * typo is caught before anything is sent and a path or operationId works as
 * well as the operation's name. Waiting is the gateway's long poll
 * (Prefer: wait=N on GET /jobs/{id}), renewed until the job ends or the
 * caller's timeout passes: no busy polling.
 */
#include "cq_cli.h"
#include "cq_cli_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The longest single long poll asked of the gateway (it bounds it by
 * gateway.max_wait anyway). */
#define CQ_CLI_POLL_S 30

void cq_cli_print_json(const cq_cli_t *cli, FILE *out, const json_t *value)
{
    char *text = json_dumps(value, (cli->out_tty ? JSON_INDENT(2) : JSON_COMPACT) |
                                       JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (text) {
        fprintf(out, "%s\n", text);
        free(text);
    }
    fflush(out);
}

static const char *cq_cli_operation_id(const cq_contract_t *contract, const cq_operation_t *op)
{
    char method[8];
    size_t i = 0;
    for (; i < sizeof(method) - 1 && op->method[i]; i++)
        method[i] = (char)tolower((unsigned char)op->method[i]);
    method[i] = '\0';
    json_t *paths = json_object_get(cq_contract_document(contract), "paths");
    return json_string_value(
        json_object_get(json_object_get(json_object_get(paths, op->path), method), "operationId"));
}

const cq_operation_t *cq_cli_find_operation(const cq_contract_t *contract, const char *name)
{
    const cq_operation_t *op = cq_contract_find(contract, name);
    if (op)
        return op;
    for (size_t i = 0; i < cq_contract_count(contract); i++) {
        const cq_operation_t *o = cq_contract_at(contract, i);
        const char *id = cq_cli_operation_id(contract, o);
        if (id && strcmp(id, name) == 0)
            return o;
        /* A path, with or without the base path in front. */
        size_t pl = strlen(o->path), nl = strlen(name);
        if (name[0] == '/' && nl >= pl && strcmp(name + nl - pl, o->path) == 0 &&
            (nl == pl || name[nl - pl - 1] != '/'))
            return o;
    }
    return NULL;
}

cq_cli_exit_t cq_cli_operations(cq_cli_t *cli)
{
    for (size_t i = 0; i < cq_contract_count(cli->contract); i++) {
        const cq_operation_t *op = cq_contract_at(cli->contract, i);
        const char *id = cq_cli_operation_id(cli->contract, op);
        printf("%-32s %-5s %-44s %-14s %s%s\n", op->name, op->method, op->path, op->kind,
               id ? id : "-", op->deprecated ? " (deprecated)" : "");
    }
    return CQ_CLI_EXIT_OK;
}

/* Reads all of fp (caller frees); NULL on a read error. */
static char *cq_cli_read_all(FILE *fp, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = cq_malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, fp)) > 0) {
        n += got;
        if (cap - n < 2)
            buf = cq_realloc(buf, cap *= 2);
    }
    if (ferror(fp)) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* BODY, @FILE or - (standard input) as text; NULL with a message. */
static char *cq_cli_body(const char *arg, size_t *len)
{
    if (strcmp(arg, "-") == 0) {
        char *b = cq_cli_read_all(stdin, len);
        if (!b)
            fprintf(stderr, "coachq: cannot read standard input\n");
        return b;
    }
    if (arg[0] == '@') {
        FILE *fp = fopen(arg + 1, "rb");
        if (!fp) {
            fprintf(stderr, "coachq: %s: %s\n", arg + 1, strerror(errno));
            return NULL;
        }
        char *b = cq_cli_read_all(fp, len);
        fclose(fp);
        if (!b)
            fprintf(stderr, "coachq: cannot read %s\n", arg + 1);
        return b;
    }
    *len = strlen(arg);
    return cq_strdup(arg);
}

/* "?a=1&b=x" from a flat JSON object, for operations whose request is the
 * query (GET). NULL when the body is not such an object. */
static char *cq_cli_query(const char *body)
{
    json_t *obj = json_loads(body, 0, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return NULL;
    }
    CURL *curl = curl_easy_init();
    char *q = cq_strdup("");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char *text = json_is_string(v) ? cq_strdup(json_string_value(v))
                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        char *ek = curl_easy_escape(curl, key, 0), *ev = curl_easy_escape(curl, text, 0);
        char *next = cq_asprintf("%s%c%s=%s", q, *q ? '&' : '?', ek, ev);
        curl_free(ek);
        curl_free(ev);
        free(text);
        free(q);
        q = next;
    }
    curl_easy_cleanup(curl);
    json_decref(obj);
    return q;
}

/* The error a finished job carries, to stderr. */
static void cq_cli_job_explain(const json_t *job)
{
    const char *status = json_string_value(json_object_get(job, "status"));
    json_t *error = json_object_get(job, "error");
    fprintf(stderr, "coachq: job %s %s%s%s%s%s\n", json_string_value(json_object_get(job, "jobId")),
            status ? status : "(unknown)", error ? ": " : "",
            error ? json_string_value(json_object_get(error, "code")) : "", error ? ": " : "",
            error ? json_string_value(json_object_get(error, "message")) : "");
}

cq_cli_exit_t cq_cli_wait_job(cq_cli_t *cli, const char *job_id, int64_t timeout_ms, json_t **job)
{
    *job = NULL;
    int64_t deadline = timeout_ms >= 0 ? cq_mono_ms() + timeout_ms : -1;
    char *path = cq_asprintf("/jobs/%s", job_id);
    cq_cli_exit_t rc = CQ_CLI_EXIT_TIMEOUT;
    for (;;) {
        int64_t left = deadline < 0 ? (int64_t)CQ_CLI_POLL_S * 1000 : deadline - cq_mono_ms();
        int64_t wait_s = left <= 0 ? 0 : (left + 999) / 1000;
        if (wait_s > CQ_CLI_POLL_S)
            wait_s = CQ_CLI_POLL_S;
        char prefer[32];
        snprintf(prefer, sizeof(prefer), "Prefer: wait=%lld", (long long)wait_s);
        const char *headers[] = {prefer, NULL};
        cq_cli_resp_t resp;
        cq_cli_http_do(cli->http, "GET", path, wait_s > 0 ? headers : NULL, NULL, NULL, 0,
                       (wait_s + 15) * 1000, &resp);
        if (resp.status != 200 || !json_is_object(resp.json)) {
            cq_cli_resp_explain(&resp, job_id);
            rc = resp.status == 200 ? CQ_CLI_EXIT_SERVER : cq_cli_exit_for_http(resp.status, false);
            cq_cli_resp_free(&resp);
            break;
        }
        json_decref(*job);
        *job = json_incref(resp.json);
        cq_cli_resp_free(&resp);
        rc = cq_cli_exit_for_status(json_string_value(json_object_get(*job, "status")));
        if (rc != CQ_CLI_EXIT_TIMEOUT || (deadline >= 0 && cq_mono_ms() >= deadline))
            break;
    }
    free(path);
    return rc;
}

/* Prints what a wait ended with: the result (or the job resource) and why. */
static cq_cli_exit_t cq_cli_wait_report(cq_cli_t *cli, cq_cli_exit_t rc, json_t *job,
                                        bool result_only)
{
    if (!job)
        return rc;
    if (rc == CQ_CLI_EXIT_OK && result_only)
        cq_cli_print_json(cli, stdout, json_object_get(job, "result"));
    else
        cq_cli_print_json(cli, stdout, job);
    if (rc == CQ_CLI_EXIT_JOB_FAILED)
        cq_cli_job_explain(job);
    else if (rc == CQ_CLI_EXIT_TIMEOUT && !cli->args->quiet)
        fprintf(stderr, "coachq: job %s still %s when the wait ended\n",
                json_string_value(json_object_get(job, "jobId")),
                json_string_value(json_object_get(job, "status")));
    return rc;
}

cq_cli_exit_t cq_cli_submit(cq_cli_t *cli)
{
    const cq_cli_args_t *a = cli->args;
    int64_t started = cq_mono_ms();
    cq_cli_exit_t rc = CQ_CLI_EXIT_USAGE;
    char *body = NULL, *path = NULL, *query = NULL, *idem = NULL;
    size_t body_len = 0;
    json_t *job = NULL;
    cq_cli_resp_t resp;
    memset(&resp, 0, sizeof(resp));
    const cq_operation_t *op = cq_cli_find_operation(cli->contract, a->pos[0]);
    if (!op) {
        fprintf(stderr, "coachq: no operation \"%s\" in the contract (see `coachq operations`)\n",
                a->pos[0]);
        goto out;
    }
    if (a->pos_count > 1 && !(body = cq_cli_body(a->pos[1], &body_len)))
        goto out;
    if (!body && op->request && strcmp(op->method, "POST") == 0) {
        fprintf(stderr, "coachq: %s needs a request body (BODY, @FILE or -)\n", op->name);
        goto out;
    }
    if (body && strcmp(op->method, "GET") == 0) {
        if (!(query = cq_cli_query(body))) {
            fprintf(stderr, "coachq: %s takes its request as a query: give a flat JSON object\n",
                    op->name);
            goto out;
        }
    }
    path = cq_asprintf("%s%s", op->path, query ? query : "");

    const char *headers[4];
    size_t h = 0;
    char prefer[32];
    if (a->async)
        headers[h++] = "Prefer: respond-async";
    else if (a->timeout_ms >= 0) {
        snprintf(prefer, sizeof(prefer), "Prefer: wait=%lld",
                 (long long)((a->timeout_ms + 999) / 1000));
        headers[h++] = prefer;
    }
    if (a->idempotency_key)
        headers[h++] = idem = cq_asprintf("Idempotency-Key: %s", a->idempotency_key);
    headers[h] = NULL;
    bool post = strcmp(op->method, "POST") == 0;
    int64_t http_timeout = a->timeout_ms >= 0 ? a->timeout_ms + 15000 : 0;
    cq_cli_http_do(cli->http, op->method, path, headers, post && body ? "application/json" : NULL,
                   post ? body : NULL, post ? body_len : 0, http_timeout, &resp);

    if (resp.status == 200 && !a->async) {
        json_t *data = json_object_get(resp.json, "data");
        if (!data) {
            fprintf(stderr, "coachq: %s: the gateway answered 200 without data\n", op->name);
            rc = CQ_CLI_EXIT_SERVER;
            goto out;
        }
        cq_cli_print_json(cli, stdout, data);
        rc = CQ_CLI_EXIT_OK;
        goto out;
    }
    if (resp.status != 202 && resp.status != 200) {
        /* A job that ran and failed answers its error with the job's id. */
        bool job_error = json_object_get(resp.json, "jobId") != NULL;
        cq_cli_resp_explain(&resp, op->name);
        if (job_error)
            cq_cli_print_json(cli, stdout, resp.json);
        rc = cq_cli_exit_for_http(resp.status, job_error);
        goto out;
    }
    const char *job_id =
        *resp.job_id ? resp.job_id : json_string_value(json_object_get(resp.json, "jobId"));
    if (!job_id) {
        fprintf(stderr, "coachq: %s: the gateway answered %ld without a job id\n", op->name,
                resp.status);
        rc = CQ_CLI_EXIT_SERVER;
        goto out;
    }
    if (a->async) {
        printf("%s\n", job_id);
        fflush(stdout);
        if (!a->wait) {
            rc = CQ_CLI_EXIT_OK;
            goto out;
        }
        rc = cq_cli_wait_job(cli, job_id, a->timeout_ms, &job);
        rc = cq_cli_wait_report(cli, rc, job, false);
        goto out;
    }
    /* Still running when the gateway's wait ended: wait on, for what is
     * left of --timeout. */
    int64_t left = a->timeout_ms < 0 ? -1 : a->timeout_ms - (cq_mono_ms() - started);
    rc = cq_cli_wait_job(cli, job_id, left < 0 && a->timeout_ms >= 0 ? 0 : left, &job);
    rc = cq_cli_wait_report(cli, rc, job, true);
out:
    json_decref(job);
    cq_cli_resp_free(&resp);
    free(idem);
    free(path);
    free(query);
    free(body);
    return rc;
}

/* GET or DELETE /jobs/{id} of the first argument: prints the job. */
static cq_cli_exit_t cq_cli_job_request(cq_cli_t *cli, const char *method)
{
    char *path = cq_asprintf("/jobs/%s", cli->args->pos[0]);
    cq_cli_resp_t resp;
    cq_cli_http_do(cli->http, method, path, NULL, NULL, NULL, 0, 30000, &resp);
    cq_cli_exit_t rc = cq_cli_exit_for_http(resp.status, false);
    if (rc == CQ_CLI_EXIT_OK && resp.json)
        cq_cli_print_json(cli, stdout, resp.json);
    else {
        cq_cli_resp_explain(&resp, cli->args->pos[0]);
        if (rc == CQ_CLI_EXIT_OK)
            rc = CQ_CLI_EXIT_SERVER;
    }
    cq_cli_resp_free(&resp);
    free(path);
    return rc;
}

cq_cli_exit_t cq_cli_get(cq_cli_t *cli)
{
    return cq_cli_job_request(cli, "GET");
}

cq_cli_exit_t cq_cli_wait(cq_cli_t *cli)
{
    json_t *job = NULL;
    cq_cli_exit_t rc = cq_cli_wait_job(cli, cli->args->pos[0], cli->args->timeout_ms, &job);
    rc = cq_cli_wait_report(cli, rc, job, false);
    json_decref(job);
    return rc;
}

cq_cli_exit_t cq_cli_cancel(cq_cli_t *cli)
{
    return cq_cli_job_request(cli, "DELETE");
}
