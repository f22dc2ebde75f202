/*
 * test_model.c: the randomized model test.  Runs ISLE_MODEL_OPS (default
 * 200,000) mixed operations against a tree and an in-memory reference:
 * puts (with and without BT_NOOVERWRITE) of keys of 1..64 bytes drawn from
 * a pool rich in shared prefixes and prefix-of-each-other keys, values of
 * 0..2000 bytes plus a few of 5..300 KB; runs of ascending puts past the
 * last key (after deleting the pool's tail); deletes; gets; full and partial
 * cursor walks in both directions from seeks.  It commits every ~1000
 * operations (sometimes aborting instead, and rolling the reference back),
 * runs bt_check after each of three phases (grow, churn, shrink), keeps a
 * snapshot root from the end of the first phase and checks it still reads
 * exactly its old contents after the later commits, and finally deletes
 * everything and expects every page freed.
 *
 * Set ISLE_MODEL_OPS for a longer run and ISLE_MODEL_SEED for another
 * sequence.
 */
#include <stdio.h>

#include "bt_test.h"

#define P 4096u

typedef struct pool_key {
    uint8_t key[64];
    uint32_t klen;
} pool_key;

/* The reference: for each pool key (sorted), whether it is present and
 * which value (vlen, seed) it holds. */
typedef struct ref_ent {
    uint8_t present;
    uint32_t vlen, seed;
} ref_ent;

typedef struct model {
    mem_pager *mp;
    const bt_pager *pg;
    bt_tree t;
    pool_key *pool;
    uint32_t npool;
    ref_ent *ref, *committed;
    uint32_t count, committed_count;
    uint64_t rng;
    uint64_t ops, puts, dels, gets, walks, steps, commits, aborts, big;
} model;

static int cmp_pool(const void *a, const void *b) {
    const pool_key *x = a, *y = b;
    return cd_key_cmp(x->key, x->klen, y->key, y->klen);
}

static void random_key(uint64_t *s, uint8_t *key, uint32_t *klen) {
    static const uint8_t alpha[] = {0x00, 0x01, 'a', 'b', 0xfe, 0xff};
    uint32_t len = 1 + (rng_below(s, 4) == 0 ? rng_below(s, 64) : rng_below(s, 12));
    for (uint32_t i = 0; i < len; i++)
        key[i] = rng_below(s, 10) < 7 ? alpha[rng_below(s, sizeof alpha)]
                                      : (uint8_t)rng_next(s);
    *klen = len;
}

static void pool_make(model *m, uint32_t n) {
    m->pool = malloc(n * sizeof *m->pool);
    cr_assert_not_null(m->pool);
    for (uint32_t i = 0; i < n; i++)
        random_key(&m->rng, m->pool[i].key, &m->pool[i].klen);
    qsort(m->pool, n, sizeof *m->pool, cmp_pool);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (k == 0 || cmp_pool(&m->pool[k - 1], &m->pool[i]) != 0)
            m->pool[k++] = m->pool[i];
    m->npool = k;
}

