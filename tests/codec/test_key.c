/*
 * test_key.c: tests of the order-preserving key encoding (cd_key.h).
 * Checks exact encodings of known values, then, for many random and edge
 * values of every type and for random composite keys ending with an id,
 * that the memcmp order of the encodings (cd_key_cmp) is the value order
 * and that decoding gives the values back; and that the decoder rejects
 * truncation, trailing bytes, bad escapes, bad bools and non-canonical
 * floats.  Links only the codec.
 */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cd_key.h"
#include "cd_page.h"

/* ---- test values ------------------------------------------------------ */

#define STR_MAX 24

/* A value of any component type, as the test generates and compares it. */
typedef struct tval {
    uint8_t type;
    uint8_t b;     /* bool, byte */
    int64_t i;     /* integers, datetime, id */
    uint64_t h;    /* hash */
    float f;
    double d;
    int str_null;
    size_t slen;
    uint8_t s[STR_MAX];
} tval;

static uint64_t rng_state;

static uint64_t rnd(void) {
    /* splitmix64: deterministic, so a failure reproduces */
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint32_t fbits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}
static uint64_t dbits(double d) {
    uint64_t b;
    memcpy(&b, &d, 8);
    return b;
}
static float bits_f(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static double bits_d(uint64_t b) {
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static int sgn(int x) { return (x > 0) - (x < 0); }

static int cmp_i(int64_t a, int64_t b) { return (a > b) - (a < b); }
static int cmp_u(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* Value order of floating values: NaN first, -0.0 == +0.0. */
static int cmp_fp(double a, double b) {
    if (isnan(a) || isnan(b))
        return isnan(b) - isnan(a);
    return (a > b) - (a < b);
}

/* Value order of strings: null first, then bytes, shorter first. */
static int cmp_str(const tval *a, const tval *b) {
    if (a->str_null || b->str_null)
        return b->str_null - a->str_null;
    size_t n = a->slen < b->slen ? a->slen : b->slen;
    int c = memcmp(a->s, b->s, n);
    if (c)
        return sgn(c);
    return cmp_u(a->slen, b->slen);
}

/* The reference order, written from the values' meaning, not the bytes. */
static int ref_cmp(const tval *a, const tval *b) {
    cr_assert_eq(a->type, b->type);
    switch (a->type) {
    case CD_KEY_BOOL:
    case CD_KEY_BYTE:
        return cmp_i(a->b, b->b);
    case CD_KEY_FLOAT:
        return cmp_fp(a->f, b->f);
    case CD_KEY_DOUBLE:
        return cmp_fp(a->d, b->d);
    case CD_KEY_STRING:
        return cmp_str(a, b);
    case CD_KEY_HASH:
        return cmp_u(a->h, b->h);
    default:
        return cmp_i(a->i, b->i);
    }
}

static int put_tval(cd_key_builder *kb, const tval *v) {
    switch (v->type) {
    case CD_KEY_BOOL: return cd_key_put_bool(kb, v->b);
    case CD_KEY_BYTE: return cd_key_put_byte(kb, v->b);
    case CD_KEY_I8: return cd_key_put_i8(kb, (int8_t)v->i);
    case CD_KEY_I16: return cd_key_put_i16(kb, (int16_t)v->i);
    case CD_KEY_I32: return cd_key_put_i32(kb, (int32_t)v->i);
    case CD_KEY_I64: return cd_key_put_i64(kb, v->i);
    case CD_KEY_DATETIME: return cd_key_put_datetime(kb, v->i);
    case CD_KEY_FLOAT: return cd_key_put_float(kb, v->f);
    case CD_KEY_DOUBLE: return cd_key_put_double(kb, v->d);
    case CD_KEY_STRING:
        return cd_key_put_str(kb, v->str_null ? NULL : v->s, v->slen);
    case CD_KEY_HASH: return cd_key_put_hash_raw(kb, v->h);
    case CD_KEY_ID: return cd_key_put_id(kb, v->i);
    default: cr_assert_fail("bad type %u", v->type); return CD_EINVAL;
    }
}

/* Checks that a decoded component is the value encoded (canonicalised). */
static void check_decoded(const tval *v, const cd_key_val *d) {
    uint8_t buf[STR_MAX];
    cr_assert_eq(d->type, v->type);
    switch (v->type) {
    case CD_KEY_BOOL:
        cr_assert_eq(d->b, v->b);
        cr_assert_eq(d->null, v->b == CD_KEY_BOOL_NULL);
        break;
    case CD_KEY_BYTE:
        cr_assert_eq(d->b, v->b);
        cr_assert_eq(d->null, 0);
        break;
    case CD_KEY_FLOAT: {
        uint32_t want = isnan(v->f) ? 0x7fc00000u
                        : v->f == 0 ? 0u : fbits(v->f);
        cr_assert_eq(fbits(d->f), want, "float %a: got %08x want %08x",
                     (double)v->f, fbits(d->f), want);
        cr_assert_eq(d->null, isnan(v->f) != 0);
        break;
    }
    case CD_KEY_DOUBLE: {
        uint64_t want = isnan(v->d) ? UINT64_C(0x7ff8000000000000)
                        : v->d == 0 ? 0u : dbits(v->d);
        cr_assert_eq(dbits(d->d), want, "double %a", v->d);
        cr_assert_eq(d->null, isnan(v->d) != 0);
        break;
    }
    case CD_KEY_STRING:
        cr_assert_eq(d->null, v->str_null);
        cr_assert_eq(d->str_len, v->slen);
        cr_assert_eq(cd_key_str_copy(d, buf), v->slen);
        cr_assert(v->slen == 0 || memcmp(buf, v->s, v->slen) == 0);
        break;
    case CD_KEY_HASH:
        cr_assert_eq(d->h, v->h);
        break;
    default:
        cr_assert_eq(d->i, v->i, "type %u: %lld != %lld", v->type,
                     (long long)d->i, (long long)v->i);
        cr_assert_eq(d->null, 0);
    }
}

/* ---- value generators ------------------------------------------------- */

static const uint32_t float_edges[] = {
    0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000,
    0x7fc00000, 0xffc00000, 0x7f800001, 0xffffffff, 0x7fffffff, 0x00000001,
    0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000, 0x7f7fffff,
    0xff7fffff, 0x40490fdb, 0xc0490fdb,
};
static const uint64_t double_edges[] = {
    0, UINT64_C(0x8000000000000000), UINT64_C(0x3ff0000000000000),
    UINT64_C(0xbff0000000000000), UINT64_C(0x7ff0000000000000),
    UINT64_C(0xfff0000000000000), UINT64_C(0x7ff8000000000000),
    UINT64_C(0xfff8000000000000), UINT64_C(0x7ff0000000000001),
    UINT64_C(0xffffffffffffffff), 1, UINT64_C(0x8000000000000001),
    UINT64_C(0x000fffffffffffff), UINT64_C(0x0010000000000000),
    UINT64_C(0x7fefffffffffffff), UINT64_C(0xffefffffffffffff),
    UINT64_C(0x400921fb54442d18),
};
static const char *const str_edges[] = {
    "", "a", "ab", "abc", "b", "\x01", "\x01\x01", "\xff", "\xff\xff",
    "a\xff", "a\x01", "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\x7f", "\x80",
    "\xf0\x9f\x98\x80",
};
/* bytes random strings are drawn from, so that prefixes are shared */
static const uint8_t str_alphabet[] = {0x00, 0x01, 0x02, 'a', 'b', 0x7f,
                                       0x80, 0xc3, 0xa9, 0xfe, 0xff};

static int64_t int_edge(unsigned bits, unsigned k) {
    int64_t max = bits == 64 ? INT64_MAX : (INT64_C(1) << (bits - 1)) - 1;
    int64_t vals[] = {-max - 1, -max, max, max - 1, 0, -1, 1, 2, -2};
    return vals[k % 9];
}

static int64_t int_rand(unsigned bits) {
    uint64_t r = rnd();
    if (rnd() % 2) /* small magnitudes too, not only huge ones */
        r = (uint64_t)(rnd() % 2001) - 1000;
    if (bits == 64) {
        int64_t v;
        memcpy(&v, &r, 8);
        return v;
    }
    uint64_t half = UINT64_C(1) << (bits - 1), u = r & ((half << 1) - 1);
    return u >= half ? -(int64_t)((half << 1) - u) : (int64_t)u;
}

static void gen_str(tval *v, unsigned k) {
    v->str_null = 0;
    if (k < sizeof str_edges / sizeof *str_edges) {
        v->slen = strlen(str_edges[k]);
        memcpy(v->s, str_edges[k], v->slen);
        return;
    }
    if (rnd() % 16 == 0) {
        v->str_null = 1;
        v->slen = 0;
        return;
    }
    v->slen = rnd() % 6;
    for (size_t j = 0; j < v->slen; j++)
        v->s[j] = str_alphabet[rnd() % sizeof str_alphabet];
}

/* The k-th value of a type: edge values first, random ones after. */
static tval gen(uint8_t type, unsigned k) {
    tval v;
    memset(&v, 0, sizeof v);
    v.type = type;
    unsigned bits[] = {[CD_KEY_I8] = 8, [CD_KEY_I16] = 16, [CD_KEY_I32] = 32,
                       [CD_KEY_I64] = 64, [CD_KEY_DATETIME] = 64,
                       [CD_KEY_ID] = 64};
    switch (type) {
    case CD_KEY_BOOL: v.b = (uint8_t)(k < 3 ? k : rnd() % 3); break;
    case CD_KEY_BYTE: v.b = (uint8_t)(k < 2 ? 255 * k : rnd()); break;
    case CD_KEY_FLOAT:
        v.f = bits_f(k < sizeof float_edges / 4 ? float_edges[k]
                                                : (uint32_t)rnd());
        break;
    case CD_KEY_DOUBLE:
        v.d = bits_d(k < sizeof double_edges / 8 ? double_edges[k] : rnd());
        if (k >= sizeof double_edges / 8 && rnd() % 2)
            v.d = (double)(int64_t)(rnd() % 2001) / 8 - 125; /* ties */
        break;
    case CD_KEY_STRING: gen_str(&v, k); break;
    case CD_KEY_HASH: v.h = k < 2 ? (k ? UINT64_MAX : 0) : rnd(); break;
    default:
        v.i = k < 9 ? int_edge(bits[type], k) : int_rand(bits[type]);
    }
    return v;
}

/* ---- helpers ---------------------------------------------------------- */

typedef struct enc {
    uint8_t b[CD_KEY_SIZE_MAX];
    uint32_t len;
} enc;

static void encode_all(const tval *v, unsigned n, enc *out) {
    cd_key_builder kb;
    cd_key_builder_init(&kb, out->b, sizeof out->b);
    for (unsigned i = 0; i < n; i++)
        cr_assert_eq(put_tval(&kb, &v[i]), CD_OK);
    cr_assert_eq(cd_key_builder_finish(&kb, &out->len), CD_OK);
}

static void expect_bytes(const tval *v, const char *hex_bytes, size_t n) {
    enc e;
    encode_all(v, 1, &e);
    cr_assert_eq(e.len, n, "type %u: length %u, want %zu", v->type, e.len, n);
    cr_assert(memcmp(e.b, hex_bytes, n) == 0, "type %u: wrong bytes",
              v->type);
}

static tval mk(uint8_t type) {
    tval v;
    memset(&v, 0, sizeof v);
    v.type = type;
    return v;
}

/* ---- exact encodings -------------------------------------------------- */

Test(key, exact_integers) {
    tval v = mk(CD_KEY_I32);
    v.i = -1;
    expect_bytes(&v, "\x7f\xff\xff\xff", 4);
    v.i = 0;
    expect_bytes(&v, "\x80\x00\x00\x00", 4);
    v.i = INT32_MIN;
    expect_bytes(&v, "\x00\x00\x00\x00", 4);
    v.i = 0x01020304;
    expect_bytes(&v, "\x81\x02\x03\x04", 4);
    v = mk(CD_KEY_I8);
    v.i = -128;
    expect_bytes(&v, "\x00", 1);
    v.i = 127;
    expect_bytes(&v, "\xff", 1);
    v = mk(CD_KEY_I16);
    v.i = 258;
    expect_bytes(&v, "\x81\x02", 2);
    v = mk(CD_KEY_I64);
    v.i = 1;
    expect_bytes(&v, "\x80\x00\x00\x00\x00\x00\x00\x01", 8);
    v.i = INT64_MIN;
    expect_bytes(&v, "\x00\x00\x00\x00\x00\x00\x00\x00", 8);
    v = mk(CD_KEY_DATETIME);
    v.i = -2;
    expect_bytes(&v, "\x7f\xff\xff\xff\xff\xff\xff\xfe", 8);
    v = mk(CD_KEY_ID);
    v.i = 0x0102030405060708;
    expect_bytes(&v, "\x81\x02\x03\x04\x05\x06\x07\x08", 8);
    v = mk(CD_KEY_BYTE);
    v.b = 0xab;
    expect_bytes(&v, "\xab", 1);
    v = mk(CD_KEY_BOOL);
    v.b = CD_KEY_BOOL_TRUE;
    expect_bytes(&v, "\x02", 1);
    v.b = CD_KEY_BOOL_NULL;
    expect_bytes(&v, "\x00", 1);
}

Test(key, exact_floats) {
    tval v = mk(CD_KEY_FLOAT);
    v.f = 1.0f;
    expect_bytes(&v, "\xbf\x80\x00\x00", 4);
    v.f = -1.0f;
    expect_bytes(&v, "\x40\x7f\xff\xff", 4);
    v.f = -0.0f;
    expect_bytes(&v, "\x80\x00\x00\x00", 4);
    v.f = 0.0f;
    expect_bytes(&v, "\x80\x00\x00\x00", 4);
    v.f = NAN;
    expect_bytes(&v, "\x00\x00\x00\x00", 4);
    v.f = bits_f(0xffc00001); /* a negative NaN with a payload */
    expect_bytes(&v, "\x00\x00\x00\x00", 4);
    v.f = INFINITY;
    expect_bytes(&v, "\xff\x80\x00\x00", 4);
    v.f = -INFINITY;
    expect_bytes(&v, "\x00\x7f\xff\xff", 4);
    v.f = FLT_TRUE_MIN;
    expect_bytes(&v, "\x80\x00\x00\x01", 4);
    v = mk(CD_KEY_DOUBLE);
    v.d = 1.0;
    expect_bytes(&v, "\xbf\xf0\x00\x00\x00\x00\x00\x00", 8);
    v.d = -2.0;
    expect_bytes(&v, "\x3f\xff\xff\xff\xff\xff\xff\xff", 8);
    v.d = -0.0;
    expect_bytes(&v, "\x80\x00\x00\x00\x00\x00\x00\x00", 8);
    v.d = -NAN;
    expect_bytes(&v, "\x00\x00\x00\x00\x00\x00\x00\x00", 8);
    v.d = -INFINITY;
    expect_bytes(&v, "\x00\x0f\xff\xff\xff\xff\xff\xff", 8);
}

Test(key, exact_strings_hash_and_ids) {
    tval v = mk(CD_KEY_STRING);
    v.str_null = 1;
    expect_bytes(&v, "\x00", 1);
    v.str_null = 0;
    expect_bytes(&v, "\x01\x00\x00", 3);
    memcpy(v.s, "a\0b\0", 4);
    v.slen = 4;
    expect_bytes(&v, "\x01" "a\x00\xff" "b\x00\xff\x00\x00", 9);
    memcpy(v.s, "\xff\x01", 2);
    v.slen = 2;
    expect_bytes(&v, "\x01\xff\x01\x00\x00", 5);

    uint8_t buf[16];
    cd_key_builder kb;
    uint32_t len;
    cd_key_builder_init(&kb, buf, sizeof buf);
    cr_assert_eq(cd_key_put_hash(&kb, "abc", 3), CD_OK);
    cr_assert_eq(cd_key_builder_finish(&kb, &len), CD_OK);
    cr_assert_eq(len, 8);
    uint64_t h = cd_hash64("abc", 3, CD_KEY_HASH_SEED);
    for (unsigned i = 0; i < 8; i++)
        cr_assert_eq(buf[i], (uint8_t)(h >> (56 - 8 * i)));
    cr_assert_eq(cd_key_put_hash(&kb, NULL, 1), CD_EINVAL);

    uint8_t id[8];
    int64_t back;
    cd_key_id_encode(id, -1);
    cr_assert(memcmp(id, "\x7f\xff\xff\xff\xff\xff\xff\xff", 8) == 0);
    cr_assert_eq(cd_key_id_decode(id, 8, &back, NULL), CD_OK);
    cr_assert_eq(back, -1);
    cd_key_id_encode(id, 42);
    cr_assert(memcmp(id, "\x80\x00\x00\x00\x00\x00\x00\x2a", 8) == 0);
    cr_assert_eq(cd_key_id_decode(id, 8, &back, NULL), CD_OK);
    cr_assert_eq(back, 42);
}

/* ---- order and round trip --------------------------------------------- */

#define NVALS 600

static tval vals[NVALS];
static enc encs[NVALS];

Test(key, order_and_round_trip_per_type) {
    rng_state = 1;
    for (uint8_t type = 1; type <= CD_KEY_TYPE_MAX; type++) {
        for (unsigned k = 0; k < NVALS; k++) {
            vals[k] = gen(type, k);
            encode_all(&vals[k], 1, &encs[k]);
            cd_key_val d;
            cr_assert_eq(cd_key_decode(encs[k].b, encs[k].len, &type, 1, &d,
                                       NULL), CD_OK, "type %u value %u",
                         type, k);
            check_decoded(&vals[k], &d);
        }
        for (unsigned a = 0; a < NVALS; a++) {
            for (unsigned b = 0; b < NVALS; b++) {
                int want = ref_cmp(&vals[a], &vals[b]);
                int got = sgn(cd_key_cmp(encs[a].b, encs[a].len, encs[b].b,
                                         encs[b].len));
                cr_assert_eq(got, want, "type %u: values %u, %u: %d != %d",
                             type, a, b, got, want);
            }
        }
    }
}

/* Lexicographic order of composite values: the reference for keys. */
static int ref_cmp_key(const tval *a, const tval *b, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        int c = ref_cmp(&a[i], &b[i]);
        if (c)
            return c;
    }
    return 0;
}

#define NKEYS 300
#define PARTS 5

static tval keys[NKEYS][PARTS];

static void composite_round(void) {
    uint8_t types[PARTS];
    unsigned n = 1 + (unsigned)(rnd() % (PARTS - 1));
    for (unsigned i = 0; i < n; i++)
        types[i] = (uint8_t)(1 + rnd() % (CD_KEY_TYPE_MAX - 1));
    types[n++] = CD_KEY_ID;
    for (unsigned k = 0; k < NKEYS; k++) {
        for (unsigned i = 0; i < n; i++) {
            /* a small pool per part, so earlier parts often tie */
            unsigned pick = (unsigned)(rnd() % (i + 1 < n ? 12 : NKEYS));
            keys[k][i] = gen(types[i], pick);
        }
        encode_all(keys[k], n, &encs[k]);
        cd_key_val d[PARTS];
        cr_assert_eq(cd_key_decode(encs[k].b, encs[k].len, types, n, d, NULL),
                     CD_OK);
        for (unsigned i = 0; i < n; i++)
            check_decoded(&keys[k][i], &d[i]);
        int64_t id;
        cr_assert_eq(cd_key_index_id(encs[k].b, encs[k].len, &id, NULL), CD_OK);
        cr_assert_eq(id, keys[k][n - 1].i);
    }
    for (unsigned a = 0; a < NKEYS; a++) {
        for (unsigned b = 0; b < NKEYS; b++) {
            int want = ref_cmp_key(keys[a], keys[b], n);
            int got = sgn(cd_key_cmp(encs[a].b, encs[a].len, encs[b].b,
                                     encs[b].len));
            cr_assert_eq(got, want, "keys %u, %u", a, b);
        }
    }
}

Test(key, composite_order_and_round_trip) {
    rng_state = 7;
    for (int round = 0; round < 40; round++)
        composite_round();
}

Test(key, prefix_of_components_is_key_prefix) {
    rng_state = 3;
    tval v[3] = {gen(CD_KEY_STRING, 11), gen(CD_KEY_I32, 20),
                 gen(CD_KEY_ID, 30)};
    enc full, part;
    encode_all(v, 3, &full);
    for (unsigned n = 1; n <= 3; n++) {
        encode_all(v, n, &part);
        cr_assert(part.len <= full.len);
        cr_assert(memcmp(part.b, full.b, part.len) == 0);
    }
}

/* ---- builder limits --------------------------------------------------- */

Test(key, builder_capacity_and_limits) {
    uint8_t buf[CD_KEY_SIZE_MAX + 16];
    cd_key_builder kb;
    uint32_t len;

    cd_key_builder_init(&kb, buf, 5);
    cr_assert_eq(cd_key_put_i32(&kb, 1), CD_OK);
    cr_assert_eq(cd_key_put_i32(&kb, 2), CD_ENOMEM);
    cr_assert_eq(cd_key_put_byte(&kb, 2), CD_ENOMEM); /* sticky */
    cr_assert_eq(cd_key_builder_finish(&kb, &len), CD_ENOMEM);
    cr_assert_eq(len, 4); /* the failed puts wrote nothing */

    cd_key_builder_init(&kb, buf, sizeof buf);
    static uint8_t big[CD_KEY_SIZE_MAX];
    memset(big, 'x', sizeof big);
    cr_assert_eq(cd_key_put_str(&kb, big, CD_KEY_SIZE_MAX - 3), CD_OK);
    cr_assert_eq(cd_key_builder_finish(&kb, &len), CD_OK);
    cr_assert_eq(len, CD_KEY_SIZE_MAX);
    cr_assert_eq(cd_key_put_bool(&kb, 1), CD_ETOOBIG);

    cd_key_builder_init(&kb, buf, sizeof buf);
    cr_assert_eq(cd_key_put_str(&kb, big, CD_KEY_SIZE_MAX - 2), CD_ETOOBIG);
    cd_key_builder_init(&kb, buf, sizeof buf);
    /* zeros escape to two bytes each: 300 zeros need 600 + 3 bytes */
    memset(big, 0, 300);
    cr_assert_eq(cd_key_put_str(&kb, big, 300), CD_ETOOBIG);
    cr_assert_eq(kb.len, 0);
    cd_key_builder_init(&kb, buf, sizeof buf);
    cr_assert_eq(cd_key_put_str(&kb, big, (size_t)1 << 40), CD_ETOOBIG);

    /* the size limit wins over the capacity */
    cd_key_builder_init(&kb, buf, 10);
    cr_assert_eq(cd_key_put_str(&kb, big, CD_KEY_SIZE_MAX), CD_ETOOBIG);

    cd_key_builder_init(&kb, buf, sizeof buf);
    for (unsigned i = 0; i < CD_KEY_PARTS_MAX; i++)
        cr_assert_eq(cd_key_put_byte(&kb, (uint8_t)i), CD_OK);
    cr_assert_eq(cd_key_put_id(&kb, 1), CD_ETOOBIG);
    cr_assert_eq(cd_key_builder_finish(&kb, &len), CD_ETOOBIG);
    cr_assert_eq(len, CD_KEY_PARTS_MAX);
}

Test(key, builder_rejects_bad_arguments) {
    uint8_t buf[16];
    cd_key_builder kb;
    uint32_t len;
    cd_key_builder_init(&kb, buf, sizeof buf);
    cr_assert_eq(cd_key_put_bool(&kb, 3), CD_EINVAL);
    cr_assert_eq(cd_key_put_i8(&kb, 0), CD_EINVAL);
    cr_assert_eq(cd_key_builder_finish(&kb, &len), CD_EINVAL);
    cr_assert_eq(len, 0);
    cd_key_builder_init(&kb, buf, sizeof buf);
    cr_assert_eq(cd_key_put_str(&kb, NULL, 2), CD_EINVAL);
    cd_key_builder_init(&kb, buf, 0);
    cr_assert_eq(cd_key_put_str(&kb, NULL, 0), CD_ENOMEM);
}

/* ---- decoder rejections ----------------------------------------------- */

static void expect_corrupt(const char *bytes, size_t len, const uint8_t *types,
                           unsigned n, size_t offset) {
    cd_diag diag = {0, NULL, 9999};
    cd_key_val out[CD_KEY_PARTS_MAX];
    int rc = cd_key_decode((const uint8_t *)bytes, len, types, n, out, &diag);
    cr_assert_eq(rc, CD_ECORRUPT, "accepted a bad key of %zu bytes", len);
    cr_assert(diag.line > 0 && diag.what != NULL);
    cr_assert_eq(diag.offset, offset, "%s: offset %zu, want %zu", diag.what,
                 diag.offset, offset);
}

Test(key, decode_rejects_bad_bytes) {
    const uint8_t tb[] = {CD_KEY_BOOL}, tf[] = {CD_KEY_FLOAT},
                  td[] = {CD_KEY_DOUBLE}, ts[] = {CD_KEY_STRING},
                  tsi[] = {CD_KEY_STRING, CD_KEY_ID};
    expect_corrupt("\x03", 1, tb, 1, 0);
    expect_corrupt("\xff", 1, tb, 1, 0);
    expect_corrupt("\x7f\xff\xff\xff", 4, tf, 1, 0);  /* -0.0 */
    expect_corrupt("\x00\x00\x00\x01", 4, tf, 1, 0);  /* NaN patterns */
    expect_corrupt("\x00\x7f\xff\xfe", 4, tf, 1, 0);
    expect_corrupt("\xff\x80\x00\x01", 4, tf, 1, 0);
    expect_corrupt("\xff\xff\xff\xff", 4, tf, 1, 0);
    expect_corrupt("\x7f\xff\xff\xff\xff\xff\xff\xff", 8, td, 1, 0);
    expect_corrupt("\x00\x0f\xff\xff\xff\xff\xff\xfe", 8, td, 1, 0);
    expect_corrupt("\xff\xf0\x00\x00\x00\x00\x00\x01", 8, td, 1, 0);
    expect_corrupt("\x00\x00\x00\x00\x00\x00\x00\x01", 8, td, 1, 0);
    expect_corrupt("\x02\x00\x00", 3, ts, 1, 0);        /* bad tag */
    expect_corrupt("\x01" "a\x00\x01\x00\x00", 6, ts, 1, 3); /* bad escape */
    expect_corrupt("\x01" "a\x00\xfe\x00\x00", 6, ts, 1, 3);
    expect_corrupt("\x01" "ab", 3, ts, 1, 3);           /* no terminator */
    expect_corrupt("\x01" "a\x00", 3, ts, 1, 2);        /* half terminator */
    expect_corrupt("\x01" "a\x00\x00" "\x00", 5, ts, 1, 4); /* trailing */
    expect_corrupt("\x00\x00", 2, ts, 1, 1);            /* null + trailing */
    expect_corrupt("\x01\x00\x00" "\x80\x00\x00", 6, tsi, 2, 3);
    expect_corrupt("", 0, tb, 1, 0);
    static char toolong[CD_KEY_SIZE_MAX + 1];
    memset(toolong, 'a', sizeof toolong);
    toolong[0] = 1;
    expect_corrupt(toolong, sizeof toolong, ts, 1, 0);
    cd_key_val v;
    size_t pos = 0;
    cr_assert_eq(cd_key_get((const uint8_t *)"\x01\x00", 2, &pos,
                            CD_KEY_STRING, &v, NULL), CD_ECORRUPT);
    cr_assert_eq(pos, 0);
}

/* Every proper prefix of a valid key, and it plus any byte, is rejected. */
Test(key, decode_rejects_truncation_and_trailing_bytes) {
    rng_state = 11;
    for (int round = 0; round < 200; round++) {
        uint8_t types[4];
        tval v[4];
        unsigned n = 1 + (unsigned)(rnd() % 4);
        for (unsigned i = 0; i < n; i++) {
            types[i] = (uint8_t)(1 + rnd() % CD_KEY_TYPE_MAX);
            v[i] = gen(types[i], (unsigned)(rnd() % 40));
        }
        enc e;
        encode_all(v, n, &e);
        cr_assert_eq(cd_key_decode(e.b, e.len, types, n, NULL, NULL), CD_OK);
        for (uint32_t len = 0; len < e.len; len++) {
            cd_diag diag = {0, NULL, 0};
            cr_assert_eq(cd_key_decode(e.b, len, types, n, NULL, &diag),
                         CD_ECORRUPT, "prefix of %u of %u bytes accepted",
                         len, e.len);
            cr_assert(diag.offset <= len);
        }
        e.b[e.len] = (uint8_t)rnd();
        cd_diag diag = {0, NULL, 0};
        cr_assert_eq(cd_key_decode(e.b, e.len + 1, types, n, NULL, &diag),
                     CD_ECORRUPT);
        cr_assert_eq(diag.offset, e.len);
    }
}

Test(key, decode_rejects_bad_type_lists) {
    const uint8_t ok[] = {CD_KEY_BYTE};
    const uint8_t bad0[] = {0}, bad13[] = {13}, bad80[] = {0x80 | CD_KEY_BYTE};
    uint8_t types[CD_KEY_PARTS_MAX + 1];
    memset(types, CD_KEY_BYTE, sizeof types);
    const uint8_t key[CD_KEY_PARTS_MAX + 1] = {0};
    cr_assert_eq(cd_key_decode(key, 1, ok, 1, NULL, NULL), CD_OK);
    cr_assert_eq(cd_key_decode(key, 0, ok, 0, NULL, NULL), CD_EINVAL);
    cr_assert_eq(cd_key_decode(key, 1, bad0, 1, NULL, NULL), CD_EINVAL);
    cr_assert_eq(cd_key_decode(key, 1, bad13, 1, NULL, NULL), CD_EINVAL);
    cr_assert_eq(cd_key_decode(key, 1, bad80, 1, NULL, NULL), CD_EINVAL);
    cr_assert_eq(cd_key_decode(key, CD_KEY_PARTS_MAX, types, CD_KEY_PARTS_MAX,
                               NULL, NULL), CD_OK);
    cr_assert_eq(cd_key_decode(key, CD_KEY_PARTS_MAX + 1, types,
                               CD_KEY_PARTS_MAX + 1, NULL, NULL), CD_EINVAL);
    cr_assert_eq(cd_key_type_size(CD_KEY_STRING), 0);
    cr_assert_eq(cd_key_type_size(CD_KEY_I16), 2);
    cr_assert_eq(cd_key_type_size(0), 0);
}

Test(key, id_keys) {
    uint8_t a[8], b[8];
    int64_t ids[] = {INT64_MIN, INT64_MIN + 1, -65536, -256, -1, 0, 1, 255,
                     256, 65536, INT64_MAX - 1, INT64_MAX};
    size_t n = sizeof ids / sizeof *ids;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            cd_key_id_encode(a, ids[i]);
            cd_key_id_encode(b, ids[j]);
            cr_assert_eq(sgn(memcmp(a, b, 8)), cmp_i(ids[i], ids[j]));
        }
        int64_t back = 0;
        cr_assert_eq(cd_key_id_decode(a, 8, &back, NULL), CD_OK);
        cr_assert_eq(back, ids[i]);
    }
    int64_t back = 5;
    cd_diag diag = {0, NULL, 0};
    cr_assert_eq(cd_key_id_decode(a, 7, &back, &diag), CD_ECORRUPT);
    cr_assert_eq(diag.offset, 7);
    cr_assert_eq(cd_key_id_decode(a, 9, &back, NULL), CD_ECORRUPT);
    cr_assert_eq(cd_key_index_id(a, 7, &back, NULL), CD_ECORRUPT);
    cr_assert_eq(back, 5);
}
