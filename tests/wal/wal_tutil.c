/*
 * wal_tutil.c: the helpers of wal_tutil.h.  Pages come from the page codec
 * (cd_page.h) so that compression sees realistic bytes.
 */
#include "wal_tutil.h"

#include <criterion/criterion.h>
#include <string.h>

#include "cd_page.h"

uint64_t tu_rand(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A 40-byte record: an id, a small int, a timestamp, a short string. */
static void record(uint8_t rec[40], uint64_t key, uint64_t *rng) {
    memset(rec, 0, 40);
    cd_put64(rec, key);
    cd_put32(rec + 8, (uint32_t)(tu_rand(rng) % 1000));
    cd_put64(rec + 12, 1700000000000000ull + tu_rand(rng) % 100000000000ull);
    static const char *names[] = {"alice", "bob", "carol", "dave", "erin",
                                  "frank", "grace", "heidi"};
    const char *nm = names[tu_rand(rng) % 8];
    memcpy(rec + 20, nm, strlen(nm));
    rec[36] = (uint8_t)(tu_rand(rng) & 1);
}

void tu_leaf(uint8_t *pg, uint32_t P, uint32_t pgno, uint32_t v,
             unsigned fill_pct) {
    uint64_t rng = (uint64_t)pgno << 32 | v;
    cd_page_init(pg, P, CD_PAGE_LEAF, pgno, v);
    uint64_t key = (uint64_t)pgno * 100000 + tu_rand(&rng) % 1000;
    uint32_t cell = cd_leaf_cell_len(8, 40, 0);
    unsigned n = 0;
    while (cd_page_used(pg, P) + cd_page_cell_cost(cell) <=
           (P - CD_PAGE_HDR_SIZE) * fill_pct / 100) {
        uint8_t k[8], rec[40];
        key += 1 + tu_rand(&rng) % 7;
        for (int b = 0; b < 8; b++)
            k[b] = (uint8_t)(key >> (56 - 8 * b));
        record(rec, key, &rng);
        uint8_t *dst = cd_page_cell_alloc(pg, P, n++, cell);
        cr_assert_not_null(dst);
        cd_leaf_cell_write(dst, k, 8, rec, 40, 0);
    }
    cd_page_seal(pg, P);
}

void tu_branch(uint8_t *pg, uint32_t P, uint32_t pgno, uint32_t v,
               unsigned n) {
    uint64_t rng = (uint64_t)pgno << 32 | v;
    cd_page_init(pg, P, CD_PAGE_BRANCH, pgno, v);
    uint64_t key = 1000;
    for (unsigned i = 0; i < n; i++) {
        uint8_t k[8];
        key += 1 + tu_rand(&rng) % 5000;
        for (int b = 0; b < 8; b++)
            k[b] = (uint8_t)(key >> (56 - 8 * b));
        uint8_t *dst = cd_page_cell_alloc(pg, P, i, cd_branch_cell_len(8));
        cr_assert_not_null(dst);
        cd_branch_cell_write(dst, 2 + (uint32_t)(tu_rand(&rng) % 100000), k, 8);
    }
    cd_page_set_aux0(pg, 3);
    cd_page_seal(pg, P);
}

void tu_page(uint8_t *pg, uint32_t pgno, uint32_t v) {
    tu_leaf(pg, TU_P, pgno, v, v % 2 ? 100 : 50);
}

int tu_open(os_vfs *vfs, int level, wal **w, wal_recovery *rec) {
    wal_options o;
    wal_options_init(&o, TU_P);
    o.compress_level = level;
    return wal_open(vfs, TU_PATH, &o, w, rec, NULL);
}

int tu_txn(wal *w, tu_state *st, uint64_t txn, unsigned maxpages,
           uint64_t *rng) {
    static uint8_t pg[TU_P];
    unsigned n = 1 + (unsigned)(tu_rand(rng) % maxpages);
    tu_state next = *st;
    for (unsigned i = 0; i < n; i++) {
        unsigned idx = (unsigned)(tu_rand(rng) % TU_NPAGES);
        next.version[idx] = (uint32_t)txn;
        tu_page(pg, 2 + idx, (uint32_t)txn);
        int rc = wal_append_page(w, txn, 2 + idx, pg);
        if (rc)
            return rc;
    }
    next.txn = txn;
    memset(next.payload, 0, sizeof next.payload);
    cd_put64(next.payload, txn);
    cd_put64(next.payload + 8, ~txn);
    int rc = wal_append_commit(w, txn, next.payload, sizeof next.payload);
    if (rc == 0)
        *st = next;
    return rc;
}

int tu_equal(wal *w, const tu_state *st, uint64_t max_frame) {
    static uint8_t want[TU_P], got[TU_P];
    for (unsigned i = 0; i < TU_NPAGES; i++) {
        wal_frame_ref ref;
        int rc = wal_find(w, 2 + i, max_frame, &ref);
        if (st->version[i] == 0) {
            if (rc != CD_ENOTFOUND)
                return -1;
            continue;
        }
        if (rc != 0 || wal_read_page(w, &ref, got, NULL, NULL) != 0)
            return -1;
        tu_page(want, 2 + i, st->version[i]);
        if (memcmp(want, got, TU_P) != 0)
            return -1;
    }
    return 0;
}

void tu_expect(wal *w, const tu_state *st, uint64_t max_frame) {
    static uint8_t want[TU_P], got[TU_P];
    for (unsigned i = 0; i < TU_NPAGES; i++) {
        wal_frame_ref ref;
        int rc = wal_find(w, 2 + i, max_frame, &ref);
        if (st->version[i] == 0) {
            cr_assert_eq(rc, CD_ENOTFOUND, "page %u should be absent", 2 + i);
            continue;
        }
        cr_assert_eq(rc, 0, "page %u (v%u) not found", 2 + i, st->version[i]);
        cr_assert_eq(ref.pgno, 2 + i);
        cd_diag d = {0};
        rc = wal_read_page(w, &ref, got, NULL, &d);
        cr_assert_eq(rc, 0, "read page %u: %d %s", 2 + i, rc,
                     d.what ? d.what : "");
        tu_page(want, 2 + i, st->version[i]);
        cr_assert_arr_eq(want, got, TU_P, "page %u bytes differ", 2 + i);
    }
}
