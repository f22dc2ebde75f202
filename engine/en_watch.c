/*
 * en_watch.c: watchers.  A watcher names a tree, or one key of a tree, and
 * is called once after each commit that changed it, with the keys changed
 * when they are cheap to know.
 *
 * While anyone watches (nwatch > 0), write transactions note the keys they
 * put or delete (en_note_change; a dropped tree is noted as "every key").
 * A commit moves its notes to the db's group list (en_notes_commit), and
 * after the group is durable and published the writer matches them against
 * the watchers (en_watch_notify): one call per watcher per transaction.
 *
 * Safety: a watcher is referenced while a call to it is running or posted
 * to the dispatcher.  en_watch_remove marks it dead (no new call starts),
 * waits for running calls on other threads to return, and the last
 * reference frees it; a posted call that finds it dead does nothing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "en_int.h"

struct en_watch {
    en_db *db;
    char tree[EN_NAME_MAX + 1];
    uint8_t *key;
    uint32_t klen;
    en_watch_fn fn;
    void *arg;
    int dead;          /* guarded by db->watch_lock */
    uint32_t running;  /* calls in progress (direct), guarded by watch_lock */
    atomic_int refs;
    pthread_cond_t idle;
    struct en_watch *next;
};

/* The watcher whose call is running on this thread, if any. */
static _Thread_local en_watch *in_call;

static void watch_unref(en_watch *w) {
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) == 1) {
        pthread_cond_destroy(&w->idle);
        free(w->key);
        free(w);
    }
}

int en_watch_add(en_db *db, const char *tree, const void *key, uint32_t klen,
                 en_watch_fn fn, void *arg, en_watch **out) {
    size_t n = tree ? strlen(tree) : 0;
    if (!db || !fn || !out || n == 0 || n > EN_NAME_MAX || (key && klen == 0) ||
        klen > BT_KEY_MAX)
        return en_fail(CD_EINVAL, "en_watch_add: bad arguments");
    en_watch *w = calloc(1, sizeof *w);
    if (!w || (key && !(w->key = malloc(klen)))) {
        free(w);
        return en_fail(CD_ENOMEM, "out of memory for a watcher");
    }
    memcpy(w->tree, tree, n + 1);
    if (key)
        memcpy(w->key, key, klen), w->klen = klen;
    w->db = db;
    w->fn = fn;
    w->arg = arg;
    atomic_init(&w->refs, 1); /* the list's */
    pthread_cond_init(&w->idle, NULL);
    pthread_mutex_lock(&db->watch_lock);
    w->next = db->watches;
    db->watches = w;
    atomic_fetch_add(&db->nwatch, 1);
    pthread_mutex_unlock(&db->watch_lock);
    *out = w;
    return 0;
}

void en_watch_remove(en_watch *w) {
    if (!w)
        return;
    en_db *db = w->db;
    pthread_mutex_lock(&db->watch_lock);
    if (!w->dead) {
        w->dead = 1;
        for (en_watch **p = &db->watches; *p; p = &(*p)->next)
            if (*p == w) {
                *p = w->next;
                break;
            }
        atomic_fetch_sub(&db->nwatch, 1);
    }
    /* A call on another thread finishes first; one on this thread (the
     * callback removing itself) cannot be waited for. */
    while (w->running > (in_call == w ? 1u : 0u))
        pthread_cond_wait(&w->idle, &db->watch_lock);
    pthread_mutex_unlock(&db->watch_lock);
    watch_unref(w);
}

void en_watch_destroy(en_db *db) {
    while (db->watches)
        en_watch_remove(db->watches);
    (void)en_notes_take(db, 0);
}

/* ---- noting changes ----------------------------------------------------- */

static int note_push(en_note **arr, uint32_t *n, uint32_t *cap, const en_note *v) {
    if (*n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 32;
        en_note *na = realloc(*arr, (size_t)nc * sizeof *na);
        if (!na)
            return CD_ENOMEM;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = *v;
    return 0;
}

void en_note_change(en_txn *t, uint32_t tree, const void *key, uint32_t klen) {
    /* relaxed: a watcher added during this transaction may or may not hear
     * of it; one added before it began always does (the add happened
     * before the writer took the job, through the queue lock). */
    if (atomic_load_explicit(&t->db->nwatch, memory_order_relaxed) == 0)
        return;
    en_note v = {.tree = tree, .klen = key ? klen : 0};
    if (key && !(v.key = malloc(klen)))
        v.klen = 0; /* no memory for the key: report the whole tree */
    if (v.key)
        memcpy(v.key, key, klen);
    if (note_push(&t->notes, &t->nnotes, &t->cap_notes, &v) != 0)
        free(v.key); /* lost: watchers of this key miss one call */
}

/* Moves a committed transaction's notes to the db's group list. */
int en_notes_commit(en_txn *t) {
    en_db *db = t->db;
    for (uint32_t i = 0; i < t->nnotes; i++) {
        t->notes[i].txn = t->st.txn;
        if (note_push(&db->notes, &db->nnotes, &db->cap_notes, &t->notes[i]) != 0)
            free(t->notes[i].key);
    }
    t->nnotes = 0;
    return 0;
}

void en_notes_free(en_txn *t) {
    for (uint32_t i = 0; i < t->nnotes; i++)
        free(t->notes[i].key);
    free(t->notes);
    t->notes = NULL;
    t->nnotes = t->cap_notes = 0;
}

/* ---- notifying ------------------------------------------------------------ */

/* One call to one watcher: owns copies of everything it reports. */
typedef struct call {
    en_watch *w;
    en_change ch;
    char tree[EN_NAME_MAX + 1];
    const uint8_t **keys;
    uint32_t *klens;
    uint8_t *key_bytes;
} call;

static void call_free(call *c) {
    free(c->keys);
    free(c->klens);
    free(c->key_bytes);
    free(c);
}

static void call_run(void *arg) {
    call *c = arg;
    en_watch *w = c->w;
    en_db *db = w->db;
    pthread_mutex_lock(&db->watch_lock);
    int dead = w->dead;
    if (!dead)
        w->running++;
    pthread_mutex_unlock(&db->watch_lock);
    if (!dead) {
        en_watch *outer = in_call;
        in_call = w;
        w->fn(w->arg, &c->ch);
        in_call = outer;
        pthread_mutex_lock(&db->watch_lock);
        w->running--;
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&db->watch_lock);
    }
    watch_unref(w);
    call_free(c);
}

