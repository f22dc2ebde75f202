/*
 * wal_append.c: the writer's side of the log: encoding page frames (as a
 * delta over the image the caller names as its base when that halves it;
 * else zstd compressed when the option is on and it saves at least an
 * eighth of the page; else without one run of zeros: the free gap its
 * layout leaves, or its longest run) and commit records into the write
 * buffer, writing the buffer in large pieces, publishing committed frames
 * in the index, sync with its latch, and the reset that starts a new
 * generation.  Runs on the one writer thread.  Uses os (writes, sync,
 * truncate, random) and codec.
 *
 * A transaction's life, and the function behind each step:
 *
 *   idle --wal_append_page--> open --wal_append_commit--> idle
 *                               |  \--error / wal_abort--> idle (discarded)
 *   any --failed wal_sync / wal_reset--> latched (CD_EREOPEN until closed)
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "wal_int.h"
#include "cd_limits.h"
#include "cd_page.h"

/*
 * Zeros that extend the file ahead of the log (in .bss: no memory until
 * read, and then the kernel's zero page).  A sync after a write that grows
 * a file must also make its new size and blocks durable, which costs a
 * second disk flush on ext4 and XFS; a write into blocks already written
 * does not.  So past the end of the file the log writes zeros up to the
 * next multiple of WAL_GROW_STEP, once per step: measured on a virtio disk,
 * 25 KiB commits with fdatasync went from 2,950 to 5,080 a second.  The
 * zeros are never valid frames, and recovery reports a log that ends in
 * them as ending there (WAL_STOP_END).  A failed extension fails the
 * write like any failed write of the log (the disk is full or failing).
 */
static uint8_t grow_zeros[WAL_GROW_STEP];

static int grow(wal *w, uint64_t end) {
    if (end <= w->file_end)
        return 0;
    uint64_t to = (end / WAL_GROW_STEP + 1) * WAL_GROW_STEP;
    int rc = os_write(w->file, end, grow_zeros, (size_t)(to - end));
    w->file_end = rc ? end : to;
    return rc;
}

/* Writes the buffer out.  Failure leaves the buffer as it was. */
static int flush(wal *w) {
    if (w->wbuf_len == 0)
        return 0;
    int rc = os_write(w->file, w->wbuf_off, w->wbuf, w->wbuf_len);
    if (rc == 0)
        rc = grow(w, w->wbuf_off + w->wbuf_len);
    if (rc)
        return rc;
    w->stats.writes++;
    w->stats.write_bytes += w->wbuf_len;
    if (w->wb_from > w->wbuf_off) /* an abort or a reset went back */
        w->wb_from = w->wbuf_off;
    w->wbuf_off += w->wbuf_len;
    w->wbuf_len = 0;
    /* Between syncs (NORMAL) the device may start on what is written, so
     * that the checkpoint's sync finds it done: a 64 MiB log took 56-72
     * ms to sync at the checkpoint without this. */
    if (w->opt.writeback_bytes && w->wbuf_off - w->wb_from >= w->opt.writeback_bytes) {
        os_writeback(w->file, w->wb_from, w->wbuf_off - w->wb_from);
        w->wb_from = w->wbuf_off;
    }
    return 0;
}

/* Makes room for n bytes in the buffer. */
static int reserve(wal *w, size_t n) {
    ISLE_ASSERT(n <= w->wbuf_cap);
    return w->wbuf_len + n <= w->wbuf_cap ? 0 : flush(w);
}

void wal_abort(wal *w) {
    w->wbuf_len = 0;
    w->wbuf_off = w->commit_end;
    w->chain = w->commit_chain;
    /* Relaxed: the writer reads back its own store. */
    w->nframes = atomic_load_explicit(&w->max_frame, memory_order_relaxed);
    w->txn = 0;
    /* Bytes past commit_end will be overwritten: no longer durable data,
     * and frames written over them must not call them synced. */
    if (w->synced_end > w->commit_end)
        w->synced_end = w->commit_end;
}

