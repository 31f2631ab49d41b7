/*
 * cq_avro.c — Avro binary codec of coachq's Kafka messages on top of avro-c.
 *
 * cq_avro_new() generates the schemas from the OpenAPI document
 * (cq_avro_schema.c; the JSON Schema -> Avro rules are in cq_avro_map.c),
 * has avro-c parse them and builds one generic value class per schema.
 * Encoding fills a fresh avro-c generic value from the struct and its JSON
 * (cq_avro_value.c) and writes it into a buffer sized by avro_value_sizeof();
 * payload/result take the union branch of their operation. Decoding refuses
 * messages over CQ_AVRO_MAX_MESSAGE, runs the bounded byte check
 * (cq_avro_value_skim(): avro-c 1.11.1 allocates whatever length a message
 * claims, 2 GiB for a 2^31 string, and accepts out-of-range enum indexes)
 * and rejects trailing bytes before avro_value_read() sees anything, then
 * turns the value back into the struct and JSON. Every decoding failure is
 * CQ_ERR_UNDECODABLE_MESSAGE; encoding failures are CQ_ERR_VALIDATION_ERROR
 * (the JSON does not fit: errstr has the JSON path) or CQ_ERR_UNKNOWN_OPERATION.
 *
 * Threads. The gateway encodes from hundreds of threads with one cq_avro_t.
 * After cq_avro_new() everything here is read-only: the node graphs, the
 * schemas, and the generic value classes, which each call only uses to make
 * its own value instance (avro_generic_value_new), reader and writer. The
 * only shared writes are reference counts, and Debian's libavro.so.23
 * (1.11.1) is built with the GCC __sync builtins for them (lock-prefixed
 * add/sub in avro_schema_incref/decref and the generic class increfs; the
 * AVRO_NON_ATOMIC_REFCOUNT variant is not used), so no mutex is needed.
 * avro-c keeps its last error message in a process-wide static buffer (not
 * thread-local): we read avro_strerror() only in cq_avro_new(), and the
 * checks above keep avro-c off its error paths, so it is not written
 * concurrently either; an unexpected avro-c failure is reported by errno.
 */
#include "cq_avro.h"

#include <avro.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cq_avro_schema.h"
#include "cq_avro_value.h"

typedef struct {
    avro_schema_t schema;
    avro_value_iface_t *iface;
} cq_avro_class_t;

struct cq_avro_s {
    cq_avro_schema_t *gen;
    cq_avro_class_t envelope, result;
};

/* ---- construction ----------------------------------------------------- */

static bool class_init(cq_avro_class_t *cls, const json_t *json, const char *what, char *errstr,
                       size_t errstr_size)
{
    char *text = json_dumps(json, JSON_COMPACT);
    int rc = text ? avro_schema_from_json_length(text, strlen(text), &cls->schema) : EINVAL;
    free(text);
    if (rc != 0) {
        cq_errstr_set(errstr, errstr_size, "avro-c rejects the generated %s schema: %s", what,
                      avro_strerror());
        cls->schema = NULL;
        return false;
    }
    cls->iface = avro_generic_class_from_schema(cls->schema);
    if (!cls->iface) {
        cq_errstr_set(errstr, errstr_size, "avro-c cannot build a value class for %s: %s", what,
                      avro_strerror());
        return false;
    }
    return true;
}

static void class_term(cq_avro_class_t *cls)
{
    if (cls->iface)
        avro_value_iface_decref(cls->iface);
    if (cls->schema)
        avro_schema_decref(cls->schema);
}

cq_avro_t *cq_avro_new(json_t *openapi, char *errstr, size_t errstr_size)
{
    cq_avro_t *avro = cq_calloc(1, sizeof(*avro));
    avro->gen = cq_avro_schema_new(openapi, errstr, errstr_size);
    if (!avro->gen ||
        !class_init(&avro->envelope, avro->gen->envelope.json, "JobEnvelope", errstr,
                    errstr_size) ||
        !class_init(&avro->result, avro->gen->result.json, "JobResult", errstr, errstr_size)) {
        cq_avro_destroy(avro);
        return NULL;
    }
    return avro;
}

