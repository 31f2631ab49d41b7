/*
 * cq_jobs.c — the job resource: GET /jobs/{id} (with Prefer: wait=N as a
 * long-poll), DELETE /jobs/{id} (cancel), and the answers every job-bearing
 * response shares.
 *
 * Tenancy: a job of another tenant is answered exactly like a missing one
 * (404), so job ids reveal nothing across tenants.
 *
 * Runs on any HTTP thread.
 */
#include "cq_gateway.h"
#include "cq_log.h"
#include "cq_uuid.h"

#include <stdlib.h>
#include <string.h>

static void cq_jobs_set_time(json_t *obj, const char *name, int64_t ms)
{
    if (ms <= 0)
        return;
    char buf[40];
    cq_time_iso8601(ms, buf, sizeof(buf));
    json_object_set_new(obj, name, json_string(buf));
}

/* Stored JSON text back to JSON; NULL if absent or (never expected) broken. */
static json_t *cq_jobs_parse(const char *text)
{
    return text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
}

json_t *cq_jobs_resource(const cq_job_record_t *job)
{
    json_t *r =
        json_pack("{s:s, s:s, s:s}", "jobId", job->job_id, "operation",
                  job->operation ? job->operation : "", "status", cq_job_status_name(job->status));
    cq_jobs_set_time(r, "createdAt", job->created_at);
    cq_jobs_set_time(r, "startedAt", job->started_at);
    cq_jobs_set_time(r, "finishedAt", job->finished_at);
    json_object_set_new(r, "attempts", json_integer(job->attempts));
    json_t *engine = cq_jobs_parse(job->engine);
    if (engine)
        json_object_set_new(r, "engine", engine);
    json_t *result = cq_jobs_parse(job->result);
    if (result)
        json_object_set_new(r, "result", result);
    if (job->error_code)
        json_object_set_new(r, "error",
                            json_pack("{s:s, s:s}", "code", job->error_code, "message",
                                      job->error_message ? job->error_message : ""));
    return r;
}

void cq_jobs_respond(cq_gateway_t *gw, const cq_job_record_t *job, cq_jobs_answer_t answer,
                     const cq_http_req_t *req, cq_http_resp_t *resp)
{
    bool result = answer == CQ_JOBS_RESULT;
    if (result && job->status == CQ_JOB_SUCCEEDED) {
        json_t *data = cq_jobs_parse(job->result);
        json_t *body = json_pack("{s:b, s:o}", "success", 1, "data", data ? data : json_null());
        cq_http_resp_json(resp, 200, body);
    } else if (result && job->status == CQ_JOB_FAILED) {
        cq_err_t err = cq_err_from_name(job->error_code);
        cq_http_resp_problem_ex(resp, req, err, job->error_message, NULL,
                                json_pack("{s:s}", "jobId", job->job_id));
        if (cq_err_http_status(err) == 503)
            cq_http_resp_header(resp, "Retry-After", "%lld",
                                (long long)gw->conf->gateway_retry_after);
    } else if (result && job->status == CQ_JOB_CANCELLED) {
        cq_http_resp_problem_ex(resp, req, CQ_ERR_JOB_CANCELLED, "The job was cancelled", NULL,
                                json_pack("{s:s}", "jobId", job->job_id));
    } else {
        /* The job resource itself, as API.md shows it (not wrapped in {success, data}). */
        bool accepted = answer != CQ_JOBS_POLL;
        cq_http_resp_json(resp, accepted ? 202 : 200, cq_jobs_resource(job));
        if (accepted)
            cq_http_resp_header(resp, "Location", "%s/jobs/%s", gw->conf->gateway_base_path,
                                job->job_id);
        /* Every 202 carries Retry-After (the contract says so), even for a
         * job the worker finished before this answer was written. */
        if (accepted || !cq_job_status_terminal(job->status))
            cq_http_resp_header(resp, "Retry-After", "%lld",
                                (long long)gw->conf->gateway_retry_after);
    }
    cq_http_resp_header(resp, "X-Job-Id", "%s", job->job_id);
}

void cq_jobs_handle(cq_gateway_t *gw, const char *job_id, const cq_principal_t *who,
                    const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_job_record_t job;
    memset(&job, 0, sizeof(job));
    if (!cq_uuid_valid(job_id)) {
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such job", NULL);
        return;
    }
    cq_err_t rc;
    if (strcmp(req->method, "DELETE") == 0) {
        rc = cq_store_cancel(gw->store, job_id, who->tenant_id, &job);
        if (rc == CQ_ERR_OK) {
            CQ_LOG(CQ_LOG_INFO, "jobs", job_id, "cancelled by %s", who->user_id);
            cq_jobs_respond(gw, &job, CQ_JOBS_POLL, req, resp);
        } else if (rc == CQ_ERR_JOB_ALREADY_TERMINAL && job.tenant_id &&
                   strcmp(job.tenant_id, who->tenant_id) == 0) {
            char detail[96];
            snprintf(detail, sizeof(detail), "The job has already %s",
                     cq_job_status_name(job.status));
            cq_http_resp_problem(resp, req, rc, detail, NULL);
            cq_http_resp_header(resp, "X-Job-Id", "%s", job_id);
        } else if (rc == CQ_ERR_JOB_ALREADY_TERMINAL || rc == CQ_ERR_NOT_FOUND) {
            cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such job", NULL);
        } else {
            cq_http_resp_problem(resp, req, rc, NULL, NULL);
        }
        cq_job_record_clear(&job);
        return;
    }

    bool async = false;
    int64_t wait_ms = 0;
    cq_gateway_parse_prefer(gw, req, &async, &wait_ms);
    rc = cq_store_get(gw->store, job_id, &job);
    bool mine = rc == CQ_ERR_OK && job.tenant_id && strcmp(job.tenant_id, who->tenant_id) == 0;
    if (mine && wait_ms > 0 && !cq_job_status_terminal(job.status) && cq_gateway_waiter_enter(gw)) {
        cq_job_record_clear(&job);
        rc = cq_store_wait(gw->store, job_id, wait_ms, &job);
        cq_gateway_waiter_leave(gw);
    }
    if (rc == CQ_ERR_OK && mine)
        cq_jobs_respond(gw, &job, CQ_JOBS_POLL, req, resp);
    else if (rc == CQ_ERR_OK || rc == CQ_ERR_NOT_FOUND)
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such job", NULL);
    else
        cq_http_resp_problem(resp, req, rc, NULL, NULL);
    cq_job_record_clear(&job);
}
