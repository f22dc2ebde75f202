/*
 * cd_key.h: the order-preserving encoding of index keys.  A key is a list
 * of typed components encoded one after the other, so that comparing two
 * encodings with cd_key_cmp() (memcmp, shorter first on a common prefix)
 * gives the same answer as comparing the component values one by one.  The
 * B+tree only ever compares encoded keys; values are decoded back only to
 * read an index's contents or to check them.
 *
 * Keys are built with a cd_key_builder over a caller buffer and decoded,
 * given the list of component types, into cd_key_val values.  Pure
 * functions; uses cd_base.h (cd_hash64 for hash components).
 *
 * FORMAT VERSION 1 (CD_FORMAT_VERSION in cd_page.h).  Multi-byte integers
 * in keys are BIG-endian, unlike the rest of the file format, because
 * memcmp must see the most significant byte first.
 *
 * Component types (stored in index definitions: never renumber).  Codes
 * are below 0x80; the high bit is reserved (for a possible "descending"
 * flag that would invert every byte of a component).
 *
 *   CODE TYPE      SIZE      VALUE ORDER
 *   1    bool      1         null < false < true
 *   2    byte      1         0 .. 255
 *   3    i8        1         INT8_MIN .. INT8_MAX
 *   4    i16       2         INT16_MIN .. INT16_MAX
 *   5    i32       4         INT32_MIN .. INT32_MAX
 *   6    i64       8         INT64_MIN .. INT64_MAX
 *   7    datetime  8         as i64 (UTC microseconds since 1970)
 *   8    float     4         NaN (the null) < -inf < ... < -0 = +0 < ... < +inf
 *   9    double    8         as float
 *   10   string    1 | 3+    null < "" < byte-wise (memcmp) order of the bytes
 *   11   hash      8         the 64-bit hash, as an unsigned number
 *   12   id        8         as i64: the object id that ends every index key
 *
 * bool:
 *   OFFSET SIZE DESCRIPTION
 *   0      1    0x00 null, 0x01 false, 0x02 true (CD_KEY_BOOL_*)
 *   Valid iff the byte is <= 0x02.
 *
 * byte, i8, i16, i32, i64, datetime, id (N = 1, 1, 2, 4, 8, 8, 8 bytes):
 *   OFFSET SIZE DESCRIPTION
 *   0      N    byte: the value.  Signed types: the two's complement value
 *               with its sign bit flipped (v ^ 1 << (8N - 1)), big-endian,
 *               so INT_MIN is 00..00, -1 is 7f ff.., 0 is 80 00.., INT_MAX
 *               is ff..ff.
 *   Every N-byte pattern is valid.  The null sentinels of nullable integers
 *   (INT32_MIN for short, INT64_MIN for int and datetime) need no special
 *   case: they are the smallest values, so they sort first like a null.
 *
 * float, double (N = 4, 8; B = the IEEE 754 bits of the value, S = the
 * sign bit 1 << (8N - 1)):
 *   OFFSET SIZE DESCRIPTION
 *   0      N    big-endian K, where: every NaN (the null) gives K = 0; -0.0
 *               is first replaced by +0.0; then K = ~B if B has its sign set
 *               (negative values: larger magnitude, smaller K), else B | S.
 *   -inf gives K = 00 7f ff ff (float), +0.0 gives 80 00 00 00, +inf gives
 *   ff 80 00 00.  Valid iff K = 0, or K is the image of a number that is
 *   not NaN and not -0.0.  So the K of other NaN patterns (0 < K < the K of
 *   -inf, and K above the K of +inf) and the K of -0.0 (7f ff ff ff) are
 *   rejected: every value has exactly one encoding, and decoding then
 *   encoding gives back the same bytes.  A decoded NaN is the canonical
 *   quiet NaN (0x7fc00000, 0x7ff8000000000000).
 *
 * string:
 *   OFFSET SIZE DESCRIPTION
 *   0      1    tag: 0x00 null (the component ends here), 0x01 present
 *   1      E    the string's bytes, each 0x00 written as 0x00 0xff
 *   1+E    2    terminator 0x00 0x00
 *   Valid iff the tag is 0x00 or 0x01 and, after a 0x01 tag, every 0x00
 *   byte is followed by 0xff (an escaped zero) or by 0x00 (the terminator)
 *   and the terminator is present.  Why this orders: up to the first byte
 *   where two strings differ their escaped forms are equal; there, a string
 *   that ended shows 00 00, which is below both a non-zero byte and an
 *   escaped zero 00 ff, and an escaped zero is below any non-zero byte.
 *   No encoding is a proper prefix of another (the tag, and the only 00 00
 *   being the terminator), so components after a string compare only when
 *   the strings are equal.  The bytes are not interpreted: the API checks
 *   that strings are UTF-8, for which byte order is code point order.
 *
 * hash:
 *   OFFSET SIZE DESCRIPTION
 *   0      8    XXH3-64 (cd_hash64, seed CD_KEY_HASH_SEED) of the value's
 *               bytes, big-endian.  Every pattern is valid.
 *
 * A key is valid for a list of n types (1 <= n <= CD_KEY_PARTS_MAX) iff its
 * length is at most CD_KEY_SIZE_MAX and it is exactly the concatenation of
 * n valid components of those types: no truncation, no trailing bytes.
 * Because each component's encodings are prefix-free, a key whose first k
 * components are encoded is a prefix of every key that starts with those
 * values: a range scan over that prefix finds them all.
 *
 * An index key is its indexed components followed by the object id (type
 * id), so entries with equal values are distinct and ordered by id.  The
 * primary key of a collection's tree is the id alone (cd_key_id_encode).
 */
