#include "image/commit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "image/query.h"
#include "image/unpack.h"

void image_emit(struct image_build *b, json_t *event)
{
  if (b->emit && event)
    b->emit(b->ctx, event);
  json_decref(event);
}

void image_emit_layer(struct image_build *b, const char *digest, const char *phase,
                      int64_t current, int64_t total)
{
  json_t *ev = json_pack("{s:s, s:s, s:s}", "status", "layer", "digest", digest, "phase", phase);
  if (ev && current >= 0) {
    json_object_set_new(ev, "current", json_integer(current));
    json_object_set_new(ev, "total", json_integer(total));
  }
  image_emit(b, ev);
}

int image_build_prepare(struct image_build *b, struct nc_err *err)
{
  size_t n = b->manifest.nitems;
  if (n != b->config.ndiff_ids)
    return nc_err_set(err, NC_ERR_INVALID,
                      "image has %zu layers in its manifest but %zu in its config", n,
                      b->config.ndiff_ids);
  if (n == 0)
    return nc_err_set(err, NC_ERR_INVALID, "image has no layers");
  b->chain_ids = calloc(n, sizeof *b->chain_ids);
  if (!b->chain_ids)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  image_chain_ids(b->config.diff_ids, n, b->chain_ids);
  return 0;
}

void image_build_free(struct image_build *b)
{
  manifest_free(&b->manifest);
  image_config_free(&b->config);
  free(b->chain_ids);
  b->chain_ids = NULL;
}

struct unpack_progress {
  struct image_build *b;
  const struct descriptor *layer;
};

static void on_unpack_progress(void *ctx, uint64_t compressed, uint64_t uncompressed)
{
  struct unpack_progress *p = ctx;
  image_emit_layer(p->b, p->layer->digest, "extracting", (int64_t)compressed, p->layer->size);
}

static int unpack_one(struct image_build *b, size_t i, struct nc_err *err)
{
  const struct blob_store *bs = &b->svc->blobs;
  const struct descriptor *layer = &b->manifest.items[i];
  char blob[PATH_MAX + 80], dest[PATH_MAX + 80];
  blob_store_blob_path(bs, layer->digest, blob, sizeof blob);
  blob_store_layer_path(bs, b->chain_ids[i], dest, sizeof dest);

  /* The layers below, topmost first: where hard links and parent directories
   * that this layer lacks are found. */
  char(*lowers)[PATH_MAX + 80] = calloc(i + 1, sizeof *lowers);
  const char **lower_ptrs = calloc(i + 1, sizeof *lower_ptrs);
  if (!lowers || !lower_ptrs) {
    free(lowers);
    free(lower_ptrs);
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  }
  for (size_t k = 0; k < i; k++) {
    blob_store_layer_path(bs, b->chain_ids[i - 1 - k], lowers[k], sizeof lowers[k]);
    lower_ptrs[k] = lowers[k];
  }
  struct unpack_progress prog = { b, layer };
  struct image_unpack_opts opts = {
    .blob_path = blob,
    .dest = dest,
    .lower_dirs = lower_ptrs,
    .expected_diff_id = b->config.diff_ids[i],
    .progress = on_unpack_progress,
    .progress_ctx = &prog,
  };
  image_emit_layer(b, layer->digest, "extracting", 0, layer->size);
  char diff_id[72];
  uint64_t size;
  int r = image_unpack_layer(&opts, diff_id, &size, err);
  free(lowers);
  free(lower_ptrs);
  if (r < 0)
    return nc_err_wrap(err, "layer %s", layer->digest);
  image_emit_layer(b, layer->digest, "extracted", -1, -1);
  return 0;
}