void cq_avro_destroy(cq_avro_t *avro)
{
    if (!avro)
        return;
    class_term(&avro->envelope);
    class_term(&avro->result);
    cq_avro_schema_destroy(avro->gen);
    free(avro);
}

static const cq_avro_gen_schema_t *gen_schema_named(const cq_avro_t *avro, const char *record)
{
    if (!avro || !record)
        return NULL;
    if (strcmp(record, "JobEnvelope") == 0)
        return &avro->gen->envelope;
    if (strcmp(record, "JobResult") == 0)
        return &avro->gen->result;
    return NULL;
}

json_t *cq_avro_schema_json(const cq_avro_t *avro, const char *record)
{
    const cq_avro_gen_schema_t *gs = gen_schema_named(avro, record);
    return gs ? gs->json : NULL;
}

const char *cq_avro_fingerprint(const cq_avro_t *avro, const char *record)
{
    const cq_avro_gen_schema_t *gs = gen_schema_named(avro, record);
    return gs ? gs->fingerprint : NULL;
}

void cq_job_envelope_clear(cq_job_envelope_t *env)
{
    if (!env)
        return;
    free(env->job_id);
    free(env->tenant_id);
    free(env->user_id);
    free(env->operation);
    free(env->reply_to);
    free(env->trace_parent);
    free(env->batch_id);
    free(env->custom_id);
    free(env->authorization);
    json_decref(env->payload);
    memset(env, 0, sizeof(*env));
}

void cq_job_result_msg_clear(cq_job_result_msg_t *msg)
{
    if (!msg)
        return;
    free(msg->job_id);
    free(msg->tenant_id);
    free(msg->user_id);
    free(msg->operation);
    free(msg->status);
    json_decref(msg->engine);
    json_decref(msg->result);
    free(msg->error_code);
    free(msg->error_message);
    free(msg->batch_id);
    free(msg->custom_id);
    memset(msg, 0, sizeof(*msg));
}

/* ---- top-level records ------------------------------------------------ */

static bool field(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, avro_value_t *child)
{
    CQ_AVRO_AV(w, avro_value_get_by_index(rec, idx, child, NULL));
    return true;
}

/* Selects branch 0 (null) when absent, else branch 1 into *child. */
static bool put_nullable(cq_avro_walk_t *w, avro_value_t *child, bool present)
{
    avro_value_t branch;
    CQ_AVRO_AV(w, avro_value_set_branch(child, present ? 1 : 0, &branch));
    if (!present)
        CQ_AVRO_AV(w, avro_value_set_null(&branch));
    *child = branch;
    return true;
}

static bool put_string(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, const char *name,
                       const char *s, bool nullable)
{
    avro_value_t child;
    if (!s && !nullable)
        return cq_avro_walk_fail(w, "%s is required", name);
    if (s && !cq_avro_utf8_valid((const unsigned char *)s, strlen(s)))
        return cq_avro_walk_fail(w, "%s is not valid UTF-8", name);
    if (!field(w, rec, idx, &child) || (nullable && !put_nullable(w, &child, s != NULL)))
        return false;
    if (s)
        CQ_AVRO_AV(w, avro_value_set_string(&child, s));
    return true;
}

static bool put_long(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, int64_t n, bool zero_is_null)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child) || (zero_is_null && !put_nullable(w, &child, n != 0)))
        return false;
    if (!zero_is_null || n != 0)
        CQ_AVRO_AV(w, avro_value_set_long(&child, n));
    return true;
}

static bool put_int(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, int32_t n)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child))
        return false;
    CQ_AVRO_AV(w, avro_value_set_int(&child, n));
    return true;
}

