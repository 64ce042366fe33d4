/* Removing images, collecting what no image uses any more, and disk usage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "image/query.h"
#include "image/unpack.h"

/* Bytes a tree holds on disk (st_blocks), without following symlinks. */
static uint64_t tree_size(int dirfd)
{
  uint64_t total = 0;
  DIR *d = fdopendir(dirfd);
  if (!d) {
    close(dirfd);
    return 0;
  }
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
      continue;
    struct stat st;
    if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
      continue;
    total += (uint64_t)st.st_blocks * 512;
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0)
        total += tree_size(sub);
    }
  }
  closedir(d);
  return total;
}

static uint64_t path_size(const char *path)
{
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  return fd < 0 ? 0 : tree_size(fd);
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The digests and chain ids every recorded image uses, sorted, as hex. */
struct used {
  char **items;
  size_t len, cap;
};

static void used_add(struct used *u, const char *digest)
{
  if (!digest || strncmp(digest, "sha256:", 7))
    return;
  if (u->len == u->cap) {
    size_t cap = u->cap ? u->cap * 2 : 64;
    char **p = realloc(u->items, cap * sizeof *p);
    if (!p)
      return;
    u->items = p;
    u->cap = cap;
  }
  u->items[u->len++] = strdup(digest + 7);
}

static bool used_has(const struct used *u, const char *hex)
{
  return u->len && bsearch(&hex, u->items, u->len, sizeof *u->items, cmp_str) != NULL;
}

static void used_free(struct used *u)
{
  for (size_t i = 0; i < u->len; i++)
    free(u->items[i]);
  free(u->items);
}

static int collect_used(struct image_service *svc, struct used *blobs, struct used *layers,
                        struct nc_err *err)
{
  struct store_image_list list;
  if (image_records(svc, &list, err) < 0)
    return -1;
  for (size_t i = 0; i < list.len; i++) {
    struct store_image *img = &list.items[i];
    used_add(blobs, img->id); /* the config */
    used_add(blobs, img->manifest_digest);
    json_t *ls = json_loads(img->layers, 0, NULL);
    size_t k;
    json_t *l;
    json_array_foreach (ls, k, l) {
      used_add(blobs, json_string_value(json_object_get(l, "digest")));
      used_add(layers, json_string_value(json_object_get(l, "chain_id")));
    }
    json_decref(ls);
  }
  store_image_list_free(&list);
  /* With no image left the lists are empty (NULL): qsort and bsearch must not see them. */
  if (blobs->len)
    qsort(blobs->items, blobs->len, sizeof *blobs->items, cmp_str);
  if (layers->len)
    qsort(layers->items, layers->len, sizeof *layers->items, cmp_str);
  return 0;
}

/* Removes the entries of `dir` not in `keep`; adds the bytes to *freed. */
static void sweep(const char *dir, const struct used *keep, bool trees, uint64_t *freed)
{
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d))) {
    /* Only our own names: 64 hex digits. Temporary dirs belong to running pulls. */
    if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64 ||
        used_has(keep, de->d_name))
      continue;
    char path[PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    struct nc_err err = NC_ERR_INIT;
    if (trees) {
      uint64_t size = path_size(path);
      if (image_remove_tree(path, &err) == 0)
        *freed += size;
      else
        nc_log(NC_LOG_WARN, "gc: %s", err.msg);
    } else {
      struct stat st;
      if (stat(path, &st) == 0 && unlink(path) == 0)
        *freed += (uint64_t)st.st_blocks * 512;
    }
  }
  closedir(d);
}

int image_gc(struct image_service *svc, uint64_t *freed, struct nc_err *err)
{
  struct used blobs = { 0 }, layers = { 0 };
  uint64_t total = 0;
  pthread_rwlock_wrlock(&svc->gc_lock);
  int r = collect_used(svc, &blobs, &layers, err);
  if (r == 0) {
    sweep(svc->blobs.blobs, &blobs, false, &total);
    sweep(svc->blobs.layers, &layers, true, &total);
  }
  pthread_rwlock_unlock(&svc->gc_lock);
  used_free(&blobs);
  used_free(&layers);
  if (freed)
    *freed = total;
  return r;
}

