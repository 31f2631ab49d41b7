/*
 * cq_worker.c — the worker loop (see cq_worker.h).
 *
 * One thread does everything: it polls the consumer, runs jobs, serves the
 * producer's delivery reports and commits. A job stays "in flight" from the
 * moment its message arrives until every record it produces (result, and a
 * dead letter when it failed) is acknowledged by the broker; only then may
 * its offset be committed (cq_offsets). A crash at any point therefore
 * redelivers the job; the Redis claim makes the rerun harmless (a terminal
 * job is not run again, its stored result is published again unless the
 * job was marked published after an acknowledgement: cq_marks.h).
 *
 * Back-pressure: at worker.max_in_flight the loop pauses its partitions and
 * keeps polling, so the group never sees it as dead.
 * Retries: retriable failures wait out a jittered exponential backoff in a
 * timer list without blocking the partition's other jobs.
 */
#include "cq_worker_int.h"
#include "cq_log.h"
#include "cq_prompt.h"

#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Longest time one loop iteration spends taking new jobs. */
#define CQ_WORKER_CONSUME_SLICE_US 5000
/* Most offloaded completions one loop iteration handles. */
#define CQ_WORKER_DRAIN_SLICE 32

static volatile sig_atomic_t cq_worker_stop;

static void cq_worker_on_signal(int sig)
{
    cq_worker_stop = sig;
}

int cq_worker_reply_topic_known(cq_worker_t *w, const char *topic)
{
    json_t *known = json_object_get(w->reply_topics, topic);
    if (known && cq_mono_ms() - json_integer_value(json_object_get(known, "at")) < 60000)
        return json_is_true(json_object_get(known, "ok")) ? 1 : 0;
    return -1;
}

void cq_worker_reply_topic_learn(cq_worker_t *w, const char *topic, bool ok)
{
    if (json_object_size(w->reply_topics) > 1000)
        json_object_clear(w->reply_topics); /* a bound against names made up per job */
    json_object_set_new(w->reply_topics, topic,
                        json_pack("{s:b, s:I}", "ok", ok, "at", (json_int_t)cq_mono_ms()));
}

static int64_t cq_worker_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CPU time of the calling thread, microseconds. */
static int64_t cq_worker_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void cq_worker_max(atomic_uint_fast64_t *max_us, int64_t us)
{
    uint64_t max = atomic_load(max_us);
    while ((uint64_t)us > max && !atomic_compare_exchange_weak(max_us, &max, (uint64_t)us))
        ;
}

/* One loop iteration took `us` outside its waits. */
static void cq_worker_stall(cq_worker_t *w, int64_t us)
{
    static const int64_t bounds_ms[] = CQ_WORKER_STALL_BUCKETS;
    size_t i = 0;
    while (i < CQ_ARRAY_SIZE(bounds_ms) && us > bounds_ms[i] * 1000)
        i++;
    atomic_fetch_add(&w->stats.stall_count[i], 1);
    atomic_fetch_add(&w->stats.stall_sum_us, (uint64_t)us);
    cq_worker_max(&w->stats.stall_max_us, us);
}

void cq_worker_commit(cq_worker_t *w, const char *topic, int32_t partition, int64_t next,
                      bool async)
{
    if (cq_kafka_consumer_commit(w->consumer, topic, partition, next, async) == CQ_ERR_OK)
        CQ_LOG(CQ_LOG_DEBUG, "worker", NULL, "committed %s[%d]@%lld", topic, partition,
               (long long)next);
}

static void cq_worker_rebalanced(void *opaque, bool assigned, const char *topic,
                                 const int32_t *partitions, size_t count)
{
    cq_worker_t *w = opaque;
    if (assigned) {
        if (w->paused)
            cq_kafka_consumer_pause(w->consumer, true);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        int64_t next = cq_offsets_forget(w->offsets, topic, partitions[i]);
        if (next >= 0)
            cq_worker_commit(w, topic, partitions[i], next, false);
    }
}

/* The histograms (jobs, LLM calls, upstream calls), the consumer lag and
 * the engines' own counters, as Prometheus text (new string). */
