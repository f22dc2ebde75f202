/*
 * test_fault.c: I/O failures.  A small fixed workload (create, commits on
 * the caller's thread and on the writer thread, checkpoints with a reader
 * open across one of them, close) runs once cleanly to count its calls of
 * each vfs operation; then, for every N and for each of write, sync,
 * read, truncate and the vfs allocator, it runs again with the Nth call of
 * that operation failing once; with checkpoints only when asked, and again
 * with automatic ones after commits.  Each time:
 *   - the failure surfaces as an error from some call (nothing crashes,
 *     nothing swallows it);
 *   - a commit that returned an error is not visible;
 *   - after a failed sync the handle refuses writes (CD_EREOPEN);
 *   - after a power loss and a reopen the database passes en_check and
 *     holds every acknowledged commit, and of the failed one all or
 *     nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "en_tutil.h"
#include "testvfs.h"

/* S_JOB: a transaction run by the writer thread (en_write_sync). */
enum wl_step { S_OPEN, S_TXN, S_BULK, S_JOB, S_CKPT, S_READ_BEGIN, S_READ_END, S_CLOSE };

static const enum wl_step workload[] = {
    S_OPEN, S_BULK, S_TXN, S_CKPT, S_TXN, S_READ_BEGIN, S_JOB, S_CKPT,
    S_TXN, S_READ_END, S_JOB, S_TXN, S_CKPT, S_TXN, S_JOB, S_CLOSE,
};
#define NSTEPS (sizeof workload / sizeof workload[0])

static const tu_shape bulk = {.ops_min = 150, .ops_max = 200, .big_pct = 15,
                              .del_pct = 10};

typedef struct wl {
    testvfs *t;
    en_db *db;
    en_txn *reader;
    uint64_t reader_seq;
    uint64_t rng;
    tu_model acked;   /* the last acknowledged state */
    tu_model failed;  /* the state of the last commit that failed */
    int have_failed;  /* failed is newer than acked */
    int errors;
    uint64_t ckpt_bytes; /* en_options.checkpoint_bytes */
    enum testvfs_op op;  /* the operation that fails ... */
    uint64_t target;     /* ... at this count (0: none) */
    int retried;         /* it failed in the checkpoint after a commit */
} wl;

static int fired(wl *w) { return w->target && testvfs_count(w->t, w->op) >= w->target; }

/* Checks, after a failed commit, that nothing of it is visible. */
static void expect_invisible(wl *w) {
    uint64_t seq = 0;
    if (tu_read_seq(w->db, &seq) != 0)
        return; /* the handle is broken: the reopen will tell */
    cr_assert_eq(seq, w->acked.seq, "a commit that failed is visible (seq %llu)",
                 (unsigned long long)seq);
}

static int run_step(wl *w, enum wl_step s) {
    en_options opt = tu_options(testvfs_vfs(w->t), EN_SYNC_FULL, w->ckpt_bytes);
    tu_model next;
    int rc = 0;
    if (s != S_OPEN && !w->db)
        return 0; /* the open failed: nothing more to do */
    switch (s) {
    case S_OPEN:
        rc = en_open(TU_PATH, &opt, &w->db);
        if (rc)
            w->db = NULL;
        break;
    case S_TXN:
    case S_JOB:
    case S_BULK: {
        int before = fired(w);
        const tu_shape *sh = s == S_BULK ? &bulk : &tu_shape_default;
        rc = s == S_JOB ? tu_write_sync(w->db, &w->acked, &w->rng, sh, &next)
                        : tu_txn(w->db, &w->acked, &w->rng, sh, &next);
        /* A commit that succeeded while the fault fired: it hit the
         * automatic checkpoint that follows a commit, which the next
         * commit or the close runs again. */
        w->retried |= rc == 0 && !before && fired(w);
        if (rc == 0) {
            w->acked = next;
            w->have_failed = 0;
        } else if (rc != CD_EREOPEN) {
            w->failed = next;
            w->have_failed = 1;
            expect_invisible(w);
        }
        break;
    }
    case S_CKPT:
        rc = en_checkpoint(w->db);
        break;
    case S_READ_BEGIN:
        w->reader_seq = w->acked.seq;
        rc = en_read_begin(w->db, &w->reader);
        if (rc)
            w->reader = NULL;
        break;
    case S_READ_END:
        if (w->reader) {
            uint64_t seq = 0;
            rc = tu_txn_seq(w->reader, &seq);
            cr_assert(rc != 0 || seq == w->reader_seq, "a reader's snapshot moved");
            en_txn_end(w->reader);
            w->reader = NULL;
        }
        break;
    case S_CLOSE:
        en_txn_end(w->reader);
        w->reader = NULL;
        rc = en_close(w->db);
        w->db = NULL;
        break;
    }
    return rc;
}

