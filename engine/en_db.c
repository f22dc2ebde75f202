/*
 * en_db.c: opening and closing a database.
 *
 * Open, in order, writing nothing to an existing file until it has proved
 * to be a sound isle database:
 *   1. open and lock the main file (a second opener gets CD_EBUSY);
 *   2. a new, empty file (with create) gets its two meta pages;
 *   3. sniff the magic (CD_ENOTDB) and version (CD_EVERSION), read both meta
 *      pages and take the valid one with the larger transaction id;
 *   4. open the log, which recovers itself: committed transactions after
 *      the meta's are the state to resume from;
 *   5. load the free list and publish the first snapshot.  What the log
 *      held stays there, read through its index; new commits follow its
 *      last one, and the first commit that finds it past checkpoint_bytes
 *      checkpoints it (or the close does).
 * Uses wal/, os/, codec/.
 */
#include <stdio.h>
#include <stdlib.h>

#include "en_int.h"

static void options_fill(en_options *o, const en_options *in) {
    *o = in ? *in : (en_options){0};
    if (!o->page_size)
        o->page_size = CD_PAGE_SIZE_DEFAULT;
    if (!o->checkpoint_bytes)
        o->checkpoint_bytes = EN_DEFAULT_CHECKPOINT_BYTES;
    if (!o->cache_bytes)
        o->cache_bytes = EN_DEFAULT_CACHE_BYTES;
    if (!o->vfs)
        o->vfs = os_vfs_default();
}

static int io_fail(en_db *db, int rc, const char *what) {
    return en_fail(rc, "%s %s: %s", what, db->path, os_file_error(db->file));
}

/* Writes the first two meta pages of a new database. */
static int create_file(en_db *db) {
    uint8_t *page = calloc(1, db->page_size);
    if (!page)
        return en_fail(CD_ENOMEM, "out of memory creating %s", db->path);
    en_state st = {.txn = 0, .next_txn = 1, .page_count = CD_FIRST_DATA_PGNO};
    int rc = os_random(db->vfs, &st.db_id, sizeof st.db_id);
    cd_meta m = {.version = CD_FORMAT_VERSION, .page_size = db->page_size,
                 .txn = 0, .page_count = CD_FIRST_DATA_PGNO, .db_id = st.db_id,
                 .next_txn = 1};
    for (uint32_t slot = 0; rc == 0 && slot < 2; slot++) {
        cd_meta_encode(page, slot, &m);
        rc = os_write(db->file, (uint64_t)slot * db->page_size, page, db->page_size);
    }
    if (rc == 0)
        rc = os_sync(db->file);
    free(page);
    if (rc)
        return io_fail(db, rc, "creating");
    os_err e;
    if ((rc = os_sync_dir(db->vfs, db->path, &e)) != 0)
        return en_fail(rc, "%s", e.text);
    return 0;
}

/*
 * Finds a meta page's head: page 0's or, when page 0 does not start like
 * one (its first sector lost to a torn write, say), page 1's, tried at
 * each page size it could be at; so one damaged meta page never hides the
 * other.  CD_ENOTDB when neither is there.
 */
static int sniff(en_db *db, uint32_t *psize, uint32_t *version) {
    uint8_t head[CD_META_END];
    size_t got = 0;
    int rc = os_read(db->file, 0, head, sizeof head, &got);
    if (rc)
        return io_fail(db, rc, "reading");
    if (cd_meta_sniff(head, got, psize, version))
        return 0;
    for (uint32_t ps = CD_PAGE_SIZE_MIN; ps <= CD_PAGE_SIZE_MAX; ps *= 2) {
        if ((rc = os_read(db->file, ps, head, sizeof head, &got)) != 0)
            return io_fail(db, rc, "reading");
        if (cd_meta_sniff(head, got, psize, version) && *psize == ps)
            return 0;
    }
    return en_fail(CD_ENOTDB, "%s is not an isle database", db->path);
}

