/*
 * Integration: the `coachq` command line (the built binary, run as a child
 * process) against the gateway and the alignment worker on the harness's
 * Kafka and Redis. Sync and async submission, get, wait, cancel (and the
 * exit codes of each outcome), a batch of 50 with its results checked,
 * results tail finding a known job, and the dead-letter topic: a job whose
 * deadline passed and an undecodable message are listed, the job replayed
 * (idempotently, at a bounded rate) and the replay run to its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jwt.h>

#include "cq_avro.h"
#include "cq_config.h"
#include "cq_contract.h"
#include "cq_it.h"
#include "cq_kafka.h"
#include "cq_uuid.h"

static cq_it_stack_t stack;

#define TENANT "tenant-cli"
#define SECRET "cli-integration-test-secret-of-some-length"

#define BODY                                                                                       \
    "{\"goalIntent\": \"Every home in the valley runs on clean affordable solar energy\","         \
    " \"strategies\": [\"Offer affordable solar financing to every homeowner\"],"                  \
    " \"kpis\": [\"Homes running on solar energy\"],"                                              \
    " \"businessFoundation\": {\"vision\": \"Every home in the valley runs on clean, affordable "  \
    "energy\", \"purpose\": \"We make going solar simple and honest for homeowners\","             \
    " \"coreValues\": [\"Integrity\", \"Sustainability\"]}}"

/* What one run of the command line gave. */
typedef struct {
    int status; /* exit code; -1 if it did not exit normally */
    char *out;  /* standard output */
    char *err;  /* standard error */
} cli_run_t;

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return cq_strdup("");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = cq_malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, fp);
    buf[got] = '\0';
    fclose(fp);
    return buf;
}

/* Runs coachq with the stack's connection options, then args
 * (NULL-terminated); the command line and its stderr go to the test log. */
static cli_run_t cli(const char *first, ...)
{
    const char *argv[64];
    int a = 0;
    char bin[512], dlq[160], results[160];
    snprintf(bin, sizeof(bin), "%s/coachq", getenv("COACHQ_BIN_DIR"));
    snprintf(dlq, sizeof(dlq), "topics.dlq=%s.dlq", stack.prefix);
    snprintf(results, sizeof(results), "topics.results=%s.results", stack.prefix);
    argv[a++] = bin;
    const char *common[] = {"--url", stack.base, "--kafka", stack.kafka, "--tenant",
                            TENANT,  "--set",    dlq,       "--set",     results};
    for (size_t i = 0; i < CQ_ARRAY_SIZE(common); i++)
        argv[a++] = common[i];
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s && a < 62; s = va_arg(ap, const char *))
        argv[a++] = s;
    va_end(ap);
    argv[a] = NULL;

    fprintf(stderr, "$ coachq");
    for (int i = 11; i < a; i++)
        fprintf(stderr, " %s", strlen(argv[i]) > 80 ? "(body)" : argv[i]);
    fprintf(stderr, "\n");
    char out_path[400], err_path[400];
    snprintf(out_path, sizeof(out_path), "%s/%s-cli.out", stack.log_dir, stack.prefix);
    snprintf(err_path, sizeof(err_path), "%s/%s-cli.err", stack.log_dir, stack.prefix);
    cli_run_t r = {.status = -1};
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        dup2(in, STDIN_FILENO);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
        r.status = WEXITSTATUS(status);
    r.out = slurp(out_path);
    r.err = slurp(err_path);
    fprintf(stderr, "  exit %d%s%s", r.status, *r.err ? ", stderr:\n" : "\n", r.err);
    return r;
}

static void cli_free(cli_run_t *r)
{
    free(r->out);
    free(r->err);
}

/* The first line of text as JSON (new reference). */
static json_t *first_json(const char *text)
{
    const char *nl = strchr(text, '\n');
    return json_loadb(text, nl ? (size_t)(nl - text) : strlen(text), 0, NULL);
}

static int setup(void **state)
{
    cq_it_stack_init(&stack, "cli");
    /* Development headers and bearer tokens both accepted. */
    const char *gw_opts[] = {"auth.jwt_secret=" SECRET, NULL};
    if (!cq_it_start_worker(&stack, "alignment", NULL) || !cq_it_start_gateway(&stack, gw_opts))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    cq_it_stack_stop(&stack);
    return 0;
}

