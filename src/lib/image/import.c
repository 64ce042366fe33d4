/* image_import: a `docker save` / docker-archive tarball or an OCI image
 * layout archive. The archive is read once: every file goes into the blob store
 * (verified by digest where the archive names one), the small JSON documents
 * stay in memory; then the image is assembled like a pull from its blobs. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/buf.h"
#include "base/log.h"
#include "image/commit.h"
#include "image/query.h"
#include "image/ref.h"

#define IMPORT_MAX_ENTRIES 100000
#define IMPORT_MAX_BYTES (16ULL << 30)
#define IMPORT_DOC_MAX (4u * 1024 * 1024)

struct member {
  char *path;
  char *link; /* a symlink's target, resolved against the member's folder */
  char digest[NC_DIGEST_SIZE];
  int64_t size;
};

struct archive_index {
  struct member *items;
  size_t len, cap;
  struct nc_buf manifest_json, index_json, oci_layout;
};

static void index_free(struct archive_index *ix)
{
  for (size_t i = 0; i < ix->len; i++) {
    free(ix->items[i].path);
    free(ix->items[i].link);
  }
  free(ix->items);
  nc_buf_free(&ix->manifest_json);
  nc_buf_free(&ix->index_json);
  nc_buf_free(&ix->oci_layout);
}

/* "./a/b" → "a/b"; refuses absolute paths and "..". */
static int clean_path(const char *in, char *out, size_t size, struct nc_err *err)
{
  while (in[0] == '.' && in[1] == '/')
    in += 2;
  if (in[0] == '/' || !strcmp(in, "..") || !strncmp(in, "../", 3) || strstr(in, "/../") ||
      (strlen(in) >= 3 && !strcmp(in + strlen(in) - 3, "/..")))
    return nc_err_set(err, NC_ERR_INVALID, "archive entry '%.200s' leaves the archive", in);
  snprintf(out, size, "%s", in);
  return 0;
}

static struct member *find(struct archive_index *ix, const char *path)
{
  for (int hops = 0; hops < 8; hops++) {
    struct member *m = NULL;
    for (size_t i = 0; i < ix->len && !m; i++)
      if (!strcmp(ix->items[i].path, path))
        m = &ix->items[i];
    if (!m || !m->link)
      return m;
    path = m->link; /* docker save links a repeated layer to its first copy */
  }
  return NULL;
}

static struct member *add_member(struct archive_index *ix, const char *path)
{
  if (ix->len == ix->cap) {
    size_t cap = ix->cap ? ix->cap * 2 : 32;
    struct member *p = realloc(ix->items, cap * sizeof *p);
    if (!p)
      return NULL;
    ix->items = p;
    ix->cap = cap;
  }
  struct member *m = &ix->items[ix->len++];
  memset(m, 0, sizeof *m);
  m->path = strdup(path);
  return m->path ? m : NULL;
}

static int read_doc(struct archive *a, struct nc_buf *doc, const char *path, struct nc_err *err)
{
  nc_buf_init(doc, IMPORT_DOC_MAX);
  char buf[65536];
  ssize_t n;
  while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
    if (nc_buf_append(doc, buf, (size_t)n) < 0)
      return nc_err_set(err, NC_ERR_TOO_LARGE, "archive file '%s' is larger than %u bytes", path,
                        IMPORT_DOC_MAX);
  if (n < 0)
    return nc_err_set(err, NC_ERR_INVALID, "reading the archive: %s", archive_error_string(a));
  return 0;
}

