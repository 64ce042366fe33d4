/* nanocl cargo create|ls|inspect|rm|patch|scale|history|revert (logs and exec:
 * cmd-cargo-io.c; the spec options and tables: cargo-opts.c) */
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "cargo-cli.h"
#include "cluster-path.h"
#include "output.h"
#include "spec-opts.h"

static const char *str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

/* Parses the spec options of `cmd`; then optind is the first operand. */
static int parse_spec(struct cli *cli, const char *cmd, int argc, char **argv, const char *usage,
                      struct cargo_opts *o, bool *done)
{
  o->cmd = cmd;
  o->spec = json_object();
  int r = cli_parse(cli, cmd, argc, argv, CARGO_SHORTOPTS, cargo_longopts, usage, cargo_opt, o,
                    done);
  if (*done) {
    json_decref(o->spec);
    json_decref(o->health);
  }
  return r;
}

/* "NAME: version N", or the document with -o json|yaml. */
static void print_version(struct cli *cli, json_t *cargo)
{
  if (cli->output != CLI_OUTPUT_TABLE)
    out_document(cli, cargo, cli->output);
  else
    printf("%s: version %lld\n", str(cargo, "name") ?: "",
           (long long)json_integer_value(json_object_get(cargo, "version")));
}

static const char create_usage[] =
  "Usage: nanocl cargo create [-n NS] NAME --image IMAGE [OPTIONS] [-- COMMAND [ARG...]]\n"
  "\n"
  "Create a cargo: the spec of replicable containers. It runs nowhere until it joins a\n"
  "cluster ('nanocl cluster join CLUSTER NETWORK NAME'); then nanocld keeps --replicas\n"
  "instances of it there, named <namespace>-<cluster>-<name>-<n>.\n"
  "\n"
  "Options:\n" CARGO_SPEC_HELP;

static int cg_create(struct cli *cli, int argc, char **argv)
{
  struct cargo_opts o = { 0 };
  bool done;
  int r = parse_spec(cli, "cargo create", argc, argv, create_usage, &o, &done);
  if (done)
    return r;
  json_t *body = NULL, *out = NULL;
  if (optind >= argc)
    r = cli_usage_error(o.cmd, "missing NAME");
  else
    r = cargo_create_body(&o, argv[optind], argc, argv, optind + 1, &body);
  json_decref(o.spec);
  json_decref(o.health);
  if (r)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  if (cargo_path(o.ns, NULL, NULL, NULL, path, sizeof path, &err) == 0 &&
      cli_call(cli, "POST", path, body, &out, &err) >= 0) {
    if (cli->output == CLI_OUTPUT_TABLE)
      printf("%s\n", argv[optind]);
    else
      out_document(cli, out, cli->output);
    r = CLI_OK;
  } else {
    r = cli_fail(&err);
  }
  json_decref(body);
  json_decref(out);
  return r;
}

static const char ls_usage[] =
  "Usage: nanocl cargo ls [-n NS] [-q] [-o table|json|yaml]\n"
  "\n"
  "List the cargoes of a namespace: REPLICAS is running/wanted (per joined cluster),\n"
  "ROLLOUT why the last rollout stopped (empty when converged).\n";

struct ls_opts {
  const char *ns;
  bool quiet;
};

static int ls_opt(int c, const char *arg, void *ctx)
{
  struct ls_opts *o = ctx;
  if (c == 'n')
    o->ns = arg;
  else if (c == 'q')
    o->quiet = true;
  else
    return CLI_USAGE;
  return 0;
}

