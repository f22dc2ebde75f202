/*
 * seed_record.c: writes the record fuzz target's seed corpus: real records
 * built by the encoder and the writer for every schema of fz_record.c,
 * each behind the selector byte the harness expects: typical and edge
 * values, nulls, empty strings and lists, non-ASCII text, old (shorter)
 * layouts, trees nested to CD_NEST_DEPTH_MAX, and one hand-made tree a
 * level deeper that the harness must reject.  Every seed is run through
 * the harness before it is written.  Usage: seed_record DIR
 */
#include <float.h>
#include <stdio.h>

/* The harness itself: its schemas, selector and checks. */
#include "fz_record.c"

static uint8_t out[1 << 20];
static const char *out_dir;
static int failed;

static void emit(const char *name, uint8_t sel, const uint8_t *rec, size_t len) {
    static uint8_t file[(1 << 20) + 1];
    file[0] = sel;
    memcpy(file + 1, rec, len);
    LLVMFuzzerTestOneInput(file, len + 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(file, 1, len + 1, f) == len + 1;
    if (!f || fclose(f) != 0 || !ok) {
        fprintf(stderr, "seed_record: cannot write %s\n", path);
        failed = 1;
    }
}

/* Encodes values with schema s (selector sel) and writes the seed. */
static void seed(const char *name, uint8_t sel, const cd_schema *s,
                 const cd_value *v) {
    size_t len;
    int rc = cd_record_encode(s, v, out, sizeof out, &len);
    if (rc != CD_OK || cd_record_validate(s, out, len, NULL) != CD_OK) {
        fprintf(stderr, "seed_record: %s: encode failed (%d)\n", name, rc);
        failed = 1;
        return;
    }
    emit(name, sel, out, len);
}

/* ---- flat ---------------------------------------------------------------- */

static void flat_seeds(void) {
    static const char edge_text[] = "\xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac caf\xc3\xa9";
    const cd_schema *s = fz_schema(FZ_FLAT);
    cd_value v[8] = {
        cd_val_bool(1), cd_val_byte(42), cd_val_short(-7), cd_val_int(1234567890123),
        cd_val_float(1.5f), cd_val_double(-2.25), cd_val_datetime(1700000000000000),
        cd_val_string("hello", 5),
    };
    seed("flat-typical", FZ_FLAT, s, v);
    cd_value e[8] = {
        cd_val_bool(0), cd_val_byte(255), cd_val_short(INT32_MAX), cd_val_int(INT64_MAX),
        cd_val_float(-0.0f), cd_val_double(INFINITY), cd_val_datetime(INT64_MIN + 1),
        cd_val_string(edge_text, (uint32_t)strlen(edge_text)),
    };
    seed("flat-edges", FZ_FLAT, s, e);
    cd_value n[8];
    for (int i = 0; i < 8; i++)
        n[i] = cd_val_null(fz_flat_f[i].type, 0);
    n[1] = cd_val_byte(0);
    seed("flat-nulls", FZ_FLAT, s, n);
    n[7] = cd_val_string("", 0);
    seed("flat-empty-string", FZ_FLAT, s, n);
    /* Old layouts: the first k fields only. */
    for (uint16_t k = 0; k < 8; k += 3) {
        cd_schema pre = {.fields = fz_flat_f, .nfields = k};
        char name[32];
        snprintf(name, sizeof name, "flat-old-%u", k);
        if (cd_schema_layout(&pre) == CD_OK)
            seed(name, FZ_FLAT, &pre, v);
    }
}

/* ---- every type ---------------------------------------------------------- */

static cd_value pts[3][2], pt_list[3], items[8][4];

static void every_values(cd_value *v) {
    pts[0][0] = cd_val_short(3), pts[0][1] = cd_val_string("p", 1);
    pts[1][0] = cd_val_null(CD_TYPE_SHORT, 0), pts[1][1] = cd_val_null(CD_TYPE_STRING, 0);
    pts[2][0] = cd_val_short(-1), pts[2][1] = cd_val_string("\xc3\xa9", 2);
    v[0] = cd_val_bool(1), v[1] = cd_val_byte(7), v[2] = cd_val_short(INT32_MIN + 1);
    v[3] = cd_val_int(-1), v[4] = cd_val_float(NAN), v[5] = cd_val_double(DBL_MIN);
    v[6] = cd_val_datetime(0), v[7] = cd_val_string("every", 5);
    v[8] = cd_val_object(pts[0], 2);
    items[0][0] = cd_val_bool(0), items[0][1] = cd_val_null(CD_TYPE_BOOL, 0);
    items[0][2] = cd_val_bool(1);
    v[9] = cd_val_list(CD_TYPE_BOOL, items[0], 3);
    items[1][0] = cd_val_byte(0), items[1][1] = cd_val_byte(255);
    v[10] = cd_val_list(CD_TYPE_BYTE, items[1], 2);
    items[2][0] = cd_val_short(INT32_MIN), items[2][1] = cd_val_short(1);
    v[11] = cd_val_list(CD_TYPE_SHORT, items[2], 2);
    items[3][0] = cd_val_int(INT64_MIN), items[3][1] = cd_val_int(INT64_MAX);
    v[12] = cd_val_list(CD_TYPE_INT, items[3], 2);
    items[4][0] = cd_val_float(NAN), items[4][1] = cd_val_float(FLT_MAX);
    v[13] = cd_val_list(CD_TYPE_FLOAT, items[4], 2);
    items[5][0] = cd_val_double(-0.0), items[5][1] = cd_val_double(NAN);
    v[14] = cd_val_list(CD_TYPE_DOUBLE, items[5], 2);
    items[6][0] = cd_val_datetime(INT64_MIN), items[6][1] = cd_val_datetime(86400000000);
    v[15] = cd_val_list(CD_TYPE_DATETIME, items[6], 2);
    items[7][0] = cd_val_string("", 0), items[7][1] = cd_val_null(CD_TYPE_STRING, 0);
    items[7][2] = cd_val_string("\xf0\x9f\x91\x8d", 4), items[7][3] = cd_val_string("z", 1);
    v[16] = cd_val_list(CD_TYPE_STRING, items[7], 4);
    pt_list[0] = cd_val_object(pts[1], 2), pt_list[1] = cd_val_null(CD_TYPE_OBJECT, 0);
    pt_list[2] = cd_val_object(pts[2], 2);
    v[17] = cd_val_list(CD_TYPE_OBJECT, pt_list, 3);
}

static void every_seeds(void) {
    const cd_schema *s = fz_schema(FZ_EVERY);
    cd_value v[18];
    every_values(v);
    seed("every-typical", FZ_EVERY, s, v);
    for (int i = 0; i < 18; i++)
        v[i] = cd_val_null(fz_every_f[i].type, fz_every_f[i].is_list);
    v[1] = cd_val_byte(0);
    seed("every-nulls", FZ_EVERY, s, v);
    for (int i = 9; i < 18; i++)
        v[i] = cd_val_list(fz_every_f[i].type, NULL, 0);
    v[7] = cd_val_string("", 0);
    v[8] = cd_val_object(pts[1], 2);
    seed("every-empty", FZ_EVERY, s, v);
}

/* ---- lists --------------------------------------------------------------- */

static void list_seeds(void) {
    const cd_schema *s = fz_schema(FZ_LISTS);
    cd_value ev[18], v[9];
    every_values(ev);
    /* fz_lists_f order: string, bool, object, short, double, byte, float,
     * int, datetime. */
    static const int from[9] = {16, 9, 17, 11, 14, 10, 13, 12, 15};
    for (int i = 0; i < 9; i++)
        v[i] = ev[from[i]];
    seed("lists-typical", FZ_LISTS, s, v);
    static cd_value many[100], strs[40];
    static char text[40][8];
    for (int i = 0; i < 100; i++)
        many[i] = cd_val_short(i * 1000 - 50000);
    for (int i = 0; i < 40; i++) {
        int n = snprintf(text[i], sizeof text[i], "s%d", i);
        strs[i] = i % 7 == 3 ? cd_val_null(CD_TYPE_STRING, 0)
                             : cd_val_string(text[i], (uint32_t)n);
    }
    v[3] = cd_val_list(CD_TYPE_SHORT, many, 100);
    v[0] = cd_val_list(CD_TYPE_STRING, strs, 40);
    seed("lists-long", FZ_LISTS, s, v);
    for (int i = 0; i < 9; i++)
        v[i] = cd_val_list(fz_lists_f[i].type, NULL, 0);
    seed("lists-empty", FZ_LISTS, s, v);
    for (int i = 0; i < 9; i++)
        v[i] = cd_val_null(fz_lists_f[i].type, 1);
    seed("lists-null", FZ_LISTS, s, v);
}

/* ---- nested three deep --------------------------------------------------- */

static void nested_seeds(void) {
    const cd_schema *s = fz_schema(FZ_NESTED);
    static cd_value ds[3], tags[3], inner[3], mid[3][3], mids[2], outer[4];
    ds[0] = cd_val_double(1.0), ds[1] = cd_val_double(NAN), ds[2] = cd_val_double(-1e300);
    tags[0] = cd_val_string("red", 3), tags[1] = cd_val_null(CD_TYPE_STRING, 0);
    tags[2] = cd_val_string("\xe7\xba\xa2", 3);
    inner[0] = cd_val_bool(1), inner[1] = cd_val_string("deep", 4);
    inner[2] = cd_val_list(CD_TYPE_DOUBLE, ds, 3);
    for (int i = 0; i < 3; i++) {
        mid[i][0] = cd_val_short(i);
        mid[i][1] = i == 1 ? cd_val_null(CD_TYPE_OBJECT, 0) : cd_val_object(inner, 3);
        mid[i][2] = cd_val_list(CD_TYPE_STRING, tags, (uint32_t)i + 1);
    }
    mids[0] = cd_val_object(mid[1], 3), mids[1] = cd_val_object(mid[2], 3);
    outer[0] = cd_val_int(99), outer[1] = cd_val_string("outer", 5);
    outer[2] = cd_val_object(mid[0], 3);
    outer[3] = cd_val_list(CD_TYPE_OBJECT, mids, 2);
    seed("nested-full", FZ_NESTED, s, outer);
    outer[3] = cd_val_null(CD_TYPE_OBJECT, 1);
    outer[1] = cd_val_null(CD_TYPE_STRING, 0);
    seed("nested-partial", FZ_NESTED, s, outer);
}

/* ---- recursive trees ----------------------------------------------------- */

static cd_value nodes[CD_NEST_DEPTH_MAX][4], kids[CD_NEST_DEPTH_MAX];

/* A chain of depth trees, descending alternately through the child field
 * and through a one-element kids list. */
static void tree_seeds(void) {
    const cd_schema *s = fz_schema(FZ_TREE);
    unsigned depths[] = {1, 2, 5, CD_NEST_DEPTH_MAX};
    for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++) {
        unsigned depth = depths[d];
        for (unsigned i = 0; i < depth; i++) {
            int last = i + 1 == depth;
            nodes[i][0] = cd_val_byte((uint8_t)i);
            nodes[i][1] = i % 2 ? cd_val_string("n", 1) : cd_val_null(CD_TYPE_STRING, 0);
            nodes[i][2] = cd_val_null(CD_TYPE_OBJECT, 0);
            nodes[i][3] = cd_val_null(CD_TYPE_OBJECT, 1);
            if (last)
                continue;
            kids[i] = cd_val_object(nodes[i + 1], 4);
            if (i % 2 == 0)
                nodes[i][2] = kids[i];
            else
                nodes[i][3] = cd_val_list(CD_TYPE_OBJECT, &kids[i], 1);
        }
        char name[32];
        snprintf(name, sizeof name, "tree-depth-%u", depth);
        seed(name, FZ_TREE, s, nodes[0]);
    }
}

