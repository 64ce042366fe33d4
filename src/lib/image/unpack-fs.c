/* The file-system side of the unpacker: every path a layer names is resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | …) from the temporary root, so no
 * entry, however crafted, can reach outside it; and the tree removal used for
 * temporary directories, replaced entries and GC. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "image/unpack-internal.h"
#include "image/unpack.h"

int unpack_openat2(int dirfd, const char *path, int flags)
{
  struct open_how how = {
    .flags = (uint64_t)(flags | O_CLOEXEC),
    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
  };
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int unpack_ctx_init(struct unpack_ctx *c, int root_fd, const char *const *lower_dirs,
                    struct nc_err *err)
{
  c->root_fd = root_fd;
  c->parent_fd = -1;
  c->buf = malloc(UNPACK_BUF_SIZE);
  c->path = malloc(UNPACK_NAME_MAX + 1);
  c->link = malloc(UNPACK_NAME_MAX + 1);
  size_t n = 0;
  while (lower_dirs && lower_dirs[n])
    n++;
  c->lower_fds = calloc(n ? n : 1, sizeof *c->lower_fds);
  if (!c->buf || !c->path || !c->link || !c->lower_fds)
    return nc_err_sys(err, ENOMEM, "cannot allocate the unpack buffers");
  for (; c->n_lowers < n; c->n_lowers++) {
    const char *dir = lower_dirs[c->n_lowers];
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      return nc_err_sys(err, errno, "cannot open lower layer directory '%s'", dir);
    c->lower_fds[c->n_lowers] = fd;
  }
  return 0;
}

void unpack_ctx_free(struct unpack_ctx *c)
{
  for (size_t i = 0; i < c->n_lowers; i++)
    close(c->lower_fds[i]);
  free(c->lower_fds);
  if (c->parent_fd >= 0)
    close(c->parent_fd);
  free(c->parent_path);
  for (size_t i = 0; i < c->n_dir_times; i++)
    free(c->dir_times[i].path);
  free(c->dir_times);
  free(c->buf);
  free(c->path);
  free(c->link);
}

int unpack_clean_name(const char *name, char *out, struct nc_err *err)
{
  size_t len = strlen(name);
  if (len == 0)
    return nc_err_set(err, NC_ERR_INVALID, "layer has an entry with an empty name");
  if (len > UNPACK_NAME_MAX)
    return nc_err_set(err, NC_ERR_INVALID,
                      "layer entry '%.200s…' has a name of %zu bytes, over the limit of %d", name,
                      len, UNPACK_NAME_MAX);
  if (name[0] == '/')
    return nc_err_set(err, NC_ERR_INVALID,
                      "layer entry '%.300s' escapes the layer directory (absolute path)", name);
  size_t o = 0;
  for (const char *p = name; *p;) {
    const char *end = strchrnul(p, '/');
    size_t n = (size_t)(end - p);
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' escapes the layer directory",
                        name);
    if (n > NAME_MAX)
      return nc_err_set(err, NC_ERR_INVALID,
                        "layer entry '%.300s' has a component over %d bytes", name, NAME_MAX);
    /* "" and "." components ("./a", "a//b", "a/./b") name nothing; drop them. */
    if (n > 1 || (n == 1 && p[0] != '.')) {
      if (o)
        out[o++] = '/';
      memcpy(out + o, p, n);
      o += n;
    }
    p = *end ? end + 1 : end;
  }
  out[o] = '\0';
  return 0;
}

/* True when `fd` (any kind, O_PATH included) is an overlayfs whiteout: char device 0:0. */
static bool is_whiteout(const struct stat *st)
{
  return S_ISCHR(st->st_mode) && st->st_rdev == 0;
}

static bool is_opaque(int fd)
{
  char proc[64], v[2];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  ssize_t n = getxattr(proc, "trusted.overlay.opaque", v, sizeof v);
  return n == 1 && v[0] == 'y';
}

/* Does lower layer `lfd` hide `path` of the layers below it, through a whiteout, a
   non-directory or an opaque directory on the way to `path`? */
static bool lower_hides(int lfd, const char *path)
{
  char prefix[UNPACK_NAME_MAX + 1];
  snprintf(prefix, sizeof prefix, "%s", path);
  for (char *slash = strchr(prefix, '/'); slash; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    _cleanup_close_ int fd = unpack_openat2(lfd, prefix, O_PATH | O_NOFOLLOW);
    *slash = '/';
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
      return false; /* absent here: deeper prefixes are too */
    if (!S_ISDIR(st.st_mode) || is_opaque(fd))
      return true;
  }
  return false;
}

