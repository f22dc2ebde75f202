/*
 * test_coll_errors.c: every kind of bad input returns its error and
 * changes nothing: NULL pointers, a handle that is not an open collection
 * of this database, strings that are not UTF-8 (at any depth), objects,
 * strings and lists over their limits, enum values outside their table,
 * objects nested too deep, writes through read transactions, and a bad
 * object in the middle of a put_many.  After each, the database is read
 * back and compared with what it held, and checked (isle_check and
 * isle_coll_check).  Bad writes are committed on purpose: the
 * transaction's other work goes through, the bad call's does not.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_util.h"

#define REF_N 20

static cu_tmp tmp;
static isle_db *db;
static isle_coll *all;
static All ref[REF_N];
static cu_mem mem;
static int64_t next_auto; /* the id the next auto-increment must give */

static void setup(void) {
    cu_tmp_make(&tmp);
    db = cu_open(tmp.path);
    cr_assert_eq(isle_coll_open(db, &all_schema, &all), 0, "%s", isle_errmsg());
    for (int i = 0; i < REF_N; i++)
        cu_all_fill(&ref[i], (uint64_t)i * 31 + 5, &mem);
    cr_assert_eq(cu_put_many(db, all, ref, REF_N), 0, "%s", isle_errmsg());
    next_auto = REF_N + 1;
}

static void teardown(void) {
    isle_coll_close(all);
    if (db)
        cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    cu_mem_free(&mem);
    cu_tmp_remove(&tmp);
}

TestSuite(coll_errors, .init = setup, .fini = teardown);

typedef struct walk {
    int n;
} walk;

static int compare_ref(void *arg, void *obj) {
    walk *w = arg;
    char why[256] = "";
    cr_assert_lt(w->n, REF_N, "more objects than were stored");
    All *got = obj;
    got->scratch = ref[w->n].scratch;
    cr_assert(cu_all_equal(&ref[w->n], got, why, sizeof why), "object %d: %s", w->n, why);
    w->n++;
    return 0;
}

/* The database holds exactly the reference objects, and checks out. */
static void expect_unchanged(void) {
    isle_txn *txn;
    isle_arena a;
    All x;
    walk w = {0};
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_scan(txn, all, ISLE_AUTO_ID, 0, &x, &a, compare_ref, &w), 0, "%s",
                 isle_errmsg());
    cr_assert_eq(w.n, REF_N);
    uint64_t n;
    cr_assert_eq(isle_coll_count(txn, all, &n), 0);
    cr_assert_eq(n, REF_N);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
    cu_check(db, all);
    All next;
    cu_all_null(&next);
    cr_assert_eq(cu_put(db, all, &next), 0);
    cr_assert_eq(next.id, next_auto, "the auto-increment did not move");
    next_auto++; /* this probe used one */
    cr_assert_eq(cu_delete(db, all, next.id), 0);
}

/* Runs one bad call in a write transaction that then commits. */
typedef int (*bad_fn)(isle_txn *txn, void *arg);
typedef struct bad_call {
    bad_fn fn;
    void *arg;
    int want;
    const char *needle;
} bad_call;

static int commit_anyway(isle_txn *txn, void *arg) {
    bad_call *b = arg;
    int rc = b->fn(txn, b->arg);
    cr_assert_eq(rc, b->want, "got %d (%s), want %d", rc, isle_errmsg(), b->want);
    if (b->needle)
        cr_assert(strstr(isle_errmsg(), b->needle), "'%s' not in: %s", b->needle, isle_errmsg());
    return 0;
}

static void expect_bad_write(bad_fn fn, void *arg, int want, const char *needle) {
    bad_call b = {fn, arg, want, needle};
    cr_assert_eq(isle_write(db, commit_anyway, &b), 0, "%s", isle_errmsg());
    expect_unchanged();
}

static int put_fn(isle_txn *txn, void *arg) { return isle_coll_put(txn, all, arg); }

static void expect_bad_put(All *x, int want, const char *needle) {
    int64_t id = x->id;
    expect_bad_write(put_fn, x, want, needle);
    cr_assert_eq(x->id, id, "the id is not written back");
}

