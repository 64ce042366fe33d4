/* SQLite backend: opening, pragmas, migrations, transactions. The per-resource
 * queries live in sqlite-<resource>.c. */
#include "store/sqlite-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* Ordered schema migrations: entry N takes the schema from version N to N+1.
 * Never edit a released entry; append a new one. Each runs in its own
 * transaction together with the bump of PRAGMA user_version. */
static const char *const migrations[] = {
  /* 1: namespaces, with `global` present from the start. */
  "CREATE TABLE namespaces ("
  "  name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 63),"
  "  created_at INTEGER NOT NULL"
  ") STRICT;"
  "INSERT INTO namespaces (name, created_at)"
  "  VALUES ('global', CAST(strftime('%s', 'now') AS INTEGER));",

  /* 2: images and their names (global, not in a namespace, as in Docker). */
  "CREATE TABLE images ("
  "  id TEXT PRIMARY KEY NOT NULL,"
  "  manifest_digest TEXT NOT NULL,"
  "  index_digest TEXT NOT NULL DEFAULT '',"
  "  os TEXT NOT NULL, architecture TEXT NOT NULL, variant TEXT NOT NULL DEFAULT '',"
  "  created TEXT NOT NULL DEFAULT '',"
  "  size INTEGER NOT NULL,"
  "  pulled_at INTEGER NOT NULL,"
  "  manifest TEXT NOT NULL, config TEXT NOT NULL, layers TEXT NOT NULL"
  ") STRICT;"
  "CREATE INDEX images_manifest ON images(manifest_digest);"
  "CREATE INDEX images_index ON images(index_digest);"
  "CREATE TABLE image_names ("
  "  name TEXT PRIMARY KEY NOT NULL,"
  "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE"
  ") STRICT;"
  "CREATE INDEX image_names_image ON image_names(image_id);",

  /* 3: containers, in a namespace; an image in use cannot go (RESTRICT). */
  "CREATE TABLE containers ("
  "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 64),"
  "  name TEXT NOT NULL,"
  "  namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE RESTRICT,"
  "  image TEXT NOT NULL,"
  "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE RESTRICT,"
  "  state TEXT NOT NULL,"
  "  pid INTEGER NOT NULL DEFAULT 0, shim_pid INTEGER NOT NULL DEFAULT 0,"
  "  exit_code INTEGER NOT NULL DEFAULT 0, exit_signal TEXT NOT NULL DEFAULT '',"
  "  oom_killed INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',"
  "  created_at INTEGER NOT NULL, started_at INTEGER NOT NULL DEFAULT 0,"
  "  finished_at INTEGER NOT NULL DEFAULT 0,"
  "  spec TEXT NOT NULL,"
  "  UNIQUE (namespace, name)"
  ") STRICT;"
  "CREATE INDEX containers_image ON containers(image_id);",

  /* 4: clusters with their variables and networks; containers join a cluster and get
   * an address on one of its networks, and may publish ports. A cluster with
   * networks or containers cannot go (RESTRICT): nanocld removes those first, as they
   * have kernel objects behind them. Addresses and ports go with their container. */
  "CREATE TABLE clusters ("
  "  namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE RESTRICT,"
  "  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),"
  "  created_at INTEGER NOT NULL,"
  "  PRIMARY KEY (namespace, name)"
  ") STRICT;"
  "CREATE TABLE cluster_variables ("
  "  namespace TEXT NOT NULL, cluster TEXT NOT NULL,"
  "  name TEXT NOT NULL, value TEXT NOT NULL, created_at INTEGER NOT NULL,"
  "  PRIMARY KEY (namespace, cluster, name),"
  "  FOREIGN KEY (namespace, cluster) REFERENCES clusters(namespace, name) ON DELETE CASCADE"
  ") STRICT;"
  "CREATE TABLE networks ("
  "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 64),"
  "  namespace TEXT NOT NULL, cluster TEXT NOT NULL, name TEXT NOT NULL,"
  "  bridge TEXT NOT NULL UNIQUE,"
  "  subnet INTEGER NOT NULL, prefix INTEGER NOT NULL, gateway INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  UNIQUE (namespace, cluster, name),"
  "  FOREIGN KEY (namespace, cluster) REFERENCES clusters(namespace, name) ON DELETE RESTRICT"
  ") STRICT;"
  "ALTER TABLE containers ADD COLUMN cluster TEXT NOT NULL DEFAULT '';"
  "CREATE INDEX containers_cluster ON containers(namespace, cluster);"
  "CREATE TABLE network_addrs ("
  "  network_id TEXT NOT NULL REFERENCES networks(id) ON DELETE RESTRICT,"
  "  addr INTEGER NOT NULL,"
  "  container_id TEXT NOT NULL UNIQUE REFERENCES containers(id) ON DELETE CASCADE,"
  "  PRIMARY KEY (network_id, addr)"
  ") STRICT;"
  "CREATE TABLE published_ports ("
  "  container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
  "  host_ip INTEGER NOT NULL, host_port INTEGER NOT NULL, proto TEXT NOT NULL,"
  "  port INTEGER NOT NULL,"
  "  UNIQUE (host_ip, host_port, proto)"
  ") STRICT;",

  /* 5: cargoes: a spec per version (the history), the version wanted now, the clusters
   * (and network) each joined; containers know the cargo, version and instance number
   * they are. A rollout's outcome is kept on the cargo. */
  "CREATE TABLE cargoes ("
  "  namespace TEXT NOT NULL REFERENCES namespaces(name) ON DELETE RESTRICT,"
  "  name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),"
  "  version INTEGER NOT NULL,"
  "  rollout TEXT NOT NULL DEFAULT '',"
  "  stopped INTEGER NOT NULL DEFAULT 0,"
  "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
  "  PRIMARY KEY (namespace, name)"
  ") STRICT;"
  "CREATE TABLE cargo_versions ("
  "  namespace TEXT NOT NULL, cargo TEXT NOT NULL, version INTEGER NOT NULL,"
  "  spec TEXT NOT NULL, created_at INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '',"
  "  PRIMARY KEY (namespace, cargo, version),"
  "  FOREIGN KEY (namespace, cargo) REFERENCES cargoes(namespace, name) ON DELETE CASCADE"
  ") STRICT;"
  "CREATE TABLE cargo_joins ("
  "  namespace TEXT NOT NULL, cargo TEXT NOT NULL, cluster TEXT NOT NULL,"
  "  network TEXT NOT NULL,"
  "  PRIMARY KEY (namespace, cargo, cluster),"
  "  FOREIGN KEY (namespace, cargo) REFERENCES cargoes(namespace, name) ON DELETE CASCADE,"
  "  FOREIGN KEY (namespace, cluster) REFERENCES clusters(namespace, name) ON DELETE CASCADE"
  ") STRICT;"
  "ALTER TABLE containers ADD COLUMN cargo TEXT NOT NULL DEFAULT '';"
  "ALTER TABLE containers ADD COLUMN cargo_version INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE containers ADD COLUMN instance INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX containers_cargo ON containers(namespace, cargo);",
};