/* payload/result: the branch comes from the operation, not from the value. */
static bool put_op_value(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, const cq_avro_node_t *u,
                         int branch, json_t *j, const char *name)
{
    avro_value_t child, b;
    if (!field(w, rec, idx, &child))
        return false;
    if (!j) {
        CQ_AVRO_AV(w, avro_value_set_branch(&child, 0, &b));
        CQ_AVRO_AV(w, avro_value_set_null(&b));
        return true;
    }
    CQ_AVRO_AV(w, avro_value_set_branch(&child, branch, &b));
    size_t mark = cq_avro_walk_push(w, "%s", name);
    bool ok = cq_avro_value_encode(w, u->branches[branch], j, &b);
    cq_avro_walk_pop(w, mark);
    return ok;
}

static bool put_json(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, const cq_avro_node_t *type,
                     json_t *j, const char *name)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child))
        return false;
    size_t mark = cq_avro_walk_push(w, "%s", name);
    bool ok = cq_avro_value_encode(w, type, j ? j : json_null(), &child);
    cq_avro_walk_pop(w, mark);
    return ok;
}

static bool write_message(cq_avro_walk_t *w, avro_value_t *rec, void **buf, size_t *len)
{
    size_t size = 0;
    CQ_AVRO_AV(w, avro_value_sizeof(rec, &size));
    if (size > CQ_AVRO_MAX_MESSAGE)
        return cq_avro_walk_fail(w, "the message would be %zu bytes, over the %zu-byte limit", size,
                                 CQ_AVRO_MAX_MESSAGE);
    char *out = cq_malloc(size);
    avro_writer_t writer = avro_writer_memory(out, (int64_t)size);
    int rc = writer ? avro_value_write(writer, rec) : ENOMEM;
    if (writer)
        avro_writer_free(writer);
    if (rc) {
        free(out);
        return cq_avro_walk_avro_fail(w, rc);
    }
    *buf = out;
    *len = size;
    return true;
}

/* Checks the bytes, then lets avro-c read them into *rec (caller decrefs). */
static bool read_message(cq_avro_walk_t *w, const cq_avro_class_t *cls, const cq_avro_node_t *root,
                         const void *buf, size_t len, avro_value_t *rec)
{
    if (len > CQ_AVRO_MAX_MESSAGE)
        return cq_avro_walk_fail(w, "message of %zu bytes is over the %zu-byte limit", len,
                                 CQ_AVRO_MAX_MESSAGE);
    if (!buf || len == 0)
        return cq_avro_walk_fail(w, "empty message");
    size_t trailing = 0;
    if (!cq_avro_value_skim(root, buf, len, &trailing))
        return cq_avro_walk_fail(w, "not a valid %s (truncated, corrupt or another schema)",
                                 root->name);
    if (trailing)
        return cq_avro_walk_fail(w, "%zu trailing bytes after the %s", trailing, root->name);
    CQ_AVRO_AV(w, avro_generic_value_new(cls->iface, rec));
    avro_reader_t reader = avro_reader_memory(buf, (int64_t)len);
    int rc = reader ? avro_value_read(reader, rec) : ENOMEM;
    if (reader)
        avro_reader_free(reader);
    if (rc) {
        avro_value_decref(rec);
        return cq_avro_walk_avro_fail(w, rc);
    }
    return true;
}

static bool get_nullable(cq_avro_walk_t *w, avro_value_t *child, bool *present)
{
    int d;
    avro_value_t branch;
    CQ_AVRO_AV(w, avro_value_get_discriminant(child, &d));
    *present = d != 0;
    if (*present) {
        CQ_AVRO_AV(w, avro_value_get_current_branch(child, &branch));
        *child = branch;
    }
    return true;
}

