/*
 * coachq-rebuild — rebuilds the Redis job store from the results topic
 * after Redis lost its data (docs/OPERATIONS.md, "After a Redis loss").
 *
 * One-shot: reads topics.results once (no consumer group, no commits),
 * restores every finished job still within jobs.result_ttl, prints the
 * counts as one JSON line on stdout and exits 0; 1 when Kafka or Redis
 * failed (a rerun is harmless), 2 for a bad configuration. Same
 * configuration as the gateway and the workers (-c FILE, -o key=value,
 * COACHQ_* variables).
 */
#include "cq_log.h"
#include "cq_rebuild.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    char err[1024] = "";
    bool exit_now = false;
    cq_config_t *conf = cq_config_new();
    if (cq_config_from_args(conf, "coachq-rebuild", argc, argv, &exit_now, err, sizeof(err)) !=
        CQ_ERR_OK) {
        fprintf(stderr, "coachq-rebuild: %s\n", err);
        cq_config_destroy(conf);
        return 2;
    }
    if (exit_now) {
        cq_config_destroy(conf);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    int64_t t0 = cq_mono_ms();
    cq_rebuild_stats_t st;
    cq_err_t rc = cq_rebuild_run(conf, &st, err, sizeof(err));
    printf("{\"topic\":\"%s\",\"read\":%zu,\"restored\":%zu,\"replaced\":%zu,\"kept\":%zu,"
           "\"expired\":%zu,\"undecodable\":%zu,\"ms\":%lld,\"ok\":%s}\n",
           conf->topics_results, st.read, st.restored, st.replaced, st.kept, st.expired,
           st.undecodable, (long long)(cq_mono_ms() - t0), rc == CQ_ERR_OK ? "true" : "false");
    fflush(stdout);
    if (rc != CQ_ERR_OK)
        CQ_LOG(CQ_LOG_ERROR, "rebuild", NULL, "stopped: %s: %s", cq_err_name(rc), err);
    else
        CQ_LOG(CQ_LOG_INFO, "rebuild", NULL,
               "%zu records read: %zu restored, %zu replaced, %zu kept, %zu expired, "
               "%zu undecodable",
               st.read, st.restored, st.replaced, st.kept, st.expired, st.undecodable);
    cq_config_destroy(conf);
    return rc == CQ_ERR_OK ? 0 : rc == CQ_ERR_CONFIG ? 2 : 1;
}
