/* "user" of a container resolved against the image's /etc/passwd and /etc/group the
 * way runc's user.GetExecUser does (Docker uses it): a name or a uid, an optional
 * group name or gid, supplementary groups from group membership. The files are
 * opened with openat2(RESOLVE_IN_ROOT) under the root fs, so a symlink such as
 * etc/passwd -> /etc/passwd resolves inside the image, never to the host's file. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/parse.h"
#include "runtime/spec.h"

#define ID_ARG_MAX 2147483647u         /* runc's range for uids and gids given by number */
#define ETC_FILE_MAX (16 * 1024 * 1024) /* passwd and group files larger than this: refused */
#define GROUPS_MAX 65536               /* NGROUPS_MAX */

/* Reads rootfs/`path` confined to the root fs into *out (NUL-terminated). A file that
 * is missing, a symlink loop or not a regular file reads as none: *out = NULL. */
static int read_in_root(int rootfd, const char *path, char **out, struct nc_err *err)
{
  struct open_how how = {
    .flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  *out = NULL;
  _cleanup_close_ int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
  if (fd < 0) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
      return 0;
    return nc_err_sys(err, errno, "cannot open /%s of the container", path);
  }
  struct stat st;
  if (fstat(fd, &st) < 0)
    return nc_err_sys(err, errno, "cannot stat /%s of the container", path);
  if (!S_ISREG(st.st_mode))
    return 0;
  if (st.st_size > ETC_FILE_MAX)
    return nc_err_set(err, NC_ERR_INVALID, "/%s of the container is larger than %d bytes", path,
                      ETC_FILE_MAX);
  _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
  if (!buf)
    return nc_err_sys(err, ENOMEM, "cannot read /%s of the container", path);
  size_t used = 0;
  while (used < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + used, (size_t)st.st_size - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return nc_err_sys(err, errno, "cannot read /%s of the container", path);
    if (n == 0)
      break;
    used += (size_t)n;
  }
  buf[used] = '\0';
  *out = steal_ptr(&buf);
  return 0;
}

/* The next line of *cursor, trimmed of surrounding white space, split in place at ':'
 * into at most `max` fields (the missing ones are ""). Returns the field count, 0 for
 * an empty line, -1 at the end. */
static int next_entry(char **cursor, char **f, int max)
{
  char *line = *cursor;
  if (!line || !*line)
    return -1;
  char *nl = strchr(line, '\n');
  *cursor = nl ? nl + 1 : line + strlen(line);
  if (nl)
    *nl = '\0';
  while (*line == ' ' || *line == '\t' || *line == '\r')
    line++;
  size_t len = strlen(line);
  while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
    line[--len] = '\0';
  if (len == 0)
    return 0;
  int n = 0;
  for (char *p = line; n < max;) {
    f[n++] = p;
    char *c = strchr(p, ':');
    if (!c)
      break;
    *c = '\0';
    p = c + 1;
  }
  static char empty[1];
  for (int i = n; i < max; i++)
    f[i] = empty;
  return n;
}

static bool parse_id(const char *s, uint64_t max, uint32_t *out)
{
  uint64_t v;
  if (nc_parse_u64(s, max, &v) < 0)
    return false;
  *out = (uint32_t)v;
  return true;
}

struct pw_match {
  bool found;
  char *name; /* points into the passwd buffer */
  uint32_t uid, gid;
  char *home;
};

/* First passwd entry whose name or uid is `arg` ("" = uid 0). */
static void passwd_find(char *text, const char *arg, struct pw_match *m)
{
  char *f[7];
  int n;
  while ((n = next_entry(&text, f, 7)) >= 0) {
    uint32_t uid, gid;
    if (n < 4 || !parse_id(f[2], UINT32_MAX - 1, &uid) || !parse_id(f[3], UINT32_MAX - 1, &gid))
      continue;
    char uidstr[16];
    snprintf(uidstr, sizeof uidstr, "%u", uid);
    if (arg[0] ? (strcmp(f[0], arg) == 0 || strcmp(uidstr, arg) == 0) : uid == 0) {
      *m = (struct pw_match){ true, f[0], uid, gid, f[5] };
      return;
    }
  }
}

