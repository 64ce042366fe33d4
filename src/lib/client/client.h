/* The nanocld API client (our own small HTTP/1.1 over unix:// or tcp://, see http.h).
 * Used by the nanocl CLI; everything it does goes through the API. */
#pragma once

#include <jansson.h>

#include "base/err.h"

#define NC_CLIENT_MAX_RESPONSE (64u * 1024 * 1024)

struct nc_client;

/* `host`: "unix:///path.sock" or "tcp://HOST:PORT" (NC_ERR_INVALID when malformed). */
int nc_client_new(const char *host, struct nc_client **out, struct nc_err *err);
void nc_client_free(struct nc_client *c);
const char *nc_client_host(const struct nc_client *c);

/* Sends `method path` with `body` (may be NULL) and waits for the answer.
 * 2xx: returns the status; *out is the JSON body (NULL when empty), or NULL if
 *      out is NULL.
 * 4xx/5xx: returns -1 with err->kind from the status and err->msg the API's
 *      "error" text.
 * nanocld unreachable: -1, NC_ERR_UNAVAILABLE, a message naming the address
 *      and what to do. */
int nc_client_call(struct nc_client *c, const char *method, const char *path, json_t *body,
                   json_t **out, struct nc_err *err);

/* For answers that stream JSON lines (application/x-ndjson: pull, import):
 * each line is parsed and handed to `on_line` as it arrives (the callback does
 * not keep `line`). A non-zero return of the callback stops reading and is
 * returned. HTTP errors before the stream are reported as by nc_client_call.
 * Returns 0 when the stream ended. */
typedef int (*nc_client_line_fn)(void *ctx, json_t *line);
int nc_client_stream(struct nc_client *c, const char *method, const char *path, json_t *body,
                     nc_client_line_fn on_line, void *ctx, struct nc_err *err);
/* nc_client_stream in two steps: _begin sends the request and reads the answer's head
 * (the server has taken the request: a log stream follows from there), _end reads the
 * rest as nc_client_stream does. Other calls on `c` in between are not allowed: use
 * another client for them. */
int nc_client_stream_begin(struct nc_client *c, const char *method, const char *path,
                           json_t *body, struct nc_err *err);
int nc_client_stream_end(struct nc_client *c, nc_client_line_fn on_line, void *ctx,
                         struct nc_err *err);

/* Like nc_client_stream, with the request body read from `fd` to its end
 * (a file or a pipe; sent chunked when its size is unknown). */
int nc_client_upload(struct nc_client *c, const char *path, int fd, const char *content_type,
                     nc_client_line_fn on_line, void *ctx, struct nc_err *err);

/* POST `path` with the JSON `body` and "Connection: Upgrade", "Upgrade: protocol"
 * (the exec of a container). On `101 Switching Protocols`: returns 0 with *fd the
 * connected socket, now the caller's (non-blocking, close-on-exec; the client keeps
 * no connection), and in *extra (malloc'd, the caller frees; NULL when none) the
 * *extra_len bytes of the new protocol that arrived with the answer's head.
 * Any other answer: -1, errors as nc_client_call. */
int nc_client_upgrade(struct nc_client *c, const char *path, json_t *body, const char *protocol,
                      int *fd, char **extra, size_t *extra_len, struct nc_err *err);
