/*
 * test_coll_str.c: string fields held as isle_str (pointer and length)
 * through the public API.  Written strings need no terminator; reads fill
 * the length (and still terminate); null and empty stay apart; lists of
 * isle_str; scans with strings borrowed; a member switching between
 * char * and isle_str keeps its data and schema; and bad strings (a NUL
 * inside, broken UTF-8, a NULL ptr with a length, too long) fail with
 * their error and change nothing.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll_util.h"

typedef struct Card {
    int64_t id;
    isle_str title;
    int32_t rank;
    isle_str *tags;
    uint32_t ntags;
} Card;

static const isle_field card_fields[] = {
    ISLE_FIELD(Card, title, ISLE_STRING),
    ISLE_FIELD(Card, rank, ISLE_SHORT),
    ISLE_LIST(Card, tags, ntags, ISLE_STRING),
};
static const isle_schema card_schema = ISLE_COLLECTION_AS(Card, "card", id, card_fields);

/* The same stored type, held as NUL-terminated strings. */
typedef struct CardC {
    int64_t id;
    char *title;
    int32_t rank;
    char **tags;
    uint32_t ntags;
} CardC;

static const isle_field cardc_fields[] = {
    ISLE_FIELD(CardC, title, ISLE_STRING),
    ISLE_FIELD(CardC, rank, ISLE_SHORT),
    ISLE_LIST(CardC, tags, ntags, ISLE_STRING),
};
static const isle_schema cardc_schema = ISLE_COLLECTION_AS(CardC, "card", id, cardc_fields);

static cu_tmp tmp;
static isle_db *db;
static isle_coll *cards;

static void setup(void) {
    cu_tmp_make(&tmp);
    db = cu_open(tmp.path);
    cr_assert_eq(isle_coll_open(db, &card_schema, &cards), 0, "%s", isle_errmsg());
}

static void teardown(void) {
    isle_coll_close(cards);
    if (db)
        cr_assert_eq(isle_close(db), 0, "%s", isle_errmsg());
    cu_tmp_remove(&tmp);
}

TestSuite(coll_str, .init = setup, .fini = teardown);

static isle_str S(const char *p, size_t n) { return (isle_str){p, n}; }

static void expect_str(isle_str got, const char *want, size_t n, const char *what) {
    if (!want) {
        cr_assert(got.ptr == NULL && got.len == 0, "%s: want null, got %p/%zu", what,
                  (const void *)got.ptr, got.len);
        return;
    }
    cr_assert_not_null(got.ptr, "%s: null", what);
    cr_assert_eq(got.len, n, "%s: length %zu, want %zu", what, got.len, n);
    cr_assert(memcmp(got.ptr, want, n) == 0, "%s: bytes differ", what);
    cr_assert_eq(got.ptr[n], 0, "%s: not terminated", what);
}

