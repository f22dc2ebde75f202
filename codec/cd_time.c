/*
 * cd_time.c: the datetime conversions of cd_time.h.  Splits microseconds
 * into seconds and a non-negative remainder with floor division, checks
 * every multiplication and addition against the int64_t range before doing
 * it, and leaves calendars and time zones to the C library (gmtime_r,
 * timegm, localtime_r, mktime).  No state of its own; uses cd_base.h.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1 /* timegm() */

#include "cd_time.h"

#include <stdint.h>
#include <time.h>

#define US CD_TIME_US_PER_S

/* Floor division of a non-null time by one second: us = *s * US + *rem. */
static void split_us(int64_t us, int64_t *s, int64_t *rem) {
    int64_t q = us / US, r = us % US;
    if (r < 0) {
        q--;
        r += US;
    }
    *s = q;
    *rem = r;
}

/*
 * sec * US + sub_us, for sub_us in [0, US), if the result is a valid
 * (non-null) time.  Negative seconds are computed as (sec + 1) * US minus
 * the rest so that the earliest second, whose start is below INT64_MIN,
 * still converts where its later microseconds fit.
 */
static int join_us(int64_t sec, int64_t sub_us, int64_t *us) {
    ISLE_ASSERT(sub_us >= 0 && sub_us < US);
    if (sec > INT64_MAX / US || sec < INT64_MIN / US - 1)
        return CD_EINVAL;
    if (sec >= 0) {
        int64_t base = sec * US;
        if (base > INT64_MAX - sub_us)
            return CD_EINVAL;
        *us = base + sub_us;
        return CD_OK;
    }
    int64_t base = (sec + 1) * US, down = US - sub_us; /* down in (0, US] */
    if (base < CD_TIME_MIN + down)
        return CD_EINVAL;
    *us = base - down;
    return CD_OK;
}

/* Seconds to time_t, if time_t holds them (always so when it is 64-bit). */
static int to_time_t(int64_t s, time_t *t) {
    time_t x = (time_t)s;
    if ((int64_t)x != s)
        return CD_EINVAL;
    *t = x;
    return CD_OK;
}

int cd_time_to_timespec(int64_t us, struct timespec *ts) {
    int64_t s, rem;
    time_t t;
    if (us == CD_TIME_NULL)
        return CD_EINVAL;
    split_us(us, &s, &rem);
    if (to_time_t(s, &t) != CD_OK)
        return CD_EINVAL;
    ts->tv_sec = t;
    ts->tv_nsec = (long)rem * CD_TIME_NS_PER_US;
    return CD_OK;
}

int cd_time_from_timespec(const struct timespec *ts, int64_t *us) {
    if (ts->tv_nsec < 0 || ts->tv_nsec >= US * CD_TIME_NS_PER_US)
        return CD_EINVAL;
    return join_us((int64_t)ts->tv_sec, ts->tv_nsec / CD_TIME_NS_PER_US, us);
}

int cd_time_to_time_t(int64_t us, time_t *t) {
    int64_t s, rem;
    if (us == CD_TIME_NULL)
        return CD_EINVAL;
    split_us(us, &s, &rem);
    return to_time_t(s, t);
}

int cd_time_from_time_t(time_t t, int64_t *us) {
    return join_us((int64_t)t, 0, us);
}

/* Shared body of the two to_tm functions; conv is gmtime_r or localtime_r. */
static int to_tm(int64_t us, struct tm *out, int32_t *usec,
                 struct tm *(*conv)(const time_t *, struct tm *)) {
    int64_t s, rem;
    time_t t;
    struct tm tmp;
    if (us == CD_TIME_NULL)
        return CD_EINVAL;
    split_us(us, &s, &rem);
    if (to_time_t(s, &t) != CD_OK || conv(&t, &tmp) == NULL)
        return CD_EINVAL; /* e.g. a year that does not fit an int */
    *out = tmp;
    if (usec)
        *usec = (int32_t)rem;
    return CD_OK;
}

int cd_time_to_tm_utc(int64_t us, struct tm *tm, int32_t *usec) {
    return to_tm(us, tm, usec, gmtime_r);
}

int cd_time_to_tm_local(int64_t us, struct tm *tm, int32_t *usec) {
    return to_tm(us, tm, usec, localtime_r);
}

/*
 * Shared body of the two from_tm functions; conv is timegm or mktime.
 * Both return (time_t)-1 on failure, which is also 1969-12-31T23:59:59Z;
 * they set tm_wday only on success, so a tm_wday left at the impossible -1
 * tells the failure apart.
 */
static int from_tm(const struct tm *tm, int32_t usec, int64_t *us,
                   time_t (*conv)(struct tm *)) {
    struct tm tmp = *tm;
    if (usec < 0 || usec >= US)
        return CD_EINVAL;
    tmp.tm_wday = -1;
    time_t t = conv(&tmp);
    if (t == (time_t)-1 && tmp.tm_wday == -1)
        return CD_EINVAL;
    return join_us((int64_t)t, usec, us);
}

int cd_time_from_tm_utc(const struct tm *tm, int32_t usec, int64_t *us) {
    return from_tm(tm, usec, us, timegm);
}

int cd_time_from_tm_local(const struct tm *tm, int32_t usec, int64_t *us) {
    return from_tm(tm, usec, us, mktime);
}
