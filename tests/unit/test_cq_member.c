/*
 * Unit tests of cq_member: member slots on one host are distinct among live
 * processes and come back to a process that restarts, even after SIGKILL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cq_member.h"

static char dir[64];

static int setup(void **state)
{
    cq_strlcpy(dir, "/tmp/cq-kafka-test.XXXXXX", sizeof(dir));
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void expect_slot(const char *id, int slot)
{
    char host[256] = "";
    gethostname(host, sizeof(host));
    char want[300];
    snprintf(want, sizeof(want), "%s-%d", host, slot);
    assert_string_equal(id, want);
}

static void test_member_slots_are_distinct_and_reused(void **state)
{
    char a[300], b[300], c[300], err[256];
    int fa = cq_member_claim(dir, "coachq-alignment", a, sizeof(a), err, sizeof(err));
    int fb = cq_member_claim(dir, "coachq-alignment", b, sizeof(b), err, sizeof(err));
    assert_true(fa >= 0 && fb >= 0);
    expect_slot(a, 0);
    expect_slot(b, 1);
    /* Another group has its own slots. */
    int fo = cq_member_claim(dir, "coachq-operations", c, sizeof(c), err, sizeof(err));
    assert_true(fo >= 0);
    expect_slot(c, 0);
    close(fo);
    /* The lowest free slot is taken: a restarted member gets its id back. */
    close(fa);
    int fc = cq_member_claim(dir, "coachq-alignment", c, sizeof(c), err, sizeof(err));
    assert_true(fc >= 0);
    expect_slot(c, 0);
    close(fb);
    close(fc);
}

static void test_member_slot_of_killed_process_is_free(void **state)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char id[300], err[256];
        int fd = cq_member_claim(dir, "g", id, sizeof(id), err, sizeof(err));
        char ok = fd >= 0 ? 'y' : 'n';
        (void)!write(ready[1], &ok, 1);
        pause();
        _exit(0);
    }
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, 'y');
    char id[300], err[256];
    int fd = cq_member_claim(dir, "g", id, sizeof(id), err, sizeof(err));
    assert_true(fd >= 0);
    expect_slot(id, 1);
    close(fd);
    /* SIGKILL runs no code of the child: the kernel drops its lock. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fd = cq_member_claim(dir, "g", id, sizeof(id), err, sizeof(err));
    assert_true(fd >= 0);
    expect_slot(id, 0);
    close(fd);
    close(ready[0]);
    close(ready[1]);
}

static void test_member_claim_fails_when_slots_run_out(void **state)
{
    int fds[64];
    char id[300], err[256] = "";
    for (int i = 0; i < 64; i++) {
        fds[i] = cq_member_claim(dir, "full", id, sizeof(id), err, sizeof(err));
        assert_true(fds[i] >= 0);
    }
    expect_slot(id, 63);
    assert_int_equal(cq_member_claim(dir, "full", id, sizeof(id), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no free member slot"));
    for (int i = 0; i < 64; i++)
        close(fds[i]);
    /* A directory that is not there: no slot, an error, no crash. */
    assert_int_equal(cq_member_claim("/nonexistent/dir", "g", id, sizeof(id), err, sizeof(err)),
                     -1);
}

static void test_member_group_name_is_made_file_safe(void **state)
{
    char id[300], err[256], path[256];
    int fd = cq_member_claim(dir, "a/b c", id, sizeof(id), err, sizeof(err));
    assert_true(fd >= 0);
    snprintf(path, sizeof(path), "%s/coachq-member-a_b_c-0.lock", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_member_slots_are_distinct_and_reused),
        cmocka_unit_test(test_member_slot_of_killed_process_is_free),
        cmocka_unit_test(test_member_claim_fails_when_slots_run_out),
        cmocka_unit_test(test_member_group_name_is_made_file_safe),
    };
    return cmocka_run_group_tests_name("unit.cq_member", tests, setup, teardown);
}
