/*
 * cq_cli_dlq.c — `coachq dlq list` and `coachq dlq replay`.
 *
 * The dead-letter topic holds the job topics' messages as they came (the
 * Avro JobEnvelope, or bytes that were not one), with headers saying why:
 * coachq-error-code and -message, the source topic, partition and offset,
 * and the job id (workers/runtime/cq_job_end.c writes them).
 *
 * Replay goes through the gateway, not back to the job topic: the gateway
 * is where a job gets its guarantees — the request validated against the
 * contract of today, a new job id recorded queued in Redis before its
 * envelope is produced with acks=all, a fresh deadline, the tenant's
 * idempotency — so a replayed job is an ordinary job that GET /jobs/{id},
 * cancel and the results topic know. Putting the old envelope back on the
 * job topic would rerun nothing (the original id is terminal: the worker
 * republishes its record) or, under a new id, a job with no record until a
 * worker claims it and with the deadline it already missed. Each replay
 * carries Idempotency-Key coachq-replay-<original job id>, so running the
 * same replay twice within jobs.idempotency_ttl submits nothing new, and a
 * traceparent whose trace id is the original's trace (or its job id), so
 * the new job's envelope says where it came from. Single threaded.
 */
#include "cq_avro.h"
#include "cq_cli.h"
#include "cq_cli_http.h"
#include "cq_cli_kafka.h"
#include "cq_uuid.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How long a read waits for a record before deciding the topic is idle
 * (only matters when the snapshot's end is not reached, e.g. a broker that
 * stopped answering). */
#define CQ_CLI_DLQ_IDLE_MS 10000

static void cq_cli_set_time(json_t *obj, const char *name, int64_t ms)
{
    if (ms <= 0)
        return;
    char buf[40];
    cq_time_iso8601(ms, buf, sizeof(buf));
    json_object_set_new(obj, name, json_string(buf));
}

static void cq_cli_set_str(json_t *obj, const char *name, const char *value)
{
    if (value)
        json_object_set_new(obj, name, json_string(value));
}

/* The envelope as JSON, without the forwarded credentials (a secret). */
static json_t *cq_cli_envelope_json(const cq_job_envelope_t *env)
{
    json_t *o = json_object();
    cq_cli_set_str(o, "jobId", env->job_id);
    cq_cli_set_str(o, "tenantId", env->tenant_id);
    cq_cli_set_str(o, "userId", env->user_id);
    cq_cli_set_str(o, "operation", env->operation);
    json_object_set_new(o, "attempt", json_integer(env->attempt));
    cq_cli_set_time(o, "createdAt", env->created_at);
    cq_cli_set_time(o, "deadline", env->deadline);
    cq_cli_set_str(o, "replyTo", env->reply_to);
    cq_cli_set_str(o, "traceParent", env->trace_parent);
    cq_cli_set_str(o, "batchId", env->batch_id);
    cq_cli_set_str(o, "customId", env->custom_id);
    if (env->authorization)
        json_object_set_new(o, "authorization", json_string("(redacted)"));
    if (env->payload)
        json_object_set(o, "payload", env->payload);
    return o;
}

/* One dead letter as the list prints it. */
static json_t *cq_cli_dlq_json(const cq_cli_record_t *rec, const cq_job_envelope_t *env,
                               bool decoded, const char *decode_err)
{
    char buf[1024];
    json_t *o = json_pack("{s:i, s:I}", "partition", (int)rec->partition, "offset",
                          (json_int_t)rec->offset);
    cq_cli_set_time(o, "deadLetteredAt", rec->timestamp);
    const char *headers[][2] = {
        {"coachq-error-code", "errorCode"},       {"coachq-error-message", "errorMessage"},
        {"coachq-source-topic", "sourceTopic"},   {"coachq-source-partition", "sourcePartition"},
        {"coachq-source-offset", "sourceOffset"}, {"coachq-job-id", "jobId"}};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(headers); i++) {
        const char *v = cq_cli_record_header(rec, headers[i][0], buf, sizeof(buf));
        if (v && *v)
            json_object_set_new(o, headers[i][1], json_string(v));
    }
    if (decoded)
        json_object_set_new(o, "envelope", cq_cli_envelope_json(env));
    else
        json_object_set_new(
            o, "undecodable",
            json_pack("{s:I, s:s}", "bytes", (json_int_t)rec->len, "reason", decode_err));
    return o;
}

typedef struct {
    cq_cli_t *cli;
    cq_avro_t *avro;
    cq_cli_reader_t *reader;
} cq_cli_dlq_t;

