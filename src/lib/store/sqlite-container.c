/* Containers in the SQLite backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite-internal.h"

#define CONTAINER_COLUMNS                                                                          \
  "id, name, namespace, image, image_id, state, pid, shim_pid, exit_code, exit_signal, "         \
  "oom_killed, error, created_at, started_at, finished_at, spec, cluster, cargo, cargo_version, "  \
  "instance"

static void text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
  const unsigned char *v = sqlite3_column_text(st, col);
  snprintf(dst, size, "%s", v ? (const char *)v : "");
}

static int row(sqlite3_stmt *st, struct store_container *c)
{
  memset(c, 0, sizeof *c);
  text(c->id, sizeof c->id, st, 0);
  text(c->name, sizeof c->name, st, 1);
  text(c->namespace_, sizeof c->namespace_, st, 2);
  text(c->image, sizeof c->image, st, 3);
  text(c->image_id, sizeof c->image_id, st, 4);
  text(c->state, sizeof c->state, st, 5);
  c->pid = sqlite3_column_int64(st, 6);
  c->shim_pid = sqlite3_column_int64(st, 7);
  c->exit_code = sqlite3_column_int(st, 8);
  text(c->exit_signal, sizeof c->exit_signal, st, 9);
  c->oom_killed = sqlite3_column_int(st, 10) != 0;
  text(c->error, sizeof c->error, st, 11);
  c->created_at = sqlite3_column_int64(st, 12);
  c->started_at = sqlite3_column_int64(st, 13);
  c->finished_at = sqlite3_column_int64(st, 14);
  const unsigned char *spec = sqlite3_column_text(st, 15);
  c->spec = strdup(spec ? (const char *)spec : "{}");
  text(c->cluster, sizeof c->cluster, st, 16);
  text(c->cargo, sizeof c->cargo, st, 17);
  c->cargo_version = sqlite3_column_int64(st, 18);
  c->instance = sqlite3_column_int(st, 19);
  return c->spec ? 0 : -1;
}

int sq_container_insert(struct store_tx *tx, const struct store_container *c,
                        struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CONTAINER_INSERT,
                             "INSERT INTO containers (" CONTAINER_COLUMNS ") VALUES "
                             "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, c->namespace_, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, c->image, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, c->image_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, c->state, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, c->pid);
  sqlite3_bind_int64(st, 8, c->shim_pid);
  sqlite3_bind_int(st, 9, c->exit_code);
  sqlite3_bind_text(st, 10, c->exit_signal, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 11, c->oom_killed);
  sqlite3_bind_text(st, 12, c->error, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 13, c->created_at);
  sqlite3_bind_int64(st, 14, c->started_at);
  sqlite3_bind_int64(st, 15, c->finished_at);
  sqlite3_bind_text(st, 16, c->spec ? c->spec : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 17, c->cluster, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 18, c->cargo, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 19, c->cargo_version);
  sqlite3_bind_int(st, 20, c->instance);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return 0;
  char msg[200];
  snprintf(msg, sizeof msg, "a container named '%s' already exists in namespace '%s'", c->name,
           c->namespace_);
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    return nc_err_set(err, NC_ERR_NOT_FOUND,
                      "namespace '%s', cluster '%s' or image %s does not exist", c->namespace_,
                      c->cluster, c->image_id);
  return sq_fail(s, rc, err, "storing a container", msg);
}

/* 0 found, 1 none, -1 error or ambiguous. */
static int lookup(struct sq_store *s, enum sq_stmt_id id, const char *sql, const char *a,
                  const char *b, const char *shown, struct store_container *out,
                  struct nc_err *err)
{
  sqlite3_stmt *st = sq_stmt(s, id, sql, err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  if (b)
    sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st), found = 0;
  if (rc == SQLITE_ROW) {
    found = row(st, out) == 0 ? 1 : -1;
    rc = sqlite3_step(st);
    if (found == 1 && rc == SQLITE_ROW) {
      sqlite3_reset(st);
      store_container_free(out);
      return nc_err_set(err, NC_ERR_CONFLICT, "'%s' matches several containers; give more of the id",
                        shown);
    }
  }
  sqlite3_reset(st);
  if (found < 0)
    return nc_err_set(err, NC_ERR_INTERNAL, "reading a container: out of memory");
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    if (found)
      store_container_free(out);
    return sq_fail(s, rc, err, "reading a container", NULL);
  }
  return found ? 0 : 1;
}

