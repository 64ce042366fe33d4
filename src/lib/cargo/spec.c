/* A cargo's spec: the container spec of its instances plus what only a cargo has
 * (replicas, restart policy, health check, pull policy, DNS entry). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"
#include "cargo/cargo.h"
#include "model/cluster.h"
#include "net/netlink.h"
#include "runtime/spec.h"

/* The cargo's own fields; everything else is the instances' container spec. */
static const char *const cargo_fields[] = { "image", "replicas", "restart", "health",
                                            "pull_policy", "dns_entry", NULL };

static bool is_cargo_field(const char *key)
{
  for (int i = 0; cargo_fields[i]; i++)
    if (!strcmp(cargo_fields[i], key))
      return true;
  return false;
}

static int check_restart(const json_t *v, struct nc_err *err)
{
  const char *s = json_string_value(v);
  if (!s)
    return nc_err_set(err, NC_ERR_INVALID, "restart: must be always, no or on-failure[:N]");
  if (!strcmp(s, "always") || !strcmp(s, "no") || !strcmp(s, "on-failure"))
    return 0;
  uint64_t n;
  if (!strncmp(s, "on-failure:", 11) && nc_parse_u64(s + 11, 1000000, &n) == 0)
    return 0;
  return nc_err_set(err, NC_ERR_INVALID,
                    "restart: '%.40s' is not always, no or on-failure[:N]", s);
}

static int check_health(const json_t *h, struct nc_err *err)
{
  if (!json_is_object(h))
    return nc_err_set(err, NC_ERR_INVALID, "health: must be an object {cmd, interval, timeout, "
                                           "retries, start_period}");
  const char *key;
  json_t *v;
  json_object_foreach ((json_t *)(uintptr_t)h, key, v) {
    if (!strcmp(key, "cmd")) {
      if (!json_is_array(v) || json_array_size(v) == 0)
        return nc_err_set(err, NC_ERR_INVALID, "health.cmd: must be a non-empty array");
      for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
          return nc_err_set(err, NC_ERR_INVALID, "health.cmd: must be strings");
    } else if (!strcmp(key, "interval") || !strcmp(key, "timeout") ||
               !strcmp(key, "start_period") || !strcmp(key, "retries")) {
      if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 86400)
        return nc_err_set(err, NC_ERR_INVALID, "health.%s: must be 0-86400", key);
    } else {
      return nc_err_set(err, NC_ERR_INVALID, "health: unknown field '%.64s'", key);
    }
  }
  if (!json_object_get(h, "cmd"))
    return nc_err_set(err, NC_ERR_INVALID, "health.cmd: missing");
  return 0;
}

static int check_dns_entry(const json_t *v, struct nc_err *err)
{
  const char *s = json_string_value(v);
  const char *colon = s ? strchr(s, ':') : NULL;
  char ip[16];
  uint32_t a;
  if (!colon || (size_t)(colon - s) >= sizeof ip || !colon[1] || strlen(colon + 1) > 253)
    return nc_err_set(err, NC_ERR_INVALID, "dns_entry: expected IP:DOMAIN");
  memcpy(ip, s, (size_t)(colon - s));
  ip[colon - s] = '\0';
  /* {{vars.…}} are rendered per cluster: checked then. */
  if (!strstr(ip, "{{") && ip4_parse(ip, &a) < 0)
    return nc_err_set(err, NC_ERR_INVALID, "dns_entry: '%s' is not an IPv4 address", ip);
  for (const char *p = colon + 1; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr("-.{} _", *p)))
      return nc_err_set(err, NC_ERR_INVALID, "dns_entry: '%.64s' is not a domain name", colon + 1);
  return 0;
}

/* The container part of a spec (a new object without the cargo's fields). */
static json_t *container_part(const json_t *spec)
{
  json_t *c = json_object();
  const char *key;
  json_t *v;
  json_object_foreach ((json_t *)(uintptr_t)spec, key, v)
    if (!is_cargo_field(key))
      json_object_set(c, key, v);
  return c;
}

