/*
 * cq_batch.c — POST /jobs/batch, GET /jobs/batch/{id} and
 * GET /jobs/batch/{id}/results.
 *
 * A batch is all-or-nothing at validation: every item is checked (item shape
 * by the contract's BatchRequest, each body by its operation's request
 * schema, customIds unique) before any job is queued, and one bad item
 * rejects the batch with every violation listed (paths like
 * "/3/body/goalIntent"). Then each item becomes an ordinary job (its record
 * carries batchId and customId), all envelopes are produced at once and the
 * 202 waits for the broker to acknowledge them; an item the broker refused
 * is recorded failed. The batch itself is a small JSON document in the
 * Redis cache (tenant, items), kept as long as job results; its state is
 * computed from its jobs' records when asked. Results are JSON Lines by
 * default, or one JSON array of the same lines when Accept prefers
 * application/json over JSON Lines (generated clients parse only JSON).
 *
 * Runs on any HTTP thread.
 */
#include "cq_gateway.h"
#include "cq_json.h"
#include "cq_log.h"
#include "cq_uuid.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The request body as a JSON array: a JSON array, or JSON Lines. NULL with
 * an answer set when it is neither. */
static json_t *cq_batch_parse(const cq_http_req_t *req, cq_http_resp_t *resp)
{
    json_error_t jerr;
    char detail[256];
    if (!req->body) {
        cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON, "The batch needs a body", NULL);
        return NULL;
    }
    /* One level for the array, the rest as for a single request. */
    if (cq_json_depth(req->body, req->body_len, CQ_JSON_MAX_DEPTH + 1) > CQ_JSON_MAX_DEPTH + 1) {
        cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON,
                             "The JSON is nested more than 64 levels deep", NULL);
        return NULL;
    }
    if (cq_http_content_type_is(req, "application/json")) {
        json_t *items = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!items) {
            snprintf(detail, sizeof(detail), "Invalid JSON at line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
            cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON, detail, NULL);
        }
        return items;
    }
    if (!cq_http_content_type_is(req, "application/x-ndjson") &&
        !cq_http_content_type_is(req, "application/jsonl")) {
        cq_http_resp_problem(resp, req, CQ_ERR_UNSUPPORTED_MEDIA_TYPE,
                             "Send a JSON array (application/json) or JSON Lines "
                             "(application/x-ndjson)",
                             NULL);
        return NULL;
    }
    json_t *items = json_array();
    const char *p = req->body, *end = req->body + req->body_len;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        const char *q = p;
        while (q < stop && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < stop) {
            json_t *item = json_loadb(p, (size_t)(stop - p), JSON_REJECT_DUPLICATES, &jerr);
            if (!item) {
                snprintf(detail, sizeof(detail), "Invalid JSON on line %d: %s", line, jerr.text);
                cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON, detail, NULL);
                json_decref(items);
                return NULL;
            }
            json_array_append_new(items, item);
        }
        p = nl ? nl + 1 : end;
    }
    return items;
}

/* Appends an error with a path under an item's body. */
static void cq_batch_error(json_t *errors, const char *path, const char *message)
{
    if (json_array_size(errors) < 100)
        json_array_append_new(errors, json_pack("{s:s, s:s}", "path", path, "message", message));
}

/* Checks every item; returns the list of violations (empty when valid). */
static json_t *cq_batch_validate(cq_gateway_t *gw, json_t *items)
{
    json_t *errors = json_array();
    cq_schema_errors_t errs;
    memset(&errs, 0, sizeof(errs));
    if (!cq_schema_validate(gw->batch_schema, items, &errs)) {
        for (size_t i = 0; i < errs.count; i++)
            cq_batch_error(errors, errs.items[i].path, errs.items[i].message);
        cq_schema_errors_clear(&errs);
        return errors;
    }
    json_t *seen = json_object();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        char prefix[48];
        snprintf(prefix, sizeof(prefix), "/%zu", i);
        const char *custom = json_string_value(json_object_get(item, "customId"));
        const char *name = json_string_value(json_object_get(item, "operation"));
        if (json_object_get(seen, custom)) {
            char *path = cq_asprintf("%s/customId", prefix);
            cq_batch_error(errors, path, "duplicates the customId of another item");
            free(path);
        }
        json_object_set_new(seen, custom, json_true());
        const cq_operation_t *op = cq_contract_find(gw->contract, name);
        if (!op) {
            char *path = cq_asprintf("%s/operation", prefix);
            cq_batch_error(errors, path, "is not an operation of this service");
            free(path);
            continue;
        }
        json_t *body = json_object_get(item, "body");
        if (!op->request) {
            if (json_object_size(body) > 0) {
                char *path = cq_asprintf("%s/body", prefix);
                cq_batch_error(errors, path, "must be empty: the operation takes no request");
                free(path);
            }
            continue;
        }
        if (!cq_schema_validate(op->request, body, &errs)) {
            for (size_t e = 0; e < errs.count; e++) {
                char *path = cq_asprintf("%s/body%s", prefix, errs.items[e].path);
                cq_batch_error(errors, path, errs.items[e].message);
                free(path);
            }
            cq_schema_errors_clear(&errs);
        }
    }
    json_decref(seen);
    return errors;
}