/* The whole workload, counting the calls that fail. */
static void run_workload(wl *w) {
    for (size_t i = 0; i < NSTEPS; i++) {
        int rc = run_step(w, workload[i]);
        if (rc == 0)
            continue;
        w->errors++;
        if (w->op == TESTVFS_SYNC && w->db && fired(w)) {
            en_txn *t;
            cr_assert_eq(en_write_begin(w->db, &t), CD_EREOPEN,
                         "a failed sync did not latch the handle (step %zu)", i);
            cr_assert_eq(en_checkpoint(w->db), CD_EREOPEN);
        }
    }
}

/* After the power loss: the state must be the acknowledged one or the
 * failed commit's, in full. */
static void verify_after_crash(wl *w, const char *what, uint64_t n) {
    en_options opt = tu_options(testvfs_vfs(w->t), EN_SYNC_FULL, 1ull << 40);
    en_db *db;
    int rc = en_open(TU_PATH, &opt, &db);
    cr_assert_eq(rc, 0, "%s #%llu: reopen: %d %s", what, (unsigned long long)n, rc,
                 en_errmsg());
    uint64_t seq = 0, bad = 0;
    cr_assert_eq(tu_read_seq(db, &seq), 0, "%s", en_errmsg());
    const tu_model *m = seq == w->acked.seq                     ? &w->acked
                        : w->have_failed && seq == w->failed.seq ? &w->failed
                                                                 : NULL;
    cr_assert_not_null(m, "%s #%llu: recovered seq %llu, acknowledged %llu", what,
                       (unsigned long long)n, (unsigned long long)seq,
                       (unsigned long long)w->acked.seq);
    char why[256] = "";
    rc = tu_compare(db, m, why, sizeof why);
    cr_assert_eq(rc, 0, "%s #%llu: %s", what, (unsigned long long)n, why);
    rc = en_check(db, &bad);
    cr_assert_eq(rc, 0, "%s #%llu: check: page %llu: %s", what, (unsigned long long)n,
                 (unsigned long long)bad, en_errmsg());
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
}

/* Counts op's calls in a clean run. */
static uint64_t clean_count(enum testvfs_op op, uint64_t ckpt_bytes) {
    wl w = {.t = testvfs_new(7), .rng = 42, .ckpt_bytes = ckpt_bytes};
    run_workload(&w);
    cr_assert_eq(w.errors, 0, "the clean run failed: %s", en_errmsg());
    uint64_t n = testvfs_count(w.t, op);
    verify_after_crash(&w, "clean", 0);
    testvfs_free(w.t);
    return n;
}

