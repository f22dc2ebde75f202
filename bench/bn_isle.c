/*
 * bn_isle.c: the isle adapter of isle-bench, over the key/value API: one
 * tree per object kind, the id as an 8-byte big-endian key, the object
 * packed by bn_pack (as the LMDB and RocksDB adapters store it).
 *
 * The typed collections API will replace the packing: a collections
 * adapter fills the same bn_engine with isle_coll_put_many / get / scan
 * of the C struct, and bn_engines() in bn_main.c points "isle" at it.
 * Everything here but the encode and decode calls (pack_put, unpack_sum)
 * stays as it is.
 *
 * Also workload 9 (bn_isle_handoff): the cost of handing a synchronous
 * write to isle's writer thread, against the same write on the caller.
 */
#include "bn.h"

#include <stdio.h>
#include <stdlib.h>

#include "isle.h"

typedef struct idb {
    isle_db *db;
    isle_tree tree;
    bn_kind kind;
} idb;

typedef struct iwr {
    idb *d;
    uint8_t buf[BN_PACK_BYTES_MAX];
} iwr;

typedef struct ird {
    idb *d;
    isle_txn *txn;
} ird;

#define D(x) ((idb *)(x))
#define W(x) ((iwr *)(x))
#define R(x) ((ird *)(x))

static int fail(const char *what, int rc) {
    fprintf(stderr, "isle: %s: %s (%s)\n", what, isle_strerror(rc), isle_errmsg());
    return BN_ERR;
}

static const char *tree_name(bn_kind kind) { return kind == BN_PROFILE ? "profile" : "user"; }

typedef struct open_ctx {
    bn_kind kind;
    isle_tree tree;
} open_ctx;

static int open_tree(isle_txn *txn, void *arg) {
    open_ctx *c = arg;
    return isle_kv_open(txn, tree_name(c->kind), ISLE_KV_CREATE, &c->tree);
}

static void isle_opts(const bn_cfg *cfg, isle_options *o) {
    isle_options_init(o);
    o->sync = cfg->durable ? ISLE_SYNC_FULL : ISLE_SYNC_NORMAL;
    o->cache_bytes = cfg->cache_bytes;
    if (cfg->keep_log)
        o->checkpoint_bytes = UINT64_MAX / 2; /* never: the log keeps everything */
}

static int i_open(const bn_cfg *cfg, bn_db **out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bench.isle", cfg->dir);
    isle_options o;
    isle_opts(cfg, &o);
    idb *d = calloc(1, sizeof *d);
    if (!d)
        return BN_ERR;
    d->kind = cfg->kind;
    int rc = isle_open(path, &o, &d->db);
    if (rc) {
        free(d);
        return fail("isle_open", rc);
    }
    open_ctx c = {cfg->kind, 0};
    rc = isle_write(d->db, open_tree, &c);
    if (rc) {
        fail("isle_kv_open", rc);
        isle_close(d->db);
        free(d);
        return BN_ERR;
    }
    d->tree = c.tree;
    *out = (bn_db *)d;
    return 0;
}

static int i_close(bn_db *db) {
    idb *d = D(db);
    int rc = isle_close(d->db);
    free(d);
    return rc ? fail("isle_close", rc) : 0;
}

static int i_wr_open(bn_db *db, bn_wr **out) {
    iwr *w = calloc(1, sizeof *w);
    if (!w)
        return BN_ERR;
    w->d = D(db);
    *out = (bn_wr *)w;
    return 0;
}

static void i_wr_close(bn_wr *w) { free(w); }

typedef struct wctx {
    iwr *w;
    bn_op op;
    const bn_obj *objs;
    size_t n, missing;
} wctx;

/* Encodes one object and stores it: the part a collections adapter
 * replaces with isle_coll_put_many. */
static int pack_put(isle_txn *txn, iwr *w, const bn_obj *o) {
    uint8_t key[8];
    bn_key_be(o->id, key);
    size_t len = bn_pack(w->d->kind, o, w->buf);
    return isle_kv_put(txn, w->d->tree, key, 8, w->buf, len, 0);
}

