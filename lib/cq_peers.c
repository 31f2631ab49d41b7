/*
 * cq_peers.c — connections per peer address (see cq_peers.h).
 *
 * An open-addressing hash table with linear probing, sized to twice the
 * slots so that it never fills: at most `slots` addresses hold a
 * connection at once. An address whose count drops to zero stays as a
 * tombstone (reused by the next insertion on its chain) until the slot
 * after it is empty; then it and the tombstones before it become empty, so
 * chains stay short under churn. One mutex guards it all.
 */
#include "cq_peers.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* civetweb's remote_addr is 48 bytes; longer keys are cut the same way. */
#define CQ_PEERS_ADDR_MAX 48

typedef struct {
    char addr[CQ_PEERS_ADDR_MAX];
    int count;
    bool used; /* false: empty, ends a probe chain */
} cq_peers_entry_t;

struct cq_peers_s {
    pthread_mutex_t lock;
    int slots, per_peer, reserve;
    int total;
    size_t mask;
    cq_peers_entry_t *table;
};

cq_peers_t *cq_peers_new(int slots, int per_peer, int reserve)
{
    cq_peers_t *peers = cq_calloc(1, sizeof(*peers));
    pthread_mutex_init(&peers->lock, NULL);
    peers->slots = slots > 0 ? slots : 1;
    peers->per_peer = per_peer > 0 ? per_peer : 0;
    peers->reserve = reserve > 0 && reserve < peers->slots ? reserve : 0;
    size_t size = 16;
    while (size < 2 * (size_t)peers->slots)
        size *= 2;
    peers->mask = size - 1;
    peers->table = cq_calloc(size, sizeof(*peers->table));
    return peers;
}

void cq_peers_destroy(cq_peers_t *peers)
{
    if (!peers)
        return;
    pthread_mutex_destroy(&peers->lock);
    free(peers->table);
    free(peers);
}

static size_t cq_peers_hash(const char *addr)
{
    /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < CQ_PEERS_ADDR_MAX - 1 && addr[i]; i++) {
        h ^= (unsigned char)addr[i];
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

static bool cq_peers_same(const cq_peers_entry_t *e, const char *addr)
{
    return strncmp(e->addr, addr, CQ_PEERS_ADDR_MAX - 1) == 0;
}

/* The entry of addr, or (insert) a free one on its chain set to addr with
 * count 0; NULL when absent (or the table is full). Lock held. */
static cq_peers_entry_t *cq_peers_find(cq_peers_t *peers, const char *addr, bool insert)
{
    cq_peers_entry_t *reuse = NULL;
    size_t i = cq_peers_hash(addr) & peers->mask;
    for (size_t n = 0; n <= peers->mask; n++, i = (i + 1) & peers->mask) {
        cq_peers_entry_t *e = &peers->table[i];
        if (!e->used) {
            if (!reuse)
                reuse = e;
            break;
        }
        if (cq_peers_same(e, addr))
            return e;
        if (e->count == 0 && !reuse)
            reuse = e;
    }
    if (!insert || !reuse)
        return NULL;
    cq_strlcpy(reuse->addr, addr, sizeof(reuse->addr));
    reuse->count = 0;
    reuse->used = true;
    return reuse;
}

/* Empties the tombstone at e and those before it when the slot after it
 * is empty, so probe chains end as early as they can. Lock held. */
static void cq_peers_prune(cq_peers_t *peers, cq_peers_entry_t *e)
{
    size_t i = (size_t)(e - peers->table);
    if (peers->table[(i + 1) & peers->mask].used)
        return;
    for (size_t n = 0; n <= peers->mask; n++, i = (i - 1) & peers->mask) {
        cq_peers_entry_t *t = &peers->table[i];
        if (!t->used || t->count != 0)
            break;
        t->used = false;
    }
}

cq_peers_verdict_t cq_peers_enter(cq_peers_t *peers, const char *addr)
{
    cq_peers_verdict_t verdict = CQ_PEERS_ADMITTED;
    pthread_mutex_lock(&peers->lock);
    cq_peers_entry_t *e = cq_peers_find(peers, addr, true);
    /* No entry left for a new address, or no place left (the reserve is
     * for addresses holding none): over the total either way. */
    bool full = !e || peers->total >= peers->slots ||
                (e->count > 0 && peers->total >= peers->slots - peers->reserve);
    if (e && peers->per_peer && e->count >= peers->per_peer) {
        verdict = CQ_PEERS_OVER_PEER;
    } else if (full) {
        verdict = CQ_PEERS_OVER_TOTAL;
    } else {
        e->count++;
        peers->total++;
    }
    if (e && e->count == 0)
        cq_peers_prune(peers, e); /* a refused newcomer leaves no entry */
    pthread_mutex_unlock(&peers->lock);
    return verdict;
}

void cq_peers_leave(cq_peers_t *peers, const char *addr)
{
    pthread_mutex_lock(&peers->lock);
    cq_peers_entry_t *e = cq_peers_find(peers, addr, false);
    if (e && e->count > 0) {
        e->count--;
        peers->total--;
        if (e->count == 0)
            cq_peers_prune(peers, e);
    }
    pthread_mutex_unlock(&peers->lock);
}

int cq_peers_count(cq_peers_t *peers, const char *addr)
{
    pthread_mutex_lock(&peers->lock);
    int n = peers->total;
    if (addr) {
        cq_peers_entry_t *e = cq_peers_find(peers, addr, false);
        n = e ? e->count : 0;
    }
    pthread_mutex_unlock(&peers->lock);
    return n;
}
