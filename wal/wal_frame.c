/*
 * wal_frame.c: the log's on-disk codec: header copies and frame headers,
 * field by field in little-endian order as tabled in wal.h, and the frame
 * checksum.  Pure functions; uses codec (cd_hash64, cd_get/put).
 */
#include <string.h>

#include "wal_int.h"

void wal_hdr_encode(uint8_t *dst, wal_hdr *h) {
    memset(dst, 0, WAL_HDR_SIZE);
    memcpy(dst + WAL_HDR_OFF_MAGIC, WAL_MAGIC, WAL_MAGIC_SIZE);
    cd_put32(dst + WAL_HDR_OFF_VERSION, h->version);
    cd_put32(dst + WAL_HDR_OFF_PAGE_SIZE, h->page_size);
    cd_put64(dst + WAL_HDR_OFF_SALT, h->salt);
    cd_put64(dst + WAL_HDR_OFF_GENERATION, h->generation);
    h->checksum = cd_hash64(dst, WAL_HDR_OFF_CHECKSUM, 0);
    cd_put64(dst + WAL_HDR_OFF_CHECKSUM, h->checksum);
}

int wal_hdr_decode(const uint8_t *src, wal_hdr *h) {
    if (memcmp(src + WAL_HDR_OFF_MAGIC, WAL_MAGIC, WAL_MAGIC_SIZE) != 0)
        return CD_ECORRUPT;
    h->checksum = cd_get64(src + WAL_HDR_OFF_CHECKSUM);
    if (cd_hash64(src, WAL_HDR_OFF_CHECKSUM, 0) != h->checksum)
        return CD_ECORRUPT;
    h->version = cd_get32(src + WAL_HDR_OFF_VERSION);
    h->page_size = cd_get32(src + WAL_HDR_OFF_PAGE_SIZE);
    h->salt = cd_get64(src + WAL_HDR_OFF_SALT);
    h->generation = cd_get64(src + WAL_HDR_OFF_GENERATION);
    if (h->version > WAL_FORMAT_VERSION)
        return CD_EVERSION;
    if (h->version < WAL_FORMAT_VERSION_MIN ||
        cd_get64(src + WAL_HDR_OFF_RESERVED) != 0)
        return CD_ECORRUPT;
    return 0;
}

uint64_t wal_frame_checksum(const uint8_t *hdr, const uint8_t *payload,
                            uint32_t len, uint64_t salt) {
    uint64_t h = cd_hash64(hdr, WAL_FRAME_OFF_CHECKSUM, salt);
    return cd_hash64(payload, len, h);
}

void wal_fhdr_encode(uint8_t *dst, const wal_fhdr *h) {
    dst[WAL_FRAME_OFF_KIND] = h->kind;
    dst[WAL_FRAME_OFF_FLAGS] = h->flags;
    cd_put16(dst + WAL_FRAME_OFF_RESERVED0, 0);
    cd_put32(dst + WAL_FRAME_OFF_LEN, h->len);
    cd_put64(dst + WAL_FRAME_OFF_SALT, h->salt);
    cd_put64(dst + WAL_FRAME_OFF_TXN, h->txn);
    cd_put32(dst + WAL_FRAME_OFF_PGNO, h->pgno);
    cd_put32(dst + WAL_FRAME_OFF_HOLE,
             h->flags == WAL_FRAME_DELTA ? h->base : h->hole);
    cd_put64(dst + WAL_FRAME_OFF_SYNCED, h->synced);
    cd_put64(dst + WAL_FRAME_OFF_PREV, h->prev);
    cd_put64(dst + WAL_FRAME_OFF_CHECKSUM, h->checksum);
}

int wal_fhdr_decode(const uint8_t *src, uint32_t page_size, wal_fhdr *h) {
    h->kind = src[WAL_FRAME_OFF_KIND];
    h->flags = src[WAL_FRAME_OFF_FLAGS];
    h->len = cd_get32(src + WAL_FRAME_OFF_LEN);
    h->salt = cd_get64(src + WAL_FRAME_OFF_SALT);
    h->txn = cd_get64(src + WAL_FRAME_OFF_TXN);
    h->pgno = cd_get32(src + WAL_FRAME_OFF_PGNO);
    h->hole = cd_get32(src + WAL_FRAME_OFF_HOLE);
    h->base = 0;
    if (h->flags == WAL_FRAME_DELTA) { /* the same bytes name the base */
        h->base = h->hole;
        h->hole = 0;
    }
    h->synced = cd_get64(src + WAL_FRAME_OFF_SYNCED);
    h->prev = cd_get64(src + WAL_FRAME_OFF_PREV);
    h->checksum = cd_get64(src + WAL_FRAME_OFF_CHECKSUM);
    if (cd_get16(src + WAL_FRAME_OFF_RESERVED0) != 0 || h->txn == 0)
        return CD_ECORRUPT;
    if (h->hole != 0 && h->flags != WAL_FRAME_HOLE)
        return CD_ECORRUPT;
    if (h->kind == WAL_FRAME_PAGE) {
        if (h->flags == 0)
            return h->len == page_size ? 0 : CD_ECORRUPT;
        if (h->flags == WAL_FRAME_HOLE)
            return h->len > 0 && h->len < page_size && h->hole <= h->len ? 0 : CD_ECORRUPT;
        if (h->flags == WAL_FRAME_ZSTD)
            return h->len > 0 && h->len < page_size ? 0 : CD_ECORRUPT;
        if (h->flags == WAL_FRAME_DELTA)
            return h->base != 0 && h->len > WAL_DELTA_RUN_HDR && h->len < page_size
                       ? 0
                       : CD_ECORRUPT;
        return CD_ECORRUPT;
    }
    if (h->kind == WAL_FRAME_COMMIT)
        return h->flags == 0 && h->len <= WAL_COMMIT_PAYLOAD_MAX
                   ? 0
                   : CD_ECORRUPT;
    return CD_ECORRUPT;
}