/* Checks that an append may go to transaction txn. */
static int txn_check(wal *w, uint64_t txn) {
    if (w->latched)
        return CD_EREOPEN;
    if (w->txn != 0)
        return txn == w->txn ? 0 : CD_EINVAL;
    return txn > w->last_txn ? 0 : CD_EINVAL;
}

/*
 * The longest run of zero bytes in page[0, P), in aligned 8-byte words:
 * *off and the length returned.  A page keeps its free space zeroed
 * (cd_page.h), so a page with room has one long run.  A block of 64
 * bytes that is all zero words, or has none, is taken at once; only a
 * block with both is walked word by word.  Page sizes are powers of two
 * of at least CD_PAGE_SIZE_MIN, so blocks are whole: their size is a
 * constant, and the compiler tests a block's words without a loop.
 */
_Static_assert(CD_PAGE_SIZE_MIN % 64 == 0, "pages are whole 64-byte blocks");
static uint32_t zero_run(const uint8_t *page, uint32_t P, uint32_t *off) {
    enum { WORDS = 8 };
    uint32_t best = 0, best_at = 0, run = 0;
    for (uint32_t b = 0; b + WORDS * 8 <= P; b += WORDS * 8) {
        uint64_t v[WORDS];
        uint32_t set = 0;
        memcpy(v, page + b, sizeof v);
        for (uint32_t j = 0; j < WORDS; j++)
            set |= (uint32_t)(v[j] != 0) << j;
        if (set == 0) {
            run += WORDS * 8;
        } else if (set == (1u << WORDS) - 1) {
            run = 0;
        } else {
            for (uint32_t j = 0; j < WORDS; j++) {
                if (v[j]) {
                    run = 0;
                    continue;
                }
                run += 8;
                if (run > best) {
                    best = run;
                    best_at = b + 8 * j + 8 - run;
                }
            }
        }
        if (run > best) {
            best = run;
            best_at = b + WORDS * 8 - run;
        }
    }
    *off = best_at;
    return best;
}

/*
 * Encodes the payload of a page frame at dst: *len, *flags and *hole.
 * With zstd on, a page that does not shrink by an eighth is stored raw;
 * with it off, a page is stored without a run of zeros of at least
 * WAL_HOLE_MIN bytes: its layout's free gap (cd_page_unused) when that
 * is all zero, else its longest run.  CD_ENOMEM if zstd cannot get its
 * memory.
 */
static int page_payload(wal *w, uint8_t *dst, const void *page,
                        uint32_t *len, uint8_t *flags, uint32_t *hole) {
    uint32_t P = w->page_size;
    *hole = 0;
    if (!w->cctx) {
        /* the gap its layout leaves, if zero as it should be (one pass of
         * or'ed words); else the longest run a search finds */
        uint32_t at = 0, n = cd_page_unused(page, P, &at);
        if (n < WAL_HOLE_MIN || !cd_is_zero((const uint8_t *)page + at, n))
            n = zero_run(page, P, &at);
        if (n >= WAL_HOLE_MIN) {
            memcpy(dst, page, at);
            memcpy(dst + at, (const uint8_t *)page + at + n, P - at - n);
            *flags = WAL_FRAME_HOLE;
            *len = P - n;
            *hole = at;
            return 0;
        }
    }
    if (w->cctx) {
        size_t n = ZSTD_compressCCtx(w->cctx, dst, P - P / 8, page, P,
                                     w->opt.compress_level);
        if (!ZSTD_isError(n) && n > 0) {
            *flags = WAL_FRAME_ZSTD;
            *len = (uint32_t)n;
            return 0;
        }
        if (ZSTD_isError(n) &&
            ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
            return CD_ENOMEM;
    }
    memcpy(dst, page, P);
    *flags = 0;
    *len = P;
    return 0;
}

/* 1 iff the 32 bytes at a and b are equal: four words compared at once,
 * with no branch between them. */
static int block_equal(const uint8_t *a, const uint8_t *b) {
    uint64_t x[4], y[4];
    memcpy(x, a, sizeof x);
    memcpy(y, b, sizeof y);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3])) == 0;
}

