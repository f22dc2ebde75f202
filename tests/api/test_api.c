#define _POSIX_C_SOURCE 200809L
/*
 * test_api.c: the public API that stands alone: version, status codes and
 * their names, the per-thread error message, and the time helpers, called
 * the way a user calls them (through libisle and isle.h only).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "isle.h"

Test(api, version) {
    cr_assert_str_eq(isle_version(), ISLE_VERSION_STRING);
}

Test(api, every_code_has_a_distinct_name) {
    const char *seen[32] = {0};
    for (int code = 0; code >= ISLE_EEXIST; code--) {
        const char *s = isle_strerror(code);
        cr_assert_not_null(s);
        cr_assert_str_neq(s, "unknown error", "code %d unnamed", code);
        for (int k = 0; k < -code; k++)
            cr_assert_str_neq(seen[k], s, "codes %d and %d share a name", -k, code);
        seen[-code] = s;
    }
    cr_assert_str_eq(isle_strerror(ISLE_EEXIST - 1), "unknown error");
    cr_assert_str_eq(isle_strerror(12345), "unknown error");
}

Test(api, errmsg_names_the_failure_and_clears) {
    int64_t us;
    cr_assert_eq(isle_time_from_timespec(NULL, &us), ISLE_EINVAL);
    cr_assert(strstr(isle_errmsg(), "isle_time_from_timespec") != NULL);
    cr_assert_eq(isle_time_from_time_t(5, &us), ISLE_OK);
    cr_assert_str_eq(isle_errmsg(), "");
}

static void *other_thread(void *arg) {
    (void)arg;
    /* A failure here must not show in the main thread's message. */
    time_t t;
    return (void *)(intptr_t)isle_time_to_time_t(ISLE_NULL_TIME, &t);
}

Test(api, errmsg_is_per_thread) {
    int64_t us;
    cr_assert_eq(isle_time_from_time_t(1, &us), ISLE_OK);
    pthread_t th;
    void *ret;
    pthread_create(&th, NULL, other_thread, NULL);
    pthread_join(th, &ret);
    cr_assert_eq((intptr_t)ret, ISLE_EINVAL);
    cr_assert_str_eq(isle_errmsg(), "");
}

Test(api, time_round_trips) {
    struct timespec ts = {.tv_sec = -1, .tv_nsec = 999999999};
    int64_t us;
    cr_assert_eq(isle_time_from_timespec(&ts, &us), 0);
    cr_assert_eq(us, -1); /* floor: the nanoseconds below 1 us are dropped */
    cr_assert_eq(isle_time_to_timespec(-1, &ts), 0);
    cr_assert_eq(ts.tv_sec, -1);
    cr_assert_eq(ts.tv_nsec, 999999000);
    time_t t;
    cr_assert_eq(isle_time_to_time_t(-1, &t), 0);
    cr_assert_eq(t, -1);
    cr_assert_eq(isle_time_to_time_t(ISLE_NULL_TIME, &t), ISLE_EINVAL);
    struct tm tm;
    int32_t part;
    cr_assert_eq(isle_time_to_utc(951827696789012LL, &tm, &part), 0);
    cr_assert_eq(tm.tm_year, 100);
    cr_assert_eq(tm.tm_mon, 1);
    cr_assert_eq(tm.tm_mday, 29);
    cr_assert_eq(tm.tm_hour, 12);
    cr_assert_eq(tm.tm_min, 34);
    cr_assert_eq(tm.tm_sec, 56);
    cr_assert_eq(part, 789012);
    cr_assert_eq(isle_time_from_utc(&tm, part, &us), 0);
    cr_assert_eq(us, 951827696789012LL);
    cr_assert_eq(isle_time_from_utc(&tm, 1000000, &us), ISLE_EINVAL);
}

Test(api, local_time_round_trip) {
    setenv("TZ", "UTC0", 1);
    tzset();
    struct tm tm;
    int32_t part;
    int64_t us;
    cr_assert_eq(isle_time_to_local(86400000001LL, &tm, &part), 0);
    cr_assert_eq(tm.tm_mday, 2);
    cr_assert_eq(part, 1);
    cr_assert_eq(isle_time_from_local(&tm, part, &us), 0);
    cr_assert_eq(us, 86400000001LL);
}

Test(api, now_is_plausible) {
    int64_t us;
    cr_assert_eq(isle_time_now(&us), 0);
    cr_assert_gt(us, 1700000000LL * 1000000); /* after November 2023 */
    cr_assert_eq(isle_time_now(NULL), ISLE_EINVAL);
}
