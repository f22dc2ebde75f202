/*
 * bn_sqlite.c: the SQLite adapter of isle-bench, configured as SQLite's
 * documentation recommends for the job: a table with typed columns and an
 * INTEGER PRIMARY KEY (the rowid), WAL mode, synchronous=NORMAL for loads
 * (safe in WAL mode: a power loss may lose the last commits, never
 * consistency) and FULL for the durable workload, prepared statements
 * reused for every row, and one BEGIN IMMEDIATE ... COMMIT per batch.
 *
 * A profile's list of tags is one TEXT column, the tags joined by U+001F
 * (what a type converter would store); its embedded address is flattened
 * into three columns.  Each writer and reader is its own connection, as
 * SQLite wants for threads (opened with SQLITE_OPEN_NOMUTEX).  Writers of
 * one process take a mutex around each write transaction, as an
 * application with a single write connection does (Android's connection
 * pool, for one): left to SQLite's busy handler, which sleeps and retries,
 * eight writing threads would commit fewer transactions than one.
 */
#include "bn.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sdb {
    char path[4096];
    bn_cfg cfg;
    sqlite3 *main; /* schema and checkpoints */
    pthread_mutex_t write_lock; /* one write transaction at a time */
} sdb;

typedef struct swr {
    sdb *d;
    sqlite3 *c;
    sqlite3_stmt *begin, *commit, *rollback, *ins, *upd, *del;
    char tags[BN_TAGS_MAX * 64];
} swr;

typedef struct srd {
    sdb *d;
    sqlite3 *c;
    sqlite3_stmt *begin, *commit, *get, *scan;
} srd;

#define D(x) ((sdb *)(x))
#define W(x) ((swr *)(x))
#define R(x) ((srd *)(x))

#define TAG_SEP '\x1f'

static int fail(sqlite3 *c, const char *what) {
    fprintf(stderr, "sqlite: %s: %s\n", what, c ? sqlite3_errmsg(c) : "out of memory");
    return BN_ERR;
}

static int conn_open(sdb *d, sqlite3 **out) {
    sqlite3 *c = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(d->path, &c, flags, NULL) != SQLITE_OK) {
        fail(c, "open");
        sqlite3_close(c);
        return BN_ERR;
    }
    char pragmas[512];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-%zu;%s",
             d->cfg.durable ? "FULL" : "NORMAL", d->cfg.cache_bytes / 1024,
             d->cfg.keep_log ? " PRAGMA wal_autocheckpoint=0;" : "");
    sqlite3_busy_timeout(c, 60000);
    if (sqlite3_exec(c, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        fail(c, "pragmas");
        sqlite3_close(c);
        return BN_ERR;
    }
    *out = c;
    return 0;
}

