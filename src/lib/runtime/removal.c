/* Removing containers: what a removal undoes, who may do it, and what stays known after.
 *
 * A container is removed by `DELETE` or, when its spec says "auto_remove" (Docker's
 * `run --rm`), by nanocld itself as soon as it ends, in the watcher thread. Both can race
 * (`rm -f` of an auto-removed container: the stop's exit triggers the auto-removal):
 * a removal first claims the id; whoever comes second waits for the first to finish.
 *
 * The exit of the last removed containers is kept in memory for a minute, so that
 * `wait?condition=removed` answers with it even when the removal was quicker than the
 * client (the CLI's `run --rm` asks once the log stream has ended). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "runtime/container.h"
#include "runtime/rootfs.h"

#define EXIT_KEPT_S 60

struct id_node {
  char id[65];
  struct id_node *next;
};

static bool in_set(void *const *set, const char *id)
{
  for (const struct id_node *n = *set; n; n = n->next)
    if (!strcmp(n->id, id))
      return true;
  return false;
}

/* Adds `id` to `set` (svc->mu held); false when out of memory. */
static bool set_add(void **set, const char *id)
{
  struct id_node *n = calloc(1, sizeof *n);
  if (!n)
    return false;
  snprintf(n->id, sizeof n->id, "%s", id);
  n->next = *set;
  *set = n;
  return true;
}

static void set_del(void **set, const char *id)
{
  for (struct id_node **p = (struct id_node **)set; *p; p = &(*p)->next)
    if (!strcmp((*p)->id, id)) {
      struct id_node *gone = *p;
      *p = gone->next;
      free(gone);
      return;
    }
}

void container_keep(struct container_service *svc, const char *id, bool keep)
{
  pthread_mutex_lock(&svc->mu);
  if (keep)
    set_add(&svc->kept, id);
  else
    set_del(&svc->kept, id);
  pthread_mutex_unlock(&svc->mu);
}

bool container_spec_auto_remove(const struct store_container *c)
{
  json_t *spec = json_loads(c->spec ? c->spec : "{}", 0, NULL);
  bool yes = json_is_true(json_object_get(spec, "auto_remove"));
  json_decref(spec);
  return yes;
}

bool container_auto_removed(struct container_service *svc, const struct store_container *c)
{
  if (!container_spec_auto_remove(c))
    return false;
  pthread_mutex_lock(&svc->mu);
  bool kept = in_set(&svc->kept, c->id);
  pthread_mutex_unlock(&svc->mu);
  return !kept;
}

static void remember_exit(struct container_service *svc, const struct store_container *c)
{
  struct container_exit *e = &svc->exits[svc->exits_next];
  svc->exits_next = (svc->exits_next + 1) % CONTAINER_EXITS_KEPT;
  memset(e, 0, sizeof *e);
  snprintf(e->id, sizeof e->id, "%s", c->id);
  snprintf(e->name, sizeof e->name, "%s", c->name);
  snprintf(e->namespace_, sizeof e->namespace_, "%s", c->namespace_);
  e->exit_code = c->exit_code;
  snprintf(e->exit_signal, sizeof e->exit_signal, "%s", c->exit_signal);
  e->oom_killed = c->oom_killed;
  snprintf(e->error, sizeof e->error, "%.255s", c->error);
  e->removed_at = time(NULL);
}

json_t *container_exit_json(int code, const char *signal, bool oom, const char *error)
{
  return json_pack("{s:i, s:s?, s:b, s:s?}", "exit_code", code, "exit_signal",
                   signal && *signal ? signal : NULL, "oom_killed", oom, "error",
                   error && *error ? error : NULL);
}

/* `key` names `e` as the API's container keys do: its id, a prefix of 4+ hex digits of it
 * (within its namespace, as the store looks them up), or its name. */
static bool names(const struct container_exit *e, const char *ns, const char *key)
{
  size_t n = strlen(key);
  if (!strcmp(e->id, key))
    return true;
  if (strcmp(e->namespace_, ns) != 0)
    return false;
  return !strcmp(e->name, key) ||
         (n >= 4 && strspn(key, "0123456789abcdef") == n && !strncmp(e->id, key, n));
}

json_t *container_removed_exit(struct container_service *svc, const char *ns, const char *key)
{
  json_t *out = NULL;
  time_t now = time(NULL);
  pthread_mutex_lock(&svc->mu);
  /* Newest first: a name may have been used again. */
  for (int k = 1; k <= CONTAINER_EXITS_KEPT && !out; k++) {
    const struct container_exit *e =
      &svc->exits[(svc->exits_next + CONTAINER_EXITS_KEPT - k) % CONTAINER_EXITS_KEPT];
    if (!e->id[0] || now - e->removed_at > EXIT_KEPT_S)
      continue;
    if (names(e, ns, key))
      out = container_exit_json(e->exit_code, e->exit_signal, e->oom_killed, e->error);
  }
  pthread_mutex_unlock(&svc->mu);
  return out;
}

