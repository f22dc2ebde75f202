/*
 * fz_record.c: fuzz target for record validation and decoding (cd_record.h).
 *
 * Input: one selector byte, then the record.  The selector (mod
 * FZ_SCHEMAS) picks one of the built-in schemas below: flat scalars, every
 * type, lists of every type, objects nested three deep, and a recursive
 * tree whose data can nest past CD_NEST_DEPTH_MAX.
 *
 * Validation and decoding must agree.  A record that decodes must read the
 * same through the zero-copy reader, re-encode to bytes that decode to the
 * same values, re-encode again to the very same bytes, and, when it and
 * its embedded records have their schemas' full static sizes, re-encode to
 * exactly the input (the format is canonical); otherwise to more bytes.  A short output buffer must give CD_ENOMEM and the size
 * needed.  The record's bytes, taken as text, must get the same answer from
 * cd_utf8_valid, cd_utf8_copy and a byte-at-a-time reference.  Any
 * disagreement traps.
 *
 * seed_record.c includes this file for the schemas and the selector.
 */
#include <stdlib.h>
#include <string.h>

#include "cd_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the schemas ------------------------------------------------------------ */

enum { FZ_FLAT, FZ_EVERY, FZ_LISTS, FZ_NESTED, FZ_TREE, FZ_SCHEMAS };

/* point { short x; string name; } */
static cd_field fz_point_f[] = {{.type = CD_TYPE_SHORT}, {.type = CD_TYPE_STRING}};
static cd_schema fz_point = {.fields = fz_point_f, .nfields = 2};

static cd_field fz_flat_f[] = {
    {.type = CD_TYPE_BOOL},   {.type = CD_TYPE_BYTE},     {.type = CD_TYPE_SHORT},
    {.type = CD_TYPE_INT},    {.type = CD_TYPE_FLOAT},    {.type = CD_TYPE_DOUBLE},
    {.type = CD_TYPE_DATETIME}, {.type = CD_TYPE_STRING},
};
static cd_schema fz_flat = {.fields = fz_flat_f, .nfields = 8};

static cd_field fz_every_f[] = {
    {.type = CD_TYPE_BOOL},
    {.type = CD_TYPE_BYTE},
    {.type = CD_TYPE_SHORT},
    {.type = CD_TYPE_INT},
    {.type = CD_TYPE_FLOAT},
    {.type = CD_TYPE_DOUBLE},
    {.type = CD_TYPE_DATETIME},
    {.type = CD_TYPE_STRING},
    {.type = CD_TYPE_OBJECT, .object = &fz_point},
    {.type = CD_TYPE_BOOL, .is_list = 1},
    {.type = CD_TYPE_BYTE, .is_list = 1},
    {.type = CD_TYPE_SHORT, .is_list = 1},
    {.type = CD_TYPE_INT, .is_list = 1},
    {.type = CD_TYPE_FLOAT, .is_list = 1},
    {.type = CD_TYPE_DOUBLE, .is_list = 1},
    {.type = CD_TYPE_DATETIME, .is_list = 1},
    {.type = CD_TYPE_STRING, .is_list = 1},
    {.type = CD_TYPE_OBJECT, .is_list = 1, .object = &fz_point},
};
static cd_schema fz_every = {.fields = fz_every_f, .nfields = 18};

/* Only lists, so mutations land on list structure. */
static cd_field fz_lists_f[] = {
    {.type = CD_TYPE_STRING, .is_list = 1},
    {.type = CD_TYPE_BOOL, .is_list = 1},
    {.type = CD_TYPE_OBJECT, .is_list = 1, .object = &fz_point},
    {.type = CD_TYPE_SHORT, .is_list = 1},
    {.type = CD_TYPE_DOUBLE, .is_list = 1},
    {.type = CD_TYPE_BYTE, .is_list = 1},
    {.type = CD_TYPE_FLOAT, .is_list = 1},
    {.type = CD_TYPE_INT, .is_list = 1},
    {.type = CD_TYPE_DATETIME, .is_list = 1},
};
static cd_schema fz_lists = {.fields = fz_lists_f, .nfields = 9};

/* outer { int id; string name; mid m; list<mid> ms; }
 * mid   { short n; inner in; list<string> tags; }
 * inner { bool ok; string s; list<double> ds; } */
static cd_field fz_inner_f[] = {
    {.type = CD_TYPE_BOOL},
    {.type = CD_TYPE_STRING},
    {.type = CD_TYPE_DOUBLE, .is_list = 1},
};
static cd_schema fz_inner = {.fields = fz_inner_f, .nfields = 3};
static cd_field fz_mid_f[] = {
    {.type = CD_TYPE_SHORT},
    {.type = CD_TYPE_OBJECT, .object = &fz_inner},
    {.type = CD_TYPE_STRING, .is_list = 1},
};
static cd_schema fz_mid = {.fields = fz_mid_f, .nfields = 3};
static cd_field fz_outer_f[] = {
    {.type = CD_TYPE_INT},
    {.type = CD_TYPE_STRING},
    {.type = CD_TYPE_OBJECT, .object = &fz_mid},
    {.type = CD_TYPE_OBJECT, .is_list = 1, .object = &fz_mid},
};
static cd_schema fz_outer = {.fields = fz_outer_f, .nfields = 4};

