/*
 * test_wal_fault.c: the log under failures, through the testvfs.  A failed
 * sync latches the log (CD_EREOPEN); the Nth write, sync or allocation
 * failing, for every N across a small workload, always surfaces as an
 * error, and after a power loss the reopened log holds every synced
 * commit; a full disk is survivable; and random power losses (writes
 * dropped, or landed in any subset with one torn) after random sync points
 * reopen to a committed state no older than the last successful sync.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "wal_tutil.h"

#define SEQ_MAX 256

/* The committed states a workload went through, in order. */
typedef struct run {
    tu_state seq[SEQ_MAX]; /* seq[0]: the empty log */
    int nseq;
    int synced; /* index of the last state known durable */
    size_t wbuf; /* write buffer of the reopened log */
} run;

static void run_init(run *r) {
    memset(r, 0, sizeof *r);
    r->nseq = 1;
    r->wbuf = 1 << 16;
}

static int open_opts(testvfs *t, int level, size_t wbuf, uint64_t keep,
                     wal **w, wal_recovery *rec) {
    wal_options o;
    wal_options_init(&o, TU_P);
    o.compress_level = level;
    o.write_buffer_bytes = wbuf;
    o.reset_keep_bytes = keep;
    return wal_open(testvfs_vfs(t), TU_PATH, &o, w, rec, NULL);
}

/*
 * Reopens after a crash and finds the recovered state among seq[synced ..
 * nseq) (exactly seq[synced] when exact).  Returns its index; *w stays
 * open.
 */
static int recover(testvfs *t, int level, const run *r, int exact, wal **w) {
    wal_recovery rec;
    int rc = open_opts(t, level, r->wbuf, 0, w, &rec);
    cr_assert_eq(rc, 0, "reopen after crash: %d", rc);
    cr_assert_eq(wal_check(*w), 0);
    int last = exact ? r->synced : r->nseq - 1;
    for (int i = r->synced; i <= last; i++) {
        if (r->seq[i].txn == rec.last_txn &&
            tu_equal(*w, &r->seq[i], wal_max_frame(*w)) == 0) {
            if (rec.last_txn)
                cr_assert_arr_eq(rec.payload, r->seq[i].payload, 16);
            return i;
        }
    }
    cr_assert_fail("recovered txn %lu matches no state in [%d, %d]",
                   (unsigned long)rec.last_txn, r->synced, last);
    return -1;
}

Test(wal_fault, failed_sync_latches) {
    testvfs *t = testvfs_new(1);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    tu_state st = {0}, one;
    uint64_t rng = 1;
    cr_assert_eq(tu_txn(w, &st, 1, 3, &rng), 0);
    cr_assert_eq(wal_sync(w), 0);
    one = st;
    cr_assert_eq(tu_txn(w, &st, 2, 3, &rng), 0);
    testvfs_fail(t, TESTVFS_SYNC, 1, CD_EIO, 0);
    cr_assert_eq(wal_sync(w), CD_EIO);
    cr_assert_eq(wal_latched(w), 1);
    uint8_t pg[TU_P];
    tu_page(pg, 2, 3);
    cr_assert_eq(wal_append_page(w, 3, 2, pg), CD_EREOPEN);
    cr_assert_eq(wal_append_commit(w, 3, NULL, 0), CD_EREOPEN);
    cr_assert_eq(wal_sync(w), CD_EREOPEN); /* the fault was once only */
    cr_assert_eq(wal_reset(w), CD_EREOPEN);
    tu_expect(w, &st, wal_max_frame(w)); /* reads still work */
    testvfs_crash(t, TESTVFS_DROP);
    wal_close(w);
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    tu_expect(w, &one, wal_max_frame(w));
    wal_close(w);
    testvfs_free(t);
}

/* open; 6 txns each synced; a reset (truncating) before the 4th. */
static int workload(testvfs *t, int level, run *r) {
    run_init(r);
    wal *w;
    int rc = open_opts(t, level, 2 * (TU_P + WAL_FRAME_HDR_SIZE), 0, &w, NULL);
    if (rc)
        return rc;
    tu_state cur = {0};
    uint64_t rng = 99;
    for (uint64_t k = 1; k <= 6 && rc == 0; k++) {
        if (k == 4) {
            r->seq[r->nseq++] = (tu_state){0};
            if ((rc = wal_reset(w)) != 0)
                break;
            r->synced = r->nseq - 1;
            cur = (tu_state){0};
        }
        if ((rc = tu_txn(w, &cur, k, 4, &rng)) != 0)
            break;
        r->seq[r->nseq++] = cur;
        if ((rc = wal_sync(w)) == 0)
            r->synced = r->nseq - 1;
    }
    wal_close(w);
    return rc;
}

