/*
 * test_record.c: the record format (cd_record.h).  Exact bytes of small
 * records, round trips of every type and its edge values through the value
 * encoder, the writer and the reader, old-layout records read with a
 * longer schema, the nesting limit, and rejection of malformed records:
 * every truncation, every single-byte change of a few valid records (each
 * must fail cleanly or decode to something that re-encodes to the same
 * bytes), and one crafted record per validity rule.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cd_record.h"

/* ---- schemas ------------------------------------------------------------- */

/* point { short x; string name; } */
static cd_field point_f[] = {
    {.type = CD_TYPE_SHORT},
    {.type = CD_TYPE_STRING},
};
static cd_schema point_s = {.fields = point_f, .nfields = 2};

/* Every type, then a list of every type. */
enum {
    A_BOOL, A_BYTE, A_SHORT, A_INT, A_FLOAT, A_DOUBLE, A_DATETIME, A_STRING,
    A_OBJECT, L_BOOL, L_BYTE, L_SHORT, L_INT, L_FLOAT, L_DOUBLE, L_DATETIME,
    L_STRING, L_OBJECT, A_N
};
static cd_field all_f[A_N] = {
    [A_BOOL] = {.type = CD_TYPE_BOOL},
    [A_BYTE] = {.type = CD_TYPE_BYTE},
    [A_SHORT] = {.type = CD_TYPE_SHORT},
    [A_INT] = {.type = CD_TYPE_INT},
    [A_FLOAT] = {.type = CD_TYPE_FLOAT},
    [A_DOUBLE] = {.type = CD_TYPE_DOUBLE},
    [A_DATETIME] = {.type = CD_TYPE_DATETIME},
    [A_STRING] = {.type = CD_TYPE_STRING},
    [A_OBJECT] = {.type = CD_TYPE_OBJECT, .object = &point_s},
    [L_BOOL] = {.type = CD_TYPE_BOOL, .is_list = 1},
    [L_BYTE] = {.type = CD_TYPE_BYTE, .is_list = 1},
    [L_SHORT] = {.type = CD_TYPE_SHORT, .is_list = 1},
    [L_INT] = {.type = CD_TYPE_INT, .is_list = 1},
    [L_FLOAT] = {.type = CD_TYPE_FLOAT, .is_list = 1},
    [L_DOUBLE] = {.type = CD_TYPE_DOUBLE, .is_list = 1},
    [L_DATETIME] = {.type = CD_TYPE_DATETIME, .is_list = 1},
    [L_STRING] = {.type = CD_TYPE_STRING, .is_list = 1},
    [L_OBJECT] = {.type = CD_TYPE_OBJECT, .is_list = 1, .object = &point_s},
};
static cd_schema all_s = {.fields = all_f, .nfields = A_N};

/* node { int depth; node child; }: a chain as deep as the data makes it. */
static cd_field node_f[] = {
    {.type = CD_TYPE_INT},
    {.type = CD_TYPE_OBJECT},
};
static cd_schema node_s = {.fields = node_f, .nfields = 2};

/* tiny { bool flag; short n; string s; }: for exact bytes. */
static cd_field tiny_f[] = {
    {.type = CD_TYPE_BOOL},
    {.type = CD_TYPE_SHORT},
    {.type = CD_TYPE_STRING},
};
static cd_schema tiny_s = {.fields = tiny_f, .nfields = 3};

/* old { int a; string s; } and new: the same with fields appended. */
static cd_field old_f[] = {
    {.type = CD_TYPE_INT},
    {.type = CD_TYPE_STRING},
};
static cd_schema old_s = {.fields = old_f, .nfields = 2};
enum { N_A, N_S, N_BOOL, N_BYTE, N_SHORT, N_INT, N_FLOAT, N_DOUBLE,
       N_DATETIME, N_STRING, N_LIST, N_OBJECT, N_N };
static cd_field new_f[N_N] = {
    [N_A] = {.type = CD_TYPE_INT},
    [N_S] = {.type = CD_TYPE_STRING},
    [N_BOOL] = {.type = CD_TYPE_BOOL},
    [N_BYTE] = {.type = CD_TYPE_BYTE},
    [N_SHORT] = {.type = CD_TYPE_SHORT},
    [N_INT] = {.type = CD_TYPE_INT},
    [N_FLOAT] = {.type = CD_TYPE_FLOAT},
    [N_DOUBLE] = {.type = CD_TYPE_DOUBLE},
    [N_DATETIME] = {.type = CD_TYPE_DATETIME},
    [N_STRING] = {.type = CD_TYPE_STRING},
    [N_LIST] = {.type = CD_TYPE_INT, .is_list = 1},
    [N_OBJECT] = {.type = CD_TYPE_OBJECT, .object = &point_s},
};
static cd_schema new_s = {.fields = new_f, .nfields = N_N};

/* Two string fields: for order and gap checks. */
static cd_field two_f[] = {{.type = CD_TYPE_STRING}, {.type = CD_TYPE_STRING}};
static cd_schema two_s = {.fields = two_f, .nfields = 2};
/* One field of each kind of item, alone, for crafted bytes. */
static cd_field str1_f[] = {{.type = CD_TYPE_STRING}};
static cd_schema str1_s = {.fields = str1_f, .nfields = 1};
static cd_field blist_f[] = {{.type = CD_TYPE_BOOL, .is_list = 1}};
static cd_schema blist_s = {.fields = blist_f, .nfields = 1};
static cd_field slist_f[] = {{.type = CD_TYPE_STRING, .is_list = 1}};
static cd_schema slist_s = {.fields = slist_f, .nfields = 1};
static cd_field obj1_f[] = {{.type = CD_TYPE_OBJECT, .object = &point_s}};
static cd_schema obj1_s = {.fields = obj1_f, .nfields = 1};
static cd_field f1_f[] = {{.type = CD_TYPE_FLOAT}, {.type = CD_TYPE_DOUBLE}};
static cd_schema f1_s = {.fields = f1_f, .nfields = 2};

static void setup(void) {
    node_f[1].object = &node_s;
    cd_schema *all[] = {&point_s, &all_s, &node_s, &tiny_s, &old_s, &new_s,
                        &two_s, &str1_s, &blist_s, &slist_s, &obj1_s, &f1_s};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cr_assert_eq(cd_schema_layout(all[i]), CD_OK);
}

TestSuite(record, .init = setup);

/* ---- helpers ------------------------------------------------------------- */

static uint8_t buf[1 << 20], buf2[1 << 20], mut[1 << 16];
static uint8_t mem_a[1 << 22], mem_b[1 << 22];
static cd_arena arena_a = {mem_a, sizeof mem_a, 0};
static cd_arena arena_b = {mem_b, sizeof mem_b, 0};

/* Encodes into out (cap bytes), checking the size agrees; returns len. */
static size_t enc_into(const cd_schema *s, const cd_value *v, uint8_t *out,
                       size_t cap) {
    size_t len = 0, size = 0;
    cr_assert_eq(cd_record_encoded_size(s, v, &size), CD_OK);
    cr_assert_eq(cd_record_encode(s, v, out, cap, &len), CD_OK);
    cr_assert_eq(len, size);
    cd_diag d = {0};
    int rc = cd_record_validate(s, out, len, &d);
    cr_assert_eq(rc, CD_OK, "own record invalid: %s at %zu (line %d)",
                 d.what ? d.what : "-", d.offset, d.line);
    return len;
}

static size_t enc(const cd_schema *s, const cd_value *v) {
    return enc_into(s, v, buf, sizeof buf);
}

static cd_value *dec(const cd_schema *s, const uint8_t *p, size_t len,
                     cd_arena *a) {
    cd_value *out = NULL;
    cd_diag d = {0};
    a->used = 0;
    int rc = cd_record_decode(s, p, len, a, &out, &d);
    cr_assert_eq(rc, CD_OK, "decode: %d %s at %zu (line %d)", rc,
                 d.what ? d.what : "-", d.offset, d.line);
    return out;
}

/*
 * Encodes v, decodes it, checks the values agree, and that re-encoding the
 * decoded values gives the same bytes.  Returns the decoded values.
 */
static cd_value *roundtrip(const cd_schema *s, const cd_value *v, size_t *lenp) {
    size_t len = enc(s, v);
    cd_value *d = dec(s, buf, len, &arena_a);
    cr_assert(cd_values_equal(v, d, s->nfields), "decoded values differ");
    size_t len2 = enc_into(s, d, buf2, sizeof buf2);
    cr_assert_eq(len2, len);
    cr_assert_eq(memcmp(buf, buf2, len), 0, "re-encoding differs");
    if (lenp)
        *lenp = len;
    return d;
}

/* Both validate and decode must reject p[0, len) as corrupt, naming why. */
static void expect_corrupt(const cd_schema *s, const uint8_t *p, size_t len,
                           const char *why) {
    cd_diag d = {0};
    cr_assert_eq(cd_record_validate(s, p, len, &d), CD_ECORRUPT,
                 "validate accepted (expected \"%s\")", why ? why : "-");
    cr_assert_not_null(d.what);
    cr_assert_gt(d.line, 0);
    cr_assert_leq(d.offset, len);
    if (why)
        cr_assert_not_null(strstr(d.what, why), "got \"%s\", expected \"%s\"",
                           d.what, why);
    cd_value *out = NULL;
    arena_b.used = 5;
    cd_diag d2 = {0};
    cr_assert_eq(cd_record_decode(s, p, len, &arena_b, &out, &d2), CD_ECORRUPT);
    cr_assert_eq(arena_b.used, 5, "failed decode kept arena memory");
    cr_assert_str_eq(d2.what, d.what);
    cr_assert_eq(d2.offset, d.offset);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint32_t f32_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}
