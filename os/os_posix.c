/*
 * os_posix.c: the POSIX vfs, and the only file of the library with platform
 * #ifdefs and file system calls.  Files are plain descriptors used with
 * pread/pwrite (so one descriptor can serve reader threads); sync is
 * fdatasync (F_FULLFSYNC on Apple, where fsync does not reach the medium);
 * the exclusive lock is an open-file-description lock (F_OFD_SETLK where
 * it exists, flock() otherwise), so it conflicts with a second open of the
 * same file in this process as well as in another one.  Uses codec for the
 * status codes only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* F_OFD_SETLK, the GNU strerror_r, getrandom, sync_file_range */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#include <sys/random.h>
#endif

#include "os.h"

typedef struct posix_file {
    os_file base;
    int fd;
    char path[]; /* for messages */
} posix_file;

int os_status_from_errno(int sys_errno) {
    switch (sys_errno) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return CD_EFULL;
    case ENOMEM:
        return CD_ENOMEM;
    case ENOENT:
        return CD_ENOTFOUND;
    default:
        return CD_EIO;
    }
}

static const char *errno_text(int e, char *buf, size_t len) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(e, buf, len); /* GNU: returns the text */
#else
    if (strerror_r(e, buf, len) != 0)
        snprintf(buf, len, "errno %d", e);
    return buf;
#endif
}

int os_err_set(os_err *err, int code, int sys_errno, const char *op,
               const char *path, const char *detail) {
    if (!err)
        return code;
    char ebuf[128];
    if (sys_errno)
        detail = errno_text(sys_errno, ebuf, sizeof ebuf);
    err->code = code;
    err->sys_errno = sys_errno;
    snprintf(err->text, sizeof err->text, "%s %s: %s", op, path ? path : "",
             detail ? detail : "failed");
    return code;
}

/* Records errno as the failure of op on f and returns its status. */
static int file_fail(posix_file *pf, const char *op, int e) {
    return os_err_set(&pf->base.err, os_status_from_errno(e), e, op, pf->path,
                      NULL);
}

