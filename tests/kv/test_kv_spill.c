/*
 * test_kv_spill.c: a write transaction larger than the page cache.  Its
 * dirty pages spill to the log before it commits; reading, updating and
 * deleting them must still work, the commit must hold everything, and a
 * rollback must leave nothing of it.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isle.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define N 12000 /* still ~20 times the cache below */
#else
#define N 40000
#endif

static char path[256];

static void setup(void) {
    snprintf(path, sizeof path, "/tmp/isle-spill-%d-%ld.isle", (int)getpid(), random());
}

static void teardown(void) {
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);
}

TestSuite(spill, .init = setup, .fini = teardown);

static int key(int i, char *buf) { return sprintf(buf, "k%07d", (i * 7919) % N); }

static void value(int i, int gen, char *buf) {
    memset(buf, 'a' + (i + gen) % 26, 100);
    memcpy(buf, &i, sizeof i);
}

typedef struct big {
    int fail; /* return an error at the end: roll back */
} big;

static int big_txn(isle_txn *txn, void *arg) {
    big *b = arg;
    isle_tree t;
    char k[16], v[100];
    int rc = isle_kv_open(txn, "big", ISLE_KV_CREATE, &t);
    for (int i = 0; rc == 0 && i < N; i++) {
        value(i, 0, v);
        rc = isle_kv_put(txn, t, k, (size_t)key(i, k), v, sizeof v, 0);
    }
    /* Read back early keys (on spilled pages by now), update a third,
     * delete a third. */
    for (int i = 0; rc == 0 && i < N; i += 3) {
        isle_val got;
        int kl = key(i, k);
        rc = isle_kv_get(txn, t, k, (size_t)kl, &got);
        cr_assert_eq(rc, 0, "get %d: %s", i, isle_errmsg());
        value(i, 0, v);
        cr_assert_eq(memcmp(got.data, v, sizeof v), 0, "key %d read back wrong", i);
        isle_kv_release(txn, &got);
        value(i, 1, v);
        rc = isle_kv_put(txn, t, k, (size_t)kl, v, sizeof v, 0);
        if (rc == 0 && i + 1 < N)
            rc = isle_kv_del(txn, t, k, (size_t)key(i + 1, k));
    }
    return rc ? rc : b->fail;
}

static void verify(isle_db *db) {
    isle_txn *txn;
    isle_tree t;
    char k[16], v[100];
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_kv_open(txn, "big", 0, &t), 0, "%s", isle_errmsg());
    for (int i = 0; i < N; i++) {
        isle_val got;
        int rc = isle_kv_get(txn, t, k, (size_t)key(i, k), &got);
        if (i % 3 == 1) {
            cr_assert_eq(rc, ISLE_ENOTFOUND, "deleted key %d is present", i);
            continue;
        }
        cr_assert_eq(rc, 0, "key %d: %s", i, isle_errmsg());
        value(i, i % 3 == 0 ? 1 : 0, v);
        cr_assert_eq(got.len, sizeof v);
        cr_assert_eq(memcmp(got.data, v, sizeof v), 0, "key %d wrong", i);
        isle_kv_release(txn, &got);
    }
    isle_read_end(txn);
}

static isle_db *open_small(void) {
    isle_options opt;
    isle_options_init(&opt);
    opt.cache_bytes = 256 * 1024; /* ~6 MB of pages will not fit */
    opt.sync = ISLE_SYNC_NORMAL;
    isle_db *db;
    cr_assert_eq(isle_open(path, &opt, &db), 0, "%s", isle_errmsg());
    return db;
}

Test(spill, commit_larger_than_cache) {
    isle_db *db = open_small();
    big b = {0};
    cr_assert_eq(isle_write(db, big_txn, &b), 0, "%s", isle_errmsg());
    isle_stats st;
    cr_assert_eq(isle_stat(db, &st), 0);
    cr_assert_gt(st.spilled_pages, N / 40, "only %llu pages spilled",
                 (unsigned long long)st.spilled_pages);
    verify(db);
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_close(db), 0);
    db = open_small();
    verify(db);
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_close(db), 0);
}

Test(spill, rollback_larger_than_cache) {
    isle_db *db = open_small();
    big b = {.fail = ISLE_ECANCELED};
    cr_assert_eq(isle_write(db, big_txn, &b), ISLE_ECANCELED);
    isle_txn *txn;
    isle_tree t;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_kv_open(txn, "big", 0, &t), ISLE_ENOTFOUND);
    isle_read_end(txn);
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    /* The log holds nothing of it: a reopen finds the same. */
    cr_assert_eq(isle_close(db), 0);
    db = open_small();
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_kv_open(txn, "big", 0, &t), ISLE_ENOTFOUND);
    isle_read_end(txn);
    b.fail = 0;
    cr_assert_eq(isle_write(db, big_txn, &b), 0, "%s", isle_errmsg());
    verify(db);
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_close(db), 0);
}

/* A value held while its tree is written (isle.h says to release it
 * first): the process must not abort, and the value's memory stays valid
 * (its bytes may have changed) until it is released. */
static int hold_and_delete(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t;
    char k[16], v[100];
    int rc = isle_kv_open(txn, "held", ISLE_KV_CREATE, &t);
    for (int i = 0; rc == 0 && i < 500; i++) {
        memset(v, 'h', sizeof v);
        rc = isle_kv_put(txn, t, k, (size_t)sprintf(k, "h%05d", i), v, sizeof v, 0);
    }
    isle_val held;
    if (rc == 0)
        rc = isle_kv_get(txn, t, "h00007", 6, &held);
    for (int i = 0; rc == 0 && i < 500; i++)
        rc = isle_kv_del(txn, t, k, (size_t)sprintf(k, "h%05d", i));
    if (rc == 0) {
        unsigned sum = 0;
        for (size_t i = 0; i < held.len; i++) /* ASan: still valid memory */
            sum += ((const unsigned char *)held.data)[i];
        cr_assert_eq(held.len, 100);
        cr_assert_leq(sum, 100u * 255u);
        isle_kv_release(txn, &held);
    }
    return rc;
}

Test(spill, value_held_across_writes_to_its_tree) {
    isle_db *db = open_small();
    cr_assert_eq(isle_write(db, hold_and_delete, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_check(db, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_close(db), 0);
}
