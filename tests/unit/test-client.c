/* The API client's HTTP/1.1 against a canned server (canned-server.h): a thread on a unix
 * socket in a temporary directory answers each path with a fixed answer
 * (every framing, 1xx, errors, broken ones) and records what it received, so
 * uploads can be checked byte for byte (sha256). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/client.h"
#include "canned-server.h"
#include "image/digest.h"
#include "tap.h"

static char dir[] = "/tmp/nanocl-test-client-XXXXXX";
static char host[300];

static struct nc_err err;

static int call(struct nc_client *c, const char *method, const char *path, json_t *body,
                json_t **out)
{
  nc_err_clear(&err);
  return nc_client_call(c, method, path, body, out, &err);
}

static char *dumps(json_t *j)
{
  static char text[256];
  char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  snprintf(text, sizeof text, "%s", s ? s : "(null)");
  free(s);
  json_decref(j);
  return text;
}

struct lines {
  int n, stop_at;
  char text[4][300];
};

static int on_line(void *ctx, json_t *line)
{
  struct lines *l = ctx;
  char *s = json_dumps(line, JSON_COMPACT);
  if (l->n < 4)
    snprintf(l->text[l->n], sizeof l->text[0], "%s", s);
  free(s);
  return ++l->n == l->stop_at ? 7 : 0;
}

/* What the server saw of the last request. */
static struct req last(void)
{
  pthread_mutex_lock(&seen_lock);
  struct req q = seen;
  pthread_mutex_unlock(&seen_lock);
  return q;
}

static int accepted_now(void)
{
  return __atomic_load_n(&accepted, __ATOMIC_SEQ_CST);
}

static void test_calls(struct nc_client *c)
{
  json_t *out = NULL;
  int before = accepted_now();
  is_int(call(c, "GET", "/cl", NULL, &out), 200, "Content-Length answer");
  is_str(dumps(out), "{\"name\":\"alpha\"}", "its JSON");
  struct req q = last();
  is_str(q.method, "GET", "method sent");
  is_str(q.host, "localhost", "Host: localhost on a unix socket");
  is_str(q.ua, "nanocl", "User-Agent");
  is_str(q.conn, "keep-alive", "Connection: keep-alive");

  json_t *body = json_pack("{s:s}", "name", "dev");
  is_int(call(c, "POST", "/cl", body, &out), 200, "POST with a JSON body");
  json_decref(body);
  json_decref(out);
  q = last();
  is_str(q.ctype, "application/json", "Content-Type of the body");
  ok(q.has_len && q.len == 14 && q.body == 14, "Content-Length 14, 14 bytes received");

  is_int(call(c, "GET", "/chunked", NULL, &out), 200, "chunked answer with a trailer");
  is_str(dumps(out), "[1,2,3,\"four\"]", "chunks joined");
  is_int(call(c, "DELETE", "/nocontent", NULL, &out), 204, "204 (its Content-Length ignored)");
  ok(out == NULL, "no body for 204");
  is_int(call(c, "HEAD", "/head", NULL, &out), 200, "HEAD does not wait for the body");
  ok(out == NULL, "and has none");
  is_int(call(c, "HEAD", "/head-huge", NULL, &out), 200, "HEAD of something over the cap");
  is_int(call(c, "GET", "/interim", NULL, &out), 201, "1xx answers skipped");
  is_str(dumps(out), "{}", "the final answer's body");
  is_int(call(c, "GET", "/missing", NULL, &out), -1, "404");
  is_int(err.kind, NC_ERR_NOT_FOUND, "as not_found");
  is_str(err.msg, "namespace 'zz' not found", "message is the API's error");
  is_int(call(c, "GET", "/plain-error", NULL, &out), -1, "500 with a text body");
  is_int(err.kind, NC_ERR_INTERNAL, "as internal");
  is_str(err.msg, "nanocld answered HTTP 500: boom", "message quotes the body");
  is_int(accepted_now() - before, 1, "all of these on one kept-alive connection");

  is_int(call(c, "GET", "/close", NULL, &out), 200, "body until close");
  is_str(dumps(out), "\"until the end\"", "text → JSON string");
  is_int(call(c, "GET", "/http10", NULL, &out), 200, "HTTP/1.0 answer until close");
  is_str(dumps(out), "{\"v\":10}", "its JSON");
  is_int(accepted_now() - before, 2, "a new connection after each close");

  is_int(call(c, "GET", "/drop-next", NULL, &out), 200, "answer, then the server drops");
  json_decref(out);
  is_int(call(c, "GET", "/cl", NULL, &out), 200, "the next call is sent again transparently");
  json_decref(out);
  is_int(accepted_now() - before, 4, "on a new connection");

  is_int(call(c, "GET", "/badchunk", NULL, &out), -1, "malformed chunk size");
  is_int(err.kind, NC_ERR_INTERNAL, "as internal");
  ok(strstr(err.msg, "bad chunk size 'zz'") != NULL, "named: %s", err.msg);
  is_int(call(c, "GET", "/bighead", NULL, &out), -1, "header block over 64 KiB");
  is_int(err.kind, NC_ERR_TOO_LARGE, "as too_large: %s", err.msg);
  is_int(call(c, "GET", "/huge", NULL, &out), -1, "Content-Length over the cap");
  is_int(err.kind, NC_ERR_TOO_LARGE, "as too_large: %s", err.msg);
  is_int(call(c, "GET", "/cl", NULL, &out), 200, "the client works on after errors");
  json_decref(out);

  is_int(call(c, "GET", "/a b", NULL, &out), -1, "a space in the path");
  is_int(err.kind, NC_ERR_INVALID, "refused before sending");
  is_int(call(c, "GET", "/a\r\nX-Evil: 1", NULL, &out), -1, "CR LF in the path");
  is_int(err.kind, NC_ERR_INVALID, "refused before sending");
}

