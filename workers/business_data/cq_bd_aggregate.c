/*
 * cq_bd_aggregate.c — from validated Account and Traction replies to the
 * contract's BusinessDataResult.
 *
 * The contract lets each figure section be absent ("absent when it is
 * unavailable") and requires every field of a present section, so a
 * section is all-or-nothing: it is built only from OK replies, and a
 * derived figure that cannot be computed honestly (a change from a
 * previous revenue of zero) drops its section instead of inventing a
 * number. Replies arrive validated by cq_bd_upstream (types, ranges,
 * consistency), so the arithmetic here cannot overflow or divide by zero
 * except where checked below; every number is also checked finite before
 * it goes into JSON.
 *
 * Pure functions of their arguments: no I/O, no clock, any thread.
 */
#include "cq_bd_aggregate.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static double cq_bd_round2(double x)
{
    return round(x * 100.0) / 100.0;
}

static void cq_bd_note(json_t *notes, const char *section, const char *fmt, ...) CQ_PRINTF(3, 4);

static void cq_bd_note(json_t *notes, const char *section, const char *fmt, ...)
{
    if (!notes)
        return;
    char buf[CQ_BD_REASON_SIZE + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(notes, json_pack("{s:s, s:s}", "section", section, "reason", buf));
}

/* The data of an OK reply, else NULL with a note for section. */
static const json_t *cq_bd_need(const cq_bd_reply_t *replies, cq_bd_source_id_t id, json_t *notes,
                                const char *section)
{
    const cq_bd_reply_t *reply = &replies[id];
    if (reply->state == CQ_BD_REPLY_OK && reply->data)
        return reply->data;
    cq_bd_note(notes, section, "%s %s", cq_bd_source(id)->name,
               reply->state == CQ_BD_REPLY_UNAVAILABLE ? reply->reason : "not fetched");
    return NULL;
}

static json_t *cq_bd_revenue(const json_t *doc, json_t *notes)
{
    double current = json_number_value(json_object_get(doc, "current"));
    double previous = json_number_value(json_object_get(doc, "previous"));
    double change;
    if (previous > 0) {
        change = cq_bd_round2(100.0 * (current - previous) / previous);
    } else if (current == 0) {
        change = 0;
    } else {
        cq_bd_note(notes, "revenue", "previous period revenue is 0: change is undefined");
        return NULL;
    }
    if (!isfinite(change)) {
        cq_bd_note(notes, "revenue", "change is not a finite number");
        return NULL;
    }
    const char *trend = fabs(change) < CQ_BD_TREND_FLAT_PERCENT ? "flat"
                        : change > 0                            ? "up"
                                                                : "down";
    return json_pack("{s:f, s:f, s:s, s:f}", "current", current, "previous", previous, "trend",
                     trend, "changePercent", change);
}

static json_t *cq_bd_customers(const json_t *doc)
{
    json_int_t total = cq_bd_json_int(json_object_get(doc, "total"));
    json_int_t added = cq_bd_json_int(json_object_get(doc, "new"));
    json_int_t churned = cq_bd_json_int(json_object_get(doc, "churned"));
    /* validated: 0 <= added <= total, every count <= 1e9, so start >= churned */
    json_int_t start = total - added + churned;
    double retention =
        start > 0 ? cq_bd_round2(100.0 * (double)(start - churned) / (double)start) : 100.0;
    return json_pack("{s:I, s:I, s:I, s:f}", "total", total, "new", added, "churned", churned,
                     "retentionRate", retention);
}

static json_t *cq_bd_team(const json_t *doc)
{
    const json_t *sat = json_object_get(doc, "satisfaction");
    double score = json_number_value(json_object_get(sat, "score"));
    double min = json_number_value(json_object_get(sat, "min"));
    double max = json_number_value(json_object_get(sat, "max"));
    /* validated: min < max, min <= score <= max */
    double satisfaction = cq_bd_round2(100.0 * (score - min) / (max - min));
    return json_pack("{s:I, s:f, s:f}", "size", cq_bd_json_int(json_object_get(doc, "size")),
                     "utilization", json_number_value(json_object_get(doc, "utilization")),
                     "satisfaction", satisfaction);
}

static json_int_t cq_bd_completed_actions(const json_t *doc)
{
    json_int_t n = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(doc, "items"), i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "status")), "completed") == 0)
            n++;
    }
    return n;
}