static char known_job[64]; /* a job the results tail must find */

/* An HS256 token for tenant (caller frees). */
static char *token_for(const char *tenant)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    jwt_add_grant(jwt, "tenant_id", tenant);
    jwt_add_grant(jwt, "sub", "cli-test");
    jwt_add_grant_int(jwt, "exp", (long)(cq_now_ms() / 1000 + 600));
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET));
    char *token = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(token);
    return token;
}

static void test_cli_submit_sync(void **state)
{
    cli_run_t r = cli("submit", "alignment-check", BODY, NULL);
    assert_int_equal(r.status, 0);
    json_t *data = first_json(r.out);
    assert_non_null(data);
    assert_true(json_is_integer(json_object_get(data, "alignmentScore")));
    assert_true(json_is_object(json_object_get(data, "componentScores")));
    json_decref(data);
    cli_free(&r);

    /* By path, body from a file. */
    char path[400];
    snprintf(path, sizeof(path), "%s/%s-body.json", stack.log_dir, stack.prefix);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(BODY, fp);
    fclose(fp);
    char at[404];
    snprintf(at, sizeof(at), "@%s", path);
    r = cli("submit", "/coaching/alignment-check", at, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "alignmentScore"));
    cli_free(&r);

    /* Refused by the gateway: 4, with the violations on stderr. */
    r = cli("submit", "alignmentCheck", "{\"goalIntent\": 1}", NULL);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "VALIDATION_ERROR"));
    assert_non_null(strstr(r.err, "/goalIntent"));
    cli_free(&r);

    /* Not an operation of the contract: usage, nothing sent. */
    r = cli("submit", "alignment-chek", BODY, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no operation"));
    cli_free(&r);

    /* Gateway unreachable: 3. */
    r = cli("--url", "http://127.0.0.1:1/coaching/api/v1", "get",
            "01a233d9-09cd-77e9-86f9-825525754189", NULL);
    assert_int_equal(r.status, 3);
    cli_free(&r);
}

static void test_cli_async_get_wait(void **state)
{
    cli_run_t r = cli("submit", "alignment-check", BODY, "--async", NULL);
    assert_int_equal(r.status, 0);
    char id[64] = "";
    sscanf(r.out, "%63s", id);
    assert_true(cq_uuid_valid(id));
    cli_free(&r);
    cq_strlcpy(known_job, id, sizeof(known_job));

    r = cli("wait", id, "--timeout", "30s", NULL);
    assert_int_equal(r.status, 0);
    json_t *job = first_json(r.out);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "status")), "succeeded");
    assert_string_equal(json_string_value(json_object_get(job, "jobId")), id);
    assert_true(json_is_integer(json_object_get(json_object_get(job, "result"), "alignmentScore")));
    json_decref(job);
    cli_free(&r);

    r = cli("get", id, NULL);
    assert_int_equal(r.status, 0);
    job = first_json(r.out);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "status")), "succeeded");
    json_decref(job);
    cli_free(&r);

    /* Another tenant does not see it. */
    r = cli("--tenant", "someone-else", "get", id, NULL);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "NOT_FOUND"));
    cli_free(&r);

    /* --async --wait: the id, then the finished job. */
    r = cli("submit", "alignment-check", BODY, "--async", "--wait", "--timeout", "30s", NULL);
    assert_int_equal(r.status, 0);
    char *second = strchr(r.out, '\n');
    assert_non_null(second);
    job = first_json(second + 1);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "status")), "succeeded");
    json_decref(job);
    cli_free(&r);
}

static void test_cli_token(void **state)
{
    /* --token: the tenant is the token's (the job is visible to that tenant). */
    char *token = token_for(TENANT);
    cli_run_t r = cli("--token", token, "submit", "alignment-check", BODY, "--async", NULL);
    assert_int_equal(r.status, 0);
    char id[64] = "";
    sscanf(r.out, "%63s", id);
    assert_true(cq_uuid_valid(id));
    cli_free(&r);
    /* COACHQ_TOKEN, read from the environment. */
    setenv("COACHQ_TOKEN", token, 1);
    r = cli("wait", id, "--timeout", "30s", NULL);
    unsetenv("COACHQ_TOKEN");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"succeeded\""));
    cli_free(&r);
    free(token);

    /* A token of another tenant does not see it; a bad token is refused. */
    token = token_for("another-tenant");
    r = cli("--token", token, "get", id, NULL);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "NOT_FOUND"));
    cli_free(&r);
    free(token);
    r = cli("--token", "not.a.token", "get", id, NULL);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "401"));
    cli_free(&r);
}

