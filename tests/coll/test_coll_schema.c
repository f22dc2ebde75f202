/*
 * test_coll_schema.c: schema evolution across reopen (add a field, drop a
 * field, rename a C member keeping its stored name, change nullability,
 * change a type incompatibly) and the checks on declarations.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "coll_util.h"

/* Version 1 of a Person. */
typedef struct P1 {
    int64_t id;
    char *name;
    int32_t age;
    double score;
} P1;
static const isle_field p1_fields[] = {
    ISLE_FIELD(P1, name, ISLE_STRING),
    ISLE_FIELD(P1, age, ISLE_SHORT),
    ISLE_FIELD(P1, score, ISLE_DOUBLE),
};
static const isle_schema p1_schema = ISLE_COLLECTION_AS(P1, "Person", id, p1_fields);

/* Version 2 adds fields, one of them an embedded object. */
typedef struct Addr {
    char *city;
} Addr;
static const isle_field addr_fields[] = {ISLE_FIELD(Addr, city, ISLE_STRING)};
static const isle_schema addr_schema = ISLE_EMBEDDED(Addr, addr_fields);
typedef struct P2 {
    char *email; /* new, and first in the struct */
    int64_t id;
    char *name;
    int32_t age;
    double score;
    int64_t born;
    Addr *addr;
    char **tags;
    uint32_t ntags;
} P2;
static const isle_field p2_fields[] = {
    ISLE_FIELD(P2, email, ISLE_STRING),
    ISLE_FIELD(P2, name, ISLE_STRING),
    ISLE_FIELD(P2, age, ISLE_SHORT),
    ISLE_FIELD(P2, score, ISLE_DOUBLE),
    ISLE_FIELD(P2, born, ISLE_DATETIME),
    ISLE_FIELD(P2, addr, ISLE_EMBED(&addr_schema)),
    ISLE_LIST(P2, tags, ntags, ISLE_STRING),
};
static const isle_schema p2_schema = ISLE_COLLECTION_AS(P2, "Person", id, p2_fields);

/* Version 3 drops age and score. */
typedef struct P3 {
    int64_t id;
    char *name;
} P3;
static const isle_field p3_fields[] = {ISLE_FIELD(P3, name, ISLE_STRING)};
static const isle_schema p3_schema = ISLE_COLLECTION_AS(P3, "Person", id, p3_fields);

/* Version 4 renames the C members, keeping the stored names, and reads
 * age as non-nullable (the same int32_t: nullability is not stored). */
typedef struct P4 {
    int64_t key;
    char *full_name;
    int32_t years;
} P4;
static const isle_field p4_fields[] = {
    ISLE_FIELD_AS(P4, full_name, "name", ISLE_STRING),
    ISLE_FIELD_AS(P4, years, "age", ISLE_SHORT),
};
static const isle_schema p4_schema = ISLE_COLLECTION_AS(P4, "Person", key, p4_fields);

/* Incompatible: age becomes an int (8 bytes), and a new field "extra"
 * that must not be stored when the open fails. */
typedef struct P5 {
    int64_t id;
    int64_t age;
    char *extra;
} P5;
static const isle_field p5_fields[] = {
    ISLE_FIELD(P5, extra, ISLE_STRING),
    ISLE_FIELD(P5, age, ISLE_INT),
};
static const isle_schema p5_schema = ISLE_COLLECTION_AS(P5, "Person", id, p5_fields);
/* "extra" as an int: opens only if P5's "extra" (a string) was not stored. */
typedef struct P6 {
    int64_t id;
    int64_t extra;
} P6;
static const isle_field p6_fields[] = {ISLE_FIELD(P6, extra, ISLE_INT)};
static const isle_schema p6_schema = ISLE_COLLECTION_AS(P6, "Person", id, p6_fields);

static cu_tmp tmp;
static isle_db *db;

static void setup(void) {
    cu_tmp_make(&tmp);
    db = cu_open(tmp.path);
}

static void teardown(void) {
    if (db)
        isle_close(db);
    cu_tmp_remove(&tmp);
}

TestSuite(coll_schema, .init = setup, .fini = teardown);

static void reopen(void) {
    cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    db = cu_open(tmp.path);
}

static isle_coll *open_coll(const isle_schema *s) {
    isle_coll *c = NULL;
    cr_assert_eq(isle_coll_open(db, s, &c), 0, "open %s: %s", s->c_name, isle_errmsg());
    return c;
}

