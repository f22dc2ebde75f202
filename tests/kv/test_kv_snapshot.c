/*
 * test_kv_snapshot.c: read transactions see one committed state for their
 * whole life.  Values, cursor walks and which trees exist stay as they
 * were when the read began across many commits (updates, deletes, drops,
 * re-creates) and checkpoints; a value from isle_kv_get keeps its bytes
 * until released; a long-held reader keeps its pages from reuse, so the
 * file grows while writes go on, and once it ends the pages are reused.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kv_util.h"

static kv_tmp tmp;
static void setup(void) { kv_tmp_make(&tmp); }
static void teardown(void) { kv_tmp_remove(&tmp); }
TestSuite(kv_snapshot, .init = setup, .fini = teardown, .timeout = 120);

#define OK(expr)                                                                           \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        cr_assert_eq(rc_, 0, "%s: %s: %s", #expr, isle_strerror(rc_), isle_errmsg());      \
    } while (0)

/* ---- versioned contents -------------------------------------------------- */

/* Generation g of the database holds, in tree "main", keys 0..n-1 except
 * every 7th + g (deleted), with values depending on (i, g); tree "side"
 * exists in even generations only, with g + 1 keys; tree "gen" holds one
 * key "g" whose value is g. */
#define NKEYS 300

static int present(int i, int g) { return g == 0 || (i + g) % 7 != 0; }

static uint32_t vlen_of(int i, int g) {
    if (i % 50 == 3)
        return 5000u + (uint32_t)((i * 131 + g * 977) % 40000); /* overflow */
    return (uint32_t)((i * 7 + g * 13) % 600);
}

static uint64_t vseed_of(int i, int g) { return (uint64_t)i * 1000003u + (uint64_t)g; }

static int key_of(int i, char *buf) { return sprintf(buf, "k%05d", i); }

typedef struct gen_arg {
    int g;
    int prev_g; /* -1: nothing before */
} gen_arg;

static int write_gen(isle_txn *txn, void *arg) {
    gen_arg *a = arg;
    int g = a->g;
    isle_tree t, s, gt;
    int rc = isle_kv_open(txn, "main", ISLE_KV_CREATE, &t);
    uint8_t *buf = malloc(64 * 1024);
    cr_assert_not_null(buf);
    for (int i = 0; rc == 0 && i < NKEYS; i++) {
        char key[16];
        int kl = key_of(i, key);
        if (present(i, g)) {
            kv_fill(buf, vlen_of(i, g), vseed_of(i, g));
            rc = isle_kv_put(txn, t, key, (size_t)kl, buf, vlen_of(i, g), 0);
        } else if (a->prev_g < 0 || present(i, a->prev_g)) {
            rc = isle_kv_del(txn, t, key, (size_t)kl);
        }
    }
    free(buf);
    if (rc == 0 && g % 2 == 0) {
        rc = isle_kv_open(txn, "side", ISLE_KV_CREATE, &s);
        if (rc == 0 && g % 4 == 0) {
            /* created, written, dropped and created again in one transaction */
            rc = isle_kv_put(txn, s, "junk", 4, "x", 1, 0);
            if (rc == 0)
                rc = isle_kv_drop(txn, "side");
            if (rc == 0)
                rc = isle_kv_drop(txn, "side") == ISLE_ENOTFOUND ? 0 : -999;
            if (rc == 0)
                rc = isle_kv_open(txn, "side", ISLE_KV_CREATE, &s);
        }
        for (int i = 0; rc == 0 && i <= g; i++) {
            char key[16];
            int kl = key_of(i, key);
            rc = isle_kv_put(txn, s, key, (size_t)kl, &g, sizeof g, 0);
        }
    } else if (rc == 0) {
        rc = isle_kv_drop(txn, "side");
    }
    if (rc == 0)
        rc = isle_kv_open(txn, "gen", ISLE_KV_CREATE, &gt);
    if (rc == 0)
        rc = isle_kv_put(txn, gt, "g", 1, &g, sizeof g, 0);
    return rc;
}

