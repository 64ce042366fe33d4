/* The reconcile loop: one thread makes the cargoes' instances match their specs.
 * See cargo.h for what a pass does. Only this thread creates, starts, renames and
 * removes instances, so a pass never races another; the API only writes the store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "cargo/cargo.h"
#include "net/service.h"

#define IDLE_PASS_MS 30000      /* a pass at least this often, changes or not */
#define BACKOFF_FIRST_MS 500    /* first restart delay, doubled each time … */
#define BACKOFF_MAX_MS 30000    /* … up to this */
#define BACKOFF_RESET_S 10      /* an instance that ran this long starts over at the first */
#define MIN_READY_MS 1000       /* a new instance must stay up this long before the old goes */

/* Restart bookkeeping of one instance (by container id), loop thread only. */
struct backoff {
  char id[65];
  int count;
  uint64_t next_ms;        /* monotonic */
  int health_failures;     /* consecutive failed health checks */
  uint64_t health_next_ms; /* next check (0: not scheduled yet) */
  struct backoff *next;
};

static uint64_t now_ms(void)
{
  return nc_time_mono_ns() / 1000000;
}

static struct backoff *backoff_of(struct cargo_service *svc, const char *id)
{
  for (struct backoff *b = svc->restarts; b; b = b->next)
    if (!strcmp(b->id, id))
      return b;
  struct backoff *b = calloc(1, sizeof *b);
  if (!b)
    return NULL;
  snprintf(b->id, sizeof b->id, "%s", id);
  b->next = svc->restarts;
  svc->restarts = b;
  return b;
}

static void backoff_forget(struct cargo_service *svc, const char *id)
{
  for (struct backoff **p = (struct backoff **)&svc->restarts; *p; p = &(*p)->next)
    if (!strcmp((*p)->id, id)) {
      struct backoff *b = *p;
      *p = b->next;
      free(b);
      return;
    }
}

/* What one pass looks at. */
/* A new instance in a slot that has nothing else: these are started in parallel at the
 * end of a cargo's pass (scale-up, first start), as many at once as the container
 * service lets start (2 per CPU). */
struct fresh_job {
  const struct store_cargo *c;
  const json_t *spec;
  const struct store_join *j;
  int n;
};

#define FRESH_JOBS_MAX CARGO_REPLICAS_MAX

struct world {
  struct store_cargo_list cargoes;
  struct store_join_list joins;
  struct store_container_list ctrs;
  uint64_t wake_ms; /* earliest back-off deadline seen (0: none) */
  struct fresh_job *jobs; /* FRESH_JOBS_MAX */
  size_t njobs;
  atomic_size_t next_job;
  struct cargo_service *svc;
};

static int load(struct cargo_service *svc, struct world *w, struct nc_err *err)
{
  struct store_tx *tx;
  memset(w, 0, sizeof *w);
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_cargo_list(tx, NULL, &w->cargoes, err);
  if (r == 0)
    r = store_join_list(tx, NULL, NULL, NULL, &w->joins, err);
  if (r == 0)
    r = store_container_list(tx, NULL, &w->ctrs, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  return r;
}

static void unload(struct world *w)
{
  store_cargo_list_free(&w->cargoes);
  store_join_list_free(&w->joins);
  store_container_list_free(&w->ctrs);
}

static void set_rollout(struct cargo_service *svc, const struct store_cargo *c, const char *text)
{
  if (!strcmp(c->rollout, text))
    return;
  struct store_tx *tx;
  struct nc_err err = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, &err) == 0) {
    if (store_cargo_set_rollout(tx, c->namespace_, c->name, text, &err) < 0)
      store_rollback(tx);
    else
      store_commit(tx, &err);
  }
  if (text[0])
    nc_log(NC_LOG_WARN, "cargo %s/%s: %s", c->namespace_, c->name, text);
}

/* Thread-safe: the back-off bookkeeping is the caller's (remove_instance). */
static void remove_container(struct cargo_service *svc, const struct store_container *ct,
                             const char *why)
{
  struct nc_err err = NC_ERR_INIT;
  nc_log(NC_LOG_INFO, "cargo %s: removing %s (%s)", ct->cargo, ct->name, why);
  if (container_remove(svc->containers, ct->namespace_, ct->id, true, &err) < 0 &&
      err.kind != NC_ERR_NOT_FOUND)
    nc_log(NC_LOG_WARN, "cargo %s: cannot remove %s: %s", ct->cargo, ct->name, err.msg);
}