static void get(isle_coll *c, int64_t id, void *obj, isle_arena *a) {
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_get(txn, c, id, obj, a), 0, "get %lld: %s", (long long)id,
                 isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
}

/* Stores two version-1 people and reopens. */
static void store_v1(void) {
    isle_coll *c = open_coll(&p1_schema);
    P1 a = {0, "ada", 36, 9.5}, b = {0, "bob", ISLE_NULL_SHORT, 7.25};
    cr_assert_eq(cu_put(db, c, &a), 0);
    cr_assert_eq(cu_put(db, c, &b), 0);
    isle_coll_close(c);
    reopen();
}

Test(coll_schema, add_fields) {
    store_v1();
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    isle_coll *c = open_coll(&p2_schema);
    P2 p;
    memset(&p, 0x33, sizeof p);
    get(c, 1, &p, &a);
    cr_assert_str_eq(p.name, "ada");
    cr_assert_eq(p.age, 36);
    cr_assert_eq(p.score, 9.5);
    cr_assert_null(p.email, "an added field reads as null");
    cr_assert_eq(p.born, ISLE_NULL_TIME);
    cr_assert_null(p.addr);
    cr_assert_null(p.tags);
    Addr addr = {"paris"};
    char *tags[] = {"x", "y"};
    P2 q = {.email = "c@d", .name = "cy", .age = 5, .score = 1, .born = 42, .addr = &addr,
            .tags = tags, .ntags = 2};
    cr_assert_eq(cu_put(db, c, &q), 0, "%s", isle_errmsg());
    cr_assert_eq(q.id, 3);
    cu_check(db, c);
    isle_coll_close(c);
    reopen();
    /* version 1 reads version 2's objects, ignoring what it does not know */
    c = open_coll(&p1_schema);
    P1 o;
    get(c, 3, &o, &a);
    cr_assert_str_eq(o.name, "cy");
    cr_assert_eq(o.age, 5);
    cu_check(db, c);
    isle_coll_close(c);
    /* and version 2 still reads everything after that */
    c = open_coll(&p2_schema);
    get(c, 3, &p, &a);
    cr_assert_str_eq(p.addr->city, "paris");
    cr_assert_str_eq(p.tags[1], "y");
    cr_assert_eq(p.born, 42);
    isle_coll_close(c);
    isle_arena_free(&a);
}

Test(coll_schema, drop_fields) {
    store_v1();
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    isle_coll *c = open_coll(&p3_schema);
    P3 p;
    get(c, 2, &p, &a);
    cr_assert_str_eq(p.name, "bob");
    P3 n = {0, "new"};
    cr_assert_eq(cu_put(db, c, &n), 0, "%s", isle_errmsg());
    cu_check(db, c);
    isle_coll_close(c);
    reopen();
    c = open_coll(&p1_schema); /* the dropped fields come back */
    P1 o;
    get(c, 1, &o, &a);
    cr_assert_eq(o.age, 36, "old objects kept the dropped field's value");
    cr_assert_eq(o.score, 9.5);
    get(c, n.id, &o, &a);
    cr_assert_str_eq(o.name, "new");
    cr_assert_eq(o.age, ISLE_NULL_SHORT, "written while dropped: null");
    isle_coll_close(c);
    isle_arena_free(&a);
}

Test(coll_schema, rename_keeping_the_stored_name) {
    store_v1();
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    isle_coll *c = open_coll(&p4_schema);
    P4 p;
    get(c, 1, &p, &a);
    cr_assert_eq(p.key, 1);
    cr_assert_str_eq(p.full_name, "ada");
    cr_assert_eq(p.years, 36);
    get(c, 2, &p, &a);
    cr_assert_eq(p.years, ISLE_NULL_SHORT, "a null read as a plain number is the sentinel");
    P4 n = {ISLE_AUTO_ID, "dee", 50};
    cr_assert_eq(cu_put(db, c, &n), 0);
    isle_coll_close(c);
    reopen();
    c = open_coll(&p1_schema);
    P1 o;
    get(c, n.key, &o, &a);
    cr_assert_str_eq(o.name, "dee");
    cr_assert_eq(o.age, 50);
    isle_coll_close(c);
    isle_arena_free(&a);
}

