/*
 * cq_docs.c — the API reference at /docs: Swagger UI rendering this
 * gateway's /openapi.json, with "Try it out" sent to this gateway.
 *
 * swagger-ui-dist (npm, pinned in deploy/node/package.json) is compiled
 * into the gateway at build time (CMakeLists.txt, table cq_docs_assets):
 * the binary is all a machine or a container image needs, the page never
 * reaches a CDN, and no request touches the file system, so no path can
 * escape: a file is served only when its name is exactly one of the table.
 * A build made before deploy/setup.sh fetched the package has an empty
 * table; /docs then says how to get it.
 *
 * Our own two files sit beside the package's: the page (/docs) and its
 * start script (/docs/coachq-init.js), which hands Swagger UI the contract
 * with this gateway as its server and, in development mode
 * (gateway.dev_auth), the X-Tenant-Id / X-User-Id headers as apiKey
 * schemes filled in beforehand, so "Try it out" works without a token.
 *
 * Caching: the page and the start script depend on the configuration and
 * are revalidated (no-cache); the package's files are named with its
 * version in the page's links (?v=) and cached for a week, with an ETag.
 *
 * Runs on any HTTP thread; everything it reads is static or configuration.
 */
#include "cq_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cq_embedded_file {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct cq_embedded_file cq_docs_assets[];

/* Development-mode identity filled in on the page (any value works). */
#define CQ_DOCS_DEV_TENANT "demo"
#define CQ_DOCS_DEV_USER   "swagger-ui"

static const struct cq_embedded_file *cq_docs_asset(const char *name)
{
    /* package.json is embedded for its version only. */
    if (strcmp(name, "package.json") == 0)
        return NULL;
    for (const struct cq_embedded_file *f = cq_docs_assets; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static const char *cq_docs_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".png") == 0)
        return "image/png";
    return "application/octet-stream";
}

