/*
 * cd_base.c: varints, the UTF-8 validator and the failure path of
 * ISLE_VERIFY.  Pure functions.  The checksum is in cd_sum.c.
 */
#include "cd_base.h"

#include <stdio.h>
#include <stdlib.h>

_Noreturn void cd_verify_failed(const char *expr, const char *file, int line) {
    fprintf(stderr, "isle: invariant violated: %s (%s:%d)\n", expr, file, line);
    abort();
}

size_t cd_varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t cd_varint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

size_t cd_varint_get_slow(const uint8_t *p, const uint8_t *end, uint64_t *v) {
    uint64_t x = 0;
    for (size_t i = 0; i < CD_VARINT_MAX && p + i < end; i++) {
        uint64_t b = p[i];
        if (i == 9 && b > 1)
            return 0; /* overflows 64 bits */
        x |= (b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0)
                return 0; /* not the shortest form */
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

/* Compared against zeros with memcmp, whose vector loop is several times
 * faster than a word loop the compiler does not vectorize at -O2. */
static const uint8_t cd_zeros[1024];

int cd_is_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        size_t k = n < sizeof cd_zeros ? n : sizeof cd_zeros;
        if (memcmp(b, cd_zeros, k) != 0)
            return 0;
        b += k;
        n -= k;
    }
    return 1;
}

/* Non-zero iff some byte of v is zero or has its high bit set.  The
 * zero test, (v - 0x01..) & ~v & 0x80.., is exact whenever no byte has its
 * high bit set, and when one has the word is refused either way. */
static inline uint64_t not_ascii8(uint64_t v) {
    return (v | ((v - 0x0101010101010101u) & ~v)) & 0x8080808080808080u;
}

/* *a and *b get the first and the last w bytes of p[0, n), w <= n, over
 * their first bytes in memory; with dst, those bytes are stored there too
 * (w a constant at each call, so each copy is one load or store). */
static inline void ends(uint64_t *a, uint64_t *b, uint8_t *dst, const uint8_t *p, size_t n,
                        size_t w) {
    memcpy(a, p, w);
    memcpy(b, p + n - w, w);
    if (dst) {
        memcpy(dst, a, w);
        memcpy(dst + n - w, b, w);
    }
}

/* Whether p[0, n), 1 <= n <= 16, is all ASCII and holds no zero byte: two
 * loads of 8, 4, 2 or 1 bytes that overlap in the middle (the bytes a
 * short load leaves are 0x01, which pass).  With dst, the n bytes are
 * also stored there, whatever the answer. */
static inline int ascii_upto16(uint8_t *dst, const uint8_t *p, size_t n) {
    uint64_t a = 0x0101010101010101u, b = a;
    if (n >= 8)
        ends(&a, &b, dst, p, n, 8);
    else if (n >= 4)
        ends(&a, &b, dst, p, n, 4);
    else if (n >= 2)
        ends(&a, &b, dst, p, n, 2);
    else
        ends(&a, &b, dst, p, n, 1);
    return !(not_ascii8(a) | not_ascii8(b));
}

/* How many bytes of s[0, len) whole sixteen-byte blocks of ASCII cover,
 * stopping at the first that is not or with sixteen or fewer left; with
 * dst, they are copied there too. */
static inline size_t ascii_blocks(uint8_t *dst, const uint8_t *s, size_t len) {
    size_t i = 0;
    for (; len - i > 16; i += 16) {
        uint64_t a, b;
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        if (not_ascii8(a) | not_ascii8(b))
            break;
        if (dst) {
            memcpy(dst + i, &a, 8);
            memcpy(dst + i + 8, &b, 8);
        }
    }
    return i;
}

int cd_utf8_valid(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        /* ASCII: sixteen bytes at a time, then the last sixteen or fewer
         * in one go */
        i += ascii_blocks(NULL, s + i, len - i);
        if (len - i <= 16 && ascii_upto16(NULL, s + i, len - i))
            break;
        /* then character by character from the first that is not */
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == 0)
                return 0;
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i < n)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n;
    }
    return 1;
}

int cd_utf8_copy(uint8_t *dst, const uint8_t *s, size_t len) {
    size_t i = ascii_blocks(dst, s, len); /* as cd_utf8_valid, storing as it goes */
    if (len - i <= 16 && (i == len || ascii_upto16(dst + i, s + i, len - i)))
        return 1;
    /* not all ASCII: s[0, i) was, so i is where a character starts */
    if (!cd_utf8_valid(s + i, len - i))
        return 0;
    memcpy(dst + i, s + i, len - i);
    return 1;
}