static void test_streams(struct nc_client *c)
{
  struct lines l = { 0 };
  nc_err_clear(&err);
  is_int(nc_client_stream(c, "POST", "/stream", NULL, on_line, &l, &err), 0, "stream ends");
  is_int(l.n, 3, "three lines (the blank one skipped)");
  is_str(l.text[0], "{\"n\":1}", "line 1");
  is_str(l.text[1], "{\"n\":2}", "line 2 (CR LF ended)");
  is_str(l.text[2], "{\"n\":3}", "line 3");

  memset(&l, 0, sizeof l);
  l.stop_at = 2;
  is_int(nc_client_stream(c, "POST", "/stream", NULL, on_line, &l, &err), 7,
         "a callback's non-zero return is returned");
  is_int(l.n, 2, "and stops the stream");

  memset(&l, 0, sizeof l);
  is_int(nc_client_stream(c, "GET", "/stream-bad", NULL, on_line, &l, &err), -1,
         "malformed line");
  is_int(err.kind, NC_ERR_INTERNAL, "as internal: %s", err.msg);
  is_int(l.n, 1, "after the good line before it");

  is_int(nc_client_stream(c, "GET", "/missing", NULL, on_line, &l, &err), -1, "stream: 404");
  is_str(err.msg, "namespace 'zz' not found", "reported as by nc_client_call");
}

struct writer {
  int fd;
  int delay_ms; /* before the first byte */
  size_t size;
};

