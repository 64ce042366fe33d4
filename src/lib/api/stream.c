/* Answers that stream JSON lines (pull, import): a producer thread writes
 * events, libmicrohttpd's connection thread reads them as they come. The
 * stream is freed when both sides are done with it; a client that goes away
 * does not stop the producer, whose lines are then dropped. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/api-internal.h"
#include "api/stream.h"
#include "base/buf.h"

struct api_stream {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct nc_buf buf;
  size_t off;
  bool finished;      /* the producer wrote its last line */
  bool consumer_gone; /* the connection is closed */
  int refs;
};

struct api_stream *api_stream_new(void)
{
  struct api_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  nc_buf_init(&s->buf, 0);
  s->refs = 2; /* producer and consumer */
  return s;
}

static void unref_locked(struct api_stream *s)
{
  if (--s->refs > 0) {
    pthread_mutex_unlock(&s->mu);
    return;
  }
  pthread_mutex_unlock(&s->mu);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  nc_buf_free(&s->buf);
  free(s);
}

void api_stream_write(struct api_stream *s, json_t *event)
{
  char *line = json_dumps(event, JSON_COMPACT);
  if (!line)
    return;
  pthread_mutex_lock(&s->mu);
  if (!s->consumer_gone) {
    /* Compact the buffer once everything in it was read. */
    if (s->off == s->buf.len) {
      nc_buf_reset(&s->buf);
      s->off = 0;
    }
    nc_buf_append(&s->buf, line, strlen(line));
    nc_buf_append(&s->buf, "\n", 1);
    pthread_cond_broadcast(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  free(line);
}

bool api_stream_alive(struct api_stream *s)
{
  pthread_mutex_lock(&s->mu);
  bool alive = !s->consumer_gone;
  pthread_mutex_unlock(&s->mu);
  return alive;
}

void api_stream_close(struct api_stream *s)
{
  pthread_mutex_lock(&s->mu);
  s->finished = true;
  pthread_cond_broadcast(&s->cv);
  unref_locked(s);
}

/* libmicrohttpd asks for more of the body: block until there is some. */
static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
  struct api_stream *s = cls;
  pthread_mutex_lock(&s->mu);
  while (s->off == s->buf.len && !s->finished)
    pthread_cond_wait(&s->cv, &s->mu);
  ssize_t n;
  if (s->off == s->buf.len) {
    n = MHD_CONTENT_READER_END_OF_STREAM;
  } else {
    size_t avail = s->buf.len - s->off;
    n = (ssize_t)(avail < max ? avail : max);
    memcpy(out, s->buf.data + s->off, (size_t)n);
    s->off += (size_t)n;
  }
  pthread_mutex_unlock(&s->mu);
  return n;
}

static void release(void *cls)
{
  struct api_stream *s = cls;
  pthread_mutex_lock(&s->mu);
  s->consumer_gone = true;
  unref_locked(s);
}

struct MHD_Response *api_stream_response(struct api_stream *s)
{
  struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, reader,
                                                             s, release);
  if (!r) {
    release(s);
    return NULL;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
  return r;
}
