/*
 * test_cq_ops_schedule.c — the built-in scheduling-suggestions engine:
 * exact dates on small plans (working days, dependencies, capacity,
 * unavailability, critical path first, deadlines), refusals (cycle,
 * unknown and duplicate ids), determinism, and a property test on random
 * dependency graphs whose every answer is re-checked from the output alone
 * against the allocation rule the header documents and the contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cq_contract.h"
#include "cq_ops_input.h"
#include "cq_ops_schedule.h"
#include "cq_ops_schedule_int.h"

#define NOW_MS    1767225600000LL /* 2026-01-01T00:00:00Z, a Thursday */
#define DAY_MS    86400000LL
#define ITERATION 400

static cq_config_t *conf;
static cq_contract_t *contract;
static const cq_schema_t *result_schema;

/* ---- helpers ------------------------------------------------------------------- */

static json_t *parse(const char *text)
{
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json)
        fail_msg("bad test JSON: %s: %s", error.text, text);
    return json;
}

static void assert_contract(const json_t *result)
{
    cq_schema_errors_t errors;
    memset(&errors, 0, sizeof(errors));
    if (!cq_schema_validate(result_schema, result, &errors)) {
        char *text = json_dumps(result, JSON_INDENT(1));
        fprintf(stderr, "result breaks the contract at %s: %s\n%s\n",
                errors.count ? errors.items[0].path : "-",
                errors.count ? errors.items[0].message : "-", text);
        free(text);
        cq_schema_errors_clear(&errors);
        fail();
    }
}

/* Runs the engine on request text; expects success and a valid result. */
static json_t *schedule(const char *text, int64_t now_ms)
{
    json_t *req = parse(text);
    json_t *result = NULL;
    char err[512] = "";
    cq_err_t rc = cq_ops_schedule_compute(req, now_ms, &result, err, sizeof(err));
    if (rc != CQ_ERR_OK)
        fail_msg("schedule failed: %s", err);
    assert_contract(result);
    json_decref(req);
    return result;
}

static const json_t *item(const json_t *result, const char *id)
{
    for (size_t i = 0; i < json_array_size(result); i++) {
        const json_t *it = json_array_get(result, i);
        if (strcmp(json_string_value(json_object_get(it, "actionId")), id) == 0)
            return it;
    }
    fail_msg("no item %s", id);
    return NULL;
}

static const char *field(const json_t *result, const char *id, const char *name)
{
    return json_string_value(json_object_get(item(result, id), name));
}

/* Whether any string of the item's array `list` contains word. */
static bool mentions(const json_t *result, const char *id, const char *list, const char *word)
{
    const json_t *arr = json_object_get(item(result, id), list);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        const char *s = json_is_string(v) ? json_string_value(v)
                                          : json_string_value(json_object_get(v, "rationale"));
        if (s && strstr(s, word))
            return true;
    }
    return false;
}

/* ---- exact plans ------------------------------------------------------------------- */

