/*
 * test_coll_scan.c: scans and collection cursors decode each record where
 * it lies in its leaf (en_cursor_peek), and load a record stored on
 * overflow pages instead.  Checked here: scans over many leaves give every
 * object in id order with every field, forward, in reverse and from a
 * given id (an id, a gap between ids, either side of the range), with
 * records on overflow pages among them; the arena is restored for each
 * object; a callback's non-zero return stops the scan and is returned
 * (ISLE_ENOTFOUND too), with no stale message; with ISLE_SCAN_BORROW the
 * strings are not copied and a type of strings and numbers needs no
 * arena; a scan in a write
 * transaction sees that transaction's puts and deletes, and a write to the
 * collection while a cursor is open invalidates it; a damaged key or
 * record gives ISLE_ECORRUPT with the message isle_coll_get and the cursor
 * calls give.  Damage is made by editing a leaf in the closed file and
 * sealing it again (XXH3-64 seeded with the page number, cd_page.h).
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "coll_util.h"

typedef struct Doc {
    int64_t id;
    char *name;
    int32_t n;
    double x;
    char *body;
    char **tags;
    uint32_t ntags;
} Doc;

static const isle_field doc_fields[] = {
    ISLE_FIELD(Doc, name, ISLE_STRING),
    ISLE_FIELD(Doc, n, ISLE_SHORT),
    ISLE_FIELD(Doc, x, ISLE_DOUBLE),
    ISLE_FIELD(Doc, body, ISLE_STRING),
    ISLE_LIST(Doc, tags, ntags, ISLE_STRING),
};
static const isle_schema doc_schema = ISLE_COLLECTION_AS(Doc, "docs", id, doc_fields);

/* Ids are STEP apart, so a scan can start between two of them.  Every
 * BIG_EVERY-th id has a body of BIG_LEN bytes: its record is larger than
 * a 4 KiB page's largest inline cell and goes to overflow pages. */
#define STEP 3
#define BIG_EVERY 97
#define BIG_LEN 3000u
#define TAGS_MAX 4u
#define PAGE 4096u

static cu_tmp tmp;
static isle_db *db;
static isle_coll *docs;

static void setup(void) {
    cu_tmp_make(&tmp);
    db = cu_open(tmp.path);
    cr_assert_eq(isle_coll_open(db, &doc_schema, &docs), 0, "%s", isle_errmsg());
}

static void teardown(void) {
    isle_coll_close(docs);
    if (db)
        cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    cu_tmp_remove(&tmp);
}

TestSuite(coll_scan, .init = setup, .fini = teardown);

/* ---- the objects -------------------------------------------------------------- */

/* The fields of object id, built in *b (which must outlive the Doc). */
typedef struct doc_buf {
    char name[32];
    char body[BIG_LEN + 1];
    char tag[TAGS_MAX][24];
    char *tags[TAGS_MAX];
} doc_buf;

static int is_big(int64_t id) { return id % BIG_EVERY == 0; }

static void doc_make(int64_t id, Doc *d, doc_buf *b) {
    snprintf(b->name, sizeof b->name, "doc-%lld", (long long)id);
    d->id = id;
    d->name = b->name;
    d->n = (int32_t)(id * 7 % 1000) - 500;
    d->x = (double)id * 0.5;
    if (is_big(id)) {
        for (uint32_t i = 0; i < BIG_LEN; i++)
            b->body[i] = (char)('a' + (id + i) % 26);
        b->body[BIG_LEN] = 0;
        d->body = b->body;
    } else if (id % 5 == 0) {
        d->body = NULL;
    } else {
        snprintf(b->body, sizeof b->body, "b%lld", (long long)id);
        d->body = b->body;
    }
    d->ntags = (uint32_t)(id % (TAGS_MAX + 1));
    for (uint32_t k = 0; k < d->ntags; k++) {
        snprintf(b->tag[k], sizeof b->tag[k], "t%lld-%u", (long long)id, k);
        b->tags[k] = b->tag[k];
    }
    d->tags = d->ntags ? b->tags : NULL;
}

