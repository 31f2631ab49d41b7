/*
 * cq_accept.c — accept() with admission by peer address (see cq_accept.h).
 *
 * The registry of admitted ports is the one piece of process-wide state in
 * coachq: accept() has no context argument. It is a short array under a
 * read-write lock; accept() takes the read side once per connection.
 *
 * A refused connection gets the registrant's answer (a few hundred bytes,
 * which a fresh socket's send buffer always takes without blocking), a FIN,
 * a non-blocking drain of what the client already sent (so the close is a
 * FIN rather than a reset that could destroy the answer in flight), and a
 * close; then accept() reports EAGAIN, which civetweb's master thread takes
 * as "nothing to accept" and polls again.
 */
#include "cq_accept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CQ_ACCEPT_MAX_PORTS 8

struct cq_accept_s {
    int port;
    cq_peers_t *peers;
    cq_accept_answer_fn *answer;
    void *opaque;
    atomic_uint_fast64_t seen, refused;
};

static pthread_rwlock_t cq_accept_lock = PTHREAD_RWLOCK_INITIALIZER;
static cq_accept_t *cq_accept_ports[CQ_ACCEPT_MAX_PORTS];

cq_accept_t *cq_accept_register(int port, int slots, int per_peer, int reserve,
                                cq_accept_answer_fn *answer, void *opaque)
{
    cq_accept_t *reg = cq_calloc(1, sizeof(*reg));
    reg->port = port;
    reg->peers = cq_peers_new(slots, per_peer, reserve);
    reg->answer = answer;
    reg->opaque = opaque;
    atomic_init(&reg->seen, 0);
    atomic_init(&reg->refused, 0);
    bool placed = false;
    pthread_rwlock_wrlock(&cq_accept_lock);
    for (size_t i = 0; i < CQ_ACCEPT_MAX_PORTS && !placed; i++)
        if (!cq_accept_ports[i]) {
            cq_accept_ports[i] = reg;
            placed = true;
        }
    pthread_rwlock_unlock(&cq_accept_lock);
    if (!placed) {
        cq_peers_destroy(reg->peers);
        free(reg);
        return NULL;
    }
    return reg;
}

void cq_accept_unregister(cq_accept_t *reg)
{
    if (!reg)
        return;
    pthread_rwlock_wrlock(&cq_accept_lock);
    for (size_t i = 0; i < CQ_ACCEPT_MAX_PORTS; i++)
        if (cq_accept_ports[i] == reg)
            cq_accept_ports[i] = NULL;
    pthread_rwlock_unlock(&cq_accept_lock);
    cq_peers_destroy(reg->peers);
    free(reg);
}

/* The address as text, the same whichever side formats it: inet_ntop of
 * the binary address (an IPv6 scope is dropped). False for other families. */
static bool cq_accept_addr_text(const struct sockaddr_storage *sa, char *out, size_t size)
{
    if (sa->ss_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
                         (socklen_t)size) != NULL;
    if (sa->ss_family == AF_INET6)
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
                         (socklen_t)size) != NULL;
    return false;
}

/* civetweb's remote_addr, normalised as cq_accept_addr_text does. */
static bool cq_accept_normalise(const char *addr, char *out, size_t size)
{
    char copy[64];
    cq_strlcpy(copy, addr, sizeof(copy));
    copy[strcspn(copy, "%")] = '\0';
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, copy, &v4) == 1)
        return inet_ntop(AF_INET, &v4, out, (socklen_t)size) != NULL;
    if (inet_pton(AF_INET6, copy, &v6) == 1)
        return inet_ntop(AF_INET6, &v6, out, (socklen_t)size) != NULL;
    return false;
}

void cq_accept_leave(cq_accept_t *reg, const char *addr)
{
    char text[INET6_ADDRSTRLEN];
    if (reg && cq_accept_normalise(addr, text, sizeof(text)))
        cq_peers_leave(reg->peers, text);
}

uint64_t cq_accept_seen(cq_accept_t *reg)
{
    return atomic_load(&reg->seen);
}

uint64_t cq_accept_refused(cq_accept_t *reg)
{
    return atomic_load(&reg->refused);
}

static int cq_accept_local_port(int fd)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof(local);
    if (getsockname(fd, (struct sockaddr *)&local, &len) != 0)
        return -1;
    if (local.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&local)->sin_port);
    if (local.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&local)->sin6_port);
    return -1;
}

static void cq_accept_refuse(cq_accept_t *reg, int sock, cq_peers_verdict_t verdict)
{
    char answer[2048];
    reg->answer(reg->opaque, verdict, answer, sizeof(answer));
    (void)send(sock, answer, strlen(answer), MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(sock, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && recv(sock, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
    close(sock);
    atomic_fetch_add(&reg->refused, 1);
}

/* Takes the place of libc's accept() for every caller in the process. */
int accept(int fd, struct sockaddr *restrict addr, socklen_t *restrict addr_len)
{
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof(peer);
    int sock = (int)syscall(SYS_accept4, fd, (struct sockaddr *)&peer, &peer_len, 0);
    if (sock < 0)
        return sock;
    if (addr && addr_len) {
        memcpy(addr, &peer, *addr_len < peer_len ? *addr_len : peer_len);
        *addr_len = peer_len;
    }
    int port = -1;
    bool refused = false;
    pthread_rwlock_rdlock(&cq_accept_lock);
    for (size_t i = 0; i < CQ_ACCEPT_MAX_PORTS; i++) {
        cq_accept_t *reg = cq_accept_ports[i];
        if (!reg)
            continue;
        if (port < 0 && (port = cq_accept_local_port(sock)) < 0)
            break;
        if (reg->port != port)
            continue;
        atomic_fetch_add(&reg->seen, 1);
        char text[INET6_ADDRSTRLEN];
        if (!cq_accept_addr_text(&peer, text, sizeof(text)))
            break; /* not an IP connection: not counted, not refused */
        cq_peers_verdict_t verdict = cq_peers_enter(reg->peers, text);
        if (verdict != CQ_PEERS_ADMITTED) {
            cq_accept_refuse(reg, sock, verdict);
            refused = true;
        }
        break;
    }
    pthread_rwlock_unlock(&cq_accept_lock);
    if (refused) {
        errno = EAGAIN;
        return -1;
    }
    return sock;
}
