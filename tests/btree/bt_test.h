/*
 * bt_test.h: helpers the btree tests share: deterministic keys and
 * values, a seeded generator, and assertions on a whole tree's contents
 * and on pin balance.  Everything is static inline so each test file
 * stands alone.
 */
#ifndef ISLE_TEST_BT_TEST_H
#define ISLE_TEST_BT_TEST_H

#include <criterion/criterion.h>
#include <stdlib.h>

#include "bt.h"
#include "mem_pager.h"

/* xorshift64*: the tests' only source of randomness. */
static inline uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static inline uint32_t rng_below(uint64_t *s, uint32_t n) {
    return (uint32_t)(rng_next(s) % n);
}

/* The 8-byte big-endian key of i (memcmp order is numeric order). */
static inline void key_u64(uint64_t i, uint8_t out[8]) {
    for (int b = 0; b < 8; b++)
        out[b] = (uint8_t)(i >> (56 - 8 * b));
}

/* Value bytes derived from (seed, len), so a model stores two numbers. */
static inline void val_fill(uint8_t *dst, uint32_t len, uint32_t seed) {
    uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ull + len + 1;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t r = rng_next(&s);
        memcpy(dst + i, &r, 8); /* byte order does not matter here */
    }
    uint64_t r = rng_next(&s);
    for (int b = 0; b < 8 && i < len; b++, i++)
        dst[i] = (uint8_t)(r >> (8 * b));
}

/* Asserts value v is exactly (seed, len). */
static inline void val_expect(const bt_val *v, uint32_t len, uint32_t seed) {
    cr_assert_eq(v->len, len, "value length %u, expected %u", v->len, len);
    if (len == 0)
        return;
    uint8_t *want = malloc(len);
    cr_assert_not_null(want);
    val_fill(want, len, seed);
    cr_assert(memcmp(v->data, want, len) == 0, "value bytes differ (len %u)", len);
    free(want);
}

/* Puts (seed, len) under key. */
static inline int put_val(const bt_pager *pg, bt_tree *t, const void *key,
                          uint32_t klen, uint32_t len, uint32_t seed,
                          unsigned flags) {
    uint8_t small[256], *buf = len <= sizeof small ? small : malloc(len);
    cr_assert_not_null(buf);
    val_fill(buf, len, seed);
    int rc = bt_put(pg, t, key, klen, buf, len, flags);
    if (buf != small)
        free(buf);
    return rc;
}

/* Asserts key holds (seed, len). */
static inline void get_expect(const bt_pager *pg, const bt_tree *t, const void *key,
                              uint32_t klen, uint32_t len, uint32_t seed) {
    bt_val v;
    int rc = bt_get(pg, t, key, klen, &v);
    cr_assert_eq(rc, 0, "bt_get: %d", rc);
    val_expect(&v, len, seed);
    bt_val_release(pg, &v);
}

/* bt_check must pass; returns the number of pages it visited. */
static inline void count_visit(void *arg, uint32_t pgno, uint8_t type) {
    (void)pgno;
    (void)type;
    (*(uint64_t *)arg)++;
}
static inline uint64_t check_ok(const bt_pager *pg, const bt_tree *t) {
    cd_diag diag = {0};
    uint32_t bad = 0;
    uint64_t pages = 0;
    int rc = bt_check(pg, t, count_visit, &pages, &diag, &bad);
    cr_assert_eq(rc, 0, "bt_check: %d at page %u: %s (line %d, offset %zu)", rc, bad,
                 diag.what ? diag.what : "-", diag.line, diag.offset);
    return pages;
}

#define ASSERT_PINS(mp, n) \
    cr_assert_eq(mem_pager_pins(mp), (uint64_t)(n), "pins %llu, expected %llu", \
                 (unsigned long long)mem_pager_pins(mp), (unsigned long long)(n))

/* Commits and asserts it worked (every written page well-formed). */
static inline void commit_ok(mem_pager *mp, const bt_tree *t) {
    int rc = mem_pager_commit(mp, t);
    cr_assert_eq(rc, 0, "mem_pager_commit: %d", rc);
}

#endif /* ISLE_TEST_BT_TEST_H */