/* First pool index whose key is >= key. */
static uint32_t pool_lower(const model *m, const uint8_t *key, uint32_t klen) {
    uint32_t lo = 0, hi = m->npool;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cd_key_cmp(m->pool[mid].key, m->pool[mid].klen, key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint32_t value_len(model *m) {
    uint32_t r = rng_below(&m->rng, 1000);
    if (r < 3) {
        m->big++;
        return 5000 + rng_below(&m->rng, 295001);
    }
    if (r < 700)
        return rng_below(&m->rng, 101);
    return 100 + rng_below(&m->rng, 1901);
}

static void do_put(model *m) {
    uint32_t i = rng_below(&m->rng, m->npool), vlen = value_len(m);
    uint32_t seed = (uint32_t)rng_next(&m->rng);
    unsigned flags = rng_below(&m->rng, 10) == 0 ? BT_NOOVERWRITE : 0;
    int rc = put_val(m->pg, &m->t, m->pool[i].key, m->pool[i].klen, vlen, seed, flags);
    if (flags && m->ref[i].present) {
        cr_assert_eq(rc, CD_EEXIST);
        return;
    }
    cr_assert_eq(rc, 0, "put: %d", rc);
    m->count += !m->ref[i].present;
    m->ref[i] = (ref_ent){.present = 1, .vlen = vlen, .seed = seed};
    m->puts++;
}

/*
 * The same puts through bt_append_run, as a caller with many puts makes
 * them: a run, then bt_put for the one it stopped at, and on.  Some keys
 * come out of order (one already placed, put again) and some values are
 * too long for a leaf, so runs stop early; each must place exactly a
 * prefix, and the tree must end as the puts one by one would leave it.
 */
static void append_batch(model *m, uint32_t cut, uint32_t n) {
    bt_kv kv[80];
    uint32_t idx[80], len[80], seed[80], k = 0;
    for (uint32_t i = cut; k < n && i < m->npool; i += 1 + rng_below(&m->rng, 3), k++) {
        uint32_t j = k > 0 && rng_below(&m->rng, 12) == 0 ? idx[k - 1] : i; /* a repeat */
        idx[k] = j;
        len[k] = value_len(m);
        seed[k] = (uint32_t)rng_next(&m->rng);
        uint8_t *v = malloc(len[k] ? len[k] : 1);
        cr_assert_not_null(v);
        val_fill(v, len[k], seed[k]);
        kv[k] = (bt_kv){m->pool[j].key, v, m->pool[j].klen, len[k]};
        i = j;
    }
    for (uint32_t at = 0; at < k;) {
        uint32_t placed;
        cr_assert_eq(bt_append_run(m->pg, &m->t, kv + at, k - at, &placed), 0);
        cr_assert_leq(placed, k - at);
        at += placed;
        if (at < k) {
            cr_assert_eq(bt_put(m->pg, &m->t, kv[at].key, kv[at].klen, kv[at].val,
                                kv[at].vlen, 0), 0);
            at++;
        }
    }
    for (uint32_t a = 0; a < k; a++) {
        uint32_t j = idx[a];
        m->count += !m->ref[j].present;
        m->ref[j] = (ref_ent){.present = 1, .vlen = len[a], .seed = seed[a]};
        m->puts++;
        free((void *)kv[a].val);
    }
}

/* Deletes every key from a cut near the end of the pool, then puts keys
 * past it in ascending order: right-edge merges, then appends that go
 * straight to the rightmost leaf (bt_put's append note) until it splits. */
static void do_append_run(model *m) {
    uint32_t cut = m->npool - 1 - rng_below(&m->rng, m->npool / 20 + 1);
    for (uint32_t i = cut; i < m->npool; i++) {
        if (!m->ref[i].present)
            continue;
        cr_assert_eq(bt_del(m->pg, &m->t, m->pool[i].key, m->pool[i].klen), 0);
        m->ref[i].present = 0;
        m->count--;
        m->dels++;
    }
    uint32_t n = 1 + rng_below(&m->rng, 80);
    if (rng_below(&m->rng, 2) == 0) {
        append_batch(m, cut, n);
        return;
    }
    for (uint32_t i = cut; n-- > 0 && i < m->npool; i += 1 + rng_below(&m->rng, 3)) {
        uint32_t vlen = value_len(m), seed = (uint32_t)rng_next(&m->rng);
        int rc = put_val(m->pg, &m->t, m->pool[i].key, m->pool[i].klen, vlen, seed, 0);
        cr_assert_eq(rc, 0, "append put: %d", rc);
        m->count++;
        m->ref[i] = (ref_ent){.present = 1, .vlen = vlen, .seed = seed};
        m->puts++;
    }
}

static void do_del(model *m) {
    uint32_t i = rng_below(&m->rng, m->npool);
    int rc = bt_del(m->pg, &m->t, m->pool[i].key, m->pool[i].klen);
    cr_assert_eq(rc, m->ref[i].present ? 0 : CD_ENOTFOUND, "del: %d", rc);
    m->count -= m->ref[i].present;
    m->ref[i].present = 0;
    m->dels++;
}

static void do_get(model *m) {
    uint32_t i = rng_below(&m->rng, m->npool);
    bt_val v;
    int rc = bt_get(m->pg, &m->t, m->pool[i].key, m->pool[i].klen, &v);
    if (!m->ref[i].present) {
        cr_assert_eq(rc, CD_ENOTFOUND);
        cr_assert_null(v.data);
        return;
    }
    cr_assert_eq(rc, 0);
    val_expect(&v, m->ref[i].vlen, m->ref[i].seed);
    bt_val_release(m->pg, &v);
    m->gets++;
}

/* Asserts the cursor is on pool key i, and (sometimes) its value. */
static void cursor_at(model *m, const bt_cursor *c, const ref_ent *ref, uint32_t i,
                      int value) {
    const uint8_t *key;
    uint32_t klen;
    cr_assert_eq(bt_cursor_key(c, &key, &klen), 0);
    cr_assert(cd_key_cmp(key, klen, m->pool[i].key, m->pool[i].klen) == 0,
              "cursor on the wrong key (pool %u)", i);
    if (value) {
        bt_val v;
        cr_assert_eq(bt_cursor_value(c, &v), 0);
        val_expect(&v, ref[i].vlen, ref[i].seed);
        bt_val_release(m->pg, &v);
    }
    m->steps++;
}

/* Next present pool index after i in direction dir, or -1. */
static int64_t ref_step(const model *m, const ref_ent *ref, int64_t i, int dir) {
    for (i += dir; i >= 0 && i < m->npool; i += dir)
        if (ref[i].present)
            return i;
    return -1;
}

/* Walks a whole tree both ways and compares it with ref. */
static void walk_full(model *m, const bt_tree *t, const ref_ent *ref, uint32_t count) {
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(m->pg, t, &c), 0);
    int64_t i = ref_step(m, ref, -1, 1);
    uint32_t seen = 0;
    for (int rc = bt_cursor_first(&c); rc == 0; rc = bt_cursor_next(&c)) {
        cr_assert_geq(i, 0, "tree has more keys than the reference");
        cursor_at(m, &c, ref, (uint32_t)i, seen % 7 == 0);
        i = ref_step(m, ref, i, 1);
        seen++;
    }
    cr_assert_eq(seen, count);
    i = ref_step(m, ref, m->npool, -1);
    for (int rc = bt_cursor_last(&c); rc == 0; rc = bt_cursor_prev(&c)) {
        cr_assert_geq(i, 0);
        cursor_at(m, &c, ref, (uint32_t)i, 0);
        i = ref_step(m, ref, i, -1);
    }
    cr_assert_eq(i, -1);
    bt_cursor_close(&c);
    m->walks++;
}

/* Seeks a random key (in the pool or not) and steps a few times. */
static void walk_partial(model *m) {
    uint8_t key[64];
    uint32_t klen, start;
    if (rng_below(&m->rng, 2)) {
        uint32_t i = rng_below(&m->rng, m->npool);
        memcpy(key, m->pool[i].key, klen = m->pool[i].klen);
    } else {
        random_key(&m->rng, key, &klen);
    }
    start = pool_lower(m, key, klen);
    int64_t i = start < m->npool && m->ref[start].present
                    ? start
                    : ref_step(m, m->ref, start, 1);
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(m->pg, &m->t, &c), 0);
    int rc = bt_cursor_seek(&c, key, klen);
    if (i < 0) {
        cr_assert_eq(rc, CD_ENOTFOUND);
    } else {
        cr_assert_eq(rc, 0);
        cursor_at(m, &c, m->ref, (uint32_t)i, 1);
        int dir = rng_below(&m->rng, 2) ? 1 : -1;
        uint32_t n = 1 + rng_below(&m->rng, 60);
        for (uint32_t k = 0; k < n; k++) {
            int64_t j = ref_step(m, m->ref, i, dir);
            rc = dir > 0 ? bt_cursor_next(&c) : bt_cursor_prev(&c);
            if (j < 0) {
                cr_assert_eq(rc, CD_ENOTFOUND);
                cursor_at(m, &c, m->ref, (uint32_t)i, 0); /* stays put */
                break;
            }
            cr_assert_eq(rc, 0);
            cursor_at(m, &c, m->ref, (uint32_t)j, k % 8 == 0);
            i = j;
        }
    }
    bt_cursor_close(&c);
    m->walks++;
}

