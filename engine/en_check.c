/*
 * en_check.c: the integrity check and the statistics of a database.
 *
 * The check holds the write lock (so the newest commit stays the newest and
 * its free list is the one on disk) and verifies that every page number
 * below the page count is used exactly once: the two meta pages, the pages
 * of the catalog and of every tree it names (branch, leaf, overflow: each
 * verified, with key order and bounds checked by bt_check), the free-list
 * chain pages, and the pages the free list names.  The first problem found
 * is the result, naming the page.  Uses btree/.
 */
#include <stdio.h>
#include <stdlib.h>

#include "en_int.h"

typedef struct check_ctx {
    uint8_t *seen;
    uint32_t count;
    uint32_t bad;
    const char *why;
} check_ctx;

static void visit(void *arg, uint32_t pgno, uint8_t type) {
    check_ctx *c = arg;
    (void)type;
    if (c->why)
        return;
    if (pgno >= c->count) {
        c->bad = pgno, c->why = "referenced beyond the page count";
    } else if (c->seen[pgno / 8] & (1u << (pgno % 8))) {
        c->bad = pgno, c->why = "reachable twice";
    } else {
        c->seen[pgno / 8] |= (uint8_t)(1u << (pgno % 8));
    }
}

static int tree_check(en_txn *t, const bt_tree *tree, const char *name, check_ctx *c,
                      uint64_t *bad) {
    cd_diag d = {0};
    uint32_t bad_pgno = 0;
    int rc = bt_check(&t->pager, tree, visit, c, &d, &bad_pgno);
    if (rc == 0 && c->why)
        rc = CD_ECORRUPT;
    if (rc == 0)
        return 0;
    if (c->why) {
        *bad = c->bad;
        return en_fail(CD_ECORRUPT, "page %u is %s (tree '%s')", c->bad, c->why, name);
    }
    *bad = bad_pgno;
    if (rc == CD_ECORRUPT && d.what)
        return en_fail(CD_ECORRUPT, "page %u of tree '%s': %s [offset %zu]", bad_pgno, name,
                       d.what, d.offset);
    return rc;
}

/*
 * Calls fn for every tree the catalog of t names, in name order.  A
 * malformed catalog entry is CD_ECORRUPT, with *bad the catalog leaf
 * holding it.  Stops at fn's first error.
 */
typedef int (*catalog_fn)(en_txn *t, const char *name, const bt_tree *tree, void *arg);

static int catalog_each(en_txn *t, catalog_fn fn, void *arg, uint64_t *bad) {
    bt_cursor cur;
    int rc = 0;
    bt_cursor_open(&t->pager, &t->catalog, &cur);
    for (int m = bt_cursor_first(&cur); rc == 0 && m == 0; m = bt_cursor_next(&cur)) {
        const uint8_t *key;
        uint32_t klen;
        bt_val v;
        char name[EN_NAME_MAX + 1];
        if ((rc = bt_cursor_key(&cur, &key, &klen)) != 0 ||
            (rc = bt_cursor_value(&cur, &v)) != 0)
            break;
        snprintf(name, sizeof name, "%.*s", (int)(klen > EN_NAME_MAX ? EN_NAME_MAX : klen), key);
        bt_tree tree = {.root = v.len == 16 ? cd_get32(v.data) : 0};
        int ok = v.len == 16 && v.data[4] == 1;
        bt_val_release(&t->pager, &v);
        if (!ok) {
            *bad = cur.f[cur.depth - 1].pgno;
            rc = en_fail(CD_ECORRUPT, "catalog entry '%s' is malformed", name);
        } else {
            rc = fn(t, name, &tree, arg);
        }
    }
    bt_cursor_close(&cur);
    return rc;
}

typedef struct check_arg {
    check_ctx *c;
    uint64_t *bad;
} check_arg;

static int check_one(en_txn *t, const char *name, const bt_tree *tree, void *arg) {
    check_arg *a = arg;
    return tree_check(t, tree, name, a->c, a->bad);
}

/* Walks the catalog and checks every tree it names. */
static int trees_check(en_txn *t, check_ctx *c, uint64_t *bad) {
    int rc = tree_check(t, &t->catalog, "(catalog)", c, bad);
    check_arg a = {c, bad};
    return rc ? rc : catalog_each(t, check_one, &a, bad);
}

