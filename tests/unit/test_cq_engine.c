/*
 * test_cq_engine.c — the engine interface of the worker runtime: pure and
 * asynchronous engines end their job exactly once through cq_job_done, see
 * the worker's (here a fake) clock and keep per-job state the runtime
 * frees; and a kind's operations come from the contract, checked against
 * its registry both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>

#include "cq_worker_int.h"

/* ---- a fake runtime: a clock the test moves, and a record of the answer */

typedef struct {
    int64_t now;
    int done_calls;
    cq_err_t err;
    json_t *result;
    char message[256];
} fake_t;

static int64_t fake_clock(void *opaque)
{
    return ((fake_t *)opaque)->now;
}

static void fake_done(cq_engine_ctx_t *ctx, cq_err_t err, json_t *result, const char *message)
{
    fake_t *f = (fake_t *)ctx->env->clock_opaque;
    f->done_calls++;
    f->err = err;
    json_decref(f->result);
    f->result = result;
    snprintf(f->message, sizeof(f->message), "%s", message ? message : "");
}

typedef struct {
    fake_t fake;
    cq_engine_env_t env;
    cq_engine_ctx_t ctx;
} rig_t;

static void rig_init(rig_t *r, int64_t now)
{
    memset(r, 0, sizeof(*r));
    r->fake.now = now;
    r->env.clock = fake_clock;
    r->env.clock_opaque = &r->fake;
    r->ctx.job_id = "job-1";
    r->ctx.tenant = "acme";
    r->ctx.user = "alice";
    r->ctx.operation = "test-op";
    r->ctx.attempt = 2;
    r->ctx.env = &r->env;
    r->ctx.done = fake_done;
    cq_engine_ctx_arm(&r->ctx);
}

static void rig_clear(rig_t *r)
{
    cq_engine_ctx_clear(&r->ctx);
    json_decref(r->fake.result);
}

/* ---- engines under test */

/* A pure engine that reports the clock it was given and echoes a field. */
static cq_err_t echo_builtin(const json_t *request, int64_t now_ms, json_t **result, char *errstr,
                             size_t errstr_size)
{
    const char *word = json_string_value(json_object_get(request, "word"));
    if (!word) {
        cq_errstr_set(errstr, errstr_size, "no word to echo");
        return CQ_ERR_INSUFFICIENT_CONTEXT;
    }
    *result = json_pack("{s:s, s:I}", "echo", word, "now", (json_int_t)now_ms);
    return CQ_ERR_OK;
}

/* An engine doing "I/O": start keeps a pending call in its state, and the
 * test completes it later, as a fetch callback would. */
typedef struct {
    int calls_pending;
    int64_t started_at;
    int *freed;
} io_state_t;

static void io_state_free(void *p)
{
    io_state_t *st = p;
    (*st->freed)++;
    free(st);
}

static int io_freed;

static void io_start(cq_engine_ctx_t *ctx, const json_t *request)
{
    io_state_t *st = calloc(1, sizeof(*st));
    st->calls_pending = 2; /* two upstream calls in parallel */
    st->started_at = cq_engine_now_ms(ctx);
    st->freed = &io_freed;
    cq_engine_state_set(ctx, st, io_state_free);
}

/* One of the engine's calls came back. */
static void io_call_done(cq_engine_ctx_t *ctx)
{
    io_state_t *st = cq_engine_state(ctx);
    if (--st->calls_pending > 0)
        return;
    cq_job_done(ctx, CQ_ERR_OK,
                json_pack("{s:I, s:s}", "tookMs",
                          (json_int_t)(cq_engine_now_ms(ctx) - st->started_at), "tenant",
                          cq_engine_tenant(ctx)),
                NULL);
}

/* An engine whose one blocking call (a Redis read, say) runs offloaded. */
typedef struct {
    cq_offload_item_t io;
    cq_engine_ctx_t *ctx;
    int value;
} slow_state_t;

static void slow_work(cq_offload_item_t *item)
{
    slow_state_t *st = item->arg;
    usleep(50 * 1000); /* blocks a helper thread, not the loop */
    st->value = 7;
}

static void slow_done(cq_offload_item_t *item)
{
    slow_state_t *st = item->arg;
    cq_job_done(st->ctx, CQ_ERR_OK, json_pack("{s:i}", "value", st->value), NULL);
}

static void slow_start(cq_engine_ctx_t *ctx, const json_t *request)
{
    slow_state_t *st = calloc(1, sizeof(*st));
    st->ctx = ctx;
    st->io = (cq_offload_item_t){.work = slow_work, .done = slow_done, .arg = st};
    cq_engine_state_set(ctx, st, free);
    cq_engine_offload(ctx, &st->io);
}

/* ---- tests */

