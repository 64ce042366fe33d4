/* nanocl cluster create|ls|inspect|rm|start|join (variable and network: cmd-cluster-sub.c) */
#include <stdio.h>
#include <string.h>

#include "cluster-path.h"
#include "cli.h"
#include "model/name.h"
#include "output.h"

int cluster_ns_opt(int c, const char *arg, void *ctx)
{
  if (c != 'n')
    return CLI_USAGE;
  *(const char **)ctx = arg;
  return 0;
}

int cluster_path(const char *ns, const char *cluster, const char *sub, const char *name,
                 char *out, size_t size, struct nc_err *err)
{
  if ((ns && nc_name_check("namespace", ns, err) < 0) ||
      (cluster && nc_name_check("cluster", cluster, err) < 0))
    return -1;
  /* Network names follow the name rule; variable names are [A-Za-z0-9_]: both are
   * safe in a path once checked. */
  for (const char *p = name; p && *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-' || *p == '.'))
      return nc_err_set(err, NC_ERR_INVALID, "'%s' is not a valid name", name);
  snprintf(out, size, "/v1/clusters%s%s%s%s%s%s?namespace=%s", cluster ? "/" : "",
           cluster ? cluster : "", sub ? "/" : "", sub ? sub : "", name ? "/" : "",
           name ? name : "", ns ? ns : "global");
  return 0;
}

/* Parses a verb that takes -n and exactly `want` operands (want < 0: at least one). */
int cluster_verb_parse(struct cli *cli, const char *cmd, int argc, char **argv,
                       const char *usage, const char **ns, int want, const char *operands,
                       bool *done)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { NULL, 0, NULL, 0 } };
  int r = cli_parse(cli, cmd, argc, argv, "n:", opts, usage, cluster_ns_opt, ns, done);
  if (*done)
    return r;
  int have = argc - optind;
  if ((want >= 0 && have != want) || (want < 0 && have < 1)) {
    *done = true;
    return cli_usage_error(cmd, have < (want < 0 ? 1 : want) ? "missing %s" : "expected %s",
                           operands);
  }
  return 0;
}

static const char create_usage[] =
  "Usage: nanocl cluster create [-n NS] NAME\n"
  "\n"
  "Create a cluster: an isolated environment of a namespace, with its own networks\n"
  "(Linux bridges) and variables, that containers and cargoes join.\n";

static int cl_create(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster create", argc, argv, create_usage, &ns, 1, "NAME", &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *body = json_pack("{s:s}", "name", argv[optind]), *out = NULL;
  if (cluster_path(ns, NULL, NULL, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "POST", path, body, &out, &err) < 0) {
    json_decref(body);
    return cli_fail(&err);
  }
  json_decref(body);
  if (cli->output == CLI_OUTPUT_TABLE)
    printf("%s\n", argv[optind]);
  else
    out_document(cli, out, cli->output);
  json_decref(out);
  return CLI_OK;
}

static const char ls_usage[] = "Usage: nanocl cluster ls [-n NS] [-o table|json|yaml]\n"
                               "\n"
                               "List the clusters of a namespace.\n";

static int cl_ls(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster ls", argc, argv, ls_usage, &ns, 0, "nothing", &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *list = NULL;
  if (cluster_path(ns, NULL, NULL, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &list, &err) < 0)
    return cli_fail(&err);
  if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "NAME", "NAMESPACE", "CREATED" };
    struct table *t = table_new(3, headers);
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
      char age[64];
      const char *row[] = { json_string_value(json_object_get(c, "name")),
                            json_string_value(json_object_get(c, "namespace")),
                            out_age(json_string_value(json_object_get(c, "created_at")), age,
                                    sizeof age) };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static const char inspect_usage[] =
  "Usage: nanocl cluster inspect [-n NS] NAME [-o table|json|yaml]\n"
  "\n"
  "Show a cluster: its VARIABLES, its NETWORKS (subnet and gateway) and the\n"
  "CONTAINERS that joined it, with their addresses.\n";

static const char *str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

static void print_inspect(json_t *c)
{
  printf("CLUSTER\n");
  static const char *const h1[] = { "NAME", "NAMESPACE", "CREATED" };
  struct table *t = table_new(3, h1);
  char age[64];
  const char *row1[] = { str(c, "name"), str(c, "namespace"),
                         out_age(str(c, "created_at"), age, sizeof age) };
  table_add(t, row1);
  table_print(t, stdout);
  table_free(t);

  printf("\nVARIABLES\n");
  static const char *const h2[] = { "NAME", "VALUE" };
  t = table_new(2, h2);
  const char *key;
  json_t *v;
  json_object_foreach (json_object_get(c, "variables"), key, v) {
    const char *row[] = { key, json_string_value(v) };
    table_add(t, row);
  }
  table_print(t, stdout);
  table_free(t);

  printf("\nNETWORKS\n");
  static const char *const h3[] = { "NAME", "BRIDGE", "SUBNET", "DEFAULT_GATEWAY" };
  t = table_new(4, h3);
  size_t i;
  json_array_foreach (json_object_get(c, "networks"), i, v) {
    const char *row[] = { str(v, "name"), str(v, "bridge"), str(v, "subnet"), str(v, "gateway") };
    table_add(t, row);
  }
  table_print(t, stdout);
  table_free(t);

  printf("\nCONTAINERS\n");
  static const char *const h4[] = { "NAME", "IMAGE", "STATE", "NETWORK", "IP" };
  t = table_new(5, h4);
  json_array_foreach (json_object_get(c, "containers"), i, v) {
    const char *row[] = { str(v, "name"), str(v, "image"), str(v, "state"), str(v, "network"),
                          str(v, "ip") };
    table_add(t, row);
  }
  table_print(t, stdout);
  table_free(t);
}