/* Explicit group: the first entry named `arg` or with gid `arg`, else a number. */
static int group_find(char *text, const char *arg, uint32_t *gid, struct nc_err *err)
{
  char *f[4];
  int n;
  while (text && (n = next_entry(&text, f, 4)) >= 0) {
    uint32_t g;
    if (n < 3 || !parse_id(f[2], UINT32_MAX - 1, &g))
      continue;
    char gidstr[16];
    snprintf(gidstr, sizeof gidstr, "%u", g);
    if (strcmp(f[0], arg) == 0 || strcmp(gidstr, arg) == 0) {
      *gid = g;
      return 0;
    }
  }
  if (parse_id(arg, ID_ARG_MAX, gid))
    return 0;
  return nc_err_set(err, NC_ERR_INVALID,
                    "unable to find group %.64s: no matching entries in group file", arg);
}

/* Groups listing `name` as a member, without repeats. */
static int group_members(char *text, const char *name, uint32_t **groups, size_t *ngroups,
                         struct nc_err *err)
{
  char *f[4];
  int n;
  while (text && (n = next_entry(&text, f, 4)) >= 0) {
    uint32_t g;
    if (n < 4 || !parse_id(f[2], UINT32_MAX - 1, &g))
      continue;
    bool member = false;
    for (char *p = f[3]; p && !member;) {
      char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      member = len == strlen(name) && memcmp(p, name, len) == 0;
      p = comma ? comma + 1 : NULL;
    }
    bool seen = false;
    for (size_t i = 0; i < *ngroups && !seen; i++)
      seen = (*groups)[i] == g;
    if (!member || seen || *ngroups >= GROUPS_MAX)
      continue;
    uint32_t *more = realloc(*groups, (*ngroups + 1) * sizeof **groups);
    if (!more)
      return nc_err_sys(err, ENOMEM, "cannot list the groups of user %.64s", name);
    *groups = more;
    (*groups)[(*ngroups)++] = g;
  }
  return 0;
}

static int set_home(const char *value, char *home, size_t home_size, struct nc_err *err)
{
  if (!home || home_size == 0)
    return 0;
  if (!value || !*value)
    value = "/";
  size_t len = strlen(value);
  if (len >= home_size)
    return nc_err_set(err, NC_ERR_INVALID, "user: home directory '%.64s…' is too long", value);
  memcpy(home, value, len + 1);
  return 0;
}

int runtime_resolve_user(const char *rootfs, const char *user, uint32_t *uid, uint32_t *gid,
                         uint32_t **groups, size_t *ngroups, char *home, size_t home_size,
                         struct nc_err *err)
{
  char arg[257] = "";
  *groups = NULL;
  *ngroups = 0;
  if (user && strlen(user) >= sizeof arg)
    return nc_err_set(err, NC_ERR_INVALID, "user: longer than %zu bytes", sizeof arg - 1);
  snprintf(arg, sizeof arg, "%s", user ? user : "");
  char *group_arg = strchr(arg, ':');
  if (group_arg)
    *group_arg++ = '\0';

  _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0)
    return nc_err_sys(err, errno, "cannot open the root fs '%s'", rootfs);
  _cleanup_free_ char *passwd = NULL;
  _cleanup_free_ char *group = NULL;
  if (read_in_root(rootfd, "etc/passwd", &passwd, err) < 0 ||
      read_in_root(rootfd, "etc/group", &group, err) < 0)
    return -1;

  struct pw_match m = { .found = false };
  if (passwd)
    passwd_find(passwd, arg, &m);
  if (m.found) {
    *uid = m.uid;
    *gid = m.gid;
  } else if (!arg[0]) {
    *uid = *gid = 0;
  } else if (parse_id(arg, ID_ARG_MAX, uid)) {
    *gid = 0;
  } else {
    return nc_err_set(err, NC_ERR_INVALID,
                      "unable to find user %.64s: no matching entries in passwd file", arg);
  }
  if (set_home(m.found ? m.home : "/", home, home_size, err) < 0)
    return -1;
  if (group_arg)
    return group_find(group, group_arg, gid, err);
  if (m.found && group_members(group, m.name, groups, ngroups, err) < 0) {
    free(*groups);
    *groups = NULL;
    *ngroups = 0;
    return -1;
  }
  return 0;
}
