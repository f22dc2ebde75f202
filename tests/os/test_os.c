/*
 * test_os.c: the POSIX vfs on real files in a temporary directory: the
 * read / write / size / truncate / sync round trip, short reads at the end
 * of a file, the exclusive lock against a second open in this process and
 * in a forked child, its release on close, and the errno mapping (with
 * real ENOSPC from /dev/full and EBADF from a read-only descriptor), the
 * processor count that decides whether threads spin, and moving a thread
 * off a processor.
 */
#define _GNU_SOURCE 1 /* mkdtemp, sched_getaffinity */

#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os.h"

static char dir[64];
static char path[128];

static void mkdir_tmp(void) {
    strcpy(dir, "/tmp/isle-os-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f.bin", dir);
}

static void rm_tmp(void) {
    unlink(path);
    rmdir(dir);
}

TestSuite(os, .init = mkdir_tmp, .fini = rm_tmp);

Test(os, round_trip) {
    os_vfs *vfs = os_vfs_default();
    os_file *f;
    os_err err = {0};
    int exists = -1;
    cr_assert_eq(os_exists(vfs, path, &exists, &err), 0);
    cr_assert_eq(exists, 0);
    cr_assert_eq(os_open(vfs, path, OS_OPEN_RDWR, &f, &err), CD_ENOTFOUND);
    cr_assert_neq(strstr(err.text, "f.bin"), NULL, "%s", err.text);
    cr_assert_eq(err.sys_errno, ENOENT);
    cr_assert_eq(os_open(vfs, path, OS_OPEN_CREATE, &f, &err), 0);
    cr_assert_eq(os_exists(vfs, path, &exists, &err), 0);
    cr_assert_eq(exists, 1);

    uint8_t buf[10000], back[10000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 31 + 7);
    cr_assert_eq(os_write(f, 100, buf, sizeof buf), 0);
    uint64_t size;
    cr_assert_eq(os_size(f, &size), 0);
    cr_assert_eq(size, 100 + sizeof buf);
    cr_assert_eq(os_sync(f), 0);
    size_t got = 0;
    cr_assert_eq(os_read(f, 100, back, sizeof back, &got), 0);
    cr_assert_eq(got, sizeof back);
    cr_assert_arr_eq(back, buf, sizeof buf);
    /* The hole before offset 100 reads as zeros. */
    cr_assert_eq(os_read(f, 0, back, 100, NULL), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(back[i], 0);
    /* A read across the end reports the count; without got it fails. */
    cr_assert_eq(os_read(f, size - 10, back, 50, &got), 0);
    cr_assert_eq(got, 10);
    cr_assert_arr_eq(back, buf + sizeof buf - 10, 10);
    cr_assert_eq(os_read(f, size + 5, back, 50, &got), 0);
    cr_assert_eq(got, 0);
    cr_assert_eq(os_read(f, size - 10, back, 50, NULL), CD_EIO);
    cr_assert_neq(strstr(os_file_error(f), "end of file"), NULL);

    cr_assert_eq(os_truncate(f, 1000), 0);
    cr_assert_eq(os_size(f, &size), 0);
    cr_assert_eq(size, 1000);
    cr_assert_eq(os_read(f, 100, back, 900, NULL), 0);
    cr_assert_arr_eq(back, buf, 900);
    cr_assert_eq(os_sync_dir(vfs, path, &err), 0);
    cr_assert_eq(os_close(f), 0);

    /* Reopen read-only: the bytes are there; writing fails with EIO. */
    cr_assert_eq(os_open(vfs, path, OS_OPEN_READ, &f, &err), 0);
    cr_assert_eq(os_read(f, 100, back, 900, NULL), 0);
    cr_assert_arr_eq(back, buf, 900);
    cr_assert_eq(os_write(f, 0, buf, 10), CD_EIO);
    cr_assert_eq(f->err.sys_errno, EBADF);
    cr_assert_neq(strstr(os_file_error(f), "pwrite"), NULL);
    cr_assert_eq(os_close(f), 0);

    cr_assert_eq(os_remove(vfs, path, &err), 0);
    cr_assert_eq(os_remove(vfs, path, &err), CD_ENOTFOUND);
}

Test(os, lock_same_process) {
    os_vfs *vfs = os_vfs_default();
    os_file *a, *b;
    cr_assert_eq(os_open(vfs, path, OS_OPEN_CREATE, &a, NULL), 0);
    cr_assert_eq(os_open(vfs, path, OS_OPEN_RDWR, &b, NULL), 0);
    cr_assert_eq(os_lock(a), 0);
    cr_assert_eq(os_lock(a), 0); /* again on the same open: still ours */
    cr_assert_eq(os_lock(b), CD_EBUSY);
    cr_assert_neq(strstr(os_file_error(b), "locked"), NULL);
    cr_assert_eq(os_close(a), 0); /* released on close */
    cr_assert_eq(os_lock(b), 0);
    cr_assert_eq(os_close(b), 0);
}

/* The child tries the lock and exits with 0 (got it), 1 (busy), 2 (else). */
static int child_try_lock(void) {
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        os_file *f;
        if (os_open(os_vfs_default(), path, OS_OPEN_RDWR, &f, NULL) != 0)
            _exit(2);
        int rc = os_lock(f);
        _exit(rc == 0 ? 0 : rc == CD_EBUSY ? 1 : 2);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

Test(os, lock_other_process) {
    os_vfs *vfs = os_vfs_default();
    os_file *a;
    cr_assert_eq(os_open(vfs, path, OS_OPEN_CREATE, &a, NULL), 0);
    cr_assert_eq(child_try_lock(), 0);
    cr_assert_eq(os_lock(a), 0);
    cr_assert_eq(child_try_lock(), 1);
    cr_assert_eq(os_close(a), 0);
    cr_assert_eq(child_try_lock(), 0);
}

Test(os, errno_mapping) {
    cr_assert_eq(os_status_from_errno(ENOSPC), CD_EFULL);
    cr_assert_eq(os_status_from_errno(EDQUOT), CD_EFULL);
    cr_assert_eq(os_status_from_errno(ENOMEM), CD_ENOMEM);
    cr_assert_eq(os_status_from_errno(ENOENT), CD_ENOTFOUND);
    cr_assert_eq(os_status_from_errno(EIO), CD_EIO);
    cr_assert_eq(os_status_from_errno(EACCES), CD_EIO);
    cr_assert_eq(os_status_from_errno(EBADF), CD_EIO);
    os_err err;
    cr_assert_eq(os_err_set(&err, CD_EFULL, ENOSPC, "pwrite", "x", NULL),
                 CD_EFULL);
    cr_assert_str_eq(err.text, "pwrite x: No space left on device");
    cr_assert_eq(os_err_set(NULL, CD_EIO, 0, "a", "b", "c"), CD_EIO);
}

Test(os, disk_full_is_efull) {
    os_file *f;
    if (os_open(os_vfs_default(), "/dev/full", OS_OPEN_RDWR, &f, NULL) != 0)
        cr_skip_test("no /dev/full");
    uint8_t buf[4096] = {1};
    cr_assert_eq(os_write(f, 0, buf, sizeof buf), CD_EFULL);
    cr_assert_eq(f->err.code, CD_EFULL);
    cr_assert_eq(f->err.sys_errno, ENOSPC);
    os_close(f);
}

Test(os, random_and_alloc) {
    os_vfs *vfs = os_vfs_default();
    uint64_t a = 0, b = 0;
    cr_assert_eq(os_random(vfs, &a, sizeof a), 0);
    cr_assert_eq(os_random(vfs, &b, sizeof b), 0);
    cr_assert_neq(a, b);
    void *p = os_alloc(vfs, 100);
    cr_assert_not_null(p);
    os_free(vfs, p);
    os_free(vfs, NULL);
}

/* os_cpu_count follows the thread's affinity mask: limited to one core it
 * says 1, where sysconf would still count every core online (and a
 * process held to one core would spin while the thread it waits for
 * cannot run). */
Test(os, cpu_count_follows_affinity) {
#if defined(__linux__)
    cpu_set_t all, one;
    cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
    cr_assert_eq(os_cpu_count(), CPU_COUNT(&all));
    int first = 0;
    while (!CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
    int n = os_cpu_count();
    cr_assert_eq(sched_setaffinity(0, sizeof all, &all), 0);
    cr_assert_eq(n, 1);
#else
    cr_assert_geq(os_cpu_count(), 1);
#endif
}

/* os_cpuset_avoid moves the calling thread off a processor at once and
 * keeps it within the set it was given; os_cpuset_set gives the whole set
 * back.  A set with no other processor is refused and changes nothing. */
Test(os, a_thread_moves_off_a_processor_and_back) {
#if defined(__linux__)
    os_cpuset all;
    cr_assert_eq(os_cpuset_get(&all), 0);
    cr_assert(all.valid);
    if (os_cpu_count() < 2)
        cr_skip_test("one processor: nowhere to move");
    int here = os_cpu_current();
    cr_assert_geq(here, 0);
    cr_assert_eq(os_cpuset_avoid(&all, here), 0);
    cr_assert_neq(os_cpu_current(), here, "still on processor %d", here);
    cpu_set_t now;
    cr_assert_eq(sched_getaffinity(0, sizeof now, &now), 0);
    cr_assert(!CPU_ISSET(here, &now));
    cr_assert_eq(CPU_COUNT(&now), os_cpu_count());
    cr_assert_eq(os_cpuset_set(&all), 0);
    os_cpuset back;
    cr_assert_eq(os_cpuset_get(&back), 0);
    cr_assert_eq(memcmp(back.bits, all.bits, sizeof all.bits), 0);
    /* Held to one processor, there is nowhere else to go. */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(os_cpu_current(), &one);
    cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
    os_cpuset single;
    cr_assert_eq(os_cpuset_get(&single), 0);
    int only = os_cpu_current();
    cr_assert_eq(os_cpuset_avoid(&single, only), -1);
    cr_assert_eq(os_cpu_current(), only);
    cr_assert_eq(os_cpuset_avoid(&single, -1), -1);
    cr_assert_eq(os_cpuset_set(&all), 0);
    os_cpuset none = {0};
    cr_assert_eq(os_cpuset_set(&none), -1, "a set never read is refused");
#else
    os_cpuset s;
    cr_assert_eq(os_cpuset_get(&s), -1);
    cr_assert_eq(os_cpu_current(), -1);
#endif
}
