/*
 * wal_scan.c: the recovery scan of wal_open.  It follows the checksum
 * chain from the first frame, indexes the frames of every committed
 * transaction in order, and at the first frame that is not valid in the
 * log decides between a torn tail (the log ends at the last commit) and
 * corruption (a frame written after that point was durable follows it),
 * as the rules at the top of wal.h say.  Reads the file through a large
 * window; uses os and codec.
 */
#include <string.h>

#include "wal_int.h"

#define SCAN_WINDOW (1u << 20)

typedef struct scan {
    wal *w;
    uint8_t *buf;
    size_t cap;
    uint64_t boff; /* file offset of buf[0] */
    size_t blen;   /* bytes valid in buf */
    uint64_t fsize;
} scan;

/*
 * Makes at least [off, off + need) available at *p, with *avail bytes
 * from off in the window.  Returns 0, 1 when the file ends before
 * off + need, or an I/O status.
 */
static int window(scan *s, uint64_t off, size_t need, const uint8_t **p,
                  size_t *avail) {
    ISLE_ASSERT(need <= s->cap);
    if (off + need > s->fsize)
        return 1;
    if (off < s->boff || off + need > s->boff + s->blen) {
        uint64_t left = s->fsize - off;
        size_t want = left < s->cap ? (size_t)left : s->cap;
        size_t got = 0;
        int rc = os_read(s->w->file, off, s->buf, want, &got);
        if (rc)
            return rc;
        s->boff = off;
        s->blen = got;
        if (got < need)
            return 1; /* the file shrank under us: treat as its end */
    }
    *p = s->buf + (off - s->boff);
    if (avail)
        *avail = (size_t)(s->boff + s->blen - off);
    return 0;
}

/* Checks the frame at off alone: 1 valid (*h filled), 0 not, or < 0. */
static int frame_alone(scan *s, uint64_t off, wal_fhdr *h) {
    const uint8_t *p;
    int rc = window(s, off, WAL_FRAME_HDR_SIZE, &p, NULL);
    if (rc)
        return rc > 0 ? 0 : rc;
    if (cd_get64(p + WAL_FRAME_OFF_SALT) != s->w->salt ||
        wal_fhdr_decode(p, s->w->page_size, h) != 0 || h->synced > off)
        return 0;
    rc = window(s, off, WAL_FRAME_HDR_SIZE + h->len, &p, NULL);
    if (rc)
        return rc > 0 ? 0 : rc;
    uint64_t sum = wal_frame_checksum(p, p + WAL_FRAME_HDR_SIZE, h->len,
                                      s->w->salt);
    return sum == h->checksum ? 1 : 0;
}

/*
 * Searches [x, end) for a frame valid alone whose synced-through is past
 * x: proof that the bytes at x were durable.  1 found, 0 not, or < 0.
 */
static int search_durable(scan *s, uint64_t x) {
    uint8_t salt0 = (uint8_t)s->w->salt;
    uint64_t pos = x;
    while (pos + WAL_FRAME_HDR_SIZE <= s->fsize) {
        const uint8_t *p;
        size_t avail;
        int rc = window(s, pos, WAL_FRAME_HDR_SIZE, &p, &avail);
        if (rc)
            return rc > 0 ? 0 : rc;
        /* Candidates c in [pos, pos + span): their salt is at c + 8. */
        size_t span = avail - WAL_FRAME_HDR_SIZE + 1;
        const uint8_t *hit = memchr(p + WAL_FRAME_OFF_SALT, salt0, span);
        if (!hit) {
            pos += span;
            continue;
        }
        uint64_t c = pos + (uint64_t)(hit - (p + WAL_FRAME_OFF_SALT));
        wal_fhdr h;
        rc = frame_alone(s, c, &h);
        if (rc < 0)
            return rc;
        if (rc == 1 && h.synced > x)
            return 1;
        pos = rc == 1 ? c + WAL_FRAME_HDR_SIZE + h.len : c + 1;
    }
    return 0;
}

/* 1 iff every byte of [off, end of file) is zero (the log's growth), 0
 * if not, or < 0. */
static int zeros_to_end(scan *s, uint64_t off) {
    while (off < s->fsize) {
        const uint8_t *p;
        size_t avail;
        int rc = window(s, off, 1, &p, &avail);
        if (rc)
            return rc > 0 ? 1 : rc;
        for (size_t i = 0; i < avail; i++)
            if (p[i])
                return 0;
        off += avail;
    }
    return 1;
}

