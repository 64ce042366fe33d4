#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nc_buf_init(struct nc_buf *b, size_t limit)
{
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit;
}

static int reserve(struct nc_buf *b, size_t extra)
{
  if (b->limit && (extra > b->limit || b->len > b->limit - extra)) {
    errno = EFBIG;
    return -1;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    errno = ENOMEM;
    return -1;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

int nc_buf_append(struct nc_buf *b, const void *data, size_t len)
{
  if (reserve(b, len) < 0)
    return -1;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int nc_buf_printf(struct nc_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || reserve(b, (size_t)n) < 0)
    return -1;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

void nc_buf_reset(struct nc_buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void nc_buf_free(struct nc_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *nc_buf_steal(struct nc_buf *b)
{
  if (!b->data && reserve(b, 0) < 0)
    return NULL;
  char *p = b->data;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
