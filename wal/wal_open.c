/*
 * wal_open.c: options, opening (choosing the header copy, creating or
 * re-initialising a log that holds no frames, running the recovery scan,
 * one sync) and closing.  Uses os and codec; wal_scan.c does the scan.
 */
#include <stdio.h>

#include "cd_page.h"
#include "wal_int.h"

void wal_options_init(wal_options *opt, uint32_t page_size) {
    opt->page_size = page_size;
    opt->compress_level = WAL_DEFAULT_COMPRESS_LEVEL;
    opt->write_buffer_bytes = WAL_DEFAULT_WRITE_BUFFER;
    opt->reset_keep_bytes = WAL_DEFAULT_RESET_KEEP;
    opt->writeback_bytes = 0;
}

/*
 * The text of the last I/O failure of wal_open on this thread: diag->what
 * points here after such a failure (the file, and its own text, are gone).
 */
static _Thread_local char io_text[OS_ERR_TEXT_MAX];

static int io_fail(int rc, const char *text, cd_diag *diag) {
    if (diag) {
        snprintf(io_text, sizeof io_text, "%s", text);
        *diag = (cd_diag){__LINE__, io_text, 0};
    }
    return rc;
}

static void wal_free(wal *w) {
    if (w->cctx)
        wal_zstd_cctx_free(w->cctx);
    wal_rctx_release(w, &w->own);
    wal_index_free(w);
    os_free(w->vfs, w->wbuf);
    os_free(w->vfs, w);
}

static int alloc_parts(wal *w) {
    size_t frame_max = WAL_FRAME_HDR_SIZE + w->page_size;
    w->wbuf_cap = w->opt.write_buffer_bytes;
    if (w->wbuf_cap < 2 * frame_max)
        w->wbuf_cap = 2 * frame_max;
    w->wbuf = os_alloc(w->vfs, w->wbuf_cap);
    if (!w->wbuf)
        return CD_ENOMEM;
    w->own.frame = os_alloc(w->vfs, frame_max);
    if (!w->own.frame)
        return CD_ENOMEM;
    if (w->opt.compress_level > 0 && !(w->cctx = wal_zstd_cctx_new(w)))
        return CD_ENOMEM;
    return 0;
}

/*
 * Picks the header from the two copies in area[0, got): the valid one with
 * the larger generation.  Returns 0 (*h set), 1 if neither copy is valid,
 * or CD_EVERSION.
 */
static int pick_header(const uint8_t *area, size_t got, wal_hdr *h) {
    int found = 0, newer = 0;
    for (unsigned i = 0; i < 2; i++) {
        size_t off = i * WAL_HDR_COPY_STRIDE;
        wal_hdr c;
        if (got < off + WAL_HDR_SIZE)
            break;
        int rc = wal_hdr_decode(area + off, &c);
        newer |= rc == CD_EVERSION;
        if (rc == 0 && (!found || c.generation > h->generation)) {
            *h = c;
            found = 1;
        }
    }
    if (found)
        return 0;
    return newer ? CD_EVERSION : 1;
}

/* Creates generation 1 in an empty (or frame-less, headerless) file. */
static int create_log(wal *w, const char *path, int *created) {
    int rc = os_random(w->vfs, &w->salt, sizeof w->salt);
    if (rc)
        return rc;
    w->generation = 1;
    if ((rc = os_truncate(w->file, 0)) != 0 ||
        (rc = wal_write_header(w)) != 0 ||
        (rc = os_sync_dir(w->vfs, path, NULL)) != 0)
        return rc;
    *created = 1;
    wal_start_generation(w);
    return 0;
}

