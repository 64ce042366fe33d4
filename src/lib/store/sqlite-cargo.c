/* Cargoes, their versions and joins, in the SQLite backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/sqlite-internal.h"

#define CARGO_SELECT                                                                               \
  "SELECT c.namespace, c.name, c.version, c.rollout, c.created_at, c.updated_at, v.spec, "       \
  "c.stopped "                                                                                     \
  "FROM cargoes c JOIN cargo_versions v ON v.namespace = c.namespace AND v.cargo = c.name "      \
  "AND v.version = c.version "

static int row_to_cargo(sqlite3_stmt *st, struct store_cargo *c)
{
  memset(c, 0, sizeof *c);
  sq_text(c->namespace_, sizeof c->namespace_, st, 0);
  sq_text(c->name, sizeof c->name, st, 1);
  c->version = sqlite3_column_int64(st, 2);
  sq_text(c->rollout, sizeof c->rollout, st, 3);
  c->created_at = sqlite3_column_int64(st, 4);
  c->updated_at = sqlite3_column_int64(st, 5);
  const unsigned char *spec = sqlite3_column_text(st, 6);
  c->spec = strdup(spec ? (const char *)spec : "{}");
  c->stopped = sqlite3_column_int(st, 7) != 0;
  return c->spec ? 0 : -1;
}

static int insert_version(struct sq_store *s, const char *ns, const char *name, int64_t version,
                          const char *spec, const char *note, int64_t now, struct nc_err *err)
{
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_VERSION_INSERT,
                             "INSERT INTO cargo_versions (namespace, cargo, version, spec, "
                             "created_at, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, version);
  sqlite3_bind_text(st, 4, spec, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  sqlite3_bind_text(st, 6, note ? note : "", -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "storing a cargo version", NULL);
}

int sq_cargo_insert(struct store_tx *tx, const struct store_cargo *c, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_INSERT,
                             "INSERT INTO cargoes (namespace, name, version, created_at, "
                             "updated_at) VALUES (?1, ?2, 1, ?3, ?3)",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, c->namespace_, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, c->created_at);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "namespace '%s' does not exist", c->namespace_);
  if (rc != SQLITE_DONE) {
    char msg[200];
    snprintf(msg, sizeof msg, "cargo '%s' already exists in namespace '%s'", c->name,
             c->namespace_);
    return sq_fail(s, rc, err, "storing a cargo", msg);
  }
  return insert_version(s, c->namespace_, c->name, 1, c->spec, "created", c->created_at, err);
}

int sq_cargo_get(struct store_tx *tx, const char *ns, const char *name, struct store_cargo *out,
                 struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st =
    sq_stmt(s, SQ_CARGO_GET, CARGO_SELECT "WHERE c.namespace = ?1 AND c.name = ?2", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st), r = 0;
  if (rc == SQLITE_ROW && row_to_cargo(st, out) < 0)
    r = nc_err_set(err, NC_ERR_INTERNAL, "reading a cargo: out of memory");
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cargo '%s' does not exist in namespace '%s'", name,
                      ns);
  if (rc != SQLITE_ROW)
    return sq_fail(s, rc, err, "reading a cargo", NULL);
  return r;
}

static int collect_cargo(sqlite3_stmt *st, void *item)
{
  return row_to_cargo(st, item);
}

int sq_cargo_list(struct store_tx *tx, const char *ns, struct store_cargo_list *out,
                  struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_LIST,
                             CARGO_SELECT "WHERE (?1 IS NULL OR c.namespace = ?1) "
                                          "ORDER BY c.namespace, c.name",
                             err);
  if (!st)
    return -1;
  if (ns)
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  struct store_cargo_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_cargo, "listing cargoes",
                 err) < 0) {
    store_cargo_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}

int sq_cargo_delete(struct store_tx *tx, const char *ns, const char *name, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_DELETE,
                             "DELETE FROM cargoes WHERE namespace = ?1 AND name = ?2", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "removing a cargo", NULL);
  if (sqlite3_changes(s->db) == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cargo '%s' does not exist in namespace '%s'", name,
                      ns);
  return 0;
}

int sq_cargo_new_version(struct store_tx *tx, const char *ns, const char *name,
                         const char *spec, const char *note, int64_t *version,
                         struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_MAX_VERSION,
                             "SELECT max(version) FROM cargo_versions "
                             "WHERE namespace = ?1 AND cargo = ?2",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW)
    return sq_fail(s, rc, err, "reading cargo versions", NULL);
  if (v == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cargo '%s' does not exist in namespace '%s'", name,
                      ns);
  int64_t now = (int64_t)time(NULL);
  if (insert_version(s, ns, name, v + 1, spec, note, now, err) < 0)
    return -1;
  st = sq_stmt(s, SQ_CARGO_SET_VERSION,
               "UPDATE cargoes SET version = ?3, updated_at = ?4, rollout = '' "
               "WHERE namespace = ?1 AND name = ?2",
               err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, v + 1);
  sqlite3_bind_int64(st, 4, now);
  rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "updating a cargo", NULL);
  *version = v + 1;
  return 0;
}

int sq_cargo_set_rollout(struct store_tx *tx, const char *ns, const char *name,
                         const char *rollout, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_SET_ROLLOUT,
                             "UPDATE cargoes SET rollout = ?3 WHERE namespace = ?1 AND name = ?2",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, rollout, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "updating a cargo", NULL);
}

static int collect_version(sqlite3_stmt *st, void *item)
{
  struct store_cargo_version *v = item;
  v->version = sqlite3_column_int64(st, 0);
  v->created_at = sqlite3_column_int64(st, 1);
  sq_text(v->note, sizeof v->note, st, 2);
  const unsigned char *spec = sqlite3_column_text(st, 3);
  v->spec = strdup(spec ? (const char *)spec : "{}");
  return v->spec ? 0 : -1;
}

int sq_cargo_history(struct store_tx *tx, const char *ns, const char *name,
                     struct store_cargo_version_list *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_HISTORY,
                             "SELECT version, created_at, note, spec FROM cargo_versions "
                             "WHERE namespace = ?1 AND cargo = ?2 ORDER BY version DESC",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  struct store_cargo_version_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_version, "reading a cargo's history",
                 err) < 0) {
    store_cargo_version_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}

int sq_join_put(struct store_tx *tx, const struct store_join *j, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_JOIN_PUT,
                             "INSERT INTO cargo_joins (namespace, cargo, cluster, network) "
                             "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (namespace, cargo, cluster) "
                             "DO UPDATE SET network = ?4",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, j->namespace_, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, j->cargo, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, j->cluster, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, j->network, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cargo '%s' or cluster '%s' does not exist",
                      j->cargo, j->cluster);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "storing a join", NULL);
}

static int collect_join(sqlite3_stmt *st, void *item)
{
  struct store_join *j = item;
  sq_text(j->namespace_, sizeof j->namespace_, st, 0);
  sq_text(j->cargo, sizeof j->cargo, st, 1);
  sq_text(j->cluster, sizeof j->cluster, st, 2);
  sq_text(j->network, sizeof j->network, st, 3);
  return 0;
}

int sq_join_list(struct store_tx *tx, const char *ns, const char *cargo, const char *cluster,
                 struct store_join_list *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_JOIN_LIST,
                             "SELECT namespace, cargo, cluster, network FROM cargo_joins "
                             "WHERE (?1 IS NULL OR namespace = ?1) AND (?2 IS NULL OR cargo = ?2) "
                             "AND (?3 IS NULL OR cluster = ?3) ORDER BY namespace, cargo, cluster",
                             err);
  if (!st)
    return -1;
  if (ns)
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  if (cargo)
    sqlite3_bind_text(st, 2, cargo, -1, SQLITE_STATIC);
  if (cluster)
    sqlite3_bind_text(st, 3, cluster, -1, SQLITE_STATIC);
  struct store_join_list list = { NULL, 0 };
  if (sq_collect(s, st, (void **)&list.items, &list.len, sizeof *list.items, collect_join, "listing joins",
                 err) < 0) {
    store_join_list_free(&list);
    return -1;
  }
  *out = list;
  return 0;
}

int sq_join_delete_cluster(struct store_tx *tx, const char *ns, const char *cluster,
                           struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_JOIN_DELETE_CLUSTER,
                             "DELETE FROM cargo_joins WHERE namespace = ?1 AND cluster = ?2", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "removing joins", NULL);
}

int sq_container_rename(struct store_tx *tx, const char *id, const char *name,
                        struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st =
    sq_stmt(s, SQ_CONTAINER_RENAME, "UPDATE containers SET name = ?2 WHERE id = ?1", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    char msg[128];
    snprintf(msg, sizeof msg, "a container named '%s' already exists", name);
    return sq_fail(s, rc, err, "renaming a container", msg);
  }
  return 0;
}

int sq_cargo_set_stopped(struct store_tx *tx, const char *ns, const char *name, bool stopped,
                         struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CARGO_SET_STOPPED,
                             "UPDATE cargoes SET stopped = ?3 WHERE namespace = ?1 AND name = ?2",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, stopped);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "updating a cargo", NULL);
  if (sqlite3_changes(s->db) == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "cargo '%s' does not exist in namespace '%s'", name,
                      ns);
  return 0;
}

int sq_container_set_version(struct store_tx *tx, const char *id, int64_t version,
                             struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CONTAINER_SET_VERSION,
                             "UPDATE containers SET cargo_version = ?2 WHERE id = ?1", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, version);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "updating a container", NULL);
}