static int str_same(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Asserts got is object id, field by field. */
static void doc_expect(const Doc *got, int64_t id) {
    static doc_buf b; /* the tests run their callbacks on one thread */
    Doc want;
    doc_make(id, &want, &b);
    cr_assert_eq(got->id, id);
    cr_assert(str_same(got->name, want.name), "object %lld: name", (long long)id);
    cr_assert_eq(got->n, want.n, "object %lld: n", (long long)id);
    cr_assert_eq(got->x, want.x, "object %lld: x", (long long)id);
    cr_assert(str_same(got->body, want.body), "object %lld: body", (long long)id);
    cr_assert_eq(got->ntags, want.ntags, "object %lld: ntags", (long long)id);
    for (uint32_t k = 0; k < want.ntags; k++)
        cr_assert(str_same(got->tags[k], want.tags[k]), "object %lld: tag %u", (long long)id, k);
}

/* Puts the objects STEP, 2 STEP, ..., n STEP in one put_many. */
static void put_docs(int64_t n) {
    Doc *d = calloc((size_t)n, sizeof *d);
    doc_buf *b = calloc((size_t)n, sizeof *b);
    cr_assert(d && b);
    for (int64_t i = 0; i < n; i++)
        doc_make((i + 1) * STEP, &d[i], &b[i]);
    cr_assert_eq(cu_put_many(db, docs, d, (size_t)n), 0, "%s", isle_errmsg());
    free(d);
    free(b);
}

/* ---- scans ------------------------------------------------------------------------ */

/* What a scan's callback checks: the next id it must see, the step
 * between ids (negative in reverse), the arena and its largest use. */
typedef struct walk {
    int64_t next, step, last;
    uint64_t seen, big;
    isle_arena *arena;
    size_t used_max;
} walk;

static int expect_next(void *arg, void *obj) {
    walk *w = arg;
    const Doc *d = obj;
    cr_assert_eq(d->id, w->next, "got object %lld, want %lld", (long long)d->id,
                 (long long)w->next);
    doc_expect(d, w->next);
    w->big += is_big(d->id);
    w->seen++;
    w->next += w->step;
    if (w->arena && isle_arena_used(w->arena) > w->used_max)
        w->used_max = isle_arena_used(w->arena);
    return 0;
}

/* Scans from `from` (flags) and asserts it gives want_first, want_first +
 * step, ... up to and including want_last (or nothing when want_first is
 * 0), through a fresh arena. */
static void scan_expect(isle_txn *txn, int64_t from, unsigned flags, int64_t want_first,
                        int64_t want_last) {
    unsigned char first_block[256];
    isle_arena a;
    isle_arena_init(&a, first_block, sizeof first_block);
    int64_t step = (flags & ISLE_SCAN_REVERSE) ? -STEP : STEP;
    walk w = {.next = want_first, .step = step, .arena = &a};
    Doc d;
    cr_assert_eq(isle_coll_scan(txn, docs, from, flags, &d, &a, expect_next, &w), 0,
                 "scan from %lld: %s", (long long)from, isle_errmsg());
    cr_assert_str_eq(isle_errmsg(), "");
    uint64_t want = want_first ? (uint64_t)((want_last - want_first) / step + 1) : 0;
    cr_assert_eq(w.seen, want, "scan from %lld (flags %u): %llu objects, want %llu",
                 (long long)from, flags, (unsigned long long)w.seen, (unsigned long long)want);
    /* one object's strings at a time: the arena is restored before each */
    cr_assert_leq(w.used_max, BIG_LEN + 1024, "the arena grew to %zu bytes", w.used_max);
    isle_arena_free(&a);
}

Test(coll_scan, many_leaves_forward_reverse_and_from_id) {
    const int64_t n = 6000, last = n * STEP;
    put_docs(n);
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    scan_expect(txn, ISLE_AUTO_ID, 0, STEP, last);
    scan_expect(txn, ISLE_AUTO_ID, ISLE_SCAN_REVERSE, last, STEP);
    /* from an id, from between two ids, from either side of the range */
    scan_expect(txn, 300, 0, 300, last);
    scan_expect(txn, 301, 0, 303, last);
    scan_expect(txn, 1, 0, STEP, last);
    scan_expect(txn, last, 0, last, last);
    scan_expect(txn, last + 1, 0, 0, 0);
    scan_expect(txn, 300, ISLE_SCAN_REVERSE, 300, STEP);
    scan_expect(txn, 302, ISLE_SCAN_REVERSE, 300, STEP);
    scan_expect(txn, last + 100, ISLE_SCAN_REVERSE, last, STEP);
    scan_expect(txn, STEP, ISLE_SCAN_REVERSE, STEP, STEP);
    scan_expect(txn, STEP - 1, ISLE_SCAN_REVERSE, 0, 0);
    /* a range with records on overflow pages in it, starting on one */
    scan_expect(txn, BIG_EVERY * STEP, 0, BIG_EVERY * STEP, last);
    scan_expect(txn, BIG_EVERY * STEP, ISLE_SCAN_REVERSE, BIG_EVERY * STEP, STEP);
    cr_assert_eq(isle_read_end(txn), 0);
    cu_check(db, docs);
}

Test(coll_scan, overflow_records_among_inline_ones) {
    const int64_t n = 3000;
    put_docs(n);
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    walk w = {.next = STEP, .step = STEP, .arena = &a};
    Doc d;
    cr_assert_eq(isle_coll_scan(txn, docs, ISLE_AUTO_ID, 0, &d, &a, expect_next, &w), 0, "%s",
                 isle_errmsg());
    cr_assert_eq(w.seen, (uint64_t)n);
    cr_assert_eq(w.big, (uint64_t)(n * STEP / (BIG_EVERY * STEP)), "big objects seen");
    cr_assert_gt(w.big, 10);
    /* the cursor calls on either side of one */
    isle_coll_cursor *cur;
    int64_t id, big = 5 * BIG_EVERY * STEP;
    cr_assert_eq(isle_coll_cursor_open(txn, docs, &cur), 0);
    cr_assert_eq(isle_coll_cursor_seek(cur, big - 1, ISLE_SEEK_LE), 0);
    for (int64_t want = big - STEP; want <= big + STEP; want += STEP) {
        isle_arena_reset(&a);
        cr_assert_eq(isle_coll_cursor_id(cur, &id), 0);
        cr_assert_eq(id, want);
        cr_assert_eq(isle_coll_cursor_get(cur, &d, &a), 0, "%s", isle_errmsg());
        doc_expect(&d, want);
        cr_assert_eq(isle_coll_cursor_next(cur), 0);
    }
    for (int64_t want = big + 2 * STEP; want >= big - STEP; want -= STEP) {
        isle_arena_reset(&a);
        cr_assert_eq(isle_coll_cursor_get(cur, &d, &a), 0, "%s", isle_errmsg());
        doc_expect(&d, want);
        cr_assert_eq(isle_coll_cursor_prev(cur), 0);
    }
    isle_coll_cursor_close(cur);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
}

/* A callback that returns `code` at object number stop_at (1-based); at
 * object number fail_at it makes a call that fails and goes on. */
typedef struct stopper {
    isle_txn *txn;
    uint64_t calls, stop_at, fail_at;
    int code;
} stopper;

static int stop_after(void *arg, void *obj) {
    stopper *s = arg;
    (void)obj;
    s->calls++;
    if (s->calls == s->fail_at) {
        Doc other;
        cr_assert_eq(isle_coll_get(s->txn, docs, 1, &other, NULL), ISLE_ENOTFOUND);
        cr_assert_str_neq(isle_errmsg(), "");
    }
    return s->calls == s->stop_at ? s->code : 0;
}

static int scan_stopper(isle_txn *txn, unsigned flags, stopper *s) {
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    Doc d;
    s->txn = txn;
    s->calls = 0;
    int rc = isle_coll_scan(txn, docs, ISLE_AUTO_ID, flags, &d, &a, stop_after, s);
    isle_arena_free(&a);
    return rc;
}

Test(coll_scan, a_callback_stops_the_scan) {
    put_docs(2000);
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    stopper s = {.stop_at = 700, .code = 77};
    cr_assert_eq(scan_stopper(txn, 0, &s), 77);
    cr_assert_eq(s.calls, 700);
    cr_assert_eq(scan_stopper(txn, ISLE_SCAN_REVERSE, &s), 77);
    cr_assert_eq(s.calls, 700);
    /* ISLE_ENOTFOUND from the callback is its code, not the end */
    s = (stopper){.stop_at = 3, .code = ISLE_ENOTFOUND};
    cr_assert_eq(scan_stopper(txn, 0, &s), ISLE_ENOTFOUND);
    cr_assert_eq(s.calls, 3);
    /* a message a callback left behind an earlier object is not reported
     * as the reason a later one stopped, nor after a scan that ends well */
    s = (stopper){.stop_at = 20, .fail_at = 10, .code = 5};
    cr_assert_eq(scan_stopper(txn, 0, &s), 5);
    cr_assert_str_eq(isle_errmsg(), "");
    s = (stopper){.fail_at = 10};
    cr_assert_eq(scan_stopper(txn, 0, &s), 0);
    cr_assert_eq(s.calls, 2000);
    cr_assert_str_eq(isle_errmsg(), "");
    cr_assert_eq(isle_read_end(txn), 0);
}

/* ---- borrowed strings ---------------------------------------------------------------- */

/* expect_next, and what the arena holds with ISLE_SCAN_BORROW: only an
 * object's tag array (its strings, the tags' too, point at the stored
 * bytes, or for an object on overflow pages at the scan's copy of it). */
static int expect_borrowed(void *arg, void *obj) {
    walk *w = arg;
    const Doc *d = obj;
    size_t used = isle_arena_used(w->arena);
    cr_assert_eq(used, d->ntags * sizeof(char *), "object %lld: %zu bytes in the arena",
                 (long long)d->id, used);
    return expect_next(arg, obj);
}

typedef struct Name {
    int64_t id;
    char *name;
    int32_t n;
} Name;

static const isle_field name_fields[] = {
    ISLE_FIELD(Name, name, ISLE_STRING),
    ISLE_FIELD(Name, n, ISLE_SHORT),
};
static const isle_schema name_schema = ISLE_COLLECTION_AS(Name, "names", id, name_fields);

static int expect_name(void *arg, void *obj) {
    int64_t *next = arg;
    const Name *o = obj;
    char want[BIG_LEN];
    int at = snprintf(want, sizeof want, "name %lld", (long long)*next);
    if (*next % 7 == 4) {
        memset(want + at, 'z', BIG_LEN - 1 - (size_t)at);
        want[BIG_LEN - 1] = 0;
    }
    cr_assert_eq(o->id, *next);
    cr_assert_str_eq(o->name, want);
    cr_assert_eq(o->n, (int32_t)*next * 3);
    ++*next;
    return 0;
}

Test(coll_scan, borrowed_strings) {
    const int64_t n = 3000, last = n * STEP;
    put_docs(n);
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    Doc d;
    for (int reverse = 0; reverse < 2; reverse++) {
        walk w = {.next = reverse ? last : STEP, .step = reverse ? -STEP : STEP, .arena = &a};
        unsigned flags = ISLE_SCAN_BORROW | (reverse ? ISLE_SCAN_REVERSE : 0);
        cr_assert_eq(isle_coll_scan(txn, docs, ISLE_AUTO_ID, flags, &d, &a, expect_borrowed,
                                    &w), 0, "%s", isle_errmsg());
        cr_assert_eq(w.seen, (uint64_t)n);
        cr_assert_gt(w.big, 10);
    }
    /* a list needs the arena even so; a flag past the known ones is refused */
    walk w = {.next = STEP, .step = STEP};
    cr_assert_eq(isle_coll_scan(txn, docs, ISLE_AUTO_ID, ISLE_SCAN_BORROW, &d, NULL,
                                expect_next, &w), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "needs an arena"), "%s", isle_errmsg());
    cr_assert_eq(isle_coll_scan(txn, docs, ISLE_AUTO_ID, ISLE_SCAN_BORROW << 1, &d, &a,
                                expect_next, &w), ISLE_EINVAL);
    cr_assert_eq(w.seen, 0);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);

    /* strings and numbers only: no arena at all, objects on overflow
     * pages among them */
    isle_coll *names;
    cr_assert_eq(isle_coll_open(db, &name_schema, &names), 0, "%s", isle_errmsg());
    Name o[50];
    static char buf[50][BIG_LEN];
    for (int i = 0; i < 50; i++) {
        int at = snprintf(buf[i], sizeof buf[i], "name %d", i + 1);
        if (i % 7 == 3) /* long: the record goes to overflow pages */
            memset(buf[i] + at, 'z', BIG_LEN - 1 - (size_t)at);
        o[i] = (Name){.name = buf[i], .n = (i + 1) * 3};
    }
    cr_assert_eq(cu_put_many(db, names, o, 50), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    int64_t next = 1;
    Name got;
    cr_assert_eq(isle_coll_scan(txn, names, ISLE_AUTO_ID, 0, &got, NULL, expect_name, &next),
                 ISLE_EINVAL, "copied strings need an arena");
    cr_assert_eq(next, 1);
    cr_assert_eq(isle_coll_scan(txn, names, ISLE_AUTO_ID, ISLE_SCAN_BORROW, &got, NULL,
                                expect_name, &next), 0, "%s", isle_errmsg());
    cr_assert_eq(next, 51);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_coll_close(names);
}

