/* nanocl container create|start|stop|restart|kill|rm|inspect|ls|logs|run|wait
 * (exec: cmd-exec.c) */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/parse.h"
#include "cli.h"
#include "output.h"
#include "spec-opts.h"

/* Options every verb takes: the namespace. */
struct common {
  const char *ns;
};

static void path_for(const struct common *c, const char *name, const char *action,
                     const char *query, char *out, size_t size)
{
  snprintf(out, size, "/v1/containers%s%s%s%s?namespace=%s%s%s", name ? "/" : "",
           name ? name : "", action ? "/" : "", action ? action : "", c->ns ? c->ns : "global",
           query ? "&" : "", query ? query : "");
}

struct create_opts {
  struct common c;
  json_t *spec;
  const char *name;
  bool detach, rm;
  int error; /* a usage error met while parsing */
};

enum { O_NAME = 256, O_HOSTNAME, O_DOMAIN, O_CPUS, O_PIDS, O_RO, O_CAPADD, O_CAPDROP, O_LABEL,
       O_STOPSIG, O_STOPTO, O_ENTRY, O_RM, O_CLUSTER, O_NETWORK };

static int create_opt(int c, const char *arg, void *ctx)
{
  struct create_opts *o = ctx;
  int64_t n;
  switch (c) {
  case 'n': o->c.ns = arg; break;
  case O_NAME: o->name = arg; break;
  case 'e': spec_append(o->spec, "env", arg); break;
  case 'v': spec_append(o->spec, "binds", arg); break;
  case 'w': json_object_set_new(o->spec, "workdir", json_string(arg)); break;
  case 'u': json_object_set_new(o->spec, "user", json_string(arg)); break;
  case O_HOSTNAME: json_object_set_new(o->spec, "hostname", json_string(arg)); break;
  case O_DOMAIN: json_object_set_new(o->spec, "domainname", json_string(arg)); break;
  case 'm':
    if (spec_parse_size(arg, &n) < 0)
      return cli_usage_error("container create", "invalid --memory '%s' (e.g. 256m, 1g)", arg);
    json_object_set_new(o->spec, "memory", json_integer(n));
    break;
  case O_CPUS:
    if (spec_set_cpus(o->spec, arg) < 0)
      return cli_usage_error("container create", "invalid --cpus '%s' (e.g. 0.5, 2)", arg);
    break;
  case O_PIDS:
    if (spec_set_pids(o->spec, arg) < 0)
      return cli_usage_error("container create", "invalid --pids-limit '%s'", arg);
    break;
  case O_RO: json_object_set_new(o->spec, "read_only", json_true()); break;
  case O_CAPADD: spec_append(o->spec, "cap_add", arg); break;
  case O_CAPDROP: spec_append(o->spec, "cap_drop", arg); break;
  case O_LABEL: spec_set_pair(o->spec, "labels", arg); break;
  case O_STOPSIG: json_object_set_new(o->spec, "stop_signal", json_string(arg)); break;
  case O_STOPTO: /* -1: no SIGKILL, wait for as long as it takes */
    if (strcmp(arg, "-1") != 0 && nc_parse_u64(arg, INT32_MAX, (uint64_t *)&n) < 0)
      return cli_usage_error("container create", "invalid --stop-timeout '%s' (seconds, or -1)",
                             arg);
    json_object_set_new(o->spec, "stop_timeout", json_integer(strcmp(arg, "-1") ? n : -1));
    break;
  case O_ENTRY: spec_set_entrypoint(o->spec, arg); break;
  case 'd': o->detach = true; break;
  case O_RM: o->rm = true; break;
  case O_CLUSTER: json_object_set_new(o->spec, "cluster", json_string(arg)); break;
  case O_NETWORK: json_object_set_new(o->spec, "network", json_string(arg)); break;
  case 'p': spec_append(o->spec, "publish", arg); break;
  default: return CLI_USAGE;
  }
  return 0;
}

