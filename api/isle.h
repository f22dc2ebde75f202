/*
 * isle.h: the public interface of isle, an embeddable object store.
 *
 * This is the only header isle installs; every handle it names is opaque.
 *
 * Conventions, for every function below:
 *  - The return value is an int status: 0 (ISLE_OK) on success, a negative
 *    ISLE_E* code on failure.  Each function lists the codes it can return.
 *  - On failure nothing the function was asked to change has changed.
 *  - isle_strerror(code) names a code; isle_errmsg() gives the calling
 *    thread's detailed message about its most recent failure (for example
 *    which page was corrupt and where that was detected).
 *  - Times are int64_t microseconds since 1970-01-01T00:00:00Z (UTC);
 *    ISLE_NULL_TIME (INT64_MIN) is the null datetime.
 *
 * Thread safety: every function here may be called from any thread.
 */
#ifndef ISLE_H
#define ISLE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ISLE_API __attribute__((visibility("default")))
#else
#define ISLE_API
#endif

/* ---- version ------------------------------------------------------------ */

#define ISLE_VERSION_MAJOR 0
#define ISLE_VERSION_MINOR 1
#define ISLE_VERSION_PATCH 0
#define ISLE_VERSION_STRING "0.1.0"
/* The on-disk format version this library writes and the newest it reads. */
#define ISLE_FORMAT_VERSION 1

/* The library's version string, "MAJOR.MINOR.PATCH"; static storage. */
ISLE_API const char *isle_version(void);

/* ---- status codes (stable: never renumbered) ----------------------------- */

#define ISLE_OK 0
#define ISLE_EINVAL (-1)     /* an argument is NULL or out of its domain */
#define ISLE_ECORRUPT (-2)   /* stored bytes failed validation */
#define ISLE_ENOMEM (-3)     /* out of memory, or a caller buffer too small */
#define ISLE_EIO (-4)        /* the operating system reported an I/O error */
#define ISLE_ENOTDB (-5)     /* the file is not an isle database */
#define ISLE_EVERSION (-6)   /* the file's format is newer than this library */
#define ISLE_EBUSY (-7)      /* locked by another opener, or still in use */
#define ISLE_ETOOBIG (-8)    /* a named limit (below) was exceeded */
#define ISLE_ENOTFOUND (-9)  /* no such object, collection or key */
#define ISLE_ESCHEMA (-10)   /* the schema disagrees with the stored one */
#define ISLE_EFULL (-11)     /* the disk is full */
#define ISLE_ECANCELED (-12) /* a queued transaction was cancelled */
#define ISLE_EDEADLK (-13)   /* the call would wait on its own thread */
#define ISLE_EREADONLY (-14) /* a write through a read transaction */
#define ISLE_EREOPEN (-15)   /* a sync failed: the handle must be reopened */
#define ISLE_ECLOSED (-16)   /* the handle was closed */
#define ISLE_EAGAIN (-17)    /* a bounded queue is full; try again */
#define ISLE_EEXIST (-18)    /* the key, object or name exists already */

/*
 * A short, static description of a status code ("corrupt data", ...).
 * Unknown codes give "unknown error".  Never returns NULL.
 */
ISLE_API const char *isle_strerror(int code);

/*
 * The calling thread's detailed message about its most recent failed isle
 * call, or "" if there was none.  Valid until the thread's next isle call.
 */
ISLE_API const char *isle_errmsg(void);

/* ---- limits --------------------------------------------------------------- */

#define ISLE_PAGE_SIZE_MIN 4096u         /* page sizes: powers of two ... */
#define ISLE_PAGE_SIZE_MAX 65536u        /* ... in [MIN, MAX] */
#define ISLE_PAGE_SIZE_DEFAULT 4096u
#define ISLE_OBJECT_SIZE_MAX (16u * 1024 * 1024) /* encoded object bytes */
#define ISLE_NEST_DEPTH_MAX 32u          /* embedded objects, top level = 1 */
#define ISLE_FIELDS_MAX 1024u            /* fields of one object type */
#define ISLE_KEY_SIZE_MAX 1024u          /* encoded index key bytes */

/* ---- time ------------------------------------------------------------------ */

#define ISLE_NULL_TIME INT64_MIN

/*
 * Conversions between UTC microseconds and the C library's time types.
 * Rounding is toward negative infinity: -1 us is 1969-12-31T23:59:59.999999Z
 * (time_t -1, timespec {-1, 999999000}); converting to a coarser unit drops
 * the finer digits that way, converting to a finer one is exact.  Outputs
 * are written only on success.
 *
 * Errors (all of them): ISLE_EINVAL for a NULL pointer, a null time
 * (ISLE_NULL_TIME), a malformed input (tv_nsec outside [0, 999999999],
 * usec_part outside [0, 999999]) or a value the destination cannot hold
 * (seconds whose microseconds overflow int64_t; a year beyond int).
 */
ISLE_API int isle_time_from_timespec(const struct timespec *ts, int64_t *us);
ISLE_API int isle_time_to_timespec(int64_t us, struct timespec *ts);
ISLE_API int isle_time_from_time_t(time_t t, int64_t *us);
ISLE_API int isle_time_to_time_t(int64_t us, time_t *t);
/*
 * Broken-down time, in the process's local time zone (TZ; call tzset()
 * after changing it) or in UTC, to and from microseconds.  *usec_part
 * receives / supplies the microseconds within the second.  Reading a
 * struct tm normalises out-of-range fields as mktime/timegm do and ignores
 * tm_wday and tm_yday; for local time tm_isdst < 0 lets the C library
 * decide whether daylight saving time applies.
 */
ISLE_API int isle_time_to_local(int64_t us, struct tm *tm, int32_t *usec_part);
ISLE_API int isle_time_from_local(const struct tm *tm, int32_t usec_part,
                                  int64_t *us);
ISLE_API int isle_time_to_utc(int64_t us, struct tm *tm, int32_t *usec_part);
ISLE_API int isle_time_from_utc(const struct tm *tm, int32_t usec_part,
                                int64_t *us);
/* The current time, from CLOCK_REALTIME.  Errors: ISLE_EINVAL (NULL). */
ISLE_API int isle_time_now(int64_t *us);

#ifdef __cplusplus
}
#endif
#endif /* ISLE_H */
