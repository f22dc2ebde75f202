/*
 * test_time.c: tests of the datetime conversions (cd_time.h): exact round
 * trips between microseconds, timespec and time_t, floor rounding of
 * negative times, the null and the edges of the int64_t range, broken-down
 * UTC for known dates, and local time in America/New_York (skipped only
 * when that zoneinfo file is missing).  Links only the codec.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1 /* tm_gmtoff */

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cd_time.h"

static struct timespec ts_of(int64_t sec, long nsec) {
    struct timespec ts;
    ts.tv_sec = (time_t)sec;
    ts.tv_nsec = nsec;
    return ts;
}

static void expect_from_ts(int64_t sec, long nsec, int64_t want) {
    struct timespec ts = ts_of(sec, nsec);
    int64_t us = 12345;
    cr_assert_eq(cd_time_from_timespec(&ts, &us), CD_OK, "{%lld, %ld}",
                 (long long)sec, nsec);
    cr_assert_eq(us, want, "{%lld, %ld}: %lld != %lld", (long long)sec, nsec,
                 (long long)us, (long long)want);
}

static void expect_from_ts_einval(int64_t sec, long nsec) {
    struct timespec ts = ts_of(sec, nsec);
    int64_t us = 12345;
    cr_assert_eq(cd_time_from_timespec(&ts, &us), CD_EINVAL, "{%lld, %ld}",
                 (long long)sec, nsec);
    cr_assert_eq(us, 12345, "output written on error");
}

static void expect_to_ts(int64_t us, int64_t sec, long nsec) {
    struct timespec ts = ts_of(7, 7);
    cr_assert_eq(cd_time_to_timespec(us, &ts), CD_OK);
    cr_assert_eq((int64_t)ts.tv_sec, sec, "%lld", (long long)us);
    cr_assert_eq(ts.tv_nsec, nsec, "%lld", (long long)us);
}

Test(time, timespec_exact_and_floor) {
    expect_to_ts(0, 0, 0);
    expect_to_ts(1, 0, 1000);
    expect_to_ts(-1, -1, 999999000);
    expect_to_ts(-1000000, -1, 0);
    expect_to_ts(-1000001, -2, 999999000);
    expect_to_ts(1500000, 1, 500000000);
    expect_to_ts(CD_TIME_MAX, INT64_C(9223372036854), 775807000);
    expect_to_ts(CD_TIME_MIN, -INT64_C(9223372036855), 224193000);

    expect_from_ts(0, 0, 0);
    expect_from_ts(0, 1999, 1);       /* nanoseconds drop, floor */
    expect_from_ts(-1, 999999999, -1); /* -1 ns floors to -1 us */
    expect_from_ts(-1, 1, -1000000);
    expect_from_ts(-1, 0, -1000000);
    expect_from_ts(1, 500000000, 1500000);
    expect_from_ts(INT64_C(9223372036854), 775807999, CD_TIME_MAX);
    expect_from_ts(-INT64_C(9223372036855), 224193000, CD_TIME_MIN);
}

Test(time, timespec_domain_errors) {
    expect_from_ts_einval(0, -1);
    expect_from_ts_einval(0, 1000000000);
    expect_from_ts_einval(INT64_C(9223372036854), 775808000); /* > MAX */
    expect_from_ts_einval(INT64_C(9223372036855), 0);
    expect_from_ts_einval(INT64_MAX, 0);
    /* this lands exactly on INT64_MIN, which is the null */
    expect_from_ts_einval(-INT64_C(9223372036855), 224192999);
    expect_from_ts_einval(-INT64_C(9223372036856), 999999999);
    expect_from_ts_einval(INT64_MIN, 0);

    struct timespec ts = ts_of(7, 7);
    cr_assert_eq(cd_time_to_timespec(CD_TIME_NULL, &ts), CD_EINVAL);
    cr_assert_eq(ts.tv_sec, 7);
    cr_assert_eq(ts.tv_nsec, 7);
}