/* The BatchResource: counts are indexed by cq_job_status_t; finished_ms is
 * the last item's end, reported once every item is terminal. */
static json_t *cq_batch_resource(const char *batch_id, const json_int_t counts[6], size_t total,
                                 int64_t created_ms, int64_t finished_ms)
{
    json_int_t terminal =
        counts[CQ_JOB_SUCCEEDED] + counts[CQ_JOB_FAILED] + counts[CQ_JOB_CANCELLED];
    bool completed = terminal == (json_int_t)total;
    const char *status = completed                                    ? "completed"
                         : counts[CQ_JOB_QUEUED] == (json_int_t)total ? "queued"
                                                                      : "running";
    char created[40];
    cq_time_iso8601(created_ms, created, sizeof(created));
    json_t *r = json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:s}", "batchId", batch_id,
                          "status", status, "counts", "total", (json_int_t)total, "queued",
                          counts[CQ_JOB_QUEUED], "running", counts[CQ_JOB_RUNNING], "succeeded",
                          counts[CQ_JOB_SUCCEEDED], "failed", counts[CQ_JOB_FAILED], "cancelled",
                          counts[CQ_JOB_CANCELLED], "createdAt", created);
    if (completed && finished_ms > 0) {
        char finished[40];
        cq_time_iso8601(finished_ms, finished, sizeof(finished));
        json_object_set_new(r, "finishedAt", json_string(finished));
    }
    return r;
}

