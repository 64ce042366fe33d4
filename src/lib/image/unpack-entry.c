/* Writing one tar entry into the layer directory. Every call is relative to the fd of
 * the entry's parent, obtained confined by unpack_open_parent(), and never follows a
 * symlink in the last component either (O_NOFOLLOW, O_EXCL, AT_SYMLINK_NOFOLLOW).
 * Metadata order matters: owner before mode (chown clears set-id bits), xattrs after
 * the owner (chown drops security.capability), times last. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "image/unpack-internal.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

struct entry_meta {
  const char *name; /* as in the tar, for messages */
  uid_t uid;
  gid_t gid;
  mode_t perm; /* 07777 bits */
  struct timespec ts[2];
};

/* libarchive gives the name in the current locale, or NULL when it cannot convert
   it (a UTF-8 pax name under LANG=C); the UTF-8 form is then the bytes to use. */
static const char *entry_string(const char *mbs, const char *utf8)
{
  return mbs ? mbs : utf8;
}

static int read_meta(struct archive_entry *e, const char *name, struct entry_meta *m,
                     struct nc_err *err)
{
  la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  /* (uid_t)-1 means "leave unchanged" to chown; refuse it with the other nonsense. */
  if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' has an invalid owner %lld:%lld",
                      name, (long long)uid, (long long)gid);
  m->name = name;
  m->uid = (uid_t)uid;
  m->gid = (gid_t)gid;
  m->perm = archive_entry_perm(e) & 07777;
  if (!archive_entry_mtime_is_set(e)) {
    m->ts[0].tv_nsec = m->ts[1].tv_nsec = UTIME_OMIT;
    return 0;
  }
  m->ts[1].tv_sec = archive_entry_mtime(e);
  m->ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (m->ts[1].tv_nsec < 0 || m->ts[1].tv_nsec > 999999999)
    m->ts[1].tv_nsec = 0;
  m->ts[0] = m->ts[1];
  if (archive_entry_atime_is_set(e)) {
    m->ts[0].tv_sec = archive_entry_atime(e);
    m->ts[0].tv_nsec = archive_entry_atime_nsec(e);
    if (m->ts[0].tv_nsec < 0 || m->ts[0].tv_nsec > 999999999)
      m->ts[0].tv_nsec = 0;
  }
  return 0;
}

/* An xattr that failed to apply: security.* ones the kernel refuses (no LSM, no
   privilege) are skipped like containerd does; anything else fails the unpack. */
static int xattr_failed(const char *key, int e, const char *entry, struct nc_err *err)
{
  if (strncmp(key, "security.", 9) == 0 && (e == EPERM || e == ENOTSUP)) {
    nc_log(NC_LOG_DEBUG, "layer entry '%.300s': xattr '%s' skipped: %s", entry, key, strerror(e));
    return 0;
  }
  return nc_err_sys(err, e, "cannot set xattr '%.200s' on layer entry '%.300s'", key, entry);
}

/* The tar's xattrs, on `fd` when there is one, else on `leaf` of `pfd` through
   /proc (a symlink, device or FIFO cannot be opened for fsetxattr). */
static int set_xattrs(struct archive_entry *e, int fd, int pfd, const char *leaf,
                      const char *entry, struct nc_err *err)
{
  if (archive_entry_xattr_reset(e) == 0)
    return 0;
  char proc[PATH_MAX];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d/%s", pfd, leaf);
  const char *key;
  const void *value;
  size_t size;
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    if (!key || !*key)
      continue;
    /* overlayfs gives trusted.overlay.* meaning (redirects, metacopy, opaque): only
       the whiteout conversion may set them, never the image's content. */
    if (strncmp(key, "trusted.overlay.", 16) == 0) {
      nc_log(NC_LOG_DEBUG, "layer entry '%.300s': xattr '%s' ignored", entry, key);
      continue;
    }
    int r = fd >= 0 ? fsetxattr(fd, key, value, size, 0) : lsetxattr(proc, key, value, size, 0);
    if (r < 0 && xattr_failed(key, errno, entry, err) < 0)
      return -1;
  }
  return 0;
}

