/* placeholder */ typedef int cq_placeholder_t;