void cq_batch_submit(cq_gateway_t *gw, const cq_principal_t *who, const cq_http_req_t *req,
                     cq_http_resp_t *resp)
{
    json_t *items = cq_batch_parse(req, resp);
    if (!items)
        return;
    json_t *errors = cq_batch_validate(gw, items);
    if (json_array_size(errors) > 0) {
        char detail[128];
        snprintf(detail, sizeof(detail), "%zu problem%s in the batch; no job was queued",
                 json_array_size(errors), json_array_size(errors) == 1 ? "" : "s");
        cq_http_resp_problem(resp, req, CQ_ERR_VALIDATION_ERROR, detail, errors);
        json_decref(items);
        return;
    }
    json_decref(errors);

    size_t n = json_array_size(items);
    /* Each item becomes a job on the queues: the batch costs its item count. */
    cq_limit_decision_t limit;
    if (!cq_ratelimit_check(gw, who, (int64_t)n, req, resp, &limit)) {
        cq_ratelimit_headers(gw, who, &limit, resp);
        json_decref(items);
        return;
    }
    char batch_id[CQ_UUID_STR_LEN + 1];
    cq_uuid_v7(batch_id);
    char(*job_ids)[CQ_UUID_STR_LEN + 1] = cq_calloc(n, sizeof(*job_ids));
    void **bufs = cq_calloc(n, sizeof(void *));
    char **topics = cq_calloc(n, sizeof(char *));
    cq_kafka_header_t(*headers)[4] = cq_calloc(n, sizeof(*headers));
    char traceparent[CQ_TRACE_HEADER_LEN + 1];
    cq_trace_format(&cq_log_ctx()->trace, traceparent); /* the batch's trace, for each job */
    cq_kafka_message_t *msgs = cq_calloc(n, sizeof(*msgs));
    cq_err_t *results = cq_calloc(n, sizeof(cq_err_t));
    json_t *record_items = json_array();
    const char *fp = cq_avro_fingerprint(gw->avro, "JobEnvelope");
    int64_t now = cq_now_ms();
    size_t queued = 0, failed = 0;
    bool store_down = false;

    for (size_t i = 0; i < n && !store_down; i++) {
        json_t *item = json_array_get(items, i);
        const cq_operation_t *op =
            cq_contract_find(gw->contract, json_string_value(json_object_get(item, "operation")));
        const char *custom = json_string_value(json_object_get(item, "customId"));
        cq_uuid_v7(job_ids[i]);
        cq_job_record_t job = {.job_id = job_ids[i],
                               .tenant_id = (char *)who->tenant_id,
                               .user_id = (char *)who->user_id,
                               .operation = (char *)op->name,
                               .kind = (char *)op->kind,
                               .batch_id = batch_id,
                               .custom_id = (char *)custom,
                               .status = CQ_JOB_QUEUED,
                               .created_at = now};
        if (cq_store_create(gw->store, &job) != CQ_ERR_OK) {
            store_down = true;
            break;
        }
        json_array_append_new(record_items, json_pack("[s,s,s]", custom, job_ids[i], op->name));
        cq_job_envelope_t env = {.job_id = job_ids[i],
                                 .tenant_id = (char *)who->tenant_id,
                                 .user_id = (char *)who->user_id,
                                 .operation = (char *)op->name,
                                 .created_at = now,
                                 .deadline = now + gw->conf->jobs_deadline,
                                 .batch_id = batch_id,
                                 .custom_id = (char *)custom,
                                 .trace_parent = traceparent[0] ? traceparent : NULL,
                                 .payload = op->request ? json_object_get(item, "body") : NULL,
                                 .authorization =
                                     (char *)cq_gateway_forwarded_credentials(op, req)};
        size_t len = 0;
        char err[256];
        if (cq_avro_envelope_encode(gw->avro, &env, &bufs[i], &len, err, sizeof(err)) !=
            CQ_ERR_OK) {
            CQ_LOG(CQ_LOG_ERROR, "batch", job_ids[i], "cannot encode envelope: %s", err);
            continue; /* msgs[i].topic stays NULL: not produced, failed below */
        }
        topics[i] = cq_asprintf("%s%s", gw->conf->topics_jobs_prefix, op->kind);
        headers[i][0] = (cq_kafka_header_t){CQ_AVRO_SCHEMA_HEADER, CQ_AVRO_ENVELOPE_FULL_NAME,
                                            strlen(CQ_AVRO_ENVELOPE_FULL_NAME)};
        headers[i][1] = (cq_kafka_header_t){"coachq-fingerprint", fp, strlen(fp)};
        headers[i][2] = (cq_kafka_header_t){"coachq-job-id", job_ids[i], CQ_UUID_STR_LEN};
        /* Also as a header, for consumers that do not decode the envelope. */
        headers[i][3] = (cq_kafka_header_t){"traceparent", traceparent, strlen(traceparent)};
        msgs[i] = (cq_kafka_message_t){topics[i], who->tenant_id, strlen(who->tenant_id), bufs[i],
                                       len,       headers[i],     traceparent[0] ? 4 : 3};
    }
    if (store_down) {
        /* Nothing was produced yet: fail the records made so far, tell the client. */
        for (size_t i = 0; i < n && job_ids[i][0]; i++)
            cq_store_finish(gw->store, job_ids[i], CQ_JOB_FAILED, NULL, NULL, "REDIS_UNAVAILABLE",
                            "The batch could not be recorded", NULL);
        cq_http_resp_problem(resp, req, CQ_ERR_REDIS_UNAVAILABLE,
                             "The job store is unavailable; no job was queued", NULL);
        cq_http_resp_header(resp, "Retry-After", "%lld", (long long)gw->conf->gateway_retry_after);
        goto out;
    }

    /* Produce what encoded; compact the list so indexes follow msgs. */
    size_t *index = cq_calloc(n, sizeof(size_t));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (msgs[i].topic) {
            index[m] = i;
            msgs[m++] = msgs[i];
        }
    for (size_t i = 0; i < n; i++)
        results[i] = CQ_ERR_INTERNAL_ERROR;
    cq_kafka_outcome_t *outcomes = cq_calloc(m ? m : 1, sizeof(cq_kafka_outcome_t));
    cq_kafka_produce_many(gw->producer, msgs, m, (int)gw->conf->gateway_produce_timeout, outcomes);
    /* Envelopes the broker took without acknowledging are sent again, as a
     * single submission's are (cq_submit.c); one still unacknowledged after
     * that is refused and recorded failed, so no job stays queued for ever. */
    cq_kafka_message_t *again = cq_calloc(m ? m : 1, sizeof(*again));
    size_t *again_at = cq_calloc(m ? m : 1, sizeof(size_t));
    for (int resend = 0; resend < CQ_SUBMIT_RESENDS; resend++) {
        size_t a = 0;
        for (size_t k = 0; k < m; k++)
            if (outcomes[k] == CQ_KAFKA_MAYBE_DELIVERED) {
                again_at[a] = k;
                again[a++] = msgs[k];
            }
        if (a == 0)
            break;
        CQ_LOG(CQ_LOG_WARN, "batch", batch_id,
               "the job queue took %zu jobs without acknowledging them: sending them again", a);
        cq_kafka_outcome_t *second = cq_calloc(a, sizeof(cq_kafka_outcome_t));
        cq_kafka_produce_many(gw->producer, again, a, (int)gw->conf->gateway_produce_timeout,
                              second);
        for (size_t j = 0; j < a; j++)
            outcomes[again_at[j]] = second[j];
        free(second);
    }
    free(again);
    free(again_at);
    for (size_t k = 0; k < m; k++)
        results[index[k]] = outcomes[k] == CQ_KAFKA_ACKED ? CQ_ERR_OK : CQ_ERR_KAFKA_UNAVAILABLE;
    free(outcomes);
    free(index);
    json_int_t counts[6] = {0};
    for (size_t i = 0; i < n; i++) {
        if (results[i] == CQ_ERR_OK) {
            queued++;
            counts[CQ_JOB_QUEUED]++;
            continue;
        }
        failed++;
        counts[CQ_JOB_FAILED]++;
        cq_store_finish(gw->store, job_ids[i], CQ_JOB_FAILED, NULL, NULL, cq_err_name(results[i]),
                        "The job queue did not accept the job", NULL);
    }
    atomic_fetch_add(&gw->jobs_submitted, queued);
    atomic_fetch_add(&gw->jobs_not_queued, failed);

    char *doc = NULL;
    json_t *batch = json_pack("{s:s, s:I, s:O}", "tenantId", who->tenant_id, "createdAt",
                              (json_int_t)now, "items", record_items);
    doc = json_dumps(batch, JSON_COMPACT);
    json_decref(batch);
    char key[64];
    snprintf(key, sizeof(key), "batch:%s", batch_id);
    if (cq_store_cache_set(gw->store, key, doc, gw->conf->jobs_result_ttl) != CQ_ERR_OK)
        CQ_LOG(CQ_LOG_WARN, "batch", batch_id, "batch record not stored; its jobs still run");
    free(doc);
    CQ_LOG(CQ_LOG_INFO, "batch", batch_id, "%zu jobs queued, %zu refused, tenant %s", queued,
           failed, who->tenant_id);
    if (queued == 0) {
        cq_http_resp_problem(resp, req, CQ_ERR_KAFKA_UNAVAILABLE,
                             "The job queue is unavailable; no job was queued", NULL);
        cq_http_resp_header(resp, "Retry-After", "%lld", (long long)gw->conf->gateway_retry_after);
        goto out;
    }
    cq_http_resp_json(resp, 202, cq_batch_resource(batch_id, counts, n, now, 0));
    cq_http_resp_header(resp, "Location", "%s/jobs/batch/%s", gw->conf->gateway_base_path,
                        batch_id);
    cq_http_resp_header(resp, "Retry-After", "%lld", (long long)gw->conf->gateway_retry_after);
out:
    cq_ratelimit_headers(gw, who, &limit, resp);
    for (size_t i = 0; i < n; i++) {
        free(bufs[i]);
        free(topics[i]);
    }
    free(bufs);
    free(topics);
    free(headers);
    free(msgs);
    free(results);
    free(job_ids);
    json_decref(record_items);
    json_decref(items);
}

