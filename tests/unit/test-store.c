/* The SQLite store through the store interface, on a temporary file. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/namespace.h"
#include "store/store.h"
#include "tap.h"

static char dir[] = "/tmp/nanocl-test-store-XXXXXX";
static char db[256];

static struct store *open_store(void)
{
  struct store *s = NULL;
  struct nc_err err = NC_ERR_INIT;
  if (store_open(db, &s, &err) < 0)
    printf("# store_open: %s\n", err.msg);
  return s;
}

static int count_namespaces(struct store *s)
{
  struct store_namespace_list l;
  struct nc_err err = NC_ERR_INIT;
  if (model_namespace_list(s, &l, &err) < 0)
    return -1;
  int n = (int)l.len;
  store_namespace_list_free(&l);
  return n;
}

static void *creator(void *arg)
{
  struct store *s = arg;
  static int next;
  for (int i = 0; i < 50; i++) {
    char name[32];
    snprintf(name, sizeof name, "t%d", __atomic_fetch_add(&next, 1, __ATOMIC_SEQ_CST));
    struct nc_err err = NC_ERR_INIT;
    if (model_namespace_create(s, name, NULL, &err) < 0)
      printf("# create %s: %s\n", name, err.msg);
  }
  return NULL;
}

int main(void)
{
  struct nc_err err = NC_ERR_INIT;
  struct store_namespace ns;
  struct store_tx *tx;

  if (!mkdtemp(dir))
    return 99;
  snprintf(db, sizeof db, "sqlite://%s/state.db", dir);

  /* Migrations on a fresh store. */
  struct store *s = open_store();
  ok(s != NULL, "a fresh store opens");
  is_int(store_schema_version(s), 3, "migrated to the latest schema");
  is_str(store_backend_name(s), "sqlite", "backend name");
  is_int(model_namespace_get(s, "global", &ns, &err), 0, "'global' exists on a fresh store");
  is_int(count_namespaces(s), 1, "and only it");

  /* A rolled-back transaction leaves nothing. */
  struct store_namespace tmp = { .name = "rolled", .created_at = 1 };
  is_int(store_begin(s, STORE_TX_WRITE, &tx, &err), 0, "begin");
  is_int(store_namespace_insert(tx, &tmp, &err), 0, "insert inside the transaction");
  is_int(store_namespace_get(tx, "rolled", &ns, &err), 0, "visible inside it");
  store_rollback(tx);
  is_int(model_namespace_get(s, "rolled", &ns, &err), -1, "gone after rollback");
  is_int(err.kind, NC_ERR_NOT_FOUND, "as not_found");
  ok(strstr(err.msg, "'rolled'") != NULL, "message names it: %s", err.msg);

  /* Constraint errors. */
  is_int(model_namespace_create(s, "dev", &ns, &err), 0, "create dev");
  ok(ns.created_at > 1600000000, "created_at is set");
  is_int(model_namespace_create(s, "dev", NULL, &err), -1, "duplicate refused");
  is_int(err.kind, NC_ERR_CONFLICT, "as conflict");
  ok(strstr(err.msg, "already exists") != NULL, "message: %s", err.msg);
  is_int(model_namespace_create(s, "Bad_Name", NULL, &err), -1, "invalid name refused");
  is_int(err.kind, NC_ERR_INVALID, "as invalid");
  is_int(model_namespace_delete(s, "global", &err), -1, "global cannot be removed");
  is_int(err.kind, NC_ERR_CONFLICT, "as conflict");
  is_int(model_namespace_delete(s, "nope", &err), -1, "removing a missing namespace fails");
  is_int(err.kind, NC_ERR_NOT_FOUND, "as not_found");

  /* A failed statement inside a transaction does not poison the next one. */
  is_int(store_begin(s, STORE_TX_WRITE, &tx, &err), 0, "begin again");
  struct store_namespace dup = { .name = "dev", .created_at = 1 };
  is_int(store_namespace_insert(tx, &dup, &err), -1, "duplicate inside a transaction");
  store_rollback(tx);
  is_int(model_namespace_create(s, "after", NULL, &err), 0, "the store works after a rollback");

  /* Concurrent writers are serialised, none lost. */
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, creator, s);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  is_int(count_namespaces(s), 3 + 200, "200 concurrent creates all stored");
  store_close(s);

  /* Reopening keeps everything and migrates nothing. */
  s = open_store();
  ok(s != NULL, "reopens");
  is_int(count_namespaces(s), 203, "everything is still there");
  is_int(model_namespace_delete(s, "dev", &err), 0, "remove dev");
  store_close(s);

  /* A store written by a newer nanocld is refused, untouched. */
  sqlite3 *raw;
  char path[300];
  snprintf(path, sizeof path, "%s/state.db", dir);
  sqlite3_open(path, &raw);
  sqlite3_exec(raw, "PRAGMA user_version=99", NULL, NULL, NULL);
  sqlite3_close(raw);
  s = NULL;
  is_int(store_open(db, &s, &err), -1, "a newer schema is refused");
  ok(strstr(err.msg, "99") && strstr(err.msg, "newer"), "message: %s", err.msg);

  is_int(store_open("postgres://x", &s, &err), -1, "an unknown backend is refused");
  is_int(err.kind, NC_ERR_INVALID, "as invalid");

  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", dir);
  return tap_done();
}
