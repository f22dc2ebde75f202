/*
 * seed_key.c: writes the key fuzz target's seed corpus: pairs of real
 * composite keys built by the codec, for a range of specs covering every
 * component type, each behind the header fz_key.c expects (component count,
 * types, split point).  Usage: seed_key DIR
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cd_key.h"

/* One seed spec: a name and its component types. */
typedef struct seed {
    const char *name;
    uint8_t types[CD_KEY_PARTS_MAX];
    unsigned n;
} seed;

static const seed seeds[] = {
    {"bool", {CD_KEY_BOOL, CD_KEY_ID}, 2},
    {"byte", {CD_KEY_BYTE, CD_KEY_ID}, 2},
    {"ints", {CD_KEY_I8, CD_KEY_I16, CD_KEY_I32, CD_KEY_I64, CD_KEY_ID}, 5},
    {"datetime", {CD_KEY_DATETIME, CD_KEY_ID}, 2},
    {"float", {CD_KEY_FLOAT, CD_KEY_ID}, 2},
    {"double", {CD_KEY_DOUBLE, CD_KEY_ID}, 2},
    {"string", {CD_KEY_STRING, CD_KEY_ID}, 2},
    {"hash", {CD_KEY_HASH, CD_KEY_ID}, 2},
    {"id", {CD_KEY_ID}, 1},
    {"str-str", {CD_KEY_STRING, CD_KEY_STRING, CD_KEY_ID}, 3},
    {"str-dbl-bool", {CD_KEY_STRING, CD_KEY_DOUBLE, CD_KEY_BOOL, CD_KEY_ID}, 4},
    {"mixed", {CD_KEY_BOOL, CD_KEY_BYTE, CD_KEY_I8, CD_KEY_I16, CD_KEY_I32,
               CD_KEY_I64, CD_KEY_DATETIME, CD_KEY_FLOAT, CD_KEY_DOUBLE,
               CD_KEY_STRING, CD_KEY_HASH, CD_KEY_ID}, 12},
};

static const char *const strs[] = {"", "a", "ab", "a\0b", "\xff\x01",
                                   "\xc3\xa9t\xc3\xa9", "\0", "abc"};
static const size_t str_lens[] = {0, 1, 2, 3, 2, 5, 1, 3};
static const double dbls[] = {NAN, -INFINITY, -1.5, -0.0, 0.0, DBL_MIN,
                              1e300, INFINITY};
static const int64_t ints[] = {INT64_MIN, -1, 0, 1, 42, INT32_MAX, -300,
                               INT64_MAX};

/* Appends the k-th sample value of type t (k < 8). */
static int put(cd_key_builder *kb, uint8_t t, unsigned k) {
    int64_t i = ints[k];
    switch (t) {
    case CD_KEY_BOOL: return cd_key_put_bool(kb, (uint8_t)(k % 3));
    case CD_KEY_BYTE: return cd_key_put_byte(kb, (uint8_t)(k * 37));
    case CD_KEY_I8: return cd_key_put_i8(kb, (int8_t)(i % 128));
    case CD_KEY_I16: return cd_key_put_i16(kb, (int16_t)(i % 32768));
    case CD_KEY_I32: return cd_key_put_i32(kb, (int32_t)(i % INT32_MAX));
    case CD_KEY_I64: return cd_key_put_i64(kb, i);
    case CD_KEY_DATETIME: return cd_key_put_datetime(kb, i);
    case CD_KEY_FLOAT: return cd_key_put_float(kb, (float)dbls[k]);
    case CD_KEY_DOUBLE: return cd_key_put_double(kb, dbls[k]);
    case CD_KEY_STRING:
        return k == 7 ? cd_key_put_str(kb, NULL, 0)
                      : cd_key_put_str(kb, strs[k], str_lens[k]);
    case CD_KEY_HASH: return cd_key_put_hash(kb, strs[k], str_lens[k]);
    case CD_KEY_ID: return cd_key_put_id(kb, i);
    default: return CD_EINVAL;
    }
}

static int build(const seed *s, unsigned k, uint8_t *buf, uint32_t *len) {
    cd_key_builder kb;
    cd_key_builder_init(&kb, buf, CD_KEY_SIZE_MAX);
    for (unsigned i = 0; i < s->n; i++)
        put(&kb, s->types[i], (k + i) % 8);
    return cd_key_builder_finish(&kb, len);
}

static int emit(const char *dir, const seed *s, unsigned ka, unsigned kb) {
    static uint8_t a[CD_KEY_SIZE_MAX], b[CD_KEY_SIZE_MAX];
    uint32_t alen, blen;
    if (build(s, ka, a, &alen) != CD_OK || build(s, kb, b, &blen) != CD_OK)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%u-%u", dir, s->name, ka, kb);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint8_t hdr[3 + CD_KEY_PARTS_MAX];
    hdr[0] = (uint8_t)(s->n - 1);
    memcpy(hdr + 1, s->types, s->n);
    hdr[1 + s->n] = (uint8_t)alen;
    hdr[2 + s->n] = (uint8_t)(alen >> 8);
    size_t hlen = 3 + s->n;
    int ok = fwrite(hdr, 1, hlen, f) == hlen &&
             fwrite(a, 1, alen, f) == alen && fwrite(b, 1, blen, f) == blen;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    int count = 0;
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        for (unsigned k = 0; k < 8; k += 3) {
            if (emit(argv[1], &seeds[i], k, (k + 5) % 8) != 0) {
                fprintf(stderr, "seed_key: cannot write %s/%s\n", argv[1],
                        seeds[i].name);
                return 1;
            }
            count++;
        }
    }
    printf("seed_key: wrote %d inputs\n", count);
    return 0;
}
