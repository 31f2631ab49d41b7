/*
 * cq_embedded.c — lookup in the table cmake/embed.cmake generates.
 */
#include "cq_embedded.h"

#include <string.h>

struct cq_embedded_file {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct cq_embedded_file cq_embedded_files[];

const char *cq_embedded_get(const char *name, size_t *len)
{
    for (const struct cq_embedded_file *f = cq_embedded_files; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            if (len)
                *len = f->len;
            return f->data;
        }
    }
    return NULL;
}
