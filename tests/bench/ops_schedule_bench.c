/*
 * ops_schedule_bench — CPU time of the built-in scheduling-suggestions
 * engine on the reference plan: 100 actions, 300 dependencies,
 * 5 people (with unavailable dates), shared team capacity.
 *
 *   ops_schedule_bench [RUNS]     (default 2000)
 *
 * Times cq_ops_schedule_compute plus freeing its result, per job, with
 * CLOCK_PROCESS_CPUTIME_ID over RUNS runs (the request is parsed once, as
 * the worker hands the engine a parsed request). Prints the mean and the
 * per-run minimum. A benchmark, not a test: not run by ctest.
 *
 * Bench programs link libcoachq only, so the engine's sources are
 * compiled into this program directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../workers/operations/cq_ops_input.c"
#include "../../workers/operations/cq_ops_schedule.c"
#include "../../workers/operations/cq_ops_schedule_answer.c"

#define BENCH_NOW_MS 1767225600000LL /* 2026-01-01 */

static uint64_t bench_rng = 0x2545F4914F6CDD1DULL;

static int bench_rand(int lo, int hi)
{
    bench_rng ^= bench_rng << 13;
    bench_rng ^= bench_rng >> 7;
    bench_rng ^= bench_rng << 17;
    return lo + (int)(bench_rng % (uint64_t)(hi - lo + 1));
}

/* The reference plan: a DAG where action i depends on earlier actions. */
static json_t *bench_request(void)
{
    json_t *people = json_array();
    for (int p = 0; p < 5; p++) {
        json_t *off = json_array();
        for (int k = 0; k < 4; k++) {
            char d[CQ_OPS_DATE_SIZE];
            cq_ops_date_format(BENCH_NOW_MS / 86400000 + 7 * k + p, d);
            json_array_append_new(off, json_string(d));
        }
        char id[16];
        snprintf(id, sizeof(id), "person-%d", p);
        json_array_append_new(people, json_pack("{s:s, s:f, s:o}", "personId", id, "hoursPerWeek",
                                                30.0 + 2 * p, "unavailableDates", off));
    }
    /* 300 distinct edges spread over the actions. */
    static bool edge[100][100];
    memset(edge, 0, sizeof(edge));
    for (int made = 0; made < 300;) {
        int to = bench_rand(1, 99), from = bench_rand(0, to - 1);
        if (!edge[to][from]) {
            edge[to][from] = true;
            made++;
        }
    }
    static const char *const prio[] = {"low", "medium", "high", "critical"};
    json_t *actions = json_array();
    for (int i = 0; i < 100; i++) {
        char id[16], who[16], title[48];
        snprintf(id, sizeof(id), "action-%03d", i);
        snprintf(who, sizeof(who), "person-%d", bench_rand(0, 4));
        snprintf(title, sizeof(title), "Work package %d", i);
        json_t *deps = json_array();
        for (int j = 0; j < i; j++)
            if (edge[i][j]) {
                char dep[16];
                snprintf(dep, sizeof(dep), "action-%03d", j);
                json_array_append_new(deps, json_string(dep));
            }
        json_array_append_new(
            actions, json_pack("{s:s, s:s, s:f, s:o, s:s, s:s}", "id", id, "title", title,
                               "estimatedDuration", (double)bench_rand(4, 40), "dependencies", deps,
                               "assignedTo", who, "priority", prio[bench_rand(0, 3)]));
    }
    return json_pack("{s:o, s:{s:f, s:[{s:s, s:s}], s:o}}", "actions", actions, "constraints",
                     "teamCapacity", 150.0, "criticalDeadlines", "date", "2026-03-02",
                     "description", "Work package 99 delivered", "teamAvailability", people);
}

static double bench_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    long runs = argc > 1 ? atol(argv[1]) : 2000;
    if (runs < 1)
        runs = 1;
    json_t *req = bench_request();
    json_t *result = NULL;
    char err[512];
    /* Warm-up: vocabulary, lexicon and allocator. */
    if (cq_ops_schedule_compute(req, BENCH_NOW_MS, &result, err, sizeof(err)) != CQ_ERR_OK) {
        fprintf(stderr, "schedule failed: %s\n", err);
        return 1;
    }
    const char *last = json_string_value(
        json_object_get(json_array_get(result, json_array_size(result) - 1), "suggestedDueDate"));
    printf("plan: 100 actions, 300 dependencies, 5 people; ends %s\n", last);
    json_decref(result);

    double total = 0, best = 1e9;
    for (long i = 0; i < runs; i++) {
        double t0 = bench_cpu_ms();
        cq_ops_schedule_compute(req, BENCH_NOW_MS, &result, err, sizeof(err));
        json_decref(result);
        double dt = bench_cpu_ms() - t0;
        total += dt;
        if (dt < best)
            best = dt;
    }
    printf("cpu per job: mean %.3f ms, min %.3f ms over %ld runs\n", total / (double)runs, best,
           runs);
    json_decref(req);
    return 0;
}