/* Nullability: a bool read as isle_bool (nullable) and as bool. */
typedef struct B1 {
    int64_t id;
    isle_bool done;
    int32_t level;
} B1;
static const isle_field b1_fields[] = {
    ISLE_FIELD(B1, done, ISLE_BOOL),
    ISLE_FIELD(B1, level, ISLE_SHORT),
};
static const isle_schema b1_schema = ISLE_COLLECTION_AS(B1, "Flags", id, b1_fields);
typedef struct B2 {
    int64_t id;
    bool done;
    int32_t level;
} B2;
static const isle_field b2_fields[] = {
    ISLE_FIELD(B2, done, ISLE_BOOL),
    ISLE_FIELD(B2, level, ISLE_SHORT),
};
static const isle_schema b2_schema = ISLE_COLLECTION_AS(B2, "Flags", id, b2_fields);

Test(coll_schema, change_nullability) {
    isle_coll *c = open_coll(&b1_schema);
    B1 x[3] = {{0, ISLE_NULL_BOOL, ISLE_NULL_SHORT}, {0, 1, 7}, {0, 0, -1}};
    cr_assert_eq(cu_put_many(db, c, x, 3), 0);
    isle_coll_close(c);
    reopen();
    c = open_coll(&b2_schema); /* no migration: opens as is */
    B2 y;
    get(c, 1, &y, NULL);
    cr_assert(!y.done, "null reads as false");
    cr_assert_eq(y.level, ISLE_NULL_SHORT);
    get(c, 2, &y, NULL);
    cr_assert(y.done);
    B2 z = {0, true, 3};
    cr_assert_eq(cu_put(db, c, &z), 0);
    isle_coll_close(c);
    reopen();
    c = open_coll(&b1_schema);
    B1 w;
    get(c, z.id, &w, NULL);
    cr_assert_eq(w.done, 1);
    get(c, 1, &w, NULL);
    cr_assert_eq(w.done, ISLE_NULL_BOOL, "still null as stored");
    cu_check(db, c);
    isle_coll_close(c);
}

Test(coll_schema, incompatible_type_is_an_error_and_changes_nothing) {
    store_v1();
    isle_stats before, after;
    cr_assert_eq(isle_stat(db, &before), 0);
    isle_coll *c = NULL;
    cr_assert_eq(isle_coll_open(db, &p5_schema, &c), ISLE_ESCHEMA);
    cr_assert_null(c);
    const char *msg = isle_errmsg();
    cr_assert(strstr(msg, "'Person'") && strstr(msg, "'age'"), "names collection and field: %s",
              msg);
    cr_assert(strstr(msg, "short") && strstr(msg, "int"), "%s", msg);
    cr_assert_eq(isle_stat(db, &after), 0);
    cr_assert_eq(after.last_txn, before.last_txn, "nothing committed");
    reopen();
    c = open_coll(&p6_schema); /* "extra" was not stored as a string */
    isle_coll_close(c);
    c = open_coll(&p1_schema);
    P1 o;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    get(c, 1, &o, &a);
    cr_assert_str_eq(o.name, "ada");
    cr_assert_eq(o.age, 36);
    cr_assert_eq(cu_count(db, c), 2);
    cu_check(db, c);
    isle_coll_close(c);
    isle_arena_free(&a);
}

/* Other incompatible changes: list vs single, enum storage, embedded type. */
typedef struct L1 {
    int64_t id;
    char **name;
    uint32_t n;
} L1;
static const isle_field l1_fields[] = {ISLE_LIST(L1, name, n, ISLE_STRING)};
static const isle_schema l1_schema = ISLE_COLLECTION_AS(L1, "Person", id, l1_fields);

enum mood { SAD, GLAD };
static const isle_enum_value mood_values[] = {ISLE_ENUMERATOR(SAD), ISLE_ENUMERATOR(GLAD)};
static const isle_enum mood_enum = ISLE_ENUM_DEF(mood, mood_values);
typedef struct E1 {
    int64_t id;
    enum mood m;
} E1;
static const isle_field e1_fields[] = {ISLE_FIELD(E1, m, ISLE_ENUM(&mood_enum, ISLE_ENUM_ORDINAL))};
static const isle_schema e1_schema = ISLE_COLLECTION_AS(E1, "Moods", id, e1_fields);
static const isle_field e2_fields[] = {ISLE_FIELD(E1, m, ISLE_ENUM(&mood_enum, ISLE_ENUM_NAME))};
static const isle_schema e2_schema = ISLE_COLLECTION_AS(E1, "Moods", id, e2_fields);
typedef struct E3 {
    int64_t id;
    uint8_t m;
} E3;
static const isle_field e3_fields[] = {ISLE_FIELD(E3, m, ISLE_BYTE)};
static const isle_schema e3_schema = ISLE_COLLECTION_AS(E3, "Moods", id, e3_fields);

