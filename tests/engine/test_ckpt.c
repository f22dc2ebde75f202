/*
 * test_ckpt.c: the automatic checkpoint's threshold counts the log's
 * pages whole, however small the log stores them, so that what readers
 * must find in the log stays bounded; the open after a crash leaves the
 * log for it; and the checkpoint's writes: runs of consecutive pages,
 * over the few pages between copied ones, with hints to the device, and
 * what a failed or torn one loses (nothing).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en.h"
#include "en_int.h" /* EN_WRITEBACK_BYTES */
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

/* ---- the checkpoint's writes ---------------------------------------------- */

#define RUN_KEYS 12000u /* ~2.6 MB of cells: ~650 leaves, past the 1 MiB hint */
#define RUN_VLEN 200u

static void run_value(unsigned k, uint8_t *v) {
    for (unsigned i = 0; i < RUN_VLEN; i++)
        v[i] = (uint8_t)(k * 13u + i);
}

/* Puts keys [*from, *from + 100) in ascending order: a few pages, which
 * the cache of load_batches holds (no spill to the main file). */
static int put_batch(en_txn *txn, void *p) {
    unsigned from = *(unsigned *)p;
    en_tree t;
    char key[16];
    uint8_t v[RUN_VLEN];
    int rc = en_tree_open(txn, "r", EN_TREE_CREATE, &t);
    for (unsigned k = from; rc == 0 && k < from + 100; k++) {
        run_value(k, v);
        rc = en_put(txn, t, key, (uint32_t)snprintf(key, sizeof key, "r%06u", k), v, RUN_VLEN, 0);
    }
    return rc;
}

static void expect_run_keys(en_db *db) {
    en_txn *txn;
    en_tree t;
    char key[16];
    uint8_t want[RUN_VLEN];
    cr_assert_eq(en_read_begin(db, &txn), 0, "%s", en_errmsg());
    cr_assert_eq(en_tree_open(txn, "r", 0, &t), 0, "%s", en_errmsg());
    for (unsigned k = 0; k < RUN_KEYS; k++) {
        en_val v;
        cr_assert_eq(en_get(txn, t, key, (uint32_t)snprintf(key, sizeof key, "r%06u", k), &v),
                     0, "key %u: %s", k, en_errmsg());
        run_value(k, want);
        cr_assert(v.len == RUN_VLEN && memcmp(v.data, want, RUN_VLEN) == 0, "key %u differs", k);
        en_val_release(txn, &v);
    }
    en_txn_end(txn);
}

/* Loads RUN_KEYS keys in ascending batches into a new database whose
 * checkpoints wait for en_checkpoint; a cache of 16 pages, so that the
 * checkpoint reads most images back from the log. */
static en_db *load_batches(testvfs *t, enum en_sync sync) {
    en_options opt = {.page_size = 4096, .sync = sync, .create = 1,
                      .checkpoint_bytes = 1ull << 40, .cache_bytes = 16 * 4096,
                      .vfs = testvfs_vfs(t)};
    en_db *db;
    cr_assert_eq(en_open("/r.isle", &opt, &db), 0, "%s", en_errmsg());
    for (unsigned from = 0; from < RUN_KEYS; from += 100)
        cr_assert_eq(en_write_sync(db, put_batch, &from), 0, "%s", en_errmsg());
    return db;
}

/* Power loss (mode), then reopen: every key is there and the file checks;
 * returns the reopened handle. */
static en_db *crash_and_expect(testvfs *t, en_db *db, enum testvfs_crash_mode mode) {
    testvfs_crash(t, mode);
    en_close(db);
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_NORMAL, .vfs = testvfs_vfs(t)};
    cr_assert_eq(en_open("/r.isle", &opt, &db), 0, "%s", en_errmsg());
    expect_run_keys(db);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    return db;
}

/* Pages that follow one another in the file go to it in one write each
 * run, and the device is told to start on them before the sync; under
 * NORMAL the log's writes were handed to the device as they went. */
