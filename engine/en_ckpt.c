/*
 * en_ckpt.c: checkpoints.  Copies the newest committed image of every page
 * in the log into the main file, syncs it, writes the state into the older
 * of the two meta pages and syncs that, then resets the log once no reader
 * is still bounded by it.
 *
 * Safety: a page image in the log was written by a transaction that
 * allocated that page number, either past the old end of the file or from
 * pages no live snapshot could reach; so the old contents at that place in
 * the main file are unreachable and may be overwritten while readers run.
 * Readers that started before the checkpoint read those pages from the
 * log; the snapshot published afterwards reads them from the main file.
 * A page between two copied ones that a run of writes takes along
 * (gap_fill) is written with the bytes it already holds, read back from
 * the file just before: what a reader or a power loss finds there does
 * not change.
 * The meta is written only after the pages it names are durable, and the
 * log is reset only after the meta is.  Uses wal/, os/, codec/.
 */
#include <stdlib.h>
#include <string.h>

#include "en_int.h"

int en_meta_write(en_db *db, const en_state *st) {
    uint8_t *page = NULL;
    if (posix_memalign((void **)&page, 64, db->page_size) != 0)
        return en_fail(CD_ENOMEM, "out of memory writing the meta page");
    int slot = 1 - db->meta_slot;
    cd_meta m = {.version = CD_FORMAT_VERSION, .page_size = db->page_size,
                 .txn = st->txn, .page_count = st->page_count,
                 .catalog_root = st->catalog_root, .free_head = st->free_head,
                 .free_count = st->free_count, .db_id = st->db_id,
                 .next_txn = st->next_txn};
    cd_meta_encode(page, (uint32_t)slot, &m);
    int rc = os_write(db->file, (uint64_t)slot * db->page_size, page, db->page_size);
    free(page);
    if (rc)
        return en_latch(db, rc, "writing the meta page");
    if (db->opt.sync != EN_SYNC_OFF && (rc = os_sync(db->file)) != 0)
        return en_latch(db, rc, "syncing the main file");
    db->meta_slot = slot;
    db->ckpt_txn = st->txn;
    return 0;
}

/*
 * The checkpoint writes runs of consecutive pages with one write each, up
 * to this many bytes.  Measured on ext4 (2-vCPU KVM guest, Linux 6.18):
 * writing 94 MiB to a new file took 100-110 ms in 4 KiB writes and 27-31
 * ms in 128 KiB ones, and its fdatasync 80-107 against 47-49 ms: the page
 * cache then holds the data in large folios, not a folio per page.
 */
#define CKPT_RUN_BYTES ((size_t)256 << 10)

/*
 * Pages a checkpoint copies are often a few pages apart: after random
 * updates each commit's copies take freed pages scattered over the file,
 * and a page between two of them is one the log does not hold.  The run
 * then takes up to CKPT_GAP_PAGES such pages as they are in the file (read
 * back and written again unchanged) rather than end: one write instead of
 * two.  Measured here (ext4, 2-vCPU KVM guest) on a 25,000-page file in
 * the page cache, writing a random 64% of its pages, each run's range
 * then handed to the device and the file synced: one 4 KiB write a page
 * 75-238 ms, runs over gaps of up to 3 pages 37-43 ms for 1.5 times the
 * bytes; a random 25%: 58-97 ms against 46 ms over gaps of up to 8.  A
 * page written again holds the bytes it held, so a reader of it, or a
 * power loss during its write, finds what it would have found anyway.
 */
#define CKPT_GAP_PAGES 8u

typedef struct ckpt_run {
    uint8_t *buf;  /* room for max pages */
    uint8_t *gap;  /* per page of buf: 1 if read from the file, not the log */
    uint32_t max;  /* pages per run */
    uint32_t first; /* page number of buf's first page */
    uint32_t n;    /* pages in buf */
    en_wbrange wb; /* handed to the device as it goes, like a load's pages */
} ckpt_run;