static bool get_string(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, const char *name,
                       char **out, bool nullable)
{
    avro_value_t child;
    bool present = true;
    const char *s;
    size_t len;
    if (!field(w, rec, idx, &child) || (nullable && !get_nullable(w, &child, &present)))
        return false;
    if (!present)
        return true;
    size_t mark = cq_avro_walk_push(w, "%s", name);
    bool ok = cq_avro_value_get_string(w, &child, &s, &len) &&
              (!memchr(s, '\0', len) || cq_avro_walk_fail(w, "contains a NUL byte"));
    cq_avro_walk_pop(w, mark);
    if (ok)
        *out = cq_strndup(s, len);
    return ok;
}

static bool get_long(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, int64_t *out, bool nullable)
{
    avro_value_t child;
    bool present = true;
    if (!field(w, rec, idx, &child) || (nullable && !get_nullable(w, &child, &present)))
        return false;
    if (present)
        CQ_AVRO_AV(w, avro_value_get_long(&child, out));
    return true;
}

static bool get_int(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, int32_t *out)
{
    avro_value_t child;
    if (!field(w, rec, idx, &child))
        return false;
    CQ_AVRO_AV(w, avro_value_get_int(&child, out));
    return true;
}

/* payload/result: the branch must be the one of the operation when the
 * operation is known; an unknown operation may only come with null. */
static bool get_op_value(cq_avro_walk_t *w, avro_value_t *rec, size_t idx, const cq_avro_node_t *u,
                         const cq_avro_op_t *op, bool result, const char *opname, json_t **out)
{
    avro_value_t child;
    int d;
    if (!field(w, rec, idx, &child))
        return false;
    CQ_AVRO_AV(w, avro_value_get_discriminant(&child, &d));
    int want = op ? (result ? op->result_branch : op->request_branch) : 0;
    if (d != 0 && d != want)
        return cq_avro_walk_fail(w, "%s record %s does not belong to operation \"%s\"",
                                 result ? "result" : "payload", u->branches[d]->name, opname);
    if (!result && d == 0 && want != 0)
        return cq_avro_walk_fail(w, "operation \"%s\" needs a payload", opname);
    size_t mark = cq_avro_walk_push(w, "%s", result ? "result" : "payload");
    bool ok = cq_avro_value_decode(w, u, &child, out);
    cq_avro_walk_pop(w, mark);
    if (ok && json_is_null(*out)) {
        json_decref(*out);
        *out = NULL;
    }
    return ok;
}

cq_err_t cq_avro_envelope_encode(cq_avro_t *avro, const cq_job_envelope_t *env, void **buf,
                                 size_t *len, char *errstr, size_t errstr_size)
{
    cq_avro_walk_t w;
    avro_value_t rec;
    const cq_avro_node_t *root = avro->gen->envelope.root;
    cq_avro_walk_init(&w, CQ_ERR_VALIDATION_ERROR, errstr, errstr_size);
    *buf = NULL;
    *len = 0;
    const cq_avro_op_t *op = cq_avro_schema_op(avro->gen, env->operation);
    if (!op) {
        cq_errstr_set(errstr, errstr_size, "unknown operation \"%s\"",
                      env->operation ? env->operation : "(null)");
        return CQ_ERR_UNKNOWN_OPERATION;
    }
    if (!env->payload != !op->request_branch) {
        cq_errstr_set(errstr, errstr_size, "operation \"%s\" %s", op->name,
                      op->request_branch ? "needs a payload" : "takes no payload");
        return CQ_ERR_VALIDATION_ERROR;
    }
    if (avro_generic_value_new(avro->envelope.iface, &rec) != 0) {
        cq_errstr_set(errstr, errstr_size, "avro-c cannot make a value");
        return CQ_ERR_INTERNAL_ERROR;
    }
    bool ok =
        put_string(&w, &rec, CQ_AVRO_ENV_JOB_ID, "jobId", env->job_id, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_TENANT_ID, "tenantId", env->tenant_id, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_USER_ID, "userId", env->user_id, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_OPERATION, "operation", env->operation, false) &&
        put_int(&w, &rec, CQ_AVRO_ENV_ATTEMPT, env->attempt) &&
        put_long(&w, &rec, CQ_AVRO_ENV_CREATED_AT, env->created_at, false) &&
        put_long(&w, &rec, CQ_AVRO_ENV_DEADLINE, env->deadline, false) &&
        put_string(&w, &rec, CQ_AVRO_ENV_REPLY_TO, "replyTo", env->reply_to, true) &&
        put_string(&w, &rec, CQ_AVRO_ENV_TRACE_PARENT, "traceParent", env->trace_parent, true) &&
        put_string(&w, &rec, CQ_AVRO_ENV_BATCH_ID, "batchId", env->batch_id, true) &&
        put_string(&w, &rec, CQ_AVRO_ENV_CUSTOM_ID, "customId", env->custom_id, true) &&
        put_op_value(&w, &rec, CQ_AVRO_ENV_PAYLOAD, root->fields[CQ_AVRO_ENV_PAYLOAD].type,
                     op->request_branch, env->payload, "payload") &&
        put_string(&w, &rec, CQ_AVRO_ENV_AUTHORIZATION, "authorization", env->authorization,
                   true) &&
        write_message(&w, &rec, buf, len);
    avro_value_decref(&rec);
    return ok ? CQ_ERR_OK : w.err;
}

