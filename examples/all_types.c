/*
 * all_types.c: a collection with a field of every type isle stores (bool,
 * byte, short, int, float, double, datetime, string, the four enum
 * storages, embedded objects nested, inline and in lists, and a list of
 * each), declared in one block from its struct.  It stores one object
 * with values and one with every field null, reads both back, prints
 * them, and checks they came back as stored.
 *
 * Usage: all_types [FILE]   (default: all_types.isle; starts empty).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "isle.h"

/* ---- the declarations ------------------------------------------------------------ */

enum suit { SUIT_NONE = -1, HEARTS, SPADES, CLUBS, DIAMONDS };
static const isle_enum_value suit_values[] = {
    ISLE_ENUMERATOR_AS(HEARTS, "hearts", 100),
    ISLE_ENUMERATOR_AS(SPADES, "spades", 200),
    ISLE_ENUMERATOR_AS(CLUBS, "clubs", 300),
    ISLE_ENUMERATOR_AS(DIAMONDS, "diamonds", 400),
};
static const isle_enum suit_enum = ISLE_ENUM_DEF_NULLABLE(suit, suit_values, SUIT_NONE);
static const isle_enum suit_strict = ISLE_ENUM_DEF(suit, suit_values); /* for ordinal */

typedef struct Point {
    double x, y;
    char *label;
} Point;
static const isle_field point_fields[] = {
    ISLE_FIELD(Point, x, ISLE_DOUBLE),
    ISLE_FIELD(Point, y, ISLE_DOUBLE),
    ISLE_FIELD(Point, label, ISLE_STRING),
};
static const isle_schema point_schema = ISLE_EMBEDDED(Point, point_fields);

typedef struct Shape {
    char *name;
    Point *center;  /* an embedded object inside an embedded object */
    Point *corners; /* a list of embedded objects */
    uint32_t ncorners;
} Shape;
static const isle_field shape_fields[] = {
    ISLE_FIELD(Shape, name, ISLE_STRING),
    ISLE_FIELD(Shape, center, ISLE_EMBED(&point_schema)),
    ISLE_LIST(Shape, corners, ncorners, ISLE_EMBED(&point_schema)),
};
static const isle_schema shape_schema = ISLE_EMBEDDED(Shape, shape_fields);

typedef struct Everything {
    int64_t id;
    isle_bool flag;          /* bool, nullable */
    bool plain_flag;         /* bool, never null */
    uint8_t byte;
    int32_t shortv;          /* isle's "short" is 32 bits */
    int64_t intv;
    float floatv;
    double doublev;
    int64_t when;            /* datetime */
    char *text;
    enum suit s_ordinal, s_ordinal32, s_name, s_value;
    isle_bool *flags;        uint32_t nflags;
    uint8_t *bytes;          uint32_t nbytes;
    int32_t *shorts;         uint32_t nshorts;
    int64_t *ints;           uint32_t nints;
    float *floats;           uint32_t nfloats;
    double *doubles;         uint32_t ndoubles;
    int64_t *whens;          uint32_t nwhens;
    char **texts;            uint32_t ntexts;
    enum suit *suits;        uint32_t nsuits;
    Shape *shape;            /* embedded, nullable */
    Point origin;            /* embedded inline */
    Shape *shapes;           uint32_t nshapes;
    void *cache;             /* not stored */
} Everything;

