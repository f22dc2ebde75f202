/*
 * bn_util.c: the benchmark's small helpers over the operating system: a
 * monotonic clock, the bytes a directory holds, creating and removing
 * directories, syncing a file system, this process's resident memory (from
 * /proc on Linux), and latency quantiles.
 */
#define _GNU_SOURCE /* syncfs */
#include "bn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void bn_sync_fs(const char *dir) {
#ifdef __linux__
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        int rc = syncfs(fd);
        close(fd);
        if (rc == 0)
            return;
    }
#endif
    sync();
}

uint64_t bn_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bn_dir_bytes(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            total += bn_dir_bytes(path);
        else if (S_ISREG(st.st_mode))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

int bn_mkdir_p(const char *dir) {
    char tmp[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof tmp)
        return -1;
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(tmp, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bn_rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

/* A "Key:   123 kB" line of /proc/self/status, in bytes. */
static uint64_t status_kb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kl = strlen(key);
    uint64_t v = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = strtoull(line + kl + 1, NULL, 10) * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

uint64_t bn_mem_rss(void) { return status_kb("VmRSS"); }
uint64_t bn_mem_peak(void) { return status_kb("VmHWM"); }

int bn_mem_reset_peak(void) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0)
        return -1;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok ? 0 : -1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double bn_quantile_us(uint64_t *ns, size_t n, double q) {
    if (n == 0)
        return 0;
    qsort(ns, n, sizeof *ns, cmp_u64);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return (double)ns[i < n ? i : n - 1] / 1000.0;
}
