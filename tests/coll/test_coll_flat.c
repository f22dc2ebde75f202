/*
 * test_coll_flat.c: a type whose fields are scalars, strings, lists of
 * strings and embedded objects of such types is encoded without the record
 * writer (co_encode's fast way, co_type's enc_head).  Its records must be
 * byte for byte what the writer makes, for every field kind, nulls, NaNs,
 * empty and long strings, null list elements, embedded records long
 * enough to need a two-byte length, and fields the stored schema has but
 * the C type does not; and what the writer refuses (bad UTF-8, an
 * isle_str with a NULL ptr and a length, a negative count, objects nested
 * too deep) it must refuse the same way.  Reaches the API layer's
 * internals (coll_int.h).
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_int.h"
#include "coll_util.h"

typedef struct Flat {
    int64_t id;
    isle_bool flag;
    bool cflag;
    uint8_t byte;
    int32_t small;
    int64_t big;
    float f;
    double d;
    int64_t when;
    char *name;
    isle_str note;
    char *tail;
} Flat;

static const isle_field flat_fields[] = {
    ISLE_FIELD(Flat, flag, ISLE_BOOL),     ISLE_FIELD(Flat, cflag, ISLE_BOOL),
    ISLE_FIELD(Flat, byte, ISLE_BYTE),     ISLE_FIELD(Flat, small, ISLE_SHORT),
    ISLE_FIELD(Flat, big, ISLE_INT),       ISLE_FIELD(Flat, f, ISLE_FLOAT),
    ISLE_FIELD(Flat, d, ISLE_DOUBLE),      ISLE_FIELD(Flat, when, ISLE_DATETIME),
    ISLE_FIELD(Flat, name, ISLE_STRING),   ISLE_FIELD(Flat, note, ISLE_STRING),
    ISLE_FIELD(Flat, tail, ISLE_STRING),
};
static const isle_schema flat_schema = ISLE_COLLECTION_AS(Flat, "flat", id, flat_fields);

/* The same stored type without some of its fields: they stay null. */
typedef struct Narrow {
    int64_t id;
    int32_t small;
    char *name;
} Narrow;

static const isle_field narrow_fields[] = {
    ISLE_FIELD(Narrow, small, ISLE_SHORT),
    ISLE_FIELD(Narrow, name, ISLE_STRING),
};
static const isle_schema narrow_schema = ISLE_COLLECTION_AS(Narrow, "flat", id, narrow_fields);

/* Lists of strings and embedded objects, held every way. */
typedef struct Addr {
    char *street;
    isle_str city;
    int32_t zip;
} Addr;

static const isle_field addr_fields[] = {
    ISLE_FIELD(Addr, street, ISLE_STRING),
    ISLE_FIELD(Addr, city, ISLE_STRING),
    ISLE_FIELD(Addr, zip, ISLE_SHORT),
};
static const isle_schema addr_schema = ISLE_EMBEDDED_AS(Addr, "Addr", addr_fields);

typedef struct Wrap {
    Addr *addr;
    double w;
} Wrap;

static const isle_field wrap_fields[] = {
    ISLE_FIELD(Wrap, addr, ISLE_EMBED(&addr_schema)),
    ISLE_FIELD(Wrap, w, ISLE_DOUBLE),
};
static const isle_schema wrap_schema = ISLE_EMBEDDED_AS(Wrap, "Wrap", wrap_fields);

typedef struct Prof {
    int64_t id;
    char *name;
    char **tags;
    uint32_t ntags;
    isle_str *keys;
    int32_t nkeys;
    Addr home;  /* inline */
    Addr *work; /* by pointer */
    Wrap *wrap; /* two levels */
} Prof;

static const isle_field prof_fields[] = {
    ISLE_FIELD(Prof, name, ISLE_STRING),
    ISLE_LIST(Prof, tags, ntags, ISLE_STRING),
    ISLE_LIST(Prof, keys, nkeys, ISLE_STRING),
    ISLE_FIELD(Prof, home, ISLE_EMBED_INLINE(&addr_schema)),
    ISLE_FIELD(Prof, work, ISLE_EMBED(&addr_schema)),
    ISLE_FIELD(Prof, wrap, ISLE_EMBED(&wrap_schema)),
};
static const isle_schema prof_schema = ISLE_COLLECTION_AS(Prof, "prof", id, prof_fields);

/* A type that holds itself: nesting is bounded by ISLE_NEST_DEPTH_MAX. */
typedef struct Link {
    int64_t id;
    char *label;
    struct Link *next;
} Link;

extern const isle_schema link_embedded;
static const isle_field link_fields[] = {
    ISLE_FIELD(Link, label, ISLE_STRING),
    ISLE_FIELD(Link, next, ISLE_EMBED(&link_embedded)),
};
const isle_schema link_embedded = ISLE_EMBEDDED_AS(Link, "Link", link_fields);
static const isle_schema link_schema = ISLE_COLLECTION_AS(Link, "link", id, link_fields);

static cu_tmp tmp;
static isle_db *db;

static void setup(void) {
    cu_tmp_make(&tmp);
    db = cu_open(tmp.path);
}