/* Applies a chained commit record at off: publishes its transaction. */
static int scan_commit(scan *s, const wal_fhdr *h, uint64_t off,
                       uint64_t pending, wal_recovery *rec, cd_diag *diag) {
    wal *w = s->w;
    uint64_t published =
        atomic_load_explicit(&w->max_frame, memory_order_relaxed);
    if (h->txn <= w->last_txn || h->pgno != pending ||
        (pending && w->txn != h->txn))
        return CD_CORRUPT(diag, "log commit record breaks the txn rules", off);
    wal_index_publish(w, published, w->nframes);
    /* Release: pairs with wal_max_frame's acquire (as at commit). */
    atomic_store_explicit(&w->max_frame, w->nframes, memory_order_release);
    w->last_txn = h->txn;
    w->txn = 0;
    w->txns++;
    w->commit_end = off + WAL_FRAME_HDR_SIZE + h->len;
    w->commit_chain = h->checksum;
    if (rec) {
        const uint8_t *p;
        int rc = window(s, off, WAL_FRAME_HDR_SIZE + h->len, &p, NULL);
        if (rc)
            return rc > 0 ? CD_EIO : rc; /* it was there a moment ago */
        rec->payload_len = h->len;
        memcpy(rec->payload, p + WAL_FRAME_HDR_SIZE, h->len);
    }
    return 0;
}

/* Adds a chained page frame at off to the transaction being read. */
static int scan_page(scan *s, const wal_fhdr *h, uint64_t off,
                     uint64_t pending, cd_diag *diag) {
    wal *w = s->w;
    if (pending ? h->txn != w->txn : h->txn <= w->last_txn)
        return CD_CORRUPT(diag, "log page frame breaks the txn rules", off);
    uint64_t frame = w->nframes + 1;
    unsigned depth = 0;
    if (h->flags == WAL_FRAME_DELTA) {
        /* a base committed before this transaction, within the depth */
        uint64_t published = atomic_load_explicit(&w->max_frame, memory_order_relaxed);
        depth = w->version >= 2 ? wal_delta_depth(w, h->base, published) : 0;
        if (!depth)
            return CD_CORRUPT(diag, "log delta frame names a bad base", off);
    }
    int rc = frame > WAL_FRAMES_MAX ? CD_ETOOBIG : wal_index_reserve(w, frame);
    if (rc)
        return rc;
    *wal_index_info(w, frame) = (wal_finfo){.offset = off, .pgno = h->pgno, .len = h->len,
                                            .base = h->base, .depth = (uint8_t)depth};
    w->nframes = frame;
    w->txn = h->txn;
    return 0;
}

/* Follows the chain; returns the offset of the first frame not valid. */
static int follow_chain(scan *s, wal_recovery *rec, cd_diag *diag,
                        uint64_t *stop, uint64_t *pending) {
    wal *w = s->w;
    uint64_t pos = WAL_HDR_AREA, chain = w->hdr_checksum;
    *pending = 0;
    for (;;) {
        wal_fhdr h;
        int rc = frame_alone(s, pos, &h);
        if (rc < 0)
            return rc;
        if (rc == 0 || h.prev != chain)
            break;
        if (h.kind == WAL_FRAME_PAGE) {
            rc = scan_page(s, &h, pos, *pending, diag);
            ++*pending;
        } else {
            rc = scan_commit(s, &h, pos, *pending, rec, diag);
            *pending = 0;
        }
        if (rc)
            return rc;
        chain = h.checksum;
        pos += WAL_FRAME_HDR_SIZE + h.len;
    }
    *stop = pos;
    return 0;
}

int wal_scan(wal *w, uint64_t file_size, wal_recovery *rec, cd_diag *diag) {
    /* The window holds the largest frame; a small log needs no more. */
    size_t cap = 2 * (WAL_FRAME_HDR_SIZE + w->page_size);
    if (file_size > cap)
        cap = file_size < SCAN_WINDOW ? (size_t)file_size : SCAN_WINDOW;
    scan s = {.w = w, .cap = cap, .fsize = file_size};
    s.buf = os_alloc(w->vfs, s.cap);
    if (!s.buf)
        return CD_ENOMEM;
    uint64_t stop = WAL_HDR_AREA, pending = 0;
    int rc = follow_chain(&s, rec, diag, &stop, &pending);
    if (rc)
        goto out;
    if (stop < file_size) {
        rc = search_durable(&s, stop);
        if (rc == 1)
            rc = CD_CORRUPT(diag, "log frame damaged before durable frames",
                            stop);
        if (rc)
            goto out;
    }
    int torn = 0;
    if (stop < file_size && (torn = zeros_to_end(&s, stop)) >= 0)
        torn = !torn;
    if (torn < 0) {
        rc = torn;
        goto out;
    }
    if (rec) {
        rec->stop_offset = stop;
        rec->stop = torn              ? WAL_STOP_TORN
                    : pending         ? WAL_STOP_UNCOMMITTED
                                      : WAL_STOP_END;
    }
    /* Frames after the last commit are dropped: the log ends there. */
    w->nframes = atomic_load_explicit(&w->max_frame, memory_order_relaxed);
    w->txn = 0;
    w->wbuf_off = w->commit_end;
    w->chain = w->commit_chain;
out:
    os_free(w->vfs, s.buf);
    return rc;
}