/* The batch document if it exists and is the caller's; NULL with a 404 set. */
static json_t *cq_batch_load(cq_gateway_t *gw, const char *batch_id, const cq_principal_t *who,
                             const cq_http_req_t *req, cq_http_resp_t *resp)
{
    char key[64], *doc = NULL;
    json_t *batch = NULL;
    if (cq_uuid_valid(batch_id)) {
        snprintf(key, sizeof(key), "batch:%s", batch_id);
        cq_err_t rc = cq_store_cache_get(gw->store, key, &doc);
        if (rc != CQ_ERR_OK && rc != CQ_ERR_NOT_FOUND) {
            cq_http_resp_problem(resp, req, rc, NULL, NULL);
            return NULL;
        }
        batch = doc ? json_loads(doc, 0, NULL) : NULL;
        free(doc);
    }
    const char *tenant = json_string_value(json_object_get(batch, "tenantId"));
    if (!tenant || strcmp(tenant, who->tenant_id) != 0) {
        json_decref(batch);
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such batch", NULL);
        return NULL;
    }
    return batch;
}

/* The q of one media range's parameters ("; q=0.5"): 1 when absent. */
static double cq_batch_q(const char *params, size_t len)
{
    for (const char *p = params; p && p < params + len; p++) {
        while (p < params + len && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (params + len - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=')
            return strtod(p + 2, NULL);
        p = memchr(p, ';', (size_t)(params + len - p));
        if (!p)
            break;
    }
    return 1.0;
}

/* True when Accept asks for application/json with a higher q than any JSON
 * Lines type (absent, star or JSON Lines ranges keep the default). */
static bool cq_batch_wants_array(const cq_http_req_t *req)
{
    const char *accept = cq_http_header(req, "Accept");
    double json_q = 0, lines_q = 0;
    for (const char *p = accept; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        const char *semi = memchr(p, ';', len);
        size_t type_len = semi ? (size_t)(semi - p) : len;
        while (type_len > 0 && (p[type_len - 1] == ' ' || p[type_len - 1] == '\t'))
            type_len--;
        double q = semi ? cq_batch_q(semi, len - (size_t)(semi - p)) : 1.0;
        if (type_len == 16 && strncasecmp(p, "application/json", 16) == 0)
            json_q = q > json_q ? q : json_q;
        else if ((type_len == 20 && strncasecmp(p, "application/x-ndjson", 20) == 0) ||
                 (type_len == 17 && strncasecmp(p, "application/jsonl", 17) == 0))
            lines_q = q > lines_q ? q : lines_q;
        p = end ? end + 1 : p + len;
    }
    return json_q > 0 && json_q > lines_q;
}

void cq_batch_get(cq_gateway_t *gw, const char *batch_id, bool results, const cq_principal_t *who,
                  const cq_http_req_t *req, cq_http_resp_t *resp)
{
    json_t *batch = cq_batch_load(gw, batch_id, who, req, resp);
    if (!batch)
        return;
    json_t *items = json_object_get(batch, "items");
    json_int_t counts[6] = {0};
    int64_t finished = 0;
    json_t *lines = results ? json_array() : NULL;
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *custom = json_string_value(json_array_get(item, 0));
        const char *job_id = json_string_value(json_array_get(item, 1));
        const char *operation = json_string_value(json_array_get(item, 2));
        cq_job_record_t job;
        memset(&job, 0, sizeof(job));
        cq_err_t rc = cq_store_get(gw->store, job_id, &job);
        /* A job whose record expired is reported failed, never silently dropped. */
        cq_job_status_t status = rc == CQ_ERR_OK ? job.status : CQ_JOB_FAILED;
        counts[status]++;
        if (job.finished_at > finished)
            finished = job.finished_at;
        if (lines) {
            json_t *line = json_pack("{s:s, s:s, s:s, s:s}", "customId", custom, "jobId", job_id,
                                     "operation", operation, "status", cq_job_status_name(status));
            json_t *result = job.result ? json_loads(job.result, 0, NULL) : NULL;
            if (result && status == CQ_JOB_SUCCEEDED)
                json_object_set_new(line, "result", result);
            else
                json_decref(result);
            if (rc != CQ_ERR_OK)
                json_object_set_new(line, "error",
                                    json_pack("{s:s, s:s}", "code", cq_err_name(rc), "message",
                                              "The job's record is no longer available"));
            else if (job.error_code && status != CQ_JOB_SUCCEEDED)
                json_object_set_new(line, "error",
                                    json_pack("{s:s, s:s}", "code", job.error_code, "message",
                                              job.error_message ? job.error_message : ""));
            json_array_append_new(lines, line);
        }
        cq_job_record_clear(&job);
    }
    if (lines && cq_batch_wants_array(req)) {
        cq_http_resp_json(resp, 200, lines);
    } else if (lines) {
        char *text = NULL;
        size_t text_len = 0;
        FILE *out = open_memstream(&text, &text_len);
        size_t k;
        json_t *line;
        json_array_foreach(lines, k, line)
        {
            char *one = json_dumps(line, JSON_COMPACT);
            fprintf(out, "%s\n", one);
            free(one);
        }
        fclose(out);
        cq_http_resp_body(resp, 200, "application/x-ndjson", text, text_len);
        free(text);
        json_decref(lines);
    } else {
        int64_t created = json_integer_value(json_object_get(batch, "createdAt"));
        cq_http_resp_json(
            resp, 200,
            cq_batch_resource(batch_id, counts, json_array_size(items), created, finished));
    }
    json_decref(batch);
}