#define MIGRATIONS_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

int sq_fail(struct sq_store *s, int rc, struct nc_err *err, const char *what,
            const char *conflict_msg)
{
  if ((rc & 0xff) == SQLITE_CONSTRAINT && conflict_msg)
    return nc_err_set(err, NC_ERR_CONFLICT, "%s", conflict_msg);
  return nc_err_set(err, NC_ERR_INTERNAL, "%s: %s", what, sqlite3_errmsg(s->db));
}

sqlite3_stmt *sq_stmt(struct sq_store *s, enum sq_stmt_id id, const char *sql,
                      struct nc_err *err)
{
  sqlite3_stmt *st = s->stmts[id];
  if (!st) {
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
      sq_fail(s, rc, err, "preparing a store query", NULL);
      return NULL;
    }
    s->stmts[id] = st;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

int sq_exec_key(struct sq_store *s, enum sq_stmt_id id, const char *sql, const char *key,
                const char *what, const char *conflict_msg, struct nc_err *err)
{
  sqlite3_stmt *st = sq_stmt(s, id, sql, err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, what, conflict_msg);
  return sqlite3_changes(s->db);
}

int sq_grow(void **items, size_t *cap, size_t len, size_t size)
{
  if (len < *cap)
    return 0;
  size_t n = *cap ? *cap * 2 : 16;
  void *p = realloc(*items, n * size);
  if (!p)
    return -1;
  *items = p;
  *cap = n;
  return 0;
}

int sq_collect(struct sq_store *s, sqlite3_stmt *st, void **items, size_t *len, size_t size,
               int (*row)(sqlite3_stmt *st, void *item), const char *what, struct nc_err *err)
{
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (sq_grow(items, &cap, *len, size) < 0) {
      rc = SQLITE_NOMEM;
      break;
    }
    void *item = (char *)*items + *len * size;
    memset(item, 0, size);
    if (row(st, item) < 0) {
      rc = SQLITE_NOMEM;
      break;
    }
    (*len)++;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, what, NULL);
}

