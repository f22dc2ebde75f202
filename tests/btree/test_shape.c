/*
 * test_shape.c: how full the tree's pages end up.  Ascending inserts take
 * the append fast path and leave leaves more than 90% full; random inserts
 * halve pages and land between 50% and 75%; deleting everything (in
 * several orders) merges and collapses back to an empty tree with every
 * page freed.
 */
#include <stdio.h>

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

TestSuite(shape, .init = setup, .fini = teardown);

static double leaf_fill(const bt_tree *t, bt_stats *st) {
    cr_assert_eq(bt_stat(pg, t, st), 0);
    return (double)st->leaf_bytes_used / ((double)st->leaf_pages * (P - CD_PAGE_HDR_SIZE));
}

Test(shape, append_fills_leaves) {
    bt_tree t = {0};
    const uint32_t n = 100000;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t key[8];
        key_u64(1000000 + i, key);
        cr_assert_eq(put_val(pg, &t, key, 8, 38 + i % 5, i, BT_NOOVERWRITE), 0);
        if (i % 20000 == 19999) { /* commits in the middle change nothing */
            commit_ok(mp, &t);
            mem_pager_begin(mp);
        }
    }
    ASSERT_PINS(mp, 0);
    bt_stats st;
    double fill = leaf_fill(&t, &st);
    cr_log_info("append: %llu leaves, %llu branches, depth %u, leaf fill %.1f%%",
                (unsigned long long)st.leaf_pages, (unsigned long long)st.branch_pages,
                st.depth, 100 * fill);
    cr_assert_eq(st.entries, n);
    cr_assert_gt(fill, 0.90, "leaf fill %.3f", fill);
    cr_assert_gt((double)st.branch_bytes_used /
                     ((double)st.branch_pages * (P - CD_PAGE_HDR_SIZE)),
                 st.branch_pages > 1 ? 0.5 : 0.0);
    for (uint32_t i = 0; i < n; i += 97) {
        uint8_t key[8];
        key_u64(1000000 + i, key);
        get_expect(pg, &t, key, 8, 38 + i % 5, i);
    }
    check_ok(pg, &t);
    commit_ok(mp, &t);
}

Test(shape, random_inserts_half_fill) {
    bt_tree t = {0};
    uint64_t s = 42;
    uint32_t n = 50000;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t key[8];
        key_u64(rng_next(&s), key);
        cr_assert_eq(put_val(pg, &t, key, 8, 40, i, BT_NOOVERWRITE), 0);
    }
    bt_stats st;
    double fill = leaf_fill(&t, &st);
    cr_log_info("random: %llu leaves, depth %u, leaf fill %.1f%%",
                (unsigned long long)st.leaf_pages, st.depth, 100 * fill);
    cr_assert_eq(st.entries, n);
    cr_assert(fill > 0.50 && fill < 0.80, "leaf fill %.3f", fill);
    check_ok(pg, &t);
    ASSERT_PINS(mp, 0);
}

Test(shape, descending_inserts) {
    bt_tree t = {0};
    for (uint32_t i = 20000; i-- > 0;) {
        uint8_t key[8];
        key_u64(i, key);
        cr_assert_eq(put_val(pg, &t, key, 8, 40, i, 0), 0);
    }
    bt_stats st;
    double fill = leaf_fill(&t, &st);
    cr_assert_eq(st.entries, 20000);
    cr_assert_gt(fill, 0.45, "leaf fill %.3f", fill);
    check_ok(pg, &t);
}

/* Fills a tree, then deletes every key in the given order, checking the
 * tree and the remaining contents along the way. */
static void shrink(uint32_t n, int order, uint32_t vlen_big_every) {
    bt_tree t = {0};
    uint32_t *perm = malloc(n * sizeof *perm);
    cr_assert_not_null(perm);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t key[8];
        key_u64(i, key);
        uint32_t vlen = vlen_big_every && i % vlen_big_every == 0 ? 6000 : 20 + i % 200;
        cr_assert_eq(put_val(pg, &t, key, 8, vlen, i, 0), 0);
        perm[i] = i;
    }
    commit_ok(mp, &t);
    mem_pager_begin(mp);
    uint64_t s = 7;
    if (order == 2)
        for (uint32_t i = n; i > 1; i--) {
            uint32_t j = rng_below(&s, i), x = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = x;
        }
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = order == 1 ? n - 1 - k : perm[k];
        uint8_t key[8];
        key_u64(i, key);
        cr_assert_eq(bt_del(pg, &t, key, 8), 0, "del %u", i);
        cr_assert_eq(bt_del(pg, &t, key, 8), CD_ENOTFOUND);
        if (k % 1000 == 999) {
            check_ok(pg, &t);
            bt_stats st;
            cr_assert_eq(bt_stat(pg, &t, &st), 0);
            cr_assert_eq(st.entries, n - k - 1);
            commit_ok(mp, &t);
            mem_pager_begin(mp);
        }
    }
    cr_assert_eq(t.root, 0);
    cr_assert_eq(mem_pager_live(mp), 0, "live pages %u", mem_pager_live(mp));
    ASSERT_PINS(mp, 0);
    commit_ok(mp, &t);
    cr_assert_eq(mem_pager_errors(mp), 0);
    free(perm);
}

