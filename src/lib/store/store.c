/* Dispatch from the store interface to the backend chosen by the URL. */
#include "store/store-internal.h"

#include <stdlib.h>
#include <string.h>

int store_open(const char *url, struct store **out, struct nc_err *err)
{
  if (strncmp(url, "sqlite://", 9) == 0)
    return store_sqlite_open(url + 9, out, err);
  if (strstr(url, "://"))
    return nc_err_set(err, NC_ERR_INVALID, "unsupported store '%s': expected sqlite:///PATH",
                      url);
  return store_sqlite_open(url, out, err);
}

void store_close(struct store *s)
{
  if (s)
    s->ops->close(s);
}

const char *store_backend_name(const struct store *s)
{
  return s->ops->name;
}

int store_schema_version(const struct store *s)
{
  return s->schema_version;
}

int store_begin(struct store *s, enum store_tx_mode mode, struct store_tx **tx,
                struct nc_err *err)
{
  return s->ops->begin(s, mode, tx, err);
}

int store_commit(struct store_tx *tx, struct nc_err *err)
{
  return tx->store->ops->commit(tx, err);
}

void store_rollback(struct store_tx *tx)
{
  if (tx)
    tx->store->ops->rollback(tx);
}

int store_namespace_insert(struct store_tx *tx, const struct store_namespace *ns,
                           struct nc_err *err)
{
  return tx->store->ops->namespace_insert(tx, ns, err);
}

int store_namespace_get(struct store_tx *tx, const char *name, struct store_namespace *out,
                        struct nc_err *err)
{
  return tx->store->ops->namespace_get(tx, name, out, err);
}

int store_namespace_list(struct store_tx *tx, struct store_namespace_list *out,
                         struct nc_err *err)
{
  return tx->store->ops->namespace_list(tx, out, err);
}

int store_namespace_delete(struct store_tx *tx, const char *name, struct nc_err *err)
{
  return tx->store->ops->namespace_delete(tx, name, err);
}

void store_namespace_list_free(struct store_namespace_list *list)
{
  if (!list)
    return;
  free(list->items);
  list->items = NULL;
  list->len = 0;
}

int store_image_put(struct store_tx *tx, const struct store_image *img, struct nc_err *err)
{
  return tx->store->ops->image_put(tx, img, err);
}

int store_image_get(struct store_tx *tx, const char *id, struct store_image *out,
                    struct nc_err *err)
{
  return tx->store->ops->image_get(tx, id, out, err);
}

int store_image_list(struct store_tx *tx, struct store_image_list *out, struct nc_err *err)
{
  return tx->store->ops->image_list(tx, out, err);
}

int store_image_delete(struct store_tx *tx, const char *id, struct nc_err *err)
{
  return tx->store->ops->image_delete(tx, id, err);
}

int store_image_resolve(struct store_tx *tx, const char *key, char id[72], struct nc_err *err)
{
  return tx->store->ops->image_resolve(tx, key, id, err);
}

int store_image_name_set(struct store_tx *tx, const char *name, const char *id,
                         struct nc_err *err)
{
  return tx->store->ops->image_name_set(tx, name, id, err);
}

int store_image_name_delete(struct store_tx *tx, const char *name, struct nc_err *err)
{
  return tx->store->ops->image_name_delete(tx, name, err);
}

void store_image_free(struct store_image *img)
{
  if (!img)
    return;
  free(img->manifest);
  free(img->config);
  free(img->layers);
  for (size_t i = 0; i < img->nnames; i++)
    free(img->names[i]);
  free(img->names);
  img->manifest = img->config = img->layers = NULL;
  img->names = NULL;
  img->nnames = 0;
}

void store_image_list_free(struct store_image_list *list)
{
  if (!list)
    return;
  for (size_t i = 0; i < list->len; i++)
    store_image_free(&list->items[i]);
  free(list->items);
  list->items = NULL;
  list->len = 0;
}

int store_container_insert(struct store_tx *tx, const struct store_container *c,
                           struct nc_err *err)
{
  return tx->store->ops->container_insert(tx, c, err);
}

int store_container_get(struct store_tx *tx, const char *ns, const char *key,
                        struct store_container *out, struct nc_err *err)
{
  return tx->store->ops->container_get(tx, ns, key, out, err);
}

