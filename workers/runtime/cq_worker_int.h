/*
 * cq_worker_int.h — what the worker loop (cq_worker.c) and the job life cycle
 * (cq_job.c) share. Private to workers/runtime/; both run on the one worker
 * loop thread, except the stats, which the metrics endpoint reads.
 */
#ifndef CQ_WORKER_INT_H
#define CQ_WORKER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cq_avro.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_engine_int.h"
#include "cq_fetch.h"
#include "cq_histo.h"
#include "cq_http.h"
#include "cq_kafka.h"
#include "cq_limit.h"
#include "cq_llm.h"
#include "cq_log.h"
#include "cq_marks.h"
#include "cq_offload.h"
#include "cq_offsets.h"
#include "cq_store.h"
#include "cq_worker.h"

typedef struct cq_job_s cq_job_t;

/* Upper bounds (ms) of the loop-stall histogram's buckets. */
#define CQ_WORKER_STALL_BUCKETS                                                                    \
    {                                                                                              \
        1, 2, 5, 10, 25, 50, 100, 250, 500, 1000                                                   \
    }
#define CQ_WORKER_STALL_NBUCKETS 10
/* A fenced consumer is replaced in the process at most this many times in
 * CQ_WORKER_REJOIN_WINDOW_MS; past that the worker exits for its supervisor
 * (two processes sharing one worker.instance_id fence each other for ever). */
#define CQ_WORKER_REJOINS          5
#define CQ_WORKER_REJOIN_WINDOW_MS 60000

/* One operation of the kind as the contract gives it, with what answers it;
 * prepared once at start. */
typedef struct {
    const cq_operation_t *cop; /* the contract's operation */
    const cq_worker_op_t *reg; /* the registered engine, or NULL */
    char *system, *user;       /* prompt templates, or NULL when it has none */
    json_t *schema;            /* result schema for structured output, with an LLM */
} cq_worker_opdef_t;

/*
 * The kind's operations: every operation the contract gives kind->kind,
 * matched with the registry and the prompt folder. Fails (false, errstr)
 * when an operation has neither an engine nor prompt files, when the
 * registry names an operation the contract does not give the kind, or when
 * a registry entry sets neither or both of builtin and start. On success
 * *ops (count *count) is the caller's, freed with cq_worker_plan_free.
 */
bool cq_worker_plan(const cq_worker_kind_t *kind, const cq_contract_t *contract,
                    cq_worker_opdef_t **ops, size_t *count, char *errstr, size_t errstr_size);
void cq_worker_plan_free(cq_worker_opdef_t *ops, size_t count);
/* The folder of a kind's prompt files: "workers/<kind>/prompts" with the
 * kind's dashes written as underscores (new string). */
char *cq_worker_prompt_dir(const char *kind);

/* Counters the loop thread writes and the metrics endpoint's threads read. */
typedef struct {
    atomic_uint_fast64_t jobs_succeeded, jobs_failed, jobs_cancelled, job_retries, dead_letters;
    atomic_uint_fast64_t llm_calls, llm_failures, llm_fallbacks, prompt_tokens, completion_tokens;
    atomic_uint_fast64_t in_flight, llm_in_flight, llm_peak_in_flight;
    /* Daily token budgets: jobs found over budget (answered by the builtin
     * engine or failed TOKEN_BUDGET_EXCEEDED), budget reads or charges
     * Redis did not answer, tokens charged (estimates included). */
    atomic_uint_fast64_t budget_exceeded, budget_errors, tokens_charged;
    /* Redeliveries of terminal jobs: records published again, and records
     * not published again because the job carried the published mark. */
    atomic_uint_fast64_t republished, republish_skipped;
    atomic_int circuit; /* 0 closed, 1 half open, 2 open */
    /* Loop stalls: the time of one loop iteration outside its waits, i.e.
     * the longest any event (message, reply, completion) waited to be
     * served. Counts per bucket of CQ_WORKER_STALL_BUCKETS (ms), the last
     * one +Inf; sum in microseconds. */
    atomic_uint_fast64_t stall_count[CQ_WORKER_STALL_NBUCKETS + 1];
    atomic_uint_fast64_t stall_sum_us, stall_max_us;
    atomic_uint_fast64_t stall_cpu_max_us; /* the longest iteration in the loop's CPU time */
} cq_worker_stats_t;

