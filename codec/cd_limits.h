/*
 * cd_limits.h: every limit isle enforces, in one place.
 *
 * Each is checked where data enters (the public API or a decoder) and
 * exceeding it is an error (CD_ETOOBIG / ISLE_ETOOBIG), never a crash or a
 * truncation.  The public ones are repeated in api/isle.h, which checks with
 * static assertions that the two agree.
 */
#ifndef ISLE_CD_LIMITS_H
#define ISLE_CD_LIMITS_H

/* Page sizes: powers of two in [MIN, MAX]; DEFAULT when none is chosen. */
#define CD_PAGE_SIZE_MIN 4096u
#define CD_PAGE_SIZE_MAX 65536u
#define CD_PAGE_SIZE_DEFAULT 4096u

/* Largest encoded object (record), in bytes. */
#define CD_RECORD_SIZE_MAX (16u * 1024 * 1024)
/* Longest string, in bytes of UTF-8, and longest list, in elements. */
#define CD_STRING_LEN_MAX (CD_RECORD_SIZE_MAX - 64u)
#define CD_LIST_LEN_MAX (CD_RECORD_SIZE_MAX / 2u)
/* Embedded objects nest at most this deep (the top-level object is 1). */
#define CD_NEST_DEPTH_MAX 32u
/* Fields in one object or embedded object, and their static section size. */
#define CD_FIELDS_MAX 1024u
#define CD_STATIC_SIZE_MAX 65535u

/* Components in one composite index key, and the largest encoded key. */
#define CD_KEY_PARTS_MAX 16u
#define CD_KEY_SIZE_MAX 512u /* = the B+tree's longest key (bt.h) */

#endif /* ISLE_CD_LIMITS_H */
