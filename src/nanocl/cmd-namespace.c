/* nanocl namespace create|ls|inspect|rm */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model/name.h"
#include "output.h"

/* The API path of one namespace. The name is checked with the server's own
 * rule first: a name like "a/b" would otherwise change the route. */
static int namespace_path(const char *name, char *path, size_t size, struct nc_err *err)
{
  if (nc_name_check("namespace", name, err) < 0)
    return -1;
  snprintf(path, size, "/v1/namespaces/%s", name);
  return 0;
}

static const char create_usage[] = "Usage: nanocl namespace create NAME\n"
                                   "\n"
                                   "Create a namespace: a name under which clusters, cargoes and\n"
                                   "their containers are stored, to keep projects apart.\n";

static int ns_create(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "namespace create", argc, argv, NULL, NULL, create_usage, NULL, NULL,
                    &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("namespace create", argc - optind ? "expected one NAME" : "missing NAME");

  struct nc_err err = NC_ERR_INIT;
  json_t *body = json_pack("{s:s}", "name", argv[optind]);
  json_t *ns = NULL;
  r = cli_call(cli, "POST", "/v1/namespaces", body, &ns, &err);
  json_decref(body);
  if (r < 0)
    return cli_fail(&err);
  if (cli->output == CLI_OUTPUT_TABLE)
    printf("%s\n", json_string_value(json_object_get(ns, "name")));
  else
    out_document(cli, ns, cli->output);
  json_decref(ns);
  return CLI_OK;
}

static const char ls_usage[] = "Usage: nanocl namespace ls [-q] [-o table|json|yaml]\n"
                               "\n"
                               "List namespaces.\n"
                               "\n"
                               "Options:\n"
                               "  -q, --quiet   print the names only\n";

static int ls_opt(int c, const char *arg, void *ctx)
{
  *(bool *)ctx = true; /* only -q reaches here */
  return 0;
}

static int ns_ls(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "quiet", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 } };
  bool quiet = false, done;
  int r = cli_parse(cli, "namespace ls", argc, argv, "q", opts, ls_usage, ls_opt, &quiet, &done);
  if (done)
    return r;
  if (optind < argc)
    return cli_usage_error("namespace ls", "unexpected argument '%s'", argv[optind]);

  struct nc_err err = NC_ERR_INIT;
  json_t *list = NULL;
  if (cli_call(cli, "GET", "/v1/namespaces", NULL, &list, &err) < 0)
    return cli_fail(&err);

  size_t i;
  json_t *ns;
  if (quiet) {
    json_array_foreach (list, i, ns)
      printf("%s\n", json_string_value(json_object_get(ns, "name")));
  } else if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "NAME", "CREATED" };
    struct table *t = table_new(2, headers);
    json_array_foreach (list, i, ns) {
      char age[64];
      const char *row[] = { json_string_value(json_object_get(ns, "name")),
                            out_age(json_string_value(json_object_get(ns, "created_at")), age,
                                    sizeof age) };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static const char inspect_usage[] = "Usage: nanocl namespace inspect NAME [-o yaml|json]\n"
                                    "\n"
                                    "Show a namespace (YAML unless -o json).\n";

static int ns_inspect(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "namespace inspect", argc, argv, NULL, NULL, inspect_usage, NULL, NULL,
                    &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("namespace inspect", argc - optind ? "expected one NAME" : "missing NAME");

  struct nc_err err = NC_ERR_INIT;
  char path[128];
  json_t *ns = NULL;
  if (namespace_path(argv[optind], path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &ns, &err) < 0)
    return cli_fail(&err);
  out_document(cli, ns, CLI_OUTPUT_YAML);
  json_decref(ns);
  return CLI_OK;
}

static const char rm_usage[] = "Usage: nanocl namespace rm NAME...\n"
                               "\n"
                               "Remove namespaces. 'global' cannot be removed, nor a namespace\n"
                               "that still holds objects. Stops at the first failure.\n";

static int ns_rm(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "namespace rm", argc, argv, NULL, NULL, rm_usage, NULL, NULL, &done);
  if (done)
    return r;
  if (optind == argc)
    return cli_usage_error("namespace rm", "missing NAME");

  for (int i = optind; i < argc; i++) {
    struct nc_err err = NC_ERR_INIT;
    char path[128];
    if (namespace_path(argv[i], path, sizeof path, &err) < 0 ||
        cli_call(cli, "DELETE", path, NULL, NULL, &err) < 0)
      return cli_fail(&err);
    printf("%s\n", argv[i]);
  }
  return CLI_OK;
}

static const struct cli_cmd verbs[] = {
  { "create", NULL, ns_create, "Create a namespace" },
  { "ls", "list", ns_ls, "List namespaces" },
  { "inspect", NULL, ns_inspect, "Show a namespace" },
  { "rm", "remove delete", ns_rm, "Remove namespaces" },
  { NULL, NULL, NULL, NULL },
};

int cmd_namespace(struct cli *cli, int argc, char **argv)
{
  return cli_run_group(cli, "namespace",
                       "Manage namespaces: names under which everything is stored, to keep "
                       "projects apart.\n'global' always exists and is the default.",
                       verbs, argc, argv);
}
