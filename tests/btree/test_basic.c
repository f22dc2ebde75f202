/*
 * test_basic.c: single operations and their contracts: put/get/del,
 * BT_NOOVERWRITE, the key and value limits, argument errors, overflow
 * values at every size boundary (exact bytes back; replacing and deleting
 * free the chain), bt_drop, bt_stat, and copy-on-write across a commit.
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

TestSuite(basic, .init = setup, .fini = teardown);

Test(basic, empty_tree) {
    bt_tree t = {0};
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "a", 1, &v), CD_ENOTFOUND);
    cr_assert_null(v.data);
    cr_assert_eq(bt_del(pg, &t, "a", 1), CD_ENOTFOUND);
    cr_assert_eq(bt_drop(pg, &t), 0);
    cr_assert_eq(check_ok(pg, &t), 0);
    bt_stats st;
    cr_assert_eq(bt_stat(pg, &t, &st), 0);
    cr_assert_eq(st.depth, 0);
    cr_assert_eq(st.entries, 0);
    ASSERT_PINS(mp, 0);
}

Test(basic, put_get_del_one) {
    bt_tree t = {0};
    cr_assert_eq(bt_put(pg, &t, "key", 3, "value", 5, 0), 0);
    cr_assert_neq(t.root, 0);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "key", 3, &v), 0);
    cr_assert_eq(v.len, 5);
    cr_assert(memcmp(v.data, "value", 5) == 0);
    ASSERT_PINS(mp, 1); /* the value pins its leaf */
    bt_val_release(pg, &v);
    bt_val_release(pg, &v); /* released twice: a no-op */
    ASSERT_PINS(mp, 0);
    cr_assert_eq(bt_get(pg, &t, "ke", 2, &v), CD_ENOTFOUND);
    cr_assert_eq(bt_get(pg, &t, "key0", 4, &v), CD_ENOTFOUND);
    cr_assert_eq(bt_del(pg, &t, "key", 3), 0);
    cr_assert_eq(t.root, 0);
    cr_assert_eq(mem_pager_live(mp), 0);
    ASSERT_PINS(mp, 0);
}

Test(basic, empty_value_and_replace) {
    bt_tree t = {0};
    cr_assert_eq(bt_put(pg, &t, "k", 1, NULL, 0, 0), 0);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "k", 1, &v), 0);
    cr_assert_eq(v.len, 0);
    bt_val_release(pg, &v);
    cr_assert_eq(bt_put(pg, &t, "k", 1, "xyz", 3, 0), 0);
    cr_assert_eq(bt_put(pg, &t, "k", 1, "abc", 3, 0), 0); /* same size, in place */
    cr_assert_eq(bt_get(pg, &t, "k", 1, &v), 0);
    cr_assert_eq(v.len, 3);
    cr_assert(memcmp(v.data, "abc", 3) == 0);
    bt_val_release(pg, &v);
    bt_stats st;
    cr_assert_eq(bt_stat(pg, &t, &st), 0);
    cr_assert_eq(st.entries, 1);
    ASSERT_PINS(mp, 0);
}

Test(basic, nooverwrite) {
    bt_tree t = {0};
    cr_assert_eq(bt_put(pg, &t, "k", 1, "one", 3, BT_NOOVERWRITE), 0);
    uint32_t root = t.root;
    cr_assert_eq(bt_put(pg, &t, "k", 1, "two", 3, BT_NOOVERWRITE), CD_EEXIST);
    cr_assert_eq(t.root, root);
    commit_ok(mp, &t);
    mem_pager_begin(mp);
    /* Refused after a commit too: nothing is made dirty. */
    cr_assert_eq(bt_put(pg, &t, "k", 1, "two", 3, BT_NOOVERWRITE), CD_EEXIST);
    cr_assert_eq(t.root, root);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "k", 1, &v), 0);
    cr_assert_eq(v.len, 3);
    cr_assert(memcmp(v.data, "one", 3) == 0);
    bt_val_release(pg, &v);
    cr_assert_eq(mem_pager_live(mp), 1);
    cr_assert_eq(bt_put(pg, &t, "k", 1, "two", 3, 0), 0); /* plain put replaces */
    cr_assert_neq(t.root, root, "copy-on-write gives a new root");
    cr_assert_eq(bt_get(pg, &t, "k", 1, &v), 0);
    cr_assert(memcmp(v.data, "two", 3) == 0);
    bt_val_release(pg, &v);
    ASSERT_PINS(mp, 0);
}

