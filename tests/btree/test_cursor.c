/*
 * test_cursor.c: cursors at the edges (empty tree, one entry, seek past
 * the end, prev from the first entry, next from the last), full walks in
 * both directions across many pages, seeks between keys, values through
 * a cursor (inline and overflow) and read in place (bt_cursor_peek), and
 * the pins a cursor holds.
 */
#include "bt_test.h"

#define P 4096u

static mem_pager *mp;
static const bt_pager *pg;

static void setup(void) {
    mp = mem_pager_new(P);
    pg = mem_pager_bt(mp);
    mem_pager_begin(mp);
}
static void teardown(void) { mem_pager_free(mp); }

TestSuite(cursor, .init = setup, .fini = teardown);

static uint64_t cur_u64(const bt_cursor *c) {
    const uint8_t *key;
    uint32_t klen;
    cr_assert_eq(bt_cursor_key(c, &key, &klen), 0);
    cr_assert_eq(klen, 8);
    uint64_t v = 0;
    for (int b = 0; b < 8; b++)
        v = v << 8 | key[b];
    return v;
}

Test(cursor, empty_tree) {
    bt_tree t = {0};
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(pg, &t, &c), 0);
    cr_assert_eq(bt_cursor_first(&c), CD_ENOTFOUND);
    cr_assert_eq(bt_cursor_last(&c), CD_ENOTFOUND);
    cr_assert_eq(bt_cursor_seek(&c, "a", 1), CD_ENOTFOUND);
    cr_assert_eq(bt_cursor_next(&c), CD_EINVAL);
    cr_assert_eq(bt_cursor_prev(&c), CD_EINVAL);
    const uint8_t *k;
    uint32_t kl;
    cr_assert_eq(bt_cursor_key(&c, &k, &kl), CD_EINVAL);
    bt_val v;
    cr_assert_eq(bt_cursor_value(&c, &v), CD_EINVAL);
    bt_cursor_close(&c);
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 0);
}

Test(cursor, single_entry) {
    bt_tree t = {0};
    cr_assert_eq(bt_put(pg, &t, "m", 1, "val", 3, 0), 0);
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(pg, &t, &c), 0);
    cr_assert_eq(bt_cursor_first(&c), 0);
    ASSERT_PINS(mp, 1);
    const uint8_t *k;
    uint32_t kl;
    cr_assert_eq(bt_cursor_key(&c, &k, &kl), 0);
    cr_assert(kl == 1 && k[0] == 'm');
    cr_assert_eq(bt_cursor_next(&c), CD_ENOTFOUND);
    cr_assert_eq(bt_cursor_prev(&c), CD_ENOTFOUND);
    cr_assert_eq(bt_cursor_key(&c, &k, &kl), 0, "still positioned");
    cr_assert_eq(k[0], 'm');
    cr_assert_eq(bt_cursor_last(&c), 0);
    cr_assert_eq(bt_cursor_seek(&c, "a", 1), 0);
    cr_assert_eq(bt_cursor_key(&c, &k, &kl), 0);
    cr_assert_eq(k[0], 'm');
    cr_assert_eq(bt_cursor_seek(&c, "m", 1), 0);
    cr_assert_eq(bt_cursor_seek(&c, "m\0", 2), CD_ENOTFOUND);
    cr_assert_eq(bt_cursor_key(&c, &k, &kl), CD_EINVAL, "unpositioned after a failed seek");
    ASSERT_PINS(mp, 0);
    cr_assert_eq(bt_cursor_seek(&c, "z", 1), CD_ENOTFOUND);
    cr_assert_eq(bt_cursor_first(&c), 0);
    bt_val v;
    cr_assert_eq(bt_cursor_value(&c, &v), 0);
    cr_assert(v.len == 3 && memcmp(v.data, "val", 3) == 0);
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 1); /* the value outlives the cursor */
    bt_val_release(pg, &v);
    ASSERT_PINS(mp, 0);
}

/* Keys 10, 20, ..., 10 * n. */
static void fill(bt_tree *t, uint32_t n) {
    for (uint32_t i = 1; i <= n; i++) {
        uint8_t key[8];
        key_u64(10 * i, key);
        cr_assert_eq(put_val(pg, t, key, 8, i % 100 == 0 ? 9000 : 50, i, 0), 0);
    }
}

/* Fills t with n entries (fill), commits and opens c on it. */
static void fill_open(bt_tree *t, uint32_t n, bt_cursor *c) {
    fill(t, n);
    commit_ok(mp, t);
    cr_assert_eq(bt_cursor_open(pg, t, c), 0);
}