Test(ckpt, copies_runs_of_pages_and_hands_them_to_the_device) {
    testvfs *t = testvfs_new(23);
    en_db *db = load_batches(t, EN_SYNC_NORMAL);
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    uint64_t pages = st.log_bytes / 4096;
    cr_assert_gt(pages, 600, "only %llu pages in the log", (unsigned long long)pages);
    cr_assert_geq(testvfs_count(t, TESTVFS_WRITEBACK), (pages * 4096 >> 20) / 2,
                  "%llu log hints for %llu pages",
                  (unsigned long long)testvfs_count(t, TESTVFS_WRITEBACK),
                  (unsigned long long)pages);
    uint64_t w0 = testvfs_count(t, TESTVFS_WRITE), h0 = testvfs_count(t, TESTVFS_WRITEBACK);
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    uint64_t writes = testvfs_count(t, TESTVFS_WRITE) - w0;
    uint64_t hints = testvfs_count(t, TESTVFS_WRITEBACK) - h0;
    /* Freed and reused pages break the runs now and then; a write a page
     * would be ~pages writes. */
    cr_assert_lt(writes, pages / 8, "%llu writes for %llu pages", (unsigned long long)writes,
                 (unsigned long long)pages);
    cr_assert_geq(hints, 1, "no hint for %llu pages", (unsigned long long)pages);
    cr_assert_leq(hints, pages * 4096 / EN_WRITEBACK_BYTES, "%llu hints",
                  (unsigned long long)hints);
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_leq(st.log_bytes, 1024, "the checkpoint left %llu log bytes",
                  (unsigned long long)st.log_bytes); /* the header */
    expect_run_keys(db);
    /* All of it is in the main file: a power loss now loses nothing. */
    db = crash_and_expect(t, db, TESTVFS_DROP);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* FULL syncs the log at every commit: no hints for it. */
Test(ckpt, a_log_synced_at_every_commit_gets_no_hints) {
    testvfs *t = testvfs_new(24);
    en_db *db = load_batches(t, EN_SYNC_FULL);
    cr_assert_eq(testvfs_count(t, TESTVFS_WRITEBACK), 0, "%llu hints",
                 (unsigned long long)testvfs_count(t, TESTVFS_WRITEBACK));
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* A run's write fails half way through the copy: the checkpoint fails
 * and latches the handle, and a power loss then loses no commit (the log
 * was synced before the main file was touched). */
Test(ckpt, a_failed_run_write_loses_nothing) {
    testvfs *t = testvfs_new(25);
    en_db *db = load_batches(t, EN_SYNC_NORMAL);
    testvfs_fail(t, TESTVFS_WRITE, 3, CD_EIO, 0);
    cr_assert_eq(en_checkpoint(db), CD_EIO, "%s", en_errmsg());
    testvfs_fail_clear(t);
    unsigned from = RUN_KEYS;
    cr_assert_neq(en_write_sync(db, put_batch, &from), 0, "a write after a failed checkpoint");
    db = crash_and_expect(t, db, TESTVFS_TORN);
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    expect_run_keys(db);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* ---- runs over the pages between the copied ones -------------------------- */

static void expect_gap_keys(en_db *db, unsigned rounds) {
    unsigned bad = 0;
    int rc = tu_gap_check(db, rounds, &bad);
    cr_assert_eq(rc, 0, "key %u: %s", bad, rc == -1 ? "a wrong value" : en_errmsg());
}

/* Loads the gap database (en_tutil.h) and checkpoints it, then runs two
 * rounds: the first round's copies go past the end of the file, the
 * second's into the places the originals left. */
static en_db *gap_db(testvfs *t) {
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_NORMAL, .create = 1,
                      .checkpoint_bytes = 1ull << 40, .vfs = testvfs_vfs(t)};
    en_db *db;
    cr_assert_eq(en_open("/g.isle", &opt, &db), 0, "%s", en_errmsg());
    for (unsigned round = 0; round < 3; round++) {
        cr_assert_eq(en_write_sync(db, tu_gap_put, &round), 0, "%s", en_errmsg());
        if (round == 0)
            cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    }
    return db;
}

/* The checkpoint writes the pages between the ones it copies, when few,
 * again as they are, so that one write covers a stretch of the file; and
 * a power loss while it writes them loses nothing, the leaves it read
 * back and wrote unchanged included. */
Test(ckpt, runs_take_the_few_pages_between_copied_ones) {
    testvfs *t = testvfs_new(26);
    en_db *db = gap_db(t);
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    uint64_t pages = st.log_bytes / 4096;
    cr_assert_gt(pages, 80, "only %llu pages in the log", (unsigned long long)pages);
    uint64_t w0 = testvfs_count(t, TESTVFS_WRITE), r0 = testvfs_count(t, TESTVFS_READ);
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    uint64_t writes = testvfs_count(t, TESTVFS_WRITE) - w0;
    uint64_t reads = testvfs_count(t, TESTVFS_READ) - r0;
    /* A write for each leaf the second round copied would be about 50 (53
     * without the runs over the gaps); a run is 64 pages. */
    cr_assert_lt(writes, 16, "%llu writes for %llu pages", (unsigned long long)writes,
                 (unsigned long long)pages);
    cr_assert_gt(reads, 20, "only %llu pages between copied ones read back",
                 (unsigned long long)reads);
    expect_gap_keys(db, 2);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);

    /* The same checkpoint cut short by a failed write, then a power loss
     * that tears what it wrote and did not sync. */
    t = testvfs_new(27);
    db = gap_db(t);
    testvfs_fail(t, TESTVFS_WRITE, 3, CD_EIO, 0);
    cr_assert_eq(en_checkpoint(db), CD_EIO, "%s", en_errmsg());
    testvfs_fail_clear(t);
    testvfs_crash(t, TESTVFS_TORN);
    en_close(db);
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_NORMAL, .vfs = testvfs_vfs(t)};
    cr_assert_eq(en_open("/g.isle", &opt, &db), 0, "%s", en_errmsg());
    expect_gap_keys(db, 2);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    expect_gap_keys(db, 2);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}
