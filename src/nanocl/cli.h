/* What every command of the nanocl CLI shares: the global options, the API
 * client, output format, and the conventions for exit codes:
 *   0 success, 1 error (message on stderr), 2 usage error. */
#pragma once

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "client/client.h"

enum cli_exit {
  CLI_OK = 0,
  CLI_ERROR = 1,
  CLI_USAGE = 2,
};

enum cli_output {
  CLI_OUTPUT_TABLE,
  CLI_OUTPUT_JSON,
  CLI_OUTPUT_YAML,
};

struct cli {
  const char *host;
  enum cli_output output;
  bool output_set; /* -o given: commands with another default honour it */
  struct nc_client *client;
};

/* A command group ("namespace") or a verb of one ("create"). */
struct cli_cmd {
  const char *name;
  const char *aliases; /* space-separated, may be NULL */
  int (*run)(struct cli *cli, int argc, char **argv);
  const char *summary;
};

/* The table entry whose name or alias is `name`, or NULL. */
const struct cli_cmd *cli_find(const struct cli_cmd *cmds, const char *name);
/* Runs the verb argv[0] of a group; prints the group's help for --help or no verb. */
int cli_run_group(struct cli *cli, const char *group, const char *summary,
                  const struct cli_cmd *verbs, int argc, char **argv);

/* Parses the options of one verb `cmd` ("namespace create"; getopt_long on argv,
 * argv[0] being the verb).
 * -o/--output and -h/--help are added to every verb: for --help, `usage` is
 * printed and CLI_OK returned through *done. `on_opt` handles the verb's own
 * options and returns 0 or an exit code. Returns 0 to go on (then optind is the
 * first operand), or an exit code with *done set. */
int cli_parse(struct cli *cli, const char *cmd, int argc, char **argv, const char *shortopts,
              const struct option *longopts, const char *usage,
              int (*on_opt)(int c, const char *arg, void *ctx), void *ctx, bool *done);

int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "nanocl: <message>" and returns CLI_ERROR. */
int cli_fail(const struct nc_err *err);
int cli_set_output(struct cli *cli, const char *value);

/* Calls the API through the lazily created client; errors as nc_client_call. */
int cli_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **out,
             struct nc_err *err);

/* Command groups. */
int cmd_namespace(struct cli *cli, int argc, char **argv);
int cmd_cluster(struct cli *cli, int argc, char **argv);
int cmd_version(struct cli *cli, int argc, char **argv);
int cmd_image(struct cli *cli, int argc, char **argv);
int cmd_login(struct cli *cli, int argc, char **argv);
int cmd_logout(struct cli *cli, int argc, char **argv);
int cmd_system(struct cli *cli, int argc, char **argv);
int cmd_container(struct cli *cli, int argc, char **argv);
int cmd_container_ls(struct cli *cli, int argc, char **argv);
int cmd_container_exec(struct cli *cli, int argc, char **argv);
int cmd_cargo(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);

/* Runs a command in a running container over the exec connection (cmd-exec.c):
 * `body` holds "cmd" and optionally "env", "user", "workdir"; it is taken. Returns
 * the command's exit code, or CLI_ERROR with the message printed. */
int cli_exec(struct cli *cli, const char *ns, const char *container, json_t *body,
             bool interactive, bool tty);
/* Pulls `ref` showing its progress on `progress_out` (cmd-image.c); with `show`, then
 * the image as pull prints it. Returns an exit code (errors printed). */
int cli_image_pull(struct cli *cli, const char *ref, const char *platform, FILE *progress_out,
                   bool show);
/* 1 when nanocld has image `ref`, 0 when not, -1 on error (err set). */
int cli_image_exists(struct cli *cli, const char *ref, struct nc_err *err);

/* The command given after NAME (argv[first]…), as a JSON array; a "--" before it, as in
 * `exec NAME -- CMD…` (the separator `nanocl run` takes too), is skipped. NULL when no
 * command is left. */
json_t *cli_command(int argc, char **argv, int first);
