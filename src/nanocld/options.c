#include "options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "image/ref.h"
#include "net/dns.h"
#include "net/service.h"
#include "config.h"
#include "version.h"

static const char usage[] =
  "Usage: nanocld [OPTIONS]\n"
  "\n"
  "The nanocl daemon: keeps the desired state of namespaces (and, as they land,\n"
  "clusters, cargoes, containers) in its store and serves the REST API.\n"
  "\n"
  "Options:\n"
  "  -H, --host URL         listen on URL: unix:///PATH or tcp://HOST:PORT; repeatable\n"
  "                         [env NANOCL_HOST, comma-separated; default unix://RUN_DIR/nanocl.sock]\n"
  "      --state-dir DIR    store and images [env NANOCL_STATE_DIR; default " NC_DEFAULT_STATE_DIR
  "]\n"
  "      --run-dir DIR      sockets and pid file [env NANOCL_RUN_DIR; default " NC_DEFAULT_RUN_DIR
  "]\n"
  "      --config-dir DIR   configuration [env NANOCL_CONFIG_DIR; default " NC_DEFAULT_CONFIG_DIR
  "]\n"
  "      --log-level LEVEL  error, warn, info or debug (one line per request)\n"
  "                         [env NANOCL_LOG_LEVEL; default info]\n"
  "      --insecure-registry HOST[:PORT]\n"
  "                         speak plain HTTP to this registry; repeatable\n"
  "                         [env NANOCL_INSECURE_REGISTRIES, comma-separated;\n"
  "                         loopback registries always are]\n"
  "      --runtime NAME|PATH\n"
  "                         the OCI runtime: runc, crun or a path [env NANOCL_RUNTIME;\n"
  "                         default: crun if installed, else runc]\n"
  "      --shim PATH        the nanocl-shim to use [default: the one beside nanocld]\n"
  "      --network-pool CIDR\n"
  "                         where the /24 subnets of new networks come from\n"
  "                         [env NANOCL_NETWORK_POOL; default " NET_DEFAULT_POOL "]\n"
  "      --dns-upstream IP[:PORT],...\n"
  "                         where the networks' DNS servers send names they do not\n"
  "                         know [env NANOCL_DNS_UPSTREAM; default: /etc/resolv.conf's]\n"
  "      --nft-table NAME   the nftables table (family inet) nanocld owns\n"
  "                         [env NANOCL_NFT_TABLE; default " NET_DEFAULT_TABLE "]\n"
  "      --default-registry HOST\n"
  "                         registry of names without one [env NANOCL_DEFAULT_REGISTRY;\n"
  "                         default docker.io]\n"
  "  -h, --help             print this help\n"
  "  -v, --version          print the version\n"
  "\n"
  "Settings may also come from CONFIG_DIR/nanocld.json:\n"
  "  {\"insecure_registries\": [\"10.0.0.5:5000\"], \"default_registry\": \"docker.io\"}\n"
  "Options and environment win over the file.\n"
  "\n"
  "Stop it with SIGTERM or SIGINT: it stops accepting, lets requests in flight\n"
  "finish (at most 10 s), closes the store and removes its sockets.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nanocld: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'nanocld --help'.\n");
  va_end(ap);
  return 2;
}

static int add_host(struct nanocld_options *o, const char *url)
{
  struct nc_err err = NC_ERR_INIT;
  if (o->nhosts == NANOCLD_MAX_HOSTS)
    return usage_error("at most %d --host options", NANOCLD_MAX_HOSTS);
  if (nc_host_url_parse(url, &o->hosts[o->nhosts], &err) < 0)
    return usage_error("%s", err.msg);
  o->nhosts++;
  return 0;
}

/* A registry is HOST[:PORT]: checked by parsing "HOST[:PORT]/x" as a reference. */
static bool registry_valid(const char *host)
{
  char probe[300];
  struct image_ref ref;
  struct nc_err err = NC_ERR_INIT;
  snprintf(probe, sizeof probe, "%s/x", host);
  return *host && !strchr(host, '/') && strlen(host) < 256 &&
         image_ref_parse(probe, NULL, &ref, &err) == 0 && !strcmp(ref.registry, host);
}

static int add_insecure(struct nanocld_options *o, const char *host)
{
  if (!registry_valid(host))
    return usage_error("invalid registry '%s': expected HOST[:PORT]", host);
  if (o->images.ninsecure == IMAGE_MAX_INSECURE)
    return usage_error("at most %d insecure registries", IMAGE_MAX_INSECURE);
  snprintf(o->images.insecure[o->images.ninsecure++], sizeof o->images.insecure[0], "%s", host);
  return 0;
}