int image_remove(struct image_service *svc, const char *key, bool force, json_t **out,
                 struct nc_err *err)
{
  char norm[IMAGE_KEY_MAX], id[72];
  int kind = image_normalize_key(svc, key, norm, sizeof norm, err);
  if (kind < 0)
    return -1;
  struct store_tx *tx;
  struct store_image img;
  if (store_begin(svc->store, STORE_TX_WRITE, &tx, err) < 0)
    return -1;
  if (store_image_resolve(tx, norm, id, err) < 0 || store_image_get(tx, id, &img, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  json_t *untagged = json_array(), *deleted = json_array();
  bool by_name = false;
  for (size_t i = 0; i < img.nnames; i++)
    by_name |= !strcmp(img.names[i], norm);

  /* An image that containers use stays: not removed without force, and with
   * force only its names go (Docker's behaviour). */
  int users = 0;
  int r = store_container_count_image(tx, img.id, &users, err);
  bool keep = users > 0;
  if (r == 0 && keep && !force && (!by_name || img.nnames == 1))
    r = nc_err_set(err, NC_ERR_CONFLICT,
                   "image %.19s is used by %d container(s); remove them first, or force", img.id,
                   users);
  if (r < 0) {
  } else if (by_name) {
    r = store_image_name_delete(tx, norm, err);
    json_array_append_new(untagged, json_string(norm));
  } else if (img.nnames > 1 && !force) {
    r = nc_err_set(err, NC_ERR_CONFLICT,
                   "image %.19s has %zu names (%s, …); remove them by name, or force", img.id,
                   img.nnames, img.names[0]);
  } else {
    for (size_t i = 0; i < img.nnames; i++)
      json_array_append_new(untagged, json_string(img.names[i]));
  }
  /* The image goes with its last name, or when asked for by id. */
  if (r == 0 && keep && !by_name) {
    for (size_t i = 0; i < img.nnames && r == 0; i++)
      r = store_image_name_delete(tx, img.names[i], err);
  } else if (r == 0 && !keep && (!by_name || img.nnames == 1)) {
    r = store_image_delete(tx, img.id, err);
    json_array_append_new(deleted, json_string(img.id));
  }
  store_image_free(&img);
  if (r < 0) {
    store_rollback(tx);
  } else {
    r = store_commit(tx, err);
  }
  uint64_t freed = 0;
  if (r == 0 && json_array_size(deleted) > 0 && image_gc(svc, &freed, err) < 0)
    r = -1;
  if (r < 0) {
    json_decref(untagged);
    json_decref(deleted);
    return -1;
  }
  *out = json_pack("{s:o, s:o, s:I}", "untagged", untagged, "deleted", deleted, "freed",
                   (json_int_t)freed);
  return 0;
}

int image_disk_usage(struct image_service *svc, json_t **out, struct nc_err *err)
{
  json_t *images;
  if (image_list(svc, &images, err) < 0)
    return -1;
  json_int_t isize = 0;
  size_t i;
  json_t *img;
  json_array_foreach (images, i, img)
    isize += json_integer_value(json_object_get(img, "size"));
  size_t icount = json_array_size(images);
  json_decref(images);

  uint64_t counts[2] = { 0, 0 }, sizes[2] = { 0, 0 };
  const char *dirs[2] = { svc->blobs.blobs, svc->blobs.layers };
  for (int k = 0; k < 2; k++) {
    DIR *d = opendir(dirs[k]);
    struct dirent *de;
    while (d && (de = readdir(d))) {
      if (strlen(de->d_name) != 64)
        continue;
      char path[PATH_MAX + 80];
      snprintf(path, sizeof path, "%s/%s", dirs[k], de->d_name);
      struct stat st;
      if (lstat(path, &st) < 0)
        continue;
      counts[k]++;
      sizes[k] += k == 0 ? (uint64_t)st.st_blocks * 512 : path_size(path);
    }
    if (d)
      closedir(d);
  }
  *out = json_pack("{s:{s:I, s:I}, s:{s:I, s:I}, s:{s:I, s:I}}", "images", "count",
                   (json_int_t)icount, "size", isize, "blobs", "count", (json_int_t)counts[0],
                   "size", (json_int_t)sizes[0], "layers", "count", (json_int_t)counts[1],
                   "size", (json_int_t)sizes[1]);
  return 0;
}