static void get_card(int64_t id, Card *out, isle_arena *a) {
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    memset(out, 0x5a, sizeof *out);
    cr_assert_eq(isle_coll_get(txn, cards, id, out, a), 0, "get %lld: %s", (long long)id,
                 isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
}

Test(coll_str, lengths_not_terminators_round_trip) {
    /* the strings are slices of one buffer: none ends where it stops */
    static const char text[] = "headline|red|green|blue";
    isle_str tags[] = {S(text + 9, 3), S(NULL, 0), S(text + 13, 5), S("", 0)};
    Card x = {.title = S(text, 8), .rank = 7, .tags = tags, .ntags = 4};
    cr_assert_eq(cu_put(db, cards, &x), 0, "%s", isle_errmsg());
    Card empty = {.title = S("", 0), .rank = 1, .tags = tags, .ntags = 0};
    cr_assert_eq(cu_put(db, cards, &empty), 0, "%s", isle_errmsg());
    Card nulls = {.title = S(NULL, 0), .rank = 2};
    cr_assert_eq(cu_put(db, cards, &nulls), 0, "%s", isle_errmsg());

    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    Card y;
    get_card(x.id, &y, &a);
    expect_str(y.title, "headline", 8, "title");
    cr_assert_eq(y.rank, 7);
    cr_assert_eq(y.ntags, 4);
    expect_str(y.tags[0], "red", 3, "tags[0]");
    expect_str(y.tags[1], NULL, 0, "tags[1]");
    expect_str(y.tags[2], "green", 5, "tags[2]");
    expect_str(y.tags[3], "", 0, "tags[3]");
    cr_assert((const char *)y.tags[0].ptr < (const char *)text ||
                  (const char *)y.tags[0].ptr >= text + sizeof text,
              "a read copies into the arena");

    get_card(empty.id, &y, &a);
    expect_str(y.title, "", 0, "empty title"); /* empty is not null */
    cr_assert_not_null(y.tags, "an empty list is not a null list");
    cr_assert_eq(y.ntags, 0);

    get_card(nulls.id, &y, &a);
    expect_str(y.title, NULL, 0, "null title");
    cr_assert_null(y.tags);
    cr_assert_eq(y.ntags, 0);
    isle_arena_free(&a);
    cu_check(db, cards);
}

typedef struct seen {
    int n;
    size_t bytes;
} seen;

static int borrowed(void *arg, void *obj) {
    seen *s = arg;
    Card *c = obj;
    char want[32];
    int n = snprintf(want, sizeof want, "card number %lld", (long long)c->id);
    expect_str(c->title, want, (size_t)n, "borrowed title");
    cr_assert_eq(c->ntags, 1);
    expect_str(c->tags[0], "t", 1, "borrowed tag");
    s->bytes += c->title.len;
    s->n++;
    return 0;
}

Test(coll_str, scan_with_strings_borrowed_gives_lengths) {
    char buf[32];
    isle_str tag = S("t", 1);
    size_t want_bytes = 0;
    for (int i = 1; i <= 500; i++) {
        int n = snprintf(buf, sizeof buf, "card number %d", i);
        Card x = {.title = S(buf, (size_t)n), .tags = &tag, .ntags = 1};
        cr_assert_eq(cu_put(db, cards, &x), 0, "%s", isle_errmsg());
        want_bytes += (size_t)n;
    }
    isle_txn *txn;
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    seen s = {0};
    Card c;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_scan(txn, cards, ISLE_AUTO_ID, ISLE_SCAN_BORROW, &c, &a, borrowed, &s),
                 0, "%s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
    cr_assert_eq(s.n, 500);
    cr_assert_eq(s.bytes, want_bytes);
    isle_arena_free(&a);
}

Test(coll_str, char_pointer_and_isle_str_share_the_stored_form) {
    isle_str tags[] = {S("one", 3), S(NULL, 0)};
    Card x = {.title = S("written as isle_str", 19), .rank = 3, .tags = tags, .ntags = 2};
    cr_assert_eq(cu_put(db, cards, &x), 0, "%s", isle_errmsg());
    isle_coll_close(cards);
    cards = NULL;

    /* the same collection through char * members: no schema change */
    isle_coll *cc;
    cr_assert_eq(isle_coll_open(db, &cardc_schema, &cc), 0, "%s", isle_errmsg());
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    CardC y;
    isle_txn *txn;
    cr_assert_eq(isle_read_begin(db, &txn), 0);
    cr_assert_eq(isle_coll_get(txn, cc, x.id, &y, &a), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_read_end(txn), 0);
    cr_assert_str_eq(y.title, "written as isle_str");
    cr_assert_eq(y.ntags, 2);
    cr_assert_str_eq(y.tags[0], "one");
    cr_assert_null(y.tags[1]);
    char *ctags[] = {"two", "three"};
    CardC z = {.title = "written as char *", .rank = 4, .tags = ctags, .ntags = 2};
    cr_assert_eq(cu_put(db, cc, &z), 0, "%s", isle_errmsg());
    isle_coll_close(cc);

    cr_assert_eq(isle_coll_open(db, &card_schema, &cards), 0, "%s", isle_errmsg());
    Card w;
    get_card(z.id, &w, &a);
    expect_str(w.title, "written as char *", 17, "title");
    cr_assert_eq(w.rank, 4);
    cr_assert_eq(w.ntags, 2);
    expect_str(w.tags[1], "three", 5, "tags[1]");
    isle_arena_free(&a);
    cu_check(db, cards);
}

/* Runs one bad put in a transaction that commits anyway. */
typedef struct bad {
    Card *card;
    int want;
    const char *needle;
} bad;

static int put_anyway(isle_txn *txn, void *arg) {
    bad *b = arg;
    int rc = isle_coll_put(txn, cards, b->card);
    cr_assert_eq(rc, b->want, "got %d (%s), want %d", rc, isle_errmsg(), b->want);
    cr_assert(strstr(isle_errmsg(), b->needle), "'%s' not in: %s", b->needle, isle_errmsg());
    return 0;
}

static void expect_bad_put(Card *x, int want, const char *needle) {
    bad b = {x, want, needle};
    cr_assert_eq(isle_write(db, put_anyway, &b), 0, "%s", isle_errmsg());
    cr_assert_eq(x->id, ISLE_AUTO_ID, "no id written back");
    cr_assert_eq(cu_count(db, cards), 1, "the bad put stored nothing");
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    Card y;
    get_card(1, &y, &a);
    expect_str(y.title, "kept", 4, "the object before");
    isle_arena_free(&a);
    cu_check(db, cards);
}

Test(coll_str, bad_strings_fail_and_change_nothing) {
    Card keep = {.title = S("kept", 4)};
    cr_assert_eq(cu_put(db, cards, &keep), 0, "%s", isle_errmsg());
    cr_assert_eq(keep.id, 1);

    Card x = {.title = S("nul\0inside", 10)}; /* the length takes in the NUL */
    expect_bad_put(&x, ISLE_EINVAL, "field 'title': string is not valid UTF-8 (or holds a NUL");
    x.title = S("ok \xc3\x28", 5);
    expect_bad_put(&x, ISLE_EINVAL, "field 'title'");
    x.title = S(NULL, 3);
    expect_bad_put(&x, ISLE_EINVAL, "field 'title': isle_str with a NULL ptr and a length");
    x.title = S("short", (size_t)ISLE_STRING_LEN_MAX + 1); /* refused before it is read */
    expect_bad_put(&x, ISLE_ETOOBIG, "field 'title': string longer than ISLE_STRING_LEN_MAX");

    isle_str tags[] = {S("fine", 4), S(NULL, 1)};
    x.title = S("t", 1);
    x.tags = tags;
    x.ntags = 2;
    expect_bad_put(&x, ISLE_EINVAL, "field 'tags': isle_str with a NULL ptr");
    tags[1] = S("a\0b", 3);
    expect_bad_put(&x, ISLE_EINVAL, "field 'tags'");
}

/* An isle_str member takes only a string field. */
typedef struct Wrong {
    int64_t id;
    isle_str n;
} Wrong;
static const isle_field wrong_fields[] = {ISLE_FIELD(Wrong, n, ISLE_INT)};
static const isle_schema wrong_schema = ISLE_COLLECTION(Wrong, id, wrong_fields);

Test(coll_str, isle_str_member_of_another_type_is_refused) {
    isle_coll *w = NULL;
    int rc = isle_coll_open(db, &wrong_schema, &w);
    cr_assert_eq(rc, ISLE_EINVAL, "an isle_str member declared ISLE_INT: %d", rc);
    cr_assert_null(w);
    cr_assert(strstr(isle_errmsg(), "field 'Wrong.n': a int field must be int64_t"), "%s",
              isle_errmsg());
}