static uint64_t f64_bits(double f) {
    uint64_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* ---- a full record of every type ------------------------------------------ */

static cd_value pt_fields[3][2], pt_items[4], all_items[8][5];
static const char long_str[] =
    "a string long enough to need a two-byte length varint: "
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "0123456789012345678901234567890123456789";

/* Fills v[A_N] with non-null values exercising every type. */
static void fill_all(cd_value *v) {
    v[A_BOOL] = cd_val_bool(1);
    v[A_BYTE] = cd_val_byte(255);
    v[A_SHORT] = cd_val_short(-123456);
    v[A_INT] = cd_val_int(INT64_MAX);
    v[A_FLOAT] = cd_val_float(-0.0f);
    v[A_DOUBLE] = cd_val_double(3.141592653589793);
    v[A_DATETIME] = cd_val_datetime(1700000000123456);
    v[A_STRING] = cd_val_string("h\xc3\xa9llo \xf0\x9f\x98\x80", 11);
    pt_fields[0][0] = cd_val_short(7);
    pt_fields[0][1] = cd_val_string("seven", 5);
    v[A_OBJECT] = cd_val_object(pt_fields[0], 2);

    cd_value *b = all_items[0];
    b[0] = cd_val_bool(0), b[1] = cd_val_null(CD_TYPE_BOOL, 0), b[2] = cd_val_bool(1);
    v[L_BOOL] = cd_val_list(CD_TYPE_BOOL, b, 3);
    cd_value *y = all_items[1];
    y[0] = cd_val_byte(0), y[1] = cd_val_byte(255);
    v[L_BYTE] = cd_val_list(CD_TYPE_BYTE, y, 2);
    cd_value *s = all_items[2];
    s[0] = cd_val_short(INT32_MAX), s[1] = cd_val_short(INT32_MIN), s[2] = cd_val_short(0);
    v[L_SHORT] = cd_val_list(CD_TYPE_SHORT, s, 3);
    cd_value *i = all_items[3];
    i[0] = cd_val_int(INT64_MIN + 1), i[1] = cd_val_int(CD_INT_NULL);
    v[L_INT] = cd_val_list(CD_TYPE_INT, i, 2);
    cd_value *f = all_items[4];
    f[0] = cd_val_float(NAN), f[1] = cd_val_float(INFINITY), f[2] = cd_val_float(FLT_MIN / 4);
    v[L_FLOAT] = cd_val_list(CD_TYPE_FLOAT, f, 3);
    cd_value *d = all_items[5];
    d[0] = cd_val_double(-INFINITY), d[1] = cd_val_double(DBL_MAX), d[2] = cd_val_double(NAN);
    v[L_DOUBLE] = cd_val_list(CD_TYPE_DOUBLE, d, 3);
    cd_value *t = all_items[6];
    t[0] = cd_val_datetime(-1), t[1] = cd_val_datetime(CD_DATETIME_NULL);
    v[L_DATETIME] = cd_val_list(CD_TYPE_DATETIME, t, 2);
    cd_value *ss = all_items[7];
    ss[0] = cd_val_string("", 0), ss[1] = cd_val_null(CD_TYPE_STRING, 0);
    ss[2] = cd_val_string("\xe6\x97\xa5\xe6\x9c\xac", 6);
    ss[3] = cd_val_string(long_str, (uint32_t)strlen(long_str));
    ss[4] = cd_val_null(CD_TYPE_STRING, 0);
    v[L_STRING] = cd_val_list(CD_TYPE_STRING, ss, 5);
    pt_fields[1][0] = cd_val_null(CD_TYPE_SHORT, 0);
    pt_fields[1][1] = cd_val_null(CD_TYPE_STRING, 0);
    pt_fields[2][0] = cd_val_short(-1);
    pt_fields[2][1] = cd_val_string("", 0);
    pt_items[0] = cd_val_object(pt_fields[1], 2);
    pt_items[1] = cd_val_null(CD_TYPE_OBJECT, 0);
    pt_items[2] = cd_val_object(pt_fields[2], 2);
    v[L_OBJECT] = cd_val_list(CD_TYPE_OBJECT, pt_items, 3);
}

/* Fills v[A_N] with nulls (byte: 0). */
static void fill_nulls(cd_value *v) {
    for (int i = 0; i < A_N; i++)
        v[i] = cd_val_null(all_f[i].type, all_f[i].is_list);
    v[A_BYTE] = cd_val_byte(0);
}

/* Fills v[A_N] with empty strings and lists and empty-ish objects. */
static void fill_empty(cd_value *v) {
    fill_nulls(v);
    v[A_STRING] = cd_val_string("", 0);
    pt_fields[0][0] = cd_val_null(CD_TYPE_SHORT, 0);
    pt_fields[0][1] = cd_val_null(CD_TYPE_STRING, 0);
    v[A_OBJECT] = cd_val_object(pt_fields[0], 2);
    for (int i = L_BOOL; i <= L_OBJECT; i++)
        v[i] = cd_val_list(all_f[i].type, NULL, 0);
}

/* ---- reader checks ---------------------------------------------------------- */

static cd_value scalar_of_reader(const cd_reader *r, const cd_field *f) {
    uint16_t o = f->offset;
    switch (f->type) {
    case CD_TYPE_BOOL: {
        uint8_t b = cd_reader_bool(r, o);
        return b == CD_BOOL_NULL ? cd_val_null(CD_TYPE_BOOL, 0)
                                 : cd_val_bool(b == CD_BOOL_TRUE);
    }
    case CD_TYPE_BYTE:
        return cd_val_byte(cd_reader_byte(r, o));
    case CD_TYPE_SHORT:
        return cd_val_short(cd_reader_i32(r, o));
    case CD_TYPE_INT:
        return cd_val_int(cd_reader_i64(r, o));
    case CD_TYPE_DATETIME:
        return cd_val_datetime(cd_reader_i64(r, o));
    case CD_TYPE_FLOAT:
        return cd_val_float(cd_reader_f32(r, o));
    default:
        return cd_val_double(cd_reader_f64(r, o));
    }
}

static cd_value scalar_of_list(const cd_list *l, uint32_t i) {
    switch (l->type) {
    case CD_TYPE_BOOL: {
        uint8_t b = cd_list_bool(l, i);
        return b == CD_BOOL_NULL ? cd_val_null(CD_TYPE_BOOL, 0)
                                 : cd_val_bool(b == CD_BOOL_TRUE);
    }
    case CD_TYPE_BYTE:
        return cd_val_byte(cd_list_byte(l, i));
    case CD_TYPE_SHORT:
        return cd_val_short(cd_list_i32(l, i));
    case CD_TYPE_INT:
        return cd_val_int(cd_list_i64(l, i));
    case CD_TYPE_DATETIME:
        return cd_val_datetime(cd_list_i64(l, i));
    case CD_TYPE_FLOAT:
        return cd_val_float(cd_list_f32(l, i));
    default:
        return cd_val_double(cd_list_f64(l, i));
    }
}

static int reader_matches(const cd_schema *s, const cd_reader *r,
                          const cd_value *v, int depth);

/* Element i of list l against e (e NULL: just read it). */
static int list_elem_matches(const cd_field *f, const cd_list *l, uint32_t i,
                             const cd_value *e, int depth) {
    if (f->type == CD_TYPE_STRING) {
        const char *str;
        uint32_t n;
        int has = cd_list_string(l, i, &str, &n);
        if (has)
            cr_assert_eq(str[n], '\0');
        if (!e)
            return 1;
        return has == !e->is_null &&
               (!has || (n == e->u.str.len && memcmp(str, e->u.str.ptr, n) == 0));
    }
    if (f->type == CD_TYPE_OBJECT) {
        cd_reader sub;
        int has = cd_list_object(l, i, &sub);
        if (e && has != !e->is_null)
            return 0;
        return !has || reader_matches(f->object, &sub, e ? e->u.obj.fields : NULL,
                                      depth + 1);
    }
    cd_value got = scalar_of_list(l, i);
    return !e || cd_value_equal(&got, e);
}

static int field_matches(const cd_field *f, const cd_reader *r,
                         const cd_value *e, int depth) {
    if (f->is_list) {
        cd_list l;
        int has = cd_reader_list(r, f->offset, f->type, &l);
        if (e && has != !e->is_null)
            return 0;
        if (!has)
            return l.count == 0;
        if (e && l.count != e->u.list.count)
            return 0;
        for (uint32_t j = 0; j < l.count; j++)
            if (!list_elem_matches(f, &l, j, e ? &e->u.list.items[j] : NULL, depth))
                return 0;
        return 1;
    }
    if (f->type == CD_TYPE_STRING) {
        const char *str;
        uint32_t n;
        int has = cd_reader_string(r, f->offset, &str, &n);
        if (has)
            cr_assert_eq(str[n], '\0');
        else
            cr_assert_null(str);
        if (!e)
            return 1;
        return has == !e->is_null &&
               (!has || (n == e->u.str.len && memcmp(str, e->u.str.ptr, n) == 0));
    }
    if (f->type == CD_TYPE_OBJECT) {
        cd_reader sub;
        int has = cd_reader_object(r, f->offset, &sub);
        if (e && has != !e->is_null)
            return 0;
        return !has || reader_matches(f->object, &sub, e ? e->u.obj.fields : NULL,
                                      depth + 1);
    }
    cd_value got = scalar_of_reader(r, f);
    return !e || cd_value_equal(&got, e);
}

/*
 * 1 iff reading r field by field with the reader gives v (v NULL: read
 * everything, results ignored, for bytes that did not validate).
 */
static int reader_matches(const cd_schema *s, const cd_reader *r,
                          const cd_value *v, int depth) {
    if (depth > 40)
        return 1;
    for (unsigned i = 0; i < s->nfields; i++)
        if (!field_matches(&s->fields[i], r, v ? &v[i] : NULL, depth))
            return 0;
    return 1;
}

/* ---- schema layout -------------------------------------------------------- */

Test(record, layout_offsets) {
    static const uint16_t want[A_N] = {0, 1, 2, 6, 14, 18, 26, 34, 38,
                                       42, 46, 50, 54, 58, 62, 66, 70, 74};
    for (int i = 0; i < A_N; i++)
        cr_assert_eq(all_f[i].offset, want[i], "field %d", i);
    cr_assert_eq(all_s.static_size, 78);
    cr_assert_eq(point_s.static_size, 8);
    cr_assert_eq(node_f[1].offset, 8);
    cr_assert(all_s.ready);
    cr_assert_eq(cd_type_code(CD_TYPE_STRING, 1), 0x18);
    cr_assert_eq(cd_type_code(CD_TYPE_OBJECT, 0), 0x09);
    cr_assert(cd_type_code_valid(0x11) && cd_type_code_valid(0x07));
    cr_assert(!cd_type_code_valid(0x00) && !cd_type_code_valid(0x0a) &&
              !cd_type_code_valid(0x10) && !cd_type_code_valid(0x1a));
}

Test(record, layout_rejects_bad_schemas) {
    cd_field f[2] = {{.type = CD_TYPE_INT}, {.type = 0}};
    cd_schema s = {.fields = f, .nfields = 2};
    cr_assert_eq(cd_schema_layout(&s), CD_EINVAL);
    cr_assert(!s.ready);
    f[1].type = CD_TYPE_OBJECT + 1;
    cr_assert_eq(cd_schema_layout(&s), CD_EINVAL);
    f[1].type = CD_TYPE_OBJECT; /* no sub-schema */
    cr_assert_eq(cd_schema_layout(&s), CD_EINVAL);
    f[1].type = CD_TYPE_BOOL;
    f[1].object = &point_s; /* sub-schema on a non-object */
    cr_assert_eq(cd_schema_layout(&s), CD_EINVAL);
    f[1].object = NULL;
    f[1].is_list = 2;
    cr_assert_eq(cd_schema_layout(&s), CD_EINVAL);
    f[1].is_list = 1;
    cr_assert_eq(cd_schema_layout(&s), CD_OK);
    cr_assert_eq(s.static_size, 12);
    cd_schema none = {.fields = NULL, .nfields = 1};
    cr_assert_eq(cd_schema_layout(&none), CD_EINVAL);
    cd_schema empty = {.fields = NULL, .nfields = 0};
    cr_assert_eq(cd_schema_layout(&empty), CD_OK);
    cr_assert_eq(empty.static_size, 0);

    static cd_field many[CD_FIELDS_MAX + 1];
    for (unsigned i = 0; i <= CD_FIELDS_MAX; i++)
        many[i].type = CD_TYPE_DOUBLE;
    cd_schema big = {.fields = many, .nfields = CD_FIELDS_MAX + 1};
    cr_assert_eq(cd_schema_layout(&big), CD_ETOOBIG);
    big.nfields = CD_FIELDS_MAX;
    cr_assert_eq(cd_schema_layout(&big), CD_OK);
    cr_assert_eq(big.static_size, CD_FIELDS_MAX * 8);
}

Test(record, unready_schema_is_einval) {
    cd_field f[1] = {{.type = CD_TYPE_OBJECT, .object = &point_s}};
    cd_schema sub_unready = {.fields = point_f, .nfields = 2};
    cd_schema s = {.fields = f, .nfields = 1};
    cd_value v[1] = {cd_val_null(CD_TYPE_OBJECT, 0)};
    size_t len;
    cr_assert_eq(cd_record_encode(&s, v, buf, sizeof buf, &len), CD_EINVAL);
    cr_assert_eq(cd_record_validate(&s, buf, 6, NULL), CD_EINVAL);
    cr_assert_eq(cd_schema_layout(&s), CD_OK);
    f[0].object = &sub_unready;
    cd_value pf[2] = {cd_val_short(1), cd_val_string("x", 1)};
    v[0] = cd_val_object(pf, 2);
    cr_assert_eq(cd_record_encode(&s, v, buf, sizeof buf, &len), CD_EINVAL);
}

/* ---- exact bytes ---------------------------------------------------------- */

Test(record, exact_bytes_flat) {
    cd_value v[3] = {cd_val_bool(1), cd_val_short(7), cd_val_string("hi", 2)};
    static const uint8_t want[] = {
        0x09, 0x00,                   /* S = 9 */
        0x02,                         /* bool true */
        0x07, 0x00, 0x00, 0x00,       /* short 7 */
        0x0b, 0x00, 0x00, 0x00,       /* string at 11 = 2 + S */
        0x02, 'h', 'i', 0x00,         /* len 2, bytes, NUL */
    };
    size_t len;
    roundtrip(&tiny_s, v, &len);
    cr_assert_eq(len, sizeof want);
    cr_assert_eq(memcmp(buf, want, len), 0);

    cd_value n[3] = {cd_val_null(CD_TYPE_BOOL, 0), cd_val_null(CD_TYPE_SHORT, 0),
                     cd_val_null(CD_TYPE_STRING, 0)};
    static const uint8_t want_null[] = {0x09, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x80, 0x00, 0x00, 0x00, 0x00};
    roundtrip(&tiny_s, n, &len);
    cr_assert_eq(len, sizeof want_null);
    cr_assert_eq(memcmp(buf, want_null, len), 0);
}

Test(record, exact_bytes_nested_and_lists) {
    /* { point { x = 1, name = "a" } } */
    cd_value pf[2] = {cd_val_short(1), cd_val_string("a", 1)};
    cd_value v[1] = {cd_val_object(pf, 2)};
    static const uint8_t want[] = {
        0x04, 0x00, 0x06, 0x00, 0x00, 0x00, /* S = 4, object at 6 */
        0x0d,                               /* nested record: 13 bytes */
        0x08, 0x00, 0x01, 0x00, 0x00, 0x00, /* S = 8, x = 1 */
        0x0a, 0x00, 0x00, 0x00,             /* name at 10 of the nested */
        0x01, 'a', 0x00,
    };
    size_t len;
    roundtrip(&obj1_s, v, &len);
    cr_assert_eq(len, sizeof want);
    cr_assert_eq(memcmp(buf, want, len), 0);

    /* [ "x", null, "" ] */
    cd_value items[3] = {cd_val_string("x", 1), cd_val_null(CD_TYPE_STRING, 0),
                         cd_val_string("", 0)};
    cd_value l[1] = {cd_val_list(CD_TYPE_STRING, items, 3)};
    static const uint8_t want_l[] = {
        0x04, 0x00, 0x06, 0x00, 0x00, 0x00, /* list at 6 */
        0x03,                               /* 3 elements */
        0x13, 0x00, 0x00, 0x00,             /* "x" at 19 */
        0x00, 0x00, 0x00, 0x00,             /* null */
        0x16, 0x00, 0x00, 0x00,             /* "" at 22 */
        0x01, 'x', 0x00, 0x00, 0x00,
    };
    roundtrip(&slist_s, l, &len);
    cr_assert_eq(len, sizeof want_l);
    cr_assert_eq(memcmp(buf, want_l, len), 0);

    /* bool list [true, null, false] */
    cd_value bi[3] = {cd_val_bool(1), cd_val_null(CD_TYPE_BOOL, 0), cd_val_bool(0)};
    cd_value bl[1] = {cd_val_list(CD_TYPE_BOOL, bi, 3)};
    static const uint8_t want_b[] = {0x04, 0x00, 0x06, 0x00, 0x00, 0x00,
                                     0x03, 0x02, 0x00, 0x01};
    roundtrip(&blist_s, bl, &len);
    cr_assert_eq(len, sizeof want_b);
    cr_assert_eq(memcmp(buf, want_b, len), 0);
}

/* ---- round trips ------------------------------------------------------------ */

Test(record, every_type_roundtrips) {
    cd_value v[A_N];
    fill_all(v);
    size_t len;
    cd_value *d = roundtrip(&all_s, v, &len);
    /* Exact decoded values, not just equality. */
    cr_assert(!d[A_BOOL].is_null && d[A_BOOL].u.b == 1);
    cr_assert_eq(d[A_BYTE].u.u8, 255);
    cr_assert_eq(d[A_SHORT].u.i32, -123456);
    cr_assert_eq(d[A_INT].u.i64, INT64_MAX);
    cr_assert_eq(f32_bits(d[A_FLOAT].u.f32), 0x80000000u); /* -0.0 kept */
    cr_assert(!d[A_FLOAT].is_null);
    cr_assert_eq(f64_bits(d[A_DOUBLE].u.f64), f64_bits(3.141592653589793));
    cr_assert_eq(d[A_DATETIME].u.i64, 1700000000123456);
    cr_assert_eq(d[A_STRING].u.str.len, 11);
    cr_assert_str_eq(d[A_STRING].u.str.ptr, "h\xc3\xa9llo \xf0\x9f\x98\x80");
    cr_assert(d[A_STRING].u.str.ptr >= (const char *)buf &&
              d[A_STRING].u.str.ptr < (const char *)buf + len, "zero copy");
    const cd_value *pt = d[A_OBJECT].u.obj.fields;
    cr_assert_eq(d[A_OBJECT].u.obj.count, 2);
    cr_assert_eq(pt[0].u.i32, 7);
    cr_assert_str_eq(pt[1].u.str.ptr, "seven");

    const cd_value *b = d[L_BOOL].u.list.items;
    cr_assert_eq(d[L_BOOL].u.list.count, 3);
    cr_assert(!b[0].is_null && b[0].u.b == 0);
    cr_assert(b[1].is_null);
    cr_assert(!b[2].is_null && b[2].u.b == 1);
    cr_assert_eq(d[L_BYTE].u.list.items[1].u.u8, 255);
    cr_assert_eq(d[L_SHORT].u.list.items[0].u.i32, INT32_MAX);
    cr_assert(d[L_SHORT].u.list.items[1].is_null, "INT32_MIN reads as null");
    cr_assert(!d[L_SHORT].u.list.items[2].is_null);
    cr_assert_eq(d[L_INT].u.list.items[0].u.i64, INT64_MIN + 1);
    cr_assert(d[L_INT].u.list.items[1].is_null);
    cr_assert(d[L_FLOAT].u.list.items[0].is_null, "NaN reads as null");
    cr_assert_eq(d[L_FLOAT].u.list.items[1].u.f32, INFINITY);
    cr_assert_eq(d[L_FLOAT].u.list.items[2].u.f32, FLT_MIN / 4);
    cr_assert_eq(d[L_DOUBLE].u.list.items[0].u.f64, -INFINITY);
    cr_assert_eq(d[L_DOUBLE].u.list.items[1].u.f64, DBL_MAX);
    cr_assert(d[L_DOUBLE].u.list.items[2].is_null);
    cr_assert_eq(d[L_DATETIME].u.list.items[0].u.i64, -1);
    cr_assert(d[L_DATETIME].u.list.items[1].is_null);
    const cd_value *ss = d[L_STRING].u.list.items;
    cr_assert_eq(d[L_STRING].u.list.count, 5);
    cr_assert(!ss[0].is_null && ss[0].u.str.len == 0);
    cr_assert_str_eq(ss[0].u.str.ptr, "");
    cr_assert(ss[1].is_null && ss[4].is_null);
    cr_assert_str_eq(ss[2].u.str.ptr, "\xe6\x97\xa5\xe6\x9c\xac");
    cr_assert_str_eq(ss[3].u.str.ptr, long_str);
    const cd_value *po = d[L_OBJECT].u.list.items;
    cr_assert(!po[0].is_null && po[0].u.obj.fields[0].is_null &&
              po[0].u.obj.fields[1].is_null);
    cr_assert(po[1].is_null);
    cr_assert_eq(po[2].u.obj.fields[0].u.i32, -1);
    cr_assert(!po[2].u.obj.fields[1].is_null && po[2].u.obj.fields[1].u.str.len == 0);

    cd_reader r;
    cr_assert_eq(cd_reader_init(&r, buf, len), CD_OK);
    cr_assert(reader_matches(&all_s, &r, v, 1));
}

Test(record, scalar_edge_values) {
    struct {
        cd_value v;
        int null;
    } cases[] = {
        {cd_val_null(CD_TYPE_BOOL, 0), 1}, {cd_val_bool(0), 0}, {cd_val_bool(1), 0},
        {cd_val_byte(0), 0}, {cd_val_byte(255), 0},
        {cd_val_short(INT32_MIN), 1}, {cd_val_short(INT32_MIN + 1), 0},
        {cd_val_short(INT32_MAX), 0}, {cd_val_short(0), 0},
        {cd_val_int(INT64_MIN), 1}, {cd_val_int(INT64_MIN + 1), 0},
        {cd_val_int(INT64_MAX), 0}, {cd_val_int(0), 0},
        {cd_val_datetime(INT64_MIN), 1}, {cd_val_datetime(INT64_MAX), 0},
        {cd_val_datetime(-62135596800000000), 0},
        {cd_val_float(NAN), 1}, {cd_val_float(-NAN), 1}, {cd_val_float(0.0f), 0},
        {cd_val_float(-0.0f), 0}, {cd_val_float(FLT_MAX), 0},
        {cd_val_float(-INFINITY), 0}, {cd_val_float(FLT_TRUE_MIN), 0},
        {cd_val_double(NAN), 1}, {cd_val_double(-0.0), 0},
        {cd_val_double(DBL_TRUE_MIN), 0}, {cd_val_double(INFINITY), 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cd_value v[A_N];
        fill_nulls(v);
        int slot = -1;
        for (int i = 0; i < A_N && slot < 0; i++)
            if (all_f[i].type == cases[c].v.type && !all_f[i].is_list)
                slot = i;
        v[slot] = cases[c].v;
        /* A sentinel given as a non-null value must read back as null too. */
        if (v[slot].type != CD_TYPE_BOOL)
            v[slot].is_null = 0;
        cd_value *d = roundtrip(&all_s, v, NULL);
        cr_assert_eq(d[slot].is_null, cases[c].null, "case %zu", c);
        cr_assert_eq(d[slot].type, cases[c].v.type);
        if (!cases[c].null)
            cr_assert(memcmp(&d[slot].u, &cases[c].v.u,
                             cd_type_size(cases[c].v.type)) == 0 ||
                          cases[c].v.type == CD_TYPE_BOOL,
                      "case %zu", c);
    }
    /* Stored NaN is always the canonical one. */
    cd_value f[2] = {cd_val_float(-NAN), cd_val_double(-NAN)};
    size_t len = enc(&f1_s, f);
    cr_assert_eq(cd_get32(buf + 2), CD_FLOAT_NULL_BITS);
    cr_assert_eq(cd_get64(buf + 6), CD_DOUBLE_NULL_BITS);
    cr_assert_eq(len, 14);
}

Test(record, nulls_empties_and_old_layout_nulls) {
    cd_value v[A_N];
    fill_nulls(v);
    size_t len;
    cd_value *d = roundtrip(&all_s, v, &len);
    cr_assert_eq(len, 2 + all_s.static_size, "nulls take no dynamic bytes");
    for (int i = 0; i < A_N; i++)
        cr_assert_eq(d[i].is_null, i != A_BYTE, "field %d", i);
    cr_assert_eq(d[A_BYTE].u.u8, 0);

    fill_empty(v);
    d = roundtrip(&all_s, v, &len);
    cr_assert(!d[A_STRING].is_null && d[A_STRING].u.str.len == 0);
    for (int i = L_BOOL; i <= L_OBJECT; i++) {
        cr_assert(!d[i].is_null, "empty list %d is not null", i);
        cr_assert_eq(d[i].u.list.count, 0);
    }
    cr_assert(!d[A_OBJECT].is_null);
    cr_assert(d[A_OBJECT].u.obj.fields[0].is_null);
}

/* cd_utf8_copy agrees with cd_utf8_valid, copies s[0, n) exactly when
 * valid, and never writes past dst[n). */
static void check_utf8_copy(const uint8_t *s, size_t n, int want) {
    uint8_t dst[64];
    memset(dst, 0xaa, sizeof dst);
    cr_assert_eq(cd_utf8_copy(dst, s, n), want, "copy: length %zu", n);
    if (want)
        cr_assert_eq(memcmp(dst, s, n), 0, "copy: length %zu", n);
    for (size_t i = n; i < sizeof dst; i++)
        cr_assert_eq(dst[i], 0xaa, "copy: length %zu wrote byte %zu", n, i);
}

Test(record, strings_utf8) {
    static const char *ok[] = {
        "", "a", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf",
        "\xed\x9f\xbf", "\xee\x80\x80", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf",
        "\xf0\x9f\x98\x80\xf0\x9f\x91\x8d caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cd_value v[1] = {cd_val_string(ok[i], (uint32_t)strlen(ok[i]))};
        cd_value *d = roundtrip(&str1_s, v, NULL);
        cr_assert_str_eq(d[0].u.str.ptr, ok[i]);
    }
    static const char *bad[] = {
        "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
        "\xe6\x97", "\x80", "\xff", "ab\xf0\x9f\x98",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cd_value v[1] = {cd_val_string(bad[i], (uint32_t)strlen(bad[i]))};
        size_t len = 99;
        cr_assert_eq(cd_record_encode(&str1_s, v, buf, sizeof buf, &len), CD_EINVAL,
                     "bad %zu", i);
        cr_assert_eq(len, 0);
        cr_assert_eq(cd_record_encoded_size(&str1_s, v, &len), CD_EINVAL);
    }
    /* every length and position: the sixteen-byte steps and the tail's
     * window read each byte (a bad byte or a NUL anywhere is seen; a
     * sequence that is good anywhere, or cut short at the end, is judged
     * right) */
    static const struct { const char *seq; size_t len; int good; } at[] = {
        {"\x00", 1, 0}, {"\x80", 1, 0}, {"\xff", 1, 0}, {"\xc3\xa9", 2, 1},
        {"\xe2\x82\xac", 3, 1}, {"\xf0\x9f\x98\x80", 4, 1}, {"\xed\xa0\x80", 3, 0},
    };
    for (size_t n = 1; n <= 40; n++)
        for (size_t p = 0; p < n; p++)
            for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
                uint8_t s[48];
                memset(s, 'x', sizeof s);
                size_t fit = n - p < at[k].len ? n - p : at[k].len; /* cut at the end */
                memcpy(s + p, at[k].seq, fit);
                int want = at[k].good && fit == at[k].len;
                cr_assert_eq(cd_utf8_valid(s, n), want, "length %zu, sequence %zu at %zu", n,
                             k, p);
                check_utf8_copy(s, n, want);
            }
    /* a good two-byte sequence, then a NUL or a bad byte after it: the
     * tail's window over the sequence cannot pass, the bytes after it are
     * still read */
    for (size_t n = 3; n <= 40; n++)
        for (size_t p = 0; p + 2 < n; p++)
            for (size_t q = p + 2; q < n; q++)
                for (int spoil = 0; spoil < 3; spoil++) {
                    uint8_t s[48];
                    memset(s, 'x', sizeof s);
                    s[p] = 0xc3, s[p + 1] = 0xa9;
                    if (spoil)
                        s[q] = spoil == 1 ? 0x00 : 0x80;
                    cr_assert_eq(cd_utf8_valid(s, n), !spoil, "length %zu, at %zu, %d at %zu",
                                 n, p, spoil, q);
                    check_utf8_copy(s, n, !spoil);
                }
    cd_value nul[1] = {cd_val_string("a\0b", 3)};
    size_t len;
    cr_assert_eq(cd_record_encode(&str1_s, nul, buf, sizeof buf, &len), CD_EINVAL);
    cd_value noptr[1] = {cd_val_string(NULL, 3)};
    noptr[0].is_null = 0;
    cr_assert_eq(cd_record_encode(&str1_s, noptr, buf, sizeof buf, &len), CD_EINVAL);
}

Test(record, limits_on_encode) {
    static const char dummy[4] = "abc"; /* never read: the length is refused first */
    cd_writer w;
    size_t len;
    cd_writer_init(&w, NULL, 0);
    cr_assert_eq(cd_writer_begin(&w, &str1_s), CD_OK);
    cr_assert_eq(cd_writer_string(&w, 0, dummy, (size_t)CD_STRING_LEN_MAX + 1),
                 CD_ETOOBIG);
    cr_assert_eq(cd_writer_finish(&w, &len), CD_ETOOBIG);

    cd_writer_init(&w, NULL, 0);
    cd_writer_begin(&w, &blist_s);
    cr_assert_eq(cd_writer_list_bool(&w, 0, (const uint8_t *)dummy,
                                     CD_LIST_LEN_MAX + 1), CD_ETOOBIG);
    cd_writer_init(&w, NULL, 0);
    cd_writer_begin(&w, &slist_s);
    cr_assert_eq(cd_writer_strings_begin(&w, 0, CD_LIST_LEN_MAX + 1), CD_ETOOBIG);

    /* A record over CD_RECORD_SIZE_MAX, counted without a buffer. */
    uint8_t *big = malloc(CD_RECORD_SIZE_MAX / 2);
    cr_assert_not_null(big);
    memset(big, 'x', CD_RECORD_SIZE_MAX / 2);
    cd_writer_init(&w, NULL, 0);
    cd_writer_begin(&w, &two_s);
    cr_assert_eq(cd_writer_string(&w, 0, (char *)big, CD_RECORD_SIZE_MAX / 2 - 16), CD_OK);
    cr_assert_eq(cd_writer_string(&w, 4, (char *)big, CD_RECORD_SIZE_MAX / 2), CD_ETOOBIG);
    cr_assert_eq(cd_writer_finish(&w, &len), CD_ETOOBIG);
    cr_assert_eq(len, 0);
    /* Just under the limit is fine. */
    cd_writer_init(&w, NULL, 0);
    cd_writer_begin(&w, &two_s);
    cd_writer_string(&w, 0, (char *)big, CD_RECORD_SIZE_MAX / 2 - 16);
    cd_writer_string(&w, 4, (char *)big, CD_RECORD_SIZE_MAX / 2 - 16);
    cr_assert_eq(cd_writer_finish(&w, &len), CD_OK);
    cr_assert_eq(len, 2 + 8 + 2 * (4 + CD_RECORD_SIZE_MAX / 2 - 16 + 1));
    free(big);
}

Test(record, value_encode_rejects_bad_values) {
    cd_value v[A_N];
    size_t len;
    struct {
        int field;
        cd_value v;
    } bad[] = {
        {A_BYTE, cd_val_null(CD_TYPE_BYTE, 0)},   /* a byte cannot be null */
        {A_BOOL, {.type = CD_TYPE_BOOL, .u.b = 2}},
        {A_SHORT, cd_val_int(1)},                 /* wrong type */
        {A_STRING, cd_val_list(CD_TYPE_STRING, NULL, 0)}, /* list for a scalar */
        {L_INT, cd_val_int(1)},                   /* scalar for a list */
        {A_OBJECT, cd_val_object(pt_fields[0], 1)}, /* wrong field count */
        {L_INT, cd_val_list(CD_TYPE_INT, NULL, 3)}, /* items missing */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fill_all(v);
        v[bad[i].field] = bad[i].v;
        cr_assert_eq(cd_record_encode(&all_s, v, buf, sizeof buf, &len), CD_EINVAL,
                     "case %zu", i);
        cr_assert_eq(len, 0);
    }
    /* Bad list elements. */
    fill_all(v);
    all_items[1][0] = cd_val_null(CD_TYPE_BYTE, 0);
    cr_assert_eq(cd_record_encode(&all_s, v, buf, sizeof buf, &len), CD_EINVAL);
    fill_all(v);
    all_items[0][2].u.b = 7;
    cr_assert_eq(cd_record_encode(&all_s, v, buf, sizeof buf, &len), CD_EINVAL);
    fill_all(v);
    all_items[2][1] = cd_val_int(5); /* an int in a short list */
    cr_assert_eq(cd_record_encode(&all_s, v, buf, sizeof buf, &len), CD_EINVAL);
    fill_all(v);
    all_items[7][2] = cd_val_string("\xed\xa0\x80", 3);
    cr_assert_eq(cd_record_encode(&all_s, v, buf, sizeof buf, &len), CD_EINVAL);
    fill_all(v);
    pt_items[2] = cd_val_short(3); /* not an object */
    cr_assert_eq(cd_record_encode(&all_s, v, buf, sizeof buf, &len), CD_EINVAL);
    cr_assert_eq(cd_record_encode(NULL, v, buf, sizeof buf, &len), CD_EINVAL);
}

/* ---- nesting ---------------------------------------------------------------- */

static cd_value chain[CD_NEST_DEPTH_MAX + 2][2];

/* A node chain of depth records (the top-level one included). */
static cd_value *make_chain(unsigned depth) {
    for (unsigned i = 0; i < depth; i++) {
        chain[i][0] = cd_val_int(i);
        chain[i][1] = i + 1 < depth ? cd_val_object(chain[i + 1], 2)
                                    : cd_val_null(CD_TYPE_OBJECT, 0);
    }
    return chain[0];
}

/*
 * The same chain written by hand, from the innermost record out, with the
 * format's rules: node = S=12 | int depth | u32 offset 14 | varint n | node.
 */
static size_t craft_chain(uint8_t *out, size_t cap, unsigned depth) {
    size_t len = 14, at = cap - 14;
    cd_put16(out + at, 12);
    cd_put64(out + at + 2, depth - 1);
    cd_put32(out + at + 10, 0);
    for (unsigned i = depth - 1; i-- > 0;) {
        size_t vl = cd_varint_len(len);
        at -= 14 + vl;
        cd_put16(out + at, 12);
        cd_put64(out + at + 2, i);
        cd_put32(out + at + 10, 14);
        cd_varint_put(out + at + 14, len);
        len += 14 + vl;
    }
    memmove(out, out + at, len);
    return len;
}

Test(record, nesting_to_the_limit) {
    for (unsigned depth = 1; depth <= CD_NEST_DEPTH_MAX; depth++) {
        cd_value *v = make_chain(depth);
        size_t len;
        cd_value *d = roundtrip(&node_s, v, &len);
        size_t clen = craft_chain(buf2, sizeof buf2, depth);
        cr_assert_eq(clen, len, "depth %u", depth);
        cr_assert_eq(memcmp(buf2, buf, len), 0, "depth %u", depth);
        unsigned seen = 0;
        for (const cd_value *n = d; n; seen++) {
            cr_assert_eq(n[0].u.i64, seen);
            n = n[1].is_null ? NULL : n[1].u.obj.fields;
        }
        cr_assert_eq(seen, depth);
    }
    /* One deeper: refused on encode ... */
    cd_value *v = make_chain(CD_NEST_DEPTH_MAX + 1);
    size_t len;
    cr_assert_eq(cd_record_encode(&node_s, v, buf, sizeof buf, &len), CD_ETOOBIG);
    cr_assert_eq(cd_record_encoded_size(&node_s, v, &len), CD_ETOOBIG);
    /* ... and on decode of crafted bytes. */
    len = craft_chain(buf2, sizeof buf2, CD_NEST_DEPTH_MAX + 1);
    expect_corrupt(&node_s, buf2, len, "CD_NEST_DEPTH_MAX");
    len = craft_chain(buf2, sizeof buf2, 200);
    expect_corrupt(&node_s, buf2, len, "CD_NEST_DEPTH_MAX");
    /* The writer refuses to open a 33rd record. */
    cd_writer w;
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &node_s);
    for (unsigned i = 1; i < CD_NEST_DEPTH_MAX; i++)
        cr_assert_eq(cd_writer_object_begin(&w, 8, &node_s), CD_OK);
    cr_assert_eq(cd_writer_object_begin(&w, 8, &node_s), CD_ETOOBIG);
    cr_assert_eq(cd_writer_finish(&w, &len), CD_ETOOBIG);
}

