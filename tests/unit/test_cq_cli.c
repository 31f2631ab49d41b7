/*
 * test_cq_cli.c — the command line's grammar (subcommands, options, their
 * values and where they are allowed), the exit codes scripts rely on, the
 * operation lookup in the built-in contract, batch chunking, and the
 * replay's traceparent and token tenant.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cq_cli.h"

#include <stdlib.h>
#include <string.h>

#define ARGV(...) ((char *[]){"coachq", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"coachq", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(args, ...)                                                                           \
    cq_cli_args_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (args), err, sizeof(err))

static void test_cli_args_submit(void **state)
{
    char err[256];
    cq_cli_args_t a;
    assert_int_equal(PARSE(&a, "submit", "alignment-check", "@body.json"), CQ_CLI_EXIT_OK);
    assert_int_equal(a.cmd, CQ_CLI_CMD_SUBMIT);
    assert_int_equal(a.pos_count, 2);
    assert_string_equal(a.pos[0], "alignment-check");
    assert_string_equal(a.pos[1], "@body.json");
    assert_false(a.async);
    assert_int_equal(a.timeout_ms, -1);

    /* Options before or after the command, --name=value or --name value. */
    assert_int_equal(PARSE(&a, "--url", "http://gw:1", "submit", "x", "--async", "--wait",
                           "--timeout=90s", "--idempotency-key", "k1"),
                     CQ_CLI_EXIT_OK);
    assert_string_equal(a.url, "http://gw:1");
    assert_true(a.async);
    assert_true(a.wait);
    assert_int_equal(a.timeout_ms, 90000);
    assert_string_equal(a.idempotency_key, "k1");

    /* "-" is standard input, a positional, not an option. */
    assert_int_equal(PARSE(&a, "submit", "x", "-"), CQ_CLI_EXIT_OK);
    assert_string_equal(a.pos[1], "-");
    /* After "--" a body may start with a dash. */
    assert_int_equal(PARSE(&a, "submit", "x", "--", "--odd"), CQ_CLI_EXIT_OK);
    assert_string_equal(a.pos[1], "--odd");
}

static void test_cli_args_refuses(void **state)
{
    char err[256];
    cq_cli_args_t a;
    assert_int_equal(PARSE(&a, "submit"), CQ_CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "OPERATION"));
    assert_int_equal(PARSE(&a, "submit", "a", "b", "c"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "get"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "get", "a", "b"), CQ_CLI_EXIT_USAGE);
    /* An option of another command is an error, not ignored. */
    assert_int_equal(PARSE(&a, "get", "j", "--async"), CQ_CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "get does not take --async"));
    assert_int_equal(PARSE(&a, "batch", "f", "--rate", "5"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "dlq", "list", "--dry-run"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "frobnicate"), CQ_CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "unknown command"));
    assert_int_equal(PARSE(&a, "dlq"), CQ_CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "list or replay"));
    assert_int_equal(PARSE(&a, "dlq", "purge"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "submit", "x", "--bogus"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "submit", "x", "--timeout"), CQ_CLI_EXIT_USAGE);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(PARSE(&a, "submit", "x", "--timeout", "soon"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "submit", "x", "--async=yes"), CQ_CLI_EXIT_USAGE);
    /* --wait alone: a plain submit waits already. */
    assert_int_equal(PARSE(&a, "submit", "x", "--wait"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "dlq", "replay", "--rate", "0"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "dlq", "replay", "--rate", "fast"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "dlq", "list", "--limit", "-3"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "get", "j", "--set", "noequals"), CQ_CLI_EXIT_USAGE);
    assert_int_equal(PARSE(&a, "submit", "x", "--idempotency-key", ""), CQ_CLI_EXIT_USAGE);
    assert_int_equal(cq_cli_args_parse(1, (char *[]){"coachq", NULL}, &a, err, sizeof(err)),
                     CQ_CLI_EXIT_USAGE);
}