static void *pipe_writer(void *arg)
{
  struct writer *w = arg;
  unsigned char buf[9973]; /* odd sizes: chunk and read boundaries fall anywhere */
  uint32_t x = 7;
  /* Its reader may close first: EPIPE here, while SIGPIPE stays fatal for the
   * client's thread, which must never raise it (MSG_NOSIGNAL). */
  sigset_t pipe_sig;
  sigemptyset(&pipe_sig);
  sigaddset(&pipe_sig, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
  usleep((useconds_t)w->delay_ms * 1000);
  for (size_t sent = 0; sent < w->size;) {
    size_t n = sizeof buf < w->size - sent ? sizeof buf : w->size - sent;
    for (size_t i = 0; i < n; i++)
      buf[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
    if (write(w->fd, buf, n) != (ssize_t)n)
      break;
    sent += n;
  }
  close(w->fd);
  return NULL;
}

/* Uploads what a pipe_writer writes after delay_ms. */
static int upload_pipe(struct nc_client *c, const char *path, int delay_ms, struct lines *l)
{
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return -99;
  struct writer w = { p[1], delay_ms, 3u * 1024 * 1024 + 123 };
  pthread_t t;
  pthread_create(&t, NULL, pipe_writer, &w);
  memset(l, 0, sizeof *l);
  nc_err_clear(&err);
  int r = nc_client_upload(c, path, p[0], NULL, on_line, l, &err);
  close(p[0]); /* a writer still writing gets EPIPE */
  pthread_join(t, NULL);
  return r;
}

static void test_uploads(struct nc_client *c)
{
  /* 3 MiB regular file, sha256 computed here and by the server. */
  size_t size = 3u * 1024 * 1024;
  unsigned char *data = malloc(size);
  uint32_t x = 1;
  for (size_t i = 0; i < size; i++)
    data[i] = (unsigned char)((x = x * 1664525u + 1013904223u) >> 24);
  char path[300], sha[NC_DIGEST_SIZE], want[400];
  snprintf(path, sizeof path, "%s/upload.bin", dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  ok(fd >= 0 && write(fd, data, size) == (ssize_t)size, "file to upload written");
  close(fd);
  nc_sha256_of(data, size, sha);
  free(data);

  struct lines l = { 0 };
  fd = open(path, O_RDONLY | O_CLOEXEC);
  nc_err_clear(&err);
  is_int(nc_client_upload(c, "/upload", fd, "application/x-tar", on_line, &l, &err), 0,
         "upload of a regular file");
  snprintf(want, sizeof want, "{\"bytes\":%zu,\"sha256\":\"%s\",\"chunked\":false}", size, sha);
  is_int(l.n, 2, "two lines answered");
  is_str(l.text[1], want, "server got the same bytes, with a Content-Length");
  struct req q = last();
  is_str(q.ctype, "application/x-tar", "content type sent");

  /* The server refuses before reading: its answer, not EPIPE. */
  memset(&l, 0, sizeof l);
  is_int(nc_client_upload(c, "/upload-refuse", fd, NULL, on_line, &l, &err), -1,
         "upload refused early");
  is_int(err.kind, NC_ERR_TOO_LARGE, "the server's 413");
  is_str(err.msg, "image too large", "and its message");
  close(fd);

  /* A pipe: sent chunked. */
  is_int(upload_pipe(c, "/upload", 0, &l), 0, "upload of a pipe");
  ok(strstr(l.text[1], "\"chunked\":true") != NULL, "sent chunked: %s", l.text[1]);
  ok(strstr(l.text[1], "\"bytes\":3145851,") != NULL, "every byte arrived");
  /* The same bytes, hashed here. */
  int p[2];
  ok(pipe2(p, O_CLOEXEC) == 0, "pipe");
  struct writer w = { p[1], 0, 3u * 1024 * 1024 + 123 };
  pthread_t t;
  pthread_create(&t, NULL, pipe_writer, &w);
  struct nc_sha256 h;
  nc_sha256_init(&h, &err);
  char buf[65536];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0)
    nc_sha256_update(&h, buf, (size_t)n);
  nc_sha256_final(&h, sha);
  pthread_join(t, NULL);
  close(p[0]);
  ok(strstr(l.text[1], sha) != NULL, "with the same sha256");

  /* The answer and the close come while the client waits on the pipe: its
   * next write fails, and the answer waiting to be read is what counts. */
  is_int(upload_pipe(c, "/upload-refuse", 100, &l), -1, "pipe upload refused, then EPIPE");
  is_int(err.kind, NC_ERR_TOO_LARGE, "the server's 413");
  is_str(err.msg, "image too large", "and its message");
  /* Closed without an answer: the write error. */
  is_int(upload_pipe(c, "/upload-drop", 100, &l), -1, "pipe upload dropped");
  ok(err.kind == NC_ERR_UNAVAILABLE && strstr(err.msg, "sending the request"), "%s", err.msg);
  /* Nothing uploaded at all: an empty chunked body. */
  int e[2];
  ok(pipe2(e, O_CLOEXEC) == 0, "empty pipe");
  close(e[1]);
  memset(&l, 0, sizeof l);
  is_int(nc_client_upload(c, "/upload", e[0], NULL, on_line, &l, &err), 0, "empty upload");
  close(e[0]);
  ok(strstr(l.text[1], "\"bytes\":0,") != NULL, "0 bytes: %s", l.text[1]);
}

/* nc_client_upgrade: the 101 hands the socket over, with the bytes read past the head. */
static void test_upgrade(struct nc_client *c)
{
  int fd = -1;
  char *extra = NULL;
  size_t n = 0;
  json_t *body = json_pack("{s:[s]}", "cmd", "true");
  is_int(nc_client_upgrade(c, "/upgrade", body, "nanocl-exec", &fd, &extra, &n, &err), 0,
         "101: switched");
  struct req q = last();
  is_str(q.conn, "Upgrade", "Connection: Upgrade");
  is_str(q.upgrade, "nanocl-exec", "Upgrade: nanocl-exec");
  ok(q.has_len && q.len == 16 && q.body == 16, "the JSON body went with it");
  char got[16] = "";
  size_t have = n < sizeof got - 1 ? n : sizeof got - 1;
  memcpy(got, extra ? extra : "", have);
  free(extra);
  while (fd >= 0 && have < 5) {
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    poll(&pf, 1, 5000);
    ssize_t k = recv(fd, got + have, sizeof got - 1 - have, 0);
    if (k <= 0)
      break;
    have += (size_t)k;
  }
  got[have] = '\0';
  is_str(got, "EXTRA", "the new protocol's first bytes, however they were read");
  send(fd, "ping", 4, MSG_NOSIGNAL);
  have = 0;
  while (fd >= 0 && have < 4) {
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    poll(&pf, 1, 5000);
    ssize_t k = recv(fd, got + have, sizeof got - 1 - have, 0);
    if (k <= 0)
      break;
    have += (size_t)k;
  }
  got[have] = '\0';
  is_str(got, "pong", "the socket is the caller's, connected");
  ok(fcntl(fd, F_GETFD) & FD_CLOEXEC, "close-on-exec");
  close(fd);

  is_int(nc_client_upgrade(c, "/missing", body, "nanocl-exec", &fd, &extra, &n, &err), -1,
         "an error answer instead");
  is_int(err.kind, NC_ERR_NOT_FOUND, "as not_found");
  ok(fd == -1 && extra == NULL, "no socket");
  is_int(nc_client_upgrade(c, "/cl", body, "nanocl-exec", &fd, &extra, &n, &err), -1,
         "a 200 is no switch");
  ok(strstr(err.msg, "instead of switching") != NULL, "said so: %s", err.msg);
  is_int(nc_client_upgrade(c, "/cl", body, "bad proto\r\n", &fd, &extra, &n, &err), -1,
         "a protocol that could inject a header");
  is_int(err.kind, NC_ERR_INVALID, "refused before sending");
  json_t *out = NULL;
  is_int(call(c, "POST", "/upgrade", body, &out), -1, "a 101 nobody asked for");
  ok(strstr(err.msg, "1xx") != NULL, "is malformed: %s", err.msg);
  json_decref(body);
  is_int(call(c, "GET", "/cl", NULL, &out), 200, "plain calls work on after");
  json_decref(out);
}

static void test_unreachable(void)
{
  struct nc_client *c = NULL;
  char url[300], want[600];
  snprintf(url, sizeof url, "unix://%s/none.sock", dir);
  nc_client_new(url, &c, &err);
  is_int(call(c, "GET", "/cl", NULL, NULL), -1, "nothing at the path");
  is_int(err.kind, NC_ERR_UNAVAILABLE, "as unavailable");
  snprintf(want, sizeof want,
           "cannot reach nanocld at %s (No such file or directory); is it running? Start it "
           "with 'make up' or 'nanocld'.",
           url);
  is_str(err.msg, want, "the message of the CLI");
  nc_client_free(c);

  /* A socket nobody listens on: refused. */
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/deaf.sock", dir);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bind(fd, (struct sockaddr *)&sa, sizeof sa);
  snprintf(url, sizeof url, "unix://%s", sa.sun_path);
  nc_client_new(url, &c, &err);
  is_int(call(c, "GET", "/cl", NULL, NULL), -1, "a socket nobody listens on");
  ok(err.kind == NC_ERR_UNAVAILABLE && strstr(err.msg, "(Connection refused); is it running?"),
     "refused: %s", err.msg);
  nc_client_free(c);
  close(fd);

  /* TCP: a bound port without a listener. */
  struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof in;
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bind(fd, (struct sockaddr *)&in, sizeof in);
  getsockname(fd, (struct sockaddr *)&in, &len);
  snprintf(url, sizeof url, "tcp://127.0.0.1:%u", ntohs(in.sin_port));
  nc_client_new(url, &c, &err);
  is_int(call(c, "GET", "/cl", NULL, NULL), -1, "TCP: nothing listening");
  snprintf(want, sizeof want, "cannot reach nanocld at %s (Connection refused)", url);
  ok(err.kind == NC_ERR_UNAVAILABLE && strncmp(err.msg, want, strlen(want)) == 0, "%s",
     err.msg);
  nc_client_free(c);
  close(fd);
}

int main(void)
{
  if (!mkdtemp(dir))
    return 99;
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/api.sock", dir);
  snprintf(host, sizeof host, "unix://%s", sa.sun_path);
  listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      listen(listen_fd, 16) < 0)
    return 99;
  pthread_t t;
  pthread_create(&t, NULL, server, NULL);

  struct nc_client *c = NULL;
  is_int(nc_client_new(host, &c, &err), 0, "client for %s", host);
  test_calls(c);
  test_streams(c);
  test_uploads(c);
  test_upgrade(c);
  nc_client_free(c);
  test_unreachable();

  shutdown(listen_fd, SHUT_RDWR); /* ends the server's accept() */
  pthread_join(t, NULL);
  close(listen_fd);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", dir);
  return tap_done();
}
