/*
 * test_fault.c: fault injection.  One write transaction (inserts that
 * split leaves and grow a root, overflow values written, replaced and
 * freed, deletes that merge and collapse, reads, a cursor walk, a drop) is
 * run again and again, the Nth get/dirty/alloc failing with CD_EIO, for
 * every N until the workload completes without meeting the fault.  Each
 * time the error must come back unchanged, no pin may leak, and after the
 * abort the committed trees must be intact: checkable and with exactly
 * their old contents.
 */
#include "bt_test.h"

#define P 4096u
#define BASE_KEYS 600u

static mem_pager *mp;
static const bt_pager *pg;

static void setup(void) {
    mp = mem_pager_new(P);
    pg = mem_pager_bt(mp);
}
static void teardown(void) { mem_pager_free(mp); }

TestSuite(fault, .init = setup, .fini = teardown);

static uint32_t base_vlen(uint32_t i) { return i % 25 == 0 ? 5000 : 40; }

#define TRY(call, want)            \
    do {                           \
        int rc_ = (call);          \
        if (rc_ != (want))         \
            return rc_ ? rc_ : -999; \
    } while (0)

/* The transaction under test.  Returns 0, or the first unexpected code. */
static int workload(bt_tree *t, bt_tree *t2) {
    uint8_t key[8];
    for (uint32_t i = 0; i < 150; i++) { /* new keys between the old ones */
        key_u64(2 * i + 1, key);
        TRY(put_val(pg, t, key, 8, i % 10 == 0 ? 9000 : 40, 1000 + i, BT_NOOVERWRITE), 0);
    }
    for (uint32_t i = 0; i < 100; i++) { /* a second tree from nothing */
        key_u64(i, key);
        TRY(put_val(pg, t2, key, 8, 100, i, 0), 0);
    }
    for (uint32_t i = 0; i < 40; i++) { /* inline <-> overflow replacements */
        key_u64(2 * (i * 25), key);
        TRY(put_val(pg, t, key, 8, i % 2 ? 30 : 7000, 2000 + i, 0), 0);
    }
    key_u64(2 * 3, key);
    TRY(put_val(pg, t, key, 8, 1, 1, BT_NOOVERWRITE), CD_EEXIST);
    for (uint32_t i = 0; i < 2 * BASE_KEYS; i += 4) /* half the old keys */
        TRY(bt_del(pg, t, (key_u64(i, key), key), 8), 0);
    TRY(bt_del(pg, t, (key_u64(4, key), key), 8), CD_ENOTFOUND);
    bt_val v;
    key_u64(6, key); /* an old key the deletes keep */
    TRY(bt_get(pg, t, key, 8, &v), 0);
    bt_val_release(pg, &v);
    bt_cursor c;
    TRY(bt_cursor_open(pg, t, &c), 0);
    int rc = bt_cursor_last(&c);
    while (rc == 0)
        rc = bt_cursor_prev(&c);
    bt_cursor_close(&c);
    TRY(rc, CD_ENOTFOUND);
    for (uint32_t i = 0; i < 100; i++) /* empty the second tree again */
        TRY(bt_del(pg, t2, (key_u64(i, key), key), 8), 0);
    TRY(t2->root == 0 ? 0 : -998, 0);
    for (uint32_t i = 0; i < 30; i++)
        TRY(put_val(pg, t2, (key_u64(i, key), key), 8, 3000, i, 0), 0);
    TRY(bt_drop(pg, t2), 0);
    bt_stats st;
    TRY(bt_stat(pg, t, &st), 0);
    return 0;
}