static void remove_instance(struct cargo_service *svc, const struct store_container *ct,
                            const char *why)
{
  remove_container(svc, ct, why);
  backoff_forget(svc, ct->id);
}

/* Gives instance `id` the name `name`, and its network's DNS the new name. */
static bool rename_instance(struct cargo_service *svc, const struct store_container *ct,
                            const char *name)
{
  struct store_tx *tx;
  struct store_attachment a = { 0 };
  struct nc_err err = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, &err) < 0)
    return false;
  if (store_container_rename(tx, ct->id, name, &err) < 0) {
    store_rollback(tx);
    nc_log(NC_LOG_WARN, "cargo %s: cannot rename %s: %s", ct->cargo, ct->name, err.msg);
    return false;
  }
  if (store_attachment_get(tx, ct->id, &a, &(struct nc_err)NC_ERR_INIT) < 0)
    a.network_id[0] = '\0';
  if (store_commit(tx, &err) < 0)
    return false;
  if (a.network_id[0])
    net_refresh(svc->containers->net, a.network_id, false, &err);
  return true;
}

/* `fresh` replaces the `olds` of its slot. The slot's name passes to it before they are
 * removed (the one holding it takes its version's name first): the slot is never listed
 * under a temporary name alone, nor without its name. */
static void replace_in_slot(struct cargo_service *svc, const struct store_container *const *olds,
                            size_t nold, const struct store_container *fresh, const char *canon)
{
  bool named = !strcmp(fresh->name, canon);
  const struct store_container *holder = NULL;
  for (size_t i = 0; i < nold && !named; i++)
    if (!strcmp(olds[i]->name, canon))
      holder = olds[i];
  if (!named && holder) {
    char retired[300];
    snprintf(retired, sizeof retired, "%.200s-v%lld", canon, (long long)holder->cargo_version);
    named = rename_instance(svc, holder, retired) && rename_instance(svc, fresh, canon);
  } else if (!named) {
    named = rename_instance(svc, fresh, canon);
  }
  for (size_t i = 0; i < nold; i++)
    remove_instance(svc, olds[i], "replaced by a newer version");
  if (!named)
    rename_instance(svc, fresh, canon);
}

/* The state of container `id` now ("" when it is gone). */
static void state_now(struct cargo_service *svc, const char *id, char state[16], int *code)
{
  struct store_container c;
  state[0] = '\0';
  if (container_load(svc->containers, "global", id, &c, &(struct nc_err)NC_ERR_INIT) == 0) {
    snprintf(state, 16, "%s", c.state);
    *code = c.exit_code;
    store_container_free(&c);
  }
}

/* The image of a new instance, per the pull policy: if-not-present (default) pulls it
 * when the store lacks it, always pulls it for every new instance (a moved tag is
 * followed), never only uses what is there. */
static int ensure_image(struct cargo_service *svc, const struct store_cargo *c,
                        const json_t *spec, struct nc_err *err)
{
  const char *ref = json_string_value(json_object_get(spec, "image"));
  const char *policy = json_string_value(json_object_get(spec, "pull_policy"));
  json_t *img = NULL;
  struct nc_err missing = NC_ERR_INIT;
  bool have = image_inspect(svc->containers->images, ref, &img, &missing) == 0;
  json_decref(img);
  if (policy && !strcmp(policy, "never"))
    return have ? 0 : nc_err_set(err, NC_ERR_NOT_FOUND,
                                 "image '%.200s' is not here and the pull policy is never", ref);
  if (have && !(policy && !strcmp(policy, "always")))
    return 0;
  nc_log(NC_LOG_INFO, "cargo %s/%s: pulling %s", c->namespace_, c->name, ref);
  if (image_pull(svc->containers->images, ref, NULL, NULL, NULL, NULL, err) < 0)
    return nc_err_wrap(err, "pulling %.200s", ref);
  return 0;
}

/* Creates and starts instance n of version `version`; *id gets its id. A failure leaves
 * no container behind when `keep_failed` is false. */
