/* The store of desired state. The model talks only to this interface; a backend
 * (SQLite today, PostgreSQL for several nodes later) implements `struct store_ops`.
 *
 * Every mutation runs inside one transaction:
 *   store_begin(s, STORE_TX_WRITE, &tx, err) … store_commit(tx, err)
 * and a failed step calls store_rollback(tx). A transaction belongs to one thread;
 * store_commit and store_rollback both end it and free it.
 *
 * Errors: a missing row is NC_ERR_NOT_FOUND, a uniqueness or reference violation
 * NC_ERR_CONFLICT, anything else NC_ERR_INTERNAL. Messages name the object.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define STORE_NAME_MAX 64 /* names are at most 63 bytes (model/name.h) */

struct store;
struct store_tx;

enum store_tx_mode {
  STORE_TX_READ,
  STORE_TX_WRITE,
  /* A write that need not survive a power loss, only a crash of nanocld: it records what
   * processes are doing (a container started, ended), and a power loss ends them all
   * anyway. Its commit is not fsync'd (the next STORE_TX_WRITE's fsync covers it), which
   * on this kind of disk saves 1-5 ms per container start and per exit. */
  STORE_TX_WRITE_VOLATILE,
};

struct store_namespace {
  char name[STORE_NAME_MAX];
  int64_t created_at; /* seconds since the epoch */
};

struct store_namespace_list {
  struct store_namespace *items;
  size_t len;
};

/* An image: its id is the digest of its config (as Docker). JSON texts are owned. */
struct store_image {
  char id[72];
  char manifest_digest[72];
  char index_digest[72]; /* "" unless pulled through an index */
  char os[32];
  char architecture[32];
  char variant[32];
  char created[40];
  int64_t size;      /* compressed layer bytes */
  int64_t pulled_at; /* seconds since the epoch */
  char *manifest;    /* JSON */
  char *config;      /* JSON */
  char *layers;      /* JSON array of {digest, diff_id, chain_id, size, media_type} */
  char **names;      /* sorted, NULL-terminated in memory; nnames entries */
  size_t nnames;
};

struct store_image_list {
  struct store_image *items;
  size_t len;
};

/* A container. `spec` is the API's container spec (JSON text, owned). */
struct store_container {
  char id[65];                /* 64 hex */
  char name[STORE_NAME_MAX];
  char namespace_[STORE_NAME_MAX];
  char cluster[STORE_NAME_MAX]; /* "" unless it joined a cluster of its namespace */
  char cargo[STORE_NAME_MAX];   /* "" unless it is an instance of a cargo: */
  int64_t cargo_version;        /*   of this version of the cargo's spec, */
  int instance;                 /*   instance number 1… */
  char image[512];            /* the name it was created from */
  char image_id[72];
  char state[16];             /* created, running, exited, removing */
  int64_t pid;                /* the container's init, while running */
  int64_t shim_pid;
  int exit_code;
  char exit_signal[16];
  bool oom_killed;
  char error[512];            /* why the last start failed, or "" */
  int64_t created_at, started_at, finished_at; /* seconds; 0 = never */
  char *spec;
};

struct store_container_list {
  struct store_container *items;
  size_t len;
};

/* `url`: "sqlite:///abs/path/state.db" (or a plain path, taken as SQLite).
 * Opening applies the pending schema migrations in one transaction. */
int store_open(const char *url, struct store **out, struct nc_err *err);
void store_close(struct store *s);
/* "sqlite", …: for /version. */
const char *store_backend_name(const struct store *s);
/* The schema version the store is at after opening. */
int store_schema_version(const struct store *s);

int store_begin(struct store *s, enum store_tx_mode mode, struct store_tx **tx,
                struct nc_err *err);
int store_commit(struct store_tx *tx, struct nc_err *err);
void store_rollback(struct store_tx *tx);

int store_namespace_insert(struct store_tx *tx, const struct store_namespace *ns,
                           struct nc_err *err);
int store_namespace_get(struct store_tx *tx, const char *name, struct store_namespace *out,
                        struct nc_err *err);
int store_namespace_list(struct store_tx *tx, struct store_namespace_list *out,
                         struct nc_err *err);
int store_namespace_delete(struct store_tx *tx, const char *name, struct nc_err *err);
void store_namespace_list_free(struct store_namespace_list *list);

/* Images. put replaces an image with the same id (names are kept). */
int store_image_put(struct store_tx *tx, const struct store_image *img, struct nc_err *err);
int store_image_get(struct store_tx *tx, const char *id, struct store_image *out,
                    struct nc_err *err);
int store_image_list(struct store_tx *tx, struct store_image_list *out, struct nc_err *err);
/* Removes the image and its names. */
int store_image_delete(struct store_tx *tx, const char *id, struct nc_err *err);
/* The id of the image whose name, id prefix (hex, >= 4 digits, with or without
 * "sha256:"), manifest digest or index digest is `key`: NC_ERR_NOT_FOUND, or
 * NC_ERR_CONFLICT when a prefix is ambiguous. */