/* ---- old layouts -------------------------------------------------------- */

Test(record, old_layout_reads_new_fields_as_null) {
    cd_value ov[2] = {cd_val_int(42), cd_val_string("old", 3)};
    size_t len = enc(&old_s, ov);
    cr_assert_eq(cd_get16(buf), 12);
    cr_assert_eq(cd_record_validate(&new_s, buf, len, NULL), CD_OK);
    cd_value *d = dec(&new_s, buf, len, &arena_a);
    cr_assert_eq(d[N_A].u.i64, 42);
    cr_assert_str_eq(d[N_S].u.str.ptr, "old");
    for (int i = N_BOOL; i < N_N; i++) {
        cr_assert_eq(d[i].type, new_f[i].type);
        cr_assert_eq(d[i].is_list, new_f[i].is_list);
        cr_assert_eq(d[i].is_null, i != N_BYTE, "field %d", i);
    }
    cr_assert_eq(d[N_BYTE].u.u8, 0);

    cd_reader r;
    cr_assert_eq(cd_reader_init(&r, buf, len), CD_OK);
    cr_assert_eq(cd_reader_i64(&r, new_f[N_A].offset), 42);
    cr_assert_eq(cd_reader_bool(&r, new_f[N_BOOL].offset), CD_BOOL_NULL);
    cr_assert_eq(cd_reader_byte(&r, new_f[N_BYTE].offset), 0);
    cr_assert_eq(cd_reader_i32(&r, new_f[N_SHORT].offset), INT32_MIN);
    cr_assert_eq(cd_reader_i64(&r, new_f[N_INT].offset), INT64_MIN);
    cr_assert(isnan(cd_reader_f32(&r, new_f[N_FLOAT].offset)));
    cr_assert(isnan(cd_reader_f64(&r, new_f[N_DOUBLE].offset)));
    cr_assert_eq(cd_reader_i64(&r, new_f[N_DATETIME].offset), INT64_MIN);
    const char *s;
    uint32_t n;
    cr_assert_eq(cd_reader_string(&r, new_f[N_STRING].offset, &s, &n), 0);
    cr_assert_null(s);
    cd_list l;
    cr_assert_eq(cd_reader_list(&r, new_f[N_LIST].offset, CD_TYPE_INT, &l), 0);
    cr_assert_eq(l.count, 0);
    cd_reader sub;
    cr_assert_eq(cd_reader_object(&r, new_f[N_OBJECT].offset, &sub), 0);

    /* Re-encoded with the new schema, the record grows to the full layout. */
    size_t len2 = enc_into(&new_s, d, buf2, sizeof buf2);
    cr_assert_eq(cd_get16(buf2), new_s.static_size);
    cr_assert_gt(len2, len);
    cd_value *d2 = dec(&new_s, buf2, len2, &arena_b);
    cr_assert(cd_values_equal(d, d2, N_N));

    /* An embedded record may have an old layout too. */
    static const uint8_t nested_old[] = {4, 0, 6, 0, 0, 0, 6, 4, 0, 5, 0, 0, 0};
    d = dec(&obj1_s, nested_old, sizeof nested_old, &arena_a);
    cr_assert_eq(d[0].u.obj.fields[0].u.i32, 5);
    cr_assert(d[0].u.obj.fields[1].is_null);
    len2 = enc_into(&obj1_s, d, buf2, sizeof buf2);
    cr_assert_eq(len2, sizeof nested_old + 4, "re-encoded with the full layout");
    cr_assert_eq(buf2[7], 8);

    /* An empty static section (S = 0) reads as all null. */
    static const uint8_t zero[] = {0, 0};
    d = dec(&new_s, zero, 2, &arena_a);
    cr_assert(d[N_A].is_null && d[N_S].is_null && !d[N_BYTE].is_null);
}

