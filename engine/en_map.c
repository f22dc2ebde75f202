/*
 * en_map.c: the main file read in place.  Readers take main-file pages
 * straight from a read-only shared mapping instead of reading them into
 * the cache: no copy, no cache lookup, and the operating system's page
 * cache holds the file once.  Each page is verified (checksum, layout,
 * type) the first time it is used after it was written, and a bit per
 * page remembers that; a checkpoint clears a page's bit before it writes
 * the page, and sets it again once the write is done, as do a large
 * transaction's writes of its new pages: the bytes written are an image
 * this process built or verified, now in the file's page cache that the
 * mapping shows (en_map_verified), so a checkpoint's or a load's pages are
 * not checked a second time.  Log pages still go through the shared
 * cache (en_cache.c).
 *
 * Why reading in place is safe: a checkpoint writes page P only when no
 * live snapshot can reach the old image of P (en_ckpt.c), so no reader is
 * looking at the bytes that change, and a reader of a later snapshot finds
 * P's bit cleared and verifies the new image.  Pages past the end of the
 * file are never touched (SIGBUS): file_pages bounds what is read here.
 *
 * The mapping is larger than the file (twice it, at least 1 GiB of
 * address space, which costs no memory), so the file grows into it; when
 * a checkpoint grows the file past it, a larger mapping replaces it and
 * the old one stays mapped until close, since readers may hold its pages.
 * A vfs without map (or a failed mmap) leaves db->map NULL: every page is
 * then read into the cache as before.  A reader's walk asks for the next
 * leaf's mapped bytes while it decodes the current one (en_map_ahead, a
 * prefetch: it reads, checks and pins nothing).  Uses os/ and codec/.
 */
#include <stdlib.h>

#include "en_int.h"

uint64_t en_map_min_bytes = 1ull << 30;

struct en_map {
    const uint8_t *base;
    size_t len;
    uint32_t pages;             /* len / page size */
    _Atomic uint64_t *verified; /* a bit per page */
    struct en_map *older;       /* mappings it replaced (writer, close) */
};

static en_map *map_new(en_db *db, uint64_t file_bytes) {
    if (sizeof(void *) < 8)
        return NULL; /* not enough address space to map files ahead */
    uint64_t len = 2 * file_bytes;
    if (len < en_map_min_bytes)
        len = en_map_min_bytes;
    len = (len + db->page_size - 1) / db->page_size * db->page_size;
    uint64_t pages = len / db->page_size;
    if (pages > UINT32_MAX)
        return NULL;
    en_map *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->verified = calloc((size_t)(pages + 63) / 64, sizeof *m->verified);
    if (!m->verified || os_map(db->file, (size_t)len, (const void **)&m->base) != 0) {
        free(m->verified);
        free(m);
        return NULL;
    }
    m->len = (size_t)len;
    m->pages = (uint32_t)pages;
    return m;
}

void en_map_open(en_db *db) {
    uint64_t size;
    if (os_size(db->file, &size) != 0)
        return;
    atomic_store(&db->file_pages, (uint32_t)(size / db->page_size));
    /* release: the mapping's fields before its pointer */
    atomic_store_explicit(&db->map, map_new(db, size), memory_order_release);
}

void en_map_close(en_db *db) {
    for (en_map *m = atomic_load(&db->map), *older; m; m = older) {
        older = m->older;
        os_unmap(db->vfs, m->base, m->len);
        free(m->verified);
        free(m);
    }
    atomic_store(&db->map, NULL);
}

void en_map_invalidate(en_db *db, uint32_t pgno) {
    for (en_map *m = atomic_load_explicit(&db->map, memory_order_relaxed); m; m = m->older)
        if (pgno < m->pages)
            atomic_fetch_and_explicit(&m->verified[pgno / 64], ~(1ull << (pgno % 64)),
                                      memory_order_relaxed);
}

void en_map_verified(en_db *db, uint32_t pgno) {
    en_map *m = atomic_load_explicit(&db->map, memory_order_acquire);
    if (m && pgno < m->pages)
        atomic_fetch_or_explicit(&m->verified[pgno / 64], 1ull << (pgno % 64),
                                 memory_order_relaxed);
}

void en_map_extend(en_db *db, uint32_t pages) {
    if (pages <= atomic_load_explicit(&db->file_pages, memory_order_relaxed))
        return;
    en_map *m = atomic_load_explicit(&db->map, memory_order_relaxed);
    if (m && pages > m->pages) {
        en_map *n = map_new(db, (uint64_t)pages * db->page_size);
        if (!n) {
            /* keep the old mapping; the pages past it are read instead */
        } else {
            n->older = m;
            atomic_store_explicit(&db->map, n, memory_order_release);
        }
    }
    /* release: published before any snapshot that reads these pages */
    atomic_store_explicit(&db->file_pages, pages, memory_order_release);
}

/* The current mapping if it holds page pgno of the file, else NULL. */
static en_map *map_of(en_db *db, uint32_t pgno) {
    en_map *m = atomic_load_explicit(&db->map, memory_order_acquire);
    if (!m || pgno >= m->pages ||
        pgno >= atomic_load_explicit(&db->file_pages, memory_order_acquire))
        return NULL;
    return m;
}

int en_map_page(en_db *db, uint32_t pgno, unsigned mask, const uint8_t **page) {
    en_map *m = map_of(db, pgno);
    if (!m)
        return 0;
    const uint8_t *p = m->base + (size_t)pgno * db->page_size;
    uint64_t bit = 1ull << (pgno % 64);
    if (atomic_load_explicit(&m->verified[pgno / 64], memory_order_relaxed) & bit) {
        int rc = en_page_type_check(p, pgno, mask);
        if (rc)
            return rc;
    } else {
        cd_diag d = {0};
        if (cd_page_validate(p, db->page_size, pgno, mask, &d) != 0)
            return en_page_corrupt(pgno, "main file", &d);
        atomic_fetch_or_explicit(&m->verified[pgno / 64], bit, memory_order_relaxed);
        atomic_fetch_add_explicit(&db->n_map_checks, 1, memory_order_relaxed);
    }
    *page = p;
    return 1;
}

void en_map_ahead(en_db *db, uint32_t pgno) {
    en_map *m = map_of(db, pgno);
    if (!m)
        return;
    const uint8_t *p = m->base + (size_t)pgno * db->page_size;
    for (uint32_t off = 0; off < db->page_size; off += 64)
        cd_prefetch(p + off);
}

uint32_t en_map_count(en_db *db) {
    uint32_t n = 0;
    for (en_map *m = atomic_load_explicit(&db->map, memory_order_acquire); m; m = m->older)
        n++;
    return n;
}

int en_map_owns(en_db *db, const uint8_t *page) {
    for (en_map *m = atomic_load_explicit(&db->map, memory_order_acquire); m; m = m->older)
        if (page >= m->base && page < m->base + m->len)
            return 1;
    return 0;
}