Test(time, time_t_round_trips) {
    time_t t = 5;
    int64_t us = 5;
    const int64_t cases[][2] = {
        {0, 0}, {999999, 0}, {1000000, 1}, {-1, -1}, {-999999, -1},
        {-1000000, -1}, {-1000001, -2}, {CD_TIME_MAX, INT64_MAX / 1000000},
        {CD_TIME_MIN, INT64_MIN / 1000000 - 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cr_assert_eq(cd_time_to_time_t(cases[i][0], &t), CD_OK);
        cr_assert_eq((int64_t)t, cases[i][1], "%lld",
                     (long long)cases[i][0]);
    }
    cr_assert_eq(cd_time_to_time_t(CD_TIME_NULL, &t), CD_EINVAL);

    cr_assert_eq(cd_time_from_time_t(-1, &us), CD_OK);
    cr_assert_eq(us, -1000000);
    cr_assert_eq(cd_time_from_time_t((time_t)(INT64_MAX / 1000000), &us),
                 CD_OK);
    cr_assert_eq(us, INT64_C(9223372036854000000));
    cr_assert_eq(cd_time_from_time_t((time_t)(INT64_MIN / 1000000), &us),
                 CD_OK);
    cr_assert_eq(us, -INT64_C(9223372036854000000));
    us = 5;
    cr_assert_eq(cd_time_from_time_t((time_t)(INT64_MAX / 1000000 + 1), &us),
                 CD_EINVAL);
    cr_assert_eq(cd_time_from_time_t((time_t)(INT64_MIN / 1000000 - 1), &us),
                 CD_EINVAL);
    cr_assert_eq(us, 5);

    /* us -> time_t -> us drops the sub-second part, toward minus infinity */
    cr_assert_eq(cd_time_to_time_t(-1500000, &t), CD_OK);
    cr_assert_eq(cd_time_from_time_t(t, &us), CD_OK);
    cr_assert_eq(us, -2000000);
}

Test(time, random_round_trips) {
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        int64_t us = (int64_t)(x >> 1) * (i % 2 ? 1 : -1) / (i % 3 + 1);
        if (us == CD_TIME_NULL)
            continue;
        struct timespec ts;
        struct tm tm;
        int32_t usec;
        int64_t back;
        cr_assert_eq(cd_time_to_timespec(us, &ts), CD_OK);
        cr_assert(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
        cr_assert_eq(cd_time_from_timespec(&ts, &back), CD_OK);
        cr_assert_eq(back, us);
        cr_assert_eq(cd_time_to_tm_utc(us, &tm, &usec), CD_OK);
        cr_assert(usec >= 0 && usec < 1000000);
        cr_assert_eq(cd_time_from_tm_utc(&tm, usec, &back), CD_OK);
        cr_assert_eq(back, us, "%lld", (long long)us);
    }
}

static void expect_tm(const struct tm *tm, int year, int mon, int mday,
                      int hour, int min, int sec) {
    cr_assert_eq(tm->tm_year + 1900, year);
    cr_assert_eq(tm->tm_mon + 1, mon);
    cr_assert_eq(tm->tm_mday, mday);
    cr_assert_eq(tm->tm_hour, hour);
    cr_assert_eq(tm->tm_min, min);
    cr_assert_eq(tm->tm_sec, sec);
}

static struct tm tm_of(int year, int mon, int mday, int hour, int min,
                       int sec, int isdst) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    tm.tm_isdst = isdst;
    return tm;
}

Test(time, utc_known_dates) {
    struct tm tm;
    int32_t usec = -5;
    int64_t us;
    /* 2000-02-29T12:34:56.789012Z */
    const int64_t leap = INT64_C(951827696789012);
    cr_assert_eq(cd_time_to_tm_utc(leap, &tm, &usec), CD_OK);
    expect_tm(&tm, 2000, 2, 29, 12, 34, 56);
    cr_assert_eq(usec, 789012);
    cr_assert_eq(tm.tm_wday, 2); /* a Tuesday */
    cr_assert_eq(tm.tm_yday, 59);
    struct tm in = tm_of(2000, 2, 29, 12, 34, 56, 0);
    cr_assert_eq(cd_time_from_tm_utc(&in, 789012, &us), CD_OK);
    cr_assert_eq(us, leap);

    cr_assert_eq(cd_time_to_tm_utc(-1, &tm, &usec), CD_OK);
    expect_tm(&tm, 1969, 12, 31, 23, 59, 59);
    cr_assert_eq(usec, 999999);
    cr_assert_eq(tm.tm_wday, 3);
    /* timegm returns -1 here legitimately: not to be taken for an error */
    in = tm_of(1969, 12, 31, 23, 59, 59, 0);
    cr_assert_eq(cd_time_from_tm_utc(&in, 999999, &us), CD_OK);
    cr_assert_eq(us, -1);
    cr_assert_eq(in.tm_wday, 0, "the input was modified");

    cr_assert_eq(cd_time_to_tm_utc(0, &tm, NULL), CD_OK);
    expect_tm(&tm, 1970, 1, 1, 0, 0, 0);

    /* normalisation: 2001-02-30 is 2001-03-02 */
    in = tm_of(2001, 2, 30, 0, 0, 0, 0);
    cr_assert_eq(cd_time_from_tm_utc(&in, 0, &us), CD_OK);
    cr_assert_eq(us, INT64_C(983491200000000));

    cr_assert_eq(cd_time_to_tm_utc(CD_TIME_MAX, &tm, &usec), CD_OK);
    cr_assert_eq(tm.tm_year + 1900, 294247);
    cr_assert_eq(usec, 775807);
    cr_assert_eq(cd_time_to_tm_utc(CD_TIME_MIN, &tm, &usec), CD_OK);
    cr_assert_eq(cd_time_from_tm_utc(&tm, usec, &us), CD_OK);
    cr_assert_eq(us, CD_TIME_MIN);
}

