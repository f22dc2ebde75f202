/*
 * wal_read.c: reading a committed page back from the log for the pager,
 * trusting nothing in the file: the frame is re-read, its header checked
 * against the index entry and its own checksum recomputed before the page
 * is copied out or decompressed.  Also the zstd contexts, allocated
 * through the vfs so that tests can fail those allocations too.  Uses os
 * and codec; any thread, with its own wal_rctx.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "wal_int.h"

static void *zalloc(void *opaque, size_t size) {
    return os_alloc((os_vfs *)opaque, size);
}

static void zfree(void *opaque, void *p) { os_free((os_vfs *)opaque, p); }

void *wal_zstd_cctx_new(wal *w) {
    ZSTD_customMem mem = {zalloc, zfree, w->vfs};
    return ZSTD_createCCtx_advanced(mem);
}

void wal_zstd_cctx_free(void *cctx) { ZSTD_freeCCtx(cctx); }

int wal_rctx_new(wal *w, wal_rctx **out) {
    wal_rctx *r = os_alloc(w->vfs, sizeof *r);
    if (!r)
        return CD_ENOMEM;
    r->dctx = NULL;
    r->frame = os_alloc(w->vfs, WAL_FRAME_HDR_SIZE + w->page_size);
    if (!r->frame) {
        os_free(w->vfs, r);
        return CD_ENOMEM;
    }
    *out = r;
    return 0;
}

void wal_rctx_release(wal *w, wal_rctx *r) {
    if (r->dctx)
        ZSTD_freeDCtx(r->dctx);
    os_free(w->vfs, r->frame);
    r->dctx = NULL;
    r->frame = NULL;
}

void wal_rctx_free(wal *w, wal_rctx *r) {
    if (!r)
        return;
    wal_rctx_release(w, r);
    os_free(w->vfs, r);
}

/* Copies, fills in or decompresses a checked page payload into page[0, P). */
static int page_out(wal *w, wal_rctx *r, const wal_fhdr *h,
                    const uint8_t *payload, void *page, cd_diag *diag,
                    uint64_t off) {
    uint32_t P = w->page_size;
    if (h->flags == WAL_FRAME_HOLE) { /* lengths checked by wal_fhdr_decode */
        uint8_t *p = page;
        memcpy(p, payload, h->hole);
        memset(p + h->hole, 0, P - h->len);
        memcpy(p + h->hole + (P - h->len), payload + h->hole, h->len - h->hole);
        return 0;
    }
    if (!(h->flags & WAL_FRAME_ZSTD)) {
        memcpy(page, payload, P);
        return 0;
    }
    if (!r->dctx) {
        ZSTD_customMem mem = {zalloc, zfree, w->vfs};
        r->dctx = ZSTD_createDCtx_advanced(mem);
        if (!r->dctx)
            return CD_ENOMEM;
    }
    size_t n = ZSTD_decompressDCtx(r->dctx, page, P, payload, h->len);
    if (ZSTD_isError(n)) {
        if (ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
            return CD_ENOMEM;
        return CD_CORRUPT(diag, "log page frame does not decompress", off);
    }
    if (n != P)
        return CD_CORRUPT(diag, "log page frame decompresses to a wrong size",
                          off);
    return 0;
}

/*
 * Reads the frame at off into r->frame and checks it: its header against
 * what the index says (page frame, pgno, len, a delta's base or none), its
 * salt and its own checksum.  *h is the decoded header.
 */
static int read_frame(wal *w, wal_rctx *r, const wal_frame_ref *at,
                      uint32_t base, wal_fhdr *h, cd_diag *diag) {
    uint64_t off = at->offset;
    uint32_t pgno = at->pgno, len = at->len;
    if (len > w->page_size || len == 0)
        return CD_EINVAL;
    size_t got = 0;
    int rc = os_read(w->file, off, r->frame, WAL_FRAME_HDR_SIZE + len, &got);
    if (rc)
        return rc;
    if (got != WAL_FRAME_HDR_SIZE + len)
        return CD_CORRUPT(diag, "log ends inside an indexed frame", off);
    if (wal_fhdr_decode(r->frame, w->page_size, h) != 0 ||
        h->kind != WAL_FRAME_PAGE || h->salt != w->salt ||
        h->len != len || h->pgno != pgno || h->base != base)
        return CD_CORRUPT(diag, "log frame header disagrees with the index",
                          off);
    if (wal_frame_checksum(r->frame, r->frame + WAL_FRAME_HDR_SIZE, h->len,
                           w->salt) != h->checksum)
        return CD_CORRUPT(diag, "log frame checksum mismatch", off);
    return 0;
}

/* Where frame f is, from its index entry. */
static wal_frame_ref frame_ref(const wal_finfo *fi, uint64_t f) {
    return (wal_frame_ref){.frame = f, .offset = fi->offset, .pgno = fi->pgno, .len = fi->len};
}

/* Writes the runs of a checked delta payload over page[0, P). */
static int delta_apply(uint8_t *page, uint32_t P, const uint8_t *p,
                       uint32_t len, cd_diag *diag, uint64_t off) {
    uint32_t at = 0, floor = 0;
    while (at < len) {
        if (len - at < WAL_DELTA_RUN_HDR)
            return CD_CORRUPT(diag, "log delta frame ends inside a run", off);
        uint32_t o = cd_get16(p + at), n = cd_get16(p + at + 2);
        at += WAL_DELTA_RUN_HDR;
        if (n == 0 || o < floor || n > P - o || n > len - at)
            return CD_CORRUPT(diag, "log delta frame has a bad run", off);
        memcpy(page + o, p + at, n);
        at += n;
        floor = o + n;
    }
    return 0;
}

int wal_read_page(wal *w, const wal_frame_ref *ref, void *page,
                  wal_rctx *rctx, cd_diag *diag) {
    wal_rctx *r = rctx ? rctx : &w->own;
    if (ref->len > w->page_size || ref->len == 0 || ref->frame == 0)
        return CD_EINVAL;
    /* A delta's chain of bases, newest first, from the index (which
     * checked each base when the frame was appended or recovered). */
    uint64_t chain[WAL_DELTA_DEPTH_MAX];
    unsigned n = 0;
    const wal_finfo *fi = wal_index_info(w, ref->frame);
    uint64_t f = ref->frame;
    for (; fi->depth > 0; fi = wal_index_info(w, f)) {
        if (n == WAL_DELTA_DEPTH_MAX || fi->base == 0 || fi->base >= f)
            return CD_CORRUPT(diag, "log delta chain too deep", ref->offset);
        chain[n++] = f;
        f = fi->base;
    }
    /* The whole image at the chain's end (ref itself when no delta). */
    wal_frame_ref at = n ? frame_ref(fi, f) : *ref;
    wal_fhdr h;
    int rc = read_frame(w, r, &at, 0, &h, diag);
    if (rc == 0)
        rc = page_out(w, r, &h, r->frame + WAL_FRAME_HDR_SIZE, page, diag, at.offset);
    /* Then each delta over it, oldest first. */
    while (rc == 0 && n-- > 0) {
        fi = wal_index_info(w, chain[n]);
        at = n ? frame_ref(fi, chain[n]) : *ref;
        rc = read_frame(w, r, &at, fi->base, &h, diag);
        if (rc == 0)
            rc = delta_apply(page, w->page_size, r->frame + WAL_FRAME_HDR_SIZE,
                             h.len, diag, at.offset);
    }
    if (rc)
        return rc;
    if (cd_get32((const uint8_t *)page + 4) != ref->pgno)
        return CD_CORRUPT(diag, "log page image names another page", ref->offset);
    return 0;
}
