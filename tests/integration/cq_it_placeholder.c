/*
 * cq_it_placeholder.c — TEMPORARY, branch h/store only: CMake builds the
 * library coachq_it from tests/integration/cq_it*.c and needs at least one
 * source. Delete it when the real integration support lands.
 */
int cq_it_placeholder(void);

int cq_it_placeholder(void)
{
    return 0;
}