Test(record, static_size_rules) {
    cd_value nv[N_N];
    for (int i = 0; i < N_N; i++)
        nv[i] = cd_val_null(new_f[i].type, new_f[i].is_list);
    nv[N_BYTE] = cd_val_byte(1);
    size_t len = enc(&new_s, nv);
    /* A newer (larger) static section than the schema knows is refused. */
    expect_corrupt(&old_s, buf, len, "larger than the schema");
    /* S ending inside a field. */
    static uint8_t r[] = {0x05, 0x00, 1, 2, 3, 4, 5};
    expect_corrupt(&old_s, r, sizeof r, "ends inside a field");
    /* S past the end. */
    static uint8_t r2[] = {0x0c, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0};
    expect_corrupt(&old_s, r2, sizeof r2, "past the end");
    r2[0] = 0x08; /* valid: the string field is beyond S */
    cr_assert_eq(cd_record_validate(&old_s, r2, 10, NULL), CD_OK);
    expect_corrupt(&old_s, r2, 11, "bytes after the last item");
}

/* ---- the writer ----------------------------------------------------------- */

/* Writes the same values as fill_all() through the writer API. */
static int write_all(cd_writer *w) {
    const cd_field *f = all_f;
    cd_writer_begin(w, &all_s);
    cd_writer_bool(w, f[A_BOOL].offset, CD_BOOL_TRUE);
    cd_writer_byte(w, f[A_BYTE].offset, 255);
    cd_writer_i32(w, f[A_SHORT].offset, -123456);
    cd_writer_i64(w, f[A_INT].offset, INT64_MAX);
    cd_writer_f32(w, f[A_FLOAT].offset, -0.0f);
    cd_writer_f64(w, f[A_DOUBLE].offset, 3.141592653589793);
    cd_writer_i64(w, f[A_DATETIME].offset, 1700000000123456);
    cd_writer_string(w, f[A_STRING].offset, "h\xc3\xa9llo \xf0\x9f\x98\x80", 11);
    cd_writer_object_begin(w, f[A_OBJECT].offset, &point_s);
    cd_writer_i32(w, point_f[0].offset, 7);
    cd_writer_string(w, point_f[1].offset, "seven", 5);
    cd_writer_object_end(w);
    static const uint8_t bools[] = {CD_BOOL_FALSE, CD_BOOL_NULL, CD_BOOL_TRUE};
    static const uint8_t bytes[] = {0, 255};
    static const int32_t shorts[] = {INT32_MAX, INT32_MIN, 0};
    static const int64_t ints[] = {INT64_MIN + 1, INT64_MIN};
    const float floats[] = {NAN, INFINITY, FLT_MIN / 4};
    const double doubles[] = {-INFINITY, DBL_MAX, NAN};
    static const int64_t times[] = {-1, INT64_MIN};
    cd_writer_list_bool(w, f[L_BOOL].offset, bools, 3);
    cd_writer_list_byte(w, f[L_BYTE].offset, bytes, 2);
    cd_writer_list_i32(w, f[L_SHORT].offset, shorts, 3);
    cd_writer_list_i64(w, f[L_INT].offset, ints, 2);
    cd_writer_list_f32(w, f[L_FLOAT].offset, floats, 3);
    cd_writer_list_f64(w, f[L_DOUBLE].offset, doubles, 3);
    cd_writer_list_i64(w, f[L_DATETIME].offset, times, 2);
    cd_writer_strings_begin(w, f[L_STRING].offset, 5);
    cd_writer_strings_item(w, 0, "", 0);
    cd_writer_strings_item(w, 1, NULL, 0);
    cd_writer_strings_item(w, 2, "\xe6\x97\xa5\xe6\x9c\xac", 6);
    cd_writer_strings_item(w, 3, long_str, strlen(long_str));
    cd_writer_objects_begin(w, f[L_OBJECT].offset, 3);
    cd_writer_objects_item(w, 0, &point_s);
    cd_writer_object_end(w);
    cd_writer_objects_item(w, 2, &point_s);
    cd_writer_i32(w, point_f[0].offset, -1);
    cd_writer_string(w, point_f[1].offset, "", 0);
    return cd_writer_object_end(w);
}