static void nth_fault(enum testvfs_op op, int err, int level,
                      enum testvfs_crash_mode mode) {
    run r;
    testvfs *t = testvfs_new(7);
    cr_assert_eq(workload(t, level, &r), 0);
    uint64_t calls = testvfs_count(t, op);
    cr_assert_eq(testvfs_live_allocs(t), 0);
    testvfs_free(t);
    cr_assert_gt(calls, 2);
    for (uint64_t n = 1; n <= calls; n++) {
        t = testvfs_new(7 + n);
        testvfs_fail(t, op, n, err, 0);
        int rc = workload(t, level, &r);
        cr_assert_neq(rc, 0, "op %d: call %lu of %lu failed unnoticed", op,
                      (unsigned long)n, (unsigned long)calls);
        cr_assert_eq(testvfs_live_allocs(t), 0, "leak after call %lu", n);
        testvfs_crash(t, mode);
        testvfs_fail_clear(t);
        wal *w;
        recover(t, level, &r, mode == TESTVFS_DROP, &w);
        wal_close(w);
        cr_assert_eq(testvfs_live_allocs(t), 0);
        testvfs_free(t);
    }
}

Test(wal_fault, nth_write_fails) {
    nth_fault(TESTVFS_WRITE, CD_EIO, 0, TESTVFS_DROP);
    nth_fault(TESTVFS_WRITE, CD_EFULL, 1, TESTVFS_TORN);
}
Test(wal_fault, nth_sync_fails) {
    nth_fault(TESTVFS_SYNC, CD_EIO, 0, TESTVFS_DROP);
    nth_fault(TESTVFS_SYNC, CD_EIO, 1, TESTVFS_TORN);
}
Test(wal_fault, nth_alloc_fails) {
    nth_fault(TESTVFS_ALLOC, CD_ENOMEM, 1, TESTVFS_DROP);
    nth_fault(TESTVFS_ALLOC, CD_ENOMEM, 0, TESTVFS_TORN);
}
Test(wal_fault, nth_read_fails) {
    /* Reads happen at open: the workload reads nothing, so drive reopen. */
    testvfs *t = testvfs_new(3);
    run r;
    cr_assert_eq(workload(t, 0, &r), 0);
    uint64_t before = testvfs_count(t, TESTVFS_READ);
    wal *w;
    cr_assert_eq(tu_open(testvfs_vfs(t), 0, &w, NULL), 0);
    wal_close(w);
    uint64_t reads = testvfs_count(t, TESTVFS_READ) - before;
    for (uint64_t n = 1; n <= reads; n++) {
        testvfs_fail(t, TESTVFS_READ, n, CD_EIO, 0);
        cd_diag d = {0};
        wal_options o;
        wal_options_init(&o, TU_P);
        cr_assert_eq(wal_open(testvfs_vfs(t), TU_PATH, &o, &w, NULL, &d),
                     CD_EIO);
        cr_assert_not_null(d.what);
        cr_assert_neq(strstr(d.what, "read"), NULL, "%s", d.what);
        testvfs_fail_clear(t);
    }
    cr_assert_eq(testvfs_live_allocs(t), 0);
    testvfs_free(t);
}

/* A full disk fails commits; once space returns the log goes on, and the
 * rolled-back bytes never pass for durable ones. */
Test(wal_fault, disk_full_then_recovers) {
    testvfs *t = testvfs_new(4);
    wal *w;
    cr_assert_eq(open_opts(t, 0, 3 * (TU_P + WAL_FRAME_HDR_SIZE), 0, &w, NULL), 0);
    run r;
    run_init(&r);
    tu_state cur = {0};
    uint64_t rng = 5, txn = 1;
    for (; txn <= 3; txn++) {
        cr_assert_eq(tu_txn(w, &cur, txn, 6, &rng), 0);
        r.seq[r.nseq++] = cur;
    }
    cr_assert_eq(wal_sync(w), 0);
    r.synced = r.nseq - 1;
    for (int round = 0; round < 4; round++, txn++) {
        testvfs_fail(t, TESTVFS_WRITE, 1 + round % 2, CD_EFULL, 1);
        tu_state tmp = cur;
        cr_assert_eq(tu_txn(w, &tmp, txn, 8, &rng), CD_EFULL);
        cr_assert_eq(wal_check(w), 0);
        testvfs_fail_clear(t);
        cr_assert_eq(wal_sync(w), 0); /* syncs nothing new */
    }
    for (int k = 0; k < 3; k++, txn++) {
        cr_assert_eq(tu_txn(w, &cur, txn, 2, &rng), 0);
        r.seq[r.nseq++] = cur;
    }
    tu_expect(w, &cur, wal_max_frame(w));
    testvfs_crash(t, TESTVFS_TORN);
    wal_close(w);
    recover(t, 0, &r, 0, &w);
    wal_close(w);
    testvfs_free(t);
}