json_t *cq_bd_aggregate(const char *tenant_id, const cq_bd_reply_t *replies, int64_t now_ms,
                        json_t **notes_out)
{
    json_t *result = json_object();
    json_t *notes = notes_out ? json_array() : NULL;

    /* Account: revenue, customers, team. */
    bool other_tenant = false;
    const cq_bd_reply_t *profile = &replies[CQ_BD_SRC_PROFILE];
    if (profile->state == CQ_BD_REPLY_OK && profile->data) {
        const char *answered = json_string_value(json_object_get(profile->data, "tenantId"));
        other_tenant = !answered || !tenant_id || strcmp(answered, tenant_id) != 0;
    }
    bool account_any = false;
    if (other_tenant) {
        cq_bd_note(notes, "account", "account.profile is for another tenant: Account dropped");
    } else {
        const json_t *doc;
        json_t *section;
        if ((doc = cq_bd_need(replies, CQ_BD_SRC_REVENUE, notes, "revenue")) &&
            (section = cq_bd_revenue(doc, notes))) {
            json_object_set_new(result, "revenue", section);
            account_any = true;
        }
        if ((doc = cq_bd_need(replies, CQ_BD_SRC_CUSTOMERS, notes, "customers"))) {
            json_object_set_new(result, "customers", cq_bd_customers(doc));
            account_any = true;
        }
        if ((doc = cq_bd_need(replies, CQ_BD_SRC_TEAM, notes, "team"))) {
            json_object_set_new(result, "team", cq_bd_team(doc));
            account_any = true;
        }
    }

    /* Traction: operations needs all three replies (every field is required). */
    const json_t *goals = cq_bd_need(replies, CQ_BD_SRC_GOALS, notes, "operations");
    const json_t *actions = cq_bd_need(replies, CQ_BD_SRC_ACTIONS, notes, "operations");
    const json_t *issues = cq_bd_need(replies, CQ_BD_SRC_ISSUES, notes, "operations");
    bool traction_any = goals && actions && issues;
    if (traction_any) {
        json_object_set_new(result, "operations",
                            json_pack("{s:I, s:I, s:I}", "activeGoals",
                                      cq_bd_json_int(json_object_get(goals, "active")),
                                      "completedActions", cq_bd_completed_actions(actions),
                                      "openIssues",
                                      cq_bd_json_int(json_object_get(issues, "total"))));
    }

    json_object_set_new(result, "sources",
                        json_pack("{s:s, s:s}", "account", account_any ? "ok" : "unavailable",
                                  "traction", traction_any ? "ok" : "unavailable"));
    char at[40];
    cq_time_iso8601(now_ms, at, sizeof(at));
    json_object_set_new(result, "generatedAt", json_string(at));
    json_object_set_new(result, "cached", json_false());
    if (notes_out)
        *notes_out = notes;
    return result;
}

json_t *cq_bd_prompt_context(const cq_bd_reply_t *replies)
{
    static const char *const foundation_fields[] = {"vision", "purpose", "coreValues",
                                                    "targetMarket", "valueProposition"};
    json_t *context = json_object();
    const cq_bd_reply_t *r = &replies[CQ_BD_SRC_FOUNDATION];
    if (r->state == CQ_BD_REPLY_OK && r->data) {
        /* only the fields the schema checked (copies: the reply may be freed
         * on another thread): nothing unread reaches a prompt */
        json_t *foundation = json_object();
        for (size_t i = 0; i < CQ_ARRAY_SIZE(foundation_fields); i++) {
            json_t *v = json_object_get(r->data, foundation_fields[i]);
            if (v)
                json_object_set_new(foundation, foundation_fields[i], json_deep_copy(v));
        }
        json_object_set_new(context, "foundation", foundation);
    }
    r = &replies[CQ_BD_SRC_PEOPLE];
    if (r->state == CQ_BD_REPLY_OK && r->data)
        json_object_set_new(
            context, "people",
            json_pack("{s:I}", "total", cq_bd_json_int(json_object_get(r->data, "total"))));
    r = &replies[CQ_BD_SRC_MEASURES];
    if (r->state == CQ_BD_REPLY_OK && r->data)
        json_object_set_new(
            context, "measures",
            json_pack("{s:I, s:I}", "onTrack", cq_bd_json_int(json_object_get(r->data, "onTrack")),
                      "offTrack", cq_bd_json_int(json_object_get(r->data, "offTrack"))));
    return context;
}