/* tree { byte tag; string label; tree child; list<tree> kids; } */
static cd_field fz_tree_f[] = {
    {.type = CD_TYPE_BYTE},
    {.type = CD_TYPE_STRING},
    {.type = CD_TYPE_OBJECT},
    {.type = CD_TYPE_OBJECT, .is_list = 1},
};
static cd_schema fz_tree = {.fields = fz_tree_f, .nfields = 4};

static const cd_schema *fz_schema(uint8_t selector) {
    static cd_schema *const all[FZ_SCHEMAS] = {&fz_flat, &fz_every, &fz_lists,
                                               &fz_outer, &fz_tree};
    static int ready;
    if (!ready) {
        fz_tree_f[2].object = &fz_tree;
        fz_tree_f[3].object = &fz_tree;
        cd_schema *subs[] = {&fz_point, &fz_inner, &fz_mid};
        for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
            if (cd_schema_layout(subs[i]) != CD_OK)
                abort();
        for (size_t i = 0; i < FZ_SCHEMAS; i++)
            if (cd_schema_layout(all[i]) != CD_OK)
                abort();
        ready = 1;
    }
    return all[selector % FZ_SCHEMAS];
}

/* ---- checks -------------------------------------------------------------- */

static uint8_t arena1_mem[1 << 22], arena2_mem[1 << 22];
static uint8_t enc1[1 << 20], enc2[1 << 20], small[1 << 10];

static void check(int ok) {
    if (!ok)
        __builtin_trap();
}

static int reader_agrees(const cd_schema *s, const cd_reader *r,
                         const cd_value *v);

static cd_value fz_scalar(uint8_t type, const uint8_t *p) {
    switch (type) {
    case CD_TYPE_BOOL:
        return p[0] == CD_BOOL_NULL ? cd_val_null(CD_TYPE_BOOL, 0)
                                    : cd_val_bool(p[0] == CD_BOOL_TRUE);
    case CD_TYPE_BYTE:
        return cd_val_byte(p[0]);
    case CD_TYPE_SHORT:
        return cd_val_short((int32_t)cd_get32(p));
    case CD_TYPE_INT:
        return cd_val_int((int64_t)cd_get64(p));
    case CD_TYPE_DATETIME:
        return cd_val_datetime((int64_t)cd_get64(p));
    case CD_TYPE_FLOAT: {
        uint32_t b = cd_get32(p);
        float f;
        memcpy(&f, &b, sizeof f);
        return cd_val_float(f);
    }
    default: {
        uint64_t b = cd_get64(p);
        double d;
        memcpy(&d, &b, sizeof d);
        return cd_val_double(d);
    }
    }
}

/* A string or object element read through the reader, against e. */
static int elem_agrees(const cd_field *f, const cd_list *l, uint32_t i,
                       const cd_value *e) {
    if (f->type == CD_TYPE_STRING) {
        const char *str;
        uint32_t n;
        int has = cd_list_string(l, i, &str, &n);
        return has == !e->is_null &&
               (!has || (n == e->u.str.len && memcmp(str, e->u.str.ptr, n) == 0 &&
                         str[n] == 0));
    }
    if (f->type == CD_TYPE_OBJECT) {
        cd_reader sub;
        int has = cd_list_object(l, i, &sub);
        return has == !e->is_null &&
               (!has || reader_agrees(f->object, &sub, e->u.obj.fields));
    }
    cd_value got = fz_scalar(f->type, cd_list_elem(l, i));
    return cd_value_equal(&got, e);
}

static int field_agrees(const cd_field *f, const cd_reader *r, const cd_value *e) {
    if (f->is_list) {
        cd_list l;
        int has = cd_reader_list(r, f->offset, f->type, &l);
        if (has != !e->is_null || (has && l.count != e->u.list.count))
            return 0;
        for (uint32_t i = 0; has && i < l.count; i++)
            if (!elem_agrees(f, &l, i, &e->u.list.items[i]))
                return 0;
        return 1;
    }
    if (f->type == CD_TYPE_STRING) {
        const char *str;
        uint32_t n;
        int has = cd_reader_string(r, f->offset, &str, &n);
        return has == !e->is_null &&
               (!has || (n == e->u.str.len && memcmp(str, e->u.str.ptr, n) == 0));
    }
    if (f->type == CD_TYPE_OBJECT) {
        cd_reader sub;
        int has = cd_reader_object(r, f->offset, &sub);
        return has == !e->is_null &&
               (!has || reader_agrees(f->object, &sub, e->u.obj.fields));
    }
    cd_value got;
    switch (f->type) {
    case CD_TYPE_BOOL: {
        uint8_t b = cd_reader_bool(r, f->offset);
        got = b == CD_BOOL_NULL ? cd_val_null(CD_TYPE_BOOL, 0)
                                : cd_val_bool(b == CD_BOOL_TRUE);
        break;
    }
    case CD_TYPE_BYTE:
        got = cd_val_byte(cd_reader_byte(r, f->offset));
        break;
    case CD_TYPE_SHORT:
        got = cd_val_short(cd_reader_i32(r, f->offset));
        break;
    case CD_TYPE_INT:
        got = cd_val_int(cd_reader_i64(r, f->offset));
        break;
    case CD_TYPE_DATETIME:
        got = cd_val_datetime(cd_reader_i64(r, f->offset));
        break;
    case CD_TYPE_FLOAT:
        got = cd_val_float(cd_reader_f32(r, f->offset));
        break;
    default:
        got = cd_val_double(cd_reader_f64(r, f->offset));
        break;
    }
    return cd_value_equal(&got, e);
}