static void test_cli_args_subcommands(void **state)
{
    char err[256];
    cq_cli_args_t a;
    assert_int_equal(PARSE(&a, "batch", "in.jsonl", "-o", "out.jsonl", "--no-progress"),
                     CQ_CLI_EXIT_OK);
    assert_int_equal(a.cmd, CQ_CLI_CMD_BATCH);
    assert_string_equal(a.output, "out.jsonl");
    assert_true(a.progress_off);

    assert_int_equal(PARSE(&a, "dlq", "replay", "--code", "JOB_TIMEOUT", "--rate", "20/s",
                           "--dry-run", "-n", "7"),
                     CQ_CLI_EXIT_OK);
    assert_int_equal(a.cmd, CQ_CLI_CMD_DLQ_REPLAY);
    assert_string_equal(a.code, "JOB_TIMEOUT");
    assert_true(a.rate > 19.99 && a.rate < 20.01);
    assert_true(a.dry_run);
    assert_int_equal(a.limit, 7);
    assert_int_equal(a.pos_count, 0);

    assert_int_equal(PARSE(&a, "dlq", "list", "--limit", "0"), CQ_CLI_EXIT_OK);
    assert_int_equal(a.cmd, CQ_CLI_CMD_DLQ_LIST);
    assert_int_equal(a.limit, 0);

    assert_int_equal(PARSE(&a, "results", "tail", "--from-beginning", "--count", "3"),
                     CQ_CLI_EXIT_OK);
    assert_int_equal(a.cmd, CQ_CLI_CMD_RESULTS_TAIL);
    assert_true(a.from_beginning);
    assert_int_equal(a.count, 3);

    assert_int_equal(PARSE(&a, "--kafka", "h:1", "--set", "topics.dlq=x", "-c", "f.conf", "--token",
                           "T", "--tenant", "t", "--user", "u", "-q", "cancel", "j"),
                     CQ_CLI_EXIT_OK);
    assert_string_equal(a.kafka, "h:1");
    assert_int_equal(a.override_count, 1);
    assert_string_equal(a.overrides[0], "topics.dlq=x");
    assert_string_equal(a.config_file, "f.conf");
    assert_string_equal(a.token, "T");
    assert_true(a.quiet);
    assert_int_equal(a.cmd, CQ_CLI_CMD_CANCEL);
}

static void test_cli_args_help(void **state)
{
    char err[256];
    cq_cli_args_t a;
    assert_int_equal(PARSE(&a, "--help"), CQ_CLI_EXIT_OK);
    assert_true(a.help);
    assert_int_equal(a.cmd, CQ_CLI_CMD_NONE);
    /* Help of a command, even without its arguments. */
    assert_int_equal(PARSE(&a, "submit", "--help"), CQ_CLI_EXIT_OK);
    assert_true(a.help);
    assert_int_equal(a.cmd, CQ_CLI_CMD_SUBMIT);
    assert_int_equal(PARSE(&a, "help", "dlq", "replay"), CQ_CLI_EXIT_OK);
    assert_true(a.help);
    assert_int_equal(a.cmd, CQ_CLI_CMD_DLQ_REPLAY);
    assert_int_equal(PARSE(&a, "dlq", "-h"), CQ_CLI_EXIT_OK);
    assert_true(a.help);
}

static void test_cli_parse_values(void **state)
{
    assert_int_equal(cq_cli_parse_duration("30"), 30000);
    assert_int_equal(cq_cli_parse_duration("30s"), 30000);
    assert_int_equal(cq_cli_parse_duration("250ms"), 250);
    assert_int_equal(cq_cli_parse_duration("1.5s"), 1500);
    assert_int_equal(cq_cli_parse_duration("2m"), 120000);
    assert_int_equal(cq_cli_parse_duration("1h"), 3600000);
    assert_int_equal(cq_cli_parse_duration("0"), 0);
    assert_int_equal(cq_cli_parse_duration("-1s"), -1);
    assert_int_equal(cq_cli_parse_duration("5 s"), -1);
    assert_int_equal(cq_cli_parse_duration("5d"), -1);
    assert_int_equal(cq_cli_parse_duration(""), -1);
    assert_true(cq_cli_parse_rate("10") == 10.0);
    assert_true(cq_cli_parse_rate("10/s") == 10.0);
    assert_true(cq_cli_parse_rate("120/m") == 2.0);
    assert_true(cq_cli_parse_rate("0.5/s") == 0.5);
    assert_true(cq_cli_parse_rate("0") == 0);
    assert_true(cq_cli_parse_rate("10/h") == 0);
    assert_true(cq_cli_parse_rate("-2") == 0);
}

