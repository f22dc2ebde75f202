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

int wal_read_page(wal *w, const wal_frame_ref *ref, void *page,
                  wal_rctx *rctx, cd_diag *diag) {
    wal_rctx *r = rctx ? rctx : &w->own;
    uint64_t off = ref->offset;
    if (ref->len > w->page_size || ref->len == 0)
        return CD_EINVAL;
    size_t got = 0;
    int rc = os_read(w->file, off, r->frame, WAL_FRAME_HDR_SIZE + ref->len,
                     &got);
    if (rc)
        return rc;
    if (got != WAL_FRAME_HDR_SIZE + ref->len)
        return CD_CORRUPT(diag, "log ends inside an indexed frame", off);
    wal_fhdr h;
    if (wal_fhdr_decode(r->frame, w->page_size, &h) != 0 ||
        h.kind != WAL_FRAME_PAGE || h.salt != w->salt ||
        h.len != ref->len || h.pgno != ref->pgno)
        return CD_CORRUPT(diag, "log frame header disagrees with the index",
                          off);
    const uint8_t *payload = r->frame + WAL_FRAME_HDR_SIZE;
    if (wal_frame_checksum(r->frame, payload, h.len, w->salt) != h.checksum)
        return CD_CORRUPT(diag, "log frame checksum mismatch", off);
    if ((rc = page_out(w, r, &h, payload, page, diag, off)) != 0)
        return rc;
    if (cd_get32((const uint8_t *)page + 4) != ref->pgno)
        return CD_CORRUPT(diag, "log page image names another page", off);
    return 0;
}
