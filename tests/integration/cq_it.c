/*
 * cq_it.c — integration test support (see cq_it.h). Tests are single
 * threaded; nothing here is shared between threads.
 */
#include "cq_it.h"
#include "cq_config.h"
#include "cq_embedded.h"
#include "cq_schema.h"
#include "cq_kafka.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool cq_it_available(void)
{
    if (getenv("COACHQ_IT_KAFKA_BOOTSTRAP") && getenv("COACHQ_IT_REDIS_PORT") &&
        getenv("COACHQ_BIN_DIR"))
        return true;
    fprintf(stderr, "integration services not configured: set COACHQ_IT_KAFKA_BOOTSTRAP, "
                    "COACHQ_IT_REDIS_PORT and COACHQ_BIN_DIR (deploy/local.sh test does)\n");
    return false;
}

int cq_it_missing_status(void)
{
    const char *req = getenv("COACHQ_IT_REQUIRED");
    return req && strcmp(req, "1") == 0 ? 1 : CQ_IT_SKIP;
}

int cq_it_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    close(fd);
    return ntohs(addr.sin_port);
}

void cq_it_stack_init(cq_it_stack_t *s, const char *test_name)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->prefix, sizeof(s->prefix), "it%d%ld%s", (int)getpid(), (long)time(NULL) % 100000,
             test_name);
    s->port = cq_it_free_port();
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d/coaching/api/v1", s->port);
    const char *kafka = getenv("COACHQ_IT_KAFKA_BOOTSTRAP");
    const char *redis = getenv("COACHQ_IT_REDIS_PORT");
    cq_strlcpy(s->kafka, kafka ? kafka : "127.0.0.1:9092", sizeof(s->kafka));
    s->redis_port = redis ? atoi(redis) : 6379;
    const char *logs = getenv("COACHQ_IT_LOG_DIR");
    cq_strlcpy(s->log_dir, logs ? logs : "/tmp", sizeof(s->log_dir));
}

static bool cq_it_spawn(cq_it_stack_t *s, cq_it_proc_t *proc, const char *program,
                        const char *const *extra)
{
    const char *bin_dir = getenv("COACHQ_BIN_DIR");
    char path[512], log[512];
    snprintf(path, sizeof(path), "%s/%s", bin_dir ? bin_dir : ".", program);
    snprintf(log, sizeof(log), "%s/%s-%s.log", s->log_dir, s->prefix, program);
    char opts[16][256];
    int n = 0;
    snprintf(opts[n++], 256, "kafka.bootstrap.servers=%s", s->kafka);
    snprintf(opts[n++], 256, "redis.port=%d", s->redis_port);
    snprintf(opts[n++], 256, "redis.prefix=%s:", s->prefix);
    snprintf(opts[n++], 256, "topics.jobs_prefix=%s.jobs.", s->prefix);
    snprintf(opts[n++], 256, "topics.results=%s.results", s->prefix);
    snprintf(opts[n++], 256, "topics.dlq=%s.dlq", s->prefix);
    snprintf(opts[n++], 256, "topics.create=true");
    snprintf(opts[n++], 256, "topics.partitions=3");
    snprintf(opts[n++], 256, "worker.group_prefix=%s-", s->prefix);
    snprintf(opts[n++], 256, "gateway.listen=127.0.0.1:%d", s->port);
    snprintf(opts[n++], 256, "gateway.dev_auth=true");
    snprintf(opts[n++], 256, "log.level=info");
    const char *argv[64];
    int a = 0;
    argv[a++] = path;
    for (int i = 0; i < n; i++) {
        argv[a++] = "-o";
        argv[a++] = opts[i];
    }
    for (; extra && *extra && a < 60; extra++) {
        argv[a++] = "-o";
        argv[a++] = *extra;
    }
    argv[a] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(path, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    proc->pid = pid;
    cq_strlcpy(proc->name, program, sizeof(proc->name));
    fprintf(stderr, "started %s (pid %d), log %s\n", program, (int)pid, log);
    return true;
}

bool cq_it_start_gateway(cq_it_stack_t *s, const char *const *extra)
{
    if (!cq_it_spawn(s, &s->gateway, "coachq-gateway", extra))
        return false;
    char url[256];
    snprintf(url, sizeof(url), "%s/health/ready", s->base);
    for (int i = 0; i < 300; i++) {
        int status;
        if (waitpid(s->gateway.pid, &status, WNOHANG) == s->gateway.pid) {
            fprintf(stderr, "coachq-gateway exited early\n");
            s->gateway.pid = 0;
            return false;
        }
        cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
        long code = r.status;
        cq_it_resp_free(&r);
        if (code == 200)
            return true;
        usleep(100 * 1000);
    }
    fprintf(stderr, "coachq-gateway not ready after 30 s\n");
    return false;
}

bool cq_it_start_worker(cq_it_stack_t *s, const char *kind, const char *const *extra)
{
    char program[64];
    snprintf(program, sizeof(program), "coachq-%s-worker", kind);
    return cq_it_spawn(s, &s->worker, program, extra);
}

void cq_it_stop(cq_it_proc_t *proc, int sig)
{
    if (proc->pid <= 0)
        return;
    kill(proc->pid, sig);
    for (int i = 0; i < 150; i++) {
        int status;
        if (waitpid(proc->pid, &status, WNOHANG) == proc->pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                fprintf(stderr, "%s exited with %d\n", proc->name, WEXITSTATUS(status));
            proc->pid = 0;
            return;
        }
        usleep(100 * 1000);
    }
    kill(proc->pid, SIGKILL);
    waitpid(proc->pid, NULL, 0);
    proc->pid = 0;
}

void cq_it_stack_stop(cq_it_stack_t *s)
{
    cq_it_stop(&s->worker, SIGTERM);
    cq_it_stop(&s->gateway, SIGTERM);
}

typedef struct {
    char *data;
    size_t len;
} cq_it_buf_t;

static size_t cq_it_collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    cq_it_buf_t *b = userdata;
    size_t n = size * nmemb;
    b->data = cq_realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

long cq_it_submit_check(const cq_it_stack_t *s, const char *tenant, const char *tag, int n,
                        char job_id[64])
{
    char url[256], th[160];
    snprintf(url, sizeof(url), "%s/coaching/alignment-check", s->base);
    snprintf(th, sizeof(th), "X-Tenant-Id: %s", tenant);
    const char *const h[] = {"Content-Type: application/json", th, "Prefer: respond-async", NULL};
    char *body = cq_asprintf(
        "{\"goalIntent\": \"Grow recurring revenue %s%s%d percent with maintenance plans\","
        " \"strategies\": [\"Sell plans at handover\"], \"kpis\": [\"Plan attach rate\"],"
        " \"businessFoundation\": {\"vision\": \"Clean energy in every home\","
        " \"purpose\": \"Make solar simple\", \"coreValues\": [\"Integrity\"]}}",
        tag, *tag ? " " : "", n);
    cq_it_resp_t r = cq_it_http("POST", url, h, body, strlen(body));
    free(body);
    job_id[0] = '\0';
    cq_it_header(&r, "X-Job-Id", job_id, 64);
    long status = r.status;
    cq_it_resp_free(&r);
    return status;
}

char *cq_it_worker_log_since(const cq_it_stack_t *s, long from)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s-coachq-alignment-worker.log", s->log_dir, s->prefix);
    FILE *fp = fopen(path, "r");
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (fp && fseek(fp, from, SEEK_SET) == 0) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
            fwrite(buf, 1, n, mem);
    }
    if (fp)
        fclose(fp);
    fclose(mem);
    return text;
}

