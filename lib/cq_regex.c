/*
 * cq_regex.c — ECMA-262 patterns compiled and matched by PCRE2 (see
 * cq_regex.h for the semantics).
 *
 * Options and why:
 *   PCRE2_UTF                code points, not bytes, in patterns and subjects;
 *   PCRE2_MATCH_INVALID_UTF  an invalid UTF-8 subject (request bodies are
 *                            checked, but a pattern must never be the place
 *                            that fails on one) is matched, not an error;
 *   PCRE2_ALT_BSUX           \uHHHH and \xHH read as ECMA reads them (and a
 *                            \u or \x without its hex digits is a literal);
 *   PCRE2_ALLOW_EMPTY_CLASS  "[]" matches nothing and "[^]" any character;
 *   PCRE2_DOLLAR_ENDONLY     "$" is the end of the subject, as in ECMA;
 *   newline ANYCRLF          "." stops at \r and \n.
 * PCRE2_UCP is deliberately off: it would make \d and \w Unicode-aware,
 * which ECMA's are not.
 *
 * A pattern is JIT-compiled when the platform allows (the interpreter
 * serves otherwise). The match context (work limits) is shared read-only;
 * each match allocates its own one-pair match data, so one compiled pattern
 * serves any number of threads. PCRE2 allocates through cq_malloc, so
 * out-of-memory aborts as everywhere else instead of returning NULL here.
 */
#include "cq_regex.h"
#include "cq_common.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Work limits of one match: backtracking steps, and the interpreter's
 * heap for backtracking frames (KiB). Far above what a contract pattern
 * needs on a field of the sizes the contract allows. */
enum { CQ_REGEX_MATCH_LIMIT = 1000000, CQ_REGEX_HEAP_LIMIT_KIB = 4096 };

static void *cq_regex_alloc(size_t size, void *data)
{
    CQ_UNUSED(data);
    return cq_malloc(size);
}

static void cq_regex_free(void *ptr, void *data)
{
    CQ_UNUSED(data);
    free(ptr);
}

struct cq_regex_s {
    pcre2_general_context *gctx;
    pcre2_code *code;
    pcre2_match_context *mctx;
    char *source;
};

cq_regex_t *cq_regex_new(const char *pattern, char *errstr, size_t errstr_size)
{
    cq_regex_t *regex = cq_calloc(1, sizeof(*regex));
    regex->gctx = pcre2_general_context_create(cq_regex_alloc, cq_regex_free, NULL);
    pcre2_compile_context *cctx = pcre2_compile_context_create(regex->gctx);
    pcre2_set_newline(cctx, PCRE2_NEWLINE_ANYCRLF);

    int code_err = 0;
    PCRE2_SIZE offset = 0;
    const uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ALT_BSUX |
                             PCRE2_ALLOW_EMPTY_CLASS | PCRE2_DOLLAR_ENDONLY;
    regex->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, options, &code_err,
                                &offset, cctx);
    if (!regex->code) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(code_err, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", code_err);
        snprintf(errstr, errstr_size, "invalid pattern at offset %zu: %s", (size_t)offset,
                 (const char *)msg);
        cq_regex_destroy(regex);
        regex = NULL;
        goto free_cctx;
    }
    /* JIT is an optimisation: a platform without it matches interpreted. */
    (void)pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);

    regex->source = cq_strdup(pattern);
    regex->mctx = pcre2_match_context_create(regex->gctx);
    pcre2_set_match_limit(regex->mctx, CQ_REGEX_MATCH_LIMIT);
    pcre2_set_heap_limit(regex->mctx, CQ_REGEX_HEAP_LIMIT_KIB);

free_cctx:
    pcre2_compile_context_free(cctx);
    return regex;
}

void cq_regex_destroy(cq_regex_t *regex)
{
    if (!regex)
        return;
    pcre2_match_context_free(regex->mctx);
    pcre2_code_free(regex->code);
    pcre2_general_context_free(regex->gctx);
    free(regex->source);
    free(regex);
}

bool cq_regex_match(const cq_regex_t *regex, const char *s, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create(1, regex->gctx);
    /* > 0: matched; 0: matched, ovector too small (we ask for no groups);
     * PCRE2_ERROR_NOMATCH or a limit: not a match. */
    int rc = pcre2_match(regex->code, (PCRE2_SPTR)s, len, 0, 0, md, regex->mctx);
    pcre2_match_data_free(md);
    return rc >= 0;
}

const char *cq_regex_source(const cq_regex_t *regex)
{
    return regex->source;
}
