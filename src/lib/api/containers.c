/* /v1/containers */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "api/stream.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/parse.h"
#include "model/name.h"
#include "runtime/container.h"
#include "runtime/spec.h"

static const char *query(struct api_req *req, const char *name)
{
  return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}


static int query_int(struct api_req *req, const char *name, uint64_t max, int64_t *out,
                     struct nc_err *err)
{
  const char *v = query(req, name);
  uint64_t n;
  if (!v || !*v)
    return 0;
  if (nc_parse_u64(v, max, &n) < 0)
    return nc_err_set(err, NC_ERR_BAD_REQUEST, "query parameter '%s' must be a number 0-%llu",
                      name, (unsigned long long)max);
  *out = (int64_t)n;
  return 0;
}

int api_container_list(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  bool all;
  json_t *out;
  if (api_query_ns(req, &ns, err) < 0 || api_query_flag(req, "all", &all, err) < 0 ||
      container_list(req->cfg->containers, ns, all, &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_container_create(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *body, *out = NULL;
  if (api_query_ns(req, &ns, err) < 0 || api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = container_create(req->cfg->containers, ns, body, &out, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 201, out);
  return 0;
}

int api_container_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  json_t *out;
  if (api_query_ns(req, &ns, err) < 0 ||
      container_inspect(req->cfg->containers, ns, req->params[0], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_container_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  bool force;
  if (api_query_ns(req, &ns, err) < 0 || api_query_flag(req, "force", &force, err) < 0 ||
      container_remove(req->cfg->containers, ns, req->params[0], force, err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}

int api_container_start(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  if (api_query_ns(req, &ns, err) < 0 ||
      container_start(req->cfg->containers, ns, req->params[0], err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}

int api_container_stop(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  int64_t t = -1;
  if (api_query_ns(req, &ns, err) < 0 || query_int(req, "t", 3600, &t, err) < 0 ||
      container_stop(req->cfg->containers, ns, req->params[0], (int)t, err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}

int api_container_restart(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  int64_t t = -1;
  if (api_query_ns(req, &ns, err) < 0 || query_int(req, "t", 3600, &t, err) < 0 ||
      container_restart(req->cfg->containers, ns, req->params[0], (int)t, err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}

int api_container_kill(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns, *signame = query(req, "signal");
  int sig = signame && *signame ? runtime_signal_parse(signame) : 9;
  if (sig <= 0)
    return nc_err_set(err, NC_ERR_INVALID, "unknown signal '%.40s'", signame);
  if (api_query_ns(req, &ns, err) < 0 ||
      container_kill(req->cfg->containers, ns, req->params[0], sig, err) < 0)
    return -1;
  resp->status = 204;
  return 0;
}

int api_container_wait(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns, *cond = query(req, "condition");
  json_t *out;
  if (cond && *cond && strcmp(cond, "not-running") && strcmp(cond, "removed"))
    return nc_err_set(err, NC_ERR_INVALID,
                      "condition: must be not-running (the default) or removed, got '%.40s'",
                      cond);
  bool removed = cond && !strcmp(cond, "removed");
  if (api_query_ns(req, &ns, err) < 0 ||
      (removed ? container_wait_removed : container_wait)(req->cfg->containers, ns,
                                                           req->params[0], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

/* ---- logs: the log file's JSON lines, streamed as they are (NDJSON) ---- */

struct log_job {
  struct container_service *svc;
  struct api_stream *stream;
  char id[65];
  char path[PATH_MAX];
  bool follow;
  int64_t tail;  /* -1 = all */
  int64_t since; /* seconds since the epoch; 0 = all */
};

/* Sends the complete lines of buf (newer than `since`); returns bytes consumed. */
static size_t send_lines(struct log_job *j, const char *buf, size_t len)
{
  size_t done = 0;
  for (;;) {
    const char *nl = memchr(buf + done, '\n', len - done);
    if (!nl)
      return done;
    json_t *line = json_loadb(buf + done, (size_t)(nl - buf - done), 0, NULL);
    bool keep = line != NULL;
    if (keep && j->since) {
      struct tm tm = { 0 };
      const char *t = json_string_value(json_object_get(line, "time"));
      keep = t && strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) && timegm(&tm) >= j->since;
    }
    if (keep)
      api_stream_write(j->stream, line);
    json_decref(line);
    done = (size_t)(nl - buf) + 1;
  }
}

/* Where to start reading for the last `tail` lines. */
static off_t tail_offset(int fd, int64_t tail)
{
  struct stat st;
  if (tail < 0 || fstat(fd, &st) < 0)
    return 0;
  off_t pos = st.st_size;
  int64_t lines = -1; /* the last newline ends the last line */
  char buf[8192];
  while (pos > 0) {
    off_t start = pos > (off_t)sizeof buf ? pos - (off_t)sizeof buf : 0;
    ssize_t n = pread(fd, buf, (size_t)(pos - start), start);
    if (n <= 0)
      return 0;
    for (ssize_t i = n - 1; i >= 0; i--)
      if (buf[i] == '\n' && ++lines == tail)
        return start + i + 1;
    pos = start;
  }
  return 0;
}

static void *log_run(void *arg)
{
  struct log_job *j = arg;
  struct nc_buf pending;
  nc_buf_init(&pending, 0);
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  struct stat st0;
  if (fd >= 0) {
    fstat(fd, &st0);
    lseek(fd, tail_offset(fd, j->tail), SEEK_SET);
  }
  char buf[65536];
  for (;;) {
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
    if (n > 0) {
      nc_buf_append(&pending, buf, (size_t)n);
      size_t used = send_lines(j, pending.data, pending.len);
      memmove(pending.data, pending.data + used, pending.len - used);
      pending.len -= used;
      continue;
    }
    if (!j->follow || !api_stream_alive(j->stream) || atomic_load(&j->svc->quitting))
      break; /* (nanocld shutting down: the stream ends, the client sees it end) */
    char state[16];
    container_state(j->svc, j->id, state);
    if (!strcmp(state, "created")) {
      /* Followed before its start (the CLI's run does so, as Docker's attaches before
       * starting: nothing of a quick command is missed, even when it is auto-removed
       * at once): wait for the start, or the removal. */
      container_wait_while(j->svc, j->id, "created", 1000, state);
      continue;
    }
    bool running = !strcmp(state, "running");
    /* The shim rotated the log: go on with the new file. */
    struct stat st;
    if (stat(j->path, &st) == 0 && (fd < 0 || st.st_ino != st0.st_ino)) {
      if (fd >= 0)
        close(fd);
      fd = open(j->path, O_RDONLY | O_CLOEXEC);
      if (fd >= 0)
        fstat(fd, &st0);
      continue;
    }
    if (!running)
      break;
    /* Wakes at once when the container ends (the watcher signals it), else
     * after 50 ms to look for new output. */
    container_wait_stopped(j->svc, j->id, 50);
  }
  if (fd >= 0)
    close(fd);
  nc_buf_free(&pending);
  api_stream_close(j->stream);
  free(j);
  return NULL;
}

int api_container_logs(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ns;
  struct log_job *j = calloc(1, sizeof *j);
  if (!j)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  j->svc = req->cfg->containers;
  j->tail = -1;
  int64_t tail = -1;
  int r = api_query_ns(req, &ns, err);
  if (r == 0)
    r = api_query_flag(req, "follow", &j->follow, err);
  if (r == 0 && query(req, "tail") && strcmp(query(req, "tail"), "all"))
    r = query_int(req, "tail", 1u << 30, &tail, err);
  if (r == 0)
    r = query_int(req, "since", INT64_MAX, &j->since, err);
  if (r == 0)
    r = container_log_path(j->svc, ns, req->params[0], j->id, j->path, sizeof j->path, err);
  j->tail = tail;
  struct api_stream *stream = r == 0 ? api_stream_new() : NULL;
  if (r == 0 && !stream)
    r = nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  if (r < 0) {
    free(j);
    return -1;
  }
  j->stream = stream;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  r = pthread_create(&th, &attr, log_run, j);
  pthread_attr_destroy(&attr);
  if (r != 0) {
    api_stream_close(stream);
    struct MHD_Response *resp0 = api_stream_response(stream);
    if (resp0)
      MHD_destroy_response(resp0);
    free(j);
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start a thread");
  }
  resp->status = 200;
  resp->stream = stream;
  return 0;
}
