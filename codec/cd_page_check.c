/*
 * cd_page_check.c: validation of pages that came from outside (a file, a
 * log frame, a fuzzer), and the meta page codec.  Every check here reads
 * only inside [page, page + size) and reports the first inconsistency as
 * CD_ECORRUPT with a cd_diag naming it.  Rules: see the top of cd_page.h.
 */
#include "cd_page.h"

static int type_bit(uint8_t type) {
    switch (type) {
    case CD_PAGE_META: return CD_PAGE_MASK_META;
    case CD_PAGE_BRANCH: return CD_PAGE_MASK_BRANCH;
    case CD_PAGE_LEAF: return CD_PAGE_MASK_LEAF;
    case CD_PAGE_OVERFLOW: return CD_PAGE_MASK_OVERFLOW;
    case CD_PAGE_FREELIST: return CD_PAGE_MASK_FREELIST;
    default: return 0;
    }
}

static int all_zero(const uint8_t *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Marks bytes [off, off + len) in a bitmap of the page, a word at a time;
 * 0 if any of them was marked already (two cells overlap). */
static int mark_range(uint64_t *map, uint32_t off, uint32_t len) {
    uint32_t end = off + len;
    while (off < end) {
        uint32_t w = off >> 6, lo = off & 63;
        uint32_t n = end - off < 64 - lo ? end - off : 64 - lo;
        uint64_t bits = (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
        if (map[w] & bits)
            return 0;
        map[w] |= bits;
        off += n;
    }
    return 1;
}

/* Parses cell i of a slotted page at an untrusted offset. */
static int parse_cell(const uint8_t *page, uint32_t size, uint32_t off,
                      const uint8_t **key, uint32_t *klen, uint32_t *len,
                      uint32_t *child) {
    if (cd_page_type(page) == CD_PAGE_LEAF) {
        cd_leaf_cell c;
        if (cd_leaf_cell_parse(page, off, size, &c))
            return CD_ECORRUPT;
        *key = c.key, *klen = c.klen, *len = c.cell_len, *child = c.ovf_pgno;
        return 0;
    }
    cd_branch_cell c;
    if (cd_branch_cell_parse(page, off, size, &c))
        return CD_ECORRUPT;
    *key = c.key, *klen = c.klen, *len = c.cell_len, *child = c.child;
    return c.child < CD_FIRST_DATA_PGNO ? CD_ECORRUPT : 0;
}

static int check_cells(const uint8_t *page, uint32_t size, uint32_t pgno,
                       uint32_t start, uint32_t *used, cd_diag *diag) {
    uint64_t map[CD_PAGE_SIZE_MAX / 64];
    memset(map, 0, size / 8); /* one bit per byte of this page */
    const uint8_t *prev = NULL;
    uint32_t prev_len = 0, n = cd_page_n(page);
    *used = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = cd_page_cell_off(page, i), klen, len, child;
        const uint8_t *key;
        size_t at = CD_PAGE_HDR_SIZE + 2 * i;
        if (off < start || off >= size)
            return CD_CORRUPT(diag, "cell offset outside content area", at);
        if (parse_cell(page, size, off, &key, &klen, &len, &child))
            return CD_CORRUPT(diag, "cell runs off the page or is malformed", off);
        if (len > cd_page_cell_max(size))
            return CD_CORRUPT(diag, "cell larger than the page allows", off);
        if (child == pgno)
            return CD_CORRUPT(diag, "cell points at its own page", off);
        if (!mark_range(map, off, len))
            return CD_CORRUPT(diag, "cells overlap", off);
        if (prev && cd_key_cmp(prev, prev_len, key, klen) >= 0)
            return CD_CORRUPT(diag, "keys out of order", off);
        prev = key, prev_len = klen;
        *used += len;
    }
    return 0;
}

static int check_slotted(const uint8_t *page, uint32_t size, uint32_t pgno,
                         cd_diag *diag) {
    uint32_t n = cd_page_n(page);
    uint32_t start = cd_get32(page + CD_PAGE_OFF_START);
    uint32_t frag = cd_get32(page + CD_PAGE_OFF_FRAG);
    uint32_t slots_end = CD_PAGE_HDR_SIZE + 2 * n, used;
    if (slots_end > size || start < slots_end || start > size)
        return CD_CORRUPT(diag, "slot array and content area overlap", CD_PAGE_OFF_START);
    if (!all_zero(page + slots_end, start - slots_end))
        return CD_CORRUPT(diag, "free gap is not zero", slots_end);
    if (cd_page_type(page) == CD_PAGE_BRANCH) {
        uint32_t right = cd_page_aux0(page);
        if (n == 0)
            return CD_CORRUPT(diag, "branch page without keys", CD_PAGE_OFF_N);
        if (right < CD_FIRST_DATA_PGNO || right == pgno)
            return CD_CORRUPT(diag, "bad rightmost child", CD_PAGE_OFF_AUX0);
    } else if (cd_page_aux0(page) != 0) {
        return CD_CORRUPT(diag, "leaf aux0 is not zero", CD_PAGE_OFF_AUX0);
    }
    if (cd_page_aux1(page) != 0)
        return CD_CORRUPT(diag, "aux1 is not zero", CD_PAGE_OFF_AUX1);
    int rc = check_cells(page, size, pgno, start, &used, diag);
    if (rc)
        return rc;
    if ((uint64_t)used + frag != size - start)
        return CD_CORRUPT(diag, "fragment count disagrees with cells", CD_PAGE_OFF_FRAG);
    return 0;
}

static int check_chain_link(uint32_t next, uint32_t pgno) {
    return next == 0 || (next >= CD_FIRST_DATA_PGNO && next != pgno);
}

static int check_overflow(const uint8_t *page, uint32_t size, uint32_t pgno,
                          cd_diag *diag) {
    uint32_t len = cd_page_aux1(page);
    if (cd_page_n(page) != 0)
        return CD_CORRUPT(diag, "overflow page with a count", CD_PAGE_OFF_N);
    if (!check_chain_link(cd_page_aux0(page), pgno))
        return CD_CORRUPT(diag, "bad overflow chain link", CD_PAGE_OFF_AUX0);
    if (len > cd_overflow_capacity(size))
        return CD_CORRUPT(diag, "overflow data longer than the page", CD_PAGE_OFF_AUX1);
    if (!all_zero(page + CD_PAGE_HDR_SIZE + len, size - CD_PAGE_HDR_SIZE - len))
        return CD_CORRUPT(diag, "overflow tail is not zero", CD_PAGE_HDR_SIZE + len);
    return 0;
}

static int check_freelist(const uint8_t *page, uint32_t size, uint32_t pgno,
                          cd_diag *diag) {
    uint32_t n = cd_page_n(page);
    if (n > cd_freelist_capacity(size))
        return CD_CORRUPT(diag, "free list longer than the page", CD_PAGE_OFF_N);
    if (!check_chain_link(cd_page_aux0(page), pgno))
        return CD_CORRUPT(diag, "bad free list chain link", CD_PAGE_OFF_AUX0);
    if (cd_page_aux1(page) != 0)
        return CD_CORRUPT(diag, "aux1 is not zero", CD_PAGE_OFF_AUX1);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = cd_freelist_get(page, i);
        if (p < CD_FIRST_DATA_PGNO || p == pgno)
            return CD_CORRUPT(diag, "free list names a meta page or itself",
                              CD_PAGE_HDR_SIZE + 4 * i);
    }
    uint32_t end = CD_PAGE_HDR_SIZE + 4 * n;
    if (!all_zero(page + end, size - end))
        return CD_CORRUPT(diag, "free list tail is not zero", end);
    return 0;
}