/* One random life: txns, syncs, resets, crash, recovery, three times. */
static void power_life(uint64_t seed) {
    testvfs *t = testvfs_new(seed);
    uint64_t rng = seed * 7919;
    int level = (int)(seed % 2);
    size_t wbuf = tu_rand(&rng) % 2 ? 1u << 20 : 2 * (TU_P + WAL_FRAME_HDR_SIZE);
    uint64_t keep = tu_rand(&rng) % 2 ? 0 : WAL_DEFAULT_RESET_KEEP;
    wal *w;
    cr_assert_eq(open_opts(t, level, wbuf, keep, &w, NULL), 0);
    static run r;
    run_init(&r);
    r.wbuf = wbuf;
    tu_state cur = {0};
    uint64_t txn = 1;
    for (int life = 0; life < 3; life++) {
        int steps = 1 + (int)(tu_rand(&rng) % 16);
        for (int s = 0; s < steps && r.nseq < SEQ_MAX - 1; s++) {
            unsigned a = (unsigned)(tu_rand(&rng) % 12);
            if (a < 7) {
                cr_assert_eq(tu_txn(w, &cur, txn++, 1 + a, &rng), 0);
                r.seq[r.nseq++] = cur;
            } else if (a < 10) {
                cr_assert_eq(wal_sync(w), 0);
                r.synced = r.nseq - 1;
            } else if (a == 10) {
                cr_assert_eq(wal_reset(w), 0);
                cur = (tu_state){0};
                r.seq[r.nseq++] = cur;
                r.synced = r.nseq - 1;
            } else {
                uint8_t pg[TU_P]; /* an unfinished txn, then the crash */
                for (uint32_t p = 2; p < 6; p++) {
                    tu_page(pg, p, (uint32_t)txn);
                    cr_assert_eq(wal_append_page(w, txn, p, pg), 0);
                }
                txn++;
                break;
            }
        }
        enum testvfs_crash_mode mode =
            tu_rand(&rng) % 2 ? TESTVFS_TORN : TESTVFS_DROP;
        testvfs_crash(t, mode);
        wal_close(w);
        int i = recover(t, level, &r, mode == TESTVFS_DROP, &w);
        /* Go on from what survived. */
        r.nseq = i + 1;
        r.synced = i;
        cur = r.seq[i];
    }
    wal_close(w);
    cr_assert_eq(testvfs_live_allocs(t), 0);
    testvfs_free(t);
}

Test(wal_fault, random_power_loss) {
    for (uint64_t seed = 1; seed <= 300; seed++)
        power_life(seed);
}

/*
 * Syncs in the middle of transactions and an abort after one: frames
 * written after them must not call the aborted or still-buffered bytes
 * durable, or a torn crash would pass for corruption.
 */
static void mid_txn_life(uint64_t seed) {
    testvfs *t = testvfs_new(seed);
    wal *w;
    cr_assert_eq(open_opts(t, 0, 2 * (TU_P + WAL_FRAME_HDR_SIZE), 0, &w, NULL),
                 0);
    static run r;
    run_init(&r);
    r.wbuf = 2 * (TU_P + WAL_FRAME_HDR_SIZE);
    tu_state cur = {0};
    uint64_t rng = seed;
    uint8_t pg[TU_P];
    cr_assert_eq(tu_txn(w, &cur, 1, 3, &rng), 0);
    r.seq[r.nseq++] = cur;
    cr_assert_eq(wal_sync(w), 0);
    r.synced = 1;
    for (uint32_t p = 2; p < 10; p++) {
        tu_page(pg, p, 1000);
        cr_assert_eq(wal_append_page(w, 2, p, pg), 0);
        if (p == 7)
            cr_assert_eq(wal_sync(w), 0); /* flushed frames of txn 2 */
    }
    wal_abort(w);
    cr_assert_eq(wal_check(w), 0);
    cr_assert_eq(tu_txn(w, &cur, 2, 2, &rng), 0); /* same id: never committed */
    r.seq[r.nseq++] = cur;
    testvfs_crash(t, TESTVFS_TORN);
    wal_close(w);
    int i = recover(t, 0, &r, 0, &w);
    r.nseq = i + 1;
    r.synced = i;
    cur = r.seq[i];
    /* A frame still in the buffer when the sync ran. */
    tu_page(pg, 3, 3000);
    cr_assert_eq(wal_append_page(w, 3, 3, pg), 0);
    cr_assert_eq(wal_sync(w), 0);
    tu_state tmp = cur;
    tmp.version[1] = 3000;
    cr_assert_eq(tu_txn(w, &tmp, 3, 3, &rng), 0);
    r.seq[r.nseq++] = tmp;
    testvfs_crash(t, TESTVFS_TORN);
    wal_close(w);
    recover(t, 0, &r, 0, &w);
    wal_close(w);
    testvfs_free(t);
}

Test(wal_fault, sync_mid_txn_and_abort) {
    for (uint64_t seed = 1; seed <= 200; seed++)
        mid_txn_life(seed);
}
