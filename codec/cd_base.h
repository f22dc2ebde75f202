/*
 * cd_base.h: what every codec file shares: status codes, the diagnostic
 * record a decoder fills in when it rejects bytes, assertions, and the
 * little-endian loads and stores every on-disk format is written with.
 *
 * The codec includes nothing of isle's own.  Its status codes have the same
 * values as the ISLE_E* codes of api/isle.h (api/ checks that with static
 * assertions), so a codec status can be returned to a caller unchanged.
 */
#ifndef ISLE_CD_BASE_H
#define ISLE_CD_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Status codes: 0 is success, negative is failure.  These are isle's one
 * list of codes, used by every layer; api/isle.h publishes the same values
 * as ISLE_E*.  Never renumber.
 */
enum {
    CD_OK = 0,
    CD_EINVAL = -1,    /* an argument is out of its documented domain */
    CD_ECORRUPT = -2,  /* bytes from outside are malformed */
    CD_ENOMEM = -3,    /* out of memory, or a caller buffer too small */
    CD_EIO = -4,       /* the operating system reported an I/O error */
    CD_ENOTDB = -5,    /* not an isle file */
    CD_EVERSION = -6,  /* format newer than this library */
    CD_EBUSY = -7,     /* locked elsewhere, or still in use */
    CD_ETOOBIG = -8,   /* a named limit (cd_limits.h) was exceeded */
    CD_ENOTFOUND = -9, /* no such key, object or name */
    CD_ESCHEMA = -10,  /* schema disagrees with the stored one */
    CD_EFULL = -11,    /* disk full */
    CD_ECANCELED = -12,
    CD_EDEADLK = -13,
    CD_EREADONLY = -14,
    CD_EREOPEN = -15,  /* a sync failed: the handle must be reopened */
    CD_ECLOSED = -16,
    CD_EAGAIN = -17,
    CD_EEXIST = -18,   /* the key or name exists already */
};

/*
 * Where and why a decoder rejected its input.  Filled in (when the caller
 * passes one) on every CD_ECORRUPT: the source line that detected it, a
 * static message, and the byte offset within the input where it applies.
 */
typedef struct cd_diag {
    int line;
    const char *what;
    size_t offset;
} cd_diag;

/* Records a corruption finding in *diag (if non-NULL); returns CD_ECORRUPT. */
static inline int cd_corrupt_at(cd_diag *diag, int line, const char *what,
                                size_t offset) {
    if (diag) {
        diag->line = line;
        diag->what = what;
        diag->offset = offset;
    }
    return CD_ECORRUPT;
}
#define CD_CORRUPT(diag, what, offset) \
    cd_corrupt_at((diag), __LINE__, (what), (offset))

/*
 * ISLE_ASSERT checks a programmer's invariant in debug builds.  ISLE_VERIFY
 * checks a cheap critical invariant in every build.  Neither is ever used
 * on bytes that came from a file or from a caller: those get an error.
 */
_Noreturn void cd_verify_failed(const char *expr, const char *file, int line);
#define ISLE_VERIFY(expr) \
    ((expr) ? (void)0 : cd_verify_failed(#expr, __FILE__, __LINE__))
#ifdef ISLE_DEBUG
#define ISLE_ASSERT(expr) ISLE_VERIFY(expr)
#else
#define ISLE_ASSERT(expr) ((void)0)
#endif

/* ---- little-endian loads and stores (no alignment assumed) ---------- */

static inline uint16_t cd_get16(const uint8_t *p) {
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t cd_get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t cd_get64(const uint8_t *p) {
    return (uint64_t)cd_get32(p) | (uint64_t)cd_get32(p + 4) << 32;
}
/* Big-endian 64-bit load (compilers make it one load and a byte swap). */
static inline uint64_t cd_get64be(const uint8_t *p) {
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
           (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
           (uint64_t)p[6] << 8 | (uint64_t)p[7];
}
static inline void cd_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void cd_put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void cd_put64(uint8_t *p, uint64_t v) {
    cd_put32(p, (uint32_t)v);
    cd_put32(p + 4, (uint32_t)(v >> 32));
}

/* Unsigned LEB128 varints, at most CD_VARINT_MAX bytes for a uint64_t. */
#define CD_VARINT_MAX 10
size_t cd_varint_put(uint8_t *p, uint64_t v);
size_t cd_varint_len(uint64_t v);
/*
 * Reads a varint from [p, end).  Returns the number of bytes read, or 0 if
 * it runs past end, is longer than CD_VARINT_MAX, overflows 64 bits, or is
 * not in its shortest form (so every value has exactly one encoding).
 */
size_t cd_varint_get_slow(const uint8_t *p, const uint8_t *end, uint64_t *v);
static inline size_t cd_varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v) {
    if (p < end && p[0] < 0x80) { /* the common case: one byte */
        *v = p[0];
        return 1;
    }
    /* two bytes (values 128 .. 16383: a leaf cell's value word, a string's
     * length): the last byte is 1 .. 0x7f, as 0 is not the shortest form */
    if (end - p >= 2 && (uint8_t)(p[1] - 1u) < 0x7fu) {
        *v = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
        return 2;
    }
    return cd_varint_get_slow(p, end, v);
}

/* Marks a function that runs only when something went wrong, so the
 * compiler keeps it out of line and its callers' fast paths short. */
#if defined(__GNUC__) || defined(__clang__)
#define CD_COLD __attribute__((noinline, cold))
#else
#define CD_COLD
#endif

/* A hint that the cache line holding p will be read soon; never faults,
 * whatever p points at.  A no-op for compilers without the builtin. */
static inline void cd_prefetch(const void *p) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}

/* XXH3-64 of [data, data+len) with a seed: the checksum of every format. */
uint64_t cd_hash64(const void *data, size_t len, uint64_t seed);
/* 1 if the n bytes at p are all zero (any n, any alignment). */
int cd_is_zero(const void *p, size_t n);

/*
 * True iff [s, s+len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) and contains no NUL byte.
 */
int cd_utf8_valid(const uint8_t *s, size_t len);
/* cd_utf8_valid(s, len), copying s to dst[0, len) (not overlapping s) on
 * the way: 1 and the copy, or 0 and dst[0, len) unspecified. */
int cd_utf8_copy(uint8_t *dst, const uint8_t *s, size_t len);

#endif /* ISLE_CD_BASE_H */
