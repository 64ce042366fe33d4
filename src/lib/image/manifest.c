#include "image/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/json.h"

static const char *host_arch(void)
{
  struct utsname u;
  if (uname(&u) < 0)
    return "amd64";
  static const struct {
    const char *kernel, *oci;
  } map[] = { { "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm" },
              { "i686", "386" },     { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
              { "riscv64", "riscv64" } };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(u.machine, map[i].kernel))
      return map[i].oci;
  return "amd64";
}

static bool platform_word(const char *s, size_t len)
{
  if (len == 0 || len >= 32)
    return false;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
          s[i] == '-' || s[i] == '.'))
      return false;
  return true;
}

int platform_parse(const char *s, struct platform *out, struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  if (!s || !*s) {
    snprintf(out->os, sizeof out->os, "linux");
    snprintf(out->arch, sizeof out->arch, "%s", host_arch());
    return 0;
  }
  const char *a = strchr(s, '/');
  const char *v = a ? strchr(a + 1, '/') : NULL;
  size_t olen = a ? (size_t)(a - s) : 0;
  size_t alen = a ? (v ? (size_t)(v - a - 1) : strlen(a + 1)) : 0;
  if (!a || !platform_word(s, olen) || !platform_word(a + 1, alen) ||
      (v && !platform_word(v + 1, strlen(v + 1))))
    return nc_err_set(err, NC_ERR_INVALID,
                      "invalid platform '%.80s': expected OS/ARCH[/VARIANT], e.g. linux/amd64", s);
  snprintf(out->os, sizeof out->os, "%.*s", (int)olen, s);
  snprintf(out->arch, sizeof out->arch, "%.*s", (int)alen, a + 1);
  if (v)
    snprintf(out->variant, sizeof out->variant, "%s", v + 1);
  return 0;
}

