/*
 * test_recovery.c: recovery from the log.  A database whose last commits
 * live only in its log (checkpoints disabled, a power loss instead of a
 * close) is reopened with the log cut at every byte offset across its
 * last transactions: the result is exactly the last transaction whose
 * commit record lies wholly before the cut (under a sanitizer, cuts inside
 * page images are sampled: see worth_trying).  A bit flipped in a committed
 * frame that later synced frames prove durable makes en_open fail with
 * CD_ECORRUPT and write nothing; the same flip in the last transaction,
 * which nothing proves durable, reads as a torn write and drops it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_tutil.h"
#include "testvfs.h"

#define NLOGGED 6 /* transactions only in the log */

typedef struct logged {
    testvfs *t;
    tu_model model[NLOGGED + 1]; /* [0]: the checkpointed state */
    uint64_t end[NLOGGED + 1];   /* log bytes after each ([0]: before any) */
    uint8_t *main_bytes, *wal_bytes;
    size_t main_len, wal_len;
} logged;

/* Checkpoints only when asked; a cache no larger than the database (the
 * tests open it tens of thousands of times). */
static en_options opts(testvfs *t) {
    en_options o = tu_options(testvfs_vfs(t), EN_SYNC_FULL, 1ull << 40);
    o.cache_bytes = 256u << 10;
    return o;
}

/* Builds a database with checkpointed history and NLOGGED commits after
 * the last checkpoint, then loses power (every commit had been synced). */
static void build(logged *L, uint64_t seed) {
    memset(L, 0, sizeof *L);
    L->t = testvfs_new(seed);
    en_options opt = opts(L->t);
    en_db *db;
    uint64_t rng = seed;
    tu_model m = {0}, next;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    for (int i = 0; i < 12; i++) {
        cr_assert_eq(tu_txn(db, &m, &rng, &tu_shape_default, &next), 0, "%s", en_errmsg());
        m = next;
        if (i % 4 == 3)
            cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    }
    /* A long log of small transactions first: reset, it leaves stale
     * frames past the end of the shorter new generation. */
    tu_shape small = tu_shape_default;
    small.ops_max = 3;
    small.big_pct = 0;
    en_stats st = {0};
    while (st.log_bytes < (256u << 10)) {
        cr_assert_eq(tu_txn(db, &m, &rng, &small, &next), 0, "%s", en_errmsg());
        m = next;
        cr_assert_eq(en_stat(db, &st), 0);
    }
    cr_assert_eq(en_checkpoint(db), 0, "%s", en_errmsg());
    L->model[0] = m;
    cr_assert_eq(en_stat(db, &st), 0);
    L->end[0] = st.log_bytes;
    for (int i = 1; i <= NLOGGED; i++) {
        cr_assert_eq(tu_txn(db, &m, &rng, i == 1 ? &tu_shape_default : &small, &next), 0,
                     "%s", en_errmsg());
        m = next;
        L->model[i] = m;
        cr_assert_eq(en_stat(db, &st), 0);
        L->end[i] = st.log_bytes;
        cr_assert_gt(L->end[i], L->end[i - 1]);
    }
    testvfs_crash(L->t, TESTVFS_DROP);
    en_close(db);
    L->main_bytes = testvfs_file_get(L->t, TU_PATH, &L->main_len);
    L->wal_bytes = testvfs_file_get(L->t, TU_WAL, &L->wal_len);
    cr_assert_not_null(L->wal_bytes);
    cr_assert_geq(L->wal_len, L->end[NLOGGED]);
    /* A page of stale frames past the end is all the tests need. */
    if (L->wal_len > L->end[NLOGGED] + 4096)
        L->wal_len = (size_t)L->end[NLOGGED] + 4096;
}

static void release(logged *L) {
    free(L->main_bytes);
    free(L->wal_bytes);
    testvfs_free(L->t);
}

/* Puts back the files as the power loss left them, with the log given. */
static void restore(logged *L, const uint8_t *wal, size_t wal_len) {
    testvfs_file_set(L->t, TU_PATH, L->main_bytes, L->main_len);
    testvfs_file_set(L->t, TU_WAL, wal, wal_len);
}

static void expect_state(en_db *db, const tu_model *m, const char *what, size_t off,
                         int check) {
    uint64_t seq = 0, bad = 0;
    int rc = tu_read_seq(db, &seq);
    cr_assert_eq(rc, 0, "%s %zu: %s", what, off, en_errmsg());
    cr_assert_eq(seq, m->seq, "%s %zu: recovered seq %llu, expected %llu", what, off,
                 (unsigned long long)seq, (unsigned long long)m->seq);
    if (!check)
        return;
    char why[256] = "";
    rc = tu_compare(db, m, why, sizeof why);
    cr_assert_eq(rc, 0, "%s %zu: %s", what, off, why);
    rc = en_check(db, &bad);
    cr_assert_eq(rc, 0, "%s %zu: check: page %llu: %s", what, off, (unsigned long long)bad,
                 en_errmsg());
}

