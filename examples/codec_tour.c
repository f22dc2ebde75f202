/*
 * codec_tour.c: stores objects with isle's codec and reads them back.
 *
 * It defines a User type (two strings, an int32, a double, a datetime, a
 * list of tags and an embedded address), encodes N users as records, packs
 * them under their ids into checksummed B+tree leaf pages, writes the pages
 * to a file, then reads the file back: every page is validated, every
 * record validated and decoded, and every field compared with what was
 * stored.  It prints a few users and what the storage cost per object.
 *
 * Usage: codec_tour FILE [N]
 *
 * This is the codec alone (no tree, no log): the storage engine built on it
 * is what applications use.  Uses codec/ only.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_key.h"
#include "cd_page.h"
#include "cd_record.h"
#include "cd_time.h"

enum { F_NAME, F_EMAIL, F_AGE, F_SCORE, F_CREATED, F_TAGS, F_ADDRESS, F_COUNT };
enum { A_STREET, A_CITY, A_COUNT };

static cd_field address_fields[A_COUNT] = {
    [A_STREET] = {.type = CD_TYPE_STRING},
    [A_CITY] = {.type = CD_TYPE_STRING},
};
static cd_schema address_schema = {.fields = address_fields, .nfields = A_COUNT};

static cd_field user_fields[F_COUNT] = {
    [F_NAME] = {.type = CD_TYPE_STRING},
    [F_EMAIL] = {.type = CD_TYPE_STRING},
    [F_AGE] = {.type = CD_TYPE_SHORT},
    [F_SCORE] = {.type = CD_TYPE_DOUBLE},
    [F_CREATED] = {.type = CD_TYPE_DATETIME},
    [F_TAGS] = {.type = CD_TYPE_STRING, .is_list = 1},
    [F_ADDRESS] = {.type = CD_TYPE_OBJECT, .object = &address_schema},
};
static cd_schema user_schema = {.fields = user_fields, .nfields = F_COUNT};

static const char *const cities[] = {"Zürich", "Kraków", "東京", "Lagos", "Lima"};
static const char *const tags[] = {"admin", "beta", "ops", "☕"};

/* The user with a given id, generated the same way when writing and
 * when checking. */
typedef struct user {
    int64_t id;
    char name[32], email[48];
    int32_t age; /* INT32_MIN: unknown */
    double score;
    int64_t created;
    unsigned ntags;
    int has_address;
    char street[32];
    const char *city;
} user;

static void make_user(int64_t id, user *u) {
    memset(u, 0, sizeof *u);
    u->id = id;
    snprintf(u->name, sizeof u->name, "user %" PRId64, id);
    snprintf(u->email, sizeof u->email, "user%" PRId64 "@example.org", id);
    u->age = id % 10 == 0 ? INT32_MIN : (int32_t)(18 + id % 60);
    u->score = (double)id * 0.25;
    u->created = 1700000000000000LL + id * 1000003;
    u->ntags = (unsigned)(id % 5);
    u->has_address = id % 3 != 0;
    snprintf(u->street, sizeof u->street, "%" PRId64 " Main Street", id % 997);
    u->city = cities[id % 5];
}

static int encode_user(const user *u, uint8_t *buf, size_t cap, size_t *len) {
    cd_writer w;
    cd_writer_init(&w, buf, cap);
    cd_writer_begin(&w, &user_schema);
    cd_writer_string(&w, user_fields[F_NAME].offset, u->name, strlen(u->name));
    cd_writer_string(&w, user_fields[F_EMAIL].offset, u->email, strlen(u->email));
    cd_writer_i32(&w, user_fields[F_AGE].offset, u->age);
    cd_writer_f64(&w, user_fields[F_SCORE].offset, u->score);
    cd_writer_i64(&w, user_fields[F_CREATED].offset, u->created);
    if (u->ntags) {
        cd_writer_strings_begin(&w, user_fields[F_TAGS].offset, u->ntags);
        for (unsigned i = 0; i < u->ntags; i++)
            cd_writer_strings_item(&w, i, tags[i % 4], strlen(tags[i % 4]));
    }
    if (u->has_address) {
        cd_writer_object_begin(&w, user_fields[F_ADDRESS].offset, &address_schema);
        cd_writer_string(&w, address_fields[A_STREET].offset, u->street, strlen(u->street));
        cd_writer_string(&w, address_fields[A_CITY].offset, u->city, strlen(u->city));
        cd_writer_object_end(&w);
    }
    return cd_writer_finish(&w, len);
}

