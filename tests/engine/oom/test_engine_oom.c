/*
 * test_engine_oom.c: allocation failures.  The engine, the log, the
 * B+tree and the OS layer allocate with malloc, calloc, realloc and
 * posix_memalign directly; this executable is linked with
 * -Wl,--wrap=malloc,... so that every such call from our objects goes
 * through the __wrap_* functions below, which fail the Nth call while
 * armed (counting only while armed) and otherwise hand the call to the
 * real allocator.  free is wrapped too, to count the blocks still live.
 *
 * A small workload (create, commits with overflow values and tree drops,
 * some run by the writer thread, checkpoints, a reader across a commit, a
 * full read back, the integrity check, close) runs once unarmed to count
 * its allocations, then once for every N with the Nth allocation failing.
 * Each time: nothing crashes; a commit that failed is not visible; after
 * the close every block the workload allocated is freed; and reopened,
 * the database passes en_check and holds every acknowledged commit (and of
 * the failed one all or nothing).  The files are real (the POSIX vfs, in /dev/shm when it
 * exists): the in-memory test vfs allocates with malloc itself.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_tutil.h"

/* ---- the wrapped allocator ---------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);
void __wrap_free(void *p);

/* The writer thread allocates too (while the test thread waits for it, so
 * the count stays deterministic); the counters are atomic for it. */
static atomic_int armed;
static _Atomic uint64_t calls;    /* allocation calls since armed */
static _Atomic uint64_t fail_at;  /* fail this call (0: count only) */
static _Atomic uint64_t failures; /* calls failed */
static _Atomic int64_t live;      /* blocks allocated and not freed */

static int should_fail(void) {
    if (!atomic_load(&armed))
        return 0;
    uint64_t n = atomic_fetch_add(&calls, 1) + 1;
    if (n == atomic_load(&fail_at)) {
        atomic_fetch_add(&failures, 1);
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) {
    void *p = should_fail() ? NULL : __real_malloc(n);
    live += p != NULL;
    return p;
}

void *__wrap_calloc(size_t k, size_t n) {
    void *p = should_fail() ? NULL : __real_calloc(k, n);
    live += p != NULL;
    return p;
}

void *__wrap_realloc(void *old, size_t n) {
    void *p = should_fail() ? NULL : __real_realloc(old, n);
    live += p != NULL && old == NULL;
    return p;
}

int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    int rc = should_fail() ? ENOMEM : __real_posix_memalign(p, align, n);
    live += rc == 0;
    return rc;
}

void __wrap_free(void *p) {
    live -= p != NULL;
    __real_free(p);
}

/* ---- the workload --------------------------------------------------------- */

static char path[128], wal_path[160];

static void paths(void) {
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/isle-oom-%d.isle", dir, (int)getpid());
    snprintf(wal_path, sizeof wal_path, "%s-wal", path);
    unlink(path);
    unlink(wal_path);
}

static en_options options(void) {
    /* A cache of 8 pages: the bulk transaction spills. */
    en_options o = tu_options(NULL, EN_SYNC_FULL, 1ull << 40);
    o.cache_bytes = 8 * 4096;
    return o;
}

typedef struct wl {
    en_db *db;
    en_txn *reader;
    uint64_t reader_seq;
    uint64_t rng;
    tu_model acked, failed;
    int have_failed;
    int errors;
} wl;

static const tu_shape bulk = {.ops_min = 40, .ops_max = 40, .big_pct = 20, .del_pct = 0};
static const tu_shape mixed = {.ops_min = 6, .ops_max = 6, .big_pct = 20, .drop_pct = 8,
                               .del_pct = 30};

/* A transaction on this thread, or (job) on the writer thread. */
static void txn_on(wl *w, const tu_shape *sh, int job) {
    tu_model next;
    int rc = job ? tu_write_sync(w->db, &w->acked, &w->rng, sh, &next)
                 : tu_txn(w->db, &w->acked, &w->rng, sh, &next);
    if (rc == 0) {
        w->acked = next;
        w->have_failed = 0;
        return;
    }
    w->errors++;
    w->failed = next;
    w->have_failed = 1;
    uint64_t seq = 0;
    if (tu_read_seq(w->db, &seq) == 0)
        cr_assert_eq(seq, w->acked.seq, "a failed commit is visible");
}

static void txn(wl *w, const tu_shape *sh) { txn_on(w, sh, 0); }

static void count_rc(wl *w, int rc) { w->errors += rc != 0; }

/* A value still pins a page its transaction then frees: the page must
 * become a read copy that the transaction's end frees (en_pager.c,
 * dirty_release), however the allocations around it fail.  Rolled back:
 * the model does not change. */
