/*
 * test_page.c: the page format: slotted-page editing, search, the meta
 * page, and validation, which must reject every single-bit flip of a valid
 * page and every structural inconsistency we can construct.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "cd_page.h"

#define P 4096u

static uint8_t page[CD_PAGE_SIZE_MAX];

static void key_of(unsigned i, uint8_t out[8]) {
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)((uint64_t)i >> (56 - 8 * b));
}

/* Inserts key i (8 bytes, big-endian) with a value of vlen bytes of i. */
static int leaf_put(uint8_t *pg, uint32_t size, unsigned i, uint32_t vlen) {
    uint8_t key[8], val[512];
    key_of(i, key);
    memset(val, (int)(i & 0xff), sizeof val);
    int exact;
    unsigned idx = cd_page_search(pg, key, 8, &exact);
    cr_assert(!exact);
    uint32_t len = cd_leaf_cell_len(8, vlen, 0);
    uint8_t *dst = cd_page_cell_alloc(pg, size, idx, len);
    if (!dst)
        return -1;
    cd_leaf_cell_write(dst, key, 8, val, vlen, 0);
    return 0;
}

static void build_leaf(uint8_t *pg, uint32_t size, uint32_t pgno, unsigned n) {
    cd_page_init(pg, size, CD_PAGE_LEAF, pgno, 7);
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(leaf_put(pg, size, (i * 7919u) % 1000u, 20 + i % 5), 0);
    cd_page_seal(pg, size);
}

static void build_branch(uint8_t *pg, uint32_t pgno) {
    cd_page_init(pg, P, CD_PAGE_BRANCH, pgno, 9);
    for (unsigned i = 0; i < 10; i++) {
        uint8_t key[8];
        key_of(100 * (i + 1), key);
        uint8_t *dst = cd_page_cell_alloc(pg, P, i, cd_branch_cell_len(8));
        cr_assert_not_null(dst);
        cd_branch_cell_write(dst, 100 + i, key, 8);
    }
    cd_page_set_aux0(pg, 200);
    cd_page_seal(pg, P);
}

static void build_meta(uint8_t *pg, uint32_t pgno) {
    cd_meta m = {.version = CD_FORMAT_VERSION, .page_size = P, .txn = 41,
                 .page_count = 100, .catalog_root = 5, .free_head = 6,
                 .free_count = 3, .db_id = 0x1234567890abcdefull, .next_txn = 42};
    cr_assert_eq(cd_meta_encode(pg, pgno, &m), 0);
}

static void build_overflow(uint8_t *pg, uint32_t pgno) {
    cd_page_init(pg, P, CD_PAGE_OVERFLOW, pgno, 3);
    for (unsigned i = 0; i < 1000; i++)
        pg[CD_PAGE_HDR_SIZE + i] = (uint8_t)(i * 31);
    cd_page_set_aux0(pg, 77);
    cd_page_set_aux1(pg, 1000);
    cd_page_seal(pg, P);
}

static void build_freelist(uint8_t *pg, uint32_t pgno) {
    cd_page_init(pg, P, CD_PAGE_FREELIST, pgno, 3);
    for (uint32_t i = 0; i < 50; i++)
        cr_assert_eq(cd_freelist_push(pg, P, 1000 + i), 0);
    cd_page_seal(pg, P);
}

Test(page, leaf_insert_search_and_order) {
    build_leaf(page, P, 5, 100);
    cr_assert_eq(cd_page_validate(page, P, 5, CD_PAGE_MASK_LEAF, NULL), 0);
    cr_assert_eq(cd_page_n(page), 100);
    uint8_t prev[8] = {0};
    for (unsigned i = 0; i < 100; i++) {
        cd_leaf_cell c;
        cd_leaf_cell_get(page, i, &c);
        cr_assert_eq(c.klen, 8);
        if (i)
            cr_assert_lt(memcmp(prev, c.key, 8), 0);
        memcpy(prev, c.key, 8);
        cr_assert_null(NULL);
        cr_assert_eq(c.ovf_pgno, 0);
        cr_assert_eq(c.val[0], c.key[7]); /* value bytes are the key's low byte */
    }
    uint8_t key[8];
    int exact;
    key_of((17 * 7919u) % 1000u, key);
    unsigned idx = cd_page_search(page, key, 8, &exact);
    cr_assert(exact);
    cd_leaf_cell c;
    cd_leaf_cell_get(page, idx, &c);
    cr_assert_eq(memcmp(c.key, key, 8), 0);
    key_of(5000, key);
    cr_assert_eq(cd_page_search(page, key, 8, &exact), 100);
    cr_assert(!exact);
}

