/*
 * cq_bd_insights.c — the built-in insights engine of insights-generate.
 *
 * Rules are data (workers/business_data/data/insights.json): a metric of
 * the business data, a comparison, levels of severity and the texts and
 * suggested actions of the insight. This file knows only the metrics:
 *
 *   revenue.changePercent    the result's changePercent
 *   customers.netChange      new - churned
 *   customers.churnRate      100 * churned / start, start = total - new +
 *                            churned (customers at the start of the
 *                            period); undefined when start is 0
 *   customers.retentionRate  the result's retentionRate
 *   operations.openIssues    the result's openIssues
 *   operations.actionsPerGoal completedActions / activeGoals; undefined
 *                            with no active goal
 *   team.utilization, team.satisfaction   the result's figures (0-100)
 *
 * A metric whose section is absent (an unavailable upstream) or that is
 * undefined never fires a rule: no insight is made from data we do not
 * have. Everything is checked when the rules are compiled, so generation
 * cannot fail and cannot produce an item the contract would refuse.
 *
 * Ids are a 64-bit FNV-1a hash of tenant, rule and period: not a secret,
 * only stable (the store scopes insights by tenant anyway), so the same
 * finding regenerated in the same month keeps its id and is not
 * duplicated.
 *
 * Compiled rules are read-only: generation is reentrant, any thread.
 */
#include "cq_bd_insights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cq_embedded.h"

#define CQ_BD_LEVELS_MAX  4
#define CQ_BD_ACTIONS_MAX 5
#define CQ_BD_TITLE_MAX   200
#define CQ_BD_DESC_MAX    2000
#define CQ_BD_NUMBER_MAX  24 /* bytes of a formatted placeholder value */

typedef bool(cq_bd_metric_fn)(const json_t *data, double *out);

typedef enum { CQ_BD_OP_LT, CQ_BD_OP_LE, CQ_BD_OP_GT, CQ_BD_OP_GE } cq_bd_op_t;

typedef struct {
    double at;
    int rank; /* index in cq_bd_priorities */
} cq_bd_level_t;

typedef struct {
    const char *id; /* strings borrowed from the rules document */
    cq_bd_metric_fn *metric;
    cq_bd_op_t op;
    cq_bd_level_t levels[CQ_BD_LEVELS_MAX];
    size_t nlevels;
    const char *category, *title, *description;
    const json_t *actions;
} cq_bd_rule_t;

struct cq_bd_insights_s {
    json_t *doc; /* our reference: the rules borrow its strings */
    cq_bd_rule_t *rules;
    size_t nrules;
    const char *period;
};

static const char *const cq_bd_priorities[] = {"low", "medium", "high", "critical"};
static const char *const cq_bd_categories[] = {"strategy",  "operations", "finance",
                                               "marketing", "leadership", "technology"};
static const char *const cq_bd_levels[] = {"low", "medium", "high"};
static const char *const cq_bd_ops[] = {"lt", "le", "gt", "ge"};

/* ---- metrics ------------------------------------------------------------ */

