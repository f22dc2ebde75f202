/*
 * cd_key.c: the order-preserving key encoding of cd_key.h.  The builder
 * appends big-endian, sign-flipped integers, order-mapped floats and
 * escaped strings to a caller buffer; the decoder reads them back and
 * rejects every byte string that the builder could not have produced, so
 * that decode then encode gives back the same bytes.  Pure functions; uses
 * cd_base.h.
 */
#include "cd_key.h"

/* The two IEEE 754 formats, seen as unsigned integers of `width` bytes. */
typedef struct fp_fmt {
    unsigned width;
    uint64_t mask; /* all bits of the format */
    uint64_t sign; /* the sign bit */
    uint64_t inf;  /* +inf; a magnitude above it is a NaN */
    uint64_t qnan; /* the canonical quiet NaN a null decodes to */
} fp_fmt;

static const fp_fmt fp32 = {4, 0xffffffffu, 0x80000000u, 0x7f800000u,
                            0x7fc00000u};
static const fp_fmt fp64 = {8, UINT64_MAX, UINT64_C(0x8000000000000000),
                            UINT64_C(0x7ff0000000000000),
                            UINT64_C(0x7ff8000000000000)};

unsigned cd_key_type_size(unsigned t) {
    switch (t) {
    case CD_KEY_BOOL:
    case CD_KEY_BYTE:
    case CD_KEY_I8:
        return 1;
    case CD_KEY_I16:
        return 2;
    case CD_KEY_I32:
    case CD_KEY_FLOAT:
        return 4;
    case CD_KEY_I64:
    case CD_KEY_DATETIME:
    case CD_KEY_DOUBLE:
    case CD_KEY_HASH:
    case CD_KEY_ID:
        return 8;
    default:
        return 0;
    }
}

/* ---- byte helpers ----------------------------------------------------- */

static void put_be(uint8_t *p, uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The n-byte biased form of v: v + 2^(8n-1), i.e. v with its sign flipped. */
static uint64_t int_bias(int64_t v, unsigned n) {
    uint64_t half = UINT64_C(1) << (8 * n - 1);
    uint64_t mask = n == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * n)) - 1;
    return ((uint64_t)v ^ half) & mask;
}

/* Inverse of int_bias, without implementation-defined conversions. */
static int64_t int_unbias(uint64_t s, unsigned n) {
    uint64_t half = UINT64_C(1) << (8 * n - 1);
    if (s >= half)
        return (int64_t)(s - half);
    return -(int64_t)(half - 1 - s) - 1;
}

/* The order-preserving image K of the IEEE bits b (see cd_key.h). */
static uint64_t fp_key(uint64_t b, const fp_fmt *f) {
    uint64_t mag = b & ~f->sign & f->mask;
    if (mag > f->inf)
        return 0; /* every NaN is the null, first */
    if (mag == 0)
        b = 0; /* -0.0 is +0.0 */
    return (b & f->sign) ? ~b & f->mask : b | f->sign;
}

/*
 * Inverse of fp_key.  Returns 1 for the null (*b = canonical NaN), 0 for a
 * number, -1 for a K that fp_key never produces (a NaN pattern, -0.0).
 */
static int fp_unkey(uint64_t k, const fp_fmt *f, uint64_t *b) {
    if (k == 0) {
        *b = f->qnan;
        return 1;
    }
    uint64_t x = (k & f->sign) ? k & ~f->sign : ~k & f->mask;
    uint64_t mag = x & ~f->sign & f->mask;
    if (mag > f->inf || (mag == 0 && (x & f->sign)))
        return -1;
    *b = x;
    return 0;
}

/* ---- builder ---------------------------------------------------------- */

void cd_key_builder_init(cd_key_builder *kb, uint8_t *buf, size_t cap) {
    ISLE_ASSERT(buf != NULL || cap == 0);
    kb->buf = buf;
    kb->cap = cap;
    kb->len = 0;
    kb->parts = 0;
    kb->err = CD_OK;
}

int cd_key_builder_finish(const cd_key_builder *kb, uint32_t *len) {
    *len = kb->len;
    return kb->err;
}

static int fail(cd_key_builder *kb, int err) {
    kb->err = err;
    return err;
}

/* Claims n bytes for one component, or records why it cannot. */
static int reserve(cd_key_builder *kb, size_t n, uint8_t **dst) {
    if (kb->err)
        return kb->err;
    ISLE_ASSERT(kb->len <= CD_KEY_SIZE_MAX && kb->len <= kb->cap);
    if (kb->parts >= CD_KEY_PARTS_MAX || n > CD_KEY_SIZE_MAX - kb->len)
        return fail(kb, CD_ETOOBIG);
    if (n > kb->cap - kb->len)
        return fail(kb, CD_ENOMEM);
    *dst = kb->buf + kb->len;
    kb->len += (uint32_t)n;
    kb->parts++;
    return CD_OK;
}

static int put_fixed(cd_key_builder *kb, uint64_t v, unsigned n) {
    uint8_t *p;
    int rc = reserve(kb, n, &p);
    if (rc == CD_OK)
        put_be(p, v, n);
    return rc;
}

