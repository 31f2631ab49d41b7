/*
 * cq_ops_input.c — dates and free-form impact/effort/status values for the
 * operations engines.
 *
 * Dates are day numbers (days since 1970-01-01, proleptic Gregorian), so
 * arithmetic on them is plain integer arithmetic; conversion uses the
 * era-based civil calendar formulas (400-year eras of 146097 days).
 *
 * Words are looked up in the embedded vocabulary after normalisation
 * (lower case, '-'/'_' as spaces, single spaces). Numbers are read on a
 * 1-10 scale unless the text states its scale ("4/5", "4 of 5", "80%").
 * Durations are a number followed by a unit of the vocabulary.
 *
 * Threads: the vocabulary is parsed once under pthread_once and never
 * changed afterwards; everything else is stack-only. If the embedded file
 * were missing or broken (a build defect), words are simply not understood.
 */
#include "cq_ops_input.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_embedded.h"
#include "cq_utf8.h"

#define CQ_OPS_VOCAB_FILE "workers/operations/data/ops_input_vocab.json"
#define CQ_OPS_WORD_MAX   64

static pthread_once_t cq_ops_vocab_once = PTHREAD_ONCE_INIT;
static json_t *cq_ops_vocab;

static void cq_ops_vocab_load(void)
{
    size_t len = 0;
    const char *text = cq_embedded_get(CQ_OPS_VOCAB_FILE, &len);
    if (text)
        cq_ops_vocab = json_loadb(text, len, 0, NULL);
}

static const json_t *cq_ops_vocab_get(const char *section)
{
    pthread_once(&cq_ops_vocab_once, cq_ops_vocab_load);
    return json_object_get(cq_ops_vocab, section);
}

/* ---- dates ---------------------------------------------------------------- */

static int64_t cq_ops_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The number n decimal digits at text spell (the caller checked they are digits). */
static int64_t cq_ops_digits(const char *text, int n)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (text[i] - '0');
    return v;
}

static bool cq_ops_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool cq_ops_date_parse(const char *text, int64_t *day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)text[i]))
            return false;
    int64_t y = cq_ops_digits(text, 4), m = cq_ops_digits(text + 5, 2),
            d = cq_ops_digits(text + 8, 2);
    if (m < 1 || m > 12 || d < 1)
        return false;
    int64_t max = mdays[m - 1] + (m == 2 && cq_ops_leap(y));
    if (d > max)
        return false;
    *day = cq_ops_days_from_civil(y, m, d);
    return true;
}

void cq_ops_date_format(int64_t day, char out[CQ_OPS_DATE_SIZE])
{
    int64_t z = day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* outside what the contract's dates can say */
    snprintf(out, CQ_OPS_DATE_SIZE, "%04d-%02d-%02d", (int)y, (int)m, (int)d);
}

int64_t cq_ops_date_from_ms(int64_t epoch_ms)
{
    int64_t day = epoch_ms / 86400000;
    if (epoch_ms % 86400000 < 0)
        day--;
    return day;
}

int cq_ops_date_weekday(int64_t day)
{
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    int64_t w = (day + 3) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

bool cq_ops_date_is_workday(int64_t day)
{
    return cq_ops_date_weekday(day) < 5;
}

int64_t cq_ops_date_week_start(int64_t day)
{
    return day - cq_ops_date_weekday(day);
}

/* ---- words ---------------------------------------------------------------- */

size_t cq_ops_text_fit(const char *text, size_t max)
{
    size_t len = 0;
    while (len < max && text[len]) {
        size_t n = cq_utf8_seq_len((unsigned char)text[len]);
        if (n == 0)
            n = 1;
        if (len + n > max)
            break;
        len += n;
    }
    return len;
}

void cq_ops_input_normalise(const char *text, char *out, size_t out_size)
{
    size_t n = 0;
    bool space = false;
    if (out_size == 0)
        return;
    for (const char *p = text ? text : ""; *p && n + 1 < out_size; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '-' || c == '_' || isspace(c)) {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < out_size)
            out[n++] = ' ';
        space = false;
        out[n++] = (char)tolower(c);
    }
    out[n] = '\0';
}

static const json_t *cq_ops_vocab_word(const char *section, const char *text)
{
    char word[CQ_OPS_WORD_MAX];
    if (!text || strlen(text) >= sizeof(word))
        return NULL;
    cq_ops_input_normalise(text, word, sizeof(word));
    return json_object_get(cq_ops_vocab_get(section), word);
}