static bool cq_bd_field(const json_t *data, const char *section, const char *name, double *out)
{
    const json_t *v = json_object_get(json_object_get(data, section), name);
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static bool cq_bd_m_revenue_change(const json_t *data, double *out)
{
    return cq_bd_field(data, "revenue", "changePercent", out);
}

static bool cq_bd_m_net_change(const json_t *data, double *out)
{
    double added, churned;
    if (!cq_bd_field(data, "customers", "new", &added) ||
        !cq_bd_field(data, "customers", "churned", &churned))
        return false;
    *out = added - churned;
    return true;
}

static bool cq_bd_m_churn_rate(const json_t *data, double *out)
{
    double total, added, churned;
    if (!cq_bd_field(data, "customers", "total", &total) ||
        !cq_bd_field(data, "customers", "new", &added) ||
        !cq_bd_field(data, "customers", "churned", &churned))
        return false;
    double start = total - added + churned;
    if (!(start > 0))
        return false;
    *out = round(10000.0 * churned / start) / 100.0;
    return true;
}

static bool cq_bd_m_retention(const json_t *data, double *out)
{
    return cq_bd_field(data, "customers", "retentionRate", out);
}

static bool cq_bd_m_open_issues(const json_t *data, double *out)
{
    return cq_bd_field(data, "operations", "openIssues", out);
}

static bool cq_bd_m_actions_per_goal(const json_t *data, double *out)
{
    double goals, done;
    if (!cq_bd_field(data, "operations", "activeGoals", &goals) ||
        !cq_bd_field(data, "operations", "completedActions", &done) || !(goals > 0))
        return false;
    *out = round(100.0 * done / goals) / 100.0;
    return true;
}

static bool cq_bd_m_utilization(const json_t *data, double *out)
{
    return cq_bd_field(data, "team", "utilization", out);
}

static bool cq_bd_m_satisfaction(const json_t *data, double *out)
{
    return cq_bd_field(data, "team", "satisfaction", out);
}

static const struct {
    const char *name;
    cq_bd_metric_fn *fn;
} cq_bd_metrics[] = {
    {"revenue.changePercent", cq_bd_m_revenue_change},
    {"customers.netChange", cq_bd_m_net_change},
    {"customers.churnRate", cq_bd_m_churn_rate},
    {"customers.retentionRate", cq_bd_m_retention},
    {"operations.openIssues", cq_bd_m_open_issues},
    {"operations.actionsPerGoal", cq_bd_m_actions_per_goal},
    {"team.utilization", cq_bd_m_utilization},
    {"team.satisfaction", cq_bd_m_satisfaction},
};

/* ---- compiling the rules ------------------------------------------------ */

static int cq_bd_index(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

/* Whether a text template is non-empty, uses only known placeholders and
 * stays within max bytes (hence code points) once they are filled in. */
static bool cq_bd_template_ok(const char *t, size_t max)
{
    static const char *const names[] = {"{value}", "{abs}", "{threshold}"};
    if (!t || !*t)
        return false;
    size_t len = 0;
    for (const char *p = t; *p;) {
        if (*p == '{') {
            size_t i;
            for (i = 0; i < CQ_ARRAY_SIZE(names); i++)
                if (strncmp(p, names[i], strlen(names[i])) == 0)
                    break;
            if (i == CQ_ARRAY_SIZE(names))
                return false;
            p += strlen(names[i]);
            len += CQ_BD_NUMBER_MAX;
        } else {
            p++;
            len++;
        }
    }
    return len <= max;
}

static bool cq_bd_text_ok(const json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    return s && *s && strlen(s) <= max;
}

static bool cq_bd_actions_ok(const json_t *actions)
{
    if (!json_is_array(actions) || json_array_size(actions) > CQ_BD_ACTIONS_MAX)
        return false;
    size_t i;
    const json_t *a;
    json_array_foreach(actions, i, a)
    {
        if (json_object_size(a) != 4 || !cq_bd_text_ok(json_object_get(a, "title"), 200) ||
            !cq_bd_text_ok(json_object_get(a, "description"), 2000) ||
            cq_bd_index(json_string_value(json_object_get(a, "effort")), cq_bd_levels, 3) < 0 ||
            cq_bd_index(json_string_value(json_object_get(a, "impact")), cq_bd_levels, 3) < 0)
            return false;
    }
    return true;
}

static bool cq_bd_rule_compile(const json_t *r, cq_bd_rule_t *rule, char *errstr,
                               size_t errstr_size)
{
    rule->id = json_string_value(json_object_get(r, "id"));
    if (!rule->id || !*rule->id) {
        cq_errstr_set(errstr, errstr_size, "a rule has no id");
        return false;
    }
    const char *metric = json_string_value(json_object_get(r, "metric"));
    for (size_t i = 0; metric && i < CQ_ARRAY_SIZE(cq_bd_metrics); i++)
        if (strcmp(metric, cq_bd_metrics[i].name) == 0)
            rule->metric = cq_bd_metrics[i].fn;
    int op = cq_bd_index(json_string_value(json_object_get(r, "op")), cq_bd_ops, 4);
    const json_t *levels = json_object_get(r, "levels");
    rule->category = json_string_value(json_object_get(r, "category"));
    rule->title = json_string_value(json_object_get(r, "title"));
    rule->description = json_string_value(json_object_get(r, "description"));
    rule->actions = json_object_get(r, "actions");
    const char *bad = !rule->metric ? "unknown metric"
                      : op < 0      ? "op is not lt, le, gt or ge"
                      : !json_is_array(levels) || json_array_size(levels) == 0 ||
                              json_array_size(levels) > CQ_BD_LEVELS_MAX
                          ? "levels must be 1 to 4 {at, priority}"
                      : cq_bd_index(rule->category, cq_bd_categories, 6) < 0 ? "unknown category"
                      : !cq_bd_template_ok(rule->title, CQ_BD_TITLE_MAX)
                          ? "title is empty, too long or has an unknown placeholder"
                      : !cq_bd_template_ok(rule->description, CQ_BD_DESC_MAX)
                          ? "description is empty, too long or has an unknown placeholder"
                      : !cq_bd_actions_ok(rule->actions)
                          ? "actions must be at most 5 {title, description, effort, impact}"
                          : NULL;
    if (bad) {
        cq_errstr_set(errstr, errstr_size, "rule %s: %s", rule->id, bad);
        return false;
    }
    rule->op = (cq_bd_op_t)op;
    rule->nlevels = json_array_size(levels);
    for (size_t i = 0; i < rule->nlevels; i++) {
        const json_t *l = json_array_get(levels, i);
        const json_t *at = json_object_get(l, "at");
        int rank =
            cq_bd_index(json_string_value(json_object_get(l, "priority")), cq_bd_priorities, 4);
        if (!json_is_number(at) || rank < 0) {
            cq_errstr_set(errstr, errstr_size,
                          "rule %s: level %zu needs a number at and a priority", rule->id, i);
            return false;
        }
        rule->levels[i].at = json_number_value(at);
        rule->levels[i].rank = rank;
        bool below = rule->op == CQ_BD_OP_LT || rule->op == CQ_BD_OP_LE;
        if (i > 0 && (below ? rule->levels[i].at >= rule->levels[i - 1].at
                            : rule->levels[i].at <= rule->levels[i - 1].at)) {
            cq_errstr_set(errstr, errstr_size, "rule %s: level %zu is not more severe than %zu",
                          rule->id, i, i - 1);
            return false;
        }
    }
    return true;
}

cq_bd_insights_t *cq_bd_insights_new(const json_t *rules, char *errstr, size_t errstr_size)
{
    const json_t *list = json_object_get(rules, "rules");
    const char *period = json_string_value(json_object_get(rules, "period"));
    if (!json_is_array(list)) {
        cq_errstr_set(errstr, errstr_size, "rules: not an array");
        return NULL;
    }
    if (!period || (strcmp(period, "month") != 0 && strcmp(period, "day") != 0)) {
        cq_errstr_set(errstr, errstr_size, "period must be month or day");
        return NULL;
    }
    cq_bd_insights_t *insights = cq_calloc(1, sizeof(*insights));
    insights->doc = json_incref((json_t *)rules);
    insights->period = period;
    insights->nrules = json_array_size(list);
    insights->rules = cq_calloc(insights->nrules ? insights->nrules : 1, sizeof(cq_bd_rule_t));
    for (size_t i = 0; i < insights->nrules; i++) {
        if (!cq_bd_rule_compile(json_array_get(list, i), &insights->rules[i], errstr, errstr_size))
            goto fail_destroy;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(insights->rules[j].id, insights->rules[i].id) == 0) {
                cq_errstr_set(errstr, errstr_size, "rule %s: id used twice", insights->rules[i].id);
                goto fail_destroy;
            }
        }
    }
    return insights;

fail_destroy:
    cq_bd_insights_destroy(insights);
    return NULL;
}

