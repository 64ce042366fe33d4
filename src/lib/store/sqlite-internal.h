/* The SQLite backend's shared pieces: one connection guarded by a mutex that a
 * transaction holds from begin to commit/rollback (SQLite serialises writers
 * anyway), and a cache of prepared statements reused across transactions. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>

#include "store/store-internal.h"

enum sq_stmt_id {
  SQ_NAMESPACE_INSERT,
  SQ_NAMESPACE_GET,
  SQ_NAMESPACE_LIST,
  SQ_NAMESPACE_DELETE,
  SQ_IMAGE_PUT,
  SQ_IMAGE_GET,
  SQ_IMAGE_NAMES,
  SQ_IMAGE_LIST,
  SQ_IMAGE_DELETE,
  SQ_IMAGE_BY_NAME,
  SQ_IMAGE_BY_PREFIX,
  SQ_IMAGE_BY_DIGEST,
  SQ_IMAGE_NAME_SET,
  SQ_IMAGE_NAME_DELETE,
  SQ_CONTAINER_INSERT,
  SQ_CONTAINER_BY_NAME,
  SQ_CONTAINER_BY_PREFIX,
  SQ_CONTAINER_LIST,
  SQ_CONTAINER_LIST_ALL,
  SQ_CONTAINER_UPDATE,
  SQ_CONTAINER_DELETE,
  SQ_CONTAINER_COUNT_IMAGE,
  SQ_STMT_MAX,
};

struct sq_store {
  struct store base;
  sqlite3 *db;
  pthread_mutex_t lock;
  sqlite3_stmt *stmts[SQ_STMT_MAX];
  struct store_tx tx; /* the one transaction in progress, guarded by `lock` */
};

static inline struct sq_store *sq_from_tx(struct store_tx *tx)
{
  return (struct sq_store *)tx->store;
}

/* The cached statement `id`, prepared on first use, reset and unbound. */
sqlite3_stmt *sq_stmt(struct sq_store *s, enum sq_stmt_id id, const char *sql,
                      struct nc_err *err);

/* Maps a failed SQLite call to an nc_err: constraint violations become
 * NC_ERR_CONFLICT with `conflict_msg`, everything else NC_ERR_INTERNAL
 * "<what>: <sqlite message>". Returns -1. */
int sq_fail(struct sq_store *s, int rc, struct nc_err *err, const char *what,
            const char *conflict_msg);

/* Runs the cached statement `id` (`sql` with one text parameter ?1 = key): the
 * number of rows it changed, or -1 with `err` as sq_fail gives it. For the
 * "delete one row by key" that every resource has. */
int sq_exec_key(struct sq_store *s, enum sq_stmt_id id, const char *sql, const char *key,
                const char *what, const char *conflict_msg, struct nc_err *err);

extern const struct store_ops sq_ops;

/* sqlite-namespace.c */
int sq_namespace_insert(struct store_tx *tx, const struct store_namespace *ns,
                        struct nc_err *err);
int sq_namespace_get(struct store_tx *tx, const char *name, struct store_namespace *out,
                     struct nc_err *err);
int sq_namespace_list(struct store_tx *tx, struct store_namespace_list *out,
                      struct nc_err *err);
int sq_namespace_delete(struct store_tx *tx, const char *name, struct nc_err *err);


/* sqlite-image.c */
int sq_image_put(struct store_tx *tx, const struct store_image *img, struct nc_err *err);
int sq_image_get(struct store_tx *tx, const char *id, struct store_image *out,
                 struct nc_err *err);
int sq_image_list(struct store_tx *tx, struct store_image_list *out, struct nc_err *err);
int sq_image_delete(struct store_tx *tx, const char *id, struct nc_err *err);
int sq_image_resolve(struct store_tx *tx, const char *key, char id[72], struct nc_err *err);
int sq_image_name_set(struct store_tx *tx, const char *name, const char *id,
                      struct nc_err *err);
int sq_image_name_delete(struct store_tx *tx, const char *name, struct nc_err *err);

/* sqlite-container.c */
int sq_container_insert(struct store_tx *tx, const struct store_container *c,
                        struct nc_err *err);
int sq_container_get(struct store_tx *tx, const char *ns, const char *key,
                     struct store_container *out, struct nc_err *err);
int sq_container_list(struct store_tx *tx, const char *ns, struct store_container_list *out,
                      struct nc_err *err);
int sq_container_update(struct store_tx *tx, const struct store_container *c,
                        struct nc_err *err);
int sq_container_delete(struct store_tx *tx, const char *id, struct nc_err *err);
int sq_container_count_image(struct store_tx *tx, const char *image_id, int *count,
                             struct nc_err *err);