static int read_blob(struct image_service *svc, struct archive *a, struct member *m,
                     uint64_t *total, struct nc_err *err)
{
  struct blob_writer w;
  /* On the heap, for this import only: a __thread buffer would be part of every thread of
   * nanocld (256 KiB of static TLS each, zeroed at each thread's start, and kept resident
   * in glibc's cache of thread stacks: +27 MiB after 100 concurrent requests). */
  enum { CHUNK = 256 * 1024 };
  _cleanup_free_ char *buf = malloc(CHUNK);
  if (!buf)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  if (blob_writer_open(&svc->blobs, &w, 0, err) < 0)
    return -1;
  ssize_t n;
  while ((n = archive_read_data(a, buf, CHUNK)) > 0) {
    *total += (uint64_t)n;
    if (*total > IMPORT_MAX_BYTES) {
      blob_writer_abort(&w);
      return nc_err_set(err, NC_ERR_TOO_LARGE, "archive holds more than %llu bytes",
                        (unsigned long long)IMPORT_MAX_BYTES);
    }
    if (blob_writer_write(&w, buf, (size_t)n, err) < 0) {
      blob_writer_abort(&w);
      return -1;
    }
  }
  if (n < 0) {
    blob_writer_abort(&w);
    return nc_err_set(err, NC_ERR_INVALID, "reading the archive: %s", archive_error_string(a));
  }
  m->size = (int64_t)w.written;
  /* In an OCI layout the path names the digest: hold the content to it. */
  const char *expected = NULL;
  char named[NC_DIGEST_SIZE];
  if (!strncmp(m->path, "blobs/sha256/", 13)) {
    snprintf(named, sizeof named, "sha256:%s", m->path + 13);
    expected = named;
  }
  if (blob_writer_commit(&svc->blobs, &w, expected, -1, m->digest, err) < 0)
    return nc_err_wrap(err, "archive file '%s'", m->path);
  return 0;
}

/* The one pass over the archive. */
static int scan(struct image_service *svc, const char *path, struct archive_index *ix,
                image_event_fn emit, void *ctx, struct nc_err *err)
{
  struct archive *a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_gnutar(a);
  if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
    nc_err_set(err, NC_ERR_INVALID, "not a readable archive: %s", archive_error_string(a));
    archive_read_free(a);
    return -1;
  }
  struct archive_entry *e;
  uint64_t total = 0;
  size_t entries = 0;
  int r = 0, rc;
  while (r == 0 && (rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    char name[1024];
    if (++entries > IMPORT_MAX_ENTRIES)
      r = nc_err_set(err, NC_ERR_TOO_LARGE, "archive has more than %d entries",
                     IMPORT_MAX_ENTRIES);
    else if (clean_path(archive_entry_pathname(e), name, sizeof name, err) < 0)
      r = -1;
    else if (!strcmp(name, "manifest.json"))
      r = read_doc(a, &ix->manifest_json, name, err);
    else if (!strcmp(name, "index.json"))
      r = read_doc(a, &ix->index_json, name, err);
    else if (!strcmp(name, "oci-layout"))
      r = read_doc(a, &ix->oci_layout, name, err);
    else if (archive_entry_filetype(e) == AE_IFREG || archive_entry_filetype(e) == AE_IFLNK) {
      struct member *m = add_member(ix, name);
      if (!m)
        r = nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
      else if (archive_entry_filetype(e) == AE_IFLNK) {
        char dir[1024], target[2100];
        snprintf(dir, sizeof dir, "%s", name);
        char *slash = strrchr(dir, '/');
        const char *t = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
        if (slash)
          *slash = '\0';
        snprintf(target, sizeof target, "%s%s%s", slash ? dir : "", slash ? "/" : "", t);
        /* "a/../b/layer.tar" → "b/layer.tar" for the lookup. */
        char *up = strstr(target, "/../");
        if (up) {
          *up = '\0';
          char *prev = strrchr(target, '/');
          memmove(prev ? prev + 1 : target, up + 4, strlen(up + 4) + 1);
        }
        m->link = strdup(!strncmp(t, "../", 3) ? t + 3 : target);
      } else {
        r = read_blob(svc, a, m, &total, err);
      }
    }
  }
  if (r == 0 && rc != ARCHIVE_EOF)
    r = nc_err_set(err, NC_ERR_INVALID, "reading the archive: %s", archive_error_string(a));
  archive_read_free(a);
  if (r == 0 && emit) {
    json_t *ev = json_pack("{s:s, s:I, s:I}", "status", "read", "files", (json_int_t)ix->len,
                           "bytes", (json_int_t)total);
    emit(ctx, ev);
    json_decref(ev);
  }
  return r;
}

/* The media type of a layer blob, from its first bytes. */
static const char *layer_type(struct image_service *svc, const char *digest)
{
  char path[PATH_MAX + 80];
  unsigned char magic[4] = { 0 };
  blob_store_blob_path(&svc->blobs, digest, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, magic, sizeof magic);
    (void)n;
    close(fd);
  }
  if (magic[0] == 0x1f && magic[1] == 0x8b)
    return MT_OCI_LAYER_GZIP;
  if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
    return MT_OCI_LAYER_ZSTD;
  return MT_OCI_LAYER;
}

