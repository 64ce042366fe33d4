/* Private to client/: the small HTTP/1.1 client under nc_client_*.
 *
 * nanocld speaks plain HTTP/1.1 on a unix socket or TCP, never TLS, never
 * through a proxy, never with redirects, so this is all the protocol the CLI
 * needs; libcurl cost ~12 ms of dynamic loading per CLI run for it.
 *
 * conn.c: one connection (connect with a timeout, send, buffered receive).
 * http.c: the request head, the answer's status line, headers and body framing
 *         (Content-Length, chunked, or until close). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hosturl.h"

#define NC_HTTP_CONNECT_TIMEOUT_MS 5000
#define NC_HTTP_MAX_HEAD (64u * 1024) /* status line + headers, and the trailers */
#define NC_HTTP_PIECE (256u * 1024)   /* upload bodies are sent in pieces this big */

struct nc_conn {
  int fd;         /* -1 when not connected; non-blocking, close-on-exec */
  int timeout_ms; /* longest wait for the peer (between bytes); -1 = none */
  const char *peer; /* "unix:///x.sock", for messages */
  size_t rpos, rlen; /* unread bytes are rbuf[rpos..rlen) */
  char rbuf[16384];
};

/* ---- conn.c ---- */
void nc_conn_init(struct nc_conn *c, const char *peer);
/* NC_ERR_UNAVAILABLE "cannot reach nanocld at ..." when it cannot connect. */
int nc_conn_open(struct nc_conn *c, const struct nc_host_url *url, struct nc_err *err);
void nc_conn_close(struct nc_conn *c);
/* Is a kept-alive connection still usable (no EOF, no stray bytes pending)? */
bool nc_conn_idle_ok(struct nc_conn *c);
/* Send all of iov. Returns 0 when sent, 1 when the peer answered or hung up
 * before it was all sent (stop sending and read the answer), -1 on error
 * (err->sys_errno set; nc_conn_peer_gone() tells whether an answer may wait). */
int nc_conn_sendv(struct nc_conn *c, struct iovec *iov, int iovcnt, struct nc_err *err);
/* Send `len` bytes of file `fd` from *off (sendfile, or pread when the file
 * system cannot). Same returns as nc_conn_sendv. */
int nc_conn_sendfile(struct nc_conn *c, int fd, off_t *off, uint64_t len, struct nc_err *err);
/* A send error meaning the peer closed or reset the connection. */
bool nc_conn_peer_gone(int sys_errno);
/* Receive more bytes into rbuf. Returns the count, 0 at EOF, -1 on error. */
ssize_t nc_conn_fill(struct nc_conn *c, struct nc_err *err);

/* ---- http.c ---- */
enum nc_http_chunk_state { CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, CHUNK_TRAILER };

struct nc_http_resp {
  int status;
  bool keep_alive;  /* the connection may carry another request afterwards */
  bool chunked;
  bool until_close; /* no framing: the body ends when the peer closes */
  bool has_length;
  bool done;        /* the body was read to its end */
  uint64_t length;    /* Content-Length, when has_length */
  uint64_t remaining; /* bytes left of the body (Content-Length) or of the chunk */
  enum nc_http_chunk_state chunk_state;
  size_t trailer_bytes;
  char content_type[128];
};

/* "METHOD PATH HTTP/1.1" and the headers, ending with the blank line.
 * body_len: the Content-Length, NC_HTTP_CHUNKED, or NC_HTTP_NO_BODY.
 * upgrade: NULL, or a protocol to switch to ("Connection: Upgrade", "Upgrade: x").
 * Method, path, content type and protocol are checked so that nothing can inject a
 * header. */
#define NC_HTTP_NO_BODY (-1)
#define NC_HTTP_CHUNKED (-2)
int nc_http_request_head(struct nc_buf *out, const char *method, const char *path,
                         const char *host, const char *content_type, int64_t body_len,
                         const char *upgrade, struct nc_err *err);

/* Reads the status line and headers (skipping 1xx answers) and sets up the
 * body framing. Returns 0; -1 on error; -2 (err set) when the connection
 * closed or was reset before any byte of the answer arrived. A 101 is an error
 * unless `upgrade` (then it is returned, with no body: what follows is the new
 * protocol, its first bytes maybe in c->rbuf already). */
int nc_http_read_head(struct nc_conn *c, bool head_request, bool upgrade,
                      struct nc_http_resp *r, struct nc_err *err);
/* Up to `cap` bytes of the body. Returns the count, 0 at its end, -1 on error. */
ssize_t nc_http_read_body(struct nc_conn *c, struct nc_http_resp *r, char *dst, size_t cap,
                          struct nc_err *err);
