/* What the cargo commands share: paths, the spec options, the inspect tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cargo-cli.h"
#include "model/name.h"
#include "output.h"
#include "spec-opts.h"

int cargo_path(const char *ns, const char *name, const char *action, const char *query,
               char *out, size_t size, struct nc_err *err)
{
  if (ns && nc_name_check("namespace", ns, err) < 0)
    return -1;
  if (name && nc_name_check("cargo", name, err) < 0)
    return -1;
  snprintf(out, size, "/v1/cargoes%s%s%s%s?namespace=%s%s%s", name ? "/" : "", name ? name : "",
           action ? "/" : "", action ? action : "", ns ? ns : "global", query ? "&" : "",
           query ? query : "");
  return 0;
}

int cargo_get(struct cli *cli, const char *ns, const char *name, json_t **out)
{
  struct nc_err err = NC_ERR_INIT;
  char path[256];
  *out = NULL;
  if (cargo_path(ns, name, NULL, NULL, path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, out, &err) < 0)
    return cli_fail(&err);
  return CLI_OK;
}

enum { O_IMAGE = 256, O_REPLICAS, O_HOSTNAME, O_DOMAIN, O_DNS, O_CPUS, O_PIDS, O_RESTART,
       O_HCMD, O_HINTERVAL, O_HTIMEOUT, O_HRETRIES, O_HSTART, O_LABEL, O_PULL, O_ENTRY,
       O_CLUSTER, O_NETWORK };

const struct option cargo_longopts[] = {
  { "namespace", required_argument, NULL, 'n' },
  { "image", required_argument, NULL, O_IMAGE },
  { "env", required_argument, NULL, 'e' },
  { "replicas", required_argument, NULL, O_REPLICAS },
  { "bind", required_argument, NULL, 'v' },
  { "volume", required_argument, NULL, 'v' },
  { "hostname", required_argument, NULL, O_HOSTNAME },
  { "domainname", required_argument, NULL, O_DOMAIN },
  { "dns-entry", required_argument, NULL, O_DNS },
  { "publish", required_argument, NULL, 'p' },
  { "memory", required_argument, NULL, 'm' },
  { "cpus", required_argument, NULL, O_CPUS },
  { "pids-limit", required_argument, NULL, O_PIDS },
  { "workdir", required_argument, NULL, 'w' },
  { "user", required_argument, NULL, 'u' },
  { "restart", required_argument, NULL, O_RESTART },
  { "health-cmd", required_argument, NULL, O_HCMD },
  { "health-interval", required_argument, NULL, O_HINTERVAL },
  { "health-timeout", required_argument, NULL, O_HTIMEOUT },
  { "health-retries", required_argument, NULL, O_HRETRIES },
  { "health-start-period", required_argument, NULL, O_HSTART },
  { "label", required_argument, NULL, O_LABEL },
  { "pull", required_argument, NULL, O_PULL },
  { "entrypoint", required_argument, NULL, O_ENTRY },
  { "cluster", required_argument, NULL, O_CLUSTER },
  { "network", required_argument, NULL, O_NETWORK },
  { NULL, 0, NULL, 0 },
};

static void set_str(json_t *o, const char *key, const char *value)
{
  json_object_set_new(o, key, json_string(value));
}

static int health_field(struct cargo_opts *o, const char *key, const char *opt, const char *arg,
                        bool seconds)
{
  int64_t n;
  uint64_t u;
  if (seconds) {
    if (spec_parse_seconds(arg, 86400, &n) < 0)
      return cli_usage_error(o->cmd, "invalid --%s '%s' (seconds, or 30s, 5m, 1h)", opt, arg);
  } else {
    if (nc_parse_u64(arg, 86400, &u) < 0)
      return cli_usage_error(o->cmd, "invalid --%s '%s'", opt, arg);
    n = (int64_t)u;
  }
  json_object_set_new(o->health, key, json_integer(n));
  return 0;
}

int cargo_opt(int c, const char *arg, void *ctx)
{
  struct cargo_opts *o = ctx;
  int64_t n;
  uint64_t u;
  if (!o->health)
    o->health = json_object();
  switch (c) {
  case 'n': o->ns = arg; break;
  case O_IMAGE: set_str(o->spec, "image", arg); break;
  case 'e':
    if (!strchr(arg, '=') || arg[0] == '=')
      return cli_usage_error(o->cmd, "invalid --env '%s' (K=V)", arg);
    spec_append(o->spec, "env", arg);
    break;
  case O_REPLICAS:
    if (nc_parse_u64(arg, 1000, &u) < 0)
      return cli_usage_error(o->cmd, "invalid --replicas '%s' (0-1000)", arg);
    json_object_set_new(o->spec, "replicas", json_integer((json_int_t)u));
    break;
  case 'v': spec_append(o->spec, "binds", arg); break;
  case O_HOSTNAME: set_str(o->spec, "hostname", arg); break;
  case O_DOMAIN: set_str(o->spec, "domainname", arg); break;
  case O_DNS: set_str(o->spec, "dns_entry", arg); break;
  case 'p': spec_append(o->spec, "publish", arg); break;
  case 'm':
    if (spec_parse_size(arg, &n) < 0)
      return cli_usage_error(o->cmd, "invalid --memory '%s' (e.g. 256m, 1g)", arg);
    json_object_set_new(o->spec, "memory", json_integer(n));
    break;
  case O_CPUS:
    if (spec_set_cpus(o->spec, arg) < 0)
      return cli_usage_error(o->cmd, "invalid --cpus '%s' (e.g. 0.5, 2)", arg);
    break;
  case O_PIDS:
    if (spec_set_pids(o->spec, arg) < 0)
      return cli_usage_error(o->cmd, "invalid --pids-limit '%s'", arg);
    break;
  case 'w': set_str(o->spec, "workdir", arg); break;
  case 'u': set_str(o->spec, "user", arg); break;
  case O_RESTART: set_str(o->spec, "restart", arg); break;
  case O_HCMD:
    json_object_set_new(o->health, "cmd", json_pack("[s,s,s]", "sh", "-c", arg));
    break;
  case O_HINTERVAL: return health_field(o, "interval", "health-interval", arg, true);
  case O_HTIMEOUT: return health_field(o, "timeout", "health-timeout", arg, true);
  case O_HSTART: return health_field(o, "start_period", "health-start-period", arg, true);
  case O_HRETRIES: return health_field(o, "retries", "health-retries", arg, false);
  case O_LABEL: spec_set_pair(o->spec, "labels", arg); break;
  case O_PULL:
    if (strcmp(arg, "always") && strcmp(arg, "if-not-present") && strcmp(arg, "never"))
      return cli_usage_error(o->cmd, "invalid --pull '%s' (always, if-not-present, never)", arg);
    set_str(o->spec, "pull_policy", arg);
    break;
  case O_ENTRY: spec_set_entrypoint(o->spec, arg); break;
  case O_CLUSTER:
  case O_NETWORK:
    if (!o->run)
      return cli_usage_error(o->cmd, "unknown option '--%s'",
                             c == O_CLUSTER ? "cluster" : "network");
    *(c == O_CLUSTER ? &o->cluster : &o->network) = arg;
    break;
  default: return CLI_USAGE;
  }
  return 0;
}

/* The POST /v1/cargoes body of create and run: the spec, the name, the command
 * argv[first..]. Returns 0, or an exit code (usage error printed). */