static int set_registry(struct nanocld_options *o, const char *host)
{
  if (!registry_valid(host))
    return usage_error("invalid default registry '%s': expected HOST[:PORT]", host);
  snprintf(o->images.default_registry, sizeof o->images.default_registry, "%s", host);
  return 0;
}

/* CONFIG_DIR/nanocld.json, when there is one: settings not given otherwise. */
static int read_config_file(struct nanocld_options *o, bool have_insecure, bool have_registry)
{
  char path[PATH_MAX + 16], *text = NULL;
  size_t len;
  struct nc_err err = NC_ERR_INIT;
  snprintf(path, sizeof path, "%s/nanocld.json", o->config_dir);
  if (nc_read_file(path, 1024 * 1024, &text, &len, &err) < 0)
    return err.kind == NC_ERR_NOT_FOUND ? 0 : usage_error("%s", err.msg);
  json_t *j = NULL;
  static const char *const fields[] = { "insecure_registries", "default_registry", NULL };
  int r = nc_json_parse_object(text, len, &j, &err) < 0 || nc_json_check_fields(j, fields, &err) < 0
            ? usage_error("%s: %s", path, err.msg)
            : 0;
  free(text);
  json_t *list = json_object_get(j, "insecure_registries");
  json_t *reg = json_object_get(j, "default_registry");
  if (r == 0 && ((list && !json_is_array(list)) || (reg && !json_is_string(reg))))
    r = usage_error("%s: insecure_registries must be an array of strings, default_registry a "
                    "string",
                    path);
  size_t i;
  json_t *v;
  json_array_foreach (list, i, v) {
    if (r || have_insecure)
      break;
    r = json_is_string(v) ? add_insecure(o, json_string_value(v))
                          : usage_error("%s: insecure_registries must hold strings", path);
  }
  if (r == 0 && reg && !have_registry)
    r = set_registry(o, json_string_value(reg));
  json_decref(j);
  return r;
}

static int set_dir(char *dst, const char *value, const char *what)
{
  if (value[0] != '/')
    return usage_error("%s must be an absolute path", what);
  if (strlen(value) >= PATH_MAX)
    return usage_error("%s is too long", what);
  snprintf(dst, PATH_MAX, "%s", value);
  /* "/var/lib/nanocl/" and "/var/lib/nanocl" are the same directory. */
  size_t len = strlen(dst);
  while (len > 1 && dst[len - 1] == '/')
    dst[--len] = '\0';
  return 0;
}

