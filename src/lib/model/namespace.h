/* Namespaces: validation, then one store transaction per operation.
 * `global` exists on every store (schema migration 1) and cannot be removed. */
#pragma once

#include "store/store.h"

#define NC_NAMESPACE_GLOBAL "global"

int model_namespace_create(struct store *s, const char *name, struct store_namespace *out,
                           struct nc_err *err);
int model_namespace_get(struct store *s, const char *name, struct store_namespace *out,
                        struct nc_err *err);
int model_namespace_list(struct store *s, struct store_namespace_list *out, struct nc_err *err);
int model_namespace_delete(struct store *s, const char *name, struct nc_err *err);
