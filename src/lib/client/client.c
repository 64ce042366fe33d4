#include "client/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hosturl.h"

struct nc_client {
  CURL *curl;
  struct nc_host_url url;
  char host_text[400];
  char base[300]; /* "http://localhost" or "http://HOST:PORT" */
};

int nc_client_new(const char *host, struct nc_client **out, struct nc_err *err)
{
  struct nc_client *c = calloc(1, sizeof *c);
  if (!c)
    return nc_err_sys(err, ENOMEM, "creating the API client");
  if (nc_host_url_parse(host, &c->url, err) < 0) {
    free(c);
    return -1;
  }
  nc_host_url_format(&c->url, c->host_text, sizeof c->host_text);
  if (c->url.kind == NC_HOST_UNIX)
    snprintf(c->base, sizeof c->base, "http://localhost");
  else if (strchr(c->url.host, ':'))
    snprintf(c->base, sizeof c->base, "http://[%s]:%u", c->url.host, c->url.port);
  else
    snprintf(c->base, sizeof c->base, "http://%s:%u", c->url.host, c->url.port);

  /* No TLS on the API socket: skip initialising the TLS library. */
  curl_global_init(CURL_GLOBAL_NOTHING);
  c->curl = curl_easy_init();
  if (!c->curl) {
    free(c);
    return nc_err_set(err, NC_ERR_INTERNAL, "creating the API client: curl_easy_init failed");
  }
  *out = c;
  return 0;
}

void nc_client_free(struct nc_client *c)
{
  if (!c)
    return;
  curl_easy_cleanup(c->curl);
  free(c);
}

const char *nc_client_host(const struct nc_client *c)
{
  return c->host_text;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
  struct nc_buf *b = userdata;
  if (nc_buf_append(b, ptr, size * nmemb) < 0)
    return 0; /* makes curl fail with CURLE_WRITE_ERROR */
  return size * nmemb;
}

static int unreachable(struct nc_client *c, CURLcode rc, struct nc_err *err)
{
  long os_errno = 0;
  curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
  const char *why = os_errno ? strerror((int)os_errno) : curl_easy_strerror(rc);
  return nc_err_set(err, NC_ERR_UNAVAILABLE,
                    "cannot reach nanocld at %s (%s); is it running? Start it with 'make up' or "
                    "'nanocld'.",
                    c->host_text, why);
}

/* The API's error body {"error": "...", "kind": "..."} → err. */
static int api_error(long status, struct nc_buf *resp, struct nc_err *err)
{
  enum nc_err_kind kind = nc_err_kind_from_http((unsigned)status);
  json_t *j = resp->data ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
  const char *msg = json_string_value(json_object_get(j, "error"));
  if (msg)
    nc_err_set(err, kind, "%s", msg);
  else
    nc_err_set(err, kind, "nanocld answered HTTP %ld%s%.200s", status,
               resp->len ? ": " : "", resp->len ? resp->data : "");
  json_decref(j);
  return -1;
}

int nc_client_call(struct nc_client *c, const char *method, const char *path, json_t *body,
                   json_t **out, struct nc_err *err)
{
  char url[1400];
  if (snprintf(url, sizeof url, "%s%s", c->base, path) >= (int)sizeof url)
    return nc_err_set(err, NC_ERR_INVALID, "request path too long: %.80s…", path);

  struct nc_buf resp;
  nc_buf_init(&resp, NC_CLIENT_MAX_RESPONSE);
  char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  struct curl_slist *headers = NULL;
  if (payload)
    headers = curl_slist_append(headers, "Content-Type: application/json");
  /* curl would otherwise wait for "100 Continue" before sending a body. */
  headers = curl_slist_append(headers, "Expect:");

  CURL *h = c->curl;
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  if (c->url.kind == NC_HOST_UNIX)
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->url.path);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (payload) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "nanocl");

  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  free(payload);

  int ret;
  long status = 0;
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
    ret = unreachable(c, rc, err);
  } else if (rc == CURLE_WRITE_ERROR) {
    ret = nc_err_set(err, NC_ERR_TOO_LARGE, "answer of nanocld is larger than %u bytes",
                     NC_CLIENT_MAX_RESPONSE);
  } else if (rc != CURLE_OK) {
    ret = nc_err_set(err, NC_ERR_UNAVAILABLE, "talking to nanocld at %s: %s", c->host_text,
                     curl_easy_strerror(rc));
  } else {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      ret = api_error(status, &resp, err);
    } else {
      ret = (int)status;
      if (out) {
        *out = NULL;
        char *ctype = NULL;
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
        if (resp.len && ctype && strncmp(ctype, "application/json", 16) == 0) {
          json_error_t jerr;
          *out = json_loadb(resp.data, resp.len, 0, &jerr);
          if (!*out)
            ret = nc_err_set(err, NC_ERR_INTERNAL, "nanocld sent malformed JSON: %s",
                             jerr.text);
        } else if (resp.len) {
          *out = json_stringn(resp.data, resp.len);
        }
      }
    }
  }
  nc_buf_free(&resp);
  return ret;
}
