/* nanocl cluster variable CLUSTER create|ls|rm, nanocl cluster network CLUSTER
 * create|ls|inspect|rm: the word after the group names the cluster. */
#include <stdio.h>
#include <string.h>

#include "cluster-path.h"
#include "output.h"

/* The CLUSTER operand of the running command (the CLI runs one command). */
static const char *cluster;

static const char *str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

/* ---- variables ---- */

static const char var_create_usage[] =
  "Usage: nanocl cluster variable CLUSTER create [-n NS] NAME VALUE\n"
  "\n"
  "Set a variable of the cluster (replacing its value if it exists). Cargo env and\n"
  "proxy templates use it as {{vars.NAME}}. NAME: letters, digits and '_'.\n";

static int var_create(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster variable create", argc, argv, var_create_usage, &ns,
                             2, "NAME VALUE", &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *body = json_pack("{s:s, s:s}", "name", argv[optind], "value", argv[optind + 1]);
  r = cluster_path(ns, cluster, "variables", NULL, path, sizeof path, &err);
  if (r == 0)
    r = cli_call(cli, "POST", path, body, NULL, &err);
  json_decref(body);
  if (r < 0)
    return cli_fail(&err);
  printf("%s\n", argv[optind]);
  return CLI_OK;
}

static const char var_ls_usage[] = "Usage: nanocl cluster variable CLUSTER ls [-n NS]\n"
                                   "\n"
                                   "List the variables of the cluster.\n";

static int var_ls(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster variable ls", argc, argv, var_ls_usage, &ns, 0,
                             "nothing", &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *list = NULL;
  if (cluster_path(ns, cluster, "variables", NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &list, &err) < 0)
    return cli_fail(&err);
  if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "NAME", "VALUE" };
    struct table *t = table_new(2, headers);
    size_t i;
    json_t *v;
    json_array_foreach (list, i, v) {
      const char *row[] = { str(v, "name"), str(v, "value") };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static const char var_rm_usage[] = "Usage: nanocl cluster variable CLUSTER rm [-n NS] NAME...\n"
                                   "\n"
                                   "Remove variables of the cluster.\n";

/* rm for variables and networks: one DELETE per name. */
static int rm_each(struct cli *cli, int argc, char **argv, const char *cmd, const char *sub,
                   const char *usage)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, cmd, argc, argv, usage, &ns, -1, "NAME", &done);
  if (done)
    return r;
  for (int i = optind; i < argc; i++) {
    struct nc_err err = NC_ERR_INIT;
    char path[256];
    if (cluster_path(ns, cluster, sub, argv[i], path, sizeof path, &err) < 0 ||
        cli_call(cli, "DELETE", path, NULL, NULL, &err) < 0)
      return cli_fail(&err);
    printf("%s\n", argv[i]);
  }
  return CLI_OK;
}

static int var_rm(struct cli *cli, int argc, char **argv)
{
  return rm_each(cli, argc, argv, "cluster variable rm", "variables", var_rm_usage);
}

/* "variable CLUSTER VERB …": argv[1] is the cluster, then the verb's own argv. */
static int sub_group(struct cli *cli, int argc, char **argv, const char *group,
                     const char *summary, const struct cli_cmd *verbs)
{
  if (argc >= 2 && argv[1][0] != '-') {
    cluster = argv[1];
    return cli_run_group(cli, group, summary, verbs, argc - 1, argv + 1);
  }
  return cli_run_group(cli, group, summary, verbs, argc, argv);
}

static const struct cli_cmd var_verbs[] = {
  { "create", "set", var_create, "Set a variable" },
  { "ls", "list", var_ls, "List variables" },
  { "rm", "remove delete", var_rm, "Remove variables" },
  { NULL, NULL, NULL, NULL },
};

int cmd_cluster_variable(struct cli *cli, int argc, char **argv)
{
  return sub_group(cli, argc, argv, "cluster variable",
                   "Manage the variables of a cluster: nanocl cluster variable CLUSTER VERB ...",
                   var_verbs);
}

/* ---- networks ---- */

static const char net_create_usage[] =
  "Usage: nanocl cluster network CLUSTER create [-n NS] [--subnet CIDR] [--bridge IFNAME] NAME\n"
  "\n"
  "Create a network of the cluster: a Linux bridge with the gateway address, a DNS\n"
  "server answering the names of its containers, NAT to the outside, isolation from\n"
  "every other network.\n"
  "\n"
  "Options:\n"
  "      --subnet CIDR    its IPv4 subnet (default: the next free /24 of nanocld's pool)\n"
  "      --bridge IFNAME  the bridge's name (default nc-<8 hex of its id>)\n";

