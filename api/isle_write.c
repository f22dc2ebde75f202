/*
 * isle_write.c: the public side of the writer thread: asynchronous writes
 * and their callbacks, cancellation, bulk processing, and watchers.  The
 * engine's handles are the public ones (en_job is struct isle_job), so
 * callbacks pass straight through; watcher callbacks get a public view of
 * the engine's change record.
 */
#include "isle.h"

#include <stdlib.h>
#include <string.h>

#include "en.h"

#define DB(d) ((en_db *)(d))

_Static_assert(ISLE_PRIORITY_NORMAL == EN_PRIORITY_NORMAL && ISLE_PRIORITY_UI == EN_PRIORITY_UI,
               "priorities agree");
_Static_assert(ISLE_QUEUE_FIFO == EN_QUEUE_FIFO && ISLE_QUEUE_PRIORITY == EN_QUEUE_PRIORITY &&
                   ISLE_QUEUE_CUSTOM == EN_QUEUE_CUSTOM, "queue kinds agree");

int isle_write_async(isle_db *db, isle_write_fn fn, void *arg, const isle_write_callbacks *cb,
                     const char *name, int priority, isle_job **handle) {
    if (!db || !fn)
        return en_fail(ISLE_EINVAL, "isle_write_async: NULL argument");
    en_job_callbacks ecb = {0};
    if (cb)
        ecb = (en_job_callbacks){cb->ready, cb->success, cb->error, cb->complete};
    int rc = en_write_async(DB(db), fn, arg, &ecb, name, priority, handle);
    if (rc == 0)
        en_clear_error();
    return rc;
}

int isle_job_cancel(isle_job *job) {
    if (!job)
        return en_fail(ISLE_EINVAL, "isle_job_cancel: NULL job");
    int rc = en_job_cancel(job);
    if (rc == 0)
        en_clear_error();
    return rc;
}

int isle_cancel_named(isle_db *db, const char *name, size_t *count) {
    if (!db)
        return en_fail(ISLE_EINVAL, "isle_cancel_named: NULL handle");
    int rc = en_cancel_named(DB(db), name, count);
    if (rc == 0)
        en_clear_error();
    return rc;
}

void isle_job_release(isle_job *job) { en_job_release(job); }
int isle_job_priority(const isle_job *job) { return en_job_priority(job); }
const char *isle_job_name(const isle_job *job) { return en_job_name(job); }

/* ---- bulk processing ------------------------------------------------------------ */

typedef struct process {
    const unsigned char *items;
    size_t count, item_size;
    isle_process_fn fn;
    isle_progress_fn progress;
    void *arg;
} process;

static int process_run(isle_txn *txn, void *arg) {
    process *p = arg;
    for (size_t i = 0; i < p->count; i++) {
        const void *item = p->items + i * p->item_size;
        int rc = p->fn(txn, item, p->arg);
        if (rc)
            return rc;
        if (p->progress)
            p->progress(i + 1, p->count, item, p->arg);
    }
    return 0;
}

int isle_write_process(isle_db *db, const void *items, size_t count, size_t item_size,
                       isle_process_fn fn, isle_progress_fn progress, void *arg) {
    if (!db || !fn || (count && (!items || item_size == 0)))
        return en_fail(ISLE_EINVAL, "isle_write_process: NULL or empty argument");
    process p = {items, count, item_size, fn, progress, arg};
    return isle_write(db, process_run, &p);
}

/* ---- watchers ------------------------------------------------------------------- */

/* The public watch: the user's callback behind the engine's. */
struct isle_watch {
    en_watch *w;
    isle_watch_fn fn;
    void *arg;
};

static void watch_bridge(void *arg, const en_change *c) {
    struct isle_watch *pw = arg;
    isle_change ch = {.tree = c->tree, .txn = c->txn, .keys_known = c->keys_known,
                      .nkeys = c->nkeys, .keys = (const void *const *)c->keys,
                      .klens = c->klens};
    pw->fn(pw->arg, &ch);
}

static int watch(isle_db *db, const char *name, const void *key, size_t klen,
                 isle_watch_fn fn, void *arg, isle_watch **out) {
    if (!db || !name || !fn || !out || (key && (klen == 0 || klen > ISLE_KV_KEY_MAX)))
        return en_fail(ISLE_EINVAL, "isle_watch: NULL argument or bad key");
    struct isle_watch *pw = malloc(sizeof *pw);
    if (!pw)
        return en_fail(ISLE_ENOMEM, "out of memory for a watcher");
    pw->fn = fn;
    pw->arg = arg;
    int rc = en_watch_add(DB(db), name, key, (uint32_t)klen, watch_bridge, pw, &pw->w);
    if (rc) {
        free(pw);
        return rc;
    }
    *out = pw;
    en_clear_error();
    return 0;
}

int isle_watch_tree(isle_db *db, const char *name, isle_watch_fn fn, void *arg,
                    isle_watch **out) {
    return watch(db, name, NULL, 0, fn, arg, out);
}

int isle_watch_key(isle_db *db, const char *name, const void *key, size_t klen,
                   isle_watch_fn fn, void *arg, isle_watch **out) {
    if (!key)
        return en_fail(ISLE_EINVAL, "isle_watch_key: NULL key");
    return watch(db, name, key, klen, fn, arg, out);
}

void isle_unwatch(isle_watch *w) {
    if (!w)
        return;
    /* After this no call of the bridge runs or starts (unless we are in
     * it), so the bridge's argument can go. */
    en_watch_remove(w->w);
    free(w);
}
