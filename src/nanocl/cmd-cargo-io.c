/* nanocl cargo logs|exec: the output of a cargo's instances, a command in one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/parse.h"
#include "cargo-cli.h"
#include "spec-opts.h"

static const char *str(json_t *o, const char *key)
{
  return json_string_value(json_object_get(o, key));
}

struct prefixed {
  const char *name;
  bool to_stderr;
  bool mid[2]; /* a line of stdout / stderr begun and not ended */
};

/* One log entry, every line of it after "NAME | ", in one write so that the
 * lines of instances followed side by side do not mix. */
static int print_prefixed(void *ctx, json_t *line)
{
  struct prefixed *p = ctx;
  const char *text = str(line, "log") ?: "";
  int e = !strcmp(str(line, "stream") ?: "", "stderr");
  FILE *f = e || p->to_stderr ? stderr : stdout;
  size_t nlen = strlen(p->name), len = strlen(text), lines = 1;
  for (const char *q = text; (q = strchr(q, '\n')); q++)
    lines++;
  char *buf = malloc(len + lines * (nlen + 3) + 1);
  if (!buf)
    return 0;
  size_t n = 0;
  for (const char *q = text; *q;) {
    if (!p->mid[e]) {
      memcpy(buf + n, p->name, nlen);
      memcpy(buf + n + nlen, " | ", 3);
      n += nlen + 3;
    }
    size_t seg = strcspn(q, "\n");
    bool nl = q[seg] == '\n';
    memcpy(buf + n, q, seg + nl);
    n += seg + nl;
    q += seg + nl;
    p->mid[e] = !nl;
  }
  fwrite(buf, 1, n, f);
  fflush(f);
  free(buf);
  return 0;
}

int cargo_instance_logs(struct nc_client *client, const char *ns, const char *id,
                        const char *name, bool follow, long long tail, bool to_stderr,
                        struct nc_err *err)
{
  char path[512], tail_q[32] = "";
  if (tail >= 0)
    snprintf(tail_q, sizeof tail_q, "&tail=%lld", tail);
  snprintf(path, sizeof path, "/v1/containers/%.100s/logs?namespace=%.63s%s%s", id,
           ns ? ns : "global", follow ? "&follow=true" : "", tail_q);
  struct prefixed p = { .name = name, .to_stderr = to_stderr };
  int r = nc_client_stream(client, "GET", path, NULL, print_prefixed, &p, err);
  for (int e = 0; e < 2; e++) /* a last line without its newline */
    if (p.mid[e])
      fputc('\n', e || to_stderr ? stderr : stdout);
  return r < 0 ? -1 : 0;
}

static const char logs_usage[] =
  "Usage: nanocl cargo logs [-n NS] [-f] [--tail N] NAME\n"
  "\n"
  "Show the output of every instance of a cargo, each line after \"<instance> | \"\n"
  "(stdout to stdout, stderr to stderr); one instance after the other, or with -f\n"
  "all of them side by side until they stop.\n"
  "\n"
  "  -n, --namespace NS  namespace (default global)\n"
  "  -f, --follow        keep following\n"
  "      --tail N        only the last N lines of each instance\n";

struct logs_opts {
  const char *ns;
  bool follow;
  long long tail;
};

static int logs_opt(int c, const char *arg, void *ctx)
{
  struct logs_opts *o = ctx;
  uint64_t n;
  switch (c) {
  case 'n': o->ns = arg; break;
  case 'f': o->follow = true; break;
  case 'T':
    if (nc_parse_u64(arg, 1u << 30, &n) < 0)
      return cli_usage_error("cargo logs", "invalid --tail '%s'", arg);
    o->tail = (long long)n;
    break;
  default: return CLI_USAGE;
  }
  return 0;
}