/*
 * A tree one level deeper than the limit, written by hand (the encoder
 * refuses it): tree = S=13 | tag | label 0 | child offset 15 | kids 0 |
 * varint n | tree.
 */
static void too_deep_seed(void) {
    size_t len = 15, at = sizeof out - 15;
    memset(out + at, 0, 15);
    cd_put16(out + at, 13);
    for (unsigned i = CD_NEST_DEPTH_MAX; i-- > 0;) {
        size_t vl = cd_varint_len(len);
        at -= 15 + vl;
        memset(out + at, 0, 15);
        cd_put16(out + at, 13);
        out[at + 2] = (uint8_t)i;
        cd_put32(out + at + 7, 15);
        cd_varint_put(out + at + 15, len);
        len += 15 + vl;
    }
    if (cd_record_validate(fz_schema(FZ_TREE), out + at, len, NULL) != CD_ECORRUPT) {
        fprintf(stderr, "seed_record: the too-deep tree validated\n");
        failed = 1;
    }
    emit("tree-too-deep", FZ_TREE, out + at, len);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: seed_record DIR\n");
        return 2;
    }
    out_dir = argv[1];
    flat_seeds();
    every_seeds();
    list_seeds();
    nested_seeds();
    tree_seeds();
    too_deep_seed();
    return failed;
}