static void test_ops_schedule_chain_on_working_days(void **state)
{
    json_t *r = schedule(
        "{\"actions\": ["
        " {\"id\": \"b\", \"title\": \"Ship\", \"estimatedDuration\": 8, \"dependencies\": [\"a\"],"
        "  \"assignedTo\": \"alice\", \"priority\": \"high\"},"
        " {\"id\": \"a\", \"title\": \"Build\", \"estimatedDuration\": 16, \"dependencies\": [],"
        "  \"assignedTo\": \"alice\", \"priority\": \"medium\"}],"
        " \"constraints\": {\"teamCapacity\": 80, \"criticalDeadlines\": [],"
        "  \"teamAvailability\": [{\"personId\": \"alice\", \"hoursPerWeek\": 40,"
        "   \"unavailableDates\": []}]}}",
        NOW_MS);
    assert_int_equal(json_array_size(r), 2);
    /* Dependencies first; 16 h at 8 h/day: Thursday and Friday; then Monday. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "actionId")), "a");
    assert_string_equal(field(r, "a", "suggestedStartDate"), "2026-01-01");
    assert_string_equal(field(r, "a", "suggestedDueDate"), "2026-01-02");
    assert_string_equal(field(r, "b", "suggestedStartDate"), "2026-01-05");
    assert_string_equal(field(r, "b", "suggestedDueDate"), "2026-01-05");
    assert_non_null(strstr(field(r, "b", "reasoning"), "waits for a"));
    assert_non_null(strstr(field(r, "b", "reasoning"), "alice works 8.0 h per day"));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(item(r, "b"), "dependencies"), 0)), "a");
    json_decref(r);
}

static void test_ops_schedule_weekend_start_moves_to_monday(void **state)
{
    /* 2026-01-03 is a Saturday. */
    json_t *r = schedule("{\"actions\": [{\"id\": \"a\", \"title\": \"Plan\", "
                         "\"estimatedDuration\": 4, \"dependencies\": [], \"priority\": \"low\"}],"
                         " \"constraints\": {\"teamCapacity\": 40, \"criticalDeadlines\": [],"
                         " \"teamAvailability\": []}}",
                         NOW_MS + 2 * DAY_MS + 3600000);
    assert_string_equal(field(r, "a", "suggestedStartDate"), "2026-01-05");
    assert_string_equal(field(r, "a", "suggestedDueDate"), "2026-01-05");
    assert_true(mentions(r, "a", "resourceConsiderations", "Unassigned"));
    json_decref(r);
}

static void test_ops_schedule_skips_unavailable_dates(void **state)
{
    json_t *r =
        schedule("{\"actions\": [{\"id\": \"a\", \"title\": \"Write\", \"estimatedDuration\": 24,"
                 " \"dependencies\": [], \"assignedTo\": \"bo\", \"priority\": \"medium\"}],"
                 " \"constraints\": {\"teamCapacity\": 100, \"criticalDeadlines\": [],"
                 " \"teamAvailability\": [{\"personId\": \"bo\", \"hoursPerWeek\": 40,"
                 "  \"unavailableDates\": [\"2026-01-01\", \"2026-01-05\"]}]}}",
                 NOW_MS);
    /* Thursday off, Friday works, weekend, Monday off, Tuesday, Wednesday. */
    assert_string_equal(field(r, "a", "suggestedStartDate"), "2026-01-02");
    assert_string_equal(field(r, "a", "suggestedDueDate"), "2026-01-07");
    assert_true(mentions(r, "a", "resourceConsiderations", "unavailable on 1 working day"));
    json_decref(r);
}

static void test_ops_schedule_team_capacity_levels_work(void **state)
{
    /* Two unassigned 8 h actions, 40 h/week = 8 h/day for the team: one a day. */
    json_t *r = schedule(
        "{\"actions\": ["
        " {\"id\": \"x\", \"title\": \"One\", \"estimatedDuration\": 8, \"dependencies\": [],"
        "  \"priority\": \"low\"},"
        " {\"id\": \"y\", \"title\": \"Two\", \"estimatedDuration\": 8, \"dependencies\": [],"
        "  \"priority\": \"critical\"}],"
        " \"constraints\": {\"teamCapacity\": 40, \"criticalDeadlines\": [],"
        " \"teamAvailability\": []}}",
        NOW_MS);
    /* Same path length: the higher priority goes first. */
    assert_string_equal(field(r, "y", "suggestedStartDate"), "2026-01-01");
    assert_string_equal(field(r, "x", "suggestedStartDate"), "2026-01-02");
    assert_non_null(strstr(field(r, "x", "reasoning"), "team's 8.0 h per day are taken"));
    /* Its capacity-free alternative is a day earlier, and says so. */
    const json_t *alt = json_array_get(json_object_get(item(r, "x"), "alternativeSchedules"), 0);
    assert_string_equal(json_string_value(json_object_get(alt, "startDate")), "2026-01-01");
    assert_non_null(
        strstr(json_string_value(json_object_get(alt, "rationale")), "ignoring capacity"));
    json_decref(r);
}