Test(basic, key_limits) {
    bt_tree t = {0};
    uint8_t key[BT_KEY_MAX + 1];
    memset(key, 'k', sizeof key);
    cr_assert_eq(bt_put(pg, &t, key, BT_KEY_MAX + 1, "v", 1, 0), CD_ETOOBIG);
    cr_assert_eq(bt_put(pg, &t, key, 0, "v", 1, 0), CD_EINVAL);
    cr_assert_eq(bt_put(pg, &t, NULL, 3, "v", 1, 0), CD_EINVAL);
    cr_assert_eq(t.root, 0);
    /* Many longest keys: branches with 518-byte cells must still work. */
    for (uint32_t i = 0; i < 300; i++) {
        key_u64(i * 7919u % 300u, key + BT_KEY_MAX - 8);
        cr_assert_eq(put_val(pg, &t, key, BT_KEY_MAX, i % 3 ? 10 : 600, i, 0), 0);
    }
    for (uint32_t i = 0; i < 300; i++) {
        uint32_t k = i * 7919u % 300u;
        key_u64(k, key + BT_KEY_MAX - 8);
        get_expect(pg, &t, key, BT_KEY_MAX, i % 3 ? 10 : 600, i);
    }
    bt_stats st;
    cr_assert_eq(bt_stat(pg, &t, &st), 0);
    cr_assert_eq(st.entries, 300);
    cr_assert_geq(st.depth, 3, "long keys make a deep tree (%u)", st.depth);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, key, BT_KEY_MAX + 1, &v), CD_ETOOBIG);
    cr_assert_eq(bt_del(pg, &t, key, BT_KEY_MAX + 1), CD_ETOOBIG);
    cr_assert_eq(bt_get(pg, &t, key, 0, &v), CD_EINVAL);
    check_ok(pg, &t);
    commit_ok(mp, &t);
    ASSERT_PINS(mp, 0);
}

Test(basic, value_limit_and_bad_args) {
    bt_tree t = {0};
    cr_assert_eq(bt_put(pg, &t, "k", 1, "", BT_VALUE_MAX + 1, 0), CD_ETOOBIG);
    cr_assert_eq(bt_put(pg, &t, "k", 1, NULL, 5, 0), CD_EINVAL);
    cr_assert_eq(bt_put(pg, &t, "k", 1, "v", 1, 0x80), CD_EINVAL);
    cr_assert_eq(bt_put(NULL, &t, "k", 1, "v", 1, 0), CD_EINVAL);
    cr_assert_eq(bt_put(pg, NULL, "k", 1, "v", 1, 0), CD_EINVAL);
    cr_assert_eq(bt_get(pg, &t, "k", 1, NULL), CD_EINVAL);
    cr_assert_eq(t.root, 0);
    cr_assert_eq(mem_pager_live(mp), 0);
    /* The largest value round-trips. */
    cr_assert_eq(put_val(pg, &t, "big", 3, BT_VALUE_MAX, 77, 0), 0);
    get_expect(pg, &t, "big", 3, BT_VALUE_MAX, 77);
    bt_stats st;
    cr_assert_eq(bt_stat(pg, &t, &st), 0);
    cr_assert_eq(st.overflow_pages, (BT_VALUE_MAX + (P - 41)) / (P - 40));
    cr_assert_eq(st.overflow_values, 1);
    cr_assert_eq(st.overflow_bytes_used, BT_VALUE_MAX);
    cr_assert_eq(bt_del(pg, &t, "big", 3), 0);
    cr_assert_eq(mem_pager_live(mp), 0);
    ASSERT_PINS(mp, 0);
}

