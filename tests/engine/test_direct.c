/*
 * test_direct.c: a write transaction larger than the cache writes the
 * pages it takes from the end of the file straight to the main file, not
 * to the log, and so does a large ascending load with the pages its
 * append splits fill, as it goes (write-behind, en_pager.c).  It must
 * still be durable when its commit returns (a power loss right after
 * loses nothing), change nothing when it rolls back or a write fails, and
 * read back and rewrite the pages it wrote out while it runs.
 */
#define _GNU_SOURCE 1 /* sched_setaffinity */

#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "en.h"
#include "en_int.h" /* EN_WRITEBACK_BYTES */
#include "testvfs.h"

#define PATH "/d.isle"
#define VLEN 200u

typedef struct job {
    unsigned from, n;  /* keys from..from+n-1 */
    unsigned stride;   /* visit order: k * stride mod n (coprime with n) */
    uint32_t ver;      /* value version */
    int fail;          /* roll back at the end */
    int reread;        /* read every key back before the end */
    unsigned rewrite;  /* then put keys from..from+rewrite-1 again, ver + 1 */
} job;

static uint32_t key_of(unsigned k, char *buf) { return (uint32_t)sprintf(buf, "k%06u", k); }

static void value_of(unsigned k, uint32_t ver, uint8_t *v) {
    for (unsigned i = 0; i < VLEN; i++)
        v[i] = (uint8_t)(k * 31u + ver * 7u + i);
}

static int check_one(en_txn *txn, en_tree t, unsigned k, uint32_t ver) {
    char key[16];
    uint8_t want[VLEN];
    en_val v;
    int rc = en_get(txn, t, key, key_of(k, key), &v);
    if (rc)
        return rc;
    value_of(k, ver, want);
    rc = v.len == VLEN && memcmp(v.data, want, VLEN) == 0 ? 0 : CD_ECORRUPT;
    en_val_release(txn, &v);
    return rc;
}

static int run_job(en_txn *txn, void *arg) {
    job *j = arg;
    en_tree t;
    int rc = en_tree_open(txn, "d", EN_TREE_CREATE, &t);
    char key[16];
    uint8_t val[VLEN];
    for (unsigned i = 0; rc == 0 && i < j->n; i++) {
        unsigned k = j->from + (unsigned)(((uint64_t)i * j->stride) % j->n);
        value_of(k, j->ver, val);
        rc = en_put(txn, t, key, key_of(k, key), val, VLEN, 0);
    }
    for (unsigned k = j->from; rc == 0 && j->reread && k < j->from + j->n; k++)
        if ((rc = check_one(txn, t, k, j->ver)) != 0)
            cr_log_error("key %u reads back wrong inside its transaction", k);
    for (unsigned k = j->from; rc == 0 && k < j->from + j->rewrite; k++) {
        value_of(k, j->ver + 1, val);
        rc = en_put(txn, t, key, key_of(k, key), val, VLEN, 0);
    }
    for (unsigned k = j->from; rc == 0 && j->reread && k < j->from + j->rewrite; k++)
        if ((rc = check_one(txn, t, k, j->ver + 1)) != 0)
            cr_log_error("key %u reads back wrong after its rewrite", k);
    return rc ? rc : j->fail ? CD_EINVAL : 0;
}

/* Every key from..from+n-1 holds version ver (the first `first` of them
 * ver + 1), and nothing else is there. */
static void expect_two(en_db *db, unsigned from, unsigned n, unsigned first, uint32_t ver) {
    en_txn *txn;
    en_tree t;
    cr_assert_eq(en_read_begin(db, &txn), 0);
    cr_assert_eq(en_tree_open(txn, "d", 0, &t), 0, "%s", en_errmsg());
    for (unsigned k = from; k < from + n; k++)
        cr_assert_eq(check_one(txn, t, k, k < from + first ? ver + 1 : ver), 0, "key %u", k);
    char key[16];
    en_val v;
    cr_assert_eq(en_get(txn, t, key, key_of(from + n, key), &v), CD_ENOTFOUND);
    if (from > 0)
        cr_assert_eq(en_get(txn, t, key, key_of(from - 1, key), &v), CD_ENOTFOUND);
    en_txn_end(txn);
    uint64_t bad = 0;
    cr_assert_eq(en_check(db, &bad), 0, "page %llu: %s", (unsigned long long)bad, en_errmsg());
}