static const struct option create_longopts[] = {
  { "namespace", required_argument, NULL, 'n' }, { "name", required_argument, NULL, O_NAME },
  { "env", required_argument, NULL, 'e' },       { "volume", required_argument, NULL, 'v' },
  { "workdir", required_argument, NULL, 'w' },   { "user", required_argument, NULL, 'u' },
  { "hostname", required_argument, NULL, O_HOSTNAME },
  { "domainname", required_argument, NULL, O_DOMAIN },
  { "memory", required_argument, NULL, 'm' },    { "cpus", required_argument, NULL, O_CPUS },
  { "pids-limit", required_argument, NULL, O_PIDS }, { "read-only", no_argument, NULL, O_RO },
  { "cap-add", required_argument, NULL, O_CAPADD },
  { "cap-drop", required_argument, NULL, O_CAPDROP },
  { "label", required_argument, NULL, O_LABEL },
  { "stop-signal", required_argument, NULL, O_STOPSIG },
  { "stop-timeout", required_argument, NULL, O_STOPTO },
  { "entrypoint", required_argument, NULL, O_ENTRY },
  { "detach", no_argument, NULL, 'd' },          { "rm", no_argument, NULL, O_RM },
  { "cluster", required_argument, NULL, O_CLUSTER },
  { "network", required_argument, NULL, O_NETWORK },
  { "publish", required_argument, NULL, 'p' },
  { NULL, 0, NULL, 0 },
};

static const char create_usage[] =
  "Usage: nanocl container create [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
  "       nanocl container run [-d] [--rm] [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
  "\n"
  "Create a container from an image (run: create, start, and unless -d follow its\n"
  "output until it ends, exiting with its exit code).\n"
  "\n"
  "Options:\n"
  "  -n, --namespace NS     namespace (default global)\n"
  "      --name NAME        name (default: the first 12 hex of the id)\n"
  "  -e, --env K=V          environment variable (repeatable)\n"
  "  -v, --volume H:C[:ro]  bind a host path (repeatable)\n"
  "  -w, --workdir DIR      working directory\n"
  "  -u, --user USER        user[:group] by name or number\n"
  "      --hostname H, --domainname D\n"
  "  -m, --memory SIZE      memory limit (e.g. 256m)\n"
  "      --cpus N           CPU limit (e.g. 0.5)\n"
  "      --pids-limit N     most processes (-1: no limit)\n"
  "      --read-only        read-only root file system\n"
  "      --cap-add CAP, --cap-drop CAP   capabilities (ALL allowed)\n"
  "      --label K=V        label (repeatable)\n"
  "      --stop-signal SIG, --stop-timeout SECONDS (-1: never SIGKILL, wait for the exit)\n"
  "      --entrypoint CMD   override the image's entrypoint ('' clears it)\n"
  "      --cluster C        join cluster C of the namespace\n"
  "      --network N        on network N of that cluster: an address, a name in its DNS\n"
  "                         (without: only a loopback interface)\n"
  "  -p, --publish [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]\n"
  "                         publish a port of the container on the host (repeatable;\n"
  "                         needs --network)\n"
  "  -d, --detach           run: print the id and return\n"
  "      --rm               run: remove the container when it ends\n";

static int print_logs(void *ctx, json_t *line);
static int do_run(struct cli *cli, struct create_opts *o, const char *id);

static int create_or_run(struct cli *cli, int argc, char **argv, bool run)
{
  struct create_opts o = { .spec = json_object() };
  bool done;
  /* '+': options stop at the image; what follows is the command. */
  int r = cli_parse(cli, run ? "container run" : "container create", argc, argv,
                    "+n:e:v:w:u:m:dp:", create_longopts, create_usage, create_opt, &o, &done);
  if (done) {
    json_decref(o.spec);
    return r;
  }
  if (optind >= argc) {
    json_decref(o.spec);
    return cli_usage_error(run ? "container run" : "container create", "missing IMAGE");
  }
  json_object_set_new(o.spec, "image", json_string(argv[optind]));
  if (run && o.rm) /* nanocld removes it when it ends, detached or not (Docker's AutoRemove) */
    json_object_set_new(o.spec, "auto_remove", json_true());
  if (o.name)
    json_object_set_new(o.spec, "name", json_string(o.name));
  for (int i = optind + 1; i < argc; i++)
    spec_append(o.spec, "cmd", argv[i]);

  struct nc_err err = NC_ERR_INIT;
  char path[512];
  json_t *c = NULL;
  path_for(&o.c, NULL, NULL, NULL, path, sizeof path);
  r = cli_call(cli, "POST", path, o.spec, &c, &err);
  json_decref(o.spec);
  if (r < 0)
    return cli_fail(&err);
  char id[65];
  snprintf(id, sizeof id, "%s", json_string_value(json_object_get(c, "id")) ?: "");
  json_decref(c);
  if (!run) {
    printf("%s\n", id);
    return CLI_OK;
  }
  return do_run(cli, &o, id);
}

