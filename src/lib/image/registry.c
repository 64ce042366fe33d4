#include "image/registry.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"

#define ERROR_BODY_MAX (64 * 1024)
#define TOKEN_BODY_MAX (1024 * 1024)

int registry_open(struct registry *r, const char *name, const char *endpoint, bool insecure,
                  const char *repository, const struct registry_creds *creds,
                  struct nc_err *err)
{
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  snprintf(r->base_url, sizeof r->base_url, "%s://%s", insecure ? "http" : "https", endpoint);
  snprintf(r->repository, sizeof r->repository, "%s", repository);
  if (creds && creds->username[0]) {
    r->creds = *creds;
    r->have_creds = true;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  r->curl = curl_easy_init();
  if (!r->curl)
    return nc_err_set(err, NC_ERR_INTERNAL, "registry %s: curl_easy_init failed", name);
  return 0;
}

bool registry_cancelled(const struct registry *r)
{
  return (r->cancel && atomic_load(r->cancel)) || (r->cancel_all && atomic_load(r->cancel_all));
}

void registry_close(struct registry *r)
{
  if (r->curl)
    curl_easy_cleanup(r->curl);
  r->curl = NULL;
  free(r->auth_header);
  r->auth_header = NULL;
  /* The password does not linger in freed memory. */
  OPENSSL_cleanse(&r->creds, sizeof r->creds);
}

/* Per request: where the body goes, and the response headers we need. */
struct response {
  struct nc_buf *body;
  char content_type[128];
  char www_authenticate[1024];
  char docker_digest[NC_DIGEST_SIZE];
  bool too_large;
};

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  struct response *resp = ud;
  size_t len = size * n;
  /* A new status line (after a redirect or a 100): forget the previous headers. */
  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
    resp->content_type[0] = resp->www_authenticate[0] = resp->docker_digest[0] = '\0';
    return len;
  }
  const char *colon = memchr(buf, ':', len);
  if (!colon)
    return len;
  size_t klen = (size_t)(colon - buf);
  const char *v = colon + 1;
  while (v < buf + len && (*v == ' ' || *v == '\t'))
    v++;
  size_t vlen = (size_t)(buf + len - v);
  while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
    vlen--;
  char *dst = NULL;
  size_t cap = 0;
  if (klen == 12 && !strncasecmp(buf, "Content-Type", 12)) {
    dst = resp->content_type;
    cap = sizeof resp->content_type;
    const char *semi = memchr(v, ';', vlen); /* drop "; charset=…" */
    if (semi)
      vlen = (size_t)(semi - v);
  } else if (klen == 16 && !strncasecmp(buf, "WWW-Authenticate", 16)) {
    dst = resp->www_authenticate;
    cap = sizeof resp->www_authenticate;
  } else if (klen == 21 && !strncasecmp(buf, "Docker-Content-Digest", 21)) {
    dst = resp->docker_digest;
    cap = sizeof resp->docker_digest;
  }
  if (dst)
    snprintf(dst, cap, "%.*s", (int)vlen, v);
  return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
  struct response *resp = ud;
  size_t len = size * n;
  struct nc_buf *dst = resp->body;
  if (nc_buf_append(dst, buf, len) < 0) {
    resp->too_large = true;
    return 0;
  }
  return len;
}

static void apply_defaults(CURL *h, const char *url)
{
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  /* A transfer that moves nothing for a minute is dead. */
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "nanocl/0.1");
}

void *registry_new_handle(struct registry *r, const char *url)
{
  CURL *h = curl_easy_init();
  if (h)
    apply_defaults(h, url);
  return h;
}

/* One GET with the current Authorization; *status is the final HTTP status. */
static int get(struct registry *r, const char *url, const char *accept, struct response *resp,
               long *status, struct nc_err *err)
{
  CURL *h = r->curl;
  curl_easy_reset(h);
  apply_defaults(h, url);

  struct curl_slist *headers = NULL;
  char acc[512];
  if (accept) {
    snprintf(acc, sizeof acc, "Accept: %s", accept);
    headers = curl_slist_append(headers, acc);
  }
  if (r->auth_header)
    headers = curl_slist_append(headers, r->auth_header);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);

  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (rc == CURLE_WRITE_ERROR && resp->too_large)
    return nc_err_set(err, NC_ERR_TOO_LARGE, "registry %s: answer to %s is larger than %zu bytes",
                      r->name, url, resp->body->limit);
  if (rc != CURLE_OK)
    return nc_err_set(err, NC_ERR_UNAVAILABLE, "cannot reach registry %s (%s): %s", r->name,
                      r->base_url, curl_easy_strerror(rc));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