static void test_ops_schedule_critical_path_first(void **state)
{
    /* One person; the chain p1 -> p2 is longer than the lone q, so p1 goes first. */
    json_t *r = schedule(
        "{\"actions\": ["
        " {\"id\": \"q\", \"title\": \"Lone\", \"estimatedDuration\": 16, \"dependencies\": [],"
        "  \"assignedTo\": \"al\", \"priority\": \"critical\"},"
        " {\"id\": \"p1\", \"title\": \"First\", \"estimatedDuration\": 8, \"dependencies\": [],"
        "  \"assignedTo\": \"al\", \"priority\": \"low\"},"
        " {\"id\": \"p2\", \"title\": \"Second\", \"estimatedDuration\": 16,"
        "  \"dependencies\": [\"p1\"], \"priority\": \"low\"}],"
        " \"constraints\": {\"teamCapacity\": 200, \"criticalDeadlines\": [],"
        " \"teamAvailability\": [{\"personId\": \"al\", \"hoursPerWeek\": 40,"
        "  \"unavailableDates\": []}]}}",
        NOW_MS);
    assert_string_equal(json_string_value(json_object_get(json_array_get(r, 0), "actionId")), "p1");
    assert_string_equal(field(r, "p1", "suggestedStartDate"), "2026-01-01");
    assert_string_equal(field(r, "q", "suggestedStartDate"), "2026-01-02");
    assert_true(mentions(r, "p1", "risks", "critical path"));
    json_decref(r);
}

static void test_ops_schedule_flags_missed_deadline(void **state)
{
    json_t *r =
        schedule("{\"actions\": [{\"id\": \"launch\", \"title\": \"Launch the new website\","
                 " \"estimatedDuration\": 80, \"dependencies\": [], \"assignedTo\": \"al\","
                 " \"priority\": \"high\", \"currentStartDate\": \"2026-01-01\","
                 " \"currentDueDate\": \"2026-01-02\"}],"
                 " \"constraints\": {\"teamCapacity\": 40, \"criticalDeadlines\": [{\"date\":"
                 " \"2026-01-06\", \"description\": \"New website launch for the trade fair\"}],"
                 " \"teamAvailability\": [{\"personId\": \"al\", \"hoursPerWeek\": 40,"
                 "  \"unavailableDates\": []}]}}",
                 NOW_MS);
    /* 80 h at 8 h/day: ten working days, 2026-01-01 to 2026-01-14. */
    assert_string_equal(field(r, "launch", "suggestedDueDate"), "2026-01-14");
    assert_true(mentions(r, "launch", "risks", "Misses the critical deadline 2026-01-06"));
    assert_true(mentions(r, "launch", "risks", "after its current due date 2026-01-02"));
    assert_true(mentions(r, "launch", "alternativeSchedules", "Keep the current dates"));
    double c = json_number_value(json_object_get(item(r, "launch"), "confidence"));
    assert_true(c < 0.6);
    json_decref(r);
}

static void test_ops_schedule_deadline_met_is_said(void **state)
{
    json_t *r =
        schedule("{\"actions\": [{\"id\": \"job-7\", \"title\": \"Print the brochures\","
                 " \"estimatedDuration\": 8, \"dependencies\": [], \"priority\": \"high\"}],"
                 " \"constraints\": {\"teamCapacity\": 40, \"criticalDeadlines\": [{\"date\":"
                 " \"2026-01-09\", \"description\": \"job-7 must be done before the fair\"}],"
                 " \"teamAvailability\": []}}",
                 NOW_MS);
    assert_non_null(strstr(field(r, "job-7", "reasoning"), "meets the critical deadline"));
    assert_int_equal(json_array_size(json_object_get(item(r, "job-7"), "risks")), 0);
    json_decref(r);
}

