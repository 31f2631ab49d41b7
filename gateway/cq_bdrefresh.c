/*
 * cq_bdrefresh.c — the business-data refresh thread: refresh-ahead and
 * stale-while-revalidate hits hand their refresh here and are answered at
 * once.
 *
 * A refresh is ONE job per tenant however many hits ask for it: a tenant
 * already waiting here is not queued twice, and the thread takes the
 * tenant's flight key (cq_bdcache, set-if-absent) before it submits, so a
 * refresh under way (ours, another gateway's, or a miss's job) means
 * nothing more is done. A refresh whose copy was renewed between the hit's
 * read and the key (a job ended, wrote a newer copy and gave the key back)
 * gives the key back and submits nothing. The job is an ordinary,
 * asynchronous business-data job with the caller's credentials, charged to
 * the tenant's rate limit like any; refused, it gives the key back and the
 * copy ages as it would have. Its answer is not waited for: the worker's
 * copy is what counts, and the worker gives the key back when it ends.
 *
 * Threads: cq_bdrefresh_queue runs on any HTTP thread and only copies the
 * request under the queue's mutex; one refresh thread takes items off and
 * does the blocking work (Redis, the submission's Kafka produce) with the
 * gateway's thread-safe parts. The counters are atomics.
 */
#include "cq_bdrefresh.h"
#include "cq_bdcache.h"
#include "cq_gateway.h"
#include "cq_log.h"
#include "cq_uuid.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One refresh handed over: a copy of what the submission needs. */
typedef struct {
    const cq_operation_t *op;
    cq_principal_t who;
    int64_t stored_at;
    cq_log_ctx_t log;
    char *method, *path, *query, *body;
    size_t body_len;
    char request_id[40];
    int header_count;
    char *names[CQ_HTTP_MAX_HEADERS], *values[CQ_HTTP_MAX_HEADERS];
} cq_bdrefresh_item_t;

struct cq_bdrefresh_s {
    cq_gateway_t *gw;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    cq_bdrefresh_item_t **ring; /* capacity slots, count waiting from head */
    size_t capacity, head, count;
    bool stopping;
    pthread_t thread;
    cq_bdrefresh_counts_t counts;
};

static void cq_bdrefresh_item_free(cq_bdrefresh_item_t *item)
{
    if (!item)
        return;
    free(item->method);
    free(item->path);
    free(item->query);
    free(item->body);
    for (int i = 0; i < item->header_count; i++) {
        free(item->names[i]);
        free(item->values[i]);
    }
    free(item);
}

/* Headers of the client's request a refresh does not carry: its answer is
 * not waited for, and an Idempotency-Key names the client's request, not
 * this job. */
static bool cq_bdrefresh_drops(const char *name)
{
    static const char *const drop[] = {"Idempotency-Key", "Prefer", "Cache-Control", "Pragma"};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(drop); i++)
        if (strcasecmp(name, drop[i]) == 0)
            return true;
    return false;
}

static cq_bdrefresh_item_t *cq_bdrefresh_item_new(const cq_operation_t *op,
                                                  const cq_principal_t *who,
                                                  const cq_http_req_t *req, int64_t stored_at)
{
    cq_bdrefresh_item_t *item = cq_calloc(1, sizeof(*item));
    item->op = op;
    item->who = *who;
    item->stored_at = stored_at;
    item->log = *cq_log_ctx();
    item->method = cq_strdup(req->method ? req->method : "GET");
    item->path = cq_strdup(req->path ? req->path : "");
    item->query = req->query ? cq_strdup(req->query) : NULL;
    if (req->body) {
        item->body = cq_malloc(req->body_len + 1);
        memcpy(item->body, req->body, req->body_len);
        item->body[req->body_len] = '\0';
        item->body_len = req->body_len;
    }
    cq_strlcpy(item->request_id, req->request_id, sizeof(item->request_id));
    /* One place is kept for the Prefer the thread adds. */
    for (int i = 0; i < req->header_count && item->header_count < CQ_HTTP_MAX_HEADERS - 1; i++) {
        if (cq_bdrefresh_drops(req->header_names[i]))
            continue;
        item->names[item->header_count] = cq_strdup(req->header_names[i]);
        item->values[item->header_count++] = cq_strdup(req->header_values[i]);
    }
    return item;
}

