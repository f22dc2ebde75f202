/*
 * test_coll_watch.c: watchers of a collection and of one object: called
 * once per commit that changed what they watch, with the ids; a clear
 * reports unknown ids; an unwatched watcher is not called again.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <string.h>

#include "coll_util.h"

typedef struct Msg {
    int64_t id;
    char *text;
} Msg;
static const isle_field msg_fields[] = {ISLE_FIELD(Msg, text, ISLE_STRING)};
static const isle_schema msg_schema = ISLE_COLLECTION(Msg, id, msg_fields);

typedef struct seen {
    int calls;
    int ids_known;
    uint32_t nids;
    int64_t ids[16];
    char coll[16];
} seen;

static void record(void *arg, const isle_coll_change *ch) {
    seen *s = arg;
    s->calls++;
    s->ids_known = ch->ids_known;
    s->nids = ch->nids;
    for (uint32_t i = 0; i < ch->nids && i < 16; i++)
        s->ids[i] = ch->ids[i];
    strncpy(s->coll, ch->collection, sizeof s->coll - 1);
}

static int has(const seen *s, int64_t id) {
    for (uint32_t i = 0; i < s->nids; i++)
        if (s->ids[i] == id)
            return 1;
    return 0;
}

Test(coll_watch, collection_and_object_watchers) {
    cu_tmp tmp;
    cu_tmp_make(&tmp);
    isle_db *db = cu_open(tmp.path);
    isle_coll *msgs;
    cr_assert_eq(isle_coll_open(db, &msg_schema, &msgs), 0);
    seen all = {0}, one = {0};
    isle_coll_watcher *wa, *wo;
    cr_assert_eq(isle_coll_watch(msgs, record, &all, &wa), 0, "%s", isle_errmsg());
    cr_assert_eq(isle_coll_watch_object(msgs, 2, record, &one, &wo), 0);
    Msg m[3] = {{0, "a"}, {0, "b"}, {0, "c"}};
    cr_assert_eq(cu_put_many(db, msgs, m, 3), 0);
    cr_assert_eq(all.calls, 1, "one call per commit");
    cr_assert_str_eq(all.coll, "Msg");
    cr_assert(all.ids_known && all.nids == 3 && has(&all, 1) && has(&all, 2) && has(&all, 3));
    cr_assert_eq(one.calls, 1);
    cr_assert_eq(cu_delete(db, msgs, 3), 0);
    cr_assert_eq(all.calls, 2);
    cr_assert(all.nids == 1 && all.ids[0] == 3);
    cr_assert_eq(one.calls, 1, "object 2 did not change");
    Msg upd = {2, "b2"};
    cr_assert_eq(cu_put(db, msgs, &upd), 0);
    cr_assert_eq(one.calls, 2);
    cr_assert_eq(cu_clear(db, msgs), 0);
    cr_assert_eq(all.calls, 4);
    cr_assert_eq(all.ids_known, 0, "a clear reports unknown ids");
    isle_coll_unwatch(wa);
    isle_coll_unwatch(wo);
    cr_assert_eq(cu_put(db, msgs, &m[0]), 0);
    cr_assert_eq(all.calls, 4, "not called after unwatch");
    cr_assert_eq(isle_coll_watch_object(msgs, 0, record, &one, &wo), ISLE_EINVAL);
    cr_assert_eq(isle_coll_watch(NULL, record, &one, &wo), ISLE_EINVAL);
    isle_coll_close(msgs);
    cr_assert_eq(isle_close(db), 0);
    cu_tmp_remove(&tmp);
}
