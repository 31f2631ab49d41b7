/*
 * cq_cli_batch.c — `coachq batch FILE.jsonl`: many jobs through
 * POST /jobs/batch, their progress, and their results as JSON Lines.
 *
 * The file is read and checked first (each line an object with a known
 * operation, customIds unique), so a typo on line 900 is reported before
 * anything runs. Items are sent in chunks no larger than the contract's
 * BatchRequest maxItems and gateway.max_body_bytes; each chunk is one batch
 * of the gateway (validated all-or-nothing there). Then every batch is
 * polled (GET /jobs/batch/{id}, four times a second) until no job is queued or
 * running, and the results (GET /jobs/batch/{id}/results) are written in
 * the order of the input file. Single threaded.
 */
#include "cq_cli.h"
#include "cq_cli_http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CQ_CLI_BATCH_POLL_MS 250
#define CQ_CLI_BATCH_BAR     30

typedef struct {
    char *custom_id;
    char *line; /* the item as sent, compact JSON */
} cq_cli_item_t;

typedef struct {
    char batch_id[64];
    size_t first, count; /* items [first, first + count) */
    json_int_t done, succeeded, failed;
    bool finished;
} cq_cli_chunk_t;

/* Reads and checks FILE; *items gets them (caller frees). Exit code. */
static cq_cli_exit_t cq_cli_batch_read(cq_cli_t *cli, const char *file, cq_cli_item_t **items,
                                       size_t *count)
{
    FILE *fp = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (!fp) {
        fprintf(stderr, "coachq: %s: %s\n", file, strerror(errno));
        return CQ_CLI_EXIT_USAGE;
    }
    cq_cli_exit_t rc = CQ_CLI_EXIT_OK;
    size_t cap = 0, n = 0, lineno = 0;
    cq_cli_item_t *v = NULL;
    json_t *ids = json_object();
    char *buf = NULL;
    size_t buf_size = 0;
    ssize_t len;
    while ((len = getline(&buf, &buf_size, fp)) >= 0) {
        lineno++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
            buf[--len] = '\0';
        if (len == 0)
            continue;
        json_error_t jerr;
        json_t *item = json_loadb(buf, (size_t)len, 0, &jerr);
        const char *opname = json_string_value(json_object_get(item, "operation"));
        const cq_operation_t *op = opname ? cq_cli_find_operation(cli->contract, opname) : NULL;
        if (!json_is_object(item) || !op) {
            fprintf(stderr, "coachq: %s:%zu: %s\n", file, lineno,
                    !item                   ? jerr.text
                    : !json_is_object(item) ? "not a JSON object"
                    : !opname               ? "no \"operation\""
                                            : "unknown operation");
            json_decref(item);
            rc = CQ_CLI_EXIT_USAGE;
            continue;
        }
        json_object_set_new(item, "operation", json_string(op->name));
        json_t *cid = json_object_get(item, "customId");
        if (!cid) {
            char gen[32];
            snprintf(gen, sizeof(gen), "line-%zu", lineno);
            json_object_set_new(item, "customId", json_string(gen));
            cid = json_object_get(item, "customId");
        }
        if (!json_is_string(cid) || json_object_get(ids, json_string_value(cid))) {
            fprintf(stderr, "coachq: %s:%zu: customId %s\n", file, lineno,
                    json_is_string(cid) ? "repeats an earlier line's" : "must be a string");
            json_decref(item);
            rc = CQ_CLI_EXIT_USAGE;
            continue;
        }
        json_object_set_new(ids, json_string_value(cid), json_integer((json_int_t)n));
        if (n == cap)
            v = cq_realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));
        v[n].custom_id = cq_strdup(json_string_value(cid));
        v[n].line = json_dumps(item, JSON_COMPACT);
        n++;
        json_decref(item);
    }
    free(buf);
    json_decref(ids);
    if (fp != stdin)
        fclose(fp);
    if (rc == CQ_CLI_EXIT_OK && n == 0) {
        fprintf(stderr, "coachq: %s: no items\n", file);
        rc = CQ_CLI_EXIT_USAGE;
    }
    *items = v;
    *count = n;
    return rc;
}

