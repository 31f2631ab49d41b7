/*
 * cq_bd_llm.c — the prompt input and the model's insights (cq_bd_llm.h).
 *
 * The input carries only what the prompts name: figures already validated
 * and aggregated (never an upstream body as it came), the context sources
 * reduced to the fields the prompt describes, the request's paging and
 * filters. cq_prompt renders it inside the prompt's data block, escaped.
 * The model's ids and dates are not trusted as identities: the service
 * gives each item its own, derived like the built-in rules' ids so that a
 * status set by PATCH survives a regeneration of the same finding.
 *
 * Pure functions; any thread.
 */
#include "cq_bd_llm.h"
#include "cq_bdcache.h"

#include <stdlib.h>
#include <string.h>

#include "cq_bd_insights.h"

static void cq_bd_llm_copy_field(json_t *to, const json_t *from, const char *name)
{
    json_t *v = json_object_get(from, name);
    if (v)
        json_object_set_new(to, name, json_deep_copy(v));
}

/* The context of the prompt-only sources that answered, or NULL. */
static json_t *cq_bd_llm_context(const cq_bd_reply_t *replies)
{
    if (!replies)
        return NULL;
    json_t *ctx = json_object();
    const cq_bd_reply_t *r = &replies[CQ_BD_SRC_FOUNDATION];
    if (r->state == CQ_BD_REPLY_OK && json_is_object(r->data)) {
        static const char *const fields[] = {"vision", "purpose", "coreValues", "targetMarket",
                                             "valueProposition"};
        json_t *f = json_object();
        for (size_t i = 0; i < CQ_ARRAY_SIZE(fields); i++)
            cq_bd_llm_copy_field(f, r->data, fields[i]);
        json_object_set_new(ctx, "foundation", f);
    }
    r = &replies[CQ_BD_SRC_PEOPLE];
    if (r->state == CQ_BD_REPLY_OK && json_is_integer(json_object_get(r->data, "total")))
        json_object_set_new(ctx, "people",
                            json_pack("{s:O}", "headCount", json_object_get(r->data, "total")));
    r = &replies[CQ_BD_SRC_MEASURES];
    if (r->state == CQ_BD_REPLY_OK && json_is_object(r->data)) {
        json_t *m = json_object();
        cq_bd_llm_copy_field(m, r->data, "onTrack");
        cq_bd_llm_copy_field(m, r->data, "offTrack");
        json_object_set_new(ctx, "measures", m);
    }
    if (json_object_size(ctx) == 0) {
        json_decref(ctx);
        return NULL;
    }
    return ctx;
}

json_t *cq_bd_llm_input(const json_t *request, const json_t *business_data,
                        const cq_bd_reply_t *replies)
{
    json_t *in = json_object();
    static const char *const fields[] = {"page", "pageSize", "category", "priority"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(fields); i++)
        cq_bd_llm_copy_field(in, request, fields[i]);
    json_t *data = json_deep_copy(business_data);
    json_object_del(data, "cached");
    json_object_set_new(in, "businessData", data ? data : json_object());
    json_t *ctx = cq_bd_llm_context(replies);
    if (ctx)
        json_object_set_new(in, "context", ctx);
    return in;
}

json_t *cq_bd_llm_items(const json_t *answer, const char *tenant_id, int64_t now_ms)
{
    json_t *items = json_array();
    char at[40];
    cq_time_iso8601(now_ms, at, sizeof(at));
    /* Stable by rank: one pass per rank keeps the model's order within it. */
    for (int rank = 0; rank <= 4; rank++) {
        size_t i;
        const json_t *it;
        json_array_foreach(json_object_get(answer, "items"), i, it)
        {
            if (!json_is_object(it) || cq_bdcache_priority_rank(it) != rank)
                continue;
            const char *title = json_string_value(json_object_get(it, "title"));
            const char *category = json_string_value(json_object_get(it, "category"));
            char *rule = cq_asprintf("llm:%s:%s", category ? category : "", title ? title : "");
            char id[21];
            cq_bd_insights_id(tenant_id, rule, "month", now_ms, id);
            free(rule);
            bool seen = false;
            size_t k;
            json_t *prev;
            json_array_foreach(items, k, prev)
            {
                if (strcmp(json_string_value(json_object_get(prev, "id")), id) == 0)
                    seen = true;
            }
            if (seen)
                continue;
            json_t *copy = json_deep_copy(it);
            json_object_set_new(copy, "id", json_string(id));
            json_object_set_new(copy, "createdAt", json_string(at));
            json_object_set_new(copy, "status", json_string("active"));
            json_array_append_new(items, copy);
        }
    }
    return items;
}