static cq_cli_exit_t cq_cli_dlq_open(cq_cli_t *cli, cq_cli_dlq_t *d)
{
    char err[512];
    memset(d, 0, sizeof(*d));
    d->cli = cli;
    if (!(d->avro = cq_avro_new(cq_contract_document(cli->contract), err, sizeof(err)))) {
        fprintf(stderr, "coachq: avro: %s\n", err);
        return CQ_CLI_EXIT_SERVER;
    }
    if (!(d->reader =
              cq_cli_reader_new(cli->conf, cli->conf->topics_dlq, true, true, err, sizeof(err)))) {
        fprintf(stderr, "coachq: %s\n", err);
        cq_avro_destroy(d->avro);
        return CQ_CLI_EXIT_TRANSPORT;
    }
    return CQ_CLI_EXIT_OK;
}

static void cq_cli_dlq_close(cq_cli_dlq_t *d)
{
    cq_cli_reader_destroy(d->reader);
    cq_avro_destroy(d->avro);
}

/* The next dead letter that passes --code: CQ_CLI_READ_RECORD with *rec,
 * *env (decoded when *decoded) and decode_err filled. */
static cq_cli_read_t cq_cli_dlq_next(cq_cli_dlq_t *d, cq_cli_record_t *rec, cq_job_envelope_t *env,
                                     bool *decoded, char *decode_err, size_t decode_err_size)
{
    const cq_cli_args_t *a = d->cli->args;
    int idle = a->timeout_ms >= 0 ? (int)a->timeout_ms : CQ_CLI_DLQ_IDLE_MS;
    char err[512], code[128];
    for (;;) {
        cq_cli_read_t rd = cq_cli_reader_next(d->reader, idle, rec, err, sizeof(err));
        if (rd == CQ_CLI_READ_ERROR)
            fprintf(stderr, "coachq: %s\n", err);
        if (rd != CQ_CLI_READ_RECORD)
            return rd;
        const char *c = cq_cli_record_header(rec, "coachq-error-code", code, sizeof(code));
        if (a->code && (!c || strcmp(c, a->code) != 0)) {
            cq_cli_record_release(rec);
            continue;
        }
        memset(env, 0, sizeof(*env));
        *decoded = cq_avro_envelope_decode(d->avro, rec->value, rec->len, env, decode_err,
                                           decode_err_size) == CQ_ERR_OK;
        return rd;
    }
}

