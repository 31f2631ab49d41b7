/*
 * coachq-gateway — wires the config, the gateway and signals together.
 *
 * Memory: glibc keeps a cache of freed small blocks in every thread
 * (tcache: up to 7 per size class, ~240 KiB a thread at most). civetweb
 * wakes its gateway.threads (1,024) threads in turn, so each cache fills
 * over time and RSS kept creeping up under a stream of malformed requests
 * (+12 MiB over 50,000 after the rest was bounded). That cache can only be
 * configured before the process starts, so the gateway re-executes itself
 * once with glibc.malloc.tcache_count=0 added to GLIBC_TUNABLES, unless that
 * variable already sets a tcache count (the operator's choice wins).
 */
#include "cq_gateway.h"
#include "cq_log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CQ_GATEWAY_TCACHE_TUNABLE "glibc.malloc.tcache_count"

/* Re-executes the program with the per-thread malloc cache off; returns
 * only when it is already configured or exec failed (then runs as is). */
static void cq_gateway_reexec_without_tcache(char **argv)
{
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (tunables && strstr(tunables, CQ_GATEWAY_TCACHE_TUNABLE))
        return;
    char *value = tunables && *tunables
                      ? cq_asprintf("%s:%s=0", tunables, CQ_GATEWAY_TCACHE_TUNABLE)
                      : cq_asprintf("%s=0", CQ_GATEWAY_TCACHE_TUNABLE);
    setenv("GLIBC_TUNABLES", value, 1);
    free(value);
    execv("/proc/self/exe", argv);
    fprintf(stderr,
            "coachq-gateway: cannot re-execute with %s=0; per-thread malloc caches stay on\n",
            CQ_GATEWAY_TCACHE_TUNABLE);
}

int main(int argc, char **argv)
{
    cq_gateway_reexec_without_tcache(argv);
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