static int prep(sqlite3 *c, const char *sql, sqlite3_stmt **st) {
    if (sqlite3_prepare_v3(c, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return fail(c, sql);
    return 0;
}

static int s_open(const bn_cfg *cfg, bn_db **out) {
    sdb *d = calloc(1, sizeof *d);
    if (!d)
        return BN_ERR;
    d->cfg = *cfg;
    pthread_mutex_init(&d->write_lock, NULL);
    snprintf(d->path, sizeof d->path, "%s/bench.sqlite", cfg->dir);
    if (conn_open(d, &d->main)) {
        pthread_mutex_destroy(&d->write_lock);
        free(d);
        return BN_ERR;
    }
    const char *schema =
        cfg->kind == BN_PROFILE
            ? "CREATE TABLE IF NOT EXISTS obj(id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
              "email TEXT NOT NULL, age INTEGER NOT NULL, score REAL NOT NULL, "
              "created INTEGER NOT NULL, tags TEXT NOT NULL, street TEXT NOT NULL, "
              "city TEXT NOT NULL, zip INTEGER NOT NULL)"
            : "CREATE TABLE IF NOT EXISTS obj(id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
              "email TEXT NOT NULL, age INTEGER NOT NULL, score REAL NOT NULL, "
              "created INTEGER NOT NULL)";
    if (sqlite3_exec(d->main, schema, NULL, NULL, NULL) != SQLITE_OK) {
        fail(d->main, "create table");
        sqlite3_close(d->main);
        pthread_mutex_destroy(&d->write_lock);
        free(d);
        return BN_ERR;
    }
    *out = (bn_db *)d;
    return 0;
}

static int s_close(bn_db *db) {
    sdb *d = D(db);
    int rc = sqlite3_close(d->main) == SQLITE_OK ? 0 : fail(d->main, "close");
    pthread_mutex_destroy(&d->write_lock);
    free(d);
    return rc;
}

static void s_wr_close(bn_wr *wr) {
    swr *w = W(wr);
    if (!w)
        return;
    sqlite3_stmt *all[] = {w->begin, w->commit, w->rollback, w->ins, w->upd, w->del};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(w->c);
    free(w);
}

static int s_wr_open(bn_db *db, bn_wr **out) {
    swr *w = calloc(1, sizeof *w);
    if (!w)
        return BN_ERR;
    w->d = D(db);
    int profile = w->d->cfg.kind == BN_PROFILE;
    if (conn_open(w->d, &w->c) || prep(w->c, "BEGIN IMMEDIATE", &w->begin) ||
        prep(w->c, "COMMIT", &w->commit) || prep(w->c, "ROLLBACK", &w->rollback) ||
        prep(w->c,
             profile ? "INSERT INTO obj VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
                     : "INSERT INTO obj VALUES(?1,?2,?3,?4,?5,?6)",
             &w->ins) ||
        prep(w->c,
             profile ? "UPDATE obj SET name=?2,email=?3,age=?4,score=?5,created=?6,"
                       "tags=?7,street=?8,city=?9,zip=?10 WHERE id=?1"
                     : "UPDATE obj SET name=?2,email=?3,age=?4,score=?5,created=?6 "
                       "WHERE id=?1",
             &w->upd) ||
        prep(w->c, "DELETE FROM obj WHERE id=?1", &w->del)) {
        s_wr_close((bn_wr *)w);
        return BN_ERR;
    }
    *out = (bn_wr *)w;
    return 0;
}

static void bind_obj(swr *w, sqlite3_stmt *st, const bn_obj *o) {
    sqlite3_bind_int64(st, 1, o->id);
    sqlite3_bind_text(st, 2, o->name.ptr, (int)o->name.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->email.ptr, (int)o->email.len, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, o->age);
    sqlite3_bind_double(st, 5, o->score);
    sqlite3_bind_int64(st, 6, o->created_us);
    if (w->d->cfg.kind != BN_PROFILE)
        return;
    size_t at = 0;
    for (uint32_t i = 0; i < o->ntags; i++) {
        if (i)
            w->tags[at++] = TAG_SEP;
        memcpy(w->tags + at, o->tags[i].ptr, o->tags[i].len);
        at += o->tags[i].len;
    }
    sqlite3_bind_text(st, 7, w->tags, (int)at, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, o->addr.street.ptr, (int)o->addr.street.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, o->addr.city.ptr, (int)o->addr.city.len, SQLITE_STATIC);
    sqlite3_bind_int(st, 10, o->addr.zip);
}

/* Runs a statement that returns no row. */
static int exec1(sqlite3 *c, sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : fail(c, sqlite3_sql(st));
}

static int write_txn(swr *w, sqlite3_stmt *st, bn_op op, const bn_obj *objs, size_t n,
                     size_t *missing) {
    if (exec1(w->c, w->begin))
        return BN_ERR;
    for (size_t i = 0; i < n; i++) {
        if (op == BN_DELETE)
            sqlite3_bind_int64(st, 1, objs[i].id);
        else
            bind_obj(w, st, &objs[i]);
        if (exec1(w->c, st)) {
            exec1(w->c, w->rollback);
            return BN_ERR;
        }
        if (op != BN_INSERT && sqlite3_changes(w->c) != 1)
            (*missing)++;
    }
    return exec1(w->c, w->commit);
}

static int write_batch(swr *w, bn_op op, const bn_obj *objs, size_t n, size_t *missing) {
    sqlite3_stmt *st = op == BN_INSERT ? w->ins : op == BN_UPDATE ? w->upd : w->del;
    pthread_mutex_lock(&w->d->write_lock);
    int rc = write_txn(w, st, op, objs, n, missing);
    pthread_mutex_unlock(&w->d->write_lock);
    return rc;
}

static int s_write(bn_wr *wr, bn_op op, const bn_obj *objs, size_t n, size_t per_txn,
                   unsigned flags) {
    (void)flags; /* rowid tables append at the right edge by themselves */
    size_t missing = 0;
    for (size_t at = 0; at < n; at += per_txn) {
        size_t k = n - at < per_txn ? n - at : per_txn;
        if (write_batch(W(wr), op, objs + at, k, &missing))
            return BN_ERR;
    }
    return missing ? BN_NOTFOUND : 0;
}

static void s_rd_close(bn_rd *rd) {
    srd *r = R(rd);
    if (!r)
        return;
    sqlite3_finalize(r->begin);
    sqlite3_finalize(r->commit);
    sqlite3_finalize(r->get);
    sqlite3_finalize(r->scan);
    sqlite3_close(r->c);
    free(r);
}

static int s_rd_open(bn_db *db, bn_rd **out) {
    srd *r = calloc(1, sizeof *r);
    if (!r)
        return BN_ERR;
    r->d = D(db);
    int profile = r->d->cfg.kind == BN_PROFILE;
    if (conn_open(r->d, &r->c) || prep(r->c, "BEGIN", &r->begin) ||
        prep(r->c, "COMMIT", &r->commit) ||
        prep(r->c,
             profile ? "SELECT name,email,age,score,created,tags,street,city,zip FROM obj "
                       "WHERE id=?1"
                     : "SELECT name,email,age,score,created FROM obj WHERE id=?1",
             &r->get) ||
        prep(r->c,
             profile ? "SELECT name,email,age,score,created,tags,street,city,zip,id FROM obj "
                       "ORDER BY id"
                     : "SELECT name,email,age,score,created,id FROM obj ORDER BY id",
             &r->scan)) {
        s_rd_close((bn_rd *)r);
        return BN_ERR;
    }
    *out = (bn_rd *)r;
    return 0;
}

static int s_rd_begin(bn_rd *rd) { return exec1(R(rd)->c, R(rd)->begin); }
static int s_rd_end(bn_rd *rd) { return exec1(R(rd)->c, R(rd)->commit); }

static bn_str col_str(sqlite3_stmt *st, int i) {
    bn_str s;
    s.ptr = (const char *)sqlite3_column_text(st, i); /* text first, then bytes */
    s.len = (size_t)sqlite3_column_bytes(st, i);
    return s;
}

/* Decodes the current row (columns as the SELECTs above) into a struct. */
static int decode_row(sqlite3_stmt *st, bn_kind kind, bn_obj *o) {
    o->name = col_str(st, 0);
    o->email = col_str(st, 1);
    o->age = sqlite3_column_int(st, 2);
    o->score = sqlite3_column_double(st, 3);
    o->created_us = sqlite3_column_int64(st, 4);
    o->ntags = 0;
    if (kind != BN_PROFILE)
        return 0;
    bn_str tags = col_str(st, 5);
    const char *p = tags.ptr, *end = tags.ptr + tags.len;
    while (tags.len && o->ntags < BN_TAGS_MAX) {
        const char *sep = memchr(p, TAG_SEP, (size_t)(end - p));
        const char *stop = sep ? sep : end;
        o->tags[o->ntags++] = (bn_str){p, (size_t)(stop - p)};
        if (!sep)
            break;
        p = sep + 1;
    }
    o->addr.street = col_str(st, 6);
    o->addr.city = col_str(st, 7);
    o->addr.zip = sqlite3_column_int(st, 8);
    return 0;
}

static int s_get(bn_rd *rd, int64_t id, uint64_t *sum) {
    srd *r = R(rd);
    sqlite3_bind_int64(r->get, 1, id);
    int rc = sqlite3_step(r->get);
    if (rc == SQLITE_ROW) {
        bn_obj o;
        decode_row(r->get, r->d->cfg.kind, &o);
        o.id = id;
        *sum += bn_obj_sum(r->d->cfg.kind, &o);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = BN_NOTFOUND;
    } else {
        rc = fail(r->c, "get");
    }
    sqlite3_reset(r->get); /* ends an autocommit read at once */
    return rc;
}

static int s_scan(bn_rd *rd, uint64_t *count, uint64_t *sum) {
    srd *r = R(rd);
    bn_kind kind = r->d->cfg.kind;
    int idcol = kind == BN_PROFILE ? 9 : 5, rc;
    uint64_t n = 0, s = 0;
    while ((rc = sqlite3_step(r->scan)) == SQLITE_ROW) {
        bn_obj o;
        decode_row(r->scan, kind, &o);
        o.id = sqlite3_column_int64(r->scan, idcol);
        s += bn_obj_sum(kind, &o);
        n++;
    }
    sqlite3_reset(r->scan);
    if (rc != SQLITE_DONE)
        return fail(r->c, "scan");
    *count += n;
    *sum += s;
    return 0;
}

static int s_checkpoint(bn_db *db) {
    sdb *d = D(db);
    int rc = sqlite3_wal_checkpoint_v2(d->main, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(d->main, "wal_checkpoint(TRUNCATE)");
}

const bn_engine bn_engine_sqlite = {
    .name = "sqlite",
    .version = sqlite3_libversion,
    .config = "typed columns, INTEGER PRIMARY KEY, WAL, synchronous NORMAL (loads) / FULL "
              "(durable), prepared statements, BEGIN IMMEDIATE per batch, "
              "cache_size = --cache-mb",
    .open = s_open,
    .close = s_close,
    .wr_open = s_wr_open,
    .wr_close = s_wr_close,
    .write = s_write,
    .rd_open = s_rd_open,
    .rd_close = s_rd_close,
    .rd_begin = s_rd_begin,
    .rd_end = s_rd_end,
    .get = s_get,
    .get1 = s_get, /* autocommit: the statement is its own read transaction */
    .scan = s_scan,
    .checkpoint = s_checkpoint,
};