/*
 * Encodes page as a delta over base (wal.h: runs of u16 offset, u16
 * length, bytes) into dst, in at most cap bytes: the payload's length, or
 * 0 if it does not fit.  Pages are compared in 8-byte words; each word
 * that differs becomes the bytes that differ in it, which join the run
 * before when fewer equal bytes than a run header lie between (so
 * neighbouring words make one run).  A page equal to its base is one
 * byte rewritten, as the format has no empty delta.
 */
static uint32_t delta_encode(const uint8_t *page, const uint8_t *base,
                             uint32_t P, uint8_t *dst, uint32_t cap) {
    uint32_t len = 0, hdr_at = 0, run_off = 0, run_end = 0;
    int open = 0;
    for (uint32_t i = 0; i < P; i += 8) {
        /* most of a page is equal to its base: skip 32 bytes at a time
         * (P is a power of two of at least 512) */
        if (i % 32 == 0 && block_equal(page + i, base + i)) {
            i += 24;
            continue;
        }
        uint64_t a, b;
        memcpy(&a, page + i, 8);
        memcpy(&b, base + i, 8);
        if (a == b)
            continue;
        uint32_t from = i, to = i + 8;
        while (page[from] == base[from])
            from++;
        while (page[to - 1] == base[to - 1])
            to--;
        if (open && from - run_end < WAL_DELTA_RUN_HDR) {
            from = run_end; /* the equal bytes between ride along */
        } else {
            if (open) {
                cd_put16(dst + hdr_at, (uint16_t)run_off);
                cd_put16(dst + hdr_at + 2, (uint16_t)(run_end - run_off));
            }
            if (len + WAL_DELTA_RUN_HDR > cap)
                return 0;
            hdr_at = len;
            len += WAL_DELTA_RUN_HDR;
            run_off = from;
            open = 1;
        }
        if (len + (to - from) > cap)
            return 0;
        memcpy(dst + len, page + from, to - from);
        len += to - from;
        run_end = to;
    }
    if (!open) {
        if (cap < WAL_DELTA_RUN_HDR + 1)
            return 0;
        run_off = 0;
        run_end = 1;
        dst[WAL_DELTA_RUN_HDR] = page[0];
        len = WAL_DELTA_RUN_HDR + 1;
    }
    cd_put16(dst + hdr_at, (uint16_t)run_off);
    cd_put16(dst + hdr_at + 2, (uint16_t)(run_end - run_off));
    return len;
}

/* Finishes the frame header at hdr for h and advances the buffer. */
static void frame_seal(wal *w, uint8_t *hdr, wal_fhdr *h) {
    h->salt = w->salt;
    h->synced = w->synced_end;
    h->prev = w->chain;
    h->checksum = 0;
    wal_fhdr_encode(hdr, h);
    h->checksum = wal_frame_checksum(hdr, hdr + WAL_FRAME_HDR_SIZE, h->len,
                                     w->salt);
    cd_put64(hdr + WAL_FRAME_OFF_CHECKSUM, h->checksum);
    w->chain = h->checksum;
    w->wbuf_len += WAL_FRAME_HDR_SIZE + h->len;
}

int wal_append_page(wal *w, uint64_t txn, uint32_t pgno, const void *page) {
    return wal_append_page_ref(w, txn, pgno, page, NULL);
}

int wal_flush(wal *w) {
    if (w->latched)
        return CD_EREOPEN;
    int rc = flush(w);
    if (rc)
        wal_abort(w);
    return rc;
}

int wal_append_page_ref(wal *w, uint64_t txn, uint32_t pgno, const void *page,
                        wal_frame_ref *ref) {
    return wal_append_page_delta(w, txn, pgno, page, 0, NULL, ref);
}