/* The keys of one search test: sorted, unique, of the shape `shape`. */
static unsigned make_keys(int shape, unsigned n, uint8_t keys[][24], uint32_t *lens) {
    unsigned m = 0;
    for (unsigned i = 0; m < n; i++) {
        uint8_t *k = keys[m];
        uint32_t len = 8;
        uint64_t v;
        switch (shape) {
        case 0: v = 1000 + i; break;                        /* dense ids */
        case 1: v = (uint64_t)i * i * i * 977; break;        /* crowded low, sparse high */
        case 2: v = i < n / 2 ? i : (1ull << 62) + i; break; /* two far clusters */
        default: v = i; break;
        }
        for (int b = 0; b < 8; b++)
            k[b] = (uint8_t)(v >> (56 - 8 * b));
        if (shape == 3) { /* a long shared prefix, then 1 to 3 bytes of varying length */
            memset(k, 'p', 12);
            len = 12 + 1 + i % 3;
            for (uint32_t b = 12; b < len; b++)
                k[b] = (uint8_t)(i >> (8 * (len - 1 - b)));
        }
        if (m > 0 && cd_key_cmp(keys[m - 1], lens[m - 1], k, len) >= 0)
            continue; /* keep them strictly ascending */
        lens[m++] = len;
    }
    return m;
}

/* What a search must answer: the first index whose key is >= key. */
static unsigned lower_bound(uint8_t keys[][24], const uint32_t *lens, unsigned n,
                            const uint8_t *key, uint32_t klen, int *exact) {
    for (unsigned i = 0; i < n; i++) {
        int c = cd_key_cmp(keys[i], lens[i], key, klen);
        if (c >= 0) {
            *exact = c == 0;
            return i;
        }
    }
    *exact = 0;
    return n;
}

Test(page, search_agrees_with_a_linear_scan) {
    static uint8_t keys[400][24];
    static uint32_t lens[400];
    for (int shape = 0; shape < 4; shape++)
        for (unsigned n = 1; n < 260; n += (n < 20 ? 1 : 37)) {
            unsigned m = make_keys(shape, n, keys, lens);
            cd_page_init(page, 2 * P, CD_PAGE_LEAF, 5, 1);
            for (unsigned i = 0; i < m; i++) {
                uint8_t *dst = cd_page_cell_alloc(page, 2 * P, i, cd_leaf_cell_len(lens[i], 1, 0));
                cr_assert_not_null(dst);
                cd_leaf_cell_write(dst, keys[i], lens[i], "v", 1, 0);
            }
            /* every key, and keys just around each one (in the gaps and past
             * both ends), shorter and longer ones included */
            for (unsigned i = 0; i < m; i++)
                for (int d = -1; d <= 2; d++) {
                    uint8_t q[25];
                    uint32_t ql = lens[i];
                    memcpy(q, keys[i], ql);
                    if (d == 2)
                        q[ql++] = 0; /* just above key i */
                    else if (d != 0 && ql > 0)
                        q[ql - 1] = (uint8_t)(q[ql - 1] + d);
                    int e1, e2;
                    unsigned want = lower_bound(keys, lens, m, q, ql, &e1);
                    unsigned got = cd_page_search(page, q, ql, &e2);
                    cr_assert_eq(got, want, "shape %d n %u key %u d %d: %u, not %u", shape, m,
                                 i, d, got, want);
                    cr_assert_eq(e2, e1, "shape %d n %u key %u d %d", shape, m, i, d);
                    /* a range only steers: right, tight, loose, inside
                     * the page, reversed or empty, the answer is the same */
                    static const uint8_t zero[1] = {0}, top[4] = {0xff, 0xff, 0xff, 0xff};
                    uint8_t above[25];
                    memcpy(above, keys[m - 1], lens[m - 1]);
                    above[lens[m - 1]] = 0;
                    const cd_key_range ranges[] = {
                        {keys[0], above, lens[0], lens[m - 1] + 1},
                        {zero, top, 1, 4},
                        {keys[m / 2], keys[m - 1], lens[m / 2], lens[m - 1]},
                        {keys[m - 1], keys[0], lens[m - 1], lens[0]},
                        {keys[0], keys[0], lens[0], lens[0]},
                        {q, q, ql, ql},
                    };
                    for (unsigned r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
                        int e3;
                        got = cd_page_search_within(page, q, ql, &ranges[r], &e3);
                        cr_assert_eq(got, want, "within %u: shape %d n %u key %u d %d: %u, not %u",
                                     r, shape, m, i, d, got, want);
                        cr_assert_eq(e3, e1, "within %u: shape %d n %u key %u d %d", r, shape,
                                     m, i, d);
                    }
                }
        }
}