int store_container_list(struct store_tx *tx, const char *ns, struct store_container_list *out,
                         struct nc_err *err)
{
  return tx->store->ops->container_list(tx, ns, out, err);
}

int store_container_update(struct store_tx *tx, const struct store_container *c,
                           struct nc_err *err)
{
  return tx->store->ops->container_update(tx, c, err);
}

int store_container_delete(struct store_tx *tx, const char *id, struct nc_err *err)
{
  return tx->store->ops->container_delete(tx, id, err);
}

int store_container_count_image(struct store_tx *tx, const char *image_id, int *count,
                                struct nc_err *err)
{
  return tx->store->ops->container_count_image(tx, image_id, count, err);
}

void store_container_free(struct store_container *c)
{
  if (!c)
    return;
  free(c->spec);
  c->spec = NULL;
}

void store_container_list_free(struct store_container_list *list)
{
  if (!list)
    return;
  for (size_t i = 0; i < list->len; i++)
    store_container_free(&list->items[i]);
  free(list->items);
  list->items = NULL;
  list->len = 0;
}

int store_cluster_insert(struct store_tx *tx, const struct store_cluster *c, struct nc_err *err)
{
  return tx->store->ops->cluster_insert(tx, c, err);
}

int store_cluster_get(struct store_tx *tx, const char *ns, const char *name,
                      struct store_cluster *out, struct nc_err *err)
{
  return tx->store->ops->cluster_get(tx, ns, name, out, err);
}

int store_cluster_list(struct store_tx *tx, const char *ns, struct store_cluster_list *out,
                       struct nc_err *err)
{
  return tx->store->ops->cluster_list(tx, ns, out, err);
}

int store_cluster_delete(struct store_tx *tx, const char *ns, const char *name,
                         struct nc_err *err)
{
  return tx->store->ops->cluster_delete(tx, ns, name, err);
}

int store_variable_put(struct store_tx *tx, const char *ns, const char *cluster,
                       const struct store_variable *v, struct nc_err *err)
{
  return tx->store->ops->variable_put(tx, ns, cluster, v, err);
}

int store_variable_list(struct store_tx *tx, const char *ns, const char *cluster,
                        struct store_variable_list *out, struct nc_err *err)
{
  return tx->store->ops->variable_list(tx, ns, cluster, out, err);
}

int store_variable_delete(struct store_tx *tx, const char *ns, const char *cluster,
                          const char *name, struct nc_err *err)
{
  return tx->store->ops->variable_delete(tx, ns, cluster, name, err);
}

int store_network_insert(struct store_tx *tx, const struct store_network *n,
                         struct nc_err *err)
{
  return tx->store->ops->network_insert(tx, n, err);
}

int store_network_get(struct store_tx *tx, const char *ns, const char *cluster,
                      const char *name, struct store_network *out, struct nc_err *err)
{
  return tx->store->ops->network_get(tx, ns, cluster, name, out, err);
}

int store_network_get_id(struct store_tx *tx, const char *id, struct store_network *out,
                         struct nc_err *err)
{
  return tx->store->ops->network_get_id(tx, id, out, err);
}

int store_network_list(struct store_tx *tx, const char *ns, const char *cluster,
                       struct store_network_list *out, struct nc_err *err)
{
  return tx->store->ops->network_list(tx, ns, cluster, out, err);
}

int store_network_delete(struct store_tx *tx, const char *id, struct nc_err *err)
{
  return tx->store->ops->network_delete(tx, id, err);
}

int store_attachment_add(struct store_tx *tx, const struct store_network *n,
                         const char *container_id, uint32_t *addr, struct nc_err *err)
{
  return tx->store->ops->attachment_add(tx, n, container_id, addr, err);
}

int store_attachment_list(struct store_tx *tx, const char *network_id,
                          struct store_attachment_list *out, struct nc_err *err)
{
  return tx->store->ops->attachment_list(tx, network_id, out, err);
}

int store_attachment_get(struct store_tx *tx, const char *container_id,
                         struct store_attachment *out, struct nc_err *err)
{
  return tx->store->ops->attachment_get(tx, container_id, out, err);
}

int store_port_insert(struct store_tx *tx, const struct store_port *p, struct nc_err *err)
{
  return tx->store->ops->port_insert(tx, p, err);
}