Test(coll_errors, strings_that_are_not_utf8) {
    All x;
    cu_all_null(&x);
    x.str = "ok \xc3\x28 no"; /* a broken 2-byte sequence */
    expect_bad_put(&x, ISLE_EINVAL, "field 'str': string is not valid UTF-8");
    x.str = "\xed\xa0\x80"; /* a surrogate */
    expect_bad_put(&x, ISLE_EINVAL, "UTF-8");
    x.str = NULL;
    char *words[] = {"fine", "\xff"};
    x.lstr = words;
    x.nlstr = 2;
    expect_bad_put(&x, ISLE_EINVAL, "field 'lstr'");
    x.lstr = NULL;
    Leaf leaf = {"\xc0\x80", 1}; /* an overlong NUL */
    Inner in = {.name = "fine", .leaf = &leaf};
    x.emb = &in;
    expect_bad_put(&x, ISLE_EINVAL, "field 'emb.leaf.label'");
    x.emb = NULL;
    Inner list[2] = {{.name = "ok"}, {.name = "bad\xfe"}};
    x.lemb = list;
    x.nlemb = 2;
    expect_bad_put(&x, ISLE_EINVAL, "field 'lemb[1].name'");
    x.lemb = NULL;
    Node n2 = {"\x80", NULL}, n1 = {"top", &n2};
    x.tree = &n1;
    expect_bad_put(&x, ISLE_EINVAL, "field 'tree.child.name'");
    x.id = 3; /* a replace that fails leaves the old object */
    expect_bad_put(&x, ISLE_EINVAL, "UTF-8");
}

Test(coll_errors, sizes_over_their_limits, .timeout = 60) {
    All x;
    cu_all_null(&x);
    size_t big = ISLE_STRING_LEN_MAX + 1;
    char *s = malloc(big + 1);
    cr_assert_not_null(s);
    memset(s, 'a', big);
    s[big] = 0;
    x.str = s;
    expect_bad_put(&x, ISLE_ETOOBIG, "longer than ISLE_STRING_LEN_MAX");
    s[ISLE_OBJECT_SIZE_MAX / 2] = 0; /* two halves: each fits, the object does not */
    x.str = s;
    char *words[] = {s};
    x.lstr = words;
    x.nlstr = 1;
    expect_bad_put(&x, ISLE_ETOOBIG, "more than ISLE_OBJECT_SIZE_MAX");
    x.str = NULL;
    x.lstr = NULL;
    x.lby = (uint8_t *)s;
    x.nlby = (size_t)ISLE_LIST_LEN_MAX + 1;
    expect_bad_put(&x, ISLE_ETOOBIG, "list longer than ISLE_LIST_LEN_MAX");
    free(s);
    Node nodes[ISLE_NEST_DEPTH_MAX];
    for (unsigned i = 0; i < ISLE_NEST_DEPTH_MAX; i++)
        nodes[i] = (Node){"n", i + 1 < ISLE_NEST_DEPTH_MAX ? &nodes[i + 1] : NULL};
    x.lby = NULL;
    x.tree = &nodes[0]; /* 1 + 32 levels */
    expect_bad_put(&x, ISLE_ETOOBIG, "nest deeper");
    nodes[ISLE_NEST_DEPTH_MAX - 1].child = &nodes[0]; /* a cycle */
    expect_bad_put(&x, ISLE_ETOOBIG, "nest deeper");
}

Test(coll_errors, enum_values_and_counts) {
    All x;
    cu_all_null(&x);
    x.e_name = (enum color)7;
    expect_bad_put(&x, ISLE_EINVAL, "field 'e_name': value is not in the enum's table");
    x.e_name = COLOR_NONE;
    x.e_ord = COLOR_NONE; /* strict: not a value, and ordinals cannot be null */
    expect_bad_put(&x, ISLE_EINVAL, "field 'e_ord'");
    x.e_ord = COLOR_RED;
    enum color cs[] = {COLOR_RED, (enum color)9};
    x.le_name = cs;
    x.nle_name = 2;
    expect_bad_put(&x, ISLE_EINVAL, "field 'le_name'");
    x.le_name = NULL;
    x.le_ord32 = cs;
    x.nle_ord32 = -1;
    expect_bad_put(&x, ISLE_EINVAL, "negative list count");
}

/* A nullable enum stored as an ordinal cannot hold its null. */
typedef struct Ord {
    int64_t id;
    enum color c;
} Ord;
static const isle_field ord_fields[] = {
    ISLE_FIELD(Ord, c, ISLE_ENUM(&color_enum, ISLE_ENUM_ORDINAL)),
};
static const isle_schema ord_schema = ISLE_COLLECTION(Ord, id, ord_fields);
static isle_coll *ords;
static int put_ord(isle_txn *txn, void *arg) { return isle_coll_put(txn, ords, arg); }

Test(coll_errors, ordinal_enum_cannot_be_null) {
    cr_assert_eq(isle_coll_open(db, &ord_schema, &ords), 0, "%s", isle_errmsg());
    Ord o = {0, COLOR_NONE};
    expect_bad_write(put_ord, &o, ISLE_EINVAL, "ISLE_ENUM_ORDINAL enum cannot be null");
    o.c = COLOR_BLUE;
    cr_assert_eq(isle_write(db, put_ord, &o), 0);
    isle_coll_close(ords);
}

/* put_many: object 30 of 50 is bad; the 30 before it, some replacing
 * stored objects and some new, are all taken back. */
