/*
 * fuzz_config.c — the configuration parser (lib/cq_config.c): a config file
 * of `key = value` lines, and COACHQ_<KEY> environment variables, both into
 * a fresh default configuration (durations and sizes with units, ranges,
 * kafka.* pass-through properties).
 *
 * Input byte 0: even, the rest is the file (handed over as an in-memory
 * file, /proc/self/fd/N of a memfd); odd, the rest is the environment, one
 * NAME=value per line.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cq_config.h"

static void from_file(cq_config_t *conf, const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_config", 0);
    if (fd < 0)
        return;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64], err[512];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        cq_config_load_file(conf, path, err, sizeof(err));
    }
    close(fd);
}

static void from_env(cq_config_t *conf, const uint8_t *data, size_t size)
{
    char *text = cq_strndup((const char *)data, size);
    size_t n = 1;
    for (char *p = text; *p; p++)
        n += *p == '\n';
    char **envp = cq_malloc((n + 1) * sizeof(*envp));
    size_t i = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        envp[i++] = line;
    envp[i] = NULL;
    char err[512];
    cq_config_load_env(conf, envp, err, sizeof(err));
    free(envp);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cq_config_t *conf = cq_config_new();
    if (data[0] & 1)
        from_env(conf, data + 1, size - 1);
    else
        from_file(conf, data + 1, size - 1);
    cq_config_destroy(conf);
    return 0;
}