static int start_new(struct cargo_service *svc, const struct store_cargo *c, const json_t *spec,
                     const struct store_join *j, int n, const char *name, char id[65],
                     struct nc_err *err)
{
  struct store_tx *tx;
  struct store_variable_list vars = { 0 };
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_variable_list(tx, c->namespace_, j->cluster, &vars, err);
  store_commit(tx, &(struct nc_err)NC_ERR_INIT);
  json_t *body = NULL, *out = NULL;
  if (r == 0)
    r = cargo_instance_body(spec, c->namespace_, j->cluster, j->network, c->name, n, &vars,
                            &body, err);
  store_variable_list_free(&vars);
  if (r == 0)
    json_object_set_new(body, "name", json_string(name));
  struct container_owner owner = { c->name, c->version, n };
  if (r == 0)
    r = ensure_image(svc, c, spec, err);
  if (r == 0)
    r = container_create_owned(svc->containers, c->namespace_, body, &owner, &out, err);
  json_decref(body);
  if (r < 0)
    return -1;
  snprintf(id, 65, "%s", json_string_value(json_object_get(out, "id")));
  json_decref(out);
  nc_log(NC_LOG_INFO, "cargo %s/%s: instance %d of version %lld: %s", c->namespace_, c->name, n,
         (long long)c->version, name);
  return container_start(svc->containers, c->namespace_, id, err);
}

/* Whether the exited instance `ct` is to be started again now, per the restart policy
 * and its back-off. */
static bool restart_due(struct cargo_service *svc, struct world *w, const json_t *spec,
                        const struct store_container *ct)
{
  struct cargo_restart p;
  cargo_restart_policy(spec, &p);
  if (!strcmp(ct->state, "created"))
    return true;
  if (!p.always && !(p.on_failure && ct->exit_code != 0))
    return false;
  struct backoff *b = backoff_of(svc, ct->id);
  if (!b)
    return false;
  if (ct->finished_at - ct->started_at >= BACKOFF_RESET_S)
    b->count = 0;
  if (p.on_failure && p.max_retries && b->count >= p.max_retries)
    return false;
  uint64_t now = now_ms();
  if (b->next_ms == 0) {
    unsigned shift = b->count < 10 ? (unsigned)b->count : 10;
    uint64_t delay = (uint64_t)BACKOFF_FIRST_MS << shift;
    b->next_ms = now + (delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay);
  }
  if (now < b->next_ms) {
    if (!w->wake_ms || b->next_ms < w->wake_ms)
      w->wake_ms = b->next_ms;
    return false;
  }
  b->count++;
  b->next_ms = 0;
  return true;
}

/* Waits for a new instance to prove itself: up for MIN_READY_MS, or with a health
 * check, passing it within start_period + interval × retries. False if it ended or never
 * became healthy. */
static bool stays_up(struct cargo_service *svc, const char *ns, const char *id,
                     const json_t *spec, int *code)
{
  char state[16];
  bool health = json_object_get(spec, "health") != NULL;
  int limit = MIN_READY_MS;
  if (health)
    limit = 1000 * (cargo_health_param(spec, "start_period", 0) +
                    cargo_health_param(spec, "interval", CARGO_HEALTH_INTERVAL_S) *
                      cargo_health_param(spec, "retries", CARGO_HEALTH_RETRIES));
  for (int waited = 0; waited < limit; waited += 100) {
    if (atomic_load(&svc->stopping))
      return false;
    usleep(100 * 1000);
    state_now(svc, id, state, code);
    if (strcmp(state, "running"))
      return false;
    /* Checked every half second here: a rollout should not wait a whole interval. */
    if (health && waited % 500 == 0 && cargo_health_probe(svc->containers, ns, id, spec))
      return true;
  }
  return !health;
}

/* A running instance with a health check: checked every interval; after `retries`
 * failures in a row it is unhealthy and goes (a new one takes its slot). */
static bool healthy(struct cargo_service *svc, struct world *w, const json_t *spec,
                    const struct store_container *ct)
{
  if (!json_object_get(spec, "health"))
    return true;
  struct backoff *b = backoff_of(svc, ct->id);
  if (!b)
    return true;
  uint64_t now = now_ms();
  if (b->health_next_ms == 0)
    b->health_next_ms = now + 1000u * (unsigned)cargo_health_param(spec, "start_period", 0);
  if (now >= b->health_next_ms) {
    if (cargo_health_probe(svc->containers, ct->namespace_, ct->id, spec))
      b->health_failures = 0;
    else
      b->health_failures++;
    b->health_next_ms =
      now + 1000u * (unsigned)cargo_health_param(spec, "interval", CARGO_HEALTH_INTERVAL_S);
  }
  if (!w->wake_ms || b->health_next_ms < w->wake_ms)
    w->wake_ms = b->health_next_ms;
  return b->health_failures < cargo_health_param(spec, "retries", CARGO_HEALTH_RETRIES);
}