static void expect(en_db *db, unsigned from, unsigned n, uint32_t ver) {
    expect_two(db, from, n, 0, ver);
}

static en_db *open_cache(testvfs *t, size_t cache_bytes) {
    en_options opt = {.page_size = 4096, .sync = EN_SYNC_FULL, .create = 1,
                      .cache_bytes = cache_bytes, .vfs = testvfs_vfs(t)};
    en_db *db;
    cr_assert_eq(en_open(PATH, &opt, &db), 0, "%s", en_errmsg());
    return db;
}

static en_db *open_db(testvfs *t) { return open_cache(t, 16 * 4096); }

/* A database holding keys 100..109, version 1. */
static en_db *open_with_ten(testvfs *t) {
    en_db *db = open_db(t);
    job small = {.from = 100, .n = 10, .stride = 1, .ver = 1};
    cr_assert_eq(en_write_sync(db, run_job, &small), 0, "%s", en_errmsg());
    return db;
}

static uint64_t log_bytes(en_db *db) {
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    return st.log_bytes;
}

Test(direct, a_large_commit_bypasses_the_log_and_survives_a_power_loss) {
    testvfs *t = testvfs_new(5);
    en_db *db = open_db(t);
    job j = {.from = 0, .n = 3000, .stride = 1, .ver = 1};
    uint64_t log0 = log_bytes(db), writes0 = testvfs_count(t, TESTVFS_WRITE);
    cr_assert_eq(en_write_sync(db, run_job, &j), 0, "%s", en_errmsg());
    uint64_t writes = testvfs_count(t, TESTVFS_WRITE) - writes0;
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.spilled_pages, 0, "the transaction fit the cache: nothing tested");
    /* ~3000 x 212 bytes: about 170 leaves, nearly all new to the file */
    cr_assert_gt(st.direct_pages, 150, "%llu pages written to the main file",
                 (unsigned long long)st.direct_pages);
    /* in runs of consecutive pages, one write a run (log writes included) */
    cr_assert_lt(writes * 4, st.direct_pages, "%llu writes for %llu pages",
                 (unsigned long long)writes, (unsigned long long)st.direct_pages);
    uint64_t logged = log_bytes(db) - log0;
    cr_assert_lt(logged, st.direct_pages * 4096 / 8, "the log grew by %llu bytes",
                 (unsigned long long)logged);
    expect(db, 0, 3000, 1);
    /* No checkpoint, no close: the power goes. */
    testvfs_crash(t, TESTVFS_DROP);
    db = open_db(t);
    expect(db, 0, 3000, 1);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

Test(direct, a_large_transaction_that_rolls_back_changes_nothing) {
    testvfs *t = testvfs_new(6);
    en_db *db = open_with_ten(t);
    job big = {.from = 0, .n = 3000, .stride = 7, .ver = 2, .fail = 1};
    cr_assert_eq(en_write_sync(db, run_job, &big), CD_EINVAL);
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.direct_pages, 0, "nothing was written past the end: nothing tested");
    expect(db, 100, 10, 1);
    /* The next large transaction takes the same pages again. */
    job again = {.from = 200, .n = 2500, .stride = 1, .ver = 3};
    cr_assert_eq(en_write_sync(db, run_job, &again), 0, "%s", en_errmsg());
    testvfs_crash(t, TESTVFS_TORN);
    db = open_db(t);
    expect(db, 100, 10, 1);
    expect(db, 200, 2500, 3);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

Test(direct, pages_written_out_read_back_inside_the_transaction) {
    testvfs *t = testvfs_new(7);
    en_db *db = open_db(t);
    /* Keys in a scattered order: leaves written out are dirtied again. */
    job j = {.from = 0, .n = 4001, .stride = 1237, .ver = 4, .reread = 1};
    cr_assert_eq(en_write_sync(db, run_job, &j), 0, "%s", en_errmsg());
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.direct_pages, 0);
    expect(db, 0, 4001, 4);
    cr_assert_eq(en_close(db), 0);
    db = open_db(t);
    expect(db, 0, 4001, 4);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

