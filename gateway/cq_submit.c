/*
 * cq_submit.c — turning a POST into a job: content checks, JSON parsing,
 * schema validation, idempotency, the Redis record, the Kafka envelope, and
 * the wait that keeps the synchronous shape of the coaching API.
 *
 * Order matters for the guarantees of DESIGN.md: the job is recorded as
 * queued before it is produced, and a 202 or 200 is sent only after the
 * broker acknowledged the envelope (idempotent producer, acks=all), so an
 * accepted job is never lost. A 503 means "not queued": the producer's
 * message timeout is the produce wait, so a job refused after the wait is
 * never delivered later (its record is failed); while the producer knows no
 * broker answers, the 503 comes at once, before any record is written. A
 * message the broker may have taken without acknowledging it is sent again
 * until one copy is acknowledged (202), or else recorded failed and
 * refused (503), so that neither answer can leave a job queued for ever.
 *
 * Runs on any HTTP thread; uses only thread-safe parts of the context.
 */
#include "cq_gateway.h"
#include "cq_json.h"
#include "cq_log.h"
#include "cq_uuid.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* SHA-256 of the operation and the canonical body, in hex. */
static void cq_submit_body_hash(const char *operation, const json_t *body, char out[65])
{
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, operation, strlen(operation) + 1);
    if (canon)
        EVP_DigestUpdate(ctx, canon, strlen(canon));
    EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    free(canon);
    for (unsigned int i = 0; i < md_len && i < 32; i++)
        snprintf(out + (size_t)2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

/* RFC 9745 Deprecation, RFC 8594 Sunset and the successors as Link. */
static void cq_submit_deprecation_headers(cq_gateway_t *gw, const cq_operation_t *op,
                                          cq_http_resp_t *resp)
{
    cq_http_resp_header(resp, "Deprecation", "%s", op->deprecation ? op->deprecation : "true");
    if (op->sunset)
        cq_http_resp_header(resp, "Sunset", "%s", op->sunset);
    if (!op->successors)
        return;
    char link[512] = "";
    char *list = cq_strdup(op->successors), *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        size_t n = strlen(link);
        snprintf(link + n, sizeof(link) - n, "%s<%s%s>; rel=\"successor-version\"", n ? ", " : "",
                 gw->conf->gateway_base_path, p);
    }
    free(list);
    cq_http_resp_header(resp, "Link", "%s", link);
}

/* 503 KAFKA_UNAVAILABLE with Retry-After: the job was not queued and will not run. */
static void cq_submit_not_queued(cq_gateway_t *gw, const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_http_resp_problem(resp, req, CQ_ERR_KAFKA_UNAVAILABLE,
                         "The job queue is unavailable; the job was not queued, try again", NULL);
    cq_http_resp_header(resp, "Retry-After", "%lld", (long long)gw->conf->gateway_retry_after);
}

/* Waits (bounded) for a job and answers with its result or its resource.
 * A ticket registered before the job was produced (holding a waiter slot)
 * skips the first read of a record that can only be queued; so does the 202
 * of a job this request created (created: the record it stored), which is
 * answered from that record without reading it back. */
static void cq_submit_reply(cq_gateway_t *gw, const char *job_id, bool async, int64_t wait_ms,
                            cq_store_ticket_t *ticket, const cq_job_record_t *created,
                            const cq_http_req_t *req, cq_http_resp_t *resp)
{
    if (async && created) {
        cq_jobs_respond(gw, created, CQ_JOBS_ACCEPTED, req, resp);
        return;
    }
    cq_job_record_t job;
    memset(&job, 0, sizeof(job));
    cq_err_t rc;
    if (ticket && ticket->waiter) {
        rc = cq_store_wait_ticket(gw->store, ticket, wait_ms, &job);
        cq_gateway_waiter_leave(gw);
    } else if (!async && wait_ms > 0 && cq_gateway_waiter_enter(gw)) {
        rc = cq_store_wait(gw->store, job_id, wait_ms, &job);
        cq_gateway_waiter_leave(gw);
    } else {
        rc = cq_store_get(gw->store, job_id, &job);
    }
    if (rc != CQ_ERR_OK) {
        /* The job is safe in Kafka; only its state could not be read. Point
         * the client at the job resource rather than failing the POST. */
        json_t *body = json_pack("{s:s, s:s}", "jobId", job_id, "status", "queued");
        cq_http_resp_json(resp, 202, body);
        cq_http_resp_header(resp, "Location", "%s/jobs/%s", gw->conf->gateway_base_path, job_id);
        cq_http_resp_header(resp, "Retry-After", "%lld", (long long)gw->conf->gateway_retry_after);
        cq_http_resp_header(resp, "X-Job-Id", "%s", job_id);
        return;
    }
    cq_jobs_respond(gw, &job, async ? CQ_JOBS_ACCEPTED : CQ_JOBS_RESULT, req, resp);
    cq_job_record_clear(&job);
}

