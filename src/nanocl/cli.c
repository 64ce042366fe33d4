#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct cli_cmd *cli_find(const struct cli_cmd *cmds, const char *name)
{
  for (; cmds->name; cmds++) {
    if (strcmp(cmds->name, name) == 0)
      return cmds;
    if (!cmds->aliases)
      continue;
    size_t len = strlen(name);
    for (const char *a = cmds->aliases; *a;) {
      size_t alen = strcspn(a, " ");
      if (alen == len && strncmp(a, name, len) == 0)
        return cmds;
      a += alen;
      a += strspn(a, " ");
    }
  }
  return NULL;
}

static void print_group_help(FILE *f, const char *group, const char *summary,
                             const struct cli_cmd *verbs)
{
  fprintf(f, "Usage: nanocl %s COMMAND [OPTIONS]\n\n%s\n\nCommands:\n", group, summary);
  for (const struct cli_cmd *v = verbs; v->name; v++) {
    char names[64];
    snprintf(names, sizeof names, "%s%s%s%s", v->name, v->aliases ? " (" : "",
             v->aliases ? v->aliases : "", v->aliases ? ")" : "");
    fprintf(f, "  %-22s %s\n", names, v->summary);
  }
  fprintf(f, "\nRun 'nanocl %s COMMAND --help' for more on a command.\n", group);
}

int cli_run_group(struct cli *cli, const char *group, const char *summary,
                  const struct cli_cmd *verbs, int argc, char **argv)
{
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    print_group_help(argc < 2 ? stderr : stdout, group, summary, verbs);
    return argc < 2 ? CLI_USAGE : CLI_OK;
  }
  const struct cli_cmd *v = cli_find(verbs, argv[1]);
  if (!v)
    return cli_usage_error(group, "unknown command '%s'", argv[1]);
  return v->run(cli, argc - 1, argv + 1);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("nanocl: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'nanocl %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
  return CLI_USAGE;
}

int cli_fail(const struct nc_err *err)
{
  fprintf(stderr, "nanocl: %s\n", err->msg);
  return CLI_ERROR;
}

int cli_set_output(struct cli *cli, const char *value)
{
  if (strcmp(value, "table") == 0)
    cli->output = CLI_OUTPUT_TABLE;
  else if (strcmp(value, "json") == 0)
    cli->output = CLI_OUTPUT_JSON;
  else if (strcmp(value, "yaml") == 0)
    cli->output = CLI_OUTPUT_YAML;
  else
    return -1;
  cli->output_set = true;
  return 0;
}

int cli_parse(struct cli *cli, const char *cmd, int argc, char **argv, const char *shortopts,
              const struct option *longopts, const char *usage,
              int (*on_opt)(int c, const char *arg, void *ctx), void *ctx, bool *done)
{
  /* The verb's options plus the common ones, in one getopt_long table. */
  struct option all[48];
  size_t n = 0;
  for (; longopts && longopts[n].name && n < 45; n++)
    all[n] = longopts[n];
  all[n++] = (struct option){ "output", required_argument, NULL, 'o' };
  all[n++] = (struct option){ "help", no_argument, NULL, 'h' };
  all[n] = (struct option){ NULL, 0, NULL, 0 };
  /* A leading '+' (stop at the first operand, so a container's command keeps
   * its own options) only works at the very start of getopt's string. */
  char shorts[64];
  bool stop_at_operand = shortopts && shortopts[0] == '+';
  snprintf(shorts, sizeof shorts, "%s:o:h%s", stop_at_operand ? "+" : "",
           shortopts ? shortopts + stop_at_operand : "");

  *done = false;
  optind = 0; /* glibc: start over */
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, shorts, all, NULL)) != -1) {
    int r = 0;
    if (c == 'h') {
      fputs(usage, stdout);
      *done = true;
      return CLI_OK;
    } else if (c == 'o') {
      if (cli_set_output(cli, optarg) < 0)
        r = cli_usage_error(cmd, "unknown output '%s' (table, json, yaml)", optarg);
    } else if (c == ':') {
      r = cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    } else if (c == '?') {
      r = cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    } else {
      r = on_opt ? on_opt(c, optarg, ctx) : CLI_USAGE;
    }
    if (r != 0) {
      *done = true;
      return r;
    }
  }
  return 0;
}

int cli_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out,
             struct nc_err *err)
{
  if (!cli->client && nc_client_new(cli->host, &cli->client, err) < 0)
    return -1;
  return nc_client_call(cli->client, method, path, body, out, err);
}

json_t *cli_command(int argc, char **argv, int first)
{
  if (first < argc && !strcmp(argv[first], "--"))
    first++;
  if (first >= argc)
    return NULL;
  json_t *cmd = json_array();
  for (int i = first; i < argc; i++)
    json_array_append_new(cmd, json_string(argv[i]));
  return cmd;
}
