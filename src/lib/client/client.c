/* The nanocld API client on our own HTTP/1.1 (http.h): one kept-alive
 * connection per client, so the several calls of one CLI run (namespace rm
 * a b c) share it. */
#include "client/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/cleanup.h"
#include "base/hosturl.h"
#include "client/http.h"

#define CALL_TIMEOUT_MS 60000     /* silence allowed in a plain call */
#define AFTER_SEND_ERROR_MS 5000  /* the server closed on us: its answer is there or not */
#define MAX_LINE (1024u * 1024)   /* one line of a JSON-lines answer */
#define PIECE 16384               /* body bytes handled per step */

struct nc_client {
  struct nc_host_url url;
  char host_text[400];
  char host_header[300]; /* "localhost", or "HOST:PORT" */
  struct nc_conn conn;
  struct nc_http_resp pending; /* nc_client_stream_begin's answer, its body unread */
};

/* Where a request body comes from. */
struct body {
  char *data;       /* a JSON text, or NULL */
  size_t len;
  int fd;           /* an upload, or -1 */
  bool regular;     /* the upload is a regular file: size known, can be resent */
  off_t start;
  uint64_t size;
  bool consumed;    /* bytes were taken from a pipe: the request cannot be repeated */
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
    snprintf(c->host_header, sizeof c->host_header, "localhost");
  else if (strchr(c->url.host, ':'))
    snprintf(c->host_header, sizeof c->host_header, "[%s]:%u", c->url.host, c->url.port);
  else
    snprintf(c->host_header, sizeof c->host_header, "%s:%u", c->url.host, c->url.port);
  nc_conn_init(&c->conn, c->host_text);
  *out = c;
  return 0;
}

void nc_client_free(struct nc_client *c)
{
  if (!c)
    return;
  nc_conn_close(&c->conn);
  free(c);
}

const char *nc_client_host(const struct nc_client *c)
{
  return c->host_text;
}

/* A chunked body from a pipe: read() until EOF, each read one chunk. */
static int send_pipe(struct nc_client *c, struct body *b, struct nc_err *err)
{
  _cleanup_free_ char *buf = malloc(NC_HTTP_PIECE);
  if (!buf)
    return nc_err_sys(err, ENOMEM, "uploading");
  for (;;) {
    ssize_t n = read(b->fd, buf, NC_HTTP_PIECE);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = { .fd = b->fd, .events = POLLIN };
      (void)poll(&p, 1, -1);
      continue;
    }
    if (n < 0)
      return nc_err_sys(err, errno, "reading what to upload");
    if (n > 0)
      b->consumed = true;
    /* n == 0 gives "0\r\n" "\r\n": the last chunk and an empty trailer. */
    static char crlf[] = "\r\n";
    char size[24];
    int sl = snprintf(size, sizeof size, "%zx\r\n", (size_t)n);
    struct iovec v[3] = { { size, (size_t)sl }, { buf, (size_t)n }, { crlf, 2 } };
    int r = nc_conn_sendv(&c->conn, v, 3, err);
    if (r != 0 || n == 0)
      return r;
  }
}

/* 0 sent, 1 the server answered or hung up first, -1 error (see nc_conn_sendv). */
static int send_request(struct nc_client *c, const struct nc_buf *head, struct body *b,
                        struct nc_err *err)
{
  struct iovec v[2] = { { head->data, head->len }, { b->data, b->data ? b->len : 0 } };
  int r = nc_conn_sendv(&c->conn, v, 2, err);
  if (r != 0 || b->fd < 0)
    return r;
  if (b->regular) {
    /* From the offset it had, every attempt: the fd's own offset is not moved. */
    off_t off = b->start;
    return nc_conn_sendfile(&c->conn, b->fd, &off, b->size, err);
  }
  return send_pipe(c, b, err);
}

/* Sends the request and reads the answer's head, on the kept-alive
 * connection when there is one. */