Test(record, writer_matches_value_encoder) {
    cd_value v[A_N];
    fill_all(v);
    size_t len = enc(&all_s, v);
    cd_writer w;
    cd_writer_init(&w, buf2, sizeof buf2);
    cr_assert_eq(write_all(&w), CD_OK);
    size_t wlen;
    cr_assert_eq(cd_writer_finish(&w, &wlen), CD_OK);
    cr_assert_eq(wlen, len);
    cr_assert_eq(memcmp(buf, buf2, len), 0);

    /* Sizing pass, then every short buffer: CD_ENOMEM and the size needed. */
    cd_writer_init(&w, NULL, 0);
    write_all(&w);
    cr_assert_eq(cd_writer_finish(&w, &wlen), CD_OK);
    cr_assert_eq(wlen, len);
    for (size_t cap = 0; cap < len; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        cd_writer_init(&w, small, cap);
        write_all(&w);
        cr_assert_eq(cd_writer_finish(&w, &wlen), CD_ENOMEM, "cap %zu", cap);
        cr_assert_eq(wlen, len);
        size_t elen;
        cr_assert_eq(cd_record_encode(&all_s, v, small, cap, &elen), CD_ENOMEM);
        cr_assert_eq(elen, len);
        free(small);
    }
    uint8_t *exact = malloc(len);
    cd_writer_init(&w, exact, len);
    write_all(&w);
    cr_assert_eq(cd_writer_finish(&w, &wlen), CD_OK);
    cr_assert_eq(memcmp(exact, buf, len), 0);
    free(exact);
}

