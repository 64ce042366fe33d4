#include "image/ref.h"

#include <stdio.h>
#include <string.h>

static bool lower_alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool tag_char(char c)
{
  return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
}

/* path-component := [a-z0-9]+ ([._]|__|-+ [a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t len)
{
  if (len == 0 || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
    return false;
  for (size_t i = 0; i < len; i++) {
    if (lower_alnum(s[i]))
      continue;
    size_t j = i;
    while (j < len && !lower_alnum(s[j]))
      j++;
    size_t sep = j - i;
    bool ok = (sep == 1 && (s[i] == '.' || s[i] == '_' || s[i] == '-')) ||
              (sep == 2 && s[i] == '_' && s[i + 1] == '_') || strspn(s + i, "-") >= sep;
    if (!ok)
      return false;
    i = j - 1;
  }
  return true;
}

/* domain := label ('.' label)* [':' port], or "[ipv6]:port" */
static bool registry_valid(const char *s, size_t len)
{
  size_t host_len = len;
  const char *colon = NULL;
  if (len && s[0] == '[') {
    const char *close = memchr(s, ']', len);
    if (!close)
      return false;
    host_len = (size_t)(close - s) + 1;
    if (host_len < len) {
      if (s[host_len] != ':')
        return false;
      colon = s + host_len;
    }
  } else {
    colon = memchr(s, ':', len);
    if (colon)
      host_len = (size_t)(colon - s);
    if (host_len == 0)
      return false;
    for (size_t i = 0; i < host_len; i++) {
      char c = s[i];
      if (!(lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-'))
        return false;
    }
    if (s[0] == '.' || s[0] == '-' || s[host_len - 1] == '.' || s[host_len - 1] == '-')
      return false;
  }
  if (colon) {
    size_t plen = len - (size_t)(colon - s) - 1;
    if (plen == 0 || plen > 5 || strspn(colon + 1, "0123456789") < plen)
      return false;
    unsigned port = 0;
    for (size_t i = 0; i < plen; i++)
      port = port * 10 + (unsigned)(colon[1 + i] - '0');
    if (port == 0 || port > 65535)
      return false;
  }
  return true;
}

static int fail(struct nc_err *err, const char *s, const char *why)
{
  return nc_err_set(err, NC_ERR_INVALID, "invalid image reference '%.200s': %s", s, why);
}

int image_ref_parse(const char *s, const char *default_registry, struct image_ref *out,
                    struct nc_err *err)
{
  memset(out, 0, sizeof *out);
  size_t len = strlen(s);
  if (len == 0)
    return fail(err, s, "it is empty");
  if (len >= IMAGE_REF_MAX + NC_DIGEST_SIZE + IMAGE_TAG_MAX)
    return fail(err, s, "it is too long");

  char name[IMAGE_REF_MAX * 2 + IMAGE_TAG_MAX];
  snprintf(name, sizeof name, "%s", s);

  char *at = strchr(name, '@');
  if (at) {
    *at = '\0';
    if (!nc_digest_valid(at + 1))
      return fail(err, s, "the digest must be sha256:<64 lower-case hex digits>");
    snprintf(out->digest, sizeof out->digest, "%s", at + 1);
  }

  /* A tag is after the last ':' that follows the last '/'. */
  char *slash = strrchr(name, '/');
  char *colon = strrchr(slash ? slash : name, ':');
  if (colon) {
    *colon = '\0';
    const char *tag = colon + 1;
    size_t tlen = strlen(tag);
    if (tlen == 0 || tlen > IMAGE_TAG_MAX || !(lower_alnum(tag[0]) || tag[0] == '_' ||
                                               (tag[0] >= 'A' && tag[0] <= 'Z')))
      return fail(err, s, "a tag is 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
    for (size_t i = 0; i < tlen; i++)
      if (!tag_char(tag[i]))
        return fail(err, s, "a tag is 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'");
    snprintf(out->tag, sizeof out->tag, "%s", tag);
  } else if (!out->digest[0]) {
    snprintf(out->tag, sizeof out->tag, "latest");
  }

  /* Registry or not: Docker's rule on the first component. */
  char *path = name;
  char *first_slash = strchr(name, '/');
  if (first_slash) {
    size_t flen = (size_t)(first_slash - name);
    bool is_registry = memchr(name, '.', flen) || memchr(name, ':', flen) ||
                       (flen == 9 && strncmp(name, "localhost", 9) == 0) ||
                       strcspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") < flen;
    if (is_registry) {
      if (!registry_valid(name, flen))
        return fail(err, s, "the registry must be HOST[:PORT] with a port of 1-65535");
      snprintf(out->registry, sizeof out->registry, "%.*s", (int)flen, name);
      path = first_slash + 1;
    }
  }
  if (!out->registry[0])
    snprintf(out->registry, sizeof out->registry, "%s",
             default_registry && *default_registry ? default_registry : IMAGE_DEFAULT_REGISTRY);

  /* Docker Hub's official images live under library/. */
  bool hub = strcmp(out->registry, "docker.io") == 0;
  int n = snprintf(out->repository, sizeof out->repository, "%s%s",
                   hub && !strchr(path, '/') ? "library/" : "", path);
  if (n >= (int)sizeof out->repository ||
      strlen(out->registry) + 1 + strlen(out->repository) > IMAGE_REF_MAX - 1)
    return fail(err, s, "the name is longer than 255 characters");

  for (char *p = out->repository;;) {
    char *end = strchr(p, '/');
    size_t clen = end ? (size_t)(end - p) : strlen(p);
    if (!path_component_valid(p, clen))
      return fail(err, s,
                  "a repository is made of lower-case letters, digits and single separators "
                  "('.', '_', '__', '-') between them, in '/'-separated parts");
    if (!end)
      break;
    p = end + 1;
  }
  return 0;
}

void image_ref_repo(const struct image_ref *r, char *out, size_t size)
{
  snprintf(out, size, "%s/%s", r->registry, r->repository);
}

void image_ref_name(const struct image_ref *r, char *out, size_t size)
{
  if (r->tag[0])
    snprintf(out, size, "%s/%s:%s", r->registry, r->repository, r->tag);
  else
    snprintf(out, size, "%s/%s@%s", r->registry, r->repository, r->digest);
}

const char *image_ref_endpoint(const struct image_ref *r)
{
  return strcmp(r->registry, "docker.io") == 0 ? "registry-1.docker.io" : r->registry;
}

const char *image_ref_familiar(const char *repo)
{
  if (strncmp(repo, "docker.io/library/", 18) == 0)
    return repo + 18;
  if (strncmp(repo, "docker.io/", 10) == 0)
    return repo + 10;
  return repo;
}