typedef struct {
    const cq_worker_kind_t *kind;
    cq_config_t *conf;
    cq_contract_t *contract;
    cq_avro_t *avro;
    cq_store_t *store;
    cq_kafka_producer_t *producer;
    cq_kafka_consumer_t *consumer; /* replaced by a rejoin; other threads under consumer_lock */
    pthread_mutex_t consumer_lock; /* the metrics thread reads the consumer's lag */
    cq_offsets_t *offsets;
    cq_job_t *retries; /* jobs waiting for their backoff, unordered */
    cq_job_t *live;    /* every job not yet freed, so shutdown frees them all */
    cq_llm_t *llm;
    cq_limit_t *limits;     /* the tenants' daily token budgets */
    cq_fetch_t *fetch;      /* engines' HTTP calls */
    cq_worker_opdef_t *ops; /* the kind's operations (cq_worker_plan) */
    size_t op_count;
    cq_engine_env_t env;   /* what every job's engine context shares */
    cq_offload_t *offload; /* Redis and broker metadata calls, off the loop */
    cq_marks_t *marks;     /* published marks of jobs whose result was acknowledged */
    cq_offload_item_t circuit_io;
    bool circuit_io_busy;        /* loop thread only */
    bool circuit_stored;         /* written by circuit_io's work, read by its done */
    const char *circuit_sending; /* the state circuit_io is storing */
    cq_worker_stats_t stats;
    cq_histo_t *job_seconds; /* submit to terminal, by operation, engine and status */
    cq_http_server_t *metrics;
    bool paused;
    bool consumer_lost; /* the consumer stopped for good (fenced): rejoin, or exit 1 */
    int64_t rejoined_at[CQ_WORKER_REJOINS]; /* monotonic ms of the last rejoins, a ring */
    unsigned rejoins;                       /* how many rejoins so far */
    int64_t cap_since; /* monotonic ms the loop reached the in-flight cap, 0: below it */
    int64_t polled_at; /* monotonic ms of the last consumer poll */
    char *topic;
    unsigned int seed;
    json_t *reply_topics; /* reply_to name -> {"ok": bool, "at": mono ms}: known answers */
    int64_t circuit_published_ms;
    const char *circuit_published;
} cq_worker_t;

typedef enum {
    CQ_JOB_STAGE_RUN,   /* claim, check, run the engine */
    CQ_JOB_STAGE_STORE, /* the answer is here: store and publish it */
} cq_job_stage_t;

struct cq_job_s {
    cq_worker_t *w;
    char *topic;
    int32_t partition;
    int64_t offset;
    void *raw; /* the message as received, for the dead-letter topic */
    size_t raw_len;
    bool decoded;
    cq_job_envelope_t env;
    cq_log_ctx_t log_ctx;    /* job id, tenant, operation, trace: set around its callbacks */
    const char *engine_kind; /* "builtin", "llm", "fallback"; NULL before an engine ran */
    cq_job_stage_t stage;
    cq_job_record_t claimed;     /* the record as the claim left it */
    const cq_operation_t *cop;   /* the contract's operation */
    const cq_worker_opdef_t *op; /* this kind's operation */
    cq_engine_ctx_t ctx;         /* what the engine sees of the job */
    bool in_engine;              /* started, cq_job_done not yet called */
    bool in_start;               /* inside the engine's start function */
    bool fallback;               /* the registered engine answers for an open LLM circuit */
    int64_t engine_started;      /* monotonic ms */
    char *llm_engine;            /* the LLM engine's description of its answer (JSON) */
    json_t *result_json;         /* the checked result, while result_text is stored and published */
    bool checked;                /* the LLM engine's check validated the answer it returns */
    json_t *llm_fallback;        /* a preparing engine's own answer, for an open circuit */
    char *result_text, *engine;  /* the answer, once there (JSON text) */
    int pending;                 /* produced records not yet acknowledged */
    cq_offload_item_t io;        /* the job's one store or metadata call */
    bool io_busy;                /* io submitted, its done not yet run */
    cq_err_t io_rc;              /* what the call answered */
    bool io_flag;                /* a yes/no answer (reply topic exists) */
    cq_job_record_t stored;      /* the record a finish left */
    bool over_budget;            /* the claim found the tenant past its token budget */
    size_t prompt_bytes;         /* of the prompts sent, for a token estimate */
    int64_t tokens_due;          /* LLM tokens used and not yet charged to the tenant */
    const cq_job_record_t *publishing; /* the record waiting for a topic check */
    cq_err_t fail_err;                 /* why the job fails, or its retried attempt failed */
    char *fail_message;
    bool produce_failed;
    bool mark_due; /* a result record of a terminal job was produced: mark it once acknowledged */
    int64_t retry_at;        /* monotonic ms */
    cq_job_t *next;          /* retry list */
    cq_job_t *lprev, *lnext; /* live list */
};