Test(cursor, full_walks_both_ways) {
    bt_tree t = {0};
    const uint32_t n = 20000;
    bt_cursor c;
    fill_open(&t, n, &c);
    cr_assert_eq(bt_cursor_first(&c), 0);
    uint32_t depth = c.depth;
    cr_assert_geq(depth, 3);
    ASSERT_PINS(mp, depth);
    for (uint32_t i = 1; i <= n; i++) {
        cr_assert_eq(cur_u64(&c), 10 * i);
        if (i % 1000 == 0) {
            bt_val v;
            cr_assert_eq(bt_cursor_value(&c, &v), 0);
            val_expect(&v, 9000, i);
            bt_val_release(pg, &v);
        }
        int rc = bt_cursor_next(&c);
        cr_assert_eq(rc, i == n ? CD_ENOTFOUND : 0);
        ASSERT_PINS(mp, depth);
    }
    cr_assert_eq(cur_u64(&c), 10ull * n, "next at the end stays on the last");
    for (uint32_t i = n; i >= 1; i--) {
        cr_assert_eq(cur_u64(&c), 10 * i);
        int rc = bt_cursor_prev(&c);
        cr_assert_eq(rc, i == 1 ? CD_ENOTFOUND : 0);
    }
    cr_assert_eq(cur_u64(&c), 10, "prev from the first stays on the first");
    cr_assert_eq(bt_cursor_last(&c), 0);
    cr_assert_eq(cur_u64(&c), 10ull * n);
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 0);
}

/* A walk entering a leaf (first, last, or a step) hints the pager at the
 * leaf after it under the same parent: every hint names the next leaf the
 * walk reads, in both directions, and only a parent's last leaf in the
 * walk's direction goes without one. */
static void walk_hints(bt_cursor *c, int dir) {
    uint64_t r0, h0 = mem_pager_hints(mp, &r0);
    cr_assert_eq(dir > 0 ? bt_cursor_first(c) : bt_cursor_last(c), 0);
    uint32_t d = c->depth, leaf = c->f[d - 1].pgno, parent = c->f[d - 2].pgno;
    uint64_t leaves = 1, parents = 1;
    while ((dir > 0 ? bt_cursor_next(c) : bt_cursor_prev(c)) == 0) {
        if (c->f[d - 1].pgno != leaf)
            leaves++;
        if (c->f[d - 2].pgno != parent)
            parents++;
        leaf = c->f[d - 1].pgno;
        parent = c->f[d - 2].pgno;
    }
    uint64_t r, h = mem_pager_hints(mp, &r) - h0;
    cr_assert_gt(leaves, 100);
    cr_assert_gt(parents, 1);
    cr_assert_eq(h, leaves - parents, "dir %d: %llu hints over %llu leaves", dir,
                 (unsigned long long)h, (unsigned long long)leaves);
    cr_assert_eq(r - r0, h, "dir %d: every hint names the leaf read next", dir);
}

Test(cursor, walks_hint_the_next_leaf) {
    bt_tree t = {0};
    bt_cursor c;
    fill_open(&t, 20000, &c);
    walk_hints(&c, 1);
    walk_hints(&c, -1);
    bt_cursor_close(&c);
    cr_assert_eq(mem_pager_errors(mp), 0);
    ASSERT_PINS(mp, 0);
}

Test(cursor, seek_between_and_past) {
    bt_tree t = {0};
    const uint32_t n = 5000;
    fill(&t, n);
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(pg, &t, &c), 0);
    uint64_t s = 3;
    for (int r = 0; r < 2000; r++) {
        uint64_t target = rng_below(&s, 10 * n + 20);
        uint8_t key[8];
        key_u64(target, key);
        int rc = bt_cursor_seek(&c, key, 8);
        uint64_t want = (target + 9) / 10 * 10;
        if (want == 0)
            want = 10;
        if (want > 10ull * n) {
            cr_assert_eq(rc, CD_ENOTFOUND);
            ASSERT_PINS(mp, 0);
            continue;
        }
        cr_assert_eq(rc, 0);
        cr_assert_eq(cur_u64(&c), want, "seek %llu", (unsigned long long)target);
        /* A few steps each way from there. */
        for (int k = 0; k < 3 && bt_cursor_next(&c) == 0; k++)
            cr_assert_eq(cur_u64(&c), want + 10 * (k + 1));
        cr_assert_eq(bt_cursor_seek(&c, key, 8), 0);
        for (int k = 0; k < 3 && bt_cursor_prev(&c) == 0; k++)
            cr_assert_eq(cur_u64(&c), want - 10 * (k + 1));
    }
    /* A shorter key sorts before all 8-byte keys that extend it. */
    cr_assert_eq(bt_cursor_seek(&c, "\0", 1), 0);
    cr_assert_eq(cur_u64(&c), 10);
    /* seek with a bad key */
    cr_assert_eq(bt_cursor_seek(&c, "", 0), CD_EINVAL);
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 0);
}

