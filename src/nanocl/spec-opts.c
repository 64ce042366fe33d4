#include "spec-opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/parse.h"

int spec_parse_size(const char *s, int64_t *out)
{
  char num[32];
  size_t len = strlen(s);
  if (len == 0 || len >= sizeof num)
    return -1;
  memcpy(num, s, len + 1);
  uint64_t mult = 1;
  char last = num[len - 1];
  if (last == 'b' || last == 'B')
    num[--len] = '\0', last = len ? num[len - 1] : '\0';
  switch (last) {
  case 'k': case 'K': mult = 1ULL << 10; break;
  case 'm': case 'M': mult = 1ULL << 20; break;
  case 'g': case 'G': mult = 1ULL << 30; break;
  default: break;
  }
  if (mult > 1)
    num[--len] = '\0';
  uint64_t v;
  if (nc_parse_u64(num, UINT64_MAX / mult, &v) < 0)
    return -1;
  *out = (int64_t)(v * mult);
  return 0;
}

int spec_parse_seconds(const char *s, int64_t max, int64_t *out)
{
  char num[32];
  size_t len = strlen(s);
  if (len == 0 || len >= sizeof num)
    return -1;
  memcpy(num, s, len + 1);
  uint64_t mult = 1, v;
  switch (num[len - 1]) {
  case 's': mult = 1; break;
  case 'm': mult = 60; break;
  case 'h': mult = 3600; break;
  default: len++; break; /* no unit: seconds */
  }
  num[len - 1] = '\0';
  if (nc_parse_u64(num, (uint64_t)max / mult, &v) < 0)
    return -1;
  *out = (int64_t)(v * mult);
  return 0;
}

void spec_append(json_t *spec, const char *key, const char *value)
{
  json_t *a = json_object_get(spec, key);
  if (!json_is_array(a)) {
    a = json_array();
    json_object_set_new(spec, key, a);
  }
  json_array_append_new(a, json_string(value));
}

void spec_set_pair(json_t *spec, const char *key, const char *kv)
{
  json_t *o = json_object_get(spec, key);
  if (!json_is_object(o))
    json_object_set_new(spec, key, o = json_object());
  const char *eq = strchr(kv, '=');
  char k[256];
  snprintf(k, sizeof k, "%.*s", eq ? (int)(eq - kv) : (int)strlen(kv), kv);
  json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
}

void spec_set_entrypoint(json_t *spec, const char *arg)
{
  json_t *a = json_array();
  if (*arg)
    json_array_append_new(a, json_string(arg));
  json_object_set_new(spec, "entrypoint", a);
}

int spec_set_cpus(json_t *spec, const char *arg)
{
  char *end;
  double d = strtod(arg, &end);
  if (*end || end == arg)
    return -1;
  json_object_set_new(spec, "cpus", json_real(d));
  return 0;
}

int spec_set_pids(json_t *spec, const char *arg)
{
  uint64_t n;
  if (!strcmp(arg, "-1"))
    json_object_set_new(spec, "pids_limit", json_integer(-1));
  else if (nc_parse_u64(arg, 1u << 30, &n) < 0)
    return -1;
  else
    json_object_set_new(spec, "pids_limit", json_integer((json_int_t)n));
  return 0;
}
