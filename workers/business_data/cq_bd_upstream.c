/*
 * cq_bd_upstream.c — the table of upstream sources of the business-data
 * worker and the validation of their replies.
 *
 * An upstream reply is untrusted input, like a request body: a changed or
 * broken service must make its source unavailable, never crash the worker
 * or yield a wrong number. So a body is measured before it is parsed (size,
 * then nesting, because jansson recurses), parsed strictly (no duplicate
 * keys: which of two "total" members would we believe?), checked against
 * the schema of what we read, then against the rules between fields a
 * schema cannot state. Only then does the reply carry data.
 *
 * The schemas are compiled once (cq_bd_upstream_new) and read-only after:
 * validation is reentrant and takes no lock.
 */
#include "cq_bd_upstream.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cq_embedded.h"
#include "cq_json.h"
#include "cq_schema.h"

static const cq_bd_source_t cq_bd_sources[CQ_BD_SRC_COUNT] = {
    [CQ_BD_SRC_PROFILE] = {"account.profile", CQ_BD_SERVICE_ACCOUNT,
                           "upstream.account.profile_path", "/user/profile",
                           "schemas/upstream/account-profile.json", CQ_BD_USE_AGGREGATE},
    [CQ_BD_SRC_FOUNDATION] = {"account.foundation", CQ_BD_SERVICE_ACCOUNT,
                              "upstream.account.foundation_path", "/business/foundation",
                              "schemas/upstream/account-foundation.json", CQ_BD_USE_PROMPT},
    [CQ_BD_SRC_REVENUE] = {"account.revenue", CQ_BD_SERVICE_ACCOUNT,
                           "upstream.account.revenue_path", "/metrics/revenue",
                           "schemas/upstream/account-revenue.json", CQ_BD_USE_AGGREGATE},
    [CQ_BD_SRC_CUSTOMERS] = {"account.customers", CQ_BD_SERVICE_ACCOUNT,
                             "upstream.account.customers_path", "/metrics/customers",
                             "schemas/upstream/account-customers.json", CQ_BD_USE_AGGREGATE},
    [CQ_BD_SRC_TEAM] = {"account.team", CQ_BD_SERVICE_ACCOUNT, "upstream.account.team_path",
                        "/metrics/team", "schemas/upstream/account-team.json", CQ_BD_USE_AGGREGATE},
    [CQ_BD_SRC_GOALS] = {"traction.goals", CQ_BD_SERVICE_TRACTION, "upstream.traction.goals_path",
                         "/goals/stats", "schemas/upstream/traction-goals-stats.json",
                         CQ_BD_USE_AGGREGATE},
    [CQ_BD_SRC_ACTIONS] = {"traction.actions", CQ_BD_SERVICE_TRACTION,
                           "upstream.traction.actions_path", "/operations/actions",
                           "schemas/upstream/traction-actions.json", CQ_BD_USE_AGGREGATE},
    [CQ_BD_SRC_ISSUES] = {"traction.issues", CQ_BD_SERVICE_TRACTION,
                          "upstream.traction.issues_path", "/api/issues?status=open",
                          "schemas/upstream/traction-issues-open.json", CQ_BD_USE_AGGREGATE},
    [CQ_BD_SRC_PEOPLE] = {"traction.people", CQ_BD_SERVICE_TRACTION,
                          "upstream.traction.people_path", "/people",
                          "schemas/upstream/traction-people.json", CQ_BD_USE_PROMPT},
    [CQ_BD_SRC_MEASURES] = {"traction.measures", CQ_BD_SERVICE_TRACTION,
                            "upstream.traction.measures_path", "/measures/summary",
                            "schemas/upstream/traction-measures-summary.json", CQ_BD_USE_PROMPT},
};

struct cq_bd_upstream_s {
    cq_schema_t *schema[CQ_BD_SRC_COUNT];
};

const cq_bd_source_t *cq_bd_source(cq_bd_source_id_t id)
{
    return (unsigned)id < CQ_BD_SRC_COUNT ? &cq_bd_sources[id] : NULL;
}

const char *cq_bd_service_name(cq_bd_service_t service)
{
    return service == CQ_BD_SERVICE_ACCOUNT ? "account" : "traction";
}

cq_bd_upstream_t *cq_bd_upstream_new(char *errstr, size_t errstr_size)
{
    cq_bd_upstream_t *upstream = cq_calloc(1, sizeof(*upstream));
    for (size_t i = 0; i < CQ_BD_SRC_COUNT; i++) {
        const cq_bd_source_t *src = &cq_bd_sources[i];
        size_t len = 0;
        const char *text = cq_embedded_get(src->schema, &len);
        if (!text) {
            cq_errstr_set(errstr, errstr_size, "%s: schema %s is not built in", src->name,
                          src->schema);
            goto fail_destroy;
        }
        json_error_t jerr;
        json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            cq_errstr_set(errstr, errstr_size, "%s:%d: %s", src->schema, jerr.line, jerr.text);
            goto fail_destroy;
        }
        char err[256];
        upstream->schema[i] = cq_schema_new(root, "", err, sizeof(err));
        json_decref(root); /* the schema holds its own reference */
        if (!upstream->schema[i]) {
            cq_errstr_set(errstr, errstr_size, "%s: %s", src->schema, err);
            goto fail_destroy;
        }
    }
    return upstream;

fail_destroy:
    cq_bd_upstream_destroy(upstream);
    return NULL;
}

