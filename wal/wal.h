/*
 * wal.h: the write-ahead log `x.isle-wal`.  The engine appends the page
 * images of a transaction and then its commit record; a transaction is
 * committed once its commit record is in the log, durable once a later
 * wal_sync returned 0.  An index maps each page number to the newest
 * committed frame holding it, so the pager reads pages from the log until
 * a checkpoint copies them into the main file and resets the log.
 * Uses os (all file I/O, buffers) and codec (checksums, little-endian).
 *
 * FORMAT VERSION 2 (WAL_FORMAT_VERSION).  All integers little-endian.
 * Version 2 added delta page frames (WAL_FRAME_DELTA); a version 1 log is
 * read as before, and gets delta frames only once a reset has rewritten
 * its header as version 2.
 * P is the database's page size.  The file is a header area of 1024 bytes
 * followed by frames, back to back from offset 1024, then zeros: the file
 * grows ahead of the log in steps of WAL_GROW_STEP written zeros, so that
 * commits write into blocks that already exist (wal_append.c).  Bytes
 * after the log's end may also be frames of an older generation, when a
 * reset kept the file.
 *
 * Header area: two copies of the header, at offsets 0 and 512, each in its
 * own 512-byte sector, written together and synced at creation and at every
 * reset.  A write torn at a sector boundary leaves at least one valid copy,
 * the old or the new; the valid copy with the larger generation is the
 * header.  Bytes of each sector after the copy are zero.
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      8    magic 69 73 6c 65 2d 77 61 6c ("isle-wal")
 *   8      4    format version (1)
 *   12     4    page size P
 *   16     8    salt: random, new at every reset
 *   24     8    generation: 1 at creation, +1 at every reset
 *   32     8    reserved, zero
 *   40     8    checksum: XXH3-64, seed 0, of bytes [0, 40)
 *
 * Frame: a 56-byte frame header, then L payload bytes.
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      1    kind: 'P' 0x50 page image, 'C' 0x43 commit record
 *   1      1    flags, page frames only (a commit record's are zero),
 *               at most one bit set:
 *               bit 0 WAL_FRAME_ZSTD: the payload is one zstd frame that
 *               decompresses to the P-byte page;
 *               bit 1 WAL_FRAME_HOLE: the payload is the page without
 *               one run of zero bytes, the hole: page bytes [0, H) then
 *               [H + P - L, P), with H at offset 28 and the hole's
 *               P - L bytes all zero;
 *               bit 2 WAL_FRAME_DELTA (version 2): the page is the image
 *               of an earlier page frame, the base B (offset 28), with the
 *               payload's runs written over it (below);
 *               other bits zero
 *   2      2    reserved, zero
 *   4      4    payload length L: page frame, P (raw) or 1..P-1 (zstd,
 *               hole, delta: at least 5); commit record,
 *               0..WAL_COMMIT_PAYLOAD_MAX
 *   8      8    salt: the header's salt
 *   16     8    transaction id, > 0
 *   24     4    page frame: page number; commit record: number of page
 *               frames of the transaction (those right before it)
 *   28     4    hole offset H (WAL_FRAME_HOLE, H <= L); base frame
 *               number B (WAL_FRAME_DELTA, B >= 1); otherwise zero
 *   32     8    synced-through: the log offset below which every byte had
 *               been made durable (by wal_sync, or at open or reset) when
 *               this frame was written; <= this frame's own offset
 *   40     8    previous checksum: the own checksum of the frame before
 *               this one, or the header's checksum for the first frame
 *   48     8    own checksum: XXH3-64 of bytes [0, 48) (seed: the salt),
 *               used as the seed of XXH3-64 over the payload
 *   56     L    payload: the page image, or the commit payload (opaque to
 *               the log: the engine's new meta)
 *
 * Delta payload: one or more runs back to back, filling exactly L bytes,
 * each a u16 page offset O, a u16 length N >= 1, then the N bytes that
 * replace page bytes [O, O + N) of the base's image.  Runs ascend and do
 * not overlap (each O at or past the previous O + N), and O + N <= P.
 * The base B is a page frame of an earlier committed transaction of this
 * generation, of any page number (the engine copies a page to a new
 * number when it changes it), and may itself be a delta: a frame's depth
 * is 0 for the other kinds and the base's depth + 1 for a delta, at most
 * WAL_DELTA_DEPTH_MAX, so a page is rebuilt from at most that many deltas
 * over one whole image.  A delta frame in a version 1 log, or one whose
 * base breaks these rules, is CD_ECORRUPT (a valid chain is what we
 * wrote); runs that break them are found when the page is read
 * (CD_ECORRUPT there).
 *
 * Validity.  A header copy is valid iff its magic and checksum match; a
 * valid header with a larger version is CD_EVERSION, one with another
 * page size is CD_ECORRUPT.  A frame is valid *alone* iff its kind, flags,
 * reserved bytes and length obey the table, its salt equals the header's,
 * its synced-through is <= its own offset, and its own checksum matches.
 * A frame is valid *in the log* iff it is valid alone and its previous
 * checksum equals the own checksum of the valid frame before it (the
 * header's checksum for the first frame).  So a frame of an older
 * generation (other salt) or one out of order breaks the chain.  A
 * transaction is committed iff a valid commit record follows its page
 * frames: same transaction id, frame count equal to their number, and an
 * id larger than the previous committed one's.  (Chained frames violating
 * these transaction rules are CD_ECORRUPT: a valid chain is what we wrote.)
 *
 * Recovery (wal_open) follows the chain from offset 1024 and indexes the
 * frames of each committed transaction, in order; frames after the last
 * commit record are discarded.  At the first frame X that is not valid in
 * the log it searches the rest of the file for frames valid alone:
 *   - if one of them has synced-through > X, the bytes at X had been made
 *     durable before it was written, so their damage is not a torn write:
 *     CD_ECORRUPT, with X in the diag;
 *   - otherwise X is the torn tail of the last writes before a crash (or
 *     the end of a shorter new generation over an older one): the log ends
 *     at the last commit before X, and the next append overwrites it.
 * Writes issued between two syncs may reach the disk in any order and
 * torn, which is why "a valid frame follows" alone cannot mean corruption;
 * synced-through tells which frames were written after X was durable.  The
 * one damage this cannot see is damage inside the last group of writes
 * before a crash that no later frame proves durable: such a group is
 * treated as torn, as SQLite treats every invalid frame.
 *
 * The index.  Page frames are numbered 1, 2, ... within a generation in
 * log order (commit records have no number).  A reader bounds its view by
 * the frame count it captured at its snapshot start (wal_max_frame, like
 * SQLite's mxFrame): wal_find(pgno, max_frame) returns the newest frame of
 * pgno numbered <= max_frame.  The index is a list of segments of
 * WAL_SEG_FRAMES frames; each segment holds the frames' positions (plain
 * data, written before publication) and an open-addressing hash table of
 * _Atomic 16-bit slots, one slot per page: it holds the page's newest
 * frame in the segment, and each frame's position links to the page's
 * frame before it.  A page rewritten by every commit thus costs a lookup
 * one probe, not one per version, and a reader bounded at an older point
 * still finds the version it must see by following the links.  The
 * writer (the only thread that inserts) links and stores a transaction's
 * slots with release stores when its commit record has been written,
 * then publishes the new frame count with a release store; a reader's
 * acquire loads of the segment pointer and of each slot make the
 * positions they cover, and the older ones they link to, visible.  A
 * lookup probes the segments from the one holding max_frame down to the
 * first, and returns the largest matching frame <= max_frame.  Nothing is
 * freed or reused until wal_reset, which the engine calls only when no
 * reader bounded by a non-zero max_frame remains (readers with max_frame
 * 0 never touch the index).
 */
