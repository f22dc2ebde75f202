/*
 * isle_kv.c: the public database, transaction and key/value tree API: the
 * argument checks a caller can trip, then the engine.  Handles are the
 * engine's objects behind opaque names.
 */
#include "isle.h"

#include <stdio.h>
#include <string.h>

#include "en.h"

#define DB(d) ((en_db *)(d))
#define TXN(t) ((en_txn *)(t))

_Static_assert(ISLE_SYNC_FULL == EN_SYNC_FULL && ISLE_SYNC_NORMAL == EN_SYNC_NORMAL &&
                   ISLE_SYNC_OFF == EN_SYNC_OFF, "sync modes agree");
_Static_assert(sizeof(isle_val) >= sizeof(en_val), "isle_val holds an en_val");

/* Leaves the thread's message clear on success. */
static int done(int rc) {
    if (rc == 0)
        en_clear_error();
    return rc;
}

/*
 * For calls whose lower layers may fail without a message (a cursor
 * stepping past the end, a missing key): the caller clears the message
 * first, and a failure that left none gets one naming the call.
 */
static int status(const char *fn, int rc) {
    if (rc == 0) {
        en_clear_error();
        return 0;
    }
    if (!en_errmsg()[0])
        en_fail(rc, "%s: %s", fn,
                rc == ISLE_ENOTFOUND ? "no such entry" : isle_strerror(rc));
    return rc;
}

void isle_options_init(isle_options *opt) {
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->page_size = ISLE_PAGE_SIZE_DEFAULT;
    opt->sync = ISLE_SYNC_FULL;
    opt->create = 1;
}

int isle_open(const char *path, const isle_options *opt, isle_db **out) {
    isle_options def;
    if (!path || !out)
        return en_fail(ISLE_EINVAL, "isle_open: NULL argument");
    if (!*path)
        return en_fail(ISLE_EINVAL, "isle_open: empty path");
    if (!opt) {
        isle_options_init(&def);
        opt = &def;
    }
    if (opt->sync < ISLE_SYNC_FULL || opt->sync > ISLE_SYNC_OFF)
        return en_fail(ISLE_EINVAL, "isle_open: unknown sync mode %d", opt->sync);
    if (opt->queue < ISLE_QUEUE_FIFO || opt->queue > ISLE_QUEUE_CUSTOM)
        return en_fail(ISLE_EINVAL, "isle_open: unknown queue kind %d", opt->queue);
    const isle_queue_ops *q = &opt->custom_queue;
    en_options eo = {.page_size = opt->page_size, .sync = (enum en_sync)opt->sync,
                     .checkpoint_bytes = opt->checkpoint_bytes,
                     .cache_bytes = opt->cache_bytes, .create = opt->create,
                     .queue_kind = (enum en_queue_kind)opt->queue,
                     .queue = {q->add, q->next, q->remove, q->remove_named, q->quit, q->q},
                     .queue_max = opt->queue_max,
                     .dispatcher = {opt->dispatcher.post, opt->dispatcher.ctx},
                     .deferred = opt->deferred_open};
    en_db *db;
    int rc = en_open(path, &eo, &db);
    if (rc == 0)
        *out = (isle_db *)db;
    return done(rc);
}

int isle_close(isle_db *db) { return isle_close_ex(db, 0); }

int isle_close_ex(isle_db *db, unsigned flags) {
    if (!db)
        return en_fail(ISLE_EINVAL, "isle_close: NULL handle");
    if (flags & ~ISLE_CLOSE_CANCEL)
        return en_fail(ISLE_EINVAL, "isle_close_ex: unknown flags 0x%x", flags);
    return done(en_close_ex(DB(db), (flags & ISLE_CLOSE_CANCEL) ? EN_CLOSE_CANCEL : 0));
}

int isle_read_begin(isle_db *db, isle_txn **out) {
    if (!db || !out)
        return en_fail(ISLE_EINVAL, "isle_read_begin: NULL argument");
    en_txn *t;
    int rc = en_read_begin(DB(db), &t);
    if (rc == 0)
        *out = (isle_txn *)t;
    return done(rc);
}

int isle_read_end(isle_txn *txn) {
    if (!txn)
        return en_fail(ISLE_EINVAL, "isle_read_end: NULL transaction");
    if (en_txn_is_write(TXN(txn)))
        return en_fail(ISLE_EINVAL, "isle_read_end on a write transaction");
    en_txn_end(TXN(txn));
    return done(0);
}

int isle_write(isle_db *db, isle_write_fn fn, void *arg) {
    if (!db || !fn)
        return en_fail(ISLE_EINVAL, "isle_write: NULL argument");
    return en_write_sync(DB(db), fn, arg); /* isle_txn is en_txn */
}

/* isle's own trees (collections and their schemas) have names with this
 * prefix; the key/value API may not open or drop them. */
#define RESERVED_PREFIX "_isle."

