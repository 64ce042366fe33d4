/* Namespaces in the SQLite backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite-internal.h"

static void row_to_namespace(sqlite3_stmt *st, struct store_namespace *out)
{
  snprintf(out->name, sizeof out->name, "%s", (const char *)sqlite3_column_text(st, 0));
  out->created_at = sqlite3_column_int64(st, 1);
}

int sq_namespace_insert(struct store_tx *tx, const struct store_namespace *ns,
                        struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_NAMESPACE_INSERT,
                             "INSERT INTO namespaces (name, created_at) VALUES (?1, ?2)", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, ns->created_at);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    char msg[128];
    snprintf(msg, sizeof msg, "namespace '%s' already exists", ns->name);
    return sq_fail(s, rc, err, "inserting a namespace", msg);
  }
  return 0;
}

int sq_namespace_get(struct store_tx *tx, const char *name, struct store_namespace *out,
                     struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_NAMESPACE_GET,
                             "SELECT name, created_at FROM namespaces WHERE name = ?1", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    row_to_namespace(st, out);
    sqlite3_reset(st);
    return 0;
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "namespace '%s' does not exist", name);
  return sq_fail(s, rc, err, "reading a namespace", NULL);
}

int sq_namespace_list(struct store_tx *tx, struct store_namespace_list *out,
                      struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_NAMESPACE_LIST,
                             "SELECT name, created_at FROM namespaces ORDER BY name", err);
  if (!st)
    return -1;

  struct store_namespace_list list = { NULL, 0 };
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (list.len == cap) {
      cap = cap ? cap * 2 : 16;
      struct store_namespace *p = realloc(list.items, cap * sizeof *p);
      if (!p) {
        sqlite3_reset(st);
        store_namespace_list_free(&list);
        return nc_err_set(err, NC_ERR_INTERNAL, "listing namespaces: out of memory");
      }
      list.items = p;
    }
    row_to_namespace(st, &list.items[list.len++]);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    store_namespace_list_free(&list);
    return sq_fail(s, rc, err, "listing namespaces", NULL);
  }
  *out = list;
  return 0;
}

int sq_namespace_delete(struct store_tx *tx, const char *name, struct nc_err *err)
{
  char msg[128];
  snprintf(msg, sizeof msg, "namespace '%s' still holds objects; remove them first", name);
  int n = sq_exec_key(sq_from_tx(tx), SQ_NAMESPACE_DELETE,
                      "DELETE FROM namespaces WHERE name = ?1", name, "removing a namespace", msg,
                      err);
  if (n == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "namespace '%s' does not exist", name);
  return n < 0 ? -1 : 0;
}
