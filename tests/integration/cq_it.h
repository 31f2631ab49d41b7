/*
 * cq_it.h — support for integration tests: the services the harness
 * (deploy/local.sh test) started, our programs as child processes with an
 * isolated set of topics, Redis keys and consumer groups per test, and a
 * small HTTP client.
 */
#ifndef CQ_IT_H
#define CQ_IT_H

#include <jansson.h>
#include <sys/types.h>

#include "cq_common.h"

#define CQ_IT_SKIP 77

typedef struct {
    pid_t pid;
    char name[64];
} cq_it_proc_t;

typedef struct {
    char prefix[64]; /* unique per test run: topics, keys and groups start with it */
    int port;        /* the gateway's */
    char base[128];  /* "http://127.0.0.1:<port>/coaching/api/v1" */
    char kafka[128];
    int redis_port;
    char log_dir[256];
    cq_it_proc_t gateway;
    cq_it_proc_t worker;
} cq_it_stack_t;

/* Whether the harness's services are there. When they are not: returns
 * false after printing why; tests then exit CQ_IT_SKIP, or fail when
 * COACHQ_IT_REQUIRED=1 (as in CI). */
bool cq_it_available(void);
/* Exit status for a test program whose services are missing. */
int cq_it_missing_status(void);

/* A loopback port free right now. */
int cq_it_free_port(void);

/* Fills the stack's names and ports; starts nothing. */
void cq_it_stack_init(cq_it_stack_t *s, const char *test_name);
/* Starts the gateway (extra "-o key=value" options may be NULL-terminated
 * list) and waits until /health/ready answers 200. */
bool cq_it_start_gateway(cq_it_stack_t *s, const char *const *extra);
/* Starts the worker of a kind. */
bool cq_it_start_worker(cq_it_stack_t *s, const char *kind, const char *const *extra);
/* The alignment worker's log of stack s from byte `from` on ("" when there
 * is none). Caller frees. */
char *cq_it_worker_log_since(const cq_it_stack_t *s, long from);
/* Sends sig and waits for the process to end (SIGKILL after 15 s). */
void cq_it_stop(cq_it_proc_t *proc, int sig);
void cq_it_stack_stop(cq_it_stack_t *s);

typedef struct {
    long status;
    char *body;
    size_t body_len;
    json_t *json;  /* parsed body, NULL if not JSON */
    char *headers; /* raw header block */
} cq_it_resp_t;

/* One request. headers: NULL-terminated "Name: value" list. */
cq_it_resp_t cq_it_http(const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len);
/* Header value (copied into out); false if absent. */
bool cq_it_header(const cq_it_resp_t *resp, const char *name, char *out, size_t out_size);
/* POSTs an alignment-check of tenant with Prefer: respond-async, its goal
 * numbered n (and tagged with tag, "" for none) so that every job differs.
 * Returns the HTTP status; job_id gets the X-Job-Id ("" when none came). */
long cq_it_submit_check(const cq_it_stack_t *s, const char *tenant, const char *tag, int n,
                        char job_id[64]);
void cq_it_resp_free(cq_it_resp_t *resp);

/* A JSON path lookup "a.b.0.c" in a response body; NULL if absent. */
json_t *cq_it_get(json_t *root, const char *path);

/* Reads records of a topic from the beginning until `want` messages carrying
 * header coachq-job-id equal to one of ids were seen, or timeout_ms passed.
 * Returns how many distinct ids were found; raw values of the first found
 * message can be saved to save_path (may be NULL). */
size_t cq_it_consume_ids(const cq_it_stack_t *s, const char *topic, const char *const *ids,
                         size_t count, int timeout_ms, const char *save_path);

/* Starts one of our fake servers (tests/fake/<script>, e.g. "fake_llm.py") on
 * a free loopback port; *port gets it. */
bool cq_it_start_fake(const char *script, cq_it_proc_t *proc, int *port);
/* Replaces the fake's script (a JSON document, see tests/fake/fake_llm.py). */
bool cq_it_fake_script(int port, const char *script_json);
/* Clears the fake's script and records. */
bool cq_it_fake_reset(int port);
/* The fake's recorded calls (new reference), NULL on failure. */
json_t *cq_it_fake_requests(int port);

/* Validates a value against a component schema of the built-in contract
 * (e.g. "HealthStatus"); prints the first violation. */
bool cq_it_matches_schema(const json_t *value, const char *component);

#endif
