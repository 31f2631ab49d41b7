/*
 * cq_bd_upstream.h — the upstream replies the business-data worker reads
 * (Account and Traction services) and their validation as untrusted input.
 *
 * Each source is one GET on one service: its path is configuration (the
 * key is in the table; the default is the path documented in
 * schemas/upstream/), its reply is described by a JSON Schema of what we
 * read (extra fields tolerated, types of read fields strict). A reply is
 * either usable (parsed, schema-valid, consistent) or unavailable with a
 * reason; never half-usable.
 */
#ifndef CQ_BD_UPSTREAM_H
#define CQ_BD_UPSTREAM_H

#include <jansson.h>

#include "cq_common.h"

/* Largest reply body accepted (a full list of actions is the biggest). */
#define CQ_BD_REPLY_MAX_BYTES ((size_t)1024 * 1024)
/* Deepest nesting accepted; the replies we read need at most 4. */
#define CQ_BD_REPLY_MAX_DEPTH 16
#define CQ_BD_REASON_SIZE     200

typedef enum {
    CQ_BD_SERVICE_ACCOUNT,
    CQ_BD_SERVICE_TRACTION,
} cq_bd_service_t;

typedef enum {
    CQ_BD_SRC_PROFILE,    /* account  GET /user/profile */
    CQ_BD_SRC_FOUNDATION, /* account  GET /business/foundation */
    CQ_BD_SRC_REVENUE,    /* account  GET /metrics/revenue */
    CQ_BD_SRC_CUSTOMERS,  /* account  GET /metrics/customers */
    CQ_BD_SRC_TEAM,       /* account  GET /metrics/team */
    CQ_BD_SRC_GOALS,      /* traction GET /goals/stats */
    CQ_BD_SRC_ACTIONS,    /* traction GET /operations/actions */
    CQ_BD_SRC_ISSUES,     /* traction GET /api/issues?status=open */
    CQ_BD_SRC_PEOPLE,     /* traction GET /people */
    CQ_BD_SRC_MEASURES,   /* traction GET /measures/summary */
    CQ_BD_SRC_COUNT
} cq_bd_source_id_t;

/* Which job reads a source: the business-data aggregate, or only the
 * insights-generate LLM prompt (context the figures do not carry). */
typedef enum {
    CQ_BD_USE_AGGREGATE,
    CQ_BD_USE_PROMPT,
} cq_bd_use_t;

typedef struct {
    const char *name; /* "account.revenue": logs, metrics, fake routes */
    cq_bd_service_t service;
    const char *path_key;     /* config key of its path, e.g. "upstream.account.revenue_path" */
    const char *default_path; /* path relative to the service's base URL, query included */
    const char *schema;       /* embedded schema file, "schemas/upstream/....json" */
    cq_bd_use_t use;
} cq_bd_source_t;

/* The table entry of a source (static data). */
const cq_bd_source_t *cq_bd_source(cq_bd_source_id_t id);
/* "account" or "traction". */
const char *cq_bd_service_name(cq_bd_service_t service);

typedef enum {
    CQ_BD_REPLY_MISSING = 0, /* not fetched (zero-initialised reply) */
    CQ_BD_REPLY_OK,
    CQ_BD_REPLY_UNAVAILABLE,
} cq_bd_reply_state_t;

/* The outcome of one source. Zero-initialise; cq_bd_reply_clear frees. */
typedef struct {
    cq_bd_reply_state_t state;
    json_t *data;                   /* OK only: the parsed body, owned by the reply */
    char reason[CQ_BD_REASON_SIZE]; /* UNAVAILABLE: why, for logs (no body text) */
} cq_bd_reply_t;

/* The compiled schemas of every source. Read-only once built: any thread. */
typedef struct cq_bd_upstream_s cq_bd_upstream_t;

/* Compiles every source's embedded schema. NULL and errstr when one is
 * missing or does not compile. Caller destroys. */
cq_bd_upstream_t *cq_bd_upstream_new(char *errstr, size_t errstr_size);
void cq_bd_upstream_destroy(cq_bd_upstream_t *upstream);

/* Validates the body of a 200 answer of source id into *reply (cleared
 * first): size at most CQ_BD_REPLY_MAX_BYTES, nesting at most
 * CQ_BD_REPLY_MAX_DEPTH, well-formed JSON without duplicate keys, valid
 * against the source's schema, and consistent (the checks a schema cannot
 * say: new <= total customers, a satisfaction score inside its scale, a
 * complete list of actions, open issues that are open). Any failure
 * leaves the reply UNAVAILABLE with a reason; body may be NULL (len 0).
 * Returns whether the reply is OK. Thread-safe. */
bool cq_bd_upstream_validate(const cq_bd_upstream_t *upstream, cq_bd_source_id_t id,
                             const char *body, size_t len, cq_bd_reply_t *reply);

/* The value of a schema-checked "integer" member: the schema accepts 2.0
 * as an integer, which json_integer_value would read as 0. 0 for anything
 * that is not a number. */
json_int_t cq_bd_json_int(const json_t *value);

/* Marks a reply UNAVAILABLE with a reason (transport failures: timeout,
 * status, reset), freeing data it held. */
void cq_bd_reply_unavailable(cq_bd_reply_t *reply, const char *fmt, ...) CQ_PRINTF(2, 3);

/* Frees the reply's data and resets it to MISSING. */
void cq_bd_reply_clear(cq_bd_reply_t *reply);

#endif
