/*
 * cq_align_data.c — loads the alignment kind's data files (catalogues,
 * templates) from the embedded tree once.
 *
 * Threads: any. pthread_once parses every file on first use; the parsed
 * documents are never changed or freed afterwards, so readers need no lock.
 */
#include "cq_align_data.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cq_embedded.h"

static const char *const cq_align_data_names[] = {
    "goal_types", "strategies", "kpis", "industries", "onboarding", "coaching", "alignment_text",
};

static json_t *cq_align_data_docs[CQ_ARRAY_SIZE(cq_align_data_names)];
static pthread_once_t cq_align_data_once = PTHREAD_ONCE_INIT;

static void cq_align_data_load(void)
{
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_align_data_names); i++) {
        char path[128];
        size_t len = 0;
        snprintf(path, sizeof(path), "workers/alignment/data/%s.json", cq_align_data_names[i]);
        const char *text = cq_embedded_get(path, &len);
        if (text)
            cq_align_data_docs[i] = json_loadb(text, len, 0, NULL);
    }
}

const json_t *cq_align_data(const char *name)
{
    pthread_once(&cq_align_data_once, cq_align_data_load);
    for (size_t i = 0; i < CQ_ARRAY_SIZE(cq_align_data_names); i++)
        if (strcmp(cq_align_data_names[i], name) == 0)
            return cq_align_data_docs[i];
    return NULL;
}

const char *cq_align_data_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}
