/*
 * cd_time.h: conversions between isle's datetime (an int64_t count of UTC
 * microseconds since 1970-01-01T00:00:00Z, INT64_MIN meaning null) and the
 * C library's struct timespec, time_t and broken-down struct tm, in UTC or
 * in local time.  Uses the C library only (gmtime_r, timegm, localtime_r,
 * mktime); reading the clock is left to the API layer.
 *
 * Rules shared by every function:
 *
 * - Rounding is always toward minus infinity (floor), never toward zero:
 *   -1 us is 1969-12-31T23:59:59.999999Z, so its time_t is -1 and its
 *   timespec is {-1, 999999000}.  Converting to a coarser unit (us to
 *   time_t, ns to us) drops the finer part that way; converting to a finer
 *   one is exact.
 * - Every function returns CD_OK or CD_EINVAL, and writes its output only
 *   on CD_OK.  CD_EINVAL means: the input is the null (CD_TIME_NULL), is
 *   malformed (tv_nsec outside [0, 999999999], a usec outside [0, 999999]),
 *   or its value cannot be represented in the output (seconds whose
 *   microseconds overflow int64_t, or land on INT64_MIN, which is taken by
 *   the null; a year that does not fit an int).  Overflow is CD_EINVAL, not
 *   CD_ETOOBIG, because it is not one of the limits of cd_limits.h: the
 *   argument is simply outside the function's domain.
 * - Every other int64_t value is a valid time: CD_TIME_MIN .. CD_TIME_MAX,
 *   about 292,000 years either side of 1970 (proleptic Gregorian).
 *
 * The local-time functions depend on the process's time zone (the TZ
 * variable, else the system's): the only input of this module that is not
 * an argument.  After changing TZ call tzset(): localtime_r() is not
 * required to notice the change by itself.
 */
#ifndef ISLE_CD_TIME_H
#define ISLE_CD_TIME_H

#include <time.h>

#include "cd_base.h"

#define CD_TIME_NULL INT64_MIN     /* a null datetime */
#define CD_TIME_MIN (INT64_MIN + 1) /* the earliest valid datetime */
#define CD_TIME_MAX INT64_MAX       /* the latest valid datetime */
#define CD_TIME_US_PER_S INT64_C(1000000)
#define CD_TIME_NS_PER_US 1000L
_Static_assert(sizeof(int64_t) == 8, "datetimes are 64-bit");

/* us -> {tv_sec = floor(us / 1e6), tv_nsec = rest * 1000}: exact. */
int cd_time_to_timespec(int64_t us, struct timespec *ts);
/* ts -> floor(ts in us): the nanoseconds below a microsecond are dropped. */
int cd_time_from_timespec(const struct timespec *ts, int64_t *us);

/* us -> floor(us / 1e6): the microseconds below a second are dropped. */
int cd_time_to_time_t(int64_t us, time_t *t);
/* t -> t * 1e6: exact. */
int cd_time_from_time_t(time_t t, int64_t *us);

/*
 * us -> broken-down time in UTC (gmtime_r) or local time (localtime_r),
 * plus the microseconds within the second in *usec (may be NULL).  tm_wday,
 * tm_yday and tm_isdst are set as those functions set them.
 */
int cd_time_to_tm_utc(int64_t us, struct tm *tm, int32_t *usec);
int cd_time_to_tm_local(int64_t us, struct tm *tm, int32_t *usec);
/*
 * Broken-down time plus usec (in [0, 999999]) -> us, reading *tm as UTC
 * (timegm) or as local time (mktime).  Out-of-range fields are normalised
 * as those functions do (March 32 is April 1); tm_wday and tm_yday are
 * ignored.  For local time, tm_isdst > 0 or == 0 says whether DST is in
 * effect and < 0 lets the library decide, which picks one of the two
 * instants of a repeated hour.  *tm is not modified.
 */
int cd_time_from_tm_utc(const struct tm *tm, int32_t usec, int64_t *us);
int cd_time_from_tm_local(const struct tm *tm, int32_t usec, int64_t *us);

#endif /* ISLE_CD_TIME_H */
