/* Connections that switched protocols (api_upgrade, api-internal.h): the 101 through
 * libmicrohttpd, then a detached thread per connection running the handler's `run`.
 *
 * libmicrohttpd (thread per connection) hands the socket over in the connection's
 * thread and keeps the connection suspended until MHD_upgrade_action(CLOSE), which
 * must come exactly once; MHD_stop_daemon must not run while one is open (it would
 * free what the thread still uses). So every upgraded connection is listed while its
 * socket is in use (shutdown() on server stop reaches it) and counted until its CLOSE. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/api-internal.h"
#include "base/log.h"

#define THREAD_STACK_SIZE (512 * 1024)

struct api_upgrades {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct upgrade_conn *head; /* sockets in use */
  unsigned active;           /* not yet closed for libmicrohttpd */
  bool closing;              /* the server stops: end every connection */
};

struct upgrade_conn {
  struct api_upgrades *ups;
  struct api_upgrade up;
  struct upgrade_conn **pending; /* the request's slot, until the switch */
  struct MHD_UpgradeResponseHandle *urh;
  int fd;
  char *extra;
  size_t extra_len;
  struct upgrade_conn *prev, *next;
};

struct api_upgrades *api_upgrades_new(void)
{
  struct api_upgrades *ups = calloc(1, sizeof *ups);
  if (!ups)
    return NULL;
  pthread_mutex_init(&ups->mu, NULL);
  pthread_cond_init(&ups->cv, NULL);
  return ups;
}

void api_upgrades_free(struct api_upgrades *ups)
{
  if (!ups)
    return;
  pthread_mutex_destroy(&ups->mu);
  pthread_cond_destroy(&ups->cv);
  free(ups);
}

void api_upgrade_abandon(struct upgrade_conn *u)
{
  u->up.drop(u->up.ctx);
  free(u);
}

static void *upgrade_thread(void *arg)
{
  struct upgrade_conn *u = arg;
  struct api_upgrades *ups = u->ups;
  if (u->up.run)
    u->up.run(u->up.ctx, u->fd, u->extra, u->extra_len);
  /* Off the list before the socket is closed, so shutdown() never hits a reused fd. */
  pthread_mutex_lock(&ups->mu);
  if (u->prev)
    u->prev->next = u->next;
  else
    ups->head = u->next;
  if (u->next)
    u->next->prev = u->prev;
  pthread_mutex_unlock(&ups->mu);
  MHD_upgrade_action(u->urh, MHD_UPGRADE_ACTION_CLOSE); /* exactly once, here */
  u->up.drop(u->up.ctx);
  free(u->extra);
  free(u);
  pthread_mutex_lock(&ups->mu);
  ups->active--;
  pthread_cond_broadcast(&ups->cv);
  pthread_mutex_unlock(&ups->mu);
  return NULL;
}

/* libmicrohttpd sent the 101 and hands the socket over, in the connection's thread
 * and before the request's completion callback. */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
                       const char *extra_in, size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh)
{
  struct upgrade_conn *u = cls;
  struct api_upgrades *ups = u->ups;
  *u->pending = NULL; /* ours now: its thread may free it before the request ends */
  u->urh = urh;
  u->fd = sock;
  if (extra_in_size && (u->extra = malloc(extra_in_size)) != NULL) {
    memcpy(u->extra, extra_in, extra_in_size);
    u->extra_len = extra_in_size;
  }
  pthread_mutex_lock(&ups->mu);
  u->next = ups->head;
  if (u->next)
    u->next->prev = u;
  ups->head = u;
  ups->active++;
  if (ups->closing || (extra_in_size && !u->extra))
    shutdown(sock, SHUT_RDWR);
  pthread_mutex_unlock(&ups->mu);

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
  pthread_t th;
  int r = pthread_create(&th, &attr, upgrade_thread, u);
  pthread_attr_destroy(&attr);
  if (r != 0) {
    nc_log(NC_LOG_ERROR, "cannot start the thread of an upgraded connection: %s", strerror(r));
    u->up.run = NULL;
    upgrade_thread(u);
  }
}

enum MHD_Result api_upgrade_queue(struct api_upgrades *ups, struct MHD_Connection *conn,
                                  const struct api_upgrade *up, struct upgrade_conn **pending)
{
  struct upgrade_conn *u = calloc(1, sizeof *u);
  struct MHD_Response *r = u ? MHD_create_response_for_upgrade(on_upgrade, u) : NULL;
  if (!r || MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, up->protocol) != MHD_YES) {
    if (r)
      MHD_destroy_response(r);
    free(u);
    up->drop(up->ctx);
    return MHD_NO;
  }
  *u = (struct upgrade_conn){ .ups = ups, .up = *up, .pending = pending, .fd = -1 };
  *pending = u;
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
  MHD_destroy_response(r);
  return ret;
}

bool api_upgrades_close(struct api_upgrades *ups, unsigned timeout_ms)
{
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000 + 1;
  pthread_mutex_lock(&ups->mu);
  ups->closing = true;
  for (struct upgrade_conn *u = ups->head; u; u = u->next)
    shutdown(u->fd, SHUT_RDWR);
  while (ups->active > 0 && pthread_cond_timedwait(&ups->cv, &ups->mu, &deadline) != ETIMEDOUT)
    ;
  unsigned left = ups->active;
  pthread_mutex_unlock(&ups->mu);
  if (left)
    nc_log(NC_LOG_ERROR, "%u upgraded connection(s) did not end", left);
  return left == 0;
}