/* One slot (cargo, cluster, instance n). Returns false when the rollout stopped here. */
/* Whether instance `ct` (of another version) is the container `desired` describes: same
 * image and spec. Then a new version that changed only what is not the container's
 * (replicas, a revert to the same spec) replaces nothing. */
static bool same_container(const struct store_container *ct, const json_t *spec,
                           const json_t *desired, const struct store_cargo_version_list *hist)
{
  if (!desired || strcmp(ct->image, json_string_value(json_object_get(spec, "image")) ?: ""))
    return false;
  /* The cargo's own fields too (a new health check must be proven by a new instance):
   * the instance's version and the current one may differ in replicas only. */
  json_t *then = NULL;
  for (size_t i = 0; hist && i < hist->len && !then; i++)
    if (hist->items[i].version == ct->cargo_version)
      then = json_loads(hist->items[i].spec, 0, NULL);
  json_t *now = json_deep_copy(spec);
  json_object_del(now, "replicas");
  json_object_del(then, "replicas");
  bool same_cargo = then && json_equal(now, then);
  json_decref(then);
  json_decref(now);
  if (!same_cargo)
    return false;
  json_t *want = json_deep_copy(desired), *have = json_loads(ct->spec, 0, NULL);
  json_object_del(want, "name");
  json_object_del(want, "image");
  bool same = have && json_equal(want, have);
  json_decref(want);
  json_decref(have);
  return same;
}

static void adopt(struct cargo_service *svc, struct store_container *ct, int64_t version)
{
  struct store_tx *tx;
  struct nc_err err = NC_ERR_INIT;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, &err) < 0)
    return;
  if (store_container_set_version(tx, ct->id, version, &err) < 0) {
    store_rollback(tx);
    return;
  }
  if (store_commit(tx, &err) == 0)
    ct->cargo_version = version;
}