/* 1 iff the reader sees exactly the decoded values v. */
static int reader_agrees(const cd_schema *s, const cd_reader *r,
                         const cd_value *v) {
    for (unsigned i = 0; i < s->nfields; i++)
        if (!field_agrees(&s->fields[i], r, &v[i]))
            return 0;
    return 1;
}

/*
 * 1 iff the validated record r and every record embedded in it have their
 * schema's full static size: then it is canonical, byte for byte.
 */
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

/* Re-encodes decoded values and checks every round-trip property. */
static void roundtrip(const cd_schema *s, const uint8_t *rec, size_t len,
                      const cd_value *v) {
    size_t need, n1, n2;
    check(cd_record_encoded_size(s, v, &need) == CD_OK);
    if (need > sizeof enc1)
        return;
    check(cd_record_encode(s, v, enc1, sizeof enc1, &n1) == CD_OK);
    check(n1 == need);
    cd_reader r;
    check(cd_reader_init(&r, rec, len) == CD_OK);
    if (full_layout(s, &r))
        check(n1 == len && memcmp(enc1, rec, len) == 0);
    else
        check(n1 > len);
    check(cd_record_validate(s, enc1, n1, NULL) == CD_OK);

    cd_arena a2 = {arena2_mem, sizeof arena2_mem, 0};
    cd_value *v2;
    check(cd_record_decode(s, enc1, n1, &a2, &v2, NULL) == CD_OK);
    check(cd_values_equal(v, v2, s->nfields));
    check(cd_record_encode(s, v2, enc2, sizeof enc2, &n2) == CD_OK);
    check(n2 == n1 && memcmp(enc1, enc2, n1) == 0);

    size_t cap = n1 / 2 < sizeof small ? n1 / 2 : sizeof small;
    check(cd_record_encode(s, v, small, cap, &n2) == CD_ENOMEM && n2 == n1);
}

/* RFC 3629 by the table of well-formed byte sequences (its section 4), a
 * byte at a time, and no NUL: the reference for cd_utf8_valid, which reads
 * words. */
static int utf8_ref(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k;
        uint8_t lo = 0x80, hi = 0xbf; /* the second byte's range */
        if (c >= 0x01 && c <= 0x7f) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 3;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 4;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            return 0;
        }
        if (n - i < k || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t j = 2; j < k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xbf)
                return 0;
        i += k;
    }
    return 1;
}

/* The record's bytes taken as text: both UTF-8 checks agree with the
 * reference, and the copying one copies exactly the text it accepts. */
static void utf8_agrees(const uint8_t *s, size_t n) {
    if (n > sizeof enc2)
        return;
    int want = utf8_ref(s, n);
    check(cd_utf8_valid(s, n) == want);
    check(cd_utf8_copy(enc2, s, n) == want);
    check(!want || memcmp(enc2, s, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    utf8_agrees(data + 1, size - 1);
    const cd_schema *s = fz_schema(data[0]);
    const uint8_t *rec = data + 1;
    size_t len = size - 1;

    cd_diag d1 = {0}, d2 = {0};
    int vrc = cd_record_validate(s, rec, len, &d1);
    check(vrc == CD_OK || vrc == CD_ECORRUPT);
    check(vrc == CD_OK || (d1.what != NULL && d1.offset <= len));

    cd_arena a1 = {arena1_mem, sizeof arena1_mem, 0};
    cd_value *v = NULL;
    int rc = cd_record_decode(s, rec, len, &a1, &v, &d2);
    if (rc == CD_ENOMEM) {
        check(vrc == CD_OK && a1.used == 0);
        return 0;
    }
    check(rc == vrc);
    if (rc != CD_OK) {
        check(d1.line == d2.line && d1.offset == d2.offset);
        return 0;
    }
    cd_reader r;
    check(cd_reader_init(&r, rec, len) == CD_OK);
    check(reader_agrees(s, &r, v));
    roundtrip(s, rec, len, v);
    return 0;
}