Test(direct, a_failed_write_to_the_main_file_rolls_back) {
    testvfs *t = testvfs_new(8);
    en_db *db = open_with_ten(t);
    /* The job rolled back once counts its writes (spilled runs and log
     * pieces); then every write fails from the middle one on: some
     * spilled pages get out, then some do not. */
    job big = {.from = 0, .n = 3000, .stride = 1, .ver = 2, .fail = 1};
    uint64_t w0 = testvfs_count(t, TESTVFS_WRITE);
    cr_assert_eq(en_write_sync(db, run_job, &big), CD_EINVAL);
    uint64_t writes = testvfs_count(t, TESTVFS_WRITE) - w0;
    cr_assert_geq(writes, 4, "%llu writes", (unsigned long long)writes);
    expect(db, 100, 10, 1);
    testvfs_fail(t, TESTVFS_WRITE, writes / 2 + 1, CD_EIO, 1);
    big.fail = 0;
    cr_assert_eq(en_write_sync(db, run_job, &big), CD_EIO);
    testvfs_fail_clear(t);
    expect(db, 100, 10, 1);
    job again = {.from = 0, .n = 3000, .stride = 1, .ver = 5};
    cr_assert_eq(en_write_sync(db, run_job, &again), 0, "%s", en_errmsg());
    expect(db, 0, 3000, 5);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* ---- write-behind: an ascending load past EN_BEHIND_FROM -------------- */

#define BIG_CACHE ((size_t)64 << 20) /* the transaction fits: no spill */
#define LOAD_KEYS 20000u             /* ~4.2 MB of cells, past EN_BEHIND_FROM */

Test(direct, an_ascending_load_writes_its_full_pages_behind) {
    testvfs *t = testvfs_new(9);
    en_db *db = open_cache(t, BIG_CACHE);
    uint64_t log0 = log_bytes(db);
    /* Read back inside the transaction, then the first keys (on pages
     * written behind long ago) are put again: read from the main file
     * and dirtied again. */
    job j = {.from = 0, .n = LOAD_KEYS, .stride = 1, .ver = 1, .reread = 1, .rewrite = 300};
    cr_assert_eq(en_write_sync(db, run_job, &j), 0, "%s", en_errmsg());
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    /* ~1,100 leaves; those past the first 2 MB of dirty pages go behind */
    cr_assert_gt(st.direct_pages, 400, "%llu pages written behind",
                 (unsigned long long)st.direct_pages);
    uint64_t logged = log_bytes(db) - log0;
    cr_assert_lt(logged, (uint64_t)LOAD_KEYS * VLEN, "the log grew by %llu bytes",
                 (unsigned long long)logged);
    /* The device was asked to start on the pages written behind, in
     * ranges of EN_WRITEBACK_BYTES (the rest are written at the commit,
     * just before its sync, and get no hint). */
    uint64_t hints = testvfs_count(t, TESTVFS_WRITEBACK);
    cr_assert_geq(hints, 1, "no hint for %llu pages", (unsigned long long)st.direct_pages);
    cr_assert_leq(hints, st.direct_pages * 4096 / EN_WRITEBACK_BYTES, "%llu hints",
                  (unsigned long long)hints);
    expect_two(db, 0, LOAD_KEYS, 300, 1);
    testvfs_crash(t, TESTVFS_DROP); /* acknowledged: a power loss keeps it */
    db = open_cache(t, BIG_CACHE);
    expect_two(db, 0, LOAD_KEYS, 300, 1);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

Test(direct, a_load_written_behind_that_rolls_back_changes_nothing) {
    testvfs *t = testvfs_new(10);
    en_db *db = open_cache(t, BIG_CACHE);
    job small = {.from = 100, .n = 10, .stride = 1, .ver = 1};
    cr_assert_eq(en_write_sync(db, run_job, &small), 0, "%s", en_errmsg());
    job big = {.from = 1000, .n = LOAD_KEYS, .stride = 1, .ver = 2, .fail = 1};
    cr_assert_eq(en_write_sync(db, run_job, &big), CD_EINVAL);
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.direct_pages, 0, "nothing was written behind: nothing tested");
    expect(db, 100, 10, 1);
    /* A failing write midway: the transaction fails and rolls back. */
    testvfs_fail(t, TESTVFS_WRITE, 5, CD_EIO, 1);
    cr_assert_eq(en_write_sync(db, run_job, &big), CD_EIO);
    testvfs_fail_clear(t);
    expect(db, 100, 10, 1);
    /* The pages past the end are taken again, and survive a torn crash. */
    job again = {.from = 1000, .n = LOAD_KEYS, .stride = 1, .ver = 3};
    cr_assert_eq(en_write_sync(db, run_job, &again), 0, "%s", en_errmsg());
    testvfs_crash(t, TESTVFS_TORN);
    db = open_cache(t, BIG_CACHE);
    expect(db, 1000, LOAD_KEYS, 3);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* The runs written behind go out on a thread of their own (en_flush.c):
 * its failure still fails the load that queued the run, with the write's
 * message, changes nothing, and is not left for the next transaction. */
Test(direct, a_failed_write_behind_fails_its_load_alone) {
    testvfs *t = testvfs_new(11);
    en_db *db = open_cache(t, BIG_CACHE);
    job small = {.from = 100, .n = 10, .stride = 1, .ver = 1};
    cr_assert_eq(en_write_sync(db, run_job, &small), 0, "%s", en_errmsg());
    /* Nothing is logged or spilled before the commit: the third write
     * from here is the third run written behind. */
    uint64_t w0 = testvfs_count(t, TESTVFS_WRITE);
    testvfs_fail(t, TESTVFS_WRITE, 3, CD_EIO, 0);
    job big = {.from = 1000, .n = LOAD_KEYS, .stride = 1, .ver = 2, .reread = 1};
    cr_assert_eq(en_write_sync(db, run_job, &big), CD_EIO);
    cr_assert(strstr(en_errmsg(), "to the main file") != NULL, "%s", en_errmsg());
    cr_assert_geq(testvfs_count(t, TESTVFS_WRITE) - w0, 3, "the failure was not reached");
    expect(db, 100, 10, 1);
    en_txn *txn;
    en_tree tr;
    en_val v;
    char key[16];
    cr_assert_eq(en_read_begin(db, &txn), 0);
    cr_assert_eq(en_tree_open(txn, "d", 0, &tr), 0, "%s", en_errmsg());
    cr_assert_eq(en_get(txn, tr, key, key_of(1000, key), &v), CD_ENOTFOUND);
    en_txn_end(txn);
    /* The next transactions, small and large, see no failure. */
    job next = {.from = 200, .n = 5, .stride = 1, .ver = 4};
    cr_assert_eq(en_write_sync(db, run_job, &next), 0, "%s", en_errmsg());
    job again = {.from = 1000, .n = LOAD_KEYS, .stride = 1, .ver = 3};
    cr_assert_eq(en_write_sync(db, run_job, &again), 0, "%s", en_errmsg());
    testvfs_crash(t, TESTVFS_DROP);
    db = open_cache(t, BIG_CACHE);
    expect(db, 100, 10, 1);
    expect(db, 200, 5, 4);
    expect(db, 1000, LOAD_KEYS, 3);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}

/* The thread writing behind moves itself off the writer's processor when
 * it finds itself there (en_flush.c), and takes its whole affinity back
 * once the load is over.  Here both are held to one processor, the writer
 * by a job of its own and the thread from outside: every run of the
 * second load must still be written elsewhere. */
#if defined(__linux__)
static int pin_job(en_txn *txn, void *arg) {
    (void)txn;
    const cpu_set_t *one = arg;
    return sched_setaffinity(0, sizeof *one, one) == 0 ? 0 : CD_EIO;
}
#endif

Test(direct, the_thread_writing_behind_moves_off_the_writers_processor) {
#if defined(__linux__)
    if (os_cpu_count() < 2)
        cr_skip_test("one processor: nowhere to move");
    cpu_set_t all, one, now;
    cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
    testvfs *t = testvfs_new(13);
    en_db *db = open_cache(t, BIG_CACHE);
    job first = {.from = 0, .n = LOAD_KEYS, .stride = 1, .ver = 1};
    cr_assert_eq(en_write_sync(db, run_job, &first), 0, "%s", en_errmsg());
    uint64_t steers0, shared0, steers, shared;
    long tid;
    en_flush_stats(db, &steers0, &shared0, &tid);
    cr_assert_gt(tid, 0, "no thread wrote behind");
    int cpu = 0;
    while (!CPU_ISSET(cpu, &all))
        cpu++;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    cr_assert_eq(en_write_sync(db, pin_job, &one), 0, "%s", en_errmsg());
    cr_assert_eq(sched_setaffinity((pid_t)tid, sizeof one, &one), 0);
    job second = {.from = LOAD_KEYS, .n = LOAD_KEYS, .stride = 1, .ver = 1};
    cr_assert_eq(en_write_sync(db, run_job, &second), 0, "%s", en_errmsg());
    en_flush_stats(db, &steers, &shared, &tid);
    cr_assert_gt(steers, steers0, "the thread never moved off processor %d", cpu);
    cr_assert_eq(shared, shared0, "%llu runs written on the writer's processor",
                 (unsigned long long)(shared - shared0));
    /* Idle, it takes back the affinity it started with (the opener's). */
    int back = 0;
    for (int i = 0; i < 2000 && !back; i++) {
        cr_assert_eq(sched_getaffinity((pid_t)tid, sizeof now, &now), 0);
        back = CPU_EQUAL(&now, &all);
        if (!back)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    cr_assert(back, "the thread kept %d of the processors", CPU_COUNT(&now));
    expect(db, 0, 2 * LOAD_KEYS, 1);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
#else
    cr_skip_test("no processor affinity here");
#endif
}

/* A load through en_put_run (many puts to a visit of the last leaf): a
 * bad key stops it there, with the puts before it in and the transaction
 * still good; the rest then goes in and the whole load commits. */
typedef struct run_load {
    unsigned bad_at;
    uint32_t done, rest_done;
    int rc;
} run_load;

static int put_run_job(en_txn *txn, void *arg) {
    run_load *r = arg;
    en_tree t;
    int rc = en_tree_open(txn, "d", EN_TREE_CREATE, &t);
    if (rc)
        return rc;
    static char keys[LOAD_KEYS][16];
    static uint8_t vals[LOAD_KEYS][VLEN];
    static en_kv kv[LOAD_KEYS];
    for (unsigned k = 0; k < LOAD_KEYS; k++) {
        value_of(k, 1, vals[k]);
        uint32_t klen = k == r->bad_at ? 0 : key_of(k, keys[k]);
        kv[k] = (en_kv){keys[k], vals[k], klen, VLEN};
    }
    r->rc = en_put_run(txn, t, kv, LOAD_KEYS, &r->done);
    if (r->rc == 0)
        return 0;
    kv[r->bad_at].klen = key_of(r->bad_at, keys[r->bad_at]);
    return en_put_run(txn, t, kv + r->done, LOAD_KEYS - r->done, &r->rest_done);
}

Test(direct, a_run_of_puts_stops_at_a_bad_key) {
    testvfs *t = testvfs_new(12);
    en_db *db = open_cache(t, BIG_CACHE);
    run_load r = {.bad_at = 15000};
    cr_assert_eq(en_write_sync(db, put_run_job, &r), 0, "%s", en_errmsg());
    cr_assert_eq(r.rc, CD_EINVAL);
    cr_assert_eq(r.done, 15000);
    cr_assert_eq(r.rest_done, LOAD_KEYS - 15000);
    en_stats st;
    cr_assert_eq(en_stat(db, &st), 0);
    cr_assert_gt(st.direct_pages, 400, "the run was not a large load: %llu pages behind",
                 (unsigned long long)st.direct_pages);
    expect(db, 0, LOAD_KEYS, 1);
    testvfs_crash(t, TESTVFS_DROP);
    db = open_cache(t, BIG_CACHE);
    expect(db, 0, LOAD_KEYS, 1);
    cr_assert_eq(en_close(db), 0);
    testvfs_free(t);
}
