/* A client of one repository on one registry (distribution spec v2), over libcurl.
 *
 * Authentication follows the registry's challenge: anonymous first; on a 401,
 * "Bearer realm=…,service=…,scope=…" fetches a token (with the stored
 * credentials, if any), "Basic" sends the credentials. The resulting
 * Authorization header is then used by every request of the pull, blob
 * downloads included (and not sent on to another host after a redirect). */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "image/blobstore.h"
#include "image/manifest.h"

struct registry_creds {
  char username[256];
  char password[256];
};

struct registry {
  char name[256];       /* as the user wrote it: "127.0.0.1:5000", "docker.io" */
  char base_url[300];   /* "https://registry-1.docker.io" */
  char repository[256]; /* "library/busybox" */
  struct registry_creds creds;
  bool have_creds;
  char *auth_header;    /* "Authorization: …" once a challenge was answered */
  const atomic_bool *cancel;     /* this pull failed elsewhere: abort transfers */
  const atomic_bool *cancel_all; /* the daemon is shutting down */
  void *curl;           /* CURL *, reused for keep-alive */
};

/* `endpoint` is host[:port] to connect to; `insecure` speaks plain HTTP. */
int registry_open(struct registry *r, const char *name, const char *endpoint, bool insecure,
                  const char *repository, const struct registry_creds *creds,
                  struct nc_err *err);
/* Has the pull been told to stop? */
bool registry_cancelled(const struct registry *r);
void registry_close(struct registry *r);

/* GET /v2/<repo>/manifests/<reference>. Fills the body (capped), the media
 * type and the digest of the body; when `reference` is a digest, the body must
 * hash to it. */
int registry_get_manifest(struct registry *r, const char *reference, struct nc_buf *body,
                          char media_type[128], char digest[NC_DIGEST_SIZE], struct nc_err *err);

/* GET a small blob (a config) into memory, checking its digest. */
int registry_get_blob(struct registry *r, const char *digest, size_t limit, struct nc_buf *body,
                      struct nc_err *err);

/* GET /v2/: checks that the credentials are accepted (for `nanocl login`). */
int registry_check_login(struct registry *r, struct nc_err *err);

/* Parallel downloads of layer blobs into the blob store (registry-fetch.c). */
struct registry_download {
  struct descriptor desc;
  uint64_t received;
  int state; /* REGISTRY_DL_* */
  struct nc_err err;
};

enum {
  REGISTRY_DL_PENDING = 0,
  REGISTRY_DL_RUNNING,
  REGISTRY_DL_DONE,
  REGISTRY_DL_FAILED,
};

/* Called (from the downloading thread) when a download starts, progresses or
 * ends; dl->state says which. */
typedef void (*registry_progress_fn)(void *ctx, size_t index, const struct registry_download *dl);

/* Downloads every dl[i] (at most `parallel` at once) into `bs`, each verified
 * by size and digest. On the first failure the others are stopped; returns -1
 * with that failure in `err`. */
int registry_download(struct registry *r, const struct blob_store *bs,
                      struct registry_download *dl, size_t n, unsigned parallel,
                      registry_progress_fn progress, void *ctx, struct nc_err *err);

/* registry-internal: shared by registry.c and registry-fetch.c */
void *registry_new_handle(struct registry *r, const char *url);
int registry_authenticate(struct registry *r, const char *challenge, struct nc_err *err);
int registry_http_error(struct registry *r, long status, const char *what, const char *body,
                        struct nc_err *err);
