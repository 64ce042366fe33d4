/* POST /v1/containers/{name}/exec: checks the request (ordinary JSON errors before
 * the switch), answers 101, then starts the process and bridges it (exec-bridge.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "base/frame.h"
#include "base/json.h"
#include "model/name.h"
#include "runtime/exec.h"

struct exec_session {
  struct container_service *svc;
  char ns[128];
  char id[65];
  json_t *body; /* owns the strings argv and env point to */
  const char **argv;
  const char **env;
  struct exec_opts o;
};

static bool ascii_ieq_n(const char *a, const char *b, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] + 32) : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? (char)(b[i] + 32) : b[i];
    if (x != y)
      return false;
  }
  return true;
}

/* Is `token` one of the comma-separated items of a header value? */
static bool has_token(const char *value, const char *token)
{
  size_t tlen = strlen(token);
  for (const char *p = value; p && *p;) {
    p += strspn(p, " \t,");
    size_t len = strcspn(p, ",");
    size_t end = len;
    while (end && (p[end - 1] == ' ' || p[end - 1] == '\t'))
      end--;
    if (end == tlen && ascii_ieq_n(p, token, tlen))
      return true;
    p += len;
  }
  return false;
}

static void session_free(void *ctx)
{
  struct exec_session *s = ctx;
  if (!s)
    return;
  json_decref(s->body);
  free(s->argv);
  free(s->env);
  free(s);
}

/* A string of the body without NUL bytes inside. */
static const char *plain_string(json_t *v)
{
  const char *s = json_string_value(v);
  return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* A JSON array of strings → a NULL-terminated array pointing into it. */
static int string_list(json_t *body, const char *key, bool env, const char ***out,
                       struct nc_err *err)
{
  json_t *a = json_object_get(body, key);
  *out = NULL;
  if (!a)
    return 0;
  if (!json_is_array(a))
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be an array of strings", key);
  size_t n = json_array_size(a);
  if (n > EXEC_ARGS_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "%s: more than %d entries", key, EXEC_ARGS_MAX);
  const char **list = calloc(n + 1, sizeof *list);
  if (!list)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const char *s = plain_string(json_array_get(a, i));
    if (!s) {
      free(list);
      return nc_err_set(err, NC_ERR_INVALID, "%s[%zu]: must be a string without NUL bytes",
                        key, i);
    }
    if (env && (s[0] == '=' || !strchr(s, '='))) {
      free(list);
      return nc_err_set(err, NC_ERR_INVALID, "%s[%zu]: '%.100s' is not KEY=VALUE", key, i, s);
    }
    list[i] = s;
  }
  *out = list;
  return 0;
}

static int get_bool(json_t *body, const char *key, bool *out, struct nc_err *err)
{
  json_t *v = json_object_get(body, key);
  if (v && !json_is_boolean(v))
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be true or false", key);
  *out = json_is_true(v);
  return 0;
}

static int get_size(json_t *body, const char *key, uint16_t *out, struct nc_err *err)
{
  json_t *v = json_object_get(body, key);
  *out = 0;
  if (!v)
    return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
    return nc_err_set(err, NC_ERR_INVALID, "%s: must be a number 0-65535", key);
  *out = (uint16_t)json_integer_value(v);
  return 0;
}

static int parse_body(struct exec_session *s, struct nc_err *err)
{
  static const char *const fields[] = { "cmd",  "tty",     "stdin", "env",    "user",
                                        "workdir", "width", "height", NULL };
  json_t *b = s->body;
  if (nc_json_check_fields(b, fields, err) < 0 ||
      string_list(b, "cmd", false, &s->argv, err) < 0 ||
      string_list(b, "env", true, &s->env, err) < 0 || get_bool(b, "tty", &s->o.tty, err) < 0 ||
      get_bool(b, "stdin", &s->o.open_stdin, err) < 0 ||
      get_size(b, "width", &s->o.width, err) < 0 || get_size(b, "height", &s->o.height, err) < 0)
    return -1;
  if (!s->argv || !s->argv[0] || !s->argv[0][0])
    return nc_err_set(err, NC_ERR_INVALID, "cmd: required, a non-empty array whose first "
                                           "word is not empty");
  json_t *user = json_object_get(b, "user"), *wd = json_object_get(b, "workdir");
  if (user && (!plain_string(user) || strlen(plain_string(user)) > 256))
    return nc_err_set(err, NC_ERR_INVALID, "user: must be a string of at most 256 bytes");
  if (wd && (!plain_string(wd) || (json_string_value(wd)[0] && json_string_value(wd)[0] != '/')))
    return nc_err_set(err, NC_ERR_INVALID, "workdir: must be an absolute path");
  s->o.argv = s->argv;
  s->o.env = s->env;
  s->o.user = json_string_value(user);
  s->o.workdir = json_string_value(wd);
  return 0;
}

/* After the 101: start the process, then bridge it, or say why it could not run. */
static void session_run(void *ctx, int fd, const char *extra, size_t extra_len)
{
  struct exec_session *s = ctx;
  struct exec_proc p;
  struct nc_err err = NC_ERR_INIT;
  int code = 126;
  if (container_exec_start(s->svc, s->ns, s->id, &s->o, &p, &code, &err) < 0) {
    api_exec_fail(fd, err.msg, code);
    return;
  }
  api_exec_bridge(fd, &p, extra, extra_len);
}

int api_container_exec(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *up = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Upgrade");
  const char *conn = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Connection");
  if (!up || !has_token(up, NC_EXEC_PROTOCOL) || !has_token(conn, "upgrade"))
    return nc_err_set(err, NC_ERR_BAD_REQUEST,
                      "exec switches protocols: send 'Connection: Upgrade' and "
                      "'Upgrade: " NC_EXEC_PROTOCOL "'");
  const char *ns = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "namespace");
  ns = ns && *ns ? ns : "global";
  if (nc_name_check("namespace", ns, err) < 0)
    return -1;
  struct exec_session *s = calloc(1, sizeof *s);
  if (!s)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  s->svc = req->cfg->containers;
  snprintf(s->ns, sizeof s->ns, "%s", ns);
  if (api_req_json_object(req, &s->body, err) < 0 || parse_body(s, err) < 0 ||
      container_exec_check(s->svc, ns, req->params[0], s->id, err) < 0) {
    session_free(s);
    return -1;
  }
  resp->status = 101;
  resp->upgrade = (struct api_upgrade){ .protocol = NC_EXEC_PROTOCOL, .run = session_run,
                                        .drop = session_free, .ctx = s };
  return 0;
}