typedef struct many {
    All *objs;
    size_t n;
} many;

static int put_many_fn(isle_txn *txn, void *arg) {
    many *m = arg;
    return isle_coll_put_many(txn, all, m->objs, m->n);
}

Test(coll_errors, put_many_is_all_or_nothing) {
    All xs[50];
    for (int i = 0; i < 50; i++) {
        cu_all_fill(&xs[i], 1000 + (uint64_t)i, &mem);
        xs[i].id = i < 5 ? i + 1 : i < 10 ? -i : i < 12 ? 500 : ISLE_AUTO_ID;
    }
    xs[30].str = "bad \xff";
    many m = {xs, 50};
    expect_bad_write(put_many_fn, &m, ISLE_EINVAL, "object 30: collection 'All': field 'str'");
    for (int i = 12; i < 50; i++)
        cr_assert_eq(xs[i].id, ISLE_AUTO_ID, "no id written back");
    xs[30].str = NULL;
    xs[49].tree = (Node *)&(Node){"\xff", NULL}; /* the very last */
    expect_bad_write(put_many_fn, &m, ISLE_EINVAL, "object 49");
    m.n = 1;
    xs[0].str = "\xff";
    expect_bad_write(put_many_fn, &m, ISLE_EINVAL, "object 0");
}

/* put_many queues new objects and puts them many at a time; a bad one
 * far into a long run, with records too long to be queued between the
 * others, still takes back every object before it and is the one named.
 * Fixed, the same call stores every object as given. */
#define LONG_N 300

Test(coll_errors, a_bad_object_deep_in_a_long_put_many) {
    static All xs[LONG_N];
    static char big[6000];
    memset(big, 'b', sizeof big - 1);
    for (int i = 0; i < LONG_N; i++) {
        cu_all_fill(&xs[i], 7000 + (uint64_t)i, &mem);
        xs[i].id = ISLE_AUTO_ID;
        if (i % 37 == 5)
            xs[i].str = big; /* a record too long to be queued */
    }
    xs[250].str = "bad \xff";
    many m = {xs, LONG_N};
    expect_bad_write(put_many_fn, &m, ISLE_EINVAL, "object 250: collection 'All': field 'str'");
    xs[250].str = "good";
    cr_assert_eq(isle_write(db, put_many_fn, &m), 0, "%s", isle_errmsg());
    isle_txn *txn;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    for (int i = 0; i < LONG_N; i++) {
        All got;
        char why[256] = "";
        cr_assert_eq(xs[i].id, next_auto + i, "object %d got id %lld", i, (long long)xs[i].id);
        cr_assert_eq(isle_coll_get(txn, all, xs[i].id, &got, &a), 0, "%s", isle_errmsg());
        got.scratch = xs[i].scratch;
        cr_assert(cu_all_equal(&xs[i], &got, why, sizeof why), "object %d: %s", i, why);
        isle_arena_reset(&a);
    }
    uint64_t n;
    cr_assert_eq(isle_coll_count(txn, all, &n), 0);
    cr_assert_eq(n, REF_N + LONG_N);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
    cu_check(db, all);
}

/* Writes through a read transaction. */
Test(coll_errors, writes_through_a_read_transaction) {
    isle_txn *txn;
    All x;
    cu_all_null(&x);
    int64_t ids[] = {1, 2};
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_put(txn, all, &x), ISLE_EREADONLY);
    cr_assert(strstr(isle_errmsg(), "read transaction"), "%s", isle_errmsg());
    cr_assert_eq(isle_coll_put_many(txn, all, &x, 1), ISLE_EREADONLY);
    cr_assert_eq(isle_coll_delete(txn, all, 1), ISLE_EREADONLY);
    cr_assert_eq(isle_coll_delete_many(txn, all, ids, 2, NULL), ISLE_EREADONLY);
    cr_assert_eq(isle_coll_clear(txn, all), ISLE_EREADONLY);
    cr_assert_eq(x.id, ISLE_AUTO_ID);
    cr_assert_eq(isle_read_end(txn), 0);
    expect_unchanged();
}