static int exchange(struct nc_client *c, const struct nc_buf *head, struct body *b,
                    bool head_request, bool upgrade, int timeout_ms, struct nc_http_resp *r,
                    struct nc_err *err)
{
  struct nc_conn *conn = &c->conn;
  for (int attempt = 0;; attempt++) {
    bool reused = conn->fd >= 0;
    if (reused && !nc_conn_idle_ok(conn)) {
      nc_conn_close(conn);
      reused = false;
    }
    if (!reused && nc_conn_open(conn, &c->url, err) < 0)
      return -1;
    conn->timeout_ms = timeout_ms;

    int sent = send_request(c, head, b, err);
    struct nc_err send_err = NC_ERR_INIT;
    if (sent < 0) {
      /* A file that cannot be read, a timeout: nothing to wait for. */
      if (!nc_conn_peer_gone(err->sys_errno)) {
        nc_conn_close(conn);
        return -1;
      }
      /* The server closed on us; it may have said why first (413), and that
       * says more than EPIPE. Its answer is already here if there is one. */
      send_err = *err;
      if (timeout_ms < 0 || timeout_ms > AFTER_SEND_ERROR_MS)
        conn->timeout_ms = AFTER_SEND_ERROR_MS;
    }

    int rh = nc_http_read_head(conn, head_request, upgrade, r, err);
    if (rh == -2 && reused && attempt == 0 && (b->fd < 0 || b->regular || !b->consumed)) {
      /* The server dropped the idle connection as we reused it (its idle
       * timeout): nothing of the request was acted on, send it again. */
      nc_conn_close(conn);
      continue;
    }
    if (rh < 0) {
      if (sent < 0) {
        *err = send_err;
      } else if (sent == 1 && rh == -2) {
        /* It hung up while we waited to send more: a broken pipe too. */
        nc_err_set(err, NC_ERR_UNAVAILABLE, "talking to nanocld at %s: sending the request: %s",
                   c->host_text, strerror(EPIPE));
        err->sys_errno = EPIPE;
      }
      nc_conn_close(conn);
      return -1;
    }
    if (sent != 0)
      r->keep_alive = false; /* our request was cut short: the stream is out of step */
    conn->timeout_ms = timeout_ms;
    return 0;
  }
}

static bool method_has_body(const char *method)
{
  return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
         strcmp(method, "PATCH") == 0;
}

static int start(struct nc_client *c, const char *method, const char *path,
                 const char *content_type, struct body *b, int timeout_ms, const char *upgrade,
                 struct nc_http_resp *r, struct nc_err *err)
{
  int64_t len = NC_HTTP_NO_BODY;
  if (b->data)
    len = (int64_t)b->len;
  else if (b->fd >= 0)
    len = b->regular ? (int64_t)b->size : NC_HTTP_CHUNKED;
  else if (method_has_body(method))
    len = 0; /* an empty body, said so: some servers want a length on POST */
  struct nc_buf head;
  nc_buf_init(&head, 0);
  int ret = nc_http_request_head(&head, method, path, c->host_header, content_type, len, upgrade,
                                 err);
  if (ret == 0)
    ret = exchange(c, &head, b, strcmp(method, "HEAD") == 0, upgrade != NULL, timeout_ms, r,
                   err);
  nc_buf_free(&head);
  return ret;
}

/* After an answer: keep the connection only when it is at a clean boundary. */
static void finish(struct nc_client *c, const struct nc_http_resp *r)
{
  if (!r->done || !r->keep_alive || c->conn.rpos != c->conn.rlen)
    nc_conn_close(&c->conn);
}

static int too_large(struct nc_err *err)
{
  return nc_err_set(err, NC_ERR_TOO_LARGE, "answer of nanocld is larger than %u bytes",
                    NC_CLIENT_MAX_RESPONSE);
}

static int read_all(struct nc_client *c, struct nc_http_resp *r, struct nc_buf *out,
                    struct nc_err *err)
{
  if (!r->done && r->has_length && !r->chunked && r->length > NC_CLIENT_MAX_RESPONSE)
    return too_large(err);
  char piece[PIECE];
  for (;;) {
    ssize_t n = nc_http_read_body(&c->conn, r, piece, sizeof piece, err);
    if (n <= 0)
      return (int)n;
    if (nc_buf_append(out, piece, (size_t)n) < 0)
      return errno == EFBIG ? too_large(err) : nc_err_sys(err, ENOMEM, "reading the answer");
  }
}

/* The API's error body {"error": "...", "kind": "..."} → err. */
static int api_error(int status, const struct nc_buf *resp, struct nc_err *err)
{
  enum nc_err_kind kind = nc_err_kind_from_http((unsigned)status);
  json_t *j = resp->len ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
  const char *msg = json_string_value(json_object_get(j, "error"));
  if (msg)
    nc_err_set(err, kind, "%s", msg);
  else
    nc_err_set(err, kind, "nanocld answered HTTP %d%s%.200s", status, resp->len ? ": " : "",
               resp->len ? resp->data : "");
  json_decref(j);
  return -1;
}

