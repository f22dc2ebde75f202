/*
 * bn_lmdb.c: the LMDB adapter of isle-bench, configured as LMDB's
 * documentation recommends: one environment with a map size far above the
 * data (64 GiB of address space; the file grows only as it is used), the
 * id as an MDB_INTEGERKEY key, MDB_APPEND for ascending loads, MDB_NOTLS
 * so read transactions can live on any thread and be reused with
 * mdb_txn_reset / mdb_txn_renew.  Durability: the default (a sync per
 * commit) for the durable workload; MDB_NOSYNC with mdb_env_sync at
 * checkpoint and close for the others, LMDB's equivalent of NORMAL.
 * Values are packed by bn_pack, as a user of LMDB would.
 */
#include "bn.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ldb {
    MDB_env *env;
    MDB_dbi dbi;
    bn_kind kind;
    int durable;
} ldb;

typedef struct lwr {
    ldb *d;
    uint8_t buf[BN_PACK_BYTES_MAX];
} lwr;

typedef struct lrd {
    ldb *d;
    MDB_txn *txn;
} lrd;

#define D(x) ((ldb *)(x))
#define W(x) ((lwr *)(x))
#define R(x) ((lrd *)(x))

#define MAP_BYTES (64ull << 30)

static int fail(const char *what, int rc) {
    fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc));
    return BN_ERR;
}

static const char *l_version(void) {
    static char v[32];
    int maj, min, pat;
    mdb_version(&maj, &min, &pat);
    snprintf(v, sizeof v, "%d.%d.%d", maj, min, pat);
    return v;
}

static int l_open(const bn_cfg *cfg, bn_db **out) {
    ldb *d = calloc(1, sizeof *d);
    if (!d)
        return BN_ERR;
    d->kind = cfg->kind;
    d->durable = cfg->durable;
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&d->env);
    if (rc)
        goto out;
    if ((rc = mdb_env_set_mapsize(d->env, (size_t)MAP_BYTES)))
        goto out;
    unsigned flags = MDB_NOTLS | (cfg->durable ? 0 : MDB_NOSYNC);
    if ((rc = mdb_env_open(d->env, cfg->dir, flags, 0644)))
        goto out;
    if ((rc = mdb_txn_begin(d->env, NULL, 0, &txn)))
        goto out;
    if ((rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY | MDB_CREATE, &d->dbi)))
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
out:
    if (rc) {
        if (txn)
            mdb_txn_abort(txn);
        if (d->env)
            mdb_env_close(d->env);
        free(d);
        return fail("open", rc);
    }
    *out = (bn_db *)d;
    return 0;
}

static int l_close(bn_db *db) {
    ldb *d = D(db);
    int rc = d->durable ? 0 : mdb_env_sync(d->env, 1);
    mdb_env_close(d->env);
    free(d);
    return rc ? fail("mdb_env_sync", rc) : 0;
}

static int l_wr_open(bn_db *db, bn_wr **out) {
    lwr *w = calloc(1, sizeof *w);
    if (!w)
        return BN_ERR;
    w->d = D(db);
    *out = (bn_wr *)w;
    return 0;
}

static void l_wr_close(bn_wr *w) { free(w); }

static int write_batch(lwr *w, bn_op op, const bn_obj *objs, size_t n, unsigned flags,
                       size_t *missing) {
    MDB_txn *txn;
    int rc = mdb_txn_begin(w->d->env, NULL, 0, &txn);
    if (rc)
        return fail("mdb_txn_begin", rc);
    unsigned put_flags = (op == BN_INSERT && (flags & BN_ASCENDING)) ? MDB_APPEND : 0;
    for (size_t i = 0; i < n; i++) {
        size_t id = (size_t)objs[i].id;
        MDB_val k = {sizeof id, &id};
        if (op == BN_DELETE) {
            rc = mdb_del(txn, w->d->dbi, &k, NULL);
            if (rc == MDB_NOTFOUND) {
                (*missing)++;
                rc = 0;
            }
        } else {
            MDB_val v = {bn_pack(w->d->kind, &objs[i], w->buf), w->buf};
            rc = mdb_put(txn, w->d->dbi, &k, &v, put_flags);
        }
        if (rc) {
            mdb_txn_abort(txn);
            return fail(op == BN_DELETE ? "mdb_del" : "mdb_put", rc);
        }
    }
    rc = mdb_txn_commit(txn);
    return rc ? fail("mdb_txn_commit", rc) : 0;
}

