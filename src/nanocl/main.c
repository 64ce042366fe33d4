/* nanocl: the command-line client of nanocld. Global options, then a command
 * group from the table below; each group lives in its own cmd-<group>.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hosturl.h"
#include "cli.h"
#include "config.h"
#include "version.h"

static const struct cli_cmd groups[] = {
  { "namespace", "ns", cmd_namespace, "Manage namespaces" },
  { "cluster", NULL, cmd_cluster, "Manage clusters, their networks and variables" },
  { "cargo", NULL, cmd_cargo, "Manage cargoes: replicable containers joined to clusters" },
  { "run", NULL, cmd_run, "Run a cargo in a cluster (made when missing) and show it" },
  { "container-image", "image", cmd_image, "Manage container images" },
  { "container", NULL, cmd_container, "Manage containers" },
  { "lsc", NULL, cmd_container_ls, "List containers (container ls)" },
  { "login", NULL, cmd_login, "Store credentials for a registry" },
  { "logout", NULL, cmd_logout, "Remove the credentials of a registry" },
  { "system", NULL, cmd_system, "Disk usage and other information" },
  { "version", NULL, cmd_version, "Show the client and server versions" },
  { NULL, NULL, NULL, NULL },
};

static void print_usage(FILE *f)
{
  fputs("Usage: nanocl [OPTIONS] COMMAND [ARGS...]\n"
        "\n"
        "The command line of nanocl, a small container orchestrator: it talks to\n"
        "nanocld over its REST API.\n"
        "\n"
        "Options:\n"
        "  -H, --host URL      nanocld's address: unix:///PATH or tcp://HOST:PORT\n"
        "                      [env NANOCL_HOST; default " NC_DEFAULT_HOST "]\n"
        "  -o, --output FMT    table (default), json or yaml\n"
        "  -h, --help          print this help\n"
        "  -v, --version       print the client version\n"
        "\n"
        "Commands:\n",
        f);
  for (const struct cli_cmd *g = groups; g->name; g++) {
    char names[64];
    snprintf(names, sizeof names, "%s%s%s%s", g->name, g->aliases ? " (" : "",
             g->aliases ? g->aliases : "", g->aliases ? ")" : "");
    fprintf(f, "  %-18s  %s\n", names, g->summary);
  }
  fputs("\nRun 'nanocl COMMAND --help' for more on a command.\n", f);
}

/* "-H URL", "-HURL", "--host URL", "--host=URL": the value, advancing *i. */
static const char *option_value(int argc, char **argv, int *i, const char *s, const char *l)
{
  const char *a = argv[*i];
  size_t ll = strlen(l);
  if (strcmp(a, s) == 0 || strcmp(a, l) == 0)
    return *i + 1 < argc ? argv[++*i] : NULL;
  if (strncmp(a, l, ll) == 0 && a[ll] == '=')
    return a + ll + 1;
  if (strncmp(a, s, 2) == 0 && a[2])
    return a + 2;
  return NULL;
}

static bool is_option(const char *a, const char *s, const char *l)
{
  size_t ll = strlen(l);
  return strncmp(a, s, 2) == 0 || strcmp(a, l) == 0 || (strncmp(a, l, ll) == 0 && a[ll] == '=');
}

int main(int argc, char **argv)
{
  struct cli cli = { .output = CLI_OUTPUT_TABLE };
  const char *host = NULL;
  int i;

  /* A closed socket or pipe is an error to report, not a reason to die. */
  signal(SIGPIPE, SIG_IGN);

  for (i = 1; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (is_option(a, "-H", "--host")) {
      if (!(host = option_value(argc, argv, &i, "-H", "--host")))
        return cli_usage_error(NULL, "option '%s' needs a value", a);
    } else if (is_option(a, "-o", "--output")) {
      const char *v = option_value(argc, argv, &i, "-o", "--output");
      if (!v)
        return cli_usage_error(NULL, "option '%s' needs a value", a);
      if (cli_set_output(&cli, v) < 0)
        return cli_usage_error(NULL, "unknown output '%s' (table, json, yaml)", v);
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      print_usage(stdout);
      return CLI_OK;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
      printf("nanocl %s (commit %s)\n", NC_VERSION, NC_GIT_COMMIT);
      return CLI_OK;
    } else {
      return cli_usage_error(NULL, "unknown option '%s'", a);
    }
  }
  if (i == argc) {
    print_usage(stderr);
    return CLI_USAGE;
  }

  if (!host) {
    const char *env = getenv("NANOCL_HOST");
    host = env && *env ? env : NC_DEFAULT_HOST;
  }
  struct nc_host_url url;
  struct nc_err err = NC_ERR_INIT;
  if (nc_host_url_parse(host, &url, &err) < 0)
    return cli_usage_error(NULL, "%s", err.msg);
  cli.host = host;

  const struct cli_cmd *g = cli_find(groups, argv[i]);
  if (!g)
    return cli_usage_error(NULL, "unknown command '%s'", argv[i]);
  int status = g->run(&cli, argc - i, argv + i);
  nc_client_free(cli.client);
  return status;
}