Test(page, every_page_size) {
    for (uint32_t size = CD_PAGE_SIZE_MIN; size <= CD_PAGE_SIZE_MAX; size *= 2) {
        cd_page_init(page, size, CD_PAGE_LEAF, 9, 1);
        unsigned n = 0;
        while (leaf_put(page, size, n, 40) == 0)
            n++;
        cr_assert_gt(n, (size - CD_PAGE_HDR_SIZE) / 60, "size %u held %u", size, n);
        cr_assert_lt(cd_page_free(page, size), cd_page_cell_cost(cd_leaf_cell_len(8, 40, 0)));
        cd_page_seal(page, size);
        cr_assert_eq(cd_page_validate(page, size, 9, CD_PAGE_MASK_TREE, NULL), 0,
                     "size %u", size);
    }
    cr_assert_eq(cd_page_size_valid(2048), 0);
    cr_assert_eq(cd_page_size_valid(131072), 0);
    cr_assert_eq(cd_page_size_valid(12288), 0);
    cr_assert_eq(cd_page_validate(page, 12288, 9, CD_PAGE_MASK_ANY, NULL), CD_EINVAL);
    cr_assert_eq(cd_page_validate(page, P, 9, 0, NULL), CD_EINVAL);
}

Test(page, full_page_alloc_changes_nothing) {
    build_leaf(page, P, 5, 0);
    unsigned n = 0;
    while (leaf_put(page, P, n, 100) == 0)
        n++;
    static uint8_t before[P];
    memcpy(before, page, P);
    cr_assert_null(cd_page_cell_alloc(page, P, 0, 200));
    cr_assert_null(cd_page_cell_alloc(page, P, 0, 0));
    cr_assert_eq(memcmp(before, page, P), 0);
}

Test(page, remove_fragments_and_compact) {
    build_leaf(page, P, 5, 0);
    for (unsigned i = 0; i < 60; i++)
        cr_assert_eq(leaf_put(page, P, i, 30), 0);
    uint32_t free0 = cd_page_free(page, P);
    /* Remove every other cell: the space becomes fragments. */
    for (unsigned i = 0; i < 30; i++)
        cd_page_cell_remove(page, P, i);
    uint32_t cell = cd_page_cell_cost(cd_leaf_cell_len(8, 30, 0));
    cr_assert_eq(cd_page_free(page, P), free0 + 30 * cell);
    cd_page_seal(page, P);
    cr_assert_eq(cd_page_validate(page, P, 5, CD_PAGE_MASK_LEAF, NULL), 0);
    /* Fill again: allocation must compact to reuse the fragments. */
    unsigned extra = 0;
    while (leaf_put(page, P, 1000 + extra, 30) == 0)
        extra++;
    cr_assert_geq(extra, (free0 + 30 * cell) / cell - 1);
    cd_page_seal(page, P);
    cr_assert_eq(cd_page_validate(page, P, 5, CD_PAGE_MASK_LEAF, NULL), 0);
    /* Remove all: an empty page is all zero after its header. */
    while (cd_page_n(page))
        cd_page_cell_remove(page, P, 0);
    cd_page_seal(page, P);
    cr_assert_eq(cd_page_validate(page, P, 5, CD_PAGE_MASK_LEAF, NULL), 0);
    cr_assert_eq(cd_page_free(page, P), P - CD_PAGE_HDR_SIZE);
}

