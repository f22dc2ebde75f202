/*
 * bn_isle_coll.c: the isle adapter of isle-bench over the typed
 * collections API, the way isle is meant to be used: the benchmark's
 * objects as a C struct declared once by a field table, written with
 * isle_coll_put_many, read with isle_coll_get and isle_coll_scan into the
 * struct (strings, the list of tags and the embedded address decoded into
 * an arena; the scan's strings borrowed from the stored bytes for its
 * callback, as the peers' scans read theirs).  isle does the encoding;
 * nothing is packed by hand.
 *
 * A user object is stored straight from the benchmark's own struct
 * (bn_obj, whose strings are isle_str: pointer and length), as an
 * application stores the structs it has: put_many reads the same input
 * the peers' adapters pack or bind from, and a get or scan decodes into a
 * bn_obj as theirs do.  A profile's tags are an array inside bn_obj, not
 * the pointer and count a list field takes, so a profile is copied into a
 * struct of its own first (pointers and lengths only, no string copied).
 * Nothing measures a string with strlen (SQLite and the packed values hand
 * out lengths too); every decoded object is folded into the same checksum
 * as every other engine's (bn_obj_sum).
 * The key/value adapter (bn_isle.c) stays as the "isle-kv" engine.
 */
#include "bn.h"

#include <stdio.h>
#include <stdlib.h>

#include "isle.h"
#include "bn_isle_common.h"

/* ---- the objects as isle stores them ----------------------------------------- */

typedef struct bc_addr {
    isle_str street;
    isle_str city;
    int32_t zip;
} bc_addr;

/* A profile as isle stores it (a user is a bn_obj). */
typedef struct bc_obj {
    int64_t id;
    isle_str name;
    isle_str email;
    int32_t age;
    double score;
    int64_t created; /* µs since 1970 UTC */
    isle_str *tags;
    uint32_t ntags;
    bc_addr addr; /* embedded by value */
} bc_obj;

static const isle_field addr_fields[] = {
    ISLE_FIELD(bc_addr, street, ISLE_STRING),
    ISLE_FIELD(bc_addr, city, ISLE_STRING),
    ISLE_FIELD(bc_addr, zip, ISLE_SHORT),
};
static const isle_schema addr_schema = ISLE_EMBEDDED_AS(bc_addr, "Address", addr_fields);

/* A user is stored straight from the generator's own struct, as an
 * application stores its objects: the fields isle reads are its members. */
static const isle_field user_fields[] = {
    ISLE_FIELD(bn_obj, name, ISLE_STRING),     ISLE_FIELD(bn_obj, email, ISLE_STRING),
    ISLE_FIELD(bn_obj, age, ISLE_SHORT),       ISLE_FIELD(bn_obj, score, ISLE_DOUBLE),
    ISLE_FIELD_AS(bn_obj, created_us, "created", ISLE_DATETIME),
};
static const isle_field profile_fields[] = {
    ISLE_FIELD(bc_obj, name, ISLE_STRING),
    ISLE_FIELD(bc_obj, email, ISLE_STRING),
    ISLE_FIELD(bc_obj, age, ISLE_SHORT),
    ISLE_FIELD(bc_obj, score, ISLE_DOUBLE),
    ISLE_FIELD(bc_obj, created, ISLE_DATETIME),
    ISLE_LIST(bc_obj, tags, ntags, ISLE_STRING),
    ISLE_FIELD(bc_obj, addr, ISLE_EMBED_INLINE(&addr_schema)),
};
static const isle_schema user_schema = ISLE_COLLECTION_AS(bn_obj, "user", id, user_fields);
static const isle_schema profile_schema =
    ISLE_COLLECTION_AS(bc_obj, "profile", id, profile_fields);

/* ---- handles -------------------------------------------------------------------- */

#define CHUNK 1024 /* objects converted and handed to put_many at a time */
#define ARENA_BYTES 2048

typedef struct cdb {
    isle_db *db;
    isle_coll *coll;
    bn_kind kind;
} cdb;

typedef struct cwr {
    cdb *d;
    bc_obj objs[CHUNK];
    isle_str tags[CHUNK][BN_TAGS_MAX];
    int64_t ids[CHUNK];
} cwr;