static int cg_ls(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { NULL, 0, NULL, 0 } };
  struct ls_opts o = { 0 };
  bool done;
  int r = cli_parse(cli, "cargo ls", argc, argv, "n:q", opts, ls_usage, ls_opt, &o, &done);
  if (done)
    return r;
  if (optind < argc)
    return cli_usage_error("cargo ls", "unexpected '%s'", argv[optind]);
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *list = NULL, *c;
  size_t i;
  if (cargo_path(o.ns, NULL, NULL, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &list, &err) < 0)
    return cli_fail(&err);
  if (o.quiet) {
    json_array_foreach (list, i, c)
      printf("%s\n", str(c, "name"));
  } else if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "NAME", "VERSION", "REPLICAS", "IMAGE", "ROLLOUT",
                                           "UPDATED" };
    struct table *t = table_new(6, headers);
    json_array_foreach (list, i, c) {
      char version[24], replicas[48], age[64];
      snprintf(version, sizeof version, "%lld",
               (long long)json_integer_value(json_object_get(c, "version")));
      snprintf(replicas, sizeof replicas, "%lld/%lld",
               (long long)json_integer_value(json_object_get(c, "instances_running")),
               cargo_replicas(c));
      const char *row[] = { str(c, "name"), version, replicas,
                            str(json_object_get(c, "spec"), "image"), str(c, "rollout"),
                            out_age(str(c, "updated_at"), age, sizeof age) };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static const char inspect_usage[] =
  "Usage: nanocl cargo inspect [-n NS] NAME [-o table|json|yaml]\n"
  "\n"
  "Show a cargo: its CARGO row (KEY is <namespace>-<name>), the CONTAINERS of its\n"
  "instances (NETWORK_SETTINGS: the address) and, when the last rollout stopped, why.\n";

static int cg_inspect(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cargo inspect", argc, argv, inspect_usage, &ns, 1, "NAME",
                             &done);
  if (done)
    return r;
  json_t *c;
  if ((r = cargo_get(cli, ns, argv[optind], &c)))
    return r;
  if (cli->output == CLI_OUTPUT_TABLE)
    cargo_print_inspect(c);
  else
    out_document(cli, c, cli->output);
  json_decref(c);
  return CLI_OK;
}

static const char rm_usage[] =
  "Usage: nanocl cargo rm [-n NS] NAME...\n"
  "\n"
  "Remove cargoes: every instance is stopped and removed before the answer. Stops at\n"
  "the first failure.\n";

static int cg_rm(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cargo rm", argc, argv, rm_usage, &ns, -1, "NAME", &done);
  if (done)
    return r;
  for (int i = optind; i < argc; i++) {
    struct nc_err err = NC_ERR_INIT;
    char path[256];
    if (cargo_path(ns, argv[i], NULL, NULL, path, sizeof path, &err) < 0 ||
        cli_call(cli, "DELETE", path, NULL, NULL, &err) < 0)
      return cli_fail(&err);
    printf("%s\n", argv[i]);
  }
  return CLI_OK;
}

static const char start_usage[] = "Usage: nanocl cargo start [-n NS] NAME...\n"
                                  "\n"
                                  "Run the instances of stopped cargoes again.\n";
static const char stop_usage[] =
  "Usage: nanocl cargo stop [-n NS] NAME...\n"
  "\n"
  "Stop the instances of cargoes (stop signal, then SIGKILL after their timeout) and keep\n"
  "them stopped until 'cargo start'.\n";
static const char restart_usage[] = "Usage: nanocl cargo restart [-n NS] NAME...\n"
                                    "\n"
                                    "Stop, then start the instances of cargoes.\n";

/* start, stop, restart: POST /v1/cargoes/NAME/VERB for each NAME. */
static int act(struct cli *cli, int argc, char **argv, const char *verb, const char *usage)
{
  const char *ns = NULL;
  bool done;
  char cmd[32];
  snprintf(cmd, sizeof cmd, "cargo %s", verb);
  int r = cluster_verb_parse(cli, cmd, argc, argv, usage, &ns, -1, "NAME", &done);
  if (done)
    return r;
  for (int i = optind; i < argc; i++) {
    struct nc_err err = NC_ERR_INIT;
    char path[256];
    if (cargo_path(ns, argv[i], verb, NULL, path, sizeof path, &err) < 0 ||
        cli_call(cli, "POST", path, NULL, NULL, &err) < 0)
      return cli_fail(&err);
    printf("%s\n", argv[i]);
  }
  return CLI_OK;
}

