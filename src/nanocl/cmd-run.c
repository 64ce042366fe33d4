/* nanocl run: a cargo up in one command, as the seed-era tutorial had it: the cluster,
 * the network and the image when missing, then the cargo, its join, and a wait until
 * its instances run. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cargo-cli.h"
#include "cluster-path.h"
#include "output.h"

#define RUN_TIMEOUT_MS 60000
#define RUN_POLL_MS 100
#define RUN_READY_MS 1000 /* as a rollout: up this long, not just started */

static const char run_usage[] =
  "Usage: nanocl run [-n NS] --cluster C --network N --image IMAGE NAME [OPTIONS]\n"
  "                  [-- COMMAND [ARG...]]\n"
  "\n"
  "Run a cargo: create cluster C and its network N when they do not exist, pull IMAGE\n"
  "when nanocld does not have it, create cargo NAME, join it to C on N, wait until its\n"
  "instances run (each up for a second; at most 60 s), and show it as 'nanocl cargo\n"
  "inspect' does. Fails (exit 1) if an instance exits or the rollout stops, saying why.\n"
  "\n"
  "Options:\n"
  "      --cluster C          the cluster to run in\n"
  "      --network N          the network of C the instances are on\n" CARGO_SPEC_HELP;

static const char *str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

/* GET `path`; on 404 POST `create_path` {"name": name}. Returns 0 or -1 (err set). */
static int ensure(struct cli *cli, const char *path, const char *create_path, const char *name,
                  struct nc_err *err)
{
  if (cli_call(cli, "GET", path, NULL, NULL, err) >= 0)
    return 0;
  if (err->kind != NC_ERR_NOT_FOUND)
    return -1;
  *err = (struct nc_err)NC_ERR_INIT;
  json_t *body = json_pack("{s:s}", "name", name);
  int r = cli_call(cli, "POST", create_path, body, NULL, err);
  json_decref(body);
  return r < 0 ? -1 : 0;
}

static long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls the cargo until its wanted instances run, each seen running for RUN_READY_MS
 * (a command that fails at once is "running" for a moment). Returns CLI_OK with *out
 * the cargo, or CLI_ERROR with the reason printed. */
static int wait_running(struct cli *cli, const char *ns, const char *name, json_t **out)
{
  long long deadline = now_ms() + RUN_TIMEOUT_MS, running = 0, wanted = 1;
  json_t *since = json_object(); /* instance id → when first seen running, in a row */
  for (;;) {
    json_t *c;
    int r = cargo_get(cli, ns, name, &c);
    if (r) {
      json_decref(since);
      return r;
    }
    long long now = now_ms();
    const char *rollout = str(c, "rollout");
    if (rollout && *rollout) {
      fprintf(stderr, "nanocl: cargo '%s': %s\n", name, rollout);
      json_decref(c);
      json_decref(since);
      return CLI_ERROR;
    }
    json_t *v;
    size_t i;
    running = 0;
    wanted = cargo_replicas(c);
    json_int_t version = json_integer_value(json_object_get(c, "version"));
    json_array_foreach (json_object_get(c, "instances"), i, v) {
      const char *state = str(v, "state") ?: "";
      if (!strcmp(state, "exited")) {
        fprintf(stderr, "nanocl: instance %s of cargo '%s' exited: %s\n", str(v, "name") ?: "",
                name, str(v, "status") ?: "");
        struct nc_err err = NC_ERR_INIT;
        cargo_instance_logs(cli->client, ns, str(v, "id") ?: "", str(v, "name") ?: "", false,
                            10, true, &err);
        json_decref(c);
        json_decref(since);
        return CLI_ERROR;
      }
      const char *id = str(v, "id") ?: "";
      if (strcmp(state, "running")) {
        json_object_del(since, id);
        continue;
      }
      json_t *t = json_object_get(since, id);
      if (!t)
        json_object_set_new(since, id, t = json_integer(now));
      running += now - json_integer_value(t) >= RUN_READY_MS &&
                 json_integer_value(json_object_get(v, "version")) == version;
    }
    if (running >= wanted) {
      json_decref(since);
      *out = c;
      return CLI_OK;
    }
    json_decref(c);
    if (now >= deadline)
      break;
    usleep(RUN_POLL_MS * 1000);
  }
  json_decref(since);
  fprintf(stderr, "nanocl: cargo '%s': %lld of %lld instances running after %d s\n", name,
          running, wanted, RUN_TIMEOUT_MS / 1000);
  return CLI_ERROR;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
  struct cargo_opts o = { .cmd = "run", .run = true, .spec = json_object() };
  bool done;
  int r = cli_parse(cli, "run", argc, argv, CARGO_SHORTOPTS, cargo_longopts, run_usage,
                    cargo_opt, &o, &done);
  json_t *body = NULL, *c = NULL;
  if (done)
    goto out;
  if (!o.cluster || !o.network) {
    r = cli_usage_error("run", "missing --%s", o.cluster ? "network" : "cluster");
    goto out;
  }
  if (optind >= argc) {
    r = cli_usage_error("run", "missing NAME");
    goto out;
  }
  const char *name = argv[optind];
  if ((r = cargo_create_body(&o, name, argc, argv, optind + 1, &body)))
    goto out;

  struct nc_err err = NC_ERR_INIT;
  char path[256], create[256];
  /* The cluster, the network. */
  if (cluster_path(o.ns, o.cluster, NULL, NULL, path, sizeof path, &err) < 0 ||
      cluster_path(o.ns, NULL, NULL, NULL, create, sizeof create, &err) < 0 ||
      ensure(cli, path, create, o.cluster, &err) < 0 ||
      cluster_path(o.ns, o.cluster, "networks", o.network, path, sizeof path, &err) < 0 ||
      cluster_path(o.ns, o.cluster, "networks", NULL, create, sizeof create, &err) < 0 ||
      ensure(cli, path, create, o.network, &err) < 0) {
    r = cli_fail(&err);
    goto out;
  }
  /* The image, unless told never to pull. */
  const char *image = str(body, "image");
  int have = cli_image_exists(cli, image, &err);
  if (have < 0) {
    r = cli_fail(&err);
    goto out;
  }
  if (!have && strcmp(str(body, "pull_policy") ?: "", "never") &&
      (r = cli_image_pull(cli, image, NULL, stderr, false)))
    goto out;
  /* The cargo, its join. */
  json_t *join = json_pack("{s:s, s:s}", "network", o.network, "cargo", name);
  if (cargo_path(o.ns, NULL, NULL, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "POST", path, body, NULL, &err) < 0 ||
      cluster_path(o.ns, o.cluster, "join", NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "POST", path, join, NULL, &err) < 0) {
    json_decref(join);
    r = cli_fail(&err);
    goto out;
  }
  json_decref(join);
  if ((r = wait_running(cli, o.ns, name, &c)))
    goto out;
  if (cli->output == CLI_OUTPUT_TABLE)
    cargo_print_inspect(c);
  else
    out_document(cli, c, cli->output);
  r = CLI_OK;
out:
  json_decref(o.spec);
  json_decref(o.health);
  json_decref(body);
  json_decref(c);
  return r;
}
