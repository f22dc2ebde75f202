/*
 * test_group.c: group commit, counted through the OS seam.  Several threads
 * submit durable (FULL) writes at once; the writer commits several with
 * one log sync, so the log sees fewer syncs than commits, and every commit
 * that returned is there after a power loss.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "en.h"
#include "testvfs.h"

#define THREADS 8
#define PER_THREAD 60

static en_db *db;

typedef struct arg {
    int thread, i;
} arg;

static int one(en_txn *txn, void *p) {
    arg *a = p;
    en_tree t;
    char key[32];
    int rc = en_tree_open(txn, "g", EN_TREE_CREATE, &t);
    int n = snprintf(key, sizeof key, "t%d-%04d", a->thread, a->i);
    return rc ? rc : en_put(txn, t, key, (uint32_t)n, key, (uint32_t)n, 0);
}

static void *submitter(void *p) {
    int th = (int)(intptr_t)p;
    for (int i = 0; i < PER_THREAD; i++) {
        arg a = {th, i};
        int rc = en_write_sync(db, one, &a);
        cr_assert_eq(rc, 0, "%s", en_errmsg());
    }
    return NULL;
}

Test(group, fewer_log_syncs_than_commits) {
    testvfs *t = testvfs_new(5);
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_FULL, .create = 1,
                      .checkpoint_bytes = 1ull << 40, .vfs = testvfs_vfs(t)};
    cr_assert_eq(en_open("/g.isle", &opt, &db), 0, "%s", en_errmsg());
    uint64_t syncs0 = testvfs_file_syncs(t, "/g.isle-wal");
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, submitter, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    uint64_t syncs = testvfs_file_syncs(t, "/g.isle-wal") - syncs0;
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_eq(st.commits, THREADS * PER_THREAD);
    cr_assert_lt(syncs, THREADS * PER_THREAD, "%llu syncs for %d commits",
                 (unsigned long long)syncs, THREADS * PER_THREAD);
    cr_assert_gt(syncs, 0);
    printf("group commit: %d commits, %llu log syncs\n", THREADS * PER_THREAD,
           (unsigned long long)syncs);
    /* Power loss: every acknowledged commit survives. */
    testvfs_crash(t, TESTVFS_DROP);
    en_close(db);
    cr_assert_eq(en_open("/g.isle", &opt, &db), 0, "%s", en_errmsg());
    en_txn *txn;
    en_tree tr;
    cr_assert_eq(en_read_begin(db, &txn), 0);
    cr_assert_eq(en_tree_open(txn, "g", 0, &tr), 0);
    for (int th2 = 0; th2 < THREADS; th2++)
        for (int i = 0; i < PER_THREAD; i++) {
            char key[32];
            int n = snprintf(key, sizeof key, "t%d-%04d", th2, i);
            en_val v;
            cr_assert_eq(en_get(txn, tr, key, (uint32_t)n, &v), 0, "lost %s", key);
            en_val_release(txn, &v);
        }
    en_txn_end(txn);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}