static int cg_start(struct cli *cli, int argc, char **argv)
{
  return act(cli, argc, argv, "start", start_usage);
}

static int cg_stop(struct cli *cli, int argc, char **argv)
{
  return act(cli, argc, argv, "stop", stop_usage);
}

static int cg_restart(struct cli *cli, int argc, char **argv)
{
  return act(cli, argc, argv, "restart", restart_usage);
}

static const char patch_usage[] =
  "Usage: nanocl cargo patch [-n NS] NAME [set] [OPTIONS] [-- COMMAND [ARG...]]\n"
  "\n"
  "Change a cargo: the options given replace those fields of its spec (--env entries\n"
  "replace by key, the others are kept; --health-* change only what is given; --bind,\n"
  "--publish and --label replace the whole list). A new version is made and rolled\n"
  "out instance by instance; prints it. A bare '--' with no command after it drops the\n"
  "cargo's command, so the image's own runs.\n"
  "\n"
  "Options:\n" CARGO_SPEC_HELP;

static int cg_patch(struct cli *cli, int argc, char **argv)
{
  struct cargo_opts o = { 0 };
  bool done;
  int r = parse_spec(cli, "cargo patch", argc, argv, patch_usage, &o, &done);
  if (done)
    return r;
  int first = optind + 1;
  if (first < argc && !strcmp(argv[first], "set"))
    first++;
  json_t *out = NULL;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  if (optind >= argc) {
    r = cli_usage_error(o.cmd, "missing NAME");
    goto done;
  }
  for (int i = first; i < argc; i++)
    spec_append(o.spec, "cmd", argv[i]);
  /* A bare `--`: no command of the cargo's own any more, the image's is used (getopt
   * leaves `--` just before the operands it moved behind the options). */
  if (first == argc && optind > 0 && !strcmp(argv[optind - 1], "--"))
    json_object_set_new(o.spec, "cmd", json_null());
  if (json_object_size(o.health)) { /* only the fields given: merged into the current */
    json_t *cur;
    if ((r = cargo_get(cli, o.ns, argv[optind], &cur)))
      goto done;
    json_t *h = json_object_get(json_object_get(cur, "spec"), "health");
    h = json_is_object(h) ? json_deep_copy(h) : json_object();
    json_object_update(h, o.health);
    json_object_set_new(o.spec, "health", h);
    json_decref(cur);
  }
  if (!json_object_size(o.spec)) {
    r = cli_usage_error(o.cmd, "nothing to change");
    goto done;
  }
  if (cargo_path(o.ns, argv[optind], NULL, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "PATCH", path, o.spec, &out, &err) < 0) {
    r = cli_fail(&err);
    goto done;
  }
  print_version(cli, out);
  r = CLI_OK;
done:
  json_decref(o.spec);
  json_decref(o.health);
  json_decref(out);
  return r;
}

/* scale and revert: NAME and a number, POSTed as {key: N}; prints the version. */
static int number_verb(struct cli *cli, int argc, char **argv, const char *cmd,
                       const char *usage, const char *action, const char *key,
                       const char *operand, uint64_t max)
{
  const char *ns = NULL;
  bool done;
  char operands[64];
  snprintf(operands, sizeof operands, "NAME %s", operand);
  int r = cluster_verb_parse(cli, cmd, argc, argv, usage, &ns, 2, operands, &done);
  if (done)
    return r;
  uint64_t n;
  if (nc_parse_u64(argv[optind + 1], max, &n) < 0)
    return cli_usage_error(cmd, "invalid %s '%s' (0-%llu)", operand, argv[optind + 1],
                           (unsigned long long)max);
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *body = json_pack("{s:I}", key, (json_int_t)n), *out = NULL;
  if (cargo_path(ns, argv[optind], action, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "POST", path, body, &out, &err) < 0) {
    json_decref(body);
    return cli_fail(&err);
  }
  json_decref(body);
  print_version(cli, out);
  json_decref(out);
  return CLI_OK;
}

