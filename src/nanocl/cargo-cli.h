/* Shared by cmd-cargo.c, cmd-cargo-io.c and cmd-run.c (helpers in cargo-opts.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* "/v1/cargoes[/NAME[/ACTION]]?namespace=NS[&QUERY]", the names checked first. */
int cargo_path(const char *ns, const char *name, const char *action, const char *query,
               char *out, size_t size, struct nc_err *err);
/* GET the cargo into *out; on failure prints the error and returns CLI_ERROR. */
int cargo_get(struct cli *cli, const char *ns, const char *name, json_t **out);

/* The options of cargo create, cargo patch and run that fill a cargo spec. */
struct cargo_opts {
  const char *cmd; /* "cargo create", for messages */
  bool run;        /* run: --cluster and --network too */
  const char *ns, *cluster, *network;
  json_t *spec;   /* the fields given */
  json_t *health; /* the --health-* given (folded into spec.health by the caller) */
};

#define CARGO_SHORTOPTS "n:e:v:p:m:w:u:"
extern const struct option cargo_longopts[];
/* cli_parse's on_opt for cargo_longopts; ctx is a struct cargo_opts. */
int cargo_opt(int c, const char *arg, void *ctx);

/* The POST /v1/cargoes body of create and run: the spec with the health options, the
 * name, the command argv[first..]. Returns 0 (o->spec moved to *out), or an exit code
 * (usage error printed). */
int cargo_create_body(struct cargo_opts *o, const char *name, int argc, char **argv, int first,
                      json_t **out);

#define CARGO_SPEC_HELP                                                                        \
  "  -n, --namespace NS       namespace (default global)\n"                                   \
  "      --image IMAGE        the image of the instances\n"                                   \
  "  -e, --env K=V            environment variable (repeatable; {{vars.NAME}} is the\n"      \
  "                           cluster's variable NAME)\n"                                     \
  "      --replicas N         number of instances per joined cluster (default 1)\n"           \
  "  -v, --bind H:C[:ro]      bind a host path (repeatable; also --volume)\n"                 \
  "      --hostname H, --domainname D\n"                                                      \
  "      --dns-entry IP:DOMAIN  a name the network's DNS answers\n"                           \
  "  -p, --publish [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]\n"                                 \
  "                           publish a port on the host (repeatable; replicas 1)\n"          \
  "  -m, --memory SIZE        memory limit (e.g. 256m)\n"                                     \
  "      --cpus N             CPU limit (e.g. 0.5)\n"                                         \
  "      --pids-limit N       most processes (-1: no limit)\n"                                \
  "  -w, --workdir DIR, -u, --user USER\n"                                                    \
  "      --restart POLICY     always (default), no, on-failure[:N]\n"                         \
  "      --health-cmd CMD     health check, run with sh -c in the instance\n"                 \
  "      --health-interval S, --health-timeout S, --health-start-period S\n"                  \
  "                           seconds (or 30s, 5m, 1h)\n"                                     \
  "      --health-retries N   failures before an instance is unhealthy\n"                     \
  "      --label K=V          label (repeatable)\n"                                           \
  "      --pull POLICY        always, if-not-present (default) or never\n"                    \
  "      --entrypoint CMD     override the image's entrypoint ('' clears it)\n"

/* The CARGO, CONTAINERS (and ROLLOUT) tables of cargo inspect and run. */
void cargo_print_inspect(json_t *cargo);
/* The wanted replicas of a cargo document (spec.replicas, default 1). */
long long cargo_replicas(json_t *cargo);

/* Streams the output of one instance, each line prefixed "NAME | " (cmd-cargo-io.c);
 * `to_stderr`: stdout lines too. tail < 0: all. Returns 0 or -1 (err set). */
int cargo_instance_logs(struct nc_client *client, const char *ns, const char *id,
                        const char *name, bool follow, long long tail, bool to_stderr,
                        struct nc_err *err);

/* cargo logs and cargo exec (cmd-cargo-io.c). */
int cmd_cargo_logs(struct cli *cli, int argc, char **argv);
int cmd_cargo_exec(struct cli *cli, int argc, char **argv);