Test(page, overflow_cells) {
    cd_page_init(page, P, CD_PAGE_LEAF, 5, 1);
    uint8_t key[8];
    key_of(1, key);
    uint8_t *dst = cd_page_cell_alloc(page, P, 0, cd_leaf_cell_len(8, 100000, 1));
    cr_assert_not_null(dst);
    cd_leaf_cell_write(dst, key, 8, NULL, 100000, 321);
    cd_page_seal(page, P);
    cr_assert_eq(cd_page_validate(page, P, 5, CD_PAGE_MASK_LEAF, NULL), 0);
    cd_leaf_cell c;
    cd_leaf_cell_get(page, 0, &c);
    cr_assert_eq(c.vlen, 100000);
    cr_assert_eq(c.ovf_pgno, 321);
    cr_assert_null(c.val);
}

Test(page, branch_children) {
    build_branch(page, 8);
    cr_assert_eq(cd_page_validate(page, P, 8, CD_PAGE_MASK_BRANCH, NULL), 0);
    uint8_t key[8];
    key_of(50, key);
    cr_assert_eq(cd_branch_child_for(page, key, 8), 100);
    key_of(100, key); /* equal to key 0: belongs right of it */
    cr_assert_eq(cd_branch_child_for(page, key, 8), 101);
    key_of(999, key);
    cr_assert_eq(cd_branch_child_for(page, key, 8), 109);
    key_of(1000, key);
    cr_assert_eq(cd_branch_child_for(page, key, 8), 200);
    cr_assert_eq(cd_branch_child(page, 10), 200);
}

Test(page, meta_round_trip_and_sniff) {
    build_meta(page, 1);
    cd_meta m;
    cr_assert_eq(cd_meta_decode(page, P, 1, &m, NULL), 0);
    cr_assert_eq(m.txn, 41);
    cr_assert_eq(m.page_count, 100);
    cr_assert_eq(m.catalog_root, 5);
    cr_assert_eq(m.db_id, 0x1234567890abcdefull);
    cr_assert_eq(m.next_txn, 42);
    uint32_t size, version;
    cr_assert_eq(cd_meta_sniff(page, P, &size, &version), 1);
    cr_assert_eq(size, P);
    cr_assert_eq(version, CD_FORMAT_VERSION);
    cr_assert_eq(cd_meta_decode(page, P, 0, &m, NULL), CD_ECORRUPT);
    static const uint8_t text[CD_META_END] = "SQLite format 3";
    cr_assert_eq(cd_meta_sniff(text, sizeof text, &size, &version), 0);
    cr_assert_eq(cd_meta_sniff(page, 10, &size, &version), 0);
}

/* Each page type, built valid, must reject every single-bit flip. */
static void flip_every_bit(uint8_t *pg, uint32_t pgno, unsigned mask) {
    cr_assert_eq(cd_page_validate(pg, P, pgno, mask, NULL), 0);
    for (uint32_t bit = 0; bit < P * 8; bit++) {
        pg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cd_diag d = {0};
        int rc = cd_page_validate(pg, P, pgno, mask, &d);
        pg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(rc, CD_ECORRUPT, "flip of bit %u accepted", bit);
        cr_assert_not_null(d.what);
        cr_assert_gt(d.line, 0);
    }
    cr_assert_eq(cd_page_validate(pg, P, pgno, mask, NULL), 0);
}