static void teardown(void) {
    if (db)
        cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    cu_tmp_remove(&tmp);
}

TestSuite(coll_flat, .init = setup, .fini = teardown);

/* Encodes obj both ways (fast into a buffer of cap bytes); asserts the
 * same status and, on success, the same bytes.  Returns the status. */
static int both_ways(const co_type *t, const void *obj, size_t cap) {
    cr_assert_not_null(t->enc_head, "type '%s' is flat but has no encoding head", t->name);
    co_type writer_only = *t;
    writer_only.enc_head = NULL;
    co_enc fast, slow;
    co_enc_init(&fast, NULL, 0, "flat");
    co_enc_init(&slow, NULL, 0, "flat");
    cr_assert_eq(co_enc_reserve(&fast, cap), 0);
    size_t nf = 0, ns = 0;
    int rf = co_encode(&fast, t, obj, &nf), rs = co_encode(&slow, &writer_only, obj, &ns);
    cr_assert_eq(rf, rs, "status %d, writer %d", rf, rs);
    if (rf == 0) {
        cr_assert_eq(nf, ns, "%zu bytes, writer %zu", nf, ns);
        cr_assert(memcmp(fast.buf, slow.buf, nf) == 0, "the records differ");
    }
    co_enc_free(&fast);
    co_enc_free(&slow);
    return rf;
}

static char *random_string(uint64_t *rng, size_t max, char *buf) {
    size_t n = (size_t)(cu_rand(rng) % (max + 1));
    for (size_t i = 0; i < n; i++) /* ASCII and two-byte UTF-8 */
        if (cu_rand(rng) % 4 == 0 && i + 1 < n) {
            buf[i++] = (char)0xc3;
            buf[i] = (char)0xa9;
        } else {
            buf[i] = (char)('a' + cu_rand(rng) % 26);
        }
    buf[n] = 0;
    return buf;
}

static void random_flat(uint64_t *rng, Flat *x, char bufs[3][400]) {
    uint64_t r = cu_rand(rng);
    x->flag = (isle_bool)((int)(r % 3) - 1); /* null, false, true */
    x->cflag = (r >> 2) & 1;
    x->byte = (uint8_t)(r >> 8);
    x->small = r % 7 == 0 ? INT32_MIN : (int32_t)(r >> 16);
    x->big = r % 11 == 0 ? INT64_MIN : (int64_t)cu_rand(rng);
    x->f = r % 5 == 0 ? NAN : r % 13 == 0 ? -NAN : (float)(int32_t)r / 7.0f;
    x->d = r % 6 == 0 ? -NAN : r % 17 == 0 ? INFINITY : (double)(int64_t)cu_rand(rng) / 3.0;
    x->when = (int64_t)(cu_rand(rng) >> 8);
    x->name = r % 9 == 0 ? NULL : random_string(rng, 40, bufs[0]);
    if (r % 10 == 0) {
        x->note = (isle_str){0};
    } else {
        random_string(rng, 300, bufs[1]);
        x->note = (isle_str){bufs[1], strlen(bufs[1])};
    }
    x->tail = r % 4 == 0 ? "" : random_string(rng, 20, bufs[2]);
}

Test(coll_flat, records_are_what_the_writer_makes) {
    isle_coll *c;
    cr_assert_eq(isle_coll_open(db, &flat_schema, &c), 0, "%s", isle_errmsg());
    uint64_t rng = 42;
    char bufs[3][400];
    for (int i = 0; i < 5000; i++) {
        Flat x = {.id = i + 1};
        random_flat(&rng, &x, bufs);
        /* buffers short of the record and long enough both */
        cr_assert_eq(both_ways(c->root, &x, i % 3 == 0 ? 16 : 4096), 0, "%s", isle_errmsg());
    }
    isle_coll_close(c);
}

Test(coll_flat, fields_the_type_lacks_are_written_null) {
    isle_coll *c;
    cr_assert_eq(isle_coll_open(db, &flat_schema, &c), 0, "%s", isle_errmsg());
    isle_coll_close(c);
    cr_assert_eq(isle_coll_open(db, &narrow_schema, &c), 0, "%s", isle_errmsg());
    cr_assert_lt(c->root->nfields, c->root->stored->nfields, "nothing is missing: nothing tested");
    Narrow n = {.small = 5, .name = "only"};
    cr_assert_eq(both_ways(c->root, &n, 4096), 0, "%s", isle_errmsg());
    /* and through the public API: the wider type reads them as null */
    cr_assert_eq(cu_put(db, c, &n), 0, "%s", isle_errmsg());
    isle_coll_close(c);
    cr_assert_eq(isle_coll_open(db, &flat_schema, &c), 0, "%s", isle_errmsg());
    isle_txn *txn;
    Flat got;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_get(txn, c, n.id, &got, &a), 0, "%s", isle_errmsg());
    cr_assert_eq(got.small, 5);
    cr_assert_str_eq(got.name, "only");
    cr_assert_eq(got.flag, ISLE_NULL_BOOL);
    cr_assert_eq(got.big, INT64_MIN);
    cr_assert(isnan(got.f) && isnan(got.d));
    cr_assert_null(got.note.ptr);
    cr_assert_null(got.tail);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
    isle_coll_close(c);
}