cq_bd_insights_t *cq_bd_insights_new_builtin(char *errstr, size_t errstr_size)
{
    size_t len = 0;
    const char *text = cq_embedded_get(CQ_BD_INSIGHTS_DATA, &len);
    if (!text) {
        cq_errstr_set(errstr, errstr_size, "%s is not built in", CQ_BD_INSIGHTS_DATA);
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        cq_errstr_set(errstr, errstr_size, "%s:%d: %s", CQ_BD_INSIGHTS_DATA, jerr.line, jerr.text);
        return NULL;
    }
    char err[256];
    cq_bd_insights_t *insights = cq_bd_insights_new(doc, err, sizeof(err));
    if (!insights)
        cq_errstr_set(errstr, errstr_size, "%s: %s", CQ_BD_INSIGHTS_DATA, err);
    json_decref(doc);
    return insights;
}

void cq_bd_insights_destroy(cq_bd_insights_t *insights)
{
    if (!insights)
        return;
    free(insights->rules);
    json_decref(insights->doc);
    free(insights);
}

/* ---- generating --------------------------------------------------------- */

void cq_bd_insights_id(const char *tenant_id, const char *rule, const char *period, int64_t now_ms,
                       char out[21])
{
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[48];
    if (strcmp(period, "day") == 0)
        snprintf(when, sizeof(when), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday);
    else
        snprintf(when, sizeof(when), "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
    const char *parts[] = {tenant_id ? tenant_id : "", rule, when};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(parts); i++) {
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * 0x100000001b3ULL;
        h = (h ^ 0x1f) * 0x100000001b3ULL; /* unit separator: "ab"+"c" != "a"+"bc" */
    }
    snprintf(out, 21, "ins-%016llx", (unsigned long long)h);
}

static void cq_bd_number(double x, char *buf, size_t size)
{
    if (x == 0)
        x = 0; /* no "-0" */
    snprintf(buf, size, "%.2f", x);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
}