static void end_txn(model *m) {
    ASSERT_PINS(m->mp, 0);
    if (rng_below(&m->rng, 12) == 0) { /* roll back instead */
        cr_assert_eq(mem_pager_abort(m->mp, &m->t), 0);
        memcpy(m->ref, m->committed, m->npool * sizeof *m->ref);
        m->count = m->committed_count;
        m->aborts++;
    } else {
        commit_ok(m->mp, &m->t);
        memcpy(m->committed, m->ref, m->npool * sizeof *m->ref);
        m->committed_count = m->count;
        m->commits++;
    }
    mem_pager_begin(m->mp);
}

static void check_phase(model *m, const char *name) {
    check_ok(m->pg, &m->t);
    bt_stats st;
    cr_assert_eq(bt_stat(m->pg, &m->t, &st), 0);
    cr_assert_eq(st.entries, m->count);
    walk_full(m, &m->t, m->ref, m->count);
    cr_log_info("%s: %u keys, depth %u, %llu leaves, %llu branches, %llu overflow pages",
                name, m->count, st.depth, (unsigned long long)st.leaf_pages,
                (unsigned long long)st.branch_pages, (unsigned long long)st.overflow_pages);
}

/* pct: put, del, get out of 100 (the rest: cursor walks). */
static void run_phase(model *m, uint64_t ops, int put, int del, int get) {
    uint64_t next_end = 500 + rng_below(&m->rng, 1000);
    for (uint64_t k = 0; k < ops; k++) {
        int r = (int)rng_below(&m->rng, 100);
        if (r < put)
            rng_below(&m->rng, 40) == 0 ? do_append_run(m) : do_put(m);
        else if (r < put + del)
            do_del(m);
        else if (r < put + del + get)
            do_get(m);
        else
            walk_partial(m);
        ASSERT_PINS(m->mp, 0);
        if (--next_end == 0) {
            end_txn(m);
            next_end = 500 + rng_below(&m->rng, 1000);
        }
        m->ops++;
    }
    end_txn(m);
}