typedef struct crd {
    cdb *d;
    isle_txn *txn;
    isle_arena arena;
    unsigned char buf[ARENA_BYTES];
} crd;

#define D(x) ((cdb *)(x))
#define W(x) ((cwr *)(x))
#define R(x) ((crd *)(x))

#define fail bn_isle_fail

static int c_open(const bn_cfg *cfg, bn_db **out) {
    cdb *d = calloc(1, sizeof *d);
    if (!d)
        return BN_ERR;
    d->kind = cfg->kind;
    if (bn_isle_open(cfg, &d->db) != 0) {
        free(d);
        return BN_ERR;
    }
    int rc = isle_coll_open(d->db, cfg->kind == BN_PROFILE ? &profile_schema : &user_schema,
                        &d->coll);
    if (rc) {
        fail("isle_coll_open", rc);
        isle_close(d->db);
        free(d);
        return BN_ERR;
    }
    *out = (bn_db *)d;
    return 0;
}

static int c_close(bn_db *db) {
    cdb *d = D(db);
    isle_coll_close(d->coll);
    int rc = isle_close(d->db);
    free(d);
    return rc ? fail("isle_close", rc) : 0;
}

static int c_wr_open(bn_db *db, bn_wr **out) {
    cwr *w = malloc(sizeof *w);
    if (!w)
        return BN_ERR;
    w->d = D(db);
    *out = (bn_wr *)w;
    return 0;
}

static void c_wr_close(bn_wr *w) { free(w); }

/* A profile as its struct: pointers and lengths, the tags as an array. */
static void to_struct(bn_kind kind, const bn_obj *o, bc_obj *c, isle_str *tags) {
    c->id = o->id;
    c->name = o->name;
    c->email = o->email;
    c->age = o->age;
    c->score = o->score;
    c->created = o->created_us;
    if (kind != BN_PROFILE)
        return;
    for (uint32_t i = 0; i < o->ntags; i++)
        tags[i] = o->tags[i];
    c->tags = tags;
    c->ntags = o->ntags;
    c->addr.street = o->addr.street;
    c->addr.city = o->addr.city;
    c->addr.zip = o->addr.zip;
}

typedef struct wctx {
    cwr *w;
    bn_op op;
    const bn_obj *objs;
    size_t n, missing;
} wctx;

