/* Streamed answers of JSON lines (api/stream.c). */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

struct api_stream;

/* A stream with two owners: the producer (ends it with api_stream_close) and
 * the response (ends with the connection). */
struct api_stream *api_stream_new(void);
/* Appends one line; thread-safe; the caller keeps `event`. */
void api_stream_write(struct api_stream *s, json_t *event);
/* False once the connection is gone: a producer may stop early. */
bool api_stream_alive(struct api_stream *s);
/* The producer's last word: the reader sees the end of the stream. */
void api_stream_close(struct api_stream *s);
/* The response that reads the stream; takes over the consumer's reference. */
struct MHD_Response *api_stream_response(struct api_stream *s);
