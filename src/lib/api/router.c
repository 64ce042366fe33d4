/* Matching a request against the route table. Patterns are split on '/';
 * a "{name}" segment matches any one non-empty segment and is captured. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api/api-internal.h"

#define PATH_MAX_SEGMENTS 16

/* Splits a copy of `path` in place; returns the number of segments or -1. A
 * single trailing '/' is ignored ("/v1/namespaces/" is "/v1/namespaces"). */
static int split(char *path, char *segs[PATH_MAX_SEGMENTS])
{
  if (path[0] != '/')
    return -1;
  size_t len = strlen(path);
  if (len > 1 && path[len - 1] == '/')
    path[len - 1] = '\0';
  int n = 0;
  for (char *p = path + 1; *p || n == 0;) {
    if (n == PATH_MAX_SEGMENTS)
      return -1;
    segs[n++] = p;
    char *slash = strchr(p, '/');
    if (!slash)
      break;
    *slash = '\0';
    p = slash + 1;
  }
  return n;
}

/* Does `pattern` match `path`? `work` (PATH_MAX_LEN bytes) receives a copy of
 * the path that the captured params point into. A "{name*}" segment captures
 * one or more segments, '/' included, leaving the rest of the pattern for the
 * tail ("/v1/images/{ref*}/history"). */
static bool match(const char *pattern, const char *path, char *work, const char *params[])
{
  char pat[256];
  char *psegs[PATH_MAX_SEGMENTS], *segs[PATH_MAX_SEGMENTS];
  snprintf(pat, sizeof pat, "%s", pattern);
  snprintf(work, PATH_MAX_LEN, "%s", path);
  int np = split(pat, psegs);
  int ns = split(work, segs);
  if (np < 0 || ns < 0)
    return false;
  int nparams = 0, s = 0;
  for (int i = 0; i < np; i++) {
    size_t plen = strlen(psegs[i]);
    bool param = psegs[i][0] == '{';
    bool greedy = param && plen > 2 && psegs[i][plen - 2] == '*';
    if (greedy) {
      int rest = np - i - 1;
      int take = ns - s - rest;
      if (take < 1 || nparams == API_PARAMS_MAX)
        return false;
      /* Put the '/' back between the captured segments: they are contiguous. */
      for (int k = s; k < s + take - 1; k++)
        segs[k][strlen(segs[k])] = '/';
      params[nparams++] = segs[s];
      s += take;
      continue;
    }
    if (s >= ns)
      return false;
    if (param) {
      if (segs[s][0] == '\0' || nparams == API_PARAMS_MAX)
        return false;
      params[nparams++] = segs[s];
    } else if (strcmp(psegs[i], segs[s]) != 0) {
      return false;
    }
    s++;
  }
  return s == ns;
}

static void append_allow(char *allow, size_t size, const char *method)
{
  if (strstr(allow, method))
    return;
  size_t len = strlen(allow);
  snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

void api_dispatch(struct api_req *req, struct api_resp *resp, char *allow, size_t allow_size)
{
  struct nc_err err = NC_ERR_INIT;
  /* The captured params point into `work`, on this frame, for the whole handler call. */
  char work[PATH_MAX_LEN];
  allow[0] = '\0';

  if (strlen(req->path) >= PATH_MAX_LEN) {
    nc_err_set(&err, NC_ERR_NOT_FOUND, "no route for %s: path too long", req->method);
    api_resp_error(resp, &err);
    return;
  }
  /* HEAD is GET without a body (libmicrohttpd drops it). */
  const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
  const struct api_route *found = api_route_find(method, req->path, work, req->params);
  if (found) {
    if (found->handler(req, resp, &err) < 0)
      api_resp_error(resp, &err);
    return;
  }
  for (size_t i = 0; i < api_routes_count; i++) {
    const char *params[API_PARAMS_MAX];
    if (!match(api_routes[i].pattern, req->path, work, params))
      continue;
    append_allow(allow, allow_size, api_routes[i].method);
    if (strcmp(api_routes[i].method, "GET") == 0)
      append_allow(allow, allow_size, "HEAD");
  }
  if (allow[0]) {
    nc_err_set(&err, NC_ERR_METHOD, "%s is not allowed on %.200s (allowed: %s)", req->method,
               req->path, allow);
  } else {
    nc_err_set(&err, NC_ERR_NOT_FOUND, "no route for %s %.200s", req->method, req->path);
  }
  api_resp_error(resp, &err);
}

const struct api_route *api_route_find(const char *method, const char *path, char *work,
                                       const char *params[API_PARAMS_MAX])
{
  for (size_t i = 0; i < api_routes_count; i++) {
    if (strcmp(api_routes[i].method, method) != 0)
      continue;
    const char *p[API_PARAMS_MAX] = { 0 };
    if (match(api_routes[i].pattern, path, work, p)) {
      memcpy(params, p, sizeof p);
      return &api_routes[i];
    }
  }
  return NULL;
}