static const char cq_docs_missing_html[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>coachq API</title>"
    "</head><body style=\"font:15px/1.5 system-ui,sans-serif;margin:2em;max-width:48em\">"
    "<h1>coachq API</h1><p><b>Swagger UI is not built into this gateway.</b> It comes from "
    "the npm package <code>swagger-ui-dist</code>, which <code>./deploy/setup.sh</code> "
    "installs into <code>deploy/.node</code>; the build then compiles it in. To get it:</p>"
    "<pre>./deploy/setup.sh\ncmake --build build/release   # or the build directory you use"
    "\n</pre><p>and restart the gateway (<code>./deploy/local.sh run</code> does all of this). "
    "The contract itself is here: <a href=\"openapi.json\">openapi.json</a>.</p></body></html>";

/* The page: relative links, so it works under any gateway.base_path (it is
 * served at <base>/docs, without a trailing slash). */
static const char cq_docs_page_html[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>coachq API</title>"
    "<link rel=\"icon\" type=\"image/png\" href=\"docs/favicon-32x32.png?v=%s\" sizes=\"32x32\">"
    "<link rel=\"icon\" type=\"image/png\" href=\"docs/favicon-16x16.png?v=%s\" sizes=\"16x16\">"
    "<link rel=\"stylesheet\" href=\"docs/swagger-ui.css?v=%s\">"
    "</head><body><div id=\"swagger-ui\"><p style=\"font:15px system-ui,sans-serif;margin:2em\">"
    "Loading the coachq API reference&hellip; (it needs JavaScript; the contract is "
    "<a href=\"openapi.json\">openapi.json</a>)</p></div>"
    "<script src=\"docs/swagger-ui-bundle.js?v=%s\"></script>"
    "<script src=\"docs/coachq-init.js\"></script></body></html>";

/* Starts Swagger UI; the gateway puts its settings in front as "cfg". */
static const char cq_docs_init_js[] =
    "\"use strict\";\n"
    "(function (cfg) {\n"
    "  var methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];\n"
    "  // The contract as this gateway serves it: its server is this gateway, and in\n"
    "  // development mode the headers it accepts instead of a token are schemes too.\n"
    "  function forThisGateway(spec) {\n"
    "    spec.servers = [{url: location.origin + cfg.basePath, description: 'this gateway'}];\n"
    "    if (!cfg.devAuth) return spec;\n"
    "    spec.components = spec.components || {};\n"
    "    var schemes = spec.components.securitySchemes = spec.components.securitySchemes || {};\n"
    "    var note = ' Development mode only (gateway.dev_auth=true): when X-Tenant-Id is sent,'\n"
    "      + ' the gateway takes the caller from these headers and ignores the token; log them'\n"
    "      + ' out here to try a bearer token.';\n"
    "    schemes.devTenant = {type: 'apiKey', in: 'header', name: 'X-Tenant-Id',\n"
    "      description: 'Tenant of the caller.' + note};\n"
    "    schemes.devUser = {type: 'apiKey', in: 'header', name: 'X-User-Id',\n"
    "      description: 'User of the caller (optional).' + note};\n"
    "    var dev = {devTenant: [], devUser: []};\n"
    "    spec.security = (spec.security || []).concat([dev]);\n"
    "    Object.keys(spec.paths || {}).forEach(function (p) {\n"
    "      methods.forEach(function (m) {\n"
    "        var op = spec.paths[p][m];\n"
    "        if (op && op.security && op.security.length) op.security = "
    "op.security.concat([dev]);\n"
    "      });\n"
    "    });\n"
    "    return spec;\n"
    "  }\n"
    "  function fail(text) {\n"
    "    var el = document.getElementById('swagger-ui');\n"
    "    el.textContent = text;\n"
    "    el.style.margin = '2em';\n"
    "  }\n"
    "  if (typeof SwaggerUIBundle !== 'function') {\n"
    "    fail('Swagger UI did not load (docs/swagger-ui-bundle.js).');\n"
    "    return;\n"
    "  }\n"
    "  fetch(cfg.specUrl, {headers: {Accept: 'application/json'}}).then(function (r) {\n"
    "    if (!r.ok) throw new Error(r.status + ' ' + r.statusText);\n"
    "    return r.json();\n"
    "  }).then(function (spec) {\n"
    "    var ui = SwaggerUIBundle({\n"
    "      spec: forThisGateway(spec),\n"
    "      dom_id: '#swagger-ui',\n"
    "      presets: [SwaggerUIBundle.presets.apis],\n"
    "      layout: 'BaseLayout',\n"
    "      deepLinking: true,\n"
    "      docExpansion: 'list',\n"
    "      defaultModelsExpandDepth: 0,\n"
    "      displayOperationId: true,\n"
    "      displayRequestDuration: true,\n"
    "      filter: true,\n"
    "      onComplete: function () {\n"
    "        if (!cfg.devAuth) return;\n"
    "        ui.preauthorizeApiKey('devTenant', cfg.devTenant);\n"
    "        ui.preauthorizeApiKey('devUser', cfg.devUser);\n"
    "      }\n"
    "    });\n"
    "    window.ui = ui;\n"
    "  }).catch(function (e) {\n"
    "    fail('Could not load ' + cfg.specUrl + ': ' + e.message);\n"
    "  });\n"
    "})(window.coachqDocs);\n";

static void cq_docs_page(cq_http_resp_t *resp)
{
    const char *v = CQ_SWAGGER_UI_VERSION;
    if (!cq_docs_asset("swagger-ui-bundle.js") || !cq_docs_asset("swagger-ui.css")) {
        cq_http_resp_body(resp, 200, "text/html; charset=utf-8", cq_docs_missing_html,
                          sizeof(cq_docs_missing_html) - 1);
    } else {
        char *html = cq_asprintf(cq_docs_page_html, v, v, v, v);
        cq_http_resp_body(resp, 200, "text/html; charset=utf-8", html, strlen(html));
        free(html);
        cq_http_resp_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; style-src 'self' "
                            "'unsafe-inline'; script-src 'self'; connect-src 'self'; "
                            "frame-ancestors 'none'");
    }
    cq_http_resp_header(resp, "Cache-Control", "no-cache");
    cq_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
}

static void cq_docs_init(cq_gateway_t *gw, const cq_http_req_t *req, cq_http_resp_t *resp)
{
    const char *base = gw->conf->gateway_base_path;
    json_t *cfg = json_pack("{s:s+, s:s, s:b, s:s, s:s, s:s}", "specUrl", base, "/openapi.json",
                            "basePath", base, "devAuth", gw->conf->gateway_dev_auth ? 1 : 0,
                            "devTenant", CQ_DOCS_DEV_TENANT, "devUser", CQ_DOCS_DEV_USER,
                            "swaggerUiVersion", CQ_SWAGGER_UI_VERSION);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    json_decref(cfg);
    if (!text) {
        cq_http_resp_problem(resp, req, CQ_ERR_INTERNAL_ERROR, "could not write the docs settings",
                             NULL);
        return;
    }
    char *js = cq_asprintf("window.coachqDocs = %s;\n%s", text, cq_docs_init_js);
    free(text);
    cq_http_resp_body(resp, 200, "text/javascript; charset=utf-8", js, strlen(js));
    free(js);
    cq_http_resp_header(resp, "Cache-Control", "no-cache");
    cq_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
}

/* True when the request's If-None-Match names etag (or is "*"). */
static bool cq_docs_not_modified(const cq_http_req_t *req, const char *etag)
{
    const char *inm = cq_http_header(req, "If-None-Match");
    if (!inm)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    size_t n = strlen(etag);
    for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag))
        if ((p[n] == '\0' || p[n] == ',' || p[n] == ' ') &&
            (p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/'))
            return true;
    return false;
}

void cq_docs_handle(cq_gateway_t *gw, const char *rest, const cq_http_req_t *req,
                    cq_http_resp_t *resp)
{
    if (*rest == '\0') {
        cq_docs_page(resp);
        return;
    }
    if (strcmp(rest, "/") == 0) { /* the page's links are relative to <base>/docs */
        cq_http_resp_body(resp, 301, "text/plain; charset=utf-8", "", 0);
        cq_http_resp_header(resp, "Location", "../docs");
        return;
    }
    if (strcmp(rest, "/coachq-init.js") == 0) {
        cq_docs_init(gw, req, resp);
        return;
    }
    const struct cq_embedded_file *f = rest[0] == '/' ? cq_docs_asset(rest + 1) : NULL;
    if (!f) {
        cq_http_resp_problem(resp, req, CQ_ERR_NOT_FOUND, "No such file of the API reference",
                             NULL);
        return;
    }
    char etag[64];
    snprintf(etag, sizeof(etag), "\"swagger-ui-%s-%zu\"", CQ_SWAGGER_UI_VERSION, f->len);
    if (cq_docs_not_modified(req, etag))
        cq_http_resp_body(resp, 304, cq_docs_content_type(f->name), "", 0);
    else
        cq_http_resp_body(resp, 200, cq_docs_content_type(f->name), f->data, f->len);
    cq_http_resp_header(resp, "ETag", "%s", etag);
    cq_http_resp_header(resp, "Cache-Control", "public, max-age=604800");
    cq_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
}
