/*
 * bn_isle.c: isle over its key/value API, the "isle-kv" engine of
 * isle-bench: one tree per object kind, the id as an 8-byte big-endian
 * key, the object packed by bn_pack (as the LMDB and RocksDB adapters
 * store it).  "isle" itself runs through the collections API
 * (bn_isle_coll.c); this one shows what the layers under it cost, with
 * --engines isle,isle-kv.
 *
 * Also workload 9 (bn_isle_handoff): the cost of handing a synchronous
 * write to isle's writer thread, against the same write applied directly.
 */
#include "bn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "isle.h"
#include "bn_isle_common.h"

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

#define fail bn_isle_fail

static const char *tree_name(bn_kind kind) { return kind == BN_PROFILE ? "profile" : "user"; }

typedef struct open_ctx {
    bn_kind kind;
    isle_tree tree;
} open_ctx;

static int open_tree(isle_txn *txn, void *arg) {
    open_ctx *c = arg;
    return isle_kv_open(txn, tree_name(c->kind), ISLE_KV_CREATE, &c->tree);
}

static int i_open(const bn_cfg *cfg, bn_db **out) {
    idb *d = calloc(1, sizeof *d);
    if (!d)
        return BN_ERR;
    d->kind = cfg->kind;
    if (bn_isle_open(cfg, &d->db) != 0) {
        free(d);
        return BN_ERR;
    }
    open_ctx c = {cfg->kind, 0};
    int rc = isle_write(d->db, open_tree, &c);
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

/* Encodes one object and stores it. */
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

/* Decodes a value into a struct and sums it. */
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

static int i_checkpoint(bn_db *db) { return bn_isle_checkpoint(D(db)->db); }

const bn_engine bn_engine_isle_kv = {
    .name = "isle-kv",
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
 * isle_write hands fn to the database's writer thread and waits for the
 * commit.  The same write applied directly on a thread costs what the
 * writer thread spends on it: from the `ready` callback of an asynchronous
 * write (just before fn runs) to its `success` callback (the commit is
 * durable and visible), both timed on the writer thread.  The hand-off is
 * the difference.  Blocks of each alternate on one database, so that
 * drift in the machine and the database's growth hit both alike.
 */

typedef struct one_put {
    isle_tree tree;
    int64_t id;
    uint8_t buf[BN_PACK_BYTES_MAX];
    size_t len;
    /* the asynchronous path's completion, and its times on the writer */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, code;
    uint64_t ready_ns, success_ns;
} one_put;

static int one_put_fn(isle_txn *txn, void *arg) {
    one_put *p = arg;
    uint8_t key[8];
    bn_key_be(p->id, key);
    return isle_kv_put(txn, p->tree, key, 8, p->buf, p->len, 0);
}

static void on_ready(void *arg) { ((one_put *)arg)->ready_ns = bn_now_ns(); }
static void on_success(void *arg, uint64_t txn_id) {
    (void)txn_id;
    ((one_put *)arg)->success_ns = bn_now_ns();
}
static void on_complete(void *arg, int code) {
    one_put *p = arg;
    pthread_mutex_lock(&p->mu);
    p->code = code;
    p->done = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* One write as the writer thread sees it; its ns, or 0 after a failure. */
static uint64_t direct_write(isle_db *db, one_put *p) {
    static const isle_write_callbacks cb = {on_ready, on_success, NULL, on_complete};
    p->done = 0;
    p->ready_ns = p->success_ns = 0;
    int rc = isle_write_async(db, one_put_fn, p, &cb, NULL, ISLE_PRIORITY_NORMAL, NULL);
    if (rc) {
        fail("isle_write_async", rc);
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->done)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (p->code) {
        fail("isle_write_async", p->code);
        return 0;
    }
    return p->success_ns > p->ready_ns ? p->success_ns - p->ready_ns : 1;
}

int bn_isle_handoff(const char *dir, size_t ops, uint64_t *via_ns, uint64_t *direct_ns) {
    char path[4096];
    snprintf(path, sizeof path, "%s/handoff.isle", dir);
    isle_options o;
    isle_options_init(&o);
    o.sync = ISLE_SYNC_NORMAL; /* a log sync per write would bury µs in ms */
    isle_db *db;
    int rc = isle_open(path, &o, &db);
    if (rc)
        return fail("isle_open", rc);
    one_put *p = calloc(1, sizeof *p);
    open_ctx c = {BN_USER, 0};
    rc = p ? isle_write(db, open_tree, &c) : ISLE_ENOMEM;
    if (rc) {
        fail("isle_kv_open", rc);
        goto out;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tree = c.tree;
    char sbuf[BN_GEN_BYTES_MAX];
    bn_obj obj;
    bn_gen(BN_USER, 1, 0, &obj, sbuf);
    p->len = bn_pack(BN_USER, &obj, p->buf);
    const size_t block = 64;
    rc = BN_ERR;
    for (size_t at = 0; at < ops; at += block) {
        for (size_t i = at; i < ops && i < at + block; i++) {
            p->id = (int64_t)(2 * i + 1);
            uint64_t t0 = bn_now_ns();
            int e = isle_write(db, one_put_fn, p);
            via_ns[i] = bn_now_ns() - t0;
            if (e) {
                fail("isle_write", e);
                goto out_sync;
            }
        }
        for (size_t i = at; i < ops && i < at + block; i++) {
            p->id = (int64_t)(2 * i + 2);
            if (!(direct_ns[i] = direct_write(db, p)))
                goto out_sync;
        }
    }
    rc = 0;
out_sync:
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
out:
    free(p);
    isle_close(db);
    return rc;
}