int sq_container_get(struct store_tx *tx, const char *ns, const char *key,
                     struct store_container *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  int r = lookup(s, SQ_CONTAINER_BY_NAME,
                 "SELECT " CONTAINER_COLUMNS " FROM containers WHERE namespace = ?1 AND name = ?2",
                 ns, key, key, out, err);
  if (r <= 0)
    return r;
  size_t len = strlen(key);
  if (len >= 4 && len <= 64 && strspn(key, "0123456789abcdef") == len) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "%s*", key);
    r = lookup(s, SQ_CONTAINER_BY_PREFIX,
               "SELECT " CONTAINER_COLUMNS " FROM containers WHERE id GLOB ?1", pattern, NULL, key,
               out, err);
    if (r <= 0)
      return r;
  }
  return nc_err_set(err, NC_ERR_NOT_FOUND, "container '%.100s' does not exist in namespace '%s'",
                    key, ns);
}

int sq_container_list(struct store_tx *tx, const char *ns, struct store_container_list *out,
                      struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st =
    ns ? sq_stmt(s, SQ_CONTAINER_LIST,
                 "SELECT " CONTAINER_COLUMNS " FROM containers WHERE namespace = ?1 "
                 "ORDER BY created_at DESC, name",
                 err)
       : sq_stmt(s, SQ_CONTAINER_LIST_ALL,
                 "SELECT " CONTAINER_COLUMNS " FROM containers ORDER BY created_at DESC, name",
                 err);
  if (!st)
    return -1;
  if (ns)
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
  struct store_container_list list = { NULL, 0 };
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (list.len == cap) {
      cap = cap ? cap * 2 : 16;
      struct store_container *p = realloc(list.items, cap * sizeof *p);
      if (!p)
        break;
      list.items = p;
    }
    if (row(st, &list.items[list.len]) < 0)
      break;
    list.len++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    store_container_list_free(&list);
    return rc == SQLITE_ROW
             ? nc_err_set(err, NC_ERR_INTERNAL, "listing containers: out of memory")
             : sq_fail(s, rc, err, "listing containers", NULL);
  }
  *out = list;
  return 0;
}

int sq_container_update(struct store_tx *tx, const struct store_container *c,
                        struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CONTAINER_UPDATE,
                             "UPDATE containers SET state=?2, pid=?3, shim_pid=?4, exit_code=?5, "
                             "exit_signal=?6, oom_killed=?7, error=?8, started_at=?9, "
                             "finished_at=?10 WHERE id=?1",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, c->state, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, c->pid);
  sqlite3_bind_int64(st, 4, c->shim_pid);
  sqlite3_bind_int(st, 5, c->exit_code);
  sqlite3_bind_text(st, 6, c->exit_signal, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 7, c->oom_killed);
  sqlite3_bind_text(st, 8, c->error, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 9, c->started_at);
  sqlite3_bind_int64(st, 10, c->finished_at);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "updating a container", NULL);
  if (sqlite3_changes(s->db) == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "container %s does not exist", c->id);
  return 0;
}

int sq_container_delete(struct store_tx *tx, const char *id, struct nc_err *err)
{
  int n = sq_exec_key(sq_from_tx(tx), SQ_CONTAINER_DELETE, "DELETE FROM containers WHERE id = ?1",
                      id, "removing a container", NULL, err);
  if (n == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "container %s does not exist", id);
  return n < 0 ? -1 : 0;
}

int sq_container_count_image(struct store_tx *tx, const char *image_id, int *count,
                             struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_CONTAINER_COUNT_IMAGE,
                             "SELECT count(*) FROM containers WHERE image_id = ?1", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  *count = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, err, "counting containers", NULL);
}
