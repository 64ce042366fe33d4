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
  SQ_CLUSTER_INSERT,
  SQ_CLUSTER_GET,
  SQ_CLUSTER_LIST,
  SQ_CLUSTER_LIST_ALL,
  SQ_CLUSTER_DELETE,
  SQ_VARIABLE_PUT,
  SQ_VARIABLE_LIST,
  SQ_VARIABLE_DELETE,
  SQ_NETWORK_INSERT,
  SQ_NETWORK_SUBNETS,
  SQ_NETWORK_GET,
  SQ_NETWORK_GET_ID,
  SQ_NETWORK_LIST,
  SQ_NETWORK_DELETE,
  SQ_ATTACH_ADDRS,
  SQ_ATTACH_INSERT,
  SQ_ATTACH_LIST,
  SQ_ATTACH_GET,
  SQ_PORT_CLASH,
  SQ_PORT_INSERT,
  SQ_PORT_LIST,
  SQ_CARGO_INSERT,
  SQ_CARGO_VERSION_INSERT,
  SQ_CARGO_GET,
  SQ_CARGO_LIST,
  SQ_CARGO_DELETE,
  SQ_CARGO_MAX_VERSION,
  SQ_CARGO_SET_VERSION,
  SQ_CARGO_SET_ROLLOUT,
  SQ_CARGO_HISTORY,
  SQ_JOIN_PUT,
  SQ_JOIN_LIST,
  SQ_JOIN_DELETE_CLUSTER,
  SQ_CONTAINER_RENAME,
  SQ_CARGO_SET_STOPPED,
  SQ_CONTAINER_SET_VERSION,
  SQ_STMT_MAX,
};

struct sq_store {
  struct store base;
  sqlite3 *db;
  pthread_mutex_t lock;
  sqlite3_stmt *stmts[SQ_STMT_MAX];
  struct store_tx tx; /* the one transaction in progress, guarded by `lock` */
  bool tx_volatile;   /* it runs with synchronous=NORMAL, to be set back after */
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

/* Makes room for one more item in a growing array (*items of *cap elements of `size`
 * bytes, `len` used): 0, or -1 when out of memory (*items unchanged). */
int sq_grow(void **items, size_t *cap, size_t len, size_t size);

/* Steps `st` to its end, appending one item of `size` bytes per row to *items (*len of
 * them, zeroed, then filled by `row`: 0, or -1 when out of memory), and resets `st`.
 * On failure what was collected stays in *items, for the caller's list free. */
int sq_collect(struct sq_store *s, sqlite3_stmt *st, void **items, size_t *len, size_t size,
               int (*row)(sqlite3_stmt *st, void *item), const char *what, struct nc_err *err);

/* Copies text column `col` into dst ("" for NULL). */
void sq_text(char *dst, size_t size, sqlite3_stmt *st, int col);

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

/* sqlite-cluster.c */
int sq_cluster_insert(struct store_tx *tx, const struct store_cluster *c, struct nc_err *err);
int sq_cluster_get(struct store_tx *tx, const char *ns, const char *name,
                   struct store_cluster *out, struct nc_err *err);
int sq_cluster_list(struct store_tx *tx, const char *ns, struct store_cluster_list *out,
                    struct nc_err *err);
int sq_cluster_delete(struct store_tx *tx, const char *ns, const char *name, struct nc_err *err);
int sq_variable_put(struct store_tx *tx, const char *ns, const char *cluster,
                    const struct store_variable *v, struct nc_err *err);
int sq_variable_list(struct store_tx *tx, const char *ns, const char *cluster,
                     struct store_variable_list *out, struct nc_err *err);
int sq_variable_delete(struct store_tx *tx, const char *ns, const char *cluster,
                       const char *name, struct nc_err *err);

/* sqlite-network.c */
int sq_network_insert(struct store_tx *tx, const struct store_network *n, struct nc_err *err);
int sq_network_get(struct store_tx *tx, const char *ns, const char *cluster, const char *name,
                   struct store_network *out, struct nc_err *err);
int sq_network_get_id(struct store_tx *tx, const char *id, struct store_network *out,
                      struct nc_err *err);
int sq_network_list(struct store_tx *tx, const char *ns, const char *cluster,
                    struct store_network_list *out, struct nc_err *err);
int sq_network_delete(struct store_tx *tx, const char *id, struct nc_err *err);
int sq_attachment_add(struct store_tx *tx, const struct store_network *n,
                      const char *container_id, uint32_t *addr, struct nc_err *err);
int sq_attachment_list(struct store_tx *tx, const char *network_id,
                       struct store_attachment_list *out, struct nc_err *err);
int sq_attachment_get(struct store_tx *tx, const char *container_id,
                      struct store_attachment *out, struct nc_err *err);
int sq_port_insert(struct store_tx *tx, const struct store_port *p, struct nc_err *err);
int sq_port_list(struct store_tx *tx, const char *container_id, struct store_port_list *out,
                 struct nc_err *err);

/* sqlite-cargo.c */
int sq_cargo_insert(struct store_tx *tx, const struct store_cargo *c, struct nc_err *err);
int sq_cargo_get(struct store_tx *tx, const char *ns, const char *name, struct store_cargo *out,
                 struct nc_err *err);
int sq_cargo_list(struct store_tx *tx, const char *ns, struct store_cargo_list *out,
                  struct nc_err *err);
int sq_cargo_delete(struct store_tx *tx, const char *ns, const char *name, struct nc_err *err);
int sq_cargo_new_version(struct store_tx *tx, const char *ns, const char *name,
                         const char *spec, const char *note, int64_t *version,
                         struct nc_err *err);
int sq_cargo_set_rollout(struct store_tx *tx, const char *ns, const char *name,
                         const char *rollout, struct nc_err *err);
int sq_cargo_history(struct store_tx *tx, const char *ns, const char *name,
                     struct store_cargo_version_list *out, struct nc_err *err);
int sq_join_put(struct store_tx *tx, const struct store_join *j, struct nc_err *err);
int sq_join_list(struct store_tx *tx, const char *ns, const char *cargo, const char *cluster,
                 struct store_join_list *out, struct nc_err *err);
int sq_join_delete_cluster(struct store_tx *tx, const char *ns, const char *cluster,
                           struct nc_err *err);
int sq_container_rename(struct store_tx *tx, const char *id, const char *name,
                        struct nc_err *err);
int sq_cargo_set_stopped(struct store_tx *tx, const char *ns, const char *name, bool stopped,
                         struct nc_err *err);
int sq_container_set_version(struct store_tx *tx, const char *id, int64_t version,
                             struct nc_err *err);
