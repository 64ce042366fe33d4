/* Matching a request against the route table. Patterns are split on '/';
 * a "{name}" segment matches any one non-empty segment and is captured. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api/api-internal.h"

#define PATH_MAX_SEGMENTS 16
#define PATH_MAX_LEN 1024

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

/* Does `pattern` match the segments? Fills params on success. */
static bool match(const char *pattern, char *segs[], int nsegs, const char *params[])
{
  char pat[256];
  char *psegs[PATH_MAX_SEGMENTS];
  snprintf(pat, sizeof pat, "%s", pattern);
  int np = split(pat, psegs);
  if (np != nsegs)
    return false;
  int nparams = 0;
  for (int i = 0; i < np; i++) {
    if (psegs[i][0] == '{') {
      if (segs[i][0] == '\0' || nparams == API_PARAMS_MAX)
        return false;
      params[nparams++] = segs[i];
    } else if (strcmp(psegs[i], segs[i]) != 0) {
      return false;
    }
  }
  return true;
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
  char path[PATH_MAX_LEN];
  char *segs[PATH_MAX_SEGMENTS];
  allow[0] = '\0';

  /* The segments (and so the captured params) live in `path`, on this stack
   * frame, for the whole handler call. */
  if (snprintf(path, sizeof path, "%s", req->path) >= (int)sizeof path) {
    nc_err_set(&err, NC_ERR_NOT_FOUND, "no route for %s: path too long", req->method);
    api_resp_error(resp, &err);
    return;
  }
  int nsegs = split(path, segs);

  /* HEAD is GET without a body (libmicrohttpd drops it). */
  const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
  const struct api_route *found = NULL;
  if (nsegs > 0) {
    for (size_t i = 0; i < api_routes_count; i++) {
      const char *params[API_PARAMS_MAX] = { 0 };
      if (!match(api_routes[i].pattern, segs, nsegs, params))
        continue;
      append_allow(allow, allow_size, api_routes[i].method);
      if (strcmp(api_routes[i].method, "GET") == 0)
        append_allow(allow, allow_size, "HEAD");
      if (!found && strcmp(api_routes[i].method, method) == 0) {
        found = &api_routes[i];
        memcpy(req->params, params, sizeof params);
      }
    }
  }

  if (found) {
    allow[0] = '\0';
    if (found->handler(req, resp, &err) < 0)
      api_resp_error(resp, &err);
    return;
  }
  if (allow[0]) {
    nc_err_set(&err, NC_ERR_METHOD, "%s is not allowed on %.200s (allowed: %s)", req->method,
               req->path, allow);
  } else {
    nc_err_set(&err, NC_ERR_NOT_FOUND, "no route for %s %.200s", req->method, req->path);
  }
  api_resp_error(resp, &err);
}