static int px_open(os_vfs *vfs, const char *path, unsigned flags,
                   os_file **out, os_err *err) {
    int oflags = O_CLOEXEC;
    if (flags & OS_OPEN_CREATE)
        oflags |= O_RDWR | O_CREAT;
    else if (flags & OS_OPEN_RDWR)
        oflags |= O_RDWR;
    else
        oflags |= O_RDONLY;
    size_t plen = strlen(path);
    posix_file *pf = vfs->alloc(vfs, sizeof *pf + plen + 1);
    if (!pf)
        return os_err_set(err, CD_ENOMEM, 0, "open", path, "out of memory");
    int fd;
    do {
        fd = open(path, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        vfs->free(vfs, pf);
        return os_err_set(err, os_status_from_errno(e), e, "open", path, NULL);
    }
    memset(&pf->base, 0, sizeof pf->base);
    pf->base.vfs = vfs;
    pf->fd = fd;
    memcpy(pf->path, path, plen + 1);
    *out = &pf->base;
    return 0;
}

static int px_close(os_file *f) {
    posix_file *pf = (posix_file *)f;
    /* No retry on EINTR: the descriptor is gone either way on Linux. */
    int rc = close(pf->fd) == 0 ? 0 : os_status_from_errno(errno);
    f->vfs->free(f->vfs, pf);
    return rc;
}

static int px_read(os_file *f, uint64_t off, void *buf, size_t len,
                   size_t *got) {
    posix_file *pf = (posix_file *)f;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(pf->fd, (char *)buf + done, len - done,
                          (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return file_fail(pf, "pread", errno);
        if (n == 0)
            break; /* end of file */
        done += (size_t)n;
    }
    if (got)
        *got = done;
    else if (done < len)
        return os_err_set(&f->err, CD_EIO, 0, "pread", pf->path,
                          "unexpected end of file");
    return 0;
}

static int px_write(os_file *f, uint64_t off, const void *buf, size_t len) {
    posix_file *pf = (posix_file *)f;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(pf->fd, (const char *)buf + done, len - done,
                           (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return file_fail(pf, "pwrite", errno);
        if (n == 0) /* no progress and no error: treat as a full device */
            return os_err_set(&f->err, CD_EFULL, 0, "pwrite", pf->path,
                              "no bytes written");
        done += (size_t)n;
    }
    return 0;
}

static int px_sync(os_file *f) {
    posix_file *pf = (posix_file *)f;
    int r;
#if defined(__APPLE__) && defined(F_FULLFSYNC)
    r = fcntl(pf->fd, F_FULLFSYNC);
    if (r != 0)
        r = fsync(pf->fd); /* file systems without F_FULLFSYNC */
#elif defined(__linux__) || defined(_POSIX_SYNCHRONIZED_IO)
    r = fdatasync(pf->fd);
#else
    r = fsync(pf->fd);
#endif
    /* No retry on EINTR: a failed sync may have dropped dirty pages. */
    return r == 0 ? 0 : file_fail(pf, "fdatasync", errno);
}

static void px_writeback(os_file *f, uint64_t off, uint64_t len) {
#if defined(__linux__)
    /* Queues the range's dirty pages for writing and returns: the kernel
     * would otherwise hold them until its dirty-page timer or the sync. */
    (void)sync_file_range(((posix_file *)f)->fd, (off_t)off, (off_t)len,
                          SYNC_FILE_RANGE_WRITE);
#else
    (void)f, (void)off, (void)len;
#endif
}

static int px_truncate(os_file *f, uint64_t size) {
    posix_file *pf = (posix_file *)f;
    int r;
    do {
        r = ftruncate(pf->fd, (off_t)size);
    } while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : file_fail(pf, "ftruncate", errno);
}

static int px_size(os_file *f, uint64_t *size) {
    posix_file *pf = (posix_file *)f;
    struct stat st;
    if (fstat(pf->fd, &st) != 0)
        return file_fail(pf, "fstat", errno);
    *size = (uint64_t)st.st_size;
    return 0;
}

static int px_map(os_file *f, size_t len, const void **addr) {
    posix_file *pf = (posix_file *)f;
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, pf->fd, 0);
    if (p == MAP_FAILED)
        return file_fail(pf, "mmap", errno);
    *addr = p;
    return 0;
}

static void px_unmap(os_vfs *vfs, const void *addr, size_t len) {
    (void)vfs;
    munmap((void *)addr, len);
}

static int px_lock(os_file *f) {
    posix_file *pf = (posix_file *)f;
    int r;
#if defined(F_OFD_SETLK)
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET; /* start 0, len 0: the whole file */
    do {
        r = fcntl(pf->fd, F_OFD_SETLK, &fl);
    } while (r != 0 && errno == EINTR);
    if (r != 0 && (errno == EAGAIN || errno == EACCES))
        return os_err_set(&f->err, CD_EBUSY, 0, "lock", pf->path,
                          "locked by another open of the file");
#else
    do {
        r = flock(pf->fd, LOCK_EX | LOCK_NB);
    } while (r != 0 && errno == EINTR);
    if (r != 0 && errno == EWOULDBLOCK)
        return os_err_set(&f->err, CD_EBUSY, 0, "lock", pf->path,
                          "locked by another open of the file");
#endif
    return r == 0 ? 0 : file_fail(pf, "lock", errno);
}

static int px_remove(os_vfs *vfs, const char *path, os_err *err) {
    (void)vfs;
    if (unlink(path) != 0)
        return os_err_set(err, os_status_from_errno(errno), errno, "unlink",
                          path, NULL);
    return 0;
}

static int px_exists(os_vfs *vfs, const char *path, int *exists,
                     os_err *err) {
    (void)vfs;
    struct stat st;
    if (stat(path, &st) == 0) {
        *exists = 1;
        return 0;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        *exists = 0;
        return 0;
    }
    return os_err_set(err, os_status_from_errno(errno), errno, "stat", path,
                      NULL);
}

static int px_sync_dir(os_vfs *vfs, const char *path, os_err *err) {
    (void)vfs;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return os_err_set(err, CD_EINVAL, 0, "sync_dir", path,
                              "path too long");
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC
#ifdef O_DIRECTORY
                           | O_DIRECTORY
#endif
    );
    if (fd < 0)
        return os_err_set(err, os_status_from_errno(errno), errno, "open", dir,
                          NULL);
    int rc = 0;
    /* Some file systems refuse fsync on directories (EINVAL): nothing to do. */
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = os_err_set(err, os_status_from_errno(errno), errno, "fsync", dir,
                        NULL);
    close(fd);
    return rc;
}

static int px_random(os_vfs *vfs, void *buf, size_t len) {
    (void)vfs;
#if defined(__linux__)
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((char *)buf + done, len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return CD_EIO;
        done += (size_t)n;
    }
    return 0;
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__)
    arc4random_buf(buf, len);
    return 0;
#else
    FILE *fp = fopen("/dev/urandom", "rb");
    if (!fp)
        return CD_EIO;
    size_t n = fread(buf, 1, len, fp);
    fclose(fp);
    return n == len ? 0 : CD_EIO;
#endif
}