Test(time, utc_domain_errors) {
    struct tm tm = tm_of(2000, 1, 1, 0, 0, 0, 0), out = tm;
    int64_t us = 5;
    int32_t usec = 5;
    cr_assert_eq(cd_time_from_tm_utc(&tm, -1, &us), CD_EINVAL);
    cr_assert_eq(cd_time_from_tm_utc(&tm, 1000000, &us), CD_EINVAL);
    tm.tm_year = INT_MAX; /* fits time_t, not int64_t microseconds */
    cr_assert_eq(cd_time_from_tm_utc(&tm, 0, &us), CD_EINVAL);
    tm.tm_year = 300000 - 1900;
    cr_assert_eq(cd_time_from_tm_utc(&tm, 0, &us), CD_EINVAL);
    cr_assert_eq(us, 5);
    out.tm_mday = 17;
    cr_assert_eq(cd_time_to_tm_utc(CD_TIME_NULL, &out, &usec), CD_EINVAL);
    cr_assert_eq(cd_time_to_tm_local(CD_TIME_NULL, &out, &usec), CD_EINVAL);
    cr_assert_eq(out.tm_mday, 17);
    cr_assert_eq(usec, 5);
}

/* Sets TZ to America/New_York, or skips the test if it is not installed. */
static void new_york(void) {
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/America/New_York",
             dir ? dir : "/usr/share/zoneinfo");
    if (access(path, R_OK) != 0)
        cr_skip_test("no zoneinfo file %s", path);
    setenv("TZ", "America/New_York", 1);
    tzset();
}

Test(time, local_new_york) {
    new_york();
    struct tm tm;
    int32_t usec;
    int64_t us;
    /* 2021-07-04T16:00:00.25Z is noon EDT */
    const int64_t july = INT64_C(1625414400250000);
    cr_assert_eq(cd_time_to_tm_local(july, &tm, &usec), CD_OK);
    expect_tm(&tm, 2021, 7, 4, 12, 0, 0);
    cr_assert_eq(usec, 250000);
    cr_assert_eq(tm.tm_isdst, 1);
    cr_assert_eq(tm.tm_gmtoff, -4 * 3600);
    struct tm in = tm_of(2021, 7, 4, 12, 0, 0, -1);
    cr_assert_eq(cd_time_from_tm_local(&in, 250000, &us), CD_OK);
    cr_assert_eq(us, july);

    /* 2021-01-15T17:00:00Z is noon EST */
    cr_assert_eq(cd_time_to_tm_local(INT64_C(1610730000000000), &tm, NULL),
                 CD_OK);
    expect_tm(&tm, 2021, 1, 15, 12, 0, 0);
    cr_assert_eq(tm.tm_isdst, 0);
    cr_assert_eq(tm.tm_gmtoff, -5 * 3600);
    in = tm_of(2021, 1, 15, 12, 0, 0, -1);
    cr_assert_eq(cd_time_from_tm_local(&in, 0, &us), CD_OK);
    cr_assert_eq(us, INT64_C(1610730000000000));

    /* 01:30 on 2021-11-07 happens twice; tm_isdst chooses */
    in = tm_of(2021, 11, 7, 1, 30, 0, 1);
    cr_assert_eq(cd_time_from_tm_local(&in, 0, &us), CD_OK);
    cr_assert_eq(us, INT64_C(1636263000000000)); /* 05:30Z, EDT */
    in = tm_of(2021, 11, 7, 1, 30, 0, 0);
    cr_assert_eq(cd_time_from_tm_local(&in, 0, &us), CD_OK);
    cr_assert_eq(us, INT64_C(1636266600000000)); /* 06:30Z, EST */

    /* before 1970 and a microsecond before it, floored */
    cr_assert_eq(cd_time_to_tm_local(-1, &tm, &usec), CD_OK);
    expect_tm(&tm, 1969, 12, 31, 18, 59, 59);
    cr_assert_eq(usec, 999999);
    in = tm_of(1969, 12, 31, 18, 59, 59, -1);
    cr_assert_eq(cd_time_from_tm_local(&in, 999999, &us), CD_OK);
    cr_assert_eq(us, -1);
}