static int write_fn(isle_txn *txn, void *arg) {
    wctx *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        int rc;
        if (c->op == BN_DELETE) {
            uint8_t key[8];
            bn_key_be(c->objs[i].id, key);
            rc = isle_kv_del(txn, c->w->d->tree, key, 8);
            if (rc == ISLE_ENOTFOUND) {
                c->missing++;
                rc = 0;
            }
        } else {
            rc = pack_put(txn, c->w, &c->objs[i]);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int i_write(bn_wr *wr, bn_op op, const bn_obj *objs, size_t n, size_t per_txn,
                   unsigned flags) {
    (void)flags; /* isle's B+tree takes the append path by itself */
    iwr *w = W(wr);
    size_t missing = 0;
    for (size_t at = 0; at < n; at += per_txn) {
        wctx c = {w, op, objs + at, n - at < per_txn ? n - at : per_txn, 0};
        int rc = isle_write(w->d->db, write_fn, &c);
        if (rc)
            return fail("isle_write", rc);
        missing += c.missing;
    }
    return missing ? BN_NOTFOUND : 0;
}

static int i_rd_open(bn_db *db, bn_rd **out) {
    ird *r = calloc(1, sizeof *r);
    if (!r)
        return BN_ERR;
    r->d = D(db);
    *out = (bn_rd *)r;
    return 0;
}

static void i_rd_close(bn_rd *r) { free(r); }

static int i_rd_begin(bn_rd *rd) {
    int rc = isle_read_begin(R(rd)->d->db, &R(rd)->txn);
    return rc ? fail("isle_read_begin", rc) : 0;
}

static int i_rd_end(bn_rd *rd) {
    int rc = isle_read_end(R(rd)->txn);
    R(rd)->txn = NULL;
    return rc ? fail("isle_read_end", rc) : 0;
}

/* Decodes a value into a struct and sums it: the part a collections
 * adapter replaces with its own decode. */
static int unpack_sum(bn_kind kind, int64_t id, const isle_val *v, uint64_t *sum) {
    bn_obj o;
    if (bn_unpack(kind, v->data, v->len, &o)) {
        fprintf(stderr, "isle: object %lld does not decode\n", (long long)id);
        return BN_ERR;
    }
    o.id = id;
    *sum += bn_obj_sum(kind, &o);
    return 0;
}

static int i_get(bn_rd *rd, int64_t id, uint64_t *sum) {
    ird *r = R(rd);
    uint8_t key[8];
    bn_key_be(id, key);
    isle_val v;
    int rc = isle_kv_get(r->txn, r->d->tree, key, 8, &v);
    if (rc == ISLE_ENOTFOUND)
        return BN_NOTFOUND;
    if (rc)
        return fail("isle_kv_get", rc);
    rc = unpack_sum(r->d->kind, id, &v, sum);
    isle_kv_release(r->txn, &v);
    return rc;
}

static int i_get1(bn_rd *rd, int64_t id, uint64_t *sum) {
    if (i_rd_begin(rd))
        return BN_ERR;
    int rc = i_get(rd, id, sum);
    int rc2 = i_rd_end(rd);
    return rc ? rc : rc2;
}

static int i_scan(bn_rd *rd, uint64_t *count, uint64_t *sum) {
    ird *r = R(rd);
    isle_cursor *cur;
    int rc = isle_cursor_open(r->txn, r->d->tree, &cur);
    if (rc)
        return fail("isle_cursor_open", rc);
    uint64_t n = 0, s = 0;
    for (rc = isle_cursor_first(cur); rc == 0; rc = isle_cursor_next(cur)) {
        const void *k;
        size_t kl;
        isle_val v;
        rc = isle_cursor_get(cur, &k, &kl, &v);
        if (rc)
            break;
        if (kl != 8 || unpack_sum(r->d->kind, bn_key_id(k), &v, &s)) {
            isle_kv_release(r->txn, &v);
            isle_cursor_close(cur);
            return BN_ERR;
        }
        isle_kv_release(r->txn, &v);
        n++;
    }
    isle_cursor_close(cur);
    if (rc != ISLE_ENOTFOUND)
        return fail("isle cursor", rc);
    *count += n;
    *sum += s;
    return 0;
}

static int i_checkpoint(bn_db *db) {
    int rc = isle_checkpoint(D(db)->db);
    return rc ? fail("isle_checkpoint", rc) : 0;
}

const bn_engine bn_engine_isle = {
    .name = "isle",
    .version = isle_version,
    .config = "key/value API: 8-byte big-endian id keys, packed values; "
              "sync NORMAL for loads, FULL for durable; cache as --cache-mb",
    .open = i_open,
    .close = i_close,
    .wr_open = i_wr_open,
    .wr_close = i_wr_close,
    .write = i_write,
    .rd_open = i_rd_open,
    .rd_close = i_rd_close,
    .rd_begin = i_rd_begin,
    .rd_end = i_rd_end,
    .get = i_get,
    .get1 = i_get1,
    .scan = i_scan,
    .checkpoint = i_checkpoint,
};

/* ---- workload 9: the writer-thread hand-off ------------------------------ */

/*
 * The direct path: the same write applied on the calling thread.  Until
 * isle's writer thread lands, isle_write runs fn on the caller, so both
 * paths are one and DIRECT_DIFFERS is 0: the figure then measures noise.
 * When the writer thread lands, direct_options() sets whatever option
 * keeps writes on the caller and DIRECT_DIFFERS becomes 1.
 */
#define DIRECT_DIFFERS 0
static void direct_options(isle_options *o) { (void)o; }

typedef struct one_put {
    isle_tree tree;
    int64_t id;
    uint8_t buf[BN_PACK_BYTES_MAX];
    size_t len;
} one_put;

static int one_put_fn(isle_txn *txn, void *arg) {
    one_put *p = arg;
    uint8_t key[8];
    bn_key_be(p->id, key);
    return isle_kv_put(txn, p->tree, key, 8, p->buf, p->len, 0);
}

static int handoff_open(const char *dir, const char *name, int direct, isle_db **db,
                        isle_tree *tree) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    isle_options o;
    isle_options_init(&o);
    /* NORMAL: a log sync per write would bury a µs hand-off in ms */
    o.sync = ISLE_SYNC_NORMAL;
    if (direct)
        direct_options(&o);
    int rc = isle_open(path, &o, db);
    if (rc)
        return fail("isle_open", rc);
    open_ctx c = {BN_USER, 0};
    rc = isle_write(*db, open_tree, &c);
    if (rc) {
        isle_close(*db);
        return fail("isle_kv_open", rc);
    }
    *tree = c.tree;
    return 0;
}

int bn_isle_handoff(const char *dir, size_t ops, uint64_t *via_ns, uint64_t *direct_ns,
                    int *direct_differs) {
    isle_db *dbs[2] = {NULL, NULL};
    one_put p[2];
    int rc = BN_ERR;
    *direct_differs = DIRECT_DIFFERS;
    if (handoff_open(dir, "via.isle", 0, &dbs[0], &p[0].tree) ||
        handoff_open(dir, "direct.isle", 1, &dbs[1], &p[1].tree))
        goto out;
    char sbuf[BN_GEN_BYTES_MAX];
    bn_obj o;
    bn_gen(BN_USER, 1, 0, &o, sbuf);
    for (int k = 0; k < 2; k++)
        p[k].len = bn_pack(BN_USER, &o, p[k].buf);
    /* alternate blocks so that drift in the machine hits both alike */
    const size_t block = 64;
    for (size_t at = 0; at < ops; at += block) {
        for (int k = 0; k < 2; k++) {
            uint64_t *lat = k ? direct_ns : via_ns;
            for (size_t i = at; i < ops && i < at + block; i++) {
                p[k].id = (int64_t)i + 1;
                uint64_t t0 = bn_now_ns();
                int e = isle_write(dbs[k], one_put_fn, &p[k]);
                lat[i] = bn_now_ns() - t0;
                if (e) {
                    fail("isle_write", e);
                    goto out;
                }
            }
        }
    }
    rc = 0;
out:
    for (int k = 0; k < 2; k++)
        if (dbs[k])
            isle_close(dbs[k]);
    return rc;
}