cq_cli_exit_t cq_cli_dlq_list(cq_cli_t *cli)
{
    cq_cli_dlq_t d;
    cq_cli_exit_t rc = cq_cli_dlq_open(cli, &d);
    if (rc != CQ_CLI_EXIT_OK)
        return rc;
    int64_t shown = 0;
    cq_cli_record_t rec;
    cq_job_envelope_t env;
    bool decoded;
    char derr[512];
    cq_cli_read_t rd = CQ_CLI_READ_END;
    while ((cli->args->limit < 0 || shown < cli->args->limit) &&
           (rd = cq_cli_dlq_next(&d, &rec, &env, &decoded, derr, sizeof(derr))) ==
               CQ_CLI_READ_RECORD) {
        json_t *o = cq_cli_dlq_json(&rec, &env, decoded, derr);
        char *text = json_dumps(o, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
        json_decref(o);
        cq_job_envelope_clear(&env);
        cq_cli_record_release(&rec);
        shown++;
    }
    fflush(stdout);
    if (rd == CQ_CLI_READ_ERROR)
        rc = CQ_CLI_EXIT_TRANSPORT;
    else if (rd == CQ_CLI_READ_IDLE && !cli->args->quiet)
        fprintf(stderr, "coachq: %s: no record for %d ms before its end; stopped\n",
                cli->conf->topics_dlq,
                cli->args->timeout_ms >= 0 ? (int)cli->args->timeout_ms : CQ_CLI_DLQ_IDLE_MS);
    if (!cli->args->quiet)
        fprintf(stderr, "%lld dead letter(s)%s%s\n", (long long)shown,
                cli->args->code ? " with code " : "", cli->args->code ? cli->args->code : "");
    cq_cli_dlq_close(&d);
    return rc;
}

/* "00-<trace id>-<span id>-01": the original's trace id when it had a valid
 * traceparent, else its job id (a UUID is 32 hex digits, a trace id's size). */
void cq_cli_replay_traceparent(const char *trace_parent, const char *job_id, char *out,
                               size_t out_size)
{
    char trace[33] = "";
    const char *tp = trace_parent;
    if (tp && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-') {
        memcpy(trace, tp + 3, 32);
        trace[32] = '\0';
    }
    for (size_t i = 0; i < 32 && trace[0]; i++)
        if (!isxdigit((unsigned char)trace[i]))
            trace[0] = '\0';
    if (!trace[0] && job_id) {
        size_t n = 0;
        for (const char *p = job_id; *p && n < 32; p++)
            if (isxdigit((unsigned char)*p))
                trace[n++] = (char)tolower((unsigned char)*p);
        trace[n] = '\0';
        if (n != 32)
            trace[0] = '\0';
    }
    if (!trace[0])
        snprintf(trace, sizeof(trace), "%016llx%016llx", (unsigned long long)cq_now_ms(),
                 (unsigned long long)getpid());
    /* The span id: the random tail of a fresh UUIDv7 (62 random bits). */
    char uuid[CQ_UUID_STR_LEN + 1], span[17];
    cq_uuid_v7(uuid);
    size_t k = 0;
    for (const char *p = uuid + strlen(uuid); p > uuid && k < 16; p--)
        if (isxdigit((unsigned char)p[-1]))
            span[15 - k++] = p[-1];
    span[16] = '\0';
    snprintf(out, out_size, "00-%s-%s-01", trace, span);
}

/* The tenant_id claim of a JWT, read without verifying it (the gateway
 * verifies; this only tells which dead letters the token may replay). */
char *cq_cli_token_tenant(const char *token)
{
    const char *dot1 = token ? strchr(token, '.') : NULL;
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2)
        return NULL;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = (size_t)(dot2 - dot1 - 1);
    unsigned char *out = cq_malloc(n + 1);
    size_t o = 0;
    unsigned bits = 0, acc = 0;
    for (const char *p = dot1 + 1; p < dot2; p++) {
        const char *at = strchr(b64, *p == '+' ? '-' : *p == '/' ? '_' : *p);
        if (!at || !*p || *p == '=')
            break;
        acc = (acc << 6) | (unsigned)(at - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    json_t *claims = json_loadb((const char *)out, o, 0, NULL);
    free(out);
    const char *t = json_string_value(json_object_get(claims, "tenant_id"));
    char *tenant = t ? cq_strdup(t) : NULL;
    json_decref(claims);
    return tenant;
}

/* Submits one dead letter's job again; fills line with the outcome. */
static cq_cli_exit_t cq_cli_replay_one(cq_cli_t *cli, const cq_job_envelope_t *env, json_t *line)
{
    const cq_operation_t *op = cq_contract_find(cli->contract, env->operation);
    if (!op) {
        json_object_set_new(line, "outcome", json_string("skipped"));
        json_object_set_new(line, "reason", json_string("the operation is not in this contract"));
        return CQ_CLI_EXIT_OK;
    }
    char traceparent[96], tp_header[128], idem[320];
    cq_cli_replay_traceparent(env->trace_parent, env->job_id, traceparent, sizeof(traceparent));
    snprintf(tp_header, sizeof(tp_header), "traceparent: %s", traceparent);
    snprintf(idem, sizeof(idem), "Idempotency-Key: coachq-replay-%.200s", env->job_id);
    json_object_set_new(line, "traceparent", json_string(traceparent));
    json_object_set_new(line, "idempotencyKey", json_string(idem + strlen("Idempotency-Key: ")));
    if (cli->args->dry_run) {
        json_object_set_new(line, "outcome", json_string("would-replay"));
        return CQ_CLI_EXIT_OK;
    }
    const char *headers[] = {"Prefer: respond-async", tp_header, idem, NULL};
    char *body = env->payload ? json_dumps(env->payload, JSON_COMPACT) : NULL;
    bool post = strcmp(op->method, "POST") == 0;
    cq_cli_http_set_dev(cli->http, env->tenant_id, env->user_id);
    cq_cli_resp_t resp;
    cq_cli_http_do(cli->http, op->method, op->path, headers,
                   post && body ? "application/json" : NULL, post ? body : NULL,
                   post && body ? strlen(body) : 0, 30000, &resp);
    free(body);
    cq_cli_exit_t rc = cq_cli_exit_for_http(resp.status, false);
    const char *job_id =
        *resp.job_id ? resp.job_id : json_string_value(json_object_get(resp.json, "jobId"));
    if (rc == CQ_CLI_EXIT_OK && job_id) {
        json_object_set_new(line, "outcome", json_string("replayed"));
        json_object_set_new(line, "newJobId", json_string(job_id));
        /* A replay run before answers the job it made (Idempotency-Key):
         * its status shows it is not new. */
        const char *status = json_string_value(json_object_get(resp.json, "status"));
        if (status)
            json_object_set_new(line, "jobStatus", json_string(status));
    } else {
        json_object_set_new(line, "outcome", json_string("rejected"));
        json_object_set_new(line, "httpStatus", json_integer(resp.status));
        const char *code = json_string_value(json_object_get(resp.json, "code"));
        json_object_set_new(line, "reason", json_string(code ? code : resp.error));
        cq_cli_resp_explain(&resp, env->job_id);
        if (rc == CQ_CLI_EXIT_OK)
            rc = CQ_CLI_EXIT_SERVER;
    }
    cq_cli_resp_free(&resp);
    return rc;
}

cq_cli_exit_t cq_cli_dlq_replay(cq_cli_t *cli)
{
    const cq_cli_args_t *a = cli->args;
    cq_cli_dlq_t d;
    cq_cli_exit_t rc = cq_cli_dlq_open(cli, &d);
    if (rc != CQ_CLI_EXIT_OK)
        return rc;
    const char *token = a->token ? a->token : getenv("COACHQ_TOKEN");
    char *token_tenant = cq_cli_http_has_token(cli->http) ? cq_cli_token_tenant(token) : NULL;
    double rate = a->rate > 0 ? a->rate : 5.0;
    int64_t started = cq_mono_ms(), last_sent = started;
    int64_t sent = 0, replayed = 0, skipped = 0, rejected = 0;
    cq_cli_record_t rec;
    cq_job_envelope_t env;
    bool decoded;
    char derr[512];
    cq_cli_read_t rd = CQ_CLI_READ_END;
    while ((a->limit < 0 || replayed + rejected < a->limit) &&
           (rd = cq_cli_dlq_next(&d, &rec, &env, &decoded, derr, sizeof(derr))) ==
               CQ_CLI_READ_RECORD) {
        char src[256] = "";
        json_t *line =
            json_pack("{s:{s:s, s:i, s:I}}", "deadLetter", "topic", cli->conf->topics_dlq,
                      "partition", (int)rec.partition, "offset", (json_int_t)rec.offset);
        cq_cli_record_header(&rec, "coachq-error-code", src, sizeof(src));
        json_object_set_new(line, "errorCode", json_string(src));
        if (!decoded) {
            json_object_set_new(line, "outcome", json_string("skipped"));
            json_object_set_new(line, "reason", json_string("undecodable: no job to submit again"));
            skipped++;
        } else {
            json_object_set_new(line, "originalJobId", json_string(env.job_id));
            json_object_set_new(line, "operation", json_string(env.operation));
            json_object_set_new(line, "tenantId", json_string(env.tenant_id));
            /* A batch item comes back as a job of its own, outside its batch. */
            if (env.batch_id)
                json_object_set_new(line, "batchId", json_string(env.batch_id));
            if (env.custom_id)
                json_object_set_new(line, "customId", json_string(env.custom_id));
            if (token_tenant && strcmp(token_tenant, env.tenant_id) != 0) {
                json_object_set_new(line, "outcome", json_string("skipped"));
                json_object_set_new(
                    line, "reason",
                    json_string("another tenant's job: the token's tenant differs"));
                skipped++;
            } else {
                /* Bounded rate: submission n is not sent before started + n / rate. */
                int64_t due = started + (int64_t)((double)sent * 1000.0 / rate);
                int64_t now = cq_mono_ms();
                if (!a->dry_run && due > now)
                    usleep((useconds_t)((due - now) * 1000));
                if (!a->dry_run)
                    last_sent = cq_mono_ms();
                cq_cli_exit_t one = cq_cli_replay_one(cli, &env, line);
                const char *outcome = json_string_value(json_object_get(line, "outcome"));
                if (strcmp(outcome, "skipped") == 0)
                    skipped++;
                else if (one == CQ_CLI_EXIT_OK)
                    replayed++, sent += a->dry_run ? 0 : 1;
                else {
                    rejected++, sent++;
                    if (rc == CQ_CLI_EXIT_OK || one == CQ_CLI_EXIT_TRANSPORT)
                        rc = one;
                }
            }
        }
        char *text = json_dumps(line, JSON_COMPACT);
        printf("%s\n", text);
        fflush(stdout);
        free(text);
        json_decref(line);
        cq_job_envelope_clear(&env);
        cq_cli_record_release(&rec);
    }
    if (rd == CQ_CLI_READ_ERROR && rc == CQ_CLI_EXIT_OK)
        rc = CQ_CLI_EXIT_TRANSPORT;
    if (!a->quiet) {
        /* The rate between the first and the last submission. */
        double span = (double)(last_sent - started) / 1000.0;
        fprintf(stderr, "%s%lld %s, %lld skipped, %lld rejected in %.1fs (%.1f/s, bound %.1f/s)\n",
                a->dry_run ? "dry run: " : "", (long long)replayed,
                a->dry_run ? "would be replayed" : "replayed", (long long)skipped,
                (long long)rejected, (double)(cq_mono_ms() - started) / 1000.0,
                sent > 1 && span > 0 ? (double)(sent - 1) / span : 0.0, rate);
    }
    free(token_tenant);
    cq_cli_dlq_close(&d);
    return rc;
}