static void test_cli_cancel(void **state)
{
    /* No worker: the job stays queued. */
    cq_it_stop(&stack.worker, SIGTERM);
    cli_run_t r = cli("submit", "alignment-check", BODY, "--async", NULL);
    assert_int_equal(r.status, 0);
    char id[64] = "";
    sscanf(r.out, "%63s", id);
    cli_free(&r);

    r = cli("wait", id, "--timeout", "1s", NULL);
    assert_int_equal(r.status, 6);
    assert_non_null(strstr(r.out, "\"queued\""));
    cli_free(&r);

    r = cli("cancel", id, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"cancelled\""));
    cli_free(&r);

    r = cli("cancel", id, NULL);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "409"));
    cli_free(&r);

    r = cli("wait", id, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.out, "\"cancelled\""));
    cli_free(&r);
    assert_true(cq_it_start_worker(&stack, "alignment", NULL));
}

static void test_cli_batch(void **state)
{
    char in[400], out[400];
    snprintf(in, sizeof(in), "%s/%s-batch.jsonl", stack.log_dir, stack.prefix);
    snprintf(out, sizeof(out), "%s/%s-batch-results.jsonl", stack.log_dir, stack.prefix);
    json_t *body = json_loads(BODY, 0, NULL);
    FILE *fp = fopen(in, "w");
    assert_non_null(fp);
    for (int i = 0; i < 50; i++) {
        char intent[160];
        snprintf(intent, sizeof(intent), "Every home in the valley runs on solar energy, item %d",
                 i);
        json_object_set_new(body, "goalIntent", json_string(intent));
        /* One line without customId (gets line-<n>), one by operationId. */
        json_t *item = json_pack("{s:s, s:O}", "operation",
                                 i == 7 ? "alignmentCheck" : "alignment-check", "body", body);
        if (i != 3) {
            char cid[32];
            snprintf(cid, sizeof(cid), "item-%d", i);
            json_object_set_new(item, "customId", json_string(cid));
        }
        char *line = json_dumps(item, JSON_COMPACT);
        fprintf(fp, "%s\n", line);
        free(line);
        json_decref(item);
    }
    fclose(fp);
    json_decref(body);

    cli_run_t r = cli("batch", in, "-o", out, "--timeout", "120s", NULL);
    assert_int_equal(r.status, 0);
    /* Not a terminal: plain progress lines. */
    assert_non_null(strstr(r.err, "batch: 50/50 done, 50 succeeded, 0 failed"));
    assert_null(strchr(r.err, '\r'));
    cli_free(&r);

    char *results = slurp(out);
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(results, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *res = json_loads(line, 0, NULL);
        assert_non_null(res);
        char want[32];
        if (n == 3)
            snprintf(want, sizeof(want), "line-4");
        else
            snprintf(want, sizeof(want), "item-%zu", n);
        /* In the file's order. */
        assert_string_equal(json_string_value(json_object_get(res, "customId")), want);
        assert_string_equal(json_string_value(json_object_get(res, "status")), "succeeded");
        assert_true(cq_uuid_valid(json_string_value(json_object_get(res, "jobId"))));
        assert_true(
            json_is_integer(json_object_get(json_object_get(res, "result"), "alignmentScore")));
        json_decref(res);
        n++;
    }
    assert_int_equal(n, 50);
    free(results);

    /* One bad item rejects its batch: 4, the line named. */
    fp = fopen(in, "w");
    fprintf(fp, "{\"customId\": \"ok\", \"operation\": \"alignment-check\", \"body\": %s}\n", BODY);
    fprintf(fp, "{\"customId\": \"bad\", \"operation\": \"alignment-check\", \"body\": {}}\n");
    fclose(fp);
    r = cli("batch", in, "-o", out, NULL);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "/1/body"));
    cli_free(&r);

    /* A line the command line can check itself: usage, nothing sent. */
    fp = fopen(in, "w");
    fprintf(fp, "{\"operation\": \"no-such-thing\", \"body\": {}}\n");
    fclose(fp);
    r = cli("batch", in, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, ":1: unknown operation"));
    cli_free(&r);
}