int wal_append_page_delta(wal *w, uint64_t txn, uint32_t pgno, const void *page,
                          uint64_t base, const void *base_page,
                          wal_frame_ref *ref) {
    int rc = txn_check(w, txn);
    if (rc)
        return rc == CD_EREOPEN ? rc : (wal_abort(w), rc);
    if (!page || cd_get32((const uint8_t *)page + 4) != pgno) {
        rc = CD_EINVAL; /* the image must name its page (cd_page.h) */
        goto out;
    }
    uint64_t frame = w->nframes + 1;
    if (frame > WAL_FRAMES_MAX) {
        rc = CD_ETOOBIG;
        goto out;
    }
    if ((rc = wal_index_reserve(w, frame)) != 0)
        goto out;
    if ((rc = reserve(w, WAL_FRAME_HDR_SIZE + w->page_size)) != 0)
        goto out;
    uint8_t *hdr = w->wbuf + w->wbuf_len;
    wal_fhdr h = {.kind = WAL_FRAME_PAGE, .txn = txn, .pgno = pgno};
    /* Relaxed: the writer reads back its own store. */
    unsigned depth = base_page && w->version >= 2
                         ? wal_delta_depth(w, base, atomic_load_explicit(
                                                        &w->max_frame, memory_order_relaxed))
                         : 0;
    if (depth) {
        /* a delta, if it takes at most half of what the whole page would */
        uint32_t at, gap = cd_page_unused(page, w->page_size, &at);
        uint32_t whole = w->page_size - (gap >= WAL_HOLE_MIN ? gap : 0);
        h.len = delta_encode(page, base_page, w->page_size,
                             hdr + WAL_FRAME_HDR_SIZE, whole / 2);
        if (h.len) {
            h.flags = WAL_FRAME_DELTA;
            h.base = (uint32_t)base;
        } else {
            depth = 0;
        }
    }
    if (!depth &&
        (rc = page_payload(w, hdr + WAL_FRAME_HDR_SIZE, page, &h.len, &h.flags, &h.hole)) != 0)
        goto out;
    wal_finfo *fi = wal_index_info(w, frame);
    *fi = (wal_finfo){.offset = w->wbuf_off + w->wbuf_len, .pgno = pgno, .len = h.len,
                      .base = h.base, .depth = (uint8_t)depth};
    if (ref)
        *ref = (wal_frame_ref){.frame = frame, .offset = fi->offset, .pgno = pgno,
                               .len = h.len};
    frame_seal(w, hdr, &h);
    w->txn = txn;
    w->nframes = frame;
    w->stats.page_frames++;
    w->stats.page_bytes_stored += h.len;
    w->stats.compressed_frames += h.flags == WAL_FRAME_ZSTD;
    w->stats.hole_frames += h.flags == WAL_FRAME_HOLE;
    w->stats.delta_frames += h.flags == WAL_FRAME_DELTA;
out:
    if (rc)
        wal_abort(w);
    return rc;
}

int wal_append_commit(wal *w, uint64_t txn, const void *payload,
                      uint32_t len) {
    int rc = txn_check(w, txn);
    if (rc == 0 && (len > WAL_COMMIT_PAYLOAD_MAX || (len && !payload)))
        rc = CD_EINVAL;
    if (rc == 0)
        rc = reserve(w, WAL_FRAME_HDR_SIZE + len);
    if (rc)
        return rc == CD_EREOPEN ? rc : (wal_abort(w), rc);
    uint64_t published =
        atomic_load_explicit(&w->max_frame, memory_order_relaxed);
    uint8_t *hdr = w->wbuf + w->wbuf_len;
    wal_fhdr h = {.kind = WAL_FRAME_COMMIT, .txn = txn, .len = len,
                  .pgno = (uint32_t)(w->nframes - published)};
    if (len)
        memcpy(hdr + WAL_FRAME_HDR_SIZE, payload, len);
    frame_seal(w, hdr, &h);
    if ((rc = flush(w)) != 0) {
        wal_abort(w);
        return rc;
    }
    wal_index_publish(w, published, w->nframes);
    /* Release: pairs with the acquire in wal_max_frame; a reader that
     * captures the new count sees every slot and position published. */
    atomic_store_explicit(&w->max_frame, w->nframes, memory_order_release);
    w->last_txn = txn;
    w->txn = 0;
    w->txns++;
    w->commit_end = w->wbuf_off;
    w->commit_chain = w->chain;
    w->stats.commits++;
    return 0;
}