/* Docker's order: the output is followed before the start, so nothing of a quick
 * command is missed even when nanocld removes the container as soon as it ends (--rm);
 * the exit status comes from wait (condition=removed with --rm: back once it is gone). */
static int do_run(struct cli *cli, struct create_opts *o, const char *id)
{
  struct nc_err err = NC_ERR_INIT;
  char path[512];
  struct nc_client *logs = NULL;
  bool ts = false;
  if (!o->detach) {
    path_for(&o->c, id, "logs", "follow=true", path, sizeof path);
    if (nc_client_new(cli->host, &logs, &err) < 0 ||
        nc_client_stream_begin(logs, "GET", path, NULL, &err) < 0) {
      nc_client_free(logs);
      return cli_fail(&err);
    }
  }
  path_for(&o->c, id, "start", NULL, path, sizeof path);
  if (cli_call(cli, "POST", path, NULL, NULL, &err) < 0) {
    nc_client_free(logs); /* the start's error says it all; the log repeats it */
    int status = cli_fail(&err);
    /* Docker: 127 when the command is not there, 126 when it cannot run. */
    if (strstr(err.msg, "no such file") || strstr(err.msg, "not found"))
      return 127;
    return strstr(err.msg, "permission denied") ? 126 : status;
  }
  if (o->detach) {
    printf("%s\n", id);
    return CLI_OK;
  }
  if (nc_client_stream_end(logs, print_logs, &ts, &err) < 0)
    cli_fail(&err);
  nc_client_free(logs);
  json_t *res = NULL;
  path_for(&o->c, id, "wait", o->rm ? "condition=removed" : NULL, path, sizeof path);
  int code = CLI_ERROR;
  if (cli_call(cli, "POST", path, NULL, &res, &err) >= 0)
    code = (int)json_integer_value(json_object_get(res, "exit_code"));
  else
    cli_fail(&err);
  json_decref(res);
  return code;
}

static int cnt_create(struct cli *cli, int argc, char **argv)
{
  return create_or_run(cli, argc, argv, false);
}

static int cnt_run(struct cli *cli, int argc, char **argv)
{
  return create_or_run(cli, argc, argv, true);
}

/* Verbs that act on named containers: start, stop, restart, kill, rm. */
struct act_opts {
  struct common c;
  int64_t t;
  const char *signal;
  bool force;
};

static int act_opt(int c, const char *arg, void *ctx)
{
  struct act_opts *o = ctx;
  uint64_t n;
  switch (c) {
  case 'n': o->c.ns = arg; break;
  case 't':
    if (nc_parse_u64(arg, 3600, &n) < 0)
      return cli_usage_error(NULL, "invalid --time '%s' (seconds)", arg);
    o->t = (int64_t)n;
    break;
  case 's': o->signal = arg; break;
  case 'f': o->force = true; break;
  default: return CLI_USAGE;
  }
  return 0;
}

