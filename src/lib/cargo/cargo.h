/* Cargoes: replicable container specs joined to clusters, kept the way the user
 * described them by a reconcile loop.
 *
 * The API only writes the desired state (a new version of the spec, a join, a replica
 * count) in one store transaction and wakes the loop; the loop (reconcile.c, one
 * thread) compares it with the containers that exist and converges with idempotent
 * steps: create and start missing instances, restart exited ones per their restart
 * policy with exponential back-off, replace instances of an older version one at a
 * time (the new one must stay up before the old one goes; if it fails the rollout
 * stops, the old one keeps running and the cargo says why), remove instances above the
 * replica count (highest number first) and instances of cargoes or joins that are gone.
 * It runs on every change, on every instance exit, on a back-off timer, and at start
 * (which is how a restarted nanocld picks up where it was).
 *
 * Instances are containers named <namespace>-<cluster>-<cargo>-<n>, with the cargo, its
 * version and n recorded on the container row. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/err.h"
#include "runtime/container.h"
#include "store/store.h"

#define CARGO_REPLICAS_MAX 1000
/* Health check defaults (Docker's are 30 s / 30 s / 3 / 0). */
#define CARGO_HEALTH_INTERVAL_S 10
#define CARGO_HEALTH_TIMEOUT_S 5
#define CARGO_HEALTH_RETRIES 3

struct cargo_service {
  struct store *store;
  struct container_service *containers;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake;    /* signalled on every change and instance exit */
  pthread_cond_t settled; /* broadcast after every pass of the loop */
  bool dirty;             /* a change since the last pass began */
  uint64_t started;       /* passes begun */
  uint64_t passes;        /* the number of the last pass completed */
  atomic_bool stopping;
  void *restarts;         /* per-instance restart back-off (reconcile.c), loop thread only */
  bool running;
};

int cargo_service_init(struct cargo_service *svc, struct store *store,
                       struct container_service *containers, struct nc_err *err);
/* Stops the loop (instances keep running). */
void cargo_service_destroy(struct cargo_service *svc);
/* nanocld is shutting down: the loop stops after its pass, ?wait answers end (503). */
void cargo_service_cancel(struct cargo_service *svc);
/* Asks the loop for a pass (thread-safe, never blocks). Returns a ticket: the number of
 * the first pass that begins after this call (so it sees what was written before). */
uint64_t cargo_wake(struct cargo_service *svc);
/* Waits until the pass of `ticket` has finished (at most timeout_ms); false on timeout. */
bool cargo_wait_ticket(struct cargo_service *svc, uint64_t ticket, int timeout_ms);
/* cargo_wake, then waits for that pass (at most timeout_ms). */
bool cargo_wait_pass(struct cargo_service *svc, int timeout_ms);

/* API operations. A spec is the cargo's JSON (see docs/api.md "Cargoes"). */
int cargo_create(struct cargo_service *svc, const char *ns, json_t *body, json_t **out,
                 struct nc_err *err);
int cargo_list(struct cargo_service *svc, const char *ns, json_t **out, struct nc_err *err);
/* The cargo, its spec, joins, rollout state and instances (name, state, status, ip…). */
int cargo_inspect(struct cargo_service *svc, const char *ns, const char *name, json_t **out,
                  struct nc_err *err);
/* New versions of the spec. patch merges `changes` into the current spec ("env" entries
 * replace by key). *ticket (may be NULL): the pass that rolls it out (cargo_wait_ticket). */
int cargo_patch(struct cargo_service *svc, const char *ns, const char *name, json_t *changes,
                uint64_t *ticket, json_t **out, struct nc_err *err);
int cargo_scale(struct cargo_service *svc, const char *ns, const char *name, int replicas,
                uint64_t *ticket, json_t **out, struct nc_err *err);
int cargo_revert(struct cargo_service *svc, const char *ns, const char *name, int64_t version,
                 uint64_t *ticket, json_t **out, struct nc_err *err);
int cargo_history(struct cargo_service *svc, const char *ns, const char *name, json_t **out,
                  struct nc_err *err);
/* Removes the cargo and, before answering, every instance of it. */
int cargo_remove(struct cargo_service *svc, const char *ns, const char *name,
                 struct nc_err *err);
/* `cargo stop` (instances stopped and kept so; answers when they are) and `cargo start`. */
int cargo_set_stopped(struct cargo_service *svc, const char *ns, const char *name, bool stopped,
                      struct nc_err *err);
/* cluster join CLUSTER NETWORK CARGO. *ticket (may be NULL): the pass that will make its
 * instances (cargo_wait_ticket). */
int cargo_join(struct cargo_service *svc, const char *ns, const char *cluster,
               const char *network, const char *cargo, uint64_t *ticket, struct nc_err *err);
/* The cluster is going: its joins first, so the loop does not bring instances back. */
int cargo_leave_cluster(struct cargo_service *svc, const char *ns, const char *cluster,
                        struct nc_err *err);

/* A variable of `cluster` was set: every cargo joined there whose spec names it gets a
 * new version (same spec), which the loop rolls out. */
int cargo_variable_changed(struct cargo_service *svc, const char *ns, const char *cluster,
                           const char *name, struct nc_err *err);
/* NC_ERR_CONFLICT when a cargo joined to `cluster` names variable `name`. */
int cargo_variable_check_unused(struct cargo_service *svc, const char *ns, const char *cluster,
                                const char *name, struct nc_err *err);

/* spec.c: validation and what an instance's container spec is. */
/* Checks a cargo spec (all of it: `image` required). Errors name the field. */
int cargo_spec_validate(const json_t *spec, struct nc_err *err);
/* The container body of instance `n` of `cargo` in `cluster` on `network`: the spec
 * without the cargo's own fields, {{vars.NAME}} in env rendered from `vars`. */
int cargo_instance_body(const json_t *spec, const char *ns, const char *cluster,
                        const char *network, const char *cargo, int n,
                        const struct store_variable_list *vars, json_t **out,
                        struct nc_err *err);
/* Restart policy of a spec: "always" (default), "no", "on-failure[:N]". */
struct cargo_restart {
  bool always, on_failure;
  int max_retries; /* on-failure:N; 0 = no limit */
};
void cargo_restart_policy(const json_t *spec, struct cargo_restart *out);

/* health.c: whether instance `id` passes the spec's health.cmd now (exit 0 within
 * health.timeout); true when the spec has no check. */
bool cargo_health_probe(struct container_service *svc, const char *ns, const char *id,
                        const json_t *spec);
/* health.KEY of a spec when set and > 0, else `fallback`. */
int cargo_health_param(const json_t *spec, const char *key, int fallback);