/* The committed base tree: even keys 0, 2, ... with base values. */
static void verify_base(const bt_tree *t) {
    check_ok(pg, t);
    bt_cursor c;
    cr_assert_eq(bt_cursor_open(pg, t, &c), 0);
    uint32_t i = 0;
    for (int rc = bt_cursor_first(&c); rc == 0; rc = bt_cursor_next(&c), i++) {
        const uint8_t *k;
        uint32_t kl;
        uint8_t want[8];
        cr_assert_eq(bt_cursor_key(&c, &k, &kl), 0);
        key_u64(2 * i, want);
        cr_assert(kl == 8 && memcmp(k, want, 8) == 0, "key %u", i);
        bt_val v;
        cr_assert_eq(bt_cursor_value(&c, &v), 0);
        val_expect(&v, base_vlen(i), i);
        bt_val_release(pg, &v);
    }
    bt_cursor_close(&c);
    cr_assert_eq(i, BASE_KEYS);
}

Test(fault, every_call_fails_once, .timeout = 600) {
    bt_tree t = {0}, t2 = {0};
    mem_pager_begin(mp);
    for (uint32_t i = 0; i < BASE_KEYS; i++) {
        uint8_t key[8];
        key_u64(2 * i, key);
        cr_assert_eq(put_val(pg, &t, key, 8, base_vlen(i), i, 0), 0);
    }
    commit_ok(mp, &t);
    verify_base(&t);
    const uint32_t live = mem_pager_live(mp), root = t.root;
    uint64_t n;
    for (n = 1;; n++) {
        mem_pager_begin(mp);
        mem_pager_fail_in(mp, n, CD_EIO);
        uint64_t start = mem_pager_calls(mp);
        int rc = workload(&t, &t2);
        int hit = mem_pager_calls(mp) - start >= n;
        mem_pager_fail_in(mp, 0, 0);
        ASSERT_PINS(mp, 0);
        if (!hit) {
            cr_assert_eq(rc, 0, "workload without a fault: %d", rc);
            break;
        }
        cr_assert_eq(rc, CD_EIO, "fault at call %llu: got %d", (unsigned long long)n, rc);
        cr_assert_eq(mem_pager_abort(mp, &t), 0);
        t2.root = 0;
        cr_assert_eq(t.root, root);
        cr_assert_eq(mem_pager_live(mp), live);
        verify_base(&t);
        ASSERT_PINS(mp, 0);
    }
    cr_log_info("fault injected at each of %llu calls", (unsigned long long)n - 1);
    cr_assert_gt(n, 1000, "the workload makes %llu calls", (unsigned long long)n);
    cr_assert_eq(t2.root, 0);
    commit_ok(mp, &t);
    check_ok(pg, &t);
    cr_assert_eq(mem_pager_errors(mp), 0);
}

/* A put that fails before its cell is placed leaves no page behind: its
 * overflow chain is freed again (checked before the abort, which would
 * hide a leak). */
Test(fault, failed_put_frees_its_overflow_chain) {
    bt_tree t = {0};
    mem_pager_begin(mp);
    cr_assert_eq(put_val(pg, &t, "a", 1, 10, 1, 0), 0);
    cr_assert_eq(put_val(pg, &t, "z", 1, 10, 2, 0), 0);
    commit_ok(mp, &t);
    const uint32_t live = mem_pager_live(mp);
    for (uint64_t n = 1;; n++) {
        mem_pager_begin(mp);
        mem_pager_fail_in(mp, n, CD_EIO);
        uint64_t start = mem_pager_calls(mp);
        int rc = put_val(pg, &t, "m", 1, 20000, 3, 0);
        int hit = mem_pager_calls(mp) - start >= n;
        mem_pager_fail_in(mp, 0, 0);
        ASSERT_PINS(mp, 0);
        if (!hit) {
            cr_assert_eq(rc, 0);
            /* 5 overflow pages; the leaf's copy replaces the leaf */
            cr_assert_eq(mem_pager_live(mp), live + 5);
            break;
        }
        cr_assert_eq(rc, CD_EIO);
        cr_assert_eq(mem_pager_live(mp), live, "fault at call %llu leaked pages",
                     (unsigned long long)n);
        cr_assert_eq(mem_pager_abort(mp, &t), 0);
    }
    get_expect(pg, &t, "m", 1, 20000, 3);
    cr_assert_eq(mem_pager_errors(mp), 0);
}