static int l_write(bn_wr *wr, bn_op op, const bn_obj *objs, size_t n, size_t per_txn,
                   unsigned flags) {
    size_t missing = 0;
    for (size_t at = 0; at < n; at += per_txn) {
        size_t k = n - at < per_txn ? n - at : per_txn;
        if (write_batch(W(wr), op, objs + at, k, flags, &missing))
            return BN_ERR;
    }
    return missing ? BN_NOTFOUND : 0;
}

static int l_rd_open(bn_db *db, bn_rd **out) {
    lrd *r = calloc(1, sizeof *r);
    if (!r)
        return BN_ERR;
    r->d = D(db);
    *out = (bn_rd *)r;
    return 0;
}

static void l_rd_close(bn_rd *rd) {
    lrd *r = R(rd);
    if (r->txn)
        mdb_txn_abort(r->txn);
    free(r);
}

static int l_rd_begin(bn_rd *rd) {
    lrd *r = R(rd);
    int rc = r->txn ? mdb_txn_renew(r->txn)
                    : mdb_txn_begin(r->d->env, NULL, MDB_RDONLY, &r->txn);
    return rc ? fail("read txn", rc) : 0;
}

static int l_rd_end(bn_rd *rd) {
    mdb_txn_reset(R(rd)->txn);
    return 0;
}

static int l_get(bn_rd *rd, int64_t id, uint64_t *sum) {
    lrd *r = R(rd);
    size_t kid = (size_t)id;
    MDB_val k = {sizeof kid, &kid}, v;
    int rc = mdb_get(r->txn, r->d->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return BN_NOTFOUND;
    if (rc)
        return fail("mdb_get", rc);
    bn_obj o;
    if (bn_unpack(r->d->kind, v.mv_data, v.mv_size, &o)) {
        fprintf(stderr, "lmdb: object %lld does not decode\n", (long long)id);
        return BN_ERR;
    }
    o.id = id;
    *sum += bn_obj_sum(r->d->kind, &o);
    return 0;
}

static int l_get1(bn_rd *rd, int64_t id, uint64_t *sum) {
    if (l_rd_begin(rd))
        return BN_ERR;
    int rc = l_get(rd, id, sum);
    l_rd_end(rd);
    return rc;
}

static int l_scan(bn_rd *rd, uint64_t *count, uint64_t *sum) {
    lrd *r = R(rd);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->d->dbi, &cur);
    if (rc)
        return fail("mdb_cursor_open", rc);
    uint64_t n = 0, s = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bn_obj o;
        size_t id;
        if (k.mv_size != sizeof id || bn_unpack(r->d->kind, v.mv_data, v.mv_size, &o)) {
            mdb_cursor_close(cur);
            fprintf(stderr, "lmdb: an entry does not decode\n");
            return BN_ERR;
        }
        memcpy(&id, k.mv_data, sizeof id);
        o.id = (int64_t)id;
        s += bn_obj_sum(r->d->kind, &o);
        n++;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return fail("mdb_cursor_get", rc);
    *count += n;
    *sum += s;
    return 0;
}

static int l_checkpoint(bn_db *db) {
    int rc = mdb_env_sync(D(db)->env, 1);
    return rc ? fail("mdb_env_sync", rc) : 0;
}

const bn_engine bn_engine_lmdb = {
    .name = "lmdb",
    .version = l_version,
    .config = "MDB_INTEGERKEY ids, packed values, MDB_APPEND for ascending loads, "
              "MDB_NOTLS, 64 GiB map; MDB_NOSYNC + mdb_env_sync (loads) / sync per "
              "commit (durable)",
    .open = l_open,
    .close = l_close,
    .wr_open = l_wr_open,
    .wr_close = l_wr_close,
    .write = l_write,
    .rd_open = l_rd_open,
    .rd_close = l_rd_close,
    .rd_begin = l_rd_begin,
    .rd_end = l_rd_end,
    .get = l_get,
    .get1 = l_get1,
    .scan = l_scan,
    .checkpoint = l_checkpoint,
};