cq_it_resp_t cq_it_http(const char *method, const char *url, const char *const *headers,
                        const char *body, size_t body_len)
{
    cq_it_resp_t r;
    memset(&r, 0, sizeof(r));
    cq_it_buf_t b = {0}, h = {0};
    CURL *curl = curl_easy_init();
    struct curl_slist *list = NULL;
    for (; headers && *headers; headers++)
        list = curl_slist_append(list, *headers);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 90L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, cq_it_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, cq_it_collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &h);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    r.body = b.data ? b.data : cq_strdup("");
    r.body_len = b.len;
    r.headers = h.data ? h.data : cq_strdup("");
    r.json = json_loadb(r.body, r.body_len, 0, NULL);
    return r;
}

bool cq_it_header(const cq_it_resp_t *resp, const char *name, char *out, size_t out_size)
{
    size_t n = strlen(name);
    for (const char *line = resp->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            end = line + strlen(line);
        if ((size_t)(end - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t len = (size_t)(end - v);
            if (len >= out_size)
                len = out_size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
        line = *end ? end + 2 : end;
    }
    return false;
}

void cq_it_resp_free(cq_it_resp_t *resp)
{
    free(resp->body);
    free(resp->headers);
    json_decref(resp->json);
    memset(resp, 0, sizeof(*resp));
}

json_t *cq_it_get(json_t *root, const char *path)
{
    char buf[256];
    cq_strlcpy(buf, path, sizeof(buf));
    json_t *cur = root;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(tok));
        else
            cur = json_object_get(cur, tok);
    }
    return cur;
}