/* Everything txn sees is generation g. */
static void expect_gen(isle_txn *txn, int g) {
    isle_tree t, s, gt;
    isle_val v;
    OK(isle_kv_open(txn, "gen", 0, &gt));
    OK(isle_kv_get(txn, gt, "g", 1, &v));
    cr_assert(v.len == sizeof g && memcmp(v.data, &g, sizeof g) == 0,
              "the snapshot sees generation %d, want %d", *(const int *)v.data, g);
    isle_kv_release(txn, &v);

    OK(isle_kv_open(txn, "main", 0, &t));
    for (int i = g % 3; i < NKEYS; i += 3) { /* a third by get, all by the walk */
        char key[16];
        int kl = key_of(i, key);
        int rc = isle_kv_get(txn, t, key, (size_t)kl, &v);
        if (!present(i, g)) {
            cr_assert_eq(rc, ISLE_ENOTFOUND, "gen %d key %d: deleted but found", g, i);
            continue;
        }
        cr_assert_eq(rc, 0, "gen %d key %d: %s", g, i, isle_errmsg());
        cr_assert_eq(v.len, vlen_of(i, g), "gen %d key %d: length", g, i);
        cr_assert_eq(kv_diff(v.data, v.len, vseed_of(i, g)), -1, "gen %d key %d: bytes", g, i);
        isle_kv_release(txn, &v);
    }
    /* the cursor walks agree, both ways */
    isle_cursor *c;
    OK(isle_cursor_open(txn, t, &c));
    int i = 0, rc;
    for (rc = isle_cursor_first(c); rc == 0; rc = isle_cursor_next(c), i++) {
        while (!present(i, g))
            i++;
        const void *k;
        size_t kl;
        char want[16];
        int wl = key_of(i, want);
        OK(isle_cursor_get(c, &k, &kl, &v));
        cr_assert(kl == (size_t)wl && memcmp(k, want, kl) == 0, "gen %d: walk at %d", g, i);
        cr_assert_eq(v.len, vlen_of(i, g));
        if (v.len < 1000 || i % 2)
            cr_assert_eq(kv_diff(v.data, v.len, vseed_of(i, g)), -1, "gen %d key %d", g, i);
        isle_kv_release(txn, &v);
    }
    cr_assert_eq(rc, ISLE_ENOTFOUND);
    while (i < NKEYS && !present(i, g))
        i++;
    cr_assert_eq(i, NKEYS, "gen %d: the walk stopped early", g);
    for (rc = isle_cursor_last(c), i = NKEYS - 1; rc == 0; rc = isle_cursor_prev(c), i--) {
        while (!present(i, g))
            i--;
        const void *k;
        size_t kl;
        char want[16];
        int wl = key_of(i, want);
        OK(isle_cursor_get(c, &k, &kl, NULL));
        cr_assert(kl == (size_t)wl && memcmp(k, want, kl) == 0, "gen %d: back walk at %d", g, i);
    }
    cr_assert_eq(rc, ISLE_ENOTFOUND);
    isle_cursor_close(c);

    rc = isle_kv_open(txn, "side", 0, &s);
    if (g % 2) {
        cr_assert_eq(rc, ISLE_ENOTFOUND, "gen %d: tree 'side' should not exist", g);
        return;
    }
    cr_assert_eq(rc, 0, "gen %d: tree 'side': %s", g, isle_errmsg());
    OK(isle_cursor_open(txn, s, &c));
    for (rc = isle_cursor_first(c), i = 0; rc == 0; rc = isle_cursor_next(c), i++) {
        OK(isle_cursor_get(c, &(const void *){0}, &(size_t){0}, &v));
        cr_assert(v.len == sizeof g && memcmp(v.data, &g, sizeof g) == 0);
        isle_kv_release(txn, &v);
    }
    cr_assert_eq(i, g + 1, "gen %d: 'side' has %d keys", g, i);
    isle_cursor_close(c);
}

static void commit_gen(isle_db *db, int g) {
    gen_arg a = {g, g - 1};
    OK(isle_write(db, write_gen, &a));
}

/* A value read at the start, compared at the end. */
typedef struct kept {
    isle_val v;
    uint8_t *copy;
    size_t len;
} kept;

static void keep(isle_txn *txn, isle_tree t, int i, kept *k) {
    char key[16];
    int kl = key_of(i, key);
    OK(isle_kv_get(txn, t, key, (size_t)kl, &k->v));
    k->len = k->v.len;
    k->copy = malloc(k->len + 1);
    memcpy(k->copy, k->v.data, k->len);
}

static void kept_check(isle_txn *txn, kept *k) {
    cr_assert_eq(k->v.len, k->len);
    cr_assert(memcmp(k->v.data, k->copy, k->len) == 0, "a held value changed");
    isle_kv_release(txn, &k->v);
    free(k->copy);
}