/* ---- write transactions ------------------------------------------------------------- */

typedef struct in_write {
    int64_t n;
} in_write;

static int write_then_scan(isle_txn *txn, void *arg) {
    in_write *iw = arg;
    Doc *d = calloc((size_t)iw->n, sizeof *d);
    doc_buf *b = calloc((size_t)iw->n, sizeof *b);
    cr_assert(d && b);
    for (int64_t i = 0; i < iw->n; i++)
        doc_make((i + 1) * STEP, &d[i], &b[i]);
    cr_assert_eq(isle_coll_put_many(txn, docs, d, (size_t)iw->n), 0, "%s", isle_errmsg());
    free(d);
    free(b);
    const int64_t last = iw->n * STEP;
    scan_expect(txn, ISLE_AUTO_ID, 0, STEP, last);
    scan_expect(txn, ISLE_AUTO_ID, ISLE_SCAN_REVERSE, last, STEP);
    /* deletes at the start and a put past the end, then scans again */
    cr_assert_eq(isle_coll_delete(txn, docs, STEP), 0);
    cr_assert_eq(isle_coll_delete(txn, docs, 2 * STEP), 0);
    Doc extra;
    doc_buf eb;
    doc_make(last + STEP, &extra, &eb);
    cr_assert_eq(isle_coll_put(txn, docs, &extra), 0, "%s", isle_errmsg());
    scan_expect(txn, ISLE_AUTO_ID, 0, 3 * STEP, last + STEP);
    scan_expect(txn, ISLE_AUTO_ID, ISLE_SCAN_REVERSE, last + STEP, 3 * STEP);
    scan_expect(txn, last + 1, 0, last + STEP, last + STEP);
    scan_expect(txn, 3 * STEP - 1, ISLE_SCAN_REVERSE, 0, 0);
    return 0;
}