int cargo_spec_validate(const json_t *spec, struct nc_err *err)
{
  if (!json_is_object(spec))
    return nc_err_set(err, NC_ERR_INVALID, "spec: must be an object");
  const json_t *image = json_object_get(spec, "image");
  if (!json_is_string(image) || !*json_string_value(image))
    return nc_err_set(err, NC_ERR_INVALID, "image: missing (the image of the instances)");
  if (json_integer_value(json_object_get(spec, "stop_timeout")) < 0)
    return nc_err_set(err, NC_ERR_INVALID,
                      "stop_timeout: seconds >= 0 for a cargo (its loop stops instances one "
                      "after another: it cannot wait for ever on one)");
  if (json_object_get(spec, "auto_remove"))
    return nc_err_set(err, NC_ERR_INVALID,
                      "auto_remove: not part of a cargo's spec (its restart policy keeps "
                      "instances; remove the cargo to remove them)");
  if (json_object_get(spec, "cluster") || json_object_get(spec, "network") ||
      json_object_get(spec, "name"))
    return nc_err_set(err, NC_ERR_INVALID,
                      "%s: not part of a cargo's spec (instances get it from cluster join)",
                      json_object_get(spec, "name") ? "name"
                      : json_object_get(spec, "cluster") ? "cluster" : "network");
  const json_t *v = json_object_get(spec, "replicas");
  if (v && (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > CARGO_REPLICAS_MAX))
    return nc_err_set(err, NC_ERR_INVALID, "replicas: must be 0-%d", CARGO_REPLICAS_MAX);
  if ((v = json_object_get(spec, "restart")) && check_restart(v, err) < 0)
    return -1;
  if ((v = json_object_get(spec, "health")) && check_health(v, err) < 0)
    return -1;
  if ((v = json_object_get(spec, "dns_entry")) && check_dns_entry(v, err) < 0)
    return -1;
  v = json_object_get(spec, "pull_policy");
  if (v && (!json_is_string(v) || (strcmp(json_string_value(v), "if-not-present") &&
                                   strcmp(json_string_value(v), "always") &&
                                   strcmp(json_string_value(v), "never"))))
    return nc_err_set(err, NC_ERR_INVALID,
                      "pull_policy: must be if-not-present, always or never");
  v = json_object_get(spec, "publish");
  if (json_array_size(v) && json_integer_value(json_object_get(spec, "replicas")) > 1)
    return nc_err_set(err, NC_ERR_INVALID,
                      "publish: a host port takes one instance; use replicas 1 (or a proxy)");
  json_t *c = container_part(spec);
  /* Instances always have a cluster and a network (from their join): checked as such. */
  json_object_set_new(c, "cluster", json_string("join"));
  json_object_set_new(c, "network", json_string("join"));
  int r = runtime_spec_validate(c, err);
  json_decref(c);
  return r;
}

int cargo_instance_body(const json_t *spec, const char *ns, const char *cluster,
                        const char *network, const char *cargo, int n,
                        const struct store_variable_list *vars, json_t **out,
                        struct nc_err *err)
{
  json_t *c = container_part(spec);
  json_t *env = json_object_get(c, "env");
  json_t *rendered = json_array();
  for (size_t i = 0; i < json_array_size(env); i++) {
    char *text = NULL;
    if (model_variables_render(vars, cluster, json_string_value(json_array_get(env, i)), &text,
                               err) < 0) {
      json_decref(rendered);
      json_decref(c);
      return nc_err_wrap(err, "env of cargo '%s'", cargo);
    }
    json_array_append_new(rendered, json_string(text));
    free(text);
  }
  json_object_set_new(c, "env", rendered);
  char name[256];
  snprintf(name, sizeof name, "%s-%s-%s-%d", ns, cluster, cargo, n);
  json_object_set_new(c, "name", json_string(name));
  json_object_set(c, "image", json_object_get(spec, "image"));
  json_object_set_new(c, "cluster", json_string(cluster));
  json_object_set_new(c, "network", json_string(network));
  *out = c;
  return 0;
}

void cargo_restart_policy(const json_t *spec, struct cargo_restart *out)
{
  const char *s = json_string_value(json_object_get(spec, "restart"));
  memset(out, 0, sizeof *out);
  if (!s || !strcmp(s, "always")) {
    out->always = true;
  } else if (!strncmp(s, "on-failure", 10)) {
    uint64_t n = 0;
    out->on_failure = true;
    if (s[10] == ':' && nc_parse_u64(s + 11, 1000000, &n) == 0)
      out->max_retries = (int)n;
  }
}
