/*
 * en_err.c: the calling thread's message about its last failure, shared by
 * every layer above the codec, and the commit payload codec (the state a
 * commit record carries).
 */
#include <stdarg.h>
#include <stdio.h>

#include "en_int.h"

static _Thread_local char errmsg[512];

const char *en_errmsg(void) { return errmsg; }

void en_clear_error(void) { errmsg[0] = 0; }

int en_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    return code;
}

const char *en_code_name(int rc) {
    switch (rc) {
    case CD_EINVAL: return "invalid argument";
    case CD_ECORRUPT: return "corrupt data";
    case CD_ENOMEM: return "out of memory";
    case CD_EIO: return "I/O error";
    case CD_EFULL: return "disk full";
    case CD_EREOPEN: return "must reopen";
    default: return "error";
    }
}

void en_state_encode(const en_state *s, uint8_t out[EN_PAYLOAD_SIZE]) {
    memset(out, 0, EN_PAYLOAD_SIZE);
    out[0] = 1;
    cd_put64(out + 8, s->txn);
    cd_put64(out + 16, s->next_txn);
    cd_put32(out + 24, s->page_count);
    cd_put32(out + 28, s->catalog_root);
    cd_put32(out + 32, s->free_head);
    cd_put32(out + 36, s->free_count);
    cd_put64(out + 40, s->db_id);
}

int en_state_decode(const uint8_t *p, uint32_t len, en_state *s) {
    if (len != EN_PAYLOAD_SIZE || p[0] != 1)
        return CD_ECORRUPT;
    for (int i = 1; i < 8; i++)
        if (p[i])
            return CD_ECORRUPT;
    s->txn = cd_get64(p + 8);
    s->next_txn = cd_get64(p + 16);
    s->page_count = cd_get32(p + 24);
    s->catalog_root = cd_get32(p + 28);
    s->free_head = cd_get32(p + 32);
    s->free_count = cd_get32(p + 36);
    s->db_id = cd_get64(p + 40);
    if (s->next_txn <= s->txn || s->page_count < CD_FIRST_DATA_PGNO ||
        s->catalog_root >= s->page_count || s->free_head >= s->page_count)
        return CD_ECORRUPT;
    return 0;
}
