/*
 * cq_limit.c — per-tenant limits (see cq_limit.h): policy lists from
 * config, the GCRA arithmetic, the RateLimit header texts, UTC days and
 * token estimates.
 *
 * GCRA (the generic cell rate algorithm) keeps one number per tenant, the
 * theoretical arrival time (TAT): when the bucket would be empty again if
 * nothing more came. A job costs one emission interval T = 60 s / rate; a
 * check passes while TAT - now, after adding the cost, stays within
 * burst x T. It needs no refill timer and no per-request history, so the
 * whole check is one read and one write of one key: one short Lua script.
 * Times are integer microseconds so that C and Lua (doubles, exact below
 * 2^53) compute the same numbers.
 *
 * Threads: a cq_limit_t is read-only after cq_limit_new; the rest is pure.
 */
#include "cq_limit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CQ_LIMIT_RATE_MAX   60000000LL /* jobs per minute: one per microsecond */
#define CQ_LIMIT_BURST_MAX  1000000LL
#define CQ_LIMIT_TOKENS_MAX 1000000000000000LL
#define CQ_LIMIT_DAY_MS     86400000LL

struct cq_limit_s {
    cq_limit_rate_t rate; /* the default */
    char **rate_tenants;
    cq_limit_rate_t *rates;
    size_t rate_count;
    int64_t budget; /* the default */
    char **budget_tenants;
    int64_t *budgets;
    size_t budget_count;
};

static bool cq_limit_parse_num(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
    char buf[24];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)buf[i]))
            return false;
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static void cq_limit_free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* Splits "name=value,..." and hands each trimmed value to parse, which
 * stores it at index i of values (elements of elem bytes). Names are
 * unique, non-empty and free of spaces, '=' and ','. */
typedef bool (*cq_limit_value_fn)(const char *value, size_t len, void *values, size_t i);

static cq_err_t cq_limit_parse_list(const char *list, const char *what, cq_limit_value_fn parse,
                                    size_t elem, void **values, char ***tenants, size_t *count,
                                    char *errstr, size_t errstr_size)
{
    *tenants = NULL;
    *values = NULL;
    *count = 0;
    if (!list)
        return CQ_ERR_OK;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        const char *name_end = eq ? eq : end;
        while (name_end > p && (name_end[-1] == ' ' || name_end[-1] == '\t'))
            name_end--;
        const char *v = eq ? eq + 1 : end, *v_end = end;
        while (v < v_end && (*v == ' ' || *v == '\t'))
            v++;
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
        int entry_len = (int)(end - p);
        if (entry_len == 0 && !*end)
            break; /* a trailing comma or an empty list */
        bool name_ok = eq && name_end > p;
        for (const char *c = p; name_ok && c < name_end; c++)
            if (*c == ' ' || *c == '\t')
                name_ok = false;
        if (!name_ok) {
            cq_errstr_set(errstr, errstr_size,
                          "entry \"%.*s\": expected tenant=%s (comma-separated)", entry_len, p,
                          what);
            goto err_free_lists;
        }
        for (size_t i = 0; i < *count; i++) {
            if (strlen((*tenants)[i]) == (size_t)(name_end - p) &&
                memcmp((*tenants)[i], p, (size_t)(name_end - p)) == 0) {
                cq_errstr_set(errstr, errstr_size, "tenant \"%.*s\" is listed twice",
                              (int)(name_end - p), p);
                goto err_free_lists;
            }
        }
        *tenants = cq_realloc(*tenants, (*count + 1) * sizeof(char *));
        *values = cq_realloc(*values, (*count + 1) * elem);
        (*tenants)[*count] = cq_strndup(p, (size_t)(name_end - p));
        (*count)++;
        if (!parse(v, (size_t)(v_end - v), *values, *count - 1)) {
            cq_errstr_set(errstr, errstr_size, "entry \"%.*s\": expected tenant=%s", entry_len, p,
                          what);
            goto err_free_lists;
        }
        p = *end ? end + 1 : end;
    }
    return CQ_ERR_OK;
err_free_lists:
    cq_limit_free_names(*tenants, *count);
    free(*values);
    *tenants = NULL;
    *values = NULL;
    *count = 0;
    return CQ_ERR_CONFIG;
}

static bool cq_limit_rate_value(const char *v, size_t len, void *values, size_t i)
{
    cq_limit_rate_t *rates = values;
    const char *slash = memchr(v, '/', len);
    if (!slash)
        return false;
    return cq_limit_parse_num(v, (size_t)(slash - v), 0, CQ_LIMIT_RATE_MAX, &rates[i].rate) &&
           cq_limit_parse_num(slash + 1, len - (size_t)(slash - v) - 1, 1, CQ_LIMIT_BURST_MAX,
                              &rates[i].burst);
}

static bool cq_limit_budget_value(const char *v, size_t len, void *values, size_t i)
{
    int64_t *budgets = values;
    return cq_limit_parse_num(v, len, 0, CQ_LIMIT_TOKENS_MAX, &budgets[i]);
}

cq_err_t cq_limit_parse_rates(const char *list, char ***tenants, cq_limit_rate_t **rates,
                              size_t *count, char *errstr, size_t errstr_size)
{
    void *values = NULL;
    cq_err_t rc =
        cq_limit_parse_list(list, "jobs-per-minute/burst", cq_limit_rate_value,
                            sizeof(cq_limit_rate_t), &values, tenants, count, errstr, errstr_size);
    *rates = values;
    return rc;
}