typedef struct Place {
    char *city;
} Place;
static const isle_field place_fields[] = {ISLE_FIELD(Place, city, ISLE_STRING)};
static const isle_schema place_schema = ISLE_EMBEDDED(Place, place_fields);
typedef struct P7 {
    int64_t id;
    Place *addr;
} P7;
static const isle_field p7_fields[] = {ISLE_FIELD(P7, addr, ISLE_EMBED(&place_schema))};
static const isle_schema p7_schema = ISLE_COLLECTION_AS(P7, "Person", id, p7_fields);

Test(coll_schema, other_incompatible_changes) {
    isle_coll *c = open_coll(&p2_schema);
    isle_coll_close(c);
    c = NULL;
    cr_assert_eq(isle_coll_open(db, &l1_schema, &c), ISLE_ESCHEMA);
    cr_assert(strstr(isle_errmsg(), "list of string"), "%s", isle_errmsg());
    cr_assert_eq(isle_coll_open(db, &p7_schema, &c), ISLE_ESCHEMA);
    cr_assert(strstr(isle_errmsg(), "object 'Addr'") && strstr(isle_errmsg(), "object 'Place'"),
              "%s", isle_errmsg());
    c = open_coll(&e1_schema);
    E1 x = {0, GLAD};
    cr_assert_eq(cu_put(db, c, &x), 0);
    isle_coll_close(c);
    cr_assert_eq(isle_coll_open(db, &e2_schema, &c), ISLE_ESCHEMA, "ordinal to name");
    c = open_coll(&e3_schema); /* an ordinal is a byte: compatible */
    E3 y;
    get(c, 1, &y, NULL);
    cr_assert_eq(y.m, 1);
    isle_coll_close(c);
}

/* ---- declarations -------------------------------------------------------------- */

typedef struct Bad {
    int64_t id;
    int64_t n;
    char *s;
    int32_t i32;
    char fixed[8];
    uint8_t count8;
    double *d;
    int64_t small_id;
} Bad;

static const isle_field one_field[] = {ISLE_FIELD(Bad, n, ISLE_INT)};

static void expect_bad(const isle_field *fields, size_t n, int code, const char *needle) {
    isle_schema s = ISLE_COLLECTION(Bad, id, one_field);
    s.fields = fields;
    s.nfields = n;
    isle_coll *c = NULL;
    cr_assert_eq(isle_coll_open(db, &s, &c), code, "expected %d for '%s': %s", code, needle,
                 isle_errmsg());
    cr_assert(strstr(isle_errmsg(), needle), "'%s' in: %s", needle, isle_errmsg());
    cr_assert_null(c);
}

