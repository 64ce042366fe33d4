/* The last steps shared by pull and import: unpack every layer in order, then
 * record the image and its name in one store transaction. */
#pragma once

#include "image/manifest.h"
#include "image/service.h"

struct image_build {
  struct image_service *svc;
  image_event_fn emit;
  void *ctx;
  const char *manifest_text;
  size_t manifest_len;
  char manifest_digest[NC_DIGEST_SIZE];
  char index_digest[NC_DIGEST_SIZE]; /* "" when there was no index */
  struct manifest manifest;          /* MANIFEST_IMAGE */
  const char *config_text;
  size_t config_len;
  struct image_config config;
  char (*chain_ids)[NC_DIGEST_SIZE];
  const char *name; /* normalised name to give the image; NULL for none */
};

/* Checks layers against diff_ids and computes the chain ids. */
int image_build_prepare(struct image_build *b, struct nc_err *err);
void image_build_free(struct image_build *b);

/* Emits a layer event {"status": "layer", "digest", "phase"[, "current", "total"]}. */
void image_emit_layer(struct image_build *b, const char *digest, const char *phase,
                      int64_t current, int64_t total);
void image_emit(struct image_build *b, json_t *event);

/* Unpacks layer after layer (those already unpacked are skipped). Before
 * unpacking layer i, `wait_blob(wctx, i, err)` (when not NULL) must return 0
 * once its blob is in the blob store. */
int image_unpack_all(struct image_build *b, int (*wait_blob)(void *wctx, size_t i, struct nc_err *),
                     void *wctx, struct nc_err *err);

/* Writes the manifest blob and records image + name; *image gets the API object. */
int image_record(struct image_build *b, json_t **image, struct nc_err *err);

/* Is an image with this manifest digest recorded with all its layers on disk?
 * Fills its id. */
bool image_complete(struct image_service *svc, const char *digest, char id[72]);
