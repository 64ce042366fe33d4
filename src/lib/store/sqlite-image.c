/* Images and image names in the SQLite backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite-internal.h"

#define IMAGE_COLUMNS                                                                              \
  "id, manifest_digest, index_digest, os, architecture, variant, created, size, pulled_at, "      \
  "manifest, config, layers"

static void copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
  const unsigned char *v = sqlite3_column_text(st, col);
  snprintf(dst, size, "%s", v ? (const char *)v : "");
}

static char *dup_text(sqlite3_stmt *st, int col)
{
  const unsigned char *v = sqlite3_column_text(st, col);
  return strdup(v ? (const char *)v : "");
}

/* The row's scalar columns and JSON texts; names are read separately. */
static int row_to_image(sqlite3_stmt *st, struct store_image *img)
{
  memset(img, 0, sizeof *img);
  copy_text(img->id, sizeof img->id, st, 0);
  copy_text(img->manifest_digest, sizeof img->manifest_digest, st, 1);
  copy_text(img->index_digest, sizeof img->index_digest, st, 2);
  copy_text(img->os, sizeof img->os, st, 3);
  copy_text(img->architecture, sizeof img->architecture, st, 4);
  copy_text(img->variant, sizeof img->variant, st, 5);
  copy_text(img->created, sizeof img->created, st, 6);
  img->size = sqlite3_column_int64(st, 7);
  img->pulled_at = sqlite3_column_int64(st, 8);
  img->manifest = dup_text(st, 9);
  img->config = dup_text(st, 10);
  img->layers = dup_text(st, 11);
  return img->manifest && img->config && img->layers ? 0 : -1;
}

static int read_names(struct sq_store *s, struct store_image *img, struct nc_err *err)
{
  sqlite3_stmt *st = sq_stmt(
    s, SQ_IMAGE_NAMES, "SELECT name FROM image_names WHERE image_id = ?1 ORDER BY name", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (img->nnames + 1 >= cap) {
      cap = cap ? cap * 2 : 4;
      char **p = realloc(img->names, cap * sizeof *p);
      if (!p) {
        sqlite3_reset(st);
        return nc_err_set(err, NC_ERR_INTERNAL, "reading image names: out of memory");
      }
      img->names = p;
    }
    img->names[img->nnames++] = dup_text(st, 0);
    img->names[img->nnames] = NULL;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "reading image names", NULL);
}

int sq_image_put(struct store_tx *tx, const struct store_image *img, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  /* An upsert, not INSERT OR REPLACE: replacing would delete the row and with
   * it (ON DELETE CASCADE) every name of the image. */
  sqlite3_stmt *st = sq_stmt(
    s, SQ_IMAGE_PUT,
    "INSERT INTO images (" IMAGE_COLUMNS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12) "
    "ON CONFLICT(id) DO UPDATE SET manifest_digest=excluded.manifest_digest, "
    "index_digest=excluded.index_digest, size=excluded.size, pulled_at=excluded.pulled_at, "
    "manifest=excluded.manifest, layers=excluded.layers",
    err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, img->manifest_digest, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, img->index_digest, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, img->os, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, img->architecture, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, img->variant, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, img->created, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, img->size);
  sqlite3_bind_int64(st, 9, img->pulled_at);
  sqlite3_bind_text(st, 10, img->manifest, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 11, img->config, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 12, img->layers, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "storing an image", NULL);
}

int sq_image_get(struct store_tx *tx, const char *id, struct store_image *out,
                 struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st =
    sq_stmt(s, SQ_IMAGE_GET, "SELECT " IMAGE_COLUMNS " FROM images WHERE id = ?1", err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
      return nc_err_set(err, NC_ERR_NOT_FOUND, "image %s does not exist", id);
    return sq_fail(s, rc, err, "reading an image", NULL);
  }
  int r = row_to_image(st, out);
  sqlite3_reset(st);
  if (r < 0 || read_names(s, out, err) < 0) {
    store_image_free(out);
    return r < 0 ? nc_err_set(err, NC_ERR_INTERNAL, "reading an image: out of memory") : -1;
  }
  return 0;
}