static int reserved(const char *fn, const char *name) {
    if (strncmp(name, RESERVED_PREFIX, sizeof RESERVED_PREFIX - 1) != 0)
        return 0;
    return en_fail(ISLE_EINVAL, "%s: tree names starting with \"%s\" are reserved", fn,
                   RESERVED_PREFIX);
}

int isle_kv_open(isle_txn *txn, const char *name, unsigned flags, isle_tree *out) {
    if (!txn || !name || !out)
        return en_fail(ISLE_EINVAL, "isle_kv_open: NULL argument");
    if (reserved("isle_kv_open", name))
        return ISLE_EINVAL;
    if (flags & ~ISLE_KV_CREATE)
        return en_fail(ISLE_EINVAL, "isle_kv_open: unknown flags 0x%x", flags);
    en_tree t;
    int rc = en_tree_open(TXN(txn), name, flags, &t);
    if (rc == 0)
        *out = t;
    return done(rc);
}

int isle_kv_drop(isle_txn *txn, const char *name) {
    if (!txn || !name)
        return en_fail(ISLE_EINVAL, "isle_kv_drop: NULL argument");
    if (reserved("isle_kv_drop", name))
        return ISLE_EINVAL;
    return done(en_tree_drop(TXN(txn), name));
}

static int key_check(const char *fn, const void *key, size_t klen) {
    if (!key || klen == 0)
        return en_fail(ISLE_EINVAL, "%s: empty or NULL key", fn);
    if (klen > ISLE_KV_KEY_MAX)
        return en_fail(ISLE_ETOOBIG, "%s: key of %zu bytes (at most %u)", fn, klen,
                       ISLE_KV_KEY_MAX);
    return 0;
}

int isle_kv_get(isle_txn *txn, isle_tree tree, const void *key, size_t klen,
                isle_val *out) {
    if (!txn || !out)
        return en_fail(ISLE_EINVAL, "isle_kv_get: NULL argument");
    memset(out, 0, sizeof *out);
    int rc = key_check("isle_kv_get", key, klen);
    if (rc)
        return rc;
    en_val v;
    en_clear_error();
    rc = en_get(TXN(txn), tree, key, (uint32_t)klen, &v);
    if (rc == ISLE_ENOTFOUND && !en_errmsg()[0])
        en_fail(rc, "isle_kv_get: no such key");
    if (rc)
        return status("isle_kv_get", rc);
    out->data = v.data;
    out->len = v.len;
    memcpy(out->priv_, v.priv_, sizeof v.priv_);
    return done(0);
}

void isle_kv_release(isle_txn *txn, isle_val *val) {
    if (!txn || !val || (!val->data && !val->priv_[0] && !val->priv_[1]))
        return;
    en_val v = {.data = val->data, .len = (uint32_t)val->len};
    memcpy(v.priv_, val->priv_, sizeof v.priv_);
    en_val_release(TXN(txn), &v);
    memset(val, 0, sizeof *val);
}

int isle_kv_put(isle_txn *txn, isle_tree tree, const void *key, size_t klen,
                const void *val, size_t vlen, unsigned flags) {
    if (!txn || (!val && vlen))
        return en_fail(ISLE_EINVAL, "isle_kv_put: NULL argument");
    if (flags & ~ISLE_KV_NOOVERWRITE)
        return en_fail(ISLE_EINVAL, "isle_kv_put: unknown flags 0x%x", flags);
    int rc = key_check("isle_kv_put", key, klen);
    if (rc)
        return rc;
    if (vlen > ISLE_OBJECT_SIZE_MAX)
        return en_fail(ISLE_ETOOBIG, "isle_kv_put: value of %zu bytes (at most %u)", vlen,
                       ISLE_OBJECT_SIZE_MAX);
    en_clear_error();
    rc = en_put(TXN(txn), tree, key, (uint32_t)klen, val, (uint32_t)vlen,
                (flags & ISLE_KV_NOOVERWRITE) ? EN_PUT_NOOVERWRITE : 0);
    if (rc == ISLE_EEXIST)
        en_fail(rc, "isle_kv_put: the key exists");
    return status("isle_kv_put", rc);
}

int isle_kv_del(isle_txn *txn, isle_tree tree, const void *key, size_t klen) {
    if (!txn)
        return en_fail(ISLE_EINVAL, "isle_kv_del: NULL transaction");
    int rc = key_check("isle_kv_del", key, klen);
    if (rc)
        return rc;
    en_clear_error();
    rc = en_del(TXN(txn), tree, key, (uint32_t)klen);
    if (rc == ISLE_ENOTFOUND && !en_errmsg()[0])
        en_fail(rc, "isle_kv_del: no such key");
    return status("isle_kv_del", rc);
}

/* ---- cursors ---------------------------------------------------------------- */

#define CUR(c) ((en_cursor *)(c))