static char *cq_worker_metrics_more(cq_worker_t *w)
{
    char first[96], *text = NULL;
    size_t len = 0;
    snprintf(first, sizeof(first), "kind=\"%s\"", w->kind->kind);
    FILE *out = open_memstream(&text, &len);
    cq_histo_write(w->job_seconds, first, out);
    if (w->llm)
        cq_llm_metrics_write(w->llm, first, out);
    if (w->fetch)
        cq_fetch_metrics_write(w->fetch, first, out);
    fprintf(out, "# HELP coachq_worker_consumer_lag Jobs waiting in a partition this worker "
                 "consumes: the high watermark minus the group's committed offset (librdkafka "
                 "statistics, every kafka.statistics.interval.ms).\n"
                 "# TYPE coachq_worker_consumer_lag gauge\n");
    cq_kafka_lag_t lag[64];
    pthread_mutex_lock(&w->consumer_lock);
    size_t n = w->consumer ? cq_kafka_consumer_lag(w->consumer, lag, CQ_ARRAY_SIZE(lag)) : 0;
    pthread_mutex_unlock(&w->consumer_lock);
    for (size_t i = 0; i < n; i++) {
        char topic[160];
        cq_histo_label_value(lag[i].topic, topic, sizeof(topic));
        fprintf(out, "coachq_worker_consumer_lag{%s,topic=\"%s\",partition=\"%d\"} %lld\n", first,
                topic, lag[i].partition, (long long)lag[i].lag);
    }
    char *engines = w->env.metrics ? cq_metrics_render(w->env.metrics, w->kind->kind) : NULL;
    if (engines)
        fputs(engines, out);
    free(engines);
    fclose(out);
    return text;
}

/* /metrics and /health of a worker; runs on the metrics server's threads
 * and reads only atomics, and the engines' counters under their own lock. */
