/*
 * fz_page.c: fuzz target for page validation and decoding.
 *
 * Input: one selector byte, then the page bytes (zero-padded or cut to the
 * page size).  Selector bits 0-2 pick the page size (4 KiB << n, n <= 4);
 * bit 3 reseals the page first, so mutations reach the structural checks
 * instead of stopping at the checksum; bits 4-7 are mixed into the page
 * number the page is claimed to be read from.
 *
 * A page that validates must decode in bounds, and rebuilding it from its
 * decoded parts must give the same page as compacting it: byte-identical
 * after sealing.  Editing it (removing a cell, adding one back) must keep
 * it valid.  Any disagreement traps.
 */
#include <stdlib.h>

#include "cd_page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t page[CD_PAGE_SIZE_MAX], copy[CD_PAGE_SIZE_MAX],
    rebuilt[CD_PAGE_SIZE_MAX];

static void check(int ok) {
    if (!ok)
        __builtin_trap();
}

/* Rebuilds a slotted page from its decoded cells, in slot order. */
static void rebuild_slotted(const uint8_t *pg, uint32_t psize) {
    unsigned n = cd_page_n(pg);
    cd_page_init(rebuilt, psize, (enum cd_page_type)cd_page_type(pg),
                 cd_page_pgno(pg), cd_page_txn(pg));
    cd_page_set_aux0(rebuilt, cd_page_aux0(pg));
    for (unsigned i = 0; i < n; i++) {
        uint8_t *dst;
        if (cd_page_type(pg) == CD_PAGE_LEAF) {
            cd_leaf_cell c;
            cd_leaf_cell_get(pg, i, &c);
            dst = cd_page_cell_alloc(rebuilt, psize, i,
                                     cd_leaf_cell_len(c.klen, c.vlen, c.ovf_pgno != 0));
            check(dst != NULL);
            cd_leaf_cell_write(dst, c.key, c.klen, c.val, c.vlen, c.ovf_pgno);
        } else {
            cd_branch_cell c;
            cd_branch_cell_get(pg, i, &c);
            dst = cd_page_cell_alloc(rebuilt, psize, i, cd_branch_cell_len(c.klen));
            check(dst != NULL);
            cd_branch_cell_write(dst, c.child, c.key, c.klen);
        }
        int exact;
        uint32_t klen;
        const uint8_t *key;
        if (cd_page_type(pg) == CD_PAGE_LEAF) {
            cd_leaf_cell c;
            cd_leaf_cell_get(pg, i, &c);
            key = c.key, klen = c.klen;
        } else {
            cd_branch_cell c;
            cd_branch_cell_get(pg, i, &c);
            key = c.key, klen = c.klen;
        }
        check(cd_page_search(pg, key, klen, &exact) == i && exact);
        /* a range steers the search, never its answer: any bounds do */
        const cd_key_range r = {pg + psize - 16, pg + CD_PAGE_HDR_SIZE, 16, 8};
        check(cd_page_search_within(pg, key, klen, &r, &exact) == i && exact);
    }
}

static void exercise_slotted(uint32_t psize, uint32_t pgno) {
    rebuild_slotted(page, psize);
    memcpy(copy, page, psize);
    cd_page_compact(copy, psize);
    cd_page_seal(copy, psize);
    cd_page_seal(rebuilt, psize);
    check(memcmp(copy, rebuilt, psize) == 0);
    check(cd_page_validate(rebuilt, psize, pgno, CD_PAGE_MASK_ANY, NULL) == 0);
    /* Remove the middle cell and put it back: still valid, same cells. */
    unsigned n = cd_page_n(page);
    if (n < 2)
        return;
    unsigned mid = n / 2;
    uint32_t off = cd_page_cell_off(page, mid), len;
    if (cd_page_type(page) == CD_PAGE_LEAF) {
        cd_leaf_cell c;
        cd_leaf_cell_get(page, mid, &c);
        len = c.cell_len;
    } else {
        cd_branch_cell c;
        cd_branch_cell_get(page, mid, &c);
        len = c.cell_len;
    }
    uint8_t cell[CD_PAGE_SIZE_MAX / 4];
    memcpy(cell, page + off, len);
    memcpy(copy, page, psize);
    cd_page_cell_remove(copy, psize, mid);
    check(cd_page_check_layout(copy, psize, pgno, CD_PAGE_MASK_ANY, NULL) == 0);
    uint8_t *dst = cd_page_cell_alloc(copy, psize, mid, len);
    check(dst != NULL);
    memcpy(dst, cell, len);
    check(cd_page_check_layout(copy, psize, pgno, CD_PAGE_MASK_ANY, NULL) == 0);
    cd_page_compact(copy, psize);
    cd_page_seal(copy, psize);
    check(memcmp(copy, rebuilt, psize) == 0);
}

static void exercise_other(uint32_t psize, uint32_t pgno) {
    if (cd_page_type(page) == CD_PAGE_META) {
        cd_meta m;
        check(cd_meta_decode(page, psize, pgno, &m, NULL) == 0);
        check(cd_meta_encode(rebuilt, pgno, &m) == 0);
    } else if (cd_page_type(page) == CD_PAGE_OVERFLOW) {
        cd_page_init(rebuilt, psize, CD_PAGE_OVERFLOW, pgno, cd_page_txn(page));
        cd_page_set_aux0(rebuilt, cd_page_aux0(page));
        cd_page_set_aux1(rebuilt, cd_page_aux1(page));
        memcpy(rebuilt + CD_PAGE_HDR_SIZE, page + CD_PAGE_HDR_SIZE, cd_page_aux1(page));
        cd_page_seal(rebuilt, psize);
    } else {
        cd_page_init(rebuilt, psize, CD_PAGE_FREELIST, pgno, cd_page_txn(page));
        cd_page_set_aux0(rebuilt, cd_page_aux0(page));
        for (unsigned i = 0; i < cd_page_n(page); i++)
            check(cd_freelist_push(rebuilt, psize, cd_freelist_get(page, i)) == 0);
        cd_page_seal(rebuilt, psize);
    }
    check(memcmp(page, rebuilt, psize) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    uint32_t psize = CD_PAGE_SIZE_MIN << (sel & 7 ? (sel & 7) % 5 : 0);
    size_t n = size - 1 < psize ? size - 1 : psize;
    memset(page, 0, psize);
    memcpy(page, data + 1, n);
    uint32_t pgno = cd_page_pgno(page);
    if (sel & 8)
        cd_page_seal(page, psize);
    else
        pgno ^= (uint32_t)(sel >> 4);
    cd_diag diag = {0};
    int rc = cd_page_validate(page, psize, pgno, CD_PAGE_MASK_ANY, &diag);
    if (rc != 0) {
        check(rc == CD_ECORRUPT && diag.what != NULL);
        return 0;
    }
    uint8_t t = cd_page_type(page);
    if (t == CD_PAGE_LEAF || t == CD_PAGE_BRANCH)
        exercise_slotted(psize, pgno);
    else
        exercise_other(psize, pgno);
    return 0;
}