#ifndef ISLE_CD_KEY_H
#define ISLE_CD_KEY_H

#include "cd_base.h"
#include "cd_limits.h"

/* Component types.  Written to disk: never renumber. */
enum cd_key_type {
    CD_KEY_BOOL = 1,
    CD_KEY_BYTE = 2,
    CD_KEY_I8 = 3,
    CD_KEY_I16 = 4,
    CD_KEY_I32 = 5,
    CD_KEY_I64 = 6,
    CD_KEY_DATETIME = 7,
    CD_KEY_FLOAT = 8,
    CD_KEY_DOUBLE = 9,
    CD_KEY_STRING = 10,
    CD_KEY_HASH = 11,
    CD_KEY_ID = 12,
};
#define CD_KEY_TYPE_MAX 12u /* the highest code in use */

/* Stored values of a bool component (and of a bool field). */
#define CD_KEY_BOOL_NULL 0u
#define CD_KEY_BOOL_FALSE 1u
#define CD_KEY_BOOL_TRUE 2u

/* Encoded sizes. */
#define CD_KEY_BOOL_SIZE 1u
#define CD_KEY_BYTE_SIZE 1u
#define CD_KEY_FLOAT_SIZE 4u
#define CD_KEY_DOUBLE_SIZE 8u
#define CD_KEY_HASH_SIZE 8u
#define CD_KEY_ID_SIZE 8u
#define CD_KEY_STR_NULL_SIZE 1u  /* tag only */
#define CD_KEY_STR_OVERHEAD 3u   /* tag and terminator around the bytes */
#define CD_KEY_STR_TAG_NULL 0x00u
#define CD_KEY_STR_TAG_PRESENT 0x01u
#define CD_KEY_STR_ESC 0xffu /* 0x00 0xff is an escaped 0x00 byte */
#define CD_KEY_HASH_SEED 0u
_Static_assert(sizeof(float) == CD_KEY_FLOAT_SIZE, "float is IEEE binary32");
_Static_assert(sizeof(double) == CD_KEY_DOUBLE_SIZE, "double is IEEE binary64");
_Static_assert(CD_KEY_ID_SIZE == sizeof(int64_t), "ids are int64_t");
_Static_assert(CD_KEY_HASH_SIZE == sizeof(uint64_t), "hashes are 64-bit");
_Static_assert(CD_KEY_TYPE_MAX < 0x80u, "the high bit of a type is reserved");
/* An index key (largest fixed component + id) always fits the limit. */
_Static_assert(CD_KEY_PARTS_MAX * 8u <= CD_KEY_SIZE_MAX,
               "CD_KEY_PARTS_MAX fixed-size components fit CD_KEY_SIZE_MAX");

/* 1 iff t is a component type this version knows. */
static inline int cd_key_type_valid(unsigned t) {
    return t >= CD_KEY_BOOL && t <= CD_KEY_TYPE_MAX;
}
/* Encoded size of a fixed-size type; 0 for string and unknown types. */
unsigned cd_key_type_size(unsigned t);

/* ---- building keys ---------------------------------------------------- */

/*
 * Appends components to buf[0, cap).  Each cd_key_put_* returns CD_OK, or:
 *   CD_ETOOBIG  the key would exceed CD_KEY_SIZE_MAX bytes or
 *               CD_KEY_PARTS_MAX components (the id counts as one);
 *   CD_ENOMEM   it would exceed cap (and not the limits above);
 *   CD_EINVAL   a value outside its domain (a bool above 2, a NULL string
 *               with a non-zero length).
 * A failed put writes nothing, and the first error sticks: later puts return
 * it unchanged, and cd_key_builder_finish() reports it, so a caller may put
 * every component and check once.  A buffer of CD_KEY_SIZE_MAX bytes never
 * gives CD_ENOMEM.
 */
typedef struct cd_key_builder {
    uint8_t *buf;
    size_t cap;
    uint32_t len;   /* bytes written */
    uint32_t parts; /* components written */
    int err;        /* first error, or CD_OK */
} cd_key_builder;

void cd_key_builder_init(cd_key_builder *kb, uint8_t *buf, size_t cap);
/* Sets *len to the key's length and returns the first error (CD_OK). */
int cd_key_builder_finish(const cd_key_builder *kb, uint32_t *len);

