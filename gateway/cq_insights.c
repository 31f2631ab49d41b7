/*
 * cq_insights.c — the tenant's stored insights, answered by the gateway
 * from Redis (cq_bdcache): GET /insights (paged, filtered by category,
 * priority and status, highest priority first) and PATCH /insights/{id}
 * (its status). The business-data worker stores them when it generates
 * insights; a PATCH is a compare-and-set update, so neither a concurrent
 * PATCH nor a generation loses it.
 *
 * Tenancy: only the caller's tenant's list is read or written; an id of
 * another tenant is simply not in it (404).
 *
 * Runs on any HTTP thread.
 */
#include "cq_bdcache.h"
#include "cq_gateway.h"
#include "cq_json.h"
#include "cq_log.h"

#include <stdlib.h>
#include <string.h>

static bool cq_insights_keep(const json_t *item, const json_t *query, const char *field)
{
    const char *want = json_string_value(json_object_get(query, field));
    const char *have = json_string_value(json_object_get(item, field));
    return !want || (have && strcmp(want, have) == 0);
}

static void cq_insights_store_down(const cq_gateway_t *gw, cq_err_t rc, const cq_http_req_t *req,
                                   cq_http_resp_t *resp)
{
    cq_http_resp_problem(resp, req, rc, "The insight store is unavailable; try again", NULL);
    if (cq_err_http_status(rc) == 503)
        cq_http_resp_header(resp, "Retry-After", "%lld", (long long)gw->conf->gateway_retry_after);
}

void cq_insights_list(cq_gateway_t *gw, const cq_principal_t *who, const cq_http_req_t *req,
                      cq_http_resp_t *resp)
{
    json_t *query = json_object();
    static const char *const ints[] = {"page", "pageSize"};
    static const char *const strs[] = {"category", "priority", "status"};
    char value[128];
    for (size_t i = 0; i < CQ_ARRAY_SIZE(ints); i++) {
        if (!cq_http_query(req, ints[i], value, sizeof(value)))
            continue;
        char *end = NULL;
        long long n = strtoll(value, &end, 10);
        /* Not a number: kept as a string so the schema names the field. */
        json_object_set_new(query, ints[i],
                            end != value && *end == '\0' ? json_integer(n) : json_string(value));
    }
    for (size_t i = 0; i < CQ_ARRAY_SIZE(strs); i++)
        if (cq_http_query(req, strs[i], value, sizeof(value)))
            json_object_set_new(query, strs[i], json_string(value));
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    json_t *items = NULL;
    if (!cq_schema_validate(gw->insights_list_schema, query, &errors)) {
        cq_http_resp_problem(resp, req, CQ_ERR_VALIDATION_ERROR,
                             "The query parameters are not valid",
                             cq_schema_errors_to_json(&errors));
        goto out;
    }
    cq_err_t rc = cq_bdcache_insights_get(gw->store, who->tenant_id, &items);
    if (rc != CQ_ERR_OK) {
        cq_insights_store_down(gw, rc, req, resp);
        goto out;
    }
    json_int_t page = json_is_integer(json_object_get(query, "page"))
                          ? json_integer_value(json_object_get(query, "page"))
                          : 1;
    json_int_t size = json_is_integer(json_object_get(query, "pageSize"))
                          ? json_integer_value(json_object_get(query, "pageSize"))
                          : 20;
    /* Filter, then order by priority keeping the stored order within one
     * (a stable pass per rank: the list is small). */
    json_t *kept = json_array();
    for (int rank = 0; rank <= 4; rank++) {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            if (cq_bdcache_priority_rank(it) == rank && cq_insights_keep(it, query, "category") &&
                cq_insights_keep(it, query, "priority") && cq_insights_keep(it, query, "status"))
                json_array_append(kept, it);
        }
    }
    json_int_t total = (json_int_t)json_array_size(kept);
    json_t *slice = json_array();
    for (json_int_t i = (page - 1) * size; i < total && i < page * size; i++)
        json_array_append(slice, json_array_get(kept, (size_t)i));
    json_decref(kept);
    json_t *data =
        json_pack("{s:o, s:{s:I, s:I, s:I, s:I}}", "items", slice, "pagination", "page", page,
                  "pageSize", size, "total", total, "totalPages", (total + size - 1) / size);
    cq_http_resp_json(resp, 200, json_pack("{s:b, s:o}", "success", 1, "data", data));
out:
    json_decref(items);
    json_decref(query);
    cq_schema_errors_clear(&errors);
}

typedef struct {
    const char *id, *status;
    json_t *found; /* the changed item (a new reference) */
} cq_insights_patch_t;

static cq_err_t cq_insights_set_status(json_t *items, void *arg)
{
    cq_insights_patch_t *p = arg;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        if (id && strcmp(id, p->id) == 0) {
            json_object_set_new(it, "status", json_string(p->status));
            json_decref(p->found);
            p->found = json_deep_copy(it);
            return CQ_ERR_OK;
        }
    }
    return CQ_ERR_NOT_FOUND;
}

void cq_insights_patch(cq_gateway_t *gw, const char *id, const cq_principal_t *who,
                       const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    json_t *body = NULL;
    cq_insights_patch_t patch = {.id = id};
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
    if (cq_json_depth(req->body, req->body_len, CQ_JSON_MAX_DEPTH) > CQ_JSON_MAX_DEPTH ||
        !(body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL))) {
        cq_http_resp_problem(resp, req, CQ_ERR_MALFORMED_JSON, "The body is not valid JSON", NULL);
        goto out;
    }
    if (!cq_schema_validate(gw->insight_patch_schema, body, &errors)) {
        cq_http_resp_problem(resp, req, CQ_ERR_VALIDATION_ERROR, "The body is not valid",
                             cq_schema_errors_to_json(&errors));
        goto out;
    }
    patch.status = json_string_value(json_object_get(body, "status"));
    cq_err_t rc =
        cq_bdcache_insights_update(gw->store, who->tenant_id, cq_insights_set_status, &patch);
    if (rc == CQ_ERR_NOT_FOUND) {
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such insight", NULL);
    } else if (rc != CQ_ERR_OK) {
        cq_insights_store_down(gw, rc, req, resp);
    } else {
        CQ_LOG(CQ_LOG_INFO, "insights", NULL, "%s of tenant %s is now %s", id, who->tenant_id,
               patch.status);
        cq_http_resp_json(resp, 200, json_pack("{s:b, s:O}", "success", 1, "data", patch.found));
    }
out:
    json_decref(patch.found);
    json_decref(body);
    cq_schema_errors_clear(&errors);
}