static int write_fn(isle_txn *txn, void *arg) {
    wctx *c = arg;
    cwr *w = c->w;
    for (size_t at = 0; at < c->n; at += CHUNK) {
        size_t k = c->n - at < CHUNK ? c->n - at : CHUNK, deleted = 0;
        int rc;
        if (c->op == BN_DELETE) {
            for (size_t i = 0; i < k; i++)
                w->ids[i] = c->objs[at + i].id;
            rc = isle_coll_delete_many(txn, w->d->coll, w->ids, k, &deleted);
            c->missing += k - deleted;
        } else if (w->d->kind == BN_USER) {
            /* every id is given, so put_many only reads the objects */
            rc = isle_coll_put_many(txn, w->d->coll, (void *)(c->objs + at), k);
        } else {
            for (size_t i = 0; i < k; i++)
                to_struct(w->d->kind, &c->objs[at + i], &w->objs[i], w->tags[i]);
            rc = isle_coll_put_many(txn, w->d->coll, w->objs, k);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int c_write(bn_wr *wr, bn_op op, const bn_obj *objs, size_t n, size_t per_txn,
                   unsigned flags) {
    (void)flags; /* put_many appends ascending ids by itself */
    cwr *w = W(wr);
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

/* ---- reads ---------------------------------------------------------------------- */

static int c_rd_open(bn_db *db, bn_rd **out) {
    crd *r = malloc(sizeof *r);
    if (!r)
        return BN_ERR;
    r->d = D(db);
    r->txn = NULL;
    isle_arena_init(&r->arena, r->buf, sizeof r->buf);
    *out = (bn_rd *)r;
    return 0;
}

static void c_rd_close(bn_rd *rd) {
    isle_arena_free(&R(rd)->arena);
    free(rd);
}

static int c_rd_begin(bn_rd *rd) {
    int rc = isle_read_begin(R(rd)->d->db, &R(rd)->txn);
    return rc ? fail("isle_read_begin", rc) : 0;
}

static int c_rd_end(bn_rd *rd) {
    int rc = isle_read_end(R(rd)->txn);
    R(rd)->txn = NULL;
    return rc ? fail("isle_read_end", rc) : 0;
}

/* The checksum of a decoded profile, the same as of the bn_obj it came from. */
static uint64_t struct_sum(const bc_obj *c) {
    bn_obj o;
    o.id = c->id;
    o.name = c->name;
    o.email = c->email;
    o.age = c->age;
    o.score = c->score;
    o.created_us = c->created;
    o.ntags = c->ntags < BN_TAGS_MAX ? c->ntags : BN_TAGS_MAX;
    for (uint32_t i = 0; i < o.ntags; i++)
        o.tags[i] = c->tags[i];
    o.addr.street = c->addr.street;
    o.addr.city = c->addr.city;
    o.addr.zip = c->addr.zip;
    return bn_obj_sum(BN_PROFILE, &o);
}

/* Either kind's struct, as the collection's schema names it. */
typedef union any_obj {
    bn_obj user;
    bc_obj profile;
} any_obj;

static uint64_t any_sum(bn_kind kind, const any_obj *o) {
    return kind == BN_USER ? bn_obj_sum(BN_USER, &o->user) : struct_sum(&o->profile);
}

static int c_get(bn_rd *rd, int64_t id, uint64_t *sum) {
    crd *r = R(rd);
    any_obj o;
    isle_arena_reset(&r->arena);
    int rc = isle_coll_get(r->txn, r->d->coll, id, &o, &r->arena);
    if (rc == ISLE_ENOTFOUND)
        return BN_NOTFOUND;
    if (rc)
        return fail("isle_coll_get", rc);
    *sum += any_sum(r->d->kind, &o);
    return 0;
}

static int c_get1(bn_rd *rd, int64_t id, uint64_t *sum) {
    if (c_rd_begin(rd))
        return BN_ERR;
    int rc = c_get(rd, id, sum);
    int rc2 = c_rd_end(rd);
    return rc ? rc : rc2;
}

typedef struct scan_ctx {
    bn_kind kind;
    uint64_t count, sum;
} scan_ctx;

static int scan_one(void *arg, void *obj) {
    scan_ctx *s = arg;
    s->sum += any_sum(s->kind, obj);
    s->count++;
    return 0;
}

static int c_scan(bn_rd *rd, uint64_t *count, uint64_t *sum) {
    crd *r = R(rd);
    scan_ctx s = {r->d->kind, 0, 0};
    any_obj o;
    isle_arena_reset(&r->arena);
    /* Strings borrowed for the callback, as SQLite's column text and
     * LMDB's values are read where they lie (the profile's tag list is
     * still built in the arena). */
    int rc = isle_coll_scan(r->txn, r->d->coll, ISLE_AUTO_ID, ISLE_SCAN_BORROW, &o, &r->arena,
                            scan_one, &s);
    if (rc)
        return fail("isle_coll_scan", rc);
    *count += s.count;
    *sum += s.sum;
    return 0;
}

static int c_checkpoint(bn_db *db) { return bn_isle_checkpoint(D(db)->db); }

const bn_engine bn_engine_isle_coll = {
    .name = "isle",
    .version = isle_version,
    .config = "collections API: a C struct by field table, put_many / get / scan into "
              "the struct (the scan with strings borrowed); sync NORMAL for loads, FULL for durable; cache as --cache-mb",
    .open = c_open,
    .close = c_close,
    .wr_open = c_wr_open,
    .wr_close = c_wr_close,
    .write = c_write,
    .rd_open = c_rd_open,
    .rd_close = c_rd_close,
    .rd_begin = c_rd_begin,
    .rd_end = c_rd_end,
    .get = c_get,
    .get1 = c_get1,
    .scan = c_scan,
    .checkpoint = c_checkpoint,
};
