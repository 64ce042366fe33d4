#include "model/namespace.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "model/name.h"

int model_namespace_create(struct store *s, const char *name, struct store_namespace *out,
                           struct nc_err *err)
{
  if (nc_name_check("namespace", name, err) < 0)
    return -1;

  struct store_namespace ns = { .created_at = nc_time_now() };
  snprintf(ns.name, sizeof ns.name, "%s", name);

  struct store_tx *tx;
  if (store_begin(s, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_namespace_insert(tx, &ns, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  if (store_commit(tx, err) < 0)
    return -1;
  if (out)
    *out = ns;
  return 0;
}

int model_namespace_get(struct store *s, const char *name, struct store_namespace *out,
                        struct nc_err *err)
{
  if (nc_name_check("namespace", name, err) < 0)
    return -1;
  struct store_tx *tx;
  if (store_begin(s, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_namespace_get(tx, name, out, err);
  if (r < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

int model_namespace_list(struct store *s, struct store_namespace_list *out, struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(s, STORE_TX_READ, &tx, err) < 0)
    return -1;
  if (store_namespace_list(tx, out, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  if (store_commit(tx, err) < 0) {
    store_namespace_list_free(out);
    return -1;
  }
  return 0;
}

int model_namespace_delete(struct store *s, const char *name, struct nc_err *err)
{
  if (nc_name_check("namespace", name, err) < 0)
    return -1;
  if (strcmp(name, NC_NAMESPACE_GLOBAL) == 0)
    return nc_err_set(err, NC_ERR_CONFLICT, "namespace 'global' cannot be removed");

  struct store_tx *tx;
  if (store_begin(s, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_namespace_delete(tx, name, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}
