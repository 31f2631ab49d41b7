/*
 * cq_config_keys.h — THE config table. Every key coachq reads is here once:
 * name, struct field, type, default, range, programs, description.
 * From it come parsing, COACHQ_<KEY> environment overrides, the struct in
 * cq_config.h and the generated docs/CONFIG.md (a test keeps it in sync).
 *
 * Types: STR (string), INT (integer in [min,max]), BOOL (true/false),
 * MS (a duration: "250ms", "25s", "5m", "24h"; a bare number is refused),
 * SIZE (bytes: "512B", "64KiB", "1MiB", "2GiB"; a bare number, KB and MB are
 * refused). min and max are in milliseconds or bytes.
 * Programs: G = gateway, W = workers, GW = both.
 * Keys named kafka.* are not in this table: they pass straight to librdkafka.
 */
#ifndef CQ_CONFIG_KEYS_H
#define CQ_CONFIG_KEYS_H

/* X(key, field, type, default, min, max, programs, description) */
#define CQ_CONFIG_TABLE(X)                                                                         \
    X("log.level", log_level, STR, "info", 0, 0, GW, "Log level: error, warn, info or debug.")     \
    X("log.format", log_format, STR, "auto", 0, 0, GW,                                             \
      "Log lines: text (for a person), json (one JSON object per line: time, level, component, "   \
      "request_id or job_id, tenant, operation, trace_id, code, msg) or auto (text on a "          \
      "terminal, json otherwise).")                                                                \
    X("gateway.listen", gateway_listen, STR, "127.0.0.1:8080", 0, 0, G,                            \
      "Address and port the HTTP server listens on (civetweb listening_ports syntax).")            \
    X("gateway.threads", gateway_threads, INT, "1024", 4, 8192, G,                                 \
      "HTTP worker threads. A waiting request (sync POST, long-poll) holds one while its job "     \
      "runs; at most threads - 16 wait at once, later ones get their 202 or the job at once.")     \
    X("gateway.queue", gateway_queue, INT, "64", 1, 100000, G,                                     \
      "Accepted connections that may wait for a free thread before new ones get 503.")             \
    X("gateway.max_conns_per_peer", gateway_max_conns_per_peer, INT, "256", 0, 100000, G,          \
      "Connections one client address may hold at once (0: no cap). Each holds an HTTP thread "    \
      "from accept to close; more are answered 429 at once and closed. Behind a reverse proxy "    \
      "every connection comes from the proxy: set this above its upstream pool, or 0.")            \
    X("gateway.header_timeout", gateway_header_timeout, MS, "5s", 100, 600000, G,                  \
      "Time a client has to send a request line and headers (then it is cut off); also the "       \
      "longest stall of a body read or an answer write.")                                          \
    X("gateway.keep_alive_timeout", gateway_keep_alive_timeout, MS, "5s", 100, 600000, G,          \
      "How long a kept-alive connection may stay idle, and send its next request's headers, "      \
      "before it is closed.")                                                                      \
    X("gateway.admin_listen", gateway_admin_listen, STR, "", 0, 0, G,                              \
      "Address of a second listener for /health, /health/ready and /metrics only, with threads "   \
      "of its own, so probes answer while every API thread is busy; empty: none.")                 \
    X("gateway.max_body_bytes", gateway_max_body_bytes, SIZE, "1MiB", 1024, 67108864, G,           \
      "Largest request body accepted; larger bodies get 413 PAYLOAD_TOO_LARGE.")                   \
    X("gateway.default_wait", gateway_default_wait, MS, "25s", 0, 600000, G,                       \
      "How long a POST without a Prefer header waits for its job before answering 202.")           \
    X("gateway.max_wait", gateway_max_wait, MS, "60s", 0, 3600000, G,                              \
      "Upper bound of Prefer: wait=N on POSTs and long-polls.")                                    \
    X("gateway.retry_after", gateway_retry_after, INT, "2", 1, 3600, G,                            \
      "Seconds put in Retry-After on 202 and 503 answers.")                                        \
    X("gateway.dev_auth", gateway_dev_auth, BOOL, "false", 0, 0, G,                                \
      "Development only: take the tenant and user from X-Tenant-Id / X-User-Id headers.")          \
    X("auth.jwt_secret", auth_jwt_secret, STR, "", 0, 0, G,                                        \
      "Shared secret for HS256 bearer tokens; prefer COACHQ_AUTH_JWT_SECRET. Never logged.")       \
    X("auth.jwt_public_key", auth_jwt_public_key, STR, "", 0, 0, G,                                \
      "Path of a PEM public key for RS256 bearer tokens.")                                         \
    X("auth.jwt_issuer", auth_jwt_issuer, STR, "", 0, 0, G,                                        \
      "Required iss claim of tokens; empty: not checked.")                                         \
    X("auth.jwt_audience", auth_jwt_audience, STR, "", 0, 0, G,                                    \
      "Required aud claim of tokens; empty: not checked.")                                         \
    X("auth.leeway", auth_leeway, MS, "30s", 0, 600000, G,                                         \
      "Clock skew allowed when checking exp and nbf.")                                             \
    X("gateway.base_path", gateway_base_path, STR, "/coaching/api/v1", 0, 0, G,                    \
      "Path prefix of every endpoint.")                                                            \
    X("gateway.produce_timeout", gateway_produce_timeout, MS, "10s", 100, 600000, G,               \
      "How long a submission waits for the broker to acknowledge its job before 503; also the "    \
      "producer's message timeout, so a job answered 503 is never delivered later.")               \
    X("ratelimit.rate", ratelimit_rate, INT, "600", 0, 60000000, G,                                \
      "Jobs per minute a tenant may submit, sustained (a batch counts its items); over it the "    \
      "gateway answers 429 RATE_LIMITED. The state is in Redis, shared by every gateway. 0: no "   \
      "limit.")                                                                                    \
    X("ratelimit.burst", ratelimit_burst, INT, "1000", 1, 1000000, G,                              \
      "Size of a tenant's bucket: jobs it may submit at once; the bucket refills at "              \
      "ratelimit.rate. The default lets the largest batch (1000 items) through a full bucket.")    \
    X("ratelimit.tenants", ratelimit_tenants, STR, "", 0, 0, G,                                    \
      "Per-tenant overrides of the rate: tenant=jobs-per-minute/burst, comma-separated, e.g. "     \
      "acme=60/10,bigco=6000/2000; a rate of 0 exempts the tenant.")                               \
    X("schemas.openapi", schemas_openapi, STR, "", 0, 0, GW,                                       \
      "Path of an OpenAPI document to use instead of the one built into the programs.")            \
    X("redis.host", redis_host, STR, "127.0.0.1", 0, 0, GW, "Redis host.")                         \
    X("redis.port", redis_port, INT, "6379", 1, 65535, GW, "Redis port.")                          \
    X("redis.password", redis_password, STR, "", 0, 0, GW, "Redis password (AUTH); empty: none.")  \
    X("redis.db", redis_db, INT, "0", 0, 1024, GW, "Redis database number.")                       \
    X("redis.timeout", redis_timeout, MS, "2s", 10, 60000, GW,                                     \
      "Redis connect and command timeout.")                                                        \
    X("redis.pool_size", redis_pool_size, INT, "16", 1, 1024, GW,                                  \
      "Redis connections a process keeps; threads wait for a free one.")                           \
    X("redis.prefix", redis_prefix, STR, "coachq:", 0, 0, GW,                                      \
      "Prefix of every Redis key coachq writes.")                                                  \
    X("jobs.result_ttl", jobs_result_ttl, MS, "24h", 1000, 2592000000, GW,                         \
      "How long a finished job and its result stay in Redis.")                                     \
    X("jobs.idempotency_ttl", jobs_idempotency_ttl, MS, "24h", 1000, 2592000000, G,                \
      "How long an Idempotency-Key keeps returning the same job.")                                 \
    X("jobs.max_attempts", jobs_max_attempts, INT, "3", 1, 100, W,                                 \
      "Runs of a job with retriable failures before it fails and goes to the dead-letter topic.")  \
    X("jobs.deadline", jobs_deadline, MS, "10m", 1000, 86400000, G,                                \
      "How long after submission a job may still start; later it fails with JOB_TIMEOUT.")         \
    X("topics.jobs_prefix", topics_jobs_prefix, STR, "coachq.jobs.", 0, 0, GW,                     \
      "Job topics are this prefix followed by the worker kind.")                                   \
    X("topics.results", topics_results, STR, "coachq.results", 0, 0, GW,                           \
      "Topic that result records go to when a job names no reply_to.")                             \
    X("topics.dlq", topics_dlq, STR, "coachq.dlq", 0, 0, W, "Dead-letter topic.")                  \
    X("topics.create", topics_create, BOOL, "false", 0, 0, GW,                                     \
      "Create missing topics at start (for development and tests).")                               \
    X("topics.partitions", topics_partitions, INT, "6", 1, 1000, GW,                               \
      "Partitions of topics created by topics.create.")                                            \
    X("worker.group_prefix", worker_group_prefix, STR, "coachq-", 0, 0, W,                         \
      "Consumer group of a worker is this prefix followed by its kind.")                           \
    X("worker.instance_id", worker_instance_id, STR, "none", 0, 0, W,                              \
      "Static group membership id (group.instance.id) of the worker; none (the default): dynamic " \
      "membership. Opt in with care: with Debian's librdkafka 2.0.2 a static member whose "        \
      "session times out (a broker hung past kafka.session.timeout.ms) can be fenced by its own "  \
      "rejoin; the worker then drains and joins again with a new consumer in the same process "    \
      "(it exits for its supervisor only when fenced over 5 times in a minute). A worker "         \
      "restarted with the same id within kafka.session.timeout.ms (10 s) takes back its own "      \
      "partitions and the "                                                                        \
      "group does not rebalance. auto: <hostname>-<n>, n the lowest slot free on this host (a "    \
      "lock file in /tmp, dropped when the process ends), so workers of one kind on one host "     \
      "get distinct ids; they must share /tmp. Set an explicit id unique per worker of a kind "    \
      "(e.g. a StatefulSet pod name) where /tmp is not shared; none: dynamic membership.")         \
    X("worker.max_in_flight", worker_max_in_flight, INT, "256", 1, 100000, W,                      \
      "Jobs a worker process runs at once; at the cap it takes no more, polling its consumer "     \
      "once a second so the group sees it alive.")                                                 \
    X("worker.pause_after", worker_pause_after, MS, "10s", 0, 3600000, W,                          \
      "How long a worker stays at worker.max_in_flight before it pauses its partitions (a pause "  \
      "drops the prefetched messages, and each resume waits for a new fetch).")                    \
    X("worker.metrics_listen", worker_metrics_listen, STR, "", 0, 0, W,                            \
      "Address of the worker's /metrics (Prometheus) and /health endpoint; empty: none.")          \
    X("worker.drain_timeout", worker_drain_timeout, MS, "30s", 0, 600000, W,                       \
      "On SIGTERM, how long a worker stops taking jobs and lets those in flight (LLM calls "       \
      "included) finish before it exits; the rest are redelivered to another worker.")             \
    X("worker.retry_backoff", worker_retry_backoff, MS, "500ms", 1, 600000, W,                     \
      "First retry delay of a job; doubled each attempt, with jitter.")                            \
    X("worker.retry_backoff_max", worker_retry_backoff_max, MS, "30s", 1, 3600000, W,              \
      "Largest retry delay of a job.")                                                             \
    X("llm.provider", llm_provider, STR, "builtin", 0, 0, W,                                       \
      "LLM provider: builtin (deterministic engine, no model), openai (any OpenAI-compatible "     \
      "chat completions server), anthropic, or bedrock (Anthropic models on AWS Bedrock).")        \
    X("llm.base_url", llm_base_url, STR, "", 0, 0, W,                                              \
      "Base URL of the provider; empty: the provider's public endpoint "                           \
      "(https://api.openai.com/v1, https://api.anthropic.com, "                                    \
      "https://bedrock-runtime.<region>.amazonaws.com).")                                          \
    X("llm.api_key", llm_api_key, STR, "", 0, 0, W,                                                \
      "API key (openai, anthropic); prefer COACHQ_LLM_API_KEY over a file. Never logged.")         \
    X("llm.model", llm_model, STR, "", 0, 0, W,                                                    \
      "Model name or Bedrock model id, e.g. gpt-4o-mini, claude-sonnet-4-5, "                      \
      "anthropic.claude-3-5-sonnet-20240620-v1:0.")                                                \
    X("llm.aws_region", llm_aws_region, STR, "us-east-1", 0, 0, W,                                 \
      "AWS region for bedrock; credentials come from AWS_ACCESS_KEY_ID, "                          \
      "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.")                                              \
    X("llm.structured_output", llm_structured_output, STR, "auto", 0, 0, W,                        \
      "How the model is made to answer in the result schema: auto (openai: json_schema, then "     \
      "json_object, then prompt while the server refuses them, remembered per worker; "            \
      "anthropic, bedrock: tool), json_schema (strict structured output), json_object (JSON "      \
      "mode with the schema, as llama.cpp servers take it), tool (a forced tool call; "            \
      "anthropic, bedrock) or prompt (the schema in the system prompt). A value other than "       \
      "auto is kept even when refused. Answers are validated, and repaired once, in every "        \
      "mode.")                                                                                     \
    X("llm.max_tokens", llm_max_tokens, INT, "2048", 16, 200000, W,                                \
      "Largest completion the model may write.")                                                   \
    X("llm.connect_timeout", llm_connect_timeout, MS, "5s", 100, 600000, W,                        \
      "Connect timeout of one LLM call.")                                                          \
    X("llm.timeout", llm_timeout, MS, "120s", 100, 3600000, W,                                     \
      "Total timeout of one LLM call (a hang ends here and is retried).")                          \
    X("llm.max_attempts", llm_max_attempts, INT, "4", 1, 20, W,                                    \
      "Calls per job for timeouts, 429, 5xx and 529 before the job fails.")                        \
    X("llm.retry_after_max", llm_retry_after_max, MS, "60s", 0, 3600000, W,                        \
      "Longest Retry-After the worker honours; longer ones are capped.")                           \
    X("llm.breaker_failures", llm_breaker_failures, INT, "5", 1, 1000, W,                          \
      "Consecutive failed calls that open the provider's circuit.")                                \
    X("llm.breaker_cooldown", llm_breaker_cooldown, MS, "30s", 100, 3600000, W,                    \
      "How long an open circuit refuses calls before one trial call.")                             \
    X("llm.fallback_builtin", llm_fallback_builtin, BOOL, "false", 0, 0, W,                        \
      "When the circuit is open, answer with the builtin engine (the job says so).")               \
    X("llm.token_budget", llm_token_budget, INT, "1000000", 0, 1000000000000000, W,                \
      "LLM tokens (prompt + completion, as the provider reports them) a tenant may use per UTC "   \
      "day, counted in Redis across every worker. Over it the builtin engine answers when "        \
      "llm.fallback_builtin is on, else the job fails TOKEN_BUDGET_EXCEEDED. 0: no budget.")       \
    X("llm.token_budgets", llm_token_budgets, STR, "", 0, 0, W,                                    \
      "Per-tenant overrides of the daily budget: tenant=tokens, comma-separated, e.g. "            \
      "acme=50000,bigco=20000000; 0 exempts the tenant.")                                          \
    X("fetch.allow", fetch_allow, STR, "", 0, 0, W,                                                \
      "Comma-separated CIDRs that user-supplied URLs may reach although they are not public "      \
      "(e.g. 127.0.0.0/8 for test fakes); empty: only public addresses.")                          \
    X("fetch.connect_timeout", fetch_connect_timeout, MS, "5s", 100, 600000, W,                    \
      "Connect timeout of one outgoing HTTP call (upstreams, fetched pages).")                     \
    X("fetch.timeout", fetch_timeout, MS, "30s", 100, 3600000, W,                                  \
      "Total timeout of one outgoing HTTP call, each retry and redirect hop on its own.")          \
    X("fetch.max_bytes", fetch_max_bytes, SIZE, "2MiB", 1024, 1073741824, W,                       \
      "Largest response body an outgoing call reads; a longer one is cut and the call fails.")     \
    X("fetch.max_redirects", fetch_max_redirects, INT, "5", 0, 20, W,                              \
      "Redirects an outgoing call follows, each hop checked against the address policy.")          \
    X("fetch.max_attempts", fetch_max_attempts, INT, "3", 1, 20, W,                                \
      "Tries of an outgoing call for timeouts, resets, 429 and 5xx before it fails.")              \
    X("fetch.retry_backoff", fetch_retry_backoff, MS, "200ms", 1, 600000, W,                       \
      "First retry delay of an outgoing call; doubled each try, with jitter.")                     \
    X("fetch.retry_after_max", fetch_retry_after_max, MS, "30s", 0, 3600000, W,                    \
      "Longest Retry-After (and backoff) an outgoing call waits; longer ones are capped.")         \
    X("fetch.breaker_failures", fetch_breaker_failures, INT, "5", 1, 1000, W,                      \
      "Consecutive failed calls to one host:port that open its circuit.")                          \
    X("fetch.breaker_cooldown", fetch_breaker_cooldown, MS, "30s", 100, 3600000, W,                \
      "How long an open circuit refuses calls to its host:port before one trial call.")            \
    X("upstream.account.url", upstream_account_url, STR, "", 0, 0, W,                              \
      "Base URL of the Account service (e.g. https://account.internal); empty: business-data "     \
      "answers with its Account figures unavailable.")                                             \
    X("upstream.traction.url", upstream_traction_url, STR, "", 0, 0, W,                            \
      "Base URL of the Traction service; empty: the Traction figures are unavailable.")            \
    X("upstream.account.profile_path", upstream_account_profile_path, STR, "/user/profile", 0, 0,  \
      W, "Path (and query) of Account: the caller's profile (its tenantId is checked).")           \
    X("upstream.account.foundation_path", upstream_account_foundation_path, STR,                   \
      "/business/foundation", 0, 0, W,                                                             \
      "Path (and query) of Account: the business foundation (LLM prompt context).")                \
    X("upstream.account.revenue_path", upstream_account_revenue_path, STR, "/metrics/revenue", 0,  \
      0, W,                                                                                        \
      "Path (and query) of Account: revenue, this and last period (chosen: none is published).")   \
    X("upstream.account.customers_path", upstream_account_customers_path, STR,                     \
      "/metrics/customers", 0, 0, W,                                                               \
      "Path (and query) of Account: customers total, new, churned (chosen: none is published).")   \
    X("upstream.account.team_path", upstream_account_team_path, STR, "/metrics/team", 0, 0, W,     \
      "Path (and query) of Account: team size, utilisation, satisfaction (chosen: none "           \
      "published).")                                                                               \
    X("upstream.traction.goals_path", upstream_traction_goals_path, STR, "/goals/stats", 0, 0, W,  \
      "Path (and query) of Traction: goal counts (active).")                                       \
    X("upstream.traction.actions_path", upstream_traction_actions_path, STR,                       \
      "/operations/actions", 0, 0, W,                                                              \
      "Path (and query) of Traction: the complete list of actions.")                               \
    X("upstream.traction.issues_path", upstream_traction_issues_path, STR,                         \
      "/api/issues?status=open", 0, 0, W,                                                          \
      "Path (and query) of Traction: open issues (their total is read).")                          \
    X("upstream.traction.people_path", upstream_traction_people_path, STR, "/people", 0, 0, W,     \
      "Path (and query) of Traction: people (LLM prompt context).")                                \
    X("upstream.traction.measures_path", upstream_traction_measures_path, STR,                     \
      "/measures/summary", 0, 0, W,                                                                \
      "Path (and query) of Traction: measures on and off track (LLM prompt context).")             \
    X("upstream.timeout", upstream_timeout, MS, "5s", 100, 600000, W,                              \
      "Timeout of one try of one upstream call (Account, Traction); each source has its own.")     \
    X("business_data.cache_ttl", business_data_cache_ttl, MS, "5m", 1000, 86400000, GW,            \
      "How long a tenant's business data is fresh: answered from Redis by the gateway without "    \
      "a job.")                                                                                    \
    X("business_data.stale_ttl", business_data_stale_ttl, MS, "24h", 1000, 604800000, GW,          \
      "How long a tenant's business data is kept: past cache_ttl it is refreshed, and served "     \
      "with the failed source marked stale while an upstream is down.")                            \
    X("business_data.inflight_ttl", business_data_inflight_ttl, MS, "30s", 1000, 600000, G,        \
      "Lifetime of the single-flight key naming the job that refreshes a tenant's business "       \
      "data; concurrent misses wait for that job at most this long.")                              \
    X("business_data.partial_ttl", business_data_partial_ttl, MS, "30s", 1000, 86400000, GW,       \
      "How long a partial answer (a source unavailable or stale) is answered from Redis without "  \
      "a job, so an upstream outage does not make every request a job; a later complete answer "   \
      "replaces it. At most cache_ttl.")                                                           \
    X("business_data.stale_while_revalidate", business_data_stale_while_revalidate, MS, "150s", 0, \
      86400000, GW,                                                                                \
      "Grace after cache_ttl in which a complete copy is still answered from the cache at once "   \
      "(Age past max-age, Cache-Control stale-while-revalidate) while one background job "         \
      "refreshes it (single flight); so an answer may be up to cache_ttl + this old. Not after a " \
      "refresh found an upstream down (the partial answer is). 0: off.")                           \
    X("business_data.refresh_ahead", business_data_refresh_ahead, INT, "0", 0, 90, G,              \
      "Percent of cache_ttl at the end of a copy's freshness in which a hit is answered from the " \
      "cache and also starts one background refresh job (single flight), so a tenant asked often " \
      "never sees its copy expire, at the price of refreshing it more often than once per "        \
      "cache_ttl; 0: off.")

#endif