void cq_submit_answer(cq_gateway_t *gw, const char *job_id, bool async, int64_t wait_ms,
                      const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_submit_reply(gw, job_id, async, wait_ms, NULL, NULL, req, resp);
}

/* For operations whose request travels in the query string (x-coachq-
 * request-from-query): each property of the request schema found in the
 * query becomes a member, typed as the schema says; a query parameter wins
 * over a body member. A value that is not of the type stays a string, so the
 * schema check reports it with its path. */
static void cq_submit_merge_query(cq_gateway_t *gw, const cq_operation_t *op,
                                  const cq_http_req_t *req, json_t *body)
{
    json_t *doc = cq_contract_document(gw->contract);
    json_t *props = json_object_get(cq_json_pointer_get(doc, op->request_pointer), "properties");
    const char *name;
    json_t *prop;
    json_object_foreach(props, name, prop)
    {
        char value[512];
        if (!cq_http_query(req, name, value, sizeof(value)))
            continue;
        const char *ref = json_string_value(json_object_get(prop, "$ref"));
        if (ref && ref[0] == '#')
            prop = cq_json_pointer_get(doc, ref + 1);
        const char *type = json_string_value(json_object_get(prop, "type"));
        char *end = NULL;
        long long n = strtoll(value, &end, 10);
        if (type && strcmp(type, "integer") == 0 && end != value && *end == '\0')
            json_object_set_new(body, name, json_integer(n));
        else
            json_object_set_new(body, name, json_string(value));
    }
}

void cq_submit_handle(cq_gateway_t *gw, const cq_operation_t *op, const cq_principal_t *who,
                      const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_submit_handle_as(gw, op, who, req, resp, NULL);
}

