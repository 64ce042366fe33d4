/* Shared by cmd-cluster.c and cmd-cluster-sub.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

/* -n/--namespace into *(const char **)ctx. */
int cluster_ns_opt(int c, const char *arg, void *ctx);
/* "/v1/clusters[/CLUSTER[/SUB[/NAME]]]?namespace=NS", the names checked first. */
int cluster_path(const char *ns, const char *cluster, const char *sub, const char *name,
                 char *out, size_t size, struct nc_err *err);
/* A verb taking -n and `want` operands (< 0: one or more); usage errors set *done. */
int cluster_verb_parse(struct cli *cli, const char *cmd, int argc, char **argv,
                       const char *usage, const char **ns, int want, const char *operands,
                       bool *done);

int cmd_cluster_variable(struct cli *cli, int argc, char **argv);
int cmd_cluster_network(struct cli *cli, int argc, char **argv);