/* Step 3: checks the file is ours and reads the newest valid meta. */
static int read_meta(en_db *db) {
    size_t got = 0;
    uint32_t psize, version;
    int rc = sniff(db, &psize, &version);
    if (rc)
        return rc;
    if (version > CD_FORMAT_VERSION)
        return en_fail(CD_EVERSION, "%s has format version %u; this library reads up to %u",
                       db->path, version, CD_FORMAT_VERSION);
    if (!cd_page_size_valid(psize))
        return en_fail(CD_ECORRUPT, "%s: meta page names page size %u", db->path, psize);
    db->page_size = psize;
    uint8_t *page = malloc(psize);
    if (!page)
        return en_fail(CD_ENOMEM, "out of memory opening %s", db->path);
    cd_meta m[2];
    int ok[2];
    cd_diag d[2] = {{0}, {0}};
    for (uint32_t slot = 0; rc == 0 && slot < 2; slot++) {
        /* A read that fails is not a damaged meta: taking the other one
         * could roll the database back to an older checkpoint. */
        rc = os_read(db->file, (uint64_t)slot * psize, page, psize, &got);
        /* A file cut short inside a meta page (a torn creation) lost only
         * zeros if the meta is whole: past its body a meta page is zero. */
        if (rc == 0 && got < psize)
            memset(page + got, 0, psize - got);
        ok[slot] = rc == 0 &&
                   cd_meta_decode(page, psize, slot, &m[slot], &d[slot]) == 0 &&
                   m[slot].version <= CD_FORMAT_VERSION;
    }
    free(page);
    if (rc)
        return io_fail(db, rc, "reading the meta pages of");
    if (!ok[0] && !ok[1])
        return en_fail(CD_ECORRUPT, "%s: both meta pages are damaged (page 0: %s)",
                       db->path, d[0].what ? d[0].what : "unreadable");
    int s = ok[0] && ok[1] ? (m[1].txn > m[0].txn) : ok[1];
    db->meta_slot = s;
    db->ckpt_txn = m[s].txn;
    db->state = (en_state){.txn = m[s].txn, .next_txn = m[s].next_txn,
                           .page_count = m[s].page_count, .catalog_root = m[s].catalog_root,
                           .free_head = m[s].free_head, .free_count = m[s].free_count,
                           .db_id = m[s].db_id};
    return 0;
}

/* Step 4: the log's last commit, if newer, is the state to resume from. */
static int open_log(en_db *db) {
    wal_options wo;
    wal_options_init(&wo, db->page_size);
    if (db->opt.sync == EN_SYNC_NORMAL)
        wo.writeback_bytes = EN_WRITEBACK_BYTES;
    wal_recovery rec;
    cd_diag d = {0};
    int rc = wal_open(db->vfs, db->wal_path, &wo, &db->wal, &rec, &d);
    if (rc)
        return en_fail(rc, "opening the log %s: %s (offset %zu)", db->wal_path,
                       d.what ? d.what : en_code_name(rc), d.offset);
    if (rec.txns && rec.last_txn > db->state.txn) {
        en_state st;
        if (en_state_decode(rec.payload, rec.payload_len, &st) != 0)
            return en_fail(CD_ECORRUPT, "the log's last commit record is malformed");
        if (st.db_id != db->state.db_id)
            return en_fail(CD_ECORRUPT, "the log %s belongs to another database",
                           db->wal_path);
        db->state = st;
    }
    return wal_rctx_new(db->wal, (wal_rctx **)&db->rctx);
}

static int open_file(en_db *db, const en_options *opt) {
    os_err e = {0};
    int exists = 0;
    int rc = os_exists(db->vfs, db->path, &exists, &e);
    if (rc)
        return en_fail(rc, "%s", e.text);
    if (!exists && !opt->create)
        return en_fail(CD_ENOTFOUND, "%s does not exist", db->path);
    rc = os_open(db->vfs, db->path, opt->create ? OS_OPEN_CREATE : OS_OPEN_RDWR,
                 &db->file, &e);
    if (rc)
        return en_fail(rc, "%s", e.text);
    if ((rc = os_lock(db->file)) != 0)
        return rc == CD_EBUSY
                   ? en_fail(CD_EBUSY, "%s is locked by another handle or process", db->path)
                   : io_fail(db, rc, "locking");
    uint64_t size;
    if ((rc = os_size(db->file, &size)) != 0)
        return io_fail(db, rc, "sizing");
    if (size == 0 && opt->create)
        return create_file(db);
    return 0;
}

static void db_free(en_db *db) {
    en_writer_stop(db, EN_CLOSE_CANCEL);
    en_watch_destroy(db);
    if (db->rctx)
        wal_rctx_free(db->wal, db->rctx);
    if (db->wal)
        wal_close(db->wal);
    en_map_close(db);
    en_flush_free(db->flusher); /* drained: every transaction waited for it */
    if (db->file)
        os_close(db->file);
    en_snap_reclaim(db, 1);
    en_cache_free(db->cache);
    free(atomic_load(&db->current));
    free(db->group_snap);
    en_group_destroy(db);
    en_spare_free(db);
    en_free_destroy(db);
    pthread_mutex_destroy(&db->write_lock);
    pthread_mutex_destroy(&db->tree_lock);
    pthread_mutex_destroy(&db->q_lock);
    pthread_mutex_destroy(&db->watch_lock);
    pthread_cond_destroy(&db->q_cond);
    pthread_cond_destroy(&db->space_cond);
    pthread_cond_destroy(&db->open_cond);
    free(db->trees);
    free(db->path);
    free(db->wal_path);
    free(db);
}

