/*
 * test_power.c: simulated power loss.  A database on the testvfs lives
 * many lives; each one opens it (recovering from the last crash), checks
 * that it holds exactly a state it may hold, runs random write
 * transactions (puts of small and overflow-sized values, deletes, tree
 * creates and drops), checkpoints, read transactions held across commits
 * and checkpoints, and ends in a power loss (testvfs_crash, unsynced
 * writes dropped, or landed at random with one torn).  The power loss
 * falls between two calls, or in the middle of one: from a chosen write
 * (or sync) on, every write (sync) fails, as if the machine had stopped
 * there, and the crash follows the first call that fails.
 *
 * What the reopened database must hold, as a "seq" marker names it
 * (en_tutil.h):
 *   FULL    every transaction whose en_commit returned 0, and then at most
 *           the one whose commit failed, entirely or not at all;
 *   NORMAL  some committed prefix no older than the last checkpoint;
 * compared in full with the model of that transaction, and en_check
 * passes.  ISLE_ENGINE_LIVES sets the number of lives per test (soak),
 * ISLE_ENGINE_SEED varies the runs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "en_tutil.h"
#include "testvfs.h"

static unsigned lives_from_env(unsigned def) {
    const char *s = getenv("ISLE_ENGINE_LIVES");
    return s && atoi(s) > 0 ? (unsigned)atoi(s) : def;
}

/* ISLE_ENGINE_SEED varies the runs (failures print the seed in use). */
static uint64_t seed_from_env(uint64_t seed) {
    const char *s = getenv("ISLE_ENGINE_SEED");
    return s ? seed ^ strtoull(s, NULL, 0) : seed;
}

typedef struct world {
    uint64_t seed;
    testvfs *t;
    enum en_sync sync;
    uint64_t rng;
    tu_hist hist;     /* models from the oldest allowed state on */
    uint64_t durable; /* oldest seq a recovery may return */
    tu_model cur;     /* the newest committed state */
    int fault_op;     /* the planned failure: TESTVFS_OP_COUNT for none */
    uint64_t fault_at; /* ... at this count of the operation */
} world;

/* Opens after a crash and checks the state found; returns the handle. */
static en_db *recover(world *w, unsigned life) {
    en_options opt = tu_options(testvfs_vfs(w->t), w->sync, 0);
    static const uint64_t ckpt[] = {1ull << 40, 48u << 10, 160u << 10};
    opt.checkpoint_bytes = ckpt[tu_rand(&w->rng) % 3];
    /* Sometimes a cache of 6 pages: larger transactions spill to the log. */
    opt.cache_bytes = tu_rand(&w->rng) % 3 == 0 ? 6 * 4096 : 0;
    en_db *db;
    int rc = en_open(TU_PATH, &opt, &db);
    cr_assert_eq(rc, 0, "seed %#llx life %u: reopen: %d %s", (unsigned long long)w->seed,
                 life, rc, en_errmsg());
    uint64_t seq = 0;
    rc = tu_read_seq(db, &seq);
    cr_assert_eq(rc, 0, "seed %#llx life %u: reading seq: %d %s",
                 (unsigned long long)w->seed, life, rc, en_errmsg());
    const tu_model *m = tu_hist_find(&w->hist, seq);
    cr_assert(seq >= w->durable && m != NULL,
              "seed %#llx life %u: recovered seq %llu; allowed %llu..%llu",
              (unsigned long long)w->seed, life,
              (unsigned long long)seq, (unsigned long long)w->durable,
              (unsigned long long)w->hist.m[w->hist.n - 1].seq);
    char why[256] = "";
    rc = tu_compare(db, m, why, sizeof why);
    cr_assert_eq(rc, 0, "seed %#llx life %u, seq %llu: %s", (unsigned long long)w->seed,
                 life, (unsigned long long)seq, why);
    uint64_t bad = 0;
    rc = en_check(db, &bad);
    cr_assert_eq(rc, 0, "seed %#llx life %u: check: page %llu: %s",
                 (unsigned long long)w->seed, life, (unsigned long long)bad, en_errmsg());
    /* Recovery checkpointed the state: it is durable now. */
    w->cur = *m;
    w->durable = seq;
    w->hist.n = (size_t)(m - w->hist.m) + 1;
    tu_hist_trim(&w->hist, seq);
    return db;
}

