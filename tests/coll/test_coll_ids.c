/*
 * test_coll_ids.c: ids and bulk operations: auto-increment (never reused
 * after deletes, reset by clear, continuing after explicit ids), replace
 * by id, negative ids, delete_many, and put_many of a million objects
 * (a hundred thousand under sanitizers) followed by a full scan that
 * checks every object.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coll_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BULK_N 100000u
#else
#define BULK_N 1000000u
#endif

typedef struct Item {
    int64_t id;
    char *name;
    int32_t qty;
    double price;
    int64_t added;
    isle_bool active;
} Item;
static const isle_field item_fields[] = {
    ISLE_FIELD(Item, name, ISLE_STRING),
    ISLE_FIELD(Item, qty, ISLE_SHORT),
    ISLE_FIELD(Item, price, ISLE_DOUBLE),
    ISLE_FIELD(Item, added, ISLE_DATETIME),
    ISLE_FIELD(Item, active, ISLE_BOOL),
};
static const isle_schema item_schema = ISLE_COLLECTION(Item, id, item_fields);

static cu_tmp tmp;
static isle_db *db;
static isle_coll *items;

static void setup(void) {
    cu_tmp_make(&tmp);
    db = cu_open(tmp.path);
    cr_assert_eq(isle_coll_open(db, &item_schema, &items), 0, "%s", isle_errmsg());
}

static void teardown(void) {
    isle_coll_close(items);
    if (db)
        cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    cu_tmp_remove(&tmp);
}

TestSuite(coll_ids, .init = setup, .fini = teardown);

static int64_t put_new(const char *name) {
    Item it = {ISLE_AUTO_ID, (char *)name, 1, 2.0, 3, 1};
    cr_assert_eq(cu_put(db, items, &it), 0, "%s", isle_errmsg());
    return it.id;
}

static int exists(int64_t id) {
    isle_txn *txn;
    Item it;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    int rc = isle_coll_get(txn, items, id, &it, &a);
    cr_assert(rc == 0 || rc == ISLE_ENOTFOUND, "%s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
    return rc == 0;
}

Test(coll_ids, auto_increment_never_reuses) {
    cr_assert_eq(put_new("a"), 1);
    cr_assert_eq(put_new("b"), 2);
    cr_assert_eq(put_new("c"), 3);
    cr_assert_eq(cu_delete(db, items, 3), 0, "%s", isle_errmsg());
    cr_assert_eq(cu_delete(db, items, 2), 0);
    cr_assert_eq(put_new("d"), 4, "deleted ids are not reused");
    cr_assert_eq(cu_delete(db, items, 3), ISLE_ENOTFOUND);
    cr_assert_eq(cu_count(db, items), 2);
    /* across reopen too */
    isle_coll_close(items);
    cr_assert_eq(isle_close(db), 0);
    db = cu_open(tmp.path);
    cr_assert_eq(isle_coll_open(db, &item_schema, &items), 0);
    cr_assert_eq(put_new("e"), 5);
    cu_check(db, items);
}

Test(coll_ids, explicit_ids_and_replace) {
    Item it = {100, "hundred", 1, 1, 1, 0};
    cr_assert_eq(cu_put(db, items, &it), 0);
    cr_assert_eq(put_new("next"), 101, "auto continues after the largest id");
    Item neg = {-7, "negative", 1, 1, 1, 0};
    cr_assert_eq(cu_put(db, items, &neg), 0);
    cr_assert_eq(put_new("again"), 102, "smaller ids do not move the counter");
    Item repl = {100, "replaced", 9, 9, 9, 1};
    cr_assert_eq(cu_put(db, items, &repl), 0);
    cr_assert_eq(cu_count(db, items), 4, "a replace does not count twice");
    isle_txn *txn;
    Item got;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_get(txn, items, 100, &got, &a), 0);
    cr_assert_str_eq(got.name, "replaced");
    cr_assert_eq(got.qty, 9);
    cr_assert_eq(isle_coll_get(txn, items, -7, &got, &a), 0);
    cr_assert_eq(got.id, -7);
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
    Item top = {INT64_MAX, "top", 0, 0, 0, 0};
    cr_assert_eq(cu_put(db, items, &top), 0);
    Item more = {ISLE_AUTO_ID, "more", 0, 0, 0, 0};
    cr_assert_eq(cu_put(db, items, &more), ISLE_ETOOBIG, "ids used up");
    cr_assert(strstr(isle_errmsg(), "used up"), "%s", isle_errmsg());
    cr_assert_eq(more.id, ISLE_AUTO_ID, "not written back");
    cu_check(db, items);
}

/* Objects that give their own id are only read: an array of them may sit
 * in read-only memory (or be read by other threads during the put).  Only
 * the objects that asked for an id get one written back. */