static void test_ops_schedule_long_multibyte_texts_stay_valid(void **state)
{
    /* 100 actions with 100-character ids and 200-character titles of
     * multi-byte letters, each waiting for every earlier one: every text is
     * cut to the contract's lengths on a character boundary. */
    char ids[100][512], title[1024] = "", desc[2048] = "";
    for (int k = 0; k < 200; k++)
        strcat(title, "\xe6\x97\xa5"); /* U+65E5 */
    for (int k = 0; k < 500; k++)
        strcat(desc, "\xc3\xbc"); /* U+00FC */
    json_t *actions = json_array();
    for (int i = 0; i < 100; i++) {
        int len = snprintf(ids[i], sizeof(ids[i]), "%03d", i);
        for (int k = 3; k < 100; k++)
            len += snprintf(ids[i] + len, sizeof(ids[i]) - (size_t)len, "\xc3\xa9"); /* é */
        json_t *deps = json_array();
        for (int j = 0; j < i; j++)
            json_array_append_new(deps, json_string(ids[j]));
        json_t *a = json_pack("{s:s, s:s, s:f, s:o, s:s, s:s}", "id", ids[i], "title", title,
                              "estimatedDuration", 3.0, "dependencies", deps, "priority", "high",
                              "assignedTo", ids[i]);
        json_array_append_new(actions, a);
    }
    json_t *req = json_pack("{s:o, s:{s:f, s:[{s:s, s:s}], s:[]}}", "actions", actions,
                            "constraints", "teamCapacity", 40.0, "criticalDeadlines", "date",
                            "2026-01-02", "description", desc, "teamAvailability");
    json_t *result = NULL;
    char err[512];
    assert_int_equal(cq_ops_schedule_compute(req, NOW_MS, &result, err, sizeof(err)), CQ_ERR_OK);
    assert_int_equal(json_array_size(result), 100);
    assert_contract(result);
    json_decref(result);
    json_decref(req);
}

static void test_ops_schedule_text_cut_on_character_boundary(void **state)
{
    cq_ops_sched_text_t t;
    for (size_t max = 1; max < 12; max++) {
        cq_ops_sched_text_init(&t, max);
        cq_ops_sched_text_add(&t, "a");
        cq_ops_sched_text_add(&t, "%s", "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5");
        assert_true(t.len <= max);
        assert_int_equal(strlen(t.buf), t.len);
        assert_int_equal((t.len - 1) % 3, 0); /* "a" plus whole 3-byte characters */
        json_t *v = json_string(t.buf);       /* NULL for invalid UTF-8 */
        assert_non_null(v);
        json_decref(v);
    }
}

/* ---- refusals ------------------------------------------------------------------------ */

static cq_err_t run_err(const char *text, char *err, size_t err_size)
{
    json_t *req = parse(text);
    json_t *result = NULL;
    cq_err_t rc = cq_ops_schedule_compute(req, NOW_MS, &result, err, err_size);
    assert_null(result);
    json_decref(req);
    return rc;
}

#define CONSTRAINTS                                                                                \
    " \"constraints\": {\"teamCapacity\": 40, \"criticalDeadlines\": [], \"teamAvailability\": "   \
    "[]}}"

static void test_ops_schedule_cycle_names_its_ids(void **state)
{
    char err[512];
    cq_err_t rc = run_err(
        "{\"actions\": ["
        " {\"id\": \"free\", \"title\": \"F\", \"estimatedDuration\": 1, \"dependencies\": [],"
        "  \"priority\": \"low\"},"
        " {\"id\": \"a\", \"title\": \"A\", \"estimatedDuration\": 1, \"dependencies\": [\"c\"],"
        "  \"priority\": \"low\"},"
        " {\"id\": \"b\", \"title\": \"B\", \"estimatedDuration\": 1, \"dependencies\": [\"a\"],"
        "  \"priority\": \"low\"},"
        " {\"id\": \"c\", \"title\": \"C\", \"estimatedDuration\": 1, \"dependencies\": [\"b\","
        "  \"free\"], \"priority\": \"low\"}]," CONSTRAINTS,
        err, sizeof(err));
    assert_int_equal(rc, CQ_ERR_DEPENDENCY_CYCLE);
    assert_non_null(strstr(err, "\"a\""));
    assert_non_null(strstr(err, "\"b\""));
    assert_non_null(strstr(err, "\"c\""));
    assert_null(strstr(err, "free"));
    rc = run_err("{\"actions\": [{\"id\": \"self\", \"title\": \"S\", \"estimatedDuration\": 1,"
                 " \"dependencies\": [\"self\"], \"priority\": \"low\"}]," CONSTRAINTS,
                 err, sizeof(err));
    assert_int_equal(rc, CQ_ERR_DEPENDENCY_CYCLE);
    assert_non_null(strstr(err, "\"self\" -> \"self\""));
}