#ifndef ISLE_WAL_H
#define ISLE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "cd_base.h"
#include "os.h"

#define WAL_FORMAT_VERSION 2u
#define WAL_FORMAT_VERSION_MIN 1u /* the oldest version still read */
#define WAL_MAGIC "isle-wal"
#define WAL_MAGIC_SIZE 8u

#define WAL_HDR_SIZE 48u
#define WAL_HDR_OFF_MAGIC 0u
#define WAL_HDR_OFF_VERSION 8u
#define WAL_HDR_OFF_PAGE_SIZE 12u
#define WAL_HDR_OFF_SALT 16u
#define WAL_HDR_OFF_GENERATION 24u
#define WAL_HDR_OFF_RESERVED 32u
#define WAL_HDR_OFF_CHECKSUM 40u
#define WAL_HDR_COPY_STRIDE 512u /* copy i at i * stride */
#define WAL_HDR_AREA 1024u       /* first frame offset */
_Static_assert(WAL_HDR_OFF_CHECKSUM + 8 == WAL_HDR_SIZE, "header is 48 bytes");
_Static_assert(WAL_HDR_SIZE <= WAL_HDR_COPY_STRIDE, "a copy fits its sector");
_Static_assert(2 * WAL_HDR_COPY_STRIDE == WAL_HDR_AREA, "two copies");