void cq_submit_handle_as(cq_gateway_t *gw, const cq_operation_t *op, const cq_principal_t *who,
                         const cq_http_req_t *req, cq_http_resp_t *resp, const char *chosen_id)
{
    json_t *body = NULL;
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    char *existing = NULL;
    void *buf = NULL;
    size_t len = 0;
    cq_limit_decision_t limit = {.reset_us = -1};
    cq_store_ticket_t ticket = {NULL, 0}; /* a synchronous answer's wait, once registered */

    if (op->request && op->request_from_query && !req->body) {
        body = json_object();
        cq_submit_merge_query(gw, op, req, body);
        if (!cq_schema_validate(op->request, body, &errors)) {
            cq_http_resp_problem(resp, req, CQ_ERR_VALIDATION_ERROR,
                                 "The query parameters are not valid",
                                 cq_schema_errors_to_json(&errors));
            goto out;
        }
    } else if (op->request) {
        if (!req->body) {
            cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON, "The request needs a JSON body",
                                 NULL);
            goto out;
        }
        if (!cq_http_content_type_is(req, "application/json")) {
            cq_http_resp_problem(resp, req, CQ_ERR_UNSUPPORTED_MEDIA_TYPE,
                                 "Send the body as Content-Type: application/json", NULL);
            goto out;
        }
        if (cq_json_depth(req->body, req->body_len, CQ_JSON_MAX_DEPTH) > CQ_JSON_MAX_DEPTH) {
            cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON,
                                 "The JSON is nested more than 64 levels deep", NULL);
            goto out;
        }
        json_error_t jerr;
        body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!body) {
            char detail[256];
            snprintf(detail, sizeof(detail), "Invalid JSON at line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
            cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON, detail, NULL);
            goto out;
        }
        if (op->request_from_query && json_is_object(body))
            cq_submit_merge_query(gw, op, req, body);
        if (!cq_schema_validate(op->request, body, &errors)) {
            char detail[160];
            snprintf(detail, sizeof(detail), "%zu field%s of the request %s not valid",
                     errors.count, errors.count == 1 ? "" : "s", errors.count == 1 ? "is" : "are");
            cq_http_resp_problem(resp, req, CQ_ERR_VALIDATION_ERROR, detail,
                                 cq_schema_errors_to_json(&errors));
            goto out;
        }
    }

    bool async = false;
    int64_t wait_ms = gw->conf->gateway_default_wait;
    cq_gateway_parse_prefer(gw, req, &async, &wait_ms);

    char job_id[CQ_UUID_STR_LEN + 1];
    if (chosen_id)
        cq_strlcpy(job_id, chosen_id, sizeof(job_id));
    else
        cq_uuid_v7(job_id);
    CQ_LOG_CTX_PUT(cq_log_ctx()->job_id, job_id); /* the request's log lines name its job */
    const char *idem_key = cq_http_header(req, "Idempotency-Key");
    if (idem_key) {
        if (!*idem_key || strlen(idem_key) > 255) {
            cq_http_resp_problem(resp, req, CQ_ERR_BAD_REQUEST,
                                 "Idempotency-Key takes 1-255 characters", NULL);
            goto out;
        }
        char hash[65];
        cq_submit_body_hash(op->name, body, hash);
        cq_err_t rc =
            cq_store_idempotency(gw->store, who->tenant_id, idem_key, hash, job_id, &existing);
        if (rc != CQ_ERR_OK) {
            cq_http_resp_problem(resp, req, rc,
                                 rc == CQ_ERR_IDEMPOTENCY_KEY_REUSED
                                     ? "This Idempotency-Key was used with a different request"
                                     : NULL,
                                 NULL);
            if (rc != CQ_ERR_IDEMPOTENCY_KEY_REUSED)
                cq_http_resp_header(resp, "Retry-After", "%lld",
                                    (long long)gw->conf->gateway_retry_after);
            goto out;
        }
        if (existing) {
            cq_submit_answer(gw, existing, async, wait_ms, req, resp);
            goto out;
        }
    }

    /* A new job from here on: charged to the tenant (a replay above was not). */
    if (!cq_ratelimit_check(gw, who, 1, req, resp, &limit)) {
        if (idem_key)
            cq_store_idempotency_release(gw->store, who->tenant_id, idem_key, job_id);
        goto out;
    }

    if (cq_kafka_producer_down(gw->producer)) {
        if (idem_key)
            cq_store_idempotency_release(gw->store, who->tenant_id, idem_key, job_id);
        atomic_fetch_add(&gw->jobs_not_queued, 1);
        cq_submit_not_queued(gw, req, resp);
        goto out;
    }

    /* Registered before the job can end (before it is produced), the wait of a
     * synchronous answer need not read the record first. */
    if (!async && wait_ms > 0 && cq_gateway_waiter_enter(gw)) {
        cq_store_wait_register(gw->store, job_id, &ticket);
        if (!ticket.waiter)
            cq_gateway_waiter_leave(gw);
    }

    int64_t now = cq_now_ms();
    cq_job_record_t job = {
        .job_id = job_id,
        .tenant_id = (char *)who->tenant_id,
        .user_id = (char *)who->user_id,
        .operation = (char *)op->name,
        .kind = (char *)op->kind,
        .status = CQ_JOB_QUEUED,
        .created_at = now,
    };
    cq_err_t rc = cq_store_create(gw->store, &job);
    if (rc != CQ_ERR_OK) {
        if (idem_key)
            cq_store_idempotency_release(gw->store, who->tenant_id, idem_key, job_id);
        cq_http_resp_problem(resp, req, rc, "The job store is unavailable; try again", NULL);
        cq_http_resp_header(resp, "Retry-After", "%lld", (long long)gw->conf->gateway_retry_after);
        goto out;
    }

    char traceparent[CQ_TRACE_HEADER_LEN + 1];
    cq_trace_format(&cq_log_ctx()->trace, traceparent);
    cq_job_envelope_t env = {
        .job_id = job_id,
        .tenant_id = (char *)who->tenant_id,
        .user_id = (char *)who->user_id,
        .operation = (char *)op->name,
        .attempt = 0,
        .created_at = now,
        .deadline = now + gw->conf->jobs_deadline,
        .trace_parent = traceparent[0] ? traceparent : NULL,
        .payload = body,
        .authorization = (char *)cq_gateway_forwarded_credentials(op, req),
    };
    char err[512];
    rc = cq_avro_envelope_encode(gw->avro, &env, &buf, &len, err, sizeof(err));
    if (rc != CQ_ERR_OK) {
        /* The body passed the schema the Avro schema is made from: a bug. */
        CQ_LOG(CQ_LOG_ERROR, "submit", job_id, "cannot encode envelope: %s", err);
        cq_store_finish(gw->store, job_id, CQ_JOB_FAILED, NULL, NULL, "INTERNAL_ERROR", err, NULL);
        cq_http_resp_problem(resp, req, CQ_ERR_INTERNAL_ERROR, NULL, NULL);
        goto out;
    }
    char *topic = cq_asprintf("%s%s", gw->conf->topics_jobs_prefix, op->kind);
    const char *fp = cq_avro_fingerprint(gw->avro, "JobEnvelope");
    cq_kafka_header_t headers[] = {
        {CQ_AVRO_SCHEMA_HEADER, CQ_AVRO_ENVELOPE_FULL_NAME, strlen(CQ_AVRO_ENVELOPE_FULL_NAME)},
        {"coachq-fingerprint", fp, strlen(fp)},
        {"coachq-job-id", job_id, strlen(job_id)},
        /* Also as a header, for consumers that do not decode the envelope. */
        {"traceparent", traceparent, strlen(traceparent)},
    };
    cq_kafka_message_t msg = {topic,
                              who->tenant_id,
                              strlen(who->tenant_id),
                              buf,
                              len,
                              headers,
                              CQ_ARRAY_SIZE(headers) - !traceparent[0]};
    cq_kafka_outcome_t outcome;
    cq_kafka_produce_many(gw->producer, &msg, 1, (int)gw->conf->gateway_produce_timeout, &outcome);
    /* Sent but not acknowledged (the broker went away mid-request): the job
     * may or may not be in the log, and a 202 for a job that is not would
     * leave it queued for ever. Send the same envelope again until a copy is
     * acknowledged (a second copy is harmless: a job is claimed once). If
     * none is, the job is recorded failed and refused below: a copy that did
     * reach the log is not run then either, as workers do not start a job
     * whose record is final. While the broker is known down a resend is
     * refused at once, so this adds little to an outage. */
    for (int resend = 0; outcome == CQ_KAFKA_MAYBE_DELIVERED && resend < CQ_SUBMIT_RESENDS;
         resend++) {
        CQ_LOG(CQ_LOG_WARN, "submit", job_id,
               "the job queue took %s but did not acknowledge it: sending it again", op->name);
        cq_kafka_produce_many(gw->producer, &msg, 1, (int)gw->conf->gateway_produce_timeout,
                              &outcome);
    }
    free(topic);
    if (outcome != CQ_KAFKA_ACKED) {
        CQ_LOG_CODE(CQ_LOG_WARN, "submit", job_id, cq_err_name(CQ_ERR_KAFKA_UNAVAILABLE),
                    "not queued: the job queue did not take it");
        atomic_fetch_add(&gw->jobs_not_queued, 1);
        cq_store_finish(gw->store, job_id, CQ_JOB_FAILED, NULL, NULL,
                        cq_err_name(CQ_ERR_KAFKA_UNAVAILABLE),
                        "The job queue did not take the job; it will not run", NULL);
        /* A retry with the same key must submit again, not find this failure. */
        if (idem_key)
            cq_store_idempotency_release(gw->store, who->tenant_id, idem_key, job_id);
        cq_submit_not_queued(gw, req, resp);
        cq_http_resp_header(resp, "X-Job-Id", "%s", job_id);
        goto out;
    }
    CQ_LOG(CQ_LOG_INFO, "submit", job_id, "queued %s for tenant %s", op->name, who->tenant_id);
    atomic_fetch_add(&gw->jobs_submitted, 1);
    cq_submit_reply(gw, job_id, async, wait_ms, &ticket, &job, req, resp);
out:
    if (ticket.waiter) {
        cq_store_wait_drop(gw->store, &ticket);
        cq_gateway_waiter_leave(gw);
    }
    cq_ratelimit_headers(gw, who, &limit, resp);
    if (op->deprecated)
        cq_submit_deprecation_headers(gw, op, resp);
    free(buf);
    free(existing);
    cq_schema_errors_clear(&errors);
    json_decref(body);
}