static void test_engine_pure_ends_at_once_with_the_worker_clock(void **state)
{
    rig_t r;
    rig_init(&r, 1767225600000); /* 2026-01-01 */
    json_t *req = json_pack("{s:s}", "word", "solar");
    cq_engine_run_builtin(&r.ctx, echo_builtin, req);
    assert_int_equal(r.fake.done_calls, 1);
    assert_int_equal(r.fake.err, CQ_ERR_OK);
    assert_string_equal(json_string_value(json_object_get(r.fake.result, "echo")), "solar");
    assert_int_equal(json_integer_value(json_object_get(r.fake.result, "now")), 1767225600000);
    assert_true(r.ctx.finished);
    json_decref(req);
    rig_clear(&r);
}

static void test_engine_pure_error_reaches_the_runtime_without_result(void **state)
{
    rig_t r;
    rig_init(&r, 1000);
    json_t *req = json_object();
    cq_engine_run_builtin(&r.ctx, echo_builtin, req);
    assert_int_equal(r.fake.done_calls, 1);
    assert_int_equal(r.fake.err, CQ_ERR_INSUFFICIENT_CONTEXT);
    assert_null(r.fake.result);
    assert_string_equal(r.fake.message, "no word to echo");
    json_decref(req);
    rig_clear(&r);
}

static void test_engine_async_ends_later_and_its_state_is_freed(void **state)
{
    rig_t r;
    rig_init(&r, 5000);
    io_freed = 0;
    json_t *req = json_object();
    io_start(&r.ctx, req);
    assert_int_equal(r.fake.done_calls, 0); /* nothing answered yet */
    r.fake.now += 250;
    io_call_done(&r.ctx);
    assert_int_equal(r.fake.done_calls, 0); /* one call still out */
    r.fake.now += 100;
    io_call_done(&r.ctx);
    assert_int_equal(r.fake.done_calls, 1);
    assert_int_equal(r.fake.err, CQ_ERR_OK);
    assert_int_equal(json_integer_value(json_object_get(r.fake.result, "tookMs")), 350);
    assert_string_equal(json_string_value(json_object_get(r.fake.result, "tenant")), "acme");
    assert_int_equal(io_freed, 0);
    rig_clear(&r); /* the runtime frees the job */
    assert_int_equal(io_freed, 1);
    json_decref(req);
}

static void test_engine_state_of_an_unfinished_job_is_freed_too(void **state)
{
    rig_t r;
    rig_init(&r, 0);
    io_freed = 0;
    io_start(&r.ctx, NULL);
    rig_clear(&r); /* the worker stops before the calls came back */
    assert_int_equal(io_freed, 1);
    assert_int_equal(r.fake.done_calls, 0);
}

static void test_engine_offloaded_call_ends_the_job_on_the_loop_thread(void **state)
{
    rig_t r;
    rig_init(&r, 0);
    r.env.offload = cq_offload_new(1, NULL);
    slow_start(&r.ctx, NULL);
    assert_int_equal(r.fake.done_calls, 0); /* start returned at once */
    assert_int_equal(cq_offload_pending(r.env.offload), 1);
    for (int i = 0; i < 400 && r.fake.done_calls == 0; i++) {
        cq_offload_drain(r.env.offload, 0);
        if (r.fake.done_calls == 0)
            usleep(5 * 1000);
    }
    assert_int_equal(r.fake.done_calls, 1);
    assert_int_equal(json_integer_value(json_object_get(r.fake.result, "value")), 7);
    assert_int_equal(cq_offload_pending(r.env.offload), 0);
    cq_offload_destroy(r.env.offload);
    rig_clear(&r);
}

static int counted;
static void count_work(cq_offload_item_t *item)
{
    (void)item;
}
static void count_done(cq_offload_item_t *item)
{
    counted += *(int *)item->arg;
}

static atomic_int late_runs;
static void late_work(cq_offload_item_t *item)
{
    (void)item;
    atomic_fetch_add(&late_runs, 1);
}

static void test_offload_runs_every_call_and_drops_queued_ones_at_destroy(void **state)
{
    cq_offload_t *q = cq_offload_new(3, NULL);
    cq_offload_item_t items[100];
    int one = 1;
    counted = 0;
    for (int i = 0; i < 100; i++) {
        items[i] = (cq_offload_item_t){.work = count_work, .done = count_done, .arg = &one};
        cq_offload_submit(q, &items[i]);
    }
    for (int i = 0; i < 1000 && counted < 100; i++) {
        size_t n = cq_offload_drain(q, 30); /* in slices */
        assert_true(n <= 30);
        usleep(1000);
    }
    assert_int_equal(counted, 100);
    assert_int_equal(cq_offload_pending(q), 0);
    cq_offload_destroy(q);

    /* Calls still queued at destroy never run (their jobs are redelivered). */
    q = cq_offload_new(1, NULL);
    slow_state_t st = {0};
    cq_offload_item_t slow = {.work = slow_work, .done = count_done, .arg = &st};
    cq_offload_item_t late[10];
    late_runs = 0;
    cq_offload_submit(q, &slow);
    for (int i = 0; i < 10; i++) {
        late[i] = (cq_offload_item_t){.work = late_work, .done = count_done, .arg = &one};
        cq_offload_submit(q, &late[i]);
    }
    cq_offload_destroy(q);
    assert_int_equal(late_runs, 0);
}