#define WAL_FRAME_HDR_SIZE 56u
#define WAL_FRAME_OFF_KIND 0u
#define WAL_FRAME_OFF_FLAGS 1u
#define WAL_FRAME_OFF_RESERVED0 2u
#define WAL_FRAME_OFF_LEN 4u
#define WAL_FRAME_OFF_SALT 8u
#define WAL_FRAME_OFF_TXN 16u
#define WAL_FRAME_OFF_PGNO 24u /* frame count in a commit record */
#define WAL_FRAME_OFF_HOLE 28u /* zero unless WAL_FRAME_HOLE */
#define WAL_FRAME_OFF_SYNCED 32u
#define WAL_FRAME_OFF_PREV 40u
#define WAL_FRAME_OFF_CHECKSUM 48u
_Static_assert(WAL_FRAME_OFF_CHECKSUM + 8 == WAL_FRAME_HDR_SIZE,
               "frame header is 56 bytes");

/* Frame kinds and flags.  Written to disk: never renumber. */
#define WAL_FRAME_PAGE 0x50u   /* 'P' */
#define WAL_FRAME_COMMIT 0x43u /* 'C' */
#define WAL_FRAME_ZSTD 0x01u
#define WAL_FRAME_HOLE 0x02u
#define WAL_FRAME_DELTA 0x04u
/* Deltas a page may be rebuilt through (format: readers reject more). */
#define WAL_DELTA_DEPTH_MAX 8u
/* A delta run's header: u16 offset, u16 length. */
#define WAL_DELTA_RUN_HDR 4u
/* With zstd off, a page with no run of zero bytes this long (its
 * layout's free gap, or its longest run in aligned 8-byte words) is
 * stored raw. */
#define WAL_HOLE_MIN 64u

/* Largest commit payload (the engine's meta for the transaction). */
#define WAL_COMMIT_PAYLOAD_MAX 256u

/* Index segments: frames per segment, hash slots per segment, segments. */
#define WAL_SEG_FRAMES 4096u
#define WAL_SEG_SLOTS 8192u
#define WAL_SEGS_MAX 4096u
/* Page frames one generation can hold (then CD_ETOOBIG: checkpoint). */
#define WAL_FRAMES_MAX ((uint64_t)WAL_SEG_FRAMES * WAL_SEGS_MAX)
_Static_assert(WAL_SEG_SLOTS >= 2 * WAL_SEG_FRAMES, "load factor <= 1/2");
_Static_assert(WAL_SEG_FRAMES <= 65535u, "slots hold 16-bit frame indexes");

typedef struct wal wal;

typedef struct wal_options {
    uint32_t page_size;        /* P: a valid page size (cd_page.h) */
    int compress_level;        /* 0: store pages raw; 1..19: zstd level */
    size_t write_buffer_bytes; /* frames are written in pieces this big */
    uint64_t reset_keep_bytes; /* wal_reset truncates a larger file */
    uint64_t writeback_bytes;  /* 0, or hand each this many bytes written
                                  to the device at once (os_writeback), so
                                  that a later wal_sync finds them written */
} wal_options;

/*
 * Defaults.  Compression is off: measured on 4 KiB B+tree pages built with
 * the page codec (tests/wal/test_wal_zstd.c), zstd level 1 shrinks leaves
 * 3.0x (full) to 5.3x (half full) and branches 2.7x for 12-35 us of writer
 * CPU per page (level 3: the same ratio, 10-50% slower), while a commit's
 * write + fdatasync on this machine costs 0.1-6 ms almost regardless of
 * its size between 4 KiB and 1 MiB.  So compression does not shorten
 * commits here (a 256-page commit spends 3-9 ms compressing); it saves log
 * space and write bandwidth.  Level 1 is the level to use when it is on.
 */
#define WAL_DEFAULT_COMPRESS_LEVEL 0
#define WAL_DEFAULT_WRITE_BUFFER (1u << 20)
#define WAL_DEFAULT_RESET_KEEP (64ull << 20)
/* The file grows in steps of zeros written ahead of the log (wal_append.c). */
#define WAL_GROW_STEP (1u << 20)

