/* Parallel blob downloads (curl multi), each streamed into the blob store
 * through a blob_writer that hashes as it writes: a blob is committed only
 * when its size and digest are right, so a cut connection or a wrong byte
 * leaves nothing behind. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/registry.h"

#define PROGRESS_STEP (512 * 1024)

struct transfer {
  struct registry *r;
  struct registry_download *dl;
  size_t index;
  CURL *h;
  struct curl_slist *headers;
  struct blob_writer w;
  bool writer_open;
  bool write_failed;
  struct nc_err werr;
  char errbody[1024];
  size_t errlen;
  char challenge[1024];
  int attempts;
  uint64_t reported;
  registry_progress_fn progress;
  void *ctx;
};

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  if (len > 17 && !strncasecmp(buf, "WWW-Authenticate:", 17)) {
    const char *v = buf + 17;
    while (*v == ' ')
      v++;
    size_t vlen = len - (size_t)(v - buf);
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
      vlen--;
    snprintf(t->challenge, sizeof t->challenge, "%.*s", (int)vlen, v);
  }
  return len;
}

static size_t on_data(char *buf, size_t size, size_t n, void *ud)
{
  struct transfer *t = ud;
  size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code >= 300) {
    size_t room = sizeof t->errbody - 1 - t->errlen;
    size_t k = len < room ? len : room;
    memcpy(t->errbody + t->errlen, buf, k);
    t->errlen += k;
    t->errbody[t->errlen] = '\0';
    return len;
  }
  if (blob_writer_write(&t->w, buf, len, &t->werr) < 0) {
    t->write_failed = true;
    return 0;
  }
  t->dl->received += len;
  if (t->progress && t->dl->received - t->reported >= PROGRESS_STEP) {
    t->reported = t->dl->received;
    t->progress(t->ctx, t->index, t->dl);
  }
  return len;
}

static int on_xfer(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
  struct transfer *t = ud;
  return registry_cancelled(t->r) ? 1 : 0;
}

static void transfer_end(struct transfer *t, CURLM *m)
{
  if (t->h) {
    curl_multi_remove_handle(m, t->h);
    curl_easy_cleanup(t->h);
    t->h = NULL;
  }
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  if (t->writer_open)
    blob_writer_abort(&t->w);
  t->writer_open = false;
}

static int transfer_start(struct transfer *t, const struct blob_store *bs, CURLM *m,
                          struct nc_err *err)
{
  char url[1024];
  snprintf(url, sizeof url, "%s/v2/%s/blobs/%s", t->r->base_url, t->r->repository,
           t->dl->desc.digest);
  /* A registry that sends more than the manifest says is cut off there. */
  uint64_t limit = t->dl->desc.size > 0 ? (uint64_t)t->dl->desc.size : 0;
  if (blob_writer_open(bs, &t->w, limit, err) < 0)
    return -1;
  t->writer_open = true;
  t->write_failed = false;
  t->errlen = 0;
  t->challenge[0] = '\0';
  t->dl->received = 0;
  t->reported = 0;
  t->h = registry_new_handle(t->r, url);
  if (!t->h)
    return nc_err_set(err, NC_ERR_INTERNAL, "curl_easy_init failed");
  if (t->r->auth_header)
    t->headers = curl_slist_append(NULL, t->r->auth_header);
  curl_easy_setopt(t->h, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(t->h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(t->h, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(t->h, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(t->h, CURLOPT_XFERINFOFUNCTION, on_xfer);
  curl_easy_setopt(t->h, CURLOPT_XFERINFODATA, t);
  curl_easy_setopt(t->h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(t->h, CURLOPT_PRIVATE, t);
  curl_multi_add_handle(m, t->h);
  t->dl->state = REGISTRY_DL_RUNNING;
  if (t->progress)
    t->progress(t->ctx, t->index, t->dl);
  return 0;
}

/* A transfer ended: commit its blob, retry after re-authenticating, or fail.
 * Returns 0 done, 1 restarted, -1 failed (err set). */
static int transfer_finish(struct transfer *t, const struct blob_store *bs, CURLM *m,
                           CURLcode res, struct nc_err *err)
{
  const char *digest = t->dl->desc.digest;
  long status = 0;
  curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &status);

  if (res == CURLE_ABORTED_BY_CALLBACK) {
    nc_err_set(err, NC_ERR_UNAVAILABLE, "pull cancelled");
  } else if (t->write_failed) {
    *err = t->werr;
    nc_err_wrap(err, "registry %s: blob %s", t->r->name, digest);
  } else if (res != CURLE_OK) {
    nc_err_set(err, NC_ERR_UNAVAILABLE, "registry %s: downloading blob %s: %s", t->r->name,
               digest, curl_easy_strerror(res));
  } else if (status == 401 && t->attempts == 0 && t->challenge[0]) {
    char challenge[sizeof t->challenge];
    memcpy(challenge, t->challenge, sizeof challenge);
    transfer_end(t, m);
    t->attempts++;
    if (registry_authenticate(t->r, challenge, err) < 0 || transfer_start(t, bs, m, err) < 0)
      return -1;
    return 1;
  } else if (status < 200 || status >= 300) {
    char what[128];
    snprintf(what, sizeof what, "blob %s", digest);
    registry_http_error(t->r, status, what, t->errbody, err);
  } else {
    t->writer_open = false; /* commit ends the writer, success or not */
    if (blob_writer_commit(bs, &t->w, digest, t->dl->desc.size, NULL, err) < 0) {
      nc_err_wrap(err, "registry %s", t->r->name);
    } else {
      transfer_end(t, m);
      t->dl->state = REGISTRY_DL_DONE;
      if (t->progress)
        t->progress(t->ctx, t->index, t->dl);
      return 0;
    }
  }
  transfer_end(t, m);
  t->dl->state = REGISTRY_DL_FAILED;
  t->dl->err = *err;
  if (t->progress)
    t->progress(t->ctx, t->index, t->dl);
  return -1;
}

int registry_download(struct registry *r, const struct blob_store *bs,
                      struct registry_download *dl, size_t n, unsigned parallel,
                      registry_progress_fn progress, void *ctx, struct nc_err *err)
{
  if (n == 0)
    return 0;
  struct transfer *ts = calloc(n, sizeof *ts);
  CURLM *m = curl_multi_init();
  if (!ts || !m) {
    free(ts);
    if (m)
      curl_multi_cleanup(m);
    return nc_err_set(err, NC_ERR_INTERNAL, "downloading blobs: out of memory");
  }
  for (size_t i = 0; i < n; i++)
    ts[i] = (struct transfer){ .r = r, .dl = &dl[i], .index = i, .progress = progress,
                               .ctx = ctx };

  size_t next = 0, active = 0;
  int rc = 0;
  while (rc == 0 && (next < n || active > 0)) {
    while (rc == 0 && active < parallel && next < n) {
      if (transfer_start(&ts[next], bs, m, err) < 0)
        rc = -1;
      next++;
      active++;
    }
    int running = 0;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while (rc == 0 && (msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      struct transfer *t = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      int f = transfer_finish(t, bs, m, msg->data.result, err);
      if (f < 0)
        rc = -1;
      else if (f == 0)
        active--;
    }
    if (rc == 0 && (next < n || active > 0))
      curl_multi_poll(m, NULL, 0, 200, NULL);
    if (rc == 0 && registry_cancelled(r))
      rc = nc_err_set(err, NC_ERR_UNAVAILABLE, "pull cancelled");
  }
  for (size_t i = 0; i < n; i++)
    transfer_end(&ts[i], m);
  curl_multi_cleanup(m);
  free(ts);
  return rc;
}