size_t cq_cli_batch_plan(const size_t *sizes, size_t count, size_t max_items, size_t max_bytes,
                         size_t *firsts)
{
    size_t chunks = 0;
    for (size_t i = 0; i < count;) {
        firsts[chunks++] = i;
        size_t n = 0, bytes = 0;
        while (i < count && n < max_items && (n == 0 || bytes + sizes[i] <= max_bytes)) {
            bytes += sizes[i];
            n++;
            i++;
        }
    }
    return chunks;
}

/* The contract's limit on items per batch (BatchRequest maxItems). */
static size_t cq_cli_batch_max_items(const cq_cli_t *cli)
{
    json_t *doc = cq_contract_document(cli->contract);
    json_t *max = json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                        "BatchRequest"),
        "maxItems");
    return json_is_integer(max) && json_integer_value(max) > 0 ? (size_t)json_integer_value(max)
                                                               : 100;
}

static void cq_cli_batch_progress(const cq_cli_t *cli, const cq_cli_chunk_t *chunks,
                                  size_t chunk_count, size_t total, int64_t started, bool last)
{
    if (cli->args->quiet || cli->args->progress_off)
        return;
    json_int_t done = 0, ok = 0, failed = 0;
    for (size_t i = 0; i < chunk_count; i++) {
        done += chunks[i].done;
        ok += chunks[i].succeeded;
        failed += chunks[i].failed;
    }
    double secs = (double)(cq_mono_ms() - started) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    if (cli->err_tty) {
        int fill = total ? (int)((double)done * CQ_CLI_BATCH_BAR / (double)total) : 0;
        char bar[CQ_CLI_BATCH_BAR + 1];
        for (int i = 0; i < CQ_CLI_BATCH_BAR; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[CQ_CLI_BATCH_BAR] = '\0';
        fprintf(stderr, "\r[%s] %lld/%zu %3d%%  %lld ok  %lld failed  %.0f jobs/s  %.1fs ", bar,
                (long long)done, total, total ? (int)(done * 100 / (json_int_t)total) : 0,
                (long long)ok, (long long)failed, rate, secs);
        if (last)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "batch: %lld/%zu done, %lld succeeded, %lld failed, %.1fs\n",
                (long long)done, total, (long long)ok, (long long)failed, secs);
    }
    fflush(stderr);
}

/* Sends items [first, first + count) as one batch. */
static cq_cli_exit_t cq_cli_batch_send(cq_cli_t *cli, const cq_cli_item_t *items,
                                       cq_cli_chunk_t *chunk)
{
    size_t len = 0;
    for (size_t i = 0; i < chunk->count; i++)
        len += strlen(items[chunk->first + i].line) + 1;
    char *body = cq_malloc(len + 1), *p = body;
    for (size_t i = 0; i < chunk->count; i++) {
        size_t n = strlen(items[chunk->first + i].line);
        memcpy(p, items[chunk->first + i].line, n);
        p[n] = '\n';
        p += n + 1;
    }
    *p = '\0';
    cq_cli_resp_t resp;
    cq_cli_http_do(cli->http, "POST", "/jobs/batch", NULL, "application/x-ndjson", body, len, 60000,
                   &resp);
    free(body);
    cq_cli_exit_t rc = cq_cli_exit_for_http(resp.status, false);
    const char *id = json_string_value(json_object_get(resp.json, "batchId"));
    if (rc == CQ_CLI_EXIT_OK && id) {
        cq_strlcpy(chunk->batch_id, id, sizeof(chunk->batch_id));
    } else {
        char what[96];
        snprintf(what, sizeof(what), "batch of items %zu-%zu (error paths count from %zu)",
                 chunk->first + 1, chunk->first + chunk->count, chunk->first);
        cq_cli_resp_explain(&resp, what);
        if (rc == CQ_CLI_EXIT_OK)
            rc = CQ_CLI_EXIT_SERVER;
    }
    cq_cli_resp_free(&resp);
    return rc;
}

