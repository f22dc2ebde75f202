/*
 * bn_obj.c: the benchmark's objects.  A deterministic generator (object
 * `id` in its `version` is the same bytes on every run and for every
 * engine) and the compact value a user of a key/value store would pack by
 * hand, stored by LMDB, RocksDB and isle's key/value adapter.  SQLite
 * stores the same fields as typed columns instead (bn_sqlite.c).
 *
 * Packed value, little-endian, the id being the key:
 *
 *   OFFSET  SIZE  DESCRIPTION
 *   0       4     age, int32
 *   4       8     score, IEEE-754 double
 *   12      8     created_us, int64 (µs since 1970 UTC)
 *   20      v     name: length as a LEB128 varint, then the UTF-8 bytes
 *   ..      v     email: the same
 *   -- BN_PROFILE only --
 *   ..      4     addr.zip, int32
 *   ..      v     addr.street
 *   ..      v     addr.city
 *   ..      1     ntags, 0..BN_TAGS_MAX
 *   ..      v     each tag, as a string
 *
 * A value is valid iff every length fits in the bytes that remain, ntags
 * is at most BN_TAGS_MAX, and nothing follows the last field.
 */
#include "bn.h"

#include <stdlib.h>

#define SEED 0x15CE5EEDull /* the fixed seed of every run */

static const char *const first_names[32] = {
    "Ada",    "Alan",   "Barbara", "Brian",  "Claude", "Donald", "Edsger",  "Frances",
    "Grace",  "Hedy",   "Ivan",    "John",   "Ken",    "Leslie", "Margaret", "Niklaus",
    "Ole",    "Peter",  "Radia",   "Robin",  "Shafi",  "Sophie", "Tony",    "Ursula",
    "Vint",   "Whitfield", "Xavier", "Yukihiro", "Zeynep", "Dennis", "Guido", "Bjarne"};
static const char *const last_names[32] = {
    "Lovelace", "Turing",  "Liskov",   "Kernighan", "Shannon", "Knuth",   "Dijkstra",
    "Allen",    "Hopper",  "Lamarr",   "Sutherland", "McCarthy", "Thompson", "Lamport",
    "Hamilton", "Wirth",   "Dahl",     "Naur",      "Perlman", "Milner",  "Goldwasser",
    "Wilson",   "Hoare",   "Franklin", "Cerf",      "Diffie",  "Leroy",   "Matsumoto",
    "Tufekci",  "Ritchie", "Rossum",   "Stroustrup"};
static const char *const domains[8] = {"example.com", "mail.example.org", "isle.dev",
                                       "post.example.net", "inbox.example.com",
                                       "users.example.io", "corp.example", "uni.example.edu"};
static const char *const cities[16] = {"Lisbon",  "Oslo",    "Kyoto",   "Recife",
                                       "Tallinn", "Dakar",   "Quito",   "Perth",
                                       "Bergen",  "Porto",   "Leipzig", "Valparaiso",
                                       "Hobart",  "Gdansk",  "Cork",    "Montreal"};
static const char *const streets[16] = {"Harbour", "Mill",  "Station", "Church",
                                        "Elm",     "Oak",   "Bridge",  "Market",
                                        "Castle",  "Park",  "Quay",    "Orchard",
                                        "Meadow",  "Forge", "Garden",  "Vine"};
static const char *const tag_words[32] = {
    "admin", "beta", "premium", "trial", "mobile", "desktop", "eu", "us",
    "apac", "verified", "staff", "partner", "legacy", "newsletter", "sms", "push",
    "dark-mode", "early", "gold", "silver", "bronze", "support", "api", "export",
    "import", "sync", "offline", "team", "family", "student", "research", "vip"};

const char *bn_kind_name(bn_kind kind) { return kind == BN_PROFILE ? "profile" : "user"; }

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Appends a string and a NUL (for APIs of C strings) to buf at *at and
 * returns its view, the NUL not counted. */
