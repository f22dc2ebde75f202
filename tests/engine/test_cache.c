/*
 * test_cache.c: the shared page cache once it is full.  Commits keep
 * installing their pages in place of older ones, so the next transaction
 * finds what the last one wrote without reading the log back; and the
 * cache stays within its bound.  A commit's copies of pages take the
 * place of the images they were copied from, so one-record commits do
 * not fill the cache with superseded images.  The page buffers a log reset
 * lets go of wait for the next write transactions, within the cache's
 * bound.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "en_int.h"
#include "testvfs.h"

static int put_key(en_txn *txn, void *p) {
    unsigned *i = p;
    en_tree t;
    char key[32], val[200];
    int rc = en_tree_open(txn, "c", EN_TREE_CREATE, &t);
    int n = snprintf(key, sizeof key, "key-%06u", *i);
    memset(val, 'v', sizeof val);
    return rc ? rc : en_put(txn, t, key, (uint32_t)n, val, sizeof val, 0);
}

/* Every step-th of keys 0..n-1 reads back; then the whole check. */
static void expect_keys(en_db *db, unsigned n, unsigned step) {
    en_txn *txn;
    cr_assert_eq(en_read_begin(db, &txn), 0);
    en_tree tr;
    cr_assert_eq(en_tree_open(txn, "c", 0, &tr), 0);
    for (unsigned k = 0; k < n; k += step) {
        char key[32];
        int len = snprintf(key, sizeof key, "key-%06u", k);
        en_val v;
        cr_assert_eq(en_get(txn, tr, key, (uint32_t)len, &v), 0, "%s", key);
        cr_assert_eq(v.len, 200);
        en_val_release(txn, &v);
    }
    en_txn_end(txn);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
}

Test(cache, a_full_cache_keeps_taking_new_pages) {
    testvfs *t = testvfs_new(11);
    /* Room for about 16 pages; the log keeps every commit (no checkpoint). */
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_NORMAL, .create = 1,
                      .cache_bytes = 16 * (4096 + 64), .checkpoint_bytes = 1ull << 40,
                      .vfs = testvfs_vfs(t)};
    en_db *db;
    cr_assert_eq(en_open("/c.isle", &opt, &db), 0, "%s", en_errmsg());
    unsigned i = 0;
    for (; i < 2000; i++) /* many more page versions than the cache holds */
        cr_assert_eq(en_write_sync(db, put_key, &i), 0, "%s", en_errmsg());
    uint64_t reads0 = testvfs_count(t, TESTVFS_READ);
    for (unsigned k = 0; k < 100; k++, i++)
        cr_assert_eq(en_write_sync(db, put_key, &i), 0, "%s", en_errmsg());
    uint64_t reads = testvfs_count(t, TESTVFS_READ) - reads0;
    /* Each commit rewrites a leaf, its parent, the root and the catalog:
     * read back from the log, that is 3 or more reads a commit. */
    cr_assert_lt(reads, 30, "%llu reads for 100 commits", (unsigned long long)reads);
    expect_keys(db, i, 97);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

Test(cache, copies_take_the_place_of_the_images_they_replace) {
    testvfs *t = testvfs_new(12);
    /* Room for 4,000 pages, far more than the tree has. */
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_NORMAL, .create = 1,
                      .cache_bytes = 4000 * (4096 + 64), .checkpoint_bytes = 1ull << 40,
                      .vfs = testvfs_vfs(t)};
    en_db *db;
    cr_assert_eq(en_open("/c.isle", &opt, &db), 0, "%s", en_errmsg());
    unsigned i = 0;
    for (; i < 2000; i++) /* about 8,000 page versions, 2000 * 200 B of data */
        cr_assert_eq(en_write_sync(db, put_key, &i), 0, "%s", en_errmsg());
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.delta_frames, 1000, "%llu", (unsigned long long)st.delta_frames);
    /* about 130 leaves, their branches and the catalog live */
    cr_assert_lt(st.cache_pages, 400, "%llu cached pages", (unsigned long long)st.cache_pages);
    expect_keys(db, i, 13);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* Keys [*first, *first + 500) in one transaction: about 30 new leaves. */
static int put_many_keys(en_txn *txn, void *p) {
    unsigned *first = p;
    int rc = 0;
    for (unsigned i = *first; rc == 0 && i < *first + 500; i++)
        rc = put_key(txn, &i);
    return rc;
}

/* Commits that fill the log with pages, then a checkpoint that resets the
 * log; returns the cache's bound in pages, its slack included. */
static size_t fill_and_reset(en_db *db, size_t cache_bytes) {
    for (unsigned first = 0; first < 3000; first += 500)
        cr_assert_eq(en_write_sync(db, put_many_keys, &first), 0, "%s", en_errmsg());
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    cr_assert_eq(wal_max_frame(db->wal), 0, "the log was reset");
    size_t max = cache_bytes / (4096 + EN_BUF_HDR);
    return max + max / 8 + 32;
}

Test(cache, buffers_a_log_reset_frees_are_kept_within_the_bound) {
    testvfs *t = testvfs_new(13);
    size_t bytes = 2000 * (4096 + EN_BUF_HDR);
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_NORMAL, .create = 1,
                      .cache_bytes = bytes, .checkpoint_bytes = 1ull << 40,
                      .vfs = testvfs_vfs(t)};
    en_db *db;
    cr_assert_eq(en_open("/c.isle", &opt, &db), 0, "%s", en_errmsg());
    size_t bound = fill_and_reset(db, bytes);
    size_t cached = en_cache_pages(db->cache);
    /* The log's pages left the cache; their buffers wait, past the 64
     * kept before any cache room counted. */
    cr_assert_gt(db->nspare, 128, "%u spares, %zu cached", db->nspare, cached);
    cr_assert_leq(db->nspare + cached, bound, "%u spares, %zu cached", db->nspare, cached);
    /* The next commits take them instead of allocating. */
    unsigned first = 3000;
    uint32_t before = db->nspare;
    cr_assert_eq(en_write_sync(db, put_many_keys, &first), 0, "%s", en_errmsg());
    cr_assert_lt(db->nspare, before, "%u spares after a commit, %u before", db->nspare, before);
    expect_keys(db, 3500, 7);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);

    /* A small cache keeps only what fits beside its pages. */
    t = testvfs_new(14);
    bytes = 40 * (4096 + EN_BUF_HDR);
    opt.cache_bytes = bytes;
    opt.vfs = testvfs_vfs(t);
    cr_assert_eq(en_open("/c.isle", &opt, &db), 0, "%s", en_errmsg());
    bound = fill_and_reset(db, bytes);
    if (bound < 64) /* the spares any cache keeps */
        bound = 64;
    cached = en_cache_pages(db->cache);
    cr_assert_leq(db->nspare, bound, "%u spares", db->nspare);
    cr_assert_leq(db->nspare + cached, bound, "%u spares, %zu cached", db->nspare, cached);
    expect_keys(db, 3000, 7);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}
