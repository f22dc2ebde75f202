/*
 * bt_overflow.c: values too large for a leaf cell live on a chain of
 * overflow pages (cd_page.h: data in [40, 40 + aux1), next page in aux0,
 * 0 ends the chain).  Every page but the last is full, so a value of vlen
 * bytes takes exactly ceil(vlen / (page_size - 40)) pages; a chain that is
 * longer, shorter, or whose aux1 do not add up to vlen is CD_ECORRUPT.
 * That bound also stops a cyclic chain.  Uses codec/cd_page.h.
 */
#include <stdlib.h>

#include "bt_int.h"

uint32_t bt_ovf_pages(uint32_t page_size, uint32_t vlen) {
    uint32_t cap = cd_overflow_capacity(page_size);
    return (uint32_t)(((uint64_t)vlen + cap - 1) / cap);
}

/* Frees the n pages listed (all allocated in this transaction). */
static void free_list(const bt_pager *pg, const uint32_t *pgnos, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        (void)pg->ops->free(pg->ctx, pgnos[i]); /* keep the first error */
}

int bt_ovf_write(const bt_pager *pg, const uint8_t *val, uint32_t vlen,
                 uint32_t *first) {
    uint32_t cap = cd_overflow_capacity(pg->page_size);
    uint32_t npages = bt_ovf_pages(pg->page_size, vlen), done = 0;
    uint8_t *prev = NULL;
    int rc = 0;
    ISLE_ASSERT(npages > 0);
    *first = 0;
    uint32_t *pgnos = malloc(sizeof *pgnos * npages);
    if (!pgnos)
        return CD_ENOMEM;
    for (uint32_t k = 0; k < npages; k++) {
        uint8_t *page;
        uint32_t pgno, off = k * cap;
        uint32_t len = vlen - off < cap ? vlen - off : cap;
        rc = pg->ops->alloc(pg->ctx, &pgno, &page);
        if (rc)
            goto out;
        pgnos[done++] = pgno;
        if (k == 0)
            *first = pgno;
        cd_page_init(page, pg->page_size, CD_PAGE_OVERFLOW, pgno, pg->txn);
        cd_page_set_aux1(page, len);
        memcpy(page + CD_PAGE_HDR_SIZE, val + off, len);
        if (prev) {
            cd_page_set_aux0(prev, pgno);
            pg->ops->unpin(pg->ctx, prev);
        }
        prev = page;
    }
out:
    if (prev)
        pg->ops->unpin(pg->ctx, prev);
    if (rc)
        free_list(pg, pgnos, done);
    free(pgnos);
    return rc;
}

/*
 * Walks the chain of a vlen-byte value, checking its lengths.  Copies each
 * page's data to dst (when not NULL) and, after unpinning a page, frees it
 * (when do_free).
 */
static int chain_walk(const bt_pager *pg, uint32_t first, uint32_t vlen,
                      uint8_t *dst, int do_free) {
    uint32_t npages = bt_ovf_pages(pg->page_size, vlen), got = 0, pgno = first;
    if (npages == 0)
        return CD_ECORRUPT; /* an empty value is never on overflow pages */
    for (uint32_t k = 0; k < npages; k++) {
        const uint8_t *page;
        if (pgno == 0)
            return CD_ECORRUPT; /* chain shorter than the value */
        int rc = pg->ops->get(pg->ctx, pgno, CD_PAGE_MASK_OVERFLOW, &page);
        if (rc)
            return rc;
        uint32_t len = cd_page_aux1(page), next = cd_page_aux0(page);
        int last = k + 1 == npages;
        if (len > vlen - got || len == 0 ||
            (!last && len != cd_overflow_capacity(pg->page_size)) ||
            (last && (got + len != vlen || next != 0))) {
            pg->ops->unpin(pg->ctx, page);
            return CD_ECORRUPT;
        }
        if (dst)
            memcpy(dst + got, page + CD_PAGE_HDR_SIZE, len);
        got += len;
        pg->ops->unpin(pg->ctx, page);
        if (do_free) {
            rc = pg->ops->free(pg->ctx, pgno);
            if (rc)
                return rc;
        }
        pgno = next;
    }
    return 0;
}

int bt_ovf_read(const bt_pager *pg, uint32_t first, uint32_t vlen, uint8_t **out) {
    *out = NULL;
    if (vlen > BT_VALUE_MAX)
        return CD_ECORRUPT;
    uint8_t *buf = malloc(vlen ? vlen : 1);
    if (!buf)
        return CD_ENOMEM;
    int rc = chain_walk(pg, first, vlen, buf, 0);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

int bt_ovf_free(const bt_pager *pg, uint32_t first, uint32_t vlen) {
    if (vlen > BT_VALUE_MAX)
        return CD_ECORRUPT;
    return chain_walk(pg, first, vlen, NULL, 1);
}