/* v is CD_KEY_BOOL_NULL, _FALSE or _TRUE. */
int cd_key_put_bool(cd_key_builder *kb, uint8_t v);
int cd_key_put_byte(cd_key_builder *kb, uint8_t v);
int cd_key_put_i8(cd_key_builder *kb, int8_t v);
int cd_key_put_i16(cd_key_builder *kb, int16_t v);
int cd_key_put_i32(cd_key_builder *kb, int32_t v);
int cd_key_put_i64(cd_key_builder *kb, int64_t v);
int cd_key_put_datetime(cd_key_builder *kb, int64_t us);
/* Any NaN is the null; -0.0 is encoded as +0.0. */
int cd_key_put_float(cd_key_builder *kb, float v);
int cd_key_put_double(cd_key_builder *kb, double v);
/*
 * s == NULL (with len 0) is the null string; otherwise [s, s + len), any
 * bytes (the empty string is s != NULL, len 0).  Takes 3 + len + (number of
 * zero bytes) bytes of the key.
 */
int cd_key_put_str(cd_key_builder *kb, const void *s, size_t len);
/* The hash of [data, data + len); _raw stores an already computed hash. */
int cd_key_put_hash(cd_key_builder *kb, const void *data, size_t len);
int cd_key_put_hash_raw(cd_key_builder *kb, uint64_t h);
int cd_key_put_id(cd_key_builder *kb, int64_t id);

/* ---- decoding keys ---------------------------------------------------- */

/*
 * One decoded component.  Which member holds the value depends on type.
 * A string's bytes are not copied: str points into the key at the escaped
 * bytes (between tag and terminator).  When str_len == str_enc_len there
 * is no escape and str is the string itself; otherwise cd_key_str_copy()
 * unescapes it.  The pointer lives as long as the key's buffer.
 */
typedef struct cd_key_val {
    uint8_t type; /* enum cd_key_type */
    uint8_t null; /* 1: a null bool, NaN float or double, null string */
    union {
        uint8_t b; /* bool (CD_KEY_BOOL_*), byte */
        int64_t i; /* i8, i16, i32, i64, datetime, id */
        uint64_t h; /* hash */
        float f;
        double d;
        struct {
            const uint8_t *str;
            uint32_t str_enc_len; /* escaped bytes at str */
            uint32_t str_len;     /* bytes of the string itself */
        };
    };
} cd_key_val;

/*
 * Decodes the component of the given type at key[*pos] (bounded by len)
 * into *out (may be NULL to only check it) and advances *pos past it.
 * Returns CD_OK, CD_EINVAL for an unknown type, or CD_ECORRUPT (truncated,
 * bad bool, non-canonical float, bad string tag or escape) with *diag set
 * (when non-NULL; offsets are from the start of key).
 */
int cd_key_get(const uint8_t *key, size_t len, size_t *pos, unsigned type,
               cd_key_val *out, cd_diag *diag);
/*
 * Decodes a whole key of n components of types[0..n) into out[0..n) (out
 * may be NULL to only validate).  Returns CD_EINVAL if n is 0 or above
 * CD_KEY_PARTS_MAX or a type is unknown (whatever the bytes);
 * CD_ECORRUPT if the key is longer than CD_KEY_SIZE_MAX, a component is
 * invalid, or bytes are left over.  On an error out[] holds nothing useful.
 */
int cd_key_decode(const uint8_t *key, size_t len, const uint8_t *types,
                  unsigned n, cd_key_val *out, cd_diag *diag);

/* Writes a decoded string's str_len bytes to dst; returns str_len. */
size_t cd_key_str_copy(const cd_key_val *v, uint8_t *dst);

/* ---- ids -------------------------------------------------------------- */

/* The primary key of an object in its collection's tree: 8 bytes. */
void cd_key_id_encode(uint8_t out[CD_KEY_ID_SIZE], int64_t id);
/* Decodes an 8-byte id key; CD_ECORRUPT if len is not 8. */
int cd_key_id_decode(const uint8_t *key, size_t len, int64_t *id,
                     cd_diag *diag);
/* The id of a key the caller has checked is CD_KEY_ID_SIZE bytes long
 * (cd_key_id_decode without the check, inline for scans).  The biased
 * big-endian value is unbiased without implementation-defined
 * conversions, which compilers reduce to a byte swap and an add. */
static inline int64_t cd_key_id_get(const uint8_t *key) {
    uint64_t s = cd_get64be(key), half = UINT64_C(1) << 63;
    return s >= half ? (int64_t)(s - half) : -(int64_t)(half - 1 - s) - 1;
}
/*
 * The id at the end of an index key (its last 8 bytes) without decoding
 * the rest; CD_ECORRUPT if the key is shorter than 8 bytes.
 */
int cd_key_index_id(const uint8_t *key, size_t len, int64_t *id,
                    cd_diag *diag);

#endif /* ISLE_CD_KEY_H */