static bool converge_slot(struct cargo_service *svc, struct world *w, const struct store_cargo *c,
                          const json_t *spec, const json_t *desired,
                          const struct store_cargo_version_list *hist,
                          const struct store_join *j, int n, bool failed)
{
  char canon[256];
  snprintf(canon, sizeof canon, "%s-%s-%s-%d", c->namespace_, j->cluster, c->name, n);
  const struct store_container *cur = NULL, *olds[8];
  size_t nold = 0;
  for (size_t i = 0; i < w->ctrs.len; i++) {
    struct store_container *ct = &w->ctrs.items[i];
    if (strcmp(ct->cargo, c->name) || strcmp(ct->namespace_, c->namespace_) ||
        strcmp(ct->cluster, j->cluster) || ct->instance != n)
      continue;
    if (ct->cargo_version != c->version && !cur && same_container(ct, spec, desired, hist))
      adopt(svc, ct, c->version);
    if (ct->cargo_version == c->version && !cur)
      cur = ct;
    else if (nold < 8)
      olds[nold++] = ct;
    else
      remove_instance(svc, ct, "a surplus instance of its slot");
  }
  struct nc_err err = NC_ERR_INIT;
  if (cur && !strcmp(cur->state, "running")) {
    if (!nold && !healthy(svc, w, spec, cur)) {
      nc_log(NC_LOG_WARN, "cargo %s: %s is unhealthy (%d checks failed): replacing it",
             c->name, cur->name, cargo_health_param(spec, "retries", CARGO_HEALTH_RETRIES));
      remove_instance(svc, cur, "unhealthy");
      return true; /* the next pass makes a new one */
    }
    replace_in_slot(svc, olds, nold, cur, canon);
    return true;
  }
  if (cur && nold && !strcmp(cur->state, "created")) {
    /* Made but never started (nanocld stopped in between): made again below, and
     * proven before the old one goes. */
    remove_instance(svc, cur, "an unfinished replacement");
    cur = NULL;
  }
  if (cur && nold) {
    /* A new instance that is not up while an old one serves: the rollout failed. */
    char why[400];
    snprintf(why, sizeof why, "rollout of version %lld stopped: instance %d %s (exit %d)%s%.200s",
             (long long)c->version, n, cur->state, cur->exit_code, cur->error[0] ? ": " : "",
             cur->error);
    set_rollout(svc, c, why);
    remove_instance(svc, cur, "its rollout failed");
    cur = NULL;
    failed = true;
  }
  if (cur) { /* exited or created, and nothing older: the restart policy decides */
    if (restart_due(svc, w, spec, cur)) {
      nc_log(NC_LOG_INFO, "cargo %s: restarting %s", c->name, cur->name);
      if (container_start(svc->containers, c->namespace_, cur->id, &err) < 0)
        nc_log(NC_LOG_WARN, "cargo %s: %s: %s", c->name, cur->name, err.msg);
    }
    return true;
  }
  /* No instance of this version in the slot. */
  if (nold) {
    for (size_t i = 0; i < nold; i++) /* the old ones go on serving meanwhile */
      if (strcmp(olds[i]->state, "running") && restart_due(svc, w, spec, olds[i]))
        container_start(svc->containers, c->namespace_, olds[i]->id, &err);
    if (failed)
      return false;
    /* A host port is one container's at a time: with published ports the old instance
     * goes first (stop-first, a short gap), the new one takes its place and its name. */
    if (json_array_size(json_object_get(spec, "publish"))) {
      for (size_t i = 0; i < nold; i++)
        remove_instance(svc, olds[i], "replaced (stop-first: it publishes ports)");
      nold = 0;
    }
  }
  if (!nold && w->jobs && w->njobs < FRESH_JOBS_MAX) {
    w->jobs[w->njobs++] = (struct fresh_job){ c, spec, j, n };
    if (json_object_get(spec, "health") && (!w->wake_ms || w->wake_ms > now_ms() + 100))
      w->wake_ms = now_ms() + 100; /* its health checks are scheduled by the next pass */
    return true;
  }
  char name[300], id[65] = "";
  if (nold)
    snprintf(name, sizeof name, "%.200s-v%lld", canon, (long long)c->version);
  else
    snprintf(name, sizeof name, "%s", canon);
  if (start_new(svc, c, spec, j, n, name, id, &err) < 0) {
    char why[400];
    snprintf(why, sizeof why, "version %lld, instance %d: %.300s", (long long)c->version, n,
             err.msg);
    set_rollout(svc, c, why);
    if (nold && id[0]) {
      struct store_container gone = { 0 };
      snprintf(gone.id, sizeof gone.id, "%s", id);
      snprintf(gone.name, sizeof gone.name, "%.63s", name);
      snprintf(gone.namespace_, sizeof gone.namespace_, "%s", c->namespace_);
      snprintf(gone.cargo, sizeof gone.cargo, "%s", c->name);
      remove_instance(svc, &gone, "its rollout failed");
    }
    return !nold; /* with nothing older, the restart policy tries again later */
  }
  if (!nold) {
    /* Its health checks are scheduled by the next pass. */
    if (json_object_get(spec, "health") && (!w->wake_ms || w->wake_ms > now_ms() + 100))
      w->wake_ms = now_ms() + 100;
    return true;
  }
  int code = 0;
  struct store_container fresh = { 0 };
  snprintf(fresh.id, sizeof fresh.id, "%s", id);
  snprintf(fresh.name, sizeof fresh.name, "%.63s", name);
  snprintf(fresh.namespace_, sizeof fresh.namespace_, "%s", c->namespace_);
  snprintf(fresh.cargo, sizeof fresh.cargo, "%s", c->name);
  if (!stays_up(svc, c->namespace_, id, spec, &code)) {
    char why[400];
    snprintf(why, sizeof why,
             "rollout of version %lld stopped: instance %d %s; the previous version keeps "
             "running",
             (long long)c->version, n,
             json_object_get(spec, "health") ? "never passed its health check"
                                             : "exited within its first second");
    set_rollout(svc, c, why);
    remove_instance(svc, &fresh, "its rollout failed");
    return false;
  }
  replace_in_slot(svc, olds, nold, &fresh, canon);
  return true;
}