int cd_key_put_bool(cd_key_builder *kb, uint8_t v) {
    if (kb->err)
        return kb->err;
    if (v > CD_KEY_BOOL_TRUE)
        return fail(kb, CD_EINVAL);
    return put_fixed(kb, v, CD_KEY_BOOL_SIZE);
}

int cd_key_put_byte(cd_key_builder *kb, uint8_t v) {
    return put_fixed(kb, v, CD_KEY_BYTE_SIZE);
}

int cd_key_put_i8(cd_key_builder *kb, int8_t v) {
    return put_fixed(kb, int_bias(v, 1), 1);
}

int cd_key_put_i16(cd_key_builder *kb, int16_t v) {
    return put_fixed(kb, int_bias(v, 2), 2);
}

int cd_key_put_i32(cd_key_builder *kb, int32_t v) {
    return put_fixed(kb, int_bias(v, 4), 4);
}

int cd_key_put_i64(cd_key_builder *kb, int64_t v) {
    return put_fixed(kb, int_bias(v, 8), 8);
}

int cd_key_put_datetime(cd_key_builder *kb, int64_t us) {
    return put_fixed(kb, int_bias(us, 8), 8);
}

int cd_key_put_id(cd_key_builder *kb, int64_t id) {
    return put_fixed(kb, int_bias(id, CD_KEY_ID_SIZE), CD_KEY_ID_SIZE);
}

int cd_key_put_float(cd_key_builder *kb, float v) {
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return put_fixed(kb, fp_key(b, &fp32), CD_KEY_FLOAT_SIZE);
}

int cd_key_put_double(cd_key_builder *kb, double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return put_fixed(kb, fp_key(b, &fp64), CD_KEY_DOUBLE_SIZE);
}

int cd_key_put_hash_raw(cd_key_builder *kb, uint64_t h) {
    return put_fixed(kb, h, CD_KEY_HASH_SIZE);
}

int cd_key_put_hash(cd_key_builder *kb, const void *data, size_t len) {
    if (kb->err)
        return kb->err;
    if (data == NULL && len != 0)
        return fail(kb, CD_EINVAL);
    return cd_key_put_hash_raw(kb, cd_hash64(data, len, CD_KEY_HASH_SEED));
}

int cd_key_put_str(cd_key_builder *kb, const void *s, size_t len) {
    uint8_t *p;
    if (kb->err)
        return kb->err;
    if (s == NULL) {
        if (len != 0)
            return fail(kb, CD_EINVAL);
        int rc = reserve(kb, CD_KEY_STR_NULL_SIZE, &p);
        if (rc == CD_OK)
            p[0] = CD_KEY_STR_TAG_NULL;
        return rc;
    }
    /* Bound len before scanning it: a huge string must not be read. */
    if (len > CD_KEY_SIZE_MAX)
        return fail(kb, CD_ETOOBIG);
    const uint8_t *src = s;
    size_t zeros = 0;
    for (size_t i = 0; i < len; i++)
        zeros += src[i] == 0;
    int rc = reserve(kb, CD_KEY_STR_OVERHEAD + len + zeros, &p);
    if (rc != CD_OK)
        return rc;
    size_t o = 0;
    p[o++] = CD_KEY_STR_TAG_PRESENT;
    for (size_t i = 0; i < len; i++) {
        p[o++] = src[i];
        if (src[i] == 0)
            p[o++] = CD_KEY_STR_ESC;
    }
    p[o++] = 0;
    p[o++] = 0;
    ISLE_ASSERT(o == CD_KEY_STR_OVERHEAD + len + zeros);
    return CD_OK;
}

/* ---- decoder ---------------------------------------------------------- */

/*
 * Reads the string component whose tag is at key[*pos]; the caller checked
 * that the tag byte is in bounds.
 */
static int get_str(const uint8_t *key, size_t len, size_t *pos,
                   cd_key_val *out, cd_diag *diag) {
    size_t start = *pos;
    uint8_t tag = key[start];
    if (tag == CD_KEY_STR_TAG_NULL) {
        out->null = 1;
        out->str = NULL;
        out->str_enc_len = 0;
        out->str_len = 0;
        *pos = start + 1;
        return CD_OK;
    }
    if (tag != CD_KEY_STR_TAG_PRESENT)
        return CD_CORRUPT(diag, "key: bad string tag", start);
    size_t i = start + 1, n = 0;
    for (;;) {
        if (i >= len)
            return CD_CORRUPT(diag, "key: unterminated string", i);
        if (key[i] != 0) {
            i++, n++;
            continue;
        }
        if (i + 1 >= len)
            return CD_CORRUPT(diag, "key: string ends inside an escape", i);
        if (key[i + 1] == 0)
            break;
        if (key[i + 1] != CD_KEY_STR_ESC)
            return CD_CORRUPT(diag, "key: bad string escape", i + 1);
        i += 2, n++;
    }
    out->null = 0;
    out->str = key + start + 1;
    out->str_enc_len = (uint32_t)(i - start - 1);
    out->str_len = (uint32_t)n;
    *pos = i + 2;
    return CD_OK;
}