static int cl_inspect(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster inspect", argc, argv, inspect_usage, &ns, 1, "NAME",
                             &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *c = NULL;
  if (cluster_path(ns, argv[optind], NULL, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &c, &err) < 0)
    return cli_fail(&err);
  if (cli->output == CLI_OUTPUT_TABLE)
    print_inspect(c);
  else
    out_document(cli, c, cli->output);
  json_decref(c);
  return CLI_OK;
}

static const char rm_usage[] =
  "Usage: nanocl cluster rm [-n NS] NAME...\n"
  "\n"
  "Remove clusters: every container that joined is stopped and removed, then the\n"
  "networks (bridges, rules, DNS servers), then the variables. Stops at the first\n"
  "failure.\n";

static const char start_usage[] = "Usage: nanocl cluster start [-n NS] NAME...\n"
                                  "\n"
                                  "Start every container of the clusters that is not running.\n";

/* rm and start: one call per named cluster. */
static int each_cluster(struct cli *cli, int argc, char **argv, const char *verb,
                        const char *usage)
{
  const char *ns = NULL;
  bool done;
  char cmd[32];
  snprintf(cmd, sizeof cmd, "cluster %s", verb);
  int r = cluster_verb_parse(cli, cmd, argc, argv, usage, &ns, -1, "NAME", &done);
  if (done)
    return r;
  bool rm = !strcmp(verb, "rm");
  for (int i = optind; i < argc; i++) {
    struct nc_err err = NC_ERR_INIT;
    char path[256];
    if (cluster_path(ns, argv[i], rm ? NULL : "start", NULL, path, sizeof path, &err) < 0 ||
        cli_call(cli, rm ? "DELETE" : "POST", path, NULL, NULL, &err) < 0)
      return cli_fail(&err);
    printf("%s\n", argv[i]);
  }
  return CLI_OK;
}

static int cl_rm(struct cli *cli, int argc, char **argv)
{
  return each_cluster(cli, argc, argv, "rm", rm_usage);
}

static int cl_start(struct cli *cli, int argc, char **argv)
{
  return each_cluster(cli, argc, argv, "start", start_usage);
}

static const char join_usage[] =
  "Usage: nanocl cluster join [-n NS] CLUSTER NETWORK CARGO\n"
  "\n"
  "Join a cargo to a cluster on one of its networks: nanocld makes the cargo's\n"
  "instances there (<namespace>-<cluster>-<cargo>-<n>) and keeps them running.\n";

static int cl_join(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cluster join", argc, argv, join_usage, &ns, 3,
                             "CLUSTER NETWORK CARGO", &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *body = json_pack("{s:s, s:s}", "network", argv[optind + 1], "cargo", argv[optind + 2]);
  r = cluster_path(ns, argv[optind], "join", NULL, path, sizeof path, &err);
  if (r == 0)
    r = cli_call(cli, "POST", path, body, NULL, &err);
  json_decref(body);
  if (r < 0)
    return cli_fail(&err);
  printf("%s\n", argv[optind + 2]);
  return CLI_OK;
}

static const struct cli_cmd verbs[] = {
  { "create", NULL, cl_create, "Create a cluster" },
  { "ls", "list", cl_ls, "List clusters" },
  { "inspect", NULL, cl_inspect, "Show a cluster, its variables, networks and containers" },
  { "rm", "remove delete", cl_rm, "Remove clusters with everything in them" },
  { "start", NULL, cl_start, "Start the containers of clusters" },
  { "join", NULL, cl_join, "Join a cargo to the cluster on one of its networks" },
  { "variable", "var", cmd_cluster_variable, "Manage the variables of a cluster" },
  { "network", "net", cmd_cluster_network, "Manage the networks of a cluster" },
  { NULL, NULL, NULL, NULL },
};

int cmd_cluster(struct cli *cli, int argc, char **argv)
{
  return cli_run_group(cli, "cluster",
                       "Manage clusters: isolated environments of a namespace, with networks\n"
                       "(one Linux bridge each) and variables ({{vars.NAME}} in cargo env).",
                       verbs, argc, argv);
}