void platform_format(const struct platform *p, char *out, size_t size)
{
  snprintf(out, size, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

static int parse_descriptor(json_t *j, const char *where, struct descriptor *d,
                            struct nc_err *err)
{
  memset(d, 0, sizeof *d);
  const char *mt = json_string_value(json_object_get(j, "mediaType"));
  const char *digest = json_string_value(json_object_get(j, "digest"));
  json_t *size = json_object_get(j, "size");
  if (!json_is_object(j) || !digest || !json_is_integer(size) || json_integer_value(size) < 0)
    return nc_err_set(err, NC_ERR_INVALID, "%s: a descriptor needs a digest and a size", where);
  if (nc_digest_check(where, digest, err) < 0)
    return -1;
  snprintf(d->media_type, sizeof d->media_type, "%s", mt ? mt : "");
  snprintf(d->digest, sizeof d->digest, "%s", digest);
  d->size = json_integer_value(size);
  json_t *p = json_object_get(j, "platform");
  if (json_is_object(p)) {
    snprintf(d->platform.os, sizeof d->platform.os, "%s",
             json_string_value(json_object_get(p, "os")) ?: "");
    snprintf(d->platform.arch, sizeof d->platform.arch, "%s",
             json_string_value(json_object_get(p, "architecture")) ?: "");
    snprintf(d->platform.variant, sizeof d->platform.variant, "%s",
             json_string_value(json_object_get(p, "variant")) ?: "");
  }
  return 0;
}

static int parse_list(json_t *arr, const char *what, struct manifest *m, struct nc_err *err)
{
  if (!json_is_array(arr))
    return nc_err_set(err, NC_ERR_INVALID, "manifest: '%s' must be an array", what);
  size_t n = json_array_size(arr);
  if (n > MANIFEST_MAX_LAYERS)
    return nc_err_set(err, NC_ERR_TOO_LARGE, "manifest: more than %d %s", MANIFEST_MAX_LAYERS,
                      what);
  m->items = calloc(n ? n : 1, sizeof *m->items);
  if (!m->items)
    return nc_err_set(err, NC_ERR_INTERNAL, "manifest: out of memory");
  for (size_t i = 0; i < n; i++) {
    char where[64];
    snprintf(where, sizeof where, "manifest %s[%zu]", what, i);
    if (parse_descriptor(json_array_get(arr, i), where, &m->items[i], err) < 0)
      return -1;
    m->nitems++;
  }
  return 0;
}

static bool is_layer_type(const char *mt)
{
  return !strcmp(mt, MT_OCI_LAYER) || !strcmp(mt, MT_OCI_LAYER_GZIP) ||
         !strcmp(mt, MT_OCI_LAYER_ZSTD) || !strcmp(mt, MT_DOCKER_LAYER) ||
         !strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") ||
         !strcmp(mt, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
}

int manifest_parse(const char *body, size_t len, const char *content_type, struct manifest *out,
                   struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  if (len > MANIFEST_MAX_SIZE)
    return nc_err_set(err, NC_ERR_TOO_LARGE, "manifest is larger than %u bytes",
                      MANIFEST_MAX_SIZE);
  json_t *j;
  if (nc_json_parse_object(body, len, &j, err) < 0)
    return nc_err_wrap(err, "manifest");

  const char *mt = json_string_value(json_object_get(j, "mediaType"));
  if (!mt && content_type && *content_type)
    mt = content_type;
  json_t *schema = json_object_get(j, "schemaVersion");
  int r = -1;
  if (json_integer_value(schema) == 1 || (mt && strstr(mt, "distribution.manifest.v1")))
    nc_err_set(err, NC_ERR_INVALID,
               "Docker schema 1 manifests are not supported (deprecated since 2017)");
  else if (json_integer_value(schema) != 2)
    nc_err_set(err, NC_ERR_INVALID, "manifest: schemaVersion must be 2");
  else if ((mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST))) ||
           (!mt && json_object_get(j, "manifests"))) {
    out->kind = MANIFEST_INDEX;
    r = parse_list(json_object_get(j, "manifests"), "manifests", out, err);
  } else if ((mt && (!strcmp(mt, MT_OCI_MANIFEST) || !strcmp(mt, MT_DOCKER_MANIFEST))) ||
             (!mt && json_object_get(j, "config"))) {
    out->kind = MANIFEST_IMAGE;
    r = parse_descriptor(json_object_get(j, "config"), "manifest config", &out->config, err);
    if (r == 0)
      r = parse_list(json_object_get(j, "layers"), "layers", out, err);
    for (size_t i = 0; r == 0 && i < out->nitems; i++) {
      const char *lt = out->items[i].media_type;
      if (!*lt)
        snprintf(out->items[i].media_type, sizeof out->items[i].media_type, "%s",
                 MT_OCI_LAYER_GZIP);
      else if (!is_layer_type(lt))
        r = nc_err_set(err, NC_ERR_INVALID, "manifest layer %zu has the unsupported type '%.100s'",
                       i, lt);
    }
  } else {
    nc_err_set(err, NC_ERR_INVALID, "unsupported manifest type '%.100s'", mt ? mt : "(none)");
  }
  if (r == 0)
    snprintf(out->media_type, sizeof out->media_type, "%s",
             mt ? mt : (out->kind == MANIFEST_INDEX ? MT_OCI_INDEX : MT_OCI_MANIFEST));
  json_decref(j);
  if (r < 0)
    manifest_free(out);
  return r;
}

void manifest_free(struct manifest *m)
{
  free(m->items);
  m->items = NULL;
  m->nitems = 0;
}

int manifest_select(const struct manifest *index, const struct platform *want,
                    const struct descriptor **out, struct nc_err *err)
{
  const struct descriptor *best = NULL;
  for (size_t i = 0; i < index->nitems; i++) {
    const struct platform *p = &index->items[i].platform;
    if (strcmp(p->os, want->os) || strcmp(p->arch, want->arch))
      continue;
    if (want->variant[0] && p->variant[0] && strcmp(p->variant, want->variant))
      continue;
    /* An exact variant match beats an entry without a variant. */
    if (!best || (want->variant[0] && !strcmp(p->variant, want->variant)))
      best = &index->items[i];
  }
  if (best) {
    *out = best;
    return 0;
  }
  char have[512] = "", w[100];
  size_t n = 0;
  for (size_t i = 0; i < index->nitems && n < sizeof have - 100; i++) {
    char p[100];
    platform_format(&index->items[i].platform, p, sizeof p);
    n += (size_t)snprintf(have + n, sizeof have - n, "%s%s", i ? ", " : "", p);
  }
  platform_format(want, w, sizeof w);
  return nc_err_set(err, NC_ERR_NOT_FOUND, "no image for platform %s in the index (it has: %s)",
                    w, n ? have : "nothing");
}

int image_config_parse(const char *body, size_t len, struct image_config *out,
                       struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  if (len > IMAGE_CONFIG_MAX_SIZE)
    return nc_err_set(err, NC_ERR_TOO_LARGE, "image config is larger than %u bytes",
                      IMAGE_CONFIG_MAX_SIZE);
  if (nc_json_parse_object(body, len, &out->json, err) < 0)
    return nc_err_wrap(err, "image config");
  json_t *j = out->json;
  snprintf(out->platform.os, sizeof out->platform.os, "%s",
           json_string_value(json_object_get(j, "os")) ?: "");
  snprintf(out->platform.arch, sizeof out->platform.arch, "%s",
           json_string_value(json_object_get(j, "architecture")) ?: "");
  snprintf(out->platform.variant, sizeof out->platform.variant, "%s",
           json_string_value(json_object_get(j, "variant")) ?: "");
  snprintf(out->created, sizeof out->created, "%s",
           json_string_value(json_object_get(j, "created")) ?: "");

  json_t *ids = json_object_get(json_object_get(j, "rootfs"), "diff_ids");
  if (!json_is_array(ids)) {
    image_config_free(out);
    return nc_err_set(err, NC_ERR_INVALID, "image config has no rootfs.diff_ids");
  }
  out->ndiff_ids = json_array_size(ids);
  if (out->ndiff_ids > MANIFEST_MAX_LAYERS) {
    image_config_free(out);
    return nc_err_set(err, NC_ERR_TOO_LARGE, "image config has more than %d layers",
                      MANIFEST_MAX_LAYERS);
  }
  out->diff_ids = calloc(out->ndiff_ids ? out->ndiff_ids : 1, sizeof *out->diff_ids);
  if (!out->diff_ids) {
    image_config_free(out);
    return nc_err_set(err, NC_ERR_INTERNAL, "image config: out of memory");
  }
  for (size_t i = 0; i < out->ndiff_ids; i++) {
    const char *d = json_string_value(json_array_get(ids, i));
    if (nc_digest_check("image config diff_id", d, err) < 0) {
      image_config_free(out);
      return -1;
    }
    snprintf(out->diff_ids[i], NC_DIGEST_SIZE, "%s", d);
  }
  return 0;
}

void image_config_free(struct image_config *c)
{
  json_decref(c->json);
  c->json = NULL;
  free(c->diff_ids);
  c->diff_ids = NULL;
  c->ndiff_ids = 0;
}

void image_chain_ids(char (*diff_ids)[NC_DIGEST_SIZE], size_t n, char (*out)[NC_DIGEST_SIZE])
{
  for (size_t i = 0; i < n; i++) {
    if (i == 0) {
      memcpy(out[0], diff_ids[0], NC_DIGEST_SIZE);
      continue;
    }
    char buf[2 * NC_DIGEST_SIZE + 2];
    int len = snprintf(buf, sizeof buf, "%s %s", out[i - 1], diff_ids[i]);
    nc_sha256_of(buf, (size_t)len, out[i]);
  }
}

char *manifest_build(const struct descriptor *config, const struct descriptor *layers,
                     size_t nlayers)
{
  json_t *ls = json_array();
  for (size_t i = 0; i < nlayers; i++)
    json_array_append_new(ls, json_pack("{s:s, s:s, s:I}", "mediaType", layers[i].media_type,
                                        "digest", layers[i].digest, "size",
                                        (json_int_t)layers[i].size));
  json_t *m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                        MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
                        config->digest, "size", (json_int_t)config->size, "layers", ls);
  char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
  json_decref(m);
  return text;
}
