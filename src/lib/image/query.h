/* Shared by the image service's files: image records ⇄ API objects. */
#pragma once

#include <jansson.h>

#include "image/service.h"
#include "store/store.h"

json_t *image_to_json(const struct store_image *img);
/* Every image record, in one read transaction. */
int image_records(struct image_service *svc, struct store_image_list *out, struct nc_err *err);
/* Loads the image `key` (name, id, id prefix, digest) with its names. */
int image_load(struct image_service *svc, const char *key, struct store_image *out,
               struct nc_err *err);
/* Room for any normalised name: registry/repository:tag@digest. */
#define IMAGE_KEY_MAX 512

/* A name normalised ("busybox" → "docker.io/library/busybox:latest") into out;
 * an id, id prefix or digest copied as it is (returns 1). */
int image_normalize_key(struct image_service *svc, const char *key, char *out, size_t size,
                        struct nc_err *err);