static const isle_field everything_fields[] = {
    ISLE_FIELD(Everything, flag, ISLE_BOOL),
    ISLE_FIELD(Everything, plain_flag, ISLE_BOOL),
    ISLE_FIELD(Everything, byte, ISLE_BYTE),
    ISLE_FIELD(Everything, shortv, ISLE_SHORT),
    ISLE_FIELD(Everything, intv, ISLE_INT),
    ISLE_FIELD(Everything, floatv, ISLE_FLOAT),
    ISLE_FIELD(Everything, doublev, ISLE_DOUBLE),
    ISLE_FIELD(Everything, when, ISLE_DATETIME),
    ISLE_FIELD(Everything, text, ISLE_STRING),
    ISLE_FIELD(Everything, s_ordinal, ISLE_ENUM(&suit_strict, ISLE_ENUM_ORDINAL)),
    ISLE_FIELD(Everything, s_ordinal32, ISLE_ENUM(&suit_enum, ISLE_ENUM_ORDINAL32)),
    ISLE_FIELD(Everything, s_name, ISLE_ENUM(&suit_enum, ISLE_ENUM_NAME)),
    ISLE_FIELD(Everything, s_value, ISLE_ENUM(&suit_enum, ISLE_ENUM_VALUE)),
    ISLE_LIST(Everything, flags, nflags, ISLE_BOOL),
    ISLE_LIST(Everything, bytes, nbytes, ISLE_BYTE),
    ISLE_LIST(Everything, shorts, nshorts, ISLE_SHORT),
    ISLE_LIST(Everything, ints, nints, ISLE_INT),
    ISLE_LIST(Everything, floats, nfloats, ISLE_FLOAT),
    ISLE_LIST(Everything, doubles, ndoubles, ISLE_DOUBLE),
    ISLE_LIST(Everything, whens, nwhens, ISLE_DATETIME),
    ISLE_LIST(Everything, texts, ntexts, ISLE_STRING),
    ISLE_LIST(Everything, suits, nsuits, ISLE_ENUM(&suit_enum, ISLE_ENUM_NAME)),
    ISLE_FIELD(Everything, shape, ISLE_EMBED(&shape_schema)),
    ISLE_FIELD(Everything, origin, ISLE_EMBED_INLINE(&point_schema)),
    ISLE_LIST(Everything, shapes, nshapes, ISLE_EMBED(&shape_schema)),
    ISLE_IGNORE(Everything, cache),
};
static const isle_schema everything_schema = ISLE_COLLECTION(Everything, id, everything_fields);

/* ---- printing ----------------------------------------------------------------------- */

static void print_str(const char *s) {
    if (s)
        printf("\"%s\"", s);
    else
        printf("null");
}

static void print_double(double d) {
    if (isnan(d))
        printf("null");
    else
        printf("%g", d);
}

static void print_time(int64_t us) {
    struct tm tm;
    int32_t usec;
    char buf[40];
    if (us == ISLE_NULL_TIME || isle_time_to_utc(us, &tm, &usec) != 0) {
        printf("null");
        return;
    }
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%s.%06dZ", buf, (int)usec);
}

static void print_suit(enum suit s) {
    if (s == SUIT_NONE)
        printf("null");
    else
        printf("%s", suit_values[s].name);
}

static void print_point(const Point *p) {
    if (!p) {
        printf("null");
        return;
    }
    printf("{x: ");
    print_double(p->x);
    printf(", y: ");
    print_double(p->y);
    printf(", label: ");
    print_str(p->label);
    printf("}");
}

static void print_shape(const Shape *s) {
    if (!s) {
        printf("null");
        return;
    }
    printf("{name: ");
    print_str(s->name);
    printf(", center: ");
    print_point(s->center);
    printf(", corners: ");
    if (!s->corners)
        printf("null");
    for (uint32_t i = 0; s->corners && i < s->ncorners; i++) {
        printf(i ? ", " : "[");
        print_point(&s->corners[i]);
    }
    printf("%s}", s->corners ? (s->ncorners ? "]" : "[]") : "");
}

#define PRINT_LIST(label, p, n, fmt_one)                                 \
    do {                                                                 \
        printf("  %-12s ", label);                                       \
        if (!(p))                                                        \
            printf("null");                                              \
        else                                                             \
            printf("[");                                                 \
        for (uint32_t i_ = 0; (p) && i_ < (n); i_++) {                   \
            if (i_)                                                      \
                printf(", ");                                            \
            fmt_one((p)[i_]);                                            \
        }                                                                \
        printf("%s\n", (p) ? "]" : "");                                  \
    } while (0)