static void test_ops_schedule_unknown_and_duplicate_ids_refused(void **state)
{
    char err[512];
    cq_err_t rc =
        run_err("{\"actions\": [{\"id\": \"a\", \"title\": \"A\", \"estimatedDuration\":"
                " 1, \"dependencies\": [\"ghost-7\"], \"priority\": \"low\"}]," CONSTRAINTS,
                err, sizeof(err));
    assert_int_equal(rc, CQ_ERR_VALIDATION_ERROR);
    assert_non_null(strstr(err, "ghost-7"));
    rc = run_err(
        "{\"actions\": [{\"id\": \"a\", \"title\": \"A\", \"estimatedDuration\": 1,"
        " \"dependencies\": [], \"priority\": \"low\"}, {\"id\": \"a\", \"title\": \"B\","
        " \"estimatedDuration\": 1, \"dependencies\": [], \"priority\": \"low\"}]," CONSTRAINTS,
        err, sizeof(err));
    assert_int_equal(rc, CQ_ERR_VALIDATION_ERROR);
    assert_non_null(strstr(err, "\"a\" is used more than once"));
}

static void test_ops_schedule_beyond_horizon_refused(void **state)
{
    /* 100 actions of 10000 h on a 1 h/week team cannot fit in 20 years. */
    json_t *req = parse("{\"actions\": [], \"constraints\": {\"teamCapacity\": 1,"
                        " \"criticalDeadlines\": [], \"teamAvailability\": []}}");
    json_t *actions = json_object_get(req, "actions");
    json_array_append_new(actions, json_pack("{s:s, s:s, s:f, s:[], s:s}", "id", "big", "title",
                                             "Big", "estimatedDuration", 10000.0, "dependencies",
                                             "priority", "low"));
    json_t *result = NULL;
    char err[512];
    assert_int_equal(cq_ops_schedule_compute(req, NOW_MS, &result, err, sizeof(err)),
                     CQ_ERR_VALIDATION_ERROR);
    assert_non_null(strstr(err, "cannot"));
    json_decref(req);
}

/* ---- random plans ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int rnd_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

typedef struct {
    int64_t day0;
    int np;
    json_t *req;
} plan_t;

/* A random acyclic plan: action i may depend on earlier ones; ids shuffled. */
static plan_t random_plan(void)
{
    static const char *const prio[] = {"low", "medium", "high", "critical"};
    plan_t p;
    int n = rnd_int(1, 100), np = rnd_int(0, 6);
    int64_t now = NOW_MS + (int64_t)rnd_int(0, 365) * DAY_MS + rnd_int(0, 86399) * 1000LL;
    p.day0 = cq_ops_date_from_ms(now);
    p.np = np;
    int perm[100];
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = rnd_int(0, i), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    json_t *people = json_array();
    for (int i = 0; i < np; i++) {
        json_t *off = json_array();
        int noff = rnd_int(0, 12);
        for (int k = 0; k < noff; k++) {
            char d[CQ_OPS_DATE_SIZE];
            cq_ops_date_format(p.day0 + rnd_int(0, 80), d);
            bool dup = false;
            for (size_t x = 0; x < json_array_size(off); x++)
                dup |= strcmp(json_string_value(json_array_get(off, x)), d) == 0;
            if (!dup)
                json_array_append_new(off, json_string(d));
        }
        char id[16];
        snprintf(id, sizeof(id), "p%d", i);
        json_array_append_new(people, json_pack("{s:s, s:f, s:o}", "personId", id, "hoursPerWeek",
                                                (double)rnd_int(6, 60), "unavailableDates", off));
    }
    int deps_left = 300;
    json_t *actions = json_array();
    for (int i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d", perm[i]);
        json_t *deps = json_array();
        int nd = i == 0 ? 0 : rnd_int(0, i < 4 ? i : 4);
        for (int k = 0; k < nd && deps_left > 0; k++) {
            char dep[16];
            snprintf(dep, sizeof(dep), "t%d", perm[rnd_int(0, i - 1)]);
            bool dup = false;
            for (size_t x = 0; x < json_array_size(deps); x++)
                dup |= strcmp(json_string_value(json_array_get(deps, x)), dep) == 0;
            if (!dup) {
                json_array_append_new(deps, json_string(dep));
                deps_left--;
            }
        }
        double hours = rnd_int(1, 4) == 1 ? rnd_int(1, 40) / 4.0 : (double)rnd_int(1, 40);
        json_t *a =
            json_pack("{s:s, s:s, s:f, s:o, s:s}", "id", id, "title", "Task", "estimatedDuration",
                      hours, "dependencies", deps, "priority", prio[rnd_int(0, 3)]);
        int who = rnd_int(-2, np - 1);
        if (who >= 0) {
            char person[16];
            snprintf(person, sizeof(person), "p%d", who);
            json_object_set_new(a, "assignedTo", json_string(person));
        } else if (who == -2 && rnd_int(0, 3) == 0) {
            json_object_set_new(a, "assignedTo", json_string("nobody-known"));
        }
        json_array_append_new(actions, a);
    }
    p.req =
        json_pack("{s:o, s:{s:f, s:[], s:o}}", "actions", actions, "constraints", "teamCapacity",
                  (double)rnd_int(10, 300), "criticalDeadlines", "teamAvailability", people);
    return p;
}