static void test_cli_results_tail(void **state)
{
    assert_true(*known_job);
    cli_run_t r = cli("results", "tail", "--from-beginning", "--timeout", "5s", NULL);
    assert_int_equal(r.status, 0);
    bool found = false;
    char *save = NULL;
    for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *rec = json_loads(line, 0, NULL);
        assert_non_null(rec); /* every line is JSON */
        if (strcmp(json_string_value(json_object_get(rec, "jobId")), known_job) == 0) {
            found = true;
            assert_string_equal(json_string_value(json_object_get(rec, "status")), "succeeded");
            assert_string_equal(json_string_value(json_object_get(rec, "tenantId")), TENANT);
            assert_true(
                json_is_integer(json_object_get(json_object_get(rec, "result"), "alignmentScore")));
        }
        json_decref(rec);
    }
    assert_true(found);
    cli_free(&r);

    /* --count stops after that many records. */
    r = cli("results", "tail", "--from-beginning", "--count", "2", "--timeout", "10s", NULL);
    assert_int_equal(r.status, 0);
    size_t lines = 0;
    for (const char *p = r.out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 2);
    cli_free(&r);
}

/* Produces to the job topic, as another service would: an envelope whose
 * deadline has passed (the worker fails it JOB_TIMEOUT and dead-letters it)
 * or raw bytes. */
static void produce_job(cq_kafka_producer_t *producer, cq_avro_t *avro, const char *job_id)
{
    json_t *payload = json_loads(BODY, 0, NULL);
    int64_t now = cq_now_ms();
    cq_job_envelope_t env = {.job_id = (char *)job_id,
                             .tenant_id = TENANT,
                             .user_id = "batch-service",
                             .operation = "alignment-check",
                             .created_at = now - 60000,
                             .deadline = now - 1000,
                             .payload = payload};
    void *buf = NULL;
    size_t len = 0;
    char err[512], topic[160];
    assert_int_equal(cq_avro_envelope_encode(avro, &env, &buf, &len, err, sizeof(err)), CQ_ERR_OK);
    snprintf(topic, sizeof(topic), "%s.jobs.alignment", stack.prefix);
    cq_kafka_header_t h[] = {{"coachq-job-id", job_id, strlen(job_id)}};
    assert_int_equal(cq_kafka_produce_sync(producer, topic, TENANT, strlen(TENANT), buf, len, h, 1,
                                           10000, err, sizeof(err)),
                     CQ_ERR_OK);
    free(buf);
    json_decref(payload);
}

