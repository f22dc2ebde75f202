/*
 * cd_sum.h: the variants behind cd_hash64 (cd_base.h) and cd_page_checksum
 * (cd_page.h), one per instruction set (cd_sum.c).  The codec calls the
 * public two; these are named for the tests, which hold every variant to
 * the same values.
 */
#ifndef ISLE_CD_SUM_H
#define ISLE_CD_SUM_H

#include <stddef.h>
#include <stdint.h>

uint64_t cd_hash64_portable(const void *data, size_t len, uint64_t seed);
uint64_t cd_page_checksum_portable(const uint8_t *page, uint32_t size);

/* 1 if this build has the AVX2 variant and the processor runs it. */
int cd_sum_avx2_available(void);

#if defined(CD_SUM_HAVE_AVX2)
uint64_t cd_hash64_avx2(const void *data, size_t len, uint64_t seed);
uint64_t cd_page_checksum_avx2(const uint8_t *page, uint32_t size);
#endif

#endif
