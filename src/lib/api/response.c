#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "model/name.h"
#include "api/stream.h"
#include "base/json.h"

void api_resp_json(struct api_resp *resp, unsigned status, json_t *json)
{
  json_decref(resp->json);
  resp->status = status;
  resp->json = json;
  resp->text = NULL;
}

void api_resp_error(struct api_resp *resp, const struct nc_err *err)
{
  json_t *body = json_pack("{s:s, s:s}", "error", err->msg[0] ? err->msg : "unknown error",
                           "kind", nc_err_kind_name(err->kind));
  api_resp_json(resp, nc_err_http_status(err->kind), body);
}

struct MHD_Response *api_resp_build(struct api_resp *resp)
{
  struct MHD_Response *r;
  if (resp->stream) {
    struct api_stream *s = resp->stream;
    resp->stream = NULL;
    return api_stream_response(s);
  }
  if (resp->json) {
    char *text = json_dumps(resp->json, JSON_COMPACT);
    if (!text)
      return NULL;
    size_t len = strlen(text);
    /* A trailing newline makes curl output and logs readable. */
    char *body = realloc(text, len + 2);
    if (!body) {
      free(text);
      return NULL;
    }
    body[len] = '\n';
    body[len + 1] = '\0';
    r = MHD_create_response_from_buffer(len + 1, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
      free(body);
      return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  } else {
    const char *text = resp->text ? resp->text : "";
    r = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
                                        MHD_RESPMEM_PERSISTENT);
    if (!r)
      return NULL;
    if (resp->text)
      MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
  }
  return r;
}

int api_req_json_object(struct api_req *req, json_t **out, struct nc_err *err)
{
  return nc_json_parse_object(req->body, req->body ? req->body_len : 0, out, err);
}

int api_query_ns(struct api_req *req, const char **ns, struct nc_err *err)
{
  const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "namespace");
  *ns = v && *v ? v : "global";
  return nc_name_check("namespace", *ns, err);
}

int api_query_flag(struct api_req *req, const char *name, bool *out, struct nc_err *err)
{
  const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
  *out = v && (!strcmp(v, "1") || !strcmp(v, "true"));
  if (v && *v && !*out && strcmp(v, "0") && strcmp(v, "false"))
    return nc_err_set(err, NC_ERR_BAD_REQUEST, "query parameter '%s' must be true or false",
                      name);
  return 0;
}
