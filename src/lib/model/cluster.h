/* Clusters and their variables: validation, then one store transaction each.
 * Removing a cluster (with its networks and containers) needs the kernel too: the
 * API does it through the container and network services, then calls
 * model_cluster_delete for the row (variables go with it). */
#pragma once

#include "store/store.h"

int model_cluster_create(struct store *s, const char *ns, const char *name,
                         struct store_cluster *out, struct nc_err *err);
int model_cluster_get(struct store *s, const char *ns, const char *name,
                      struct store_cluster *out, struct nc_err *err);
int model_cluster_list(struct store *s, const char *ns, struct store_cluster_list *out,
                       struct nc_err *err);
int model_cluster_delete(struct store *s, const char *ns, const char *name, struct nc_err *err);

/* Variable names are letters, digits and '_' (not starting with a digit), at most 63
 * bytes, as they appear in templates ({{vars.NAME}}); values at most 4095 bytes. */
int model_variable_set(struct store *s, const char *ns, const char *cluster, const char *name,
                       const char *value, struct nc_err *err);
int model_variable_list(struct store *s, const char *ns, const char *cluster,
                        struct store_variable_list *out, struct nc_err *err);
int model_variable_delete(struct store *s, const char *ns, const char *cluster,
                          const char *name, struct nc_err *err);
/* Replaces every {{vars.NAME}} in `text` with the cluster's variable NAME (spaces
 * inside the braces allowed). A name the cluster does not have: NC_ERR_INVALID
 * "variable NAME does not exist in cluster C". *out is malloc'd. */
int model_variables_render(const struct store_variable_list *vars, const char *cluster,
                           const char *text, char **out, struct nc_err *err);
