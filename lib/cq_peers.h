/*
 * cq_peers.h — admission of connections by peer address: how many
 * connections each client address holds, with a per-address cap and a
 * reserve of slots kept for addresses that hold none.
 *
 * The HTTP layer enters a connection when a server thread takes it and
 * leaves it when the connection closes; an address at its cap, or any
 * address that already holds a connection once only the reserve is left,
 * is refused. Addresses are opaque strings (civetweb's "127.0.0.1",
 * "::1"); nothing here parses them.
 *
 * Thread-safe: every HTTP thread enters and leaves at once; one mutex,
 * held for a hash lookup.
 */
#ifndef CQ_PEERS_H
#define CQ_PEERS_H

#include "cq_common.h"

typedef struct cq_peers_s cq_peers_t;

typedef enum {
    CQ_PEERS_ADMITTED,   /* counted: leave() it when the connection closes */
    CQ_PEERS_OVER_PEER,  /* the address holds per_peer connections already */
    CQ_PEERS_OVER_TOTAL, /* only the reserve is left and the address holds some */
} cq_peers_verdict_t;

/* A table for at most `slots` connections at once (the server's threads),
 * each address holding at most per_peer (0: no per-address cap), the last
 * `reserve` slots only for addresses holding none (0: no reserve). Caller
 * destroys. */
cq_peers_t *cq_peers_new(int slots, int per_peer, int reserve);
void cq_peers_destroy(cq_peers_t *peers);

/* Admits one more connection of addr, or says why not (then nothing is
 * counted). */
cq_peers_verdict_t cq_peers_enter(cq_peers_t *peers, const char *addr);
/* Forgets one admitted connection of addr. */
void cq_peers_leave(cq_peers_t *peers, const char *addr);

/* Connections addr holds now; all admitted connections when addr is NULL. */
int cq_peers_count(cq_peers_t *peers, const char *addr);

#endif