/* Writes the run to its place in the main file; the cache's images of the
 * main file's old pages there leave after the write (a reader may have
 * cached one until then). */
static int run_write(en_db *db, ckpt_run *r) {
    if (r->n == 0)
        return 0;
    uint64_t off = (uint64_t)r->first * db->page_size, len = (uint64_t)r->n * db->page_size;
    int rc = os_write(db->file, off, r->buf, len);
    if (rc == 0)
        en_writeback_now(db, &r->wb, off, len);
    for (uint32_t i = 0; i < r->n; i++) {
        if (r->gap[i]) /* unchanged, and checked or not as before */
            continue;
        if (rc == 0) /* verified images, written whole */
            en_map_verified(db, r->first + i);
        if (db->cache)
            en_cache_forget(db, db->cache, r->first + i, 0);
    }
    r->n = 0;
    return rc ? en_latch(db, rc, "checkpoint: writing the main file") : 0;
}

/* Extends the run over the file's own pages up to pgno, if they are few
 * and fit it, so that pgno follows it (*filled); a failed read of them
 * fails the checkpoint. */
static int gap_fill(en_db *db, ckpt_run *r, uint32_t pgno, uint32_t file_pages, int *filled) {
    uint32_t P = db->page_size, next = r->first + r->n, gap = pgno - next;
    *filled = 0;
    if (r->n == 0 || pgno <= next || gap > CKPT_GAP_PAGES || r->n + gap >= r->max ||
        pgno > file_pages)
        return 0;
    size_t got = 0;
    int rc = os_read(db->file, (uint64_t)next * P, r->buf + (size_t)r->n * P, (size_t)gap * P,
                     &got);
    if (rc)
        return en_fail(rc, "checkpoint: reading pages %u-%u: %s", next, pgno - 1,
                       os_file_error(db->file));
    if (got != (size_t)gap * P)
        return 0; /* the run ends here */
    memset(r->gap + r->n, 1, gap);
    r->n += gap;
    *filled = 1;
    return 0;
}

/* Copies frames 1..max_frame into the main file and syncs it.  The log's
 * iterator yields one frame a page, in page order, so pages that follow
 * one another in the file are gathered into runs. */
static int copy_frames(en_db *db, uint64_t max_frame) {
    uint32_t P = db->page_size;
    wal_ckpt *it;
    ckpt_run r = {.max = CKPT_RUN_BYTES > P ? (uint32_t)(CKPT_RUN_BYTES / P) : 1};
    /* the pages a gap may take: the file only grows, so what it held at
     * its last extension it holds now */
    uint32_t file_pages = atomic_load_explicit(&db->file_pages, memory_order_relaxed);
    int rc = wal_checkpoint_begin(db->wal, max_frame, &it);
    if (rc)
        return en_fail(rc, "starting a checkpoint");
    if (posix_memalign((void **)&r.buf, 64, (size_t)r.max * P) != 0 ||
        !(r.gap = malloc(r.max))) {
        free(r.buf);
        wal_checkpoint_end(it);
        return en_fail(CD_ENOMEM, "out of memory for a checkpoint");
    }
    wal_frame_ref ref;
    while (rc == 0 && wal_checkpoint_next(it, &ref) == 1) {
        cd_diag d = {0};
        if (ref.frame <= db->ckpt_frame)
            continue; /* copied by an earlier checkpoint of this generation */
        int filled = 0;
        if (r.n && (r.n == r.max || ref.pgno != r.first + r.n) &&
            ((rc = gap_fill(db, &r, ref.pgno, file_pages, &filled)) != 0 ||
             (!filled && (rc = run_write(db, &r)) != 0)))
            break;
        if (r.n == 0)
            r.first = ref.pgno;
        r.gap[r.n] = 0;
        uint8_t *slot = r.buf + (size_t)r.n * P;
        /* The cache's image of the frame, verified when it was read (or
         * the writer's own): none to read back, nor a delta's chain. */
        const uint8_t *img = db->cache ? en_cache_get(db->cache, ref.pgno, ref.frame) : NULL;
        if (img) {
            memcpy(slot, img, P);
        } else if ((rc = wal_read_page(db->wal, &ref, slot, NULL, &d)) != 0) {
            rc = en_fail(rc, "checkpoint: reading page %u from the log: %s", ref.pgno,
                         d.what ? d.what : en_code_name(rc));
            break;
        }
        en_map_invalidate(db, ref.pgno); /* before its bytes change */
        r.n++;
    }
    if (rc == 0)
        rc = run_write(db, &r);
    wal_checkpoint_end(it);
    free(r.buf);
    free(r.gap);
    uint64_t size = 0, want = (uint64_t)db->state.page_count * db->page_size;
    if (rc == 0 && (rc = os_size(db->file, &size)) == 0 && size < want)
        rc = os_truncate(db->file, want); /* pages never written read as holes */
    if (rc == 0 && db->opt.sync != EN_SYNC_OFF && (rc = os_sync(db->file)) != 0)
        return en_latch(db, rc, "checkpoint: syncing the main file");
    if (rc == 0) /* before the publish that sends readers to these pages */
        en_map_extend(db, (uint32_t)((size > want ? size : want) / db->page_size));
    return rc;
}