Test(record, writer_long_nested_record_widens_its_length) {
    /* Nested records of 127, 128 and 20000 bytes: 1-, 2- and 3-byte varints. */
    static char text[20000];
    memset(text, 'q', sizeof text);
    size_t sizes[] = {127 - 8 - 2 - 2, 128 - 8 - 2 - 2, 20000 - 8 - 2 - 3};
    size_t vls[] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        cd_writer w;
        cd_writer_init(&w, buf, sizeof buf);
        cd_writer_begin(&w, &obj1_s);
        cd_writer_object_begin(&w, 0, &point_s);
        cd_writer_i32(&w, 0, 5);
        cd_writer_string(&w, 4, text, sizes[i]);
        cr_assert_eq(cd_writer_object_end(&w), CD_OK);
        size_t len;
        cr_assert_eq(cd_writer_finish(&w, &len), CD_OK);
        size_t nested = 2 + 8 + cd_varint_len(sizes[i]) + sizes[i] + 1;
        cr_assert_eq(len, 6 + vls[i] + nested, "case %d", i);
        cr_assert_eq(cd_varint_len(nested), vls[i]);
        cr_assert_eq(cd_record_validate(&obj1_s, buf, len, NULL), CD_OK);
        cd_reader r, sub;
        cr_assert_eq(cd_reader_init(&r, buf, len), CD_OK);
        cr_assert_eq(cd_reader_object(&r, 0, &sub), 1);
        cr_assert_eq(sub.len, nested);
        cr_assert_eq(cd_reader_i32(&sub, 0), 5);
        const char *s;
        uint32_t n;
        cr_assert_eq(cd_reader_string(&sub, 4, &s, &n), 1);
        cr_assert_eq(n, sizes[i]);
        cr_assert_eq(s[0], 'q');
        cr_assert_eq(s[n], '\0');
    }
}

Test(record, writer_misuse_order_is_einval_and_sticky) {
    cd_writer w;
    size_t len;
    /* Dynamic fields out of order. */
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &two_s);
    cr_assert_eq(cd_writer_string(&w, 4, "b", 1), CD_OK);
    cr_assert_eq(cd_writer_string(&w, 0, "a", 1), CD_EINVAL);
    cr_assert_eq(cd_writer_string(&w, 4, "c", 1), CD_EINVAL, "sticky");
    cr_assert_eq(cd_writer_finish(&w, &len), CD_EINVAL);
    cr_assert_eq(len, 0);
    /* The same field twice. */
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &two_s);
    cd_writer_string(&w, 0, "a", 1);
    cr_assert_eq(cd_writer_string(&w, 0, "a", 1), CD_EINVAL);
    /* A slot outside the static section; a bad bool. */
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &tiny_s);
    cr_assert_eq(cd_writer_i64(&w, 2, 1), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &tiny_s);
    cr_assert_eq(cd_writer_bool(&w, 0, 3), CD_EINVAL);
    /* Calls before begin; begin twice. */
    cd_writer_init(&w, buf, sizeof buf);
    cr_assert_eq(cd_writer_i32(&w, 0, 1), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cr_assert_eq(cd_writer_finish(&w, &len), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &tiny_s);
    cr_assert_eq(cd_writer_begin(&w, &tiny_s), CD_EINVAL);
    /* List items out of order, past the count, with no list open. */
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &slist_s);
    cd_writer_strings_begin(&w, 0, 3);
    cr_assert_eq(cd_writer_strings_item(&w, 1, "b", 1), CD_OK);
    cr_assert_eq(cd_writer_strings_item(&w, 0, "a", 1), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &slist_s);
    cd_writer_strings_begin(&w, 0, 3);
    cr_assert_eq(cd_writer_strings_item(&w, 3, "d", 1), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &slist_s);
    cr_assert_eq(cd_writer_strings_item(&w, 0, "a", 1), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &slist_s);
    cd_writer_strings_begin(&w, 0, 3);
    cr_assert_eq(cd_writer_objects_item(&w, 0, &point_s), CD_EINVAL);
}

