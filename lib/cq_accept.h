/*
 * cq_accept.h — admission of connections at accept(), before an HTTP
 * thread is taken, for the servers of cq_http.c.
 *
 * civetweb (1.15) has no accept-time hook: its master thread accepts and
 * queues every connection for a worker thread, which then holds it until
 * it closes, and the first callback it runs (init_connection) cannot see
 * the peer's address. So this module defines accept() itself: the
 * executable's definition takes the place of libc's for civetweb's calls.
 * It passes every call through (accept4) and, for the listening ports
 * registered here, counts connections per peer address (cq_peers) and
 * answers a refused connection at once (the answer comes from the
 * registrant), then closes it, so a client over its cap costs no thread
 * and waits for nothing. Ports not registered are not touched.
 *
 * Threads: accept() runs on civetweb's master threads; leave() on worker
 * threads; register/unregister on the thread that starts or stops a
 * server. One lock guards the registry.
 */
#ifndef CQ_ACCEPT_H
#define CQ_ACCEPT_H

#include "cq_common.h"
#include "cq_peers.h"

typedef struct cq_accept_s cq_accept_t;

/* Writes the whole HTTP answer to a refused connection into buf (NUL
 * terminated); verdict says why it was refused. */
typedef void(cq_accept_answer_fn)(void *opaque, cq_peers_verdict_t verdict, char *buf, size_t size);

/* Admits the connections accepted on local port `port` by a table of
 * `slots` connections (cq_peers_new's slots, per_peer and reserve). answer
 * and opaque must outlive the registration. Caller unregisters. */
cq_accept_t *cq_accept_register(int port, int slots, int per_peer, int reserve,
                                cq_accept_answer_fn *answer, void *opaque);
/* Stops admitting for that port and frees. NULL is a no-op. */
void cq_accept_unregister(cq_accept_t *reg);

/* A connection of the registered port closed; addr is civetweb's
 * remote_addr of it. */
void cq_accept_leave(cq_accept_t *reg, const char *addr);

/* Connections accepted on the port so far, admitted or not: 0 while
 * connections are served means accept() was not this module's. */
uint64_t cq_accept_seen(cq_accept_t *reg);

/* Connections refused so far (over a peer's cap, or no room). */
uint64_t cq_accept_refused(cq_accept_t *reg);

#endif
