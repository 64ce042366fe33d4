/* nanocl system df */
#include <stdio.h>

#include "cli.h"
#include "output.h"

static const char df_usage[] = "Usage: nanocl system df [-o table|json|yaml]\n"
                               "\n"
                               "Show the disk used under nanocld's state dir by images, their\n"
                               "blobs (as downloaded) and their unpacked layers.\n";

static int system_df(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "system df", argc, argv, NULL, NULL, df_usage, NULL, NULL, &done);
  if (done)
    return r;
  if (optind < argc)
    return cli_usage_error("system df", "unexpected argument '%s'", argv[optind]);
  struct nc_err err = NC_ERR_INIT;
  json_t *df = NULL;
  if (cli_call(cli, "GET", "/v1/system/df", NULL, &df, &err) < 0)
    return cli_fail(&err);
  if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, df, cli->output);
  } else {
    static const char *const headers[] = { "TYPE", "COUNT", "SIZE" };
    static const char *const kinds[][2] = { { "images", "Images" },
                                            { "blobs", "Blobs" },
                                            { "layers", "Layers" } };
    struct table *t = table_new(3, headers);
    for (int i = 0; i < 3; i++) {
      json_t *k = json_object_get(df, kinds[i][0]);
      char count[32], size[32];
      snprintf(count, sizeof count, "%lld", (long long)json_integer_value(json_object_get(k, "count")));
      out_size(json_integer_value(json_object_get(k, "size")), size, sizeof size);
      const char *row[] = { kinds[i][1], count, size };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(df);
  return CLI_OK;
}

static const struct cli_cmd verbs[] = {
  { "df", NULL, system_df, "Show disk usage" },
  { NULL, NULL, NULL, NULL },
};

int cmd_system(struct cli *cli, int argc, char **argv)
{
  return cli_run_group(cli, "system", "Information about nanocld and its host.", verbs, argc,
                       argv);
}