/* docker-archive: manifest.json → an OCI manifest of our own making. */
static int from_docker(struct image_service *svc, struct archive_index *ix, char **manifest,
                       char *name, size_t name_size, struct nc_err *err)
{
  json_t *j = json_loadb(ix->manifest_json.data, ix->manifest_json.len, 0, NULL);
  json_t *first = json_array_get(j, 0);
  const char *config = json_string_value(json_object_get(first, "Config"));
  json_t *layers = json_object_get(first, "Layers");
  int r = 0;
  if (!config || !json_is_array(layers) || json_array_size(layers) > MANIFEST_MAX_LAYERS)
    r = nc_err_set(err, NC_ERR_INVALID, "manifest.json of the archive is not a docker-archive "
                                        "manifest");
  struct descriptor conf = { 0 }, *ls = calloc(json_array_size(layers) + 1, sizeof *ls);
  struct member *m = r == 0 ? find(ix, config) : NULL;
  if (r == 0 && !m)
    r = nc_err_set(err, NC_ERR_INVALID, "the archive lacks its config '%.200s'", config);
  if (r == 0) {
    snprintf(conf.digest, sizeof conf.digest, "%s", m->digest);
    conf.size = m->size;
  }
  for (size_t i = 0; r == 0 && ls && i < json_array_size(layers); i++) {
    const char *lp = json_string_value(json_array_get(layers, i));
    m = lp ? find(ix, lp) : NULL;
    if (!m) {
      r = nc_err_set(err, NC_ERR_INVALID, "the archive lacks its layer '%.200s'", lp ? lp : "");
      break;
    }
    snprintf(ls[i].digest, sizeof ls[i].digest, "%s", m->digest);
    snprintf(ls[i].media_type, sizeof ls[i].media_type, "%s", layer_type(svc, m->digest));
    ls[i].size = m->size;
  }
  if (r == 0) {
    *manifest = manifest_build(&conf, ls, json_array_size(layers));
    const char *tag = json_string_value(json_array_get(json_object_get(first, "RepoTags"), 0));
    if (tag && !name[0])
      snprintf(name, name_size, "%s", tag);
  }
  free(ls);
  json_decref(j);
  return r;
}

/* OCI layout: index.json → the manifest for this host (through a nested index). */
static int from_oci(struct image_service *svc, struct archive_index *ix, char **manifest,
                    char *name, size_t name_size, struct nc_err *err)
{
  struct manifest index;
  if (manifest_parse(ix->index_json.data, ix->index_json.len, MT_OCI_INDEX, &index, err) < 0)
    return nc_err_wrap(err, "index.json of the archive");
  json_t *j = json_loadb(ix->index_json.data, ix->index_json.len, 0, NULL);
  json_t *ann = json_object_get(json_array_get(json_object_get(j, "manifests"), 0),
                                "annotations");
  const char *ref = json_string_value(json_object_get(ann, "io.containerd.image.name"));
  if (!ref)
    ref = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
  /* A bare tag ("latest") is not a name: only a full reference is taken. */
  if (ref && !name[0] && strchr(ref, '/'))
    snprintf(name, name_size, "%s", ref);
  json_decref(j);

  char digest[NC_DIGEST_SIZE];
  snprintf(digest, sizeof digest, "%s", index.nitems ? index.items[0].digest : "");
  struct platform host;
  platform_parse(NULL, &host, err);
  const struct descriptor *d;
  if (index.nitems > 1 && manifest_select(&index, &host, &d, err) == 0)
    snprintf(digest, sizeof digest, "%s", d->digest);
  manifest_free(&index);
  for (int depth = 0; depth < 2; depth++) {
    char *text = NULL;
    size_t len;
    struct manifest m;
    if (!digest[0])
      return nc_err_set(err, NC_ERR_INVALID, "index.json of the archive lists no manifest");
    if (blob_store_read(&svc->blobs, digest, MANIFEST_MAX_SIZE, &text, &len, err) < 0)
      return nc_err_wrap(err, "the archive's manifest");
    if (manifest_parse(text, len, NULL, &m, err) < 0) {
      free(text);
      return nc_err_wrap(err, "the archive's manifest %s", digest);
    }
    if (m.kind == MANIFEST_IMAGE) {
      manifest_free(&m);
      *manifest = text;
      return 0;
    }
    int r = manifest_select(&m, &host, &d, err);
    if (r == 0)
      snprintf(digest, sizeof digest, "%s", d->digest);
    manifest_free(&m);
    free(text);
    if (r < 0)
      return -1;
  }
  return nc_err_set(err, NC_ERR_INVALID, "the archive's indexes nest too deep");
}