static bool is_json(const char *ctype)
{
  /* "application/json", maybe with parameters ("; charset=utf-8"). */
  return strncmp(ctype, "application/json", 16) == 0 &&
         (ctype[16] == '\0' || ctype[16] == ';' || ctype[16] == ' ');
}

int nc_client_call(struct nc_client *c, const char *method, const char *path, json_t *body,
                   json_t **out, struct nc_err *err)
{
  if (out)
    *out = NULL;
  _cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (body && !payload)
    return nc_err_sys(err, ENOMEM, "encoding the request");
  struct body b = { .data = payload, .len = payload ? strlen(payload) : 0, .fd = -1 };
  struct nc_http_resp r;
  if (start(c, method, path, payload ? "application/json" : NULL, &b, CALL_TIMEOUT_MS, NULL, &r,
            err) < 0)
    return -1;

  struct nc_buf resp;
  nc_buf_init(&resp, NC_CLIENT_MAX_RESPONSE);
  int ret = read_all(c, &r, &resp, err);
  finish(c, &r);
  if (ret == 0 && (r.status < 200 || r.status >= 300)) {
    ret = api_error(r.status, &resp, err);
  } else if (ret == 0) {
    ret = r.status;
    if (out && resp.len && is_json(r.content_type)) {
      json_error_t jerr;
      *out = json_loadb(resp.data, resp.len, 0, &jerr);
      if (!*out)
        ret = nc_err_set(err, NC_ERR_INTERNAL, "nanocld sent malformed JSON: %s", jerr.text);
    } else if (out && resp.len) {
      *out = json_stringn(resp.data, resp.len);
    }
  }
  nc_buf_free(&resp);
  return ret;
}

/* One line of a JSON-lines answer to the callback; blank lines are skipped. */
static int emit(const struct nc_buf *line, nc_client_line_fn on_line, void *ctx,
                struct nc_err *err)
{
  size_t len = line->len;
  while (len && strchr(" \t\r", line->data[len - 1]))
    len--;
  if (!len)
    return 0;
  json_error_t jerr;
  json_t *j = json_loadb(line->data, len, 0, &jerr);
  if (!j)
    return nc_err_set(err, NC_ERR_INTERNAL, "nanocld sent a malformed line: %s", jerr.text);
  int r = on_line ? on_line(ctx, j) : 0;
  json_decref(j);
  return r;
}

/* Bytes of the body → lines: complete ones go to the callback, the rest
 * waits in `line` for the next bytes (a line may span chunks and reads). */
static int split_lines(struct nc_buf *line, const char *p, size_t n, nc_client_line_fn on_line,
                       void *ctx, struct nc_err *err)
{
  const char *end = p + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t take = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (nc_buf_append(line, p, take) < 0)
      return errno == EFBIG ? nc_err_set(err, NC_ERR_TOO_LARGE,
                                         "a line of nanocld's answer is longer than %u bytes",
                                         MAX_LINE)
                            : nc_err_sys(err, ENOMEM, "reading the answer");
    if (!nl)
      break;
    p = nl + 1;
    int r = emit(line, on_line, ctx, err);
    nc_buf_reset(line);
    if (r != 0)
      return r;
  }
  return 0;
}

/* The answer of nc_client_stream and nc_client_upload after its head. */
static int consume_stream(struct nc_client *c, struct nc_http_resp *r, nc_client_line_fn on_line,
                          void *ctx, struct nc_err *err)
{
  if (r->status < 200 || r->status >= 300) {
    /* An error answer is small and complete: no reason to wait long for it. */
    c->conn.timeout_ms = CALL_TIMEOUT_MS;
    struct nc_buf resp;
    nc_buf_init(&resp, NC_CLIENT_MAX_RESPONSE);
    int ret = read_all(c, r, &resp, err);
    finish(c, r);
    if (ret == 0)
      ret = api_error(r->status, &resp, err);
    nc_buf_free(&resp);
    return ret;
  }

  struct nc_buf line;
  nc_buf_init(&line, MAX_LINE);
  char piece[PIECE];
  int ret;
  for (;;) {
    ssize_t n = nc_http_read_body(&c->conn, r, piece, sizeof piece, err);
    if (n < 0) {
      ret = -1;
      break;
    }
    if (n == 0) {
      ret = emit(&line, on_line, ctx, err); /* a last line without its '\n' */
      break;
    }
    ret = split_lines(&line, piece, (size_t)n, on_line, ctx, err);
    if (ret != 0)
      break;
  }
  nc_buf_free(&line);
  finish(c, r); /* a callback that stopped early leaves the rest unread: closed */
  return ret;
}

