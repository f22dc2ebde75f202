/*
 * cd_sum.c: the XXH3-64 checksums of every format (cd_hash64 over any bytes,
 * cd_page_checksum over a page with its checksum field taken as zero), with
 * xxhash's code inlined here rather than called in the shared library.
 *
 * This file is compiled twice.  As itself it holds the portable variant
 * (SSE2 on x86-64, the baseline every such processor has) and the two
 * public functions, which pick a variant per call.  cd_sum_avx2.c includes
 * it again with CD_SUM_VARIANT_AVX2, built with -mavx2: the same hash over
 * 32-byte lanes, about 2.5 times as fast over a 4 KiB page here.  XXH3's
 * value does not depend on the vector width, so both variants store and
 * accept the same checksums; tests/codec/test_sum.c holds them to the
 * library's own XXH3_64bits_withSeed.
 *
 * The AVX2 variant clears the upper halves of the vector registers before
 * it returns (vzeroupper).  The compiler leaves that out around xxhash's
 * inline assembly, and on some processors every legacy SSE instruction
 * that follows then runs at a fraction of its speed until the next clear:
 * the portable checksum measured 2.3 times slower after one AVX2 call.
 */
#if !defined(CD_SUM_VARIANT_AVX2)
#include <stdatomic.h>

#include "cd_base.h"
#include "cd_page.h"
#include "cd_sum.h"
#endif

#define XXH_INLINE_ALL
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#if defined(CD_SUM_VARIANT_AVX2)
#include <immintrin.h>
#define SUM_NAME(f) f##_avx2
#define SUM_LEAVE() _mm256_zeroupper()
#else
#define SUM_NAME(f) f##_portable
#define SUM_LEAVE() ((void)0)
#endif

uint64_t SUM_NAME(cd_hash64)(const void *data, size_t len, uint64_t seed) {
    uint64_t h = XXH3_64bits_withSeed(data, len, seed);
    SUM_LEAVE();
    return h;
}

/* Seeded with the page number; bytes [OFF_CHECKSUM, HDR_SIZE) count as the
 * eight zeros the field holds while its own sum is taken (cd_page.h). */
uint64_t SUM_NAME(cd_page_checksum)(const uint8_t *page, uint32_t size) {
    static const uint8_t zero[CD_PAGE_HDR_SIZE - CD_PAGE_OFF_CHECKSUM];
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset_withSeed(&st, cd_page_pgno(page));
    XXH3_64bits_update(&st, page, CD_PAGE_OFF_CHECKSUM);
    XXH3_64bits_update(&st, zero, sizeof zero);
    XXH3_64bits_update(&st, page + CD_PAGE_HDR_SIZE, size - CD_PAGE_HDR_SIZE);
    uint64_t h = XXH3_64bits_digest(&st);
    SUM_LEAVE();
    return h;
}

#if !defined(CD_SUM_VARIANT_AVX2)
/*
 * The processor's AVX2, asked once: __builtin_cpu_init is called first
 * so the answer holds even in a program's constructors, before libgcc
 * has filled in its own (it also checks that the operating system saves
 * the 256-bit registers).  Inputs of up to 240 bytes take XXH3's scalar
 * paths in either variant, so they skip the question.
 */
#if defined(CD_SUM_HAVE_AVX2)
static atomic_int avx2_known; /* 0: not asked yet, 1: no, 2: yes */

static int have_avx2(void) {
    int k = atomic_load_explicit(&avx2_known, memory_order_relaxed);
    if (k == 0) {
        __builtin_cpu_init();
        k = __builtin_cpu_supports("avx2") ? 2 : 1;
        atomic_store_explicit(&avx2_known, k, memory_order_relaxed);
    }
    return k == 2;
}
#endif

static int use_avx2(size_t len) {
#if defined(CD_SUM_HAVE_AVX2)
    return len > 240 && have_avx2();
#else
    (void)len;
    return 0;
#endif
}

int cd_sum_avx2_available(void) { return use_avx2(SIZE_MAX); }

uint64_t cd_hash64(const void *data, size_t len, uint64_t seed) {
#if defined(CD_SUM_HAVE_AVX2)
    if (use_avx2(len))
        return cd_hash64_avx2(data, len, seed);
#endif
    return cd_hash64_portable(data, len, seed);
}

uint64_t cd_page_checksum(const uint8_t *page, uint32_t size) {
#if defined(CD_SUM_HAVE_AVX2)
    if (use_avx2(size))
        return cd_page_checksum_avx2(page, size);
#endif
    return cd_page_checksum_portable(page, size);
}
#endif