static int check_meta(const uint8_t *page, uint32_t size, uint32_t pgno,
                      cd_diag *diag) {
    if (pgno > CD_META_PGNO_B)
        return CD_CORRUPT(diag, "meta page away from pages 0 and 1", CD_PAGE_OFF_PGNO);
    if (!all_zero(page + CD_PAGE_OFF_N, 2) ||
        !all_zero(page + CD_PAGE_OFF_START, CD_PAGE_OFF_CHECKSUM - CD_PAGE_OFF_START))
        return CD_CORRUPT(diag, "meta header fields are not zero", CD_PAGE_OFF_N);
    if (memcmp(page + CD_META_OFF_MAGIC, CD_META_MAGIC, CD_META_MAGIC_SIZE) != 0)
        return CD_CORRUPT(diag, "bad file magic", CD_META_OFF_MAGIC);
    if (cd_get32(page + CD_META_OFF_PAGE_SIZE) != size)
        return CD_CORRUPT(diag, "page size disagrees", CD_META_OFF_PAGE_SIZE);
    uint32_t count = cd_get32(page + CD_META_OFF_PAGE_COUNT);
    if (count < CD_FIRST_DATA_PGNO || cd_get32(page + CD_META_OFF_CATALOG) >= count ||
        cd_get32(page + CD_META_OFF_FREE_HEAD) >= count ||
        cd_get32(page + CD_META_OFF_FREE_COUNT) >= count)
        return CD_CORRUPT(diag, "page numbers beyond the page count", CD_META_OFF_PAGE_COUNT);
    if (cd_page_txn(page) != cd_get64(page + CD_META_OFF_TXN))
        return CD_CORRUPT(diag, "meta header and body disagree on the transaction",
                          CD_PAGE_OFF_TXN);
    if (cd_get64(page + CD_META_OFF_NEXT_TXN) <= cd_get64(page + CD_META_OFF_TXN))
        return CD_CORRUPT(diag, "next transaction id not ahead", CD_META_OFF_NEXT_TXN);
    if (!all_zero(page + CD_META_END, size - CD_META_END))
        return CD_CORRUPT(diag, "meta tail is not zero", CD_META_END);
    return 0;
}

