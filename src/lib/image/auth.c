/* Registry credentials: CONFIG_DIR/auth.json in Docker's config format
 * ({"auths": {"REGISTRY": {"auth": base64("user:password")}}}), mode 0600,
 * rewritten atomically. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "image/auth.h"
#include "image/ref.h"
#include "image/registry.h"

#define AUTH_FILE_MAX (1024 * 1024)

static void auth_path(const struct image_service *svc, char *out, size_t size)
{
  snprintf(out, size, "%s/auth.json", svc->settings.config_dir);
}

/* The file's JSON, or a fresh {"auths": {}} when there is none. */
static json_t *load(const struct image_service *svc, struct nc_err *err)
{
  char path[PATH_MAX + 16], *text = NULL;
  size_t len;
  auth_path(svc, path, sizeof path);
  if (nc_read_file(path, AUTH_FILE_MAX, &text, &len, err) < 0) {
    if (err->kind == NC_ERR_NOT_FOUND)
      return json_pack("{s:{}}", "auths");
    return NULL;
  }
  json_t *j = json_loadb(text, len, 0, NULL);
  OPENSSL_cleanse(text, len);
  free(text);
  if (!json_is_object(j) || !json_is_object(json_object_get(j, "auths"))) {
    json_decref(j);
    nc_err_set(err, NC_ERR_INTERNAL, "'%s' is not a credentials file", path);
    return NULL;
  }
  return j;
}

static int save(const struct image_service *svc, json_t *j, struct nc_err *err)
{
  char path[PATH_MAX + 16];
  auth_path(svc, path, sizeof path);
  if (nc_mkdir_p(svc->settings.config_dir, 0700, err) < 0)
    return -1;
  char *text = json_dumps(j, JSON_INDENT(2));
  if (!text)
    return nc_err_set(err, NC_ERR_INTERNAL, "writing credentials: out of memory");
  int r = nc_write_file_atomic(path, text, strlen(text), 0600, err);
  OPENSSL_cleanse(text, strlen(text));
  free(text);
  return r;
}

int image_auth_lookup(struct image_service *svc, const char *registry,
                      struct registry_creds *out)
{
  memset(out, 0, sizeof *out);
  struct nc_err err = NC_ERR_INIT;
  pthread_mutex_lock(&svc->auth_lock);
  json_t *j = load(svc, &err);
  pthread_mutex_unlock(&svc->auth_lock);
  const char *b64 =
    json_string_value(json_object_get(json_object_get(json_object_get(j, "auths"), registry),
                                      "auth"));
  int found = 0;
  if (b64) {
    unsigned char dec[600];
    size_t len = strlen(b64);
    int n = len < 4 * (sizeof dec / 3) ? EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)len)
                                       : -1;
    if (n > 0) {
      /* EVP_DecodeBlock counts the padding as bytes: drop the zeros it added. */
      while (n > 0 && dec[n - 1] == '\0')
        n--;
      dec[n] = '\0';
      char *colon = strchr((char *)dec, ':');
      if (colon) {
        *colon = '\0';
        snprintf(out->username, sizeof out->username, "%.255s", (char *)dec);
        snprintf(out->password, sizeof out->password, "%.255s", colon + 1);
        found = 1;
      }
      OPENSSL_cleanse(dec, sizeof dec);
    }
  }
  json_decref(j);
  return found;
}

static int check_registry_name(const char *registry, struct nc_err *err)
{
  /* A registry is the first part of a reference: check it through one. */
  char probe[300];
  struct image_ref ref;
  snprintf(probe, sizeof probe, "%s/probe", registry);
  if (!*registry || strchr(registry, '/') || image_ref_parse(probe, NULL, &ref, err) < 0 ||
      strcmp(ref.registry, registry) != 0)
    return nc_err_set(err, NC_ERR_INVALID, "invalid registry '%.100s': expected HOST[:PORT]",
                      registry);
  return 0;
}

int image_login(struct image_service *svc, const char *registry, const char *username,
                const char *password, struct nc_err *err)
{
  if (check_registry_name(registry, err) < 0)
    return -1;
  if (!*username || strchr(username, ':') || strlen(username) >= 256 || strlen(password) >= 256)
    return nc_err_set(err, NC_ERR_INVALID,
                      "a username must be 1-255 characters without ':', a password under 256");

  struct registry_creds creds;
  snprintf(creds.username, sizeof creds.username, "%s", username);
  snprintf(creds.password, sizeof creds.password, "%s", password);
  struct registry reg;
  const char *endpoint = strcmp(registry, "docker.io") ? registry : "registry-1.docker.io";
  int r = registry_open(&reg, registry, endpoint, image_registry_insecure(svc, registry),
                        "login", &creds, err);
  if (r == 0)
    r = registry_check_login(&reg, err);
  registry_close(&reg);
  if (r < 0) {
    OPENSSL_cleanse(&creds, sizeof creds);
    return -1;
  }

  char up[520];
  snprintf(up, sizeof up, "%s:%s", username, password);
  OPENSSL_cleanse(&creds, sizeof creds);
  unsigned char b64[800];
  EVP_EncodeBlock(b64, (const unsigned char *)up, (int)strlen(up));
  OPENSSL_cleanse(up, sizeof up);

  pthread_mutex_lock(&svc->auth_lock);
  json_t *j = load(svc, err);
  if (j) {
    json_object_set_new(json_object_get(j, "auths"), registry,
                        json_pack("{s:s}", "auth", (const char *)b64));
    r = save(svc, j, err);
    json_decref(j);
  } else {
    r = -1;
  }
  pthread_mutex_unlock(&svc->auth_lock);
  OPENSSL_cleanse(b64, sizeof b64);
  return r;
}

int image_logout(struct image_service *svc, const char *registry, struct nc_err *err)
{
  if (check_registry_name(registry, err) < 0)
    return -1;
  pthread_mutex_lock(&svc->auth_lock);
  json_t *j = load(svc, err);
  int r = -1;
  if (j) {
    json_t *auths = json_object_get(j, "auths");
    if (!json_object_get(auths, registry))
      nc_err_set(err, NC_ERR_NOT_FOUND, "no credentials stored for registry '%s'", registry);
    else if (json_object_del(auths, registry) == 0)
      r = save(svc, j, err);
    json_decref(j);
  }
  pthread_mutex_unlock(&svc->auth_lock);
  return r;
}