static bn_str put_str(char *buf, size_t *at, const char *s, size_t len) {
    memcpy(buf + *at, s, len);
    buf[*at + len] = 0;
    bn_str v = {buf + *at, len};
    *at += len + 1;
    return v;
}

static void lower_into(char *dst, const char *src, size_t len) {
    for (size_t i = 0; i < len; i++)
        dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
}

void bn_gen(bn_kind kind, int64_t id, uint32_t version, bn_obj *o, char *buf) {
    uint64_t s = SEED ^ ((uint64_t)id * 0xD1B54A32D192ED03ull) ^ ((uint64_t)version << 48);
    uint64_t r = splitmix(&s);
    const char *fn = first_names[r & 31], *ln = last_names[(r >> 5) & 31];
    size_t fl = strlen(fn), ll = strlen(ln), at = 0;
    char tmp[96];

    memset(o, 0, sizeof *o);
    o->id = id;
    /* name: "First Last" */
    memcpy(tmp, fn, fl);
    tmp[fl] = ' ';
    memcpy(tmp + fl + 1, ln, ll);
    o->name = put_str(buf, &at, tmp, fl + 1 + ll);
    /* email: "first.last1234@domain" */
    lower_into(tmp, fn, fl);
    tmp[fl] = '.';
    lower_into(tmp + fl + 1, ln, ll);
    size_t el = fl + 1 + ll;
    unsigned num = (unsigned)((r >> 10) % 10000);
    for (unsigned d = 1000; d; d /= 10)
        tmp[el++] = (char)('0' + (num / d) % 10);
    tmp[el++] = '@';
    const char *dom = domains[(r >> 24) & 7];
    size_t dl = strlen(dom);
    memcpy(tmp + el, dom, dl);
    o->email = put_str(buf, &at, tmp, el + dl);

    uint64_t r2 = splitmix(&s);
    o->age = 18 + (int32_t)(r2 % 73);
    o->score = (double)(splitmix(&s) >> 11) * (1000.0 / 9007199254740992.0);
    /* 2020-01-01T00:00:00Z plus up to about four years, in µs */
    o->created_us = 1577836800000000ll + (int64_t)(splitmix(&s) % 126230400000000ull);
    if (kind != BN_PROFILE)
        return;

    uint64_t r3 = splitmix(&s);
    o->ntags = (uint32_t)(r3 % (BN_TAGS_MAX + 1));
    for (uint32_t i = 0; i < o->ntags; i++) {
        const char *w = tag_words[(r3 >> (8 + 5 * i)) & 31];
        o->tags[i] = put_str(buf, &at, w, strlen(w));
    }
    uint64_t r4 = splitmix(&s);
    const char *st = streets[r4 & 15];
    int sl = 0;
    unsigned house = 1 + (unsigned)((r4 >> 4) % 400);
    char num_s[8];
    for (unsigned d = house; d; d /= 10)
        num_s[sl++] = (char)('0' + d % 10);
    size_t tl = 0;
    while (sl)
        tmp[tl++] = num_s[--sl];
    tmp[tl++] = ' ';
    memcpy(tmp + tl, st, strlen(st));
    tl += strlen(st);
    memcpy(tmp + tl, " Street", 7);
    tl += 7;
    o->addr.street = put_str(buf, &at, tmp, tl);
    const char *c = cities[(r4 >> 16) & 15];
    o->addr.city = put_str(buf, &at, c, strlen(c));
    o->addr.zip = 10000 + (int32_t)((r4 >> 24) % 90000);
}

