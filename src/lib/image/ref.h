/* Image references, parsed and normalised as Docker does:
 *   busybox                    → docker.io/library/busybox:latest
 *   127.0.0.1:5000/a/b:1.0     → registry 127.0.0.1:5000, repository a/b, tag 1.0
 *   name@sha256:<hex>          → pinned by manifest digest (tag optional)
 * The first component is a registry when it has a '.' or a ':', or is
 * "localhost"; otherwise the default registry applies (a setting of nanocld). */
#pragma once

#include <stdbool.h>

#include "base/err.h"
#include "image/digest.h"

#define IMAGE_REF_MAX 256 /* Docker's limit on a whole name */
#define IMAGE_TAG_MAX 128
#define IMAGE_DEFAULT_REGISTRY "docker.io"

struct image_ref {
  char registry[IMAGE_REF_MAX];   /* "docker.io", "127.0.0.1:5000" */
  char repository[IMAGE_REF_MAX]; /* "library/busybox" */
  char tag[IMAGE_TAG_MAX + 1];    /* "latest" unless only a digest was given; may be "" */
  char digest[NC_DIGEST_SIZE];    /* "" unless pinned */
};

/* NC_ERR_INVALID naming the reference and what is wrong with it. */
int image_ref_parse(const char *s, const char *default_registry, struct image_ref *out,
                    struct nc_err *err);

/* "registry/repository:tag", or "registry/repository@digest" when there is no tag. */
void image_ref_name(const struct image_ref *r, char *out, size_t size);
/* "registry/repository" */
void image_ref_repo(const struct image_ref *r, char *out, size_t size);
/* The host to speak HTTP to: docker.io is served by registry-1.docker.io. */
const char *image_ref_endpoint(const struct image_ref *r);
/* The familiar short form for people: "docker.io/library/busybox" → "busybox". */
const char *image_ref_familiar(const char *repo);