Test(coll_scan, a_write_transaction_sees_its_own_writes) {
    in_write iw = {4000};
    cr_assert_eq(isle_write(db, write_then_scan, &iw), 0, "%s", isle_errmsg());
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    scan_expect(txn, ISLE_AUTO_ID, 0, 3 * STEP, (iw.n + 1) * STEP);
    scan_expect(txn, ISLE_AUTO_ID, ISLE_SCAN_REVERSE, (iw.n + 1) * STEP, 3 * STEP);
    cr_assert_eq(isle_read_end(txn), 0);
    cu_check(db, docs);
}

typedef struct writer_cb {
    isle_txn *txn;
    uint64_t calls;
} writer_cb;

static int put_while_scanning(void *arg, void *obj) {
    writer_cb *w = arg;
    Doc *d = obj;
    w->calls++;
    d->n = 1;
    return isle_coll_put(w->txn, docs, d);
}

static int write_during_scan(isle_txn *txn, void *arg) {
    (void)arg;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    Doc d;
    writer_cb w = {txn, 0};
    /* the put succeeds; the scan's next step finds its cursor invalidated */
    cr_assert_eq(isle_coll_scan(txn, docs, ISLE_AUTO_ID, 0, &d, &a, put_while_scanning, &w),
                 ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "written"), "%s", isle_errmsg());
    cr_assert_eq(w.calls, 1);
    /* so does a cursor's get, which reads the record in place */
    isle_coll_cursor *cur;
    cr_assert_eq(isle_coll_cursor_open(txn, docs, &cur), 0);
    cr_assert_eq(isle_coll_cursor_seek(cur, 10 * STEP, ISLE_SEEK_GE), 0);
    cr_assert_eq(isle_coll_cursor_get(cur, &d, &a), 0);
    doc_expect(&d, 10 * STEP);
    cr_assert_eq(isle_coll_delete(txn, docs, 20 * STEP), 0);
    cr_assert_eq(isle_coll_cursor_get(cur, &d, &a), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "written"), "%s", isle_errmsg());
    isle_coll_cursor_close(cur);
    isle_arena_free(&a);
    return 0;
}

