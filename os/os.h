/*
 * os.h: the operating-system seam.  Every file the library touches is
 * reached through one ops table, os_vfs: open, close, positional read and
 * write, sync, truncate, size, an exclusive lock, remove, exists, directory
 * sync, random bytes, the allocator for I/O buffers, and (optional) a
 * read-only mapping and a hint to start writing a range back.  os_posix.c
 * holds the POSIX implementation and is the only file of the library with
 * platform #ifdefs or file system calls; tests substitute a fault-injecting
 * vfs (tests/support/testvfs.h) through the same table.
 *
 * Status codes are codec's (cd_base.h): 0 on success, CD_E* otherwise.
 * System errors map as ENOSPC and EDQUOT -> CD_EFULL, ENOMEM -> CD_ENOMEM,
 * ENOENT -> CD_ENOTFOUND (so "no such file" can be told apart), a held lock
 * -> CD_EBUSY, everything else -> CD_EIO.  The text of the last failure
 * (the call, the path and strerror) is kept in an os_err: per file for
 * file operations (os_file_error), in a caller's out-parameter for the
 * operations on paths.
 *
 * Every operation retries EINTR and short transfers itself: a write writes
 * all of its bytes or fails; a read reads all of its bytes unless the file
 * ends first, and then reports how many it got.
 */
#ifndef ISLE_OS_H
#define ISLE_OS_H

#include <stddef.h>
#include <stdint.h>

#include "cd_base.h"

/* The last failure of a file or of a path operation. */
#define OS_ERR_TEXT_MAX 200u
typedef struct os_err {
    int code;                   /* CD_* status of the failure, 0 if none */
    int sys_errno;              /* the errno behind it, 0 if none */
    char text[OS_ERR_TEXT_MAX]; /* "pwrite x.isle-wal @4096+8192: No space..." */
} os_err;

typedef struct os_vfs os_vfs;

/*
 * An open file.  Implementations embed this as the first member of their
 * own file struct.  err is written only by operations on this file, so a
 * file used by one thread at a time has a coherent message; concurrent
 * readers of one file may see each other's message (the status they
 * return is always their own).
 */
typedef struct os_file {
    os_vfs *vfs;
    os_err err;
} os_file;

/* Flags for open. */
#define OS_OPEN_READ 0u   /* read only; the file must exist */
#define OS_OPEN_RDWR 1u   /* read and write; the file must exist */
#define OS_OPEN_CREATE 2u /* read and write; created (mode 0644) if missing */

struct os_vfs {
    const char *name;
    /* Opens path; *out is set on success only.  err may be NULL. */
    int (*open)(os_vfs *vfs, const char *path, unsigned flags, os_file **out,
                os_err *err);
    /* Closes f (releasing its lock) and frees it, even when it fails. */
    int (*close)(os_file *f);
    /*
     * Reads len bytes at off.  If the file ends first, reads what there is
     * and sets *got to that count (0 at or past the end): still success.
     * got may be NULL, and then a short read is CD_EIO.
     */
    int (*read)(os_file *f, uint64_t off, void *buf, size_t len, size_t *got);
    /* Writes all len bytes at off, extending the file as needed. */
    int (*write)(os_file *f, uint64_t off, const void *buf, size_t len);
    /* Makes the file's data (and its size) durable: fdatasync. */
    int (*sync)(os_file *f);
    int (*truncate)(os_file *f, uint64_t size);
    int (*size)(os_file *f, uint64_t *size);
    /*
     * Takes an exclusive lock on the file, without waiting: CD_EBUSY if
     * another open of the file, in this process or another, holds it.  The
     * lock belongs to this open file and is released when it is closed.
     */
    int (*lock)(os_file *f);
    /* Removes path: CD_ENOTFOUND if missing. */
    int (*remove)(os_vfs *vfs, const char *path, os_err *err);
    /* Sets *exists to 1 or 0. */
    int (*exists)(os_vfs *vfs, const char *path, int *exists, os_err *err);
    /* Makes the directory entry of path durable (after a create). */
    int (*sync_dir)(os_vfs *vfs, const char *path, os_err *err);
    /* Fills buf with len random bytes (salts, database ids). */
    int (*random)(os_vfs *vfs, void *buf, size_t len);
    /* Memory for buffers and handles; alloc returns NULL when it fails. */
    void *(*alloc)(os_vfs *vfs, size_t size);
    void (*free)(os_vfs *vfs, void *p);
    /*
     * Optional (NULL: the file is only read with read).  Maps [0, len) of
     * f read-only and shared, so that writes to the file show through;
     * len may pass the file's end, but bytes past the end must never be
     * touched (SIGBUS).  unmap undoes one map; the mapping outlives f.
     */
    int (*map)(os_file *f, size_t len, const void **addr);
    void (*unmap)(os_vfs *vfs, const void *addr, size_t len);
    /*
     * Optional (NULL: nothing).  Starts the device's writes of [off, off +
     * len) of f without waiting for them, so that a later sync finds less
     * to wait for.  Only a hint: it makes nothing durable and reports
     * nothing (a failed write shows at the sync).
     */
    void (*writeback)(os_file *f, uint64_t off, uint64_t len);
};