Test(coll_ids, objects_with_their_own_ids_are_not_written) {
    long psz = sysconf(_SC_PAGESIZE);
    Item *ro = mmap(NULL, (size_t)psz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(ro != MAP_FAILED);
    for (int i = 0; i < 4; i++)
        ro[i] = (Item){50 + i, "given", i, i, i, 1};
    cr_assert_eq(mprotect(ro, (size_t)psz, PROT_READ), 0);
    cr_assert_eq(cu_put_many(db, items, ro, 4), 0, "%s", isle_errmsg());
    cr_assert_eq(cu_put(db, items, &ro[2]), 0, "%s", isle_errmsg());
    Item mixed[4] = {
        {60, "given", 0, 0, 0, 0},
        {ISLE_AUTO_ID, "asks", 0, 0, 0, 0},
        {70, "given", 0, 0, 0, 0},
        {ISLE_AUTO_ID, "asks", 0, 0, 0, 0},
    };
    cr_assert_eq(cu_put_many(db, items, mixed, 4), 0, "%s", isle_errmsg());
    cr_assert(mixed[0].id == 60 && mixed[1].id == 61 && mixed[2].id == 70 && mixed[3].id == 71,
              "ids given out in order: %lld %lld", (long long)mixed[1].id,
              (long long)mixed[3].id);
    cr_assert_eq(cu_count(db, items), 8);
    cr_assert(exists(53) && exists(61) && exists(71));
    munmap(ro, (size_t)psz);
    cu_check(db, items);
}

Test(coll_ids, clear_resets) {
    for (int i = 0; i < 10; i++)
        put_new("x");
    cr_assert_eq(cu_clear(db, items), 0, "%s", isle_errmsg());
    cr_assert_eq(cu_count(db, items), 0);
    cr_assert(!exists(5));
    cr_assert_eq(put_new("first again"), 1, "clear resets auto-increment");
    cu_check(db, items);
}

Test(coll_ids, delete_many) {
    Item xs[20];
    for (int i = 0; i < 20; i++)
        xs[i] = (Item){ISLE_AUTO_ID, "m", i, i, i, 1};
    cr_assert_eq(cu_put_many(db, items, xs, 20), 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(xs[i].id, i + 1, "ids written back in order");
    int64_t del[] = {2, 4, 4, 99, 6, 0};
    size_t n = 0;
    cr_assert_eq(cu_delete_many(db, items, del, 6, &n), 0, "%s", isle_errmsg());
    cr_assert_eq(n, 3, "missing ids are skipped");
    cr_assert_eq(cu_count(db, items), 17);
    cr_assert(!exists(4) && exists(5));
    cu_check(db, items);
}

Test(coll_ids, put_many_with_duplicates_and_replacements) {
    put_new("one");
    put_new("two");
    Item xs[5] = {
        {2, "two bis", 0, 0, 0, 0},   /* replaces */
        {ISLE_AUTO_ID, "three", 0, 0, 0, 0},
        {10, "ten", 0, 0, 0, 0},
        {10, "ten bis", 0, 0, 0, 0},  /* replaces the one just put */
        {ISLE_AUTO_ID, "eleven", 0, 0, 0, 0},
    };
    cr_assert_eq(cu_put_many(db, items, xs, 5), 0, "%s", isle_errmsg());
    cr_assert(xs[1].id == 3 && xs[4].id == 11);
    cr_assert_eq(cu_count(db, items), 5);
    cu_check(db, items);
}

/* The bulk path: a million objects in one put_many, then every one read
 * back in order by a scan, and some by id. */
static Item *bulk;
static char (*bulk_names)[24];

static int bulk_put(isle_txn *txn, void *arg) {
    (void)arg;
    return isle_coll_put_many(txn, items, bulk, BULK_N);
}

typedef struct scan_state {
    uint64_t seen;
    isle_arena *arena;
} scan_state;

static int bulk_check(void *arg, void *obj) {
    scan_state *s = arg;
    const Item *it = obj;
    uint64_t i = s->seen++;
    cr_assert_eq(it->id, (int64_t)i + 1);
    char want[24];
    snprintf(want, sizeof want, "item-%llu", (unsigned long long)i);
    cr_assert_str_eq(it->name, want);
    cr_assert_eq(it->qty, (int32_t)(i % 1000));
    cr_assert_eq(it->price, (double)i * 0.25);
    cr_assert_eq(it->added, 1700000000000000 + (int64_t)i);
    cr_assert_eq(it->active, (isle_bool)(i % 3 == 0 ? ISLE_NULL_BOOL : (int)(i & 1)));
    return 0;
}

Test(coll_ids, put_many_a_million_then_scan, .timeout = 300) {
    bulk = malloc(BULK_N * sizeof *bulk);
    bulk_names = malloc(BULK_N * sizeof *bulk_names);
    cr_assert(bulk && bulk_names);
    for (uint32_t i = 0; i < BULK_N; i++) {
        snprintf(bulk_names[i], sizeof bulk_names[i], "item-%u", i);
        bulk[i] = (Item){ISLE_AUTO_ID, bulk_names[i], (int32_t)(i % 1000), (double)i * 0.25,
                         1700000000000000 + (int64_t)i,
                         (isle_bool)(i % 3 == 0 ? ISLE_NULL_BOOL : (int)(i & 1))};
    }
    cr_assert_eq(isle_write(db, bulk_put, NULL), 0, "%s", isle_errmsg());
    cr_assert_eq(bulk[BULK_N - 1].id, (int64_t)BULK_N);
    cr_assert_eq(cu_count(db, items), BULK_N);
    isle_txn *txn;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    Item it;
    scan_state s = {0, &a};
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_scan(txn, items, ISLE_AUTO_ID, 0, &it, &a, bulk_check, &s), 0, "%s",
                 isle_errmsg());
    cr_assert_eq(s.seen, BULK_N);
    uint64_t r = 7;
    for (int k = 0; k < 1000; k++) {
        uint64_t i = cu_rand(&r) % BULK_N;
        isle_arena_reset(&a);
        cr_assert_eq(isle_coll_get(txn, items, (int64_t)i + 1, &it, &a), 0);
        s.seen = i;
        bulk_check(&s, &it);
    }
    cr_assert_eq(isle_read_end(txn), 0);
    isle_arena_free(&a);
    cu_check(db, items);
    free(bulk);
    free(bulk_names);
}
