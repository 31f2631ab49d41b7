/*
 * cq_avro_map.h — JSON Schema -> Avro mapping, internal to the Avro codec.
 * cq_avro_schema.c drives it to build the message schemas; the node graph it
 * makes tells cq_avro_value.c how each Avro type maps back to JSON (which
 * strings hold JSON text, which fields are optional, each field's JSON name).
 * Nodes are built once and read-only afterwards; no avro-c types here.
 */
#ifndef CQ_AVRO_MAP_H
#define CQ_AVRO_MAP_H

#include <jansson.h>

#include "cq_common.h"

typedef enum {
    CQ_AVRO_NULL,
    CQ_AVRO_BOOLEAN,
    CQ_AVRO_INT,
    CQ_AVRO_LONG,
    CQ_AVRO_DOUBLE,
    CQ_AVRO_STRING,
    CQ_AVRO_JSON_TEXT, /* Avro string holding any JSON value as compact JSON text */
    CQ_AVRO_ENUM,
    CQ_AVRO_ARRAY,
    CQ_AVRO_RECORD,
    CQ_AVRO_UNION,
} cq_avro_kind_t;

typedef struct cq_avro_node_s cq_avro_node_t;

typedef struct {
    char *name;      /* Avro field name */
    char *json_name; /* property name in JSON */
    cq_avro_node_t *type;
    bool optional; /* not required in JSON: absent <-> null (type is a union, null first) */
} cq_avro_field_t;

struct cq_avro_node_s {
    cq_avro_kind_t kind;
    char *name;   /* records and enums: short name (namespace io.coachq) */
    size_t count; /* fields, symbols or branches */
    cq_avro_field_t *fields;
    char **symbols;
    cq_avro_node_t **branches;
    cq_avro_node_t *items;
    json_t *konst;              /* STRING: the JSON Schema const, used to pick a union branch */
    bool wrapper;               /* RECORD whose one field "value" holds the whole JSON value */
    cq_avro_node_t *next_alloc; /* every node of a graph, for freeing */
};

/* Mapping state of one generated schema: the document, the name table (a
 * named type is defined once per schema, referred to by name after). */
typedef struct cq_avro_map_s cq_avro_map_t;

/* Starts mapping schemas of doc (borrowed); new nodes are linked on *nodes;
 * failures are written to errstr. Caller destroys (the nodes stay). */
cq_avro_map_t *cq_avro_map_new(json_t *doc, cq_avro_node_t **nodes, char *errstr,
                               size_t errstr_size);
/* Frees the mapping state (not the nodes); NULL is a no-op. */
void cq_avro_map_destroy(cq_avro_map_t *map);
/* Writes a failure message into the map's errstr. */
void cq_avro_map_fail(cq_avro_map_t *map, const char *fmt, ...) CQ_PRINTF(2, 3);
/* Maps one JSON Schema: *node and *avro (new reference) on success. ctx is
 * the name a record or enum gets when not reached through a component $ref;
 * where names the schema in error messages. */
bool cq_avro_map_schema(cq_avro_map_t *map, json_t *schema, const char *ctx, const char *where,
                        cq_avro_node_t **node, json_t **avro);
/* Follows $ref chains; *component (caller frees) gets the last
 * "#/components/schemas/NAME" crossed, as an Avro name. NULL on a bad ref. */
json_t *cq_avro_map_resolve(cq_avro_map_t *map, json_t *schema, const char *where,
                            char **component);
/* A new node of the graph. */
cq_avro_node_t *cq_avro_map_node(cq_avro_map_t *map, cq_avro_kind_t kind);
/* Makes the node and its Avro JSON ["null", T] unless it already starts with null. */
void cq_avro_map_nullable(cq_avro_map_t *map, cq_avro_node_t **node, json_t **avro);
/* Named types: 1 = name known for src (*node set, *avro = the name),
 * 0 = unknown, -1 = the name stands for another schema (errstr set). */
int cq_avro_map_name_lookup(cq_avro_map_t *map, const char *name, const void *src,
                            cq_avro_node_t **node, json_t **avro);
/* Records that name stands for src (any unique address) and node. */
void cq_avro_map_name_add(cq_avro_map_t *map, const char *name, const void *src,
                          cq_avro_node_t *node);
/* An Avro enum of the strings in values, documented by schema's description. */
bool cq_avro_map_enum(cq_avro_map_t *map, json_t *schema, json_t *values, const char *name,
                      cq_avro_node_t **node, json_t **avro);
/* "due_date" -> "DueDate". Caller frees. */
char *cq_avro_map_pascal(const char *s);
/* The "doc" of a field: description plus a note when type holds JSON text;
 * NULL when both are absent. New reference. */
json_t *cq_avro_map_doc(const char *description, const cq_avro_node_t *type);
/* Frees a node list built through cq_avro_map_node(). */
void cq_avro_nodes_free(cq_avro_node_t *nodes);

#endif