static int64_t date_of(const json_t *it, const char *name)
{
    int64_t day;
    assert_true(cq_ops_date_parse(json_string_value(json_object_get(it, name)), &day));
    return day;
}

static const json_t *find_person(const json_t *people, const char *id)
{
    for (size_t i = 0; id && i < json_array_size(people); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(people, i), "personId")), id) ==
            0)
            return json_array_get(people, i);
    return NULL;
}

static bool person_off(const json_t *person, int64_t day)
{
    const json_t *off = json_object_get(person, "unavailableDates");
    for (size_t i = 0; i < json_array_size(off); i++) {
        int64_t d;
        if (cq_ops_date_parse(json_string_value(json_array_get(off, i)), &d) && d == day)
            return true;
    }
    return false;
}

#define HORIZON 7400 /* > CQ_OPS_SCHEDULE_HORIZON_DAYS */

/* Re-checks a result from the request and the output dates only. */
static void check_plan(const plan_t *p, const json_t *result)
{
    const json_t *actions = json_object_get(p->req, "actions");
    const json_t *cons = json_object_get(p->req, "constraints");
    const json_t *people = json_object_get(cons, "teamAvailability");
    double cap = json_number_value(json_object_get(cons, "teamCapacity"));
    size_t n = json_array_size(actions);
    assert_int_equal(json_array_size(result), n);
    int64_t day0 = p->day0;
    while (!cq_ops_date_is_workday(day0))
        day0++;

    static double team[HORIZON], person[7][HORIZON];
    static int used_by[7][HORIZON];
    memset(team, 0, sizeof(team));
    memset(person, 0, sizeof(person));
    memset(used_by, 0, sizeof(used_by));
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(actions, i);
        const char *id = json_string_value(json_object_get(a, "id"));
        /* Exactly once, and after each of its dependencies in the list. */
        size_t pos = n, count = 0;
        for (size_t r = 0; r < n; r++)
            if (strcmp(json_string_value(json_object_get(json_array_get(result, r), "actionId")),
                       id) == 0) {
                pos = r;
                count++;
            }
        assert_int_equal(count, 1);
        const json_t *it = json_array_get(result, pos);
        int64_t start = date_of(it, "suggestedStartDate"), due = date_of(it, "suggestedDueDate");
        assert_true(start >= day0 && start <= due);
        assert_true(cq_ops_date_is_workday(start) && cq_ops_date_is_workday(due));
        const json_t *deps = json_object_get(a, "dependencies");
        assert_int_equal(json_array_size(json_object_get(it, "dependencies")),
                         json_array_size(deps));
        for (size_t j = 0; j < json_array_size(deps); j++) {
            const json_t *d = item(result, json_string_value(json_array_get(deps, j)));
            assert_true(date_of(d, "suggestedDueDate") < start);
            for (size_t r = pos; r < n; r++)
                assert_ptr_not_equal(json_array_get(result, r), d);
        }
        /* The documented allocation: rate r on every workable day of the span. */
        const char *who = json_string_value(json_object_get(a, "assignedTo"));
        const json_t *pp = find_person(people, who);
        int pi = pp ? atoi(who + 1) : -1;
        double rate = pp ? fmin(json_number_value(json_object_get(pp, "hoursPerWeek")) / 5, cap / 5)
                         : fmin(8, cap / 5);
        double hours = json_number_value(json_object_get(a, "estimatedDuration"));
        int64_t k = (int64_t)ceil(hours / rate - 1e-9), worked = 0;
        assert_true(!pp || !person_off(pp, start));
        assert_true(!pp || !person_off(pp, due));
        assert_true(due - day0 < HORIZON);
        for (int64_t d = start; d <= due; d++) {
            if (!cq_ops_date_is_workday(d) || (pp && person_off(pp, d)))
                continue;
            double h = worked + 1 < k ? rate : hours - (double)(k - 1) * rate;
            worked++;
            team[d - day0] += h;
            if (pi >= 0) {
                person[pi][d - day0] += h;
                used_by[pi][d - day0]++;
                assert_int_equal(used_by[pi][d - day0], 1);
            }
        }
        assert_int_equal(worked, k);
    }
    /* Weekly limits, recomputed per calendar week (Monday to Sunday). */
    for (int64_t w = cq_ops_date_week_start(day0) - day0; w < HORIZON; w += 7) {
        double t = 0, per[7] = {0};
        for (int64_t d = w; d < w + 7; d++) {
            if (d < 0 || d >= HORIZON)
                continue;
            t += team[d];
            for (int i = 0; i < p->np; i++)
                per[i] += person[i][d];
        }
        assert_true(t <= cap + 1e-6);
        for (int i = 0; i < p->np; i++)
            assert_true(per[i] <= json_number_value(
                                      json_object_get(json_array_get(people, i), "hoursPerWeek")) +
                                      1e-6);
    }
}