int nc_client_stream_begin(struct nc_client *c, const char *method, const char *path,
                           json_t *body, struct nc_err *err)
{
  _cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (body && !payload)
    return nc_err_sys(err, ENOMEM, "encoding the request");
  struct body b = { .data = payload, .len = payload ? strlen(payload) : 0, .fd = -1 };
  /* No read timeout: a pull may stay quiet while a big layer downloads. */
  return start(c, method, path, payload ? "application/json" : NULL, &b, -1, NULL, &c->pending,
               err);
}

int nc_client_stream_end(struct nc_client *c, nc_client_line_fn on_line, void *ctx,
                         struct nc_err *err)
{
  return consume_stream(c, &c->pending, on_line, ctx, err);
}

int nc_client_stream(struct nc_client *c, const char *method, const char *path, json_t *body,
                     nc_client_line_fn on_line, void *ctx, struct nc_err *err)
{
  if (nc_client_stream_begin(c, method, path, body, err) < 0)
    return -1;
  return nc_client_stream_end(c, on_line, ctx, err);
}

int nc_client_upload(struct nc_client *c, const char *path, int fd, const char *content_type,
                     nc_client_line_fn on_line, void *ctx, struct nc_err *err)
{
  struct stat st;
  if (fstat(fd, &st) < 0)
    return nc_err_sys(err, errno, "uploading to %s", path);
  struct body b = { .fd = fd };
  if (S_ISREG(st.st_mode)) {
    off_t pos = lseek(fd, 0, SEEK_CUR);
    b.regular = true;
    b.start = pos > 0 ? pos : 0;
    b.size = st.st_size > b.start ? (uint64_t)(st.st_size - b.start) : 0;
  }
  struct nc_http_resp r;
  /* No timeout: the server may take its time storing what it got. */
  if (start(c, "POST", path, content_type ? content_type : "application/octet-stream", &b, -1,
            NULL, &r, err) < 0)
    return -1;
  return consume_stream(c, &r, on_line, ctx, err);
}

int nc_client_upgrade(struct nc_client *c, const char *path, json_t *body, const char *protocol,
                      int *fd, char **extra, size_t *extra_len, struct nc_err *err)
{
  *fd = -1;
  *extra = NULL;
  *extra_len = 0;
  _cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  if (body && !payload)
    return nc_err_sys(err, ENOMEM, "encoding the request");
  struct body b = { .data = payload, .len = payload ? strlen(payload) : 0, .fd = -1 };
  struct nc_http_resp r;
  if (start(c, "POST", path, payload ? "application/json" : NULL, &b, CALL_TIMEOUT_MS, protocol,
            &r, err) < 0)
    return -1;
  if (r.status != 101) {
    struct nc_buf resp;
    nc_buf_init(&resp, NC_CLIENT_MAX_RESPONSE);
    int ret = read_all(c, &r, &resp, err);
    finish(c, &r);
    if (ret == 0 && (r.status < 200 || r.status >= 300))
      api_error(r.status, &resp, err);
    else if (ret == 0)
      nc_err_set(err, NC_ERR_INTERNAL, "nanocld answered HTTP %d instead of switching to %s",
                 r.status, protocol);
    nc_buf_free(&resp);
    return -1;
  }
  struct nc_conn *conn = &c->conn;
  size_t left = conn->rlen - conn->rpos;
  if (left) {
    *extra = malloc(left);
    if (!*extra) {
      nc_conn_close(conn);
      return nc_err_sys(err, ENOMEM, "reading the answer");
    }
    memcpy(*extra, conn->rbuf + conn->rpos, left);
    *extra_len = left;
  }
  *fd = steal_fd(&conn->fd);
  conn->rpos = conn->rlen = 0;
  return 0;
}