static bool joined(const struct world *w, const struct store_container *ct)
{
  for (size_t i = 0; i < w->joins.len; i++)
    if (!strcmp(w->joins.items[i].namespace_, ct->namespace_) &&
        !strcmp(w->joins.items[i].cargo, ct->cargo) &&
        !strcmp(w->joins.items[i].cluster, ct->cluster))
      return true;
  return false;
}

static void *fresh_worker(void *arg)
{
  struct world *w = arg;
  for (;;) {
    size_t k = atomic_fetch_add(&w->next_job, 1);
    if (k >= w->njobs || atomic_load(&w->svc->stopping))
      return NULL;
    const struct fresh_job *job = &w->jobs[k];
    char name[256], id[65] = "";
    struct nc_err err = NC_ERR_INIT;
    snprintf(name, sizeof name, "%s-%s-%s-%d", job->c->namespace_, job->j->cluster,
             job->c->name, job->n);
    if (start_new(w->svc, job->c, job->spec, job->j, job->n, name, id, &err) < 0) {
      char why[400];
      snprintf(why, sizeof why, "version %lld, instance %d: %.300s", (long long)job->c->version,
               job->n, err.msg);
      set_rollout(w->svc, job->c, why); /* the restart policy tries again later */
    }
  }
}

/* Runs the queued fresh instances, several at once. */
static void run_fresh_jobs(struct cargo_service *svc, struct world *w)
{
  if (!w->njobs)
    return;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t nthreads = (size_t)(cpus > 0 ? cpus * 2 : 2);
  if (nthreads > w->njobs)
    nthreads = w->njobs;
  pthread_t threads[64];
  if (nthreads > 64)
    nthreads = 64;
  atomic_store(&w->next_job, 0);
  w->svc = svc;
  size_t started = 0;
  for (; nthreads > 1 && started < nthreads; started++) /* one job: this thread */
    if (pthread_create(&threads[started], NULL, fresh_worker, w) != 0)
      break;
  if (started == 0)
    fresh_worker(w); /* no thread: this one does them all */
  for (size_t i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  w->njobs = 0;
}

struct removal {
  struct cargo_service *svc;
  const struct store_container *const *list;
  size_t n;
  atomic_size_t next;
  const char *why;
};

static void *remove_worker(void *arg)
{
  struct removal *r = arg;
  for (size_t k; (k = atomic_fetch_add(&r->next, 1)) < r->n;)
    remove_container(r->svc, r->list[k], r->why);
  return NULL;
}

/* Removes instances, a few at once (each waits for its stop and a runtime call), in
 * the order given: workers take them from the front. */
static void remove_many(struct cargo_service *svc, const struct store_container *const *list,
                        size_t n, const char *why)
{
  struct removal r = { svc, list, n, 0, why };
  pthread_t threads[8];
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t want = (size_t)(cpus > 0 ? cpus * 2 : 2), started = 0;
  if (want > 8)
    want = 8;
  if (want > n)
    want = n;
  for (; started < want; started++)
    if (pthread_create(&threads[started], NULL, remove_worker, &r) != 0)
      break;
  remove_worker(&r); /* this thread helps too */
  for (size_t i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  for (size_t i = 0; i < n; i++)
    backoff_forget(svc, list[i]->id);
}

static int by_instance_desc(const void *a, const void *b)
{
  const struct store_container *x = *(const struct store_container *const *)a;
  const struct store_container *y = *(const struct store_container *const *)b;
  return y->instance - x->instance;
}

static void converge_cargo(struct cargo_service *svc, struct world *w, const struct store_cargo *c)
{
  if (c->stopped) { /* `cargo stop`: its instances stay, stopped */
    for (size_t i = 0; i < w->ctrs.len; i++) {
      const struct store_container *ct = &w->ctrs.items[i];
      struct nc_err err = NC_ERR_INIT;
      if (!strcmp(ct->cargo, c->name) && !strcmp(ct->namespace_, c->namespace_) &&
          !strcmp(ct->state, "running") &&
          container_stop(svc->containers, ct->namespace_, ct->id, -1, &err) < 0)
        nc_log(NC_LOG_WARN, "cargo %s: stopping %s: %s", c->name, ct->name, err.msg);
    }
    return;
  }
  json_t *spec = json_loads(c->spec, 0, NULL);
  if (!spec)
    return;
  json_t *rv = json_object_get(spec, "replicas");
  int replicas = rv ? (int)json_integer_value(rv) : 1;
  /* A failed rollout of this version is not retried: a new version (patch, revert) is. */
  char mark[64];
  snprintf(mark, sizeof mark, "version %lld", (long long)c->version);
  bool failed = strstr(c->rollout, "rollout of") && strstr(c->rollout, mark);
  bool ok = true;
  for (size_t k = 0; k < w->joins.len; k++) {
    const struct store_join *j = &w->joins.items[k];
    if (strcmp(j->namespace_, c->namespace_) || strcmp(j->cargo, c->name))
      continue;
    /* What an instance's container is now (instance 1's; only its name differs from
     * slot to slot): NULL when it cannot be rendered (a start then says why). */
    struct store_tx *tx;
    struct store_variable_list vars = { 0 };
    json_t *desired = NULL;
    struct nc_err err = NC_ERR_INIT;
    if (store_begin(svc->store, STORE_TX_READ, &tx, &err) == 0) {
      if (store_variable_list(tx, c->namespace_, j->cluster, &vars, &err) == 0)
        cargo_instance_body(spec, c->namespace_, j->cluster, j->network, c->name, 1, &vars,
                            &desired, &err);
      store_commit(tx, &err);
    }
    store_variable_list_free(&vars);
    /* The specs of older versions, when instances of them are there to compare. */
    struct store_cargo_version_list hist = { 0 };
    bool older = false;
    for (size_t i = 0; i < w->ctrs.len && !older; i++)
      older = !strcmp(w->ctrs.items[i].cargo, c->name) &&
              !strcmp(w->ctrs.items[i].namespace_, c->namespace_) &&
              w->ctrs.items[i].cargo_version != c->version;
    if (older && store_begin(svc->store, STORE_TX_READ, &tx, &err) == 0) {
      store_cargo_history(tx, c->namespace_, c->name, &hist, &err);
      store_commit(tx, &err);
    }
    for (int n = 1; n <= replicas && !atomic_load(&svc->stopping); n++)
      if (!converge_slot(svc, w, c, spec, desired, &hist, j, n, failed)) {
        ok = false;
        failed = true;
      }
    run_fresh_jobs(svc, w);
    json_decref(desired);
    store_cargo_version_list_free(&hist);
    /* Above the replica count: the highest numbers go first. */
    const struct store_container *extra[CARGO_REPLICAS_MAX];
    size_t nextra = 0;
    for (size_t i = 0; i < w->ctrs.len && nextra < CARGO_REPLICAS_MAX; i++) {
      const struct store_container *ct = &w->ctrs.items[i];
      if (!strcmp(ct->cargo, c->name) && !strcmp(ct->namespace_, c->namespace_) &&
          !strcmp(ct->cluster, j->cluster) && ct->instance > replicas)
        extra[nextra++] = ct;
    }
    qsort(extra, nextra, sizeof *extra, by_instance_desc);
    remove_many(svc, extra, nextra, "scaled down");
  }
  if (ok && !failed && c->rollout[0])
    set_rollout(svc, c, "");
  json_decref(spec);
}

static uint64_t pass(struct cargo_service *svc)
{
  struct world w;
  struct nc_err err = NC_ERR_INIT;
  if (load(svc, &w, &err) < 0) {
    nc_log(NC_LOG_ERROR, "reconcile: %s", err.msg);
    unload(&w);
    return now_ms() + 1000;
  }
  w.jobs = calloc(FRESH_JOBS_MAX, sizeof *w.jobs); /* NULL: fresh instances one by one */
  /* Instances of cargoes, or of joins, that are no more. */
  const struct store_container **orphans = calloc(w.ctrs.len + 1, sizeof *orphans);
  size_t norphans = 0;
  for (size_t i = 0; orphans && i < w.ctrs.len; i++)
    if (w.ctrs.items[i].cargo[0] && !joined(&w, &w.ctrs.items[i]))
      orphans[norphans++] = &w.ctrs.items[i];
  remove_many(svc, orphans, norphans, "its cargo or join is gone");
  free(orphans);
  for (size_t i = 0; i < w.cargoes.len && !atomic_load(&svc->stopping); i++) {
    converge_cargo(svc, &w, &w.cargoes.items[i]);
    /* Later cargoes see what this one did. */
    if (i + 1 < w.cargoes.len) {
      store_container_list_free(&w.ctrs);
      struct store_tx *tx;
      if (store_begin(svc->store, STORE_TX_READ, &tx, &err) == 0) {
        store_container_list(tx, NULL, &w.ctrs, &err);
        store_commit(tx, &err);
      }
    }
  }
  uint64_t wake = w.wake_ms;
  free(w.jobs);
  unload(&w);
  return wake;
}

static void *loop(void *arg)
{
  struct cargo_service *svc = arg;
  uint64_t wake_ms = 0;
  pthread_mutex_lock(&svc->mu);
  while (!atomic_load(&svc->stopping)) {
    if (!svc->dirty) {
      uint64_t now = now_ms();
      uint64_t until = wake_ms && wake_ms - now < IDLE_PASS_MS ? wake_ms : now + IDLE_PASS_MS;
      if (wake_ms && wake_ms <= now)
        until = now;
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t wait_ms = until > now ? until - now : 0;
      ts.tv_sec += (time_t)(wait_ms / 1000);
      ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      if (wait_ms)
        pthread_cond_timedwait(&svc->wake, &svc->mu, &ts);
      if (atomic_load(&svc->stopping))
        break;
    }
    svc->dirty = false;
    uint64_t started = ++svc->started;
    pthread_mutex_unlock(&svc->mu);
    wake_ms = pass(svc);
    pthread_mutex_lock(&svc->mu);
    svc->passes = started;
    pthread_cond_broadcast(&svc->settled);
  }
  pthread_mutex_unlock(&svc->mu);
  return NULL;
}

uint64_t cargo_wake(struct cargo_service *svc)
{
  pthread_mutex_lock(&svc->mu);
  svc->dirty = true;
  pthread_cond_signal(&svc->wake);
  uint64_t ticket = svc->started + 1; /* the loop numbers a pass under this lock */
  pthread_mutex_unlock(&svc->mu);
  return ticket;
}

bool cargo_wait_ticket(struct cargo_service *svc, uint64_t ticket, int timeout_ms)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&svc->mu);
  int r = 0;
  while (svc->passes < ticket && r == 0 && !atomic_load(&svc->stopping))
    r = pthread_cond_timedwait(&svc->settled, &svc->mu, &ts);
  bool done = svc->passes >= ticket;
  pthread_mutex_unlock(&svc->mu);
  return done;
}