/* Fills *opt with the defaults for page size page_size. */
void wal_options_init(wal_options *opt, uint32_t page_size);

/* How the recovery scan of wal_open ended. */
enum wal_stop {
    WAL_STOP_END,         /* the last frame ended at the end of the file, or
                             where only zeros (the file's growth) follow */
    WAL_STOP_UNCOMMITTED, /* valid frames after the last commit: dropped */
    WAL_STOP_TORN,        /* an invalid frame that no durable frame follows */
};

/* What wal_open found in the log. */
typedef struct wal_recovery {
    int created;            /* 1 if the log was created or re-initialised */
    uint64_t generation;
    uint64_t txns;          /* committed transactions indexed */
    uint64_t frames;        /* committed page frames indexed */
    uint64_t last_txn;      /* id of the last committed one, 0 if none */
    uint64_t bytes;         /* log end: offset after the last commit */
    uint64_t stop_offset;   /* where the valid chain ended */
    uint64_t file_bytes;    /* size of the file found */
    enum wal_stop stop;
    uint32_t payload_len;   /* commit payload of the last committed txn */
    uint8_t payload[WAL_COMMIT_PAYLOAD_MAX];
} wal_recovery;

/* Where a committed frame is: from wal_find, for wal_read_page. */
typedef struct wal_frame_ref {
    uint64_t frame;  /* frame number, 1-based in this generation */
    uint64_t offset; /* of its frame header in the file */
    uint32_t pgno;
    uint32_t len;    /* stored payload length */
} wal_frame_ref;

/* Counters since open (writer thread). */
typedef struct wal_stats {
    uint64_t page_frames;       /* page frames appended */
    uint64_t commits;
    uint64_t compressed_frames; /* page frames stored compressed (zstd) */
    uint64_t hole_frames;       /* page frames stored without their hole */
    uint64_t delta_frames;      /* page frames stored as a delta */
    uint64_t page_bytes_stored; /* payload bytes of page frames */
    uint64_t writes;            /* os_write calls */
    uint64_t write_bytes;
    uint64_t syncs;
} wal_stats;

/*
 * Opens (creating if missing) the log at path and recovers it: see the
 * header comment.  On success *out is the log, and *rec (if non-NULL) says
 * what was found; the recovered log has been synced once.  Returns
 * CD_EINVAL (bad options), CD_ENOMEM, CD_EIO / CD_EFULL (I/O, with the text
 * in diag->what when diag is given), CD_ENOTDB (a file that is not a log),
 * CD_EVERSION, CD_ECORRUPT (diag: what and the file offset).
 */
int wal_open(os_vfs *vfs, const char *path, const wal_options *opt,
             wal **out, wal_recovery *rec, cd_diag *diag);
/* Closes the log, discarding an uncommitted transaction.  Does not sync. */
int wal_close(wal *w);

/*
 * Appends page image page[0, P) of page pgno (whose header must say pgno)
 * to transaction txn.  The first append after a commit starts a new
 * transaction, whose id must be larger than the last committed one; later
 * ones must give the same id.  Frames are buffered and written when the
 * buffer fills or at commit.  On any error the transaction's frames are
 * discarded (as wal_abort) and the caller rolls back.  Returns CD_EINVAL
 * (bad txn, pgno or page), CD_ETOOBIG (WAL_FRAMES_MAX: checkpoint first),
 * CD_ENOMEM, CD_EIO / CD_EFULL (write), CD_EREOPEN (latched).
 */
int wal_append_page(wal *w, uint64_t txn, uint32_t pgno, const void *page);
/*
 * The same, and *ref tells where the frame is, so the writer can read the
 * page back before its transaction commits (wal_read_page, after
 * wal_flush has written the buffer): how a transaction larger than memory
 * spills pages.  Frames of the open transaction are not in the index.
 */
int wal_append_page_ref(wal *w, uint64_t txn, uint32_t pgno, const void *page,
                        wal_frame_ref *ref);
/*
 * The same, storing the page as a delta against committed frame base when
 * that takes at most half the bytes of storing it whole: base_page must be
 * the image wal_read_page gives for that frame (the caller keeps such
 * images; the log reads nothing back).  A base of 0, one not committed in
 * this generation or already at WAL_DELTA_DEPTH_MAX, or a version 1 log,
 * stores the page as wal_append_page_ref does.  Errors as wal_append_page.
 */
