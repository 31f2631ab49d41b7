/*
 * cq_health.c — service endpoints that need no auth: liveness, readiness
 * (Kafka and Redis answer), Prometheus metrics, the OpenAPI document and
 * the API reference page.
 *
 * Runs on any HTTP thread.
 */
#include "cq_gateway.h"

#include <stdio.h>
#include <string.h>

/* The reference page renders /openapi.json in the browser with no outside
 * script (the service may run where no CDN is reachable). */
static const char cq_health_docs_html[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>coachq API</title>"
    "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}"
    "h2{border-bottom:1px solid #ccc}code,pre{background:#f4f4f4;padding:2px 4px}"
    "pre{padding:8px;overflow:auto}.m{font-weight:bold;text-transform:uppercase;"
    "display:inline-block;width:5em}</style></head><body><h1>coachq API</h1>"
    "<p>Machine-readable contract: <a href=\"openapi.json\">openapi.json</a>.</p>"
    "<div id=\"ops\">Loading&hellip;</div><script>"
    "fetch('openapi.json').then(r=>r.json()).then(d=>{const o=document.getElementById('ops');"
    "o.innerHTML='';const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;',"
    "'>':'&gt;'}[c]));for(const[p,item]of Object.entries(d.paths)){for(const[m,op]of "
    "Object.entries(item)){if(typeof op!=='object'||!op.responses)continue;const s="
    "document.createElement('section');let h='<h2><span class=m>'+esc(m)+'</span> '+"
    "esc(p)+'</h2><p>'+esc(op.summary||'')+(op.deprecated?' <b>(deprecated)</b>':'')+'</p>';"
    "const rb=op.requestBody&&op.requestBody.content&&op.requestBody.content"
    "['application/json'];if(rb&&rb.examples){for(const[n,e]of Object.entries(rb.examples))"
    "h+='<p>Example request <code>'+esc(n)+'</code></p><pre>'+esc(JSON.stringify(e.value,"
    "null,2))+'</pre>';}s.innerHTML=h;o.appendChild(s);}}});</script></body></html>";

void cq_health_handle(cq_gateway_t *gw, const char *path, const cq_http_req_t *req,
                      cq_http_resp_t *resp)
{
    if (strcmp(path, "/health") == 0) {
        cq_http_resp_json(resp, 200,
                          json_pack("{s:s, s:I}", "status", "ok", "uptimeSeconds",
                                    (json_int_t)((cq_now_ms() - gw->started_ms) / 1000)));
    } else if (strcmp(path, "/health/ready") == 0) {
        bool kafka = cq_kafka_producer_ready(gw->producer, 2000);
        bool redis = cq_store_ping(gw->store) == CQ_ERR_OK;
        bool ready = kafka && redis;
        cq_http_resp_json(resp, ready ? 200 : 503,
                          json_pack("{s:s, s:{s:s, s:s}}", "status", ready ? "ready" : "not_ready",
                                    "checks", "kafka", kafka ? "ok" : "unavailable", "redis",
                                    redis ? "ok" : "unavailable"));
        if (!ready)
            cq_http_resp_header(resp, "Retry-After", "%lld",
                                (long long)gw->conf->gateway_retry_after);
    } else if (strcmp(path, "/metrics") == 0) {
        char text[1024];
        int n =
            snprintf(text, sizeof(text),
                     "# HELP coachq_gateway_waiting_requests Requests waiting for a job.\n"
                     "# TYPE coachq_gateway_waiting_requests gauge\n"
                     "coachq_gateway_waiting_requests %d\n"
                     "# HELP coachq_gateway_uptime_seconds Seconds since start.\n"
                     "# TYPE coachq_gateway_uptime_seconds counter\n"
                     "coachq_gateway_uptime_seconds %lld\n",
                     atomic_load(&gw->waiters), (long long)((cq_now_ms() - gw->started_ms) / 1000));
        cq_http_resp_body(resp, 200, "text/plain; version=0.0.4", text, (size_t)n);
    } else if (strcmp(path, "/openapi.json") == 0) {
        size_t len = 0;
        const char *text = cq_contract_text(gw->contract, &len);
        cq_http_resp_body(resp, 200, "application/json", text, len);
    } else {
        cq_http_resp_body(resp, 200, "text/html; charset=utf-8", cq_health_docs_html,
                          sizeof(cq_health_docs_html) - 1);
    }
}
