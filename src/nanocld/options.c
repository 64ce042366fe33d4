#include "options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
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
  "  -h, --help             print this help\n"
  "  -v, --version          print the version\n"
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
  enum { OPT_STATE = 256, OPT_RUN, OPT_CONFIG, OPT_LOG };
  static const struct option longopts[] = {
    { "host", required_argument, NULL, 'H' },
    { "state-dir", required_argument, NULL, OPT_STATE },
    { "run-dir", required_argument, NULL, OPT_RUN },
    { "config-dir", required_argument, NULL, OPT_CONFIG },
    { "log-level", required_argument, NULL, OPT_LOG },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },
    { NULL, 0, NULL, 0 },
  };
  const char *state = NULL, *run = NULL, *config = NULL, *level = NULL;
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