/* Plans where this life's power loss falls. */
static void plan_crash(world *w) {
    unsigned r = (unsigned)(tu_rand(&w->rng) % 4);
    uint64_t n = 1 + tu_rand(&w->rng) % (r == 3 ? 10 : 48);
    w->fault_op = r == 0 ? TESTVFS_OP_COUNT : r == 3 ? TESTVFS_SYNC : TESTVFS_WRITE;
    if (r == 0)
        return; /* between calls */
    /* From the Nth write (sync) from now on, every one fails. */
    w->fault_at = testvfs_count(w->t, w->fault_op) + n;
    testvfs_fail(w->t, w->fault_op, n, CD_EIO, 1);
}

/* Whether the planned failure has happened. */
static int fault_fired(world *w) {
    return w->fault_op != TESTVFS_OP_COUNT && testvfs_count(w->t, w->fault_op) >= w->fault_at;
}

/* Checkpoints completed by db; UINT64_MAX if it cannot say (latched). */
static uint64_t checkpoints(en_db *db) {
    en_stats st;
    return en_stat(db, &st) == 0 ? st.checkpoints : UINT64_MAX;
}

/* One step of a life; returns the first failure's status. */
static int step(world *w, en_db *db, en_txn **reader, uint64_t *reader_seq) {
    unsigned r = (unsigned)(tu_rand(&w->rng) % 100);
    if (r < 8) {
        int rc = en_checkpoint(db);
        if (rc == 0)
            w->durable = w->cur.seq;
        return rc;
    }
    if (r < 12 && !*reader) {
        *reader_seq = w->cur.seq;
        return en_read_begin(db, reader);
    }
    if (r < 16 && *reader) {
        /* Its snapshot is intact, whatever commits and checkpoints did. */
        const tu_model *m = tu_hist_find(&w->hist, *reader_seq);
        char why[256] = "";
        cr_assert_not_null(m);
        int rc = tu_compare_txn(*reader, m, why, sizeof why);
        cr_assert_eq(rc, 0, "seed %#llx: reader of seq %llu: %s", (unsigned long long)w->seed,
                     (unsigned long long)*reader_seq, why);
        en_txn_end(*reader);
        *reader = NULL;
        return 0;
    }
    tu_model next;
    uint64_t before = w->sync == EN_SYNC_NORMAL ? checkpoints(db) : 0;
    /* Some transactions roll back, after spilling pages to the log when the
     * cache is small: their frames must vanish. */
    tu_shape shape = tu_shape_default;
    shape.rollback_pct = 10;
    int rc = tu_txn(db, &w->cur, &w->rng, &shape, &next);
    if (rc == TU_ROLLED_BACK) {
        uint64_t seq = 0;
        cr_assert_eq(tu_read_seq(db, &seq), 0, "%s", en_errmsg());
        cr_assert_eq(seq, w->cur.seq, "a rolled back transaction is visible");
        return 0;
    }
    tu_hist_push(&w->hist, &next);
    if (rc)
        return rc;
    w->cur = next;
    uint64_t after = w->sync == EN_SYNC_NORMAL ? checkpoints(db) : 0;
    if (w->sync == EN_SYNC_FULL || (after != UINT64_MAX && after != before))
        w->durable = next.seq;
    return 0;
}