int store_port_list(struct store_tx *tx, const char *container_id, struct store_port_list *out,
                    struct nc_err *err)
{
  return tx->store->ops->port_list(tx, container_id, out, err);
}

/* The lists are flat arrays of items. */
#define LIST_FREE_BODY(list)                                                                       \
  do {                                                                                             \
    if (list) {                                                                                    \
      free((list)->items);                                                                         \
      (list)->items = NULL;                                                                        \
      (list)->len = 0;                                                                             \
    }                                                                                              \
  } while (0)
#define LIST_FREE(fn, type)                                                                        \
  void fn(struct type *list)                                                                       \
  {                                                                                                \
    LIST_FREE_BODY(list);                                                                          \
  }

LIST_FREE(store_cluster_list_free, store_cluster_list)
LIST_FREE(store_variable_list_free, store_variable_list)
LIST_FREE(store_network_list_free, store_network_list)
LIST_FREE(store_attachment_list_free, store_attachment_list)
LIST_FREE(store_port_list_free, store_port_list)

int store_container_rename(struct store_tx *tx, const char *id, const char *name,
                           struct nc_err *err)
{
  return tx->store->ops->container_rename(tx, id, name, err);
}

int store_container_set_version(struct store_tx *tx, const char *id, int64_t version,
                                struct nc_err *err)
{
  return tx->store->ops->container_set_version(tx, id, version, err);
}

int store_cargo_insert(struct store_tx *tx, const struct store_cargo *c, struct nc_err *err)
{
  return tx->store->ops->cargo_insert(tx, c, err);
}

int store_cargo_get(struct store_tx *tx, const char *ns, const char *name,
                    struct store_cargo *out, struct nc_err *err)
{
  return tx->store->ops->cargo_get(tx, ns, name, out, err);
}

int store_cargo_list(struct store_tx *tx, const char *ns, struct store_cargo_list *out,
                     struct nc_err *err)
{
  return tx->store->ops->cargo_list(tx, ns, out, err);
}

int store_cargo_delete(struct store_tx *tx, const char *ns, const char *name,
                       struct nc_err *err)
{
  return tx->store->ops->cargo_delete(tx, ns, name, err);
}

int store_cargo_new_version(struct store_tx *tx, const char *ns, const char *name,
                            const char *spec, const char *note, int64_t *version,
                            struct nc_err *err)
{
  return tx->store->ops->cargo_new_version(tx, ns, name, spec, note, version, err);
}

int store_cargo_set_stopped(struct store_tx *tx, const char *ns, const char *name, bool stopped,
                            struct nc_err *err)
{
  return tx->store->ops->cargo_set_stopped(tx, ns, name, stopped, err);
}

int store_cargo_set_rollout(struct store_tx *tx, const char *ns, const char *name,
                            const char *rollout, struct nc_err *err)
{
  return tx->store->ops->cargo_set_rollout(tx, ns, name, rollout, err);
}

int store_cargo_history(struct store_tx *tx, const char *ns, const char *name,
                        struct store_cargo_version_list *out, struct nc_err *err)
{
  return tx->store->ops->cargo_history(tx, ns, name, out, err);
}

int store_join_put(struct store_tx *tx, const struct store_join *j, struct nc_err *err)
{
  return tx->store->ops->join_put(tx, j, err);
}

int store_join_list(struct store_tx *tx, const char *ns, const char *cargo, const char *cluster,
                    struct store_join_list *out, struct nc_err *err)
{
  return tx->store->ops->join_list(tx, ns, cargo, cluster, out, err);
}

int store_join_delete_cluster(struct store_tx *tx, const char *ns, const char *cluster,
                              struct nc_err *err)
{
  return tx->store->ops->join_delete_cluster(tx, ns, cluster, err);
}

void store_cargo_free(struct store_cargo *c)
{
  if (c) {
    free(c->spec);
    c->spec = NULL;
  }
}

void store_cargo_list_free(struct store_cargo_list *list)
{
  for (size_t i = 0; list && i < list->len; i++)
    store_cargo_free(&list->items[i]);
  LIST_FREE_BODY(list);
}

void store_cargo_version_list_free(struct store_cargo_version_list *list)
{
  for (size_t i = 0; list && i < list->len; i++)
    free(list->items[i].spec);
  LIST_FREE_BODY(list);
}

LIST_FREE(store_join_list_free, store_join_list)