static void test_cli_exit_codes(void **state)
{
    /* The documented values themselves: scripts hard-code them. */
    assert_int_equal(CQ_CLI_EXIT_OK, 0);
    assert_int_equal(CQ_CLI_EXIT_JOB_FAILED, 1);
    assert_int_equal(CQ_CLI_EXIT_USAGE, 2);
    assert_int_equal(CQ_CLI_EXIT_TRANSPORT, 3);
    assert_int_equal(CQ_CLI_EXIT_REJECTED, 4);
    assert_int_equal(CQ_CLI_EXIT_SERVER, 5);
    assert_int_equal(CQ_CLI_EXIT_TIMEOUT, 6);

    assert_int_equal(cq_cli_exit_for_http(0, false), CQ_CLI_EXIT_TRANSPORT);
    assert_int_equal(cq_cli_exit_for_http(0, true), CQ_CLI_EXIT_TRANSPORT);
    assert_int_equal(cq_cli_exit_for_http(200, false), CQ_CLI_EXIT_OK);
    assert_int_equal(cq_cli_exit_for_http(202, false), CQ_CLI_EXIT_OK);
    assert_int_equal(cq_cli_exit_for_http(400, false), CQ_CLI_EXIT_REJECTED);
    assert_int_equal(cq_cli_exit_for_http(401, false), CQ_CLI_EXIT_REJECTED);
    assert_int_equal(cq_cli_exit_for_http(404, false), CQ_CLI_EXIT_REJECTED);
    assert_int_equal(cq_cli_exit_for_http(409, false), CQ_CLI_EXIT_REJECTED);
    assert_int_equal(cq_cli_exit_for_http(422, false), CQ_CLI_EXIT_REJECTED);
    assert_int_equal(cq_cli_exit_for_http(429, false), CQ_CLI_EXIT_REJECTED);
    assert_int_equal(cq_cli_exit_for_http(500, false), CQ_CLI_EXIT_SERVER);
    assert_int_equal(cq_cli_exit_for_http(503, false), CQ_CLI_EXIT_SERVER);
    assert_int_equal(cq_cli_exit_for_http(302, false), CQ_CLI_EXIT_SERVER);
    /* A job that ran and failed (its problem names the job). */
    assert_int_equal(cq_cli_exit_for_http(422, true), CQ_CLI_EXIT_JOB_FAILED);
    assert_int_equal(cq_cli_exit_for_http(502, true), CQ_CLI_EXIT_JOB_FAILED);

    assert_int_equal(cq_cli_exit_for_status("succeeded"), CQ_CLI_EXIT_OK);
    assert_int_equal(cq_cli_exit_for_status("failed"), CQ_CLI_EXIT_JOB_FAILED);
    assert_int_equal(cq_cli_exit_for_status("cancelled"), CQ_CLI_EXIT_JOB_FAILED);
    assert_int_equal(cq_cli_exit_for_status("queued"), CQ_CLI_EXIT_TIMEOUT);
    assert_int_equal(cq_cli_exit_for_status("running"), CQ_CLI_EXIT_TIMEOUT);
    assert_int_equal(cq_cli_exit_for_status(NULL), CQ_CLI_EXIT_TIMEOUT);
}

static void test_cli_find_operation(void **state)
{
    char err[512];
    cq_config_t *conf = cq_config_new();
    cq_contract_t *contract = cq_contract_new(conf, err, sizeof(err));
    assert_non_null(contract);
    const cq_operation_t *op = cq_cli_find_operation(contract, "alignment-check");
    assert_non_null(op);
    assert_string_equal(op->path, "/coaching/alignment-check");
    assert_ptr_equal(cq_cli_find_operation(contract, "alignmentCheck"), op);
    assert_ptr_equal(cq_cli_find_operation(contract, "/coaching/alignment-check"), op);
    assert_ptr_equal(cq_cli_find_operation(contract, "/coaching/api/v1/coaching/alignment-check"),
                     op);
    assert_null(cq_cli_find_operation(contract, "/alignment-check"));
    assert_null(cq_cli_find_operation(contract, "x/coaching/alignment-check"));
    assert_null(cq_cli_find_operation(contract, "alignment"));
    assert_null(cq_cli_find_operation(contract, "getJob")); /* not a job operation */
    /* Every operation is found by each of its names. */
    for (size_t i = 0; i < cq_contract_count(contract); i++) {
        const cq_operation_t *o = cq_contract_at(contract, i);
        assert_ptr_equal(cq_cli_find_operation(contract, o->name), o);
        assert_ptr_equal(cq_cli_find_operation(contract, o->path), o);
    }
    cq_contract_destroy(contract);
    cq_config_destroy(conf);
}

