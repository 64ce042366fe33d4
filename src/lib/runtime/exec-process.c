/* The OCI process of an exec: the container's own (its bundle's config.json), with the
 * exec's command, environment, user, cwd, terminal and console size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fs.h"
#include "runtime/exec-internal.h"
#include "runtime/exec.h"
#include "runtime/spec.h"

#define CONFIG_MAX (16 * 1024 * 1024) /* a bundle's config.json */

/* "K=V" in `env` replaced by key, or appended. */
static void env_set(json_t *env, const char *kv, bool replace)
{
  size_t klen = strcspn(kv, "=");
  size_t i;
  json_t *e;
  json_array_foreach (env, i, e) {
    const char *s = json_string_value(e);
    if (s && strncmp(s, kv, klen) == 0 && s[klen] == '=') {
      if (replace)
        json_array_set_new(env, i, json_string(kv));
      return;
    }
  }
  json_array_append_new(env, json_string(kv));
}

static bool env_has(const char *const *env, const char *key)
{
  size_t klen = strlen(key);
  for (size_t i = 0; env && env[i]; i++)
    if (strncmp(env[i], key, klen) == 0 && env[i][klen] == '=')
      return true;
  return false;
}

/* The container's OCI process with the exec's command, env, user, cwd and terminal. */
int exec_build_process(struct container_service *svc, const char *id,
                       const struct exec_opts *o, json_t **out, struct nc_err *err)
{
  char path[PATH_MAX], rootfs[PATH_MAX];
  container_path(svc, id, "config.json", path, sizeof path);
  container_path(svc, id, "rootfs", rootfs, sizeof rootfs);
  char *text = NULL;
  size_t len = 0;
  if (nc_read_file(path, CONFIG_MAX, &text, &len, err) < 0)
    return nc_err_wrap(err, "the bundle of %.12s", id);
  json_error_t jerr = { .text = "" };
  json_t *config = json_loadb(text, len, 0, &jerr);
  free(text);
  json_t *proc = json_deep_copy(json_object_get(config, "process"));
  json_decref(config);
  if (!json_is_object(proc)) {
    json_decref(proc);
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot read the process of '%s': %s", path,
                      jerr.text[0] ? jerr.text : "no \"process\" object");
  }
  json_t *args = json_array();
  for (size_t i = 0; o->argv[i]; i++)
    json_array_append_new(args, json_string(o->argv[i]));
  json_object_set_new(proc, "args", args);

  json_t *env = json_object_get(proc, "env");
  if (!json_is_array(env))
    json_object_set_new(proc, "env", env = json_array());
  int r = 0;
  if (o->user && *o->user) {
    uint32_t uid, gid, *groups = NULL;
    size_t ngroups = 0;
    char home[PATH_MAX], kv[PATH_MAX + 8];
    r = runtime_resolve_user(rootfs, o->user, &uid, &gid, &groups, &ngroups, home,
                             sizeof home, err);
    if (r == 0) {
      json_t *gids = json_array();
      json_array_append_new(gids, json_integer(gid));
      for (size_t i = 0; i < ngroups; i++)
        if (groups[i] != gid)
          json_array_append_new(gids, json_integer(groups[i]));
      json_object_set_new(proc, "user", json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)uid,
                                                  "gid", (json_int_t)gid, "additionalGids",
                                                  gids));
      snprintf(kv, sizeof kv, "HOME=%s", home);
      if (!env_has(o->env, "HOME"))
        env_set(env, kv, true);
    }
    free(groups);
  }
  for (size_t i = 0; o->env && o->env[i]; i++)
    env_set(env, o->env[i], true);
  if (o->tty)
    env_set(env, "TERM=xterm", false); /* Docker's, unless the container has one */
  if (o->workdir && *o->workdir)
    json_object_set_new(proc, "cwd", json_string(o->workdir));
  json_object_set_new(proc, "terminal", json_boolean(o->tty));
  json_object_del(proc, "consoleSize");
  if (o->tty && o->width && o->height)
    json_object_set_new(proc, "consoleSize",
                        json_pack("{s:i, s:i}", "height", (int)o->height, "width", (int)o->width));
  if (r < 0) {
    json_decref(proc);
    return -1;
  }
  *out = proc;
  return 0;
}