/* Two cursors and a snapshot cursor that outlives later writes. */
Test(cursor, snapshot_cursor_survives_commits) {
    bt_tree t = {0};
    fill(&t, 3000);
    commit_ok(mp, &t);
    uint64_t snap = mem_pager_snapshot(mp);
    bt_cursor old;
    cr_assert_eq(bt_cursor_open(pg, &t, &old), 0);
    cr_assert_eq(bt_cursor_first(&old), 0);
    uint64_t base = mem_pager_pins(mp);
    mem_pager_begin(mp);
    for (uint32_t i = 1; i <= 3000; i += 2) {
        uint8_t key[8];
        key_u64(10 * i, key);
        cr_assert_eq(bt_del(pg, &t, key, 8), 0);
    }
    ASSERT_PINS(mp, base);
    /* mem_pager's commit wants no pins outstanding (a real pager counts
     * readers' pins apart): walk the old cursor first. */
    for (uint32_t i = 1; i <= 3000; i++) {
        cr_assert_eq(cur_u64(&old), 10 * i);
        cr_assert_eq(bt_cursor_next(&old), i == 3000 ? CD_ENOTFOUND : 0);
    }
    bt_cursor_close(&old);
    commit_ok(mp, &t);
    mem_pager_release_snapshot(mp, snap);
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(pg, &t, &c), 0);
    uint32_t seen = 0;
    for (int rc = bt_cursor_first(&c); rc == 0; rc = bt_cursor_next(&c)) {
        seen++;
        cr_assert_eq(cur_u64(&c), 20ull * seen);
    }
    cr_assert_eq(seen, 1500);
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 0);
}

/* bt_cursor_peek gives the key and value bt_cursor_key and bt_cursor_value
 * give, without a pin, and no bytes for a value on overflow pages. */
Test(cursor, peek_reads_in_place) {
    bt_tree t = {0};
    const uint32_t n = 5000;
    fill(&t, n);
    cr_assert_eq(bt_put(pg, &t, "\xff", 1, "", 0, 0), 0); /* an empty value, last */
    commit_ok(mp, &t);
    bt_cursor c;
    const uint8_t *k, *v;
    uint32_t kl, vl;
    cr_assert_eq(bt_cursor_open(pg, &t, &c), 0);
    cr_assert_eq(bt_cursor_peek(&c, &k, &kl, &v, &vl), CD_EINVAL, "unpositioned");
    cr_assert_eq(bt_cursor_first(&c), 0);
    cr_assert_eq(bt_cursor_peek(&c, NULL, &kl, &v, &vl), CD_EINVAL);
    cr_assert_eq(bt_cursor_peek(&c, &k, &kl, NULL, &vl), CD_EINVAL);
    uint64_t pins = mem_pager_pins(mp);
    uint32_t ovf = 0;
    for (uint32_t i = 1; i <= n; i++) {
        cr_assert_eq(bt_cursor_peek(&c, &k, &kl, &v, &vl), 0);
        ASSERT_PINS(mp, pins);
        const uint8_t *k2;
        uint32_t kl2;
        cr_assert_eq(bt_cursor_key(&c, &k2, &kl2), 0);
        cr_assert(k == k2 && kl == kl2, "the key of entry %u", i);
        cr_assert_eq(cur_u64(&c), 10ull * i);
        bt_val bv;
        cr_assert_eq(bt_cursor_value(&c, &bv), 0);
        cr_assert_eq(vl, bv.len);
        if (i % 100 == 0) {
            cr_assert_null(v, "entry %u is on overflow pages", i);
            cr_assert_eq(vl, 9000);
            ovf++;
        } else {
            cr_assert(v == bv.data, "entry %u: the bytes in the leaf", i);
            val_expect(&bv, 50, i);
        }
        bt_val_release(pg, &bv);
        cr_assert_eq(bt_cursor_next(&c), 0);
        pins = mem_pager_pins(mp);
    }
    cr_assert_eq(ovf, n / 100);
    cr_assert_eq(bt_cursor_peek(&c, &k, &kl, &v, &vl), 0);
    cr_assert(kl == 1 && k[0] == 0xff);
    cr_assert(v != NULL && vl == 0, "an empty inline value is not an overflow one");
    /* reverse, and seeks, land on what peek reads */
    uint8_t key[8];
    key_u64(10 * 4321 - 5, key);
    cr_assert_eq(bt_cursor_seek(&c, key, 8), 0);
    cr_assert_eq(bt_cursor_peek(&c, &k, &kl, &v, &vl), 0);
    cr_assert_eq(cur_u64(&c), 10 * 4321);
    cr_assert_eq(bt_cursor_prev(&c), 0);
    cr_assert_eq(bt_cursor_peek(&c, &k, &kl, &v, &vl), 0);
    cr_assert_eq(cur_u64(&c), 10 * 4320);
    cr_assert_eq(vl, 50);
    cr_assert_not_null(v);
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 0);
}