Test(record, writer_misuse_bad_values_and_nesting) {
    cd_writer w;
    size_t len;
    /* Unbalanced objects. */
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &obj1_s);
    cr_assert_eq(cd_writer_object_end(&w), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &obj1_s);
    cd_writer_object_begin(&w, 0, &point_s);
    cr_assert_eq(cd_writer_finish(&w, &len), CD_EINVAL);
    /* Invalid strings. */
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &two_s);
    cr_assert_eq(cd_writer_string(&w, 0, "a\xff", 2), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &two_s);
    cr_assert_eq(cd_writer_string(&w, 0, NULL, 1), CD_EINVAL);
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &blist_s);
    static const uint8_t b3[] = {1, 3};
    cr_assert_eq(cd_writer_list_bool(&w, 0, b3, 2), CD_EINVAL);
    /* A null string leaves the field null and the record valid. */
    cd_writer_init(&w, buf, sizeof buf);
    cd_writer_begin(&w, &two_s);
    cr_assert_eq(cd_writer_string(&w, 0, NULL, 0), CD_OK);
    cr_assert_eq(cd_writer_string(&w, 4, "z", 1), CD_OK);
    cr_assert_eq(cd_writer_finish(&w, &len), CD_OK);
    cr_assert_eq(len, 2 + 8 + 3);
    cr_assert_eq(cd_record_validate(&two_s, buf, len, NULL), CD_OK);
}

Test(record, arena_exhaustion_leaves_arena_unchanged) {
    cd_value v[A_N];
    fill_all(v);
    size_t len = enc(&all_s, v);
    static uint8_t small[1 << 12];
    size_t need = 0;
    for (size_t cap = 0;; cap += 8) {
        cr_assert_lt(cap, sizeof small);
        cd_arena a = {small, cap, 0};
        cd_value *out = NULL;
        int rc = cd_record_decode(&all_s, buf, len, &a, &out, NULL);
        if (rc == CD_OK) {
            need = a.used;
            cr_assert(cd_values_equal(v, out, A_N));
            break;
        }
        cr_assert_eq(rc, CD_ENOMEM);
        cr_assert_eq(a.used, 0);
        cr_assert_null(out);
    }
    cr_assert_gt(need, A_N * sizeof(cd_value));
    cd_arena none = {NULL, 0, 0};
    cd_value *out;
    cr_assert_eq(cd_record_decode(&all_s, buf, len, &none, &out, NULL), CD_ENOMEM);
}

/* ---- malformed input ------------------------------------------------------- */

Test(record, every_truncation_and_extension_is_corrupt) {
    cd_value v[A_N];
    const cd_schema *schemas[] = {&all_s, &all_s, &node_s};
    for (int c = 0; c < 3; c++) {
        size_t len;
        if (c == 0) {
            fill_all(v);
            len = enc(&all_s, v);
        } else if (c == 1) {
            fill_empty(v);
            len = enc(&all_s, v);
        } else {
            len = enc(&node_s, make_chain(5));
        }
        for (size_t cut = 0; cut < len; cut++) {
            memcpy(mut, buf, cut);
            expect_corrupt(schemas[c], mut, cut, NULL);
        }
        memcpy(mut, buf, len);
        mut[len] = 0;
        expect_corrupt(schemas[c], mut, len + 1, "bytes after the last item");
    }
    expect_corrupt(&all_s, NULL, 0, "shorter than its header");
}

/* A record of one string field holding s[0, n), bytes patched afterwards. */
static size_t str_record(const char *s, size_t n) {
    cd_value v[1] = {cd_val_string(s, (uint32_t)n)};
    return enc(&str1_s, v);
}

Test(record, bad_strings_are_corrupt) {
    /* The string item starts at 6: varint n at 6, bytes at 7. */
    struct {
        const char *bytes;
        const char *why;
    } bad[] = {
        {"\xc0\xaf", "UTF-8"},          /* overlong '/' */
        {"\xe0\x80\xaf", "UTF-8"},      /* overlong, 3 bytes */
        {"\xed\xa0\x80", "UTF-8"},      /* surrogate */
        {"a\xe6\x97", "UTF-8"},         /* truncated sequence */
        {"\xf4\x90\x80\x80", "UTF-8"},  /* above U+10FFFF */
        {"\xbf", "UTF-8"},              /* lone continuation */
        {"a\0b", "UTF-8"},              /* NUL inside */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i].bytes);
        if (i == 6)
            n = 3;
        size_t len = str_record("zzzz", n);
        memcpy(buf + 7, bad[i].bytes, n);
        expect_corrupt(&str1_s, buf, len, bad[i].why);
    }
    size_t len = str_record("abc", 3);
    buf[10] = 'x';
    expect_corrupt(&str1_s, buf, len, "NUL terminator");
    len = str_record("abc", 3);
    buf[6] = 4; /* length one more: the terminator would be past the end */
    expect_corrupt(&str1_s, buf, len, "past the end");
    buf[6] = 2; /* length one less: 'c' where the NUL should be */
    expect_corrupt(&str1_s, buf, len, "NUL terminator");
}

Test(record, bad_offsets_are_corrupt) {
    cd_value v[3] = {cd_val_bool(1), cd_val_short(7), cd_val_string("hi", 2)};
    size_t len = enc(&tiny_s, v); /* string slot at 7, item at 11 */
    uint32_t offs[] = {1, 2, 10, 12, 15, 16, 0xffffffffu};
    const char *why[] = {"static section", "static section", "static section",
                         "previous item ended", "past the end", "past the end",
                         "past the end"};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        memcpy(mut, buf, len);
        cd_put32(mut + 7, offs[i]);
        cd_diag d;
        expect_corrupt(&tiny_s, mut, len, why[i]);
        cd_record_validate(&tiny_s, mut, len, &d);
        cr_assert_eq(d.offset, 7, "diag points at the slot");
    }
    /* A null slot leaves the item orphaned: trailing bytes. */
    memcpy(mut, buf, len);
    cd_put32(mut + 7, 0);
    expect_corrupt(&tiny_s, mut, len, "bytes after the last item");

    /* Two strings swapped, or a gap between them. */
    cd_value t[2] = {cd_val_string("a", 1), cd_val_string("b", 1)};
    len = enc(&two_s, t); /* items at 10 and 13 */
    memcpy(mut, buf, len);
    cd_put32(mut + 2, 13);
    cd_put32(mut + 6, 10);
    expect_corrupt(&two_s, mut, len, "previous item ended");
    static const uint8_t gap[] = {8, 0, 10, 0, 0, 0, 14, 0, 0, 0,
                                  1, 'a', 0, 0xee, 1, 'b', 0};
    expect_corrupt(&two_s, gap, sizeof gap, "previous item ended");
    /* Both slots at the same item (overlap). */
    memcpy(mut, buf, len);
    cd_put32(mut + 6, 10);
    expect_corrupt(&two_s, mut, len, "previous item ended");
}

Test(record, bad_lists_and_objects_are_corrupt) {
    /* bool list [true, null, false] at 6: count at 6, elements at 7. */
    cd_value bi[3] = {cd_val_bool(1), cd_val_null(CD_TYPE_BOOL, 0), cd_val_bool(0)};
    cd_value bl[1] = {cd_val_list(CD_TYPE_BOOL, bi, 3)};
    size_t len = enc(&blist_s, bl);
    buf[8] = 3;
    expect_corrupt(&blist_s, buf, len, "bool byte");
    len = enc(&blist_s, bl);
    buf[6] = 4;
    expect_corrupt(&blist_s, buf, len, "past the end");
    /* A bool slot of 3. */
    cd_value v[3] = {cd_val_bool(1), cd_val_short(7), cd_val_string("hi", 2)};
    len = enc(&tiny_s, v);
    buf[2] = 3;
    expect_corrupt(&tiny_s, buf, len, "bool byte");
    buf[2] = 0xff;
    expect_corrupt(&tiny_s, buf, len, "bool byte");

    /* A string list whose element offset points back at its table. */
    cd_value items[2] = {cd_val_string("x", 1), cd_val_string("y", 1)};
    cd_value sl[1] = {cd_val_list(CD_TYPE_STRING, items, 2)};
    len = enc(&slist_s, sl); /* count 6, table 7..14, "x" at 15, "y" at 18 */
    memcpy(mut, buf, len);
    cd_put32(mut + 11, 7);
    expect_corrupt(&slist_s, mut, len, "previous item ended");
    memcpy(mut, buf, len);
    cd_put32(mut + 7, 3);
    expect_corrupt(&slist_s, mut, len, "static section");
    memcpy(mut, buf, len);
    cd_put32(mut + 11, 15); /* both elements share "x" */
    expect_corrupt(&slist_s, mut, len, "previous item ended");

    /* An object length past the end, and one that cuts its record short. */
    cd_value pf[2] = {cd_val_short(1), cd_val_string("a", 1)};
    cd_value ob[1] = {cd_val_object(pf, 2)};
    len = enc(&obj1_s, ob);
    memcpy(mut, buf, len);
    mut[6] = 14;
    expect_corrupt(&obj1_s, mut, len, "embedded object runs past");
    mut[6] = 12;
    expect_corrupt(&obj1_s, mut, len, NULL);
    memcpy(mut, buf, len);
    mut[7] = 10; /* nested S larger than point's */
    expect_corrupt(&obj1_s, mut, len, "larger than the schema");

    /* Non-canonical NaNs. */
    cd_value f[2] = {cd_val_float(1), cd_val_double(2)};
    len = enc(&f1_s, f);
    memcpy(mut, buf, len);
    cd_put32(mut + 2, 0x7fc00001u);
    expect_corrupt(&f1_s, mut, len, "float NaN");
    cd_put32(mut + 2, 0xffc00000u);
    expect_corrupt(&f1_s, mut, len, "float NaN");
    cd_put32(mut + 2, 0x7f800000u); /* +inf is fine */
    cr_assert_eq(cd_record_validate(&f1_s, mut, len, NULL), CD_OK);
    memcpy(mut, buf, len);
    cd_put64(mut + 6, 0x7ff0000000000001u);
    expect_corrupt(&f1_s, mut, len, "double NaN");
}