cq_err_t cq_avro_envelope_decode(cq_avro_t *avro, const void *buf, size_t len,
                                 cq_job_envelope_t *env, char *errstr, size_t errstr_size)
{
    cq_avro_walk_t w;
    avro_value_t rec;
    const cq_avro_node_t *root = avro->gen->envelope.root;
    cq_avro_walk_init(&w, CQ_ERR_UNDECODABLE_MESSAGE, errstr, errstr_size);
    memset(env, 0, sizeof(*env));
    if (!read_message(&w, &avro->envelope, root, buf, len, &rec))
        return CQ_ERR_UNDECODABLE_MESSAGE;
    bool ok =
        get_string(&w, &rec, CQ_AVRO_ENV_JOB_ID, "jobId", &env->job_id, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_TENANT_ID, "tenantId", &env->tenant_id, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_USER_ID, "userId", &env->user_id, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_OPERATION, "operation", &env->operation, false) &&
        get_int(&w, &rec, CQ_AVRO_ENV_ATTEMPT, &env->attempt) &&
        get_long(&w, &rec, CQ_AVRO_ENV_CREATED_AT, &env->created_at, false) &&
        get_long(&w, &rec, CQ_AVRO_ENV_DEADLINE, &env->deadline, false) &&
        get_string(&w, &rec, CQ_AVRO_ENV_REPLY_TO, "replyTo", &env->reply_to, true) &&
        get_string(&w, &rec, CQ_AVRO_ENV_TRACE_PARENT, "traceParent", &env->trace_parent, true) &&
        get_string(&w, &rec, CQ_AVRO_ENV_BATCH_ID, "batchId", &env->batch_id, true) &&
        get_string(&w, &rec, CQ_AVRO_ENV_CUSTOM_ID, "customId", &env->custom_id, true) &&
        get_op_value(&w, &rec, CQ_AVRO_ENV_PAYLOAD, root->fields[CQ_AVRO_ENV_PAYLOAD].type,
                     cq_avro_schema_op(avro->gen, env->operation), false, env->operation,
                     &env->payload) &&
        get_string(&w, &rec, CQ_AVRO_ENV_AUTHORIZATION, "authorization", &env->authorization, true);
    avro_value_decref(&rec);
    if (!ok) {
        cq_job_envelope_clear(env);
        return CQ_ERR_UNDECODABLE_MESSAGE;
    }
    return CQ_ERR_OK;
}