int wal_sync(wal *w) {
    if (w->latched)
        return CD_EREOPEN;
    int rc = os_sync(w->file);
    w->stats.syncs++;
    if (rc) {
        /* The kernel may have dropped the dirty pages: nothing written
         * since the last good sync can be trusted to reach the disk. */
        w->latched = 1;
        return rc;
    }
    w->synced_end = w->wbuf_off; /* everything written so far */
    return 0;
}

/* Writes both header copies for the current salt and generation. */
int wal_write_header(wal *w) {
    uint8_t area[WAL_HDR_AREA];
    memset(area, 0, sizeof area);
    wal_hdr h = {.version = WAL_FORMAT_VERSION, .page_size = w->page_size,
                 .salt = w->salt, .generation = w->generation};
    w->version = WAL_FORMAT_VERSION;
    wal_hdr_encode(area, &h);
    memcpy(area + WAL_HDR_COPY_STRIDE, area, WAL_HDR_SIZE);
    w->hdr_checksum = h.checksum;
    int rc = os_write(w->file, 0, area, sizeof area);
    if (rc == 0)
        rc = os_sync(w->file);
    return rc;
}

/* Points the writer state at an empty generation. */
void wal_start_generation(wal *w) {
    w->wbuf_len = 0;
    w->wbuf_off = w->commit_end = WAL_HDR_AREA;
    w->chain = w->commit_chain = w->hdr_checksum;
    w->synced_end = WAL_HDR_AREA;
    w->nframes = 0;
    w->txn = 0;
    w->txns = 0;
    wal_index_clear(w);
    /* Release for form's sake: no reader is bounded by a frame now. */
    atomic_store_explicit(&w->max_frame, 0, memory_order_release);
}

int wal_reset(wal *w) { return wal_reset_keep(w, w->opt.reset_keep_bytes); }

int wal_reset_keep(wal *w, uint64_t keep_bytes) {
    if (w->latched)
        return CD_EREOPEN;
    if (w->txn != 0)
        return CD_EBUSY;
    uint64_t salt, size;
    int rc = os_random(w->vfs, &salt, sizeof salt);
    if (rc == 0)
        rc = os_size(w->file, &size);
    if (rc == 0 && size > keep_bytes && size > WAL_HDR_AREA) {
        rc = os_truncate(w->file, WAL_HDR_AREA);
        size = WAL_HDR_AREA;
    }
    if (rc)
        return rc; /* nothing changed */
    w->file_end = size;
    uint64_t old_salt = w->salt;
    w->salt = salt == old_salt ? salt + 1 : salt;
    w->generation++;
    if ((rc = wal_write_header(w)) != 0) {
        /* The header on disk may be either generation: refuse to go on. */
        w->latched = 1;
        return rc;
    }
    w->stats.syncs++;
    wal_start_generation(w);
    return 0;
}

uint64_t wal_max_frame(const wal *w) {
    /* Acquire: pairs with the release in wal_append_commit. */
    return atomic_load_explicit(&((wal *)w)->max_frame, memory_order_acquire);
}

uint64_t wal_last_txn(const wal *w) { return w->last_txn; }
uint64_t wal_size_bytes(const wal *w) { return w->commit_end; }
int wal_latched(const wal *w) { return w->latched; }
void wal_get_stats(const wal *w, wal_stats *out) { *out = w->stats; }

int wal_check(const wal *w) {
    uint64_t mf = wal_max_frame(w);
    int ok = w->commit_end >= WAL_HDR_AREA && w->wbuf_off >= w->commit_end &&
             w->wbuf_len <= w->wbuf_cap && w->nframes >= mf &&
             w->synced_end <= w->wbuf_off && (w->txn != 0 || w->nframes == mf) &&
             (w->txn == 0 || w->txn > w->last_txn);
    return ok ? 0 : CD_EINVAL;
}