Test(coll_scan, a_write_invalidates_the_cursor_of_a_scan) {
    put_docs(500);
    cr_assert_eq(isle_write(db, write_during_scan, NULL), 0, "%s", isle_errmsg());
}

/* ---- damaged leaves ----------------------------------------------------------------- */

/* A leaf cell of the closed file (cd_page.h): klen varint, value word
 * varint (vlen << 1 | on overflow), key, value. */
typedef struct cell {
    uint32_t off;      /* in the page */
    uint32_t vw_len;   /* bytes of the value word's varint */
    uint32_t vlen;
    uint8_t *page;     /* the page, read into memory */
    uint64_t pgno;
} cell;

static int holds(const uint8_t *page, const char *s, size_t n) {
    for (size_t i = 0; i + n <= PAGE; i++)
        if (memcmp(page + i, s, n) == 0)
            return 1;
    return 0;
}

/* A varint of at most two bytes at p: its value, *len its length. */
static uint32_t varint2(const uint8_t *p, uint32_t *len) {
    *len = p[0] < 0x80 ? 1 : 2;
    cr_assert(*len == 1 || p[1] < 0x80);
    return *len == 1 ? p[0] : (uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7;
}

/* Writes v as a varint of exactly len (1 or 2) bytes at p. */
static void varint2_put(uint8_t *p, uint32_t v, uint32_t len) {
    cr_assert(len == 1 ? v < 0x80 : v >= 0x80 && v < 0x4000, "%u fits %u bytes", v, len);
    if (len == 1) {
        p[0] = (uint8_t)v;
    } else {
        p[0] = (uint8_t)(0x80 | (v & 0x7f));
        p[1] = (uint8_t)(v >> 7);
    }
}

/* Reads the leaf holding object id's record and finds its cell; the leaf
 * is the page where "doc-<id>" and its NUL occur. */
static void cell_find(int64_t id, cell *c) {
    FILE *f = fopen(tmp.path, "rb");
    cr_assert(f);
    char needle[40];
    int nlen = snprintf(needle, sizeof needle, "doc-%lld", (long long)id) + 1;
    uint8_t *page = malloc(PAGE);
    cr_assert(page);
    for (c->pgno = 0; fread(page, 1, PAGE, f) == PAGE; c->pgno++) {
        if (page[0] != 'L' || !holds(page, needle, (size_t)nlen))
            continue;
        uint16_t n = (uint16_t)(page[2] | page[3] << 8);
        for (uint16_t i = 0; i < n; i++) {
            uint32_t off = (uint32_t)(page[40 + 2 * i] | page[41 + 2 * i] << 8), vw_len;
            const uint8_t *p = page + off;
            if (p[0] != 8)
                continue;
            uint32_t vw = varint2(p + 1, &vw_len);
            uint64_t key = 0;
            for (int b = 0; b < 8; b++)
                key = key << 8 | p[1 + vw_len + b];
            if (key != ((uint64_t)id ^ (UINT64_C(1) << 63)))
                continue;
            cr_assert_eq(vw & 1, 0, "an inline value");
            c->off = off;
            c->vw_len = vw_len;
            c->vlen = vw >> 1;
            c->page = page;
            fclose(f);
            return;
        }
    }
    cr_assert_fail("no leaf holds object %lld", (long long)id);
}

/* Seals c's page again and writes it back. */
static void cell_write(cell *c) {
    memset(c->page + 32, 0, 8);
    uint64_t sum = XXH3_64bits_withSeed(c->page, PAGE, c->pgno);
    for (int i = 0; i < 8; i++)
        c->page[32 + i] = (uint8_t)(sum >> (8 * i));
    FILE *f = fopen(tmp.path, "r+b");
    cr_assert(f);
    cr_assert_eq(fseek(f, (long)(c->pgno * PAGE), SEEK_SET), 0);
    cr_assert_eq(fwrite(c->page, 1, PAGE, f), PAGE);
    cr_assert_eq(fclose(f), 0);
    free(c->page);
}

static void reopen(void) {
    isle_coll_close(docs);
    cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    db = NULL;
    docs = NULL;
}

static void open_again(void) {
    db = cu_open(tmp.path);
    cr_assert_eq(isle_coll_open(db, &doc_schema, &docs), 0, "%s", isle_errmsg());
}

/* Scans (expecting ids STEP, 2 STEP, ... up to the damage), then asserts
 * the code and message, and that isle_coll_get (unless get_id is 0) and
 * the cursor calls at the damaged object give the same. */
static void expect_corrupt(int64_t bad_id, int64_t get_id, const char *msg) {
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    walk w = {.next = STEP, .step = STEP};
    Doc d;
    cr_assert_eq(isle_coll_scan(txn, docs, ISLE_AUTO_ID, 0, &d, &a, expect_next, &w),
                 ISLE_ECORRUPT);
    cr_assert_str_eq(isle_errmsg(), msg);
    cr_assert_eq(w.seen, (uint64_t)(bad_id / STEP - 1), "objects before the damaged one");
    if (get_id) {
        cr_assert_eq(isle_coll_get(txn, docs, get_id, &d, &a), ISLE_ECORRUPT);
        cr_assert_str_eq(isle_errmsg(), msg);
    }
    isle_coll_cursor *cur;
    cr_assert_eq(isle_coll_cursor_open(txn, docs, &cur), 0);
    cr_assert_eq(isle_coll_cursor_first(cur), 0);
    for (int64_t id = STEP; id < bad_id; id += STEP)
        cr_assert_eq(isle_coll_cursor_next(cur), 0);
    cr_assert_eq(isle_coll_cursor_get(cur, &d, &a), ISLE_ECORRUPT);
    cr_assert_str_eq(isle_errmsg(), msg);
    isle_coll_cursor_close(cur);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
}

Test(coll_scan, a_damaged_record_mid_scan) {
    put_docs(40);
    const int64_t bad = 7 * STEP;
    reopen();
    cell c;
    cell_find(bad, &c);
    uint8_t *rec = c.page + c.off + 1 + c.vw_len + 8;
    rec[0] = rec[1] = 0xff; /* a static section longer than the record */
    cell_write(&c);
    open_again();
    char msg[128];
    snprintf(msg, sizeof msg, "collection 'docs': a stored object of %u bytes is not a record",
             c.vlen);
    expect_corrupt(bad, bad, msg);
}

Test(coll_scan, a_damaged_key) {
    put_docs(40);
    reopen();
    /* The first cell's key loses its last byte to the value: a 7-byte key,
     * still below every other key of the leaf, so the page stays valid. */
    cell c;
    cell_find(STEP, &c);
    uint8_t *p = c.page + c.off;
    p[0] = 7;
    varint2_put(p + 1, (c.vlen + 1) << 1, c.vw_len);
    cell_write(&c);
    open_again();
    expect_corrupt(STEP, 0, "collection 'docs': a key of 7 bytes is not an id");
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    isle_coll_cursor *cur;
    int64_t id;
    cr_assert_eq(isle_coll_cursor_open(txn, docs, &cur), 0);
    cr_assert_eq(isle_coll_cursor_first(cur), 0);
    cr_assert_eq(isle_coll_cursor_id(cur, &id), ISLE_ECORRUPT);
    cr_assert_str_eq(isle_errmsg(), "collection 'docs': a key of 7 bytes is not an id");
    isle_coll_cursor_close(cur);
    /* a reverse scan delivers every other object first */
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    walk w = {.next = 40 * STEP, .step = -STEP};
    Doc d;
    cr_assert_eq(isle_coll_scan(txn, docs, ISLE_AUTO_ID, ISLE_SCAN_REVERSE, &d, &a,
                                expect_next, &w), ISLE_ECORRUPT);
    cr_assert_eq(w.seen, 39);
    isle_arena_free(&a);
    cr_assert_eq(isle_read_end(txn), 0);
}
