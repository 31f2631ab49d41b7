-- wrk script of tests/bench/throughput.sh (issue 11): POSTs the README's
-- alignment-check body, counts the answers by status in every thread and
-- prints one machine-readable line at the end:
--   BENCH_JSON {"requests":N,"duration_s":S,"statuses":{"202":N,...},
--               "non2xx":N,"socket_errors":N,"p50_ms":..,"p99_ms":..,"p999_ms":..}
-- Environment: BENCH_PREFER (e.g. respond-async; empty: synchronous),
-- BENCH_TENANT (default bench).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Tenant-Id"] = os.getenv("BENCH_TENANT") or "bench"
wrk.headers["X-User-Id"] = "bench"
local prefer = os.getenv("BENCH_PREFER")
if prefer and prefer ~= "" then wrk.headers["Prefer"] = prefer end
wrk.body = '{"goalIntent": "Every home in the valley runs on clean, affordable solar energy",'
    .. ' "strategies": ["Offer affordable solar financing to every homeowner"],'
    .. ' "kpis": ["Homes running on solar energy"],'
    .. ' "businessFoundation": {"vision": "Every home in the valley runs on clean, affordable energy",'
    .. ' "purpose": "We make going solar simple and honest for homeowners",'
    .. ' "coreValues": ["Integrity", "Sustainability"]}}'

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
end

function response(status, headers, body)
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
    local counts, non2xx = {}, 0
    for _, t in ipairs(threads) do
        for k, v in pairs(t:get("statuses") or {}) do
            counts[k] = (counts[k] or 0) + v
        end
    end
    local parts = {}
    for k, v in pairs(counts) do
        table.insert(parts, string.format('"%s":%d', k, v))
        if not (k >= "200" and k < "300") then non2xx = non2xx + v end
    end
    table.sort(parts)
    local e = summary.errors
    io.write(string.format('BENCH_JSON {"requests":%d,"duration_s":%.3f,"statuses":{%s},'
        .. '"non2xx":%d,"socket_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,'
        .. '"max_ms":%.3f}\n',
        summary.requests, summary.duration / 1e6, table.concat(parts, ","), non2xx,
        e.connect + e.read + e.write + e.timeout,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        latency:percentile(99.9) / 1000, latency.max / 1000))
end
