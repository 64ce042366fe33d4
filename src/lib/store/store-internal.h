/* What a store backend implements. Only store/ sees this. */
#pragma once

#include "store/store.h"

struct store_ops {
  const char *name;
  void (*close)(struct store *s);
  int (*begin)(struct store *s, enum store_tx_mode mode, struct store_tx **tx,
               struct nc_err *err);
  int (*commit)(struct store_tx *tx, struct nc_err *err);
  void (*rollback)(struct store_tx *tx);

  int (*namespace_insert)(struct store_tx *tx, const struct store_namespace *ns,
                          struct nc_err *err);
  int (*namespace_get)(struct store_tx *tx, const char *name, struct store_namespace *out,
                       struct nc_err *err);
  int (*namespace_list)(struct store_tx *tx, struct store_namespace_list *out,
                        struct nc_err *err);
  int (*namespace_delete)(struct store_tx *tx, const char *name, struct nc_err *err);

  int (*image_put)(struct store_tx *tx, const struct store_image *img, struct nc_err *err);
  int (*image_get)(struct store_tx *tx, const char *id, struct store_image *out,
                   struct nc_err *err);
  int (*image_list)(struct store_tx *tx, struct store_image_list *out, struct nc_err *err);
  int (*image_delete)(struct store_tx *tx, const char *id, struct nc_err *err);
  int (*image_resolve)(struct store_tx *tx, const char *key, char id[72], struct nc_err *err);
  int (*image_name_set)(struct store_tx *tx, const char *name, const char *id,
                        struct nc_err *err);
  int (*image_name_delete)(struct store_tx *tx, const char *name, struct nc_err *err);

  int (*container_insert)(struct store_tx *tx, const struct store_container *c,
                          struct nc_err *err);
  int (*container_get)(struct store_tx *tx, const char *ns, const char *key,
                       struct store_container *out, struct nc_err *err);
  int (*container_list)(struct store_tx *tx, const char *ns, struct store_container_list *out,
                        struct nc_err *err);
  int (*container_update)(struct store_tx *tx, const struct store_container *c,
                          struct nc_err *err);
  int (*container_delete)(struct store_tx *tx, const char *id, struct nc_err *err);
  int (*container_count_image)(struct store_tx *tx, const char *image_id, int *count,
                               struct nc_err *err);

  int (*cluster_insert)(struct store_tx *tx, const struct store_cluster *c, struct nc_err *err);
  int (*cluster_get)(struct store_tx *tx, const char *ns, const char *name,
                     struct store_cluster *out, struct nc_err *err);
  int (*cluster_list)(struct store_tx *tx, const char *ns, struct store_cluster_list *out,
                      struct nc_err *err);
  int (*cluster_delete)(struct store_tx *tx, const char *ns, const char *name,
                        struct nc_err *err);
  int (*variable_put)(struct store_tx *tx, const char *ns, const char *cluster,
                      const struct store_variable *v, struct nc_err *err);
  int (*variable_list)(struct store_tx *tx, const char *ns, const char *cluster,
                       struct store_variable_list *out, struct nc_err *err);
  int (*variable_delete)(struct store_tx *tx, const char *ns, const char *cluster,
                         const char *name, struct nc_err *err);

  int (*network_insert)(struct store_tx *tx, const struct store_network *n, struct nc_err *err);
  int (*network_get)(struct store_tx *tx, const char *ns, const char *cluster,
                     const char *name, struct store_network *out, struct nc_err *err);
  int (*network_get_id)(struct store_tx *tx, const char *id, struct store_network *out,
                        struct nc_err *err);
  int (*network_list)(struct store_tx *tx, const char *ns, const char *cluster,
                      struct store_network_list *out, struct nc_err *err);
  int (*network_delete)(struct store_tx *tx, const char *id, struct nc_err *err);
  int (*attachment_add)(struct store_tx *tx, const struct store_network *n,
                        const char *container_id, uint32_t *addr, struct nc_err *err);
  int (*attachment_list)(struct store_tx *tx, const char *network_id,
                         struct store_attachment_list *out, struct nc_err *err);
  int (*attachment_get)(struct store_tx *tx, const char *container_id,
                        struct store_attachment *out, struct nc_err *err);
  int (*port_insert)(struct store_tx *tx, const struct store_port *p, struct nc_err *err);
  int (*port_list)(struct store_tx *tx, const char *container_id, struct store_port_list *out,
                   struct nc_err *err);
  int (*cargo_insert)(struct store_tx *tx, const struct store_cargo *c, struct nc_err *err);
  int (*cargo_get)(struct store_tx *tx, const char *ns, const char *name,
                   struct store_cargo *out, struct nc_err *err);
  int (*cargo_list)(struct store_tx *tx, const char *ns, struct store_cargo_list *out,
                    struct nc_err *err);
  int (*cargo_delete)(struct store_tx *tx, const char *ns, const char *name, struct nc_err *err);
  int (*cargo_new_version)(struct store_tx *tx, const char *ns, const char *name,
                           const char *spec, const char *note, int64_t *version,
                           struct nc_err *err);
  int (*cargo_set_rollout)(struct store_tx *tx, const char *ns, const char *name,
                           const char *rollout, struct nc_err *err);
  int (*cargo_history)(struct store_tx *tx, const char *ns, const char *name,
                       struct store_cargo_version_list *out, struct nc_err *err);
  int (*join_put)(struct store_tx *tx, const struct store_join *j, struct nc_err *err);
  int (*join_list)(struct store_tx *tx, const char *ns, const char *cargo, const char *cluster,
                   struct store_join_list *out, struct nc_err *err);
  int (*join_delete_cluster)(struct store_tx *tx, const char *ns, const char *cluster,
                             struct nc_err *err);
  int (*container_rename)(struct store_tx *tx, const char *id, const char *name,
                          struct nc_err *err);
  int (*container_set_version)(struct store_tx *tx, const char *id, int64_t version,
                               struct nc_err *err);
  int (*cargo_set_stopped)(struct store_tx *tx, const char *ns, const char *name, bool stopped,
                           struct nc_err *err);
};

/* Backends embed these as their first member. */
struct store {
  const struct store_ops *ops;
  int schema_version;
};

struct store_tx {
  struct store *store;
};

int store_sqlite_open(const char *path, struct store **out, struct nc_err *err);