static int checkpoint(en_db *db, int trim);
int en_checkpoint_locked(en_db *db) { return checkpoint(db, 0); }

/*
 * trim: an explicit checkpoint also gives the log's space back to the file
 * system (truncates it to its header); automatic ones keep up to the log
 * option's reset_keep_bytes for reuse, which saves growing it again.
 */
static int checkpoint(en_db *db, int trim) {
    if (atomic_load(&db->latched))
        return en_fail(CD_EREOPEN, "a sync failed earlier: close and reopen the database");
    uint64_t max_frame = wal_max_frame(db->wal);
    int rc = 0;
    if (max_frame && db->ckpt_txn != db->state.txn) {
        /* NORMAL syncs the log here, so it is durable no later than the
         * main file that now depends on it. */
        if (db->opt.sync == EN_SYNC_NORMAL && (rc = wal_sync(db->wal)) != 0)
            return en_latch(db, rc, "syncing the log");
        if ((rc = copy_frames(db, max_frame)) != 0)
            return rc;
        if ((rc = en_meta_write(db, &db->state)) != 0)
            return rc;
        db->ckpt_frame = max_frame;
        db->ckpt_log_bytes = en_log_bytes(db);
        db->n_checkpoints++;
        /* From here on new readers find every page in the main file. */
        if ((rc = en_publish(db, &db->state, 0)) != 0)
            return rc;
    }
    uint64_t with_frames;
    en_readers_active(db, &with_frames);
    if (max_frame && with_frames == 0 && db->ckpt_txn == db->state.txn) {
        /* Pages of a group not yet logged name their bases by frame
         * numbers of this generation (en_buf): none may outlive it. */
        ISLE_ASSERT(db->group_unlogged == 0);
        db->nsuperseded = 0; /* keys of this generation's frames */
        if (db->cache)
            en_cache_forget_log(db, db->cache);
        rc = trim ? wal_reset_keep(db->wal, 0) : wal_reset(db->wal);
        if (rc)
            return en_latch(db, rc, "resetting the log");
        db->ckpt_frame = 0;
        db->ckpt_log_bytes = en_log_bytes(db);
        rc = en_publish(db, &db->state, 0);
    }
    return rc;
}

int en_checkpoint(en_db *db) { return en_checkpoint_ex(db, 0); }

int en_checkpoint_ex(en_db *db, int trim) {
    if (!db)
        return en_fail(CD_EINVAL, "en_checkpoint: NULL handle");
    if (en_writing == db)
        return en_fail(CD_EBUSY, "checkpoint inside a write transaction");
    pthread_mutex_lock(&db->write_lock);
    int rc = checkpoint(db, trim);
    pthread_mutex_unlock(&db->write_lock);
    return rc;
}