/* GET with one round of authentication on a 401. The body of a non-2xx answer
 * is kept (capped) for the error message. */
static int get_authed(struct registry *r, const char *url, const char *accept,
                      struct nc_buf *body, struct response *resp, const char *what,
                      struct nc_err *err)
{
  for (int attempt = 0;; attempt++) {
    memset(resp, 0, sizeof *resp);
    resp->body = body;
    nc_buf_reset(body);
    long status = 0;
    if (get(r, url, accept, resp, &status, err) < 0)
      return -1;
    if (status >= 200 && status < 300)
      return 0;
    if (status == 401 && attempt == 0 && resp->www_authenticate[0]) {
      if (registry_authenticate(r, resp->www_authenticate, err) < 0)
        return -1;
      continue;
    }
    char text[512];
    snprintf(text, sizeof text, "%.*s", (int)(body->len < 400 ? body->len : 400),
             body->data ? body->data : "");
    return registry_http_error(r, status, what, text, err);
  }
}

int registry_http_error(struct registry *r, long status, const char *what, const char *body,
                        struct nc_err *err)
{
  /* The distribution spec's {"errors": [{"code", "message"}]}, when there is one. */
  char detail[300] = "";
  json_t *j = body && *body ? json_loads(body, 0, NULL) : NULL;
  json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
  const char *msg = json_string_value(json_object_get(e0, "message"));
  if (msg)
    snprintf(detail, sizeof detail, ": %s", msg);
  json_decref(j);

  if (status == 401 || status == 403) {
    if (r->have_creds)
      return nc_err_set(err, NC_ERR_INVALID,
                        "registry %s refused the credentials of '%s' for %s%s", r->name,
                        r->creds.username, what, detail);
    return nc_err_set(err, NC_ERR_INVALID,
                      "registry %s requires authentication for %s: run 'nanocl login %s'",
                      r->name, what, r->name);
  }
  if (status == 404)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "registry %s: %s not found%s", r->name, what,
                      detail);
  if (status == 429 || status >= 500)
    return nc_err_set(err, NC_ERR_UNAVAILABLE, "registry %s answered HTTP %ld for %s%s",
                      r->name, status, what, detail);
  return nc_err_set(err, NC_ERR_INVALID, "registry %s answered HTTP %ld for %s%s", r->name,
                    status, what, detail);
}

static char *base64(const char *s)
{
  size_t len = strlen(s);
  char *out = malloc(4 * ((len + 2) / 3) + 1);
  if (out)
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
  return out;
}

/* Reads `key="value"` (or key=value) from a challenge's parameters. */
static bool challenge_param(const char *params, const char *key, char *out, size_t size)
{
  size_t klen = strlen(key);
  for (const char *p = params; *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *eq = strchr(p, '=');
    if (!eq)
      return false;
    bool match = (size_t)(eq - p) == klen && !strncasecmp(p, key, klen);
    const char *v = eq + 1, *end;
    if (*v == '"') {
      v++;
      end = strchr(v, '"');
      if (!end)
        return false;
    } else {
      end = v + strcspn(v, ",");
    }
    if (match) {
      snprintf(out, size, "%.*s", (int)(end - v), v);
      return true;
    }
    p = *end == '"' ? end + 1 : end;
  }
  return false;
}

static int set_auth(struct registry *r, const char *scheme, const char *value)
{
  free(r->auth_header);
  size_t n = strlen(scheme) + strlen(value) + 32;
  r->auth_header = malloc(n);
  if (!r->auth_header)
    return -1;
  snprintf(r->auth_header, n, "Authorization: %s %s", scheme, value);
  return 0;
}

