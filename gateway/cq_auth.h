/*
 * cq_auth.h — who is calling: bearer JWTs (HS256 with a shared secret or
 * RS256 with a public key), or, in development mode only, X-Tenant-Id and
 * X-User-Id headers. The tenant always comes from here, never from a body.
 */
#ifndef CQ_AUTH_H
#define CQ_AUTH_H

#include "cq_common.h"
#include "cq_config.h"
#include "cq_err.h"

typedef struct {
    char tenant_id[128];
    char user_id[128];
    char role[64];
} cq_principal_t;

typedef struct cq_auth_s cq_auth_t;

/* Reads the key material named by auth.*; NULL with errstr when a key file
 * cannot be read. With neither key set, every token is refused. */
cq_auth_t *cq_auth_new(const cq_config_t *conf, char *errstr, size_t errstr_size);
void cq_auth_destroy(cq_auth_t *auth);

/* Verifies an Authorization header value ("Bearer <token>") and fills who.
 * TOKEN_MISSING, TOKEN_INVALID or TOKEN_EXPIRED with a detail for the client
 * otherwise. Thread-safe; now_ms is the wall clock (a parameter for tests). */
cq_err_t cq_auth_verify(const cq_auth_t *auth, const char *authorization, int64_t now_ms,
                        cq_principal_t *who, char *detail, size_t detail_size);

/* Development mode only: the identity from X-Tenant-Id / X-User-Id header
 * values (user may be NULL: "anonymous"), checked like token claims.
 * TOKEN_INVALID with a detail when a value is not an acceptable id. */
cq_err_t cq_auth_dev_headers(const char *tenant, const char *user, cq_principal_t *who,
                             char *detail, size_t detail_size);

#endif
