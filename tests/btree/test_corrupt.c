/*
 * test_corrupt.c: damaged trees whose pages are each valid but which do
 * not form a sound tree: a branch pointing at its ancestor (a cycle), a
 * chain of branches deeper than BT_DEPTH_MAX, a key outside its parent's
 * bounds, leaves at different depths, overflow chains too short or too
 * long.  Every operation must return CD_ECORRUPT (never loop, crash or
 * leak a pin) and bt_check must name the page.
 */
#include "bt_test.h"

#define P 4096u

static mem_pager *mp;
static const bt_pager *pg;

static void setup(void) {
    mp = mem_pager_new(P);
    pg = mem_pager_bt(mp);
}
static void teardown(void) { mem_pager_free(mp); }

TestSuite(corrupt, .init = setup, .fini = teardown);

/* A committed tree of keys 0..n-1 (8 bytes) with 60-byte values. */
static bt_tree build(uint32_t n) {
    bt_tree t = {0};
    mem_pager_begin(mp);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t key[8];
        key_u64(i, key);
        cr_assert_eq(put_val(pg, &t, key, 8, 60, i, 0), 0);
    }
    commit_ok(mp, &t);
    return t;
}

static void expect_check_fails(const bt_tree *t, uint32_t want_pgno) {
    cd_diag diag = {0};
    uint32_t bad = 0;
    int rc = bt_check(pg, t, NULL, NULL, &diag, &bad);
    cr_assert_eq(rc, CD_ECORRUPT, "bt_check: %d", rc);
    cr_assert_not_null(diag.what);
    cr_assert_gt(diag.line, 0);
    if (want_pgno)
        cr_assert_eq(bad, want_pgno, "bad page %u, expected %u (%s)", bad, want_pgno,
                     diag.what);
    cr_log_info("bt_check: page %u: %s", bad, diag.what);
    bt_stats st;
    cr_assert_eq(bt_stat(pg, t, &st), CD_ECORRUPT);
    ASSERT_PINS(mp, 0);
}

/* Every operation on t fails with CD_ECORRUPT somewhere in a full walk. */
static void expect_ops_fail(bt_tree *t, const uint8_t *key, uint32_t klen) {
    bt_val v;
    cr_assert_eq(bt_get(pg, t, key, klen, &v), CD_ECORRUPT);
    ASSERT_PINS(mp, 0);
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(pg, t, &c), 0);
    int rc = bt_cursor_first(&c);
    for (uint32_t steps = 0; rc == 0 && steps < 1000000; steps++)
        rc = bt_cursor_next(&c);
    cr_assert_eq(rc, CD_ECORRUPT, "cursor walk: %d", rc);
    bt_cursor_close(&c);
    ASSERT_PINS(mp, 0);
    mem_pager_begin(mp);
    cr_assert_eq(bt_put(pg, t, key, klen, "x", 1, 0), CD_ECORRUPT);
    ASSERT_PINS(mp, 0);
    cr_assert_eq(bt_del(pg, t, key, klen), CD_ECORRUPT);
    ASSERT_PINS(mp, 0);
    cr_assert_eq(bt_drop(pg, t), CD_ECORRUPT);
    ASSERT_PINS(mp, 0);
    cr_assert_eq(mem_pager_abort(mp, t), 0);
}

Test(corrupt, branch_points_at_ancestor) {
    bt_tree t = build(20000);
    const uint8_t *root = mem_pager_raw(mp, t.root);
    cr_assert_eq(cd_page_type(root), CD_PAGE_BRANCH);
    uint32_t b = cd_branch_child(root, 0);
    uint8_t *bp = mem_pager_raw(mp, b);
    cr_assert_eq(cd_page_type(bp), CD_PAGE_BRANCH, "need depth >= 3");
    cd_put32(bp + cd_page_cell_off(bp, 0), t.root); /* child 0 -> root */
    mem_pager_reseal(mp, b);
    uint8_t key[8];
    key_u64(0, key);
    expect_check_fails(&t, t.root);
    expect_ops_fail(&t, key, 8);
    /* Keys elsewhere still read. */
    key_u64(19999, key);
    get_expect(pg, &t, key, 8, 60, 19999);
}

/* 25 branches in a line, each with both children the next one, keys
 * descending so every bound holds: only the depth is wrong. */
Test(corrupt, deeper_than_depth_max) {
    bt_tree t = {0};
    mem_pager_begin(mp);
    uint32_t pgnos[26];
    uint8_t *pages[26];
    for (int i = 0; i < 26; i++)
        cr_assert_eq(pg->ops->alloc(pg->ctx, &pgnos[i], &pages[i]), 0);
    for (int i = 0; i < 26; i++) {
        if (i == 25) {
            cd_page_init(pages[i], P, CD_PAGE_LEAF, pgnos[i], pg->txn);
            uint8_t *dst = cd_page_cell_alloc(pages[i], P, 0, cd_leaf_cell_len(1, 1, 0));
            cd_leaf_cell_write(dst, "\x01", 1, "v", 1, 0);
        } else {
            cd_page_init(pages[i], P, CD_PAGE_BRANCH, pgnos[i], pg->txn);
            uint8_t *dst = cd_page_cell_alloc(pages[i], P, 0, cd_branch_cell_len(1));
            uint8_t k = (uint8_t)(200 - i);
            cd_branch_cell_write(dst, pgnos[i + 1], &k, 1);
            cd_page_set_aux0(pages[i], pgnos[i + 1]);
        }
        pg->ops->unpin(pg->ctx, pages[i]);
    }
    t.root = pgnos[0];
    commit_ok(mp, &t);
    cd_diag diag = {0};
    cr_assert_eq(bt_check(pg, &t, NULL, NULL, &diag, NULL), CD_ECORRUPT);
    cr_assert_str_eq(diag.what, "tree deeper than BT_DEPTH_MAX");
    expect_check_fails(&t, pgnos[BT_DEPTH_MAX]);
    expect_ops_fail(&t, (const uint8_t *)"\x01", 1);
}

