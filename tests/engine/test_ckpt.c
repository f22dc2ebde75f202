/*
 * test_ckpt.c: the automatic checkpoint's threshold counts the log's
 * pages whole, however small the log stores them, so that what readers
 * must find in the log stays bounded.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "en.h"
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
