/* The canned HTTP server of test-client.c: a thread accepting on listen_fd,
 * reading each request (Content-Length or chunked body, hashed with sha256)
 * and answering by path with a fixed answer; `seen` holds the last request.
 * Only test-client.c includes it (the unit tests are one .c each). */
#pragma once

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "image/digest.h"

static int listen_fd = -1;
static int accepted; /* connections the server took */

/* What the server saw of the last request. */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct req {
  char method[16], path[256], host[128], ua[64], ctype[128], conn[64], upgrade[64];
  bool chunked, has_len;
  unsigned long long len;           /* Content-Length */
  unsigned long long body;          /* bytes of body received */
  char sha[NC_DIGEST_SIZE];
} seen;

struct sconn {
  int fd;
  size_t pos, len;
  char buf[65536];
};

static ssize_t s_fill(struct sconn *s)
{
  if (s->pos == s->len)
    s->pos = s->len = 0;
  ssize_t n;
  do
    n = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    s->len += (size_t)n;
  return n;
}

static int s_line(struct sconn *s, char *out, size_t cap)
{
  size_t n = 0;
  for (;;) {
    while (s->pos < s->len) {
      char ch = s->buf[s->pos++];
      if (ch == '\n') {
        if (n && out[n - 1] == '\r')
          n--;
        out[n] = '\0';
        return (int)n;
      }
      if (n + 1 < cap)
        out[n++] = ch;
    }
    if (s_fill(s) <= 0)
      return -1;
  }
}

static int s_body(struct sconn *s, unsigned long long len, struct nc_sha256 *h, struct req *q)
{
  while (len) {
    if (s->pos == s->len && s_fill(s) <= 0)
      return -1;
    size_t k = s->len - s->pos;
    if (k > len)
      k = (size_t)len;
    nc_sha256_update(h, s->buf + s->pos, k);
    s->pos += k;
    len -= k;
    q->body += k;
  }
  return 0;
}

static void s_send(int fd, const char *data, size_t len)
{
  while (len) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    data += n;
    len -= (size_t)n;
  }
}

static void s_str(int fd, const char *s)
{
  s_send(fd, s, strlen(s));
}

static void s_chunk(int fd, const char *data)
{
  char size[24];
  snprintf(size, sizeof size, "%zx\r\n", strlen(data));
  s_str(fd, size);
  s_str(fd, data);
  s_str(fd, "\r\n");
}

static int read_head(struct sconn *s, struct req *q)
{
  char line[8192];
  memset(q, 0, sizeof *q);
  if (s_line(s, line, sizeof line) <= 0 ||
      sscanf(line, "%15s %255s", q->method, q->path) != 2)
    return -1;
  int n;
  while ((n = s_line(s, line, sizeof line)) > 0) {
    char *v = strchr(line, ':');
    if (!v)
      continue;
    *v++ = '\0';
    v += strspn(v, " ");
    if (strcasecmp(line, "Host") == 0)
      snprintf(q->host, sizeof q->host, "%s", v);
    else if (strcasecmp(line, "User-Agent") == 0)
      snprintf(q->ua, sizeof q->ua, "%s", v);
    else if (strcasecmp(line, "Content-Type") == 0)
      snprintf(q->ctype, sizeof q->ctype, "%s", v);
    else if (strcasecmp(line, "Connection") == 0)
      snprintf(q->conn, sizeof q->conn, "%s", v);
    else if (strcasecmp(line, "Upgrade") == 0)
      snprintf(q->upgrade, sizeof q->upgrade, "%s", v);
    else if (strcasecmp(line, "Transfer-Encoding") == 0)
      q->chunked = strcasecmp(v, "chunked") == 0;
    else if (strcasecmp(line, "Content-Length") == 0)
      q->has_len = true, q->len = strtoull(v, NULL, 10);
  }
  return n == 0 ? 0 : -1;
}

static int read_body(struct sconn *s, struct req *q)
{
  struct nc_sha256 h;
  struct nc_err err = NC_ERR_INIT;
  char line[256];
  if (nc_sha256_init(&h, &err) < 0)
    return -1;
  int r = 0;
  if (q->chunked) {
    for (;;) {
      unsigned long long size;
      if (s_line(s, line, sizeof line) < 0 || sscanf(line, "%llx", &size) != 1) {
        r = -1;
        break;
      }
      if (size == 0) {
        while ((r = s_line(s, line, sizeof line)) > 0) /* trailers */
          ;
        break;
      }
      if (s_body(s, size, &h, q) < 0 || s_line(s, line, sizeof line) != 0) {
        r = -1;
        break;
      }
    }
  } else if (q->has_len) {
    r = s_body(s, q->len, &h, q);
  }
  nc_sha256_final(&h, q->sha);
  return r < 0 ? -1 : 0;
}

#define JSON_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
#define CHUNKED_HEAD "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"

/* Answers one request; returns 1 to keep the connection, 0 to close it,
 * 2 to close it when the next request has arrived, unanswered. */