Test(kv_snapshot, readers_see_one_state) {
    isle_options opt;
    isle_options_init(&opt);
    opt.sync = ISLE_SYNC_NORMAL;
    opt.checkpoint_bytes = 256 * 1024; /* automatic checkpoints too */
    isle_db *db;
    OK(isle_open(tmp.path, &opt, &db));
    commit_gen(db, 0);

    enum { GENS = 24 };
    isle_txn *r[GENS];
    kept k_inline[GENS], k_big[GENS];
    for (int g = 0; g < GENS; g++) {
        if (g)
            commit_gen(db, g);
        if (g % 5 == 2)
            OK(isle_checkpoint(db));
        /* a reader of every generation, each holding two values */
        OK(isle_read_begin(db, &r[g]));
        isle_tree t;
        OK(isle_kv_open(r[g], "main", 0, &t));
        int i = 1;
        while (!present(i, g))
            i++;
        keep(r[g], t, i, &k_inline[g]);
        int b = 3; /* an overflow value */
        while (!present(b, g))
            b += 50;
        keep(r[g], t, b, &k_big[g]);
        cr_assert_gt(k_big[g].len, 4000);
        /* the first, a middle and the newest reader see their generations */
        expect_gen(r[0], 0);
        if (g > 1)
            expect_gen(r[g / 2], g / 2);
        if (g)
            expect_gen(r[g], g);
        isle_stats st;
        OK(isle_stat(db, &st));
        cr_assert_eq(st.readers, (uint32_t)(g + 1));
    }
    /* end them in a scattered order; the oldest reader moves on */
    uint64_t first_txn = 0;
    for (int n = 0; n < GENS; n++) {
        int g = (n * 7) % GENS;
        expect_gen(r[g], g);
        kept_check(r[g], &k_inline[g]);
        kept_check(r[g], &k_big[g]);
        OK(isle_read_end(r[g]));
        if (n % 4 == 0)
            commit_gen(db, GENS + n);
        isle_stats st;
        OK(isle_stat(db, &st));
        cr_assert_eq(st.readers, (uint32_t)(GENS - n - 1));
        if (st.readers) {
            cr_assert(st.oldest_reader_txn > 0 && st.oldest_reader_txn <= st.last_txn);
            cr_assert_geq(st.oldest_reader_txn, first_txn, "the oldest reader went back");
            first_txn = st.oldest_reader_txn;
        } else {
            cr_assert_eq(st.oldest_reader_txn, 0);
        }
    }
    OK(isle_check(db, NULL));
    OK(isle_close(db));
}

/* A read begun inside a write sees the state before it, during and after
 * the commit. */
typedef struct inside {
    isle_db *db;
    isle_txn *reader;
} inside;

static int read_inside(isle_txn *txn, void *arg) {
    inside *in = arg;
    gen_arg a = {1, 0};
    int rc = write_gen(txn, &a);
    if (rc)
        return rc;
    OK(isle_read_begin(in->db, &in->reader));
    expect_gen(in->reader, 0);
    /* the writer sees its own changes */
    expect_gen(txn, 1);
    return 0;
}

Test(kv_snapshot, reader_begun_inside_a_write) {
    isle_db *db = kv_open(tmp.path, 16384, ISLE_SYNC_FULL);
    commit_gen(db, 0);
    inside in = {db, NULL};
    OK(isle_write(db, read_inside, &in));
    expect_gen(in.reader, 0);
    OK(isle_checkpoint(db));
    expect_gen(in.reader, 0);
    isle_txn *now;
    OK(isle_read_begin(db, &now));
    expect_gen(now, 1);
    OK(isle_read_end(now));
    OK(isle_read_end(in.reader));
    OK(isle_close(db));
}

/* A tree handle taken before a drop and re-create reads, in an old
 * snapshot, the old tree. */
static int recreate(isle_txn *txn, void *arg) {
    const char *val = arg;
    isle_tree t;
    int rc = isle_kv_drop(txn, "t");
    if (rc == 0 || rc == ISLE_ENOTFOUND)
        rc = isle_kv_open(txn, "t", ISLE_KV_CREATE, &t);
    if (rc == 0)
        rc = isle_kv_put(txn, t, "key", 3, val, strlen(val), 0);
    return rc;
}

static void expect_val(isle_txn *txn, isle_tree t, const char *want) {
    isle_val v;
    OK(isle_kv_get(txn, t, "key", 3, &v));
    cr_assert(v.len == strlen(want) && memcmp(v.data, want, v.len) == 0, "want %s", want);
    isle_kv_release(txn, &v);
}