static void test_ops_schedule_random_plans_hold_their_guarantees(void **state)
{
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int iter = 0; iter < ITERATION; iter++) {
        plan_t p = random_plan();
        json_t *result = NULL;
        char err[512] = "";
        int64_t now = p.day0 * DAY_MS + 43200000;
        cq_err_t rc = cq_ops_schedule_compute(p.req, now, &result, err, sizeof(err));
        if (rc != CQ_ERR_OK)
            fail_msg("iteration %d: %s", iter, err);
        assert_contract(result);
        check_plan(&p, result);
        /* Deterministic: the same request gives the same answer. */
        json_t *again = NULL;
        assert_int_equal(cq_ops_schedule_compute(p.req, now, &again, err, sizeof(err)), CQ_ERR_OK);
        assert_true(json_equal(result, again));
        json_decref(again);
        json_decref(result);
        json_decref(p.req);
    }
}

/* Parses the quoted ids of a cycle message and checks each waits for the next. */
static void assert_real_cycle(const json_t *actions, const char *err)
{
    char ids[128][16];
    size_t n = 0;
    for (const char *p = strchr(err, '"'); p && n < 128; p = strchr(p, '"')) {
        const char *e = strchr(p + 1, '"');
        assert_non_null(e);
        snprintf(ids[n++], sizeof(ids[0]), "%.*s", (int)(e - p - 1), p + 1);
        p = e + 1;
    }
    assert_true(n >= 2);
    assert_string_equal(ids[0], ids[n - 1]);
    for (size_t i = 0; i + 1 < n; i++) {
        bool found = false;
        for (size_t a = 0; a < json_array_size(actions) && !found; a++) {
            const json_t *act = json_array_get(actions, a);
            if (strcmp(json_string_value(json_object_get(act, "id")), ids[i]) != 0)
                continue;
            const json_t *deps = json_object_get(act, "dependencies");
            for (size_t j = 0; j < json_array_size(deps); j++)
                found |= strcmp(json_string_value(json_array_get(deps, j)), ids[i + 1]) == 0;
        }
        if (!found)
            fail_msg("\"%s\" does not wait for \"%s\": %s", ids[i], ids[i + 1], err);
    }
}