/* Whether a job's reply_to topic can take its result, as last asked of the
 * broker (answers are kept a minute): 1 yes, 0 no (the result goes to
 * topics.results), -1 not known (ask on an offload thread, then learn). */
int cq_worker_reply_topic_known(cq_worker_t *w, const char *topic);
void cq_worker_reply_topic_learn(cq_worker_t *w, const char *topic, bool ok);

/* Commits one partition's offset (async, or sync at revoke and shutdown). */
void cq_worker_commit(cq_worker_t *w, const char *topic, int32_t partition, int64_t next,
                      bool async);

/* Makes the job's log context the loop thread's (cq_log.h); the loop
 * clears it after each event it serves. */
void cq_job_log_enter(cq_job_t *job);
/* The job reached a terminal state (status "succeeded", "failed" or
 * "cancelled"): its time since submission goes to the job histogram. */
void cq_job_observe_end(cq_job_t *job, const char *status);

/* A message arrived: its job is tracked for commits, decoded and started
 * (an undecodable one goes to the dead-letter topic). */
void cq_job_on_message(cq_worker_t *w, cq_kafka_msg_t *msg);
/* Runs the jobs whose backoff has passed; returns ms until the next one (100 at most). */
int cq_job_run_due(cq_worker_t *w);
/* Frees a job (any state; used at shutdown for jobs that will be redelivered). */
void cq_job_free(cq_job_t *job);

/* How a job ends (cq_job_end.c), for cq_job.c. */
/* A job step waits delay_ms before it runs again. */
void cq_job_schedule_retry(cq_job_t *job, int64_t delay_ms);
/* After a step: a job with nothing in flight and no retry planned is done. */
void cq_job_settle(cq_job_t *job);
/* Runs work (a blocking store or broker call) off the loop; done follows on
 * the loop thread and takes the job with cq_job_of. One call at a time. */
void cq_job_offload(cq_job_t *job, cq_offload_fn work, cq_offload_fn done);
/* cq_job_offload for a store claim or finish that prepare makes (see
 * cq_offload_item_t), sent in one round trip with others queued with it. */
void cq_job_offload_call(cq_job_t *job, cq_offload_prepare_fn prepare, cq_offload_fn work,
                         cq_offload_fn done);
cq_job_t *cq_job_of(cq_offload_item_t *item);
/* Sends the raw message to the dead-letter topic with why it is there. */
void cq_job_dead_letter(cq_job_t *job, cq_err_t err, const char *message);
/* Publishes a record of the job (job->claimed or job->stored). */
void cq_job_publish(cq_job_t *job, const cq_job_record_t *rec);
/* Ends a job as failed: stored, published, dead-lettered. */
void cq_job_fail(cq_job_t *job, cq_err_t err, const char *message);
/* Stores the finished result (job->result_text, job->engine), then publishes. */
void cq_job_store_result(cq_job_t *job);
/* A jittered exponential backoff for an attempt. */
int64_t cq_worker_backoff(cq_worker_t *w, int attempt);

#endif
