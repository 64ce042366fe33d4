/* The image service of nanocld: pull, import, list, inspect, tag, remove, GC
 * and registry credentials, over the blob store and the store's image records.
 *
 * Concurrency: pulls and imports hold `gc_lock` shared for their whole run,
 * garbage collection holds it exclusive, so GC never removes a blob or layer
 * that a running pull has written but not yet recorded. */
#pragma once

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/err.h"
#include "image/blobstore.h"
#include "store/store.h"

#define IMAGE_MAX_INSECURE 16

struct image_settings {
  char default_registry[256];
  char insecure[IMAGE_MAX_INSECURE][256]; /* HOST[:PORT] spoken to over plain HTTP */
  size_t ninsecure;
  char config_dir[PATH_MAX]; /* where auth.json lives */
};

struct image_service {
  struct store *store;
  struct blob_store blobs;
  struct image_settings settings;
  pthread_rwlock_t gc_lock;
  pthread_mutex_t auth_lock; /* auth.json read-modify-write */
  atomic_bool cancel;        /* shutting down: running pulls stop */
  atomic_int active;         /* pulls and imports running */
};

int image_service_init(struct image_service *svc, struct store *store, const char *state_dir,
                       const struct image_settings *settings, struct nc_err *err);
/* Tells running pulls and imports to stop (they end with an error soon). */
void image_service_cancel(struct image_service *svc);
/* Waits (at most `timeout_ms`) for them to end, then frees the service. */
void image_service_destroy(struct image_service *svc, unsigned timeout_ms);

/* Registries nanocld speaks plain HTTP to: the configured ones and loopback. */
bool image_registry_insecure(const struct image_service *svc, const char *registry);

/* Progress of a pull or import: each event is a JSON object (see docs/api.md,
 * Streams); the callee must not keep it. Called from several threads, never at
 * the same time. */
typedef void (*image_event_fn)(void *ctx, json_t *event);

/* Pulls `ref` for `platform` (NULL = this host). On success `*image` (if not
 * NULL) is the image object of the API. */
int image_pull(struct image_service *svc, const char *ref, const char *platform,
               image_event_fn emit, void *ctx, json_t **image, struct nc_err *err);

/* Loads a docker-archive or OCI archive file. `name` names the image when the
 * archive has no name (NULL: the archive's own). */
int image_import(struct image_service *svc, const char *archive_path, const char *name,
                 image_event_fn emit, void *ctx, json_t **image, struct nc_err *err);

int image_list(struct image_service *svc, json_t **out, struct nc_err *err);
int image_inspect(struct image_service *svc, const char *key, json_t **out, struct nc_err *err);
int image_history(struct image_service *svc, const char *key, json_t **out, struct nc_err *err);
int image_tag(struct image_service *svc, const char *key, const char *name, json_t **out,
              struct nc_err *err);
/* Removes a name, or an image by id; then collects garbage. *out is
 * {"untagged": [...], "deleted": [...], "freed": N}. */
int image_remove(struct image_service *svc, const char *key, bool force, json_t **out,
                 struct nc_err *err);
/* Removes blobs and layers no image uses; *freed gets the bytes. */
int image_gc(struct image_service *svc, uint64_t *freed, struct nc_err *err);
int image_disk_usage(struct image_service *svc, json_t **out, struct nc_err *err);

/* Registry credentials in CONFIG_DIR/auth.json (Docker's format, mode 0600). */
int image_login(struct image_service *svc, const char *registry, const char *username,
                const char *password, struct nc_err *err);
int image_logout(struct image_service *svc, const char *registry, struct nc_err *err);