/* Reads the header area and sets up the generation; may create the log. */
static int open_header(wal *w, const char *path, uint64_t size,
                       int *created, cd_diag *diag) {
    uint8_t area[WAL_HDR_AREA];
    size_t got = 0;
    int rc = os_read(w->file, 0, area, sizeof area, &got);
    if (rc)
        return io_fail(rc, os_file_error(w->file), diag);
    wal_hdr h = {0};
    rc = pick_header(area, got, &h);
    if (rc == CD_EVERSION)
        return rc;
    if (rc == 1) {
        /* No valid copy.  Frames are appended only after a header is
         * synced, so a file with no room for frames was a torn creation;
         * anything larger lost a header that frames depend on. */
        if (size <= WAL_HDR_AREA + WAL_FRAME_HDR_SIZE)
            return create_log(w, path, created);
        int magic = got >= WAL_MAGIC_SIZE &&
                    memcmp(area, WAL_MAGIC, WAL_MAGIC_SIZE) == 0;
        magic |= got >= WAL_HDR_COPY_STRIDE + WAL_MAGIC_SIZE &&
                 memcmp(area + WAL_HDR_COPY_STRIDE, WAL_MAGIC,
                        WAL_MAGIC_SIZE) == 0;
        return magic ? CD_CORRUPT(diag, "log header damaged", 0) : CD_ENOTDB;
    }
    if (h.page_size != w->page_size)
        return CD_CORRUPT(diag, "log page size differs from the database's",
                          WAL_HDR_OFF_PAGE_SIZE);
    w->salt = h.salt;
    w->generation = h.generation;
    w->hdr_checksum = h.checksum;
    w->version = h.version;
    wal_start_generation(w);
    return 0;
}

/* Opens the file and recovers it into w. */
static int open_log(wal *w, const char *path, wal_recovery *rec,
                    cd_diag *diag) {
    os_err err = {0};
    int rc = os_open(w->vfs, path, OS_OPEN_CREATE, &w->file, &err);
    if (rc)
        return io_fail(rc, err.text, diag);
    uint64_t size;
    int created = 0;
    if ((rc = os_size(w->file, &size)) != 0)
        return io_fail(rc, os_file_error(w->file), diag);
    if ((rc = open_header(w, path, size, &created, diag)) != 0)
        return rc == CD_EIO || rc == CD_EFULL || rc == CD_ENOMEM
                   ? io_fail(rc, os_file_error(w->file), diag)
                   : rc;
    w->file_end = size > WAL_HDR_AREA ? size : WAL_HDR_AREA;
    if (rec) {
        rec->created = created;
        rec->file_bytes = size;
        rec->generation = w->generation;
    }
    if (created)
        return 0; /* new: synced already */
    if ((rc = wal_scan(w, size, rec, diag)) != 0)
        return rc == CD_ECORRUPT ? rc : io_fail(rc, os_file_error(w->file), diag);
    /* Whatever was recovered may so far live only in the page cache (the
     * process, not the machine, crashed): make it durable once. */
    if ((rc = os_sync(w->file)) != 0)
        return io_fail(rc, os_file_error(w->file), diag);
    w->synced_end = w->commit_end;
    return 0;
}

int wal_open(os_vfs *vfs, const char *path, const wal_options *opt,
             wal **out, wal_recovery *rec, cd_diag *diag) {
    if (!vfs || !path || !opt || !out || !cd_page_size_valid(opt->page_size) ||
        opt->compress_level < 0 || opt->compress_level > 19)
        return CD_EINVAL;
    wal *w = os_alloc(vfs, sizeof *w);
    if (!w)
        return CD_ENOMEM;
    memset(w, 0, sizeof *w);
    w->vfs = vfs;
    w->opt = *opt;
    w->page_size = opt->page_size;
    atomic_init(&w->max_frame, 0);
    for (uint32_t i = 0; i < WAL_SEGS_MAX; i++)
        atomic_init(&w->seg[i], NULL);
    if (rec)
        memset(rec, 0, sizeof *rec);
    int rc = alloc_parts(w);
    if (rc == 0)
        rc = open_log(w, path, rec, diag);
    if (rc == 0 && rec) {
        rec->txns = w->txns;
        rec->frames = wal_max_frame(w);
        rec->last_txn = w->last_txn;
        rec->bytes = w->commit_end;
        ISLE_ASSERT(wal_check(w) == 0);
    }
    if (rc) {
        if (w->file)
            os_close(w->file);
        wal_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int wal_close(wal *w) {
    if (!w)
        return 0;
    int rc = os_close(w->file);
    wal_free(w);
    return rc;
}