/* What the helper thread did, in order: p = a prepare, w = the work of a
 * prepared item, W = the work of a plain one. */
static char seq[32];
static size_t seq_n;
static cq_store_call_t *seq_prepare(cq_offload_item_t *item)
{
    (void)item;
    seq[seq_n++] = 'p';
    cq_job_record_t none = {0};
    return cq_store_claim_call(NULL, &none); /* refused while prepared: never sent */
}
static void seq_work(cq_offload_item_t *item)
{
    seq[seq_n++] = item->call ? 'w' : 'W';
    if (item->call)
        *(cq_err_t *)item->arg = cq_store_call_end(item->call, NULL);
}
static void seq_done(cq_offload_item_t *item)
{
    (void)item;
    counted++;
}
static void block_work(cq_offload_item_t *item)
{
    usleep(50 * 1000); /* the others queue up meanwhile */
    (void)item;
}

static void test_offload_takes_a_run_of_store_calls_together(void **state)
{
    cq_offload_t *q = cq_offload_new(1, NULL);
    cq_offload_item_t block = {.work = block_work, .done = seq_done};
    cq_offload_item_t items[6];
    cq_err_t err[6];
    seq_n = 0;
    counted = 0;
    cq_offload_submit(q, &block);
    for (int i = 0; i < 6; i++) {
        err[i] = CQ_ERR_OK;
        bool plain = i == 3;
        items[i] = (cq_offload_item_t){.prepare = plain ? NULL : seq_prepare,
                                       .work = seq_work,
                                       .done = seq_done,
                                       .arg = &err[i]};
        cq_offload_submit(q, &items[i]);
    }
    for (int i = 0; i < 1000 && counted < 7; i++) {
        cq_offload_drain(q, 0);
        usleep(1000);
    }
    assert_int_equal(counted, 7);
    /* Three calls taken together (every prepare before any work), the plain
     * item alone, then the last two together. */
    seq[seq_n] = '\0';
    assert_string_equal(seq, "pppwwwWppww");
    for (int i = 0; i < 6; i++)
        assert_int_equal(err[i], i == 3 ? CQ_ERR_OK : CQ_ERR_INTERNAL_ERROR);
    cq_offload_destroy(q);
}

static void test_engine_ok_without_result_is_an_internal_error(void **state)
{
    rig_t r;
    rig_init(&r, 0);
    cq_job_done(&r.ctx, CQ_ERR_OK, NULL, NULL);
    assert_int_equal(r.fake.err, CQ_ERR_INTERNAL_ERROR);
    rig_clear(&r);
}

static void test_engine_identity_accessors(void **state)
{
    rig_t r;
    rig_init(&r, 42);
    assert_string_equal(cq_engine_job_id(&r.ctx), "job-1");
    assert_string_equal(cq_engine_tenant(&r.ctx), "acme");
    assert_string_equal(cq_engine_user(&r.ctx), "alice");
    assert_string_equal(cq_engine_operation(&r.ctx), "test-op");
    assert_int_equal(cq_engine_attempt(&r.ctx), 2);
    assert_null(cq_engine_credentials(&r.ctx));
    assert_int_equal(cq_engine_now_ms(&r.ctx), 42);
    r.env.clock = NULL; /* the wall clock */
    assert_true(cq_engine_now_ms(&r.ctx) > 1700000000000);
    rig_clear(&r);
}

/* ---- a kind's operations from the contract */

static cq_contract_t *contract;

static int plan_setup(void **state)
{
    cq_config_t *conf = cq_config_new();
    char err[512];
    contract = cq_contract_new(conf, err, sizeof(err));
    cq_config_destroy(conf);
    if (!contract)
        fprintf(stderr, "contract: %s\n", err);
    return contract ? 0 : -1;
}

static int plan_teardown(void **state)
{
    cq_contract_destroy(contract);
    return 0;
}

static bool plan(const char *kind_name, const cq_worker_op_t *ops, size_t n, size_t *count,
                 char *err, size_t err_size)
{
    cq_worker_kind_t kind = {.kind = kind_name, .ops = ops, .op_count = n};
    cq_worker_opdef_t *defs = NULL;
    bool ok = cq_worker_plan(&kind, contract, &defs, count, err, err_size);
    if (ok) {
        for (size_t i = 0; i < *count; i++)
            assert_string_equal(defs[i].cop->kind, kind_name);
    }
    cq_worker_plan_free(defs, *count);
    return ok;
}