int isle_cursor_open(isle_txn *txn, isle_tree tree, isle_cursor **out) {
    if (!txn || !out)
        return en_fail(ISLE_EINVAL, "isle_cursor_open: NULL argument");
    en_cursor *c;
    int rc = en_cursor_open(TXN(txn), tree, &c);
    if (rc == 0)
        *out = (isle_cursor *)c;
    return done(rc);
}

void isle_cursor_close(isle_cursor *cur) { en_cursor_close(CUR(cur)); }

int isle_cursor_first(isle_cursor *cur) {
    if (!cur)
        return en_fail(ISLE_EINVAL, "isle_cursor_first: NULL cursor");
    en_clear_error();
    return status("isle_cursor_first", en_cursor_first(CUR(cur)));
}

int isle_cursor_last(isle_cursor *cur) {
    if (!cur)
        return en_fail(ISLE_EINVAL, "isle_cursor_last: NULL cursor");
    en_clear_error();
    return status("isle_cursor_last", en_cursor_last(CUR(cur)));
}

int isle_cursor_next(isle_cursor *cur) {
    if (!cur)
        return en_fail(ISLE_EINVAL, "isle_cursor_next: NULL cursor");
    en_clear_error();
    return status("isle_cursor_next", en_cursor_next(CUR(cur)));
}

int isle_cursor_prev(isle_cursor *cur) {
    if (!cur)
        return en_fail(ISLE_EINVAL, "isle_cursor_prev: NULL cursor");
    en_clear_error();
    return status("isle_cursor_prev", en_cursor_prev(CUR(cur)));
}

int isle_cursor_seek(isle_cursor *cur, const void *key, size_t klen) {
    if (!cur)
        return en_fail(ISLE_EINVAL, "isle_cursor_seek: NULL cursor");
    int rc = key_check("isle_cursor_seek", key, klen);
    if (rc)
        return rc;
    en_clear_error();
    return status("isle_cursor_seek", en_cursor_seek(CUR(cur), key, (uint32_t)klen));
}

int isle_cursor_get(isle_cursor *cur, const void **key, size_t *klen, isle_val *val) {
    if (val)
        memset(val, 0, sizeof *val); /* releasing it after a failure is a no-op */
    if (!cur || !key || !klen)
        return en_fail(ISLE_EINVAL, "isle_cursor_get: NULL argument");
    const uint8_t *k;
    uint32_t kl;
    en_val v;
    en_clear_error();
    int rc = en_cursor_get(CUR(cur), &k, &kl, val ? &v : NULL);
    if (rc)
        return status("isle_cursor_get", rc);
    *key = k;
    *klen = kl;
    if (val) {
        val->data = v.data;
        val->len = v.len;
        memcpy(val->priv_, v.priv_, sizeof v.priv_);
    }
    return done(0);
}

/* ---- maintenance -------------------------------------------------------------- */

int isle_checkpoint(isle_db *db) {
    if (!db)
        return en_fail(ISLE_EINVAL, "isle_checkpoint: NULL handle");
    return done(en_checkpoint_ex(DB(db), 1));
}

int isle_stat(isle_db *db, isle_stats *st) {
    if (!db || !st)
        return en_fail(ISLE_EINVAL, "isle_stat: NULL argument");
    en_stats es;
    int rc = en_stat(DB(db), &es);
    if (rc)
        return rc;
    *st = (isle_stats){.page_size = es.page_size, .page_count = es.page_count,
                       .free_pages = es.free_pages, .freelist_pages = es.freelist_pages,
                       .trees = es.trees, .catalog_depth = es.catalog_depth,
                       .log_bytes = es.log_bytes, .last_txn = es.last_txn,
                       .oldest_reader_txn = es.oldest_reader_txn, .readers = es.readers,
                       .checkpoints = es.checkpoints, .commits = es.commits,
                       .log_syncs = es.log_syncs, .spilled_pages = es.spilled_pages,
                       .direct_pages = es.direct_pages};
    return done(0);
}

typedef struct tree_fn {
    void (*fn)(void *arg, const isle_tree_stats *st);
    void *arg;
} tree_fn;

static void tree_stat_bridge(void *arg, const en_tree_stats *es) {
    tree_fn *tf = arg;
    isle_tree_stats st = {.name = es->name, .depth = es->depth, .entries = es->entries,
                          .branch_pages = es->branch_pages, .leaf_pages = es->leaf_pages,
                          .overflow_pages = es->overflow_pages, .bytes_used = es->bytes_used};
    tf->fn(tf->arg, &st);
}

int isle_stat_trees(isle_db *db, void (*fn)(void *arg, const isle_tree_stats *st), void *arg) {
    if (!db || !fn)
        return en_fail(ISLE_EINVAL, "isle_stat_trees: NULL argument");
    tree_fn tf = {fn, arg};
    return done(en_tree_stat_each(DB(db), tree_stat_bridge, &tf));
}

int isle_check(isle_db *db, uint64_t *bad_page) {
    if (!db)
        return en_fail(ISLE_EINVAL, "isle_check: NULL handle");
    return done(en_check(DB(db), bad_page));
}