int image_unpack_all(struct image_build *b, int (*wait_blob)(void *wctx, size_t i, struct nc_err *),
                     void *wctx, struct nc_err *err)
{
  for (size_t i = 0; i < b->manifest.nitems; i++) {
    if (atomic_load(&b->svc->cancel))
      return nc_err_set(err, NC_ERR_UNAVAILABLE, "cancelled: nanocld is shutting down");
    if (blob_store_has_layer(&b->svc->blobs, b->chain_ids[i]))
      continue;
    if (wait_blob && wait_blob(wctx, i, err) < 0)
      return -1;
    if (unpack_one(b, i, err) < 0)
      return -1;
  }
  return 0;
}

static json_t *layers_json(struct image_build *b)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < b->manifest.nitems; i++) {
    const struct descriptor *d = &b->manifest.items[i];
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:s}", "digest", d->digest,
                                         "diff_id", b->config.diff_ids[i], "chain_id",
                                         b->chain_ids[i], "size", (json_int_t)d->size,
                                         "media_type", d->media_type));
  }
  return arr;
}

int image_record(struct image_build *b, json_t **image, struct nc_err *err)
{
  struct image_service *svc = b->svc;
  if (blob_store_put(&svc->blobs, b->manifest_text, b->manifest_len, b->manifest_digest, NULL,
                     err) < 0)
    return -1;

  struct store_image img = { 0 };
  snprintf(img.id, sizeof img.id, "%s", b->manifest.config.digest);
  snprintf(img.manifest_digest, sizeof img.manifest_digest, "%s", b->manifest_digest);
  snprintf(img.index_digest, sizeof img.index_digest, "%s", b->index_digest);
  snprintf(img.os, sizeof img.os, "%s", b->config.platform.os);
  snprintf(img.architecture, sizeof img.architecture, "%s", b->config.platform.arch);
  snprintf(img.variant, sizeof img.variant, "%s", b->config.platform.variant);
  snprintf(img.created, sizeof img.created, "%s", b->config.created);
  for (size_t i = 0; i < b->manifest.nitems; i++)
    img.size += b->manifest.items[i].size;
  img.pulled_at = nc_time_now();
  img.manifest = strndup(b->manifest_text, b->manifest_len);
  img.config = strndup(b->config_text, b->config_len);
  json_t *lj = layers_json(b);
  img.layers = json_dumps(lj, JSON_COMPACT);
  json_decref(lj);
  if (!img.manifest || !img.config || !img.layers) {
    store_image_free(&img);
    return nc_err_set(err, NC_ERR_INTERNAL, "recording the image: out of memory");
  }

  struct store_tx *tx;
  int r = store_begin(svc->store, STORE_TX_WRITE, &tx, err);
  if (r == 0) {
    r = store_image_put(tx, &img, err);
    if (r == 0 && b->name)
      r = store_image_name_set(tx, b->name, img.id, err);
    if (r < 0)
      store_rollback(tx);
    else
      r = store_commit(tx, err);
  }
  char id[72];
  memcpy(id, img.id, sizeof id);
  store_image_free(&img);
  if (r < 0 || !image)
    return r;
  return image_inspect(svc, id, image, err);
}

bool image_complete(struct image_service *svc, const char *digest, char id[72])
{
  struct nc_err err = NC_ERR_INIT;
  struct store_tx *tx;
  struct store_image img;
  if (store_begin(svc->store, STORE_TX_READ, &tx, &err) < 0)
    return false;
  bool ok = store_image_resolve(tx, digest, id, &err) == 0 &&
            store_image_get(tx, id, &img, &err) == 0;
  store_commit(tx, &err);
  if (!ok)
    return false;
  /* The manifest itself: an index digest would not say which platform. */
  ok = !strcmp(img.manifest_digest, digest);
  json_t *layers = ok ? json_loads(img.layers, 0, NULL) : NULL;
  size_t i;
  json_t *l;
  json_array_foreach (layers, i, l) {
    const char *chain = json_string_value(json_object_get(l, "chain_id"));
    if (!chain || !blob_store_has_layer(&svc->blobs, chain))
      ok = false;
  }
  json_decref(layers);
  store_image_free(&img);
  return ok;
}
