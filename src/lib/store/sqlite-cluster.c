/* Clusters and their variables in the SQLite backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite-internal.h"

static void row_to_cluster(sqlite3_stmt *st, struct store_cluster *out)
{
  sq_text(out->namespace_, sizeof out->namespace_, st, 0);
  sq_text(out->name, sizeof out->name, st, 1);
  out->created_at = sqlite3_column_int64(st, 2);
}

int sq_cluster_insert(struct store_tx *tx, const struct store_cluster *c, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CLUSTER_INSERT,
                             "INSERT INTO clusters (namespace, name, created_at) "
                             "VALUES (?1, ?2, ?3)",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, c->namespace_, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, c->created_at);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "namespace '%s' does not exist", c->namespace_);
  char msg[200];
  snprintf(msg, sizeof msg, "cluster '%s' already exists in namespace '%s'", c->name,
           c->namespace_);
  return sq_fail(s, rc, err, "storing a cluster", msg);
}

int sq_cluster_get(struct store_tx *tx, const char *ns, const char *name,
                   struct store_cluster *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CLUSTER_GET,
                             "SELECT namespace, name, created_at FROM clusters "
                             "WHERE namespace = ?1 AND name = ?2",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    row_to_cluster(st, out);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return 0;
  if (rc == SQLITE_DONE)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cluster '%s' does not exist in namespace '%s'",
                      name, ns);
  return sq_fail(s, rc, err, "reading a cluster", NULL);
}

static int collect_cluster(sqlite3_stmt *st, void *item)
{
  row_to_cluster(st, item);
  return 0;
}

int sq_cluster_list(struct store_tx *tx, const char *ns, struct store_cluster_list *out,
                    struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st =
    ns ? sq_stmt(s, SQ_CLUSTER_LIST,
                 "SELECT namespace, name, created_at FROM clusters WHERE namespace = ?1 "
                 "ORDER BY name",
                 err)
       : sq_stmt(s, SQ_CLUSTER_LIST_ALL,
                 "SELECT namespace, name, created_at FROM clusters ORDER BY namespace, name",
                 err);
  if (!st)
    return -1;
  if (ns)
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  struct store_cluster_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_cluster, "listing clusters",
                 err) < 0) {
    store_cluster_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}

int sq_cluster_delete(struct store_tx *tx, const char *ns, const char *name, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CLUSTER_DELETE,
                             "DELETE FROM clusters WHERE namespace = ?1 AND name = ?2", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    char msg[200];
    snprintf(msg, sizeof msg, "cluster '%s' still has networks; remove them first", name);
    return sq_fail(s, rc, err, "removing a cluster", msg);
  }
  if (sqlite3_changes(s->db) == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cluster '%s' does not exist in namespace '%s'",
                      name, ns);
  return 0;
}

int sq_variable_put(struct store_tx *tx, const char *ns, const char *cluster,
                    const struct store_variable *v, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_VARIABLE_PUT,
                             "INSERT INTO cluster_variables (namespace, cluster, name, value, "
                             "created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                             "ON CONFLICT (namespace, cluster, name) DO UPDATE SET value = ?4",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, v->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, v->value, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, v->created_at);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return 0;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cluster '%s' does not exist in namespace '%s'",
                      cluster, ns);
  return sq_fail(s, rc, err, "storing a variable", NULL);
}

static int collect_variable(sqlite3_stmt *st, void *item)
{
  struct store_variable *v = item;
  sq_text(v->name, sizeof v->name, st, 0);
  sq_text(v->value, sizeof v->value, st, 1);
  v->created_at = sqlite3_column_int64(st, 2);
  return 0;
}

int sq_variable_list(struct store_tx *tx, const char *ns, const char *cluster,
                     struct store_variable_list *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_VARIABLE_LIST,
                             "SELECT name, value, created_at FROM cluster_variables "
                             "WHERE namespace = ?1 AND cluster = ?2 ORDER BY name",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
  struct store_variable_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_variable, "listing variables",
                 err) < 0) {
    store_variable_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}

int sq_variable_delete(struct store_tx *tx, const char *ns, const char *cluster,
                       const char *name, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_VARIABLE_DELETE,
                             "DELETE FROM cluster_variables "
                             "WHERE namespace = ?1 AND cluster = ?2 AND name = ?3",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "removing a variable", NULL);
  if (sqlite3_changes(s->db) == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "variable '%s' does not exist in cluster '%s'",
                      name, cluster);
  return 0;
}