Test(corrupt, key_outside_parent_bounds) {
    bt_tree t = build(5000);
    const uint8_t *root = mem_pager_raw(mp, t.root);
    uint32_t child = cd_branch_child(mem_pager_raw(mp, t.root), 0);
    while (cd_page_type(mem_pager_raw(mp, child)) == CD_PAGE_BRANCH)
        child = cd_branch_child(mem_pager_raw(mp, child), 0);
    (void)root;
    /* The leftmost leaf's last key becomes huge: still in order inside the
     * page, but above the separator that bounds the leaf. */
    uint8_t *leaf = mem_pager_raw(mp, child);
    unsigned n = cd_page_n(leaf);
    cd_leaf_cell c;
    cd_leaf_cell_get(leaf, n - 1, &c);
    memset((uint8_t *)c.key, 0xff, c.klen);
    mem_pager_reseal(mp, child);
    expect_check_fails(&t, child);
}

Test(corrupt, leaves_at_different_depths) {
    bt_tree t = build(20000);
    uint8_t *root = mem_pager_raw(mp, t.root);
    uint32_t b = cd_branch_child(root, 0);
    uint32_t leaf = cd_branch_child(mem_pager_raw(mp, b), 0);
    cr_assert_eq(cd_page_type(mem_pager_raw(mp, leaf)), CD_PAGE_LEAF);
    cd_put32(root + cd_page_cell_off(root, 0), leaf); /* skip a level */
    mem_pager_reseal(mp, t.root);
    expect_check_fails(&t, 0);
}

/* A tree with one overflow value; returns its chain's first page. */
static uint32_t build_ovf(bt_tree *t, uint32_t vlen) {
    *t = (bt_tree){0};
    mem_pager_begin(mp);
    cr_assert_eq(put_val(pg, t, "big", 3, vlen, 5, 0), 0);
    cr_assert_eq(put_val(pg, t, "small", 5, 10, 6, 0), 0);
    commit_ok(mp, t);
    cd_leaf_cell c;
    cd_leaf_cell_get(mem_pager_raw(mp, t->root), 0, &c);
    cr_assert_neq(c.ovf_pgno, 0);
    return c.ovf_pgno;
}

Test(corrupt, overflow_chain_too_short) {
    bt_tree t;
    uint32_t first = build_ovf(&t, 3 * (P - 40));
    uint8_t *p = mem_pager_raw(mp, first);
    uint32_t second = cd_page_aux0(p);
    cd_page_set_aux0(p, 0); /* cut after the first page */
    mem_pager_reseal(mp, first);
    (void)second;
    expect_check_fails(&t, t.root);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "big", 3, &v), CD_ECORRUPT);
    cr_assert_null(v.data);
    get_expect(pg, &t, "small", 5, 10, 6);
    mem_pager_begin(mp);
    cr_assert_eq(bt_del(pg, &t, "big", 3), CD_ECORRUPT, "freeing the chain meets it");
    ASSERT_PINS(mp, 0);
    mem_pager_abort(mp, &t);
}

Test(corrupt, overflow_chain_too_long) {
    bt_tree t;
    uint32_t first = build_ovf(&t, 2 * (P - 40));
    uint32_t second = cd_page_aux0(mem_pager_raw(mp, first));
    /* The last page links back to the first: a cycle, or too long. */
    cd_page_set_aux0(mem_pager_raw(mp, second), first);
    mem_pager_reseal(mp, second);
    expect_check_fails(&t, second);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "big", 3, &v), CD_ECORRUPT);
    ASSERT_PINS(mp, 0);
}

Test(corrupt, overflow_length_disagrees) {
    bt_tree t;
    uint32_t first = build_ovf(&t, 2 * (P - 40) - 100);
    uint32_t second = cd_page_aux0(mem_pager_raw(mp, first));
    uint8_t *p = mem_pager_raw(mp, second);
    uint32_t len = cd_page_aux1(p);
    memset(p + CD_PAGE_HDR_SIZE + len - 10, 0, 10); /* keep the tail zero */
    cd_page_set_aux1(p, len - 10);
    mem_pager_reseal(mp, second);
    expect_check_fails(&t, second);
    bt_val v;
    cr_assert_eq(bt_get(pg, &t, "big", 3, &v), CD_ECORRUPT);
    ASSERT_PINS(mp, 0);
}

/* A page the source refuses (checksum) is reported with its number. */
Test(corrupt, source_error_names_page) {
    bt_tree t = build(3000);
    uint32_t b = cd_branch_child(mem_pager_raw(mp, t.root), 1);
    mem_pager_raw(mp, b)[P - 1] ^= 1; /* no reseal: checksum mismatch */
    cd_diag diag = {0};
    uint32_t bad = 0;
    cr_assert_eq(bt_check(pg, &t, NULL, NULL, &diag, &bad), CD_ECORRUPT);
    cr_assert_eq(bad, b);
    ASSERT_PINS(mp, 0);
}
