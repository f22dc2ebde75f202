/*
 * isle_coll_watch.c: watchers of a collection or of one object, on top of
 * the engine's tree watchers (en_watch_add) on the collection's tree: the
 * engine reports the keys a commit put or deleted, and the bridge here
 * turns them back into ids.  Uses engine/ (en.h) and codec/ (cd_key.h).
 */
#include <stdlib.h>

#include "coll_int.h"

struct isle_coll_watcher {
    en_watch *w;
    const isle_coll *c;
    isle_coll_watch_fn fn;
    void *arg;
};

/* Runs on the writer thread (or through the dispatcher) after a commit. */
static void bridge(void *arg, const en_change *ch) {
    const isle_coll_watcher *cw = arg;
    int64_t ids[EN_WATCH_KEYS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; ch->keys_known && i < ch->nkeys && n < EN_WATCH_KEYS_MAX; i++)
        if (cd_key_id_decode(ch->keys[i], ch->klens[i], &ids[n], NULL) == 0)
            n++;
    isle_coll_change cc = {.collection = cw->c->name, .txn = ch->txn,
                           .ids_known = ch->keys_known, .nids = n, .ids = ids};
    cw->fn(cw->arg, &cc);
}

static int watch(const char *fn, isle_coll *c, const int64_t *id, isle_coll_watch_fn cb,
                 void *arg, isle_coll_watcher **out) {
    if (!c || !cb || !out)
        return en_fail(ISLE_EINVAL, "%s: NULL argument", fn);
    if (c->magic != CO_COLL_MAGIC)
        return en_fail(ISLE_EINVAL, "%s: not an open collection", fn);
    if (id && *id == ISLE_AUTO_ID)
        return en_fail(ISLE_EINVAL, "%s: id 0 is ISLE_AUTO_ID, never stored", fn);
    isle_coll_watcher *cw = calloc(1, sizeof *cw);
    if (!cw)
        return en_fail(ISLE_ENOMEM, "%s: out of memory", fn);
    *cw = (isle_coll_watcher){.c = c, .fn = cb, .arg = arg};
    uint8_t key[CD_KEY_ID_SIZE];
    if (id)
        cd_key_id_encode(key, *id);
    int rc = en_watch_add(c->db, c->tree_name, id ? key : NULL, id ? sizeof key : 0, bridge,
                          cw, &cw->w);
    if (rc) {
        free(cw);
        return rc;
    }
    *out = cw;
    en_clear_error();
    return 0;
}

int isle_coll_watch(isle_coll *c, isle_coll_watch_fn fn, void *arg,
                    isle_coll_watcher **out) {
    return watch("isle_coll_watch", c, NULL, fn, arg, out);
}

int isle_coll_watch_object(isle_coll *c, int64_t id, isle_coll_watch_fn fn, void *arg,
                           isle_coll_watcher **out) {
    return watch("isle_coll_watch_object", c, &id, fn, arg, out);
}

void isle_coll_unwatch(isle_coll_watcher *w) {
    if (!w)
        return;
    en_watch_remove(w->w); /* after it, bridge is not running and never will */
    free(w);
}