static void fail_each_with(enum testvfs_op op, int err, const char *what,
                           uint64_t ckpt_bytes) {
    uint64_t total = clean_count(op, ckpt_bytes);
    cr_assert_gt(total, 0);
    for (uint64_t n = 1; n <= total; n++) {
        wl w = {.t = testvfs_new(7), .rng = 42, .ckpt_bytes = ckpt_bytes, .op = op,
                .target = n};
        testvfs_fail(w.t, op, n, err, 0);
        run_workload(&w);
        /* A failed write or sync latches the handle, which some later call
         * reports; only a checkpoint that is simply run again later (a
         * read, truncate or allocation failed) may go unreported. */
        int quiet_ok = w.retried && op != TESTVFS_WRITE && op != TESTVFS_SYNC;
        cr_assert(!fired(&w) || w.errors > 0 || quiet_ok,
                  "%s #%llu of %llu failed and no call said so", what,
                  (unsigned long long)n, (unsigned long long)total);
        en_txn_end(w.reader);
        if (w.db)
            en_close(w.db);
        testvfs_fail_clear(w.t);
        testvfs_crash(w.t, n % 2 ? TESTVFS_TORN : TESTVFS_DROP);
        verify_after_crash(&w, what, n);
        testvfs_free(w.t);
    }
}

/* Explicit checkpoints only, and then automatic ones after commits too. */
static void fail_each(enum testvfs_op op, int err, const char *what) {
    fail_each_with(op, err, what, 1ull << 40);
    fail_each_with(op, err, what, 24u << 10);
}

Test(fault, every_write, .timeout = 120) { fail_each(TESTVFS_WRITE, CD_EIO, "write"); }
Test(fault, every_write_disk_full, .timeout = 120) {
    fail_each(TESTVFS_WRITE, CD_EFULL, "write (full)");
}
Test(fault, every_sync, .timeout = 120) { fail_each(TESTVFS_SYNC, CD_EIO, "sync"); }
Test(fault, every_read, .timeout = 120) { fail_each(TESTVFS_READ, CD_EIO, "read"); }
Test(fault, every_truncate, .timeout = 120) {
    fail_each(TESTVFS_TRUNCATE, CD_EIO, "truncate");
}
Test(fault, every_vfs_alloc, .timeout = 120) {
    fail_each(TESTVFS_ALLOC, CD_ENOMEM, "vfs alloc");
}

/* A failed commit sync: the commit reports it, is not visible, and every
 * later write and checkpoint is refused until the handle is reopened;
 * reads go on.  The reopened database holds the acknowledged state or the
 * failed commit (its record reached the file), and takes writes again. */
Test(fault, failed_sync_latches_until_reopen) {
    testvfs *t = testvfs_new(3);
    en_options opt = tu_options(testvfs_vfs(t), EN_SYNC_FULL, 0);
    en_db *db;
    uint64_t rng = 9, seq = 0;
    tu_model m = {0}, next;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(tu_txn(db, &m, &rng, &tu_shape_default, &next), 0, "%s", en_errmsg());
    m = next;
    testvfs_fail(t, TESTVFS_SYNC, 1, CD_EIO, 0);
    cr_assert_eq(tu_txn(db, &m, &rng, &tu_shape_default, &next), CD_EIO);
    tu_model failed = next;
    cr_assert(strstr(en_errmsg(), "reopen") != NULL, "message: %s", en_errmsg());
    en_txn *txn;
    cr_assert_eq(en_write_begin(db, &txn), CD_EREOPEN);
    cr_assert_eq(en_checkpoint(db), CD_EREOPEN);
    cr_assert_eq(tu_txn(db, &m, &rng, &tu_shape_default, &next), CD_EREOPEN);
    cr_assert_eq(tu_read_seq(db, &seq), 0, "%s", en_errmsg());
    cr_assert_eq(seq, m.seq);
    char why[256] = "";
    cr_assert_eq(tu_compare(db, &m, why, sizeof why), 0, "%s", why);
    /* The close says the final checkpoint could not run. */
    cr_assert_eq(en_close(db), CD_EREOPEN);
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(tu_read_seq(db, &seq), 0);
    cr_assert(seq == m.seq || seq == failed.seq);
    cr_assert_eq(tu_compare(db, seq == m.seq ? &m : &failed, why, sizeof why), 0, "%s", why);
    cr_assert_eq(en_check(db, NULL), 0, "%s", en_errmsg());
    cr_assert_eq(en_write_begin(db, &txn), 0, "%s", en_errmsg());
    en_txn_end(txn);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    testvfs_free(t);
}
