/* Private to image/unpack*.c: the state of one unpack, shared by the stream reader
 * (unpack.c), the entry writers (unpack-entry.c) and the confined file-system
 * helpers (unpack-fs.c). */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "base/err.h"

#define UNPACK_BUF_SIZE (1u << 20) /* content copies and blob reads */
#define UNPACK_NAME_MAX 4096       /* longest entry name accepted, in bytes */

struct unpack_dir_time {
  char *path; /* cleaned, relative to the root; "" is the root */
  struct timespec ts[2];
};

struct unpack_ctx {
  const char *blob;            /* for messages */
  const struct nc_err *stream_err; /* set by the blob reader when it, not the tar, failed */
  int root_fd;                 /* the temporary root, O_RDONLY|O_DIRECTORY */
  bool root_meta_set;          /* a "./" entry gave the root its mode */
  int *lower_fds;              /* O_PATH fds of the lower layers, topmost first */
  size_t n_lowers;
  /* The parent directory opened last: tar entries come grouped by directory, so
     one openat2 serves a whole run of siblings. */
  char *parent_path;
  int parent_fd;
  bool parent_stale; /* a directory was removed; reopen before the next use */
  struct unpack_dir_time *dir_times; /* applied after all entries are written */
  size_t n_dir_times, cap_dir_times;
  char *buf;  /* UNPACK_BUF_SIZE bytes */
  char *path; /* UNPACK_NAME_MAX + 1 bytes: the cleaned name of the current entry */
  char *link; /* UNPACK_NAME_MAX + 1 bytes: the cleaned target of a hard link */
};

/* unpack-fs.c */
int unpack_ctx_init(struct unpack_ctx *c, int root_fd, const char *const *lower_dirs,
                    struct nc_err *err);
void unpack_ctx_free(struct unpack_ctx *c);
/* openat2 confined to `dirfd`: no "..", no symlinks, no magic links, no mount crossing. */
int unpack_openat2(int dirfd, const char *path, int flags);
/* Turns a tar name into a clean relative path ("" is the root); refuses absolute
   names, ".." and over-long names, naming the entry. `out` holds UNPACK_NAME_MAX + 1. */
int unpack_clean_name(const char *name, char *out, struct nc_err *err);
/* The parent directory of `path` (an O_PATH fd owned by the ctx, not to be closed) and
   its last component in *leaf. Missing parents are created like the lower layers'
   ones; a parent that is a symlink or not a directory fails, naming `entry`. */
int unpack_open_parent(struct unpack_ctx *c, const char *entry, const char *path,
                       const char **leaf, struct nc_err *err);
/* `path` in the lower layers as overlayfs sees it: an O_PATH fd and its stat, or -1 with
   errno ENOENT when absent, whited out or hidden by an opaque directory. */
int unpack_lower_lookup(struct unpack_ctx *c, const char *path, struct stat *st);
/* Removes whatever `leaf` in `dirfd` is (a whole tree for a directory). */
int unpack_remove_at(int dirfd, const char *leaf, const char *what, struct nc_err *err);
int unpack_record_dir_time(struct unpack_ctx *c, const char *path, const struct timespec ts[2],
                           struct nc_err *err);
int unpack_apply_dir_times(struct unpack_ctx *c, struct nc_err *err);

/* unpack-entry.c */
int unpack_entry(struct unpack_ctx *c, struct archive *a, struct archive_entry *e,
                 struct nc_err *err);

/* unpack.c */
/* The error of a failed libarchive call on the tar: the blob reader's own error when
   it was the cause, else NC_ERR_INVALID with libarchive's message. */
int unpack_archive_fail(const struct unpack_ctx *c, struct archive *a, struct nc_err *err);