void cq_bd_upstream_destroy(cq_bd_upstream_t *upstream)
{
    if (!upstream)
        return;
    for (size_t i = 0; i < CQ_BD_SRC_COUNT; i++)
        cq_schema_destroy(upstream->schema[i]);
    free(upstream);
}

json_int_t cq_bd_json_int(const json_t *value)
{
    if (json_is_integer(value))
        return json_integer_value(value);
    /* schema-checked reals are integral and far inside the int64 range */
    return json_is_real(value) ? (json_int_t)json_real_value(value) : 0;
}

void cq_bd_reply_clear(cq_bd_reply_t *reply)
{
    json_decref(reply->data);
    memset(reply, 0, sizeof(*reply));
}

static void cq_bd_reply_vset(cq_bd_reply_t *reply, const char *fmt, va_list ap) CQ_PRINTF(2, 0);
static void cq_bd_reply_vset(cq_bd_reply_t *reply, const char *fmt, va_list ap)
{
    json_decref(reply->data);
    reply->data = NULL;
    reply->state = CQ_BD_REPLY_UNAVAILABLE;
    vsnprintf(reply->reason, sizeof(reply->reason), fmt, ap);
}

void cq_bd_reply_unavailable(cq_bd_reply_t *reply, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cq_bd_reply_vset(reply, fmt, ap);
    va_end(ap);
}

/* The rules between fields of one reply; the schema has passed, so read
 * fields exist with their types. NULL when consistent, else why not. */
static const char *cq_bd_consistency(cq_bd_source_id_t id, const json_t *doc, char *buf,
                                     size_t buf_size)
{
    switch (id) {
    case CQ_BD_SRC_CUSTOMERS: {
        json_int_t total = cq_bd_json_int(json_object_get(doc, "total"));
        json_int_t added = cq_bd_json_int(json_object_get(doc, "new"));
        if (added > total) {
            snprintf(buf, buf_size, "new (%lld) exceeds total (%lld)", (long long)added,
                     (long long)total);
            return buf;
        }
        return NULL;
    }
    case CQ_BD_SRC_TEAM: {
        const json_t *sat = json_object_get(doc, "satisfaction");
        double score = json_number_value(json_object_get(sat, "score"));
        double min = json_number_value(json_object_get(sat, "min"));
        double max = json_number_value(json_object_get(sat, "max"));
        if (!(max > min))
            return "satisfaction scale has max <= min";
        if (score < min || score > max)
            return "satisfaction score is outside its scale";
        return NULL;
    }
    case CQ_BD_SRC_ACTIONS: {
        size_t n = json_array_size(json_object_get(doc, "items"));
        json_int_t total = cq_bd_json_int(json_object_get(doc, "total"));
        if ((json_int_t)n != total) {
            snprintf(buf, buf_size, "list has %zu items of %lld: a page, not the whole list", n,
                     (long long)total);
            return buf;
        }
        return NULL;
    }
    case CQ_BD_SRC_ISSUES: {
        const json_t *items = json_object_get(doc, "items");
        json_int_t total = cq_bd_json_int(json_object_get(doc, "total"));
        if ((json_int_t)json_array_size(items) > total)
            return "list has more items than total";
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item)
        {
            if (strcmp(json_string_value(json_object_get(item, "status")), "open") != 0) {
                snprintf(buf, buf_size, "item %zu is not open: the status filter was ignored", i);
                return buf;
            }
        }
        return NULL;
    }
    default:
        return NULL;
    }
}

bool cq_bd_upstream_validate(const cq_bd_upstream_t *upstream, cq_bd_source_id_t id,
                             const char *body, size_t len, cq_bd_reply_t *reply)
{
    cq_bd_reply_clear(reply);
    if ((unsigned)id >= CQ_BD_SRC_COUNT) {
        cq_bd_reply_unavailable(reply, "unknown source %d", (int)id);
        return false;
    }
    if (!body || len == 0) {
        cq_bd_reply_unavailable(reply, "empty body");
        return false;
    }
    if (len > CQ_BD_REPLY_MAX_BYTES) {
        cq_bd_reply_unavailable(reply, "body of %zu bytes exceeds %zu", len, CQ_BD_REPLY_MAX_BYTES);
        return false;
    }
    if (cq_json_depth(body, len, CQ_BD_REPLY_MAX_DEPTH) > CQ_BD_REPLY_MAX_DEPTH) {
        cq_bd_reply_unavailable(reply, "JSON nested deeper than %d", CQ_BD_REPLY_MAX_DEPTH);
        return false;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        cq_bd_reply_unavailable(reply, "malformed JSON at byte %d: %s", jerr.position, jerr.text);
        return false;
    }
    cq_schema_errors_t errors = {0};
    if (!cq_schema_validate(upstream->schema[id], doc, &errors)) {
        const cq_schema_error_t *first = errors.count ? &errors.items[0] : NULL;
        cq_bd_reply_unavailable(reply, "wrong shape: %s%s%s", first ? first->path : "",
                                first && first->path[0] ? ": " : "",
                                first ? first->message : "invalid");
        cq_schema_errors_clear(&errors);
        goto fail_doc;
    }
    char buf[CQ_BD_REASON_SIZE];
    const char *why = cq_bd_consistency(id, doc, buf, sizeof(buf));
    if (why) {
        cq_bd_reply_unavailable(reply, "inconsistent: %s", why);
        goto fail_doc;
    }
    reply->state = CQ_BD_REPLY_OK;
    reply->data = doc;
    return true;

fail_doc:
    json_decref(doc);
    return false;
}
