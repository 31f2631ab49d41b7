/*
 * cq_schema_int.h — private to the schema module (cq_schema.c compiles,
 * cq_schema_validate.c validates, cq_schema_copy.c inlines): the compiled
 * node and the helpers they share. Not for other modules.
 */
#ifndef CQ_SCHEMA_INT_H
#define CQ_SCHEMA_INT_H

#include "cq_regex.h"
#include "cq_schema.h"

#include <stdint.h>

#define CQ_SCHEMA_MAX_COMPILE_DEPTH 128
#define CQ_SCHEMA_MAX_FRAMES        512 /* validation recursion of every kind */

/* JSON types as a bit set; "integer" values also carry NUMBER. */
enum {
    CQ_SCHEMA_T_OBJECT = 1 << 0,
    CQ_SCHEMA_T_ARRAY = 1 << 1,
    CQ_SCHEMA_T_STRING = 1 << 2,
    CQ_SCHEMA_T_INTEGER = 1 << 3,
    CQ_SCHEMA_T_NUMBER = 1 << 4,
    CQ_SCHEMA_T_BOOLEAN = 1 << 5,
    CQ_SCHEMA_T_NULL = 1 << 6,
    CQ_SCHEMA_T_ALL = (1 << 7) - 1,
};

typedef struct {
    const char *name;   /* "string" */
    const char *phrase; /* "a string" */
    unsigned bit;
} cq_schema_type_name_t;

#define CQ_SCHEMA_NTYPES 7
extern const cq_schema_type_name_t cq_schema_type_names[CQ_SCHEMA_NTYPES];

typedef struct {
    const char *name;
    bool (*check)(const char *s, size_t len);
    const char *message;
} cq_schema_format_t;

typedef struct cq_schema_node_s cq_schema_node_t;

typedef struct {
    cq_schema_node_t **items;
    size_t count;
} cq_schema_list_t;

typedef struct {
    const char *name; /* borrowed from the document */
    size_t name_len;
    cq_schema_node_t *node;
} cq_schema_prop_t;

/* One compiled schema object. JSON values are borrowed from the document,
 * which the cq_schema_t keeps a reference to. */
struct cq_schema_node_s {
    int boolean;    /* -1: an object schema; 0: false; 1: true */
    unsigned types; /* 0: any */
    cq_schema_prop_t *props;
    size_t nprops;
    const json_t *props_json; /* membership test for additionalProperties */
    const json_t *required;   /* array of strings */
    cq_schema_node_t *additional, *items, *ref, *not_schema;
    const json_t *enum_values, *const_value;
    char *enum_text, *const_text; /* for messages */
    const json_t *minimum, *maximum, *exclusive_minimum, *exclusive_maximum;
    json_int_t min_length, max_length, min_items, max_items, min_props, max_props; /* -1: unset */
    bool unique_items;
    cq_regex_t *pattern;
    const cq_schema_format_t *format;
    cq_schema_list_t all_of, any_of, one_of;
    char *where; /* JSON Pointer of the schema in the document */
    int mark;    /* compile-time cycle check: 0 unseen, 1 on the walk, 2 done */
};

struct cq_schema_s {
    json_t *root;
    cq_schema_node_t *entry;
    cq_schema_node_t **nodes; /* owns every node */
    size_t nnodes, nodes_cap;
    struct cq_schema_slot_s {
        const json_t *json;
        cq_schema_node_t *node;
    } * map; /* open addressing: schema object address -> node */
    size_t map_cap;
};

/* Whether a keyword is an annotation that validation ignores. */
bool cq_schema_is_annotation(const char *key);

/* Length of a key obtained from json_object_foreach (keys may hold NUL). */
size_t cq_schema_key_len(const char *key);

/* Appends "/" and the escaped token (n bytes; NUL shown as U+FFFD) to the
 * growable string *buf of *len bytes and *cap capacity. */
void cq_schema_pointer_put(char **buf, size_t *len, size_t *cap, const char *token, size_t n);

/* Resolves a local "$ref" inside root; *pointer_out gets the decoded JSON
 * Pointer (caller frees). NULL and errstr when not local or dangling. */
json_t *cq_schema_ref_resolve(json_t *root, const char *ref, char **pointer_out, char *errstr,
                              size_t errstr_size);

#endif
