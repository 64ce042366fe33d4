#include "image/service.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/timeutil.h"

int image_service_init(struct image_service *svc, struct store *store, const char *state_dir,
                       const struct image_settings *settings, struct nc_err *err)
{
  memset(svc, 0, sizeof *svc);
  svc->store = store;
  svc->settings = *settings;
  if (!svc->settings.default_registry[0])
    snprintf(svc->settings.default_registry, sizeof svc->settings.default_registry,
             "docker.io");
  char images[PATH_MAX];
  if (snprintf(images, sizeof images, "%s/images", state_dir) >= (int)sizeof images)
    return nc_err_set(err, NC_ERR_INVALID, "state dir path too long");
  if (blob_store_init(&svc->blobs, images, err) < 0)
    return -1;
  pthread_rwlock_init(&svc->gc_lock, NULL);
  pthread_mutex_init(&svc->auth_lock, NULL);
  return 0;
}

void image_service_cancel(struct image_service *svc)
{
  atomic_store(&svc->cancel, true);
}

void image_service_destroy(struct image_service *svc, unsigned timeout_ms)
{
  image_service_cancel(svc);
  uint64_t deadline = nc_time_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  while (atomic_load(&svc->active) > 0 && nc_time_mono_ns() < deadline) {
    struct timespec ts = { 0, 10 * 1000000 };
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&svc->active) > 0)
    nc_log(NC_LOG_WARN, "%d image operation(s) still running at shutdown",
           atomic_load(&svc->active));
  else {
    pthread_rwlock_destroy(&svc->gc_lock);
    pthread_mutex_destroy(&svc->auth_lock);
  }
}

/* Docker treats loopback registries as insecure without being told. */
static bool is_loopback(const char *registry)
{
  char host[256];
  snprintf(host, sizeof host, "%s", registry);
  if (host[0] == '[') {
    char *close = strchr(host, ']');
    if (close)
      *close = '\0';
    return !strcmp(host + 1, "::1");
  }
  char *colon = strchr(host, ':');
  if (colon)
    *colon = '\0';
  if (!strcmp(host, "localhost"))
    return true;
  struct in_addr a;
  return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool image_registry_insecure(const struct image_service *svc, const char *registry)
{
  if (is_loopback(registry))
    return true;
  for (size_t i = 0; i < svc->settings.ninsecure; i++)
    if (!strcmp(svc->settings.insecure[i], registry))
      return true;
  return false;
}