static int act(struct cli *cli, int argc, char **argv, const char *verb, const char *usage)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { "time", required_argument, NULL, 't' },
                                        { "signal", required_argument, NULL, 's' },
                                        { "force", no_argument, NULL, 'f' },
                                        { NULL, 0, NULL, 0 } };
  struct act_opts o = { .t = -1 };
  bool done;
  char cmd[64];
  snprintf(cmd, sizeof cmd, "container %s", verb);
  int r = cli_parse(cli, cmd, argc, argv, "n:t:s:f", opts, usage, act_opt, &o, &done);
  if (done)
    return r;
  if (optind == argc)
    return cli_usage_error(cmd, "missing CONTAINER");
  for (int i = optind; i < argc; i++) {
    struct nc_err err = NC_ERR_INIT;
    char path[512], q[64] = "";
    const char *method = "POST", *action = verb;
    if (!strcmp(verb, "rm")) {
      method = "DELETE";
      action = NULL;
      if (o.force)
        snprintf(q, sizeof q, "force=true");
    } else if (o.t >= 0) {
      snprintf(q, sizeof q, "t=%lld", (long long)o.t);
    } else if (o.signal) {
      snprintf(q, sizeof q, "signal=%.40s", o.signal);
    }
    path_for(&o.c, argv[i], action, q[0] ? q : NULL, path, sizeof path);
    if (cli_call(cli, method, path, NULL, NULL, &err) < 0)
      return cli_fail(&err);
    printf("%s\n", argv[i]);
  }
  return CLI_OK;
}

#define ACT(fn, verb, text)                                                                        \
  static int fn(struct cli *cli, int argc, char **argv)                                            \
  {                                                                                                \
    return act(cli, argc, argv, verb, text);                                                       \
  }

ACT(cnt_start, "start", "Usage: nanocl container start [-n NS] CONTAINER...\n\nStart containers.\n")
ACT(cnt_stop, "stop",
    "Usage: nanocl container stop [-n NS] [-t SECONDS] CONTAINER...\n\n"
    "Send the stop signal (the image's, default SIGTERM), then SIGKILL after the timeout\n"
    "(default 10 s).\n")
ACT(cnt_restart, "restart",
    "Usage: nanocl container restart [-n NS] [-t SECONDS] CONTAINER...\n\nStop, then start.\n")
ACT(cnt_kill, "kill",
    "Usage: nanocl container kill [-n NS] [-s SIGNAL] CONTAINER...\n\n"
    "Send a signal (default SIGKILL).\n")
ACT(cnt_rm, "rm",
    "Usage: nanocl container rm [-n NS] [-f] CONTAINER...\n\n"
    "Remove containers (-f: stop running ones first).\n")

static const char inspect_usage[] = "Usage: nanocl container inspect [-n NS] CONTAINER\n"
                                    "\n"
                                    "Show a container as YAML (or -o json).\n";

static int ns_opt(int c, const char *arg, void *ctx)
{
  ((struct common *)ctx)->ns = arg;
  return 0;
}

static int cnt_inspect(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { NULL, 0, NULL, 0 } };
  struct common c = { 0 };
  bool done;
  int r = cli_parse(cli, "container inspect", argc, argv, "n:", opts, inspect_usage, ns_opt, &c,
                    &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("container inspect", "expected one CONTAINER");
  struct nc_err err = NC_ERR_INIT;
  char path[512];
  json_t *out = NULL;
  path_for(&c, argv[optind], NULL, NULL, path, sizeof path);
  if (cli_call(cli, "GET", path, NULL, &out, &err) < 0)
    return cli_fail(&err);
  out_document(cli, out, CLI_OUTPUT_YAML);
  json_decref(out);
  return CLI_OK;
}

static const char ls_usage[] = "Usage: nanocl container ls [-n NS] [-a] [-q]\n"
                               "       (also: nanocl lsc)\n"
                               "\n"
                               "List running containers (-a: all of them).\n";

struct ls_opts {
  struct common c;
  bool all, quiet;
};

static int ls_opt(int c, const char *arg, void *ctx)
{
  struct ls_opts *o = ctx;
  if (c == 'n')
    o->c.ns = arg;
  else if (c == 'a')
    o->all = true;
  else
    o->quiet = true;
  return 0;
}