/*
 * Reopens with the log cut at every length in [from, to]: each time the
 * state is that of the last transaction whose commit record ends at or
 * before the cut.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1 /* every open costs ten times as much */
#else
#define SANITIZED 0
#endif
#define FRAME_BYTES (56u + 4096u) /* a page frame, uncompressed */
#define COMMIT_BYTES (56u + 48u)  /* a commit record */

/* Under a sanitizer, cuts inside page images are sampled (every 13th
 * byte); cuts in frame headers and commit records are all tried. */
static int worth_trying(const logged *L, size_t cut, int k) {
    if (!SANITIZED || cut % 13 == 0)
        return 1;
    size_t rel = cut - (size_t)L->end[k];
    return rel % FRAME_BYTES < 64 || rel < 128 ||
           (k < NLOGGED && L->end[k + 1] - cut < COMMIT_BYTES + 8);
}

static void cut_range(logged *L, size_t from, size_t to) {
    en_options opt = opts(L->t);
    for (size_t cut = to; cut >= from; cut--) {
        int k = NLOGGED;
        while (L->end[k] > cut)
            k--;
        if (!worth_trying(L, cut, k))
            continue;
        restore(L, L->wal_bytes, cut);
        en_db *db;
        int rc = en_open(TU_PATH, &opt, &db);
        cr_assert_eq(rc, 0, "cut at %zu: open: %d %s", cut, rc, en_errmsg());
        /* Everywhere the marker naming the state; near each commit's end
         * and at every 61st offset also the full comparison and the
         * integrity check (which read and verify every page). */
        int check = cut % 61 == 0 || cut - L->end[k] < 64 ||
                    (k < NLOGGED && L->end[k + 1] - cut < 64);
        expect_state(db, &L->model[k], "cut at", cut, check);
        cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    }
}

/* The last transaction, and past the log's end the stale frames of an
 * older generation that the file still holds (up to a page of them). */
Test(recovery, log_cut_at_every_offset_of_the_last_txn, .timeout = 300) {
    logged L;
    build(&L, 11);
    cr_assert_gt(L.wal_len, L.end[NLOGGED], "the file should hold stale frames");
    cut_range(&L, (size_t)L.end[NLOGGED - 1], L.wal_len);
    release(&L);
}

Test(recovery, log_cut_at_every_offset_of_the_txn_before, .timeout = 300) {
    logged L;
    build(&L, 11);
    cut_range(&L, (size_t)L.end[NLOGGED - 2], (size_t)L.end[NLOGGED - 1]);
    release(&L);
}

/* Flips one bit at log offset off; returns the damaged copy. */
static uint8_t *flipped(const logged *L, size_t off, uint8_t bit) {
    uint8_t *w = malloc(L->wal_len);
    memcpy(w, L->wal_bytes, L->wal_len);
    w[off] ^= bit;
    return w;
}

static int same_file(testvfs *t, const char *path, const uint8_t *want, size_t len) {
    size_t got_len = 0;
    uint8_t *got = testvfs_file_get(t, path, &got_len);
    int same = got && got_len == len && memcmp(got, want, len) == 0;
    free(got);
    return same;
}

Test(recovery, flipped_bit_in_a_durable_frame_is_corruption) {
    logged L;
    build(&L, 12);
    en_options opt = opts(L.t);
    /* Inside the middle transactions: a page image, a frame header, and a
     * commit record (its 48-byte payload ends its transaction). */
    const size_t where[] = {
        (size_t)L.end[2] + 56 + 1000, (size_t)L.end[2] + 20, (size_t)L.end[3] - 10,
        (size_t)L.end[4] - 48 - 56 + 3,
    };
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        uint8_t *w = flipped(&L, where[i], (uint8_t)(1u << (i % 8)));
        restore(&L, w, L.wal_len);
        en_db *db = NULL;
        int rc = en_open(TU_PATH, &opt, &db);
        cr_assert_eq(rc, CD_ECORRUPT, "flip at %zu: open says %d (%s)", where[i], rc,
                     en_errmsg());
        cr_assert(strstr(en_errmsg(), "log") != NULL, "message: %s", en_errmsg());
        cr_assert(same_file(L.t, TU_WAL, w, L.wal_len), "the log was written");
        cr_assert(same_file(L.t, TU_PATH, L.main_bytes, L.main_len), "the file was written");
        free(w);
    }
    release(&L);
}

Test(recovery, flipped_bit_in_the_last_transaction_reads_as_torn) {
    logged L;
    build(&L, 13);
    en_options opt = opts(L.t);
    uint8_t *w = flipped(&L, (size_t)L.end[NLOGGED - 1] + 56 + 77, 0x10);
    restore(&L, w, (size_t)L.end[NLOGGED]);
    en_db *db;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    expect_state(db, &L.model[NLOGGED - 1], "torn last", 0, 1);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    free(w);
    release(&L);
}
