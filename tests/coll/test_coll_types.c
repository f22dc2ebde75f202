/*
 * test_coll_types.c: every field type and its null through the public
 * API: put, get, get_many, cursors and scans give back exactly what was
 * stored, including nested, inline, listed and self-embedding objects and
 * lists of strings; arenas; enums in every storage.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_util.h"

static cu_tmp tmp;
static isle_db *db;
static isle_coll *all;

static void setup(void) {
    cu_tmp_make(&tmp);
    db = cu_open(tmp.path);
    cr_assert_eq(isle_coll_open(db, &all_schema, &all), 0, "%s", isle_errmsg());
}

static void teardown(void) {
    isle_coll_close(all);
    if (db)
        cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    cu_tmp_remove(&tmp);
}

TestSuite(coll_types, .init = setup, .fini = teardown);

static void expect_same(const All *want, const All *got) {
    char why[256] = "";
    cr_assert(cu_all_equal(want, got, why, sizeof why), "object %lld: %s", (long long)want->id,
              why);
}

static void get_one(int64_t id, All *out, isle_arena *a) {
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_get(txn, all, id, out, a), 0, "get %lld: %s", (long long)id,
                 isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
}

Test(coll_types, every_type_round_trips) {
    cu_mem mem = {0};
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    for (uint64_t seed = 1; seed <= 300; seed++) {
        All x, y;
        cu_all_fill(&x, seed, &mem);
        cr_assert_eq(cu_put(db, all, &x), 0, "put: %s", isle_errmsg());
        cr_assert_eq(x.id, (int64_t)seed, "auto id written back");
        memset(&y, 0xa5, sizeof y);
        y.scratch = 777;
        isle_arena_reset(&a);
        get_one(x.id, &y, &a);
        x.scratch = 777; /* not stored: reads leave it alone */
        cr_assert_eq(y.scratch, 777);
        expect_same(&x, &y);
    }
    isle_arena_free(&a);
    cu_mem_free(&mem);
    cu_check(db, all);
}

Test(coll_types, all_null_round_trips) {
    All x, y;
    cu_all_null(&x);
    cr_assert_eq(cu_put(db, all, &x), 0, "%s", isle_errmsg());
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    memset(&y, 0x5a, sizeof y);
    get_one(x.id, &y, &a);
    y.scratch = x.scratch;
    expect_same(&x, &y);
    cr_assert(isnan(y.fl) && isnan(y.db));
    cr_assert_eq(y.b, ISLE_NULL_BOOL);
    cr_assert_null(y.str);
    cr_assert_null(y.lstr);
    cr_assert_null(y.emb);
    cr_assert_null(y.tree);
    cr_assert_eq(y.e_name, COLOR_NONE);
    isle_arena_free(&a);
}

/* Values at the edges of each type, and strings with every UTF-8 length. */
Test(coll_types, edge_values) {
    All x, y;
    cu_all_null(&x);
    x.b = 0;
    x.cb = true;
    x.by = 255;
    x.sh = INT32_MIN + 1;
    x.in = INT64_MAX;
    x.fl = -0.0f;
    x.db = INFINITY;
    x.dt = INT64_MIN + 1;
    x.str = "$ \xc2\xa2 \xe2\x82\xac \xf0\x90\x8d\x88"; /* 1, 2, 3 and 4-byte sequences */
    x.e_ord = COLOR_BLUE;
    x.e_ord32 = COLOR_GREEN;
    x.e_name = COLOR_RED;
    x.e_value = COLOR_BLUE;
    char *words[] = {"", NULL, "x", NULL};
    x.lstr = words;
    x.nlstr = 4;
    Leaf leaves[3] = {{"l0", 0}, {NULL, ISLE_NULL_INT}, {"l2", -2}};
    Inner in = {.name = "deep", .weight = 1.5, .leaves = leaves, .nleaves = 3,
                .words = words, .nwords = 2};
    x.emb = &in;
    x.inl = in;
    x.inl.leaf = &leaves[2];
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(cu_put(db, all, &x), 0, "%s", isle_errmsg());
    get_one(x.id, &y, &a);
    expect_same(&x, &y);
    cr_assert(signbit(y.fl), "-0.0 keeps its sign");
    isle_arena_free(&a);
}

