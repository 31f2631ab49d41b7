/*
 * cq_cli_results.c — `coachq results tail`: the results topic's Avro
 * JobResult records as JSON lines, from the end (new records) or from the
 * beginning, with the reader of cq_cli_kafka.c (no group, no commits).
 * A record that does not decode is printed as such, never skipped in
 * silence. Single threaded.
 */
#include "cq_avro.h"
#include "cq_cli.h"
#include "cq_cli_kafka.h"

#include <stdlib.h>
#include <string.h>

static void cq_cli_put_time(json_t *o, const char *name, int64_t ms)
{
    if (ms <= 0)
        return;
    char buf[40];
    cq_time_iso8601(ms, buf, sizeof(buf));
    json_object_set_new(o, name, json_string(buf));
}

static void cq_cli_put_str(json_t *o, const char *name, const char *v)
{
    if (v)
        json_object_set_new(o, name, json_string(v));
}

/* The record as the job resource shows a job, plus where it was read. */
static json_t *cq_cli_result_json(const cq_job_result_msg_t *m, const cq_cli_record_t *rec)
{
    json_t *o = json_object();
    cq_cli_put_str(o, "jobId", m->job_id);
    cq_cli_put_str(o, "tenantId", m->tenant_id);
    cq_cli_put_str(o, "userId", m->user_id);
    cq_cli_put_str(o, "operation", m->operation);
    cq_cli_put_str(o, "status", m->status);
    json_object_set_new(o, "attempts", json_integer(m->attempts));
    cq_cli_put_time(o, "createdAt", m->created_at);
    cq_cli_put_time(o, "startedAt", m->started_at);
    cq_cli_put_time(o, "finishedAt", m->finished_at);
    if (m->engine)
        json_object_set(o, "engine", m->engine);
    if (m->result)
        json_object_set(o, "result", m->result);
    if (m->error_code)
        json_object_set_new(o, "error",
                            json_pack("{s:s, s:s}", "code", m->error_code, "message",
                                      m->error_message ? m->error_message : ""));
    cq_cli_put_str(o, "batchId", m->batch_id);
    cq_cli_put_str(o, "customId", m->custom_id);
    json_object_set_new(o, "partition", json_integer(rec->partition));
    json_object_set_new(o, "offset", json_integer(rec->offset));
    return o;
}

cq_cli_exit_t cq_cli_results_tail(cq_cli_t *cli)
{
    const cq_cli_args_t *a = cli->args;
    char err[512];
    cq_avro_t *avro = cq_avro_new(cq_contract_document(cli->contract), err, sizeof(err));
    if (!avro) {
        fprintf(stderr, "coachq: avro: %s\n", err);
        return CQ_CLI_EXIT_SERVER;
    }
    cq_cli_exit_t rc = CQ_CLI_EXIT_OK;
    cq_cli_reader_t *reader = cq_cli_reader_new(cli->conf, cli->conf->topics_results,
                                                a->from_beginning, false, err, sizeof(err));
    if (!reader) {
        fprintf(stderr, "coachq: %s\n", err);
        rc = CQ_CLI_EXIT_TRANSPORT;
        goto out_avro;
    }
    if (!a->quiet)
        fprintf(stderr, "reading %s from the %s%s\n", cli->conf->topics_results,
                a->from_beginning ? "beginning" : "end", a->count >= 0 ? "" : " (Ctrl-C stops)");
    int64_t shown = 0;
    /* Without --timeout the tail follows for ever (one wait of a day at a time). */
    int idle = a->timeout_ms >= 0 ? (int)a->timeout_ms : 86400000;
    while (a->count < 0 || shown < a->count) {
        cq_cli_record_t rec;
        cq_cli_read_t rd = cq_cli_reader_next(reader, idle, &rec, err, sizeof(err));
        if (rd == CQ_CLI_READ_IDLE && a->timeout_ms < 0)
            continue;
        if (rd == CQ_CLI_READ_IDLE)
            break;
        if (rd != CQ_CLI_READ_RECORD) {
            fprintf(stderr, "coachq: %s\n", err);
            rc = CQ_CLI_EXIT_TRANSPORT;
            break;
        }
        cq_job_result_msg_t m;
        memset(&m, 0, sizeof(m));
        char derr[512];
        json_t *o;
        if (cq_avro_result_decode(avro, rec.value, rec.len, &m, derr, sizeof(derr)) == CQ_ERR_OK)
            o = cq_cli_result_json(&m, &rec);
        else
            o = json_pack("{s:i, s:I, s:{s:I, s:s}}", "partition", (int)rec.partition, "offset",
                          (json_int_t)rec.offset, "undecodable", "bytes", (json_int_t)rec.len,
                          "reason", derr);
        char *text = json_dumps(o, JSON_COMPACT);
        printf("%s\n", text);
        fflush(stdout);
        free(text);
        json_decref(o);
        cq_job_result_msg_clear(&m);
        cq_cli_record_release(&rec);
        shown++;
    }
    cq_cli_reader_destroy(reader);
out_avro:
    cq_avro_destroy(avro);
    return rc;
}