/* Steps 1-5 of the top comment: on the caller, or on the writer thread
 * for a deferred open. */
int en_open_steps(en_db *db) {
    int rc = open_file(db, &db->opt);
    if (rc == 0)
        rc = read_meta(db);
    if (rc == 0 && en_cache_new(db, db->opt.cache_bytes, &db->cache) != 0)
        rc = en_fail(CD_ENOMEM, "out of memory for the page cache");
    if (rc == 0)
        rc = open_log(db);
    if (rc == 0)
        rc = en_free_load(db);
    if (rc == 0)
        rc = en_publish(db, &db->state, wal_max_frame(db->wal));
    if (rc == 0)
        en_map_open(db);
    return rc;
}

static en_db *db_alloc(const char *path, const en_options *opt) {
    en_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->opt = *opt;
    db->vfs = opt->vfs;
    db->page_size = opt->page_size;
    pthread_mutex_init(&db->write_lock, NULL);
    pthread_mutex_init(&db->tree_lock, NULL);
    pthread_mutex_init(&db->q_lock, NULL);
    pthread_mutex_init(&db->watch_lock, NULL);
    pthread_cond_init(&db->q_cond, NULL);
    pthread_cond_init(&db->space_cond, NULL);
    pthread_cond_init(&db->open_cond, NULL);
    size_t n = strlen(path);
    db->path = malloc(n + 1);
    db->wal_path = malloc(n + 5);
    db->trees = calloc(EN_TREES_MAX, sizeof *db->trees);
    if (!db->path || !db->wal_path || !db->trees) {
        db_free(db);
        return NULL;
    }
    memcpy(db->path, path, n + 1);
    snprintf(db->wal_path, n + 5, "%s-wal", path);
    return db;
}

int en_open(const char *path, const en_options *opt_in, en_db **out) {
    en_options opt;
    options_fill(&opt, opt_in);
    if (!path || !*path || !out)
        return en_fail(CD_EINVAL, "en_open: NULL or empty argument");
    if (!cd_page_size_valid(opt.page_size) || opt.sync > EN_SYNC_OFF ||
        opt.queue_kind > EN_QUEUE_CUSTOM)
        return en_fail(CD_EINVAL, "bad options: page size %u, sync mode %d, queue %d",
                       opt.page_size, (int)opt.sync, (int)opt.queue_kind);
    en_db *db = db_alloc(path, &opt);
    if (!db)
        return en_fail(CD_ENOMEM, "out of memory opening %s", path);
    int rc = 0;
    if (!opt.deferred && (rc = en_open_steps(db)) == 0)
        atomic_store(&db->open_state, 1);
    if (rc == 0)
        rc = en_writer_start(db);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", en_errmsg());
        db_free(db);
        return en_fail(rc, "%s", msg);
    }
    en_clear_error();
    *out = db;
    return 0;
}

int en_close(en_db *db) { return en_close_ex(db, 0); }

int en_close_ex(en_db *db, unsigned flags) {
    if (!db)
        return en_fail(CD_EINVAL, "en_close: NULL handle");
    if (atomic_load(&db->nreaders))
        return en_fail(CD_EBUSY, "%u read transactions are still open",
                       atomic_load(&db->nreaders));
    if (en_writing == db || en_on_writer(db))
        return en_fail(CD_EBUSY, "close from inside a write transaction or a callback");
    en_writer_stop(db, flags); /* runs (or cancels) what is queued */
    int rc = 0;
    if (atomic_load(&db->open_state) > 0) {
        pthread_mutex_lock(&db->write_lock);
        if (atomic_load(&db->latched)) /* the failure is not lost in silence */
            rc = en_fail(CD_EREOPEN, "a write or sync failed earlier: no final checkpoint "
                                     "(the log keeps every commit for the next open)");
        else if (wal_max_frame(db->wal))
            rc = en_checkpoint_locked(db);
        pthread_mutex_unlock(&db->write_lock);
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", en_errmsg());
    db_free(db);
    if (rc)
        en_fail(rc, "%s", msg);
    return rc;
}
