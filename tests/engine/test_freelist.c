/*
 * test_freelist.c: a free list longer than one free-list page.  Thousands
 * of pages are freed at once (a tree of overflow values dropped), so the
 * persisted list spans several chain pages; then pages are taken from it
 * and freed again across commits, with reopens and power losses in
 * between.  After every step en_check passes (every page is used once or
 * listed free once), the free-page count survives a reopen, and the data
 * is what was committed.  And a page freed inside a commit group is not
 * reused while a reader may still begin on the snapshot that holds it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_page.h"
#include "en_int.h"
#include "en_tutil.h"
#include "testvfs.h"

#define VLEN 7000u

/* Puts keys [from, to) of tree name with values made from seed; or, with
 * del, deletes them. */
static int fill(en_db *db, const char *name, unsigned from, unsigned to, uint32_t seed,
                int del) {
    static uint8_t v[VLEN];
    en_txn *t;
    en_tree id;
    int rc = en_write_begin(db, &t);
    if (rc)
        return rc;
    rc = en_tree_open(t, name, EN_TREE_CREATE, &id);
    for (unsigned k = from; rc == 0 && k < to; k++) {
        char key[16];
        uint32_t klen = tu_key(k, key);
        if (del) {
            rc = en_del(t, id, key, klen);
        } else {
            tu_value(seed + k, VLEN, v);
            rc = en_put(t, id, key, klen, v, VLEN, 0);
        }
    }
    if (rc) {
        en_txn_end(t);
        return rc;
    }
    return en_commit(t);
}

/* Checks that tree name, as read transaction t sees it, holds exactly
 * keys [from, to) made from seed. */
static void expect_in(en_txn *t, const char *name, unsigned from, unsigned to,
                      uint32_t seed) {
    static uint8_t v[VLEN];
    en_tree id;
    cr_assert_eq(en_tree_open(t, name, 0, &id), 0, "%s", en_errmsg());
    en_cursor *c;
    cr_assert_eq(en_cursor_open(t, id, &c), 0);
    unsigned k = from;
    for (int mv = en_cursor_first(c); mv == 0; mv = en_cursor_next(c), k++) {
        const uint8_t *kp;
        uint32_t klen;
        en_val val;
        char key[16];
        cr_assert_eq(en_cursor_get(c, &kp, &klen, &val), 0, "%s", en_errmsg());
        cr_assert(k < to && klen == tu_key(k, key) && memcmp(kp, key, klen) == 0,
                  "unexpected key %.*s", (int)klen, kp);
        tu_value(seed + k, VLEN, v);
        cr_assert(val.len == VLEN && memcmp(val.data, v, VLEN) == 0, "value of %s", key);
        en_val_release(t, &val);
    }
    cr_assert_eq(k, to, "keys end at %u, expected %u", k, to);
    en_cursor_close(c);
}

/* The same, in a read transaction of its own. */
static void expect(en_db *db, const char *name, unsigned from, unsigned to, uint32_t seed) {
    en_txn *t;
    cr_assert_eq(en_read_begin(db, &t), 0);
    expect_in(t, name, from, to, seed);
    en_txn_end(t);
}

static uint64_t free_pages(en_db *db, uint64_t *chain) {
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    *chain = st.freelist_pages;
    return st.free_pages;
}

static void check(en_db *db) {
    uint64_t bad = 0;
    int rc = en_check(db, &bad);
    cr_assert_eq(rc, 0, "check: page %llu: %s", (unsigned long long)bad, en_errmsg());
}

Test(freelist, spans_several_pages, .timeout = 120) {
    testvfs *t = testvfs_new(31);
    en_options opt = tu_options(testvfs_vfs(t), EN_SYNC_FULL, 0);
    en_db *db;
    uint64_t chain, n;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0);
    /* ~2600 overflow pages and their leaves, then all of them freed. */
    cr_assert_eq(fill(db, "big", 0, 1300, 1, 0), 0, "%s", en_errmsg());
    cr_assert_eq(fill(db, "keep", 0, 40, 2, 0), 0, "%s", en_errmsg());
    check(db);
    en_txn *txn;
    cr_assert_eq(en_write_begin(db, &txn), 0);
    cr_assert_eq(en_tree_drop(txn, "big"), 0, "%s", en_errmsg());
    cr_assert_eq(en_commit(txn), 0, "%s", en_errmsg());
    n = free_pages(db, &chain);
    cr_assert_gt(n, 2 * cd_freelist_capacity(4096), "free pages: %llu",
                 (unsigned long long)n);
    cr_assert_geq(chain, 3);
    check(db);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());

    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    uint64_t chain2;
    cr_assert_eq(free_pages(db, &chain2), n, "the free list changed across a reopen");
    cr_assert_eq(chain2, chain);
    check(db);
    /* Take pages from the list (its tail, then from the middle as the
     * last entries move into the holes), free some, across commits. */
    for (unsigned round = 0; round < 6; round++) {
        cr_assert_eq(fill(db, "keep", 40 + round * 50, 90 + round * 50, 2, 0), 0, "%s",
                     en_errmsg());
        cr_assert_eq(fill(db, "keep", round * 20, round * 20 + 10, 2, 1), 0, "%s",
                     en_errmsg());
        cr_assert_eq(fill(db, "keep", round * 20, round * 20 + 10, 2, 0), 0, "%s",
                     en_errmsg());
        check(db);
        if (round % 2)
            cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    }
    expect(db, "keep", 0, 340, 2);
    /* A power loss in the middle of a commit that rewrites the list. */
    testvfs_fail(t, TESTVFS_WRITE, 1, CD_EIO, 1);
    cr_assert_neq(fill(db, "keep", 340, 400, 2, 0), 0);
    testvfs_crash(t, TESTVFS_TORN);
    testvfs_fail_clear(t);
    en_close(db);
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    check(db);
    expect(db, "keep", 0, 340, 2);
    cr_assert_eq(fill(db, "keep", 340, 400, 2, 0), 0, "%s", en_errmsg());
    check(db);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    expect(db, "keep", 0, 400, 2);
    check(db);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    testvfs_free(t);
}

/*
 * A commit group's first transaction frees the pages of a tree's old
 * image; its second, begun with no reader open, must not take them: the
 * group is not published yet, so a reader that begins now still reads the
 * old image, from the main file, and keeps reading it after the group is
 * published and checkpointed.
 */
Test(freelist, group_reuse_waits_for_published_snapshot) {
    testvfs *t = testvfs_new(32);
    en_options opt = tu_options(testvfs_vfs(t), EN_SYNC_FULL, 0);
    en_db *db;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0);
    cr_assert_eq(fill(db, "old", 0, 30, 3, 0), 0, "%s", en_errmsg());
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg()); /* "old" in the main file */
    en_group_begin(db);
    cr_assert_eq(fill(db, "old", 0, 30, 4, 0), 0, "%s", en_errmsg()); /* frees the old image */
    cr_assert_eq(fill(db, "new", 0, 60, 5, 0), 0, "%s", en_errmsg()); /* allocates */
    en_txn *r;
    cr_assert_eq(en_read_begin(db, &r), 0); /* the snapshot before the group */
    cr_assert_eq(en_group_end(db), 0, "%s", en_errmsg());
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    expect_in(r, "old", 0, 30, 3); /* unchanged under the reader */
    en_txn_end(r);
    expect(db, "old", 0, 30, 4);
    expect(db, "new", 0, 60, 5);
    check(db);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    testvfs_free(t);
}
