/* Reading images: the API's image object, list, inspect, history, tag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "image/query.h"
#include "image/ref.h"

json_t *image_to_json(const struct store_image *img)
{
  char pulled[32];
  nc_time_rfc3339(img->pulled_at, pulled, sizeof pulled);
  json_t *names = json_array();
  for (size_t i = 0; i < img->nnames; i++)
    json_array_append_new(names, json_string(img->names[i]));
  json_t *layers = json_loads(img->layers, 0, NULL);
  json_t *config = json_loads(img->config, 0, NULL);
  /* The run-time part of the config, with Docker's field names. */
  json_t *cc = json_object_get(config, "config");
  json_t *run = json_pack("{s:O?, s:O?, s:O?, s:s, s:s, s:O?, s:O?, s:s}", "Env",
                          json_object_get(cc, "Env"), "Cmd", json_object_get(cc, "Cmd"),
                          "Entrypoint", json_object_get(cc, "Entrypoint"), "WorkingDir",
                          json_string_value(json_object_get(cc, "WorkingDir")) ?: "", "User",
                          json_string_value(json_object_get(cc, "User")) ?: "", "Labels",
                          json_object_get(cc, "Labels"), "ExposedPorts",
                          json_object_get(cc, "ExposedPorts"), "StopSignal",
                          json_string_value(json_object_get(cc, "StopSignal")) ?: "");
  json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "id", img->id,
                        "digest", img->manifest_digest, "names", names, "os", img->os,
                        "architecture", img->architecture, "variant", img->variant, "created",
                        img->created, "pulled_at", pulled, "size", (json_int_t)img->size,
                        "layers", layers ? layers : json_array(), "config",
                        run ? run : json_object());
  if (j && img->index_digest[0])
    json_object_set_new(j, "index_digest", json_string(img->index_digest));
  json_decref(config);
  return j;
}

/* Reads one image by name, id, id prefix or digest, in its own transaction. */
int image_load(struct image_service *svc, const char *key, struct store_image *out,
               struct nc_err *err)
{
  char id[72], norm[IMAGE_KEY_MAX];
  struct store_tx *tx;
  if (image_normalize_key(svc, key, norm, sizeof norm, err) < 0)
    return -1;
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  int r = store_image_resolve(tx, norm, id, err);
  if (r == 0)
    r = store_image_get(tx, id, out, err);
  if (r < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

int image_normalize_key(struct image_service *svc, const char *key, char *out, size_t size,
                        struct nc_err *err)
{
  if (!*key)
    return nc_err_set(err, NC_ERR_INVALID, "an image name or id is required");
  /* An id, an id prefix or a digest is looked up as it is. */
  size_t hexlen = strspn(key + (strncmp(key, "sha256:", 7) ? 0 : 7), "0123456789abcdef");
  const char *hex = strncmp(key, "sha256:", 7) ? key : key + 7;
  if (hexlen >= 4 && hexlen <= 64 && hex[hexlen] == '\0') {
    snprintf(out, size, "%s", key);
    return 1;
  }
  struct image_ref ref;
  if (image_ref_parse(key, svc->settings.default_registry, &ref, err) < 0)
    return -1;
  image_ref_name(&ref, out, size);
  return 0;
}

/* By first name (names are sorted); images without a name last, by id. */
static int by_first_name(const void *a, const void *b)
{
  const struct store_image *x = a, *y = b;
  if (x->nnames && y->nnames)
    return strcmp(x->names[0], y->names[0]);
  if (x->nnames != y->nnames)
    return x->nnames ? -1 : 1;
  return strcmp(x->id, y->id);
}

int image_records(struct image_service *svc, struct store_image_list *out, struct nc_err *err)
{
  struct store_tx *tx;
  if (store_begin(svc->store, STORE_TX_READ, &tx, err) < 0)
    return -1;
  if (store_image_list(tx, out, err) < 0) {
    store_rollback(tx);
    return -1;
  }
  return store_commit(tx, err);
}

int image_list(struct image_service *svc, json_t **out, struct nc_err *err)
{
  struct store_image_list list;
  if (image_records(svc, &list, err) < 0)
    return -1;
  if (list.len)
    qsort(list.items, list.len, sizeof *list.items, by_first_name);
  json_t *arr = json_array();
  for (size_t i = 0; i < list.len; i++)
    json_array_append_new(arr, image_to_json(&list.items[i]));
  store_image_list_free(&list);
  *out = arr;
  return 0;
}

int image_inspect(struct image_service *svc, const char *key, json_t **out, struct nc_err *err)
{
  struct store_image img;
  if (image_load(svc, key, &img, err) < 0)
    return -1;
  *out = image_to_json(&img);
  store_image_free(&img);
  return *out ? 0 : nc_err_set(err, NC_ERR_INTERNAL, "image %s: out of memory", img.id);
}

int image_history(struct image_service *svc, const char *key, json_t **out, struct nc_err *err)
{
  struct store_image img;
  if (image_load(svc, key, &img, err) < 0)
    return -1;
  json_t *config = json_loads(img.config, 0, NULL);
  json_t *layers = json_loads(img.layers, 0, NULL);
  json_t *hist = json_object_get(config, "history");
  json_t *arr = json_array();
  /* Entries with empty_layer do not add a layer; the others take the layers in order. */
  size_t layer = 0;
  for (size_t i = 0; i < json_array_size(hist); i++) {
    json_t *h = json_array_get(hist, i);
    bool empty = json_is_true(json_object_get(h, "empty_layer"));
    json_int_t size = 0;
    if (!empty)
      size = json_integer_value(json_object_get(json_array_get(layers, layer++), "size"));
    json_array_insert_new(
      arr, 0,
      json_pack("{s:s, s:s, s:s, s:b, s:I}", "created",
                json_string_value(json_object_get(h, "created")) ?: "", "created_by",
                json_string_value(json_object_get(h, "created_by")) ?: "", "comment",
                json_string_value(json_object_get(h, "comment")) ?: "", "empty_layer", empty,
                "size", size));
  }
  json_decref(config);
  json_decref(layers);
  store_image_free(&img);
  *out = arr;
  return 0;
}

int image_tag(struct image_service *svc, const char *key, const char *name, json_t **out,
              struct nc_err *err)
{
  struct image_ref ref;
  if (image_ref_parse(name, svc->settings.default_registry, &ref, err) < 0)
    return -1;
  if (!ref.tag[0] || ref.digest[0])
    return nc_err_set(err, NC_ERR_INVALID, "a new name needs a tag and no digest: '%.200s'",
                      name);
  char full[IMAGE_REF_MAX + IMAGE_TAG_MAX + 2];
  image_ref_name(&ref, full, sizeof full);

  struct store_image img;
  if (image_load(svc, key, &img, err) < 0)
    return -1;
  struct store_tx *tx;
  int r = store_begin(svc->store, STORE_TX_WRITE, &tx, err);
  if (r == 0) {
    r = store_image_name_set(tx, full, img.id, err);
    if (r < 0)
      store_rollback(tx);
    else
      r = store_commit(tx, err);
  }
  char id[72];
  memcpy(id, img.id, sizeof id);
  store_image_free(&img);
  if (r < 0)
    return -1;
  return image_inspect(svc, id, out, err);
}