Test(record, non_shortest_varints_and_limits_are_corrupt) {
    /* "hi" with its length as 82 00 instead of 02. */
    static const uint8_t ok[] = {4, 0, 6, 0, 0, 0, 0x02, 'h', 'i', 0};
    static const uint8_t longform[] = {4, 0, 6, 0, 0, 0, 0x82, 0x00, 'h', 'i', 0};
    cr_assert_eq(cd_record_validate(&str1_s, ok, sizeof ok, NULL), CD_OK);
    expect_corrupt(&str1_s, longform, sizeof longform, "varint");
    /* An empty bool list counted as 80 00. */
    static const uint8_t list0[] = {4, 0, 6, 0, 0, 0, 0x00};
    static const uint8_t list0long[] = {4, 0, 6, 0, 0, 0, 0x80, 0x00};
    cr_assert_eq(cd_record_validate(&blist_s, list0, sizeof list0, NULL), CD_OK);
    expect_corrupt(&blist_s, list0long, sizeof list0long, "varint");
    /* An object length in long form. */
    cd_value pf[2] = {cd_val_short(1), cd_val_string("a", 1)};
    cd_value ob[1] = {cd_val_object(pf, 2)};
    size_t len = enc(&obj1_s, ob);
    memcpy(mut, buf, 6);
    mut[6] = (uint8_t)(buf[6] | 0x80);
    mut[7] = 0;
    memcpy(mut + 8, buf + 7, len - 7);
    expect_corrupt(&obj1_s, mut, len + 1, "varint");
    /* A varint that runs off the end. */
    static const uint8_t cut[] = {4, 0, 6, 0, 0, 0, 0x80};
    expect_corrupt(&blist_s, cut, sizeof cut, "varint");

    /* Counts over the limits. */
    uint8_t big[16] = {4, 0, 6, 0, 0, 0};
    size_t vl = cd_varint_put(big + 6, (uint64_t)CD_LIST_LEN_MAX + 1);
    expect_corrupt(&blist_s, big, 6 + vl, "CD_LIST_LEN_MAX");
    expect_corrupt(&slist_s, big, 6 + vl, "CD_LIST_LEN_MAX");
    vl = cd_varint_put(big + 6, (uint64_t)CD_STRING_LEN_MAX + 1);
    expect_corrupt(&str1_s, big, 6 + vl, "CD_STRING_LEN_MAX");
    vl = cd_varint_put(big + 6, UINT64_MAX);
    expect_corrupt(&str1_s, big, 6 + vl, "CD_STRING_LEN_MAX");
    expect_corrupt(&obj1_s, big, 6 + vl, "runs past");
    uint8_t *huge = calloc(CD_RECORD_SIZE_MAX + 1, 1);
    cr_assert_not_null(huge);
    expect_corrupt(&str1_s, huge, CD_RECORD_SIZE_MAX + 1, "CD_RECORD_SIZE_MAX");
    free(huge);
}

/* 1 iff r and every record embedded in it have their full static size. */
static int full_layout(const cd_schema *s, const cd_reader *r) {
    if (r->static_size != s->static_size)
        return 0;
    for (unsigned i = 0; i < s->nfields; i++) {
        const cd_field *f = &s->fields[i];
        cd_reader sub;
        cd_list l;
        if (f->type != CD_TYPE_OBJECT)
            continue;
        if (!f->is_list) {
            if (cd_reader_object(r, f->offset, &sub) && !full_layout(f->object, &sub))
                return 0;
            continue;
        }
        for (uint32_t k = 0; cd_reader_list(r, f->offset, f->type, &l) && k < l.count; k++)
            if (cd_list_object(&l, k, &sub) && !full_layout(f->object, &sub))
                return 0;
    }
    return 1;
}

/*
 * Decodes p[0, len) (which may be anything).  If it decodes, the values
 * must re-encode to bytes that decode to the same values, the reader must
 * agree with the decoder, and when p and its embedded records have their
 * full static sizes the re-encoding must be p itself.  Returns 1 if p decoded.
 */
static int check_any(const cd_schema *s, const uint8_t *p, size_t len) {
    cd_value *out = NULL;
    arena_a.used = 0;
    int rc = cd_record_decode(s, p, len, &arena_a, &out, NULL);
    int vrc = cd_record_validate(s, p, len, NULL);
    cr_assert_eq(rc, vrc);
    cd_reader r;
    if (cd_reader_init(&r, p, len) == CD_OK)
        cr_assert(reader_matches(s, &r, rc == CD_OK ? out : NULL, 1));
    if (rc != CD_OK) {
        cr_assert_eq(rc, CD_ECORRUPT);
        return 0;
    }
    size_t len2;
    cr_assert_eq(cd_record_encode(s, out, buf2, sizeof buf2, &len2), CD_OK);
    if (full_layout(s, &r)) {
        cr_assert_eq(len2, len);
        cr_assert_eq(memcmp(buf2, p, len), 0, "a valid record is canonical");
    } else {
        cr_assert_gt(len2, len, "old layouts grow when re-encoded");
    }
    cd_value *again = NULL;
    arena_b.used = 0;
    cr_assert_eq(cd_record_decode(s, buf2, len2, &arena_b, &again, NULL), CD_OK);
    cr_assert(cd_values_equal(out, again, s->nfields));
    return 1;
}

Test(record, every_byte_changed_to_every_value) {
    cd_value v[A_N];
    const cd_schema *schemas[] = {&all_s, &all_s, &node_s, &tiny_s};
    for (int c = 0; c < 4; c++) {
        size_t len;
        if (c == 0)
            fill_all(v), len = enc(&all_s, v);
        else if (c == 1)
            fill_empty(v), len = enc(&all_s, v);
        else if (c == 2)
            len = enc(&node_s, make_chain(4));
        else
            len = enc(&tiny_s, (cd_value[3]){cd_val_bool(0), cd_val_short(-9),
                                             cd_val_string("\xc3\xa9t\xc3\xa9", 5)});
        uint8_t orig[1024];
        cr_assert_lt(len, sizeof orig);
        memcpy(orig, buf, len);
        unsigned good = 0, bad = 0;
        for (size_t pos = 0; pos < len; pos++) {
            for (unsigned val = 0; val < 256; val++) {
                if (val == orig[pos])
                    continue;
                memcpy(mut, orig, len);
                mut[pos] = (uint8_t)val;
                if (check_any(schemas[c], mut, len))
                    good++;
                else
                    bad++;
            }
        }
        /* Some changes are legal (number bytes), most structural ones not. */
        cr_assert_gt(good, 0, "case %d", c);
        cr_assert_gt(bad, 0, "case %d", c);
    }
}

Test(record, random_mutations) {
    cd_value v[A_N];
    fill_all(v);
    size_t len = enc(&all_s, v);
    uint8_t orig[1024];
    memcpy(orig, buf, len);
    for (int iter = 0; iter < 20000; iter++) {
        size_t mlen = len;
        memcpy(mut, orig, len);
        int edits = 1 + (int)(rng() % 4);
        for (int e = 0; e < edits; e++)
            mut[rng() % mlen] = (uint8_t)rng();
        if (rng() % 4 == 0)
            mlen = rng() % (len + 8);
        for (size_t i = len; i < mlen; i++)
            mut[i] = (uint8_t)rng();
        check_any(&all_s, mut, mlen);
    }
    /* Random bytes with a plausible header. */
    for (int iter = 0; iter < 20000; iter++) {
        size_t mlen = 2 + rng() % 64;
        for (size_t i = 0; i < mlen; i++)
            mut[i] = (uint8_t)rng();
        cd_put16(mut, (uint16_t)(rng() % 2 ? point_s.static_size : rng() % 12));
        check_any(&point_s, mut, mlen);
        check_any(&node_s, mut, mlen);
    }
}

Test(record, diag_is_optional_and_located) {
    cd_value v[3] = {cd_val_bool(1), cd_val_short(7), cd_val_string("hi", 2)};
    size_t len = enc(&tiny_s, v);
    buf[13] = 0xff; /* 'i' becomes a bad byte */
    cr_assert_eq(cd_record_validate(&tiny_s, buf, len, NULL), CD_ECORRUPT);
    cd_diag d = {0};
    cr_assert_eq(cd_record_validate(&tiny_s, buf, len, &d), CD_ECORRUPT);
    cr_assert_eq(d.offset, 12, "points at the string's bytes");
    /* In a nested record the offset still counts from the top. */
    cd_value pf[2] = {cd_val_short(1), cd_val_string("a", 1)};
    cd_value ob[1] = {cd_val_object(pf, 2)};
    len = enc(&obj1_s, ob);
    buf[len - 1] = 'z';
    cr_assert_eq(cd_record_validate(&obj1_s, buf, len, &d), CD_ECORRUPT);
    cr_assert_eq(d.offset, len - 1);
    cr_assert_not_null(strstr(d.what, "NUL terminator"));
}

Test(record, reader_on_garbage_stays_in_bounds) {
    /* Every cut of a valid record read field by field: no out-of-bounds
     * read (ASan), strings always NUL-terminated. */
    cd_value v[A_N];
    fill_all(v);
    size_t len = enc(&all_s, v);
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        cd_reader r;
        int rc = cd_reader_init(&r, p, cut);
        cr_assert_eq(rc, cut >= (size_t)2 + all_s.static_size ? CD_OK : CD_ECORRUPT,
                     "cut %zu", cut);
        reader_matches(&all_s, &r, NULL, 1);
        free(p);
    }
    cd_reader r;
    cr_assert_eq(cd_reader_init(&r, NULL, 0), CD_ECORRUPT);
    cr_assert_eq(cd_reader_i32(&r, 0), INT32_MIN);
}