/* Sizes around the inline limit and the overflow page capacity. */
Test(basic, overflow_boundaries) {
    bt_tree t = {0};
    uint32_t inl = bt_inline_cell_max(P), cap = P - CD_PAGE_HDR_SIZE;
    /* Key "kNN" (3 bytes): cell = 1 + varint(2 vlen) + 3 + vlen. */
    uint32_t fit = inl - 1 - 2 - 3;
    cr_assert_eq(cd_leaf_cell_len(3, fit, 0), inl);
    uint32_t sizes[] = {0, 1, fit - 1, fit, fit + 1, cap - 1, cap, cap + 1,
                        2 * cap, 2 * cap + 1, 5 * cap - 1, 300000};
    uint32_t n = sizeof sizes / sizeof sizes[0];
    uint64_t ovf_pages = 0;
    for (uint32_t i = 0; i < n; i++) {
        char key[4] = {'k', (char)('a' + i), 'x', 0};
        cr_assert_eq(put_val(pg, &t, key, 3, sizes[i], i, 0), 0);
        if (sizes[i] > fit)
            ovf_pages += (sizes[i] + cap - 1) / cap;
    }
    for (uint32_t i = 0; i < n; i++) {
        char key[4] = {'k', (char)('a' + i), 'x', 0};
        get_expect(pg, &t, key, 3, sizes[i], i);
    }
    bt_stats st;
    cr_assert_eq(bt_stat(pg, &t, &st), 0);
    cr_assert_eq(st.overflow_pages, ovf_pages);
    cr_assert_eq(st.overflow_values, 8);
    cr_assert_eq(mem_pager_live(mp), st.leaf_pages + st.branch_pages + ovf_pages);
    check_ok(pg, &t);
    commit_ok(mp, &t);
    ASSERT_PINS(mp, 0);
}

Test(basic, overflow_replace_and_delete_free_the_chain) {
    bt_tree t = {0};
    cr_assert_eq(put_val(pg, &t, "a", 1, 10, 1, 0), 0);
    cr_assert_eq(mem_pager_live(mp), 1);
    cr_assert_eq(put_val(pg, &t, "big", 3, 100000, 2, 0), 0);
    uint32_t chain = (100000 + P - 41) / (P - 40);
    cr_assert_eq(mem_pager_live(mp), 1 + chain);
    commit_ok(mp, &t);

    mem_pager_begin(mp);
    cr_assert_eq(put_val(pg, &t, "big", 3, 50000, 3, 0), 0); /* replace: new chain */
    uint32_t chain2 = (50000 + P - 41) / (P - 40);
    cr_assert_eq(mem_pager_live(mp), 1 + chain2);
    cr_assert_eq(mem_pager_pending(mp), 1 + chain); /* old leaf + old chain */
    get_expect(pg, &t, "big", 3, 50000, 3);
    cr_assert_eq(put_val(pg, &t, "big", 3, 20, 4, 0), 0); /* back inline */
    cr_assert_eq(mem_pager_live(mp), 1);
    get_expect(pg, &t, "big", 3, 20, 4);
    cr_assert_eq(put_val(pg, &t, "big", 3, 9000, 5, 0), 0);
    commit_ok(mp, &t);

    mem_pager_begin(mp);
    cr_assert_eq(bt_del(pg, &t, "big", 3), 0);
    cr_assert_eq(mem_pager_live(mp), 1);
    get_expect(pg, &t, "a", 1, 10, 1);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "big", 3, &v), CD_ENOTFOUND);
    check_ok(pg, &t);
    commit_ok(mp, &t);
    ASSERT_PINS(mp, 0);
}

Test(basic, drop_frees_everything) {
    bt_tree t = {0}, other = {0};
    for (uint32_t i = 0; i < 3000; i++) {
        uint8_t key[8];
        key_u64(i * 2654435761u, key);
        cr_assert_eq(put_val(pg, &t, key, 8, i % 50 ? 30 : 5000, i, 0), 0);
    }
    cr_assert_eq(put_val(pg, &other, "x", 1, 7000, 9, 0), 0);
    commit_ok(mp, &t);
    mem_pager_begin(mp);
    cr_assert_eq(bt_drop(pg, &t), 0);
    cr_assert_eq(t.root, 0);
    cr_assert_eq(mem_pager_live(mp), 3, "only the other tree's leaf and chain");
    get_expect(pg, &other, "x", 1, 7000, 9);
    commit_ok(mp, &t);
    ASSERT_PINS(mp, 0);
}

