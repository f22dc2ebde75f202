/*
 * fz_key.c: fuzz target for the key decoder (cd_key.h).  The input chooses
 * a composite key spec, then holds key bytes:
 *
 *   OFFSET SIZE DESCRIPTION
 *   0      1    low 4 bits: n - 1, the number of components (1..16)
 *   1      n    component types, each 1 + (byte % CD_KEY_TYPE_MAX)
 *   1+n    2    split point: s = (this u16, little-endian) % (len + 1)
 *   3+n    ...  body
 *
 * The whole body is decoded; where that succeeds, the values are encoded
 * again and must give the body back byte for byte, and the body minus its
 * last byte must be rejected.  The body is also split at s into two keys
 * (every input tries a pair); where both decode, the memcmp order of the
 * two (cd_key_cmp) must be the order of their values, compared component
 * by component by the reference comparison below.  Any violation traps.
 * Uses the codec only; builds with gcc too (replay_main.c supplies main).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cd_key.h"
#include "cd_page.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond))                                                          \
            __builtin_trap();                                                 \
    } while (0)

/* Bytes of a decoded string, unescaped into buf. */
static size_t str_bytes(const cd_key_val *v, uint8_t *buf) {
    size_t n = cd_key_str_copy(v, buf);
    CHECK(n == v->str_len && n <= CD_KEY_SIZE_MAX);
    return n;
}

static int cmp3(double a, double b) { return (a > b) - (a < b); }

/* Value order of floating values: the null (NaN) first, -0.0 == +0.0. */
static int cmp_fp(int a_null, double a, int b_null, double b) {
    CHECK(a_null == (isnan(a) != 0) && b_null == (isnan(b) != 0));
    if (a_null || b_null)
        return b_null - a_null;
    return cmp3(a, b);
}

static int cmp_str(const cd_key_val *a, const cd_key_val *b) {
    static uint8_t sa[CD_KEY_SIZE_MAX], sb[CD_KEY_SIZE_MAX];
    if (a->null || b->null)
        return b->null - a->null;
    size_t la = str_bytes(a, sa), lb = str_bytes(b, sb);
    size_t n = la < lb ? la : lb;
    int c = n ? memcmp(sa, sb, n) : 0;
    if (c)
        return (c > 0) - (c < 0);
    return (la > lb) - (la < lb);
}

/* The reference order of two values of the same type. */
static int val_cmp(const cd_key_val *a, const cd_key_val *b) {
    CHECK(a->type == b->type);
    switch (a->type) {
    case CD_KEY_BOOL:
    case CD_KEY_BYTE:
        return (a->b > b->b) - (a->b < b->b);
    case CD_KEY_FLOAT:
        return cmp_fp(a->null, a->f, b->null, b->f);
    case CD_KEY_DOUBLE:
        return cmp_fp(a->null, a->d, b->null, b->d);
    case CD_KEY_STRING:
        return cmp_str(a, b);
    case CD_KEY_HASH:
        return (a->h > b->h) - (a->h < b->h);
    default:
        return (a->i > b->i) - (a->i < b->i);
    }
}

/* Encodes a decoded value again through the public put functions. */
static int put_val(cd_key_builder *kb, const cd_key_val *v) {
    static uint8_t s[CD_KEY_SIZE_MAX];
    switch (v->type) {
    case CD_KEY_BOOL: return cd_key_put_bool(kb, v->b);
    case CD_KEY_BYTE: return cd_key_put_byte(kb, v->b);
    case CD_KEY_I8: CHECK(v->i >= INT8_MIN && v->i <= INT8_MAX);
        return cd_key_put_i8(kb, (int8_t)v->i);
    case CD_KEY_I16: CHECK(v->i >= INT16_MIN && v->i <= INT16_MAX);
        return cd_key_put_i16(kb, (int16_t)v->i);
    case CD_KEY_I32: CHECK(v->i >= INT32_MIN && v->i <= INT32_MAX);
        return cd_key_put_i32(kb, (int32_t)v->i);
    case CD_KEY_I64: return cd_key_put_i64(kb, v->i);
    case CD_KEY_DATETIME: return cd_key_put_datetime(kb, v->i);
    case CD_KEY_FLOAT: return cd_key_put_float(kb, v->f);
    case CD_KEY_DOUBLE: return cd_key_put_double(kb, v->d);
    case CD_KEY_STRING:
        if (v->null)
            return cd_key_put_str(kb, NULL, 0);
        return cd_key_put_str(kb, s, str_bytes(v, s));
    case CD_KEY_HASH: return cd_key_put_hash_raw(kb, v->h);
    case CD_KEY_ID: return cd_key_put_id(kb, v->i);
    default: CHECK(0); return CD_EINVAL;
    }
}

/* Decodes key; on success checks the re-encoding and truncation. */
static int decode_check(const uint8_t *key, size_t len, const uint8_t *types,
                        unsigned n, cd_key_val *out) {
    static uint8_t again[CD_KEY_SIZE_MAX];
    cd_diag diag = {0, NULL, 0};
    int rc = cd_key_decode(key, len, types, n, out, &diag);
    if (rc != CD_OK) {
        CHECK(rc == CD_ECORRUPT && diag.line > 0 && diag.what != NULL);
        CHECK(diag.offset <= len);
        return rc;
    }
    cd_key_builder kb;
    uint32_t alen;
    cd_key_builder_init(&kb, again, sizeof again);
    for (unsigned i = 0; i < n; i++)
        CHECK(put_val(&kb, &out[i]) == CD_OK);
    CHECK(cd_key_builder_finish(&kb, &alen) == CD_OK);
    CHECK(alen == len && memcmp(again, key, len) == 0);
    CHECK(cd_key_decode(key, len - 1, types, n, NULL, NULL) == CD_ECORRUPT);
    if (types[n - 1] == CD_KEY_ID) {
        int64_t id;
        CHECK(cd_key_index_id(key, len, &id, NULL) == CD_OK);
        CHECK(id == out[n - 1].i);
    }
    return CD_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t types[CD_KEY_PARTS_MAX];
    cd_key_val va[CD_KEY_PARTS_MAX], vb[CD_KEY_PARTS_MAX];
    if (size < 1)
        return 0;
    unsigned n = (data[0] & 0x0f) + 1u;
    if (size < 3 + (size_t)n || n > CD_KEY_PARTS_MAX)
        return 0;
    /* i < CD_KEY_PARTS_MAX is implied; it quiets a gcc -O3 false positive */
    for (unsigned i = 0; i < n && i < CD_KEY_PARTS_MAX; i++)
        types[i] = (uint8_t)(1 + data[1 + i] % CD_KEY_TYPE_MAX);
    size_t split = (size_t)data[1 + n] | (size_t)data[2 + n] << 8;
    const uint8_t *body = data + 3 + n;
    size_t len = size - 3 - n;

    decode_check(body, len, types, n, va);
    split %= len + 1;
    if (decode_check(body, split, types, n, va) != CD_OK ||
        decode_check(body + split, len - split, types, n, vb) != CD_OK)
        return 0;
    int want = 0;
    for (unsigned i = 0; i < n && want == 0; i++)
        want = val_cmp(&va[i], &vb[i]);
    int got = cd_key_cmp(body, (uint32_t)split, body + split,
                         (uint32_t)(len - split));
    CHECK(((got > 0) - (got < 0)) == want);
    return 0;
}