static uint64_t env_u64(const char *name, uint64_t def) {
    const char *s = getenv(name);
    return s && *s ? strtoull(s, NULL, 10) : def;
}

Test(model, random_ops_against_reference, .timeout = 3600) {
    model m = {0};
    uint64_t total = env_u64("ISLE_MODEL_OPS", 200000);
    m.rng = (env_u64("ISLE_MODEL_SEED", 1) * 0x9E3779B97F4A7C15ull) | 1; /* odd: never 0 */
    m.mp = mem_pager_new(P);
    m.pg = mem_pager_bt(m.mp);
    pool_make(&m, total / 8 > 2000 ? (uint32_t)(total / 8) : 2000);
    m.ref = calloc(m.npool, sizeof *m.ref);
    m.committed = calloc(m.npool, sizeof *m.committed);
    cr_assert(m.ref && m.committed);
    mem_pager_begin(m.mp);

    run_phase(&m, total * 4 / 10, 70, 10, 15); /* grow */
    check_phase(&m, "grow");
    bt_tree snap_tree = m.t;
    uint64_t snap = mem_pager_snapshot(m.mp);
    ref_ent *snap_ref = malloc(m.npool * sizeof *snap_ref);
    cr_assert_not_null(snap_ref);
    memcpy(snap_ref, m.committed, m.npool * sizeof *snap_ref);
    uint32_t snap_count = m.committed_count;

    run_phase(&m, total * 4 / 10, 45, 40, 10); /* churn */
    check_phase(&m, "churn");
    cr_assert_neq(m.t.root, snap_tree.root);
    check_ok(m.pg, &snap_tree); /* the old snapshot, after later commits */
    walk_full(&m, &snap_tree, snap_ref, snap_count);
    mem_pager_release_snapshot(m.mp, snap);

    run_phase(&m, total - m.ops, 15, 70, 10); /* shrink */
    check_phase(&m, "shrink");

    for (uint32_t i = 0; i < m.npool; i++) /* and the rest */
        if (m.ref[i].present) {
            cr_assert_eq(bt_del(m.pg, &m.t, m.pool[i].key, m.pool[i].klen), 0);
            m.ref[i].present = 0;
        }
    cr_assert_eq(m.t.root, 0);
    commit_ok(m.mp, &m.t);
    mem_pager_begin(m.mp);
    cr_assert_eq(mem_pager_live(m.mp), 0, "live pages %u", mem_pager_live(m.mp));
    cr_assert_eq(mem_pager_pending(m.mp), 0);
    cr_assert_eq(mem_pager_errors(m.mp), 0);
    cr_log_info("%llu ops: %llu puts (%llu big values), %llu dels, %llu gets, %llu walks "
                "(%llu steps), %llu commits, %llu aborts",
                (unsigned long long)m.ops, (unsigned long long)m.puts,
                (unsigned long long)m.big, (unsigned long long)m.dels,
                (unsigned long long)m.gets, (unsigned long long)m.walks,
                (unsigned long long)m.steps, (unsigned long long)m.commits,
                (unsigned long long)m.aborts);
    free(snap_ref);
    free(m.ref);
    free(m.committed);
    free(m.pool);
    mem_pager_free(m.mp);
}