/* Owner, mode, xattrs and (unless a directory, whose times wait) times of open `fd`. */
static int apply_meta_fd(struct archive_entry *e, int fd, const struct entry_meta *m,
                         bool times, struct nc_err *err)
{
  if (fchown(fd, m->uid, m->gid) < 0 || fchmod(fd, m->perm) < 0)
    return nc_err_sys(err, errno, "cannot set the owner and mode of layer entry '%.300s'",
                      m->name);
  if (set_xattrs(e, fd, -1, "", m->name, err) < 0)
    return -1;
  if (times && futimens(fd, m->ts) < 0)
    return nc_err_sys(err, errno, "cannot set the times of layer entry '%.300s'", m->name);
  return 0;
}

/* Makes room for a new entry at `leaf`: a directory there goes with its contents. */
static int clear_leaf(struct unpack_ctx *c, int pfd, const char *leaf, const char *entry,
                      struct nc_err *err)
{
  if (unlinkat(pfd, leaf, 0) == 0 || errno == ENOENT)
    return 0;
  c->parent_stale = true; /* the cached parent may be below what goes */
  return unpack_remove_at(pfd, leaf, entry, err);
}

static int pwrite_all(int fd, const char *p, size_t len, off_t off)
{
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
    off += n;
  }
  return 0;
}

/* The entry's content, staged in 1 MiB writes; holes of a sparse entry stay holes
   (archive_read_data would write them as zeros). */
static int copy_content(struct unpack_ctx *c, struct archive *a, int fd, const char *entry,
                        la_int64_t size, struct nc_err *err)
{
  size_t staged = 0;
  la_int64_t stage_off = 0, end = 0;
  for (;;) {
    const void *blk;
    size_t len;
    la_int64_t off;
    int r = archive_read_data_block(a, &blk, &len, &off);
    if (r == ARCHIVE_EOF)
      break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      unpack_archive_fail(c, a, err);
      return nc_err_wrap(err, "layer entry '%.300s'", entry);
    }
    if (off < 0 || (la_int64_t)len > INT64_MAX - off)
      return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' has a bad data offset", entry);
    if (staged && off != stage_off + (la_int64_t)staged) {
      if (pwrite_all(fd, c->buf, staged, stage_off) < 0)
        return nc_err_sys(err, errno, "cannot write layer file '%.300s'", entry);
      staged = 0;
    }
    if (!staged)
      stage_off = off;
    if (off + (la_int64_t)len > end)
      end = off + (la_int64_t)len;
    for (const char *p = blk; len > 0;) {
      size_t n = len < UNPACK_BUF_SIZE - staged ? len : UNPACK_BUF_SIZE - staged;
      memcpy(c->buf + staged, p, n);
      staged += n;
      p += n;
      len -= n;
      if (staged == UNPACK_BUF_SIZE) {
        if (pwrite_all(fd, c->buf, staged, stage_off) < 0)
          return nc_err_sys(err, errno, "cannot write layer file '%.300s'", entry);
        stage_off += (la_int64_t)staged;
        staged = 0;
      }
    }
  }
  if (staged && pwrite_all(fd, c->buf, staged, stage_off) < 0)
    return nc_err_sys(err, errno, "cannot write layer file '%.300s'", entry);
  if (size > end && ftruncate(fd, size) < 0) /* a sparse file ending in a hole */
    return nc_err_sys(err, errno, "cannot size layer file '%.300s'", entry);
  return 0;
}