Test(shape, shrink_ascending) { shrink(20000, 0, 0); }
Test(shape, shrink_descending) { shrink(20000, 1, 0); }
Test(shape, shrink_random_with_overflow) { shrink(20000, 2, 37); }

/* Deletes keep pages at least a quarter full (except the root). */
Test(shape, deletes_keep_pages_dense) {
    bt_tree t = {0};
    for (uint32_t i = 0; i < 30000; i++) {
        uint8_t key[8];
        key_u64(i, key);
        cr_assert_eq(put_val(pg, &t, key, 8, 40, i, 0), 0);
    }
    uint64_t s = 99;
    for (uint32_t i = 0; i < 30000; i++) { /* delete ~90%, scattered */
        if (rng_below(&s, 10) == 0)
            continue;
        uint8_t key[8];
        key_u64(i, key);
        cr_assert_eq(bt_del(pg, &t, key, 8), 0);
    }
    bt_stats st;
    double fill = leaf_fill(&t, &st);
    cr_log_info("after deletes: %llu entries, %llu leaves, fill %.1f%%",
                (unsigned long long)st.entries, (unsigned long long)st.leaf_pages,
                100 * fill);
    cr_assert_gt(fill, 0.25, "leaf fill %.3f", fill);
    check_ok(pg, &t);
    ASSERT_PINS(mp, 0);
}

/* Long keys sharing a 400-byte prefix give long separators, so branches
 * hold few cells and random inserts and deletes split, merge and refill
 * branches at every level; checked against a bitmap of present ids. */
static void long_key(uint32_t id, uint8_t key[412]) {
    memset(key, 'p', 400);
    key_u64(id, key + 400);
    memset(key + 408, 'q', 4);
}

Test(shape, branch_churn_with_long_keys, .timeout = 600) {
    bt_tree t = {0};
    const uint32_t ids = 6000;
    uint8_t *present = calloc(ids, 1), key[412];
    cr_assert_not_null(present);
    uint64_t s = 5;
    uint32_t count = 0, max_depth = 0;
    for (uint32_t op = 0; op < 40000; op++) {
        uint32_t id = rng_below(&s, ids) * 2654435761u % ids;
        uint32_t klen = 408 + (id % 5); /* 408..412 bytes */
        long_key(id, key);
        int grow = op < 20000 ? rng_below(&s, 10) < 7 : rng_below(&s, 10) < 3;
        if (grow) {
            cr_assert_eq(put_val(pg, &t, key, klen, id % 3 ? 20 : 300, id, 0), 0);
            count += !present[id];
            present[id] = 1;
        } else {
            cr_assert_eq(bt_del(pg, &t, key, klen), present[id] ? 0 : CD_ENOTFOUND);
            count -= present[id];
            present[id] = 0;
        }
        if (op % 2000 == 1999) {
            bt_stats st;
            check_ok(pg, &t);
            cr_assert_eq(bt_stat(pg, &t, &st), 0);
            cr_assert_eq(st.entries, count);
            if (st.depth > max_depth)
                max_depth = st.depth;
            commit_ok(mp, &t);
            mem_pager_begin(mp);
        }
    }
    cr_assert_geq(max_depth, 4, "depth %u", max_depth);
    for (uint32_t id = 0; id < ids; id++) {
        long_key(id, key);
        if (present[id])
            get_expect(pg, &t, key, 408 + id % 5, id % 3 ? 20 : 300, id);
        cr_assert_eq(bt_del(pg, &t, key, 408 + id % 5), present[id] ? 0 : CD_ENOTFOUND);
    }
    cr_assert_eq(t.root, 0);
    cr_assert_eq(mem_pager_live(mp), 0);
    ASSERT_PINS(mp, 0);
    free(present);
}
