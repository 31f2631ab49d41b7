/*
 * cq_cli_usage.c — the command line's help texts, one per subcommand, and
 * the exit codes they all share. Kept apart from the grammar so the texts
 * can be read (and reviewed) as a whole.
 */
#include "cq_cli.h"

static const char cq_cli_usage_common[] =
    "Connection (flags win over the environment, which wins over config):\n"
    "  --url URL          gateway base URL (COACHQ_URL; default http://<gateway.listen>"
    "<gateway.base_path>)\n"
    "  --token JWT        bearer token (COACHQ_TOKEN); without one the development headers\n"
    "                     X-Tenant-Id/X-User-Id are sent (--tenant, --user; COACHQ_TENANT,\n"
    "                     COACHQ_USER; default dev / coachq-cli), which only a gateway with\n"
    "                     gateway.dev_auth=true accepts\n"
    "  --kafka HOST:PORT  Kafka bootstrap (COACHQ_KAFKA_BOOTSTRAP_SERVERS, the programs' key)\n"
    "  -c, --config FILE  a coachq config file (topics.*, kafka.*, gateway.* keys)\n"
    "  --set KEY=VALUE    one config key (repeatable), as -o KEY=VALUE for the services\n"
    "  -q, --quiet        no progress or notes on stderr\n"
    "Exit codes: 0 ok, 1 job failed or cancelled, 2 usage, 3 gateway/Kafka unreachable,\n"
    "            4 rejected by the gateway (4xx), 5 gateway error (5xx), 6 timed out waiting\n";

void cq_cli_usage(cq_cli_cmd_t cmd, FILE *out)
{
    switch (cmd) {
    case CQ_CLI_CMD_SUBMIT:
        fputs("usage: coachq submit OPERATION [BODY|@FILE|-] [--async [--wait]] [--timeout D]\n"
              "                     [--idempotency-key KEY]\n"
              "Submits one job. OPERATION is the contract's operation name (alignment-check),\n"
              "its operationId (alignmentCheck) or its path (/coaching/alignment-check); see\n"
              "`coachq operations`. BODY is JSON text, @FILE a file, - standard input.\n"
              "Without --async: waits for the job (up to --timeout, default no limit) and prints\n"
              "its result. --async prints the job id at once; with --wait it then waits and\n"
              "prints the job resource.\n",
              out);
        break;
    case CQ_CLI_CMD_GET:
        fputs("usage: coachq get JOB\nPrints the job resource (status, result or error).\n", out);
        break;
    case CQ_CLI_CMD_WAIT:
        fputs("usage: coachq wait JOB [--timeout D]\n"
              "Waits until the job is terminal and prints it; exit 0 succeeded, 1 failed or\n"
              "cancelled, 6 still running at the timeout (default no limit).\n",
              out);
        break;
    case CQ_CLI_CMD_CANCEL:
        fputs("usage: coachq cancel JOB\n"
              "Cancels a queued or running job; exit 4 when it has already ended (409).\n",
              out);
        break;
    case CQ_CLI_CMD_BATCH:
        fputs("usage: coachq batch FILE.jsonl [-o RESULTS.jsonl] [--timeout D] [--no-progress]\n"
              "Submits every line {customId?, operation, body} through POST /jobs/batch, in\n"
              "chunks of the contract's batch limit (and gateway.max_body_bytes), waits for\n"
              "every job and writes one result line per item (customId, jobId, status, result\n"
              "or error) to RESULTS (default standard output), in the order of the file.\n"
              "A line without customId gets \"line-<n>\". FILE - reads standard input.\n"
              "Progress: a bar when stderr is a terminal, plain lines otherwise.\n"
              "Exit 0 when every job succeeded, 1 when any failed.\n",
              out);
        break;
    case CQ_CLI_CMD_DLQ_LIST:
        fputs("usage: coachq dlq list [--code ERROR_CODE] [--limit N] [--timeout D]\n"
              "Reads the dead-letter topic (topics.dlq) from its beginning with a consumer of\n"
              "its own (partitions assigned, nothing committed) and prints one JSON line per\n"
              "record: where it came from, why (coachq-error-code) and the decoded envelope.\n",
              out);
        break;
    case CQ_CLI_CMD_DLQ_REPLAY:
        fputs("usage: coachq dlq replay [--code ERROR_CODE] [--rate N/s] [--limit N] [--dry-run]\n"
              "Re-submits dead-lettered jobs through the gateway (default 5/s), each as a new\n"
              "job with Idempotency-Key coachq-replay-<original job id> (a record replayed\n"
              "twice gives the same job) and a traceparent whose trace id is the original's.\n"
              "Records that cannot be decoded are listed and skipped. Prints one JSON line per\n"
              "record (originalJobId, newJobId, outcome).\n",
              out);
        break;
    case CQ_CLI_CMD_RESULTS_TAIL:
        fputs("usage: coachq results tail [--from-beginning] [--count N] [--timeout D]\n"
              "Decodes the results topic (topics.results, Avro JobResult) to JSON lines. Starts\n"
              "at the end (new records only) unless --from-beginning; stops after N records or\n"
              "when D passed without a new record.\n",
              out);
        break;
    case CQ_CLI_CMD_OPERATIONS:
        fputs("usage: coachq operations\nLists the contract's job operations (name, method, "
              "path, kind).\n",
              out);
        break;
    default:
        fputs("usage: coachq [OPTIONS] COMMAND [ARGS]\n"
              "Commands:\n"
              "  submit OPERATION [BODY|@FILE|-]  submit a job (sync, or --async)\n"
              "  get JOB | wait JOB | cancel JOB  a job's state, wait for its end, cancel it\n"
              "  batch FILE.jsonl [-o OUT.jsonl]  many jobs through POST /jobs/batch\n"
              "  dlq list | dlq replay            dead-lettered jobs (Kafka topics.dlq)\n"
              "  results tail                     decoded result records (Kafka topics.results)\n"
              "  operations                       the contract's operations\n"
              "  help COMMAND                     one command's options\n",
              out);
        break;
    }
    fputs(cq_cli_usage_common, out);
}
