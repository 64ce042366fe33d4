/* OCI and Docker manifests, indexes and image configs, parsed from untrusted
 * JSON with every size capped and every digest checked for form. */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "image/digest.h"

#define MANIFEST_MAX_SIZE (4u * 1024 * 1024)
#define IMAGE_CONFIG_MAX_SIZE (8u * 1024 * 1024)
#define MANIFEST_MAX_LAYERS 256

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* What a registry is asked for. */
#define MANIFEST_ACCEPT MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

struct platform {
  char os[32];
  char arch[32];
  char variant[32]; /* "" = any */
};

/* "linux/amd64", "linux/arm64/v8", "linux/arm/v7"; NULL or "" = this host. */
int platform_parse(const char *s, struct platform *out, struct nc_err *err);
void platform_format(const struct platform *p, char *out, size_t size);

struct descriptor {
  char media_type[128];
  char digest[NC_DIGEST_SIZE];
  int64_t size;
  struct platform platform; /* in an index */
};

enum manifest_kind {
  MANIFEST_INDEX,    /* OCI index or Docker manifest list */
  MANIFEST_IMAGE,    /* OCI manifest or Docker schema 2 */
};

struct manifest {
  enum manifest_kind kind;
  char media_type[128];
  /* MANIFEST_IMAGE */
  struct descriptor config;
  /* layers of an image, or the manifests of an index */
  struct descriptor *items;
  size_t nitems;
};

/* `content_type` (may be NULL) is the registry's answer header; the body's own
 * mediaType wins when present. Schema 1 and unknown types are refused by name. */
int manifest_parse(const char *body, size_t len, const char *content_type, struct manifest *out,
                   struct nc_err *err);
void manifest_free(struct manifest *m);

/* The entry of an index for `want`; NC_ERR_NOT_FOUND listing what there is. */
int manifest_select(const struct manifest *index, const struct platform *want,
                    const struct descriptor **out, struct nc_err *err);

/* The parts of an image config nanocld needs. `json` keeps the whole document. */
struct image_config {
  json_t *json;
  struct platform platform;
  char created[40];
  char (*diff_ids)[NC_DIGEST_SIZE];
  size_t ndiff_ids;
};

int image_config_parse(const char *body, size_t len, struct image_config *out,
                       struct nc_err *err);
void image_config_free(struct image_config *c);

/* chain_id[0] = diff_id[0]; chain_id[i] = sha256(chain_id[i-1] + " " + diff_id[i]). */
void image_chain_ids(char (*diff_ids)[NC_DIGEST_SIZE], size_t n, char (*out)[NC_DIGEST_SIZE]);

/* A manifest for layers and a config: used by import, which has no manifest of
 * its own for docker-archive files. Returns the JSON text (caller frees). */
char *manifest_build(const struct descriptor *config, const struct descriptor *layers,
                     size_t nlayers);
