/*
 * todo.c: a small to-do app on isle collections: the seeds' TodoDb, in C.
 *
 * Two collections, Todo and Category, declared from their structs.  A
 * TodoDb opens them and watches the todos; the app adds todos with
 * synchronous writes (isle_write returns once the commit is durable) and
 * with asynchronous ones (isle_write_async returns at once; callbacks
 * report the outcome), marks one done, deletes one, and lists them from a
 * read transaction.  The watcher prints the ids each commit changed.
 *
 * Usage: todo [FILE]   (default: todo.isle in the current directory; the
 * demo starts from an empty database).  Exits 0 when everything it did
 * reads back as expected.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isle.h"

/* ---- the schema ---------------------------------------------------------------- */

typedef struct Category {
    int64_t id;
    char *name;
} Category;

static const isle_field category_fields[] = {
    ISLE_FIELD(Category, name, ISLE_STRING),
};
static const isle_schema category_schema = ISLE_COLLECTION(Category, id, category_fields);

enum priority { PRIO_NONE = -1, PRIO_LOW, PRIO_NORMAL, PRIO_HIGH };
static const isle_enum_value priority_values[] = {
    ISLE_ENUMERATOR_AS(PRIO_LOW, "low", 1),
    ISLE_ENUMERATOR_AS(PRIO_NORMAL, "normal", 2),
    ISLE_ENUMERATOR_AS(PRIO_HIGH, "high", 3),
};
static const isle_enum priority_enum = ISLE_ENUM_DEF_NULLABLE(priority, priority_values, PRIO_NONE);

typedef struct Todo {
    int64_t id;           /* ISLE_AUTO_ID: the next id */
    char *title;
    char *content;        /* NULL: none */
    isle_bool done;
    int64_t due;          /* UTC microseconds, ISLE_NULL_TIME: no date */
    enum priority prio;   /* stored by name: reordering the enum is safe */
    char **tags;
    uint32_t ntags;
    int64_t category;     /* a Category id, or ISLE_NULL_INT */
} Todo;

static const isle_field todo_fields[] = {
    ISLE_FIELD(Todo, title, ISLE_STRING),
    ISLE_FIELD(Todo, content, ISLE_STRING),
    ISLE_FIELD(Todo, done, ISLE_BOOL),
    ISLE_FIELD_AS(Todo, due, "due_at", ISLE_DATETIME),
    ISLE_FIELD(Todo, prio, ISLE_ENUM(&priority_enum, ISLE_ENUM_NAME)),
    ISLE_LIST(Todo, tags, ntags, ISLE_STRING),
    ISLE_FIELD(Todo, category, ISLE_INT),
};
static const isle_schema todo_schema = ISLE_COLLECTION(Todo, id, todo_fields);

/* ---- TodoDb --------------------------------------------------------------------- */

typedef struct TodoDb {
    isle_db *db;
    isle_coll *todos, *categories;
    isle_coll_watcher *watcher;
    pthread_mutex_t lock; /* guards pending and the counters below */
    pthread_cond_t idle;
    int pending;          /* asynchronous writes not yet complete */
    int changes;          /* commits the watcher saw */
} TodoDb;

static int check(const char *what, int rc) {
    if (rc)
        fprintf(stderr, "todo: %s: %s (%s)\n", what, isle_strerror(rc), isle_errmsg());
    return rc;
}

/* The watcher: runs on isle's writer thread after each commit. */
static void on_change(void *arg, const isle_coll_change *ch) {
    TodoDb *t = arg;
    printf("  [watch] txn %" PRIu64 ": %s changed:", ch->txn, ch->collection);
    for (uint32_t i = 0; ch->ids_known && i < ch->nids; i++)
        printf(" #%" PRId64, ch->ids[i]);
    printf("%s\n", ch->ids_known ? "" : " (everything)");
    pthread_mutex_lock(&t->lock);
    t->changes++;
    pthread_mutex_unlock(&t->lock);
}

static int todo_db_open(TodoDb *t, const char *path) {
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->idle, NULL);
    int rc = check("open", isle_open(path, NULL, &t->db));
    if (rc == 0)
        rc = check("todos", isle_coll_open(t->db, &todo_schema, &t->todos));
    if (rc == 0)
        rc = check("categories", isle_coll_open(t->db, &category_schema, &t->categories));
    if (rc == 0)
        rc = check("watch", isle_coll_watch(t->todos, on_change, t, &t->watcher));
    return rc;
}