static bool put_status(cq_avro_walk_t *w, avro_value_t *rec, const cq_avro_node_t *type,
                       const char *s)
{
    avro_value_t child;
    for (size_t i = 0; s && i < type->count; i++) {
        if (strcmp(type->symbols[i], s) == 0) {
            if (!field(w, rec, CQ_AVRO_RES_STATUS, &child))
                return false;
            CQ_AVRO_AV(w, avro_value_set_enum(&child, (int)i));
            return true;
        }
    }
    return cq_avro_walk_fail(w, "status must be succeeded, failed or cancelled");
}

static bool put_error(cq_avro_walk_t *w, avro_value_t *rec, const cq_job_result_msg_t *msg)
{
    avro_value_t child;
    if (!field(w, rec, CQ_AVRO_RES_ERROR, &child) ||
        !put_nullable(w, &child, msg->error_code != NULL))
        return false;
    return !msg->error_code || (put_string(w, &child, 0, "error.code", msg->error_code, false) &&
                                put_string(w, &child, 1, "error.message",
                                           msg->error_message ? msg->error_message : "", false));
}

static bool get_error(cq_avro_walk_t *w, avro_value_t *rec, cq_job_result_msg_t *msg)
{
    avro_value_t child;
    bool present;
    if (!field(w, rec, CQ_AVRO_RES_ERROR, &child) || !get_nullable(w, &child, &present))
        return false;
    return !present || (get_string(w, &child, 0, "error.code", &msg->error_code, false) &&
                        get_string(w, &child, 1, "error.message", &msg->error_message, false));
}

cq_err_t cq_avro_result_encode(cq_avro_t *avro, const cq_job_result_msg_t *msg, void **buf,
                               size_t *len, char *errstr, size_t errstr_size)
{
    cq_avro_walk_t w;
    avro_value_t rec;
    const cq_avro_node_t *root = avro->gen->result.root;
    cq_avro_walk_init(&w, CQ_ERR_VALIDATION_ERROR, errstr, errstr_size);
    *buf = NULL;
    *len = 0;
    /* A worker reports jobs of operations it does not know as failed, with no result. */
    const cq_avro_op_t *op = cq_avro_schema_op(avro->gen, msg->operation);
    if (msg->result && !op) {
        cq_errstr_set(errstr, errstr_size, "unknown operation \"%s\"",
                      msg->operation ? msg->operation : "(null)");
        return CQ_ERR_UNKNOWN_OPERATION;
    }
    if (msg->result && !op->result_branch) {
        cq_errstr_set(errstr, errstr_size, "operation \"%s\" has no result", op->name);
        return CQ_ERR_VALIDATION_ERROR;
    }
    if (avro_generic_value_new(avro->result.iface, &rec) != 0) {
        cq_errstr_set(errstr, errstr_size, "avro-c cannot make a value");
        return CQ_ERR_INTERNAL_ERROR;
    }
    bool ok = put_string(&w, &rec, CQ_AVRO_RES_JOB_ID, "jobId", msg->job_id, false) &&
              put_string(&w, &rec, CQ_AVRO_RES_TENANT_ID, "tenantId", msg->tenant_id, false) &&
              put_string(&w, &rec, CQ_AVRO_RES_USER_ID, "userId", msg->user_id, false) &&
              put_string(&w, &rec, CQ_AVRO_RES_OPERATION, "operation", msg->operation, false) &&
              put_status(&w, &rec, root->fields[CQ_AVRO_RES_STATUS].type, msg->status) &&
              put_int(&w, &rec, CQ_AVRO_RES_ATTEMPTS, msg->attempts) &&
              put_long(&w, &rec, CQ_AVRO_RES_CREATED_AT, msg->created_at, false) &&
              put_long(&w, &rec, CQ_AVRO_RES_STARTED_AT, msg->started_at, true) &&
              put_long(&w, &rec, CQ_AVRO_RES_FINISHED_AT, msg->finished_at, false) &&
              put_json(&w, &rec, CQ_AVRO_RES_ENGINE, root->fields[CQ_AVRO_RES_ENGINE].type,
                       msg->engine, "engine") &&
              put_op_value(&w, &rec, CQ_AVRO_RES_RESULT, root->fields[CQ_AVRO_RES_RESULT].type,
                           op ? op->result_branch : 0, msg->result, "result") &&
              put_error(&w, &rec, msg) &&
              put_string(&w, &rec, CQ_AVRO_RES_BATCH_ID, "batchId", msg->batch_id, true) &&
              put_string(&w, &rec, CQ_AVRO_RES_CUSTOM_ID, "customId", msg->custom_id, true) &&
              write_message(&w, &rec, buf, len);
    avro_value_decref(&rec);
    return ok ? CQ_ERR_OK : w.err;
}

