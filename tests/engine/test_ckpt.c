/*
 * test_ckpt.c: the automatic checkpoint's threshold counts the log's
 * pages whole, however small the log stores them, so that what readers
 * must find in the log stays bounded; and the open after a crash leaves
 * the log for it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en.h"
#include "en_tutil.h"
#include "testvfs.h"

static int put_small(en_txn *txn, void *p) {
    unsigned *i = p;
    en_tree t;
    char key[32];
    int rc = en_tree_open(txn, "k", EN_TREE_CREATE, &t);
    int n = snprintf(key, sizeof key, "k%04u", *i);
    return rc ? rc : en_put(txn, t, key, (uint32_t)n, "v", 1, 0);
}

Test(ckpt, threshold_counts_whole_pages) {
    testvfs *t = testvfs_new(21);
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_NORMAL, .create = 1,
                      .checkpoint_bytes = 64 * 4096, .vfs = testvfs_vfs(t)};
    en_db *db;
    cr_assert_eq(en_open("/k.isle", &opt, &db), 0, "%s", en_errmsg());
    en_stats st;
    unsigned i = 0;
    /* Each commit logs a few nearly empty pages: a few hundred bytes each
     * in the log, 4 KiB each counted whole. */
    for (; i < 40; i++)
        cr_assert_eq(en_write_sync(db, put_small, &i), 0, "%s", en_errmsg());
    cr_assert_eq(en_stat(db, &st), 0);
    uint64_t ck0 = st.checkpoints;
    cr_assert_lt(st.log_bytes, 64 * 4096 / 2, "log %llu bytes", (unsigned long long)st.log_bytes);
    for (; i < 80; i++)
        cr_assert_eq(en_write_sync(db, put_small, &i), 0, "%s", en_errmsg());
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.checkpoints, ck0, "no checkpoint after 80 commits of 2+ pages");
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* After a crash the open reads the log and writes no page: the main file
 * stays as the last checkpoint left it, the log's commits are read
 * through its index, new commits follow them (and survive the next
 * crash), and the next checkpoint writes them all. */
Test(ckpt, the_open_after_a_crash_writes_no_page) {
    testvfs *t = testvfs_new(22);
    en_options opt = tu_options(testvfs_vfs(t), EN_SYNC_FULL, 1ull << 40);
    en_db *db;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    tu_model m = {0}, next;
    uint64_t rng = 7;
    char why[256] = "";
    for (int i = 0; i < 20; i++) {
        cr_assert_eq(tu_txn(db, &m, &rng, &tu_shape_default, &next), 0, "%s", en_errmsg());
        m = next;
    }
    testvfs_crash(t, TESTVFS_DROP);
    en_close(db);
    size_t len0 = 0, len1 = 0;
    uint8_t *before = testvfs_file_get(t, TU_PATH, &len0);
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    uint8_t *after = testvfs_file_get(t, TU_PATH, &len1);
    cr_assert(before && after && len0 == len1 && memcmp(before, after, len0) == 0,
              "the open wrote to the main file");
    free(before);
    free(after);
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.log_bytes, 0, "the open emptied the log");
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "%s", why);

    for (int i = 0; i < 5; i++) {
        cr_assert_eq(tu_txn(db, &m, &rng, &tu_shape_default, &next), 0, "%s", en_errmsg());
        m = next;
    }
    testvfs_crash(t, TESTVFS_TORN);
    en_close(db);
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "after the second crash: %s", why);
    cr_assert_eq(en_stat(db, &st), 0);
    uint64_t logged = st.log_bytes;
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_lt(st.log_bytes, logged, "the checkpoint left %llu of %llu log bytes",
                 (unsigned long long)st.log_bytes, (unsigned long long)logged);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "after the checkpoint: %s", why);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    testvfs_free(t);
}