cq_err_t cq_limit_parse_budgets(const char *list, char ***tenants, int64_t **budgets, size_t *count,
                                char *errstr, size_t errstr_size)
{
    void *values = NULL;
    cq_err_t rc =
        cq_limit_parse_list(list, "tokens-per-day", cq_limit_budget_value, sizeof(int64_t), &values,
                            tenants, count, errstr, errstr_size);
    *budgets = values;
    return rc;
}

cq_limit_t *cq_limit_new(const cq_config_t *conf, char *errstr, size_t errstr_size)
{
    char err[256];
    cq_limit_t *limit = cq_calloc(1, sizeof(*limit));
    limit->rate.rate = conf->ratelimit_rate;
    limit->rate.burst = conf->ratelimit_burst;
    limit->budget = conf->llm_token_budget;
    if (cq_limit_parse_rates(conf->ratelimit_tenants, &limit->rate_tenants, &limit->rates,
                             &limit->rate_count, err, sizeof(err)) != CQ_ERR_OK) {
        cq_errstr_set(errstr, errstr_size, "ratelimit.tenants: %s", err);
        goto err_free_limit;
    }
    if (cq_limit_parse_budgets(conf->llm_token_budgets, &limit->budget_tenants, &limit->budgets,
                               &limit->budget_count, err, sizeof(err)) != CQ_ERR_OK) {
        cq_errstr_set(errstr, errstr_size, "llm.token_budgets: %s", err);
        goto err_free_limit;
    }
    return limit;
err_free_limit:
    cq_limit_destroy(limit);
    return NULL;
}

void cq_limit_destroy(cq_limit_t *limit)
{
    if (!limit)
        return;
    cq_limit_free_names(limit->rate_tenants, limit->rate_count);
    free(limit->rates);
    cq_limit_free_names(limit->budget_tenants, limit->budget_count);
    free(limit->budgets);
    free(limit);
}

cq_limit_rate_t cq_limit_rate_of(const cq_limit_t *limit, const char *tenant)
{
    for (size_t i = 0; tenant && i < limit->rate_count; i++)
        if (strcmp(limit->rate_tenants[i], tenant) == 0)
            return limit->rates[i];
    return limit->rate;
}

int64_t cq_limit_budget_of(const cq_limit_t *limit, const char *tenant)
{
    for (size_t i = 0; tenant && i < limit->budget_count; i++)
        if (strcmp(limit->budget_tenants[i], tenant) == 0)
            return limit->budgets[i];
    return limit->budget;
}

int64_t cq_limit_interval_us(cq_limit_rate_t rate)
{
    return rate.rate > 0 ? 60000000LL / rate.rate : 0;
}

void cq_limit_gcra(int64_t tat_us, int64_t now_us, cq_limit_rate_t rate, int64_t cost,
                   cq_limit_decision_t *out)
{
    memset(out, 0, sizeof(*out));
    out->tat_us = tat_us;
    if (rate.rate <= 0) {
        out->allowed = true;
        out->remaining = rate.burst;
        return;
    }
    int64_t t = cq_limit_interval_us(rate);
    int64_t limit = t * rate.burst;
    int64_t base = tat_us > now_us ? tat_us : now_us;
    int64_t next = base + cost * t;
    if (cost > rate.burst || next - now_us > limit) {
        out->remaining = limit > base - now_us ? (limit - (base - now_us)) / t : 0;
        out->reset_us = base - now_us;
        /* Too large for the bucket: even a full one will not hold it. */
        out->retry_after_us = cost > rate.burst ? base - now_us : next - now_us - limit;
        return;
    }
    out->allowed = true;
    out->remaining = limit > next - now_us ? (limit - (next - now_us)) / t : 0;
    out->reset_us = next - now_us;
    out->tat_us = next;
}

static int64_t cq_limit_ceil_s(int64_t us)
{
    return us <= 0 ? 0 : (us + 999999) / 1000000;
}

void cq_limit_policy_header(cq_limit_rate_t rate, char *out, size_t out_size)
{
    snprintf(out, out_size, "\"tenant\";q=%lld;w=%lld", (long long)rate.burst,
             (long long)cq_limit_ceil_s(cq_limit_interval_us(rate) * rate.burst));
}

void cq_limit_state_header(const cq_limit_decision_t *d, char *out, size_t out_size)
{
    snprintf(out, out_size, "\"tenant\";r=%lld;t=%lld", (long long)d->remaining,
             (long long)cq_limit_ceil_s(d->reset_us));
}

int64_t cq_limit_retry_after_s(const cq_limit_decision_t *d)
{
    int64_t s = cq_limit_ceil_s(d->retry_after_us);
    return s < 1 ? 1 : s;
}

void cq_limit_day(int64_t now_ms, char out[9])
{
    time_t secs = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (strftime(out, 9, "%Y%m%d", &tm) == 0)
        cq_strlcpy(out, "00000000", 9); /* a year past 9999: a broken clock */
}

int64_t cq_limit_day_left_ms(int64_t now_ms)
{
    return CQ_LIMIT_DAY_MS - now_ms % CQ_LIMIT_DAY_MS;
}

int64_t cq_limit_estimate_tokens(size_t bytes)
{
    return (int64_t)((bytes + 3) / 4);
}
