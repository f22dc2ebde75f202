/*
 * test_kv_basic.c: the database and key/value API end to end through
 * isle.h: create, write, read, reopen, checkpoint, check, snapshots,
 * locking, and the errors of bad input.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isle.h"

static char path[256];

static void setup(void) {
    snprintf(path, sizeof path, "/tmp/isle-kv-%d-%ld.isle", (int)getpid(), random());
    unlink(path);
}

static void teardown(void) {
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
}

TestSuite(kv, .init = setup, .fini = teardown);

typedef struct fill {
    int from, to;
    int vsize;
} fill;

static int put_range(isle_txn *txn, void *arg) {
    fill *f = arg;
    isle_tree t;
    int rc = isle_kv_open(txn, "data", ISLE_KV_CREATE, &t);
    for (int i = f->from; rc == 0 && i < f->to; i++) {
        char key[32], val[4096];
        int kl = snprintf(key, sizeof key, "key-%08d", i);
        memset(val, 'a' + i % 26, sizeof val);
        rc = isle_kv_put(txn, t, key, (size_t)kl, val, (size_t)(f->vsize + i % 7), 0);
    }
    return rc;
}

static void expect_range(isle_db *db, int from, int to, int vsize) {
    isle_txn *txn;
    isle_tree t;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_kv_open(txn, "data", 0, &t), 0, "%s", isle_errmsg());
    for (int i = from; i < to; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "key-%08d", i);
        isle_val v;
        cr_assert_eq(isle_kv_get(txn, t, key, (size_t)kl, &v), 0, "key %d: %s", i,
                     isle_errmsg());
        cr_assert_eq(v.len, (size_t)(vsize + i % 7));
        cr_assert_eq(((const char *)v.data)[0], 'a' + i % 26);
        isle_kv_release(txn, &v);
    }
    cr_assert_eq(isle_read_end(txn), 0);
}

Test(kv, write_read_reopen_check) {
    isle_db *db;
    cr_assert_eq(isle_open(path, NULL, &db), 0, "%s", isle_errmsg());
    fill f = {0, 5000, 40};
    cr_assert_eq(isle_write(db, put_range, &f), 0, "%s", isle_errmsg());
    expect_range(db, 0, 5000, 40);
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_open(path, NULL, &db), 0, "%s", isle_errmsg());
    expect_range(db, 0, 5000, 40);
    fill big = {5000, 5200, 3000}; /* overflow values */
    cr_assert_eq(isle_write(db, put_range, &big), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_checkpoint(db), 0, "%s", isle_errmsg());
    expect_range(db, 5000, 5200, 3000);
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    isle_stats st;
    cr_assert_eq(isle_stat(db, &st), 0);
    cr_assert_eq(st.trees, 1);
    cr_assert_eq(st.last_txn, 2);
    cr_assert_eq(isle_close(db), 0);
}
