/*
 * isle.c: the parts of the public API that belong to no other layer:
 * version, status code names, the per-thread error message, and the time
 * helpers (thin wrappers over the codec's pure conversions).
 */
#define _POSIX_C_SOURCE 200809L
#include "isle.h"


#include "cd_base.h"
#include "cd_limits.h"
#include "cd_page.h"
#include "cd_time.h"
#include "en.h"

/* The codec's status codes and limits are the public ones. */
#define SAME_CODE(x) _Static_assert(CD_##x == ISLE_##x, "status codes agree")
SAME_CODE(EINVAL);
SAME_CODE(ECORRUPT);
SAME_CODE(ENOMEM);
SAME_CODE(EIO);
SAME_CODE(ENOTDB);
SAME_CODE(EVERSION);
SAME_CODE(EBUSY);
SAME_CODE(ETOOBIG);
SAME_CODE(ENOTFOUND);
SAME_CODE(ESCHEMA);
SAME_CODE(EFULL);
SAME_CODE(ECANCELED);
SAME_CODE(EDEADLK);
SAME_CODE(EREADONLY);
SAME_CODE(EREOPEN);
SAME_CODE(ECLOSED);
SAME_CODE(EAGAIN);
SAME_CODE(EEXIST);
_Static_assert(CD_PAGE_SIZE_MIN == ISLE_PAGE_SIZE_MIN, "limits agree");
_Static_assert(CD_PAGE_SIZE_MAX == ISLE_PAGE_SIZE_MAX, "limits agree");
_Static_assert(CD_PAGE_SIZE_DEFAULT == ISLE_PAGE_SIZE_DEFAULT, "limits agree");
_Static_assert(CD_RECORD_SIZE_MAX == ISLE_OBJECT_SIZE_MAX, "limits agree");
_Static_assert(CD_NEST_DEPTH_MAX == ISLE_NEST_DEPTH_MAX, "limits agree");
_Static_assert(CD_FIELDS_MAX == ISLE_FIELDS_MAX, "limits agree");
_Static_assert(CD_KEY_SIZE_MAX == ISLE_KEY_SIZE_MAX, "limits agree");
_Static_assert(CD_FORMAT_VERSION == ISLE_FORMAT_VERSION, "format versions agree");

const char *isle_version(void) { return ISLE_VERSION_STRING; }

const char *isle_strerror(int code) {
    switch (code) {
    case ISLE_OK: return "success";
    case ISLE_EINVAL: return "invalid argument";
    case ISLE_ECORRUPT: return "corrupt data";
    case ISLE_ENOMEM: return "out of memory";
    case ISLE_EIO: return "I/O error";
    case ISLE_ENOTDB: return "not an isle database";
    case ISLE_EVERSION: return "database format is newer than this library";
    case ISLE_EBUSY: return "busy: locked or still in use";
    case ISLE_ETOOBIG: return "a size or count limit was exceeded";
    case ISLE_ENOTFOUND: return "not found";
    case ISLE_ESCHEMA: return "schema mismatch";
    case ISLE_EFULL: return "disk full";
    case ISLE_ECANCELED: return "transaction cancelled";
    case ISLE_EDEADLK: return "would deadlock: called on the writer thread";
    case ISLE_EREADONLY: return "write attempted in a read transaction";
    case ISLE_EREOPEN: return "a sync failed; close and reopen the database";
    case ISLE_ECLOSED: return "the database is closed";
    case ISLE_EAGAIN: return "queue full; try again";
    case ISLE_EEXIST: return "already exists";
    default: return "unknown error";
    }
}

const char *isle_errmsg(void) { return en_errmsg(); }

#define fail en_fail

static int time_status(int rc, const char *what) {
    if (rc == 0) {
        en_clear_error();
        return 0;
    }
    return fail(rc, "%s: %s", what, isle_strerror(rc));
}

int isle_time_from_timespec(const struct timespec *ts, int64_t *us) {
    if (!ts || !us)
        return fail(ISLE_EINVAL, "isle_time_from_timespec: NULL argument");
    return time_status(cd_time_from_timespec(ts, us), "isle_time_from_timespec");
}

int isle_time_to_timespec(int64_t us, struct timespec *ts) {
    if (!ts)
        return fail(ISLE_EINVAL, "isle_time_to_timespec: NULL argument");
    return time_status(cd_time_to_timespec(us, ts), "isle_time_to_timespec");
}

int isle_time_from_time_t(time_t t, int64_t *us) {
    if (!us)
        return fail(ISLE_EINVAL, "isle_time_from_time_t: NULL argument");
    return time_status(cd_time_from_time_t(t, us), "isle_time_from_time_t");
}

int isle_time_to_time_t(int64_t us, time_t *t) {
    if (!t)
        return fail(ISLE_EINVAL, "isle_time_to_time_t: NULL argument");
    return time_status(cd_time_to_time_t(us, t), "isle_time_to_time_t");
}

int isle_time_to_local(int64_t us, struct tm *tm, int32_t *usec_part) {
    if (!tm || !usec_part)
        return fail(ISLE_EINVAL, "isle_time_to_local: NULL argument");
    return time_status(cd_time_to_tm_local(us, tm, usec_part), "isle_time_to_local");
}

int isle_time_from_local(const struct tm *tm, int32_t usec_part, int64_t *us) {
    if (!tm || !us)
        return fail(ISLE_EINVAL, "isle_time_from_local: NULL argument");
    return time_status(cd_time_from_tm_local(tm, usec_part, us), "isle_time_from_local");
}

int isle_time_to_utc(int64_t us, struct tm *tm, int32_t *usec_part) {
    if (!tm || !usec_part)
        return fail(ISLE_EINVAL, "isle_time_to_utc: NULL argument");
    return time_status(cd_time_to_tm_utc(us, tm, usec_part), "isle_time_to_utc");
}

int isle_time_from_utc(const struct tm *tm, int32_t usec_part, int64_t *us) {
    if (!tm || !us)
        return fail(ISLE_EINVAL, "isle_time_from_utc: NULL argument");
    return time_status(cd_time_from_tm_utc(tm, usec_part, us), "isle_time_from_utc");
}

int isle_time_now(int64_t *us) {
    struct timespec ts;
    if (!us)
        return fail(ISLE_EINVAL, "isle_time_now: NULL argument");
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return fail(ISLE_EIO, "isle_time_now: clock_gettime failed");
    return isle_time_from_timespec(&ts, us);
}