Test(page, every_bit_flip_rejected_leaf) {
    build_leaf(page, P, 5, 60);
    flip_every_bit(page, 5, CD_PAGE_MASK_LEAF);
}
Test(page, every_bit_flip_rejected_branch) {
    build_branch(page, 8);
    flip_every_bit(page, 8, CD_PAGE_MASK_BRANCH);
}
Test(page, every_bit_flip_rejected_meta) {
    build_meta(page, 0);
    flip_every_bit(page, 0, CD_PAGE_MASK_META);
}
Test(page, every_bit_flip_rejected_overflow) {
    build_overflow(page, 12);
    flip_every_bit(page, 12, CD_PAGE_MASK_OVERFLOW);
}
Test(page, every_bit_flip_rejected_freelist) {
    build_freelist(page, 13);
    flip_every_bit(page, 13, CD_PAGE_MASK_FREELIST);
}

/* Damages a sealed page, reseals it, and expects the layout check to fail
 * with the given message: checksums cannot hide structural errors. */
static void expect_layout_error(uint32_t pgno, unsigned mask, const char *what) {
    cd_page_seal(page, P);
    cd_diag d = {0};
    cr_assert_eq(cd_page_validate(page, P, pgno, mask, &d), CD_ECORRUPT,
                 "accepted; expected '%s'", what);
    cr_assert_str_eq(d.what, what);
}

Test(page, wrong_place_and_type) {
    build_leaf(page, P, 5, 10);
    cd_diag d = {0};
    cr_assert_eq(cd_page_validate(page, P, 6, CD_PAGE_MASK_LEAF, &d), CD_ECORRUPT);
    cr_assert_str_eq(d.what, "page number disagrees with its place");
    cr_assert_eq(cd_page_validate(page, P, 5, CD_PAGE_MASK_BRANCH, &d), CD_ECORRUPT);
    cr_assert_str_eq(d.what, "page type wrong for its place");
    /* A page copied to another place with its header fixed up but its
     * checksum kept still fails: the checksum is seeded by the place. */
    cd_page_set_pgno(page, 6);
    cr_assert_eq(cd_page_validate(page, P, 6, CD_PAGE_MASK_LEAF, &d), CD_ECORRUPT);
    cr_assert_str_eq(d.what, "checksum mismatch");
    memset(page, 0, P);
    cr_assert_eq(cd_page_validate(page, P, 0, CD_PAGE_MASK_ANY, &d), CD_ECORRUPT);
}

Test(page, overlapping_cells_rejected) {
    build_leaf(page, P, 5, 10);
    /* Point slot 3 at cell 4's bytes: two slots, one cell. */
    memcpy(page + CD_PAGE_HDR_SIZE + 6, page + CD_PAGE_HDR_SIZE + 8, 2);
    expect_layout_error(5, CD_PAGE_MASK_LEAF, "cells overlap");
}

Test(page, overlapping_shifted_cell_rejected) {
    build_leaf(page, P, 5, 10);
    uint16_t off = cd_get16(page + CD_PAGE_HDR_SIZE);
    cd_leaf_cell c;
    cd_leaf_cell_get(page, 1, &c);
    /* Slot 0 moved one byte into its neighbour's bytes. */
    cd_put16(page + CD_PAGE_HDR_SIZE, (uint16_t)(cd_page_cell_off(page, 1) + 1));
    (void)off;
    cd_page_seal(page, P);
    cr_assert_eq(cd_page_validate(page, P, 5, CD_PAGE_MASK_LEAF, NULL), CD_ECORRUPT);
}

Test(page, cell_running_off_page_rejected) {
    cd_page_init(page, P, CD_PAGE_LEAF, 5, 1);
    uint8_t key[8] = {1};
    uint8_t *dst = cd_page_cell_alloc(page, P, 0, cd_leaf_cell_len(8, 10, 0));
    cd_leaf_cell_write(dst, key, 8, "0123456789", 10, 0);
    dst[1] = 40 << 1; /* claims a 40-byte value in the page's last 20 bytes */
    expect_layout_error(5, CD_PAGE_MASK_LEAF, "cell runs off the page or is malformed");
}