static void one_bool(isle_bool b) {
    printf("%s", b == ISLE_NULL_BOOL ? "null" : b ? "true" : "false");
}

static void one_byte(uint8_t b) { printf("%u", b); }

static void one_short(int32_t v) {
    if (v == ISLE_NULL_SHORT)
        printf("null");
    else
        printf("%d", v);
}

static void one_int(int64_t v) {
    if (v == ISLE_NULL_INT)
        printf("null");
    else
        printf("%" PRId64, v);
}

static void one_shape(Shape s) { print_shape(&s); }

static void print_everything(const Everything *e) {
    printf("Everything #%" PRId64 " {\n  flag         ", e->id);
    one_bool(e->flag);
    printf("\n  plain_flag   %s\n  byte         %u\n  shortv       ",
           e->plain_flag ? "true" : "false", e->byte);
    one_short(e->shortv);
    printf("\n  intv         ");
    one_int(e->intv);
    printf("\n  floatv       ");
    print_double(e->floatv);
    printf("\n  doublev      ");
    print_double(e->doublev);
    printf("\n  when         ");
    print_time(e->when);
    printf("\n  text         ");
    print_str(e->text);
    printf("\n  suits        ordinal ");
    print_suit(e->s_ordinal);
    printf(", ordinal32 ");
    print_suit(e->s_ordinal32);
    printf(", name ");
    print_suit(e->s_name);
    printf(", value ");
    print_suit(e->s_value);
    printf("\n");
    PRINT_LIST("flags", e->flags, e->nflags, one_bool);
    PRINT_LIST("bytes", e->bytes, e->nbytes, one_byte);
    PRINT_LIST("shorts", e->shorts, e->nshorts, one_short);
    PRINT_LIST("ints", e->ints, e->nints, one_int);
    PRINT_LIST("floats", e->floats, e->nfloats, print_double);
    PRINT_LIST("doubles", e->doubles, e->ndoubles, print_double);
    PRINT_LIST("whens", e->whens, e->nwhens, print_time);
    PRINT_LIST("texts", e->texts, e->ntexts, print_str);
    PRINT_LIST("suit list", e->suits, e->nsuits, print_suit);
    printf("  shape        ");
    print_shape(e->shape);
    printf("\n  origin       ");
    print_point(&e->origin);
    printf("\n");
    PRINT_LIST("shapes", e->shapes, e->nshapes, one_shape);
    printf("}\n");
}

/* ---- storing and reading back ------------------------------------------------------- */

static isle_coll *things;

static int store(isle_txn *txn, void *arg) { return isle_coll_put_many(txn, things, arg, 2); }