static void *px_alloc(os_vfs *vfs, size_t size) {
    (void)vfs;
    return malloc(size);
}

static void px_free(os_vfs *vfs, void *p) {
    (void)vfs;
    free(p);
}

static os_vfs posix_vfs = {
    .name = "posix",
    .open = px_open,
    .close = px_close,
    .read = px_read,
    .write = px_write,
    .sync = px_sync,
    .truncate = px_truncate,
    .size = px_size,
    .lock = px_lock,
    .remove = px_remove,
    .exists = px_exists,
    .sync_dir = px_sync_dir,
    .random = px_random,
    .alloc = px_alloc,
    .free = px_free,
    .map = px_map,
    .unmap = px_unmap,
    .writeback = px_writeback,
};

int os_cpu_count(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

#if defined(__linux__)
_Static_assert(sizeof(((os_cpuset *)0)->bits) * 8 >= CPU_SETSIZE, "os_cpuset holds a cpu_set_t");

static void to_cpu_set(const os_cpuset *s, cpu_set_t *set) {
    CPU_ZERO(set);
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (s->bits[i / 8] & (1u << (i % 8)))
            CPU_SET(i, set);
}
#endif

int os_cpu_current(void) {
#if defined(__linux__)
    return sched_getcpu();
#else
    return -1;
#endif
}

long os_thread_id(void) {
#if defined(__linux__)
    return (long)gettid();
#else
    return -1;
#endif
}

int os_cpuset_get(os_cpuset *s) {
    memset(s, 0, sizeof *s);
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            s->bits[i / 8] |= (unsigned char)(1u << (i % 8));
    s->valid = 1;
    return 0;
#else
    return -1;
#endif
}

int os_cpuset_avoid(const os_cpuset *s, int cpu) {
#if defined(__linux__)
    if (!s->valid || cpu < 0 || cpu >= CPU_SETSIZE)
        return -1;
    cpu_set_t set;
    to_cpu_set(s, &set);
    CPU_CLR(cpu, &set);
    if (CPU_COUNT(&set) == 0)
        return -1;
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -1;
#else
    (void)s;
    (void)cpu;
    return -1;
#endif
}

int os_cpuset_set(const os_cpuset *s) {
#if defined(__linux__)
    if (!s->valid)
        return -1;
    cpu_set_t set;
    to_cpu_set(s, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -1;
#else
    (void)s;
    return -1;
#endif
}

os_vfs *os_vfs_default(void) { return &posix_vfs; }