static cq_cli_exit_t cq_cli_batch_poll(cq_cli_t *cli, cq_cli_chunk_t *chunk)
{
    char *path = cq_asprintf("/jobs/batch/%s", chunk->batch_id);
    cq_cli_resp_t resp;
    cq_cli_http_do(cli->http, "GET", path, NULL, NULL, NULL, 0, 30000, &resp);
    free(path);
    cq_cli_exit_t rc = cq_cli_exit_for_http(resp.status, false);
    json_t *counts = json_object_get(resp.json, "counts");
    if (rc == CQ_CLI_EXIT_OK && counts) {
        json_int_t c[6];
        const char *names[] = {"total", "queued", "running", "succeeded", "failed", "cancelled"};
        for (int i = 0; i < 6; i++)
            c[i] = json_integer_value(json_object_get(counts, names[i]));
        chunk->succeeded = c[3];
        chunk->failed = c[4] + c[5];
        chunk->done = c[3] + c[4] + c[5];
        chunk->finished = c[1] + c[2] == 0;
    } else {
        cq_cli_resp_explain(&resp, chunk->batch_id);
        if (rc == CQ_CLI_EXIT_OK)
            rc = CQ_CLI_EXIT_SERVER;
    }
    cq_cli_resp_free(&resp);
    return rc;
}