static int same_doubles(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

/* A few spot checks on top of the printout: the fields most likely to go
 * wrong (nulls, nesting, lists of strings, enums). */
static int check_full(const Everything *in, const Everything *out) {
    return out->flag == in->flag && out->plain_flag == in->plain_flag && out->byte == in->byte &&
           out->shortv == in->shortv && out->intv == in->intv &&
           same_doubles(out->floatv, in->floatv) && out->when == in->when &&
           strcmp(out->text, in->text) == 0 && out->s_ordinal == in->s_ordinal &&
           out->s_ordinal32 == in->s_ordinal32 && out->s_name == in->s_name &&
           out->s_value == in->s_value && out->ntexts == in->ntexts && out->texts[1] == NULL &&
           strcmp(out->texts[2], in->texts[2]) == 0 && out->nshorts == 3 &&
           out->shorts[1] == ISLE_NULL_SHORT && out->shape &&
           strcmp(out->shape->center->label, "c") == 0 && out->shape->ncorners == 2 &&
           out->shape->corners[1].y == 1 && out->nshapes == 1 && out->shapes[0].center == NULL &&
           out->origin.x == 0.5 && out->nsuits == 2 && out->suits[1] == SUIT_NONE;
}

static int check_null(const Everything *out) {
    return out->flag == ISLE_NULL_BOOL && !out->plain_flag && out->byte == 0 &&
           out->shortv == ISLE_NULL_SHORT && out->intv == ISLE_NULL_INT && isnan(out->floatv) &&
           isnan(out->doublev) && out->when == ISLE_NULL_TIME && !out->text &&
           out->s_name == SUIT_NONE && !out->flags && !out->texts && !out->shape &&
           !out->origin.label && isnan(out->origin.x) && !out->shapes;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "all_types.isle";
    char wal[1024];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path);
    unlink(wal);

    isle_bool flags[] = {1, ISLE_NULL_BOOL, 0};
    uint8_t bytes[] = {0, 127, 255};
    int32_t shorts[] = {-1, ISLE_NULL_SHORT, 2147483647};
    int64_t ints[] = {INT64_MAX, -42};
    float floats[] = {1.5f, ISLE_NULL_FLOAT};
    double doubles[] = {3.141592653589793, -0.0};
    int64_t now = 0;
    isle_time_now(&now);
    int64_t whens[] = {0, now};
    char *texts[] = {"naïve café", NULL, "日本語 ✓"};
    enum suit suits[] = {SPADES, SUIT_NONE};
    Point center = {1, 2, "c"}, corners[2] = {{0, 0, "bottom-left"}, {1, 1, NULL}};
    Shape shape = {"square", &center, corners, 2}, shapes[1] = {{"empty", NULL, NULL, 0}};
    Everything in[2] = {
        {ISLE_AUTO_ID, 1, true, 200, -123456, INT64_MIN + 1, 2.5f, 1e300, now, "hello, isle",
         CLUBS, DIAMONDS, HEARTS, SPADES, flags, 3, bytes, 3, shorts, 3, ints, 2, floats, 2,
         doubles, 2, whens, 2, texts, 3, suits, 2, &shape, {0.5, -0.5, "origin"}, shapes, 1,
         NULL},
        {ISLE_AUTO_ID, ISLE_NULL_BOOL, false, 0, ISLE_NULL_SHORT, ISLE_NULL_INT, ISLE_NULL_FLOAT,
         ISLE_NULL_DOUBLE, ISLE_NULL_TIME, NULL, HEARTS, SUIT_NONE, SUIT_NONE, SUIT_NONE, NULL, 0,
         NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL,
         {ISLE_NULL_DOUBLE, ISLE_NULL_DOUBLE, NULL}, NULL, 0, NULL},
    };

    isle_db *db;
    int ok = 0;
    if (isle_open(path, NULL, &db) != 0 || isle_coll_open(db, &everything_schema, &things) != 0 ||
        isle_write(db, store, in) != 0) {
        fprintf(stderr, "all_types: %s\n", isle_errmsg());
        return 1;
    }
    isle_txn *txn;
    isle_arena arena;
    isle_arena_init(&arena, NULL, 0);
    Everything out[2];
    int64_t ids[2] = {in[0].id, in[1].id};
    size_t found = 0;
    if (isle_read_begin(db, &txn) == 0 &&
        isle_coll_get_many(txn, things, ids, 2, out, &arena, &found) == 0 && found == 2) {
        print_everything(&out[0]);
        print_everything(&out[1]);
        ok = check_full(&in[0], &out[0]) && check_null(&out[1]);
        isle_read_end(txn);
    } else {
        fprintf(stderr, "all_types: %s\n", isle_errmsg());
    }
    isle_arena_free(&arena);
    isle_coll_close(things);
    if (isle_close(db) != 0)
        ok = 0;
    printf("%s\n", ok ? "all types read back as stored" : "MISMATCH");
    return ok ? 0 : 1;
}