int cd_page_check_layout(const uint8_t *page, uint32_t size, uint32_t pgno,
                         unsigned type_mask, cd_diag *diag) {
    if (!cd_page_size_valid(size) || (type_mask & CD_PAGE_MASK_ANY) == 0)
        return CD_EINVAL;
    int bit = type_bit(cd_page_type(page));
    if (bit == 0)
        return CD_CORRUPT(diag, "unknown page type", CD_PAGE_OFF_TYPE);
    if (!(bit & type_mask))
        return CD_CORRUPT(diag, "page type wrong for its place", CD_PAGE_OFF_TYPE);
    if (page[CD_PAGE_OFF_FLAGS] != 0)
        return CD_CORRUPT(diag, "unknown page flags", CD_PAGE_OFF_FLAGS);
    if (cd_page_pgno(page) != pgno)
        return CD_CORRUPT(diag, "page number disagrees with its place", CD_PAGE_OFF_PGNO);
    if (bit != CD_PAGE_MASK_META && pgno < CD_FIRST_DATA_PGNO)
        return CD_CORRUPT(diag, "data page at a meta page's place", CD_PAGE_OFF_PGNO);
    switch (cd_page_type(page)) {
    case CD_PAGE_BRANCH:
    case CD_PAGE_LEAF:
        return check_slotted(page, size, pgno, diag);
    case CD_PAGE_META:
        return check_meta(page, size, pgno, diag);
    default:
        break;
    }
    if (cd_get32(page + CD_PAGE_OFF_START) || cd_get32(page + CD_PAGE_OFF_FRAG))
        return CD_CORRUPT(diag, "unused header fields are not zero", CD_PAGE_OFF_START);
    if (cd_page_type(page) == CD_PAGE_FREELIST)
        return check_freelist(page, size, pgno, diag);
    return check_overflow(page, size, pgno, diag);
}

