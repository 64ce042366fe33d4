/* nanocl version */
#include <stdio.h>

#include "cli.h"
#include "config.h"
#include "output.h"
#include "version.h"

static const char usage[] = "Usage: nanocl version [-o table|json|yaml]\n"
                            "\n"
                            "Show the version of this client and of the nanocld it talks to.\n";

static void print_section(const char *title, json_t *v)
{
  json_t *build = json_object_get(v, "build");
  printf("%s:\n", title);
  printf("  Version:     %s\n", json_string_value(json_object_get(v, "version")));
  printf("  API version: %s\n", json_string_value(json_object_get(v, "api_version")));
  printf("  Git commit:  %s\n", json_string_value(json_object_get(v, "git_commit")));
  if (json_object_get(v, "arch"))
    printf("  OS/Arch:     %s/%s\n", json_string_value(json_object_get(v, "os")),
           json_string_value(json_object_get(v, "arch")));
  if (json_object_get(build, "store"))
    printf("  Store:       %s (schema %lld)\n",
           json_string_value(json_object_get(build, "store")),
           (long long)json_integer_value(json_object_get(build, "store_schema")));
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "version", argc, argv, NULL, NULL, usage, NULL, NULL, &done);
  if (done)
    return r;
  if (optind < argc)
    return cli_usage_error("version", "unexpected argument '%s'", argv[optind]);

  json_t *client = json_pack("{s:s, s:s, s:s}", "version", NC_VERSION, "api_version",
                             NC_API_VERSION, "git_commit", NC_GIT_COMMIT);
  json_t *server = NULL;
  struct nc_err err = NC_ERR_INIT;
  int status = cli_call(cli, "GET", "/version", NULL, &server, &err);

  if (cli->output == CLI_OUTPUT_TABLE) {
    print_section("Client", client);
    if (status >= 0)
      print_section("Server", server);
  } else {
    json_t *both = json_pack("{s:O, s:O?}", "client", client, "server", server);
    out_document(cli, both, cli->output);
    json_decref(both);
  }
  json_decref(client);
  json_decref(server);
  return status < 0 ? cli_fail(&err) : CLI_OK;
}