cq_ops_status_t cq_ops_input_status(const json_t *value)
{
    static const char *const names[] = {"open",    "active", "blocked",
                                        "on_hold", "done",   "cancelled"};
    const char *s = json_string_value(cq_ops_vocab_word("status", json_string_value(value)));
    for (size_t i = 0; s && i < CQ_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0)
            return (cq_ops_status_t)(CQ_OPS_STATUS_OPEN + i);
    return CQ_OPS_STATUS_UNKNOWN;
}

const char *cq_ops_status_name(cq_ops_status_t status)
{
    switch (status) {
    case CQ_OPS_STATUS_OPEN:
        return "open";
    case CQ_OPS_STATUS_ACTIVE:
        return "in progress";
    case CQ_OPS_STATUS_BLOCKED:
        return "blocked";
    case CQ_OPS_STATUS_ON_HOLD:
        return "on hold";
    case CQ_OPS_STATUS_DONE:
        return "done";
    case CQ_OPS_STATUS_CANCELLED:
        return "cancelled";
    case CQ_OPS_STATUS_UNKNOWN:
        break;
    }
    return "unknown";
}

/* Reads "<number>[ ]<rest>" with rest pointing after the spaces that
 * follow; false when text does not start with a finite number. */
static bool cq_ops_number_prefix(const char *text, double *num, const char **rest)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!isdigit((unsigned char)*text) && !(*text == '.' && isdigit((unsigned char)text[1])))
        return false;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || !isfinite(v))
        return false;
    while (isspace((unsigned char)*end))
        end++;
    *num = v;
    *rest = end;
    return true;
}

/* A 1-10 value from a number with an optional stated scale. */
static bool cq_ops_scaled_number(const char *text, double *out)
{
    double v, scale;
    const char *rest;
    if (!cq_ops_number_prefix(text, &v, &rest))
        return false;
    if (*rest == '\0') {
        scale = 10;
    } else if (*rest == '%' && rest[1] == '\0') {
        scale = 100;
    } else {
        if (*rest == '/')
            rest++;
        else if (strncmp(rest, "of", 2) == 0 || strncmp(rest, "out of", 6) == 0)
            rest += rest[0] == 'o' && rest[1] == 'u' ? 6 : 2;
        else
            return false;
        const char *end;
        if (!cq_ops_number_prefix(rest, &scale, &end) || *end != '\0' || scale <= 0)
            return false;
    }
    if (v < 0 || v > scale)
        return false;
    v = v * 10 / scale;
    *out = v < 1 ? 1 : v;
    return true;
}

bool cq_ops_input_duration_hours(const char *text, double *hours)
{
    double v;
    const char *rest;
    if (!text || !cq_ops_number_prefix(text, &v, &rest) || *rest == '\0')
        return false;
    const json_t *unit = cq_ops_vocab_word("durationUnits", rest);
    if (!json_is_number(unit) || v <= 0)
        return false;
    *hours = v * json_number_value(unit);
    return true;
}

static double cq_ops_effort_from_hours(double hours)
{
    const json_t *bounds = cq_ops_vocab_get("effortHours");
    for (size_t i = 0; i < json_array_size(bounds); i++) {
        const json_t *pair = json_array_get(bounds, i);
        if (hours <= json_number_value(json_array_get(pair, 0)))
            return json_number_value(json_array_get(pair, 1));
    }
    return 10;
}

static bool cq_ops_scale_value(const char *section, const json_t *value, double *out)
{
    if (json_is_number(value)) {
        double v = json_number_value(value);
        if (!isfinite(v) || v < 0 || v > 10)
            return false;
        *out = v < 1 ? 1 : v;
        return true;
    }
    const char *s = json_string_value(value);
    if (!s)
        return false;
    const json_t *word = cq_ops_vocab_word(section, s);
    if (json_is_number(word)) {
        *out = json_number_value(word);
        return true;
    }
    return cq_ops_scaled_number(s, out);
}

bool cq_ops_input_impact(const json_t *value, double *out)
{
    return cq_ops_scale_value("impact", value, out);
}

bool cq_ops_input_effort(const json_t *value, double *out, double *hours)
{
    double h;
    if (hours)
        *hours = -1;
    if (cq_ops_scale_value("effort", value, out))
        return true;
    if (!cq_ops_input_duration_hours(json_string_value(value), &h))
        return false;
    if (hours)
        *hours = h;
    *out = cq_ops_effort_from_hours(h);
    return true;
}