int store_image_resolve(struct store_tx *tx, const char *key, char id[72], struct nc_err *err);
/* Points `name` at image `id`, taking it from another image if need be. */
int store_image_name_set(struct store_tx *tx, const char *name, const char *id,
                         struct nc_err *err);
int store_image_name_delete(struct store_tx *tx, const char *name, struct nc_err *err);
void store_image_free(struct store_image *img);
void store_image_list_free(struct store_image_list *list);

/* Containers. Names are unique within a namespace. `key` is a name in `ns`, an id,
 * or an id prefix of at least 4 hex digits (NC_ERR_CONFLICT when ambiguous). */
int store_container_insert(struct store_tx *tx, const struct store_container *c,
                           struct nc_err *err);
int store_container_get(struct store_tx *tx, const char *ns, const char *key,
                        struct store_container *out, struct nc_err *err);
/* ns NULL = every namespace. */
int store_container_list(struct store_tx *tx, const char *ns, struct store_container_list *out,
                         struct nc_err *err);
/* Writes the run-time fields (state, pids, exit, error, times) of c->id. */
int store_container_update(struct store_tx *tx, const struct store_container *c,
                           struct nc_err *err);
int store_container_delete(struct store_tx *tx, const char *id, struct nc_err *err);
/* How many containers use image `image_id` (rm of an image is refused while > 0). */
int store_container_count_image(struct store_tx *tx, const char *image_id, int *count,
                                struct nc_err *err);
void store_container_free(struct store_container *c);
void store_container_list_free(struct store_container_list *list);

/* Clusters: (namespace, name) is the key. A cluster owns its variables (removed with
 * it), its networks (a cluster with networks cannot be removed: RESTRICT) and the
 * containers that joined it (store_container.cluster). */
struct store_cluster {
  char namespace_[STORE_NAME_MAX];
  char name[STORE_NAME_MAX];
  int64_t created_at;
};

struct store_cluster_list {
  struct store_cluster *items;
  size_t len;
};

#define STORE_VAR_VALUE_MAX 4096

struct store_variable {
  char name[STORE_NAME_MAX];
  char value[STORE_VAR_VALUE_MAX];
  int64_t created_at;
};

struct store_variable_list {
  struct store_variable *items;
  size_t len;
};

int store_cluster_insert(struct store_tx *tx, const struct store_cluster *c, struct nc_err *err);
int store_cluster_get(struct store_tx *tx, const char *ns, const char *name,
                      struct store_cluster *out, struct nc_err *err);
/* ns NULL = every namespace. */
int store_cluster_list(struct store_tx *tx, const char *ns, struct store_cluster_list *out,
                       struct nc_err *err);
int store_cluster_delete(struct store_tx *tx, const char *ns, const char *name,
                         struct nc_err *err);
void store_cluster_list_free(struct store_cluster_list *list);

/* Inserts, or replaces the value of, variable `v->name` of the cluster. */
int store_variable_put(struct store_tx *tx, const char *ns, const char *cluster,
                       const struct store_variable *v, struct nc_err *err);
int store_variable_list(struct store_tx *tx, const char *ns, const char *cluster,
                        struct store_variable_list *out, struct nc_err *err);
int store_variable_delete(struct store_tx *tx, const char *ns, const char *cluster,
                          const char *name, struct nc_err *err);
void store_variable_list_free(struct store_variable_list *list);

/* A network of a cluster: a bridge, a subnet, addresses given to containers.
 * Addresses are IPv4 in host byte order. */
struct store_network {
  char id[65];
  char namespace_[STORE_NAME_MAX];
  char cluster[STORE_NAME_MAX];
  char name[STORE_NAME_MAX];
  char bridge[16];
  uint32_t subnet;
  int prefix;
  uint32_t gateway;
  int64_t created_at;
};

struct store_network_list {
  struct store_network *items;
  size_t len;
};

/* A container's place on a network, and a port it publishes. */
struct store_attachment {
  char container_id[65];
  char container_name[STORE_NAME_MAX];
  char network_id[65];
  uint32_t addr;
  char cargo[STORE_NAME_MAX]; /* "" unless the container is a cargo's instance */
};

struct store_attachment_list {
  struct store_attachment *items;
  size_t len;
};

struct store_port {
  char container_id[65];
  uint32_t host_ip; /* 0 = every address */
  uint16_t host_port;
  char proto[4];
  uint16_t port;
};

struct store_port_list {
  struct store_port *items;
  size_t len;
};

/* A network whose subnet overlaps one already stored, or whose bridge name is taken:
 * NC_ERR_CONFLICT naming the other network. */
int store_network_insert(struct store_tx *tx, const struct store_network *n,
                         struct nc_err *err);
int store_network_get(struct store_tx *tx, const char *ns, const char *cluster,
                      const char *name, struct store_network *out, struct nc_err *err);
int store_network_get_id(struct store_tx *tx, const char *id, struct store_network *out,
                         struct nc_err *err);
/* ns NULL = every network; cluster NULL = every cluster of ns. */
int store_network_list(struct store_tx *tx, const char *ns, const char *cluster,
                       struct store_network_list *out, struct nc_err *err);
