/*
 * test_sum.c: the checksums (cd_sum.c).  Every variant must give XXH3-64 as
 * the xxhash library computes it, for every length and alignment, and a
 * page's checksum must be that hash of the page with its checksum field
 * zeroed, seeded with the page number: files written by one variant are
 * read by the other.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <xxhash.h>

#include "cd_page.h"
#include "cd_sum.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static void fill(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)next();
}

/* Each variant of cd_hash64 against the library, at data + off. */
static void check_hash(const uint8_t *data, size_t len, uint64_t seed) {
    uint64_t want = XXH3_64bits_withSeed(data, len, seed);
    cr_assert_eq(cd_hash64(data, len, seed), want, "len %zu", len);
    cr_assert_eq(cd_hash64_portable(data, len, seed), want, "len %zu", len);
#if defined(CD_SUM_HAVE_AVX2)
    if (cd_sum_avx2_available())
        cr_assert_eq(cd_hash64_avx2(data, len, seed), want, "len %zu", len);
#endif
}

Test(sum, every_variant_is_the_librarys_xxh3) {
    enum { MAX = 20000 };
    uint8_t *buf = malloc(MAX + 8);
    cr_assert(buf);
    fill(buf, MAX + 8);
    /* Every length through XXH3's short, mid-size and first long inputs
     * (its paths change at 16, 128, 240 and each 1 KiB block), then
     * lengths spread up to MAX, each at an odd alignment too. */
    for (size_t len = 0; len <= 2100; len++)
        check_hash(buf, len, next());
    for (size_t len = 2101; len <= MAX; len += 97) {
        check_hash(buf, len, next());
        check_hash(buf + 1 + len % 7, len, len);
    }
    check_hash(buf, 4096, 0);
    check_hash(buf + 3, 4096, UINT64_MAX);
    free(buf);
}

/* The checksum as cd_page.h defines it: XXH3-64 seeded with the page
 * number, of the page with bytes [OFF_CHECKSUM, HDR_SIZE) zeroed. */
static uint64_t page_sum_reference(const uint8_t *page, uint32_t size) {
    uint8_t *copy = malloc(size);
    cr_assert(copy);
    memcpy(copy, page, size);
    memset(copy + CD_PAGE_OFF_CHECKSUM, 0, CD_PAGE_HDR_SIZE - CD_PAGE_OFF_CHECKSUM);
    uint64_t h = XXH3_64bits_withSeed(copy, size, cd_page_pgno(page));
    free(copy);
    return h;
}

Test(sum, a_page_checksum_is_the_hash_of_the_page_with_its_field_zeroed) {
    static uint8_t page[CD_PAGE_SIZE_MAX];
    for (uint32_t size = CD_PAGE_SIZE_MIN; size <= CD_PAGE_SIZE_MAX; size *= 2) {
        for (int round = 0; round < 4; round++) {
            fill(page, size);
            uint64_t want = page_sum_reference(page, size);
            cr_assert_eq(cd_page_checksum(page, size), want, "size %u", size);
            cr_assert_eq(cd_page_checksum_portable(page, size), want, "size %u", size);
#if defined(CD_SUM_HAVE_AVX2)
            if (cd_sum_avx2_available())
                cr_assert_eq(cd_page_checksum_avx2(page, size), want, "size %u", size);
#endif
            /* What the field holds does not count; sealing stores the sum
             * and the sealed page still checks. */
            cd_page_seal(page, size);
            cr_assert_eq(cd_get64(page + CD_PAGE_OFF_CHECKSUM), want);
            cr_assert_eq(cd_page_checksum(page, size), want);
            /* The page number seeds it: the same bytes elsewhere differ. */
            cd_put32(page + 4, cd_page_pgno(page) + 1);
            cr_assert_neq(cd_page_checksum(page, size), want);
        }
    }
}

/* An x86-64 build always carries the AVX2 variant, and uses it exactly
 * when the processor has AVX2: a build that lost it would pass the tests
 * above on the portable code alone. */
Test(sum, the_avx2_variant_runs_where_the_processor_has_it) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if !defined(CD_SUM_HAVE_AVX2)
    cr_fail("an x86-64 build without the AVX2 checksum variant");
#else
    __builtin_cpu_init();
    cr_assert_eq(cd_sum_avx2_available(), __builtin_cpu_supports("avx2") ? 1 : 0);
#endif
#else
    cr_assert_eq(cd_sum_avx2_available(), 0);
#endif
}