int cmd_container_ls(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { "all", no_argument, NULL, 'a' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { NULL, 0, NULL, 0 } };
  struct ls_opts o = { 0 };
  bool done;
  int r = cli_parse(cli, "container ls", argc, argv, "n:aq", opts, ls_usage, ls_opt, &o, &done);
  if (done)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[512];
  json_t *list = NULL;
  path_for(&o.c, NULL, NULL, o.all ? "all=true" : NULL, path, sizeof path);
  if (cli_call(cli, "GET", path, NULL, &list, &err) < 0)
    return cli_fail(&err);
  size_t i;
  json_t *c;
  if (o.quiet) {
    json_array_foreach (list, i, c)
      printf("%.12s\n", json_string_value(json_object_get(c, "id")));
  } else if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "CONTAINER ID", "NAME", "IMAGE", "COMMAND",
                                           "CREATED", "STATUS" };
    struct table *t = table_new(6, headers);
    json_array_foreach (list, i, c) {
      char id[13], age[64], cmd[64] = "";
      snprintf(id, sizeof id, "%.12s", json_string_value(json_object_get(c, "id")));
      out_age(json_string_value(json_object_get(c, "created_at")), age, sizeof age);
      json_t *argv_ = json_object_get(json_object_get(c, "spec"), "cmd");
      size_t k, n = 0;
      json_t *a;
      json_array_foreach (argv_, k, a)
        n += (size_t)snprintf(cmd + n, n < sizeof cmd ? sizeof cmd - n : 0, "%s%s", k ? " " : "",
                              json_string_value(a));
      const char *row[] = { id, json_string_value(json_object_get(c, "name")),
                            json_string_value(json_object_get(c, "image")), cmd, age,
                            json_string_value(json_object_get(c, "status")) };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static int print_logs(void *ctx, json_t *line)
{
  bool ts = *(bool *)ctx;
  const char *text = json_string_value(json_object_get(line, "log")) ?: "";
  FILE *f = !strcmp(json_string_value(json_object_get(line, "stream")) ?: "", "stderr") ? stderr
                                                                                       : stdout;
  if (ts)
    fprintf(f, "%s ", json_string_value(json_object_get(line, "time")) ?: "");
  fputs(text, f);
  fflush(f);
  return 0;
}

static const char logs_usage[] =
  "Usage: nanocl container logs [-n NS] [-f] [--tail N] [--since T] [-t] CONTAINER\n"
  "\n"
  "Show a container's output (stdout to stdout, stderr to stderr).\n"
  "\n"
  "  -f, --follow      keep following until the container stops\n"
  "      --tail N      only the last N lines\n"
  "      --since T     only lines from T on: Unix seconds, a duration (10m, 2h, 1d)\n"
  "                    or an RFC 3339 time (2026-11-22T15:07:00Z)\n"
  "  -t, --timestamps  prefix each line with its time\n";

struct logs_opts {
  struct common c;
  bool follow, ts;
  const char *tail, *since;
};

static int logs_opt(int c, const char *arg, void *ctx)
{
  struct logs_opts *o = ctx;
  switch (c) {
  case 'n': o->c.ns = arg; break;
  case 'f': o->follow = true; break;
  case 't': o->ts = true; break;
  case 'T': o->tail = arg; break;
  case 'S': o->since = arg; break;
  default: return CLI_USAGE;
  }
  return 0;
}

/* --since as Docker takes it: Unix seconds, a duration back from now ("90s",
 * "10m", "2h"), or an RFC 3339 time ("2026-11-22T15:07:00Z"). → Unix seconds. */
static int parse_since(const char *s, long long *out)
{
  uint64_t n;
  if (nc_parse_u64(s, INT64_MAX, &n) == 0) {
    *out = (long long)n;
    return 0;
  }
  size_t len = strlen(s);
  char num[32];
  if (len >= 2 && len < sizeof num && strchr("smhd", s[len - 1])) {
    memcpy(num, s, len - 1);
    num[len - 1] = '\0';
    static const struct {
      char unit;
      long long secs;
    } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
    if (nc_parse_u64(num, 1ULL << 40, &n) == 0)
      for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (units[i].unit == s[len - 1]) {
          *out = (long long)time(NULL) - (long long)n * units[i].secs;
          return 0;
        }
  }
  struct tm tm = { 0 };
  const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (end && *end == '.')
    end += 1 + strspn(end + 1, "0123456789");
  if (end && !strcmp(end, "Z")) {
    *out = (long long)timegm(&tm);
    return 0;
  }
  return -1;
}

static int cnt_logs(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "namespace", required_argument, NULL, 'n' }, { "follow", no_argument, NULL, 'f' },
    { "timestamps", no_argument, NULL, 't' },      { "tail", required_argument, NULL, 'T' },
    { "since", required_argument, NULL, 'S' },     { NULL, 0, NULL, 0 }
  };
  struct logs_opts o = { 0 };
  bool done;
  int r = cli_parse(cli, "container logs", argc, argv, "n:ft", opts, logs_usage, logs_opt, &o,
                    &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("container logs", "expected one CONTAINER");
  long long since = 0;
  if (o.since && parse_since(o.since, &since) < 0)
    return cli_usage_error("container logs",
                           "invalid --since '%s': Unix seconds, 10m / 2h / 1d, or RFC 3339", o.since);
  char q[200], path[512], since_q[40] = "";
  if (o.since)
    snprintf(since_q, sizeof since_q, "&since=%lld", since < 0 ? 0 : since);
  snprintf(q, sizeof q, "follow=%s%s%.20s%s", o.follow ? "true" : "false",
           o.tail ? "&tail=" : "", o.tail ? o.tail : "", since_q);
  path_for(&o.c, argv[optind], "logs", q, path, sizeof path);
  struct nc_err err = NC_ERR_INIT;
  if (!cli->client && nc_client_new(cli->host, &cli->client, &err) < 0)
    return cli_fail(&err);
  if (nc_client_stream(cli->client, "GET", path, NULL, print_logs, &o.ts, &err) < 0)
    return cli_fail(&err);
  return CLI_OK;
}