int cmd_cargo_logs(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "namespace", required_argument, NULL, 'n' },
                                        { "follow", no_argument, NULL, 'f' },
                                        { "tail", required_argument, NULL, 'T' },
                                        { NULL, 0, NULL, 0 } };
  struct logs_opts o = { .tail = -1 };
  bool done;
  int r = cli_parse(cli, "cargo logs", argc, argv, "n:f", opts, logs_usage, logs_opt, &o, &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("cargo logs", argc - optind ? "expected one NAME" : "missing NAME");
  json_t *c;
  if ((r = cargo_get(cli, o.ns, argv[optind], &c)))
    return r;
  json_t *insts = json_object_get(c, "instances"), *v;
  size_t i, n = json_array_size(insts);
  struct nc_err err = NC_ERR_INIT;
  r = CLI_OK;
  if (!o.follow || n == 1) {
    json_array_foreach (insts, i, v)
      if (cargo_instance_logs(cli->client, o.ns, str(v, "id") ?: "", str(v, "name") ?: "",
                              o.follow, o.tail, false, &err) < 0)
        r = cli_fail(&err);
    json_decref(c);
    return r;
  }
  /* -f: a process per instance, each with its own connection. */
  fflush(stdout);
  fflush(stderr);
  pid_t *pids = calloc(n, sizeof *pids), parent = getpid();
  json_array_foreach (insts, i, v) {
    pids[i] = pids ? fork() : -1;
    if (pids && pids[i] == 0) {
      /* Gone with the parent, however it ends. */
      if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        _exit(CLI_ERROR);
      struct nc_client *client;
      int status = 0;
      if (nc_client_new(cli->host, &client, &err) < 0 ||
          cargo_instance_logs(client, o.ns, str(v, "id") ?: "", str(v, "name") ?: "", true,
                              o.tail, false, &err) < 0)
        status = cli_fail(&err);
      fflush(stdout);
      _exit(status);
    }
    if (!pids || pids[i] < 0) {
      perror("nanocl: fork");
      r = CLI_ERROR;
    }
  }
  for (i = 0; pids && i < n; i++) {
    int status;
    if (pids[i] > 0 && waitpid(pids[i], &status, 0) == pids[i] &&
        !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
      r = CLI_ERROR;
  }
  free(pids);
  json_decref(c);
  return r;
}

static const char exec_usage[] =
  "Usage: nanocl cargo exec [OPTIONS] NAME [--] COMMAND [ARG...]\n"
  "\n"
  "Run a command in an instance of a cargo (the first running one unless --instance)\n"
  "and exit with its exit code, as 'nanocl container exec'.\n"
  "\n"
  "Options:\n"
  "  -n, --namespace NS   namespace (default global)\n"
  "      --instance N     instance number N (the <n> of <namespace>-<cluster>-<name>-<n>)\n"
  "      --cluster C      the instance in cluster C (when the cargo joined several)\n"
  "  -i, --interactive    send stdin to the command\n"
  "  -t, --tty            give the command a terminal\n"
  "  -e, --env K=V        environment variable (repeatable)\n"
  "  -u, --user USER      user[:group]\n"
  "  -w, --workdir DIR    working directory (absolute)\n";

struct exec_opts {
  const char *ns, *cluster;
  long long instance; /* -1: the first running */
  bool interactive, tty;
  json_t *body;
};

enum { O_INSTANCE = 256, O_CLUSTER };

static int exec_opt(int c, const char *arg, void *ctx)
{
  struct exec_opts *o = ctx;
  uint64_t n;
  switch (c) {
  case 'n': o->ns = arg; break;
  case O_CLUSTER: o->cluster = arg; break;
  case O_INSTANCE:
    if (nc_parse_u64(arg, 1000000, &n) < 0)
      return cli_usage_error("cargo exec", "invalid --instance '%s'", arg);
    o->instance = (long long)n;
    break;
  case 'i': o->interactive = true; break;
  case 't': o->tty = true; break;
  case 'e': spec_append(o->body, "env", arg); break;
  case 'u': json_object_set_new(o->body, "user", json_string(arg)); break;
  case 'w': json_object_set_new(o->body, "workdir", json_string(arg)); break;
  default: return CLI_USAGE;
  }
  return 0;
}

/* The instance to run in: number o->instance (of o->cluster), or the running one with
 * the lowest number. */
static json_t *pick_instance(json_t *cargo, const struct exec_opts *o)
{
  json_t *best = NULL, *v;
  size_t i;
  json_array_foreach (json_object_get(cargo, "instances"), i, v) {
    long long n = (long long)json_integer_value(json_object_get(v, "instance"));
    if (o->cluster && strcmp(str(v, "cluster") ?: "", o->cluster))
      continue;
    if (o->instance >= 0 ? n != o->instance : strcmp(str(v, "state") ?: "", "running"))
      continue;
    if (!best || n < (long long)json_integer_value(json_object_get(best, "instance")))
      best = v;
  }
  return best;
}

int cmd_cargo_exec(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = {
    { "namespace", required_argument, NULL, 'n' },
    { "instance", required_argument, NULL, O_INSTANCE },
    { "cluster", required_argument, NULL, O_CLUSTER },
    { "interactive", no_argument, NULL, 'i' },
    { "tty", no_argument, NULL, 't' },
    { "env", required_argument, NULL, 'e' },
    { "user", required_argument, NULL, 'u' },
    { "workdir", required_argument, NULL, 'w' },
    { NULL, 0, NULL, 0 },
  };
  struct exec_opts o = { .instance = -1, .body = json_object() };
  bool done;
  /* '+': options stop at the cargo's name; what follows is the command's. */
  int r = cli_parse(cli, "cargo exec", argc, argv, "+n:ite:u:w:", opts, exec_usage, exec_opt,
                    &o, &done);
  json_t *cmd = done ? NULL : cli_command(argc, argv, optind + 1);
  if (!done && !cmd)
    r = cli_usage_error("cargo exec", "expected NAME and COMMAND"), done = true;
  json_t *c = NULL;
  if (!done && (r = cargo_get(cli, o.ns, argv[optind], &c)))
    done = true;
  json_t *inst = done ? NULL : pick_instance(c, &o);
  if (!done && !inst) {
    if (o.instance >= 0)
      fprintf(stderr, "nanocl: cargo '%s' has no instance %lld%s%s\n", argv[optind], o.instance,
              o.cluster ? " in cluster " : "", o.cluster ? o.cluster : "");
    else
      fprintf(stderr, "nanocl: cargo '%s' has no running instance%s%s\n", argv[optind],
              o.cluster ? " in cluster " : "", o.cluster ? o.cluster : "");
    r = CLI_ERROR, done = true;
  }
  if (done) {
    json_decref(cmd);
    json_decref(o.body);
    json_decref(c);
    return r;
  }
  char id[80];
  snprintf(id, sizeof id, "%s", str(inst, "id") ?: "");
  json_decref(c);
  json_object_set_new(o.body, "cmd", cmd);
  return cli_exec(cli, o.ns, id, o.body, o.interactive, o.tty);
}