struct net_opts {
  const char *ns, *subnet, *bridge;
};

enum { O_SUBNET = 256, O_BRIDGE };

static int net_opt(int c, const char *arg, void *ctx)
{
  struct net_opts *o = ctx;
  switch (c) {
  case 'n': o->ns = arg; break;
  case O_SUBNET: o->subnet = arg; break;
  case O_BRIDGE: o->bridge = arg; break;
  default: return CLI_USAGE;
  }
  return 0;
}

static int net_create(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { "subnet", required_argument, NULL, O_SUBNET },
                                        { "bridge", required_argument, NULL, O_BRIDGE },
                                        { NULL, 0, NULL, 0 } };
  struct net_opts o = { 0 };
  bool done;
  int r = cli_parse(cli, "cluster network create", argc, argv, "n:", opts, net_create_usage,
                    net_opt, &o, &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("cluster network create",
                           argc - optind ? "expected one NAME" : "missing NAME");
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *body = json_pack("{s:s}", "name", argv[optind]), *out = NULL;
  if (o.subnet)
    json_object_set_new(body, "subnet", json_string(o.subnet));
  if (o.bridge)
    json_object_set_new(body, "bridge", json_string(o.bridge));
  r = cluster_path(o.ns, cluster, "networks", NULL, path, sizeof path, &err);
  if (r == 0)
    r = cli_call(cli, "POST", path, body, &out, &err);
  json_decref(body);
  if (r < 0)
    return cli_fail(&err);
  if (cli->output == CLI_OUTPUT_TABLE)
    printf("%s\n", argv[optind]);
  else
    out_document(cli, out, cli->output);
  json_decref(out);
  return CLI_OK;
}

static const char net_ls_usage[] = "Usage: nanocl cluster network CLUSTER ls [-n NS]\n"
                                   "\n"
                                   "List the networks of the cluster.\n";

static int net_ls(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster network ls", argc, argv, net_ls_usage, &ns, 0,
                             "nothing", &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *list = NULL;
  if (cluster_path(ns, cluster, "networks", NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &list, &err) < 0)
    return cli_fail(&err);
  if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "NAME", "BRIDGE", "SUBNET", "DEFAULT_GATEWAY" };
    struct table *t = table_new(4, headers);
    size_t i;
    json_t *v;
    json_array_foreach (list, i, v) {
      const char *row[] = { str(v, "name"), str(v, "bridge"), str(v, "subnet"),
                            str(v, "gateway") };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static const char net_inspect_usage[] =
  "Usage: nanocl cluster network CLUSTER inspect [-n NS] NAME [-o yaml|json]\n"
  "\n"
  "Show a network and the containers on it with their addresses (YAML unless -o json).\n";

static int net_inspect(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster network inspect", argc, argv, net_inspect_usage, &ns,
                             1, "NAME", &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *n = NULL;
  if (cluster_path(ns, cluster, "networks", argv[optind], path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &n, &err) < 0)
    return cli_fail(&err);
  out_document(cli, n, CLI_OUTPUT_YAML);
  json_decref(n);
  return CLI_OK;
}

static const char net_rm_usage[] =
  "Usage: nanocl cluster network CLUSTER rm [-n NS] NAME...\n"
  "\n"
  "Remove networks of the cluster (refused while containers are on them).\n";

static int net_rm(struct cli *cli, int argc, char **argv)
{
  return rm_each(cli, argc, argv, "cluster network rm", "networks", net_rm_usage);
}

static const struct cli_cmd net_verbs[] = {
  { "create", NULL, net_create, "Create a network" },
  { "ls", "list", net_ls, "List networks" },
  { "inspect", NULL, net_inspect, "Show a network and its containers" },
  { "rm", "remove delete", net_rm, "Remove networks" },
  { NULL, NULL, NULL, NULL },
};

int cmd_cluster_network(struct cli *cli, int argc, char **argv)
{
  return sub_group(cli, argc, argv, "cluster network",
                   "Manage the networks of a cluster: nanocl cluster network CLUSTER VERB ...",
                   net_verbs);
}