Test(kv_snapshot, handles_across_drop_and_recreate) {
    isle_db *db = kv_open(tmp.path, 4096, ISLE_SYNC_OFF);
    OK(isle_write(db, recreate, "one"));
    isle_txn *r1, *r2, *r3;
    isle_tree t1, t2;
    OK(isle_read_begin(db, &r1));
    OK(isle_kv_open(r1, "t", 0, &t1));
    OK(isle_write(db, recreate, "two"));
    OK(isle_read_begin(db, &r2));
    OK(isle_kv_open(r2, "t", 0, &t2));
    cr_assert_eq(t1, t2, "one name, one handle");
    expect_val(r1, t1, "one");
    expect_val(r2, t2, "two");
    /* dropped for good: old snapshots still have it */
    OK(isle_write(db, recreate, "three"));
    OK(isle_checkpoint(db));
    expect_val(r1, t1, "one");
    expect_val(r2, t1, "two");
    OK(isle_read_begin(db, &r3));
    expect_val(r3, t1, "three");
    OK(isle_read_end(r1));
    OK(isle_read_end(r2));
    OK(isle_read_end(r3));
    OK(isle_check(db, NULL));
    OK(isle_close(db));
}

/* ---- page reuse ----------------------------------------------------------- */

/* Rewrites every value of tree "main" (fresh bytes, same sizes). */
typedef struct rewrite {
    int round;
} rewrite;

static int rewrite_all(isle_txn *txn, void *arg) {
    rewrite *rw = arg;
    isle_tree t;
    int rc = isle_kv_open(txn, "main", ISLE_KV_CREATE, &t);
    uint8_t buf[3000];
    for (int i = 0; rc == 0 && i < 300; i++) {
        char key[16];
        int kl = key_of(i, key);
        uint32_t len = i % 10 == 0 ? sizeof buf : 200;
        kv_fill(buf, len, (uint64_t)rw->round * 1000 + (uint64_t)i);
        rc = isle_kv_put(txn, t, key, (size_t)kl, buf, len, 0);
    }
    return rc;
}

static isle_stats stat_of(isle_db *db) {
    isle_stats st;
    OK(isle_stat(db, &st));
    return st;
}

static void run_rewrites(isle_db *db, rewrite *rw, int n) {
    for (int k = 0; k < n; k++) {
        rw->round++;
        OK(isle_write(db, rewrite_all, rw));
        if (k % 8 == 7)
            OK(isle_checkpoint(db));
    }
}

Test(kv_snapshot, long_reader_keeps_pages_then_they_are_reused) {
    isle_db *db = kv_open(tmp.path, 4096, ISLE_SYNC_NORMAL);
    rewrite rw = {0};
    run_rewrites(db, &rw, 4); /* warm up: free pages in circulation */
    OK(isle_checkpoint(db));
    isle_stats st0 = stat_of(db);
    /* steady state without readers: the file does not grow */
    run_rewrites(db, &rw, 20);
    isle_stats st1 = stat_of(db);
    cr_assert_leq(st1.page_count, st0.page_count + st0.page_count / 10,
                  "no readers: %llu pages grew to %llu", (unsigned long long)st0.page_count,
                  (unsigned long long)st1.page_count);

    /* a held reader: every rewrite needs new pages */
    isle_txn *r;
    OK(isle_read_begin(db, &r));
    uint64_t reader_txn = st1.last_txn;
    isle_tree t;
    OK(isle_kv_open(r, "main", 0, &t));
    kept k;
    keep(r, t, 10, &k);
    isle_stats prev = st1;
    for (int round = 0; round < 5; round++) {
        run_rewrites(db, &rw, 4);
        isle_stats st = stat_of(db);
        cr_assert_eq(st.oldest_reader_txn, reader_txn, "oldest reader %llu, want %llu",
                     (unsigned long long)st.oldest_reader_txn, (unsigned long long)reader_txn);
        cr_assert_eq(st.readers, 1);
        cr_assert_gt(st.page_count, prev.page_count, "round %d: the file did not grow", round);
        prev = st;
    }
    isle_stats held = prev;
    uint64_t grown = held.page_count - st1.page_count;
    cr_assert_gt(grown, st1.page_count, "20 rewrites under a reader grew only %llu pages",
                 (unsigned long long)grown);
    kept_check(r, &k);
    OK(isle_read_end(r));
    OK(isle_check(db, NULL));

    /* the reader is gone: the same workload reuses what it kept */
    run_rewrites(db, &rw, 20);
    isle_stats after = stat_of(db);
    cr_assert_eq(after.oldest_reader_txn, 0);
    cr_assert_eq(after.readers, 0);
    cr_assert_leq(after.page_count, held.page_count + held.page_count / 20,
                  "after the reader: %llu pages grew to %llu",
                  (unsigned long long)held.page_count, (unsigned long long)after.page_count);
    cr_assert_geq(held.free_pages, grown / 2, "%llu free pages after growing %llu",
                  (unsigned long long)held.free_pages, (unsigned long long)grown);
    if (getenv("ISLE_KV_VERBOSE"))
        fprintf(stderr, "pages: start %llu, 20 rewrites %llu, 20 under a reader %llu "
                        "(%llu free), 20 after it %llu\n",
                (unsigned long long)st0.page_count, (unsigned long long)st1.page_count,
                (unsigned long long)held.page_count, (unsigned long long)held.free_pages,
                (unsigned long long)after.page_count);
    OK(isle_check(db, NULL));
    OK(isle_close(db));
}

