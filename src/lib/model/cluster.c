/* Clusters and their variables. */
#include "model/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "model/name.h"

typedef int (*tx_fn)(struct store_tx *tx, void *arg, struct nc_err *err);

/* Runs fn in one transaction: committed when it succeeds, rolled back when not. */
static int in_tx(struct store *s, enum store_tx_mode mode, tx_fn fn, void *arg,
                 struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(s, mode, &tx, err) < 0)
    return -1;
  if (fn(tx, arg, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

struct cluster_op {
  const char *ns, *name;
  struct store_cluster *out;
  struct store_cluster_list *list;
};

static int do_create(struct store_tx *tx, void *arg, struct nc_err *err)
{
  struct cluster_op *op = arg;
  return store_cluster_insert(tx, op->out, err);
}

int model_cluster_create(struct store *s, const char *ns, const char *name,
                         struct store_cluster *out, struct nc_err *err)
{
  if (nc_name_check("namespace", ns, err) < 0 || nc_name_check("cluster", name, err) < 0)
    return -1;
  memset(out, 0, sizeof *out);
  snprintf(out->namespace_, sizeof out->namespace_, "%s", ns);
  snprintf(out->name, sizeof out->name, "%s", name);
  out->created_at = nc_time_now();
  struct cluster_op op = { .out = out };
  return in_tx(s, STORE_TX_WRITE, do_create, &op, err);
}

static int do_get(struct store_tx *tx, void *arg, struct nc_err *err)
{
  struct cluster_op *op = arg;
  return store_cluster_get(tx, op->ns, op->name, op->out, err);
}

int model_cluster_get(struct store *s, const char *ns, const char *name,
                      struct store_cluster *out, struct nc_err *err)
{
  struct cluster_op op = { .ns = ns, .name = name, .out = out };
  return in_tx(s, STORE_TX_READ, do_get, &op, err);
}

static int do_list(struct store_tx *tx, void *arg, struct nc_err *err)
{
  struct cluster_op *op = arg;
  return store_cluster_list(tx, op->ns, op->list, err);
}

int model_cluster_list(struct store *s, const char *ns, struct store_cluster_list *out,
                       struct nc_err *err)
{
  struct cluster_op op = { .ns = ns, .list = out };
  return in_tx(s, STORE_TX_READ, do_list, &op, err);
}

static int do_delete(struct store_tx *tx, void *arg, struct nc_err *err)
{
  struct cluster_op *op = arg;
  return store_cluster_delete(tx, op->ns, op->name, err);
}

int model_cluster_delete(struct store *s, const char *ns, const char *name, struct nc_err *err)
{
  struct cluster_op op = { .ns = ns, .name = name };
  return in_tx(s, STORE_TX_WRITE, do_delete, &op, err);
}

static bool variable_name_ok(const char *name)
{
  size_t len = strlen(name);
  if (len == 0 || len >= STORE_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
    return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_'))
      return false;
  return true;
}

struct var_op {
  const char *ns, *cluster, *name;
  struct store_variable *var;
  struct store_variable_list *list;
};

static int do_var_set(struct store_tx *tx, void *arg, struct nc_err *err)
{
  struct var_op *op = arg;
  struct store_cluster c;
  if (store_cluster_get(tx, op->ns, op->cluster, &c, err) < 0)
    return -1;
  return store_variable_put(tx, op->ns, op->cluster, op->var, err);
}

int model_variable_set(struct store *s, const char *ns, const char *cluster, const char *name,
                       const char *value, struct nc_err *err)
{
  if (!variable_name_ok(name))
    return nc_err_set(err, NC_ERR_INVALID,
                      "variable name '%.64s': letters, digits and '_', not starting with a "
                      "digit, at most 63 bytes",
                      name);
  if (strlen(value) >= STORE_VAR_VALUE_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "variable %s: the value is longer than %d bytes",
                      name, STORE_VAR_VALUE_MAX - 1);
  struct store_variable *v = calloc(1, sizeof *v);
  if (!v)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  snprintf(v->name, sizeof v->name, "%s", name);
  snprintf(v->value, sizeof v->value, "%s", value);
  v->created_at = nc_time_now();
  struct var_op op = { .ns = ns, .cluster = cluster, .var = v };
  int r = in_tx(s, STORE_TX_WRITE, do_var_set, &op, err);
  free(v);
  return r;
}

static int do_var_list(struct store_tx *tx, void *arg, struct nc_err *err)
{
  struct var_op *op = arg;
  struct store_cluster c;
  if (store_cluster_get(tx, op->ns, op->cluster, &c, err) < 0)
    return -1;
  return store_variable_list(tx, op->ns, op->cluster, op->list, err);
}

int model_variable_list(struct store *s, const char *ns, const char *cluster,
                        struct store_variable_list *out, struct nc_err *err)
{
  struct var_op op = { .ns = ns, .cluster = cluster, .list = out };
  return in_tx(s, STORE_TX_READ, do_var_list, &op, err);
}

static int do_var_delete(struct store_tx *tx, void *arg, struct nc_err *err)
{
  struct var_op *op = arg;
  struct store_cluster c;
  if (store_cluster_get(tx, op->ns, op->cluster, &c, err) < 0)
    return -1;
  return store_variable_delete(tx, op->ns, op->cluster, op->name, err);
}

int model_variable_delete(struct store *s, const char *ns, const char *cluster,
                          const char *name, struct nc_err *err)
{
  struct var_op op = { .ns = ns, .cluster = cluster, .name = name };
  return in_tx(s, STORE_TX_WRITE, do_var_delete, &op, err);
}

int model_variables_render(const struct store_variable_list *vars, const char *cluster,
                           const char *text, char **out, struct nc_err *err)
{
  struct nc_buf b;
  nc_buf_init(&b, 1u << 20);
  const char *p = text;
  int r = 0;
  while (r == 0 && *p) {
    const char *open = strstr(p, "{{");
    const char *close = open ? strstr(open + 2, "}}") : NULL;
    if (!open || !close) {
      r = nc_buf_append(&b, p, strlen(p));
      break;
    }
    const char *k = open + 2, *e = close;
    while (*k == ' ')
      k++;
    while (e > k && e[-1] == ' ')
      e--;
    if ((size_t)(e - k) <= 5 || strncmp(k, "vars.", 5) != 0) {
      /* Not ours ({{cargoes.…}} of proxy templates, or plain text): kept as it is. */
      r = nc_buf_append(&b, p, (size_t)(close + 2 - p));
      p = close + 2;
      continue;
    }
    k += 5;
    const struct store_variable *v = NULL;
    for (size_t i = 0; vars && i < vars->len && !v; i++)
      if (strlen(vars->items[i].name) == (size_t)(e - k) &&
          !strncmp(vars->items[i].name, k, (size_t)(e - k)))
        v = &vars->items[i];
    if (!v) {
      nc_buf_free(&b);
      return nc_err_set(err, NC_ERR_INVALID, "variable %.*s does not exist in cluster '%s'",
                        (int)(e - k > 64 ? 64 : e - k), k, cluster);
    }
    r = nc_buf_append(&b, p, (size_t)(open - p));
    if (r == 0)
      r = nc_buf_append(&b, v->value, strlen(v->value));
    p = close + 2;
  }
  if (r < 0) {
    nc_buf_free(&b);
    return nc_err_set(err, NC_ERR_TOO_LARGE, "a rendered template is larger than 1 MiB");
  }
  *out = b.data ? b.data : strdup(""); /* nc_buf keeps its data NUL-terminated */
  return *out ? 0 : nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
}