cq_err_t cq_avro_result_decode(cq_avro_t *avro, const void *buf, size_t len,
                               cq_job_result_msg_t *msg, char *errstr, size_t errstr_size)
{
    cq_avro_walk_t w;
    avro_value_t rec, child;
    json_t *status = NULL;
    const cq_avro_node_t *root = avro->gen->result.root;
    cq_avro_walk_init(&w, CQ_ERR_UNDECODABLE_MESSAGE, errstr, errstr_size);
    memset(msg, 0, sizeof(*msg));
    if (!read_message(&w, &avro->result, root, buf, len, &rec))
        return CQ_ERR_UNDECODABLE_MESSAGE;
    bool ok =
        get_string(&w, &rec, CQ_AVRO_RES_JOB_ID, "jobId", &msg->job_id, false) &&
        get_string(&w, &rec, CQ_AVRO_RES_TENANT_ID, "tenantId", &msg->tenant_id, false) &&
        get_string(&w, &rec, CQ_AVRO_RES_USER_ID, "userId", &msg->user_id, false) &&
        get_string(&w, &rec, CQ_AVRO_RES_OPERATION, "operation", &msg->operation, false) &&
        field(&w, &rec, CQ_AVRO_RES_STATUS, &child) &&
        cq_avro_value_decode(&w, root->fields[CQ_AVRO_RES_STATUS].type, &child, &status) &&
        get_int(&w, &rec, CQ_AVRO_RES_ATTEMPTS, &msg->attempts) &&
        get_long(&w, &rec, CQ_AVRO_RES_CREATED_AT, &msg->created_at, false) &&
        get_long(&w, &rec, CQ_AVRO_RES_STARTED_AT, &msg->started_at, true) &&
        get_long(&w, &rec, CQ_AVRO_RES_FINISHED_AT, &msg->finished_at, false) &&
        field(&w, &rec, CQ_AVRO_RES_ENGINE, &child) &&
        cq_avro_value_decode(&w, root->fields[CQ_AVRO_RES_ENGINE].type, &child, &msg->engine) &&
        get_op_value(&w, &rec, CQ_AVRO_RES_RESULT, root->fields[CQ_AVRO_RES_RESULT].type,
                     cq_avro_schema_op(avro->gen, msg->operation), true, msg->operation,
                     &msg->result) &&
        get_error(&w, &rec, msg) &&
        get_string(&w, &rec, CQ_AVRO_RES_BATCH_ID, "batchId", &msg->batch_id, true) &&
        get_string(&w, &rec, CQ_AVRO_RES_CUSTOM_ID, "customId", &msg->custom_id, true);
    avro_value_decref(&rec);
    if (ok) {
        msg->status = cq_strdup(json_string_value(status));
        if (json_is_null(msg->engine)) {
            json_decref(msg->engine);
            msg->engine = NULL;
        }
    }
    json_decref(status);
    if (!ok) {
        cq_job_result_msg_clear(msg);
        return CQ_ERR_UNDECODABLE_MESSAGE;
    }
    return CQ_ERR_OK;
}