static void test_cli_dlq(void **state)
{
    char err[512], topic[160];
    cq_config_t *conf = cq_config_new();
    cq_config_set(conf, "kafka.bootstrap.servers", stack.kafka, err, sizeof(err));
    cq_contract_t *contract = cq_contract_new(conf, err, sizeof(err));
    assert_non_null(contract);
    cq_avro_t *avro = cq_avro_new(cq_contract_document(contract), err, sizeof(err));
    assert_non_null(avro);
    cq_kafka_producer_t *producer = cq_kafka_producer_new(conf, true, err, sizeof(err));
    assert_non_null(producer);
    char ids[4][CQ_UUID_STR_LEN + 1];
    for (int i = 0; i < 4; i++) {
        cq_uuid_v7(ids[i]);
        produce_job(producer, avro, ids[i]);
    }
    snprintf(topic, sizeof(topic), "%s.jobs.alignment", stack.prefix);
    assert_int_equal(cq_kafka_produce_sync(producer, topic, NULL, 0, "not an envelope", 15, NULL, 0,
                                           10000, err, sizeof(err)),
                     CQ_ERR_OK);
    cq_kafka_producer_destroy(producer, 5000);
    cq_avro_destroy(avro);
    cq_contract_destroy(contract);
    cq_config_destroy(conf);

    /* The worker dead-letters all four jobs (and the bytes) within seconds. */
    cli_run_t r = {0};
    int seen = 0;
    for (int attempt = 0; attempt < 30 && seen < 4; attempt++) {
        cli_free(&r);
        r = cli("dlq", "list", "--code", "JOB_TIMEOUT", NULL);
        assert_int_equal(r.status, 0);
        seen = 0;
        for (int i = 0; i < 4; i++)
            seen += strstr(r.out, ids[i]) != NULL;
        if (seen < 4)
            sleep(1);
    }
    assert_int_equal(seen, 4);
    json_t *first = first_json(r.out);
    assert_non_null(first);
    assert_string_equal(json_string_value(json_object_get(first, "errorCode")), "JOB_TIMEOUT");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(first, "envelope"), "payload"), "goalIntent")),
        "Every home in the valley runs on clean affordable solar energy");
    json_decref(first);
    cli_free(&r);

    r = cli("dlq", "list", "--code", "UNDECODABLE_MESSAGE", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"undecodable\""));
    assert_null(strstr(r.out, "JOB_TIMEOUT"));
    cli_free(&r);

    r = cli("dlq", "list", "--code", "JOB_TIMEOUT", "--limit", "1", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(strchr(r.out, '\n') - r.out + 1, (long)strlen(r.out)); /* one line */
    cli_free(&r);

    /* Dry run: said, not done. */
    r = cli("dlq", "replay", "--code", "JOB_TIMEOUT", "--dry-run", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "would-replay"));
    assert_null(strstr(r.out, "newJobId"));
    cli_free(&r);

    /* Four replays at 4/s take at least three intervals of 250 ms. */
    int64_t t0 = cq_mono_ms();
    r = cli("dlq", "replay", "--code", "JOB_TIMEOUT", "--rate", "4/s", NULL);
    int64_t took = cq_mono_ms() - t0;
    assert_int_equal(r.status, 0);
    assert_true(took >= 750);
    char replayed[4][64];
    int found = 0;
    char *save = NULL;
    for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        const char *orig = json_string_value(json_object_get(o, "originalJobId"));
        for (int i = 0; i < 4; i++)
            if (orig && strcmp(orig, ids[i]) == 0) {
                assert_string_equal(json_string_value(json_object_get(o, "outcome")), "replayed");
                const char *nid = json_string_value(json_object_get(o, "newJobId"));
                assert_true(cq_uuid_valid(nid));
                assert_string_not_equal(nid, orig);
                /* The new job's trace is the original job. */
                char trace[40] = "", *t = trace;
                for (const char *p = orig; *p; p++)
                    if (*p != '-')
                        *t++ = *p;
                *t = '\0';
                assert_non_null(
                    strstr(json_string_value(json_object_get(o, "traceparent")), trace));
                cq_strlcpy(replayed[i], nid, sizeof(replayed[i]));
                found++;
            }
        json_decref(o);
    }
    assert_int_equal(found, 4);
    cli_free(&r);

    /* The replayed job runs to its end for the original tenant. */
    r = cli("wait", replayed[0], "--timeout", "30s", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"succeeded\""));
    cli_free(&r);

    /* Replaying again submits nothing new: the same jobs come back. */
    r = cli("dlq", "replay", "--code", "JOB_TIMEOUT", "--rate", "50", NULL);
    assert_int_equal(r.status, 0);
    for (int i = 0; i < 4; i++)
        assert_non_null(strstr(r.out, replayed[i]));
    cli_free(&r);

    /* A token's replay never submits another tenant's job. */
    char *token = token_for("another-tenant");
    r = cli("--token", token, "dlq", "replay", "--code", "JOB_TIMEOUT", NULL);
    free(token);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "another tenant"));
    assert_null(strstr(r.out, "newJobId"));
    assert_non_null(strstr(r.err, "0 replayed"));
    cli_free(&r);

    /* An undecodable message has no job to replay: skipped, said why. */
    r = cli("dlq", "replay", "--code", "UNDECODABLE_MESSAGE", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"skipped\""));
    assert_non_null(strstr(r.err, "0 replayed, 1 skipped"));
    cli_free(&r);
}

int main(void)
{
    if (!cq_it_available())
        return cq_it_missing_status();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_submit_sync), cmocka_unit_test(test_cli_async_get_wait),
        cmocka_unit_test(test_cli_token),       cmocka_unit_test(test_cli_cancel),
        cmocka_unit_test(test_cli_batch),       cmocka_unit_test(test_cli_results_tail),
        cmocka_unit_test(test_cli_dlq),
    };
    return cmocka_run_group_tests_name("it_cli", tests, setup, teardown);
}