/* The refresh itself, on the refresh thread. */
static void cq_bdrefresh_run(cq_bdrefresh_t *refresh, cq_bdrefresh_item_t *item)
{
    cq_gateway_t *gw = refresh->gw;
    const char *tenant = item->who.tenant_id;
    cq_log_ctx_set(&item->log);
    char job_id[CQ_UUID_STR_LEN + 1];
    cq_uuid_v7(job_id);
    char *holder = NULL;
    if (cq_bdcache_flight_take(gw->store, tenant, job_id, gw->conf->business_data_inflight_ttl,
                               &holder) != CQ_ERR_OK ||
        holder) {
        free(holder);
        atomic_fetch_add(&refresh->counts.skipped, 1);
        goto out;
    }
    json_t *now_data = NULL;
    int64_t now_at = 0;
    cq_err_t rc = cq_bdcache_get(gw->store, tenant, &now_data, &now_at);
    json_decref(now_data);
    if (rc != CQ_ERR_OK || now_at != item->stored_at) {
        cq_bdcache_flight_release(gw->store, tenant, job_id);
        atomic_fetch_add(&refresh->counts.skipped, 1);
        goto out;
    }
    cq_http_req_t bg = {
        .method = item->method,
        .path = item->path,
        .query = item->query,
        .body = item->body,
        .body_len = item->body_len,
    };
    cq_strlcpy(bg.request_id, item->request_id, sizeof(bg.request_id));
    for (int i = 0; i < item->header_count; i++) {
        bg.header_names[i] = item->names[i];
        bg.header_values[i] = item->values[i];
    }
    bg.header_count = item->header_count;
    bg.header_names[bg.header_count] = "Prefer";
    bg.header_values[bg.header_count++] = "respond-async";
    cq_http_resp_t scratch;
    memset(&scratch, 0, sizeof(scratch));
    cq_submit_handle_as(gw, item->op, &item->who, &bg, &scratch, job_id);
    if (scratch.status >= 400) {
        CQ_LOG(CQ_LOG_INFO, "business-data", job_id, "background refresh not queued: %d",
               scratch.status);
        cq_bdcache_flight_release(gw->store, tenant, job_id);
        atomic_fetch_add(&refresh->counts.refused, 1);
    } else {
        atomic_fetch_add(&refresh->counts.submitted, 1);
    }
    cq_http_resp_clear(&scratch);
out:
    cq_log_ctx_set(NULL);
}

static void *cq_bdrefresh_main(void *arg)
{
    cq_bdrefresh_t *refresh = arg;
    pthread_mutex_lock(&refresh->lock);
    for (;;) {
        while (!refresh->stopping && refresh->count == 0)
            pthread_cond_wait(&refresh->wake, &refresh->lock);
        if (refresh->stopping)
            break;
        cq_bdrefresh_item_t *item = refresh->ring[refresh->head];
        refresh->ring[refresh->head] = NULL;
        refresh->head = (refresh->head + 1) % refresh->capacity;
        refresh->count--;
        pthread_mutex_unlock(&refresh->lock);
        cq_bdrefresh_run(refresh, item);
        cq_bdrefresh_item_free(item);
        pthread_mutex_lock(&refresh->lock);
    }
    pthread_mutex_unlock(&refresh->lock);
    return NULL;
}

cq_bdrefresh_t *cq_bdrefresh_new(cq_gateway_t *gw, size_t capacity, char *errstr,
                                 size_t errstr_size)
{
    assert(gw && capacity > 0);
    cq_bdrefresh_t *refresh = cq_calloc(1, sizeof(*refresh));
    refresh->gw = gw;
    refresh->capacity = capacity;
    refresh->ring = cq_calloc(capacity, sizeof(cq_bdrefresh_item_t *));
    pthread_mutex_init(&refresh->lock, NULL);
    pthread_cond_init(&refresh->wake, NULL);
    if (pthread_create(&refresh->thread, NULL, cq_bdrefresh_main, refresh) != 0) {
        cq_errstr_set(errstr, errstr_size, "cannot start the business-data refresh thread");
        goto err_free_refresh;
    }
    return refresh;
err_free_refresh:
    pthread_cond_destroy(&refresh->wake);
    pthread_mutex_destroy(&refresh->lock);
    free(refresh->ring);
    free(refresh);
    return NULL;
}

void cq_bdrefresh_destroy(cq_bdrefresh_t *refresh)
{
    if (!refresh)
        return;
    pthread_mutex_lock(&refresh->lock);
    refresh->stopping = true;
    pthread_cond_signal(&refresh->wake);
    pthread_mutex_unlock(&refresh->lock);
    pthread_join(refresh->thread, NULL);
    for (size_t i = 0; i < refresh->count; i++)
        cq_bdrefresh_item_free(refresh->ring[(refresh->head + i) % refresh->capacity]);
    free(refresh->ring);
    pthread_cond_destroy(&refresh->wake);
    pthread_mutex_destroy(&refresh->lock);
    free(refresh);
}

bool cq_bdrefresh_queue(cq_bdrefresh_t *refresh, const cq_operation_t *op,
                        const cq_principal_t *who, const cq_http_req_t *req, int64_t stored_at)
{
    bool taken = false;
    pthread_mutex_lock(&refresh->lock);
    if (refresh->stopping || refresh->count == refresh->capacity)
        goto out_unlock;
    for (size_t i = 0; i < refresh->count; i++) {
        const cq_bdrefresh_item_t *waiting = refresh->ring[(refresh->head + i) % refresh->capacity];
        if (strcmp(waiting->who.tenant_id, who->tenant_id) == 0)
            goto out_unlock;
    }
    refresh->ring[(refresh->head + refresh->count) % refresh->capacity] =
        cq_bdrefresh_item_new(op, who, req, stored_at);
    refresh->count++;
    taken = true;
    pthread_cond_signal(&refresh->wake);
out_unlock:
    pthread_mutex_unlock(&refresh->lock);
    if (!taken)
        atomic_fetch_add(&refresh->counts.dropped, 1);
    return taken;
}

const cq_bdrefresh_counts_t *cq_bdrefresh_counts(const cq_bdrefresh_t *refresh)
{
    return &refresh->counts;
}