/* Values stay valid after the cursor that read them moves on or closes;
 * ending a transaction with values still unreleased frees them (the
 * sanitizer build reports a leak otherwise). */
static void values_outlive(size_t cache_bytes) {
    isle_options opt;
    isle_options_init(&opt);
    opt.sync = ISLE_SYNC_OFF;
    opt.cache_bytes = cache_bytes;
    isle_db *db;
    OK(isle_open(tmp.path, &opt, &db));
    commit_gen(db, 0);
    isle_txn *txn;
    isle_tree t;
    isle_cursor *c;
    OK(isle_read_begin(db, &txn));
    OK(isle_kv_open(txn, "main", 0, &t));
    OK(isle_cursor_open(txn, t, &c));
    enum { KEEP = 60 };
    isle_val v[KEEP];
    int idx[KEEP];
    int n = 0, i = 0, rc;
    for (rc = isle_cursor_first(c); rc == 0 && n < KEEP; rc = isle_cursor_next(c), i++) {
        const void *k;
        size_t kl;
        OK(isle_cursor_get(c, &k, &kl, &v[n]));
        idx[n++] = i; /* generation 0 holds every key */
    }
    isle_cursor_close(c);
    commit_gen(db, 1); /* later commits change nothing we hold */
    OK(isle_checkpoint(db));
    for (int k = 0; k < n; k++) {
        cr_assert_eq(v[k].len, vlen_of(idx[k], 0));
        cr_assert_eq(kv_diff(v[k].data, v[k].len, vseed_of(idx[k], 0)), -1, "value %d", k);
        if (k % 2)
            isle_kv_release(txn, &v[k]);
    }
    /* half of them, overflow values among them, are never released */
    OK(isle_read_end(txn));

    /* the same in a write transaction that commits, and one that fails */
    OK(isle_read_begin(db, &txn));
    OK(isle_kv_open(txn, "main", 0, &t));
    for (int k = 0; k < 8; k++)
        OK(isle_kv_get(txn, t, "k00003", 6, &v[k])); /* an overflow value */
    OK(isle_read_end(txn));
    OK(isle_close(db));
}

Test(kv_snapshot, values_outlive_cursors_and_end_with_the_transaction) {
    values_outlive(0);
}

/* The same with a page cache too small to hold the pages: values pin
 * the transaction's own copies. */
Test(kv_snapshot, values_outlive_cursors_tiny_cache) {
    values_outlive(1);
}

static int get_and_fail(isle_txn *txn, void *arg) {
    int *fail = arg;
    isle_tree t;
    isle_val v[4];
    OK(isle_kv_open(txn, "main", 0, &t));
    OK(isle_kv_get(txn, t, "k00003", 6, &v[0]));
    OK(isle_kv_get(txn, t, "k00004", 6, &v[1]));
    OK(isle_kv_put(txn, t, "k00004x", 7, "x", 1, 0)); /* a tree written after its gets */
    OK(isle_kv_get(txn, t, "k00053", 6, &v[2]));
    OK(isle_kv_get(txn, t, "k00005", 6, &v[3]));
    return *fail ? ISLE_ECANCELED : 0;
}

Test(kv_snapshot, unreleased_values_in_write_transactions) {
    for (int tiny = 0; tiny < 2; tiny++) {
        isle_options opt;
        isle_options_init(&opt);
        opt.sync = ISLE_SYNC_OFF;
        opt.cache_bytes = tiny;
        isle_db *db;
        OK(isle_open(tmp.path, &opt, &db));
        commit_gen(db, 0);
        int fail = 1;
        cr_assert_eq(isle_write(db, get_and_fail, &fail), ISLE_ECANCELED);
        fail = 0;
        OK(isle_write(db, get_and_fail, &fail));
        OK(isle_check(db, NULL));
        OK(isle_close(db));
        unlink(tmp.path);
        unlink(tmp.wal);
    }
}