static int bearer_token(struct registry *r, const char *params, struct nc_err *err)
{
  char realm[512], service[256] = "", scope[512] = "";
  if (!challenge_param(params, "realm", realm, sizeof realm))
    return nc_err_set(err, NC_ERR_INVALID, "registry %s: Bearer challenge without a realm",
                      r->name);
  challenge_param(params, "service", service, sizeof service);
  if (!challenge_param(params, "scope", scope, sizeof scope))
    snprintf(scope, sizeof scope, "repository:%s:pull", r->repository);

  CURL *h = curl_easy_init();
  if (!h)
    return nc_err_set(err, NC_ERR_INTERNAL, "registry %s: curl_easy_init failed", r->name);
  char *es = curl_easy_escape(h, service, 0), *esc = curl_easy_escape(h, scope, 0);
  char url[2048];
  snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
           es ? es : "", esc ? esc : "");
  curl_free(es);
  curl_free(esc);
  curl_easy_cleanup(h);

  /* The token endpoint is another URL: fetch it without the current header. */
  char *saved = r->auth_header;
  r->auth_header = NULL;
  if (r->have_creds) {
    char up[520];
    snprintf(up, sizeof up, "%s:%s", r->creds.username, r->creds.password);
    char *b64 = base64(up);
    OPENSSL_cleanse(up, sizeof up);
    if (b64)
      set_auth(r, "Basic", b64);
    free(b64);
  }
  struct nc_buf body;
  nc_buf_init(&body, TOKEN_BODY_MAX);
  struct response resp = { .body = &body };
  long status = 0;
  int rc = get(r, url, "application/json", &resp, &status, err);
  free(r->auth_header);
  r->auth_header = saved;
  if (rc == 0 && (status < 200 || status >= 300)) {
    char what[300];
    snprintf(what, sizeof what, "a token for %s", r->repository);
    rc = registry_http_error(r, status, what, body.data, err);
  }
  json_t *j = rc == 0 ? json_loadb(body.data ? body.data : "", body.len, 0, NULL) : NULL;
  const char *token = json_string_value(json_object_get(j, "token"));
  if (!token)
    token = json_string_value(json_object_get(j, "access_token"));
  if (rc == 0 && !token)
    rc = nc_err_set(err, NC_ERR_INVALID, "registry %s: the token service sent no token",
                    r->name);
  if (rc == 0)
    set_auth(r, "Bearer", token);
  json_decref(j);
  nc_buf_free(&body);
  return rc;
}

int registry_authenticate(struct registry *r, const char *challenge, struct nc_err *err)
{
  if (!strncasecmp(challenge, "Bearer ", 7))
    return bearer_token(r, challenge + 7, err);
  if (!strncasecmp(challenge, "Basic", 5)) {
    if (!r->have_creds)
      return nc_err_set(err, NC_ERR_INVALID,
                        "registry %s requires authentication: run 'nanocl login %s'", r->name,
                        r->name);
    char up[520];
    snprintf(up, sizeof up, "%s:%s", r->creds.username, r->creds.password);
    char *b64 = base64(up);
    OPENSSL_cleanse(up, sizeof up);
    int rc = b64 ? set_auth(r, "Basic", b64) : -1;
    free(b64);
    return rc < 0 ? nc_err_set(err, NC_ERR_INTERNAL, "out of memory") : 0;
  }
  return nc_err_set(err, NC_ERR_INVALID, "registry %s: unsupported authentication '%.40s'",
                    r->name, challenge);
}

int registry_get_manifest(struct registry *r, const char *reference, struct nc_buf *body,
                          char media_type[128], char digest[NC_DIGEST_SIZE], struct nc_err *err)
{
  char url[1024], what[512];
  snprintf(url, sizeof url, "%s/v2/%s/manifests/%s", r->base_url, r->repository, reference);
  snprintf(what, sizeof what, "manifest %s:%s", r->repository, reference);
  struct response resp;
  if (get_authed(r, url, MANIFEST_ACCEPT, body, &resp, what, err) < 0)
    return -1;
  snprintf(media_type, 128, "%s", resp.content_type);
  nc_sha256_of(body->data ? body->data : "", body->len, digest);
  if (!strncmp(reference, "sha256:", 7) && strcmp(reference, digest) != 0)
    return nc_err_set(err, NC_ERR_INVALID, "registry %s: manifest %s does not match its digest",
                      r->name, reference);
  return 0;
}

int registry_get_blob(struct registry *r, const char *digest, size_t limit, struct nc_buf *body,
                      struct nc_err *err)
{
  char url[1024], what[128];
  snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", r->base_url, r->repository, digest);
  snprintf(what, sizeof what, "blob %s", digest);
  body->limit = limit;
  struct response resp;
  if (get_authed(r, url, NULL, body, &resp, what, err) < 0)
    return -1;
  char got[NC_DIGEST_SIZE];
  nc_sha256_of(body->data ? body->data : "", body->len, got);
  if (strcmp(got, digest) != 0)
    return nc_err_set(err, NC_ERR_INVALID, "registry %s: blob %s does not match its digest",
                      r->name, digest);
  return 0;
}

int registry_check_login(struct registry *r, struct nc_err *err)
{
  char url[512];
  snprintf(url, sizeof url, "%s/v2/", r->base_url);
  struct nc_buf body;
  nc_buf_init(&body, ERROR_BODY_MAX);
  struct response resp;
  /* A 401 challenge makes get_authed present the credentials (to the registry,
   * or to its token service), which is the check. A registry that lets anyone
   * in without a challenge cannot tell us more (Docker accepts that too). */
  int rc = get_authed(r, url, NULL, &body, &resp, "login", err);
  nc_buf_free(&body);
  return rc;
}