static const char scale_usage[] =
  "Usage: nanocl cargo scale [-n NS] NAME REPLICAS\n"
  "\n"
  "Set the number of instances per joined cluster (0-1000): a new version; instances\n"
  "above it are removed highest number first. Prints the version.\n";

static int cg_scale(struct cli *cli, int argc, char **argv)
{
  return number_verb(cli, argc, argv, "cargo scale", scale_usage, "scale", "replicas",
                     "REPLICAS", 1000);
}

static const char revert_usage[] =
  "Usage: nanocl cargo revert [-n NS] NAME VERSION\n"
  "\n"
  "Make the spec of an earlier VERSION (see 'nanocl cargo history') the current one:\n"
  "a new version, rolled out like a patch. Prints it.\n";

static int cg_revert(struct cli *cli, int argc, char **argv)
{
  return number_verb(cli, argc, argv, "cargo revert", revert_usage, "revert", "version",
                     "VERSION", INT32_MAX);
}

static const char history_usage[] =
  "Usage: nanocl cargo history [-n NS] NAME [-o table|json|yaml]\n"
  "\n"
  "Every version of a cargo's spec, newest first; CURRENT marks the one in force.\n";

static int cg_history(struct cli *cli, int argc, char **argv)
{
  const char *ns = NULL;
  bool done;
  int r = cluster_verb_parse(cli, "cargo history", argc, argv, history_usage, &ns, 1, "NAME",
                             &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  json_t *list = NULL, *v;
  if (cargo_path(ns, argv[optind], "history", NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &list, &err) < 0)
    return cli_fail(&err);
  if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "VERSION", "CREATED", "NOTE", "CURRENT", "IMAGE",
                                           "REPLICAS" };
    struct table *t = table_new(6, headers);
    size_t i;
    json_array_foreach (list, i, v) {
      char version[24], replicas[24], age[64];
      snprintf(version, sizeof version, "%lld",
               (long long)json_integer_value(json_object_get(v, "version")));
      snprintf(replicas, sizeof replicas, "%lld", cargo_replicas(v));
      const char *row[] = { version, out_age(str(v, "created_at"), age, sizeof age),
                            str(v, "note"),
                            json_is_true(json_object_get(v, "current")) ? "*" : "",
                            str(json_object_get(v, "spec"), "image"), replicas };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static const struct cli_cmd verbs[] = {
  { "create", NULL, cg_create, "Create a cargo" },
  { "ls", "list", cg_ls, "List cargoes" },
  { "inspect", NULL, cg_inspect, "Show a cargo and its instances" },
  { "rm", "remove delete", cg_rm, "Remove cargoes and their instances" },
  { "patch", NULL, cg_patch, "Change a cargo's spec (a new version, rolled out)" },
  { "scale", NULL, cg_scale, "Set the number of instances" },
  { "history", NULL, cg_history, "List the versions of a cargo's spec" },
  { "revert", NULL, cg_revert, "Go back to the spec of an earlier version" },
  { "logs", NULL, cmd_cargo_logs, "Show the output of a cargo's instances" },
  { "exec", NULL, cmd_cargo_exec, "Run a command in an instance" },
  { "start", NULL, cg_start, "Run the instances of stopped cargoes" },
  { "stop", NULL, cg_stop, "Stop the instances and keep them stopped" },
  { "restart", NULL, cg_restart, "Stop, then start the instances" },
  { NULL, NULL, NULL, NULL },
};

int cmd_cargo(struct cli *cli, int argc, char **argv)
{
  return cli_run_group(cli, "cargo",
                       "Manage cargoes: replicable containers joined to clusters. A cargo is a\n"
                       "versioned spec; joined to a cluster, nanocld keeps its instances there.",
                       verbs, argc, argv);
}