static void cq_worker_http(void *opaque, const cq_http_req_t *req, cq_http_resp_t *resp)
{
    cq_worker_t *w = opaque;
    if (strcmp(req->path, "/health") == 0) {
        /* A producer that failed for good publishes nothing until the
         * process restarts: the liveness probe says so. */
        bool failed = cq_kafka_producer_failed(w->producer, NULL, 0);
        cq_http_resp_json(
            resp, failed ? 503 : 200,
            json_pack("{s:s, s:s}", "status", failed ? "failed" : "ok", "kind", w->kind->kind));
        return;
    }
    if (strcmp(req->path, "/metrics") != 0) {
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, NULL, NULL);
        return;
    }
    const cq_worker_stats_t *st = &w->stats;
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } rows[] = {
        {"jobs_succeeded_total", "counter", "Jobs that ended succeeded.",
         atomic_load(&st->jobs_succeeded)},
        {"jobs_failed_total", "counter", "Jobs that ended failed.", atomic_load(&st->jobs_failed)},
        {"jobs_cancelled_total", "counter", "Jobs found cancelled when they ended.",
         atomic_load(&st->jobs_cancelled)},
        {"job_retries_total", "counter", "Job steps retried after a backoff.",
         atomic_load(&st->job_retries)},
        {"dead_letters_total", "counter", "Messages sent to the dead-letter topic.",
         atomic_load(&st->dead_letters)},
        {"jobs_in_flight", "gauge", "Jobs consumed and not yet committed.",
         atomic_load(&st->in_flight)},
        {"llm_calls_total", "counter", "HTTP calls to the LLM provider.",
         atomic_load(&st->llm_calls)},
        {"llm_failed_jobs_total", "counter", "Jobs whose LLM calls failed for good.",
         atomic_load(&st->llm_failures)},
        {"llm_fallbacks_total", "counter", "Jobs answered by the builtin engine as a fallback.",
         atomic_load(&st->llm_fallbacks)},
        {"llm_prompt_tokens_total", "counter", "Prompt tokens the provider reported.",
         atomic_load(&st->prompt_tokens)},
        {"llm_completion_tokens_total", "counter", "Completion tokens the provider reported.",
         atomic_load(&st->completion_tokens)},
        {"llm_calls_in_flight", "gauge", "LLM calls started and not finished.",
         atomic_load(&st->llm_in_flight)},
        {"llm_calls_in_flight_peak", "gauge", "Most LLM calls in flight at once.",
         atomic_load(&st->llm_peak_in_flight)},
        {"llm_circuit_state", "gauge", "LLM circuit: 0 closed, 1 half open, 2 open.",
         (uint64_t)atomic_load(&st->circuit)},
        {"token_budget_exceeded_total", "counter",
         "Jobs whose tenant was past its daily LLM token budget (builtin answer or "
         "TOKEN_BUDGET_EXCEEDED).",
         atomic_load(&st->budget_exceeded)},
        {"token_budget_errors_total", "counter",
         "Token budget reads or charges Redis did not answer (the job went on).",
         atomic_load(&st->budget_errors)},
        {"tokens_charged_total", "counter",
         "LLM tokens charged to tenants' daily budgets (estimates included).",
         atomic_load(&st->tokens_charged)},
        {"results_republished_total", "counter",
         "Result records of redelivered terminal jobs published again (no published mark).",
         atomic_load(&st->republished)},
        {"results_republish_skipped_total", "counter",
         "Redelivered terminal jobs whose result was not published again (published mark).",
         atomic_load(&st->republish_skipped)},
        {"published_marks_total", "counter",
         "Jobs marked published in the store after their result record was acknowledged.",
         cq_marks_written(w->marks)},
        {"published_marks_failed_total", "counter",
         "Published marks Redis did not take (those jobs are published again if redelivered).",
         cq_marks_failed(w->marks)},
    };
    char text[16384];
    size_t n = 0;
    for (size_t i = 0; i < CQ_ARRAY_SIZE(rows) && n < sizeof(text); i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "# HELP coachq_worker_%s %s\n# TYPE coachq_worker_%s %s\n"
                              "coachq_worker_%s{kind=\"%s\"} %llu\n",
                              rows[i].name, rows[i].help, rows[i].name, rows[i].type, rows[i].name,
                              w->kind->kind, (unsigned long long)rows[i].value);
    static const int64_t bounds_ms[] = CQ_WORKER_STALL_BUCKETS;
    uint64_t cumulative = 0;
    if (n < sizeof(text))
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "# HELP coachq_worker_loop_stall_seconds Time of one worker loop "
                              "iteration outside its waits: how long an event can wait to be "
                              "served.\n# TYPE coachq_worker_loop_stall_seconds histogram\n");
    for (size_t i = 0; i <= CQ_ARRAY_SIZE(bounds_ms) && n < sizeof(text); i++) {
        cumulative += atomic_load(&st->stall_count[i]);
        char le[32];
        if (i < CQ_ARRAY_SIZE(bounds_ms))
            snprintf(le, sizeof(le), "%g", (double)bounds_ms[i] / 1000.0);
        else
            snprintf(le, sizeof(le), "+Inf");
        n += (size_t)snprintf(text + n, sizeof(text) - n,
                              "coachq_worker_loop_stall_seconds_bucket{kind=\"%s\",le=\"%s\"} "
                              "%llu\n",
                              w->kind->kind, le, (unsigned long long)cumulative);
    }
    if (n < sizeof(text))
        n += (size_t)snprintf(
            text + n, sizeof(text) - n,
            "coachq_worker_loop_stall_seconds_sum{kind=\"%s\"} %.6f\n"
            "coachq_worker_loop_stall_seconds_count{kind=\"%s\"} %llu\n"
            "# HELP coachq_worker_loop_stall_max_seconds Longest loop stall since start.\n"
            "# TYPE coachq_worker_loop_stall_max_seconds gauge\n"
            "coachq_worker_loop_stall_max_seconds{kind=\"%s\"} %.6f\n"
            "# HELP coachq_worker_loop_stall_cpu_max_seconds Longest loop iteration in the loop "
            "thread's CPU time: the worker's own share of a stall (the rest waited for a CPU).\n"
            "# TYPE coachq_worker_loop_stall_cpu_max_seconds gauge\n"
            "coachq_worker_loop_stall_cpu_max_seconds{kind=\"%s\"} %.6f\n",
            w->kind->kind, (double)atomic_load(&st->stall_sum_us) / 1e6, w->kind->kind,
            (unsigned long long)cumulative, w->kind->kind,
            (double)atomic_load(&st->stall_max_us) / 1e6, w->kind->kind,
            (double)atomic_load(&st->stall_cpu_max_us) / 1e6);
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    char *engines = cq_worker_metrics_more(w);
    size_t elen = engines ? strlen(engines) : 0;
    char *all = cq_malloc(n + elen + 1);
    memcpy(all, text, n);
    if (engines)
        memcpy(all + n, engines, elen);
    all[n + elen] = '\0';
    cq_http_resp_body(resp, 200, "text/plain; version=0.0.4", all, n + elen);
    free(all);
    free(engines);
}