int unpack_lower_lookup(struct unpack_ctx *c, const char *path, struct stat *st)
{
  for (size_t i = 0; i < c->n_lowers; i++) {
    int fd = unpack_openat2(c->lower_fds[i], path, O_PATH | O_NOFOLLOW);
    if (fd >= 0) {
      if (fstat(fd, st) == 0 && !is_whiteout(st))
        return fd;
      close(fd);
      break;
    }
    if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
      return -1;
    if (lower_hides(c->lower_fds[i], path))
      break;
  }
  errno = ENOENT;
  return -1;
}

/* Creates the missing directory `comp` of `dirfd` (`prefix` from the root) with the
   mode and owner the same directory has below, so e.g. /tmp keeps 1777. */
static int make_parent(struct unpack_ctx *c, int dirfd, const char *comp, const char *prefix,
                       const char *entry, struct nc_err *err)
{
  mode_t mode = 0755;
  uid_t uid = 0;
  gid_t gid = 0;
  struct stat st;
  int lfd = unpack_lower_lookup(c, prefix, &st);
  if (lfd >= 0) {
    close(lfd);
    if (S_ISDIR(st.st_mode)) {
      mode = st.st_mode & 07777;
      uid = st.st_uid;
      gid = st.st_gid;
    }
  }
  if (mkdirat(dirfd, comp, 0700) < 0 && errno != EEXIST)
    return nc_err_sys(err, errno, "cannot create directory '%.300s' for layer entry '%.300s'",
                      prefix, entry);
  /* Owner first: chown clears the set-id bits. The directory is our own fresh one,
     so following it by name is safe. */
  if (fchownat(dirfd, comp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(dirfd, comp, mode, 0) < 0)
    return nc_err_sys(err, errno, "cannot set the owner and mode of directory '%.300s'", prefix);
  return 0;
}

/* One step of a parent walk: `comp` of `dirfd`, created when missing. */
static int step_into(struct unpack_ctx *c, int dirfd, const char *comp, const char *prefix,
                     const char *entry, struct nc_err *err)
{
  int fd = unpack_openat2(dirfd, comp, O_PATH | O_DIRECTORY);
  if (fd >= 0)
    return fd;
  if (errno == ENOENT) {
    if (make_parent(c, dirfd, comp, prefix, entry, err) < 0)
      return -1;
    fd = unpack_openat2(dirfd, comp, O_PATH | O_DIRECTORY);
    if (fd >= 0)
      return fd;
  }
  int e = errno;
  struct stat st;
  if (e == ELOOP && fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return nc_err_set(err, NC_ERR_INVALID, "layer entry '%.300s' goes through the symlink '%.300s', "
                       "which could lead outside the layer",
                      entry, prefix);
  if (e == ENOTDIR)
    return nc_err_set(err, NC_ERR_INVALID,
                      "layer entry '%.300s' is below '%.300s', which is not a directory", entry,
                      prefix);
  return nc_err_sys(err, e, "cannot open directory '%.300s' of layer entry '%.300s'", prefix,
                    entry);
}

/* The slow path of unpack_open_parent: component by component, to create what is
   missing and to name the component that is in the way. */
static int walk_parents(struct unpack_ctx *c, char *ppath, const char *entry, struct nc_err *err)
{
  int cur = c->root_fd;
  for (char *comp = ppath;;) {
    char *slash = strchr(comp, '/');
    if (slash)
      *slash = '\0'; /* ppath is now the prefix up to comp */
    int fd = step_into(c, cur, comp, ppath, entry, err);
    if (slash)
      *slash = '/';
    if (cur != c->root_fd)
      close(cur);
    if (fd < 0 || !slash)
      return fd;
    cur = fd;
    comp = slash + 1;
  }
}

int unpack_open_parent(struct unpack_ctx *c, const char *entry, const char *path,
                       const char **leaf, struct nc_err *err)
{
  const char *slash = strrchr(path, '/');
  if (!slash) {
    *leaf = path;
    return c->root_fd;
  }
  *leaf = slash + 1;
  size_t plen = (size_t)(slash - path);
  if (!c->parent_stale && c->parent_path && strlen(c->parent_path) == plen &&
      memcmp(c->parent_path, path, plen) == 0)
    return c->parent_fd;

  if (c->parent_fd >= 0)
    close(c->parent_fd);
  free(c->parent_path);
  c->parent_fd = -1;
  c->parent_stale = false;
  c->parent_path = strndup(path, plen);
  if (!c->parent_path)
    return nc_err_sys(err, ENOMEM, "cannot unpack layer entry '%.300s'", entry);

  int fd = unpack_openat2(c->root_fd, c->parent_path, O_PATH | O_DIRECTORY);
  if (fd < 0 && errno != ENOENT && errno != ELOOP && errno != ENOTDIR)
    return nc_err_sys(err, errno, "cannot open directory '%.300s' of layer entry '%.300s'",
                      c->parent_path, entry);
  if (fd < 0)
    fd = walk_parents(c, c->parent_path, entry, err);
  if (fd < 0) {
    free(c->parent_path);
    c->parent_path = NULL;
    return -1;
  }
  c->parent_fd = fd;
  return fd;
}

int unpack_record_dir_time(struct unpack_ctx *c, const char *path, const struct timespec ts[2],
                           struct nc_err *err)
{
  if (c->n_dir_times == c->cap_dir_times) {
    size_t cap = c->cap_dir_times ? c->cap_dir_times * 2 : 64;
    struct unpack_dir_time *n = realloc(c->dir_times, cap * sizeof *n);
    if (!n)
      return nc_err_sys(err, ENOMEM, "cannot record the times of directory '%.300s'", path);
    c->dir_times = n;
    c->cap_dir_times = cap;
  }
  char *p = strdup(path);
  if (!p)
    return nc_err_sys(err, ENOMEM, "cannot record the times of directory '%.300s'", path);
  c->dir_times[c->n_dir_times].path = p;
  memcpy(c->dir_times[c->n_dir_times].ts, ts, sizeof c->dir_times[0].ts);
  c->n_dir_times++;
  return 0;
}

/* Directory times go last: writing a child changes its directory's mtime. */
int unpack_apply_dir_times(struct unpack_ctx *c, struct nc_err *err)
{
  for (size_t i = 0; i < c->n_dir_times; i++) {
    const struct unpack_dir_time *d = &c->dir_times[i];
    _cleanup_close_ int fd = -1;
    if (d->path[0]) {
      fd = unpack_openat2(c->root_fd, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
        continue; /* replaced or removed by a later entry */
      if (fd < 0)
        return nc_err_sys(err, errno, "cannot open layer directory '%.300s'", d->path);
    }
    if (futimens(fd >= 0 ? fd : c->root_fd, d->ts) < 0)
      return nc_err_sys(err, errno, "cannot set the times of layer directory '%.300s'",
                        d->path[0] ? d->path : ".");
  }
  return 0;
}

/* ---- tree removal ---- */

struct rm_level {
  dev_t dev;
  ino_t ino;
  char name[NAME_MAX + 1]; /* of the child being emptied, in this directory */
};

/* Empties directory `fd` of everything but directories: returns 1 with the name of a
   subdirectory still to empty, 0 when `fd` is empty, -1 on error. */
static int rm_shallow(int fd, char name[NAME_MAX + 1], const char *what, struct nc_err *err)
{
  struct stat st;
  /* A read-only directory's entries cannot be unlinked by a non-root owner. */
  if (fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
    fchmod(fd, (st.st_mode & 07777) | 0700);
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
  if (!d) {
    if (dup_fd >= 0)
      close(dup_fd);
    return nc_err_sys(err, errno, "cannot list a directory of '%.300s'", what);
  }
  int r = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (de->d_type != DT_DIR && (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT))
      continue;
    if (de->d_type == DT_DIR || errno == EISDIR ||
        (errno == EPERM && fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISDIR(st.st_mode))) {
      snprintf(name, NAME_MAX + 1, "%s", de->d_name);
      r = 1;
      break;
    }
    r = nc_err_sys(err, errno, "cannot remove '%.200s' in '%.300s'", de->d_name, what);
    break;
  }
  closedir(d);
  return r;
}

/* Climbs from `cur` to its parent through "..", which is never a symlink; the parent
   must be the directory recorded on the way down. */
static int rm_climb(int cur, const struct rm_level *up, const char *what, struct nc_err *err)
{
  int fd = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return nc_err_sys(err, e, "cannot go back up while removing '%.300s'", what);
  }
  if (st.st_dev != up->dev || st.st_ino != up->ino) {
    close(fd);
    return nc_err_set(err, NC_ERR_INTERNAL, "'%.300s' was moved while being removed", what);
  }
  if (unlinkat(fd, up->name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
    int e = errno;
    close(fd);
    return nc_err_sys(err, e, "cannot remove directory '%.200s' in '%.300s'", up->name, what);
  }
  return fd;
}

/* Goes down into subdirectory `name` of `cur`, recording `cur` for the way back. */
static int rm_descend(int cur, const char *name, dev_t dev, struct rm_level *level,
                     const char *what, struct nc_err *err)
{
  struct stat here, st;
  if (fstat(cur, &here) < 0)
    return nc_err_sys(err, errno, "cannot remove '%.300s'", what);
  int child = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (child < 0 || fstat(child, &st) < 0) {
    int e = errno;
    if (child >= 0)
      close(child);
    return nc_err_sys(err, e, "cannot open directory '%.200s' in '%.300s'", name, what);
  }
  if (st.st_dev != dev) {
    close(child);
    return nc_err_set(err, NC_ERR_CONFLICT, "'%.200s' in '%.300s' is a mount point; not removing",
                      name, what);
  }
  level->dev = here.st_dev;
  level->ino = here.st_ino;
  snprintf(level->name, sizeof level->name, "%s", name);
  return child;
}

/* Depth-first removal holding one directory fd at a time (a deep tree would otherwise
   need an fd per level): down by name, back up by "..". `top` stays open. */
static int rm_tree_fd(int top, dev_t dev, const char *what, struct nc_err *err)
{
  struct rm_level *stack = NULL;
  size_t depth = 0, cap = 0;
  int cur = top, r;
  char name[NAME_MAX + 1];
  while ((r = rm_shallow(cur, name, what, err)) >= 0) {
    int next;
    if (r == 0) {
      if (depth == 0)
        break;
      next = rm_climb(cur, &stack[--depth], what, err);
    } else {
      if (depth == cap) {
        cap = cap ? cap * 2 : 16;
        struct rm_level *n = realloc(stack, cap * sizeof *n);
        if (!n) {
          r = nc_err_sys(err, ENOMEM, "cannot remove '%.300s'", what);
          break;
        }
        stack = n;
      }
      next = rm_descend(cur, name, dev, &stack[depth++], what, err);
    }
    if (cur != top)
      close(cur);
    cur = next;
    if (cur < 0) {
      r = -1;
      break;
    }
  }
  if (cur >= 0 && cur != top)
    close(cur);
  free(stack);
  return r < 0 ? -1 : 0;
}

int unpack_remove_at(int dirfd, const char *leaf, const char *what, struct nc_err *err)
{
  if (unlinkat(dirfd, leaf, 0) == 0 || errno == ENOENT)
    return 0;
  struct stat st;
  if ((errno != EISDIR && errno != EPERM) ||
      fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
    return nc_err_sys(err, errno, "cannot remove '%.300s'", what);
  _cleanup_close_ int fd = openat(dirfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) < 0)
    return nc_err_sys(err, errno, "cannot open directory '%.300s'", what);
  if (rm_tree_fd(fd, st.st_dev, what, err) < 0)
    return -1;
  if (unlinkat(dirfd, leaf, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return nc_err_sys(err, errno, "cannot remove directory '%.300s'", what);
  return 0;
}

int image_remove_tree(const char *path, struct nc_err *err)
{
  char dir[PATH_MAX];
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  if (len == 0 || len >= sizeof dir || (len == 1 && path[0] == '/'))
    return nc_err_set(err, NC_ERR_INVALID, "refusing to remove '%.300s'", path);
  memcpy(dir, path, len);
  dir[len] = '\0';
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : dir;
  if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    return nc_err_set(err, NC_ERR_INVALID, "refusing to remove '%.300s'", path);
  const char *parent = ".";
  if (slash == dir)
    parent = "/";
  else if (slash) {
    *slash = '\0';
    parent = dir;
  }
  _cleanup_close_ int pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0 && errno == ENOENT)
    return 0;
  if (pfd < 0)
    return nc_err_sys(err, errno, "cannot open directory '%.300s'", parent);
  return unpack_remove_at(pfd, base, path, err);
}