/* Does note n concern watcher w?  (Same tree, and its key or all keys.) */
static int note_hits(const en_db *db, const en_watch *w, const en_note *n) {
    const en_treedef *d = &db->trees[n->tree];
    if (strcmp(d->name, w->tree) != 0)
        return 0;
    return !w->key || n->klen == 0 ||
           (n->klen == w->klen && memcmp(n->key, w->key, n->klen) == 0);
}

/* Builds the call for w from notes [a, b) of one transaction; NULL if
 * none concerns it (or there is no memory for it). */
static call *build_call(en_db *db, en_watch *w, const en_note *a, const en_note *b) {
    uint32_t hits = 0, bytes = 0;
    int whole = 0;
    for (const en_note *n = a; n < b; n++)
        if (note_hits(db, w, n)) {
            hits++;
            whole |= n->klen == 0;
            bytes += n->klen;
        }
    if (!hits)
        return NULL;
    int known = !whole && hits <= EN_WATCH_KEYS_MAX;
    call *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (known && (!(c->keys = malloc(hits * sizeof *c->keys)) ||
                  !(c->klens = malloc(hits * sizeof *c->klens)) ||
                  !(c->key_bytes = malloc(bytes ? bytes : 1))))
        known = 0;
    uint32_t k = 0, off = 0;
    for (const en_note *n = a; known && n < b; n++) {
        if (!note_hits(db, w, n))
            continue;
        memcpy(c->key_bytes + off, n->key, n->klen);
        c->keys[k] = c->key_bytes + off;
        c->klens[k++] = n->klen;
        off += n->klen;
    }
    snprintf(c->tree, sizeof c->tree, "%s", w->tree);
    c->w = w;
    c->ch = (en_change){.tree = c->tree, .txn = a->txn, .keys_known = known,
                        .nkeys = known ? k : 0, .keys = c->keys, .klens = c->klens};
    return c;
}

static void notes_free(en_note *v, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        free(v[i].key);
    free(v);
}

en_note_batch en_notes_take(en_db *db, int ok) {
    en_note_batch b = {db->notes, db->nnotes};
    db->notes = NULL;
    db->nnotes = db->cap_notes = 0;
    if (!ok) {
        notes_free(b.v, b.n);
        b = (en_note_batch){NULL, 0};
    }
    return b;
}

/* After a commit group is published: one call per watcher per transaction
 * that changed what it watches.  No lock held: the notes were taken from
 * the db under the write lock, so a commit on another thread that notes
 * changes meanwhile adds them to the next batch. */
void en_watch_notify(en_db *db, en_note_batch nb) {
    if (nb.n == 0) {
        free(nb.v);
        return;
    }
    pthread_mutex_lock(&db->watch_lock);
    uint32_t nw = 0;
    for (en_watch *w = db->watches; w; w = w->next)
        nw++;
    en_watch **ws = nw ? malloc(nw * sizeof *ws) : NULL;
    nw = 0;
    for (en_watch *w = db->watches; ws && w; w = w->next) {
        atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
        ws[nw++] = w;
    }
    pthread_mutex_unlock(&db->watch_lock);
    const en_dispatcher *d = &db->opt.dispatcher;
    const en_note *v = nb.v;
    for (uint32_t a = 0, b; a < nb.n; a = b) {
        for (b = a + 1; b < nb.n && v[b].txn == v[a].txn; b++) {
        }
        for (uint32_t i = 0; i < nw; i++) {
            call *c = build_call(db, ws[i], &v[a], &v[b]);
            if (!c)
                continue;
            atomic_fetch_add_explicit(&ws[i]->refs, 1, memory_order_relaxed);
            if (d->post)
                d->post(call_run, c, d->ctx);
            else
                call_run(c);
        }
    }
    for (uint32_t i = 0; i < nw; i++)
        watch_unref(ws[i]);
    free(ws);
    notes_free(nb.v, nb.n);
}