static void test_plan_takes_the_kinds_operations_from_the_contract(void **state)
{
    size_t expected = 0;
    for (size_t i = 0; i < cq_contract_count(contract); i++)
        expected += strcmp(cq_contract_at(contract, i)->kind, "alignment") == 0;
    const cq_worker_op_t ops[] = {{.name = "alignment-check", .builtin = echo_builtin},
                                  {.name = "website-scan", .start = io_start}};
    size_t count = 0;
    char err[512] = "";
    assert_true(plan("alignment", ops, 2, &count, err, sizeof(err)));
    assert_int_equal(count, expected);
    assert_true(count >= 8); /* every operation the contract gives the kind */
}

static void test_plan_refuses_an_engine_the_contract_lacks(void **state)
{
    const cq_worker_op_t ops[] = {{.name = "alignment-check", .builtin = echo_builtin},
                                  {.name = "alignment-chek", .builtin = echo_builtin}};
    size_t count = 0;
    char err[512] = "";
    assert_false(plan("alignment", ops, 2, &count, err, sizeof(err)));
    assert_non_null(strstr(err, "\"alignment-chek\""));
}

static void test_plan_refuses_an_engine_of_another_kind(void **state)
{
    const cq_worker_op_t ops[] = {{.name = "scheduling-suggestions", .builtin = echo_builtin}};
    size_t count = 0;
    char err[512] = "";
    assert_false(plan("alignment", ops, 1, &count, err, sizeof(err)));
    assert_non_null(strstr(err, "scheduling-suggestions"));
}

static void test_plan_refuses_an_operation_nothing_answers(void **state)
{
    /* The business-data kind has no prompt files: with an engine for one of
     * its operations only, the other one can be answered by nothing. */
    const cq_worker_op_t ops[] = {{.name = "insights-generate", .builtin = echo_builtin}};
    size_t count = 0;
    char err[512] = "";
    assert_false(plan("business-data", ops, 1, &count, err, sizeof(err)));
    assert_non_null(strstr(err, "business-data"));
    assert_non_null(strstr(err, "no engine and no prompt files"));
    assert_non_null(strstr(err, "workers/business_data/prompts"));
}

static void test_plan_refuses_an_entry_with_two_engines_or_none(void **state)
{
    const cq_worker_op_t both[] = {
        {.name = "alignment-check", .builtin = echo_builtin, .start = io_start}};
    const cq_worker_op_t none[] = {{.name = "alignment-check"}};
    size_t count = 0;
    char err[512] = "";
    assert_false(plan("alignment", both, 1, &count, err, sizeof(err)));
    assert_non_null(strstr(err, "exactly one"));
    assert_false(plan("alignment", none, 1, &count, err, sizeof(err)));
    assert_non_null(strstr(err, "exactly one"));
}

static void test_plan_prompt_dir_uses_the_folder_name(void **state)
{
    char *dir = cq_worker_prompt_dir("business-data");
    assert_string_equal(dir, "workers/business_data/prompts");
    free(dir);
    dir = cq_worker_prompt_dir("alignment");
    assert_string_equal(dir, "workers/alignment/prompts");
    free(dir);
}

int main(void)
{
    const struct CMUnitTest engine[] = {
        cmocka_unit_test(test_engine_pure_ends_at_once_with_the_worker_clock),
        cmocka_unit_test(test_engine_pure_error_reaches_the_runtime_without_result),
        cmocka_unit_test(test_engine_async_ends_later_and_its_state_is_freed),
        cmocka_unit_test(test_engine_state_of_an_unfinished_job_is_freed_too),
        cmocka_unit_test(test_engine_offloaded_call_ends_the_job_on_the_loop_thread),
        cmocka_unit_test(test_offload_runs_every_call_and_drops_queued_ones_at_destroy),
        cmocka_unit_test(test_offload_takes_a_run_of_store_calls_together),
        cmocka_unit_test(test_engine_ok_without_result_is_an_internal_error),
        cmocka_unit_test(test_engine_identity_accessors),
    };
    const struct CMUnitTest plans[] = {
        cmocka_unit_test(test_plan_takes_the_kinds_operations_from_the_contract),
        cmocka_unit_test(test_plan_refuses_an_engine_the_contract_lacks),
        cmocka_unit_test(test_plan_refuses_an_engine_of_another_kind),
        cmocka_unit_test(test_plan_refuses_an_operation_nothing_answers),
        cmocka_unit_test(test_plan_refuses_an_entry_with_two_engines_or_none),
        cmocka_unit_test(test_plan_prompt_dir_uses_the_folder_name),
    };
    int failed = cmocka_run_group_tests_name("engine", engine, NULL, NULL);
    failed += cmocka_run_group_tests_name("plan", plans, plan_setup, plan_teardown);
    return failed;
}