Test(page, slot_outside_content_rejected) {
    build_leaf(page, P, 5, 10);
    cd_put16(page + CD_PAGE_HDR_SIZE + 4, 30); /* into the header */
    expect_layout_error(5, CD_PAGE_MASK_LEAF, "cell offset outside content area");
}

Test(page, keys_out_of_order_rejected) {
    build_leaf(page, P, 5, 10);
    uint8_t s[2];
    memcpy(s, page + CD_PAGE_HDR_SIZE, 2);
    memcpy(page + CD_PAGE_HDR_SIZE, page + CD_PAGE_HDR_SIZE + 2, 2);
    memcpy(page + CD_PAGE_HDR_SIZE + 2, s, 2);
    expect_layout_error(5, CD_PAGE_MASK_LEAF, "keys out of order");
}

Test(page, bad_counts_rejected) {
    build_leaf(page, P, 5, 10);
    cd_put32(page + CD_PAGE_OFF_FRAG, 4);
    expect_layout_error(5, CD_PAGE_MASK_LEAF, "fragment count disagrees with cells");
    build_leaf(page, P, 5, 10);
    cd_put16(page + CD_PAGE_OFF_N, 2000);
    expect_layout_error(5, CD_PAGE_MASK_LEAF, "slot array and content area overlap");
    build_leaf(page, P, 5, 10);
    cd_put32(page + CD_PAGE_OFF_START, P + 1);
    expect_layout_error(5, CD_PAGE_MASK_LEAF, "slot array and content area overlap");
    build_overflow(page, 12);
    cd_page_set_aux1(page, P);
    expect_layout_error(12, CD_PAGE_MASK_OVERFLOW, "overflow data longer than the page");
    build_freelist(page, 13);
    cd_put16(page + CD_PAGE_OFF_N, (uint16_t)(cd_freelist_capacity(P) + 1));
    expect_layout_error(13, CD_PAGE_MASK_FREELIST, "free list longer than the page");
}

Test(page, bad_links_rejected) {
    build_branch(page, 8);
    cd_page_set_aux0(page, 8);
    expect_layout_error(8, CD_PAGE_MASK_BRANCH, "bad rightmost child");
    build_branch(page, 8);
    cd_put32(page + cd_page_cell_off(page, 2), 1); /* child is a meta page */
    expect_layout_error(8, CD_PAGE_MASK_BRANCH, "cell runs off the page or is malformed");
    build_overflow(page, 12);
    cd_page_set_aux0(page, 12);
    expect_layout_error(12, CD_PAGE_MASK_OVERFLOW, "bad overflow chain link");
    build_freelist(page, 13);
    cd_put32(page + CD_PAGE_HDR_SIZE, 0);
    expect_layout_error(13, CD_PAGE_MASK_FREELIST, "free list names a meta page or itself");
    build_meta(page, 0);
    cd_put32(page + CD_META_OFF_CATALOG, 100);
    expect_layout_error(0, CD_PAGE_MASK_META, "page numbers beyond the page count");
}

Test(page, random_damage_never_crashes) {
    /* Random multi-byte damage, resealed so the structural checks run. */
    srand(12345);
    for (int round = 0; round < 20000; round++) {
        build_leaf(page, P, 5, 30);
        int hits = 1 + rand() % 4;
        for (int h = 0; h < hits; h++)
            page[rand() % 600 + (rand() % 2 ? 0 : P - 600)] = (uint8_t)rand();
        cd_page_seal(page, P);
        int rc = cd_page_validate(page, P, 5, CD_PAGE_MASK_LEAF, NULL);
        cr_assert(rc == 0 || rc == CD_ECORRUPT);
        if (rc == 0) /* still valid: every cell must decode in bounds */
            for (unsigned i = 0; i < cd_page_n(page); i++) {
                cd_leaf_cell c;
                cd_leaf_cell_get(page, i, &c);
                cr_assert_leq(cd_page_cell_off(page, i) + c.cell_len, P);
            }
    }
}