int wal_append_page_delta(wal *w, uint64_t txn, uint32_t pgno, const void *page,
                          uint64_t base, const void *base_page,
                          wal_frame_ref *ref);
/* Writes the buffered frames of the open transaction to the file (no
 * sync).  On failure the transaction is discarded, as wal_append_page. */
int wal_flush(wal *w);
/*
 * Appends the commit record of txn with payload[0, len) (len <=
 * WAL_COMMIT_PAYLOAD_MAX; a transaction may have no pages), writes every
 * buffered frame, and publishes the transaction's frames in the index
 * (wal_max_frame grows).  Does not sync.  Errors as wal_append_page; on a
 * write error nothing is published and the transaction is discarded.
 */
int wal_append_commit(wal *w, uint64_t txn, const void *payload, uint32_t len);
/* Discards the frames of the transaction in progress, if any. */
void wal_abort(wal *w);
/*
 * Makes every committed frame durable: one sync of the log.  A failed sync
 * returns its status and latches the log: every later append, commit, sync
 * or reset returns CD_EREOPEN (reads still work).
 */
int wal_sync(wal *w);

/* Committed page frames (acquire: pairs with the commit's release). */
uint64_t wal_max_frame(const wal *w);
/* Id of the last committed transaction (writer thread). */
uint64_t wal_last_txn(const wal *w);
/* Bytes of the log: header area plus committed frames. */
uint64_t wal_size_bytes(const wal *w);
/* 1 if a failed sync or reset latched the log. */
int wal_latched(const wal *w);
void wal_get_stats(const wal *w, wal_stats *out);

/*
 * Finds the newest frame of pgno numbered <= max_frame.  Returns 0 and
 * fills *ref, or CD_ENOTFOUND.  Lock-free; any thread.
 */
int wal_find(const wal *w, uint32_t pgno, uint64_t max_frame,
             wal_frame_ref *ref);

/*
 * A reader's context for wal_read_page: a frame buffer and a zstd
 * decompression context.  One per thread; NULL in wal_read_page uses the
 * log's own, for the writer thread only.
 */
typedef struct wal_rctx wal_rctx;
int wal_rctx_new(wal *w, wal_rctx **out);
void wal_rctx_free(wal *w, wal_rctx *r);
/*
 * Reads the page of ref into page[0, P), verifying everything: the frame's
 * salt, kind and length, its own checksum, the decompressed size and that
 * the image's header names ref->pgno.  A delta frame is rebuilt from its
 * chain of bases, each frame verified the same way, and its runs checked
 * against the format.  Returns 0, CD_ECORRUPT (diag set), CD_ENOMEM,
 * CD_EIO.
 */
int wal_read_page(wal *w, const wal_frame_ref *ref, void *page,
                  wal_rctx *rctx, cd_diag *diag);

/*
 * Checkpoint hand-off: the newest frame of every page among frames
 * 1..max_frame (<= wal_max_frame), in ascending page order; any thread
 * that loaded max_frame from wal_max_frame.  next returns 1 with *ref filled,
 * 0 at the end.  The iterator is a snapshot: appends may continue.
 */
typedef struct wal_ckpt wal_ckpt;
int wal_checkpoint_begin(wal *w, uint64_t max_frame, wal_ckpt **out);
int wal_checkpoint_next(wal_ckpt *it, wal_frame_ref *ref);
void wal_checkpoint_end(wal_ckpt *it);

/*
 * Starts a new generation once the engine has written every committed page
 * into the main file and synced it: a new salt, the header rewritten and
 * synced, the index cleared, the file truncated to the header area if it
 * is larger than reset_keep_bytes (else reused: its old frames can never
 * pass the new salt).  No reader may be bounded by a non-zero max_frame.
 * Returns CD_EBUSY (a transaction is in progress), CD_EREOPEN (latched),
 * or an I/O status; a failure after the truncation latches the log.
 */
int wal_reset(wal *w);
/* The same, truncating the file when it is larger than keep_bytes (0:
 * always), instead of the option's reset_keep_bytes. */
int wal_reset_keep(wal *w, uint64_t keep_bytes);

/* Checks the log's invariants: 0 or CD_EINVAL.  For tests and debug. */
int wal_check(const wal *w);

#endif /* ISLE_WAL_H */