int bn_set_make(bn_set *set, bn_kind kind, const int64_t *ids, size_t n, uint32_t version) {
    memset(set, 0, sizeof *set);
    set->kind = kind;
    set->objs = malloc((n ? n : 1) * sizeof *set->objs);
    /* untouched arena pages never become resident */
    set->arena = malloc((n ? n : 1) * (size_t)BN_GEN_BYTES_MAX);
    if (!set->objs || !set->arena) {
        bn_set_free(set);
        return -1;
    }
    /* Pack the strings tightly: generate into a scratch buffer and copy. */
    char scratch[BN_GEN_BYTES_MAX];
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        bn_obj *o = &set->objs[i];
        bn_gen(kind, ids ? ids[i] : (int64_t)(i + 1), version, o, scratch);
        bn_str *fields[4 + BN_TAGS_MAX] = {&o->name, &o->email, &o->addr.street};
        size_t nf = kind == BN_PROFILE ? 4 : 2;
        fields[3] = &o->addr.city;
        for (uint32_t t = 0; t < o->ntags; t++)
            fields[nf++] = &o->tags[t];
        for (size_t f = 0; f < nf; f++) {
            memcpy(set->arena + at, fields[f]->ptr, fields[f]->len + 1); /* and its NUL */
            fields[f]->ptr = set->arena + at;
            at += fields[f]->len + 1;
        }
        set->sum += bn_obj_sum(kind, o);
    }
    set->n = n;
    return 0;
}

void bn_set_free(bn_set *set) {
    free(set->objs);
    free(set->arena);
    memset(set, 0, sizeof *set);
}

/* ---- packing ---------------------------------------------------------------- */

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 4;
}
static uint8_t *put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}
static uint8_t *put_var_str(uint8_t *p, bn_str s) {
    size_t v = s.len;
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    memcpy(p, s.ptr, s.len);
    return p + s.len;
}

size_t bn_pack(bn_kind kind, const bn_obj *o, uint8_t *buf) {
    uint64_t sb;
    memcpy(&sb, &o->score, 8);
    uint8_t *p = put_u32(buf, (uint32_t)o->age);
    p = put_u64(p, sb);
    p = put_u64(p, (uint64_t)o->created_us);
    p = put_var_str(p, o->name);
    p = put_var_str(p, o->email);
    if (kind == BN_PROFILE) {
        p = put_u32(p, (uint32_t)o->addr.zip);
        p = put_var_str(p, o->addr.street);
        p = put_var_str(p, o->addr.city);
        *p++ = (uint8_t)o->ntags;
        for (uint32_t i = 0; i < o->ntags; i++)
            p = put_var_str(p, o->tags[i]);
    }
    return (size_t)(p - buf);
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}
/* Reads a string at *p (before end); 0 or -1. */
static int get_var_str(const uint8_t **p, const uint8_t *end, bn_str *s) {
    uint32_t len = 0;
    for (int shift = 0;; shift += 7) {
        if (*p >= end || shift > 28)
            return -1;
        uint8_t b = *(*p)++;
        len |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    if ((size_t)(end - *p) < len)
        return -1;
    s->ptr = (const char *)*p;
    s->len = len;
    *p += len;
    return 0;
}

int bn_unpack(bn_kind kind, const void *data, size_t len, bn_obj *o) {
    const uint8_t *p = data, *end = p + len;
    if (len < 20)
        return -1;
    o->age = (int32_t)get_u32(p);
    uint64_t sb = get_u64(p + 4);
    memcpy(&o->score, &sb, 8);
    o->created_us = (int64_t)get_u64(p + 12);
    p += 20;
    if (get_var_str(&p, end, &o->name) || get_var_str(&p, end, &o->email))
        return -1;
    if (kind == BN_PROFILE) {
        if (end - p < 4)
            return -1;
        o->addr.zip = (int32_t)get_u32(p);
        p += 4;
        if (get_var_str(&p, end, &o->addr.street) || get_var_str(&p, end, &o->addr.city))
            return -1;
        if (p >= end || *p > BN_TAGS_MAX)
            return -1;
        o->ntags = *p++;
        for (uint32_t i = 0; i < o->ntags; i++)
            if (get_var_str(&p, end, &o->tags[i]))
                return -1;
    } else {
        o->ntags = 0;
    }
    return p == end ? 0 : -1;
}