static void todo_db_close(TodoDb *t) {
    isle_coll_unwatch(t->watcher);
    isle_coll_close(t->todos);
    isle_coll_close(t->categories);
    if (t->db)
        check("close", isle_close(t->db));
    pthread_cond_destroy(&t->idle);
    pthread_mutex_destroy(&t->lock);
}

/* A synchronous write: returns when the commit is on disk. */
static int put_todo(isle_txn *txn, void *arg) {
    void **a = arg;
    TodoDb *t = a[0];
    return isle_coll_put(txn, t->todos, a[1]);
}

static int todo_add(TodoDb *t, Todo *todo) {
    void *a[2] = {t, todo};
    return check("add", isle_write(t->db, put_todo, a));
}

/* An asynchronous write owns a copy of what it stores until it completes. */
typedef struct add_job {
    TodoDb *t;
    Todo todo;
} add_job;

static int put_job(isle_txn *txn, void *arg) {
    add_job *j = arg;
    return isle_coll_put(txn, j->t->todos, &j->todo);
}

static void job_success(void *arg, uint64_t txn_id) {
    add_job *j = arg;
    printf("  [async] \"%s\" stored as #%" PRId64 " in txn %" PRIu64 "\n", j->todo.title,
           j->todo.id, txn_id);
}

static void job_error(void *arg, int code) {
    add_job *j = arg;
    printf("  [async] \"%s\" failed: %s\n", j->todo.title, isle_strerror(code));
}

static void job_complete(void *arg, int code) {
    add_job *j = arg;
    TodoDb *t = j->t;
    (void)code;
    free(j);
    pthread_mutex_lock(&t->lock);
    if (--t->pending == 0)
        pthread_cond_signal(&t->idle);
    pthread_mutex_unlock(&t->lock);
}

static int todo_add_async(TodoDb *t, const Todo *todo) {
    static const isle_write_callbacks cb = {.success = job_success, .error = job_error,
                                            .complete = job_complete};
    add_job *j = malloc(sizeof *j);
    if (!j)
        return check("add_async", ISLE_ENOMEM);
    j->t = t;
    j->todo = *todo; /* the strings are the caller's literals: they outlive the job */
    pthread_mutex_lock(&t->lock);
    t->pending++;
    pthread_mutex_unlock(&t->lock);
    int rc = isle_write_async(t->db, put_job, j, &cb, "add-todo", 0, NULL);
    if (rc) {
        job_complete(j, rc);
        return check("add_async", rc);
    }
    return 0;
}