/* Refused (NC_ERR_CONFLICT) while containers are attached. */
int store_network_delete(struct store_tx *tx, const char *id, struct nc_err *err);
void store_network_list_free(struct store_network_list *list);

/* Gives container `container_id` the lowest free address of the network (gateway + 1 …
 * broadcast - 1) in *addr; none left: NC_ERR_CONFLICT "network N has no address left". */
int store_attachment_add(struct store_tx *tx, const struct store_network *n,
                         const char *container_id, uint32_t *addr, struct nc_err *err);
/* network_id NULL = every attachment. Ordered by address. */
int store_attachment_list(struct store_tx *tx, const char *network_id,
                          struct store_attachment_list *out, struct nc_err *err);
/* The attachment of a container: NC_ERR_NOT_FOUND when it has none. */
int store_attachment_get(struct store_tx *tx, const char *container_id,
                         struct store_attachment *out, struct nc_err *err);
void store_attachment_list_free(struct store_attachment_list *list);

/* A host port already published (same protocol, same or any address): NC_ERR_CONFLICT
 * naming the container holding it. Ports go with their container. */
int store_port_insert(struct store_tx *tx, const struct store_port *p, struct nc_err *err);
/* container_id NULL = every published port. */
int store_port_list(struct store_tx *tx, const char *container_id, struct store_port_list *out,
                    struct nc_err *err);
void store_port_list_free(struct store_port_list *list);

/* An instance of an older version whose container is what the current version asks for
 * (only replicas changed, say) is taken as it is: its version is brought up to date. */
int store_container_set_version(struct store_tx *tx, const char *id, int64_t version,
                                struct nc_err *err);
/* Renames container `id` (a cargo instance taking its slot's name after a rollout). */
int store_container_rename(struct store_tx *tx, const char *id, const char *name,
                           struct nc_err *err);

/* Cargoes: (namespace, name) is the key. Every change of the spec is a new version
 * (1, 2, …; never reused); `version` is the one wanted now. `rollout` says how its last
 * rollout went ("" = converged, else why it stopped). */
struct store_cargo {
  char namespace_[STORE_NAME_MAX];
  char name[STORE_NAME_MAX];
  int64_t version;
  char rollout[512];
  bool stopped; /* `cargo stop`: instances stay stopped until `cargo start` */
  int64_t created_at, updated_at;
  char *spec; /* the spec of `version` (JSON text, owned) */
};

struct store_cargo_list {
  struct store_cargo *items;
  size_t len;
};

struct store_cargo_version {
  int64_t version;
  int64_t created_at;
  char note[128];
  char *spec;
};

struct store_cargo_version_list {
  struct store_cargo_version *items;
  size_t len;
};

struct store_join {
  char namespace_[STORE_NAME_MAX];
  char cargo[STORE_NAME_MAX];
  char cluster[STORE_NAME_MAX];
  char network[STORE_NAME_MAX];
};

struct store_join_list {
  struct store_join *items;
  size_t len;
};

/* Inserts the cargo with c->spec as version 1. */
int store_cargo_insert(struct store_tx *tx, const struct store_cargo *c, struct nc_err *err);
int store_cargo_get(struct store_tx *tx, const char *ns, const char *name,
                    struct store_cargo *out, struct nc_err *err);
/* ns NULL = every namespace. */
int store_cargo_list(struct store_tx *tx, const char *ns, struct store_cargo_list *out,
                     struct nc_err *err);
int store_cargo_delete(struct store_tx *tx, const char *ns, const char *name,
                       struct nc_err *err);
/* A new version with `spec` becomes the wanted one; its number in *version. */
int store_cargo_new_version(struct store_tx *tx, const char *ns, const char *name,
                            const char *spec, const char *note, int64_t *version,
                            struct nc_err *err);
int store_cargo_set_stopped(struct store_tx *tx, const char *ns, const char *name, bool stopped,
                            struct nc_err *err);
int store_cargo_set_rollout(struct store_tx *tx, const char *ns, const char *name,
                            const char *rollout, struct nc_err *err);
/* Versions newest first; *spec of each owned. */
int store_cargo_history(struct store_tx *tx, const char *ns, const char *name,
                        struct store_cargo_version_list *out, struct nc_err *err);
void store_cargo_free(struct store_cargo *c);
void store_cargo_list_free(struct store_cargo_list *list);
void store_cargo_version_list_free(struct store_cargo_version_list *list);

/* Joins: a cargo in a cluster, on one of its networks (one network per cluster). */
int store_join_put(struct store_tx *tx, const struct store_join *j, struct nc_err *err);
/* cargo NULL: every join of the namespace (ns NULL: of every namespace); cluster NULL:
 * of every cluster. */
int store_join_list(struct store_tx *tx, const char *ns, const char *cargo, const char *cluster,
                    struct store_join_list *out, struct nc_err *err);
/* Removes the joins of cluster `cluster` (every cargo) of `ns`. */
int store_join_delete_cluster(struct store_tx *tx, const char *ns, const char *cluster,
                              struct nc_err *err);
void store_join_list_free(struct store_join_list *list);