/* Fetches a batch's result lines into lines (customId -> line). */
static cq_cli_exit_t cq_cli_batch_results(cq_cli_t *cli, const cq_cli_chunk_t *chunk, json_t *lines)
{
    char *path = cq_asprintf("/jobs/batch/%s/results", chunk->batch_id);
    cq_cli_resp_t resp;
    cq_cli_http_do(cli->http, "GET", path, NULL, NULL, NULL, 0, 60000, &resp);
    free(path);
    cq_cli_exit_t rc = cq_cli_exit_for_http(resp.status, false);
    if (rc != CQ_CLI_EXIT_OK) {
        cq_cli_resp_explain(&resp, chunk->batch_id);
        cq_cli_resp_free(&resp);
        return rc;
    }
    char *save = NULL;
    for (char *line = strtok_r(resp.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *item = json_loads(line, 0, NULL);
        const char *cid = json_string_value(json_object_get(item, "customId"));
        if (cid)
            json_object_set_new(lines, cid, item);
        else
            json_decref(item);
    }
    cq_cli_resp_free(&resp);
    return CQ_CLI_EXIT_OK;
}

cq_cli_exit_t cq_cli_batch(cq_cli_t *cli)
{
    const cq_cli_args_t *a = cli->args;
    cq_cli_item_t *items = NULL;
    size_t count = 0, chunk_count = 0;
    cq_cli_chunk_t *chunks = NULL;
    json_t *lines = json_object();
    FILE *out = NULL;
    cq_cli_exit_t rc = cq_cli_batch_read(cli, a->pos[0], &items, &count);
    if (rc != CQ_CLI_EXIT_OK)
        goto out_items;
    if (a->output && !(out = fopen(a->output, "w"))) {
        fprintf(stderr, "coachq: %s: %s\n", a->output, strerror(errno));
        rc = CQ_CLI_EXIT_USAGE;
        goto out_items;
    }

    /* Chunks: at most max_items, and a body (lines + newlines) under the
     * gateway's limit with room for nothing else. */
    size_t max_items = cq_cli_batch_max_items(cli);
    size_t max_bytes = (size_t)cli->conf->gateway_max_body_bytes;
    chunks = cq_calloc(count, sizeof(*chunks));
    size_t *sizes = cq_calloc(count, sizeof(*sizes));
    for (size_t i = 0; i < count; i++)
        sizes[i] = strlen(items[i].line) + 1;
    size_t *firsts = cq_calloc(count, sizeof(*firsts));
    chunk_count = cq_cli_batch_plan(sizes, count, max_items, max_bytes, firsts);
    for (size_t i = 0; i < chunk_count; i++) {
        chunks[i].first = firsts[i];
        chunks[i].count = (i + 1 < chunk_count ? firsts[i + 1] : count) - firsts[i];
    }
    free(firsts);
    free(sizes);
    int64_t started = cq_mono_ms();
    int64_t deadline = a->timeout_ms >= 0 ? started + a->timeout_ms : -1;
    for (size_t i = 0; i < chunk_count; i++)
        if ((rc = cq_cli_batch_send(cli, items, &chunks[i])) != CQ_CLI_EXIT_OK) {
            if (i > 0)
                fprintf(stderr, "coachq: %zu earlier batch(es) were queued and run on: ", i);
            for (size_t j = 0; j < i; j++)
                fprintf(stderr, "%s%s", chunks[j].batch_id, j + 1 < i ? ", " : "\n");
            goto out_file;
        }
    if (!a->quiet && !cli->err_tty)
        fprintf(stderr, "batch: %zu items queued in %zu batch(es) in %.1fs\n", count, chunk_count,
                (double)(cq_mono_ms() - started) / 1000.0);

    int64_t last_line = 0;
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < chunk_count; i++) {
            if (chunks[i].finished)
                continue;
            if ((rc = cq_cli_batch_poll(cli, &chunks[i])) != CQ_CLI_EXIT_OK)
                goto out_file;
            all = all && chunks[i].finished;
        }
        bool timed_out = deadline >= 0 && cq_mono_ms() >= deadline;
        /* Plain lines every 2 s (a log), the bar at every poll. */
        if (cli->err_tty || all || timed_out || cq_mono_ms() - last_line >= 2000) {
            cq_cli_batch_progress(cli, chunks, chunk_count, count, started, all || timed_out);
            last_line = cq_mono_ms();
        }
        if (all)
            break;
        if (timed_out) {
            rc = CQ_CLI_EXIT_TIMEOUT;
            break;
        }
        usleep(CQ_CLI_BATCH_POLL_MS * 1000);
    }
    cq_cli_exit_t wait_rc = rc;
    for (size_t i = 0; i < chunk_count; i++)
        if ((rc = cq_cli_batch_results(cli, &chunks[i], lines)) != CQ_CLI_EXIT_OK)
            goto out_file;
    rc = wait_rc;
    FILE *dst = out ? out : stdout;
    json_int_t failed = 0;
    for (size_t i = 0; i < count; i++) {
        json_t *line = json_object_get(lines, items[i].custom_id);
        if (!line) {
            fprintf(stderr, "coachq: no result line for customId %s\n", items[i].custom_id);
            rc = CQ_CLI_EXIT_SERVER;
            continue;
        }
        const char *status = json_string_value(json_object_get(line, "status"));
        if (cq_cli_exit_for_status(status) == CQ_CLI_EXIT_JOB_FAILED)
            failed++;
        char *text = json_dumps(line, JSON_COMPACT);
        fprintf(dst, "%s\n", text);
        free(text);
    }
    if (fflush(dst) != 0) {
        fprintf(stderr, "coachq: cannot write the results: %s\n", strerror(errno));
        rc = CQ_CLI_EXIT_USAGE;
    }
    if (rc == CQ_CLI_EXIT_OK && failed > 0)
        rc = CQ_CLI_EXIT_JOB_FAILED;
out_file:
    if (out && fclose(out) != 0 && rc == CQ_CLI_EXIT_OK)
        rc = CQ_CLI_EXIT_USAGE;
out_items:
    for (size_t i = 0; i < count; i++) {
        free(items[i].custom_id);
        free(items[i].line);
    }
    free(items);
    free(chunks);
    json_decref(lines);
    return rc;
}