/* A chain of embedded objects of the same type, as deep as allowed. */
Test(coll_types, self_embedding_tree) {
    Node nodes[ISLE_NEST_DEPTH_MAX];
    char names[ISLE_NEST_DEPTH_MAX][8];
    for (unsigned i = 0; i + 1 < ISLE_NEST_DEPTH_MAX; i++) {
        snprintf(names[i], sizeof names[i], "n%u", i);
        nodes[i] = (Node){names[i], i + 2 < ISLE_NEST_DEPTH_MAX ? &nodes[i + 1] : NULL};
    }
    All x, y;
    cu_all_null(&x);
    x.tree = &nodes[0]; /* depth: the object 1, then 31 nodes */
    cr_assert_eq(cu_put(db, all, &x), 0, "%s", isle_errmsg());
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    get_one(x.id, &y, &a);
    expect_same(&x, &y);
    isle_arena_free(&a);
}

Test(coll_types, arena_in_caller_buffer_then_heap) {
    cu_mem mem = {0};
    All x, y;
    cu_all_fill(&x, 42, &mem);
    cr_assert_eq(cu_put(db, all, &x), 0, "%s", isle_errmsg());
    static _Alignas(16) unsigned char small[64];
    isle_arena a;
    isle_arena_init(&a, small, sizeof small);
    for (int round = 0; round < 3; round++) {
        isle_arena_reset(&a);
        get_one(x.id, &y, &a);
        expect_same(&x, &y);
        cr_assert_gt(isle_arena_used(&a), 0);
    }
    isle_arena_free(&a);
    cu_mem_free(&mem);
}

Test(coll_types, get_many_marks_missing) {
    cu_mem mem = {0};
    All xs[4];
    for (int i = 0; i < 4; i++)
        cu_all_fill(&xs[i], (uint64_t)i + 100, &mem);
    cr_assert_eq(cu_put_many(db, all, xs, 4), 0, "%s", isle_errmsg());
    int64_t ids[] = {3, 99, 1, 0, 4};
    All got[5];
    size_t found = 0;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_get_many(txn, all, ids, 5, got, &a, &found), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
    cr_assert_eq(found, 3);
    expect_same(&xs[2], &got[0]);
    expect_same(&xs[0], &got[2]);
    expect_same(&xs[3], &got[4]);
    cr_assert_eq(got[1].id, ISLE_AUTO_ID);
    cr_assert_null(got[1].str);
    cr_assert_eq(got[3].id, ISLE_AUTO_ID);
    isle_arena_free(&a);
    cu_mem_free(&mem);
}

static int collect(void *arg, void *obj) {
    int64_t **at = arg;
    *(*at)++ = ((All *)obj)->id;
    return 0;
}

static int stop_at_3(void *arg, void *obj) {
    (void)arg;
    return ((All *)obj)->id == 3 ? 77 : 0;
}

