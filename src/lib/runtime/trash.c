/* Removing a container's directory without making `rm` wait for it.
 *
 * A container's directory holds its overlay upper and work dirs, the runtime's
 * mount points and a dozen files: unlinking them costs 3-9 ms on an ext4 disk
 * (bench/containers), the largest part of a `rm`. The directory is renamed into
 * STATE_DIR/trash (one rename, same file system) and a low-priority thread removes
 * what the trash holds; at start-up it empties what a crash left there. Once rm has
 * returned, nothing of the container is where nanocld or anyone looks for it. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/log.h"
#include "image/unpack.h"
#include "runtime/container.h"

static void empty_trash(struct container_service *svc)
{
  DIR *dir = opendir(svc->trash);
  if (!dir)
    return;
  for (struct dirent *e; !atomic_load(&svc->stopping) && (e = readdir(dir));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", svc->trash, e->d_name);
    struct nc_err err = NC_ERR_INIT;
    if (image_remove_tree(path, &err) < 0)
      nc_log(NC_LOG_WARN, "trash: %s", err.msg);
  }
  closedir(dir);
}

static void *janitor(void *arg)
{
  struct container_service *svc = arg;
  /* Only this thread is lowered (Linux schedules threads one by one): SCHED_IDLE, which
   * any other waking task preempts at once; nice 19 where that is refused. */
  struct sched_param none = { 0 };
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &none) != 0)
    setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
  pthread_mutex_lock(&svc->trash_mu);
  while (!svc->trash_stop) {
    if (!svc->trash_pending) {
      pthread_cond_wait(&svc->trash_cv, &svc->trash_mu);
      continue;
    }
    svc->trash_pending = false;
    pthread_mutex_unlock(&svc->trash_mu);
    empty_trash(svc);
    pthread_mutex_lock(&svc->trash_mu);
  }
  pthread_mutex_unlock(&svc->trash_mu);
  return NULL;
}

int container_trash_init(struct container_service *svc, const char *state_dir,
                         struct nc_err *err)
{
  snprintf(svc->trash, sizeof svc->trash, "%s/trash", state_dir);
  if (nc_mkdir_p(svc->trash, 0700, err) < 0)
    return -1;
  pthread_mutex_init(&svc->trash_mu, NULL);
  pthread_cond_init(&svc->trash_cv, NULL);
  svc->trash_pending = true; /* whatever a crash left */
  svc->trash_stop = false;
  if (pthread_create(&svc->janitor, NULL, janitor, svc) != 0)
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start the trash thread");
  svc->janitor_running = true;
  return 0;
}

void container_trash_destroy(struct container_service *svc)
{
  if (!svc->janitor_running)
    return;
  pthread_mutex_lock(&svc->trash_mu);
  svc->trash_stop = true;
  pthread_cond_signal(&svc->trash_cv);
  pthread_mutex_unlock(&svc->trash_mu);
  pthread_join(svc->janitor, NULL);
  svc->janitor_running = false;
}

int container_trash(struct container_service *svc, const char *id, struct nc_err *err)
{
  char dir[PATH_MAX], to[PATH_MAX + 80];
  container_path(svc, id, NULL, dir, sizeof dir);
  snprintf(to, sizeof to, "%s/%s", svc->trash, id);
  if (rename(dir, to) < 0) {
    if (errno == ENOENT)
      return 0;
    /* Cannot move it (a leftover of the same name in the trash?): remove it here. */
    nc_log(NC_LOG_DEBUG, "trash: cannot move %.12s: %s", id, strerror(errno));
    return image_remove_tree(dir, err);
  }
  pthread_mutex_lock(&svc->trash_mu);
  svc->trash_pending = true;
  pthread_cond_signal(&svc->trash_cv);
  pthread_mutex_unlock(&svc->trash_mu);
  return 0;
}
