/* The container's log: one JSON line per line of output,
 *   {"time": "…", "stream": "stdout", "log": "hello\n"}
 * with "partial": true on every piece of a split line but its last. A line is split when
 * it is longer than SHIM_LINE_MAX bytes (at a UTF-8 character boundary when it can be).
 * Past `max` bytes the file is renamed to FILE.1 (replacing the previous one) and a new
 * FILE begins; a record is never cut, so a file passes `max` only by a record bigger
 * than `max` alone. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "shim.h"

/* {"time": "<40>", "stream": "stdout", "log": "<escaped>", "partial": true}\n */
#define RECORD_MAX (128 + 6 * SHIM_LINE_MAX)

/* Static, so that only the pages a record touches count in the shim's memory. */
static char record[RECORD_MAX];

static int log_reopen(struct shim_log *log, struct nc_err *err)
{
  int fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot open the log '%s'", log->path);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return nc_err_sys(err, e, "cannot stat the log '%s'", log->path);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return nc_err_set(err, NC_ERR_INVALID, "the log '%s' is not a regular file", log->path);
  }
  if (log->fd >= 0)
    close(log->fd);
  log->fd = fd;
  log->size = (uint64_t)st.st_size;
  return 0;
}

int shim_log_open(struct shim_log *log, const char *path, uint64_t max, struct nc_err *err)
{
  size_t n = strlen(path);
  log->fd = -1;
  log->path = path;
  log->max = max;
  log->warned = false;
  log->rotated = malloc(n + 3);
  if (!log->rotated)
    return nc_err_sys(err, ENOMEM, "cannot open the log '%s'", path);
  memcpy(log->rotated, path, n);
  memcpy(log->rotated + n, ".1", 3);
  return log_reopen(log, err);
}

void shim_log_close(struct shim_log *log)
{
  if (log->fd >= 0)
    close(log->fd);
  log->fd = -1;
  free(log->rotated);
  log->rotated = NULL;
}

static void warn_once(struct shim_log *log, const char *what, int errnum)
{
  if (log->warned)
    return;
  log->warned = true;
  nc_log(NC_LOG_ERROR, "%s '%s': %s (further log errors not reported)", what, log->path,
         strerror(errnum));
}

static void rotate(struct shim_log *log)
{
  if (rename(log->path, log->rotated) < 0) {
    warn_once(log, "cannot rotate the log", errno);
    return;
  }
  struct nc_err err = NC_ERR_INIT;
  if (log_reopen(log, &err) < 0 && !log->warned) {
    log->warned = true;
    nc_log(NC_LOG_ERROR, "%s (further log errors not reported)", err.msg);
  }
}

void shim_log_record(struct shim_log *log, const char *stream, const char *data, size_t len,
                     bool partial)
{
  struct timespec now;
  char when[64];
  clock_gettime(CLOCK_REALTIME, &now);
  shim_time_format(&now, when, sizeof when);

  int head = snprintf(record, RECORD_MAX, "{\"time\": \"%s\", \"stream\": \"%s\", \"log\": \"",
                      when, stream);
  size_t n = (size_t)head;
  n += shim_json_escape(record + n, data, len);
  static const char tail_partial[] = "\", \"partial\": true}\n";
  static const char tail_full[] = "\"}\n";
  const char *tail = partial ? tail_partial : tail_full;
  size_t tail_len = partial ? sizeof tail_partial - 1 : sizeof tail_full - 1;
  memcpy(record + n, tail, tail_len);
  n += tail_len;

  if (log->fd >= 0 && log->size > 0 && log->size + n > log->max)
    rotate(log);
  if (log->fd < 0)
    return;
  for (size_t off = 0; off < n;) {
    ssize_t w = write(log->fd, record + off, n - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      warn_once(log, "cannot write the log", errno);
      return;
    }
    off += (size_t)w;
    log->size += (uint64_t)w;
  }
}

/* Where to cut a full buffer so that no UTF-8 character is split: before the start of
 * a sequence that the buffer does not hold whole (when that is not the whole buffer). */
static size_t utf8_cut(const char *buf, size_t len)
{
  for (size_t back = 1; back <= 3 && back < len; back++) {
    unsigned char c = (unsigned char)buf[len - back];
    if ((c & 0xc0) == 0x80)
      continue; /* a continuation byte: look further back */
    size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > back ? len - back : len;
  }
  return len;
}

static void consume(struct shim_stream *s, size_t n)
{
  s->len -= n;
  memmove(s->buf, s->buf + n, s->len);
}

/* Logs the complete lines in the buffer, and a piece of a line that fills it. */
static void emit_lines(struct shim_stream *s, struct shim_log *log)
{
  size_t start = 0;
  for (;;) {
    char *nl = memchr(s->buf + start, '\n', s->len - start);
    if (!nl)
      break;
    size_t end = (size_t)(nl - s->buf) + 1;
    shim_log_record(log, s->name, s->buf + start, end - start, false);
    start = end;
  }
  if (start > 0)
    consume(s, start);
  if (s->len == sizeof s->buf) {
    size_t cut = utf8_cut(s->buf, s->len);
    shim_log_record(log, s->name, s->buf, cut, true);
    consume(s, cut);
  }
}

void shim_stream_flush(struct shim_stream *s, struct shim_log *log)
{
  if (s->len > 0)
    shim_log_record(log, s->name, s->buf, s->len, false);
  s->len = 0;
}

int shim_stream_read(struct shim_stream *s, struct shim_log *log)
{
  if (s->fd < 0)
    return 0;
  for (;;) {
    ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (n > 0) {
      s->len += (size_t)n;
      emit_lines(s, log);
      return 1;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return -1;
    if (n < 0)
      nc_log(NC_LOG_ERROR, "cannot read the container's %s: %s", s->name, strerror(errno));
    shim_stream_flush(s, log);
    close(s->fd);
    s->fd = -1;
    return 0;
  }
}