static void cq_worker_destroy(cq_worker_t *w)
{
    cq_http_server_destroy(w->metrics);
    w->metrics = NULL;
    cq_metrics_destroy(w->env.metrics);
    w->env.metrics = NULL;
    /* Calls still queued never run; their jobs were not committed and will
     * be redelivered. Before the jobs are freed: they own the items. */
    cq_offload_destroy(w->offload);
    w->offload = NULL;
    cq_marks_destroy(w->marks); /* after the offload: a batch in flight is never done */
    w->marks = NULL;
    /* The producer first: flushing it delivers reports that commit through
     * the consumer, which must still be there. */
    cq_kafka_producer_destroy(w->producer, 10000);
    w->producer = NULL;
    cq_kafka_consumer_destroy(w->consumer);
    /* Whatever is left was never committed and will be redelivered. The
     * jobs first: an engine's state may cancel its calls on the fetch. */
    while (w->live)
        cq_job_free(w->live);
    cq_llm_destroy(w->llm); /* cancels its calls in the fetch */
    cq_fetch_destroy(w->fetch);
    w->retries = NULL;
    cq_worker_plan_free(w->ops, w->op_count);
    cq_offsets_destroy(w->offsets);
    cq_histo_destroy(w->job_seconds);
    json_decref(w->reply_topics);
    cq_store_destroy(w->store);
    cq_limit_destroy(w->limits);
    cq_avro_destroy(w->avro);
    cq_contract_destroy(w->contract);
    free(w->topic);
}

/* Joins the kind's consumer group with a new consumer and a new record of
 * offsets (at start, and after a fence: cq_worker_rejoin). */
static bool cq_worker_join(cq_worker_t *w, char *err, size_t err_size)
{
    char e[512];
    char *group = cq_asprintf("%s%s", w->conf->worker_group_prefix, w->kind->kind);
    const char *topics[] = {w->topic};
    cq_kafka_consumer_t *consumer =
        cq_kafka_consumer_new_member(w->conf, group, w->conf->worker_instance_id, topics, 1,
                                     cq_worker_rebalanced, w, e, sizeof(e));
    if (!consumer) {
        free(group);
        cq_errstr_set(err, err_size, "kafka consumer: %s", e);
        return false;
    }
    const char *member = cq_kafka_consumer_instance_id(consumer);
    CQ_LOG(CQ_LOG_INFO, "worker", NULL, "member of group %s as %s", group,
           *member ? member : "a dynamic member (no group.instance.id)");
    free(group);
    w->offsets = cq_offsets_new();
    pthread_mutex_lock(&w->consumer_lock);
    w->consumer = consumer;
    pthread_mutex_unlock(&w->consumer_lock);
    return true;
}

/* After the loop stopped on a consumer that stopped for good. librdkafka
 * 2.0.2 was seen to lose its static member id when the broker restarted,
 * heartbeat without it and be fenced by the broker for its own
 * group.instance.id: a consumer it will never take back. The jobs in
 * flight have been drained; a new consumer joins with the same instance id
 * (the broker maps the id to it) and the loop goes on, without depending
 * on a supervisor. Not when jobs are left (they hold the old offsets), nor
 * more than CQ_WORKER_REJOINS times a minute (a duplicate
 * worker.instance_id): then false, and the worker exits 1. */
static bool cq_worker_rejoin(cq_worker_t *w, char *err, size_t err_size)
{
    if (w->live || cq_offsets_in_flight(w->offsets) > 0) {
        cq_errstr_set(err, err_size, "%zu jobs are still in flight",
                      cq_offsets_in_flight(w->offsets));
        return false;
    }
    int64_t now = cq_mono_ms();
    int64_t oldest = w->rejoined_at[w->rejoins % CQ_WORKER_REJOINS];
    if (w->rejoins >= CQ_WORKER_REJOINS && now - oldest < CQ_WORKER_REJOIN_WINDOW_MS) {
        cq_errstr_set(err, err_size,
                      "fenced %d times in %d s: does another worker use worker.instance_id %s?",
                      CQ_WORKER_REJOINS + 1, CQ_WORKER_REJOIN_WINDOW_MS / 1000,
                      cq_kafka_consumer_instance_id(w->consumer));
        return false;
    }
    w->rejoined_at[w->rejoins++ % CQ_WORKER_REJOINS] = now;
    /* The consumer first: closing it revokes, which reads the offsets. */
    pthread_mutex_lock(&w->consumer_lock);
    cq_kafka_consumer_t *old = w->consumer;
    w->consumer = NULL;
    pthread_mutex_unlock(&w->consumer_lock);
    cq_kafka_consumer_destroy(old);
    cq_offsets_destroy(w->offsets);
    w->offsets = NULL;
    w->paused = false;
    w->cap_since = 0;
    if (!cq_worker_join(w, err, err_size))
        return false;
    w->consumer_lost = false;
    return true;
}