static void lives(enum en_sync sync, uint64_t seed, unsigned n, uint32_t page_size) {
    seed = seed_from_env(seed);
    world w = {.seed = seed, .t = testvfs_new(seed), .sync = sync, .rng = seed};
    en_options opt = tu_options(testvfs_vfs(w.t), sync, 0);
    opt.page_size = page_size;
    en_db *db;
    cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    tu_hist_push(&w.hist, &w.cur);
    uint64_t spilled = 0;
    for (unsigned life = 0; life < n; life++) {
        db = recover(&w, life);
        plan_crash(&w);
        en_txn *reader = NULL;
        uint64_t reader_seq = 0;
        unsigned steps = 1 + (unsigned)(tu_rand(&w.rng) % 24);
        for (unsigned s = 0; s < steps; s++) {
            int rc = step(&w, db, &reader, &reader_seq);
            cr_assert(rc == 0 || fault_fired(&w), "seed %#llx life %u: %d with no fault: %s",
                      (unsigned long long)w.seed, life, rc, en_errmsg());
            if (rc)
                break;
        }
        en_stats st;
        if (en_stat(db, &st) == 0)
            spilled += st.spilled_pages;
        testvfs_crash(w.t, tu_rand(&w.rng) & 1 ? TESTVFS_TORN : TESTVFS_DROP);
        testvfs_fail_clear(w.t);
        en_txn_end(reader);
        en_close(db); /* the files died: this only frees the handle */
    }
    db = recover(&w, n);
    cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
    cr_assert(n < 50 || spilled > 0, "no transaction spilled pages: the path went untested");
    tu_hist_free(&w.hist);
    testvfs_free(w.t);
}

Test(power, full_every_acknowledged_commit_survives, .timeout = 300) {
    lives(EN_SYNC_FULL, 0x5eed0001, lives_from_env(300), 4096);
}

Test(power, normal_recovers_a_committed_prefix, .timeout = 300) {
    lives(EN_SYNC_NORMAL, 0x5eed0002, lives_from_env(300), 4096);
}

/* Larger pages: other overflow thresholds, free-list and log frame sizes. */
Test(power, full_with_16k_pages, .timeout = 300) {
    lives(EN_SYNC_FULL, 0x5eed0003, lives_from_env(300) / 3, 16384);
}

/* Power lost while a database is being created (its meta pages written,
 * not yet synced): reopening finds either no file content, or whatever
 * sectors of the meta pages landed, and must open an empty database. */
Test(power, lost_while_creating) {
    for (uint64_t seed = 1; seed <= 300; seed++) {
        testvfs *t = testvfs_new(seed);
        en_options opt = tu_options(testvfs_vfs(t), EN_SYNC_FULL, 0);
        en_db *db;
        testvfs_fail(t, TESTVFS_SYNC, 1, CD_EIO, 1);
        cr_assert_neq(en_open(TU_PATH, &opt, &db), 0);
        testvfs_fail_clear(t);
        testvfs_crash(t, seed % 4 ? TESTVFS_TORN : TESTVFS_DROP);
        int rc = en_open(TU_PATH, &opt, &db);
        cr_assert_eq(rc, 0, "seed %llu: %d %s", (unsigned long long)seed, rc, en_errmsg());
        uint64_t rng = seed, seq = 1;
        tu_model m = {0}, next;
        cr_assert_eq(tu_read_seq(db, &seq), 0);
        cr_assert_eq(seq, 0);
        cr_assert_eq(tu_txn(db, &m, &rng, &tu_shape_default, &next), 0, "%s", en_errmsg());
        cr_assert_eq(en_check(db, NULL), 0, "seed %llu: %s", (unsigned long long)seed,
                     en_errmsg());
        cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
        cr_assert_eq(en_open(TU_PATH, &opt, &db), 0, "%s", en_errmsg());
        char why[256] = "";
        cr_assert_eq(tu_compare(db, &next, why, sizeof why), 0, "%s", why);
        cr_assert_eq(en_close(db), 0, "%s", en_errmsg());
        testvfs_free(t);
    }
}