int cargo_create_body(struct cargo_opts *o, const char *name, int argc, char **argv, int first,
                      json_t **out)
{
  if (!json_object_get(o->spec, "image"))
    return cli_usage_error(o->cmd, "missing --image");
  if (json_object_size(o->health)) {
    if (!json_object_get(o->health, "cmd"))
      return cli_usage_error(o->cmd, "--health-* options need --health-cmd");
    json_object_set(o->spec, "health", o->health);
  }
  for (int i = first; i < argc; i++)
    spec_append(o->spec, "cmd", argv[i]);
  json_object_set_new(o->spec, "name", json_string(name));
  *out = o->spec;
  o->spec = NULL;
  return 0;
}

static const char *str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

long long cargo_replicas(json_t *cargo)
{
  json_t *r = json_object_get(json_object_get(cargo, "spec"), "replicas");
  return json_is_integer(r) ? (long long)json_integer_value(r) : 1;
}

/* Instances by cluster, then number. */
static int by_instance(const void *a, const void *b)
{
  json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  int r = strcmp(str(x, "cluster") ?: "", str(y, "cluster") ?: "");
  json_int_t m = json_integer_value(json_object_get(x, "instance")),
             n = json_integer_value(json_object_get(y, "instance"));
  return r ? r : (m > n) - (m < n);
}

void cargo_print_inspect(json_t *c)
{
  json_t *spec = json_object_get(c, "spec");
  char key[160], replicas[24];
  snprintf(key, sizeof key, "%s-%s", str(c, "namespace") ?: "", str(c, "name") ?: "");
  snprintf(replicas, sizeof replicas, "%lld", cargo_replicas(c));
  printf("CARGO\n");
  static const char *const h1[] = { "KEY", "NAME", "IMAGE_NAME", "REPLICAS",
                                    "DOMAINNAME", "HOSTNAME", "DNS_ENTRY" };
  struct table *t = table_new(7, h1);
  const char *row1[] = { key, str(c, "name"), str(spec, "image"), replicas,
                         str(spec, "domainname"), str(spec, "hostname"), str(spec, "dns_entry") };
  table_add(t, row1);
  table_print(t, stdout);
  table_free(t);

  char ports[512] = "";
  size_t i, n = 0;
  json_t *v;
  json_array_foreach (json_object_get(spec, "publish"), i, v)
    n += (size_t)snprintf(ports + n, n < sizeof ports ? sizeof ports - n : 0, "%s%s",
                          i ? "," : "", json_string_value(v) ?: "");
  printf("\nCONTAINERS\n");
  static const char *const h2[] = { "NAMES", "IMAGE", "PORTS", "STATE", "STATUS",
                                    "NETWORK_SETTINGS" };
  t = table_new(6, h2);
  json_t *insts = json_object_get(c, "instances");
  size_t count = json_array_size(insts);
  json_t **sorted = calloc(count ? count : 1, sizeof *sorted);
  for (i = 0; sorted && i < count; i++)
    sorted[i] = json_array_get(insts, i);
  if (sorted)
    qsort(sorted, count, sizeof *sorted, by_instance);
  for (i = 0; sorted && i < count; i++) {
    v = sorted[i];
    const char *row[] = { str(v, "name"), str(v, "image"), ports, str(v, "state"),
                          str(v, "status"), str(v, "ip") };
    table_add(t, row);
  }
  free(sorted);
  table_print(t, stdout);
  table_free(t);
  const char *rollout = str(c, "rollout");
  if (rollout && *rollout)
    printf("\nROLLOUT: %s\n", rollout);
}