static void pinned_page_freed(wl *w) {
    en_txn *t;
    if (en_write_begin(w->db, &t) != 0) {
        w->errors++;
        return;
    }
    en_tree tree;
    en_val v = {0};
    int rc = en_tree_open(t, "pinned", EN_TREE_CREATE, &tree);
    if (rc == 0)
        rc = en_put(t, tree, "k", 1, "value", 5, 0);
    if (rc == 0)
        rc = en_get(t, tree, "k", 1, &v);
    if (rc == 0)
        rc = en_tree_drop(t, "pinned"); /* frees the leaf v pins */
    if (rc == 0)
        cr_assert(v.len == 5 && memcmp(v.data, "value", 5) == 0, "the value moved");
    en_txn_end(t); /* v unreleased: the end frees it */
    count_rc(w, rc);
}

static void workload(wl *w) {
    en_options opt = options();
    if (en_open(path, &opt, &w->db) != 0) {
        w->db = NULL;
        w->errors++;
        return;
    }
    txn(w, &bulk);
    txn(w, &mixed);
    pinned_page_freed(w);
    count_rc(w, en_checkpoint(w->db));
    w->reader_seq = w->acked.seq;
    if (en_read_begin(w->db, &w->reader) != 0) {
        w->reader = NULL;
        w->errors++;
    }
    txn(w, &mixed);
    count_rc(w, en_checkpoint(w->db)); /* copies, cannot reset: a reader */
    txn(w, &mixed);
    if (w->reader) {
        uint64_t seq = 0;
        int rc = tu_txn_seq(w->reader, &seq);
        cr_assert(rc != 0 || seq == w->reader_seq);
        count_rc(w, rc);
        en_txn_end(w->reader);
        w->reader = NULL;
    }
    count_rc(w, en_checkpoint(w->db)); /* and resets the log */
    txn(w, &bulk);
    txn(w, &mixed);
    txn_on(w, &mixed, 1);
    txn_on(w, &bulk, 1);
    txn(w, &mixed);
    char why[256];
    count_rc(w, tu_compare(w->db, &w->acked, why, sizeof why));
    count_rc(w, en_check(w->db, NULL));
    en_stats st;
    count_rc(w, en_stat(w->db, &st));
    count_rc(w, en_close(w->db));
    w->db = NULL;
}

static void verify(const wl *w, uint64_t n) {
    en_options opt = options();
    en_db *db;
    int rc = en_open(path, &opt, &db);
    cr_assert_eq(rc, 0, "#%llu: reopen: %s", (unsigned long long)n, en_errmsg());
    uint64_t seq = 0;
    cr_assert_eq(tu_read_seq(db, &seq), 0, "%s", en_errmsg());
    const tu_model *m = seq == w->acked.seq                     ? &w->acked
                        : w->have_failed && seq == w->failed.seq ? &w->failed
                                                                 : NULL;
    cr_assert_not_null(m, "#%llu: recovered seq %llu, acknowledged %llu",
                       (unsigned long long)n, (unsigned long long)seq,
                       (unsigned long long)w->acked.seq);
    char why[256] = "";
    cr_assert_eq(tu_compare(db, m, why, sizeof why), 0, "#%llu: %s", (unsigned long long)n,
                 why);
    uint64_t bad = 0;
    cr_assert_eq(en_check(db, &bad), 0, "#%llu: page %llu: %s", (unsigned long long)n,
                 (unsigned long long)bad, en_errmsg());
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
}

/* Runs the workload with allocation n failing (0: none); returns the
 * allocations counted. */
static uint64_t run(uint64_t n) {
    paths();
    wl w = {.rng = 99};
    int64_t before = atomic_load(&live);
    atomic_store(&calls, 0);
    atomic_store(&fail_at, n);
    atomic_store(&armed, 1);
    workload(&w);
    atomic_store(&armed, 0);
    if (w.reader)
        en_txn_end(w.reader);
    if (w.db)
        en_close(w.db);
    int64_t leaked = atomic_load(&live) - before;
    cr_assert_eq(leaked, 0, "#%llu: %lld blocks leaked", (unsigned long long)n,
                 (long long)leaked);
    if (n == 0)
        cr_assert_eq(w.errors, 0, "the clean run failed: %s", en_errmsg());
    verify(&w, n);
    unlink(path);
    unlink(wal_path);
    return atomic_load(&calls);
}

Test(oom, every_allocation_fails_in_turn, .timeout = 600) {
    uint64_t total = run(0);
    cr_assert_gt(total, 100, "the workload allocates (%llu)", (unsigned long long)total);
    for (uint64_t n = 1; n <= total; n++)
        run(n);
    cr_assert_eq(atomic_load(&failures), total);
}
