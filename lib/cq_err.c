/*
 * cq_err.c — the error table (see cq_err.h). Read-only data; thread-safe.
 */
#include "cq_err.h"

#include <string.h>

static const struct {
    const char *name;
    int status;
    bool retriable;
    const char *desc;
} cq_err_tab[] = {
#define CQ_ERR_ROW(name, status, retriable, desc) {#name, status, retriable, desc},
    CQ_ERR_TABLE(CQ_ERR_ROW)
#undef CQ_ERR_ROW
};

static int cq_err_valid(cq_err_t err)
{
    return (int)err >= 0 && err < CQ_ERR__COUNT;
}

const char *cq_err_name(cq_err_t err)
{
    return cq_err_valid(err) ? cq_err_tab[err].name : "INTERNAL_ERROR";
}

const char *cq_err_desc(cq_err_t err)
{
    return cq_err_valid(err) ? cq_err_tab[err].desc : cq_err_tab[CQ_ERR_INTERNAL_ERROR].desc;
}

int cq_err_http_status(cq_err_t err)
{
    return cq_err_valid(err) ? cq_err_tab[err].status : 500;
}

bool cq_err_retriable(cq_err_t err)
{
    return cq_err_valid(err) && cq_err_tab[err].retriable;
}

cq_err_t cq_err_from_name(const char *name)
{
    for (int i = 0; name && i < CQ_ERR__COUNT; i++)
        if (strcmp(cq_err_tab[i].name, name) == 0)
            return (cq_err_t)i;
    return CQ_ERR_INTERNAL_ERROR;
}