static int null_args(isle_txn *txn, void *arg) {
    (void)arg;
    All x;
    cu_all_null(&x);
    int64_t id = 1;
    size_t n;
    cr_assert_eq(isle_coll_put(NULL, all, &x), ISLE_EINVAL);
    cr_assert_eq(isle_coll_put(txn, NULL, &x), ISLE_EINVAL);
    cr_assert_eq(isle_coll_put(txn, all, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_put_many(txn, all, NULL, 3), ISLE_EINVAL);
    cr_assert_eq(isle_coll_put_many(NULL, all, &x, 1), ISLE_EINVAL);
    cr_assert_eq(isle_coll_delete(NULL, all, 1), ISLE_EINVAL);
    cr_assert_eq(isle_coll_delete(txn, NULL, 1), ISLE_EINVAL);
    cr_assert_eq(isle_coll_delete_many(txn, all, NULL, 2, &n), ISLE_EINVAL);
    cr_assert_eq(isle_coll_clear(txn, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_clear(NULL, all), ISLE_EINVAL);
    cr_assert_eq(isle_coll_get(txn, all, 1, NULL, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_get(NULL, all, 1, &x, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_get_many(txn, all, NULL, 1, &x, NULL, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_get_many(txn, all, &id, 1, NULL, NULL, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_count(txn, all, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_count(txn, NULL, &n), ISLE_EINVAL);
    cr_assert_eq(isle_coll_check(NULL, all), ISLE_EINVAL);
    isle_coll_cursor *cur;
    cr_assert_eq(isle_coll_cursor_open(txn, all, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_cursor_open(NULL, all, &cur), ISLE_EINVAL);
    cr_assert_eq(isle_coll_cursor_first(NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_cursor_seek(NULL, 1, ISLE_SEEK_GE), ISLE_EINVAL);
    cr_assert_eq(isle_coll_cursor_get(NULL, &x, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_cursor_id(NULL, &id), ISLE_EINVAL);
    cr_assert_eq(isle_coll_scan(txn, all, 0, 0, &x, NULL, NULL, NULL), ISLE_EINVAL);
    cr_assert_eq(isle_coll_scan(txn, all, 0, 0x10, &x, NULL, (isle_scan_fn)NULL, NULL),
                 ISLE_EINVAL);
    isle_coll_cursor_close(NULL);
    isle_coll_close(NULL);
    cr_assert_str_eq(isle_coll_name(NULL), "");
    return 0;
}

Test(coll_errors, null_pointers) {
    cr_assert_eq(isle_write(db, null_args, NULL), 0);
    expect_unchanged();
}

/* Handles that are not open collections of this database. */
Test(coll_errors, unknown_collection) {
    cu_tmp other_tmp;
    cu_tmp_make(&other_tmp);
    isle_db *other = cu_open(other_tmp.path);
    isle_coll *foreign;
    cr_assert_eq(isle_coll_open(other, &all_schema, &foreign), 0);
    All x;
    cu_all_null(&x);
    cr_assert_eq(cu_put(db, all, &x), 0); /* control: the same object goes in */
    next_auto++;
    cr_assert_eq(cu_delete(db, all, x.id), 0);
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    uint64_t n;
    cr_assert_eq(isle_coll_count(txn, foreign, &n), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "another database"), "%s", isle_errmsg());
    cr_assert_eq(isle_coll_get(txn, foreign, 1, &x, NULL), ISLE_EINVAL);
    static uint64_t junk[512];
    cr_assert_eq(isle_coll_count(txn, (isle_coll *)(void *)junk, &n), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "not an open collection"), "%s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
    cr_assert_eq(cu_put(db, foreign, &x), ISLE_EINVAL);
    isle_coll_close(foreign);
    cr_assert_eq(isle_close(other), 0);
    cu_tmp_remove(&other_tmp);
    expect_unchanged();
}

Test(coll_errors, reads) {
    isle_txn *txn;
    All x;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_get(txn, all, 0, &x, NULL), ISLE_EINVAL, "id 0 is never stored");
    cr_assert_eq(isle_coll_get(txn, all, 12345, &x, NULL), ISLE_ENOTFOUND);
    cr_assert(strstr(isle_errmsg(), "no object 12345"), "%s", isle_errmsg());
    cr_assert_eq(isle_coll_get(txn, all, 1, &x, NULL), ISLE_EINVAL, "an arena is needed");
    cr_assert(strstr(isle_errmsg(), "arena"), "%s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
    expect_unchanged();
}

/* isle's own trees are out of reach of the key/value API. */
static int kv_reserved(isle_txn *txn, void *arg) {
    (void)arg;
    isle_tree t;
    cr_assert_eq(isle_kv_open(txn, "_isle.meta", 0, &t), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "reserved"), "%s", isle_errmsg());
    cr_assert_eq(isle_kv_open(txn, "_isle.c.All", ISLE_KV_CREATE, &t), ISLE_EINVAL);
    cr_assert_eq(isle_kv_open(txn, "_isle.new", ISLE_KV_CREATE, &t), ISLE_EINVAL);
    cr_assert_eq(isle_kv_drop(txn, "_isle.c.All"), ISLE_EINVAL);
    cr_assert_eq(isle_kv_open(txn, "_islex", ISLE_KV_CREATE, &t), 0, "only the prefix");
    return 0;
}

Test(coll_errors, reserved_tree_names) {
    cr_assert_eq(isle_write(db, kv_reserved, NULL), 0, "%s", isle_errmsg());
    expect_unchanged();
}