static int answer(struct sconn *s, struct req *q)
{
  int fd = s->fd;
  const char *p = q->path;
  if (strcmp(p, "/upload-drop") == 0)
    return 0; /* closes without a word */
  if (strcmp(p, "/upload-refuse") == 0) { /* before reading a byte of the body */
    s_str(fd, "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
              "Connection: close\r\nContent-Length: 46\r\n\r\n"
              "{\"error\":\"image too large\",\"kind\":\"too_large\"}");
    return 0;
  }
  int body_ok = read_body(s, q);
  pthread_mutex_lock(&seen_lock);
  seen = *q;
  pthread_mutex_unlock(&seen_lock);
  if (body_ok < 0)
    return 0;

  if (strcmp(p, "/upgrade") == 0) {
    /* 101 and the new protocol's first bytes in one piece; then "ping" → "pong". */
    s_str(fd, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
              "Upgrade: nanocl-exec\r\n\r\nEXTRA");
    while (s->len - s->pos < 4 && s_fill(s) > 0)
      ;
    if (s->len - s->pos >= 4 && memcmp(s->buf + s->pos, "ping", 4) == 0)
      s_str(fd, "pong");
    return 0;
  }
  if (strcmp(p, "/cl") == 0 || strcmp(p, "/drop-next") == 0) {
    s_str(fd, JSON_HEAD "Content-Length: 16\r\n\r\n{\"name\":\"alpha\"}");
    return strcmp(p, "/cl") == 0 ? 1 : 2;
  } else if (strcmp(p, "/chunked") == 0) {
    s_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
              "Transfer-Encoding: chunked\r\n\r\n4\r\n[1, \r\n3;name=value\r\n2, \r\n"
              "A\r\n3, \"four\"]\r\n0\r\nX-Checksum: none\r\nX-Other: 1\r\n\r\n");
  } else if (strcmp(p, "/close") == 0) {
    s_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
              "until the end");
    return 0;
  } else if (strcmp(p, "/http10") == 0) {
    s_str(fd, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"v\":10}");
    return 0;
  } else if (strcmp(p, "/missing") == 0) {
    s_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
              "Content-Length: 55\r\n\r\n"
              "{\"error\":\"namespace 'zz' not found\",\"kind\":\"not_found\"}");
  } else if (strcmp(p, "/plain-error") == 0) {
    s_str(fd, "HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nboom");
  } else if (strcmp(p, "/nocontent") == 0) {
    s_str(fd, "HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n");
  } else if (strcmp(p, "/head") == 0) {
    s_str(fd, JSON_HEAD "Content-Length: 12\r\n\r\n");
  } else if (strcmp(p, "/head-huge") == 0) {
    s_str(fd, JSON_HEAD "Content-Length: 100000000\r\n\r\n");
  } else if (strcmp(p, "/interim") == 0) {
    s_str(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX-A: b\r\n\r\n"
              "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
              "Content-Length: 2\r\n\r\n{}");
  } else if (strcmp(p, "/stream") == 0 || strcmp(p, "/stream-bad") == 0) {
    /* Three lines cut mid-line across chunks, each chunk its own write. */
    static const char *const good[] = { "{\"n\"", ":1}\n{\"n\":2", "}\r\n\n{", "\"n\":3}\n", 0 };
    static const char *const bad[] = { "{\"n\":1}\nnot js", "on\n{\"n\":3}\n", 0 };
    s_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
              "Transfer-Encoding: chunked\r\n\r\n");
    for (const char *const *c = p[7] ? bad : good; *c; c++) {
      s_chunk(fd, *c);
      usleep(2000);
    }
    s_str(fd, "0\r\n\r\n");
  } else if (strcmp(p, "/badchunk") == 0) {
    s_str(fd, CHUNKED_HEAD "\r\n5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n");
    return 0;
  } else if (strcmp(p, "/bighead") == 0) {
    s_str(fd, "HTTP/1.1 200 OK\r\nX-Big: ");
    char *big = malloc(70000);
    memset(big, 'a', 70000);
    s_send(fd, big, 70000);
    free(big);
    s_str(fd, "\r\nContent-Length: 0\r\n\r\n");
    return 0;
  } else if (strcmp(p, "/huge") == 0) {
    s_str(fd, JSON_HEAD "Content-Length: 100000000\r\n\r\n[");
    return 0;
  } else if (strcmp(p, "/upload") == 0) {
    char line[300];
    snprintf(line, sizeof line, "{\"bytes\":%llu,\"sha256\":\"%s\",\"chunked\":%s}\n", q->body,
             q->sha, q->chunked ? "true" : "false");
    s_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
              "Transfer-Encoding: chunked\r\n\r\n");
    s_chunk(fd, "{\"status\":\"received\"}\n");
    s_chunk(fd, line);
    s_str(fd, "0\r\n\r\n");
  } else {
    s_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  }
  return 1;
}

static void *server(void *arg)
{
  static struct sconn s;
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0 && errno == EINTR)
      continue;
    if (fd < 0)
      return NULL;
    __atomic_add_fetch(&accepted, 1, __ATOMIC_SEQ_CST);
    s.fd = fd;
    s.pos = s.len = 0;
    struct req q;
    int keep = 1;
    while (keep == 1 && read_head(&s, &q) == 0)
      keep = answer(&s, &q);
    if (keep == 2) /* a kept-alive connection dropped as a request arrives */
      (void)read_head(&s, &q);
    close(fd);
  }
}