void sq_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
  const unsigned char *v = sqlite3_column_text(st, col);
  snprintf(dst, size, "%s", v ? (const char *)v : "");
}

static int exec(struct sq_store *s, const char *sql, struct nc_err *err)
{
  char *msg = NULL;
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    nc_err_set(err, NC_ERR_INTERNAL, "store: %s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

static int pragma_int(struct sq_store *s, const char *sql, int *out, struct nc_err *err)
{
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return sq_fail(s, rc, err, sql, NULL);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : sq_fail(s, rc, err, sql, NULL);
}

static int configure(struct sq_store *s, struct nc_err *err)
{
  sqlite3_busy_timeout(s->db, 5000);
  sqlite3_extended_result_codes(s->db, 1);

  /* WAL: readers never block the writer. synchronous=FULL: a commit is on disk
   * before we answer the request that made it, so an acknowledged write
   * survives a crash or power loss. */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
    return sq_fail(s, SQLITE_ERROR, err, "setting journal_mode", NULL);
  int rc = sqlite3_step(st);
  int wal = rc == SQLITE_ROW &&
            strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
  sqlite3_finalize(st);
  if (!wal)
    return nc_err_set(err, NC_ERR_INTERNAL, "store: the file system refuses WAL journaling");

  return exec(s,
              "PRAGMA synchronous=FULL;"
              "PRAGMA foreign_keys=ON;"
              "PRAGMA trusted_schema=OFF;",
              err);
}

static int migrate(struct sq_store *s, struct nc_err *err)
{
  int version = 0;
  if (pragma_int(s, "PRAGMA user_version", &version, err) < 0)
    return -1;
  if (version > MIGRATIONS_COUNT)
    return nc_err_set(err, NC_ERR_INTERNAL,
                      "store schema version %d is newer than this nanocld knows (%d); "
                      "run a newer nanocld",
                      version, MIGRATIONS_COUNT);

  for (; version < MIGRATIONS_COUNT; version++) {
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", version + 1);
    if (exec(s, "BEGIN IMMEDIATE", err) < 0)
      return -1;
    if (exec(s, migrations[version], err) < 0 || exec(s, bump, err) < 0) {
      exec(s, "ROLLBACK", &(struct nc_err)NC_ERR_INIT);
      return nc_err_wrap(err, "store migration to version %d", version + 1);
    }
    if (exec(s, "COMMIT", err) < 0)
      return nc_err_wrap(err, "store migration to version %d", version + 1);
    nc_log(NC_LOG_INFO, "store: migrated schema to version %d", version + 1);
  }
  s->base.schema_version = version;
  return 0;
}

static void sq_close(struct store *base)
{
  struct sq_store *s = (struct sq_store *)base;
  for (int i = 0; i < SQ_STMT_MAX; i++)
    sqlite3_finalize(s->stmts[i]);
  /* Closing the last connection checkpoints the WAL into the database file. */
  sqlite3_close(s->db);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

int store_sqlite_open(const char *path, struct store **out, struct nc_err *err)
{
  /* Create the file ourselves so it is never world-readable. */
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot open store '%s'", path);
  close(fd);

  struct sq_store *s = calloc(1, sizeof *s);
  if (!s)
    return nc_err_sys(err, ENOMEM, "cannot open store '%s'", path);
  s->base.ops = &sq_ops;
  s->tx.store = &s->base;
  pthread_mutex_init(&s->lock, NULL);

  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                           NULL);
  if (rc != SQLITE_OK) {
    nc_err_set(err, NC_ERR_INTERNAL, "cannot open store '%s': %s", path,
               s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    sq_close(&s->base);
    return -1;
  }
  if (configure(s, err) < 0 || migrate(s, err) < 0) {
    nc_err_wrap(err, "store '%s'", path);
    sq_close(&s->base);
    return -1;
  }
  *out = &s->base;
  return 0;
}

/* synchronous=FULL is the connection's setting; a volatile transaction lowers it to
 * NORMAL (in WAL mode: durable across a crash of the process, not a power loss) for its
 * own commit only. The connection is ours alone while `lock` is held. */
static void volatile_end(struct sq_store *s)
{
  if (s->tx_volatile) {
    struct nc_err ignored = NC_ERR_INIT;
    if (exec(s, "PRAGMA synchronous=FULL", &ignored) < 0)
      nc_log(NC_LOG_ERROR, "store: cannot set synchronous=FULL again: %s", ignored.msg);
    s->tx_volatile = false;
  }
}

static int sq_begin(struct store *base, enum store_tx_mode mode, struct store_tx **tx,
                    struct nc_err *err)
{
  struct sq_store *s = (struct sq_store *)base;
  pthread_mutex_lock(&s->lock);
  if (mode == STORE_TX_WRITE_VOLATILE) {
    if (exec(s, "PRAGMA synchronous=NORMAL", err) < 0) {
      pthread_mutex_unlock(&s->lock);
      return -1;
    }
    s->tx_volatile = true;
  }
  /* IMMEDIATE takes the write lock up front, so a write transaction never
   * fails half-way with SQLITE_BUSY on its first write. */
  if (exec(s, mode == STORE_TX_READ ? "BEGIN" : "BEGIN IMMEDIATE", err) < 0) {
    volatile_end(s);
    pthread_mutex_unlock(&s->lock);
    return -1;
  }
  *tx = &s->tx;
  return 0;
}

static int sq_commit(struct store_tx *tx, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  int r = exec(s, "COMMIT", err);
  if (r < 0)
    exec(s, "ROLLBACK", &(struct nc_err)NC_ERR_INIT);
  volatile_end(s);
  pthread_mutex_unlock(&s->lock);
  return r;
}

static void sq_rollback(struct store_tx *tx)
{
  struct sq_store *s = sq_from_tx(tx);
  exec(s, "ROLLBACK", &(struct nc_err)NC_ERR_INIT);
  volatile_end(s);
  pthread_mutex_unlock(&s->lock);
}

const struct store_ops sq_ops = {
  .name = "sqlite",
  .close = sq_close,
  .begin = sq_begin,
  .commit = sq_commit,
  .rollback = sq_rollback,
  .namespace_insert = sq_namespace_insert,
  .namespace_get = sq_namespace_get,
  .namespace_list = sq_namespace_list,
  .namespace_delete = sq_namespace_delete,
  .image_put = sq_image_put,
  .image_get = sq_image_get,
  .image_list = sq_image_list,
  .image_delete = sq_image_delete,
  .image_resolve = sq_image_resolve,
  .image_name_set = sq_image_name_set,
  .image_name_delete = sq_image_name_delete,
  .container_insert = sq_container_insert,
  .container_get = sq_container_get,
  .container_list = sq_container_list,
  .container_update = sq_container_update,
  .container_delete = sq_container_delete,
  .container_count_image = sq_container_count_image,
  .cluster_insert = sq_cluster_insert,
  .cluster_get = sq_cluster_get,
  .cluster_list = sq_cluster_list,
  .cluster_delete = sq_cluster_delete,
  .variable_put = sq_variable_put,
  .variable_list = sq_variable_list,
  .variable_delete = sq_variable_delete,
  .network_insert = sq_network_insert,
  .network_get = sq_network_get,
  .network_get_id = sq_network_get_id,
  .network_list = sq_network_list,
  .network_delete = sq_network_delete,
  .attachment_add = sq_attachment_add,
  .attachment_list = sq_attachment_list,
  .attachment_get = sq_attachment_get,
  .port_insert = sq_port_insert,
  .port_list = sq_port_list,
  .cargo_insert = sq_cargo_insert,
  .cargo_get = sq_cargo_get,
  .cargo_list = sq_cargo_list,
  .cargo_delete = sq_cargo_delete,
  .cargo_new_version = sq_cargo_new_version,
  .cargo_set_rollout = sq_cargo_set_rollout,
  .cargo_history = sq_cargo_history,
  .join_put = sq_join_put,
  .join_list = sq_join_list,
  .join_delete_cluster = sq_join_delete_cluster,
  .container_rename = sq_container_rename,
  .cargo_set_stopped = sq_cargo_set_stopped,
  .container_set_version = sq_container_set_version,
};
