/*
 * en_tree.c: named trees, the catalog that finds them, and the key/value
 * operations and cursors of a transaction on them.
 *
 * The catalog is a B+tree whose root is in the state (meta and commit
 * record).  Its keys are tree names; its values are:
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      4    root page of the tree (0 = empty)
 *   4      1    kind: 1 = key/value tree (written to disk: never renumber)
 *   5      11   zero
 *
 * A handle (en_tree) indexes the db's table of names, which only grows and
 * whose entries never change once published; each transaction resolves a
 * handle to a root in its own snapshot and writes changed roots back into
 * the catalog at commit.  Uses btree/.
 */
#include <stdio.h>
#include <stdlib.h>

#include "en_int.h"

#define CATALOG_VALUE_SIZE 16u
#define KIND_KV 1u

static int name_check(const char *name, uint32_t *len) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > EN_NAME_MAX)
        return en_fail(CD_EINVAL, "a tree name is 1 to %u bytes", EN_NAME_MAX);
    if (!cd_utf8_valid((const uint8_t *)name, n))
        return en_fail(CD_EINVAL, "a tree name must be UTF-8");
    *len = (uint32_t)n;
    return 0;
}

/* Finds or adds the definition of name; sets *id. */
static int def_find(en_db *db, const char *name, uint32_t len, en_tree *id) {
    /* acquire: pairs with the release below, making the entries visible */
    uint32_t n = atomic_load_explicit(&db->ntrees, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if (db->trees[i].name_len == len && memcmp(db->trees[i].name, name, len) == 0)
            return *id = i, 0;
    pthread_mutex_lock(&db->tree_lock);
    int rc = 0;
    n = atomic_load_explicit(&db->ntrees, memory_order_relaxed);
    uint32_t i;
    for (i = 0; i < n; i++)
        if (db->trees[i].name_len == len && memcmp(db->trees[i].name, name, len) == 0)
            break;
    if (i == n) {
        if (n == EN_TREES_MAX) {
            rc = en_fail(CD_ETOOBIG, "a handle can know at most %u trees", EN_TREES_MAX);
        } else {
            memcpy(db->trees[n].name, name, len);
            db->trees[n].name[len] = 0;
            db->trees[n].name_len = len;
            atomic_store_explicit(&db->ntrees, n + 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&db->tree_lock);
    *id = i;
    return rc;
}

static int roots_reserve(en_txn *t, en_tree id) {
    if (id < t->nroots)
        return 0;
    uint32_t n = id + 16;
    en_troot *r = realloc(t->roots, (size_t)n * sizeof *r);
    if (!r)
        return en_fail(CD_ENOMEM, "out of memory for tree roots");
    memset(r + t->nroots, 0, (size_t)(n - t->nroots) * sizeof *r);
    t->roots = r;
    t->nroots = n;
    return 0;
}

/* Reads tree id's root from the transaction's catalog. */
static int root_load(en_txn *t, en_tree id) {
    en_troot *r = &t->roots[id];
    const en_treedef *d = &t->db->trees[id];
    bt_val v;
    int rc = bt_get(&t->pager, &t->catalog, d->name, d->name_len, &v);
    r->loaded = 1;
    if (rc == CD_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.len != CATALOG_VALUE_SIZE || v.data[4] != KIND_KV) {
        bt_val_release(&t->pager, &v);
        return en_fail(CD_ECORRUPT, "catalog entry of tree '%s' is malformed", d->name);
    }
    r->root = cd_get32(v.data);
    r->exists = 1;
    bt_val_release(&t->pager, &v);
    return 0;
}

int en_tree_open(en_txn *t, const char *name, unsigned flags, en_tree *out) {
    uint32_t len = 0;
    en_tree id = 0;
    int rc = name_check(name, &len);
    if (rc == 0 && (flags & ~EN_TREE_CREATE))
        rc = en_fail(CD_EINVAL, "unknown flags for en_tree_open");
    if (rc == 0 && (flags & EN_TREE_CREATE) && !t->write)
        rc = en_fail(CD_EREADONLY, "cannot create tree '%s' in a read transaction", name);
    if (rc == 0)
        rc = def_find(t->db, name, len, &id);
    if (rc == 0)
        rc = roots_reserve(t, id);
    if (rc == 0 && !t->roots[id].loaded)
        rc = root_load(t, id);
    if (rc)
        return rc;
    en_troot *r = &t->roots[id];
    if (!r->exists) {
        if (!(flags & EN_TREE_CREATE))
            return en_fail(CD_ENOTFOUND, "no tree named '%s'", name);
        r->exists = 1;
        r->root = 0;
        r->dirty = 1;
        t->catalog_dirty = 1;
    }
    *out = id;
    return 0;
}

/* The transaction's root of tree id, which must exist in its snapshot. */
static int resolve(en_txn *t, en_tree id, en_troot **out) {
    if (id >= atomic_load_explicit(&t->db->ntrees, memory_order_acquire))
        return en_fail(CD_EINVAL, "unknown tree handle %u", id);
    int rc = roots_reserve(t, id);
    if (rc == 0 && !t->roots[id].loaded)
        rc = root_load(t, id);
    if (rc)
        return rc;
    if (!t->roots[id].exists)
        return en_fail(CD_ENOTFOUND, "tree '%s' does not exist in this snapshot",
                       t->db->trees[id].name);
    *out = &t->roots[id];
    return 0;
}

/* Writes changed roots into the catalog (commit). */
int en_catalog_flush(en_txn *t) {
    for (uint32_t id = 0; id < t->nroots; id++) {
        en_troot *r = &t->roots[id];
        if (!r->dirty)
            continue;
        const en_treedef *d = &t->db->trees[id];
        int rc;
        if (r->exists) {
            uint8_t v[CATALOG_VALUE_SIZE] = {0};
            cd_put32(v, r->root);
            v[4] = KIND_KV;
            rc = bt_put(&t->pager, &t->catalog, d->name, d->name_len, v, sizeof v, 0);
        } else {
            rc = bt_del(&t->pager, &t->catalog, d->name, d->name_len);
            if (rc == CD_ENOTFOUND)
                rc = 0; /* created and dropped in this transaction */
        }
        if (rc) {
            char why[256]; /* en_fail writes the buffer en_errmsg returns */
            snprintf(why, sizeof why, "%s", en_errmsg());
            return en_fail(rc, "updating the catalog entry of '%s': %s", d->name, why);
        }
        r->dirty = 0;
    }
    t->st.catalog_root = t->catalog.root;
    return 0;
}

int en_tree_drop(en_txn *t, const char *name) {
    en_tree id;
    /* read-only first, as for put and del: whether the tree exists or the
     * name is valid does not matter to a read transaction */
    if (!t->write)
        return en_fail(CD_EREADONLY, "cannot drop tree '%s' in a read transaction", name);
    int rc = en_tree_open(t, name, 0, &id);
    if (rc)
        return rc;
    en_troot *r = &t->roots[id];
    bt_tree bt = {.root = r->root};
    rc = bt_drop(&t->pager, &bt);
    if (rc) {
        t->failed = 1;
        return rc;
    }
    r->root = 0;
    r->append_leaf = 0;
    r->exists = 0;
    r->dirty = 1;
    r->gen++;
    t->catalog_dirty = 1;
    en_note_change(t, id, NULL, 0);
    return 0;
}

/* ---- key/value operations ----------------------------------------------- */

/*
 * A value assembled on the heap (an overflow value) is recorded in the
 * transaction (priv_[2]: its index + 1), so that ending the transaction
 * frees it if the caller never released it; pinned pages are the pager's
 * (en_pager_release_all).
 */
static int val_from_bt(en_txn *t, en_val *out, bt_val *v) {
    memset(out, 0, sizeof *out);
    if (v->heap_) {
        if (t->nheaps == t->cap_heaps) {
            uint32_t nc = t->cap_heaps ? t->cap_heaps * 2 : 16;
            void **nh = realloc(t->heaps, (size_t)nc * sizeof *nh);
            if (!nh) {
                bt_val_release(&t->pager, v);
                return en_fail(CD_ENOMEM, "out of memory recording a value");
            }
            t->heaps = nh;
            t->cap_heaps = nc;
        }
        t->heaps[t->nheaps++] = v->heap_;
        out->priv_[2] = (void *)(uintptr_t)t->nheaps;
    }
    out->data = v->data;
    out->len = v->len;
    out->priv_[0] = (void *)v->pin_;
    out->priv_[1] = v->heap_;
    return 0;
}

void en_val_release(en_txn *t, en_val *val) {
    uintptr_t h = (uintptr_t)val->priv_[2];
    if (h && h <= t->nheaps && t->heaps[h - 1] == val->priv_[1]) {
        t->heaps[h - 1] = NULL;
        while (t->nheaps && !t->heaps[t->nheaps - 1])
            t->nheaps--;
    }
    bt_val v = {.data = val->data, .len = val->len,
                .pin_ = val->priv_[0], .heap_ = val->priv_[1]};
    bt_val_release(&t->pager, &v);
    memset(val, 0, sizeof *val);
}

int en_get(en_txn *t, en_tree id, const void *key, uint32_t klen, en_val *out) {
    en_troot *r;
    memset(out, 0, sizeof *out);
    int rc = resolve(t, id, &r);
    if (rc)
        return rc;
    bt_tree bt = {.root = r->root};
    bt_val v;
    rc = bt_get(&t->pager, &bt, key, klen, &v);
    if (rc == 0)
        rc = val_from_bt(t, out, &v);
    return rc;
}

/* Statuses after which a write has changed nothing. */
static int harmless(int rc) {
    return rc == 0 || rc == CD_EINVAL || rc == CD_ETOOBIG || rc == CD_EEXIST ||
           rc == CD_ENOTFOUND;
}

static int write_prologue(en_txn *t, en_tree id, en_troot **r) {
    if (!t->write)
        return en_fail(CD_EREADONLY, "write in a read transaction");
    if (t->failed)
        return en_fail(CD_EINVAL, "a write in this transaction failed: roll it back");
    return resolve(t, id, r);
}

/* After puts or dels that returned rc: cursors of the tree go stale, a
 * new root goes to the catalog at commit, and a failure that may have
 * half-written the tree leaves the transaction able only to abort. */
static int write_done(en_txn *t, en_troot *r, const bt_tree *bt, int rc) {
    r->gen++;
    if (!harmless(rc))
        t->failed = 1;
    else if (bt->root != r->root)
        r->root = bt->root, r->dirty = 1, t->catalog_dirty = 1;
    r->append_leaf = harmless(rc) ? bt->append_leaf : 0;
    return rc;
}

/* After one put or del: as write_done, and watchers hear of the key. */
static int write_epilogue(en_txn *t, en_tree id, en_troot *r, const bt_tree *bt,
                          const void *key, uint32_t klen, int rc) {
    if (rc == 0)
        en_note_change(t, id, key, klen);
    return write_done(t, r, bt, rc);
}

int en_put(en_txn *t, en_tree id, const void *key, uint32_t klen,
           const void *val, uint32_t vlen, unsigned flags) {
    en_troot *r;
    int rc = write_prologue(t, id, &r);
    if (rc)
        return rc;
    if (flags & ~EN_PUT_NOOVERWRITE)
        return en_fail(CD_EINVAL, "unknown flags for en_put");
    bt_tree bt = {.root = r->root, .append_leaf = r->append_leaf};
    rc = bt_put(&t->pager, &bt, key, klen, val, vlen,
                (flags & EN_PUT_NOOVERWRITE) ? BT_NOOVERWRITE : 0);
    return write_epilogue(t, id, r, &bt, key, klen, rc);
}

int en_put_run(en_txn *t, en_tree id, const en_kv *kv, uint32_t n, uint32_t *done) {
    en_troot *r;
    *done = 0;
    int rc = write_prologue(t, id, &r);
    if (rc)
        return rc;
    bt_tree bt = {.root = r->root, .append_leaf = r->append_leaf};
    uint32_t i = 0;
    while (rc == 0 && i < n) {
        bt_kv run[64];
        uint32_t k = n - i < 64 ? n - i : 64, placed;
        for (uint32_t j = 0; j < k; j++)
            run[j] = (bt_kv){kv[i + j].key, kv[i + j].val, kv[i + j].klen, kv[i + j].vlen};
        rc = bt_append_run(&t->pager, &bt, run, k, &placed);
        for (uint32_t j = 0; j < placed; j++, i++)
            en_note_change(t, id, kv[i].key, kv[i].klen);
        if (rc || placed == k)
            continue;
        /* the one the run could not place: a descent, a split, or an error */
        rc = bt_put(&t->pager, &bt, kv[i].key, kv[i].klen, kv[i].val, kv[i].vlen, 0);
        if (rc == 0)
            en_note_change(t, id, kv[i].key, kv[i].klen), i++;
    }
    *done = i;
    return write_done(t, r, &bt, rc);
}

int en_del(en_txn *t, en_tree id, const void *key, uint32_t klen) {
    en_troot *r;
    int rc = write_prologue(t, id, &r);
    if (rc)
        return rc;
    bt_tree bt = {.root = r->root};
    rc = bt_del(&t->pager, &bt, key, klen);
    return write_epilogue(t, id, r, &bt, key, klen, rc);
}

/* ---- cursors ------------------------------------------------------------- */

int en_cursor_open(en_txn *t, en_tree id, en_cursor **out) {
    en_troot *r;
    int rc = resolve(t, id, &r);
    if (rc)
        return rc;
    en_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return en_fail(CD_ENOMEM, "out of memory for a cursor");
    bt_tree bt = {.root = r->root};
    bt_cursor_open(&t->pager, &bt, &c->bc);
    c->txn = t;
    c->tree = id;
    c->gen = r->gen;
    c->next = t->cursor_list;
    if (c->next)
        c->next->prev = c;
    t->cursor_list = c;
    t->cursors++;
    *out = c;
    return 0;
}

/* Unlinks c from its transaction and drops its pins. */
void en_cursor_detach(en_cursor *c) {
    en_txn *t = c->txn;
    if (!t)
        return;
    bt_cursor_close(&c->bc);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->cursor_list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->cursors--;
    c->txn = NULL;
}

void en_cursor_close(en_cursor *c) {
    if (!c)
        return;
    en_cursor_detach(c);
    free(c);
}

static CD_COLD int not_live(en_cursor *c) {
    if (!c->txn)
        return en_fail(CD_EINVAL, "the cursor's transaction has ended");
    bt_cursor_close(&c->bc);
    return en_fail(CD_EINVAL, "the tree was written since the cursor was opened");
}

/* 0 while the cursor's transaction is open and its tree unwritten (a
 * scan checks it after every object: the test inline, the failure not). */
static inline int live(en_cursor *c) {
    return c->txn && c->txn->roots[c->tree].gen == c->gen ? 0 : not_live(c);
}

int en_cursor_first(en_cursor *c) { int rc = live(c); return rc ? rc : bt_cursor_first(&c->bc); }
int en_cursor_last(en_cursor *c) { int rc = live(c); return rc ? rc : bt_cursor_last(&c->bc); }
int en_cursor_next(en_cursor *c) { int rc = live(c); return rc ? rc : bt_cursor_next(&c->bc); }
int en_cursor_prev(en_cursor *c) { int rc = live(c); return rc ? rc : bt_cursor_prev(&c->bc); }

int en_cursor_seek(en_cursor *c, const void *key, uint32_t klen) {
    int rc = live(c);
    return rc ? rc : bt_cursor_seek(&c->bc, key, klen);
}

int en_cursor_get(en_cursor *c, const uint8_t **key, uint32_t *klen, en_val *val) {
    int rc = live(c);
    if (rc == 0)
        rc = bt_cursor_key(&c->bc, key, klen);
    if (rc == 0 && val) {
        bt_val v;
        rc = bt_cursor_value(&c->bc, &v);
        if (rc == 0)
            rc = val_from_bt(c->txn, val, &v);
    }
    return rc;
}

typedef struct each_run {
    en_cursor *c;
    en_each_fn fn;
    void *arg;
} each_run;

static int each_one(void *arg, const bt_entry *e) {
    each_run *x = arg;
    int rc = x->fn(x->arg, e->key, e->klen, e->val, e->vlen);
    return rc ? rc : live(x->c);
}

int en_cursor_each(en_cursor *c, int dir, en_each_fn fn, void *arg) {
    int rc = live(c);
    if (rc)
        return rc;
    each_run x = {c, fn, arg};
    return bt_cursor_each(&c->bc, dir, each_one, &x);
}

int en_cursor_peek(en_cursor *c, const uint8_t **key, uint32_t *klen, const uint8_t **val,
                   uint32_t *vlen) {
    int rc = live(c);
    return rc ? rc : bt_cursor_peek(&c->bc, key, klen, val, vlen);
}
