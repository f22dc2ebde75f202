/*
 * kv_util.c: see kv_util.h.
 */
#define _DEFAULT_SOURCE
#include "kv_util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void kv_tmp_make(kv_tmp *t) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(t->dir, sizeof t->dir, "%s/isle-kv-XXXXXX", base);
    cr_assert_not_null(mkdtemp(t->dir), "mkdtemp %s", t->dir);
    snprintf(t->path, sizeof t->path, "%s/db.isle", t->dir);
    snprintf(t->wal, sizeof t->wal, "%s-wal", t->path);
}

void kv_tmp_remove(kv_tmp *t) {
    if (!t->dir[0])
        return;
    DIR *d = opendir(t->dir);
    if (d) {
        struct dirent *e;
        char p[600];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(t->dir);
    t->dir[0] = 0;
}

uint64_t kv_rand(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t kv_below(uint64_t *s, uint64_t n) { return kv_rand(s) % n; }

/* The 8 bytes at word w of the value with this seed. */
static uint64_t word(uint64_t seed, uint64_t w) {
    uint64_t s = seed ^ (w * 0xd6e8feb86659fd93ull);
    return kv_rand(&s);
}

void kv_fill(void *out, size_t len, uint64_t seed) {
    uint8_t *p = out;
    size_t i = 0;
    for (uint64_t w = 0; i < len; w++) {
        uint64_t x = word(seed, w);
        for (int b = 0; b < 8 && i < len; b++, i++)
            p[i] = (uint8_t)(x >> (8 * b));
    }
}

long kv_diff(const void *data, size_t len, uint64_t seed) {
    const uint8_t *p = data;
    size_t i = 0;
    for (uint64_t w = 0; i < len; w++) {
        uint64_t x = word(seed, w);
        for (int b = 0; b < 8 && i < len; b++, i++)
            if (p[i] != (uint8_t)(x >> (8 * b)))
                return (long)i;
    }
    return -1;
}

uint8_t *kv_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    cr_assert_eq(got, (size_t)n, "reading %s", path);
    *len = (size_t)n;
    return buf;
}

int kv_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

uint64_t kv_env_u64(const char *name, uint64_t def) {
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    return *end ? def : (uint64_t)x;
}

isle_db *kv_open(const char *path, uint32_t page_size, int sync) {
    isle_options opt;
    isle_options_init(&opt);
    opt.page_size = page_size;
    opt.sync = sync;
    isle_db *db = NULL;
    int rc = isle_open(path, &opt, &db);
    cr_assert_eq(rc, 0, "isle_open %s: %s", path, isle_errmsg());
    return db;
}