static void test_cli_batch_plan(void **state)
{
    size_t sizes[10] = {10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, firsts[10];
    /* By count. */
    assert_int_equal(cq_cli_batch_plan(sizes, 10, 4, 1000, firsts), 3);
    assert_int_equal(firsts[0], 0);
    assert_int_equal(firsts[1], 4);
    assert_int_equal(firsts[2], 8);
    /* By bytes: 25 bytes hold two items of 10. */
    assert_int_equal(cq_cli_batch_plan(sizes, 10, 100, 25, firsts), 5);
    assert_int_equal(firsts[4], 8);
    /* Exactly at the limit fits. */
    assert_int_equal(cq_cli_batch_plan(sizes, 10, 100, 100, firsts), 1);
    /* An item over the byte limit goes alone (the gateway says why). */
    size_t big[3] = {5, 500, 5};
    assert_int_equal(cq_cli_batch_plan(big, 3, 100, 100, firsts), 3);
    assert_int_equal(firsts[1], 1);
    assert_int_equal(firsts[2], 2);
    /* 1,000 items of the contract's limit are one batch; 1,001 are two. */
    size_t many[1001];
    for (size_t i = 0; i < 1001; i++)
        many[i] = 400;
    assert_int_equal(cq_cli_batch_plan(many, 1000, 1000, 1048576, firsts), 1);
    size_t firsts2[1001];
    assert_int_equal(cq_cli_batch_plan(many, 1001, 1000, 1048576, firsts2), 2);
    assert_int_equal(firsts2[1], 1000);
}

static void test_cli_replay_traceparent(void **state)
{
    char tp[96];
    /* No traceparent: the trace id is the original job id's digits. */
    cq_cli_replay_traceparent(NULL, "01a233d9-09cd-77e9-86f9-825525754189", tp, sizeof(tp));
    assert_int_equal(strlen(tp), 55);
    assert_memory_equal(tp, "00-01a233d909cd77e986f9825525754189-", 36);
    assert_string_equal(tp + 52, "-01");
    /* A valid one keeps its trace, with a new span. */
    const char *orig = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    cq_cli_replay_traceparent(orig, "01a233d9-09cd-77e9-86f9-825525754189", tp, sizeof(tp));
    assert_memory_equal(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36);
    assert_string_not_equal(tp + 36, "00f067aa0ba902b7-01");
    /* An invalid one is ignored. */
    cq_cli_replay_traceparent("00-zzzz", "01a233d9-09cd-77e9-86f9-825525754189", tp, sizeof(tp));
    assert_memory_equal(tp, "00-01a233d909cd77e986f9825525754189-", 36);
}

static void test_cli_token_tenant(void **state)
{
    /* {"alg":"HS256"} . {"sub":"u1","tenant_id":"acme"} . signature (not checked) */
    char *t = cq_cli_token_tenant("eyJhbGciOiJIUzI1NiJ9."
                                  "eyJzdWIiOiJ1MSIsInRlbmFudF9pZCI6ImFjbWUifQ.c2ln");
    assert_non_null(t);
    assert_string_equal(t, "acme");
    free(t);
    /* {"sub":"u1"}: no tenant claim. */
    assert_null(cq_cli_token_tenant("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln"));
    assert_null(cq_cli_token_tenant("not-a-jwt"));
    assert_null(cq_cli_token_tenant(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_args_submit),        cmocka_unit_test(test_cli_args_refuses),
        cmocka_unit_test(test_cli_args_subcommands),   cmocka_unit_test(test_cli_args_help),
        cmocka_unit_test(test_cli_parse_values),       cmocka_unit_test(test_cli_exit_codes),
        cmocka_unit_test(test_cli_find_operation),     cmocka_unit_test(test_cli_batch_plan),
        cmocka_unit_test(test_cli_replay_traceparent), cmocka_unit_test(test_cli_token_tenant),
    };
    return cmocka_run_group_tests_name("cq_cli", tests, NULL, NULL);
}