static char *cq_bd_render(const char *t, double value, double threshold)
{
    char v[CQ_BD_NUMBER_MAX], a[CQ_BD_NUMBER_MAX], th[CQ_BD_NUMBER_MAX];
    cq_bd_number(value, v, sizeof(v));
    cq_bd_number(fabs(value), a, sizeof(a));
    cq_bd_number(threshold, th, sizeof(th));
    const struct {
        const char *name, *text;
    } subs[] = {{"{value}", v}, {"{abs}", a}, {"{threshold}", th}};
    size_t cap = strlen(t) + 1, len = 0;
    for (const char *p = t; *p; p++)
        if (*p == '{')
            cap += CQ_BD_NUMBER_MAX;
    char *out = cq_malloc(cap);
    for (const char *p = t; *p;) {
        size_t i;
        for (i = 0; *p == '{' && i < CQ_ARRAY_SIZE(subs); i++)
            if (strncmp(p, subs[i].name, strlen(subs[i].name)) == 0)
                break;
        if (*p == '{' && i < CQ_ARRAY_SIZE(subs)) {
            memcpy(out + len, subs[i].text, strlen(subs[i].text));
            len += strlen(subs[i].text);
            p += strlen(subs[i].name);
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

static bool cq_bd_passes(cq_bd_op_t op, double x, double at)
{
    switch (op) {
    case CQ_BD_OP_LT:
        return x < at;
    case CQ_BD_OP_LE:
        return x <= at;
    case CQ_BD_OP_GT:
        return x > at;
    default:
        return x >= at;
    }
}

typedef struct {
    json_t *item;
    int rank;
    size_t order;
} cq_bd_found_t;

static int cq_bd_found_cmp(const void *a, const void *b)
{
    const cq_bd_found_t *x = a, *y = b;
    if (x->rank != y->rank)
        return y->rank - x->rank;
    return x->order < y->order ? -1 : x->order > y->order;
}

json_t *cq_bd_insights_generate(const cq_bd_insights_t *insights, const char *tenant_id,
                                const json_t *business_data, int64_t now_ms)
{
    cq_bd_found_t *found = cq_calloc(insights->nrules ? insights->nrules : 1, sizeof(*found));
    size_t n = 0;
    char at[40];
    cq_time_iso8601(now_ms, at, sizeof(at));
    for (size_t i = 0; i < insights->nrules; i++) {
        const cq_bd_rule_t *rule = &insights->rules[i];
        double x;
        if (!rule->metric(business_data, &x) || !isfinite(x) ||
            !cq_bd_passes(rule->op, x, rule->levels[0].at))
            continue;
        int rank = rule->levels[0].rank;
        for (size_t l = 1; l < rule->nlevels; l++)
            if (cq_bd_passes(rule->op, x, rule->levels[l].at))
                rank = rule->levels[l].rank;
        char id[21];
        cq_bd_insights_id(tenant_id, rule->id, insights->period, now_ms, id);
        char *title = cq_bd_render(rule->title, x, rule->levels[0].at);
        char *description = cq_bd_render(rule->description, x, rule->levels[0].at);
        found[n].item = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s}", "id", id, "title", title, "description",
            description, "category", rule->category, "priority", cq_bd_priorities[rank], "status",
            "active", "suggestedActions", json_deep_copy(rule->actions), "createdAt", at);
        found[n].rank = rank;
        found[n].order = i;
        n++;
        free(title);
        free(description);
    }
    qsort(found, n, sizeof(*found), cq_bd_found_cmp);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, found[i].item);
    free(found);
    return items;
}

json_t *cq_bd_insights_page(const json_t *items, const json_t *request)
{
    const json_t *p = json_object_get(request, "page");
    const json_t *ps = json_object_get(request, "pageSize");
    json_int_t page = json_is_number(p) ? (json_int_t)json_number_value(p) : 1;
    json_int_t page_size = json_is_number(ps) ? (json_int_t)json_number_value(ps) : 20;
    if (page < 1)
        page = 1;
    if (page_size < 1 || page_size > 100)
        page_size = 20;
    const char *category = json_string_value(json_object_get(request, "category"));
    const char *priority = json_string_value(json_object_get(request, "priority"));
    json_t *out = json_array();
    json_int_t total = 0, first = (page - 1) * page_size;
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *c = json_string_value(json_object_get(item, "category"));
        const char *pr = json_string_value(json_object_get(item, "priority"));
        if ((category && (!c || strcmp(c, category) != 0)) ||
            (priority && (!pr || strcmp(pr, priority) != 0)))
            continue;
        if (total >= first && total < first + page_size)
            json_array_append(out, (json_t *)item);
        total++;
    }
    return json_pack("{s:o, s:{s:I, s:I, s:I, s:I}}", "items", out, "pagination", "page", page,
                     "pageSize", page_size, "total", total, "totalPages",
                     (total + page_size - 1) / page_size);
}