Test(coll_schema, declarations_are_checked) {
    const isle_field wrong_c_type[] = {ISLE_FIELD(Bad, n, ISLE_STRING)};
    expect_bad(wrong_c_type, 1, ISLE_EINVAL, "must be char *");
    const isle_field short_is_int32[] = {ISLE_FIELD(Bad, n, ISLE_SHORT)};
    expect_bad(short_is_int32, 1, ISLE_EINVAL, "int32_t");
    const isle_field array_string[] = {ISLE_FIELD(Bad, fixed, ISLE_STRING)};
    expect_bad(array_string, 1, ISLE_EINVAL, "char *");
    const isle_field dup[] = {ISLE_FIELD(Bad, s, ISLE_STRING),
                              ISLE_FIELD_AS(Bad, n, "s", ISLE_INT)};
    expect_bad(dup, 2, ISLE_EINVAL, "two fields are stored as 's'");
    const isle_field noname[] = {ISLE_FIELD_AS(Bad, s, "", ISLE_STRING)};
    expect_bad(noname, 1, ISLE_EINVAL, "stored name");
    char longname[ISLE_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    const isle_field toolong[] = {ISLE_FIELD_AS(Bad, s, longname, ISLE_STRING)};
    expect_bad(toolong, 1, ISLE_ETOOBIG, "stored name");
    const isle_field no_enum[] = {ISLE_FIELD(Bad, i32, ISLE_ENUM(NULL, ISLE_ENUM_NAME))};
    expect_bad(no_enum, 1, ISLE_EINVAL, "isle_enum");
    const isle_field bad_storage[] = {ISLE_FIELD(Bad, i32, ISLE_ENUM(&mood_enum, 9))};
    expect_bad(bad_storage, 1, ISLE_EINVAL, "enum storage");
    const isle_field no_embedded[] = {ISLE_FIELD(Bad, s, ISLE_EMBED(NULL))};
    expect_bad(no_embedded, 1, ISLE_EINVAL, "needs its schema");
    const isle_field not_a_list[] = {ISLE_LIST(Bad, fixed, count8, ISLE_BYTE)};
    expect_bad(not_a_list, 1, ISLE_EINVAL, "uint8_t *");
    const isle_field bad_type[] = {{.c_name = "n", .name = "n", .type = 77, .size = 8}};
    expect_bad(bad_type, 1, ISLE_EINVAL, "unknown type");
    isle_schema no_id = ISLE_EMBEDDED(Bad, wrong_c_type);
    isle_coll *c = NULL;
    cr_assert_eq(isle_coll_open(db, &no_id, &c), ISLE_EINVAL);
    cr_assert_eq(isle_coll_open(db, NULL, &c), ISLE_EINVAL);
    cr_assert_eq(isle_coll_open(NULL, &p1_schema, &c), ISLE_EINVAL);
    cr_assert_eq(isle_coll_open(db, &p1_schema, NULL), ISLE_EINVAL);
    isle_schema bad_coll_name = p1_schema;
    bad_coll_name.name = "bad\xff";
    cr_assert_eq(isle_coll_open(db, &bad_coll_name, &c), ISLE_EINVAL);
}

Test(coll_schema, field_limit) {
    static isle_field many[ISLE_FIELDS_MAX + 1];
    static char names[ISLE_FIELDS_MAX + 1][8];
    for (unsigned i = 0; i <= ISLE_FIELDS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "f%u", i);
        many[i] = (isle_field)ISLE_FIELD(Bad, i32, ISLE_SHORT);
        many[i].name = names[i];
    }
    expect_bad(many, ISLE_FIELDS_MAX + 1, ISLE_ETOOBIG, "more than 1024 fields");
    isle_schema s = ISLE_COLLECTION(Bad, id, one_field);
    s.fields = many;
    s.nfields = ISLE_FIELDS_MAX; /* exactly the limit: fine */
    isle_coll *c = NULL;
    cr_assert_eq(isle_coll_open(db, &s, &c), 0, "%s", isle_errmsg());
    Bad b = {.i32 = 7};
    cr_assert_eq(cu_put(db, c, &b), 0, "%s", isle_errmsg());
    isle_coll_close(c);
    s.nfields = 1; /* dropping fields does not make room: they stay stored */
    many[0].name = "one more";
    cr_assert_eq(isle_coll_open(db, &s, &c), ISLE_ETOOBIG);
    cr_assert(strstr(isle_errmsg(), "dropped fields count"), "%s", isle_errmsg());
}

Test(coll_schema, collection_limit) {
    isle_schema s = p1_schema;
    char names[ISLE_COLLECTIONS_MAX + 1][16];
    for (unsigned i = 0; i <= ISLE_COLLECTIONS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "c%u", i);
        s.name = names[i];
        isle_coll *c = NULL;
        int rc = isle_coll_open(db, &s, &c);
        if (i < ISLE_COLLECTIONS_MAX) {
            cr_assert_eq(rc, 0, "%u: %s", i, isle_errmsg());
            isle_coll_close(c);
        } else {
            cr_assert_eq(rc, ISLE_ETOOBIG, "%s", isle_errmsg());
        }
    }
}

Test(coll_schema, two_collections_are_separate) {
    isle_coll *p = open_coll(&p1_schema), *b = open_coll(&b1_schema);
    P1 x = {0, "x", 1, 1};
    B1 y = {0, 1, 2};
    cr_assert_eq(cu_put(db, p, &x), 0);
    cr_assert_eq(cu_put(db, b, &y), 0);
    cr_assert_eq(cu_put(db, b, &y), 0);
    cr_assert_eq(cu_count(db, p), 1);
    cr_assert_eq(cu_count(db, b), 1);
    cr_assert_str_eq(isle_coll_name(p), "Person");
    isle_coll_close(p);
    isle_coll_close(b);
}