/* ---- bt_cursor_each ---------------------------------------------------------------- */

/* What an each-walk's callback checks: the key it must see next (keys are
 * 10 apart), that the cursor is on that entry, and when to stop. */
typedef struct each_walk {
    bt_cursor *c;
    int64_t next, step;
    uint32_t seen, ovf, stop_at;
    int code;
} each_walk;

static int each_expect(void *arg, const bt_entry *e) {
    each_walk *w = arg;
    cr_assert_eq(e->klen, 8);
    uint64_t k = 0;
    for (int b = 0; b < 8; b++)
        k = k << 8 | e->key[b];
    cr_assert_eq(k, (uint64_t)w->next, "got key %llu, want %lld", (unsigned long long)k,
                 (long long)w->next);
    cr_assert_eq(cur_u64(w->c), k, "the cursor is on the entry given");
    const uint8_t *pk, *pv;
    uint32_t pkl, pvl;
    cr_assert_eq(bt_cursor_peek(w->c, &pk, &pkl, &pv, &pvl), 0);
    cr_assert(pk == e->key && pvl == e->vlen, "as bt_cursor_peek gives it");
    uint32_t i = (uint32_t)(k / 10);
    bt_val v = {.data = e->val, .len = e->vlen};
    cr_assert_not_null(e->val);
    if (i % 100 == 0) { /* on overflow pages: read for the call */
        cr_assert_null(pv, "entry %u is on overflow pages", i);
        val_expect(&v, 9000, i);
        w->ovf++;
    } else {
        cr_assert(pv == e->val, "entry %u: the bytes in the leaf", i);
        val_expect(&v, 50, i);
    }
    w->seen++;
    w->next += w->step;
    return w->seen == w->stop_at ? w->code : 0;
}

/* A walk crosses every leaf in either direction, from the ends or from a
 * seek, gives what peek gives with the cursor on each entry (and a value
 * on overflow pages read into memory), stops where
 * its callback says (the cursor staying there), and leaves no pin behind. */
Test(cursor, each_walks_every_leaf_and_stops_when_told) {
    bt_tree t = {0};
    const uint32_t n = 20000;
    bt_cursor c;
    fill_open(&t, n, &c);
    each_walk w = {.c = &c, .next = 10, .step = 10};
    cr_assert_eq(bt_cursor_each(&c, 1, each_expect, &w), CD_EINVAL, "unpositioned");
    cr_assert_eq(w.seen, 0);
    cr_assert_eq(bt_cursor_first(&c), 0);
    cr_assert_eq(bt_cursor_each(&c, 0, each_expect, &w), CD_EINVAL);
    cr_assert_eq(bt_cursor_each(&c, 2, each_expect, &w), CD_EINVAL);
    cr_assert_eq(bt_cursor_each(&c, 1, NULL, &w), CD_EINVAL);
    cr_assert_eq(bt_cursor_each(NULL, 1, each_expect, &w), CD_EINVAL);
    uint64_t pins = mem_pager_pins(mp);
    cr_assert_eq(bt_cursor_each(&c, 1, each_expect, &w), CD_ENOTFOUND);
    cr_assert_eq(w.seen, n);
    cr_assert_eq(w.ovf, n / 100);
    cr_assert_eq(cur_u64(&c), 10ull * n, "on the last entry after the end");
    ASSERT_PINS(mp, pins);
    /* back from the last one */
    w = (each_walk){.c = &c, .next = 10 * (int64_t)n, .step = -10};
    cr_assert_eq(bt_cursor_each(&c, -1, each_expect, &w), CD_ENOTFOUND);
    cr_assert_eq(w.seen, n);
    cr_assert_eq(cur_u64(&c), 10, "on the first entry after the start");
    /* from a seek, stopped midway: the cursor stays on the entry that
     * stopped it, and a walk goes on from there */
    uint8_t key[8];
    key_u64(10 * 7000 - 3, key);
    cr_assert_eq(bt_cursor_seek(&c, key, 8), 0);
    w = (each_walk){.c = &c, .next = 70000, .step = 10, .stop_at = 2500, .code = 42};
    cr_assert_eq(bt_cursor_each(&c, 1, each_expect, &w), 42);
    cr_assert_eq(cur_u64(&c), 70000 + 10 * 2499);
    w = (each_walk){.c = &c, .next = 70000 + 10 * 2499, .step = -10, .stop_at = 6000,
                    .code = CD_ENOTFOUND};
    cr_assert_eq(bt_cursor_each(&c, -1, each_expect, &w), CD_ENOTFOUND);
    cr_assert_eq(w.seen, 6000, "stopped by its callback, not by the start");
    cr_assert_eq(cur_u64(&c), 70000 + 10 * 2499 - 10 * 5999);
    cr_assert_eq(bt_cursor_next(&c), 0, "still a cursor that moves");
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 0);
}