/* A snapshot root keeps reading its contents after later commits. */
Test(basic, copy_on_write_keeps_old_root) {
    bt_tree t = {0};
    for (uint32_t i = 0; i < 2000; i++) {
        uint8_t key[8];
        key_u64(i, key);
        cr_assert_eq(put_val(pg, &t, key, 8, 40, i, 0), 0);
    }
    commit_ok(mp, &t);
    bt_tree old = t;
    uint64_t snap = mem_pager_snapshot(mp);
    for (int round = 0; round < 5; round++) {
        mem_pager_begin(mp);
        for (uint32_t i = 0; i < 2000; i += 2) {
            uint8_t key[8];
            key_u64(i, key);
            if (round % 2 == 0)
                cr_assert_eq(bt_del(pg, &t, key, 8), 0);
            else
                cr_assert_eq(put_val(pg, &t, key, 8, 900, i + 7, 0), 0);
        }
        commit_ok(mp, &t);
    }
    cr_assert_neq(t.root, old.root);
    for (uint32_t i = 0; i < 2000; i++) {
        uint8_t key[8];
        key_u64(i, key);
        get_expect(pg, &old, key, 8, 40, i);
    }
    check_ok(pg, &old);
    cr_assert_eq(mem_pager_errors(mp), 0);
    uint32_t pending = mem_pager_pending(mp);
    cr_assert_gt(pending, 0);
    mem_pager_release_snapshot(mp, snap);
    mem_pager_begin(mp); /* reclaims what only the snapshot could see */
    cr_assert_eq(mem_pager_pending(mp), 0);
    check_ok(pg, &t);
    ASSERT_PINS(mp, 0);
}

/* Every page size: inline limits scale with the page, and 64 KiB pages
 * hold cells too large for the stack buffer bt_put uses at 4 KiB. */
Test(basic, page_sizes, .timeout = 300) {
    static const uint32_t sizes[] = {4096, 8192, 16384, 65536};
    for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        mem_pager *m = mem_pager_new(sizes[s]);
        const bt_pager *p = mem_pager_bt(m);
        bt_tree t = {0};
        uint64_t r = 11;
        mem_pager_begin(m);
        const uint32_t n = 3000;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t key[8];
            key_u64(i * 2654435761u, key);
            uint32_t vlen = rng_below(&r, 10) == 0 ? 20000 + i : i % 4000;
            cr_assert_eq(put_val(p, &t, key, 8, vlen, i, 0), 0);
        }
        check_ok(p, &t);
        cr_assert_eq(mem_pager_commit(m, &t), 0);
        mem_pager_begin(m);
        bt_stats st;
        cr_assert_eq(bt_stat(p, &t, &st), 0);
        cr_assert_eq(st.entries, n);
        cr_log_info("page %u: depth %u, %llu leaves, %llu overflow values", sizes[s],
                    st.depth, (unsigned long long)st.leaf_pages,
                    (unsigned long long)st.overflow_values);
        r = 11;
        for (uint32_t i = 0; i < n; i++) {
            uint8_t key[8];
            key_u64(i * 2654435761u, key);
            uint32_t vlen = rng_below(&r, 10) == 0 ? 20000 + i : i % 4000;
            get_expect(p, &t, key, 8, vlen, i);
            cr_assert_eq(bt_del(p, &t, key, 8), 0);
        }
        cr_assert_eq(t.root, 0);
        cr_assert_eq(mem_pager_live(m), 0);
        cr_assert_eq(mem_pager_pins(m), 0);
        cr_assert_eq(mem_pager_commit(m, &t), 0);
        mem_pager_free(m);
    }
}
