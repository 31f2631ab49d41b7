/*
 * coachq-gateway — wires the config, the gateway and signals together.
 *
 * Memory: see docs/OPERATIONS.md ("Memory"): deployments start the gateway
 * with glibc's per-thread malloc cache off (GLIBC_TUNABLES).
 */
#include "cq_gateway.h"
#include "cq_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char err[1024];
    bool exit_now = false;
    cq_config_t *conf = cq_config_new();
    if (cq_config_from_args(conf, "coachq-gateway", argc, argv, &exit_now, err, sizeof(err)) !=
        CQ_ERR_OK) {
        fprintf(stderr, "coachq-gateway: %s\n", err);
        cq_config_destroy(conf);
        return 2;
    }
    if (exit_now) {
        cq_config_destroy(conf);
        return 0;
    }
    /* Block the stop signals in every thread; main waits for them below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    cq_gateway_t *gw = cq_gateway_new(conf, err, sizeof(err));
    if (!gw) {
        CQ_LOG(CQ_LOG_ERROR, "gateway", NULL, "cannot start: %s", err);
        cq_config_destroy(conf);
        return 1;
    }
    CQ_LOG(CQ_LOG_INFO, "gateway", NULL, "listening on %s%s", conf->gateway_listen,
           conf->gateway_base_path);
    int sig = 0;
    sigwait(&stop, &sig);
    CQ_LOG(CQ_LOG_INFO, "gateway", NULL, "signal %d: stopping", sig);
    cq_gateway_destroy(gw);
    cq_config_destroy(conf);
    return 0;
}