bool cargo_wait_pass(struct cargo_service *svc, int timeout_ms)
{
  return cargo_wait_ticket(svc, cargo_wake(svc), timeout_ms);
}

static void on_exit_wake(void *ctx, const char *id)
{
  (void)id;
  cargo_wake(ctx);
}

int cargo_service_init(struct cargo_service *svc, struct store *store,
                       struct container_service *containers, struct nc_err *err)
{
  memset(svc, 0, sizeof *svc);
  svc->store = store;
  svc->containers = containers;
  pthread_mutex_init(&svc->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&svc->wake, &ca);
  pthread_cond_init(&svc->settled, &ca);
  pthread_condattr_destroy(&ca);
  svc->dirty = true; /* the first pass picks up where a previous nanocld left off */
  container_on_exit(containers, on_exit_wake, svc);
  if (pthread_create(&svc->thread, NULL, loop, svc) != 0) {
    container_on_exit(containers, NULL, NULL);
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start the reconcile loop");
  }
  svc->running = true;
  return 0;
}

void cargo_service_cancel(struct cargo_service *svc)
{
  if (!svc->running)
    return;
  pthread_mutex_lock(&svc->mu);
  atomic_store(&svc->stopping, true); /* the loop ends after its pass; waits end now */
  pthread_cond_broadcast(&svc->wake);
  pthread_cond_broadcast(&svc->settled);
  pthread_mutex_unlock(&svc->mu);
}

void cargo_service_destroy(struct cargo_service *svc)
{
  if (!svc->running)
    return;
  container_on_exit(svc->containers, NULL, NULL);
  pthread_mutex_lock(&svc->mu);
  atomic_store(&svc->stopping, true);
  pthread_cond_broadcast(&svc->wake);
  pthread_cond_broadcast(&svc->settled);
  pthread_mutex_unlock(&svc->mu);
  pthread_join(svc->thread, NULL);
  for (struct backoff *b = svc->restarts, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  svc->restarts = NULL;
  svc->running = false;
}
