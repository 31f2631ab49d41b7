/*
 * cq_member.h — which member of its consumer group a worker is on this host:
 * a stable id for static membership (group.instance.id) that two live
 * workers of one host never share.
 */
#ifndef CQ_MEMBER_H
#define CQ_MEMBER_H

#include "cq_common.h"

/* Claims the lowest free member slot n (0..63) of `group` on this host: an
 * exclusive flock(2) on <lock_dir>/coachq-member-<group>-<n>.lock, which the
 * kernel drops when the process ends, however it ends. Writes
 * "<hostname>-<n>" to id and returns the descriptor holding the claim
 * (close it to give the slot up), or -1 with errstr when every slot is taken
 * or the directory is unusable. */
int cq_member_claim(const char *lock_dir, const char *group, char *id, size_t id_size, char *errstr,
                    size_t errstr_size);

#endif
