/*
 * wal_int.h: the log's internals, shared by the wal_*.c files: the handle,
 * the index segments, and the frame and header codec.  Nothing here is
 * seen outside wal/.
 *
 * File layout while appending (offsets in the log file):
 *
 *   1024          commit_end              wbuf_off       wbuf_off+wbuf_len
 *   | committed frames |  frames of the txn in progress  |
 *                      |  written (buffer was full) | in wbuf, not written |
 *
 * commit_end is where the next transaction starts if the current one is
 * discarded; chain is the own checksum of the last frame appended and
 * commit_chain that of the last commit record (or the header's).
 */
#ifndef ISLE_WAL_INT_H
#define ISLE_WAL_INT_H

#include <stdatomic.h>

#include "wal.h"

/* ---- frame and header codec (wal_frame.c) ----------------------------- */

typedef struct wal_hdr {
    uint32_t version;
    uint32_t page_size;
    uint64_t salt;
    uint64_t generation;
    uint64_t checksum;
} wal_hdr;

/* Encodes h (computing its checksum into h->checksum) into dst[0, 48). */
void wal_hdr_encode(uint8_t *dst, wal_hdr *h);
/*
 * Decodes one header copy.  Returns 0, CD_ECORRUPT (magic or checksum
 * wrong) or CD_EVERSION (valid but newer).  Does not judge the page size.
 */
int wal_hdr_decode(const uint8_t *src, wal_hdr *h);

typedef struct wal_fhdr {
    uint8_t kind;
    uint8_t flags;
    uint32_t len;     /* payload length */
    uint64_t salt;
    uint64_t txn;
    uint32_t pgno;    /* page number, or frame count of a commit record */
    uint32_t hole;    /* WAL_FRAME_HOLE: the hole's offset */
    uint32_t base;    /* WAL_FRAME_DELTA: the base frame (same header bytes) */
    uint64_t synced;  /* synced-through offset */
    uint64_t prev;    /* previous checksum */
    uint64_t checksum;
} wal_fhdr;

/* Encodes the header fields of h into dst[0, 56), checksum included. */
void wal_fhdr_encode(uint8_t *dst, const wal_fhdr *h);
/*
 * Decodes a frame header and checks the rules that need no payload:
 * kind, flags, reserved bytes, length against page size P.  0 or
 * CD_ECORRUPT.  (A delta's base against the log is the caller's check.)
 */
int wal_fhdr_decode(const uint8_t *src, uint32_t page_size, wal_fhdr *h);
/* The own checksum of a frame: header bytes [0, 48) then the payload. */
uint64_t wal_frame_checksum(const uint8_t *hdr, const uint8_t *payload,
                            uint32_t len, uint64_t salt);

/* ---- the index (wal_index.c) ------------------------------------------ */

/* Where a page frame is; written before the frame is published. */
typedef struct wal_finfo {
    uint64_t offset;
    uint32_t pgno;
    uint32_t len;
    /* The frame before this one of the same page in the segment, as a
     * slot value (0: none): set when the frame is published. */
    uint32_t prev;
    uint32_t base;  /* a delta's base frame, else 0 */
    uint8_t depth;  /* deltas to rebuild the page through (wal.h) */
} wal_finfo;

typedef struct wal_seg {
    wal_finfo info[WAL_SEG_FRAMES];
    /* 0: empty; k: frame (segment base + k), i.e. info[k - 1], the
     * newest published frame of its page in the segment. */
    _Atomic uint16_t slot[WAL_SEG_SLOTS];
} wal_seg;

/* Makes sure the segment for frame number frame exists: CD_ENOMEM. */
int wal_index_reserve(wal *w, uint64_t frame);
/* The position record of a reserved frame (writer only). */
wal_finfo *wal_index_info(wal *w, uint64_t frame);
/* Publishes frames (from, to] in the hash tables (release stores). */
void wal_index_publish(wal *w, uint64_t from, uint64_t to);
/* Empties the index (no reader may use it: see wal_reset). */
void wal_index_clear(wal *w);
/* Frees the segments. */
void wal_index_free(wal *w);

/*
 * The depth a delta frame over frame `base` would have, or 0 if base cannot
 * be its base: 0, not among the first `published` (committed) frames, or
 * already at WAL_DELTA_DEPTH_MAX.
 */
unsigned wal_delta_depth(wal *w, uint64_t base, uint64_t published);

/* ---- the handle ------------------------------------------------------- */

struct wal_rctx {
    void *dctx;     /* ZSTD_DCtx, created on the first compressed frame */
    uint8_t *frame; /* WAL_FRAME_HDR_SIZE + P bytes */
};

struct wal {
    os_vfs *vfs;
    os_file *file;
    wal_options opt;
    uint32_t page_size;

    /* Header of the current generation (changed only by open and reset). */
    uint64_t salt;
    uint64_t generation;
    uint64_t hdr_checksum;
    uint32_t version; /* the header's format version */

    /* Writer state (the appending thread only). */
    uint8_t *wbuf;
    size_t wbuf_cap;
    size_t wbuf_len;
    uint64_t wbuf_off;     /* file offset of wbuf[0] */
    uint64_t wb_from;      /* written bytes from here on await a writeback
                              hint (opt.writeback_bytes) */
    uint64_t commit_end;   /* end of the last commit record */
    uint64_t chain;        /* own checksum of the last frame appended */
    uint64_t commit_chain; /* ... of the last commit record */
    uint64_t synced_end;   /* bytes below this are durable */
    uint64_t file_end;     /* the file's written length, zeros included */
    uint64_t txn;          /* transaction in progress, 0 if none */
    uint64_t nframes;      /* page frames appended, uncommitted included */
    uint64_t last_txn;     /* last committed transaction */
    uint64_t txns;         /* committed transactions in this generation */
    int latched;           /* a sync (or reset) failed */
    void *cctx;            /* ZSTD_CCtx when compressing */
    wal_rctx own;          /* the writer's read context */
    wal_stats stats;

    /*
     * Published to readers.  max_frame: release-stored by the writer after
     * a commit's slots; acquire-loaded by wal_max_frame.  seg[i]: release-
     * stored when a segment is allocated, acquire-loaded by wal_find.
     */
    _Atomic uint64_t max_frame;
    _Atomic(wal_seg *) seg[WAL_SEGS_MAX];
};

/* Writes and syncs both header copies of the current generation. */
int wal_write_header(wal *w);
/* Points the writer state and the index at an empty generation. */
void wal_start_generation(wal *w);

/* Recovery scan of an opened log with a valid header (wal_scan.c). */
int wal_scan(wal *w, uint64_t file_size, wal_recovery *rec, cd_diag *diag);

/* zstd contexts through the vfs allocator (wal_read.c). */
void *wal_zstd_cctx_new(wal *w);
void wal_zstd_cctx_free(void *cctx);
void wal_rctx_release(wal *w, wal_rctx *r);

#endif /* ISLE_WAL_INT_H */