static int get_float(uint64_t k, const fp_fmt *f, cd_key_val *out,
                     cd_diag *diag, size_t at) {
    uint64_t b;
    int r = fp_unkey(k, f, &b);
    if (r < 0)
        return CD_CORRUPT(diag, "key: non-canonical float", at);
    out->null = (uint8_t)r;
    if (f->width == 4) {
        uint32_t b32 = (uint32_t)b;
        memcpy(&out->f, &b32, sizeof out->f);
    } else {
        memcpy(&out->d, &b, sizeof out->d);
    }
    return CD_OK;
}

/* Decodes a fixed-size component of n bytes at key[at], in bounds. */
static int get_fixed(const uint8_t *key, size_t at, unsigned type, unsigned n,
                     cd_key_val *out, cd_diag *diag) {
    uint64_t v = get_be(key + at, n);
    out->null = 0;
    switch (type) {
    case CD_KEY_BOOL:
        if (v > CD_KEY_BOOL_TRUE)
            return CD_CORRUPT(diag, "key: bad bool", at);
        out->b = (uint8_t)v;
        out->null = v == CD_KEY_BOOL_NULL;
        return CD_OK;
    case CD_KEY_BYTE:
        out->b = (uint8_t)v;
        return CD_OK;
    case CD_KEY_FLOAT:
        return get_float(v, &fp32, out, diag, at);
    case CD_KEY_DOUBLE:
        return get_float(v, &fp64, out, diag, at);
    case CD_KEY_HASH:
        out->h = v;
        return CD_OK;
    default: /* the signed integers, datetime and id */
        out->i = int_unbias(v, n);
        return CD_OK;
    }
}

int cd_key_get(const uint8_t *key, size_t len, size_t *pos, unsigned type,
               cd_key_val *out, cd_diag *diag) {
    cd_key_val scratch;
    size_t at = *pos;
    if (!cd_key_type_valid(type))
        return CD_EINVAL;
    if (out == NULL)
        out = &scratch;
    memset(out, 0, sizeof *out);
    out->type = (uint8_t)type;
    if (at >= len)
        return CD_CORRUPT(diag, "key: truncated before a component", at);
    if (type == CD_KEY_STRING)
        return get_str(key, len, pos, out, diag);
    unsigned n = cd_key_type_size(type);
    if (n > len - at)
        return CD_CORRUPT(diag, "key: truncated component", at);
    int rc = get_fixed(key, at, type, n, out, diag);
    if (rc == CD_OK)
        *pos = at + n;
    return rc;
}

int cd_key_decode(const uint8_t *key, size_t len, const uint8_t *types,
                  unsigned n, cd_key_val *out, cd_diag *diag) {
    if (n == 0 || n > CD_KEY_PARTS_MAX)
        return CD_EINVAL;
    for (unsigned i = 0; i < n; i++) {
        if (!cd_key_type_valid(types[i]))
            return CD_EINVAL;
    }
    if (len > CD_KEY_SIZE_MAX)
        return CD_CORRUPT(diag, "key: longer than CD_KEY_SIZE_MAX", 0);
    size_t pos = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = cd_key_get(key, len, &pos, types[i], out ? &out[i] : NULL,
                            diag);
        if (rc != CD_OK)
            return rc;
    }
    if (pos != len)
        return CD_CORRUPT(diag, "key: trailing bytes", pos);
    return CD_OK;
}

size_t cd_key_str_copy(const cd_key_val *v, uint8_t *dst) {
    size_t o = 0;
    ISLE_ASSERT(v->type == CD_KEY_STRING);
    for (size_t i = 0; i < v->str_enc_len; i++) {
        dst[o++] = v->str[i];
        if (v->str[i] == 0)
            i++; /* skip the 0xff of an escaped zero */
    }
    ISLE_ASSERT(o == v->str_len);
    return o;
}

/* ---- ids -------------------------------------------------------------- */

void cd_key_id_encode(uint8_t out[CD_KEY_ID_SIZE], int64_t id) {
    put_be(out, int_bias(id, CD_KEY_ID_SIZE), CD_KEY_ID_SIZE);
}

int cd_key_id_decode(const uint8_t *key, size_t len, int64_t *id,
                     cd_diag *diag) {
    if (len != CD_KEY_ID_SIZE)
        return CD_CORRUPT(diag, "id key: length is not 8", len);
    *id = cd_key_id_get(key);
    return CD_OK;
}

int cd_key_index_id(const uint8_t *key, size_t len, int64_t *id,
                    cd_diag *diag) {
    if (len < CD_KEY_ID_SIZE)
        return CD_CORRUPT(diag, "index key: shorter than an id", len);
    size_t at = len - CD_KEY_ID_SIZE;
    *id = int_unbias(get_be(key + at, CD_KEY_ID_SIZE), CD_KEY_ID_SIZE);
    return CD_OK;
}
