/*
 * seed_page.c: writes the page fuzz target's seed corpus: real pages of
 * every type, built by the codec, at several page sizes, each behind the
 * selector byte fz_page.c expects.  Usage: seed_page DIR
 */
#include <stdio.h>
#include <stdlib.h>

#include "cd_page.h"

static uint8_t page[CD_PAGE_SIZE_MAX];

static int emit(const char *dir, const char *name, uint32_t psize, int reseal) {
    char path[4096];
    unsigned shift = 0;
    while ((CD_PAGE_SIZE_MIN << shift) != psize)
        shift++;
    snprintf(path, sizeof path, "%s/%s-%u%s", dir, name, psize, reseal ? "-r" : "");
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint8_t sel = (uint8_t)(shift | (reseal ? 8 : 0));
    /* Trailing zero bytes are implied by the harness: leave them out. */
    uint32_t len = psize;
    while (len > CD_PAGE_HDR_SIZE && page[len - 1] == 0)
        len--;
    int ok = fwrite(&sel, 1, 1, f) == 1 && fwrite(page, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static void leaf(uint32_t psize, unsigned n, int with_overflow) {
    cd_page_init(page, psize, CD_PAGE_LEAF, 2 + n, 1000 + n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t key[8], val[64];
        for (int b = 0; b < 8; b++)
            key[b] = (uint8_t)((uint64_t)(i * 3 + 1) >> (56 - 8 * b));
        for (unsigned b = 0; b < sizeof val; b++)
            val[b] = (uint8_t)(i + b);
        int ovf = with_overflow && i % 3 == 0;
        uint32_t vlen = ovf ? 70000 : i % 60;
        uint8_t *dst = cd_page_cell_alloc(page, psize, i, cd_leaf_cell_len(8, vlen, ovf));
        if (!dst)
            break;
        cd_leaf_cell_write(dst, key, 8, val, vlen, ovf ? 900 + i : 0);
    }
    /* Leave some fragments behind. */
    if (cd_page_n(page) > 4)
        cd_page_cell_remove(page, psize, 2);
    cd_page_seal(page, psize);
}

static void branch(uint32_t psize, unsigned n) {
    cd_page_init(page, psize, CD_PAGE_BRANCH, 3, 77);
    for (unsigned i = 0; i < n; i++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "key-%05u", i * 10);
        uint8_t *dst = cd_page_cell_alloc(page, psize, i, cd_branch_cell_len((uint32_t)klen));
        cd_branch_cell_write(dst, 100 + i, key, (uint32_t)klen);
    }
    cd_page_set_aux0(page, 99);
    cd_page_seal(page, psize);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: seed_page DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;
    for (uint32_t ps = CD_PAGE_SIZE_MIN; ps <= 4 * CD_PAGE_SIZE_MIN; ps *= 4) {
        leaf(ps, 0, 0), rc |= emit(dir, "leaf-empty", ps, 0);
        leaf(ps, 40, 0), rc |= emit(dir, "leaf", ps, 0);
        leaf(ps, 40, 1), rc |= emit(dir, "leaf-ovf", ps, 1);
        branch(ps, 30), rc |= emit(dir, "branch", ps, 0);
        branch(ps, 5), rc |= emit(dir, "branch-small", ps, 1);
    }
    cd_meta m = {.version = CD_FORMAT_VERSION, .page_size = CD_PAGE_SIZE_MIN,
                 .txn = 9, .page_count = 50, .catalog_root = 4, .free_head = 7,
                 .free_count = 12, .db_id = 0xfeedface, .next_txn = 10};
    cd_meta_encode(page, 1, &m), rc |= emit(dir, "meta", CD_PAGE_SIZE_MIN, 0);
    cd_page_init(page, CD_PAGE_SIZE_MIN, CD_PAGE_OVERFLOW, 11, 5);
    for (unsigned i = 0; i < 3000; i++)
        page[CD_PAGE_HDR_SIZE + i] = (uint8_t)(i * 7 + 1);
    cd_page_set_aux0(page, 12);
    cd_page_set_aux1(page, 3000);
    cd_page_seal(page, CD_PAGE_SIZE_MIN), rc |= emit(dir, "overflow", CD_PAGE_SIZE_MIN, 0);
    cd_page_init(page, CD_PAGE_SIZE_MIN, CD_PAGE_FREELIST, 13, 5);
    for (uint32_t i = 0; i < 100; i++)
        cd_freelist_push(page, CD_PAGE_SIZE_MIN, 20 + i * 2);
    cd_page_set_aux0(page, 14);
    cd_page_seal(page, CD_PAGE_SIZE_MIN), rc |= emit(dir, "freelist", CD_PAGE_SIZE_MIN, 0);
    if (rc) {
        fprintf(stderr, "seed_page: cannot write into %s\n", dir);
        return 1;
    }
    return 0;
}
