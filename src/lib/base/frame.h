/* The frames of an exec connection after its `101 Switching Protocols` (docs/api.md,
 * "exec"): 1 byte type, 4 bytes big-endian payload length, the payload. Shared by
 * nanocld (api/exec.c) and the CLI (nanocl container exec). */
#pragma once

#include <stdint.h>

#define NC_EXEC_PROTOCOL "nanocl-exec"
#define NC_FRAME_HEAD 5
#define NC_FRAME_MAX (1024u * 1024u) /* a longer payload is a protocol error */

/* Client → server. */
enum nc_frame_in {
  NC_FRAME_STDIN = 0,       /* data for the process's stdin */
  NC_FRAME_STDIN_CLOSE = 1, /* no more stdin (empty payload) */
  NC_FRAME_RESIZE = 2,      /* 4 bytes: width, height, big-endian u16 each */
};

/* Server → client. */
enum nc_frame_out {
  NC_FRAME_STDOUT = 1,
  NC_FRAME_STDERR = 2, /* never with a tty: the pty merges both into stdout */
  NC_FRAME_EXIT = 3,   /* the exit code in ASCII decimal; the last frame */
  NC_FRAME_ERROR = 4,  /* why the command could not run; an exit frame follows */
};

static inline void nc_frame_head(unsigned char h[NC_FRAME_HEAD], unsigned type, uint32_t len)
{
  h[0] = (unsigned char)type;
  h[1] = (unsigned char)(len >> 24);
  h[2] = (unsigned char)(len >> 16);
  h[3] = (unsigned char)(len >> 8);
  h[4] = (unsigned char)len;
}

static inline uint32_t nc_frame_len(const unsigned char h[NC_FRAME_HEAD])
{
  return (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | (uint32_t)h[4];
}

static inline uint16_t nc_be16(const unsigned char *p)
{
  return (uint16_t)(p[0] << 8 | p[1]);
}