/* A hint to the CPU inside a spin loop (x86: pause); otherwise nothing. */
static inline void os_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The processors this thread may run on, at least 1: its affinity mask
 * where the system has one (a process limited to some cores, as in a
 * container, must not spin as if it had them all), else those online. */
int os_cpu_count(void);

/*
 * Keeping apart two threads that feed each other.  On a machine of few
 * cores the scheduler may wake a thread on the core of the thread that
 * woke it and keep both there, taking turns, while another core idles;
 * the write-behind thread (engine/en_flush.c) then moves itself off the
 * writer's core.  Where the system has no affinity (not Linux), these do
 * nothing: os_cpu_current is -1 and the others fail.
 */
typedef struct os_cpuset {
    int valid;                      /* os_cpuset_get succeeded */
    unsigned char bits[128];        /* a bit per processor, 0 to 1023 */
} os_cpuset;

/* The processor the calling thread runs on now, or -1. */
int os_cpu_current(void);
/* The calling thread's id as the system knows it (Linux: gettid), or -1. */
long os_thread_id(void);
/* The calling thread's affinity; 0, or -1 (s->valid stays 0). */
int os_cpuset_get(os_cpuset *s);
/* Restricts the calling thread to s without processor cpu, which moves it
 * off cpu at once; 0, or -1 when s leaves no other processor or the
 * system refuses (nothing changed). */
int os_cpuset_avoid(const os_cpuset *s, int cpu);
/* Gives the calling thread affinity s again; 0 or -1. */
int os_cpuset_set(const os_cpuset *s);

/* The POSIX vfs: a process-wide table, never freed. */
os_vfs *os_vfs_default(void);

/* Maps an errno value to a CD_* status (the table at the top). */
int os_status_from_errno(int sys_errno);

/*
 * Records a failure in *err (if non-NULL): code, errno and the text
 * "<op> <path>: <strerror>" (or "<op> <path>: <detail>" when sys_errno is
 * 0).  Returns code.  For vfs implementations.
 */
int os_err_set(os_err *err, int code, int sys_errno, const char *op,
               const char *path, const char *detail);

/* The text of f's last failure ("" if none). */
static inline const char *os_file_error(const os_file *f) {
    return f->err.text;
}

/* ---- dispatch: callers write os_read(f, ...) --------------------------- */

static inline int os_open(os_vfs *vfs, const char *path, unsigned flags,
                          os_file **out, os_err *err) {
    return vfs->open(vfs, path, flags, out, err);
}
static inline int os_close(os_file *f) { return f->vfs->close(f); }
static inline int os_read(os_file *f, uint64_t off, void *buf, size_t len,
                          size_t *got) {
    return f->vfs->read(f, off, buf, len, got);
}
static inline int os_write(os_file *f, uint64_t off, const void *buf,
                           size_t len) {
    return f->vfs->write(f, off, buf, len);
}
static inline int os_sync(os_file *f) { return f->vfs->sync(f); }
static inline void os_writeback(os_file *f, uint64_t off, uint64_t len) {
    if (f->vfs->writeback)
        f->vfs->writeback(f, off, len);
}
static inline int os_truncate(os_file *f, uint64_t size) {
    return f->vfs->truncate(f, size);
}
static inline int os_size(os_file *f, uint64_t *size) {
    return f->vfs->size(f, size);
}
static inline int os_lock(os_file *f) { return f->vfs->lock(f); }
/* CD_EINVAL when the vfs has no map. */
static inline int os_map(os_file *f, size_t len, const void **addr) {
    return f->vfs->map ? f->vfs->map(f, len, addr) : CD_EINVAL;
}
static inline void os_unmap(os_vfs *vfs, const void *addr, size_t len) {
    vfs->unmap(vfs, addr, len);
}
static inline int os_remove(os_vfs *vfs, const char *path, os_err *err) {
    return vfs->remove(vfs, path, err);
}
static inline int os_exists(os_vfs *vfs, const char *path, int *exists,
                            os_err *err) {
    return vfs->exists(vfs, path, exists, err);
}
static inline int os_sync_dir(os_vfs *vfs, const char *path, os_err *err) {
    return vfs->sync_dir(vfs, path, err);
}
static inline int os_random(os_vfs *vfs, void *buf, size_t len) {
    return vfs->random(vfs, buf, len);
}
static inline void *os_alloc(os_vfs *vfs, size_t size) {
    return vfs->alloc(vfs, size);
}
static inline void os_free(os_vfs *vfs, void *p) {
    if (p)
        vfs->free(vfs, p);
}

#endif /* ISLE_OS_H */