static bool cq_worker_setup(cq_worker_t *w, char *err, size_t err_size)
{
    char e[512];
    if (!(w->contract = cq_contract_new(w->conf, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "contract: %s", e);
        return false;
    }
    if (!cq_worker_plan(w->kind, w->contract, &w->ops, &w->op_count, err, err_size))
        return false;
    if (!(w->avro = cq_avro_new(cq_contract_document(w->contract), e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "avro: %s", e);
        return false;
    }
    if (!(w->fetch = cq_fetch_new(w->conf, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "fetch: %s", e);
        return false;
    }
    if (!(w->llm = cq_llm_new(w->conf, w->fetch, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "llm: %s", e);
        return false;
    }
    if (cq_llm_is_builtin(w->llm)) {
        CQ_LOG(CQ_LOG_INFO, "worker", NULL,
               "no LLM provider configured: every job uses the builtin engine");
    } else {
        for (size_t i = 0; i < w->op_count; i++) {
            cq_worker_opdef_t *op = &w->ops[i];
            if (!op->system)
                continue; /* answered by its engine alone */
            op->schema = cq_schema_strict_copy(cq_contract_document(w->contract),
                                               op->cop->result_pointer, e, sizeof(e));
            if (!op->schema) {
                cq_errstr_set(err, err_size, "%s result schema: %s", op->cop->name, e);
                return false;
            }
        }
        CQ_LOG(CQ_LOG_INFO, "worker", NULL, "LLM provider %s, model %s", cq_llm_provider(w->llm),
               w->conf->llm_model);
    }
    if (!(w->store = cq_store_new(w->conf, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "redis: %s", e);
        return false;
    }
    if (!(w->limits = cq_limit_new(w->conf, err, err_size)))
        return false;
    w->topic = cq_asprintf("%s%s", w->conf->topics_jobs_prefix, w->kind->kind);
    if (w->conf->topics_create) {
        const char *topics[] = {w->topic, w->conf->topics_results, w->conf->topics_dlq};
        if (cq_kafka_create_topics(w->conf, topics, CQ_ARRAY_SIZE(topics),
                                   (int)w->conf->topics_partitions, e, sizeof(e)) != CQ_ERR_OK)
            CQ_LOG(CQ_LOG_WARN, "worker", NULL, "creating topics: %s", e);
    }
    if (!(w->producer = cq_kafka_producer_new(w->conf, false, e, sizeof(e)))) {
        cq_errstr_set(err, err_size, "kafka producer: %s", e);
        return false;
    }
    /* A restarted worker gets its partitions back at once (static group
     * membership); knowing where the result topics live by then spares its
     * first results librdkafka's 1 s wait before it looks up a new topic. */
    cq_kafka_topic_exists(w->producer, w->conf->topics_results, 5000);
    cq_kafka_topic_exists(w->producer, w->conf->topics_dlq, 5000);
    if (!cq_worker_join(w, err, err_size))
        return false;
    /* Two threads: a slow call (a broker metadata request, a Redis that
     * hangs up to its timeout) does not hold up every other job's. */
    w->offload = cq_offload_new(2, w->store);
    w->marks = cq_marks_new(w->store, w->offload);
    w->reply_topics = json_object();
    w->env.metrics = cq_metrics_new();
    static const double job_bounds[] = CQ_HISTO_BOUNDS_JOB;
    w->job_seconds = cq_histo_new(
        "coachq_worker_job_duration_seconds",
        "Time from a job's submission (the envelope's createdAt, the gateway's clock) to its "
        "terminal state, by operation, engine (builtin, llm, fallback, none) and status.",
        job_bounds, CQ_ARRAY_SIZE(job_bounds), 512, NULL);
    if (*w->conf->worker_metrics_listen) {
        cq_http_options_t http = {
            .listen = w->conf->worker_metrics_listen, .threads = 2, .queue = 16, .max_body = 1024};
        if (!(w->metrics = cq_http_server_new(&http, cq_worker_http, w, e, sizeof(e)))) {
            cq_errstr_set(err, err_size, "metrics: %s", e);
            return false;
        }
    }
    w->env.conf = w->conf;
    w->env.store = w->store;
    w->env.offload = w->offload;
    w->env.fetch = w->fetch;
    w->seed = (unsigned int)cq_now_ms() ^ (unsigned int)getpid();
    return true;
}

static void cq_worker_commit_each(void *opaque, const char *topic, int32_t partition, int64_t next)
{
    cq_worker_commit(opaque, topic, partition, next, false);
}

static void cq_worker_circuit_work(cq_offload_item_t *item)
{
    cq_worker_t *w = item->arg;
    char key[96], value[96];
    snprintf(key, sizeof(key), "llm-circuit:%s", w->kind->kind);
    snprintf(value, sizeof(value), "{\"circuit\":\"%s\",\"fallback\":%s}", w->circuit_sending,
             w->conf->llm_fallback_builtin ? "true" : "false");
    w->circuit_stored = cq_store_cache_set(w->store, key, value, 30000) == CQ_ERR_OK;
}

static void cq_worker_circuit_done(cq_offload_item_t *item)
{
    cq_worker_t *w = item->arg;
    w->circuit_io_busy = false;
    if (!w->circuit_stored)
        return; /* tried again on the next loop */
    if (w->circuit_sending != w->circuit_published && w->circuit_published)
        CQ_LOG(CQ_LOG_WARN, "worker", NULL, "LLM circuit %s", w->circuit_sending);
    w->circuit_published = w->circuit_sending;
    w->circuit_published_ms = cq_mono_ms();
}

/* Tells the gateways' readiness checks how this kind's LLM circuit is: on
 * every change and every 5 s (the entry expires after 30 s of silence). */
static void cq_worker_publish_circuit(cq_worker_t *w)
{
    if (cq_llm_is_builtin(w->llm) || w->circuit_io_busy)
        return;
    const char *state = cq_llm_circuit_state(w->llm);
    atomic_store(&w->stats.circuit, strcmp(state, "open") == 0        ? 2
                                    : strcmp(state, "half_open") == 0 ? 1
                                                                      : 0);
    if (state == w->circuit_published && cq_mono_ms() - w->circuit_published_ms < 5000)
        return;
    w->circuit_sending = state;
    w->circuit_io_busy = true;
    w->circuit_io = (cq_offload_item_t){
        .work = cq_worker_circuit_work, .done = cq_worker_circuit_done, .arg = w};
    cq_offload_submit(w->offload, &w->circuit_io);
}

static void cq_worker_loop(cq_worker_t *w)
{
    size_t cap = (size_t)w->conf->worker_max_in_flight;
    int64_t cpu_at = cq_worker_cpu_us();
    /* The Redis calls each stage submits wake the helper threads once, at
     * the stage's end (cq_offload_kick), not once per call. */
    cq_offload_hold(w->offload);
    while (!cq_worker_stop && !w->consumer_lost) {
        int64_t began = cq_worker_now_us(), waited = 0;
        /* Completions in slices too: when thousands end together (each
         * publishes a record) the loop serves its other events between. */
        bool more = cq_offload_drain(w->offload, CQ_WORKER_DRAIN_SLICE) == CQ_WORKER_DRAIN_SLICE;
        int wait = cq_job_run_due(w);
        if (more)
            wait = 0;
        cq_kafka_producer_fd_clear(w->producer);
        cq_kafka_producer_poll(w->producer, 0);
        cq_log_ctx_set(NULL); /* delivery reports ran in their jobs' contexts */
        cq_marks_flush(w->marks);
        /* What the completions, the retries due and the marks submitted (a
         * mark late loses its race with a crash). */
        cq_offload_kick(w->offload);
        cq_worker_publish_circuit(w);
        atomic_store(&w->stats.in_flight, cq_offsets_in_flight(w->offsets));
        atomic_store(&w->stats.llm_in_flight, cq_llm_in_flight(w->llm));
        atomic_store(&w->stats.llm_peak_in_flight, cq_llm_peak_in_flight(w->llm));
        /* Back-pressure. At the in-flight cap the loop stops taking jobs but
         * not polling the consumer: once a second it polls anyway (taking at
         * most that one message over the cap), so rebalances are served and
         * the group never sees a dead member. Partitions are paused only
         * after a long stay at the cap (worker.pause_after; LLM calls that take minutes), since
         * a pause drops the prefetched messages and each resume waits for a
         * new fetch (pausing at every cap hit measured 330 instead of 3,000
         * built-in jobs/s). */
        int64_t now_ms = cq_mono_ms();
        bool at_cap = cq_offsets_in_flight(w->offsets) >= cap;
        if (!at_cap) {
            w->cap_since = 0;
            if (w->paused) {
                cq_kafka_consumer_pause(w->consumer, false);
                w->paused = false;
            }
        } else if (!w->cap_since) {
            w->cap_since = now_ms;
        } else if (!w->paused && now_ms - w->cap_since > w->conf->worker_pause_after) {
            CQ_LOG(CQ_LOG_DEBUG, "worker", NULL, "at the in-flight cap for %lld ms: pausing",
                   (long long)(now_ms - w->cap_since));
            cq_kafka_consumer_pause(w->consumer, true);
            w->paused = true;
        }
        bool keepalive = at_cap && (w->paused || now_ms - w->polled_at >= 1000);
        /* Take what the consumer has ready, without waiting, so a burst of
         * jobs reaches the LLM together; then wait in one place for whatever
         * comes first: a message, an offloaded call's completion, an LLM or
         * fetch transfer, or the next retry. */
        cq_kafka_consumer_fd_clear(w->consumer);
        int consumed = 0;
        bool drained = false; /* the consumer had nothing more */
        for (; consumed < 1000; consumed++) {
            if (cq_offsets_in_flight(w->offsets) >= cap && !(keepalive && consumed == 0))
                break;
            /* A burst is taken in slices of a few milliseconds, so replies
             * and completions are served between them. */
            if (consumed > 0 && cq_worker_now_us() - began > CQ_WORKER_CONSUME_SLICE_US)
                break;
            cq_kafka_msg_t *msg = NULL;
            if (cq_kafka_consumer_poll(w->consumer, 0, &msg) == CQ_ERR_KAFKA_UNAVAILABLE) {
                /* The consumer stopped for good (fenced): drain, then a
                 * new consumer (cq_worker_rejoin). */
                CQ_LOG(CQ_LOG_ERROR, "worker", NULL,
                       "the consumer stopped for good: draining, then joining the group again");
                w->consumer_lost = true;
                break;
            }
            w->polled_at = now_ms;
            if (!msg) {
                drained = true;
                break;
            }
            cq_job_on_message(w, msg);
            cq_log_ctx_set(NULL);
            cq_kafka_msg_destroy(msg);
        }
        cq_offload_kick(w->offload); /* the claims of the messages taken */
        /* Messages left behind (a slice ended) do not wake a wait: take
         * them next time round at once. At the in-flight cap they wait. */
        at_cap = cq_offsets_in_flight(w->offsets) >= cap;
        int timeout =
            more || (!drained && !at_cap) ? 0 : (wait < 100 ? (wait > 0 ? wait : 0) : 100);
        int fds[] = {cq_offload_fd(w->offload), cq_kafka_consumer_fd(w->consumer),
                     cq_kafka_producer_fd(w->producer)};
        bool llm_busy = cq_llm_in_flight(w->llm) > 0;
        bool fetch_busy = cq_fetch_in_flight(w->fetch) > 0;
        int64_t t = timeout > 0 ? cq_worker_now_us() : 0;
        if (llm_busy) { /* the LLM's calls are fetch calls: this drives them all */
            cq_llm_poll_fds(w->llm, timeout, fds, CQ_ARRAY_SIZE(fds));
        } else if (fetch_busy) {
            cq_fetch_poll_fds(w->fetch, timeout, fds, CQ_ARRAY_SIZE(fds));
        } else if (timeout > 0) {
            struct pollfd pfds[] = {{.fd = fds[0], .events = POLLIN},
                                    {.fd = fds[1], .events = POLLIN}};
            poll(pfds, CQ_ARRAY_SIZE(pfds), timeout);
        }
        if (timeout > 0)
            waited += cq_worker_now_us() - t;
        cq_offload_kick(w->offload); /* what replies and transfers that ended submitted */
        cq_worker_stall(w, cq_worker_now_us() - began - waited);
        /* A blocked wait uses no CPU: the thread's CPU time of the whole
         * iteration is its work's. */
        int64_t cpu_now = cq_worker_cpu_us();
        cq_worker_max(&w->stats.stall_cpu_max_us, cpu_now - cpu_at);
        cpu_at = cpu_now;
        /* LLM and fetch completions ran in their jobs' contexts: what the
         * loop logs next (a rebalance, the drain) is no job's. */
        cq_log_ctx_set(NULL);
    }
    cq_offload_release(w->offload);
    /* Drain: take no new jobs, let those in flight finish (a deploy should
     * not throw away LLM calls already paid for), then commit what is done.
     * Whatever is still unfinished at the deadline is redelivered. */
    CQ_LOG(CQ_LOG_INFO, "worker", NULL, "stopping: draining %zu jobs in flight (up to %lld ms)",
           cq_offsets_in_flight(w->offsets), (long long)w->conf->worker_drain_timeout);
    cq_kafka_consumer_pause(w->consumer, true);
    int64_t until = cq_mono_ms() + w->conf->worker_drain_timeout;
    while (cq_offsets_in_flight(w->offsets) > 0 && cq_mono_ms() < until) {
        cq_log_ctx_set(NULL);
        cq_offload_drain(w->offload, 0);
        int wait = cq_job_run_due(w);
        if (cq_offload_pending(w->offload) > 0 && wait > 2)
            wait = 2; /* the producer's wait below is not woken by completions */
        cq_kafka_producer_poll(w->producer, 0);
        cq_log_ctx_set(NULL);
        cq_kafka_msg_t *msg = NULL;
        cq_kafka_consumer_poll(w->consumer, 0, &msg); /* keeps the group session alive */
        if (msg) /* fetched before the pause took effect: left for redelivery */
            cq_kafka_msg_destroy(msg);
        if (cq_llm_in_flight(w->llm) > 0) { /* drives every fetch call too */
            cq_llm_poll(w->llm, wait < 10 ? (wait > 0 ? wait : 0) : 10);
        } else {
            if (cq_fetch_in_flight(w->fetch) > 0)
                cq_fetch_poll(w->fetch, 0);
            cq_kafka_producer_poll(w->producer, wait < 10 ? (wait > 0 ? wait : 0) : 10);
        }
    }
    int64_t flush_until = cq_mono_ms() + 10000;
    while (cq_kafka_producer_outq_len(w->producer) > 0 && cq_mono_ms() < flush_until)
        cq_kafka_producer_poll(w->producer, 100);
    cq_log_ctx_set(NULL); /* delivery reports ran in their jobs' contexts */
    CQ_LOG(CQ_LOG_INFO, "worker", NULL, "stopped with %zu jobs left for redelivery",
           cq_offsets_in_flight(w->offsets));
    cq_offsets_each(w->offsets, cq_worker_commit_each, w);
}

int cq_worker_main(const cq_worker_kind_t *kind, int argc, char **argv)
{
    /* One thread allocates almost everything (librdkafka's threads little):
     * a single malloc arena with a fixed trim threshold keeps a worker with
     * thousands of calls in flight a few MB smaller, at no measured cost. */
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024);
    char program[64], err[1024];
    snprintf(program, sizeof(program), "coachq-%s-worker", kind->kind);
    bool exit_now = false;
    cq_worker_t w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.consumer_lock, NULL);
    w.kind = kind;
    w.conf = cq_config_new();
    if (cq_config_from_args(w.conf, program, argc, argv, &exit_now, err, sizeof(err)) !=
        CQ_ERR_OK) {
        fprintf(stderr, "%s: %s\n", program, err);
        cq_config_destroy(w.conf);
        return 2;
    }
    if (exit_now) {
        cq_config_destroy(w.conf);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cq_worker_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rc = 0;
    if (!cq_worker_setup(&w, err, sizeof(err))) {
        CQ_LOG(CQ_LOG_ERROR, "worker", NULL, "cannot start: %s", err);
        rc = 1;
    } else {
        CQ_LOG(CQ_LOG_INFO, "worker", NULL, "%s consuming %s (up to %lld jobs in flight)", program,
               w.topic, (long long)w.conf->worker_max_in_flight);
        cq_worker_loop(&w);
        while (w.consumer_lost && !cq_worker_stop) {
            if (!cq_worker_rejoin(&w, err, sizeof(err))) {
                CQ_LOG(CQ_LOG_ERROR, "worker", NULL,
                       "cannot join the group again (%s): exiting (status 1) for the supervisor",
                       err);
                break;
            }
            CQ_LOG(CQ_LOG_WARN, "worker", NULL, "joined the group again (rejoin %u)", w.rejoins);
            cq_worker_loop(&w);
        }
        if (w.consumer_lost)
            rc = 1;
    }
    cq_worker_destroy(&w);
    pthread_mutex_destroy(&w.consumer_lock);
    cq_config_destroy(w.conf);
    return rc;
}