int cd_page_validate(const uint8_t *page, uint32_t size, uint32_t pgno,
                     unsigned type_mask, cd_diag *diag) {
    if (!cd_page_size_valid(size) || (type_mask & CD_PAGE_MASK_ANY) == 0)
        return CD_EINVAL;
    /* The checksum is seeded with the page number the caller read, so a
     * page image stored at the wrong place fails here even if its header
     * were rewritten consistently. */
    if (cd_page_pgno(page) != pgno)
        return CD_CORRUPT(diag, "page number disagrees with its place", CD_PAGE_OFF_PGNO);
    if (cd_page_checksum(page, size) != cd_get64(page + CD_PAGE_OFF_CHECKSUM))
        return CD_CORRUPT(diag, "checksum mismatch", CD_PAGE_OFF_CHECKSUM);
    return cd_page_check_layout(page, size, pgno, type_mask, diag);
}

/* ---- meta page -------------------------------------------------------- */

int cd_meta_encode(uint8_t *page, uint32_t pgno, const cd_meta *m) {
    if (!cd_page_size_valid(m->page_size) || pgno > CD_META_PGNO_B)
        return CD_EINVAL;
    cd_page_init(page, m->page_size, CD_PAGE_META, pgno, m->txn);
    memcpy(page + CD_META_OFF_MAGIC, CD_META_MAGIC, CD_META_MAGIC_SIZE);
    cd_put32(page + CD_META_OFF_VERSION, m->version);
    cd_put32(page + CD_META_OFF_PAGE_SIZE, m->page_size);
    cd_put64(page + CD_META_OFF_TXN, m->txn);
    cd_put32(page + CD_META_OFF_PAGE_COUNT, m->page_count);
    cd_put32(page + CD_META_OFF_CATALOG, m->catalog_root);
    cd_put32(page + CD_META_OFF_FREE_HEAD, m->free_head);
    cd_put32(page + CD_META_OFF_FREE_COUNT, m->free_count);
    cd_put64(page + CD_META_OFF_DB_ID, m->db_id);
    cd_put64(page + CD_META_OFF_NEXT_TXN, m->next_txn);
    cd_page_seal(page, m->page_size);
    return 0;
}

int cd_meta_decode(const uint8_t *page, uint32_t page_size, uint32_t pgno,
                   cd_meta *m, cd_diag *diag) {
    int rc = cd_page_validate(page, page_size, pgno, CD_PAGE_MASK_META, diag);
    if (rc)
        return rc;
    m->version = cd_get32(page + CD_META_OFF_VERSION);
    m->page_size = cd_get32(page + CD_META_OFF_PAGE_SIZE);
    m->txn = cd_get64(page + CD_META_OFF_TXN);
    m->page_count = cd_get32(page + CD_META_OFF_PAGE_COUNT);
    m->catalog_root = cd_get32(page + CD_META_OFF_CATALOG);
    m->free_head = cd_get32(page + CD_META_OFF_FREE_HEAD);
    m->free_count = cd_get32(page + CD_META_OFF_FREE_COUNT);
    m->db_id = cd_get64(page + CD_META_OFF_DB_ID);
    m->next_txn = cd_get64(page + CD_META_OFF_NEXT_TXN);
    return 0;
}

int cd_meta_sniff(const uint8_t *head, size_t len, uint32_t *page_size,
                  uint32_t *version) {
    if (len < CD_META_END || head[CD_PAGE_OFF_TYPE] != CD_PAGE_META ||
        memcmp(head + CD_META_OFF_MAGIC, CD_META_MAGIC, CD_META_MAGIC_SIZE) != 0)
        return 0;
    *page_size = cd_get32(head + CD_META_OFF_PAGE_SIZE);
    *version = cd_get32(head + CD_META_OFF_VERSION);
    return 1;
}