static void todo_wait_async(TodoDb *t) {
    pthread_mutex_lock(&t->lock);
    while (t->pending > 0)
        pthread_cond_wait(&t->idle, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

/* Reads, changes and writes back one todo in one transaction. */
static int mark_done(isle_txn *txn, void *arg) {
    void **a = arg;
    TodoDb *t = a[0];
    Todo todo;
    isle_arena arena;
    isle_arena_init(&arena, NULL, 0);
    int rc = isle_coll_get(txn, t->todos, *(int64_t *)a[1], &todo, &arena);
    if (rc == 0) {
        todo.done = 1;
        rc = isle_coll_put(txn, t->todos, &todo);
    }
    isle_arena_free(&arena);
    return rc;
}

static int todo_complete(TodoDb *t, int64_t id) {
    void *a[2] = {t, &id};
    return check("complete", isle_write(t->db, mark_done, a));
}

static int del_todo(isle_txn *txn, void *arg) {
    void **a = arg;
    TodoDb *t = a[0];
    return isle_coll_delete(txn, t->todos, *(int64_t *)a[1]);
}

static int todo_delete(TodoDb *t, int64_t id) {
    void *a[2] = {t, &id};
    return check("delete", isle_write(t->db, del_todo, a));
}

/* ---- listing -------------------------------------------------------------------- */

static const char *prio_name(enum priority p) {
    return p == PRIO_NONE ? "-" : priority_values[p].name;
}

static void print_todo(const Todo *todo, const char *category) {
    char due[32] = "no date";
    struct tm tm;
    int32_t usec;
    if (todo->due != ISLE_NULL_TIME && isle_time_to_utc(todo->due, &tm, &usec) == 0)
        strftime(due, sizeof due, "%Y-%m-%d", &tm);
    printf("  #%-3" PRId64 " [%c] %-24s %-7s %-10s %-8s", todo->id, todo->done == 1 ? 'x' : ' ',
           todo->title, prio_name(todo->prio), due, category ? category : "");
    for (uint32_t i = 0; i < todo->ntags; i++)
        printf(" #%s", todo->tags[i]);
    printf("\n");
}

typedef struct lister {
    TodoDb *t;
    isle_txn *txn;
    int n, done;
} lister;

static int list_one(void *arg, void *obj) {
    lister *l = arg;
    const Todo *todo = obj;
    Category cat = {0};
    isle_arena a;
    isle_arena_init(&a, NULL, 0);
    int have = todo->category != ISLE_NULL_INT &&
               isle_coll_get(l->txn, l->t->categories, todo->category, &cat, &a) == 0;
    print_todo(todo, have ? cat.name : NULL);
    isle_arena_free(&a);
    l->n++;
    l->done += todo->done == 1;
    return 0;
}

/* Lists every todo in id order; *n and *done count them. */
static int todo_list(TodoDb *t, int *n, int *done) {
    isle_txn *txn;
    Todo todo;
    isle_arena arena;
    lister l = {t, NULL, 0, 0};
    int rc = check("read", isle_read_begin(t->db, &txn));
    if (rc)
        return rc;
    l.txn = txn;
    isle_arena_init(&arena, NULL, 0);
    rc = check("scan", isle_coll_scan(txn, t->todos, ISLE_AUTO_ID, 0, &todo, &arena, list_one, &l));
    isle_arena_free(&arena);
    isle_read_end(txn);
    *n = l.n;
    *done = l.done;
    return rc;
}

/* ---- the session -------------------------------------------------------------- */

static int64_t days_from_now(int days) {
    int64_t now = 0;
    isle_time_now(&now);
    return now + (int64_t)days * 86400 * 1000000;
}

static int add_categories(isle_txn *txn, void *arg) {
    TodoDb *t = arg;
    Category cats[2] = {{ISLE_AUTO_ID, "home"}, {ISLE_AUTO_ID, "work"}};
    return isle_coll_put_many(txn, t->categories, cats, 2);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "todo.isle";
    char wal[1024];
    snprintf(wal, sizeof wal, "%s-wal", path);
    unlink(path); /* a demo: start from an empty database */
    unlink(wal);
    TodoDb t;
    int rc = todo_db_open(&t, path);
    if (rc == 0)
        rc = check("categories", isle_write(t.db, add_categories, &t));
    printf("adding todos (synchronous writes):\n");
    char *groceries[] = {"errand", "food"};
    Todo milk = {ISLE_AUTO_ID, "buy milk", NULL, 0, days_from_now(1), PRIO_HIGH, groceries, 2, 1};
    Todo report = {ISLE_AUTO_ID, "write the report", "numbers from Q3", 0, days_from_now(7),
                   PRIO_NORMAL, NULL, 0, 2};
    if (rc == 0 && (rc = todo_add(&t, &milk)) == 0)
        rc = todo_add(&t, &report);
    printf("adding todos (asynchronous writes):\n");
    char *fun[] = {"fun"};
    Todo later[3] = {
        {ISLE_AUTO_ID, "call grandma", NULL, 0, ISLE_NULL_TIME, PRIO_NONE, NULL, 0, 1},
        {ISLE_AUTO_ID, "plan the trip", NULL, ISLE_NULL_BOOL, days_from_now(30), PRIO_LOW, fun, 1,
         ISLE_NULL_INT},
        {ISLE_AUTO_ID, "water the plants", NULL, 0, days_from_now(2), PRIO_LOW, NULL, 0, 1},
    };
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = todo_add_async(&t, &later[i]);
    todo_wait_async(&t);
    printf("marking #1 done and deleting #4:\n");
    if (rc == 0 && (rc = todo_complete(&t, milk.id)) == 0)
        rc = todo_delete(&t, 4);
    int n = 0, done = 0;
    printf("the list:\n");
    if (rc == 0)
        rc = todo_list(&t, &n, &done);
    printf("%d todos, %d done; the watcher saw %d commits\n", n, done, t.changes);
    if (rc == 0 && (n != 4 || done != 1 || t.changes != 7)) {
        fprintf(stderr, "todo: unexpected state\n");
        rc = 1;
    }
    todo_db_close(&t);
    return rc ? 1 : 0;
}