/* Claims the removal of `id`: true when it is ours to do. false when another removal
 * had it: it has ended when this returns. */
static bool claim(struct container_service *svc, const char *id)
{
  pthread_mutex_lock(&svc->mu);
  bool ours = !in_set(&svc->removing, id);
  if (ours)
    (void)set_add(&svc->removing, id); /* out of memory: unguarded, still removed */
  else
    while (in_set(&svc->removing, id))
      pthread_cond_wait(&svc->changed, &svc->mu);
  pthread_mutex_unlock(&svc->mu);
  return ours;
}

int container_destroy(struct container_service *svc, const struct store_container *c,
                      bool durable, struct nc_err *err)
{
  if (!claim(svc, c->id))
    return 0;
  char rootfs[PATH_MAX];
  container_path(svc, c->id, "rootfs", rootfs, sizeof rootfs);
  int r = rootfs_umount(rootfs, err) < 0 ? -1 : 0;
  if (r == 0) {
    /* The runtime may still know it (a start that failed half-way); its shim's last
     * `delete` may still be going on, and is not waited for. */
    container_runtime_forget(svc, c->id, false);
    r = net_container_detach(svc->net, c->id, err);
  }
  if (r == 0)
    r = container_trash(svc, c->id, err);
  /* Its address and ports go with the row; its network's DNS and the port rules
   * are rewritten after. */
  struct store_attachment att = { 0 };
  struct store_port_list ports = { 0 };
  struct store_tx *tx;
  if (r == 0) {
    /* Before the row goes: a wait that finds no row must find this. */
    pthread_mutex_lock(&svc->mu);
    remember_exit(svc, c);
    pthread_mutex_unlock(&svc->mu);
  }
  if (r == 0 && store_begin(svc->store, durable ? STORE_TX_WRITE : STORE_TX_WRITE_VOLATILE, &tx,
                            err) == 0) {
    struct nc_err none = NC_ERR_INIT;
    if (store_attachment_get(tx, c->id, &att, &none) < 0)
      att.network_id[0] = '\0';
    r = store_port_list(tx, c->id, &ports, err);
    if (r == 0)
      r = store_container_delete(tx, c->id, err);
    if (r < 0)
      store_rollback(tx);
    else
      r = store_commit(tx, err);
  } else if (r == 0) {
    r = -1;
  }
  pthread_mutex_lock(&svc->mu);
  set_del(&svc->removing, c->id);
  pthread_cond_broadcast(&svc->changed);
  pthread_mutex_unlock(&svc->mu);
  if (r == 0 && att.network_id[0]) {
    struct nc_err later = NC_ERR_INIT;
    if (net_refresh(svc->net, att.network_id, ports.len > 0, &later) < 0)
      nc_log(NC_LOG_WARN, "container %s removed: %s", c->name, later.msg);
  }
  store_port_list_free(&ports);
  return r;
}

void container_auto_remove(struct container_service *svc, const struct store_container *c)
{
  struct nc_err err = NC_ERR_INIT;
  /* Not fsync'd: if a power loss brings the row back, nanocld's start removes it again. */
  if (container_destroy(svc, c, false, &err) < 0)
    nc_log(NC_LOG_WARN, "container %s (%.12s): cannot remove it: %s", c->name, c->id, err.msg);
  else
    nc_log(NC_LOG_INFO, "container %s (%.12s) removed (auto_remove)", c->name, c->id);
}

/* Is the row of `id` still there? (svc->mu held) */
static bool row_exists(struct container_service *svc, const char *id)
{
  struct store_container c;
  struct nc_err err = NC_ERR_INIT;
  if (container_load(svc, "global", id, &c, &err) < 0)
    return err.kind != NC_ERR_NOT_FOUND;
  store_container_free(&c);
  return true;
}

int container_wait_removed(struct container_service *svc, const char *ns, const char *key,
                           json_t **out, struct nc_err *err)
{
  char id[65];
  if (container_id_of(svc, ns, key, id, err) < 0) {
    if (err->kind == NC_ERR_NOT_FOUND && (*out = container_removed_exit(svc, ns, key)))
      return 0;
    return -1;
  }
  pthread_mutex_lock(&svc->mu);
  bool there;
  while ((there = row_exists(svc, id)) && !atomic_load(&svc->quitting))
    pthread_cond_wait(&svc->changed, &svc->mu);
  pthread_mutex_unlock(&svc->mu);
  if (there)
    return nc_err_set(err, NC_ERR_UNAVAILABLE, "nanocld is shutting down; wait again later");
  *out = container_removed_exit(svc, ns, id);
  if (!*out) /* removed over a minute ago, or its row failed to go */
    *out = container_exit_json(0, NULL, false, "the container was removed; its exit is not known");
  return 0;
}

void container_removal_destroy(struct container_service *svc)
{
  void **sets[] = { &svc->removing, &svc->kept };
  for (size_t i = 0; i < 2; i++)
    while (*sets[i])
      set_del(sets[i], ((struct id_node *)*sets[i])->id);
}