static const char wait_usage[] = "Usage: nanocl container wait [-n NS] CONTAINER\n"
                                 "\n"
                                 "Wait until a container stops; print and exit with its code.\n";

static int cnt_wait(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { NULL, 0, NULL, 0 } };
  struct common c = { 0 };
  bool done;
  int r = cli_parse(cli, "container wait", argc, argv, "n:", opts, wait_usage, ns_opt, &c, &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("container wait", "expected one CONTAINER");
  struct nc_err err = NC_ERR_INIT;
  char path[512];
  json_t *res = NULL;
  path_for(&c, argv[optind], "wait", NULL, path, sizeof path);
  if (cli_call(cli, "POST", path, NULL, &res, &err) < 0)
    return cli_fail(&err);
  int code = (int)json_integer_value(json_object_get(res, "exit_code"));
  printf("%d\n", code);
  json_decref(res);
  return code;
}

static const struct cli_cmd verbs[] = {
  { "create", NULL, cnt_create, "Create a container" },
  { "run", NULL, cnt_run, "Create and start a container, and follow it" },
  { "start", NULL, cnt_start, "Start containers" },
  { "stop", NULL, cnt_stop, "Stop containers" },
  { "restart", NULL, cnt_restart, "Restart containers" },
  { "kill", NULL, cnt_kill, "Send a signal to containers" },
  { "rm", "remove", cnt_rm, "Remove containers" },
  { "inspect", NULL, cnt_inspect, "Show a container" },
  { "ls", "list ps", cmd_container_ls, "List containers" },
  { "logs", NULL, cnt_logs, "Show a container's output" },
  { "wait", NULL, cnt_wait, "Wait for a container to stop" },
  { "exec", NULL, cmd_container_exec, "Run a command in a running container" },
  { NULL, NULL, NULL, NULL },
};

int cmd_container(struct cli *cli, int argc, char **argv)
{
  return cli_run_group(cli, "container",
                       "Manage containers: processes from images, isolated by namespaces and "
                       "cgroups,\nrun by the OCI runtime through nanocl-shim.",
                       verbs, argc, argv);
}