/* The free-list chain and the pages it lists. */
static int free_check(en_txn *t, check_ctx *c, uint64_t *bad) {
    en_db *db = t->db;
    uint8_t *page = malloc(db->page_size);
    if (!page)
        return en_fail(CD_ENOMEM, "out of memory checking the free list");
    uint32_t listed = 0;
    int rc = 0;
    for (uint32_t p = t->st.free_head; p && rc == 0; p = cd_page_aux0(page)) {
        visit(c, p, CD_PAGE_FREELIST);
        if (c->why) {
            *bad = c->bad;
            rc = en_fail(CD_ECORRUPT, "free-list page %u is %s", c->bad, c->why);
            break;
        }
        if ((rc = en_read_page(db, t->max_frame, p, CD_PAGE_MASK_FREELIST, page, NULL)) != 0) {
            *bad = p;
            break;
        }
        for (unsigned i = 0; i < cd_page_n(page) && !c->why; i++, listed++)
            visit(c, cd_freelist_get(page, i), CD_PAGE_FREELIST);
        if (c->why) {
            *bad = c->bad;
            rc = en_fail(CD_ECORRUPT, "free page %u is %s (in use, or listed twice)",
                         c->bad, c->why);
        }
    }
    free(page);
    if (rc == 0 && listed != t->st.free_count)
        rc = en_fail(CD_ECORRUPT, "free list holds %u pages, the state says %u", listed,
                     t->st.free_count);
    return rc;
}

int en_check(en_db *db, uint64_t *bad_pgno) {
    uint64_t bad = 0;
    en_txn *t;
    int rc = en_write_begin(db, &t);
    if (rc)
        return rc;
    check_ctx c = {.count = t->st.page_count};
    c.seen = calloc(c.count / 8 + 1, 1);
    if (!c.seen) {
        en_txn_end(t);
        return en_fail(CD_ENOMEM, "out of memory for the check");
    }
    visit(&c, CD_META_PGNO_A, CD_PAGE_META);
    visit(&c, CD_META_PGNO_B, CD_PAGE_META);
    rc = trees_check(t, &c, &bad);
    if (rc == 0)
        rc = free_check(t, &c, &bad);
    for (uint32_t p = 0; rc == 0 && p < c.count; p++)
        if (!(c.seen[p / 8] & (1u << (p % 8)))) {
            bad = p;
            rc = en_fail(CD_ECORRUPT, "page %u is neither reachable nor free (leaked)", p);
        }
    free(c.seen);
    en_txn_end(t);
    if (bad_pgno)
        *bad_pgno = bad;
    if (rc == 0)
        en_clear_error();
    return rc;
}

int en_stat(en_db *db, en_stats *st) {
    en_txn *t;
    int rc = en_write_begin(db, &t);
    if (rc)
        return rc;
    memset(st, 0, sizeof *st);
    st->page_size = db->page_size;
    st->page_count = db->state.page_count;
    st->free_pages = db->nfree;
    st->freelist_pages = db->nchain;
    st->log_bytes = wal_size_bytes(db->wal);
    st->last_txn = db->state.txn;
    st->oldest_reader_txn = en_oldest_reader(db);
    st->readers = (uint32_t)en_readers_active(db, NULL);
    st->checkpoints = db->n_checkpoints;
    st->commits = db->n_commits;
    st->spilled_pages = db->n_spilled;
    st->direct_pages = db->n_direct;
    st->map_checks = atomic_load_explicit(&db->n_map_checks, memory_order_relaxed);
    wal_stats ws;
    wal_get_stats(db->wal, &ws);
    st->log_syncs = ws.syncs;
    st->delta_frames = ws.delta_frames;
    st->cache_pages = db->cache ? en_cache_pages(db->cache) : 0;
    bt_stats bs;
    rc = bt_stat(&t->pager, &t->catalog, &bs);
    if (rc == 0) {
        st->trees = bs.entries;
        st->catalog_depth = bs.depth;
    }
    en_txn_end(t);
    return rc;
}

typedef struct stat_arg {
    void (*fn)(void *arg, const en_tree_stats *st);
    void *arg;
} stat_arg;

static int stat_one(en_txn *t, const char *name, const bt_tree *tree, void *arg) {
    stat_arg *a = arg;
    bt_stats bs;
    int rc = bt_stat(&t->pager, tree, &bs);
    if (rc == 0) {
        en_tree_stats ts = {.name = name, .depth = bs.depth, .entries = bs.entries,
                            .branch_pages = bs.branch_pages, .leaf_pages = bs.leaf_pages,
                            .overflow_pages = bs.overflow_pages, .bytes_used = bs.bytes_used};
        a->fn(a->arg, &ts);
    }
    return rc;
}

int en_tree_stat_each(en_db *db, void (*fn)(void *arg, const en_tree_stats *st), void *arg) {
    en_txn *t;
    int rc = en_read_begin(db, &t);
    if (rc)
        return rc;
    stat_arg a = {fn, arg};
    uint64_t bad;
    rc = catalog_each(t, stat_one, &a, &bad);
    en_txn_end(t);
    return rc;
}
