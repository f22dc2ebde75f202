/*
 * cd_sum_avx2.c: cd_sum.c's checksums again, built with -mavx2 where the
 * build targets x86-64 (codec/CMakeLists.txt), for cd_sum.c to call when
 * the processor has AVX2.  Elsewhere this file holds nothing.
 */
#include "cd_base.h"
#include "cd_page.h"
#include "cd_sum.h"

#if defined(CD_SUM_HAVE_AVX2)
#define CD_SUM_VARIANT_AVX2
#include "cd_sum.c"
#endif
