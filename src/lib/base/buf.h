/* A growable byte buffer with a hard cap, for everything read from outside
 * (HTTP bodies, responses): appending past the cap fails instead of growing. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct nc_buf {
  char *data; /* always NUL-terminated when non-NULL */
  size_t len;
  size_t cap;   /* bytes allocated */
  size_t limit; /* most bytes it may ever hold; 0 = no limit */
};

void nc_buf_init(struct nc_buf *b, size_t limit);
/* Returns 0, or -1 with errno EFBIG when the limit would be passed, ENOMEM. */
int nc_buf_append(struct nc_buf *b, const void *data, size_t len);
int nc_buf_printf(struct nc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nc_buf_reset(struct nc_buf *b);
void nc_buf_free(struct nc_buf *b);
/* Hands the data out (NUL-terminated, never NULL on success); the buffer is emptied. */
char *nc_buf_steal(struct nc_buf *b);