static int str_is(const cd_reader *r, uint16_t off, const char *want) {
    const char *s;
    uint32_t n;
    if (cd_reader_string(r, off, &s, &n) != 1) /* 1: present, 0: null */
        return want == NULL;
    return want && n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Checks a stored record against the user it should hold. */
static int check_user(const uint8_t *rec, uint32_t len, const user *u, int print) {
    cd_reader r, a;
    cd_list l;
    if (cd_record_validate(&user_schema, rec, len, NULL) != 0 ||
        cd_reader_init(&r, rec, len) != 0)
        return -1;
    int ok = str_is(&r, user_fields[F_NAME].offset, u->name) &&
             str_is(&r, user_fields[F_EMAIL].offset, u->email) &&
             cd_reader_i32(&r, user_fields[F_AGE].offset) == u->age &&
             cd_reader_f64(&r, user_fields[F_SCORE].offset) == u->score &&
             cd_reader_i64(&r, user_fields[F_CREATED].offset) == u->created &&
             cd_reader_list(&r, user_fields[F_TAGS].offset, CD_TYPE_STRING, &l) ==
                 (u->ntags > 0) &&
             l.count == u->ntags;
    int has = cd_reader_object(&r, user_fields[F_ADDRESS].offset, &a) == 1;
    ok = ok && has == u->has_address &&
         (!has || (str_is(&a, address_fields[A_STREET].offset, u->street) &&
                   str_is(&a, address_fields[A_CITY].offset, u->city)));
    if (ok && print) {
        struct tm tm;
        int32_t usec;
        cd_time_to_tm_utc(u->created, &tm, &usec);
        char when[32], age[16] = "null";
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        if (u->age != INT32_MIN)
            snprintf(age, sizeof age, "%d", (int)u->age);
        printf("  #%-6" PRId64 " %-11s %-24s age %-4s score %8.2f  %s.%06dZ  %u tags  %s\n",
               u->id, u->name, u->email, age,
               u->score, when, usec, u->ntags, has ? u->city : "(no address)");
    }
    return ok ? 0 : -1;
}

/* Appends id/record to the current leaf; starts a new page when full. */
static int store(FILE *f, uint8_t *pg, uint32_t *pgno, int64_t id,
                 const uint8_t *rec, size_t len) {
    uint8_t key[CD_KEY_ID_SIZE];
    cd_key_id_encode(key, id);
    uint32_t cell = cd_leaf_cell_len(sizeof key, (uint32_t)len, 0);
    uint8_t *dst = cd_page_cell_alloc(pg, CD_PAGE_SIZE_DEFAULT, cd_page_n(pg), cell);
    if (!dst) {
        cd_page_seal(pg, CD_PAGE_SIZE_DEFAULT);
        if (fwrite(pg, CD_PAGE_SIZE_DEFAULT, 1, f) != 1)
            return -1;
        cd_page_init(pg, CD_PAGE_SIZE_DEFAULT, CD_PAGE_LEAF, ++*pgno, 1);
        dst = cd_page_cell_alloc(pg, CD_PAGE_SIZE_DEFAULT, 0, cell);
    }
    cd_leaf_cell_write(dst, key, sizeof key, rec, (uint32_t)len, 0);
    return 0;
}

static int write_file(const char *path, int64_t n, uint32_t *pages) {
    static uint8_t pg[CD_PAGE_SIZE_DEFAULT];
    uint8_t rec[1024];
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint32_t pgno = CD_FIRST_DATA_PGNO;
    cd_page_init(pg, CD_PAGE_SIZE_DEFAULT, CD_PAGE_LEAF, pgno, 1);
    int rc = 0;
    for (int64_t id = 1; id <= n && rc == 0; id++) {
        user u;
        size_t len;
        make_user(id, &u);
        rc = encode_user(&u, rec, sizeof rec, &len);
        if (rc == 0)
            rc = store(f, pg, &pgno, id, rec, len);
    }
    cd_page_seal(pg, CD_PAGE_SIZE_DEFAULT);
    if (rc == 0 && fwrite(pg, CD_PAGE_SIZE_DEFAULT, 1, f) != 1)
        rc = -1;
    *pages = pgno - CD_FIRST_DATA_PGNO + 1;
    return fclose(f) == 0 ? rc : -1;
}

static int read_file(const char *path, int64_t n) {
    static uint8_t pg[CD_PAGE_SIZE_DEFAULT];
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int64_t next = 1;
    for (uint32_t pgno = CD_FIRST_DATA_PGNO;
         fread(pg, CD_PAGE_SIZE_DEFAULT, 1, f) == 1; pgno++) {
        cd_diag d = {0};
        if (cd_page_validate(pg, CD_PAGE_SIZE_DEFAULT, pgno, CD_PAGE_MASK_LEAF, &d)) {
            fprintf(stderr, "page %u is corrupt: %s\n", pgno, d.what);
            fclose(f);
            return -1;
        }
        for (unsigned i = 0; i < cd_page_n(pg); i++, next++) {
            cd_leaf_cell c;
            int64_t id;
            user u;
            cd_leaf_cell_get(pg, i, &c);
            make_user(next, &u);
            if (cd_key_id_decode(c.key, c.klen, &id, NULL) || id != next ||
                check_user(c.val, c.vlen, &u, next <= 3 || next == n)) {
                fprintf(stderr, "object %" PRId64 " did not read back\n", next);
                fclose(f);
                return -1;
            }
        }
    }
    fclose(f);
    return next == n + 1 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: codec_tour FILE [N]\n");
        return 2;
    }
    int64_t n = argc == 3 ? strtoll(argv[2], NULL, 10) : 100000;
    if (n < 1 || cd_schema_layout(&address_schema) || cd_schema_layout(&user_schema)) {
        fprintf(stderr, "codec_tour: bad N or schema\n");
        return 2;
    }
    uint32_t pages;
    if (write_file(argv[1], n, &pages)) {
        fprintf(stderr, "codec_tour: writing %s failed\n", argv[1]);
        return 1;
    }
    printf("stored %" PRId64 " users in %u pages of %u bytes (%.1f bytes per user)\n",
           n, pages, CD_PAGE_SIZE_DEFAULT, (double)pages * CD_PAGE_SIZE_DEFAULT / (double)n);
    printf("reading back, checking every field:\n");
    if (read_file(argv[1], n)) {
        fprintf(stderr, "codec_tour: reading %s back failed\n", argv[1]);
        return 1;
    }
    printf("all %" PRId64 " users read back intact\n", n);
    return 0;
}