Test(coll_flat, what_the_writer_refuses_is_refused_alike) {
    isle_coll *c;
    cr_assert_eq(isle_coll_open(db, &flat_schema, &c), 0, "%s", isle_errmsg());
    Flat x = {.id = 1, .name = "ok", .tail = "t"};
    x.tail = "bad \xff utf-8";
    cr_assert_eq(both_ways(c->root, &x, 4096), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "tail") && strstr(isle_errmsg(), "UTF-8"), "%s",
              isle_errmsg());
    x.tail = "t";
    x.note = (isle_str){NULL, 3};
    cr_assert_eq(both_ways(c->root, &x, 4096), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "note"), "%s", isle_errmsg());
    x.note = (isle_str){"a\0b", 3}; /* a NUL inside */
    cr_assert_eq(both_ways(c->root, &x, 4096), ISLE_EINVAL);
    /* through the public API, the failed put stores nothing */
    cr_assert_eq(cu_put(db, c, &x), ISLE_EINVAL);
    cr_assert_eq(cu_count(db, c), 0);
    isle_coll_close(c);
}

static void random_addr(uint64_t *rng, Addr *a, char bufs[2][400]) {
    a->street = cu_rand(rng) % 5 == 0 ? NULL : random_string(rng, 200, bufs[0]);
    random_string(rng, 30, bufs[1]);
    a->city = cu_rand(rng) % 6 == 0 ? (isle_str){0} : (isle_str){bufs[1], strlen(bufs[1])};
    a->zip = (int32_t)cu_rand(rng);
}

Test(coll_flat, lists_of_strings_and_embedded_objects_too) {
    isle_coll *c;
    cr_assert_eq(isle_coll_open(db, &prof_schema, &c), 0, "%s", isle_errmsg());
    uint64_t rng = 7;
    char name[400], tagbuf[8][400], keybuf[8][400], ab[3][2][400];
    for (int i = 0; i < 3000; i++) {
        Prof x = {.id = i + 1, .name = random_string(&rng, 30, name)};
        char *tags[8];
        isle_str keys[8];
        uint64_t r = cu_rand(&rng);
        x.ntags = (uint32_t)(r % 9);
        x.tags = r % 7 == 0 ? NULL : tags; /* null list; else maybe empty */
        for (uint32_t k = 0; k < x.ntags; k++)
            tags[k] = cu_rand(&rng) % 5 == 0 ? NULL : random_string(&rng, 60, tagbuf[k]);
        x.nkeys = (int32_t)((r >> 8) % 9);
        x.keys = (r >> 8) % 7 == 0 ? NULL : keys;
        for (int32_t k = 0; k < x.nkeys; k++) {
            random_string(&rng, 20, keybuf[k]);
            keys[k] = cu_rand(&rng) % 5 == 0 ? (isle_str){0}
                                              : (isle_str){keybuf[k], strlen(keybuf[k])};
        }
        Addr work, inner;
        Wrap wrap = {.addr = r % 3 == 0 ? NULL : &inner, .w = 2.5};
        random_addr(&rng, &x.home, ab[0]);
        random_addr(&rng, &work, ab[1]);
        random_addr(&rng, &inner, ab[2]);
        x.work = r % 4 == 0 ? NULL : &work;
        x.wrap = r % 5 == 0 ? NULL : &wrap;
        cr_assert_eq(both_ways(c->root, &x, i % 3 == 0 ? 64 : 8192), 0, "%s", isle_errmsg());
    }
    /* refused alike: a negative count, a NULL isle_str in a list */
    Prof bad = {.id = 1, .keys = (isle_str[]){{"k", 1}}, .nkeys = -1};
    cr_assert_eq(both_ways(c->root, &bad, 8192), ISLE_EINVAL);
    bad.nkeys = 1;
    bad.keys[0] = (isle_str){NULL, 2};
    cr_assert_eq(both_ways(c->root, &bad, 8192), ISLE_EINVAL);
    isle_coll_close(c);
}

Test(coll_flat, a_chain_too_deep_is_refused_alike) {
    isle_coll *c;
    cr_assert_eq(isle_coll_open(db, &link_schema, &c), 0, "%s", isle_errmsg());
    Link chain[ISLE_NEST_DEPTH_MAX + 1];
    for (unsigned i = 0; i <= ISLE_NEST_DEPTH_MAX; i++)
        chain[i] = (Link){.id = 1, .label = "n",
                          .next = i < ISLE_NEST_DEPTH_MAX ? &chain[i + 1] : NULL};
    chain[ISLE_NEST_DEPTH_MAX - 1].next = NULL; /* ISLE_NEST_DEPTH_MAX records: the limit */
    cr_assert_eq(both_ways(c->root, &chain[0], 8192), 0, "%s", isle_errmsg());
    chain[ISLE_NEST_DEPTH_MAX - 1].next = &chain[ISLE_NEST_DEPTH_MAX]; /* one more */
    cr_assert_eq(both_ways(c->root, &chain[0], 8192), ISLE_ETOOBIG);
    isle_coll_close(c);
}
