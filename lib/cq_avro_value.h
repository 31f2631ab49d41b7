/*
 * cq_avro_value.h — JSON <-> avro-c generic values along the node graph, and
 * the bounded check of untrusted bytes. Internal to the Avro codec: only
 * cq_avro*.c include it (the one header that names avro-c types, which never
 * leave the codec). Stateless; safe from any thread.
 */
#ifndef CQ_AVRO_VALUE_H
#define CQ_AVRO_VALUE_H

#include <avro.h>
#include <jansson.h>

#include "cq_avro_map.h"
#include "cq_common.h"
#include "cq_err.h"

/* One encode or decode: the JSON path being walked (for error messages) and
 * the first failure. */
typedef struct {
    char path[256];
    size_t path_len;
    bool quiet;   /* trying a union branch: record no message */
    bool failed;  /* a message was recorded */
    size_t items; /* array items encoded so far (CQ_AVRO_MAX_ITEMS) */
    cq_err_t err;
    char *errstr;
    size_t errstr_size;
} cq_avro_walk_t;

/* Starts a walk whose failures report err; clears errstr. */
void cq_avro_walk_init(cq_avro_walk_t *w, cq_err_t err, char *errstr, size_t errstr_size);
/* Appends a path segment (".name", "[3]"); returns the mark to pop back to. */
size_t cq_avro_walk_push(cq_avro_walk_t *w, const char *fmt, ...) CQ_PRINTF(2, 3);
void cq_avro_walk_pop(cq_avro_walk_t *w, size_t mark);
/* Records "path: message" unless quiet or already failed. */
void cq_avro_walk_note(cq_avro_walk_t *w, const char *fmt, ...) CQ_PRINTF(2, 3);
/* avro-c failed where our checks say it cannot: records INTERNAL_ERROR. */
void cq_avro_walk_note_avro(cq_avro_walk_t *w, int rc);

/* The two above as the walkers use them, `return cq_avro_walk_fail(...)`:
 * always false. A macro and an inline function, so that the "always false"
 * is visible where they are used (static analysis follows neither a call
 * into another file nor a variadic call). */
#define cq_avro_walk_fail(w, ...) (cq_avro_walk_note((w), __VA_ARGS__), false)

static inline bool cq_avro_walk_avro_fail(cq_avro_walk_t *w, int rc)
{
    cq_avro_walk_note_avro(w, rc);
    return false;
}

/* Returns false from the calling function when an avro-c call fails. */
#define CQ_AVRO_AV(w, call)                                                                        \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != 0)                                                                              \
            return cq_avro_walk_avro_fail((w), rc_);                                               \
    } while (0)

/* Whether s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool cq_avro_utf8_valid(const unsigned char *s, size_t len);

/* Walks untrusted bytes against root without allocating; false when they
 * are not one well-formed datum (see cq_avro_value.c). *trailing gets the
 * number of bytes left after it. */
bool cq_avro_value_skim(const cq_avro_node_t *root, const void *buf, size_t len, size_t *trailing);
/* Fills v (NULL: only checks) from JSON j along node. */
bool cq_avro_value_encode(cq_avro_walk_t *w, const cq_avro_node_t *node, json_t *j,
                          avro_value_t *v);
/* Builds *out (new reference; NULL on failure) from v along node. */
bool cq_avro_value_decode(cq_avro_walk_t *w, const cq_avro_node_t *node, avro_value_t *v,
                          json_t **out);
/* The UTF-8-checked bytes of a string value (valid while v lives). */
bool cq_avro_value_get_string(cq_avro_walk_t *w, avro_value_t *v, const char **s, size_t *len);

#endif