static int write_regular(struct unpack_ctx *c, struct archive *a, struct archive_entry *e,
                         const struct entry_meta *m, int pfd, const char *leaf,
                         struct nc_err *err)
{
  if (clear_leaf(c, pfd, leaf, m->name, err) < 0)
    return -1;
  _cleanup_close_ int fd =
    openat(pfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return nc_err_sys(err, errno, "cannot create layer file '%.300s'", m->name);
  if (copy_content(c, a, fd, m->name, archive_entry_size(e), err) < 0)
    return -1;
  return apply_meta_fd(e, fd, m, true, err);
}

/* A directory that exists already (from this layer) keeps its contents and takes the
   new owner and mode; its times are set once all entries are in. */
static int write_dir(struct unpack_ctx *c, struct archive_entry *e, const struct entry_meta *m,
                     int pfd, const char *leaf, const char *path, struct nc_err *err)
{
  _cleanup_close_ int fd = -1;
  if (path[0] == '\0') {
    c->root_meta_set = true;
  } else {
    if (mkdirat(pfd, leaf, 0700) < 0) {
      struct stat st;
      if (errno != EEXIST || fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return nc_err_sys(err, errno, "cannot create layer directory '%.300s'", m->name);
      if (!S_ISDIR(st.st_mode)) {
        if (clear_leaf(c, pfd, leaf, m->name, err) < 0)
          return -1;
        if (mkdirat(pfd, leaf, 0700) < 0)
          return nc_err_sys(err, errno, "cannot create layer directory '%.300s'", m->name);
      }
    }
    fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return nc_err_sys(err, errno, "cannot open layer directory '%.300s'", m->name);
  }
  if (apply_meta_fd(e, fd >= 0 ? fd : c->root_fd, m, false, err) < 0)
    return -1;
  return unpack_record_dir_time(c, path, m->ts, err);
}

/* Owner, xattrs and times of a node that cannot be opened (symlink, device, FIFO). */
static int apply_meta_at(struct archive_entry *e, int pfd, const char *leaf,
                         const struct entry_meta *m, bool chmod, struct nc_err *err)
{
  if (fchownat(pfd, leaf, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0)
    return nc_err_sys(err, errno, "cannot set the owner of layer entry '%.300s'", m->name);
  /* fchmodat follows a symlink, but `leaf` is the node we just made, not one. */
  if (chmod && fchmodat(pfd, leaf, m->perm, 0) < 0)
    return nc_err_sys(err, errno, "cannot set the mode of layer entry '%.300s'", m->name);
  if (set_xattrs(e, -1, pfd, leaf, m->name, err) < 0)
    return -1;
  if (utimensat(pfd, leaf, m->ts, AT_SYMLINK_NOFOLLOW) < 0)
    return nc_err_sys(err, errno, "cannot set the times of layer entry '%.300s'", m->name);
  return 0;
}

static int write_symlink(struct unpack_ctx *c, struct archive_entry *e, const struct entry_meta *m,
                         int pfd, const char *leaf, struct nc_err *err)
{
  const char *target = entry_string(archive_entry_symlink(e), archive_entry_symlink_utf8(e));
  if (!target || !*target)
    return nc_err_set(err, NC_ERR_INVALID, "layer symlink '%.300s' has no target", m->name);
  if (clear_leaf(c, pfd, leaf, m->name, err) < 0)
    return -1;
  if (symlinkat(target, pfd, leaf) < 0)
    return nc_err_sys(err, errno, "cannot create layer symlink '%.300s'", m->name);
  return apply_meta_at(e, pfd, leaf, m, false, err);
}

static int write_node(struct unpack_ctx *c, struct archive_entry *e, const struct entry_meta *m,
                      int pfd, const char *leaf, mode_t type, struct nc_err *err)
{
  dev_t rdev = type == S_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
  if (clear_leaf(c, pfd, leaf, m->name, err) < 0)
    return -1;
  if (mknodat(pfd, leaf, type | 0600, rdev) < 0)
    return nc_err_sys(err, errno, "cannot create layer node '%.300s'", m->name);
  return apply_meta_at(e, pfd, leaf, m, true, err);
}

/* The lower file's xattrs onto `dst`, under the same skip rule as the tar's. The
   copy buffer holds the name list and one value (each at most 64 KiB). */
static int copy_xattrs(struct unpack_ctx *c, int src, int dst, const char *entry,
                       struct nc_err *err)
{
  char *names = c->buf, *value = c->buf + XATTR_LIST_MAX;
  ssize_t len = flistxattr(src, names, XATTR_LIST_MAX);
  if (len < 0)
    return errno == ENOTSUP ? 0
                            : nc_err_sys(err, errno, "cannot list the xattrs for '%.300s'", entry);
  for (const char *k = names; k < names + len; k += strlen(k) + 1) {
    if (strncmp(k, "trusted.overlay.", 16) == 0)
      continue; /* overlayfs' own, as for the tar's xattrs */
    ssize_t n = fgetxattr(src, k, value, XATTR_SIZE_MAX);
    if (n < 0)
      return nc_err_sys(err, errno, "cannot read xattr '%.200s' for '%.300s'", k, entry);
    if (fsetxattr(dst, k, value, (size_t)n, 0) < 0 && xattr_failed(k, errno, entry, err) < 0)
      return -1;
  }
  return 0;
}

static int copy_fd(struct unpack_ctx *c, int src, int dst)
{
  for (;;) {
    ssize_t n = copy_file_range(src, NULL, dst, NULL, UNPACK_BUF_SIZE, 0);
    if (n == 0)
      return 0;
    if (n > 0)
      continue;
    if (errno == EINTR)
      continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return -1;
    break; /* not across these file systems: plain reads and writes */
  }
  /* copy_file_range moved both file positions alike, so go on from there. */
  off_t at = lseek(dst, 0, SEEK_CUR);
  if (at < 0)
    return -1;
  for (;;) {
    ssize_t n = read(src, c->buf, UNPACK_BUF_SIZE);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return (int)n;
    if (pwrite_all(dst, c->buf, (size_t)n, at) < 0)
      return -1;
    at += n;
  }
}

/* A hard link to a file of a lower layer: a layer directory cannot link across
   layers, so the file is copied, content and metadata. */
static int link_from_lower(struct unpack_ctx *c, const char *entry, const char *target, int pfd,
                           const char *leaf, struct nc_err *err)
{
  struct stat st;
  _cleanup_close_ int opath = unpack_lower_lookup(c, target, &st);
  if (opath < 0 && errno == ENOENT)
    return nc_err_set(err, NC_ERR_INVALID,
                      "layer entry '%.300s' is a hard link to '%.300s', which is neither in this "
                      "layer nor in a layer below", entry, target);
  if (opath < 0)
    return nc_err_sys(err, errno, "cannot look up '%.300s' in the layers below", target);
  if (!S_ISREG(st.st_mode))
    return nc_err_set(err, NC_ERR_INVALID,
                      "layer entry '%.300s' is a hard link to '%.300s', which is not a regular "
                      "file in the layers below", entry, target);
  /* Reopen the checked O_PATH fd for reading: opening by name could open a device. */
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", opath);
  _cleanup_close_ int src = open(proc, O_RDONLY | O_CLOEXEC);
  _cleanup_close_ int dst =
    openat(pfd, leaf, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (src < 0 || dst < 0)
    return nc_err_sys(err, errno, "cannot copy '%.300s' from the layers below", target);
  if (copy_fd(c, src, dst) < 0)
    return nc_err_sys(err, errno, "cannot copy '%.300s' from the layers below", target);
  if (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0)
    return nc_err_sys(err, errno, "cannot copy the owner and mode of '%.300s'", target);
  if (copy_xattrs(c, src, dst, entry, err) < 0)
    return -1;
  struct timespec ts[2] = { st.st_atim, st.st_mtim };
  if (futimens(dst, ts) < 0)
    return nc_err_sys(err, errno, "cannot set the times of layer entry '%.300s'", entry);
  return 0;
}

static int write_hardlink(struct unpack_ctx *c, struct archive_entry *e, const char *entry,
                          const char *path, int pfd, const char *leaf, struct nc_err *err)
{
  const char *name = entry_string(archive_entry_hardlink(e), archive_entry_hardlink_utf8(e));
  if (!name || unpack_clean_name(name, c->link, err) < 0)
    return nc_err_set(err, NC_ERR_INVALID,
                      "layer entry '%.300s' is a hard link to '%.300s', which escapes the layer "
                      "directory or is not a valid name", entry, name ? name : "");
  const char *target = c->link;
  if (!*target)
    return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' is a hard link to the root", entry);
  if (strcmp(target, path) == 0)
    return 0; /* a link to itself: nothing to do */

  /* The target's parent is opened apart from the cache, which holds the entry's. */
  const char *slash = strrchr(target, '/'), *tleaf = slash ? slash + 1 : target;
  _cleanup_close_ int tpfd = -1;
  if (slash) {
    char *tparent = strndup(target, (size_t)(slash - target));
    if (!tparent)
      return nc_err_sys(err, ENOMEM, "cannot unpack layer entry '%.300s'", entry);
    tpfd = unpack_openat2(c->root_fd, tparent, O_PATH | O_DIRECTORY);
    int e2 = errno;
    free(tparent);
    if (tpfd < 0 && e2 == ELOOP)
      return nc_err_set(err, NC_ERR_INVALID,
                        "layer entry '%.300s' is a hard link to '%.300s', which goes through a "
                        "symlink", entry, target);
    if (tpfd < 0 && e2 != ENOENT && e2 != ENOTDIR)
      return nc_err_sys(err, e2, "cannot open the directory of '%.300s'", target);
  }
  if (clear_leaf(c, pfd, leaf, entry, err) < 0)
    return -1;
  if (tpfd < 0 && slash)
    return link_from_lower(c, entry, target, pfd, leaf, err);
  if (linkat(slash ? tpfd : c->root_fd, tleaf, pfd, leaf, 0) == 0)
    return 0;
  if (errno == ENOENT)
    return link_from_lower(c, entry, target, pfd, leaf, err);
  if (errno == EPERM)
    return nc_err_set(err, NC_ERR_INVALID,
                      "layer entry '%.300s' is a hard link to '%.300s', which is a directory",
                      entry, target);
  return nc_err_sys(err, errno, "cannot link layer entry '%.300s' to '%.300s'", entry, target);
}

/* OCI whiteouts in overlayfs form: ".wh..wh..opq" marks its directory opaque,
   ".wh.NAME" becomes a char device 0:0 named NAME. */
static int write_whiteout(struct unpack_ctx *c, const struct entry_meta *m, int pfd,
                          const char *leaf, struct nc_err *err)
{
  if (strcmp(leaf, WHITEOUT_OPAQUE) == 0) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", pfd);
    if (setxattr(proc, "trusted.overlay.opaque", "y", 1, 0) < 0)
      return nc_err_sys(err, errno, "cannot mark the directory of '%.300s' opaque", m->name);
    return 0;
  }
  const char *name = leaf + strlen(WHITEOUT_PREFIX);
  if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' is not a valid whiteout",
                      m->name);
  if (clear_leaf(c, pfd, name, m->name, err) < 0)
    return -1;
  if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
    return nc_err_sys(err, errno, "cannot create the whiteout for '%.300s'", m->name);
  if (fchownat(pfd, name, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0)
    return nc_err_sys(err, errno, "cannot set the owner of whiteout '%.300s'", m->name);
  return 0;
}

int unpack_entry(struct unpack_ctx *c, struct archive *a, struct archive_entry *e,
                 struct nc_err *err)
{
  const char *name = entry_string(archive_entry_pathname(e), archive_entry_pathname_utf8(e));
  if (!name)
    return nc_err_set(err, NC_ERR_INVALID, "layer has an entry with no usable name");
  struct entry_meta m;
  if (unpack_clean_name(name, c->path, err) < 0 || read_meta(e, name, &m, err) < 0)
    return -1;
  const char *path = c->path;
  mode_t type = archive_entry_filetype(e);
  bool hardlink = archive_entry_hardlink(e) || archive_entry_hardlink_utf8(e);
  if (path[0] == '\0') {
    if (type != AE_IFDIR || hardlink)
      return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' is the root but not a directory",
                        name);
    return write_dir(c, e, &m, -1, "", path, err);
  }
  const char *leaf;
  int pfd = unpack_open_parent(c, name, path, &leaf, err);
  if (pfd < 0)
    return -1;
  if (strncmp(leaf, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
    return write_whiteout(c, &m, pfd, leaf, err);
  if (hardlink)
    return write_hardlink(c, e, name, path, pfd, leaf, err);
  switch (type) {
  case AE_IFREG:
    return write_regular(c, a, e, &m, pfd, leaf, err);
  case AE_IFDIR:
    return write_dir(c, e, &m, pfd, leaf, path, err);
  case AE_IFLNK:
    return write_symlink(c, e, &m, pfd, leaf, err);
  case AE_IFCHR:
  case AE_IFBLK:
  case AE_IFIFO:
    return write_node(c, e, &m, pfd, leaf, type, err);
  default:
    return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' has an unsupported type 0%o",
                      name, (unsigned)type);
  }
}
