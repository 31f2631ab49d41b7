/*
 * cq_member.c — host-wide member slots for static group membership (see
 * cq_member.h).
 *
 * A slot is an exclusive flock(2) on a file named after the group and the
 * slot number. The kernel drops the lock when its process ends, however it
 * ends (SIGKILL included), so a worker that crashed leaves its slot free for
 * its restart, and two live processes never hold the same slot. The files
 * stay behind, empty; removing them would race with a new claimant.
 */
#include "cq_member.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int cq_member_claim(const char *lock_dir, const char *group, char *id, size_t id_size, char *errstr,
                    size_t errstr_size)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host)) != 0 || !host[0])
        cq_strlcpy(host, "localhost", sizeof(host));
    host[sizeof(host) - 1] = '\0';
    /* A group id may hold any character; a file name may not. */
    char name[160];
    size_t n = 0;
    for (const char *c = group; *c && n + 1 < sizeof(name); c++, n++)
        name[n] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                                 (*c >= '0' && *c <= '9') || *c == '.' || *c == '-'
                             ? *c
                             : '_');
    name[n] = '\0';
    int last_errno = 0;
    for (int slot = 0; slot < 64; slot++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/coachq-member-%s-%d.lock", lock_dir, name, slot);
        /* Read-only is enough for flock, and works on a file another user made. */
        int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            snprintf(id, id_size, "%s-%d", host, slot);
            return fd;
        }
        last_errno = errno;
        close(fd);
    }
    cq_errstr_set(errstr, errstr_size, "no free member slot for group %s in %s (%s)", group,
                  lock_dir, strerror(last_errno));
    return -1;
}