static const char *env_or(const char *name, const char *fallback)
{
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

int nanocld_options_parse(int argc, char **argv, struct nanocld_options *o)
{
  enum { OPT_STATE = 256, OPT_RUN, OPT_CONFIG, OPT_LOG, OPT_INSECURE, OPT_REGISTRY, OPT_RUNTIME,
         OPT_SHIM, OPT_POOL, OPT_TABLE, OPT_UPSTREAM };
  static const struct option longopts[] = {
    { "host", required_argument, NULL, 'H' },
    { "state-dir", required_argument, NULL, OPT_STATE },
    { "run-dir", required_argument, NULL, OPT_RUN },
    { "config-dir", required_argument, NULL, OPT_CONFIG },
    { "log-level", required_argument, NULL, OPT_LOG },
    { "insecure-registry", required_argument, NULL, OPT_INSECURE },
    { "default-registry", required_argument, NULL, OPT_REGISTRY },
    { "runtime", required_argument, NULL, OPT_RUNTIME },
    { "shim", required_argument, NULL, OPT_SHIM },
    { "network-pool", required_argument, NULL, OPT_POOL },
    { "nft-table", required_argument, NULL, OPT_TABLE },
    { "dns-upstream", required_argument, NULL, OPT_UPSTREAM },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
  };
  const char *state = NULL, *run = NULL, *config = NULL, *level = NULL, *registry = NULL;
  bool insecure_given = false;
  int c, r;

  memset(o, 0, sizeof *o);
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":H:hv", longopts, NULL)) != -1) {
    switch (c) {
    case 'H':
      if ((r = add_host(o, optarg)) != 0)
        return r;
      break;
    case OPT_STATE: state = optarg; break;
    case OPT_RUN: run = optarg; break;
    case OPT_CONFIG: config = optarg; break;
    case OPT_LOG: level = optarg; break;
    case OPT_INSECURE:
      if ((r = add_insecure(o, optarg)) != 0)
        return r;
      insecure_given = true;
      break;
    case OPT_REGISTRY: registry = optarg; break;
    case OPT_RUNTIME: snprintf(o->runtime, sizeof o->runtime, "%s", optarg); break;
    case OPT_SHIM: snprintf(o->shim, sizeof o->shim, "%s", optarg); break;
    case OPT_POOL: snprintf(o->network_pool, sizeof o->network_pool, "%s", optarg); break;
    case OPT_TABLE: snprintf(o->nft_table, sizeof o->nft_table, "%s", optarg); break;
    case OPT_UPSTREAM: snprintf(o->dns_upstream, sizeof o->dns_upstream, "%s", optarg); break;
    case 'h': fputs(usage, stdout); return 1;
    case 'v': printf("nanocld %s (commit %s)\n", NC_VERSION, NC_GIT_COMMIT); return 1;
    case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
    default: return usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return usage_error("unexpected argument '%s'", argv[optind]);

  if ((r = set_dir(o->state_dir, state ? state : env_or("NANOCL_STATE_DIR", NC_DEFAULT_STATE_DIR),
                   "--state-dir")) ||
      (r = set_dir(o->run_dir, run ? run : env_or("NANOCL_RUN_DIR", NC_DEFAULT_RUN_DIR),
                   "--run-dir")) ||
      (r = set_dir(o->config_dir,
                   config ? config : env_or("NANOCL_CONFIG_DIR", NC_DEFAULT_CONFIG_DIR),
                   "--config-dir")))
    return r;

  /* Registries: option, then environment, then CONFIG_DIR/nanocld.json. */
  if ((r = read_config_file(o, insecure_given, registry != NULL)) != 0)
    return r;
  if (!insecure_given && getenv("NANOCL_INSECURE_REGISTRIES") &&
      *getenv("NANOCL_INSECURE_REGISTRIES")) {
    o->images.ninsecure = 0;
    char list[4096];
    snprintf(list, sizeof list, "%s", getenv("NANOCL_INSECURE_REGISTRIES"));
    char *save = NULL;
    for (char *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save))
      if ((r = add_insecure(o, h)) != 0)
        return r;
  }
  if (!registry)
    registry = getenv("NANOCL_DEFAULT_REGISTRY");
  if (registry && *registry && (r = set_registry(o, registry)) != 0)
    return r;
  snprintf(o->images.config_dir, sizeof o->images.config_dir, "%s", o->config_dir);

  if (!o->runtime[0])
    snprintf(o->runtime, sizeof o->runtime, "%s", env_or("NANOCL_RUNTIME", ""));
  if (!o->network_pool[0])
    snprintf(o->network_pool, sizeof o->network_pool, "%s",
             env_or("NANOCL_NETWORK_POOL", NET_DEFAULT_POOL));
  if (!o->dns_upstream[0])
    snprintf(o->dns_upstream, sizeof o->dns_upstream, "%s", env_or("NANOCL_DNS_UPSTREAM", ""));
  {
    struct nc_err e = NC_ERR_INIT;
    if (o->dns_upstream[0] && dns_upstream_check(o->dns_upstream, &e) < 0)
      return usage_error("%s", e.msg);
  }
  if (!o->nft_table[0])
    snprintf(o->nft_table, sizeof o->nft_table, "%s", env_or("NANOCL_NFT_TABLE", NET_DEFAULT_TABLE));

  level = level ? level : env_or("NANOCL_LOG_LEVEL", "info");
  o->log_level = nc_log_parse_level(level);
  if (o->log_level < 0)
    return usage_error("unknown log level '%s' (error, warn, info, debug)", level);

  if (o->nhosts == 0) {
    const char *env = getenv("NANOCL_HOST");
    if (env && *env) {
      char list[4096];
      snprintf(list, sizeof list, "%s", env);
      char *save = NULL;
      for (char *h = strtok_r(list, ",", &save); h; h = strtok_r(NULL, ",", &save))
        if ((r = add_host(o, h)) != 0)
          return r;
    } else {
      char url[PATH_MAX + 64];
      snprintf(url, sizeof url, "unix://%s/nanocl.sock", o->run_dir);
      if ((r = add_host(o, url)) != 0)
        return r;
    }
  }
  return 0;
}