/* Each page type's unused bytes are found from its header alone, in whole
 * aligned words, and are zero in a page built by the codec; a header that
 * puts them outside the page gives none. */
Test(page, unused_gap_of_each_type) {
    static uint8_t pg[P];
    struct {
        void (*build)(uint8_t *, uint32_t);
        uint32_t lo, hi; /* the unaligned gap the layout leaves */
    } cases[] = {
        {build_branch, CD_PAGE_HDR_SIZE + 2 * 10, 0},
        {build_overflow, CD_PAGE_HDR_SIZE + 1000, P},
        {build_freelist, CD_PAGE_HDR_SIZE + 4 * 50, P},
    };
    for (unsigned i = 0; i < 3; i++) {
        cases[i].build(pg, 5);
        uint32_t off = 1, n = cd_page_unused(pg, P, &off);
        uint32_t hi = cases[i].hi ? cases[i].hi : cd_get32(pg + CD_PAGE_OFF_START);
        cr_assert_eq(off, (cases[i].lo + 7) & ~7u, "case %u: off %u", i, off);
        cr_assert_eq(off + n, hi & ~7u, "case %u", i);
        cr_assert(cd_is_zero(pg + off, n), "case %u", i);
        cr_assert(!cd_is_zero(pg + off - 8, n + 8), "case %u: the word before", i);
    }
    build_leaf(pg, P, 5, 30);
    uint32_t off = 0, n = cd_page_unused(pg, P, &off);
    cr_assert_eq(off, CD_PAGE_HDR_SIZE + 2 * 30 + 4); /* 100 rounded up */
    cr_assert_eq(off + n, cd_get32(pg + CD_PAGE_OFF_START) & ~7u);
    cr_assert(cd_is_zero(pg + off, n));
    cr_assert_geq(n + 16, cd_page_free(pg, P) - cd_get32(pg + CD_PAGE_OFF_FRAG));

    /* none: a meta page, an unknown type, a gap outside the page */
    build_meta(pg, 0);
    cr_assert_eq(cd_page_unused(pg, P, &off), 0);
    build_leaf(pg, P, 5, 30);
    pg[0] = 0x7a;
    cr_assert_eq(cd_page_unused(pg, P, &off), 0);
    build_leaf(pg, P, 5, 30);
    cd_put32(pg + CD_PAGE_OFF_START, P + 64);
    cr_assert_eq(cd_page_unused(pg, P, &off), 0);
    cd_put32(pg + CD_PAGE_OFF_START, 60); /* below the slots */
    cr_assert_eq(cd_page_unused(pg, P, &off), 0);
    build_overflow(pg, 5);
    cd_page_set_aux1(pg, UINT32_MAX); /* past the page, not wrapped around */
    cr_assert_eq(cd_page_unused(pg, P, &off), 0);
    build_freelist(pg, 5);
    cd_put16(pg + CD_PAGE_OFF_N, 1020); /* 40 + 4080 > P */
    cr_assert_eq(cd_page_unused(pg, P, &off), 0);
}

/* cd_is_zero sees one set bit anywhere, at any length and alignment. */
Test(page, is_zero_finds_any_set_bit) {
    static uint8_t buf[300];
    memset(buf, 0, sizeof buf);
    for (size_t at = 0; at < 9; at++) {
        for (size_t n = 0; at + n <= 200; n++) {
            cr_assert(cd_is_zero(buf + at, n));
            for (size_t k = 0; k < n; k++) {
                buf[at + k] = (uint8_t)(1u << (k % 8));
                cr_assert(!cd_is_zero(buf + at, n), "at %zu n %zu k %zu", at, n, k);
                buf[at + k] = 0;
            }
        }
    }
}