static int assemble(struct image_service *svc, struct image_build *b, char *manifest_text,
                    char **config_text, json_t **image, struct nc_err *err)
{
  b->manifest_text = manifest_text;
  b->manifest_len = strlen(manifest_text);
  nc_sha256_of(manifest_text, b->manifest_len, b->manifest_digest);
  if (manifest_parse(manifest_text, b->manifest_len, NULL, &b->manifest, err) < 0)
    return -1;
  size_t len;
  if (blob_store_read(&svc->blobs, b->manifest.config.digest, IMAGE_CONFIG_MAX_SIZE,
                      config_text, &len, err) < 0)
    return nc_err_wrap(err, "the archive's image config");
  b->config_text = *config_text;
  b->config_len = len;
  for (size_t i = 0; i < b->manifest.nitems; i++)
    if (!blob_store_has(&svc->blobs, b->manifest.items[i].digest, NULL))
      return nc_err_set(err, NC_ERR_INVALID, "the archive lacks layer %s",
                        b->manifest.items[i].digest);
  if (image_config_parse(*config_text, len, &b->config, err) < 0 ||
      image_build_prepare(b, err) < 0)
    return -1;
  image_emit(b, json_pack("{s:s, s:s, s:i}", "status", "resolved", "digest",
                          b->manifest_digest, "layers", (int)b->manifest.nitems));
  if (image_unpack_all(b, NULL, NULL, err) < 0)
    return -1;
  return image_record(b, image, err);
}

int image_import(struct image_service *svc, const char *archive_path, const char *name_in,
                 image_event_fn emit, void *ctx, json_t **image, struct nc_err *err)
{
  char name[IMAGE_KEY_MAX] = "", normalized[IMAGE_KEY_MAX];
  struct image_ref ref;
  if (name_in && *name_in) {
    if (image_ref_parse(name_in, svc->settings.default_registry, &ref, err) < 0)
      return -1;
    snprintf(name, sizeof name, "%s", name_in);
  }
  struct archive_index ix = { 0 };
  struct image_build b = { .svc = svc, .emit = emit, .ctx = ctx };
  char *manifest = NULL, *config = NULL;

  atomic_fetch_add(&svc->active, 1);
  pthread_rwlock_rdlock(&svc->gc_lock);
  image_emit(&b, json_pack("{s:s}", "status", "reading"));
  int r = scan(svc, archive_path, &ix, emit, ctx, err);
  if (r == 0) {
    if (ix.manifest_json.len)
      r = from_docker(svc, &ix, &manifest, name, sizeof name, err);
    else if (ix.index_json.len)
      r = from_oci(svc, &ix, &manifest, name, sizeof name, err);
    else
      r = nc_err_set(err, NC_ERR_INVALID,
                     "not an image archive: it has neither manifest.json (docker-archive) nor "
                     "index.json (OCI layout)");
  }
  if (r == 0 && !name[0])
    r = nc_err_set(err, NC_ERR_INVALID, "the archive names no image; give one: NAME[:TAG]");
  if (r == 0 && image_ref_parse(name, svc->settings.default_registry, &ref, err) < 0)
    r = -1;
  if (r == 0) {
    image_ref_name(&ref, normalized, sizeof normalized);
    b.name = normalized;
    r = assemble(svc, &b, manifest, &config, image, err);
  }
  pthread_rwlock_unlock(&svc->gc_lock);
  atomic_fetch_sub(&svc->active, 1);
  nc_log(NC_LOG_INFO, "import %s: %s", name[0] ? name : archive_path, r == 0 ? "done" : err->msg);
  image_build_free(&b);
  free(manifest);
  free(config);
  index_free(&ix);
  return r;
}