Test(coll_types, cursors_and_scans_in_id_order) {
    All x;
    int64_t want[] = {-5, 1, 2, 3, 10, 11};
    for (size_t i = 0; i < 6; i++) {
        cu_all_null(&x);
        x.id = want[(i * 5) % 6]; /* out of order */
        cr_assert_eq(cu_put(db, all, &x), 0, "%s", isle_errmsg());
    }
    isle_txn *txn;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    int64_t got[8], *at = got;
    cr_assert_eq(isle_coll_scan(txn, all, ISLE_AUTO_ID, 0, &x, &a, collect, &at), 0);
    cr_assert_eq(at - got, 6);
    cr_assert_arr_eq(got, want, sizeof want);
    at = got;
    cr_assert_eq(isle_coll_scan(txn, all, 4, ISLE_SCAN_REVERSE, &x, &a, collect, &at), 0);
    cr_assert_eq(at - got, 4);
    cr_assert(got[0] == 3 && got[1] == 2 && got[2] == 1 && got[3] == -5);
    at = got;
    cr_assert_eq(isle_coll_scan(txn, all, 4, 0, &x, &a, collect, &at), 0);
    cr_assert(at - got == 2 && got[0] == 10 && got[1] == 11);
    at = got;
    cr_assert_eq(isle_coll_scan(txn, all, 12, 0, &x, &a, collect, &at), 0, "empty range");
    cr_assert_eq(at - got, 0);
    cr_assert_eq(isle_coll_scan(txn, all, ISLE_AUTO_ID, 0, &x, &a, stop_at_3, NULL), 77);

    isle_coll_cursor *cur;
    int64_t id;
    cr_assert_eq(isle_coll_cursor_open(txn, all, &cur), 0);
    cr_assert_eq(isle_coll_cursor_get(cur, &x, &a), ISLE_EINVAL, "unpositioned: %s", isle_errmsg());
    cr_assert_eq(isle_coll_cursor_last(cur), 0);
    cr_assert_eq(isle_coll_cursor_id(cur, &id), 0);
    cr_assert_eq(id, 11);
    cr_assert_eq(isle_coll_cursor_next(cur), ISLE_ENOTFOUND);
    cr_assert_eq(isle_coll_cursor_seek(cur, 5, ISLE_SEEK_LE), 0);
    cr_assert_eq(isle_coll_cursor_get(cur, &x, &a), 0);
    cr_assert_eq(x.id, 3);
    cr_assert_eq(isle_coll_cursor_seek(cur, 5, ISLE_SEEK_GE), 0);
    cr_assert_eq(isle_coll_cursor_id(cur, &id), 0);
    cr_assert_eq(id, 10);
    cr_assert_eq(isle_coll_cursor_seek(cur, -6, ISLE_SEEK_LE), ISLE_ENOTFOUND);
    cr_assert_eq(isle_coll_cursor_seek(cur, 100, ISLE_SEEK_LE), 0);
    cr_assert_eq(isle_coll_cursor_id(cur, &id), 0);
    cr_assert_eq(id, 11);
    cr_assert_eq(isle_coll_cursor_first(cur), 0);
    cr_assert_eq(isle_coll_cursor_prev(cur), ISLE_ENOTFOUND);
    cr_assert_eq(isle_coll_cursor_id(cur, &id), 0);
    cr_assert_eq(id, -5, "prev past the start stays");
    cr_assert_eq(isle_coll_cursor_seek(cur, 0, 7), ISLE_EINVAL);
    isle_coll_cursor_close(cur);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
}

/* A read transaction older than the collection sees it empty. */
Test(coll_types, snapshot_before_the_collection) {
    isle_coll_close(all);
    cr_assert_eq(isle_close(db), 0);
    cu_tmp_remove(&tmp);
    db = cu_open(tmp.path);
    isle_txn *old;
    cr_assert_eq(isle_read_begin(db, &old), 0);
    cr_assert_eq(isle_coll_open(db, &all_schema, &all), 0, "%s", isle_errmsg());
    All x;
    cu_all_null(&x);
    cr_assert_eq(cu_put(db, all, &x), 0, "%s", isle_errmsg());
    uint64_t n = 9;
    cr_assert_eq(isle_coll_count(old, all, &n), 0, "%s", isle_errmsg());
    cr_assert_eq(n, 0);
    cr_assert_eq(isle_coll_get(old, all, 1, &x, NULL), ISLE_ENOTFOUND);
    isle_coll_cursor *cur;
    cr_assert_eq(isle_coll_cursor_open(old, all, &cur), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_coll_cursor_first(cur), ISLE_ENOTFOUND);
    isle_coll_cursor_close(cur);
    cr_assert_eq(isle_read_end(old), 0);
    cr_assert_eq(cu_count(db, all), 1);
}

/* Reads in a write transaction see its own writes; writes there
 * invalidate open cursors. */
static int own_writes(isle_txn *txn, void *arg) {
    (void)arg;
    All x, y;
    cu_all_null(&x);
    x.str = "mine";
    cr_assert_eq(isle_coll_put(txn, all, &x), 0);
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(isle_coll_get(txn, all, x.id, &y, &a), 0);
    cr_assert_str_eq(y.str, "mine");
    isle_coll_cursor *cur;
    cr_assert_eq(isle_coll_cursor_open(txn, all, &cur), 0);
    cr_assert_eq(isle_coll_cursor_first(cur), 0);
    cr_assert_eq(isle_coll_put(txn, all, &x), 0);
    cr_assert_eq(isle_coll_cursor_next(cur), ISLE_EINVAL, "invalidated by the write");
    isle_coll_cursor_close(cur);
    isle_arena_free(&a);
    return 0;
}

Test(coll_types, write_transaction_reads_its_writes) {
    cr_assert_eq(isle_write(db, own_writes, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(cu_count(db, all), 1);
}