int sq_image_list(struct store_tx *tx, struct store_image_list *out, struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_IMAGE_LIST,
                             "SELECT " IMAGE_COLUMNS " FROM images ORDER BY pulled_at DESC, id",
                             err);
  if (!st)
    return -1;
  struct store_image_list list = { NULL, 0 };
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (list.len == cap) {
      cap = cap ? cap * 2 : 16;
      struct store_image *p = realloc(list.items, cap * sizeof *p);
      if (!p)
        break;
      list.items = p;
    }
    if (row_to_image(st, &list.items[list.len]) < 0) {
      store_image_free(&list.items[list.len]);
      break;
    }
    list.len++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    store_image_list_free(&list);
    return rc == SQLITE_ROW ? nc_err_set(err, NC_ERR_INTERNAL, "listing images: out of memory")
                            : sq_fail(s, rc, err, "listing images", NULL);
  }
  for (size_t i = 0; i < list.len; i++)
    if (read_names(s, &list.items[i], err) < 0) {
      store_image_list_free(&list);
      return -1;
    }
  *out = list;
  return 0;
}

int sq_image_delete(struct store_tx *tx, const char *id, struct nc_err *err)
{
  int n = sq_exec_key(sq_from_tx(tx), SQ_IMAGE_DELETE, "DELETE FROM images WHERE id = ?1", id,
                      "removing an image", "the image is still in use", err);
  if (n == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "image %s does not exist", id);
  return n < 0 ? -1 : 0;
}

/* Runs a one-column query bound to `key`; 0 with the single id, 1 when none,
 * -1 with NC_ERR_CONFLICT when several match. */
static int lookup(struct sq_store *s, enum sq_stmt_id sid, const char *sql, const char *key,
                  const char *shown, char id[72], struct nc_err *err)
{
  sqlite3_stmt *st = sq_stmt(s, sid, sql, err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int found = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (found++ == 0)
      copy_text(id, 72, st, 0);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return sq_fail(s, rc, err, "looking up an image", NULL);
  if (found > 1)
    return nc_err_set(err, NC_ERR_CONFLICT, "'%s' matches %d images; give more of the id",
                      shown, found);
  return found ? 0 : 1;
}

int sq_image_resolve(struct store_tx *tx, const char *key, char id[72], struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  int r = lookup(s, SQ_IMAGE_BY_NAME, "SELECT image_id FROM image_names WHERE name = ?1", key,
                 key, id, err);
  if (r <= 0)
    return r;
  if (!strncmp(key, "sha256:", 7) && strlen(key) == 71) {
    r = lookup(s, SQ_IMAGE_BY_DIGEST,
               "SELECT id FROM images WHERE id = ?1 OR manifest_digest = ?1 OR index_digest = ?1 "
               "LIMIT 1",
               key, key, id, err);
    if (r <= 0)
      return r;
  }
  /* An id prefix: 4 to 64 hex digits, with or without "sha256:". */
  const char *hex = strncmp(key, "sha256:", 7) ? key : key + 7;
  size_t len = strlen(hex);
  if (len >= 4 && len <= 64 && strspn(hex, "0123456789abcdef") == len) {
    char pattern[80];
    snprintf(pattern, sizeof pattern, "sha256:%s*", hex);
    r = lookup(s, SQ_IMAGE_BY_PREFIX, "SELECT id FROM images WHERE id GLOB ?1", pattern, key, id,
               err);
    if (r <= 0)
      return r;
  }
  return nc_err_set(err, NC_ERR_NOT_FOUND, "image '%.200s' does not exist", key);
}

int sq_image_name_set(struct store_tx *tx, const char *name, const char *id,
                      struct nc_err *err)
{
  struct sq_store *s = sq_from_tx(tx);
  sqlite3_stmt *st = sq_stmt(s, SQ_IMAGE_NAME_SET,
                             "INSERT INTO image_names (name, image_id) VALUES (?1, ?2) "
                             "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id",
                             err);
  if (!st)
    return -1;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sq_fail(s, rc, err, "naming an image", "no such image");
}

int sq_image_name_delete(struct store_tx *tx, const char *name, struct nc_err *err)
{
  int n = sq_exec_key(sq_from_tx(tx), SQ_IMAGE_NAME_DELETE,
                      "DELETE FROM image_names WHERE name = ?1", name, "removing an image name",
                      NULL, err);
  if (n == 0)
    return nc_err_set(err, NC_ERR_NOT_FOUND, "image name '%s' does not exist", name);
  return n < 0 ? -1 : 0;
}