static void test_ops_schedule_random_cycles_and_unknown_ids_refused(void **state)
{
    rng_state = 0xD1B54A32D192ED03ULL;
    int cycles = 0;
    for (int iter = 0; iter < ITERATION; iter++) {
        plan_t p = random_plan();
        json_t *actions = json_object_get(p.req, "actions");
        size_t n = json_array_size(actions);
        json_t *result = NULL;
        char err[2048] = "";
        if (iter % 2 == 0) {
            /* Unknown id on a random action. */
            json_t *a = json_array_get(actions, (size_t)rnd_int(0, (int)n - 1));
            json_array_append_new(json_object_get(a, "dependencies"), json_string("missing-x9"));
            assert_int_equal(cq_ops_schedule_compute(p.req, NOW_MS, &result, err, sizeof(err)),
                             CQ_ERR_VALIDATION_ERROR);
            assert_non_null(strstr(err, "missing-x9"));
        } else {
            /* A back edge from an action to one that (transitively) waits for it,
             * found by following dependencies down from a random action. */
            size_t from = (size_t)rnd_int(0, (int)n - 1), cur = from;
            for (int step = rnd_int(0, 6); step >= 0; step--) {
                const json_t *deps = json_object_get(json_array_get(actions, cur), "dependencies");
                if (json_array_size(deps) == 0)
                    break;
                const char *next = json_string_value(
                    json_array_get(deps, (size_t)rnd_int(0, (int)json_array_size(deps) - 1)));
                for (size_t x = 0; x < n; x++)
                    if (strcmp(json_string_value(json_object_get(json_array_get(actions, x), "id")),
                               next) == 0)
                        cur = x;
            }
            json_t *deps = json_object_get(json_array_get(actions, cur), "dependencies");
            const char *from_id =
                json_string_value(json_object_get(json_array_get(actions, from), "id"));
            bool dup = false;
            for (size_t j = 0; j < json_array_size(deps); j++)
                dup |= strcmp(json_string_value(json_array_get(deps, j)), from_id) == 0;
            if (!dup)
                json_array_append_new(deps, json_string(from_id));
            assert_int_equal(cq_ops_schedule_compute(p.req, NOW_MS, &result, err, sizeof(err)),
                             CQ_ERR_DEPENDENCY_CYCLE);
            assert_real_cycle(actions, err);
            cycles++;
        }
        assert_null(result);
        json_decref(p.req);
    }
    assert_true(cycles > ITERATION / 3);
}

static int setup(void **state)
{
    char err[512];
    conf = cq_config_new();
    contract = cq_contract_new(conf, err, sizeof(err));
    if (!contract) {
        fprintf(stderr, "contract: %s\n", err);
        return -1;
    }
    const cq_operation_t *op = cq_contract_find(contract, "scheduling-suggestions");
    result_schema = op ? op->result : NULL;
    return result_schema ? 0 : -1;
}

static int teardown(void **state)
{
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_schedule_chain_on_working_days),
        cmocka_unit_test(test_ops_schedule_weekend_start_moves_to_monday),
        cmocka_unit_test(test_ops_schedule_skips_unavailable_dates),
        cmocka_unit_test(test_ops_schedule_team_capacity_levels_work),
        cmocka_unit_test(test_ops_schedule_critical_path_first),
        cmocka_unit_test(test_ops_schedule_flags_missed_deadline),
        cmocka_unit_test(test_ops_schedule_deadline_met_is_said),
        cmocka_unit_test(test_ops_schedule_long_multibyte_texts_stay_valid),
        cmocka_unit_test(test_ops_schedule_text_cut_on_character_boundary),
        cmocka_unit_test(test_ops_schedule_cycle_names_its_ids),
        cmocka_unit_test(test_ops_schedule_unknown_and_duplicate_ids_refused),
        cmocka_unit_test(test_ops_schedule_beyond_horizon_refused),
        cmocka_unit_test(test_ops_schedule_random_plans_hold_their_guarantees),
        cmocka_unit_test(test_ops_schedule_random_cycles_and_unknown_ids_refused),
    };
    return cmocka_run_group_tests_name("unit.cq_ops_schedule", tests, setup, teardown);
}