size_t cq_it_consume_ids(const cq_it_stack_t *s, const char *topic, const char *const *ids,
                         size_t count, int timeout_ms, const char *save_path)
{
    cq_config_t *conf = cq_config_new();
    char err[512];
    cq_config_set(conf, "kafka.bootstrap.servers", s->kafka, err, sizeof(err));
    char group[128];
    snprintf(group, sizeof(group), "%s-reader-%ld", s->prefix, (long)cq_mono_ms());
    const char *topics[] = {topic};
    cq_kafka_consumer_t *c =
        cq_kafka_consumer_new(conf, group, topics, 1, NULL, NULL, err, sizeof(err));
    size_t found = 0;
    bool *seen = cq_calloc(count, sizeof(bool));
    if (!c) {
        fprintf(stderr, "consumer: %s\n", err);
        goto out;
    }
    int64_t until = cq_mono_ms() + timeout_ms;
    while (found < count && cq_mono_ms() < until) {
        cq_kafka_msg_t *msg = NULL;
        cq_kafka_consumer_poll(c, 200, &msg);
        if (!msg)
            continue;
        size_t len = 0;
        const char *id = cq_kafka_msg_header(msg, "coachq-job-id", &len);
        for (size_t i = 0; id && i < count; i++) {
            if (!seen[i] && strlen(ids[i]) == len && memcmp(ids[i], id, len) == 0) {
                if (found == 0 && save_path) {
                    FILE *fp = fopen(save_path, "wb");
                    if (fp) {
                        fwrite(msg->value, 1, msg->len, fp);
                        fclose(fp);
                    }
                    /* Where it is, so a check can fetch it again with kcat. */
                    char *where_path = cq_asprintf("%s.where", save_path);
                    fp = fopen(where_path, "w");
                    if (fp) {
                        fprintf(fp, "%s %d %lld\n", msg->topic, msg->partition,
                                (long long)msg->offset);
                        fclose(fp);
                    }
                    free(where_path);
                }
                seen[i] = true;
                found++;
            }
        }
        cq_kafka_msg_destroy(msg);
    }
out:
    cq_kafka_consumer_destroy(c);
    free(seen);
    cq_config_destroy(conf);
    return found;
}

bool cq_it_start_fake(const char *script, cq_it_proc_t *proc, int *port)
{
    const char *src = getenv("COACHQ_SOURCE_DIR");
    char path[512], port_file[256];
    snprintf(path, sizeof(path), "%s/tests/fake/%s", src ? src : ".", script);
    snprintf(port_file, sizeof(port_file), "/tmp/coachq-fake-%d-%ld.port", (int)getpid(),
             (long)cq_mono_ms());
    unlink(port_file);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        execlp("python3", "python3", path, "--port", "0", "--port-file", port_file, "--log-level",
               "warning", (char *)NULL);
        _exit(127);
    }
    proc->pid = pid;
    cq_strlcpy(proc->name, script, sizeof(proc->name));
    for (int i = 0; i < 100; i++) {
        FILE *fp = fopen(port_file, "r");
        if (fp) {
            int p = 0;
            bool ok = fscanf(fp, "%d", &p) == 1 && p > 0;
            fclose(fp);
            if (ok) {
                *port = p;
                unlink(port_file);
                return true;
            }
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "%s did not start\n", script);
    return false;
}

static bool cq_it_fake_post(int port, const char *path, const char *body)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    const char *const h[] = {"Content-Type: application/json", NULL};
    cq_it_resp_t r = cq_it_http("POST", url, h, body, strlen(body));
    bool ok = r.status == 200;
    if (!ok)
        fprintf(stderr, "fake %s: %ld %s\n", path, r.status, r.body);
    cq_it_resp_free(&r);
    return ok;
}

bool cq_it_fake_script(int port, const char *script_json)
{
    return cq_it_fake_post(port, "/_control/script", script_json);
}

bool cq_it_fake_reset(int port)
{
    return cq_it_fake_post(port, "/_control/reset", "{}");
}

json_t *cq_it_fake_requests(int port)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/_control/requests", port);
    cq_it_resp_t r = cq_it_http("GET", url, NULL, NULL, 0);
    json_t *out = r.status == 200 ? json_incref(r.json) : NULL;
    cq_it_resp_free(&r);
    return out;
}

bool cq_it_matches_schema(const json_t *value, const char *component)
{
    size_t len = 0;
    const char *text = cq_embedded_get("schemas/openapi.json", &len);
    json_t *doc = json_loadb(text, len, 0, NULL);
    char pointer[128], err[256];
    snprintf(pointer, sizeof(pointer), "/components/schemas/%s", component);
    cq_schema_t *schema = cq_schema_new(doc, pointer, err, sizeof(err));
    bool ok = false;
    if (schema) {
        cq_schema_errors_t errors;
        memset(&errors, 0, sizeof(errors));
        ok = cq_schema_validate(schema, value, &errors);
        if (!ok)
            fprintf(stderr, "%s: %s %s\n", component, errors.count ? errors.items[0].path : "",
                    errors.count ? errors.items[0].message : "");
        cq_schema_errors_clear(&errors);
        cq_schema_destroy(schema);
    } else {
        fprintf(stderr, "%s: %s\n", component, err);
    }
    json_decref(doc);
    return ok;
}
